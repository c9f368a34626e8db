/* Writing a verified bundle directory as one .tar.gz or .zip archive. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tfattest/features.h"

#if TFATTEST_WITH_ARCHIVE
#include <zlib.h>

#include "format/jstream.h"
#include "verify/archive/bundle_archive.h"
#include "verify/manifest.h"
#endif

#include "format/bundle_path.h"
#include "format/pathsafe.h"
#include "record/export_int.h"
#include "sys/fsutil.h"
#include "tfattest/sys/guard.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

tfa_export_arc_kind tfa_export_archive_kind(const char *path)
{
	if (ends_with(path, ".tar.gz") || ends_with(path, ".tgz"))
		return TFA_EXPORT_ARC_TGZ;
	if (ends_with(path, ".zip"))
		return TFA_EXPORT_ARC_ZIP;
	return TFA_EXPORT_ARC_NONE;
}

#if TFATTEST_WITH_ARCHIVE
/*
 * The archive writer: exactly the subset the reader accepts
 * (docs/ARCHIVES.md), so that every extractor reads it the same way. The
 * bytes depend only on the files, the time given and zlib's deflate.
 */
#define ARC_BUF 65536

typedef struct arc_central {
	char *name;
	uint32_t crc, csize, usize, off;
} arc_central;

typedef struct arc_writer {
	int fd;
	const char *tmp;
	tfa_export_arc_kind kind;
	uint8_t *buf; /* ARC_BUF bytes waiting to be written */
	size_t len;
	uint64_t off; /* bytes handed to arc_raw() so far */
	/* tar.gz: the deflate stream the tar goes through */
	z_stream z;
	bool zinit;
	uLong crc;
	uint8_t *zout;
	/* zip: the central directory to come (at most TFA_ARCHIVE_ZIP_MAX_ENTRIES) */
	arc_central *cent;
	size_t ncent, capcent;
	uint16_t dos_time, dos_date;
	/* the bundle read from */
	int dirfd;
	int64_t mtime;
	tfa_buf in;			   /* a zip entry's bytes, or a tar block */
	const volatile sig_atomic_t *stop; /* tfa_export_opts.stop, or NULL */
} arc_writer;

static tfa_err arc_flush(arc_writer *w)
{
	size_t done = 0;

	while (done < w->len) {
		ssize_t r = write(w->fd, w->buf + done, w->len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return tfa_error_set(TFA_EIO, "cannot write %s: %s", w->tmp,
					     r < 0 ? strerror(errno) : "short write");
		done += (size_t)r;
	}
	w->len = 0;
	return TFA_OK;
}

/* Bytes of the archive file, as they are. */
static tfa_err arc_raw(arc_writer *w, const void *data, size_t n)
{
	tfa_err rc = TFA_OK;
	const uint8_t *p = data;

	w->off += n;
	while (n > 0) {
		size_t k = ARC_BUF - w->len < n ? ARC_BUF - w->len : n;
		memcpy(w->buf + w->len, p, k);
		w->len += k;
		p += k;
		n -= k;
		if (w->len == ARC_BUF)
			TFA_GUARD(arc_flush(w));
	}
out:
	return rc;
}

/* Bytes of the tar stream, through deflate (flush Z_FINISH at the end). */
static tfa_err arc_tar(arc_writer *w, const void *data, size_t n, int flush)
{
	tfa_err rc = TFA_OK;

	w->crc = crc32(w->crc, data, (uInt)n);
	w->z.next_in = (Bytef *)(uintptr_t)data;
	w->z.avail_in = (uInt)n;
	for (;;) {
		int r;

		w->z.next_out = w->zout;
		w->z.avail_out = ARC_BUF;
		r = deflate(&w->z, flush);
		TFA_ENSURE(r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR, TFA_EINTERNAL,
			   "deflate failed (%d)", r);
		TFA_GUARD(arc_raw(w, w->zout, ARC_BUF - w->z.avail_out));
		if (flush == Z_FINISH ? r == Z_STREAM_END : w->z.avail_out != 0)
			break;
	}
out:
	return rc;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

/* A ustar numeric field: zero-padded octal digits and a NUL. */
static void put_octal(uint8_t *p, size_t n, uint64_t v)
{
	p[n - 1] = '\0';
	for (size_t i = n - 1; i-- > 0; v >>= 3)
		p[i] = (uint8_t)('0' + (v & 7));
}

/* One POSIX ustar header of a regular file: mode 0444, owner root. */
static tfa_err arc_tar_header(arc_writer *w, const char *path, uint64_t size, int64_t mtime)
{
	uint8_t h[512];
	unsigned sum = 0;
	size_t n = strlen(path);

	if (n > 99 || size >= ((uint64_t)1 << 33) || mtime < 0 ||
	    (uint64_t)mtime >= ((uint64_t)1 << 33))
		return tfa_error_set(TFA_EINTERNAL, "%s does not fit a ustar header", path);
	memset(h, 0, sizeof(h));
	memcpy(h, path, n);
	put_octal(h + 100, 8, 0444);
	put_octal(h + 108, 8, 0);
	put_octal(h + 116, 8, 0);
	put_octal(h + 124, 12, size);
	put_octal(h + 136, 12, (uint64_t)mtime);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6); /* with its NUL */
	memcpy(h + 263, "00", 2);
	memcpy(h + 265, "root", 4);
	memcpy(h + 297, "root", 4);
	put_octal(h + 329, 8, 0);
	put_octal(h + 337, 8, 0);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < sizeof(h); i++)
		sum += h[i];
	/* Six digits, NUL, space: as tar has always written the checksum. */
	put_octal(h + 148, 7, sum);
	h[155] = ' ';
	return arc_tar(w, h, sizeof(h), Z_NO_FLUSH);
}

