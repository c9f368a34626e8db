/*
 * Tests for the bundle archive reader: every entry rule, built with
 * libarchive's writer, and the committed example bundle verified as an
 * archive held in memory (intact, tampered, with an extra or missing entry).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "bundle_archive.h"
#include "tfa_test.h"
#include "verify_int.h"

enum { F_TGZ, F_TAR, F_ZIP };

typedef struct ent {
	const char *path;
	unsigned type; /* AE_IF*; 0 = AE_IFREG */
	const char *data;
	size_t size; /* 0: strlen(data) */
	const char *hardlink, *symlink;
} ent;

static uint8_t *g_buf;
#define BUF_MAX (8u << 20)

/* Builds an archive of ents into g_buf; returns its length. */
static size_t build(int fmt, const ent *e, size_t n)
{
	struct archive *a = archive_write_new();
	size_t used = 0;

	if (g_buf == NULL)
		g_buf = malloc(BUF_MAX);
	if (fmt == F_ZIP)
		archive_write_set_format_zip(a);
	else
		archive_write_set_format_pax_restricted(a);
	if (fmt == F_TGZ)
		archive_write_add_filter_gzip(a);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open_memory(a, g_buf, BUF_MAX, &used) != ARCHIVE_OK) {
		fprintf(stderr, "cannot open the writer: %s\n", archive_error_string(a));
		exit(2);
	}
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		size_t size = e[i].data ? (e[i].size ? e[i].size : strlen(e[i].data)) : 0;
		unsigned type = e[i].type ? e[i].type : AE_IFREG;

		archive_entry_set_pathname(ae, e[i].path);
		archive_entry_set_filetype(ae, type);
		archive_entry_set_perm(ae, type == AE_IFDIR ? 0755 : 0444);
		if (e[i].hardlink)
			archive_entry_set_hardlink(ae, e[i].hardlink);
		if (e[i].symlink)
			archive_entry_set_symlink(ae, e[i].symlink);
		if (type == AE_IFCHR)
			archive_entry_set_rdev(ae, 0x0103);
		archive_entry_set_size(ae, type == AE_IFREG ? (la_int64_t)size : 0);
		archive_entry_set_mtime(ae, 1700000000, 0);
		if (archive_write_header(a, ae) < ARCHIVE_WARN) {
			fprintf(stderr, "cannot write %s: %s\n", e[i].path, archive_error_string(a));
			exit(2);
		}
		if (type == AE_IFREG && size > 0 && !e[i].hardlink)
			archive_write_data(a, e[i].data, size);
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
	return used;
}

static void small_limits(tfa_archive_limits *l)
{
	tfa_archive_limits_default(l);
	l->max_entries = 8;
	l->max_file = 100;
	l->max_manifest = 200;
	l->max_total = 400;
}

/* The archive is rejected with TFA_EVERIFY and a message holding want. */
static void expect_reject(int fmt, const ent *e, size_t n, const tfa_archive_limits *lim,
			  const char *want, int line)
{
	tfa_archive *ar = (tfa_archive *)1;
	size_t len = build(fmt, e, n);
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_archive_load_mem(&ar, g_buf, len, lim);
	if (rc != TFA_EVERIFY || strstr(tfa_error_last()->message, want) == NULL || ar != NULL) {
		fprintf(stderr, "line %d (format %d): got %s (%s), wanted EVERIFY with \"%s\"\n", line,
			fmt, tfa_err_name(rc), tfa_error_last()->message, want);
		tfa_test_failures++;
	}
	if (rc == TFA_OK)
		tfa_archive_free(ar);
}

#define REJECT(fmt, want, ...)                                                                     \
	do {                                                                                       \
		const ent e_[] = { __VA_ARGS__ };                                                  \
		expect_reject((fmt), e_, sizeof(e_) / sizeof(e_[0]), NULL, (want), __LINE__);      \
	} while (0)
