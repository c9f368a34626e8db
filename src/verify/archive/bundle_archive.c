/*
 * Bundle archives read into memory, never extracted: the tar and zip
 * headers are parsed here, zlib inflates gzip and raw deflate.
 *
 * The accepted subset (docs/ARCHIVES.md) leaves no byte of the archive
 * unaccounted for and no field that two extractors could read two ways:
 * what is verified is what GNU tar, bsdtar, unzip and Python extract.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "format/bundle_path.h"
#include "tfattest/bundle.h"
#include "tfattest/sys/guard.h"
#include "verify/archive/bundle_archive.h"

#define CHUNK		  65536
#define ZIP_LOCAL_SIG	  0x04034b50u
#define ZIP_CENTRAL_SIG	  0x02014b50u
#define ZIP_EOCD_SIG	  0x06054b50u
#define ZIP64_LOCATOR_SIG 0x07064b50u
#define ZIP_LOCAL_LEN	  30
#define ZIP_CENTRAL_LEN	  46
#define ZIP_EOCD_LEN	  22

void tfa_archive_limits_default(tfa_archive_limits *out)
{
	out->max_entries = TFA_ARCHIVE_MAX_ENTRIES;
	out->max_file = TFA_ARCHIVE_MAX_FILE;
	out->max_manifest = TFA_ARCHIVE_MAX_MANIFEST;
	out->max_total = TFA_ARCHIVE_MAX_TOTAL;
	out->max_held_entries = TFA_ARCHIVE_HELD_MAX_ENTRIES;
	out->max_held_manifest = TFA_ARCHIVE_HELD_MAX_MANIFEST;
	out->max_held_total = TFA_ARCHIVE_HELD_MAX_TOTAL;
	out->max_meta = TFA_ARCHIVE_MAX_META;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/*
 * The caps that hold for ar as it is being read: an archive held whole (a
 * .zip, streamed or not, keeps its directory and is held to the same caps)
 * has the lower held caps as well.
 */
static void caps_of(const tfa_archive *ar, const tfa_archive_limits *lim, tfa_archive_limits *out)
{
	*out = *lim;
	if (ar->streamed && !ar->zip)
		return;
	out->max_entries = min64(lim->max_entries, lim->max_held_entries);
	out->max_manifest = min64(lim->max_manifest, lim->max_held_manifest);
	out->max_total = min64(lim->max_total, lim->max_held_total);
}

