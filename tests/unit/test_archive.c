/*
 * Tests for the bundle archive reader: every rule of the accepted subset on
 * archives built here byte by byte (tar headers, gzip framing and zip
 * records by hand, deflate by zlib), the caps, damaged input, reading from
 * a file descriptor, the bundle path set, and the committed example bundle
 * verified as an archive held in memory.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "format/bundle_path.h"
#include "tfa_test.h"
#include "verify/archive/bundle_archive.h"
#include "verify/verify_int.h"

#define BUF_MAX (40u << 20)

/* ------------------------------------------------------------ builders */

typedef struct out {
	uint8_t *p;
	size_t n;
} out;

static void put(out *o, const void *p, size_t n)
{
	if (o->n + n > BUF_MAX) {
		fprintf(stderr, "test archive too large\n");
		exit(2);
	}
	memcpy(o->p + o->n, p, n);
	o->n += n;
}

static void put16(out *o, unsigned v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	put(o, b, 2);
}

static void put32(out *o, uint32_t v)
{
	put16(o, v & 0xffff);
	put16(o, v >> 16);
}

/* How one tar entry departs from the accepted subset. */
typedef struct tar_opts {
	char type;	   /* 0: '0' */
	const char *magic; /* 8 bytes at 257; NULL: "ustar\0" "00" */
	int chk;	   /* 0 right, 1 wrong, 2 the signed sum */
	const char *prefix;
	const char *hidden; /* bytes after the name's NUL */
	uint8_t padbyte;
	unsigned mode; /* 0: 0444 */
	bool base256;
} tar_opts;

static void octal(uint8_t *p, size_t n, uint64_t v)
{
	p[n - 1] = '\0';
	for (size_t i = n - 1; i-- > 0; v >>= 3)
		p[i] = (uint8_t)('0' + (v & 7));
}

static void tar_add(out *o, const char *name, const void *data, size_t len, const tar_opts *t)
{
	static const tar_opts none;
	uint8_t h[512];
	unsigned usum = 0;
	int ssum = 0;

	if (t == NULL)
		t = &none;
	memset(h, 0, sizeof(h));
	memcpy(h, name, strlen(name));
	if (t->hidden)
		memcpy(h + strlen(name) + 1, t->hidden, strlen(t->hidden));
	octal(h + 100, 8, t->mode ? t->mode : 0444);
	octal(h + 108, 8, 0);
	octal(h + 116, 8, 0);
	octal(h + 124, 12, len);
	if (t->base256) {
		memset(h + 124, 0, 12);
		h[124] = 0x80;
		h[134] = (uint8_t)(len >> 8);
		h[135] = (uint8_t)len;
	}
	octal(h + 136, 12, 1700000000);
	h[156] = (uint8_t)(t->type ? t->type : '0');
	memcpy(h + 257,
	       t->magic ? t->magic
			: "ustar\0"
			  "00",
	       8);
	memcpy(h + 265, t->chk == 2 ? "r\xf6\xf6t" : "root", 4);
	memcpy(h + 297, "root", 4);
	if (t->prefix)
		memcpy(h + 345, t->prefix, strlen(t->prefix));
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < 512; i++) {
		usum += h[i];
		ssum += (signed char)h[i];
	}
	octal(h + 148, 7, t->chk == 2 ? (unsigned)ssum : usum + (t->chk == 1));
	h[155] = ' ';
	put(o, h, 512);
	put(o, data, len);
	for (size_t i = len; i % 512 != 0; i++)
		put(o, &t->padbyte, 1);
}

static void tar_end(out *o, size_t blocks)
{
	static const uint8_t z[512];

	for (size_t i = 0; i < blocks; i++)
		put(o, z, 512);
}

static size_t raw_deflate(uint8_t *dst, size_t cap, const void *src, size_t len)
{
	z_stream z;
	size_t n;

	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (Bytef *)(uintptr_t)src;
	z.avail_in = (uInt)len;
	z.next_out = dst;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		fprintf(stderr, "deflate failed\n");
		exit(2);
	}
	n = z.total_out;
	deflateEnd(&z);
	return n;
}

