/* Tests for the store API over the local-directory (fs) backend. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tfa_test.h"
#include "tfattest/store.h"
#include "tfattest/sys/store.h"

static const char meta[] = "{\"chain_id\":\"t\",\"type\":\"tfattest.chain\"}\n";

/* ---- helpers ------------------------------------------------------------------------------ */

static int exists(const char *dir, const char *rel)
{
	char *p = tfa_test_path(dir, rel);
	struct stat st;
	int r = lstat(p, &st) == 0;

	free(p);
	return r;
}

/* A store with a chain in a fresh directory "<tmp>/s"; *dir gets the tmp dir to remove. */
static tfa_store *new_store(char **dir, char **root)
{
	tfa_store *st = NULL;

	*dir = tfa_test_tmpdir();
	*root = tfa_test_path(*dir, "s");
	CHECK_OK(tfa_store_open(&st, *root));
	CHECK(st != NULL);
	CHECK_OK(tfa_store_create_chain(st, (const uint8_t *)meta, sizeof(meta) - 1));
	return st;
}

static void done(tfa_store *st, char *dir, char *root)
{
	tfa_store_free(st);
	tfa_test_rmtree(dir);
	free(dir);
	free(root);
}

static void append_n(tfa_store *st, uint64_t from, uint64_t to)
{
	for (uint64_t s = from; s <= to; s++) {
		char a[64];
		uint8_t sig[3] = {0xde, 0xad, (uint8_t)s};
		snprintf(a, sizeof(a), "{\"seq\":%llu}", (unsigned long long)s);
		CHECK_OK(tfa_store_append(st, s, (const uint8_t *)a, strlen(a), sig, sizeof(sig)));
	}
}

static uint64_t head_of(tfa_store *st)
{
	uint64_t h = 12345;

	CHECK_OK(tfa_store_head(st, &h));
	return h;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_open_uris(void)
{
	tfa_store *st = (tfa_store *)1;
	char *dir = tfa_test_tmpdir(), uri[4200];

	CHECK_RC(tfa_store_open(&st, NULL), TFA_EUSAGE);
	CHECK(st == NULL);
	CHECK_RC(tfa_store_open(&st, ""), TFA_EUSAGE);
	CHECK_RC(tfa_store_open(&st, "fs:"), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "empty") != NULL);
	CHECK_RC(tfa_store_open(&st, "gcs://bucket/prefix"), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "unsupported store URI scheme") != NULL);
	CHECK(st == NULL);
	CHECK_RC(tfa_store_open(NULL, dir), TFA_EUSAGE);

	/* Plain path, fs:PATH and fs://PATH all name the same directory. */
	CHECK_OK(tfa_store_open(&st, dir));
	CHECK_STREQ(tfa_store_backend_name(st), "fs");
	CHECK_OK(tfa_store_create_chain(st, (const uint8_t *)meta, sizeof(meta) - 1));
	tfa_store_free(st);
	snprintf(uri, sizeof(uri), "fs:%s", dir);
	CHECK_OK(tfa_store_open(&st, uri));
	CHECK(head_of(st) == 0);
	tfa_store_free(st);
	snprintf(uri, sizeof(uri), "fs://%s", dir);
	CHECK_OK(tfa_store_open(&st, uri));
	CHECK(head_of(st) == 0);
	tfa_store_free(st);
	tfa_store_free(NULL);
	tfa_test_rmtree(dir);
	free(dir);
}