/* A tar entry: its header, then the file's bytes a block at a time, then zero padding. */
static tfa_err arc_tar_file(arc_writer *w, const char *path, int fd, uint64_t size)
{
	tfa_err rc = TFA_OK;
	static const uint8_t zeros[512];
	uint64_t left = size;

	TFA_GUARD(arc_tar_header(w, path, size, w->mtime));
	TFA_GUARD(tfa_buf_reserve(&w->in, ARC_BUF));
	while (left > 0) {
		size_t want = left < ARC_BUF ? (size_t)left : ARC_BUF;
		ssize_t r = read(fd, w->in.data, want);
		if (r < 0 && errno == EINTR)
			continue;
		TFA_ENSURE(r > 0, TFA_EIO, "cannot read %s: %s", path,
			   r < 0 ? strerror(errno) : "it shrank while it was read");
		TFA_GUARD(arc_tar(w, w->in.data, (size_t)r, Z_NO_FLUSH));
		left -= (uint64_t)r;
	}
	TFA_GUARD(arc_tar(w, zeros, (512 - size % 512) % 512, Z_NO_FLUSH));
out:
	return rc;
}

/*
 * Deflates the file at fd from its start, a block at a time; with emit, the
 * output goes into the archive. Its CRC-32 and sizes in and out either way.
 */
static tfa_err zip_deflate(arc_writer *w, int fd, const char *path, bool emit, uint32_t *crc,
			   uint64_t *usize, uint64_t *csize)
{
	tfa_err rc = TFA_OK;
	uLong sum = crc32(0L, Z_NULL, 0);
	uint64_t pos = 0;

	TFA_GUARD(tfa_buf_reserve(&w->in, ARC_BUF));
	/* One deflate state for every file, reset between them. */
	TFA_ENSURE(deflateReset(&w->z) == Z_OK, TFA_EINTERNAL, "deflate failed");
	for (;;) {
		ssize_t r;
		int flush, zr;

		do
			r = pread(fd, w->in.data, ARC_BUF, (off_t)pos);
		while (r < 0 && errno == EINTR);
		TFA_ENSURE(r >= 0, TFA_EIO, "cannot read %s: %s", path, strerror(errno));
		pos += (uint64_t)r;
		TFA_ENSURE(pos <= TFA_ARCHIVE_MAX_MANIFEST, TFA_EINTERNAL,
			   "%s is larger than an archive entry may be", path);
		sum = crc32(sum, w->in.data, (uInt)r);
		flush = r == 0 ? Z_FINISH : Z_NO_FLUSH;
		w->z.next_in = w->in.data;
		w->z.avail_in = (uInt)r;
		do {
			w->z.next_out = w->zout;
			w->z.avail_out = ARC_BUF;
			zr = deflate(&w->z, flush);
			TFA_ENSURE(zr == Z_OK || zr == Z_STREAM_END || zr == Z_BUF_ERROR,
				   TFA_EINTERNAL, "deflate failed (%d)", zr);
			if (emit)
				TFA_GUARD(arc_raw(w, w->zout, ARC_BUF - w->z.avail_out));
		} while (w->z.avail_out == 0);
		if (flush == Z_FINISH) {
			TFA_ENSURE(zr == Z_STREAM_END, TFA_EINTERNAL, "deflate failed");
			break;
		}
	}
	*crc = (uint32_t)sum;
	*usize = pos;
	*csize = w->z.total_out;
out:
	return rc;
}