/* gzip around the n bytes at tar: flags, their fields, then bytes after the trailer. */
static void gzip_wrap(out *o, const uint8_t *tar, size_t n, uint8_t flags, const void *tail,
		      size_t tlen)
{
	static const uint8_t h[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
	uint8_t *tmp = malloc(n + n / 2 + 1024);

	put(o, h, 3);
	put(o, &flags, 1);
	put(o, h + 4, 6);
	if (flags & 0x04) {
		put16(o, 4);
		put(o, "AB\0\0", 4);
	}
	if (flags & 0x08)
		put(o, "bundle.tar", 11);
	if (flags & 0x10)
		put(o, "hi", 3);
	if (flags & 0x02)
		put16(o, 0);
	put(o, tmp, raw_deflate(tmp, n + n / 2 + 1024, tar, n));
	put32(o, (uint32_t)crc32(0, tar, (uInt)n));
	put32(o, (uint32_t)n);
	if (tlen)
		put(o, tail, tlen);
	free(tmp);
}

typedef struct zent {
	const char *name;
	const char *data;
	size_t len;	   /* 0: strlen */
	uint16_t method;   /* 8 unless stored */
	const char *lname; /* local name, when it differs */
	uint32_t lcsize_add, eattr, flags;
	size_t gap;	  /* bytes before the local header */
	const char *junk; /* inside the compressed size, after the stream */
} zent;

/* A zip of n entries; order: central order (NULL: as given); comment; bytes prepended. */
static void zip_build(out *o, const zent *e, size_t n, const size_t *order, const char *comment,
		      size_t prepend)
{
	uint32_t off[16], crc[16], cs[16];
	uint8_t *cd[16];
	size_t cdn[16], cdoff;

	for (size_t k = 0; k < prepend; k++)
		put(o, "#", 1);
	for (size_t i = 0; i < n; i++) {
		size_t len = e[i].len ? e[i].len : strlen(e[i].data);
		const char *ln = e[i].lname ? e[i].lname : e[i].name;
		uint8_t *c = malloc(len + 1024);
		size_t clen;

		for (size_t k = 0; k < e[i].gap; k++)
			put(o, "\0", 1);
		if (e[i].method == 0) {
			memcpy(c, e[i].data, len);
			clen = len;
		} else {
			clen = raw_deflate(c, len + 1024, e[i].data, len);
		}
		if (e[i].junk) {
			memcpy(c + clen, e[i].junk, strlen(e[i].junk));
			clen += strlen(e[i].junk);
		}
		off[i] = (uint32_t)o->n;
		crc[i] = (uint32_t)crc32(0, (const Bytef *)e[i].data, (uInt)len);
		cs[i] = (uint32_t)clen;
		put32(o, 0x04034b50);
		put16(o, 20);
		put16(o, e[i].flags);
		put16(o, e[i].method == 0 ? 0 : 8);
		put16(o, 0);
		put16(o, 0x5821);
		put32(o, crc[i]);
		put32(o, cs[i] + e[i].lcsize_add);
		put32(o, (uint32_t)len);
		put16(o, (unsigned)strlen(ln));
		put16(o, 0);
		put(o, ln, strlen(ln));
		put(o, c, clen);
		cd[i] = NULL;
		cdn[i] = len;
		free(c);
	}
	cdoff = o->n;
	for (size_t k = 0; k < n; k++) {
		size_t i = order ? order[k] : k;
		put32(o, 0x02014b50);
		put16(o, 3 << 8 | 20);
		put16(o, 20);
		put16(o, e[i].flags);
		put16(o, e[i].method == 0 ? 0 : 8);
		put16(o, 0);
		put16(o, 0x5821);
		put32(o, crc[i]);
		put32(o, cs[i]);
		put32(o, (uint32_t)cdn[i]);
		put16(o, (unsigned)strlen(e[i].name));
		put16(o, 0);
		put16(o, 0);
		put16(o, 0);
		put16(o, 0);
		put32(o, e[i].eattr ? e[i].eattr : (uint32_t)0100444 << 16);
		put32(o, off[i]);
		put(o, e[i].name, strlen(e[i].name));
		(void)cd;
	}
	put32(o, 0x06054b50);
	put16(o, 0);
	put16(o, 0);
	put16(o, (unsigned)n);
	put16(o, (unsigned)n);
	put32(o, (uint32_t)(o->n - 12 - cdoff));
	put32(o, (uint32_t)cdoff);
	put16(o, comment ? (unsigned)strlen(comment) : 0);
	if (comment)
		put(o, comment, strlen(comment));
}

static uint8_t *g_tar, *g_buf;
static out tb, ab; /* a tar stream being built; the archive */

static void begin(void)
{
	if (g_tar == NULL) {
		g_tar = malloc(BUF_MAX);
		g_buf = malloc(BUF_MAX);
	}
	tb = (out){g_tar, 0};
	ab = (out){g_buf, 0};
}

/* The tar built so far, ended with blocks zero blocks and gzipped. */
static void tgz_done(size_t blocks)
{
	tar_end(&tb, blocks);
	gzip_wrap(&ab, tb.p, tb.n, 0, NULL, 0);
}

/* Loads ab; the result must be EVERIFY with want in the message (line for failures). */
static void expect_reject(const tfa_archive_limits *lim, const char *want, int line)
{
	tfa_archive *ar = (tfa_archive *)1;
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_archive_load_mem(&ar, ab.p, ab.n, lim);
	if (rc != TFA_EVERIFY || strstr(tfa_error_last()->message, want) == NULL || ar != NULL) {
		fprintf(stderr, "line %d: got %s (%s), wanted EVERIFY with \"%s\"\n", line,
			tfa_err_name(rc), tfa_error_last()->message, want);
		tfa_test_failures++;
	}
	if (rc == TFA_OK)
		tfa_archive_free(ar);
}
#define REJECT(want)	      expect_reject(NULL, (want), __LINE__)
#define REJECT_LIM(lim, want) expect_reject((lim), (want), __LINE__)

static const char *const M = "manifest.json", *const A1 = "artifacts/000000000001.json",
			 *const S1 = "artifacts/000000000001.sig";

/* ------------------------------------------------------------ tests */

static void test_valid(void)
{
	const zent z[] = {{M, "{}", 0, 8, NULL, 0, 0, 0, 0, NULL},
			  {"VERIFY.md", "read me", 0, 0, NULL, 0, 0, 0, 0, NULL},
			  {A1, "", 0, 8, NULL, 0, 0, 0, 0, NULL},
			  {S1, "bbb", 0, 8, NULL, 0, 0, 0, 0, NULL}};

	for (int f = 0; f < 2; f++) {
		tfa_archive *ar = NULL;
		const tfa_archive_entry *x;

		begin();
		if (f == 0) {
			tar_add(&tb, M, "{}", 2, NULL);
			tar_add(&tb, "VERIFY.md", "read me", 7, NULL);
			tar_add(&tb, S1, "bbb", 3, NULL);
			tar_add(&tb, A1, "", 0, NULL);
			tgz_done(20); /* end blocks padded to a 10 KiB record, as tar writes them */
		} else {
			zip_build(&ab, z, 4, NULL, NULL, 0);
		}
		CHECK_OK(tfa_archive_load_mem(&ar, ab.p, ab.n, NULL));
		if (ar == NULL)
			continue;
		CHECK(ar->n == 4);
		/* Sorted by byte order. */
		CHECK_STREQ(ar->e[0].path, "VERIFY.md");
		CHECK_STREQ(ar->e[1].path, A1);
		CHECK(ar->e[1].size == 0);
		x = tfa_archive_find(ar, S1);
		CHECK(x != NULL && x->size == 3 && memcmp(x->data, "bbb", 3) == 0);
		CHECK(tfa_archive_find(ar, "nope") == NULL);
		CHECK(ar->total == 2 + 7 + 3);
		tfa_archive_free(ar);
	}
	tfa_archive_free(NULL);
	/* A gzip header with a file name (FNAME), as gzip(1) writes it: accepted. */
	begin();
	tar_add(&tb, M, "{}", 2, NULL);
	tar_end(&tb, 2);
	gzip_wrap(&ab, tb.p, tb.n, 0x08, NULL, 0);
	{
		tfa_archive *ar = NULL;
		CHECK_OK(tfa_archive_load_mem(&ar, ab.p, ab.n, NULL));
		tfa_archive_free(ar);
	}
}

static void test_tar_rules(void)
{
	static const struct {
		char type;
		const char *why;
	} types[] = {
	    {'x', "pax extended header, typeflag 'x'"},
	    {'g', "pax global header, typeflag 'g'"},
	    {'L', "GNU long name, typeflag 'L'"},
	    {'K', "GNU long link name, typeflag 'K'"},
	    {'S', "GNU sparse file, typeflag 'S'"},
	    {'1', "hard link, typeflag '1'"},
	    {'2', "symlink, typeflag '2'"},
	    {'3', "character device, typeflag '3'"},
	    {'4', "block device, typeflag '4'"},
	    {'5', "directory, typeflag '5'"},
	    {'6', "FIFO, typeflag '6'"},
	    {'7', "contiguous file, typeflag '7'"},
	    {'Z', "typeflag 'Z'"},
	};
	char want[200];

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		tar_opts o = {0};
		o.type = types[i].type;
		begin();
		tar_add(&tb, M, "{}", 2, NULL);
		tar_add(&tb, A1, "x", 1, &o);
		tgz_done(2);
		snprintf(want, sizeof(want), "Unsafe archive entry: %s (%s)", A1, types[i].why);
		REJECT(want);
		CHECK_STREQ(tfa_archive_rejected_entry(), A1);
	}
#define TAR_CASE(want, ...)                                                                        \
	do {                                                                                       \
		tar_opts o_ = {__VA_ARGS__};                                                       \
		begin();                                                                           \
		tar_add(&tb, A1, "{\"a\":1}", 7, &o_);                                             \
		tgz_done(2);                                                                       \
		REJECT(want);                                                                      \
	} while (0)
	TAR_CASE("(old GNU tar header (magic \"ustar  \"), not POSIX ustar)", .magic = "ustar  ");
	TAR_CASE("(not a POSIX ustar header (version))", .magic = "ustar\0"
								  "01");
	TAR_CASE("(not a POSIX ustar header (magic))", .magic = "\0\0\0\0\0\0\0\0");
	TAR_CASE("Unsafe archive entry: artifacts/000000000001.json (bad header checksum)",
		 .chk = 1);
	TAR_CASE("(header checksum matches only as a signed sum)", .chk = 2);
	TAR_CASE("(base-256 number in the size field)", .base256 = true);
	TAR_CASE("(prefix field set)", .prefix = "a");
	TAR_CASE("(data after the NUL ending the name)", .hidden = "x");
	TAR_CASE("(non-zero byte in the padding after its data)", .padbyte = 'A');
	TAR_CASE("(setuid, setgid or sticky bit in mode 4444)", .mode = 04444);
	TAR_CASE("(setuid, setgid or sticky bit in mode 1444)", .mode = 01444);
#undef TAR_CASE
	/* The end: two zero blocks, nothing but zeros after them, nothing after one alone. */
	begin();
	tar_add(&tb, M, "{}", 2, NULL);
	tgz_done(1);
	REJECT("Unsafe archive: one end-of-archive block, not two (tar offset 1536)");
	CHECK_STREQ(tfa_archive_rejected_entry(), "");
	begin();
	tar_add(&tb, M, "{}", 2, NULL);
	tgz_done(0);
	REJECT("no end-of-archive blocks");
	begin();
	tar_add(&tb, M, "{}", 2, NULL);
	tar_end(&tb, 1);
	tar_add(&tb, A1, "{}", 2, NULL);
	tgz_done(2);
	REJECT("Unsafe archive: a lone zero block before more data (tar offset 1536)");
	begin();
	tar_add(&tb, M, "{}", 2, NULL);
	tar_end(&tb, 2);
	tar_add(&tb, A1, "{}", 2, NULL);
	tgz_done(2);
	REJECT("Unsafe archive: data after the end-of-archive blocks (tar offset 2048)");
	begin();
	tar_add(&tb, M, "{}", 2, NULL);
	tar_end(&tb, 2);
	put(&tb, "\0\0\0", 3);
	gzip_wrap(&ab, tb.p, tb.n, 0, NULL, 0);
	REJECT("tar stream not a multiple of 512 bytes");
	begin();
	tar_add(&tb, M, "{}", 2, NULL);
	tar_end(&tb, 2);
	tb.n -= 1024 + 100; /* cut inside the data's padding */
	gzip_wrap(&ab, tb.p, tb.n, 0, NULL, 0);
	REJECT("Archive damaged: tar stream truncated");
	/* An uncompressed tar is not one of the two forms. */
	begin();
	tar_add(&tb, M, "{}", 2, NULL);
	tar_end(&tb, 2);
	put(&ab, tb.p, tb.n);
	REJECT("Archive unreadable: archive: an uncompressed tar");
	/* Names outside the bundle path set. */
	{
		static const struct {
			const char *name, *why;
		} names[] = {
		    {"./manifest.json", "'.' component"},
		    {"artifacts/../manifest.json", "'..' component"},
		    {"/manifest.json", "absolute path"},
		    {"artifacts\\000000000001.json", "backslash in name"},
		    {"notes.txt", "not a bundle path"},
		    {"artifacts/000000000000.json", "not a bundle path"},
		    {"a\033b", "not a bundle path"},
		};
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			char shown[160];
			size_t k = 0;
			for (const char *p = names[i].name; *p; p++) {
				if (*p == '\\')
					k += (size_t)snprintf(shown + k, sizeof(shown) - k, "\\\\");
				else if (*p == '\033')
					k +=
					    (size_t)snprintf(shown + k, sizeof(shown) - k, "\\x1b");
				else
					shown[k++] = *p;
			}
			shown[k] = '\0';
			begin();
			tar_add(&tb, names[i].name, "x", 1, NULL);
			tgz_done(2);
			snprintf(want, sizeof(want), "Unsafe archive entry: %s (%s)", shown,
				 names[i].why);
			REJECT(want);
			CHECK_STREQ(tfa_archive_rejected_entry(), shown);
		}
	}
	/* No name twice. */
	begin();
	tar_add(&tb, M, "{}", 2, NULL);
	tar_add(&tb, "VERIFY.md", "x", 1, NULL);
	tar_add(&tb, M, "{\"a\":1}", 7, NULL);
	tgz_done(2);
	REJECT("Unsafe archive entry: manifest.json (duplicate entry)");
}