static void test_no_chain(void)
{
	char *dir = tfa_test_tmpdir(), *root = tfa_test_path(dir, "absent");
	tfa_store *st = NULL;
	tfa_buf a, s;
	uint64_t h;

	tfa_buf_init(&a, 0);
	tfa_buf_init(&s, 0);
	/* Opening does not create anything. */
	CHECK_OK(tfa_store_open(&st, root));
	CHECK(!exists(dir, "absent"));
	CHECK_RC(tfa_store_read_chain(st, &a), TFA_ENOTFOUND);
	CHECK(strstr(tfa_error_last()->message, "holds no chain") != NULL);
	/* It may be an unmounted mount point: what to check, never "init" (a new chain). */
	CHECK(strstr(tfa_error_last()->message, "mounted") != NULL);
	CHECK(strstr(tfa_error_last()->message, "tfattest init") == NULL);
	CHECK_RC(tfa_store_head(st, &h), TFA_ENOTFOUND);
	CHECK_RC(tfa_store_get(st, 1, &a, &s), TFA_ENOTFOUND);
	CHECK_RC(tfa_store_append(st, 1, (const uint8_t *)"{}", 2, (const uint8_t *)"s", 1),
		 TFA_ENOTFOUND);
	CHECK(!exists(dir, "absent"));
	tfa_store_free(st);

	/* An existing empty directory holds no chain either. */
	CHECK_OK(tfa_store_open(&st, dir));
	CHECK_RC(tfa_store_read_chain(st, &a), TFA_ENOTFOUND);
	CHECK(strstr(tfa_error_last()->message, "tfattest init") == NULL);
	CHECK_RC(tfa_store_head(st, &h), TFA_ENOTFOUND);
	tfa_store_free(st);
	tfa_buf_free(&a);
	tfa_buf_free(&s);
	tfa_test_rmtree(dir);
	free(dir);
	free(root);
}

static void test_create_chain_once(void)
{
	char *dir, *root, *p;
	tfa_store *st = new_store(&dir, &root), *st2 = NULL;
	tfa_buf m;
	struct stat sb;

	tfa_buf_init(&m, 0);
	CHECK_OK(tfa_store_read_chain(st, &m));
	CHECK(m.len == sizeof(meta) - 1 && memcmp(m.data, meta, m.len) == 0);
	/* Write-once, also through another handle. */
	CHECK_RC(tfa_store_create_chain(st, (const uint8_t *)"{}", 2), TFA_ECONFLICT);
	CHECK(strstr(tfa_error_last()->message, "already holds a chain") != NULL);
	CHECK_OK(tfa_store_open(&st2, root));
	CHECK_RC(tfa_store_create_chain(st2, (const uint8_t *)"{}", 2), TFA_ECONFLICT);
	tfa_buf_clear(&m);
	CHECK_OK(tfa_store_read_chain(st2, &m));
	CHECK(m.len == sizeof(meta) - 1 && memcmp(m.data, meta, m.len) == 0);
	tfa_store_free(st2);
	/* The metadata file is read-only, and nothing is left in tmp/. */
	p = tfa_test_path(root, "chain.json");
	CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0444);
	free(p);
	CHECK(exists(root, "records") && exists(root, "tmp"));
	CHECK(head_of(st) == 0);
	tfa_buf_free(&m);
	done(st, dir, root);
}

static void test_create_chain_too_large(void)
{
	char *dir = tfa_test_tmpdir(), *root = tfa_test_path(dir, "s");
	tfa_store *st = NULL;
	uint8_t *big = calloc(1, TFA_CHAIN_META_MAX + 1);

	CHECK_OK(tfa_store_open(&st, root));
	CHECK_RC(tfa_store_create_chain(st, big, TFA_CHAIN_META_MAX + 1), TFA_EUSAGE);
	CHECK(!exists(dir, "s"));
	free(big);
	done(st, dir, root);
}

