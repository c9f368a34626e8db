/*
 * Bundle archives read into memory through libarchive, never extracted.
 *
 * Only the formats a bundle is exported in are enabled: tar (ustar, pax,
 * GNU) with or without gzip, and zip read through its central directory, as
 * unzip reads it, so that what is verified is what an auditor extracts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "bundle_archive.h"
#include "tfattest/bundle.h"
#include "tfattest/sys/guard.h"

#define READ_CHUNK 65536

void tfa_archive_limits_default(tfa_archive_limits *out)
{
	out->max_entries = TFA_ARCHIVE_MAX_ENTRIES;
	out->max_file = TFA_ARCHIVE_MAX_FILE;
	out->max_manifest = TFA_ARCHIVE_MAX_MANIFEST;
	out->max_total = TFA_ARCHIVE_MAX_TOTAL;
	out->max_meta = TFA_ARCHIVE_MAX_META;
}

/* An entry name fit for a one-line message: printable, bounded. */
static void printable(char out[128], const char *name)
{
	size_t i = 0;

	if (name == NULL)
		name = "";
	for (; name[i] != '\0' && i < 120; i++) {
		unsigned char c = (unsigned char)name[i];
		out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (name[i] != '\0') {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

/* The entry the last rejection on this thread named. */
static _Thread_local char last_bad[128];

const char *tfa_archive_rejected_entry(void)
{
	return last_bad;
}

static tfa_err reject(const char *name, const char *why)
{
	char p[128];

	printable(p, name);
	memcpy(last_bad, p, sizeof(last_bad));
	return tfa_error_set(TFA_EVERIFY, "Unsafe archive entry: %s (%s)", p, why);
}

/* Checks a name (trailing '/' already removed for directories); NULL when it is fine. */
static const char *name_problem(const char *name, size_t len)
{
	size_t depth = 0;
	const char *p, *end = name + len;

	if (len == 0)
		return "empty name";
	if (len > TFA_ARCHIVE_NAME_MAX)
		return "name too long";
	if (name[0] == '/')
		return "absolute path";
	for (p = name; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\\')
			return "backslash in name";
		if (c < 0x20 || c == 0x7f)
			return "control character in name";
	}
	for (p = name; p <= end;) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);

		if (n == 0)
			return "empty path component";
		if (n == 1 && p[0] == '.')
			return "'.' component";
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return "'..' component";
		if (++depth > TFA_ARCHIVE_MAX_DEPTH)
			return "nested too deeply";
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	return NULL;
}

static const char *type_problem(struct archive_entry *ent)
{
	if (archive_entry_hardlink(ent) != NULL)
		return "hard link";
	if (archive_entry_symlink(ent) != NULL)
		return "symlink";
	switch (archive_entry_filetype(ent)) {
	case AE_IFREG: break;
	case AE_IFDIR: break;
	case AE_IFLNK: return "symlink";
	case AE_IFCHR:
	case AE_IFBLK: return "device";
	case AE_IFIFO: return "FIFO";
	case AE_IFSOCK: return "socket";
	default: return "not a regular file or directory";
	}
	if (archive_entry_sparse_count(ent) > 0)
		return "sparse file";
	if (archive_entry_is_encrypted(ent))
		return "encrypted";
	return NULL;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const tfa_archive_entry *)a)->path, ((const tfa_archive_entry *)b)->path);
}

const tfa_archive_entry *tfa_archive_find(const tfa_archive *a, const char *path)
{
	tfa_archive_entry key;

	if (a == NULL || a->n == 0 || path == NULL)
		return NULL;
	key.path = (char *)path;
	return bsearch(&key, a->e, a->n, sizeof(*a->e), entry_cmp);
}

void tfa_archive_free(tfa_archive *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++) {
		free(a->e[i].path);
		free(a->e[i].data);
	}
	free(a->e);
	free(a);
}

/*
 * Reads the current entry's data into e. Never holds more than cap + 1 bytes
 * or more than the total may still take, whatever the header declared.
 */