#define REJECT_LIM(fmt, lim, want, ...)                                                            \
	do {                                                                                       \
		const ent e_[] = { __VA_ARGS__ };                                                  \
		expect_reject((fmt), e_, sizeof(e_) / sizeof(e_[0]), (lim), (want), __LINE__);     \
	} while (0)

static void test_valid(void)
{
	const ent e[] = {
		{ "manifest.json", 0, "{}", 0, NULL, NULL },
		{ "artifacts/", AE_IFDIR, NULL, 0, NULL, NULL },
		{ "artifacts/b.json", 0, "bbb", 0, NULL, NULL },
		{ "artifacts/a.json", 0, "", 0, NULL, NULL },
		{ "VERIFY.md", 0, "read me", 0, NULL, NULL },
	};
	const int fmts[] = { F_TGZ, F_TAR, F_ZIP };

	for (size_t f = 0; f < 3; f++) {
		tfa_archive *ar = NULL;
		const tfa_archive_entry *x;
		size_t len = build(fmts[f], e, 5);

		CHECK_OK(tfa_archive_load_mem(&ar, g_buf, len, NULL));
		if (ar == NULL)
			continue;
		CHECK(ar->n == 5);
		/* Sorted by byte order, directories without their trailing '/'. */
		CHECK_STREQ(ar->e[0].path, "VERIFY.md");
		CHECK_STREQ(ar->e[1].path, "artifacts");
		CHECK(ar->e[1].dir);
		CHECK_STREQ(ar->e[2].path, "artifacts/a.json");
		CHECK(ar->e[2].size == 0);
		x = tfa_archive_find(ar, "artifacts/b.json");
		CHECK(x != NULL && x->size == 3 && memcmp(x->data, "bbb", 3) == 0);
		CHECK(tfa_archive_find(ar, "artifacts/") == NULL);
		CHECK(tfa_archive_find(ar, "nope") == NULL);
		CHECK(ar->total == 2 + 3 + 7);
		tfa_archive_free(ar);
	}
	tfa_archive_free(NULL);
}

static void test_entry_types(void)
{
	for (int f = F_TGZ; f <= F_TAR; f++) {
		REJECT(f, "symlink)", { "manifest.json", AE_IFLNK, NULL, 0, NULL, "/etc/passwd" });
		REJECT(f, "hard link)", { "a", 0, "x", 0, NULL, NULL },
		       { "b", 0, NULL, 0, "a", NULL });
		REJECT(f, "device)", { "dev", AE_IFCHR, NULL, 0, NULL, NULL });
		REJECT(f, "device)", { "dev", AE_IFBLK, NULL, 0, NULL, NULL });
		REJECT(f, "FIFO)", { "fifo", AE_IFIFO, NULL, 0, NULL, NULL });
	}
	REJECT(F_ZIP, "symlink)", { "manifest.json", AE_IFLNK, NULL, 0, NULL, "../x" });
	/* The message names the entry. */
	REJECT(F_TGZ, "Unsafe archive entry: artifacts/1.sig (symlink)",
	       { "artifacts/1.sig", AE_IFLNK, NULL, 0, NULL, "x" });
	CHECK_STREQ(tfa_archive_rejected_entry(), "artifacts/1.sig");
}

static void octal(uint8_t *p, size_t n, uint64_t v)
{
	char tmp[24];

	snprintf(tmp, sizeof(tmp), "%0*llo", (int)n - 1, (unsigned long long)v);
	memcpy(p, tmp, n - 1);
	p[n - 1] = '\0';
}

