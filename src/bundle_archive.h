/*
 * Bundle archives (tar, tar.gz, zip) read whole into memory, entry rules
 * enforced as they are read.
 *
 * An archive is never extracted: every entry is checked and, for regular
 * files, its bytes are kept in memory, bounded by tfa_archive_limits. The
 * rules (docs/FORMAT.md §5.3): names are relative, '/'-separated, without an
 * empty, "." or ".." component or a backslash or control character; only
 * regular files and directories; no hard links, sparse or encrypted entries;
 * no name twice, and no file that is also a directory; caps on the number of
 * entries, each file's size and the total size. Any breach fails the whole
 * archive with TFA_EVERIFY and a message naming the entry.
 */
#ifndef TFA_BUNDLE_ARCHIVE_H
#define TFA_BUNDLE_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "tfattest/artifact.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

/* Default caps: see tfa_archive_limits_default(). */
#define TFA_ARCHIVE_MAX_ENTRIES 1000000u
#define TFA_ARCHIVE_MAX_FILE ((uint64_t)TFA_ARTIFACT_MAX)
#define TFA_ARCHIVE_MAX_MANIFEST ((uint64_t)256 << 20)
#define TFA_ARCHIVE_MAX_TOTAL ((uint64_t)1 << 30)
/* Names and entry slots held, at most (a bundle of a million entries takes about 90 MiB). */
#define TFA_ARCHIVE_MAX_META (128u << 20)
/* Components in an entry name: the directory walk's nesting limit, plus the file. */
#define TFA_ARCHIVE_MAX_DEPTH 9
#define TFA_ARCHIVE_NAME_MAX 400

typedef struct tfa_archive_limits {
	uint64_t max_entries;  /* entries of any type */
	uint64_t max_file;     /* bytes in one regular file other than manifest.json */
	uint64_t max_manifest; /* bytes in manifest.json */
	uint64_t max_total;    /* bytes in all regular files together */
	uint64_t max_meta;     /* bytes of entry names and entry slots held */
} tfa_archive_limits;

typedef struct tfa_archive_entry {
	char *path; /* normalised: no trailing '/' */
	uint8_t *data;
	size_t size;
	bool dir;
} tfa_archive_entry;

typedef struct tfa_archive {
	tfa_archive_entry *e; /* sorted by path in byte order */
	size_t n, cap;
	uint64_t total; /* bytes held */
	uint64_t meta;  /* bytes of names and entry slots held */
} tfa_archive;

void tfa_archive_limits_default(tfa_archive_limits *out);

/*
 * Reads an archive held in memory (the bytes must outlive the call only).
 * TFA_EVERIFY when the archive breaks a rule or cannot be read (truncated,
 * corrupt, not an archive), TFA_EINTERNAL when out of memory. On success
 * *out must be released with tfa_archive_free().
 */
TFA_WUR tfa_err tfa_archive_load_mem(tfa_archive **out, const void *data, size_t len,
				     const tfa_archive_limits *lim);

/* The same from an open regular file, read from its start; `name` is for messages. */
TFA_WUR tfa_err tfa_archive_load_fd(tfa_archive **out, int fd, const char *name,
				    const tfa_archive_limits *lim);

/*
 * After a load failed on this thread: the (printable) name of the entry that
 * broke a rule, or "" when the failure concerns no one entry.
 */
const char *tfa_archive_rejected_entry(void);

/* The entry named path (no trailing '/'), or NULL. */
const tfa_archive_entry *tfa_archive_find(const tfa_archive *a, const char *path);

void tfa_archive_free(tfa_archive *a);

#endif
