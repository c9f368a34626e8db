/*
 * The spool's file handling, shared with the attestation service's client,
 * which spools the record requests it could not deliver beside the local
 * captures (docs/WORKFLOW.md). Private to the library.
 */
#ifndef TFA_SPOOL_INT_H
#define TFA_SPOOL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tfattest/buffer.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

/*
 * Writes bytes to dir/name atomically (a temp file of mode 0600, fsync,
 * rename, fsync of the directory), creating dir with mode 0700 when absent.
 * The directory is checked as the spool is: the caller's or root's, and
 * writable by no one else. `path_out` (may be NULL) gets the file's path;
 * free() it. An existing dir/name is replaced.
 */
TFA_WUR tfa_err tfa_spool_put(char **path_out, const char *dir, const char *name,
			      const uint8_t *bytes, size_t len);

/*
 * Opens the spool directory and checks its owner and mode on the descriptor.
 * TFA_ENOTFOUND when it does not exist.
 */
TFA_WUR tfa_err tfa_spool_open_dir(int *fd, const char *dir);

/*
 * Reads spool file `name` of the directory dfd (at most `max` bytes): only the
 * caller's own mode-0600 regular file with one link. `path` names it in
 * messages.
 */
TFA_WUR tfa_err tfa_spool_read(tfa_buf *out, int dfd, const char *name, const char *path,
			       size_t max);

/* The most files a spool directory may hold for one listing. */
#define TFA_SPOOL_FILES_MAX 100000

/*
 * The names in the spool directory dfd (opened by tfa_spool_open_dir; it
 * stays open) that keep(ud, name) accepts, in byte order (oldest first: the
 * names start with the time). `what` names them in the message when there
 * are more than TFA_SPOOL_FILES_MAX ("spooled captures"). Free the result
 * with tfa_spool_names_free(), on failure too.
 */
TFA_WUR tfa_err tfa_spool_list(char ***names, size_t *n, int dfd, const char *dir,
			       int (*keep)(void *ud, const char *name), void *ud, const char *what);

void tfa_spool_names_free(char **names, size_t n);

#endif