static void test_gzip_rules(void)
{
	static const uint8_t member[20] = {0x1f, 0x8b, 8};

	begin();
	tar_add(&tb, M, "{}", 2, NULL);
	tar_end(&tb, 2);
	gzip_wrap(&ab, tb.p, tb.n, 0x04, NULL, 0);
	REJECT("Unsafe archive: gzip header with FEXTRA (gzip offset 3)");
	ab.n = 0;
	gzip_wrap(&ab, tb.p, tb.n, 0x10, NULL, 0);
	REJECT("Unsafe archive: gzip header with FCOMMENT (gzip offset 3)");
	ab.n = 0;
	gzip_wrap(&ab, tb.p, tb.n, 0x02, NULL, 0);
	REJECT("Unsafe archive: gzip header with FHCRC (gzip offset 3)");
	ab.n = 0;
	gzip_wrap(&ab, tb.p, tb.n, 0x01, NULL, 0);
	REJECT("Unsafe archive: gzip header flags 0x01 (gzip offset 3)");
	ab.n = 0;
	gzip_wrap(&ab, tb.p, tb.n, 0x20, NULL, 0);
	REJECT("Unsafe archive: gzip header flags 0x20");
	ab.n = 0;
	gzip_wrap(&ab, tb.p, tb.n, 0, member, sizeof(member));
	REJECT("Unsafe archive: a second gzip member (gzip offset");
	ab.n = 0;
	gzip_wrap(&ab, tb.p, tb.n, 0, "\0", 1);
	REJECT("Unsafe archive: data after the gzip trailer (gzip offset");
	ab.n = 0;
	gzip_wrap(&ab, tb.p, tb.n, 0, NULL, 0);
	ab.p[ab.n - 8] ^= 1;
	REJECT("Archive damaged: gzip CRC-32 does not match the data");
	ab.p[ab.n - 8] ^= 1;
	ab.p[ab.n - 1] ^= 1;
	REJECT("Archive damaged: gzip size does not match the data");
	ab.p[ab.n - 1] ^= 1;
	ab.n -= 3;
	REJECT("Archive damaged: gzip trailer truncated");
	ab.n = 0;
	gzip_wrap(&ab, tb.p, tb.n, 0, NULL, 0);
	ab.p[2] = 9;
	REJECT("Unsafe archive: gzip compression method 9, not deflate (gzip offset 2)");
}

static void test_zip_rules(void)
{
	const char *const a2 = "artifacts/000000000002.json";
	zent z[3] = {{M, "{\"m\":1}", 0, 8, NULL, 0, 0, 0, 0, NULL},
		     {A1, "{\"seq\":1}", 0, 8, NULL, 0, 0, 0, 0, NULL},
		     {a2, "{\"seq\":2}", 0, 8, NULL, 0, 0, 0, 0, NULL}};
	zent y[3];
	const size_t swapped[3] = {0, 2, 1};

#define ZIP_CASE(want, order, comment, prepend, ...)                                               \
	do {                                                                                       \
		memcpy(y, z, sizeof(z));                                                           \
		__VA_ARGS__;                                                                       \
		begin();                                                                           \
		zip_build(&ab, y, 3, (order), (comment), (prepend));                               \
		REJECT(want);                                                                      \
	} while (0)
	/* The attack: unzip names entries by the central directory, other readers by the local
	 * header. */
	ZIP_CASE("Unsafe archive entry: artifacts/000000000001.json (local header names it "
		 "\"artifacts/000000000002.json\")",
		 NULL, NULL, 0, y[1].lname = a2);
	ZIP_CASE("Unsafe archive entry: artifacts/000000000001.json (local header and central "
		 "directory disagree on the compressed size)",
		 NULL, NULL, 0, y[1].lcsize_add = 1);
	ZIP_CASE("(local header and central directory disagree on the name length)", NULL, NULL, 0,
		 y[1].lname = "artifacts/000000000001.jso");
	ZIP_CASE("Unsafe archive: 3 bytes before the first local header (zip offset 0)", NULL, NULL,
		 3, (void)0);
	ZIP_CASE("Unsafe archive: archive comment of 2 bytes", NULL, "hi", 0, (void)0);
	ZIP_CASE(
	    "Unsafe archive entry: artifacts/000000000002.json (gap of 4 bytes before its local "
	    "header)",
	    NULL, NULL, 0, y[2].gap = 4);
	ZIP_CASE("Unsafe archive entry: artifacts/000000000002.json (local headers not in "
		 "central-directory order",
		 swapped, NULL, 0, (void)0);
	ZIP_CASE("(symlink, Unix mode 120777 in the external attributes)", NULL, NULL, 0,
		 y[1].eattr = (uint32_t)0120777 << 16);
	ZIP_CASE("(directory, Unix mode 040755 in the external attributes)", NULL, NULL, 0,
		 y[1].eattr = (uint32_t)040755 << 16);
	ZIP_CASE("(directory, MS-DOS attribute bit)", NULL, NULL, 0, y[1].eattr = 0x10);
	ZIP_CASE("(setuid, setgid or sticky bit in mode 2444)", NULL, NULL, 0,
		 y[1].eattr = (uint32_t)0102444 << 16);
	ZIP_CASE("(data descriptor, flag bit 3)", NULL, NULL, 0, y[1].flags = 8);
	ZIP_CASE("(encrypted, flag bit 0)", NULL, NULL, 0, y[1].flags = 1);
	ZIP_CASE("Unsafe archive entry: artifacts/000000000001.json (4 bytes after the end of its "
		 "deflate stream)",
		 NULL, NULL, 0, y[1].junk = "junk");
	ZIP_CASE("Unsafe archive entry: artifacts/000000000001.json (stored entry whose sizes "
		 "disagree",
		 NULL, NULL, 0, (y[1].method = 0, y[1].junk = "junk"));
	ZIP_CASE("Unsafe archive entry: notes.txt (not a bundle path)", NULL, NULL, 0,
		 y[2].name = "notes.txt");
	ZIP_CASE("Unsafe archive entry: artifacts/ (not a bundle path)", NULL, NULL, 0,
		 (y[2].name = "artifacts/", y[2].data = ""));
	ZIP_CASE("Unsafe archive entry: manifest.json (duplicate entry)", NULL, NULL, 0,
		 y[2].name = M);
#undef ZIP_CASE
	/* The end record: exactly the last 22 bytes, then nothing. */
	begin();
	zip_build(&ab, z, 3, NULL, NULL, 0);
	put(&ab, "x", 1);
	REJECT("Unsafe archive: data after the end-of-central-directory record");
	begin();
	zip_build(&ab, z, 3, NULL, NULL, 0);
	put(&ab, ab.p + ab.n - 22, 22);
	REJECT("Unsafe archive: two end-of-central-directory records");
	begin();
	zip_build(&ab, z, 3, NULL, NULL, 0);
	ab.p[ab.n - 12] = ab.p[ab.n - 11] = 0xff; /* entry count 0xffff: zip64 */
	REJECT("Unsafe archive: zip64 marker in the end-of-central-directory record");
}