static tfa_err read_data(tfa_archive *ar, struct archive *a, tfa_archive_entry *e,
			 const char *name, int64_t declared, uint64_t cap, const tfa_archive_limits *lim)
{
	tfa_err rc = TFA_OK;
	uint64_t room = lim->max_total - ar->total, limit = cap < room ? cap : room;
	size_t alloc = 0;
	char pn[128];

	printable(pn, name);
	for (;;) {
		ssize_t n;

		if (e->size == alloc) {
			/* The declared size (checked against the caps) and one byte to see more
			 * come, else chunk by chunk; never more than the caps allow. */
			uint64_t want = alloc == 0 && declared >= 0 ? (uint64_t)declared + 1
								     : (uint64_t)alloc + READ_CHUNK;
			uint8_t *np;

			if (want > limit + 1)
				want = limit + 1;
			np = realloc(e->data, (size_t)want);
			TFA_ENSURE(np != NULL, TFA_EINTERNAL, "out of memory");
			e->data = np;
			alloc = (size_t)want;
		}
		n = archive_read_data(a, e->data + e->size, alloc - e->size);
		if (n == 0)
			break;
		TFA_ENSURE(n > 0, TFA_EVERIFY, "Archive damaged at %s: %s", pn,
			   archive_error_string(a) ? archive_error_string(a) : "read error");
		e->size += (size_t)n;
		if (e->size > cap) {
			char m[64];
			snprintf(m, sizeof(m), "larger than the limit of %" PRIu64 " bytes", cap);
			TFA_GUARD(reject(name, m));
		}
		if (e->size > room)
			TFA_BAIL(TFA_EVERIFY, "Archive expands past the limit of %" PRIu64 " bytes", lim->max_total);
	}
	ar->total += e->size;
out:
	return rc;
}

/* Checks the header of one entry and reads it into a new slot of ar. */
static tfa_err add_entry(tfa_archive *ar, struct archive *a, struct archive_entry *ent,
			 const tfa_archive_limits *lim)
{
	tfa_err rc = TFA_OK;
	const char *name = archive_entry_pathname(ent), *why;
	tfa_archive_entry *e;
	size_t len;
	bool dir;
	uint64_t cap;

	if (name == NULL)
		return reject("?", "name unreadable");
	if (ar->n >= lim->max_entries)
		return tfa_error_set(TFA_EVERIFY, "Archive holds more than %" PRIu64 " entries",
				     lim->max_entries);
	if ((why = type_problem(ent)) != NULL)
		return reject(name, why);
	dir = archive_entry_filetype(ent) == AE_IFDIR;
	len = strlen(name);
	if (dir && len > 1 && name[len - 1] == '/')
		len--;
	if ((why = name_problem(name, len)) != NULL)
		return reject(name, why);
	cap = strcmp(name, TFA_BUNDLE_MANIFEST) == 0 ? lim->max_manifest : lim->max_file;
	if (dir) {
		if (archive_entry_size_is_set(ent) && archive_entry_size(ent) != 0)
			return reject(name, "directory with data");
	} else if (archive_entry_size_is_set(ent)) {
		if (archive_entry_size(ent) < 0 || (uint64_t)archive_entry_size(ent) > cap) {
			char m[64];
			snprintf(m, sizeof(m), "larger than the limit of %" PRIu64 " bytes", cap);
			return reject(name, m);
		}
		if ((uint64_t)archive_entry_size(ent) > lim->max_total - ar->total)
			return tfa_error_set(TFA_EVERIFY, "Archive expands past the limit of %" PRIu64 " bytes",
					     lim->max_total);
	}
	/* Names and entry slots cost memory too: a million long directory names must
	 * not grow the heap unchecked. */
	if (ar->meta > lim->max_meta || len + sizeof(tfa_archive_entry) > lim->max_meta - ar->meta)
		return tfa_error_set(TFA_EVERIFY, "Archive names take more than %" PRIu64 " bytes",
				     lim->max_meta);
	ar->meta += len + sizeof(tfa_archive_entry);
	if (ar->n == ar->cap) {
		size_t ncap = ar->cap ? ar->cap * 2 : 64;
		tfa_archive_entry *ne = realloc(ar->e, ncap * sizeof(*ne));
		if (ne == NULL)
			return tfa_error_set(TFA_EINTERNAL, "out of memory");
		ar->e = ne;
		ar->cap = ncap;
	}
	e = &ar->e[ar->n++];
	memset(e, 0, sizeof(*e));
	e->dir = dir;
	e->path = strndup(name, len);
	TFA_ENSURE(e->path != NULL, TFA_EINTERNAL, "out of memory");
	if (!dir)
		TFA_GUARD(read_data(ar, a, e, name,
				    archive_entry_size_is_set(ent) ? archive_entry_size(ent) : -1, cap,
				    lim));
out:
	return rc;
}

