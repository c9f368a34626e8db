/*
 * Bundle sources: where the verifier reads a bundle's files from.
 *
 * The verifier's layers read every file through one of these, so that a
 * bundle directory and a bundle archive are checked by the same code with
 * the same messages. A source is a const table of functions (every slot is
 * required unless marked optional) and the state it works on.
 */
#ifndef TFA_BSRC_H
#define TFA_BSRC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tfattest/buffer.h"
#include "tfattest/common.h"
#include "tfattest/error.h"
#include "verify/manifest.h"

struct tfa_archive;

typedef struct tfa_bfile {
	int fd;		    /* directory: an open descriptor */
	const uint8_t *mem; /* archive: the entry's bytes, when held */
	size_t len, off;
	struct tfa_archive_cursor *cur; /* streamed archive: where the bytes come from */
	bool own_cur;			/* cur is this file's own */
} tfa_bfile;

typedef struct tfa_bsrc tfa_bsrc;

typedef struct tfa_bsrc_ops {
	const char *kind; /* "directory" or "archive" */
	/*
	 * Opens a bundle-relative path for reading. hint is -1 or a value from
	 * hint_open() and is only given for paths directly in artifacts/.
	 * TFA_ENOTFOUND when absent; TFA_EVERIFY when it is reached through a
	 * symlink or is not a regular file (a directory may instead open and
	 * fail on read with EISDIR); TFA_EIO. The message names the path.
	 */
	tfa_err (*open)(const tfa_bsrc *s, int hint, const char *path, tfa_bfile *f);
	/* Like read(2). */
	ssize_t (*read)(tfa_bfile *f, void *buf, size_t n);
	/* Appends the whole file, as tfa_buf_read_fd() does (TFA_EFORMAT past max). */
	tfa_err (*read_all)(tfa_bfile *f, tfa_buf *b, const char *name, size_t max);
	void (*close)(tfa_bfile *f);
	/* Optional: a per-thread handle that makes open() of artifacts/ paths cheaper; -1 if none.
	 */
	int (*hint_open)(const tfa_bsrc *s);
	void (*hint_close)(int hint);
	/*
	 * Counts the bundle's regular files other than manifest.json and
	 * manifest.sig. Fails with TFA_EVERIFY, the path in bad and a message
	 * ("Symlink in bundle: ...", "Empty directory in bundle: ...", ...) on an
	 * entry no bundle may hold, and with index, on a file it does not list.
	 */
	tfa_err (*walk)(const tfa_bsrc *s, uint64_t *count, const tfa_manifest *index, char *bad,
			size_t badlen);
} tfa_bsrc_ops;

struct tfa_bsrc {
	const tfa_bsrc_ops *ops;
	const char *path;	/* for messages */
	int rootfd;		/* directory */
	struct tfa_archive *ar; /* archive */
};

/*
 * Opens the bundle at path as a source: a directory, or a regular file read
 * as an archive whatever its name. An archive that breaks the entry rules
 * gives TFA_EVERIFY (tfa_archive_rejected_entry() names the entry). Release
 * with tfa_bsrc_close(), also after a failure.
 */
TFA_WUR tfa_err tfa_bsrc_open(tfa_bsrc *s, const char *path);
void tfa_bsrc_close(tfa_bsrc *s);

extern const tfa_bsrc_ops tfa_bsrc_dir_ops;
#if TFATTEST_WITH_ARCHIVE
extern const tfa_bsrc_ops tfa_bsrc_archive_ops;
#endif

#endif