static void small_limits(tfa_archive_limits *l)
{
	tfa_archive_limits_default(l);
	l->max_entries = 4;
	l->max_file = 100;
	l->max_manifest = 200;
	l->max_total = 400;
}

static void test_caps(void)
{
	tfa_archive_limits l;
	static char big[300];
	const char *n[5] = {M, A1, S1, "artifacts/000000000002.json", "artifacts/000000000002.sig"};

	small_limits(&l);
	memset(big, 'x', sizeof(big));
	for (int f = 0; f < 2; f++) {
		/* Builds an archive of the k entries with these sizes. */
#define BUILD(k, ...)                                                                              \
	do {                                                                                       \
		const size_t sz_[] = {__VA_ARGS__};                                                \
		zent ze_[5];                                                                       \
		begin();                                                                           \
		for (size_t i_ = 0; i_ < (k); i_++) {                                              \
			if (f == 0)                                                                \
				tar_add(&tb, n[i_], big, sz_[i_], NULL);                           \
			ze_[i_] = (zent){n[i_], big, sz_[i_], 0, NULL, 0, 0, 0, 0, NULL};          \
		}                                                                                  \
		if (f == 0)                                                                        \
			tgz_done(2);                                                               \
		else                                                                               \
			zip_build(&ab, ze_, (k), NULL, NULL, 0);                                   \
	} while (0)
		BUILD(2, 1, 101);
		REJECT_LIM(
		    &l, "Unsafe archive entry: artifacts/000000000001.json (larger than the limit "
			"of 100 bytes)");
		CHECK_STREQ(tfa_archive_rejected_entry(), A1);
		BUILD(1, 201);
		REJECT_LIM(
		    &l, "Unsafe archive entry: manifest.json (larger than the limit of 200 bytes)");
		BUILD(5, 1, 1, 1, 1, 1);
		REJECT_LIM(&l, "Archive holds more than 4 entries");
		BUILD(4, 200, 100, 100, 1);
		REJECT_LIM(&l, "Archive expands past the limit of 400 bytes");
		{
			tfa_archive_limits m = l;
			m.max_meta = 2 * sizeof(tfa_archive_entry) + 30;
			BUILD(3, 1, 1, 1);
			REJECT_LIM(&m, "Archive names take more than");
		}
		/* At the caps exactly: accepted. */
		{
			tfa_archive *ar = NULL;
			BUILD(3, 200, 100, 100);
			CHECK_OK(tfa_archive_load_mem(&ar, ab.p, ab.n, &l));
			CHECK(ar != NULL && ar->total == 400);
			tfa_archive_free(ar);
		}
#undef BUILD
	}
}

/* Bombs: sizes that are checked before anything is inflated or held. */
static void test_bomb(void)
{
	uint8_t *zeros = calloc(1, 64u << 20);
	size_t len = 64u << 20;
	tfa_archive *ar = NULL;

	/* A tar.gz entry of 64 MiB of zeros, over the default 8 MiB file cap. */
	begin();
	{
		tar_opts o = {0};
		uint8_t h[512];
		(void)o;
		tar_add(&tb, A1, "", 0, NULL);
		memcpy(h, tb.p, 512);
		tb.n = 0;
		octal(h + 124, 12, len);
		memset(h + 148, ' ', 8);
		unsigned sum = 0;
		for (int i = 0; i < 512; i++)
			sum += h[i];
		octal(h + 148, 7, sum);
		h[155] = ' ';
		put(&tb, h, 512);
	}
	{
		z_stream z;
		uint8_t *c = g_buf + ab.n + 10;
		memset(&z, 0, sizeof(z));
		deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
		put(&ab, "\x1f\x8b\x08\0\0\0\0\0\0\x03", 10);
		z.next_in = tb.p;
		z.avail_in = 512;
		z.next_out = c;
		z.avail_out = BUF_MAX / 2;
		deflate(&z, Z_NO_FLUSH);
		z.next_in = zeros;
		z.avail_in = (uInt)len;
		CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
		ab.n += z.total_out;
		deflateEnd(&z);
		put32(&ab, 0);
		put32(&ab, 0);
	}
	CHECK(ab.n < (1u << 20)); /* it is a bomb: well under 1 MiB compressed */
	CHECK_RC(tfa_archive_load_mem(&ar, ab.p, ab.n, NULL), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "larger than the limit of 8388608 bytes") != NULL);
	CHECK(ar == NULL);
	/* A zip entry that inflates past the size it states. */
	{
		zent z = {A1, (const char *)zeros, 4096, 8, NULL, 0, 0, 0, 0, NULL};
		begin();
		zip_build(&ab, &z, 1, NULL, NULL, 0);
		/* Central and local size fields say 100 bytes. */
		ab.p[22] = 100;
		ab.p[23] = 0;
		for (size_t i = 0; i + 4 < ab.n; i++)
			if (memcmp(ab.p + i, "PK\1\2", 4) == 0) {
				ab.p[i + 24] = 100;
				ab.p[i + 25] = 0;
			}
		CHECK_RC(tfa_archive_load_mem(&ar, ab.p, ab.n, NULL), TFA_EVERIFY);
		CHECK(strstr(tfa_error_last()->message,
			     "inflates to more than its stated size of 100 bytes") != NULL);
	}
	free(zeros);
}