static void test_append_get_head(void)
{
	char *dir, *root;
	tfa_store *st = new_store(&dir, &root), *st2 = NULL;
	tfa_buf a, s;
	static const uint8_t sig[] = {0x00, 0x01, 0xfe, 0xff, 0x0a, 0x0d};
	static const char art[] = "{\"a\":\"b\\n\",\"z\":[1,2]}";

	tfa_buf_init(&a, 0);
	tfa_buf_init(&s, 0);
	CHECK(head_of(st) == 0);
	CHECK_OK(tfa_store_append(st, 1, (const uint8_t *)art, sizeof(art) - 1, sig, sizeof(sig)));
	CHECK(head_of(st) == 1);
	CHECK_OK(tfa_store_get(st, 1, &a, &s));
	CHECK(a.len == sizeof(art) - 1 && memcmp(a.data, art, a.len) == 0);
	CHECK(s.len == sizeof(sig) && memcmp(s.data, sig, s.len) == 0);
	CHECK_RC(tfa_store_get(st, 2, &a, &s), TFA_ENOTFOUND);

	/* get appends to what the buffers hold. */
	tfa_buf_clear(&a);
	tfa_buf_clear(&s);
	CHECK_OK(tfa_buf_puts(&a, "A:"));
	CHECK_OK(tfa_buf_puts(&s, "S"));
	CHECK_OK(tfa_store_get(st, 1, &a, &s));
	CHECK(a.len == 2 + sizeof(art) - 1 && memcmp(a.data, "A:", 2) == 0 &&
	      memcmp(a.data + 2, art, sizeof(art) - 1) == 0);
	CHECK(s.len == 1 + sizeof(sig) && s.data[0] == 'S' &&
	      memcmp(s.data + 1, sig, sizeof(sig)) == 0);

	/* Write-once: the second append of seq 1 conflicts and changes nothing. */
	CHECK_RC(tfa_store_append(st, 1, (const uint8_t *)"{}", 2, sig, 1), TFA_ECONFLICT);
	tfa_buf_clear(&a);
	tfa_buf_clear(&s);
	CHECK_OK(tfa_store_get(st, 1, &a, &s));
	CHECK(a.len == sizeof(art) - 1 && s.len == sizeof(sig));

	append_n(st, 2, 5);
	CHECK(head_of(st) == 5);
	/* Another handle sees the same head and records; the data survives reopening. */
	CHECK_OK(tfa_store_open(&st2, root));
	CHECK(head_of(st2) == 5);
	tfa_buf_clear(&a);
	tfa_buf_clear(&s);
	CHECK_OK(tfa_store_get(st2, 3, &a, &s));
	CHECK(a.len == 9 && memcmp(a.data, "{\"seq\":3}", 9) == 0);
	CHECK(s.len == 3 && s.data[2] == 3);
	append_n(st2, 6, 6);
	CHECK(head_of(st) == 6);
	tfa_store_free(st2);
	/* Nothing is left in tmp/. */
	{
		char *t = tfa_test_path(root, "tmp");
		int n = 0;
		FILE *f;
		char cmd[4300];
		snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", t);
		f = popen(cmd, "r");
		CHECK(f != NULL && fscanf(f, "%d", &n) == 1 && n == 0);
		if (f)
			pclose(f);
		free(t);
	}
	tfa_buf_free(&a);
	tfa_buf_free(&s);
	done(st, dir, root);
}

static void test_bad_arguments(void)
{
	char *dir, *root;
	tfa_store *st = new_store(&dir, &root);
	tfa_buf a, s;
	uint8_t *big;

	tfa_buf_init(&a, 0);
	tfa_buf_init(&s, 0);
	CHECK_RC(tfa_store_get(st, 0, &a, &s), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "start at 1") != NULL);
	CHECK_RC(tfa_store_append(st, 0, (const uint8_t *)"{}", 2, (const uint8_t *)"s", 1),
		 TFA_EUSAGE);
	CHECK_RC(tfa_store_append(st, 1, (const uint8_t *)"{}", 0, (const uint8_t *)"s", 1),
		 TFA_EUSAGE);
	CHECK_RC(tfa_store_append(st, 1, (const uint8_t *)"{}", 2, (const uint8_t *)"s", 0),
		 TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "invalid size") != NULL);
	CHECK_RC(tfa_store_append(st, 1, (const uint8_t *)"{\n}", 3, (const uint8_t *)"s", 1),
		 TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "newline") != NULL);
	CHECK_RC(tfa_store_append(st, UINT64_C(1000000000000), (const uint8_t *)"{}", 2,
				  (const uint8_t *)"s", 1),
		 TFA_EUSAGE);
	CHECK_RC(tfa_store_get(st, UINT64_C(1000000000000), &a, &s), TFA_ENOTFOUND);
	big = calloc(1, TFA_RECORD_MAX);
	memset(big, 'x', TFA_RECORD_MAX);
	CHECK_RC(tfa_store_append(st, 1, big, TFA_RECORD_MAX, (const uint8_t *)"s", 1), TFA_EUSAGE);
	free(big);
	/* None of that created a record. */
	CHECK(head_of(st) == 0);
	CHECK(a.len == 0 && s.len == 0);
	tfa_buf_free(&a);
	tfa_buf_free(&s);
	done(st, dir, root);
}

