/* Tests for bundle-relative path checks and the no-symlink opener. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/bundle_path.h"
#include "format/pathsafe.h"
#include "tfa_test.h"

static void expect_ok_n(const char *p, size_t len, int line)
{
	tfa_err rc = tfa_path_check(p, len);

	if (rc != TFA_OK) {
		fprintf(stderr, "line %d: \"%.*s\" rejected: %s\n", line, (int)len, p,
			tfa_error_last()->message);
		tfa_test_failures++;
	}
}

static void expect_bad_n(const char *p, size_t len, const char *msg, int line)
{
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_path_check(p, len);
	if (rc != TFA_EVERIFY || strstr(tfa_error_last()->message, msg) == NULL) {
		fprintf(stderr, "line %d: \"%.*s\": got %s (%s), wanted EVERIFY with \"%s\"\n",
			line, (int)len, p, tfa_err_name(rc), tfa_error_last()->message, msg);
		tfa_test_failures++;
	}
}

#define OK(p)	    expect_ok_n((p), strlen(p), __LINE__)
#define BAD(p, msg) expect_bad_n((p), strlen(p), (msg), __LINE__)

static void test_accepts_bundle_paths(void)
{
	OK("manifest.json");
	OK("VERIFY.md");
	OK("public_key.pem");
	OK("artifacts/000000000001.json");
	OK("artifacts/000000000001.sig");
	OK("a");
	OK("a.");
	OK("a..b");
	OK("A-Z_a-z.0-9");
	OK("a/b/c/d"); /* the maximum depth */
	OK("-");
	OK("_/_");
}

static void test_rejects_unsafe_paths(void)
{
	BAD("/etc/passwd", "is absolute");
	BAD("/", "is absolute");
	BAD("..", "starting with '.'");
	BAD("../x", "starting with '.'");
	BAD("a/../b", "starting with '.'");
	BAD("a/..", "starting with '.'");
	BAD(".", "starting with '.'");
	BAD("./a", "starting with '.'");
	BAD("a/.", "starting with '.'");
	BAD(".x", "starting with '.'");
	BAD("a/.hidden", "starting with '.'");
	BAD("a//b", "empty component");
	BAD("a/", "empty component");
	BAD("a/b/", "empty component");
	BAD("a\\b", "outside");
	BAD("..\\x", "outside");
	BAD("a b", "outside");
	BAD("a:b", "outside");
	BAD("a*", "outside");
	BAD("caf\xc3\xa9", "outside");
	BAD("a\tb", "outside");
	BAD("a/b/c/d/e", "nested too deeply");
	BAD("a/b/c/d/e/f/g/h", "nested too deeply");
	/* A NUL inside the given length is a character like any other. */
	expect_bad_n("a\0b", 3, "outside", __LINE__);
	expect_bad_n("a\0", 2, "outside", __LINE__);
}

static void test_length_limits(void)
{
	char p[TFA_PATH_MAX_LEN + 2];

	memset(p, 'x', sizeof(p));
	expect_ok_n(p, TFA_PATH_MAX_LEN, __LINE__);
	expect_bad_n(p, TFA_PATH_MAX_LEN + 1, "longer than", __LINE__);
	expect_bad_n(p, 0, "empty", __LINE__);
	expect_bad_n("", 0, "empty", __LINE__);
	/* Only the first len bytes count. */
	expect_ok_n("ab/../c", 2, __LINE__);
	expect_bad_n("ab/../c", 5, "starting with '.'", __LINE__);
}

/* ---- tfa_path_open ------------------------------------------------------------------------ */