static void test_sparse(void)
{
	/* An old GNU sparse entry (type 'S'): 10 bytes of data standing for a 1 MiB file. */
	uint8_t *t = g_buf;
	unsigned sum = 0;
	tfa_archive *ar = NULL;

	if (g_buf == NULL)
		g_buf = t = malloc(BUF_MAX);
	memset(t, 0, 512 * 4);
	memcpy(t, "artifacts/000000000001.json", 27);
	octal(t + 100, 8, 0444);
	octal(t + 108, 8, 0);
	octal(t + 116, 8, 0);
	octal(t + 124, 12, 10);
	octal(t + 136, 12, 1700000000);
	t[156] = 'S';
	memcpy(t + 257, "ustar  ", 8);
	octal(t + 386, 12, (1u << 20) - 10); /* the one data run: at the end of the file */
	octal(t + 398, 12, 10);
	octal(t + 483, 12, 1u << 20); /* the size it stands for */
	memset(t + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += t[i];
	octal(t + 148, 7, sum);
	memcpy(t + 512, "0123456789", 10);
	CHECK_RC(tfa_archive_load_mem(&ar, g_buf, 512 * 4, NULL), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message,
		     "Unsafe archive entry: artifacts/000000000001.json (sparse file)") != NULL);
	CHECK(ar == NULL);
}

static void test_names(void)
{
	for (int f = F_TGZ; f <= F_ZIP; f++) {
		REJECT(f, "absolute path)", { "/etc/cron.d/x", 0, "x", 0, NULL, NULL });
		REJECT(f, "'..' component)", { "../manifest.json", 0, "x", 0, NULL, NULL });
		REJECT(f, "'..' component)", { "artifacts/../../x", 0, "x", 0, NULL, NULL });
		REJECT(f, "'..' component)", { "a/..", AE_IFDIR, NULL, 0, NULL, NULL });
		REJECT(f, "'.' component)", { "./manifest.json", 0, "x", 0, NULL, NULL });
		REJECT(f, "'.' component)", { "a/./b", 0, "x", 0, NULL, NULL });
		REJECT(f, "empty path component)", { "a//b", 0, "x", 0, NULL, NULL });
		/* Readers take a file whose name ends in '/' for a directory: one with data. */
		REJECT(f, "Unsafe archive entry: a/ (directory with data)", { "a/", 0, "x", 0, NULL, NULL });
		if (f != F_ZIP) {
			REJECT(f, "backslash in name)", { "artifacts\\1.json", 0, "x", 0, NULL, NULL });
			REJECT(f, "backslash in name)", { "..\\..\\x", 0, "x", 0, NULL, NULL });
		} else {
			/* zip readers (libarchive, unzip) turn '\\' into '/': the rules apply after that. */
			tfa_archive *ar = NULL;
			const ent e[] = { { "artifacts\\1.json", 0, "x", 0, NULL, NULL } };
			size_t len = build(f, e, 1);
			CHECK_OK(tfa_archive_load_mem(&ar, g_buf, len, NULL));
			CHECK(ar != NULL && ar->n == 1 && strcmp(ar->e[0].path, "artifacts/1.json") == 0);
			tfa_archive_free(ar);
			REJECT(f, "'..' component)", { "..\\..\\x", 0, "x", 0, NULL, NULL });
		}
		REJECT(f, "control character in name)", { "a\nb", 0, "x", 0, NULL, NULL });
		REJECT(f, "nested too deeply)", { "1/2/3/4/5/6/7/8/9/10", 0, "x", 0, NULL, NULL });
		/* The message never carries the control character itself. */
		REJECT(f, "Unsafe archive entry: a?b (", { "a\033b", 0, "x", 0, NULL, NULL });
	}
	{
		char longname[TFA_ARCHIVE_NAME_MAX + 2];
		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		REJECT(F_TGZ, "name too long)", { longname, 0, "x", 0, NULL, NULL });
	}
}

static void test_duplicates(void)
{
	for (int f = F_TGZ; f <= F_ZIP; f++) {
		REJECT(f, "Unsafe archive entry: manifest.json (duplicate entry)",
		       { "manifest.json", 0, "{}", 0, NULL, NULL },
		       { "VERIFY.md", 0, "x", 0, NULL, NULL },
		       { "manifest.json", 0, "{\"a\":1}", 0, NULL, NULL });
		REJECT(f, "(duplicate entry)", { "d/", AE_IFDIR, NULL, 0, NULL, NULL },
		       { "d/x", 0, "x", 0, NULL, NULL }, { "d", AE_IFDIR, NULL, 0, NULL, NULL });
		REJECT(f, "Unsafe archive entry: a (both a file and a directory)",
		       { "a", 0, "x", 0, NULL, NULL }, { "a/b", 0, "y", 0, NULL, NULL });
		/* A directory entry and a file of the same name is a duplicate name. */
		REJECT(f, "(duplicate entry)", { "a/", AE_IFDIR, NULL, 0, NULL, NULL },
		       { "a", 0, "y", 0, NULL, NULL });
	}
}