static void test_largest_seq(void)
{
	char *dir, *root;
	tfa_store *st = new_store(&dir, &root);
	tfa_buf a, s;

	tfa_buf_init(&a, 0);
	tfa_buf_init(&s, 0);
	CHECK_OK(tfa_store_append(st, UINT64_C(999999999999), (const uint8_t *)"{}", 2,
				  (const uint8_t *)"s", 1));
	CHECK(exists(root, "records/999999999999.rec"));
	CHECK_OK(tfa_store_get(st, UINT64_C(999999999999), &a, &s));
	CHECK(head_of(st) == UINT64_C(999999999999));
	tfa_buf_free(&a);
	tfa_buf_free(&s);
	done(st, dir, root);
}

static void test_head_hint_is_only_a_hint(void)
{
	char *dir, *root;
	tfa_store *st = new_store(&dir, &root);

	append_n(st, 1, 4);
	CHECK(head_of(st) == 4);
	/* A hint past the records. */
	tfa_test_put_file(root, "HEAD", "99\n", 3);
	CHECK(head_of(st) == 4);
	/* A lost hint. */
	tfa_test_put_file(root, "HEAD", "", 0);
	CHECK(head_of(st) == 4);
	{
		char *p = tfa_test_path(root, "HEAD");
		unlink(p);
		free(p);
	}
	CHECK(head_of(st) == 4);
	/* A stale hint, behind the records. */
	tfa_test_put_file(root, "HEAD", "2\n", 2);
	CHECK(head_of(st) == 4);
	/* Garbage. */
	tfa_test_put_file(root, "HEAD", "4x\n", 3);
	CHECK(head_of(st) == 4);
	tfa_test_put_file(root, "HEAD", "-1\n", 3);
	CHECK(head_of(st) == 4);
	tfa_test_put_file(root, "HEAD", "4", 1); /* no newline */
	CHECK(head_of(st) == 4);
	tfa_test_put_file(root, "HEAD", "99999999999999999999999\n", 24);
	CHECK(head_of(st) == 4);
	/* A hint written by head itself is right next time. */
	{
		char buf[32] = "";
		char *p = tfa_test_path(root, "HEAD");
		FILE *f = fopen(p, "r");
		CHECK(f != NULL && fgets(buf, sizeof(buf), f) != NULL);
		CHECK_STREQ(buf, "4\n");
		if (f)
			fclose(f);
		free(p);
	}
	/* Files that are not records do not count. */
	tfa_test_put_file(root, "records/000000000009.rec.tmp", "x", 1);
	tfa_test_put_file(root, "records/00000000009.rec", "x", 1);
	tfa_test_put_file(root, "records/notarecord", "x", 1);
	tfa_test_put_file(root, "HEAD", "77\n", 3);
	CHECK(head_of(st) == 4);
	done(st, dir, root);
}

static void test_malformed_records(void)
{
	static const struct {
		const char *text;
		const char *msg;
	} bad[] = {
	    {"", "is malformed"},
	    {"{}", "is malformed"},
	    {"{}\n", "is malformed"},
	    {"{}\nab", "is malformed"},
	    {"{}\n\n", "is malformed"},
	    {"\nab\n", "is malformed"},
	    {"{}\nabc\n", "is malformed"},
	    {"{}\nAB\n", "malformed signature line"},
	    {"{}\nzz\n", "malformed signature line"},
	    {"{}\nab\nabc\n", "malformed signature line"},
	    {"{}\nab\nab\n", "is malformed"},
	};
	char *dir, *root;
	tfa_store *st = new_store(&dir, &root);
	tfa_buf a, s;

	tfa_buf_init(&a, 0);
	tfa_buf_init(&s, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tfa_test_put_file(root, "records/000000000007.rec", bad[i].text,
				  strlen(bad[i].text));
		tfa_buf_clear(&a);
		tfa_buf_clear(&s);
		tfa_error_clear();
		CHECK_RC(tfa_store_get(st, 7, &a, &s), TFA_EFORMAT);
		if (strstr(tfa_error_last()->message, bad[i].msg) == NULL) {
			fprintf(stderr, "record %zu: message \"%s\", wanted \"%s\"\n", i,
				tfa_error_last()->message, bad[i].msg);
			tfa_test_failures++;
		}
	}
	/* A well-formed one for contrast. */
	tfa_test_put_file(root, "records/000000000007.rec", "{}\nab\n", 6);
	tfa_buf_clear(&a);
	tfa_buf_clear(&s);
	CHECK_OK(tfa_store_get(st, 7, &a, &s));
	CHECK(a.len == 2 && s.len == 1 && s.data[0] == 0xab);

	/* A directory or a symlink where a record belongs. */
	{
		char *p = tfa_test_path(root, "records/000000000008.rec");
		CHECK(mkdir(p, 0755) == 0);
		CHECK_RC(tfa_store_get(st, 8, &a, &s), TFA_EFORMAT);
		CHECK(strstr(tfa_error_last()->message, "not a regular file") != NULL);
		free(p);
		p = tfa_test_path(root, "records/000000000009.rec");
		CHECK(symlink("000000000007.rec", p) == 0);
		CHECK_RC(tfa_store_get(st, 9, &a, &s), TFA_EIO);
		free(p);
	}
	tfa_buf_free(&a);
	tfa_buf_free(&s);
	done(st, dir, root);
}