/*
 * A zip entry: local header and deflated data. The header comes first and
 * holds the CRC-32 and sizes, so the file is deflated twice, a block at a
 * time: once to count, once to write.
 */
static tfa_err arc_zip_file(arc_writer *w, const char *path, int fd)
{
	tfa_err rc = TFA_OK;
	uint8_t l[30];
	arc_central *c;
	uint32_t crc, crc2;
	uint64_t usize, csize, usize2, csize2;

	TFA_ENSURE(w->ncent < TFA_ARCHIVE_ZIP_MAX_ENTRIES, TFA_EUSAGE,
		   "a .zip holds at most %u files: export this range as .tar.gz",
		   TFA_ARCHIVE_ZIP_MAX_ENTRIES);
	if (w->ncent == w->capcent) {
		size_t ncap = w->capcent ? 2 * w->capcent : 64;
		arc_central *nc = realloc(w->cent, ncap * sizeof(*nc));
		TFA_ENSURE(nc != NULL, TFA_EINTERNAL, "out of memory");
		w->cent = nc;
		w->capcent = ncap;
	}
	TFA_GUARD(zip_deflate(w, fd, path, false, &crc, &usize, &csize));
	TFA_ENSURE(w->off + sizeof(l) + strlen(path) + csize < 0xffffffffu, TFA_EUSAGE,
		   "a .zip without zip64 holds at most 4 GiB: export this range as .tar.gz");
	c = &w->cent[w->ncent];
	c->name = strdup(path);
	TFA_ENSURE(c->name != NULL, TFA_EINTERNAL, "out of memory");
	w->ncent++;
	c->crc = crc;
	c->csize = (uint32_t)csize;
	c->usize = (uint32_t)usize;
	c->off = (uint32_t)w->off;
	put32(l, 0x04034b50u);
	put16(l + 4, 20); /* version needed: 2.0, deflate */
	put16(l + 6, 0);  /* flags: no encryption, no data descriptor */
	put16(l + 8, 8);  /* deflate */
	put16(l + 10, w->dos_time);
	put16(l + 12, w->dos_date);
	put32(l + 14, c->crc);
	put32(l + 18, c->csize);
	put32(l + 22, c->usize);
	put16(l + 26, (uint16_t)strlen(path));
	put16(l + 28, 0); /* no extra field */
	TFA_GUARD(arc_raw(w, l, sizeof(l)));
	TFA_GUARD(arc_raw(w, path, strlen(path)));
	TFA_GUARD(zip_deflate(w, fd, path, true, &crc2, &usize2, &csize2));
	TFA_ENSURE(crc2 == crc && usize2 == usize && csize2 == csize, TFA_EINTERNAL,
		   "%s changed while it was written to the archive", path);
out:
	return rc;
}