/* Once everything is read: no name twice, no file that also holds entries. */
static tfa_err check_names(const tfa_archive *ar)
{
	for (size_t i = 1; i < ar->n; i++)
		if (strcmp(ar->e[i - 1].path, ar->e[i].path) == 0)
			return reject(ar->e[i].path, "duplicate entry");
	for (size_t i = 0; i < ar->n; i++) {
		char parent[TFA_ARCHIVE_NAME_MAX + 1];
		const char *path = ar->e[i].path, *slash;

		for (slash = strchr(path, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
			const tfa_archive_entry *p;

			memcpy(parent, path, (size_t)(slash - path));
			parent[slash - path] = '\0';
			p = tfa_archive_find(ar, parent);
			if (p != NULL && !p->dir)
				return reject(parent, "both a file and a directory");
		}
	}
	return TFA_OK;
}

static tfa_err load(tfa_archive **out, struct archive *a, int opened, const char *name,
		    const tfa_archive_limits *lim)
{
	tfa_err rc = TFA_OK;
	tfa_archive *ar = NULL;
	tfa_archive_limits def;
	char pn[128];

	printable(pn, name);
	*out = NULL;
	last_bad[0] = '\0';
	if (lim == NULL) {
		tfa_archive_limits_default(&def);
		lim = &def;
	}
	TFA_ENSURE(opened == ARCHIVE_OK, TFA_EVERIFY, "Archive unreadable: %s: %s", pn,
		   archive_error_string(a) ? archive_error_string(a) : "not an archive");
	ar = calloc(1, sizeof(*ar));
	TFA_ENSURE(ar != NULL, TFA_EINTERNAL, "out of memory");
	for (;;) {
		struct archive_entry *ent;
		int r = archive_read_next_header(a, &ent);

		if (r == ARCHIVE_EOF)
			break;
		/* A warning is a damaged header (a bad checksum, a malformed pax record): reject. */
		TFA_ENSURE(r == ARCHIVE_OK, TFA_EVERIFY, "Archive damaged after %zu entries: %s", ar->n,
			   archive_error_string(a) ? archive_error_string(a) : "unreadable header");
		TFA_GUARD(add_entry(ar, a, ent, lim));
	}
	if (ar->n > 0)
		qsort(ar->e, ar->n, sizeof(*ar->e), entry_cmp);
	TFA_GUARD(check_names(ar));
	*out = ar;
	ar = NULL;
out:
	tfa_archive_free(ar);
	return rc;
}

static struct archive *reader(void)
{
	struct archive *a = archive_read_new();

	if (a == NULL)
		return NULL;
	if (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_support_format_zip_seekable(a) != ARCHIVE_OK) {
		archive_read_free(a);
		return NULL;
	}
	return a;
}

tfa_err tfa_archive_load_mem(tfa_archive **out, const void *data, size_t len,
			     const tfa_archive_limits *lim)
{
	tfa_err rc;
	struct archive *a;

	if (out == NULL || (data == NULL && len > 0))
		return tfa_error_set(TFA_EUSAGE, "missing argument");
	*out = NULL;
	if ((a = reader()) == NULL)
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	/* libarchive takes a non-const pointer but only reads through it. */
	rc = load(out, a, archive_read_open_memory(a, (void *)(uintptr_t)data, len), "archive", lim);
	archive_read_free(a);
	return rc;
}

tfa_err tfa_archive_load_fd(tfa_archive **out, int fd, const char *name,
			    const tfa_archive_limits *lim)
{
	tfa_err rc;
	struct archive *a;

	if (out == NULL || fd < 0)
		return tfa_error_set(TFA_EUSAGE, "missing argument");
	*out = NULL;
	if ((a = reader()) == NULL)
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	rc = load(out, a, archive_read_open_fd(a, fd, READ_CHUNK), name ? name : "archive", lim);
	archive_read_free(a);
	return rc;
}