static void test_damaged(void)
{
	tfa_archive *ar = NULL;
	zent z[2] = {{M, "{\"a\":\"0123456789012345678901234567890123456789\"}", 0, 8, NULL, 0, 0,
		      0, 0, NULL},
		     {"VERIFY.md", "read me, read me, read me", 0, 8, NULL, 0, 0, 0, 0, NULL}};

	for (int f = 0; f < 2; f++) {
		size_t len;

		begin();
		if (f == 0) {
			tar_add(&tb, M, z[0].data, strlen(z[0].data), NULL);
			tar_add(&tb, "VERIFY.md", z[1].data, strlen(z[1].data), NULL);
			tgz_done(2);
		} else {
			zip_build(&ab, z, 2, NULL, NULL, 0);
		}
		len = ab.n;
		/* Cut anywhere before the end: never accepted. */
		for (size_t cut = 0; cut < len; cut++) {
			tfa_err rc = tfa_archive_load_mem(&ar, ab.p, cut, NULL);
			CHECK(rc == TFA_EVERIFY);
			CHECK(ar == NULL);
			if (rc == TFA_OK)
				tfa_archive_free(ar);
		}
		/*
		 * Any one byte flipped: refused, or (in the gzip header's time, XFL and
		 * OS bytes, which no rule constrains, or bits deflate does not use) read
		 * as exactly the same entries.
		 */
		for (size_t i = 0; i < len; i++) {
			tfa_err rc;
			ab.p[i] ^= 0x20;
			rc = tfa_archive_load_mem(&ar, ab.p, len, NULL);
			if (rc == TFA_OK) {
				bool same = ar->n == 2;
				for (size_t k = 0; same && k < 2; k++) {
					const tfa_archive_entry *e =
					    tfa_archive_find(ar, z[k].name);
					same = e != NULL && e->size == strlen(z[k].data) &&
					       memcmp(e->data, z[k].data, e->size) == 0;
				}
				if (!same) {
					fprintf(stderr,
						"format %d: a flip at byte %zu reads otherwise\n",
						f, i);
					tfa_test_failures++;
				}
				tfa_archive_free(ar);
			} else {
				CHECK(rc == TFA_EVERIFY);
			}
			ab.p[i] ^= 0x20;
		}
	}
	/* Garbage and nothing. */
	begin();
	memset(ab.p, 'A', 4096);
	CHECK_RC(tfa_archive_load_mem(&ar, ab.p, 4096, NULL), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message,
		     "Archive unreadable: archive: not a .tar.gz or .zip") != NULL);
	CHECK_STREQ(tfa_archive_rejected_entry(), "");
	CHECK_RC(tfa_archive_load_mem(&ar, ab.p, 0, NULL), TFA_EVERIFY);
	CHECK_RC(tfa_archive_load_mem(NULL, ab.p, 0, NULL), TFA_EUSAGE);
	CHECK_RC(tfa_archive_load_fd(&ar, -1, "x", NULL), TFA_EUSAGE);
}

/* From a file: the same result as from memory, across read chunks. */
static void test_fd(void)
{
	static char blob[200000];
	char *dir = tfa_test_tmpdir();
	char *path = tfa_test_path(dir, "a");
	zent z[2] = {{M, "{}", 0, 8, NULL, 0, 0, 0, 0, NULL},
		     {"VERIFY.md", blob, sizeof(blob), 0, NULL, 0, 0, 0, 0, NULL}};

	uint32_t x = 1;

	/* Incompressible, so that the archive spans several read chunks. */
	for (size_t i = 0; i < sizeof(blob); i++) {
		x = x * 1103515245u + 12345u;
		blob[i] = (char)(x >> 24);
	}
	for (int f = 0; f < 2; f++) {
		tfa_archive *ar = NULL;
		int fd;

		begin();
		if (f == 0) {
			tar_add(&tb, M, "{}", 2, NULL);
			tar_add(&tb, "VERIFY.md", blob, sizeof(blob), NULL);
			tgz_done(2);
		} else {
			zip_build(&ab, z, 2, NULL, NULL, 0);
		}
		unlink(path);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		CHECK(fd >= 0 && write(fd, ab.p, ab.n) == (ssize_t)ab.n);
		CHECK_OK(tfa_archive_load_fd(&ar, fd, "a", NULL));
		CHECK(ar != NULL && ar->n == 2);
		if (ar != NULL) {
			const tfa_archive_entry *e = tfa_archive_find(ar, "VERIFY.md");
			CHECK(e != NULL && e->size == sizeof(blob) &&
			      memcmp(e->data, blob, sizeof(blob)) == 0);
		}
		tfa_archive_free(ar);
		/* A second gzip member after a whole first one, past the first read chunk. */
		if (f == 0) {
			CHECK(lseek(fd, 0, SEEK_END) > 65536 && write(fd, "\x1f\x8b", 2) == 2);
			CHECK_RC(tfa_archive_load_fd(&ar, fd, "a", NULL), TFA_EVERIFY);
			CHECK(strstr(tfa_error_last()->message, "a second gzip member") != NULL);
		}
		close(fd);
	}
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

/* In memory and from a file, the same bytes get the same verdict. */
static void test_mem_fd_agree(void)
{
	static const uint8_t h[10] = {0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3};
	char *dir = tfa_test_tmpdir();
	char *path = tfa_test_path(dir, "a");
	size_t names[] = {65525, 65526, 200000};
	tfa_archive_limits lim;
	zent z[1] = {{M, "{}", 0, 8, NULL, 0, 0, 0, 0, NULL}};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint8_t *tmp = malloc(65536);
		uint8_t *name = malloc(names[i] + 1);
		tfa_archive *ar = NULL;
		tfa_err mem, file;
		int fd;

		begin();
		tar_add(&tb, M, "{}", 2, NULL);
		tar_end(&tb, 2);
		/* A gzip header whose FNAME is names[i] bytes long. */
		memset(name, 'n', names[i]);
		name[names[i]] = '\0';
		put(&ab, h, 10);
		put(&ab, name, names[i] + 1);
		put(&ab, tmp, raw_deflate(tmp, 65536, tb.p, tb.n));
		put32(&ab, (uint32_t)crc32(0, tb.p, (uInt)tb.n));
		put32(&ab, (uint32_t)tb.n);
		mem = tfa_archive_load_mem(&ar, ab.p, ab.n, NULL);
		tfa_archive_free(ar);
		ar = NULL;
		unlink(path);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		CHECK(fd >= 0 && write(fd, ab.p, ab.n) == (ssize_t)ab.n);
		file = tfa_archive_load_fd(&ar, fd, "a", NULL);
		tfa_archive_free(ar);
		ar = NULL;
		CHECK(tfa_archive_open_fd(&ar, fd, "a", NULL) == file);
		tfa_archive_free(ar);
		close(fd);
		CHECK(mem == file);
		CHECK(mem == (names[i] <= 65525 ? TFA_OK : TFA_EVERIFY));
		free(name);
		free(tmp);
	}
	/* A zip file larger than the caps allow any zip to take is refused before it is
	 * parsed, in memory as from a file (here: 20 MB of data before a small zip). */
	small_limits(&lim);
	begin();
	zip_build(&ab, z, 1, NULL, NULL, 0);
	{
		size_t pre = 20u << 20;
		uint8_t *big = calloc(1, pre + ab.n);
		tfa_archive *ar = NULL;

		CHECK(big != NULL);
		if (big != NULL) {
			memcpy(big + pre, ab.p, ab.n);
			CHECK_RC(tfa_archive_load_mem(&ar, big, pre + ab.n, &lim), TFA_EVERIFY);
			CHECK(strstr(tfa_error_last()->message, "Archive expands past the limit") !=
			      NULL);
			CHECK(ar == NULL);
			free(big);
		}
	}
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

/* Writes ab to path (a new file); the descriptor, open for reading and writing. */
static int write_ab(const char *path)
{
	int fd;

	unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && write(fd, ab.p, ab.n) == (ssize_t)ab.n);
	return fd;
}

/* Reads the entry named path through a cursor; want is its content (NULL: absent). */
static void cursor_reads(tfa_archive_cursor *c, const char *path, const char *want, int line)
{
	char got[256];
	uint64_t size = 0;
	tfa_err rc = tfa_archive_cursor_seek(c, path, &size);
	ssize_t n = rc == TFA_OK ? tfa_archive_cursor_read(c, got, sizeof(got)) : -1;

	if (want == NULL ? rc != TFA_ENOTFOUND
			 : rc != TFA_OK || size != strlen(want) || n != (ssize_t)size ||
			       memcmp(got, want, size) != 0) {
		fprintf(stderr, "line %d: %s read wrong (%s)\n", line, path, tfa_err_name(rc));
		tfa_test_failures++;
	}
}
#define CURSOR_READS(c, path, want) cursor_reads((c), (path), (want), __LINE__)

/*
 * A .tar.gz from a file whose artifacts come in byte order is streamed: only
 * the other files are held, artifacts are read again through cursors, in
 * any order, and a file changed since the load is refused. Out of order, it
 * is held whole, with the same verdicts.
 */