/* One file of the bundle directory, copied into the archive. */
static tfa_err arc_file(arc_writer *w, const char *path)
{
	tfa_err rc = TFA_OK;
	int fd = -1;
	struct stat st;

	TFA_GUARD(tfa_export_check_stop(w->stop));
	TFA_ENSURE(tfa_bundle_path_allowed(path) && strlen(path) <= TFA_ARCHIVE_NAME_MAX,
		   TFA_EINTERNAL, "%s is not a bundle path", path);
	TFA_GUARD(tfa_path_open(&fd, w->dirfd, path));
	TFA_ENSURE(fstat(fd, &st) == 0, TFA_EIO, "cannot stat %s: %s", path, strerror(errno));
	if (w->kind == TFA_EXPORT_ARC_TGZ)
		TFA_GUARD(arc_tar_file(w, path, fd, (uint64_t)st.st_size));
	else
		TFA_GUARD(arc_zip_file(w, path, fd));
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The manifest scan's callback: the listed files, in the manifest's order. */
static tfa_err arc_listed(void *ud, const tfa_manifest_file *f, size_t index)
{
	(void)index;
	return arc_file(ud, f->path);
}

/* Ends the archive: tar end blocks and the gzip trailer, or the zip central directory. */
static tfa_err arc_finish(arc_writer *w)
{
	tfa_err rc = TFA_OK;
	static const uint8_t zeros[1024];
	uint8_t t[46];
	uint64_t cdoff = w->off;

	if (w->kind == TFA_EXPORT_ARC_TGZ) {
		TFA_GUARD(arc_tar(w, zeros, sizeof(zeros), Z_FINISH));
		put32(t, (uint32_t)w->crc);
		put32(t + 4, (uint32_t)w->z.total_in);
		TFA_GUARD(arc_raw(w, t, 8));
		goto out;
	}
	for (size_t i = 0; i < w->ncent; i++) {
		const arc_central *c = &w->cent[i];
		put32(t, 0x02014b50u);
		put16(t + 4, 3 << 8 | 20); /* made by Unix, 2.0 */
		put16(t + 6, 20);
		put16(t + 8, 0);
		put16(t + 10, 8);
		put16(t + 12, w->dos_time);
		put16(t + 14, w->dos_date);
		put32(t + 16, c->crc);
		put32(t + 20, c->csize);
		put32(t + 24, c->usize);
		put16(t + 28, (uint16_t)strlen(c->name));
		put16(t + 30, 0);			/* extra field */
		put16(t + 32, 0);			/* comment */
		put16(t + 34, 0);			/* disk */
		put16(t + 36, 0);			/* internal attributes */
		put32(t + 38, (uint32_t)0100444 << 16); /* a regular file, 0444 */
		put32(t + 42, c->off);
		TFA_GUARD(arc_raw(w, t, 46));
		TFA_GUARD(arc_raw(w, c->name, strlen(c->name)));
	}
	TFA_ENSURE(w->off < 0xffffffffu, TFA_EUSAGE,
		   "a .zip without zip64 holds at most 4 GiB: export this range as .tar.gz");
	put32(t, 0x06054b50u);
	put16(t + 4, 0);
	put16(t + 6, 0);
	put16(t + 8, (uint16_t)w->ncent);
	put16(t + 10, (uint16_t)w->ncent);
	put32(t + 12, (uint32_t)(w->off - cdoff));
	put32(t + 16, (uint32_t)cdoff);
	put16(t + 20, 0); /* no comment */
	TFA_GUARD(arc_raw(w, t, 22));
out:
	return rc;
}

/* The first scan's callback: the listed files' bytes. */
static tfa_err arc_sum(void *ud, const tfa_manifest_file *f, size_t index)
{
	(void)index;
	*(uint64_t *)ud += f->size;
	return TFA_OK;
}

/* One file of the read-back check: the archive's entry has the bundle file's bytes. */
typedef struct arc_cmp {
	const tfa_archive *a;
	tfa_archive_cursor *cur; /* streamed: one cursor, forward through the archive */
	int dirfd;
	uint8_t *x, *y; /* ARC_BUF each */
} arc_cmp;

static tfa_err arc_same(arc_cmp *c, const char *path)
{
	tfa_err rc = TFA_OK;
	const tfa_archive_entry *e = tfa_archive_find(c->a, path);
	uint64_t size, done = 0;
	int fd = -1;
	struct stat st;

	if (e != NULL && e->data != NULL) {
		size = e->size;
	} else {
		rc = c->cur ? tfa_archive_cursor_seek(c->cur, path, &size) : TFA_ENOTFOUND;
		if (rc == TFA_ENOTFOUND)
			TFA_BAIL(TFA_EINTERNAL, "the exported archive lacks %s", path);
		TFA_GUARD(rc);
	}
	TFA_GUARD(tfa_path_open(&fd, c->dirfd, path));
	TFA_ENSURE(fstat(fd, &st) == 0, TFA_EIO, "cannot stat %s: %s", path, strerror(errno));
	TFA_ENSURE((uint64_t)st.st_size == size, TFA_EINTERNAL,
		   "the exported archive's %s differs from the bundle's", path);
	while (done < size) {
		size_t want = size - done < ARC_BUF ? (size_t)(size - done) : ARC_BUF;
		const uint8_t *got = e != NULL && e->data != NULL ? e->data + done : c->x;
		ssize_t r;

		if (got == c->x)
			TFA_ENSURE(tfa_archive_cursor_read(c->cur, c->x, want) == (ssize_t)want,
				   TFA_EINTERNAL, "the exported archive's %s is short", path);
		do
			r = read(fd, c->y, want);
		while (r < 0 && errno == EINTR);
		TFA_ENSURE(r == (ssize_t)want, TFA_EIO, "cannot read %s: %s", path,
			   r < 0 ? strerror(errno) : "short read");
		TFA_ENSURE(memcmp(got, c->y, want) == 0, TFA_EINTERNAL,
			   "the exported archive's %s differs from the bundle's", path);
		done += want;
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static tfa_err arc_same_listed(void *ud, const tfa_manifest_file *f, size_t index)
{
	(void)index;
	return arc_same(ud, f->path);
}

/*
 * The archive at tmp, read as `tfattest verify` reads it, holds exactly the
 * n files of the verified bundle directory, with their bytes: compared in
 * the manifest's order, a block at a time.
 */
static tfa_err arc_check(const char *tmp, int dirfd, uint64_t n)
{
	tfa_err rc = TFA_OK;
	tfa_archive *a = NULL;
	arc_cmp c;
	tfa_manifest m;
	tfa_jstream *js = NULL;
	int fd = open(tmp, O_RDONLY | O_CLOEXEC), mfd = -1;

	memset(&c, 0, sizeof(c));
	memset(&m, 0, sizeof(m));
	TFA_ENSURE(fd >= 0, TFA_EIO, "cannot open %s: %s", tmp, strerror(errno));
	rc = tfa_archive_open_fd(&a, fd, tmp, NULL);
	if (rc != TFA_OK)
		TFA_BAIL(rc, "the exported archive does not read back: %s",
			 tfa_error_last()->message);
	TFA_ENSURE((uint64_t)a->n + a->nart == n, TFA_EINTERNAL,
		   "the exported archive holds %" PRIu64 " files, not %" PRIu64,
		   (uint64_t)a->n + a->nart, n);
	c.a = a;
	c.dirfd = dirfd;
	c.x = malloc(ARC_BUF);
	c.y = malloc(ARC_BUF);
	TFA_ENSURE(c.x && c.y, TFA_EINTERNAL, "out of memory");
	if (a->streamed)
		TFA_GUARD(tfa_archive_cursor_new(&c.cur, a));
	TFA_GUARD(arc_same(&c, TFA_BUNDLE_MANIFEST));
	TFA_GUARD(arc_same(&c, TFA_BUNDLE_MANIFEST_SIG));
	TFA_GUARD(tfa_path_open(&mfd, dirfd, TFA_BUNDLE_MANIFEST));
	TFA_GUARD(tfa_jstream_new_fd(&js, mfd, 256, TFA_MANIFEST_MAX_BYTES));
	TFA_GUARD(tfa_manifest_scan(&m, js, arc_same_listed, &c));
out:
	tfa_jstream_free(js);
	tfa_manifest_clear(&m);
	if (mfd >= 0)
		close(mfd);
	tfa_archive_cursor_free(c.cur);
	free(c.x);
	free(c.y);
	tfa_archive_free(a);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The MS-DOS date and time of t (UTC); 1980-01-01 for anything earlier. */
static void dos_time(int64_t t, uint16_t *tm_out, uint16_t *date_out)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t < 315532800 || gmtime_r(&tt, &tm) == NULL || tm.tm_year > 207) {
		*tm_out = 0;
		*date_out = (uint16_t)(1 << 5 | 1);
		return;
	}
	*tm_out = (uint16_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
	*date_out = (uint16_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
}

/* VERIFY.md, public_key.pem, manifest.json and manifest.sig: in every bundle. */
#define ARC_MIN_OTHER_FILES 4u

tfa_err tfa_export_archive_check_range(tfa_export_arc_kind kind, uint64_t from, uint64_t to)
{
	const uint64_t most = (TFA_ARCHIVE_ZIP_MAX_ENTRIES - ARC_MIN_OTHER_FILES) / 2;

	if (kind != TFA_EXPORT_ARC_ZIP || to < from || to - from < most)
		return TFA_OK;
	return tfa_error_set(
	    TFA_EUSAGE,
	    "range %" PRIu64 "..%" PRIu64 " holds %" PRIu64 " records and a .zip at most %" PRIu64
	    " (%u files, two a record "
	    "and %u more): export it as .tar.gz, or a shorter range (--from, --to)",
	    from, to, to - from + 1, most, TFA_ARCHIVE_ZIP_MAX_ENTRIES, ARC_MIN_OTHER_FILES);
}

/*
 * Writes the bundle in dir (verified) as an archive at dest: a temporary
 * file beside it, fsynced, read back through the verifier's archive reader,
 * then renamed into place unless dest exists by then.
 */
tfa_err tfa_export_write_archive(const char *dir, const char *dest, tfa_export_arc_kind kind,
				 int64_t mtime, const volatile sig_atomic_t *stop)
{
	tfa_err rc = TFA_OK;
	arc_writer w;
	char *tmp = NULL;
	int fd = -1, mfd = -1;
	size_t n = strlen(dest);
	uint64_t nfiles;
	tfa_manifest m;
	tfa_jstream *js = NULL;

	memset(&w, 0, sizeof(w));
	memset(&m, 0, sizeof(m));
	w.fd = -1;
	w.dirfd = -1;
	w.kind = kind;
	w.mtime = mtime;
	w.stop = stop;
	tfa_buf_init(&w.in, TFA_MANIFEST_MAX_BYTES + 1);
	w.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	TFA_ENSURE(w.dirfd >= 0, TFA_EIO, "cannot open %s: %s", dir, strerror(errno));
	{
		/* What the archive reader would refuse, refused before anything is written. */
		uint64_t total = 0, cap;
		struct stat st;

		TFA_GUARD(tfa_path_open(&mfd, w.dirfd, TFA_BUNDLE_MANIFEST));
		TFA_GUARD(tfa_jstream_new_fd(&js, mfd, 256, TFA_MANIFEST_MAX_BYTES));
		TFA_GUARD(tfa_manifest_scan(&m, js, arc_sum, &total));
		nfiles = (uint64_t)m.nfiles + 2;
		TFA_ENSURE(fstat(mfd, &st) == 0, TFA_EIO, "cannot stat %s: %s", TFA_BUNDLE_MANIFEST,
			   strerror(errno));
		total += (uint64_t)st.st_size;
		/* A .zip is held whole by its reader, so it has the held caps. */
		cap =
		    kind == TFA_EXPORT_ARC_ZIP ? TFA_ARCHIVE_HELD_MAX_TOTAL : TFA_ARCHIVE_MAX_TOTAL;
		TFA_ENSURE(total <= cap, TFA_EUSAGE,
			   "the bundle's files take %" PRIu64 " bytes, more than %s may hold "
			   "(%" PRIu64 "): export a shorter range (--from, --to) or as a directory",
			   total, kind == TFA_EXPORT_ARC_ZIP ? "a .zip" : "an archive", cap);
		cap = kind == TFA_EXPORT_ARC_ZIP ? TFA_ARCHIVE_HELD_MAX_MANIFEST
						 : TFA_ARCHIVE_MAX_MANIFEST;
		TFA_ENSURE((uint64_t)st.st_size <= cap, TFA_EUSAGE,
			   "the manifest takes %" PRIu64 " bytes, more than %s may hold (%" PRIu64
			   "): export a shorter range (--from, --to) or as a directory",
			   (uint64_t)st.st_size,
			   kind == TFA_EXPORT_ARC_ZIP ? "a .zip" : "an archive", cap);
		TFA_ENSURE(nfiles <= TFA_ARCHIVE_MAX_ENTRIES, TFA_EUSAGE,
			   "an archive holds at most %u files and this bundle has %" PRIu64
			   ": export a shorter range (--from, --to) or as a directory",
			   TFA_ARCHIVE_MAX_ENTRIES, nfiles);
		tfa_jstream_free(js);
		js = NULL;
		close(mfd);
		mfd = -1;
	}
	if (kind == TFA_EXPORT_ARC_ZIP)
		TFA_ENSURE(nfiles <= TFA_ARCHIVE_ZIP_MAX_ENTRIES, TFA_EUSAGE,
			   "a .zip holds at most %u files and this bundle has %" PRIu64
			   ": export it as .tar.gz",
			   TFA_ARCHIVE_ZIP_MAX_ENTRIES, nfiles);
	w.buf = malloc(ARC_BUF);
	w.zout = malloc(ARC_BUF);
	tmp = malloc(n + 16);
	TFA_ENSURE(w.buf && w.zout && tmp, TFA_EINTERNAL, "out of memory");
	dos_time(mtime, &w.dos_time, &w.dos_date);
	/* Raw deflate at zlib's default level: the tar stream, or each zip entry. */
	TFA_ENSURE(deflateInit2(&w.z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
				Z_DEFAULT_STRATEGY) == Z_OK,
		   TFA_EINTERNAL, "out of memory");
	w.zinit = true;
	if (kind == TFA_EXPORT_ARC_TGZ) {
		/* gzip: deflate, FLG 0 (no name, extra, comment or header CRC), MTIME 0, XFL 0, OS
		 * Unix. */
		static const uint8_t gz[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
		w.crc = crc32(0L, Z_NULL, 0);
		TFA_GUARD(arc_raw(&w, gz, sizeof(gz)));
	}
	memcpy(tmp, dest, n);
	memcpy(tmp + n, ".part-XXXXXX", 13);
	fd = mkstemp(tmp);
	if (fd < 0) {
		free(tmp);
		tmp = NULL;
		TFA_BAIL(TFA_EIO, "cannot create a file beside %s: %s", dest, strerror(errno));
	}
	w.fd = fd;
	w.tmp = tmp;
	/* mkstemp makes it private; the archive is meant to be handed over. */
	TFA_ENSURE(fchmod(fd, 0644) == 0, TFA_EIO, "cannot chmod %s: %s", tmp, strerror(errno));

	/* manifest.json, manifest.sig, then the listed files in the manifest's (byte) order. */
	TFA_GUARD(arc_file(&w, TFA_BUNDLE_MANIFEST));
	TFA_GUARD(arc_file(&w, TFA_BUNDLE_MANIFEST_SIG));
	tfa_manifest_clear(&m);
	TFA_GUARD(tfa_path_open(&mfd, w.dirfd, TFA_BUNDLE_MANIFEST));
	TFA_GUARD(tfa_jstream_new_fd(&js, mfd, 256, TFA_MANIFEST_MAX_BYTES));
	TFA_GUARD(tfa_manifest_scan(&m, js, arc_listed, &w));
	TFA_ENSURE((uint64_t)m.nfiles + 2 == nfiles, TFA_EINTERNAL,
		   "the manifest changed while the archive was written");
	TFA_GUARD(arc_finish(&w));
	TFA_GUARD(arc_flush(&w));
	TFA_ENSURE(fsync(fd) == 0, TFA_EIO, "cannot fsync %s: %s", tmp, strerror(errno));
	TFA_ENSURE(close(fd) == 0, TFA_EIO, "cannot close %s: %s", tmp, strerror(errno));
	fd = -1;
	/* Read back through the verifier's reader: exactly the verified files, byte for byte. */
	TFA_GUARD(arc_check(tmp, w.dirfd, nfiles));
	/* A stop raised while the archive was read back: it does not get its name. */
	TFA_GUARD(tfa_export_check_stop(stop));
	TFA_GUARD(tfa_fs_rename_noreplace(tmp, dest));
	tfa_fs_sync_parent(dest);
	free(tmp);
	tmp = NULL;
out:
	if (w.zinit)
		deflateEnd(&w.z);
	free(w.buf);
	free(w.zout);
	for (size_t i = 0; i < w.ncent; i++)
		free(w.cent[i].name);
	free(w.cent);
	tfa_buf_free(&w.in);
	tfa_jstream_free(js);
	tfa_manifest_clear(&m);
	if (mfd >= 0)
		close(mfd);
	if (fd >= 0)
		close(fd);
	if (w.dirfd >= 0)
		close(w.dirfd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	return rc;
}
#endif
