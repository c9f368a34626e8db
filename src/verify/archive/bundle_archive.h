/*
 * Bundle archives (.tar.gz, .zip) read every byte accounted for, never
 * extracted: held in memory, or streamed (tfa_archive_open_fd).
 *
 * Only the subset that every common extractor (GNU tar, bsdtar, unzip,
 * Python's tarfile and zipfile) reads the same way is accepted, which is
 * exactly what `tfattest export --archive` writes (docs/ARCHIVES.md,
 * docs/FORMAT.md §5.3): a .tar.gz is one gzip member holding POSIX ustar
 * regular-file headers; a .zip has one central directory that agrees, field
 * by field, with contiguous local headers in the same order. Every entry is
 * a regular file named by a bundle path (bundle_path.h), no name twice,
 * under caps on entries and on decompressed bytes (lower ones for an archive
 * held whole, a .zip included). Anything else fails the
 * whole archive with TFA_EVERIFY and a one-line message naming the entry, or
 * the archive offset when no entry is involved.
 */
#ifndef TFA_BUNDLE_ARCHIVE_H
#define TFA_BUNDLE_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tfattest/artifact.h"
#include "tfattest/bundle.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

/*
 * Default caps (docs/FORMAT.md R-5.3-3): those of every archive, and the
 * lower ones of an archive held whole in memory (a .zip; a .tar.gz that is
 * not streamed, or one given in memory). A streamed .tar.gz holds no file
 * contents but its small files, so its total can be far larger: a bomb then
 * costs inflating time, not memory.
 */
#define TFA_ARCHIVE_MAX_ENTRIES	      16000000u
#define TFA_ARCHIVE_MAX_FILE	      ((uint64_t)TFA_ARTIFACT_MAX)
#define TFA_ARCHIVE_MAX_MANIFEST      ((uint64_t)TFA_MANIFEST_MAX_BYTES)
#define TFA_ARCHIVE_MAX_TOTAL	      ((uint64_t)256 << 30)
#define TFA_ARCHIVE_HELD_MAX_ENTRIES  1000000u
#define TFA_ARCHIVE_HELD_MAX_MANIFEST ((uint64_t)256 << 20)
#define TFA_ARCHIVE_HELD_MAX_TOTAL    ((uint64_t)1 << 30)
/*
 * A .tar.gz is streamed only while what it holds stays small: at most this
 * many entries outside artifacts/ (manifest.json included), and the seqs of
 * its artifacts/ .json files, and of its .sig files, each in at most this
 * many runs of consecutive seqs. Past either it is held whole.
 */
#define TFA_ARCHIVE_STREAM_MAX_OTHER 4096u
#define TFA_ARCHIVE_STREAM_MAX_RUNS  65536u
/* Names and entry slots held, at most. */
#define TFA_ARCHIVE_MAX_META (128u << 20)
/* The longest name a tar header holds (99 bytes and its NUL); bundle paths are shorter. */
#define TFA_ARCHIVE_NAME_MAX 99
/* Zero bytes allowed after a tar's last entry (its end blocks and record padding). */
#define TFA_ARCHIVE_MAX_TAR_END ((uint64_t)1 << 20)
/* Entries in a zip without zip64 (an entry count of 0xFFFF is zip64's marker). */
#define TFA_ARCHIVE_ZIP_MAX_ENTRIES 65534u
/*
 * The longest zip file taken, whatever it inflates to (FORMAT.md R-5.3-3): HELD
 * bytes of files, 1/64 of that for deflate, a local header (30 bytes), a central
 * header (46) and a name twice for each of 65,535 entries, and the end record (22).
 * FORMAT.md counts the entry field's whole range, one more than a reader takes.
 */
#define TFA_ARCHIVE_ZIP_FILE_MAX(held)                                                             \
	((held) + (held) / 64 + (uint64_t)65535u * (30 + 46 + 2 * TFA_ARCHIVE_NAME_MAX) + 22)

typedef struct tfa_archive_limits {
	uint64_t max_entries;  /* entries */
	uint64_t max_file;     /* bytes in one file other than manifest.json */
	uint64_t max_manifest; /* bytes in manifest.json */
	uint64_t max_total;    /* bytes in all files together */
	/* The same, lower where they bind, for an archive held whole (a .zip included). */
	uint64_t max_held_entries;
	uint64_t max_held_manifest;
	uint64_t max_held_total;
	uint64_t max_meta; /* bytes of entry names and entry slots held */
} tfa_archive_limits;

typedef struct tfa_archive_entry {
	char *path;    /* a bundle path */
	uint8_t *data; /* NULL when streamed */
	size_t size;
	/* A streamed zip's entry: where its data lies in the file, and how. */
	uint64_t zoff;
	uint32_t zcsize;
	uint16_t zmethod;
} tfa_archive_entry;

/* Consecutive seqs lo..hi of artifacts/ files of one kind (.json or .sig). */
typedef struct tfa_archive_run {
	uint64_t lo, hi;
} tfa_archive_run;