static void test_sweeps_dead_writers_temp_files(void)
{
	char *dir, *root, host[64], name[256], mine[256], other[256], notours[256];
	tfa_store *st = new_store(&dir, &root);
	pid_t dead;
	int status;

	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p; p++)
		if (*p == '/' || *p == '.')
			*p = '_';
	/* A pid that certainly ran and certainly exited. */
	dead = fork();
	if (dead == 0)
		_exit(0);
	CHECK(dead > 0 && waitpid(dead, &status, 0) == dead);

	snprintf(name, sizeof(name), "tmp/000000000001.rec.%s.%ld.0.tmp", host, (long)dead);
	snprintf(mine, sizeof(mine), "tmp/000000000001.rec.%s.%ld.7.tmp", host, (long)getpid());
	snprintf(other, sizeof(other), "tmp/000000000001.rec.other-host.%ld.0.tmp", (long)dead);
	snprintf(notours, sizeof(notours), "tmp/somebody-elses-file");
	tfa_test_put_file(root, name + 0, "x", 1);
	tfa_test_put_file(root, mine, "x", 1);
	tfa_test_put_file(root, other, "x", 1);
	tfa_test_put_file(root, notours, "x", 1);
	CHECK(head_of(st) == 0);
	CHECK(!exists(root, name));   /* dead writer on this host: removed */
	CHECK(exists(root, mine));    /* a live writer: kept */
	CHECK(exists(root, other));   /* another host's writer: kept */
	CHECK(exists(root, notours)); /* not a temp file name: kept */
	/* A leftover temp file never blocks the append of its seq. */
	append_n(st, 1, 1);
	CHECK(head_of(st) == 1);
	/* The same open store sweeps again later: a writer that dies after the first sweep. */
	snprintf(name, sizeof(name), "tmp/000000000002.rec.%s.%ld.3.tmp", host, (long)dead);
	tfa_test_put_file(root, name, "x", 1);
	CHECK(head_of(st) == 1);
	CHECK(!exists(root, name));
	done(st, dir, root);
}