static void test_caps(void)
{
	tfa_archive_limits l;
	char big[300];
	tfa_archive *ar = NULL;
	size_t len;

	small_limits(&l);
	memset(big, 'x', sizeof(big));
	for (int f = F_TGZ; f <= F_ZIP; f++) {
		/* One file over the per-file cap; manifest.json has its own, larger cap. */
		REJECT_LIM(f, &l, "Unsafe archive entry: a (larger than the limit of 100 bytes)",
			   { "a", 0, big, 101, NULL, NULL });
		CHECK_STREQ(tfa_archive_rejected_entry(), "a");
		REJECT_LIM(f, &l, "manifest.json (larger than the limit of 200 bytes)",
			   { "manifest.json", 0, big, 201, NULL, NULL });
		REJECT_LIM(f, &l, "Archive holds more than 8 entries", { "1", 0, "x", 0, NULL, NULL },
			   { "2", 0, "x", 0, NULL, NULL }, { "3", 0, "x", 0, NULL, NULL },
			   { "4", 0, "x", 0, NULL, NULL }, { "5", 0, "x", 0, NULL, NULL },
			   { "6", AE_IFDIR, NULL, 0, NULL, NULL }, { "7", 0, "x", 0, NULL, NULL },
			   { "8", 0, "x", 0, NULL, NULL }, { "9", 0, "x", 0, NULL, NULL });
		/* Each within its cap, together over the total: a bomb of many small files. */
		/* Many long names, no data: the names are capped too. */
		{
			tfa_archive_limits m = l;
			m.max_meta = 3 * sizeof(tfa_archive_entry) + 40;
			REJECT_LIM(f, &m, "Archive names take more than",
				   { "dddddddddddddddddddd", AE_IFDIR, NULL, 0, NULL, NULL },
				   { "eeeeeeeeeeeeeeeeeeee", AE_IFDIR, NULL, 0, NULL, NULL },
				   { "ffffffffffffffffffff", AE_IFDIR, NULL, 0, NULL, NULL });
		}
		REJECT_LIM(f, &l, "Archive expands past the limit of 400 bytes",
			   { "manifest.json", 0, big, 200, NULL, NULL },
			   { "a", 0, big, 100, NULL, NULL }, { "b", 0, big, 100, NULL, NULL },
			   { "c", 0, big, 1, NULL, NULL });
	}
	/* At the caps exactly: accepted. */
	{
		const ent e[] = { { "manifest.json", 0, big, 200, NULL, NULL },
				  { "a", 0, big, 100, NULL, NULL },
				  { "b", 0, big, 100, NULL, NULL } };
		len = build(F_TGZ, e, 3);
		CHECK_OK(tfa_archive_load_mem(&ar, g_buf, len, &l));
		CHECK(ar != NULL && ar->total == 400);
		tfa_archive_free(ar);
	}
}

/* A gzip bomb: one entry declaring 64 MiB of zeros, over the default 8 MiB file cap. */
static void test_bomb(void)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();
	static uint8_t zeros[1 << 16];
	size_t used = 0;
	tfa_archive *ar = NULL;

	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_gzip(a);
	CHECK(archive_write_open_memory(a, g_buf, BUF_MAX, &used) == ARCHIVE_OK);
	archive_entry_set_pathname(ae, "artifacts/000000000001.json");
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_size(ae, 64 << 20);
	CHECK(archive_write_header(a, ae) == ARCHIVE_OK);
	for (int i = 0; i < 1024; i++)
		archive_write_data(a, zeros, sizeof(zeros));
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(ae);
	CHECK(used < (1u << 20)); /* it is a bomb: well under 1 MiB compressed */
	CHECK_RC(tfa_archive_load_mem(&ar, g_buf, used, NULL), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "larger than the limit of 8388608 bytes") != NULL);
	CHECK(ar == NULL);
}