static void test_streamed(void)
{
	char *dir = tfa_test_tmpdir();
	char *path = tfa_test_path(dir, "a");
	const char *A2 = "artifacts/000000000002.json", *S2 = "artifacts/000000000002.sig";
	tfa_archive *ar = NULL;
	tfa_archive_cursor *c = NULL;
	int fd;

	begin();
	tar_add(&tb, M, "{\"m\":1}", 7, NULL);
	tar_add(&tb, A1, "one", 3, NULL);
	tar_add(&tb, S1, "sig1", 4, NULL);
	tar_add(&tb, A2, "two", 3, NULL);
	tar_add(&tb, S2, "sig2", 4, NULL);
	tar_add(&tb, "VERIFY.md", "read me", 7, NULL);
	tgz_done(2);
	fd = write_ab(path);
	CHECK_OK(tfa_archive_open_fd(&ar, fd, "a", NULL));
	CHECK(ar != NULL && ar->streamed && ar->n == 2 && ar->nart == 4);
	if (ar != NULL && ar->streamed) {
		const tfa_archive_entry *e = tfa_archive_find(ar, "VERIFY.md");
		CHECK(e != NULL && e->data != NULL && memcmp(e->data, "read me", 7) == 0);
		e = tfa_archive_find(ar, M);
		CHECK(e != NULL && e->data == NULL && e->size == 7);
		CHECK(tfa_archive_find(ar, A1) == NULL);
		CHECK(tfa_archive_has_artifact(ar, A1) && tfa_archive_has_artifact(ar, S2));
		CHECK(!tfa_archive_has_artifact(ar, "artifacts/000000000003.json"));
		CHECK_OK(tfa_archive_cursor_new(&c, ar));
		CURSOR_READS(c, M, "{\"m\":1}");
		CURSOR_READS(c, A2, "two");
		CURSOR_READS(c, A1, "one"); /* behind: from the start again */
		CURSOR_READS(c, S2, "sig2");
		CURSOR_READS(c, "artifacts/000000000003.json", NULL);
		tfa_archive_cursor_free(c);
		c = NULL;
		/* The file changes after the load: refused, not read. */
		CHECK(pwrite(fd, "x", 1, (off_t)ab.n) == 1);
		CHECK_RC(tfa_archive_cursor_new(&c, ar), TFA_EVERIFY);
		CHECK(strstr(tfa_error_last()->message, "changed while it was read") != NULL);
	}
	tfa_archive_cursor_free(c);
	tfa_archive_free(ar);
	ar = NULL;
	close(fd);

	/* Out of order: held whole. */
	begin();
	tar_add(&tb, M, "{}", 2, NULL);
	tar_add(&tb, A2, "two", 3, NULL);
	tar_add(&tb, A1, "one", 3, NULL);
	tgz_done(2);
	fd = write_ab(path);
	CHECK_OK(tfa_archive_open_fd(&ar, fd, "a", NULL));
	CHECK(ar != NULL && !ar->streamed && ar->n == 3 && ar->nart == 0);
	if (ar != NULL) {
		const tfa_archive_entry *e = tfa_archive_find(ar, A1);
		CHECK(e != NULL && e->size == 3 && memcmp(e->data, "one", 3) == 0);
	}
	tfa_archive_free(ar);
	ar = NULL;
	close(fd);

	/* A zip from a file: every entry streamed, read by its offset, stored or deflated. */
	{
		zent z[4] = {{M, "{\"m\":1}", 0, 8, NULL, 0, 0, 0, 0, NULL},
			     {A1, "one", 0, 0, NULL, 0, 0, 0, 0, NULL},
			     {A2, "two", 0, 8, NULL, 0, 0, 0, 0, NULL},
			     {"VERIFY.md", "read me", 0, 8, NULL, 0, 0, 0, 0, NULL}};

		begin();
		zip_build(&ab, z, 4, NULL, NULL, 0);
		fd = write_ab(path);
		CHECK_OK(tfa_archive_open_fd(&ar, fd, "a", NULL));
		CHECK(ar != NULL && ar->streamed && ar->zip && ar->n == 4);
		if (ar != NULL && ar->zip) {
			CHECK(tfa_archive_find(ar, A1) != NULL &&
			      tfa_archive_find(ar, A1)->data == NULL);
			CHECK_OK(tfa_archive_cursor_new(&c, ar));
			CURSOR_READS(c, "VERIFY.md", "read me");
			CURSOR_READS(c, A2, "two");
			CURSOR_READS(c, A1, "one");
			CURSOR_READS(c, M, "{\"m\":1}");
			CURSOR_READS(c, S1, NULL);
			tfa_archive_cursor_free(c);
			c = NULL;
			CHECK(pwrite(fd, "x", 1, (off_t)ab.n) == 1);
			CHECK_RC(tfa_archive_cursor_new(&c, ar), TFA_EVERIFY);
		}
		tfa_archive_cursor_free(c);
		c = NULL;
		tfa_archive_free(ar);
		ar = NULL;
		close(fd);
		/* Bytes after a deflate stream, within its compressed size: the same verdict. */
		z[2].junk = "XY";
		begin();
		zip_build(&ab, z, 4, NULL, NULL, 0);
		{
			tfa_archive *m = NULL;
			char msg[512];

			CHECK_RC(tfa_archive_load_mem(&m, ab.p, ab.n, NULL), TFA_EVERIFY);
			snprintf(msg, sizeof(msg), "%s", tfa_error_last()->message);
			CHECK(strstr(msg, "2 bytes after the end of its deflate stream") != NULL);
			fd = write_ab(path);
			CHECK_RC(tfa_archive_open_fd(&ar, fd, "a", NULL), TFA_EVERIFY);
			CHECK_STREQ(tfa_error_last()->message, msg);
			CHECK(ar == NULL);
			close(fd);
		}
	}

	/* A duplicate artifact is refused as when read whole. */
	begin();
	tar_add(&tb, M, "{}", 2, NULL);
	tar_add(&tb, A1, "one", 3, NULL);
	tar_add(&tb, A1, "one", 3, NULL);
	tgz_done(2);
	fd = write_ab(path);
	CHECK_RC(tfa_archive_open_fd(&ar, fd, "a", NULL), TFA_EVERIFY);
	CHECK(ar == NULL && strstr(tfa_error_last()->message, "duplicate entry") != NULL);
	close(fd);
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

/* The example bundle, packed from its directory into an archive. */
static const char *const demo_files[] = {
    "manifest.json",
    "manifest.sig",
    "VERIFY.md",
    "artifacts/000000000001.json",
    "artifacts/000000000001.sig",
    "artifacts/000000000002.json",
    "artifacts/000000000002.sig",
    "artifacts/000000000003.json",
    "artifacts/000000000003.sig",
    "artifacts/000000000004.json",
    "artifacts/000000000004.sig",
    "public_key.pem",
};
#define NDEMO (sizeof(demo_files) / sizeof(demo_files[0]))

typedef struct lines {
	char last_error[600];
	int success;
} lines;

static void on_line(void *ud, const char *tag, const char *text)
{
	lines *l = ud;

	if (strcmp(tag, "ERROR") == 0)
		snprintf(l->last_error, sizeof(l->last_error), "%s", text);
	if (strcmp(tag, "SUCCESS") == 0)
		l->success++;
}

/* Packs the demo bundle with one file replaced (data NULL: left out) and one extra file. */
static void pack_demo(int fmt, const char *swap, const char *data, const char *extra)
{
	char dir[4096];
	zent z[NDEMO + 1];
	char *bufs[NDEMO];
	size_t n = 0;
	const char *src = getenv("TFA_SOURCE_DIR");

	snprintf(dir, sizeof(dir), "%s/examples/demo", src ? src : ".");
	begin();
	for (size_t i = 0; i < NDEMO; i++) {
		size_t sz;
		const char *d;

		bufs[i] = tfa_test_get_file(dir, demo_files[i], &sz);
		d = bufs[i];
		if (swap && strcmp(swap, demo_files[i]) == 0) {
			if (data == NULL)
				continue;
			d = data;
			sz = strlen(data);
		}
		z[n++] = (zent){demo_files[i], d, sz, 8, NULL, 0, 0, 0, 0, NULL};
	}
	if (extra)
		z[n++] = (zent){extra, "x", 1, 8, NULL, 0, 0, 0, 0, NULL};
	if (fmt == 0) {
		for (size_t i = 0; i < n; i++)
			tar_add(&tb, z[i].name, z[i].data, z[i].len, NULL);
		tgz_done(2);
	} else {
		zip_build(&ab, z, n, NULL, NULL, 0);
	}
	for (size_t i = 0; i < NDEMO; i++)
		free(bufs[i]);
}

static tfa_err verify_mem(tfa_verify_report *r, lines *l)
{
	tfa_verify_opts o;

	memset(&o, 0, sizeof(o));
	memset(l, 0, sizeof(*l));
	o.line = on_line;
	o.ud = l;
	o.threads = 2;
	return tfa_verify_archive_mem(r, ab.p, ab.n, &o, NULL);
}

static void test_verify_demo(void)
{
	tfa_verify_report r;
	lines l;

	for (int f = 0; f < 2; f++) {
		pack_demo(f, NULL, NULL, NULL);
		CHECK_OK(verify_mem(&r, &l));
		CHECK(r.artifacts == 4 && r.files == 10 && l.success == 5);

		pack_demo(f, "artifacts/000000000002.json", "{}", NULL);
		CHECK_RC(verify_mem(&r, &l), TFA_EVERIFY);
		CHECK(r.failed_layer == TFA_LAYER_FILES);
		CHECK_STREQ(l.last_error, "Hash mismatch for artifacts/000000000002.json (seq 2)");

		pack_demo(f, "artifacts/000000000003.sig", NULL, NULL);
		CHECK_RC(verify_mem(&r, &l), TFA_EVERIFY);
		CHECK_STREQ(l.last_error, "Missing file: artifacts/000000000003.sig");

		/* A bundle path the manifest does not list. */
		pack_demo(f, NULL, NULL, "checkpoint.ckpt");
		CHECK_RC(verify_mem(&r, &l), TFA_EVERIFY);
		CHECK_STREQ(l.last_error, "File not listed in manifest: checkpoint.ckpt");

		pack_demo(f, "manifest.sig", NULL, NULL);
		CHECK_RC(verify_mem(&r, &l), TFA_EVERIFY);
		CHECK(r.failed_layer == TFA_LAYER_MANIFEST);

		/* A name outside the bundle path set fails before layer 1 is judged, as layer 1. */
		pack_demo(f, NULL, NULL, "notes.txt");
		CHECK_RC(verify_mem(&r, &l), TFA_EVERIFY);
		CHECK(r.failed_layer == TFA_LAYER_MANIFEST);
		CHECK_STREQ(l.last_error, "Unsafe archive entry: notes.txt (not a bundle path)");
		CHECK_STREQ(r.failed_file, "notes.txt");
		CHECK(l.success == 0);
	}
}

/* Loads ab from a file, streamed where it can be: the result code; *streamed says how it was read.
 */
static tfa_err open_ab(const char *path, const tfa_archive_limits *lim, bool *streamed)
{
	tfa_archive *ar = NULL;
	tfa_err rc;
	int fd = write_ab(path);

	tfa_error_clear();
	rc = tfa_archive_open_fd(&ar, fd, "a", lim);
	*streamed = ar != NULL && ar->streamed;
	CHECK(rc == TFA_OK || ar == NULL);
	tfa_archive_free(ar);
	close(fd);
	return rc;
}

/* The result is EVERIFY with want in the message. */
static void expect_msg(tfa_err rc, const char *want, int line)
{
	if (rc != TFA_EVERIFY || strstr(tfa_error_last()->message, want) == NULL) {
		fprintf(stderr, "line %d: got %s (%s), wanted EVERIFY with \"%s\"\n", line,
			tfa_err_name(rc), tfa_error_last()->message, want);
		tfa_test_failures++;
	}
}
#define EXPECT_MSG(rc, want) expect_msg((rc), (want), __LINE__)

/*
 * A .tar.gz in stream order has the caps; one held whole (out of order, or
 * in memory) has the lower held caps too, and so does every zip, streamed or
 * not. Each cap at its boundary, lowered through the limits.
 */
static void test_held_caps(void)
{
	char *dir = tfa_test_tmpdir();
	char *path = tfa_test_path(dir, "a");
	static char big[200];
	const char *A2 = "artifacts/000000000002.json", *S2 = "artifacts/000000000002.sig";
	/* Entries in stream order, and the same with artifacts/ out of order. */
	const char *in[5] = {M, A1, S1, A2, S2}, *outo[5] = {M, A2, S2, A1, S1};
	tfa_archive_limits l;
	bool st;

	memset(big, 'x', sizeof(big));
	tfa_archive_limits_default(&l);
	l.max_held_entries = 5;
	l.max_held_manifest = 100;
	l.max_held_total = 400;
#define TGZ(order, msize, asize)                                                                   \
	do {                                                                                       \
		begin();                                                                           \
		for (int i_ = 0; i_ < 5; i_++)                                                     \
			tar_add(&tb, (order)[i_], big, i_ == 0 ? (msize) : (asize), NULL);         \
		tgz_done(2);                                                                       \
	} while (0)
	/* Over the held total (10 + 4 x 100 = 410 bytes). */
	TGZ(in, 10, 100);
	CHECK_OK(open_ab(path, &l, &st));
	CHECK(st);
	EXPECT_MSG(tfa_archive_load_mem(&(tfa_archive *){NULL}, ab.p, ab.n, &l),
		   "Archive expands past the limit of 400 bytes");
	TGZ(outo, 10, 100);
	EXPECT_MSG(open_ab(path, &l, &st), "Archive expands past the limit of 400 bytes");
	/* ... at it, out of order: held, accepted. */
	TGZ(outo, 10, 90);
	CHECK_OK(open_ab(path, &l, &st));
	CHECK(!st);
	/* Over the held entry count (5 entries). */
	l.max_held_total = 1000;
	l.max_held_entries = 4;
	TGZ(in, 1, 1);
	CHECK_OK(open_ab(path, &l, &st));
	CHECK(st);
	TGZ(outo, 1, 1);
	EXPECT_MSG(open_ab(path, &l, &st), "Archive holds more than 4 entries");
	/* Over the held manifest size. */
	l.max_held_entries = 100;
	TGZ(in, 101, 1);
	CHECK_OK(open_ab(path, &l, &st));
	CHECK(st);
	TGZ(outo, 101, 1);
	EXPECT_MSG(open_ab(path, &l, &st),
		   "Unsafe archive entry: manifest.json (larger than the limit of 100 bytes)");
	TGZ(outo, 100, 1);
	CHECK_OK(open_ab(path, &l, &st));

	/* The caps of a streamed .tar.gz, at their boundary: 150 + 4 x 10 = 190 bytes. */
	tfa_archive_limits_default(&l);
	l.max_held_entries = l.max_held_manifest = l.max_held_total = 1;
	TGZ(in, 150, 10);
	l.max_total = 190;
	l.max_entries = 5;
	l.max_manifest = 150;
	l.max_file = 10;
	CHECK_OK(open_ab(path, &l, &st));
	CHECK(st);
	l.max_total = 189;
	EXPECT_MSG(open_ab(path, &l, &st), "Archive expands past the limit of 189 bytes");
	l.max_total = 190;
	l.max_entries = 4;
	EXPECT_MSG(open_ab(path, &l, &st), "Archive holds more than 4 entries");
	l.max_entries = 5;
	l.max_manifest = 149;
	EXPECT_MSG(open_ab(path, &l, &st),
		   "Unsafe archive entry: manifest.json (larger than the limit of 149 bytes)");
	l.max_manifest = 150;
	l.max_file = 9;
	EXPECT_MSG(open_ab(path, &l, &st), "larger than the limit of 9 bytes");
#undef TGZ

	/* A zip from a file is streamed, but held to the held caps. */
	{
		zent z[5];

		for (int i = 0; i < 5; i++)
			z[i] = (zent){in[i], big, i == 0 ? 10 : 100, 8, NULL, 0, 0, 0, 0, NULL};
		tfa_archive_limits_default(&l);
		l.max_held_total = 400;
		begin();
		zip_build(&ab, z, 5, NULL, NULL, 0);
		EXPECT_MSG(open_ab(path, &l, &st), "Archive expands past the limit of 400 bytes");
		l.max_held_total = 410;
		CHECK_OK(open_ab(path, &l, &st));
		CHECK(st);
		l.max_held_entries = 4;
		EXPECT_MSG(open_ab(path, &l, &st), "Archive holds more than 4 entries");
	}
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

/*
 * What a streamed .tar.gz holds stays bounded: past 4,096 entries outside
 * artifacts/, or 65,536 runs of seqs of one kind, it is held whole instead
 * (and so has the held caps).
 */
static void test_stream_bounds(void)
{
	char *dir = tfa_test_tmpdir();
	char *path = tfa_test_path(dir, "a");
	tfa_archive_limits l;
	bool st;
	char name[128];

	tfa_archive_limits_default(&l);
	for (unsigned extra = 0; extra < 2; extra++) {
		/* manifest.json and 4,095 (4,096) keys/ files. */
		begin();
		tar_add(&tb, M, "{}", 2, NULL);
		tar_add(&tb, A1, "", 0, NULL);
		for (unsigned i = 0; i < TFA_ARCHIVE_STREAM_MAX_OTHER - 1 + extra; i++) {
			snprintf(name, sizeof(name), "keys/%064x.pem", i);
			tar_add(&tb, name, "", 0, NULL);
		}
		tgz_done(2);
		CHECK_OK(open_ab(path, &l, &st));
		CHECK(st == (extra == 0));
		/* Held, the held caps apply. */
		l.max_held_entries = TFA_ARCHIVE_STREAM_MAX_OTHER + 1;
		if (extra == 0)
			CHECK_OK(open_ab(path, &l, &st));
		else
			EXPECT_MSG(open_ab(path, &l, &st), "Archive holds more than 4097 entries");
		tfa_archive_limits_default(&l);
	}
	for (unsigned extra = 0; extra < 2; extra++) {
		/* 65,536 (65,537) runs of .json seqs, each one seq long, and one .sig. */
		begin();
		tar_add(&tb, M, "{}", 2, NULL);
		for (unsigned i = 0; i < TFA_ARCHIVE_STREAM_MAX_RUNS + extra; i++) {
			snprintf(name, sizeof(name), "artifacts/%012u.json", 2 * i + 1);
			tar_add(&tb, name, "", 0, NULL);
		}
		tar_add(&tb, "artifacts/999999999999.sig", "", 0, NULL);
		tgz_done(2);
		CHECK_OK(open_ab(path, &l, &st));
		CHECK(st == (extra == 0));
	}
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

/*
 * With the default caps, a streamed .tar.gz of more entries than the held
 * caps allow (1,000,003: manifest.json and 500,001 records) is read, holding
 * only manifest.json's entry: the tar (512 MB) is written through gzwrite,
 * never held by the test either.
 */
static void test_many_entries(void)
{
	char *dir = tfa_test_tmpdir();
	char *path = tfa_test_path(dir, "big.tar.gz");
	uint8_t *stage = malloc(1u << 20);
	out o = {stage, 0};
	gzFile gz = gzopen(path, "wb1");
	const uint32_t recs = 500001;
	tfa_archive *ar = NULL;
	char name[64];
	int fd;

	CHECK(gz != NULL && stage != NULL);
	if (gz == NULL || stage == NULL)
		goto out;
	tar_add(&o, M, "{}", 2, NULL);
	for (uint32_t i = 1; i <= recs; i++) {
		for (int k = 0; k < 2; k++) {
			snprintf(name, sizeof(name), "artifacts/%012u.%s", i, k ? "sig" : "json");
			tar_add(&o, name, "", 0, NULL);
		}
		if (o.n > (1u << 20) - 4096) {
			CHECK(gzwrite(gz, stage, (unsigned)o.n) == (int)o.n);
			o.n = 0;
		}
	}
	tar_end(&o, 2);
	CHECK(gzwrite(gz, stage, (unsigned)o.n) == (int)o.n);
	CHECK(gzclose(gz) == Z_OK);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_OK(tfa_archive_open_fd(&ar, fd, "big.tar.gz", NULL));
	CHECK(ar != NULL && ar->streamed && ar->n == 1 && ar->nart == 2 * (uint64_t)recs);
	CHECK(ar != NULL && ar->nruns[0] == 1 && ar->nruns[1] == 1);
	tfa_archive_free(ar);
	close(fd);
out:
	free(stage);
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

/* The number written just before word, at or after *p (commas skipped); *p moves past word. */
static uint64_t doc_number(const char **p, const char *word)
{
	const char *w = *p ? strstr(*p, word) : NULL, *q;
	uint64_t v = 0, scale = 1;

	if (w == NULL) {
		*p = NULL;
		return 0;
	}
	*p = w + strlen(word);
	for (q = w; q > w - 40 && q[-1] == ' '; q--)
		;
	for (; (q[-1] >= '0' && q[-1] <= '9') || q[-1] == ','; q--)
		if (q[-1] != ',') {
			v += (uint64_t)(q[-1] - '0') * scale;
			scale *= 10;
		}
	return v;
}

/* The default caps are the numbers of R-5.3-3's row in docs/FORMAT.md's rule index. */
static void test_caps_documented(void)
{
	const char *src = getenv("TFA_SOURCE_DIR");
	char dir[4096], *doc, *end;
	const char *p;
	size_t len;
	tfa_archive_limits l;

	tfa_archive_limits_default(&l);
	CHECK(l.max_entries == 16000000u && l.max_file == (8u << 20) &&
	      l.max_manifest == (uint64_t)2 << 30 && l.max_total == (uint64_t)256 << 30);
	CHECK(l.max_held_entries == 1000000u && l.max_held_manifest == (uint64_t)256 << 20 &&
	      l.max_held_total == (uint64_t)1 << 30);
	CHECK(TFA_ARCHIVE_MAX_MANIFEST == TFA_MANIFEST_MAX_BYTES);
	snprintf(dir, sizeof(dir), "%s/docs", src ? src : ".");
	doc = tfa_test_get_file(dir, "FORMAT.md", &len);
	p = strstr(doc, "\n| R-5.3-3 |");
	CHECK(p != NULL);
	if (p != NULL && (end = strchr(p + 1, '\n')) != NULL)
		*end = '\0';
	CHECK(doc_number(&p, " entries") == l.max_entries);
	CHECK(doc_number(&p, " MiB a file") << 20 == l.max_file);
	CHECK(doc_number(&p, " GiB the manifest") << 30 == l.max_manifest);
	CHECK(doc_number(&p, " GiB in all") << 30 == l.max_total);
	CHECK(doc_number(&p, "held caps") == 0 && p != NULL);
	CHECK(doc_number(&p, " entries") == l.max_held_entries);
	CHECK(doc_number(&p, " MiB the manifest") << 20 == l.max_held_manifest);
	CHECK(doc_number(&p, " GiB in all") << 30 == l.max_held_total);
	/* The zip file bound the reader applies is the one the row states. */
	CHECK(doc_number(&p, " bytes") == TFA_ARCHIVE_ZIP_FILE_MAX(l.max_held_total));
	CHECK(p != NULL);
	free(doc);
}

static void test_cleanup(void)
{
	free(g_tar);
	free(g_buf);
	g_tar = g_buf = NULL;
}

TFA_TEST_MAIN(T(test_valid), T(test_tar_rules), T(test_gzip_rules), T(test_zip_rules), T(test_caps),
	      T(test_bomb), T(test_damaged), T(test_fd), T(test_mem_fd_agree), T(test_streamed),
	      T(test_verify_demo), T(test_held_caps), T(test_stream_bounds), T(test_many_entries),
	      T(test_caps_documented), T(test_cleanup))