static void test_checkpoints(void)
{
	char *dir, *root, *p;
	tfa_store *st = new_store(&dir, &root);
	tfa_buf b;
	uint64_t seq = 0;
	struct stat sb;

	tfa_buf_init(&b, 0);
	/* None yet: not even a directory. */
	CHECK_RC(tfa_store_latest_checkpoint(st, 1, 100, &seq, &b), TFA_ENOTFOUND);
	CHECK_OK(tfa_store_put_checkpoint(st, 3, (const uint8_t *)"three", 5));
	CHECK_OK(tfa_store_put_checkpoint(st, 7, (const uint8_t *)"seven", 5));
	/* Write-once. */
	CHECK_RC(tfa_store_put_checkpoint(st, 7, (const uint8_t *)"SEVEN", 5), TFA_ECONFLICT);
	/* The latest within a range. */
	CHECK_OK(tfa_store_latest_checkpoint(st, 1, 100, &seq, &b));
	CHECK(seq == 7 && b.len == 5 && memcmp(b.data, "seven", 5) == 0);
	tfa_buf_clear(&b);
	CHECK_OK(tfa_store_latest_checkpoint(st, 1, 6, &seq, &b));
	CHECK(seq == 3 && b.len == 5 && memcmp(b.data, "three", 5) == 0);
	tfa_buf_clear(&b);
	CHECK_OK(tfa_store_latest_checkpoint(st, 7, 7, &seq, &b));
	CHECK(seq == 7);
	tfa_buf_clear(&b);
	CHECK_RC(tfa_store_latest_checkpoint(st, 4, 6, &seq, &b), TFA_ENOTFOUND);
	CHECK_RC(tfa_store_latest_checkpoint(st, 8, 100, &seq, &b), TFA_ENOTFOUND);
	/* Bad arguments. */
	CHECK_RC(tfa_store_latest_checkpoint(st, 0, 100, &seq, &b), TFA_EUSAGE);
	CHECK_RC(tfa_store_latest_checkpoint(st, 9, 8, &seq, &b), TFA_EUSAGE);
	CHECK_RC(tfa_store_put_checkpoint(st, 0, (const uint8_t *)"x", 1), TFA_EUSAGE);
	CHECK_RC(tfa_store_put_checkpoint(st, 9, (const uint8_t *)"x", 0), TFA_EUSAGE);
	CHECK_RC(tfa_store_put_checkpoint(st, 1000000000000ULL, (const uint8_t *)"x", 1),
		 TFA_EUSAGE);
	/* Read-only once written; foreign names are ignored. */
	p = tfa_test_path(root, "checkpoints/000000000007.ckpt");
	CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0444);
	free(p);
	p = tfa_test_path(root, "checkpoints/000000000099.ckpt.tmp");
	{
		FILE *f = fopen(p, "w");
		CHECK(f != NULL);
		if (f)
			fclose(f);
	}
	free(p);
	tfa_buf_clear(&b);
	CHECK_OK(tfa_store_latest_checkpoint(st, 1, 1000, &seq, &b));
	CHECK(seq == 7);
	tfa_buf_free(&b);
	done(st, dir, root);
}

/* tfa_store_open_seq: the fs store is its own sequencer; unknown sequencers are refused. */
static void test_open_seq(void)
{
	tfa_store *st = (tfa_store *)1;
	char *dir = tfa_test_tmpdir();

	CHECK_RC(tfa_store_open_seq(&st, dir, "dynamodb://table?region=eu-west-1"), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "its own sequencer") != NULL);
	CHECK(st == NULL);
	CHECK_RC(tfa_store_open_seq(&st, "gcs://b/p", "dynamodb://table?region=eu-west-1"),
		 TFA_EUSAGE);
	CHECK(st == NULL);
	/* NULL and "" mean no sequencer, as tfa_store_open. */
	CHECK_OK(tfa_store_open_seq(&st, dir, NULL));
	CHECK_OK(tfa_store_create_chain(st, (const uint8_t *)meta, sizeof(meta) - 1));
	tfa_store_free(st);
	CHECK_OK(tfa_store_open_seq(&st, dir, ""));
	CHECK_STREQ(tfa_store_backend_name(st), "fs");
	tfa_store_free(st);
	tfa_test_rmtree(dir);
	free(dir);
}

/* The error's message holds `want`. */
static void check_msg(const char *want)
{
	const char *m = tfa_error_last()->message;

	if (strstr(m, want) == NULL)
		fprintf(stderr, "message: %s\nwanted: %s\n", m, want);
	CHECK(strstr(m, want) != NULL);
}

/* Reopens root and reads its chain and head; the result of the first that fails. */
static tfa_err reopen(const char *root)
{
	tfa_store *st = NULL;
	tfa_buf m;
	uint64_t h;
	tfa_err rc;

	tfa_buf_init(&m, 1 << 16);
	rc = tfa_store_open(&st, root);
	if (rc == TFA_OK)
		rc = tfa_store_read_chain(st, &m);
	if (rc == TFA_OK)
		rc = tfa_store_head(st, &h);
	tfa_store_free(st);
	tfa_buf_free(&m);
	return rc;
}