static void test_damaged(void)
{
	const ent e[] = { { "manifest.json", 0, "{\"a\":\"0123456789012345678901234567890123456789\"}", 0,
			    NULL, NULL },
			  { "VERIFY.md", 0, "read me, read me, read me", 0, NULL, NULL } };
	tfa_archive *ar = NULL;
	size_t len;
	const int fmts[] = { F_TGZ, F_TAR, F_ZIP };

	for (size_t f = 0; f < 3; f++) {
		len = build(fmts[f], e, 2);
		/* Cut anywhere before the end: never accepted as a shorter archive with the same entries. */
		for (size_t cut = 1; cut < len; cut += (len / 23) + 1) {
			tfa_err rc = tfa_archive_load_mem(&ar, g_buf, cut, NULL);
			if (rc == TFA_OK) {
				/*
				 * A plain tar cut in its end-of-archive blocks, or right
				 * after an entry, reads as the entries before the cut:
				 * each of them whole, never a shortened file.
				 */
				CHECK(fmts[f] == F_TAR);
				for (size_t k = 0; k < 2; k++) {
					const tfa_archive_entry *x = tfa_archive_find(ar, e[k].path);
					CHECK(x == NULL || x->size == strlen(e[k].data));
				}
				tfa_archive_free(ar);
				continue;
			}
			CHECK(rc == TFA_EVERIFY);
			CHECK(ar == NULL);
		}
	}
	/* A gzip stream cut short: a clear message. */
	len = build(F_TGZ, e, 2);
	CHECK_RC(tfa_archive_load_mem(&ar, g_buf, len / 2, NULL), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "Archive") != NULL);
	/* Flipped compressed bytes. */
	len = build(F_TGZ, e, 2);
	for (size_t i = 20; i < len - 8; i++)
		g_buf[i] ^= 0x5a;
	CHECK_RC(tfa_archive_load_mem(&ar, g_buf, len, NULL), TFA_EVERIFY);
	/* Garbage and nothing. */
	memset(g_buf, 'A', 4096);
	CHECK_RC(tfa_archive_load_mem(&ar, g_buf, 4096, NULL), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "Archive unreadable") != NULL);
	CHECK_STREQ(tfa_archive_rejected_entry(), "");
	CHECK_RC(tfa_archive_load_mem(&ar, g_buf, 0, NULL), TFA_EVERIFY);
	CHECK_RC(tfa_archive_load_mem(NULL, g_buf, 0, NULL), TFA_EUSAGE);
	/* A tar header with a bad checksum. */
	len = build(F_TAR, e, 2);
	g_buf[148] ^= 1;
	CHECK_RC(tfa_archive_load_mem(&ar, g_buf, len, NULL), TFA_EVERIFY);
}

