/* File-system helpers for writers (never used by the verifier). */
#ifndef TFA_FSUTIL_H
#define TFA_FSUTIL_H

#include <stdbool.h>

#include "tfattest/common.h"
#include "tfattest/error.h"

/* Creates `name` in dirfd (must not exist), writes data, optionally fsyncs. */
TFA_WUR tfa_err tfa_fs_write_new(int dirfd, const char *name, const void *data, size_t len,
				 unsigned mode, bool sync);

/* Creates a new private directory next to `path` (same parent), returns its path. */
TFA_WUR tfa_err tfa_fs_mkdtemp_beside(char **out, const char *path);

/*
 * Renames from to to, failing with TFA_EUSAGE if `to` exists (even as an
 * empty directory, which rename() would silently replace).
 */
TFA_WUR tfa_err tfa_fs_rename_noreplace(const char *from, const char *to);

/* Flushes the file system holding dirfd to stable storage. */
TFA_WUR tfa_err tfa_fs_sync_tree(int dirfd);

/* fsyncs the directory that contains path (best effort). */
void tfa_fs_sync_parent(const char *path);

/* Removes a directory tree (best effort). */
void tfa_fs_rmtree(const char *path);

#endif