typedef struct tfa_archive_cursor tfa_archive_cursor;

typedef struct tfa_archive {
	tfa_archive_entry *e; /* sorted by path in byte order */
	size_t n, cap;
	uint64_t total; /* bytes of all entries */
	uint64_t meta;	/* bytes of names and entry slots */
	/*
	 * Streamed (tfa_archive_open_fd on a .tar.gz whose artifacts/ entries
	 * come in byte order): those entries are not in e, only their seqs, in
	 * runs; e holds the other entries, with their data except
	 * manifest.json's. Data not held is read again from the file through a
	 * cursor, so that memory does not grow with the chain.
	 */
	bool streamed;
	bool zip;	   /* streamed zip: every entry in e, none with data, read by seeking */
	bool redo;	   /* during the load: streaming is not possible, read whole */
	uint64_t last_art; /* 2 * seq + (1 for .sig) of the last artifacts/ entry */
	uint64_t nart;	   /* artifacts/ entries */
	uint64_t held;	   /* bytes of data held in e */
	tfa_archive_run *runs[2]; /* [0] .json, [1] .sig */
	size_t nruns[2], capruns[2];
	int fd;		 /* the file, owned */
	uint64_t zstart; /* file offset of the deflate data */
	uint64_t fsize;	 /* the file as loaded: size, inode, mtime */
	uint64_t fino;
	int64_t fmtime_s, fmtime_ns;
	tfa_archive_cursor **cursors; /* per-thread cursors (tfa_archive_cursor_hint) */
	size_t ncursors;
} tfa_archive;

void tfa_archive_limits_default(tfa_archive_limits *out);

/*
 * Reads an archive held in memory (the bytes must outlive the call only),
 * recognised by its content. TFA_EVERIFY when the archive breaks a rule or
 * cannot be read (truncated, corrupt, not an archive), TFA_EINTERNAL when
 * out of memory. On success *out must be released with tfa_archive_free().
 */
TFA_WUR tfa_err tfa_archive_load_mem(tfa_archive **out, const void *data, size_t len,
				     const tfa_archive_limits *lim);

/* The same from an open regular file, read from its start; `name` is for messages. */
TFA_WUR tfa_err tfa_archive_load_fd(tfa_archive **out, int fd, const char *name,
				    const tfa_archive_limits *lim);

/*
 * Like tfa_archive_load_fd, with the same verdicts, but streamed: a .tar.gz
 * whose artifacts/ entries come in byte order (as export writes it) holds
 * only its other small files (at most TFA_ARCHIVE_MAX_HELD bytes); a .zip
 * holds none, only its directory (each entry checked, inflated a block at a
 * time, as it is loaded). The rest is read again through cursors. fd stays
 * the caller's.
 */
#define TFA_ARCHIVE_MAX_HELD ((uint64_t)16 << 20)
TFA_WUR tfa_err tfa_archive_open_fd(tfa_archive **out, int fd, const char *name,
				    const tfa_archive_limits *lim);

/* In a streamed archive, whether an artifacts/ path is one of its entries. */
bool tfa_archive_has_artifact(const tfa_archive *a, const char *path);

/*
 * A cursor reads entries of a streamed archive, inflating it again from the
 * file: a .tar.gz forward (an entry behind it restarts it from the
 * beginning), a .zip entry from its offset. One
 * cursor per thread. Release with tfa_archive_cursor_free().
 */
TFA_WUR tfa_err tfa_archive_cursor_new(tfa_archive_cursor **out, const tfa_archive *a);
/*
 * A cursor owned by the archive (freed with it), for one thread; its index
 * in *hint. Not thread-safe: call before the threads start.
 */
TFA_WUR tfa_err tfa_archive_cursor_hint(tfa_archive *a, int *hint);
tfa_archive_cursor *tfa_archive_cursor_at(const tfa_archive *a, int hint);
/*
 * Moves to the data of the entry named path: its size in *size.
 * TFA_ENOTFOUND when the archive has no such entry; TFA_EVERIFY when the file
 * changed since it was loaded.
 */
TFA_WUR tfa_err tfa_archive_cursor_seek(tfa_archive_cursor *c, const char *path, uint64_t *size);
/* Up to n bytes of the entry's data; 0 at its end, -1 (errno EIO) on failure. */
ssize_t tfa_archive_cursor_read(tfa_archive_cursor *c, void *buf, size_t n);
void tfa_archive_cursor_free(tfa_archive_cursor *c);

/*
 * After a load failed on this thread: the (printable) name of the entry that
 * broke a rule, or "" when the failure concerns no one entry.
 */
const char *tfa_archive_rejected_entry(void);

/* The entry named path, or NULL. */
const tfa_archive_entry *tfa_archive_find(const tfa_archive *a, const char *path);

void tfa_archive_free(tfa_archive *a);

#endif