/* The example bundle, packed from its directory into an archive. */
static const char *const demo_files[] = {
	"manifest.json", "manifest.sig", "VERIFY.md",
	"artifacts/000000000001.json", "artifacts/000000000001.sig",
	"artifacts/000000000002.json", "artifacts/000000000002.sig",
	"artifacts/000000000003.json", "artifacts/000000000003.sig",
	"artifacts/000000000004.json", "artifacts/000000000004.sig",
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

/* Packs the demo bundle with one file replaced (data NULL: left out) and optional extras. */
static size_t pack_demo(int fmt, const char *swap, const char *data, const ent *extra, size_t nextra)
{
	char dir[4096];
	ent e[NDEMO + 4];
	char *bufs[NDEMO];
	size_t n = 0, len;
	const char *src = getenv("TFA_SOURCE_DIR");

	snprintf(dir, sizeof(dir), "%s/examples/demo", src ? src : ".");
	for (size_t i = 0; i < NDEMO; i++) {
		size_t sz;
		bufs[i] = tfa_test_get_file(dir, demo_files[i], &sz);
		if (swap && strcmp(swap, demo_files[i]) == 0) {
			if (data == NULL)
				continue;
			e[n++] = (ent){ demo_files[i], 0, data, 0, NULL, NULL };
			continue;
		}
		e[n++] = (ent){ demo_files[i], 0, bufs[i], sz ? sz : 1, NULL, NULL };
	}
	for (size_t i = 0; i < nextra; i++)
		e[n++] = extra[i];
	len = build(fmt, e, n);
	for (size_t i = 0; i < NDEMO; i++)
		free(bufs[i]);
	return len;
}

static tfa_err verify_mem(size_t len, tfa_verify_report *r, lines *l)
{
	tfa_verify_opts o;

	memset(&o, 0, sizeof(o));
	memset(l, 0, sizeof(*l));
	o.line = on_line;
	o.ud = l;
	o.threads = 2;
	return tfa_verify_archive_mem(r, g_buf, len, &o, NULL);
}

static void test_verify_demo(void)
{
	tfa_verify_report r;
	lines l;
	const ent extra_file[] = { { "notes.txt", 0, "x", 0, NULL, NULL } };
	const ent extra_dir[] = { { "empty/", AE_IFDIR, NULL, 0, NULL, NULL } };
	const ent bad_sym[] = { { "artifacts/x", AE_IFLNK, NULL, 0, NULL, "../../etc" } };

	for (int f = F_TGZ; f <= F_ZIP; f++) {
		CHECK_OK(verify_mem(pack_demo(f, NULL, NULL, NULL, 0), &r, &l));
		CHECK(r.artifacts == 4 && r.files == 10 && l.success == 5);

		CHECK_RC(verify_mem(pack_demo(f, "artifacts/000000000002.json", "{}", NULL, 0), &r, &l),
			 TFA_EVERIFY);
		CHECK(r.failed_layer == TFA_LAYER_FILES);
		CHECK_STREQ(l.last_error, "Hash mismatch for artifacts/000000000002.json (seq 2)");

		CHECK_RC(verify_mem(pack_demo(f, "artifacts/000000000003.sig", NULL, NULL, 0), &r, &l),
			 TFA_EVERIFY);
		CHECK_STREQ(l.last_error, "Missing file: artifacts/000000000003.sig");

		CHECK_RC(verify_mem(pack_demo(f, NULL, NULL, extra_file, 1), &r, &l), TFA_EVERIFY);
		CHECK_STREQ(l.last_error, "File not listed in manifest: notes.txt");

		CHECK_RC(verify_mem(pack_demo(f, NULL, NULL, extra_dir, 1), &r, &l), TFA_EVERIFY);
		CHECK_STREQ(l.last_error, "Empty directory in bundle: empty");
		CHECK_STREQ(r.failed_file, "empty");

		CHECK_RC(verify_mem(pack_demo(f, "manifest.sig", NULL, NULL, 0), &r, &l), TFA_EVERIFY);
		CHECK(r.failed_layer == TFA_LAYER_MANIFEST);

		/* An unsafe entry fails before layer 1 is judged, reported as layer 1. */
		CHECK_RC(verify_mem(pack_demo(f, NULL, NULL, bad_sym, 1), &r, &l), TFA_EVERIFY);
		CHECK(r.failed_layer == TFA_LAYER_MANIFEST);
		CHECK_STREQ(l.last_error, "Unsafe archive entry: artifacts/x (symlink)");
		CHECK_STREQ(r.failed_file, "artifacts/x");
		CHECK(l.success == 0);
	}
}

static void test_cleanup(void)
{
	free(g_buf);
	g_buf = NULL;
}

TFA_TEST_MAIN(T(test_valid), T(test_entry_types), T(test_sparse), T(test_names),
	      T(test_duplicates), T(test_caps), T(test_bomb), T(test_damaged), T(test_verify_demo),
	      T(test_cleanup))