static void write_file(const char *dir, const char *rel, const char *text)
{
	char p[4096];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	f = fopen(p, "wb");
	if (f == NULL) {
		fprintf(stderr, "cannot create %s: %s\n", p, strerror(errno));
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

static void in_dir(char *out, size_t cap, const char *dir, const char *rel)
{
	snprintf(out, cap, "%s/%s", dir, rel);
}

static int read_fd(int fd, char *buf, size_t cap)
{
	ssize_t n = read(fd, buf, cap - 1);

	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return (int)n;
}

static void test_open(void)
{
	char *dir = tfa_test_tmpdir(), *outside = tfa_test_tmpdir();
	char p[4096], q[4096], buf[64];
	int root, fd;

	in_dir(p, sizeof(p), dir, "sub");
	CHECK(mkdir(p, 0755) == 0);
	in_dir(p, sizeof(p), dir, "sub/deeper");
	CHECK(mkdir(p, 0755) == 0);
	write_file(dir, "top.txt", "top");
	write_file(dir, "sub/deeper/f.txt", "deep");
	write_file(outside, "secret.txt", "secret");
	/* A symlinked file, a symlinked directory, a FIFO, a directory where a file is wanted. */
	in_dir(p, sizeof(p), outside, "secret.txt");
	in_dir(q, sizeof(q), dir, "link.txt");
	CHECK(symlink(p, q) == 0);
	in_dir(q, sizeof(q), dir, "linkdir");
	CHECK(symlink(outside, q) == 0);
	in_dir(q, sizeof(q), dir, "sub/rel-link");
	CHECK(symlink("../top.txt", q) == 0);
	in_dir(q, sizeof(q), dir, "fifo");
	CHECK(mkfifo(q, 0644) == 0);

	root = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(root >= 0);

	fd = -2;
	CHECK_OK(tfa_path_open(&fd, root, "top.txt"));
	CHECK(fd >= 0 && read_fd(fd, buf, sizeof(buf)) == 3 && strcmp(buf, "top") == 0);
	if (fd >= 0)
		close(fd);
	fd = -2;
	CHECK_OK(tfa_path_open(&fd, root, "sub/deeper/f.txt"));
	CHECK(fd >= 0 && read_fd(fd, buf, sizeof(buf)) == 4 && strcmp(buf, "deep") == 0);
	if (fd >= 0)
		close(fd);

	fd = -2;
	CHECK_RC(tfa_path_open(&fd, root, "missing.txt"), TFA_ENOTFOUND);
	CHECK(fd == -1);
	CHECK_RC(tfa_path_open(&fd, root, "nodir/f.txt"), TFA_ENOTFOUND);
	CHECK_RC(tfa_path_open(&fd, root, "sub/deeper/missing"), TFA_ENOTFOUND);
	CHECK(fd == -1);

	CHECK_RC(tfa_path_open(&fd, root, "link.txt"), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "symlink") != NULL);
	CHECK(fd == -1);
	CHECK_RC(tfa_path_open(&fd, root, "linkdir/secret.txt"), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "symlink") != NULL);
	CHECK_RC(tfa_path_open(&fd, root, "sub/rel-link"), TFA_EVERIFY);
	CHECK_RC(tfa_path_open(&fd, root, "sub"), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "not a regular file") != NULL);
	/* A FIFO must be refused without blocking on open. */
	CHECK_RC(tfa_path_open(&fd, root, "fifo"), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "not a regular file") != NULL);
	/* A file used as a directory. */
	CHECK_RC(tfa_path_open(&fd, root, "top.txt/x"), TFA_EVERIFY);
	CHECK(fd == -1);

	/* No descriptor leaks: the next open gets the lowest free number again. */
	{
		int probe = dup(0), probe2;
		close(probe);
		CHECK_RC(tfa_path_open(&fd, root, "linkdir/secret.txt"), TFA_EVERIFY);
		CHECK_RC(tfa_path_open(&fd, root, "sub/deeper/missing"), TFA_ENOTFOUND);
		CHECK_RC(tfa_path_open(&fd, root, "sub"), TFA_EVERIFY);
		probe2 = dup(0);
		CHECK(probe2 == probe);
		close(probe2);
	}

	close(root);
	tfa_test_rmtree(dir);
	tfa_test_rmtree(outside);
	free(dir);
	free(outside);
}

/* Exactly the bundle path set: the fixed names, 12-digit seq names, 64-hex key names. */
static void test_bundle_path_set(void)
{
	static const char *const ok[] = {
	    "manifest.json",
	    "manifest.sig",
	    "public_key.pem",
	    "VERIFY.md",
	    "checkpoint.ckpt",
	    "exporter_key.pem",
	    "artifacts/000000000001.json",
	    "artifacts/999999999999.sig",
	    "keys/000000000042.json",
	    "keys/000000000042.sig",
	    "keys/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.pem",
	    NULL};
	static const char *const bad[] = {
	    "notes.txt",
	    "extra/x",
	    "verify.md",
	    "manifest.json.bak",
	    "artifacts/000000000000.json",
	    "keys/000000000000.sig",
	    "artifacts/00000000001.json",
	    "artifacts/0000000000001.json",
	    "artifacts/000000000001.pem",
	    "artifacts/000000000001.json.x",
	    "artifacts/x",
	    "keys/000000000001.pem",
	    "keys/0000000000a1.json",
	    "artifacts/00000000000a.json",
	    "keys/0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef.pem",
	    "keys/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde.pem",
	    "keys/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0.pem",
	    "keys/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.json",
	    "artifacts/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.pem",
	    "keys/sub/000000000001.json",
	    "checkpoint.ckpt/x",
	    "exporter_key.pem/x",
	    "keys/exporter_key.pem",
	    "Exporter_key.pem",
	    "",
	    "artifacts/",
	    "keys/",
	    "manifest",
	    "Manifest.json",
	    "./manifest.json",
	    "/manifest.json",
	    "manifest.json/",
	    "artifacts",
	    "artifacts/000000000001.json.bak",
	    "artifacts//000000000001.json",
	    "artifacts/../manifest.json",
	    "artifacts\\000000000001.json",
	    "keys/x/000000000001.json",
	    "public_key.pem ",
	    NULL};

	for (const char *const *p = ok; *p; p++) {
		if (!tfa_bundle_path_allowed(*p)) {
			fprintf(stderr, "\"%s\" rejected\n", *p);
			tfa_test_failures++;
		}
	}
	for (const char *const *p = bad; *p; p++) {
		if (tfa_bundle_path_allowed(*p)) {
			fprintf(stderr, "\"%s\" accepted as a bundle path\n", *p);
			tfa_test_failures++;
		}
	}
	CHECK(!tfa_bundle_path_allowed(NULL));
}

TFA_TEST_MAIN(T(test_accepts_bundle_paths), T(test_rejects_unsafe_paths), T(test_length_limits),
	      T(test_open), T(test_bundle_path_set))