/* A name fit for a one-line message: printable ASCII, the rest as \xNN, bounded. */
static void printable(char out[160], const char *name, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (o > 120) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
		} else if (c < 0x20 || c >= 0x7f) {
			snprintf(out + o, 5, "\\x%02x", c);
			o += 4;
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

/* The entry the last rejection on this thread named. */
static _Thread_local char last_bad[160];

const char *tfa_archive_rejected_entry(void)
{
	return last_bad;
}

/* "Unsafe archive entry: NAME (why)", naming the entry for the report. */
static tfa_err TFA_PRINTF(3, 4) reject(const char *name, size_t len, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	printable(last_bad, name, len);
	return tfa_error_set(TFA_EVERIFY, "Unsafe archive entry: %s (%s)", last_bad, why);
}

/* A rule broken by no one entry: "Unsafe archive: why (KIND offset N)". */
static tfa_err TFA_PRINTF(4, 5)
    reject_at(bool damaged, const char *kind, uint64_t off, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	last_bad[0] = '\0';
	return tfa_error_set(TFA_EVERIFY, "%s: %s (%s offset %" PRIu64 ")",
			     damaged ? "Archive damaged" : "Unsafe archive", why, kind, off);
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
	for (size_t i = 0; i < a->ncursors; i++)
		tfa_archive_cursor_free(a->cursors[i]);
	free(a->cursors);
	free(a->runs[0]);
	free(a->runs[1]);
	if (a->fd >= 0)
		close(a->fd);
	free(a);
}

/* Why a name is not a bundle path, in the words that help most. */
static const char *path_problem(const char *name)
{
	if (tfa_bundle_path_allowed(name))
		return NULL;
	if (name[0] == '/')
		return "absolute path";
	if (strchr(name, '\\') != NULL)
		return "backslash in name";
	if (strcmp(name, "..") == 0 || strncmp(name, "../", 3) == 0 || strstr(name, "/../") ||
	    (strlen(name) >= 3 && strcmp(name + strlen(name) - 3, "/..") == 0))
		return "'..' component";
	if (strcmp(name, ".") == 0 || strncmp(name, "./", 2) == 0 || strstr(name, "/./"))
		return "'.' component";
	return "not a bundle path";
}

/* seq and kind (0 .json, 1 .sig) of an artifacts/ bundle path; false for any other path. */
static bool artifact_name(const char *path, uint64_t *seq, int *kind)
{
	uint64_t v = 0;

	if (strncmp(path, "artifacts/", 10) != 0)
		return false;
	for (int i = 10; i < 22; i++) {
		if (path[i] < '0' || path[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(path[i] - '0');
	}
	if (strcmp(path + 22, ".json") == 0)
		*kind = 0;
	else if (strcmp(path + 22, ".sig") == 0)
		*kind = 1;
	else
		return false;
	*seq = v;
	return true;
}

bool tfa_archive_has_artifact(const tfa_archive *a, const char *path)
{
	uint64_t seq;
	int k;
	size_t lo = 0, hi;

	if (a == NULL || !a->streamed || !artifact_name(path, &seq, &k))
		return false;
	hi = a->nruns[k];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const tfa_archive_run *r = &a->runs[k][mid];
		if (seq < r->lo)
			hi = mid;
		else if (seq > r->hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/*
 * A streamed archive's artifacts/ entry: only its seq is kept. One out of
 * byte order (or a duplicate) ends streaming: the archive is read whole.
 */
static tfa_err add_artifact(tfa_archive *ar, uint64_t seq, int kind)
{
	tfa_err rc = TFA_OK;
	uint64_t key = 2 * seq + (uint64_t)kind;
	tfa_archive_run *r;

	if (ar->nart > 0 && key <= ar->last_art) {
		ar->redo = true;
		return tfa_error_set(TFA_EINTERNAL, "artifacts out of order: read whole");
	}
	ar->last_art = key;
	ar->nart++;
	if (ar->nruns[kind] > 0) {
		r = &ar->runs[kind][ar->nruns[kind] - 1];
		if (r->hi + 1 == seq) {
			r->hi = seq;
			goto out;
		}
	}
	if (ar->nruns[kind] >= TFA_ARCHIVE_STREAM_MAX_RUNS) {
		ar->redo = true;
		return tfa_error_set(TFA_EINTERNAL, "artifacts in too many runs: read whole");
	}
	if (ar->nruns[kind] == ar->capruns[kind]) {
		size_t ncap = ar->capruns[kind] ? 2 * ar->capruns[kind] : 4;
		tfa_archive_run *nr = realloc(ar->runs[kind], ncap * sizeof(*nr));
		TFA_ENSURE(nr != NULL, TFA_EINTERNAL, "out of memory");
		ar->runs[kind] = nr;
		ar->capruns[kind] = ncap;
	}
	ar->runs[kind][ar->nruns[kind]].lo = seq;
	ar->runs[kind][ar->nruns[kind]].hi = seq;
	ar->nruns[kind]++;
out:
	return rc;
}

/*
 * Takes a new entry of size bytes named name (NUL-terminated), after the
 * name and the caps are checked: its data buffer holds size + 1 bytes, so
 * that one byte too many can be seen.
 */
static tfa_err add_entry(tfa_archive *ar, const tfa_archive_limits *all, const char *name,
			 uint64_t size, tfa_archive_entry **out)
{
	tfa_err rc = TFA_OK;
	size_t len = strlen(name);
	tfa_archive_limits l;
	const tfa_archive_limits *lim = &l;
	uint64_t cap, seq = 0;
	int kind = 0;
	/* A streamed .tar.gz keeps only the seq of an artifacts/ entry. */
	bool art = ar->streamed && !ar->zip && artifact_name(name, &seq, &kind);
	const char *why;
	tfa_archive_entry *e;

	*out = NULL;
	caps_of(ar, all, &l);
	cap = strcmp(name, TFA_BUNDLE_MANIFEST) == 0 ? lim->max_manifest : lim->max_file;
	if (ar->n + ar->nart >= lim->max_entries) {
		last_bad[0] = '\0';
		return tfa_error_set(TFA_EVERIFY, "Archive holds more than %" PRIu64 " entries",
				     lim->max_entries);
	}
	if ((why = path_problem(name)) != NULL)
		return reject(name, len, "%s", why);
	if (size > cap)
		return reject(name, len, "larger than the limit of %" PRIu64 " bytes", cap);
	if (size > lim->max_total - ar->total || size >= SIZE_MAX) {
		last_bad[0] = '\0';
		return tfa_error_set(TFA_EVERIFY,
				     "Archive expands past the limit of %" PRIu64 " bytes",
				     lim->max_total);
	}
	if (art) {
		TFA_GUARD(add_artifact(ar, seq, kind));
		ar->total += size;
		goto out;
	}
	if (ar->meta > lim->max_meta ||
	    len + sizeof(tfa_archive_entry) > lim->max_meta - ar->meta) {
		last_bad[0] = '\0';
		return tfa_error_set(TFA_EVERIFY, "Archive names take more than %" PRIu64 " bytes",
				     lim->max_meta);
	}
	if (ar->streamed && !ar->zip) {
		if (ar->n >= TFA_ARCHIVE_STREAM_MAX_OTHER) {
			ar->redo = true;
			TFA_BAIL(TFA_EINTERNAL, "too many files to hold: read whole");
		}
		if (strcmp(name, TFA_BUNDLE_MANIFEST) != 0) {
			if (size > TFA_ARCHIVE_MAX_HELD - ar->held) {
				ar->redo = true;
				TFA_BAIL(TFA_EINTERNAL, "too much to hold: read whole");
			}
			ar->held += size;
		}
	}
	if (ar->n == ar->cap) {
		size_t ncap = ar->cap ? ar->cap * 2 : 64;
		tfa_archive_entry *ne = realloc(ar->e, ncap * sizeof(*ne));
		TFA_ENSURE(ne != NULL, TFA_EINTERNAL, "out of memory");
		ar->e = ne;
		ar->cap = ncap;
	}
	e = &ar->e[ar->n];
	memset(e, 0, sizeof(*e));
	e->path = strdup(name);
	if (!ar->streamed || (!ar->zip && strcmp(name, TFA_BUNDLE_MANIFEST) != 0))
		e->data = malloc((size_t)size + 1);
	if (e->path == NULL ||
	    (e->data == NULL &&
	     !(ar->streamed && (ar->zip || strcmp(name, TFA_BUNDLE_MANIFEST) == 0)))) {
		free(e->path);
		free(e->data);
		TFA_BAIL(TFA_EINTERNAL, "out of memory");
	}
	e->size = (size_t)size;
	ar->n++;
	ar->total += size;
	ar->meta += len + sizeof(tfa_archive_entry);
	*out = e;
out:
	return rc;
}

/* ---------------------------------------------------------------- tar */

typedef enum { T_HEADER, T_DATA, T_PAD, T_END } tar_state;

typedef struct tar_reader {
	tfa_archive *ar;
	const tfa_archive_limits *lim;
	tar_state state;
	uint8_t blk[512];
	size_t blen;		/* bytes gathered in blk */
	tfa_archive_entry *cur; /* the entry whose data is coming (NULL: not held) */
	char name[101];		/* its name */
	uint64_t got, left;	/* data bytes of cur read, still to come; padding to come */
	uint64_t off;		/* tar offset of the next byte */
	uint64_t zeros;		/* bytes of the end region so far */
	uint64_t size;		/* the entry's size */
} tar_reader;

/*
 * A numeric field as ustar writers put it: optional leading spaces, octal
 * digits, then at least one NUL or space and nothing but NULs and spaces.
 * Leading zeros are digits. No base-256, no sign, no empty field.
 */
static bool tar_octal(const uint8_t *p, size_t n, uint64_t *v)
{
	size_t i = 0, digits = 0;
	uint64_t x = 0;

	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++, digits++) {
		if (x >> 60)
			return false;
		x = x * 8 + (uint64_t)(p[i] - '0');
	}
	if (digits == 0 || i == n)
		return false;
	for (; i < n; i++)
		if (p[i] != '\0' && p[i] != ' ')
			return false;
	*v = x;
	return true;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* After the field's first NUL, only NULs: nothing hidden where a reader stops looking. */
static bool nul_padded(const uint8_t *p, size_t n)
{
	const uint8_t *nul = memchr(p, '\0', n);

	return nul == NULL || all_zero(nul, n - (size_t)(nul - p));
}

static const char *tar_type(uint8_t t, char buf[48])
{
	switch (t) {
	case '\0': return "old-style regular file, typeflag NUL";
	case '1': return "hard link, typeflag '1'";
	case '2': return "symlink, typeflag '2'";
	case '3': return "character device, typeflag '3'";
	case '4': return "block device, typeflag '4'";
	case '5': return "directory, typeflag '5'";
	case '6': return "FIFO, typeflag '6'";
	case '7': return "contiguous file, typeflag '7'";
	case 'g': return "pax global header, typeflag 'g'";
	case 'x': return "pax extended header, typeflag 'x'";
	case 'L': return "GNU long name, typeflag 'L'";
	case 'K': return "GNU long link name, typeflag 'K'";
	case 'S': return "GNU sparse file, typeflag 'S'";
	default:
		if (t > 0x20 && t < 0x7f)
			snprintf(buf, 48, "typeflag '%c'", t);
		else
			snprintf(buf, 48, "typeflag 0x%02x", t);
		return buf;
	}
}

static const struct {
	size_t off, len;
	const char *name;
} tar_numeric[] = {
    {100, 8, "mode"}, {108, 8, "uid"}, {116, 8, "gid"}, {124, 12, "size"}, {136, 12, "mtime"},
};

/* Checks the header block in t->blk and starts its entry. */
static tfa_err tar_header(tar_reader *t)
{
	const uint8_t *h = t->blk;
	size_t nlen = strnlen((const char *)h, 100);
	char name[101], tb[48];
	uint64_t v, sum, mode = 0, size = 0;
	unsigned usum = 0;
	int ssum = 0;

	memcpy(name, h, nlen);
	name[nlen] = '\0';
#define BAD(...)                                                                                   \
	return nlen > 0 ? reject(name, nlen, __VA_ARGS__)                                          \
			: reject_at(false, "tar", t->off - 512, __VA_ARGS__)

	for (size_t i = 0; i < 512; i++) {
		uint8_t c = i >= 148 && i < 156 ? ' ' : h[i];
		usum += c;
		ssum += (signed char)c;
	}
	if (!tar_octal(h + 148, 8, &sum))
		BAD("checksum field is not octal");
	if (sum != usum) {
		if ((int64_t)sum == (int64_t)ssum)
			BAD("header checksum matches only as a signed sum");
		BAD("bad header checksum");
	}
	if (memcmp(h + 257, "ustar  \0", 8) == 0)
		BAD("old GNU tar header (magic \"ustar  \"), not POSIX ustar");
	if (memcmp(h + 257, "ustar\0", 6) != 0)
		BAD("not a POSIX ustar header (magic)");
	if (memcmp(h + 263, "00", 2) != 0)
		BAD("not a POSIX ustar header (version)");
	if (h[156] != '0')
		BAD("%s", tar_type(h[156], tb));
	for (size_t i = 0; i < sizeof(tar_numeric) / sizeof(tar_numeric[0]); i++) {
		const uint8_t *f = h + tar_numeric[i].off;
		if (f[0] & 0x80)
			BAD("base-256 number in the %s field", tar_numeric[i].name);
		if (!tar_octal(f, tar_numeric[i].len, &v))
			BAD("%s field is not an octal number", tar_numeric[i].name);
		if (i == 0)
			mode = v;
		if (i == 3)
			size = v;
	}
	if ((!all_zero(h + 329, 8) && !tar_octal(h + 329, 8, &v)) ||
	    (!all_zero(h + 337, 8) && !tar_octal(h + 337, 8, &v)))
		BAD("device number field is not octal");
	if (nlen == 0)
		BAD("empty name");
	if (nlen == 100)
		BAD("name not NUL-terminated within its 100 bytes");
	if (!all_zero(h + nlen, 100 - nlen))
		BAD("data after the NUL ending the name");
	if (!all_zero(h + 157, 100))
		BAD("link name set");
	if (!nul_padded(h + 265, 32) || !nul_padded(h + 297, 32))
		BAD("data after the NUL ending the user or group name");
	if (!all_zero(h + 345, 155))
		BAD("prefix field set");
	if (!all_zero(h + 500, 12))
		BAD("data in the header's last 12 bytes");
	if (mode & 07000)
		BAD("setuid, setgid or sticky bit in mode %04" PRIo64, mode & 07777);
#undef BAD
	memcpy(t->name, name, nlen + 1);
	t->size = size;
	return add_entry(t->ar, t->lim, name, size, &t->cur);
}

/* Takes the next n bytes of the tar stream. */
static tfa_err tar_feed(tar_reader *t, const uint8_t *p, size_t n)
{
	tfa_err rc = TFA_OK;

	while (n > 0) {
		size_t k = 0;

		switch (t->state) {
		case T_HEADER:
			k = 512 - t->blen < n ? 512 - t->blen : n;
			memcpy(t->blk + t->blen, p, k);
			t->blen += k;
			t->off += k;
			if (t->blen == 512) {
				t->blen = 0;
				if (all_zero(t->blk, 512)) {
					/* The first zero block starts the end: only zeros from
					 * here. */
					t->state = T_END;
					t->zeros = 512;
				} else {
					TFA_GUARD(tar_header(t));
					t->got = 0;
					t->left = t->size;
					t->state = t->left > 0 ? T_DATA : T_HEADER;
				}
			}
			break;
		case T_DATA:
			k = t->left < n ? (size_t)t->left : n;
			if (t->cur != NULL && t->cur->data != NULL)
				memcpy(t->cur->data + t->got, p, k);
			t->got += k;
			t->left -= k;
			t->off += k;
			if (t->left == 0) {
				t->left = (512 - t->got % 512) % 512;
				t->state = t->left > 0 ? T_PAD : T_HEADER;
			}
			break;
		case T_PAD:
			k = t->left < n ? (size_t)t->left : n;
			for (size_t i = 0; i < k; i++)
				if (p[i] != 0)
					return reject(
					    t->name, strlen(t->name),
					    "non-zero byte in the padding after its data");
			t->left -= k;
			t->off += k;
			if (t->left == 0)
				t->state = T_HEADER;
			break;
		case T_END:
			k = n;
			for (size_t i = 0; i < k; i++)
				if (p[i] != 0) {
					uint64_t at = t->off + i;
					if (t->zeros + i == 512)
						return reject_at(
						    false, "tar", at,
						    "a lone zero block before more data");
					return reject_at(false, "tar", at,
							 "data after the end-of-archive blocks");
				}
			t->zeros += k;
			t->off += k;
			if (t->zeros > TFA_ARCHIVE_MAX_TAR_END)
				return reject_at(false, "tar", t->off,
						 "more than %" PRIu64
						 " bytes of end-of-archive zeros",
						 TFA_ARCHIVE_MAX_TAR_END);
			break;
		}
		p += k;
		n -= k;
	}
out:
	return rc;
}

/* At the end of the tar stream: it ended with its end blocks, whole. */
static tfa_err tar_finish(const tar_reader *t)
{
	if (t->state == T_DATA || t->state == T_PAD || (t->state == T_HEADER && t->blen > 0))
		return reject_at(true, "tar", t->off, "tar stream truncated");
	if (t->state == T_HEADER)
		return reject_at(false, "tar", t->off, "no end-of-archive blocks");
	if (t->zeros < 1024)
		return reject_at(false, "tar", t->off, "one end-of-archive block, not two");
	if (t->zeros % 512 != 0)
		return reject_at(false, "tar", t->off, "tar stream not a multiple of 512 bytes");
	return TFA_OK;
}

/* ---------------------------------------------------------------- input */

/* The archive's bytes: in memory, or read from a file chunk by chunk. */
typedef struct source {
	const uint8_t *mem;
	size_t len;
	int fd;
	uint8_t *buf;
	uint64_t pos; /* archive offset of the next chunk */
	const char *name;
} source;

/* The next chunk (*n == 0 at the end). */
static tfa_err next_chunk(source *s, const uint8_t **p, size_t *n)
{
	ssize_t r;

	if (s->mem != NULL || s->fd < 0) {
		*p = s->mem + (s->pos < s->len ? s->pos : s->len);
		*n = s->pos < s->len ? s->len - (size_t)s->pos : 0;
		if (*n > 16 * CHUNK)
			*n = 16 * CHUNK;
		s->pos += *n;
		return TFA_OK;
	}
	do
		r = pread(s->fd, s->buf, CHUNK, (off_t)s->pos);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return tfa_error_set(TFA_EIO, "cannot read %s: %s", s->name, strerror(errno));
	*p = s->buf;
	*n = (size_t)r;
	s->pos += (uint64_t)r;
	return TFA_OK;
}

/* ---------------------------------------------------------------- gzip */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/*
 * One gzip member (FLG 0 or FNAME only) whose deflate stream ends exactly at
 * its trailer, the trailer matching, and nothing after it; the tar inside.
 */
static tfa_err load_tgz(tfa_archive *ar, source *s, const tfa_archive_limits *lim)
{
	tfa_err rc = TFA_OK;
	z_stream z;
	bool zinit = false;
	uint8_t *out = NULL, trailer[8];
	const uint8_t *p;
	size_t n, hdr = 10, tlen = 0;
	uint64_t base; /* gzip offset of p[0] */
	uLong crc = crc32(0L, Z_NULL, 0);
	tar_reader t;
	int r;

	memset(&z, 0, sizeof(z));
	memset(&t, 0, sizeof(t));
	t.ar = ar;
	t.lim = lim;
	out = malloc(CHUNK);
	TFA_ENSURE(out != NULL, TFA_EINTERNAL, "out of memory");
	base = s->pos;
	TFA_GUARD(next_chunk(s, &p, &n));
	if (n < 10)
		TFA_GUARD(reject_at(true, "gzip", n, "gzip header truncated"));
	if (p[2] != 8)
		TFA_GUARD(
		    reject_at(false, "gzip", 2, "gzip compression method %u, not deflate", p[2]));
	if (p[3] & 0x04)
		TFA_GUARD(reject_at(false, "gzip", 3, "gzip header with FEXTRA"));
	if (p[3] & 0x10)
		TFA_GUARD(reject_at(false, "gzip", 3, "gzip header with FCOMMENT"));
	if (p[3] & 0x02)
		TFA_GUARD(reject_at(false, "gzip", 3, "gzip header with FHCRC"));
	if (p[3] & ~0x08)
		TFA_GUARD(reject_at(false, "gzip", 3, "gzip header flags 0x%02x", p[3]));
	if (p[3] & 0x08) {
		/* The same bound whatever size of chunk the source hands over, so that an
		 * archive in memory and one read from a file get the same verdict. */
		size_t room = n - 10 < CHUNK - 10 ? n - 10 : CHUNK - 10;
		const uint8_t *nul = memchr(p + 10, '\0', room);
		if (nul == NULL)
			TFA_GUARD(reject_at(false, "gzip", 10,
					    "gzip file name longer than %d bytes", CHUNK - 11));
		hdr = (size_t)(nul - p) + 1;
	}
	TFA_ENSURE(inflateInit2(&z, -15) == Z_OK, TFA_EINTERNAL, "out of memory");
	zinit = true;
	ar->zstart = base + hdr;
	z.next_in = (Bytef *)(uintptr_t)(p + hdr);
	z.avail_in = (uInt)(n - hdr);
	for (;;) {
		uInt before_in = z.avail_in;
		size_t made;

		z.next_out = out;
		z.avail_out = CHUNK;
		r = inflate(&z, Z_NO_FLUSH);
		if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
			TFA_GUARD(reject_at(true, "gzip",
					    base + (uint64_t)((const uint8_t *)z.next_in - p),
					    "corrupt deflate data: %s", z.msg ? z.msg : "error"));
		made = CHUNK - z.avail_out;
		crc = crc32(crc, out, (uInt)made);
		TFA_GUARD(tar_feed(&t, out, made));
		if (r == Z_STREAM_END)
			break;
		if (z.avail_in == 0 && z.avail_out != 0) {
			base = s->pos;
			TFA_GUARD(next_chunk(s, &p, &n));
			if (n == 0)
				TFA_GUARD(reject_at(true, "gzip", base, "gzip stream truncated"));
			z.next_in = (Bytef *)(uintptr_t)p;
			z.avail_in = (uInt)n;
		} else if (made == 0 && z.avail_in == before_in) {
			TFA_GUARD(reject_at(true, "gzip", base, "deflate stream stuck"));
		}
	}
	/* The trailer: CRC-32 and ISIZE, and then the end of the file. */
	{
		const uint8_t *q = z.next_in;
		size_t left = z.avail_in;
		uint64_t qoff = base + (uint64_t)(q - p);

		for (;;) {
			size_t k = 8 - tlen < left ? 8 - tlen : left;
			memcpy(trailer + tlen, q, k);
			tlen += k;
			q += k;
			left -= k;
			qoff += k;
			if (left > 0)
				TFA_GUARD(reject_at(false, "gzip", qoff,
						    left >= 2 && q[0] == 0x1f && q[1] == 0x8b
							? "a second gzip member"
							: "data after the gzip trailer"));
			if (tlen == 8) {
				/* Nothing more may follow, not even zeros. */
				TFA_GUARD(next_chunk(s, &q, &left));
				if (left == 0)
					break;
				qoff = s->pos - left;
				TFA_GUARD(reject_at(false, "gzip", qoff,
						    left >= 2 && q[0] == 0x1f && q[1] == 0x8b
							? "a second gzip member"
							: "data after the gzip trailer"));
			}
			TFA_GUARD(next_chunk(s, &q, &left));
			if (left == 0)
				TFA_GUARD(reject_at(true, "gzip", qoff, "gzip trailer truncated"));
		}
		if (le32(trailer) != (uint32_t)crc)
			TFA_GUARD(reject_at(true, "gzip", qoff - 8,
					    "gzip CRC-32 does not match the data"));
		if (le32(trailer + 4) != (uint32_t)z.total_out)
			TFA_GUARD(
			    reject_at(true, "gzip", qoff - 4, "gzip size does not match the data"));
	}
	TFA_GUARD(tar_finish(&t));
out:
	if (zinit)
		inflateEnd(&z);
	free(out);
	return rc;
}

/* ---------------------------------------------------------------- zip */

typedef struct zip_central {
	uint32_t loff, crc, csize, usize;
	uint16_t need, flags, method, mtime, mdate, nlen;
	const uint8_t *name;
} zip_central;

static const char *zip_flags(uint16_t f, char buf[48])
{
	if (f & 0x0001)
		return "encrypted, flag bit 0";
	if (f & 0x0040)
		return "strongly encrypted, flag bit 6";
	if (f & 0x0008)
		return "data descriptor, flag bit 3";
	if (f & 0x0800)
		return "UTF-8 name flag, bit 11";
	snprintf(buf, 48, "general-purpose flags 0x%04x", f);
	return buf;
}

/* Checks one central directory record at z + pos (before the EOCD at eo) into c. */
static tfa_err zip_central_record(const uint8_t *z, size_t pos, size_t eo, zip_central *c,
				  size_t *next)
{
	const uint8_t *r = z + pos;
	uint16_t made, elen, mlen, disk, iattr;
	uint32_t eattr, umode;
	char fb[48];

	if (eo - pos < ZIP_CENTRAL_LEN)
		return reject_at(false, "zip", pos, "central directory ends inside a record");
	if (le32(r) != ZIP_CENTRAL_SIG)
		return reject_at(false, "zip", pos,
				 "no central directory record where one should be");
	made = le16(r + 4);
	c->need = le16(r + 6);
	c->flags = le16(r + 8);
	c->method = le16(r + 10);
	c->mtime = le16(r + 12);
	c->mdate = le16(r + 14);
	c->crc = le32(r + 16);
	c->csize = le32(r + 20);
	c->usize = le32(r + 24);
	c->nlen = le16(r + 28);
	elen = le16(r + 30);
	mlen = le16(r + 32);
	disk = le16(r + 34);
	iattr = le16(r + 36);
	eattr = le32(r + 38);
	c->loff = le32(r + 42);
	c->name = r + ZIP_CENTRAL_LEN;
	if ((size_t)ZIP_CENTRAL_LEN + c->nlen + elen + mlen > eo - pos)
		return reject_at(false, "zip", pos,
				 "central record runs past the central directory");
	*next = pos + ZIP_CENTRAL_LEN + c->nlen + elen + mlen;
#define BAD(...) return reject((const char *)c->name, c->nlen, __VA_ARGS__)
	if (c->nlen == 0)
		return reject_at(false, "zip", pos, "central record with an empty name");
	if (c->nlen > TFA_ARCHIVE_NAME_MAX)
		BAD("name longer than %d bytes", TFA_ARCHIVE_NAME_MAX);
	if (memchr(c->name, '\0', c->nlen) != NULL)
		BAD("NUL byte in name");
	if (c->csize == 0xffffffffu || c->usize == 0xffffffffu || c->loff == 0xffffffffu ||
	    disk == 0xffff)
		BAD("zip64 marker in its central record");
	if (elen != 0)
		BAD("extra field in its central record");
	if (mlen != 0)
		BAD("file comment");
	if (c->flags != 0)
		BAD("%s", zip_flags(c->flags, fb));
	if (c->method != 0 && c->method != 8)
		BAD("compression method %u, not deflate or stored", c->method);
	if (c->need > 20)
		BAD("version needed to extract %u.%u", c->need / 10, c->need % 10);
	if ((made >> 8) != 0 && (made >> 8) != 3)
		BAD("made by host system %u, not MS-DOS or Unix", made >> 8);
	if (disk != 0)
		BAD("disk number %u", disk);
	if (iattr != 0)
		BAD("internal attributes 0x%04x", iattr);
	if (eattr & 0x10)
		BAD("directory, MS-DOS attribute bit");
	umode = eattr >> 16;
	if ((made >> 8) == 3) {
		if ((umode & 0170000) == 0120000)
			BAD("symlink, Unix mode %06o in the external attributes", umode);
		if ((umode & 0170000) == 0040000)
			BAD("directory, Unix mode %06o in the external attributes", umode);
		if ((umode & 0170000) != 0 && (umode & 0170000) != 0100000)
			BAD("not a regular file, Unix mode %06o in the external attributes", umode);
		if (umode & 07000)
			BAD("setuid, setgid or sticky bit in mode %04o", umode & 07777);
	}
	if (c->method == 0 && c->csize != c->usize)
		BAD("stored entry whose sizes disagree (%" PRIu32 " and %" PRIu32 " bytes)",
		    c->csize, c->usize);
#undef BAD
	return TFA_OK;
}

/* Why entry i's local header is not at pos, where the one before ended. */
static tfa_err zip_misplaced(const zip_central *c, uint16_t n, uint16_t i, uint64_t pos)
{
	const char *nm = (const char *)c[i].name;

	for (uint16_t j = 0; j < n; j++)
		if (j != i && c[j].loff == c[i].loff)
			return reject(nm, c[i].nlen,
				      "shares its local header (offset %" PRIu32
				      ") with another entry",
				      c[i].loff);
	for (uint16_t j = 0; j < n; j++)
		if (c[j].loff == pos)
			return reject(
			    nm, c[i].nlen,
			    "local headers not in central-directory order (offset %" PRIu32
			    ", expected %" PRIu64 ")",
			    c[i].loff, pos);
	if (i == 0)
		return reject_at(false, "zip", 0, "%" PRIu32 " bytes before the first local header",
				 c[0].loff);
	if (c[i].loff > pos)
		return reject(nm, c[i].nlen, "gap of %" PRIu64 " bytes before its local header",
			      c[i].loff - pos);
	return reject(nm, c[i].nlen, "local header overlaps the entry before it");
}

/* Local header, name and data of entry c at z + pos, before the central directory at cdoff. */
static tfa_err zip_local(tfa_archive *ar, const tfa_archive_limits *lim, const uint8_t *z,
			 uint64_t pos, uint64_t cdoff, const zip_central *c, z_stream *s,
			 uint8_t *scratch, uint64_t *next)
{
	tfa_err rc = TFA_OK;
	const uint8_t *l = z + pos, *data;
	char name[TFA_ARCHIVE_NAME_MAX + 1];
	const char *diff = NULL;
	tfa_archive_entry *e;

	memcpy(name, c->name, c->nlen);
	name[c->nlen] = '\0';
#define BAD(...) TFA_GUARD(reject(name, c->nlen, __VA_ARGS__))
	if (cdoff - pos < ZIP_LOCAL_LEN)
		BAD("local header runs into the central directory");
	if (le32(l) != ZIP_LOCAL_SIG)
		BAD("no local header at offset %" PRIu64, pos);
	if (le16(l + 4) != c->need)
		diff = "version needed";
	else if (le16(l + 6) != c->flags)
		diff = "flags";
	else if (le16(l + 8) != c->method)
		diff = "compression method";
	else if (le16(l + 10) != c->mtime)
		diff = "modification time";
	else if (le16(l + 12) != c->mdate)
		diff = "modification date";
	else if (le32(l + 14) != c->crc)
		diff = "CRC-32";
	else if (le32(l + 18) != c->csize)
		diff = "compressed size";
	else if (le32(l + 22) != c->usize)
		diff = "size";
	else if (le16(l + 26) != c->nlen)
		diff = "name length";
	if (diff != NULL)
		BAD("local header and central directory disagree on the %s", diff);
	if (cdoff - pos - ZIP_LOCAL_LEN < c->nlen)
		BAD("local header runs into the central directory");
	if (memcmp(l + ZIP_LOCAL_LEN, c->name, c->nlen) != 0) {
		char other[160];
		printable(other, (const char *)l + ZIP_LOCAL_LEN, c->nlen);
		BAD("local header names it \"%s\"", other);
	}
	if (le16(l + 28) != 0)
		BAD("extra field in its local header");
	if (cdoff - pos - ZIP_LOCAL_LEN - c->nlen < c->csize)
		BAD("data runs into the central directory");
	data = l + ZIP_LOCAL_LEN + c->nlen;
	TFA_GUARD(add_entry(ar, lim, name, c->usize, &e));
	if (e->data == NULL) {
		/* Streamed: the same checks, a block at a time, nothing kept. */
		uLong crc = crc32(0L, Z_NULL, 0);

		e->zoff = pos + ZIP_LOCAL_LEN + c->nlen;
		e->zcsize = c->csize;
		e->zmethod = c->method;
		if (c->method == 0) {
			crc = crc32(crc, data, c->usize);
		} else {
			int r;

			TFA_ENSURE(inflateReset(s) == Z_OK, TFA_EINTERNAL, "inflate failed");
			s->next_in = (Bytef *)(uintptr_t)data;
			s->avail_in = c->csize;
			for (;;) {
				uint64_t room = (uint64_t)c->usize + 1 - s->total_out;

				s->next_out = scratch;
				s->avail_out = room < CHUNK ? (uInt)room : CHUNK;
				r = inflate(s, Z_FINISH);
				crc = crc32(crc, scratch, (uInt)(s->next_out - scratch));
				if (r != Z_OK && r != Z_BUF_ERROR)
					break; /* the end, or corrupt */
				if (s->total_out > c->usize || s->avail_out != 0)
					break; /* too much, or the input is used up */
			}
			if (r == Z_STREAM_END && s->avail_in != 0)
				BAD("%u bytes after the end of its deflate stream", s->avail_in);
			if (s->total_out > c->usize)
				BAD("inflates to more than its stated size of %" PRIu32 " bytes",
				    c->usize);
			if (r == Z_STREAM_END && s->total_out != c->usize)
				BAD("inflates to %lu bytes, not its stated %" PRIu32,
				    (unsigned long)s->total_out, c->usize);
			if (r != Z_STREAM_END && s->avail_in == 0)
				BAD("deflate stream does not end within its compressed size");
			if (r != Z_STREAM_END)
				BAD("corrupt deflate data: %s", s->msg ? s->msg : "error");
		}
		if ((uint32_t)crc != c->crc)
			BAD("CRC-32 does not match its data");
		*next = pos + ZIP_LOCAL_LEN + c->nlen + c->csize;
		goto out;
	}
	if (c->method == 0) {
		memcpy(e->data, data, c->usize);
	} else {
		int r;

		TFA_ENSURE(inflateReset(s) == Z_OK, TFA_EINTERNAL, "inflate failed");
		s->next_in = (Bytef *)(uintptr_t)data;
		s->avail_in = c->csize;
		s->next_out = e->data;
		s->avail_out = c->usize + 1; /* one byte more shows a stream that makes too much */
		r = inflate(s, Z_FINISH);
		if (r == Z_STREAM_END && s->avail_in != 0)
			BAD("%u bytes after the end of its deflate stream", s->avail_in);
		if (s->total_out > c->usize)
			BAD("inflates to more than its stated size of %" PRIu32 " bytes", c->usize);
		if (r == Z_STREAM_END && s->total_out != c->usize)
			BAD("inflates to %lu bytes, not its stated %" PRIu32,
			    (unsigned long)s->total_out, c->usize);
		if (r != Z_STREAM_END && s->avail_in == 0)
			BAD("deflate stream does not end within its compressed size");
		if (r != Z_STREAM_END)
			BAD("corrupt deflate data: %s", s->msg ? s->msg : "error");
	}
	if ((uint32_t)crc32(crc32(0L, Z_NULL, 0), e->data, c->usize) != c->crc)
		BAD("CRC-32 does not match its data");
	*next = pos + ZIP_LOCAL_LEN + c->nlen + c->csize;
#undef BAD
out:
	return rc;
}

/*
 * A zip whose every byte is accounted for: local entries from offset 0,
 * contiguous, in central-directory order, then the central directory, then
 * one end record that is the last 22 bytes.
 */
static tfa_err load_zip(tfa_archive *ar, const uint8_t *z, size_t len,
			const tfa_archive_limits *lim)
{
	tfa_err rc = TFA_OK;
	zip_central *c = NULL;
	size_t eo, pos;
	uint16_t disk, cddisk, ndisk, n, clen;
	uint32_t cdsize, cdoff;
	uint64_t lpos = 0, dropped = 0;
	z_stream zs;
	bool zinit = false;
	uint8_t *scratch = NULL;

	if (len < ZIP_EOCD_LEN)
		return reject_at(true, "zip", len, "zip too short for an end record");
	eo = len - ZIP_EOCD_LEN;
	if (le32(z + eo) != ZIP_EOCD_SIG) {
		/* An end record further back: with a comment (or data) after it. */
		size_t lo = eo > 65535 ? eo - 65535 : 0;
		for (size_t i = eo; i-- > lo;)
			if (le32(z + i) == ZIP_EOCD_SIG) {
				if (le16(z + i + 20) == len - i - ZIP_EOCD_LEN)
					return reject_at(false, "zip", i + ZIP_EOCD_LEN,
							 "archive comment of %zu bytes",
							 len - i - ZIP_EOCD_LEN);
				return reject_at(false, "zip", i + ZIP_EOCD_LEN,
						 "data after the end-of-central-directory record");
			}
		return reject_at(false, "zip", eo,
				 "no end-of-central-directory record in the last 22 bytes");
	}
	disk = le16(z + eo + 4);
	cddisk = le16(z + eo + 6);
	ndisk = le16(z + eo + 8);
	n = le16(z + eo + 10);
	cdsize = le32(z + eo + 12);
	cdoff = le32(z + eo + 16);
	clen = le16(z + eo + 20);
	if (n == 0xffff || ndisk == 0xffff || cdsize == 0xffffffffu || cdoff == 0xffffffffu ||
	    disk == 0xffff || cddisk == 0xffff)
		return reject_at(false, "zip", eo,
				 "zip64 marker in the end-of-central-directory record");
	if (eo >= 20 && le32(z + eo - 20) == ZIP64_LOCATOR_SIG)
		return reject_at(false, "zip", eo - 20, "zip64 end-of-central-directory locator");
	if (clen != 0)
		return reject_at(false, "zip", eo + 20, "archive comment of %u bytes past the end",
				 clen);
	if (disk != 0 || cddisk != 0)
		return reject_at(false, "zip", eo + 4, "disk numbers %u and %u, not 0", disk,
				 cddisk);
	if (ndisk != n)
		return reject_at(false, "zip", eo + 8, "entry counts disagree (%u and %u)", ndisk,
				 n);
	if (eo >= ZIP_EOCD_LEN && le32(z + eo - ZIP_EOCD_LEN) == ZIP_EOCD_SIG)
		return reject_at(false, "zip", eo - ZIP_EOCD_LEN,
				 "two end-of-central-directory records");
	if ((uint64_t)cdoff + cdsize != eo)
		return reject_at(false, "zip", eo,
				 "central directory (offset %" PRIu32 ", %" PRIu32
				 " bytes) does not end where the end record starts",
				 cdoff, cdsize);
	if (n > min64(lim->max_entries, lim->max_held_entries)) {
		last_bad[0] = '\0';
		return tfa_error_set(TFA_EVERIFY, "Archive holds more than %" PRIu64 " entries",
				     min64(lim->max_entries, lim->max_held_entries));
	}
	c = calloc(n ? n : 1, sizeof(*c));
	scratch = ar->zip ? malloc(CHUNK) : NULL;
	TFA_ENSURE(c != NULL && (scratch != NULL || !ar->zip), TFA_EINTERNAL, "out of memory");
	memset(&zs, 0, sizeof(zs));
	TFA_ENSURE(inflateInit2(&zs, -15) == Z_OK, TFA_EINTERNAL, "out of memory");
	zinit = true;
	pos = cdoff;
	for (uint16_t i = 0; i < n; i++)
		TFA_GUARD(zip_central_record(z, pos, eo, &c[i], &pos));
	if (pos != eo)
		TFA_GUARD(reject_at(false, "zip", pos,
				    "central directory holds more than %u records", n));
	for (uint16_t i = 0; i < n; i++) {
		if (c[i].loff != lpos)
			TFA_GUARD(zip_misplaced(c, n, i, lpos));
		TFA_GUARD(zip_local(ar, lim, z, lpos, cdoff, &c[i], &zs, scratch, &lpos));
		if (ar->zip && lpos - dropped > ((uint64_t)1 << 20)) {
			/* Mapped from the file: let the pages read so far go. */
			(void)madvise((void *)(uintptr_t)z, len, MADV_DONTNEED);
			dropped = lpos;
		}
	}
	if (lpos != cdoff)
		TFA_GUARD(reject_at(false, "zip", lpos,
				    "%" PRIu64
				    " bytes between the last entry and the central directory",
				    cdoff - lpos));
out:
	if (zinit)
		inflateEnd(&zs);
	free(c);
	free(scratch);
	return rc;
}

/* ---------------------------------------------------------------- loading */

typedef enum { K_UNKNOWN, K_TGZ, K_ZIP, K_TAR } arc_kind;

/* By content: the first bytes, or a zip end record as the last 22 (data prepended to a zip). */
static arc_kind kind_of(const uint8_t *p, size_t n, const uint8_t *tail, size_t tlen)
{
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return K_TGZ;
	if (n >= 4 && (le32(p) == ZIP_LOCAL_SIG || le32(p) == ZIP_EOCD_SIG))
		return K_ZIP;
	if (tlen == ZIP_EOCD_LEN && le32(tail) == ZIP_EOCD_SIG)
		return K_ZIP;
	if (n >= 263 && memcmp(p + 257, "ustar", 5) == 0)
		return K_TAR;
	return K_UNKNOWN;
}

/* Once every entry is read: no name twice. */
static tfa_err finish(tfa_archive *ar)
{
	if (ar->n > 0)
		qsort(ar->e, ar->n, sizeof(*ar->e), entry_cmp);
	for (size_t i = 1; i < ar->n; i++)
		if (strcmp(ar->e[i - 1].path, ar->e[i].path) == 0)
			return reject(ar->e[i].path, strlen(ar->e[i].path), "duplicate entry");
	return TFA_OK;
}

static tfa_err unknown(const char *name, arc_kind k)
{
	char pn[160];

	printable(pn, name, strlen(name));
	last_bad[0] = '\0';
	if (k == K_TAR)
		return tfa_error_set(
		    TFA_EVERIFY,
		    "Archive unreadable: %s: an uncompressed tar (only .tar.gz and "
		    ".zip are read)",
		    pn);
	return tfa_error_set(TFA_EVERIFY, "Archive unreadable: %s: not a .tar.gz or .zip archive",
			     pn);
}

/* Reads the archive from s; a zip is read whole first (its directory is at its end). */
static tfa_err load(tfa_archive **out, source *s, const tfa_archive_limits *lim, bool stream,
		    bool *redo)
{
	tfa_err rc = TFA_OK;
	tfa_archive *ar = NULL;
	tfa_archive_limits def;
	uint8_t head[512], tail[ZIP_EOCD_LEN], *whole = NULL;
	void *mapped = MAP_FAILED;
	size_t maplen = 0;
	const uint8_t *p;
	size_t n;
	arc_kind k;

	*out = NULL;
	last_bad[0] = '\0';
	if (lim == NULL) {
		tfa_archive_limits_default(&def);
		lim = &def;
	}
	ar = calloc(1, sizeof(*ar));
	TFA_ENSURE(ar != NULL, TFA_EINTERNAL, "out of memory");
	ar->fd = -1;
	if (s->mem != NULL || s->fd < 0) {
		k = kind_of(s->mem, s->len,
			    s->mem + s->len - (s->len >= ZIP_EOCD_LEN ? ZIP_EOCD_LEN : 0),
			    s->len >= ZIP_EOCD_LEN ? ZIP_EOCD_LEN : 0);
	} else {
		ssize_t r, t = 0;
		struct stat st;

		do
			r = pread(s->fd, head, sizeof(head), 0);
		while (r < 0 && errno == EINTR);
		TFA_ENSURE(r >= 0, TFA_EIO, "cannot read %s: %s", s->name, strerror(errno));
		if (fstat(s->fd, &st) == 0 && st.st_size >= ZIP_EOCD_LEN)
			do
				t = pread(s->fd, tail, ZIP_EOCD_LEN, st.st_size - ZIP_EOCD_LEN);
			while (t < 0 && errno == EINTR);
		k = kind_of(head, (size_t)r, tail, t > 0 ? (size_t)t : 0);
	}
	if (k == K_TGZ) {
		ar->streamed = stream;
		TFA_GUARD(load_tgz(ar, s, lim));
	} else if (k == K_ZIP) {
		/* A zip is bounded by what the caps allow an archive to take, in memory or
		 * in a file alike. */
		uint64_t held = min64(lim->max_total, lim->max_held_total);
		uint64_t bound = TFA_ARCHIVE_ZIP_FILE_MAX(held);

		if (s->mem != NULL || s->fd < 0) {
			if (held > UINT64_MAX / 2 || (uint64_t)s->len > bound) {
				last_bad[0] = '\0';
				TFA_BAIL(TFA_EVERIFY,
					 "Archive expands past the limit of %" PRIu64 " bytes",
					 held);
			}
			p = s->mem;
			n = s->len;
		} else {
			struct stat st;
			size_t got = 0;

			TFA_ENSURE(fstat(s->fd, &st) == 0, TFA_EIO, "cannot stat %s: %s", s->name,
				   strerror(errno));
			if (held > UINT64_MAX / 2 || (uint64_t)st.st_size > bound ||
			    (uint64_t)st.st_size >= SIZE_MAX) {
				last_bad[0] = '\0';
				TFA_BAIL(TFA_EVERIFY,
					 "Archive expands past the limit of %" PRIu64 " bytes",
					 held);
			}
			if (stream && st.st_size > 0) {
				/* Mapped, not read: the pages go once checked (load_zip). */
				mapped = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
					      s->fd, 0);
				TFA_ENSURE(mapped != MAP_FAILED, TFA_EIO, "cannot map %s: %s",
					   s->name, strerror(errno));
				maplen = (size_t)st.st_size;
				ar->streamed = ar->zip = true;
				p = mapped;
				n = maplen;
				goto zip;
			}
			whole = malloc((size_t)st.st_size + 1);
			TFA_ENSURE(whole != NULL, TFA_EINTERNAL, "out of memory");
			/* Read to the end; a file that grows while read is refused. */
			for (;;) {
				ssize_t r = pread(s->fd, whole + got, (size_t)st.st_size + 1 - got,
						  (off_t)got);
				if (r < 0 && errno == EINTR)
					continue;
				TFA_ENSURE(r >= 0, TFA_EIO, "cannot read %s: %s", s->name,
					   strerror(errno));
				if (r == 0)
					break;
				got += (size_t)r;
				TFA_ENSURE(got <= (size_t)st.st_size, TFA_EIO,
					   "%s changed while it was read", s->name);
			}
			p = whole;
			n = got;
		}
	zip:
		TFA_GUARD(load_zip(ar, p, n, lim));
	} else {
		TFA_GUARD(unknown(s->name, k));
	}
	TFA_GUARD(finish(ar));
	*out = ar;
	ar = NULL;
out:
	if (redo != NULL)
		*redo = ar != NULL && ar->redo;
	if (mapped != MAP_FAILED)
		munmap(mapped, maplen);
	free(whole);
	tfa_archive_free(ar);
	return rc;
}

tfa_err tfa_archive_load_mem(tfa_archive **out, const void *data, size_t len,
			     const tfa_archive_limits *lim)
{
	source s;

	if (out == NULL || (data == NULL && len > 0))
		return tfa_error_set(TFA_EUSAGE, "missing argument");
	memset(&s, 0, sizeof(s));
	s.mem = data ? data : (const uint8_t *)"";
	s.len = len;
	s.fd = -1;
	s.name = "archive";
	return load(out, &s, lim, false, NULL);
}

tfa_err tfa_archive_load_fd(tfa_archive **out, int fd, const char *name,
			    const tfa_archive_limits *lim)
{
	tfa_err rc;
	source s;

	if (out == NULL || fd < 0)
		return tfa_error_set(TFA_EUSAGE, "missing argument");
	*out = NULL;
	memset(&s, 0, sizeof(s));
	s.fd = fd;
	s.name = name ? name : "archive";
	s.buf = malloc(CHUNK);
	if (s.buf == NULL)
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	rc = load(out, &s, lim, false, NULL);
	free(s.buf);
	return rc;
}

tfa_err tfa_archive_open_fd(tfa_archive **out, int fd, const char *name,
			    const tfa_archive_limits *lim)
{
	tfa_err rc = TFA_OK;
	source s;
	bool redo = false;
	struct stat st;

	if (out == NULL || fd < 0)
		return tfa_error_set(TFA_EUSAGE, "missing argument");
	*out = NULL;
	memset(&s, 0, sizeof(s));
	s.fd = fd;
	s.name = name ? name : "archive";
	s.buf = malloc(CHUNK);
	TFA_ENSURE(s.buf != NULL, TFA_EINTERNAL, "out of memory");
	TFA_ENSURE(fstat(fd, &st) == 0, TFA_EIO, "cannot stat %s: %s", s.name, strerror(errno));
	rc = load(out, &s, lim, true, &redo);
	if (rc != TFA_OK && redo) {
		/* Not in the order streaming needs: the same checks, everything held. */
		tfa_error_clear();
		s.pos = 0;
		rc = load(out, &s, lim, false, NULL);
	}
	if (rc != TFA_OK || !(*out)->streamed)
		goto out;
	(*out)->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	TFA_ENSURE((*out)->fd >= 0, TFA_EIO, "cannot read %s: %s", s.name, strerror(errno));
	(*out)->fsize = (uint64_t)st.st_size;
	(*out)->fino = (uint64_t)st.st_ino;
	(*out)->fmtime_s = (int64_t)st.st_mtim.tv_sec;
	(*out)->fmtime_ns = (int64_t)st.st_mtim.tv_nsec;
out:
	if (rc != TFA_OK) {
		tfa_archive_free(*out);
		*out = NULL;
	}
	free(s.buf);
	return rc;
}

/* ---------------------------------------------------------------- cursor */

struct tfa_archive_cursor {
	const tfa_archive *a;
	z_stream z;
	bool zinit, zend;
	uint8_t *in, *out;
	uint64_t inpos;	    /* file offset of the next read */
	size_t opos, olen;  /* inflated bytes not yet taken */
	uint64_t toff;	    /* tar offset of the next byte taken */
	uint64_t left, pad; /* the entry's data still to come, its padding */
	/* zip: the entry being read, its compressed bytes not yet read */
	const tfa_archive_entry *ze;
	uint64_t cleft;
};

static tfa_err changed(const tfa_archive_cursor *c)
{
	(void)c;
	last_bad[0] = '\0';
	return tfa_error_set(TFA_EVERIFY, "Archive damaged: it changed while it was read");
}

static tfa_err cur_reset(tfa_archive_cursor *c)
{
	struct stat st;

	if (fstat(c->a->fd, &st) != 0 || (uint64_t)st.st_size != c->a->fsize ||
	    (uint64_t)st.st_ino != c->a->fino || (int64_t)st.st_mtim.tv_sec != c->a->fmtime_s ||
	    (int64_t)st.st_mtim.tv_nsec != c->a->fmtime_ns)
		return changed(c);
	if (!c->zinit) {
		if (inflateInit2(&c->z, -15) != Z_OK)
			return tfa_error_set(TFA_EINTERNAL, "out of memory");
		c->zinit = true;
	} else if (inflateReset(&c->z) != Z_OK) {
		return tfa_error_set(TFA_EINTERNAL, "inflate failed");
	}
	c->z.avail_in = 0;
	c->zend = false;
	c->inpos = c->a->zstart;
	c->opos = c->olen = 0;
	c->toff = 0;
	c->left = c->pad = 0;
	return TFA_OK;
}

/*
 * The next compressed bytes, at most want (1 to CHUNK) from c->inpos, as the
 * inflater's input. The file ending before them means it changed since the
 * load, which saw them.
 */
static tfa_err cur_read_in(tfa_archive_cursor *c, size_t want)
{
	ssize_t n;

	do
		n = pread(c->a->fd, c->in, want, (off_t)c->inpos);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return tfa_error_set(TFA_EIO, "cannot read the archive: %s", strerror(errno));
	if (n == 0)
		return changed(c);
	c->inpos += (uint64_t)n;
	c->z.next_in = c->in;
	c->z.avail_in = (uInt)n;
	return TFA_OK;
}

/* Inflated bytes ready in c->out (c->olen > c->opos), or false at the stream's end. */
static tfa_err cur_fill(tfa_archive_cursor *c, bool *more)
{
	*more = true;
	while (c->opos == c->olen) {
		tfa_err rc;
		int r;

		if (c->zend) {
			*more = false;
			return TFA_OK;
		}
		if (c->a->zip) {
			if (c->z.avail_in == 0 && c->cleft > 0) {
				rc = cur_read_in(c, c->cleft < CHUNK ? (size_t)c->cleft : CHUNK);
				if (rc != TFA_OK)
					return rc;
				c->cleft -= c->z.avail_in;
			}
			if (c->ze == NULL || c->ze->zmethod == 0) {
				/* Stored: the bytes as they are. */
				if (c->z.avail_in == 0) {
					c->zend = true;
					continue;
				}
				memcpy(c->out, c->z.next_in, c->z.avail_in);
				c->opos = 0;
				c->olen = c->z.avail_in;
				c->z.avail_in = 0;
				continue;
			}
			c->z.next_out = c->out;
			c->z.avail_out = CHUNK;
			r = inflate(&c->z, Z_NO_FLUSH);
			if (r == Z_STREAM_END)
				c->zend = true;
			else if ((r != Z_OK && r != Z_BUF_ERROR) ||
				 (c->z.avail_out == CHUNK && c->z.avail_in == 0 && c->cleft == 0))
				return changed(c);
			c->opos = 0;
			c->olen = CHUNK - c->z.avail_out;
			continue;
		}
		if (c->z.avail_in == 0) {
			rc = cur_read_in(c, CHUNK);
			if (rc != TFA_OK)
				return rc;
		}
		c->z.next_out = c->out;
		c->z.avail_out = CHUNK;
		r = inflate(&c->z, Z_NO_FLUSH);
		if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
			return changed(c);
		if (r == Z_STREAM_END)
			c->zend = true;
		c->opos = 0;
		c->olen = CHUNK - c->z.avail_out;
	}
	return TFA_OK;
}

/* Takes n bytes of the tar stream into dst (or skips them); *got short at its end. */
static tfa_err cur_take(tfa_archive_cursor *c, uint8_t *dst, uint64_t n, uint64_t *got)
{
	tfa_err rc = TFA_OK;
	bool more;

	*got = 0;
	while (*got < n) {
		size_t k;

		TFA_GUARD(cur_fill(c, &more));
		if (!more)
			break;
		k = c->olen - c->opos;
		if (k > n - *got)
			k = (size_t)(n - *got);
		if (dst != NULL)
			memcpy(dst + *got, c->out + c->opos, k);
		c->opos += k;
		*got += k;
		c->toff += k;
	}
out:
	return rc;
}

tfa_err tfa_archive_cursor_new(tfa_archive_cursor **out, const tfa_archive *a)
{
	tfa_err rc = TFA_OK;
	tfa_archive_cursor *c = NULL;

	*out = NULL;
	TFA_ENSURE(a != NULL && a->streamed && a->fd >= 0, TFA_EUSAGE,
		   "the archive is not streamed");
	c = calloc(1, sizeof(*c));
	TFA_ENSURE(c != NULL, TFA_EINTERNAL, "out of memory");
	c->a = a;
	c->in = malloc(CHUNK);
	c->out = malloc(CHUNK);
	TFA_ENSURE(c->in && c->out, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(cur_reset(c));
	*out = c;
	c = NULL;
out:
	tfa_archive_cursor_free(c);
	return rc;
}

void tfa_archive_cursor_free(tfa_archive_cursor *c)
{
	if (c == NULL)
		return;
	if (c->zinit)
		inflateEnd(&c->z);
	free(c->in);
	free(c->out);
	free(c);
}

tfa_err tfa_archive_cursor_hint(tfa_archive *a, int *hint)
{
	tfa_err rc = TFA_OK;
	tfa_archive_cursor **nc;

	*hint = -1;
	TFA_ENSURE(a->ncursors < 4096, TFA_EINTERNAL, "too many cursors");
	nc = realloc(a->cursors, (a->ncursors + 1) * sizeof(*nc));
	TFA_ENSURE(nc != NULL, TFA_EINTERNAL, "out of memory");
	a->cursors = nc;
	TFA_GUARD(tfa_archive_cursor_new(&a->cursors[a->ncursors], a));
	*hint = (int)a->ncursors++;
out:
	return rc;
}

tfa_archive_cursor *tfa_archive_cursor_at(const tfa_archive *a, int hint)
{
	return hint >= 0 && (size_t)hint < a->ncursors ? a->cursors[hint] : NULL;
}

tfa_err tfa_archive_cursor_seek(tfa_archive_cursor *c, const char *path, uint64_t *size)
{
	tfa_err rc = TFA_OK;
	uint8_t h[512];
	uint64_t got, start, sz;
	bool wrapped = false;
	const tfa_archive_entry *e = tfa_archive_find(c->a, path);

	*size = 0;
	if (e == NULL && !tfa_archive_has_artifact(c->a, path))
		return tfa_error_set(TFA_ENOTFOUND, "%s is missing", path);
	if (c->a->zip) {
		/* Straight to it, from its offset. */
		TFA_GUARD(cur_reset(c));
		c->ze = e;
		c->inpos = e->zoff;
		c->cleft = e->zcsize;
		c->left = e->size;
		*size = e->size;
		goto out;
	}
	/* The rest of the entry being read. */
	TFA_GUARD(cur_take(c, NULL, c->left + c->pad, &got));
	if (got != c->left + c->pad)
		return changed(c);
	c->left = c->pad = 0;
	start = c->toff;
	for (;;) {
		size_t nlen;

		if (wrapped && c->toff >= start)
			break; /* once round: the load saw it, the file no longer has it */
		TFA_GUARD(cur_take(c, h, sizeof(h), &got));
		if (got != sizeof(h) || all_zero(h, sizeof(h))) {
			if (wrapped)
				break;
			TFA_GUARD(cur_reset(c));
			wrapped = true;
			continue;
		}
		nlen = strnlen((const char *)h, 100);
		if (nlen == 100 || !tar_octal(h + 124, 12, &sz) || sz > c->a->total)
			break;
		if (strlen(path) == nlen && memcmp(h, path, nlen) == 0) {
			if (e != NULL && e->size != sz)
				break;
			c->left = sz;
			c->pad = (512 - sz % 512) % 512;
			*size = sz;
			goto out;
		}
		TFA_GUARD(cur_take(c, NULL, sz + (512 - sz % 512) % 512, &got));
	}
	rc = changed(c);
out:
	return rc;
}

ssize_t tfa_archive_cursor_read(tfa_archive_cursor *c, void *buf, size_t n)
{
	uint64_t got;

	if (n > c->left)
		n = (size_t)c->left;
	if (n == 0)
		return 0;
	if (cur_take(c, buf, n, &got) != TFA_OK || got != n) {
		c->left = 0;
		errno = EIO;
		return -1;
	}
	c->left -= n;
	return (ssize_t)n;
}