/* Another user able to write to the store could replace its records. */
static void test_owner_and_mode(void)
{
	char *dir, *root, *p;
	tfa_store *st = new_store(&dir, &root);

	append_n(st, 1, 2);
	tfa_store_free(st);
	CHECK_OK(reopen(root));
	/* The store directory, records/, tmp/: not writable by group or others. */
	CHECK(chmod(root, 0777) == 0);
	CHECK_RC(reopen(root), TFA_EUSAGE);
	check_msg("is writable by group or others (mode 0777): chmod go-w ");
	CHECK(chmod(root, 0755) == 0);
	p = tfa_test_path(root, "records");
	CHECK(chmod(p, 0775) == 0);
	CHECK_RC(reopen(root), TFA_EUSAGE);
	check_msg("/records is writable by group or others (mode 0775)");
	CHECK(chmod(p, 0755) == 0);
	free(p);
	p = tfa_test_path(root, "tmp");
	CHECK(chmod(p, 01777) == 0);
	CHECK_RC(reopen(root), TFA_EUSAGE);
	check_msg("/tmp is writable by group or others (mode 1777)");
	CHECK(chmod(p, 0755) == 0);
	free(p);
	/* chain.json and HEAD: regular files, not links, not writable by others. */
	p = tfa_test_path(root, "HEAD");
	CHECK(chmod(p, 0646) == 0);
	CHECK_RC(reopen(root), TFA_EUSAGE);
	check_msg("/HEAD is writable by group or others (mode 0646)");
	CHECK(unlink(p) == 0);
	CHECK(symlink("chain.json", p) == 0);
	CHECK_RC(reopen(root), TFA_EUSAGE);
	check_msg("/HEAD is a symbolic link");
	CHECK(unlink(p) == 0);
	CHECK(mkfifo(p, 0600) == 0);
	CHECK_RC(reopen(root), TFA_EUSAGE);
	check_msg("/HEAD is not a regular file");
	CHECK(unlink(p) == 0);
	free(p);
	CHECK_OK(reopen(root)); /* a missing hint is fine */
	p = tfa_test_path(root, "chain.json");
	CHECK(chmod(p, 0666) == 0);
	CHECK_RC(reopen(root), TFA_EUSAGE);
	check_msg("/chain.json is writable by group or others (mode 0666)");
	CHECK(chmod(p, 0444) == 0);
	if (geteuid() == 0) { /* another owner, which only root can make */
		CHECK(chown(p, 65534, 65534) == 0);
		CHECK_RC(reopen(root), TFA_EUSAGE);
		check_msg("/chain.json is owned by uid 65534, not by the caller (uid 0) or root");
		CHECK(chown(p, 0, 0) == 0);
		CHECK(chown(root, 65534, 65534) == 0);
		CHECK_RC(reopen(root), TFA_EUSAGE);
		check_msg("is owned by uid 65534, not by the caller (uid 0) or root");
		CHECK(chown(root, 0, 0) == 0);
	}
	free(p);
	CHECK_OK(reopen(root));
	done(NULL, dir, root);
}

/* A store moved away while open is not read on through the old descriptor. */
static void test_moved_while_open(void)
{
	char *dir, *root, *moved;
	tfa_store *st = new_store(&dir, &root);
	tfa_buf m;

	tfa_buf_init(&m, 1 << 16);
	append_n(st, 1, 1);
	moved = tfa_test_path(dir, "moved");
	CHECK(rename(root, moved) == 0);
	CHECK_RC(tfa_store_read_chain(st, &m), TFA_EIO);
	check_msg("is gone while in use");
	CHECK(mkdir(root, 0755) == 0);
	CHECK_RC(tfa_store_read_chain(st, &m), TFA_EIO);
	check_msg("was replaced while in use");
	CHECK(rmdir(root) == 0);
	CHECK(rename(moved, root) == 0);
	CHECK_OK(tfa_store_read_chain(st, &m));
	tfa_buf_free(&m);
	free(moved);
	done(st, dir, root);
}

TFA_TEST_MAIN(T(test_owner_and_mode), T(test_moved_while_open), T(test_open_uris), T(test_open_seq),
	      T(test_no_chain), T(test_create_chain_once), T(test_create_chain_too_large),
	      T(test_append_get_head), T(test_bad_arguments), T(test_largest_seq),
	      T(test_head_hint_is_only_a_hint), T(test_malformed_records),
	      T(test_sweeps_dead_writers_temp_files), T(test_checkpoints))
