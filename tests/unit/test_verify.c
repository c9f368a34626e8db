/*
 * Tests for offline bundle verification. One chain of five records is
 * recorded and exported once; each test copies that bundle, tampers with the
 * copy and checks which layer, file and seq the report names. Tamperings
 * that must get past the file hashes re-seal the manifest with the key.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tfa_test.h"
#include "tfattest/artifact.h"
#include "tfattest/bundle.h"
#include "tfattest/capture.h"
#include "tfattest/chain.h"
#include "tfattest/features.h"
#include "tfattest/jcs.h"
#include "tfattest/signer.h"
#include "tfattest/store.h"
#include "tfattest/verify.h"
#include "verify/crypto.h"

#define NREC 5

/* ---- the shared golden bundle ------------------------------------------------------------- */

static struct {
	char *dir;	   /* scratch directory of this process */
	char *golden;	   /* the exported bundle, never modified */
	char *store;	   /* the store it came from */
	tfa_signer *key;   /* the chain's key */
	tfa_signer *other; /* an unrelated key */
	int serial;
} g;

static void cleanup(void)
{
	tfa_signer_free(g.key);
	tfa_signer_free(g.other);
	if (g.dir)
		tfa_test_rmtree(g.dir);
	free(g.dir);
	free(g.golden);
	free(g.store);
}

static tfa_signer *make_key(const char *name)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	char *p = tfa_test_path(g.dir, name), uri[4200];
	FILE *f = fopen(p, "wb");
	tfa_signer *s = NULL;

	if (k == NULL || f == NULL || !PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)) {
		fprintf(stderr, "cannot make key %s\n", p);
		exit(2);
	}
	fclose(f);
	EVP_PKEY_free(k);
	snprintf(uri, sizeof(uri), "file:%s", p);
	free(p);
	if (tfa_signer_open(&s, uri) != TFA_OK) {
		fprintf(stderr, "cannot open key: %s\n", tfa_error_last()->message);
		exit(2);
	}
	return s;
}

static void golden_setup(void)
{
	tfa_store *st = NULL;
	tfa_capture *c = NULL;
	tfa_event ev = {NULL, NULL, 0};
	tfa_export_opts o;
	tfa_export_result res;
	char plan[4096];

	if (g.golden)
		return;
	atexit(cleanup);
	g.dir = tfa_test_tmpdir();
	g.store = tfa_test_path(g.dir, "store");
	g.key = make_key("key.pem");
	g.other = make_key("other.pem");
	snprintf(plan, sizeof(plan), "%s/terraform/plans/show-basic-delete.json",
		 tfa_test_fixtures());
	if (tfa_store_open(&st, g.store) != TFA_OK ||
	    tfa_chain_init(st, "audit", g.key) != TFA_OK ||
	    tfa_capture_new(&c, &ev, plan, NULL) != TFA_OK) {
		fprintf(stderr, "setup failed: %s\n", tfa_error_last()->message);
		exit(2);
	}
	for (int i = 0; i < NREC; i++)
		if (tfa_chain_append(NULL, st, g.key, TFA_ALG_NONE, c) != TFA_OK) {
			fprintf(stderr, "append failed: %s\n", tfa_error_last()->message);
			exit(2);
		}
	g.golden = tfa_test_path(g.dir, "golden");
	memset(&o, 0, sizeof(o));
	o.out_dir = g.golden;
	if (tfa_bundle_export(&res, st, g.key, &o) != TFA_OK) {
		fprintf(stderr, "export failed: %s\n", tfa_error_last()->message);
		exit(2);
	}
	tfa_capture_free(c);
	tfa_store_free(st);
}

/* ---- file helpers ------------------------------------------------------------------------- */

static void copy_tree(const char *src, const char *dst)
{
	DIR *d = opendir(src);
	struct dirent *de;

	if (d == NULL || mkdir(dst, 0755) != 0) {
		fprintf(stderr, "cannot copy %s to %s: %s\n", src, dst, strerror(errno));
		exit(2);
	}
	while ((de = readdir(d)) != NULL) {
		char *s, *t;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		s = tfa_test_path(src, de->d_name);
		t = tfa_test_path(dst, de->d_name);
		if (lstat(s, &st) == 0 && S_ISDIR(st.st_mode)) {
			copy_tree(s, t);
		} else {
			tfa_buf b;
			FILE *f;
			tfa_buf_init(&b, 0);
			if (tfa_buf_read_file(&b, s, 1 << 26) != TFA_OK ||
			    (f = fopen(t, "wb")) == NULL) {
				fprintf(stderr, "cannot copy %s\n", s);
				exit(2);
			}
			if (b.len)
				fwrite(b.data, 1, b.len, f);
			fclose(f);
			tfa_buf_free(&b);
		}
		free(s);
		free(t);
	}
	closedir(d);
}

/* A fresh copy of the golden bundle (malloc'd path). */
static char *fresh(void)
{
	char name[32];

	golden_setup();
	snprintf(name, sizeof(name), "b%03d", g.serial++);
	{
		char *p = tfa_test_path(g.dir, name);
		copy_tree(g.golden, p);
		return p;
	}
}

static char *art_name(uint64_t seq, const char *ext)
{
	char *p = malloc(48);

	snprintf(p, 48, "artifacts/%012llu.%s", (unsigned long long)seq, ext);
	return p;
}

static void put(const char *dir, const char *rel, const void *data, size_t len)
{
	char *p = tfa_test_path(dir, rel);
	FILE *f;

	unlink(p);
	f = fopen(p, "wb");
	if (f == NULL || (len && fwrite(data, 1, len, f) != len)) {
		fprintf(stderr, "cannot write %s\n", p);
		exit(2);
	}
	fclose(f);
	free(p);
}

static char *get(const char *dir, const char *rel, size_t *len)
{
	char *p = tfa_test_path(dir, rel);
	tfa_buf b;

	tfa_buf_init(&b, 0);
	if (tfa_buf_read_file(&b, p, 1 << 26) != TFA_OK) {
		fprintf(stderr, "cannot read %s\n", p);
		exit(2);
	}
	free(p);
	return (char *)tfa_buf_detach(&b, len);
}

static void del(const char *dir, const char *rel)
{
	char *p = tfa_test_path(dir, rel);

	if (unlink(p) != 0) {
		fprintf(stderr, "cannot remove %s\n", p);
		exit(2);
	}
	free(p);
}

/* Flips one bit of byte `at` (negative: from the end) of a file, keeping its size. */
static void flip(const char *dir, const char *rel, long at)
{
	size_t n;
	char *b = get(dir, rel, &n);

	b[at < 0 ? (long)n + at : at] ^= 0x01;
	put(dir, rel, b, n);
	free(b);
}

static void append_text(const char *dir, const char *rel, const char *text)
{
	size_t n;
	char *b = get(dir, rel, &n);
	char *c = malloc(n + strlen(text));

	memcpy(c, b, n);
	memcpy(c + n, text, strlen(text));
	put(dir, rel, c, n + strlen(text));
	free(b);
	free(c);
}

static char *canonical(cJSON *root, size_t *len)
{
	char *text = cJSON_PrintUnformatted(root);
	tfa_buf b;

	tfa_buf_init(&b, 0);
	if (text == NULL ||
	    tfa_jcs_canonicalize(&b, (const uint8_t *)text, strlen(text)) != TFA_OK) {
		fprintf(stderr, "cannot canonicalize\n");
		exit(2);
	}
	cJSON_free(text);
	return (char *)tfa_buf_detach(&b, len);
}

static void sign_to(const char *dir, const char *rel, tfa_signer *key, const void *data, size_t len)
{
	uint8_t d[TFA_SHA256_LEN];
	tfa_buf sig;

	tfa_sha256(d, data, len);
	tfa_buf_init(&sig, 0);
	if (tfa_signer_sign(&sig, key, tfa_signer_default_alg(key), d) != TFA_OK) {
		fprintf(stderr, "cannot sign: %s\n", tfa_error_last()->message);
		exit(2);
	}
	put(dir, rel, sig.data, sig.len);
	tfa_buf_free(&sig);
}

/*
 * Rewrites artifact `seq`: in object `where` (NULL: root) sets `key` to the
 * JSON `value`, writes it canonically and signs it with `key_by`.
 */
static void rewrite_artifact(const char *b, uint64_t seq, const char *where, const char *key,
			     const char *value, tfa_signer *key_by)
{
	char *jn = art_name(seq, "json"), *sn = art_name(seq, "sig");
	size_t n;
	char *text = get(b, jn, &n), *out;
	cJSON *root = cJSON_ParseWithLength(text, n), *obj;

	obj = where ? cJSON_GetObjectItemCaseSensitive(root, where) : root;
	if (obj == NULL) {
		fprintf(stderr, "rewrite: no %s\n", where);
		exit(2);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	cJSON_AddItemToObject(obj, key, cJSON_Parse(value));
	out = canonical(root, &n);
	put(b, jn, out, n);
	sign_to(b, sn, key_by, out, n);
	cJSON_Delete(root);
	free(text);
	free(out);
	free(jn);
	free(sn);
}

/* The hash string of a bundle file. */
static void hash_of(char out[TFA_FPR_STRLEN], const char *b, const char *rel)
{
	size_t n;
	char *data = get(b, rel, &n);
	uint8_t d[TFA_SHA256_LEN];

	tfa_sha256(d, data, n);
	tfa_hash_str(out, d);
	free(data);
}

/*
 * Re-seals a bundle as a forger holding `key_by` would: every listed file's
 * hash and size recomputed (entries of missing files dropped), the signer
 * fields and public_key.pem set to key_by, head_hash recomputed when
 * update_head, one optional root member set (set_key = set_value), and the
 * manifest re-signed.
 */
static void reseal(const char *b, tfa_signer *key_by, int update_head, const char *set_key,
		   const char *set_value)
{
	size_t n, spki_len;
	char *text = get(b, "manifest.json", &n), *out, *last_json = NULL;
	cJSON *root = cJSON_ParseWithLength(text, n), *files, *e, *sg;
	const uint8_t *spki = tfa_signer_spki(key_by, &spki_len);
	tfa_buf pem;

	tfa_buf_init(&pem, 0);
	if (tfa_spki_to_pem(&pem, spki, spki_len) != TFA_OK)
		exit(2);
	put(b, "public_key.pem", pem.data, pem.len);
	tfa_buf_free(&pem);
	sg = cJSON_GetObjectItemCaseSensitive(root, "signer");
	cJSON_ReplaceItemInObjectCaseSensitive(sg, "key_fingerprint",
					       cJSON_CreateString(tfa_signer_fingerprint(key_by)));
	files = cJSON_GetObjectItemCaseSensitive(root, "files");
	for (int i = cJSON_GetArraySize(files) - 1; i >= 0; i--) {
		const char *p;
		char *full;
		struct stat st;

		e = cJSON_GetArrayItem(files, i);
		p = cJSON_GetObjectItemCaseSensitive(e, "path")->valuestring;
		full = tfa_test_path(b, p);
		if (lstat(full, &st) != 0) {
			cJSON_DeleteItemFromArray(files, i);
		} else {
			char h[TFA_FPR_STRLEN];
			hash_of(h, b, p);
			cJSON_ReplaceItemInObjectCaseSensitive(e, "sha256",
							       cJSON_CreateString(h + 7));
			cJSON_ReplaceItemInObjectCaseSensitive(
			    e, "size", cJSON_CreateNumber((double)st.st_size));
			if (last_json == NULL && strncmp(p, "artifacts/", 10) == 0 &&
			    strstr(p, ".json") != NULL)
				last_json = strdup(p);
		}
		free(full);
	}
	if (update_head && last_json) {
		char h[TFA_FPR_STRLEN];
		hash_of(h, b, last_json);
		cJSON_ReplaceItemInObjectCaseSensitive(root, "head_hash", cJSON_CreateString(h));
	}
	if (set_key) {
		cJSON_DeleteItemFromObjectCaseSensitive(root, set_key);
		cJSON_AddItemToObject(root, set_key, cJSON_Parse(set_value));
	}
	out = canonical(root, &n);
	put(b, "manifest.json", out, n);
	sign_to(b, "manifest.sig", key_by, out, n);
	cJSON_Delete(root);
	free(text);
	free(out);
	free(last_json);
}

/* ---- running the verifier ----------------------------------------------------------------- */

typedef struct lines {
	int info, success, warn, error;
	char last_error[800];
} lines;

static void on_line(void *ud, const char *tag, const char *text)
{
	lines *l = ud;

	if (strcmp(tag, "INFO") == 0)
		l->info++;
	else if (strcmp(tag, "SUCCESS") == 0)
		l->success++;
	else if (strcmp(tag, "WARN") == 0)
		l->warn++;
	else if (strcmp(tag, "ERROR") == 0) {
		l->error++;
		snprintf(l->last_error, sizeof(l->last_error), "%s", text);
	}
}

static tfa_err run(tfa_verify_report *rep, const char *b, unsigned threads, int pin)
{
	tfa_verify_opts o;

	memset(&o, 0, sizeof(o));
	o.threads = threads;
	o.expect_fpr = pin ? tfa_signer_fingerprint(g.key) : NULL;
	return tfa_verify_bundle(rep, b, &o);
}

/*
 * Verifies b pinned to the chain's key with 1 and 4 threads and checks the
 * result: rc, layer, file, seq and a message substring. Both runs must agree.
 */
static void expect_fail(const char *b, tfa_layer layer, const char *file, uint64_t seq,
			const char *msg, int line)
{
	tfa_verify_report r1, r4;
	tfa_err rc1 = run(&r1, b, 1, 1), rc4 = run(&r4, b, 4, 1);

	if (rc1 != TFA_EVERIFY || r1.failed_layer != layer || strcmp(r1.failed_file, file) != 0 ||
	    r1.failed_seq != seq || strstr(r1.message, msg) == NULL) {
		fprintf(stderr,
			"line %d: got %s layer %d file \"%s\" seq %llu \"%s\";\n"
			"  wanted EVERIFY layer %d file \"%s\" seq %llu \"%s\"\n",
			line, tfa_err_name(rc1), r1.failed_layer, r1.failed_file,
			(unsigned long long)r1.failed_seq, r1.message, layer, file,
			(unsigned long long)seq, msg);
		tfa_test_failures++;
	}
	if (rc4 != rc1 || r4.failed_layer != r1.failed_layer ||
	    strcmp(r4.failed_file, r1.failed_file) != 0 || r4.failed_seq != r1.failed_seq ||
	    strcmp(r4.message, r1.message) != 0) {
		fprintf(stderr, "line %d: 4 threads disagree: layer %d file \"%s\" \"%s\"\n", line,
			r4.failed_layer, r4.failed_file, r4.message);
		tfa_test_failures++;
	}
}

#define FAIL_AT(b, layer, file, seq, msg) expect_fail((b), (layer), (file), (seq), (msg), __LINE__)

static void done(char *b)
{
	tfa_test_rmtree(b);
	free(b);
}

/* ---- valid bundles ------------------------------------------------------------------------ */

static void test_valid_bundle(void)
{
	tfa_verify_report r;
	tfa_verify_opts o;
	lines l;

	golden_setup();
	memset(&l, 0, sizeof(l));
	memset(&o, 0, sizeof(o));
	o.expect_fpr = tfa_signer_fingerprint(g.key);
	o.line = on_line;
	o.ud = &l;
	CHECK_OK(tfa_verify_bundle(&r, g.golden, &o));
	CHECK(r.failed_layer == TFA_LAYER_NONE);
	CHECK_STREQ(r.failed_file, "");
	CHECK(r.failed_seq == 0);
	CHECK_STREQ(r.message, "");
	CHECK_STREQ(r.chain_id, "audit");
	CHECK(r.from_seq == 1 && r.to_seq == NREC);
	CHECK(r.artifacts == NREC);
	CHECK(r.files == 2 * NREC + 2);
	CHECK_STREQ(r.trusted_fpr, tfa_signer_fingerprint(g.key));
	CHECK(r.key_pinned);
	CHECK(l.error == 0 && l.warn == 0 && l.success >= 4 && l.info >= 1);
	/* One key, the anchor, in force throughout; no checkpoint. */
	CHECK(r.nkeys == 1);
	CHECK_STREQ(r.keys[0].fpr, tfa_signer_fingerprint(g.key));
	CHECK(r.keys[0].from_seq == 1 && r.keys[0].to_seq == 0);
	CHECK(r.ncheckpoints == 0);
	/* The manifest's writer: this build, as export wrote it. */
	CHECK_STREQ(r.writer_name, TFA_WRITER_NAME);
	CHECK_STREQ(r.writer_version, TFATTEST_VERSION);

	/* Unpinned: the same verdict, with a warning, and the key marked as not pinned. */
	memset(&l, 0, sizeof(l));
	o.expect_fpr = NULL;
	CHECK_OK(tfa_verify_bundle(&r, g.golden, &o));
	CHECK(!r.key_pinned);
	CHECK(l.warn == 1);
	CHECK_STREQ(r.trusted_fpr, tfa_signer_fingerprint(g.key));
	/* No options at all. */
	CHECK_OK(tfa_verify_bundle(&r, g.golden, NULL));
	CHECK(r.artifacts == NREC);
}

static void test_bad_arguments(void)
{
	tfa_verify_report r;
	tfa_verify_opts o;
	char *file;

	golden_setup();
	memset(&o, 0, sizeof(o));
	CHECK_RC(tfa_verify_bundle(NULL, g.golden, &o), TFA_EUSAGE);
	CHECK_RC(tfa_verify_bundle(&r, NULL, &o), TFA_EUSAGE);
	CHECK_RC(tfa_verify_bundle(&r, "/nonexistent/bundle", &o), TFA_EUSAGE);
	CHECK(r.failed_layer == TFA_LAYER_NONE && r.message[0] != '\0');
	file = tfa_test_path(g.golden, "VERIFY.md");
#if TFATTEST_WITH_ARCHIVE
	/* A file is read as an archive; one that is not is rejected, naming the file. */
	CHECK_RC(tfa_verify_bundle(&r, file, &o), TFA_EVERIFY);
	CHECK(r.failed_layer == TFA_LAYER_MANIFEST &&
	      strstr(r.message, "Archive unreadable") != NULL);
	CHECK(strstr(r.message, "VERIFY.md") != NULL);
#else
	CHECK_RC(tfa_verify_bundle(&r, file, &o), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "bundle directories only") != NULL);
#endif
	free(file);
	o.expect_fpr = "sha256:ABC";
	CHECK_RC(tfa_verify_bundle(&r, g.golden, &o), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "--expect-key-fingerprint") != NULL);
	o.expect_fpr = "261e452e495b6e36b5d6fa2854213c209374142096aaf2784bfd8f74739cbdbb";
	CHECK_RC(tfa_verify_bundle(&r, g.golden, &o), TFA_EUSAGE);
	o.expect_fpr = NULL;
	{
		/* Checkpoints: a count without a list, too many, and one that cannot be read. */
		const char *cps[TFA_VERIFY_CHECKPOINTS_MAX] = {"/nonexistent/cp.ckpt"};
		o.ncheckpoints = 1;
		CHECK_RC(tfa_verify_bundle(&r, g.golden, &o), TFA_EUSAGE);
		o.checkpoints = cps;
		o.ncheckpoints = TFA_VERIFY_CHECKPOINTS_MAX;
		CHECK_RC(tfa_verify_bundle(&r, g.golden, &o), TFA_EUSAGE);
		o.ncheckpoints = 1;
		CHECK(tfa_verify_bundle(&r, g.golden, &o) == TFA_ENOTFOUND);
		o.checkpoints = NULL;
		o.ncheckpoints = 0;
	}
}

static void test_partial_range_export(void)
{
	tfa_store *st = NULL;
	tfa_export_opts o;
	tfa_export_result res;
	tfa_verify_report r;
	char *out;

	golden_setup();
	out = tfa_test_path(g.dir, "range");
	CHECK_OK(tfa_store_open(&st, g.store));
	memset(&o, 0, sizeof(o));
	o.out_dir = out;
	o.from = 2;
	o.to = 4;
	CHECK_OK(tfa_bundle_export(&res, st, g.key, &o));
	CHECK(res.from == 2 && res.to == 4 && res.files == 2 * 3 + 2);
	CHECK_OK(run(&r, out, 0, 1));
	CHECK(r.from_seq == 2 && r.to_seq == 4 && r.artifacts == 3);
	/* The same directory again: refused, and left alone. */
	CHECK_RC(tfa_bundle_export(&res, st, g.key, &o), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "already exists") != NULL);
	CHECK_OK(run(&r, out, 0, 1));
	tfa_test_rmtree(out);
	/* Only the current key signs a manifest; ranges must lie within the chain. */
	CHECK_RC(tfa_bundle_export(&res, st, g.other, &o), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "is not the current key") != NULL);
	o.to = NREC + 1;
	CHECK_RC(tfa_bundle_export(&res, st, g.key, &o), TFA_EUSAGE);
	o.from = 4;
	o.to = 3;
	CHECK_RC(tfa_bundle_export(&res, st, g.key, &o), TFA_EUSAGE);
	{
		struct stat sb;
		CHECK(lstat(out, &sb) != 0 && errno == ENOENT);
	}
	tfa_store_free(st);
	free(out);
}

/* Raises the stop flag once progress reaches the step and count it names. */
typedef struct stop_at {
	const char *what;
	uint64_t at;
	volatile sig_atomic_t flag;
	uint64_t seen; /* progress calls after the flag was raised */
} stop_at;

static void stop_progress(void *ud, const char *what, uint64_t done, uint64_t total)
{
	stop_at *s = ud;

	(void)total;
	if (s->flag)
		s->seen++;
	if (strcmp(what, s->what) == 0 && done == s->at)
		s->flag = 1;
}

/*
 * A stop raised while records are written, or while the written bundle is
 * checked: the export ends at the next record with "interrupted", and
 * neither the output nor its staging directory is left.
 */
static void test_export_stopped(void)
{
	static const char *const steps[] = {"exported", "verified"};
	tfa_store *st = NULL;
	tfa_export_opts o;
	tfa_export_result res;
	char *out;

	golden_setup();
	CHECK_OK(tfa_store_open(&st, g.store));
	out = tfa_test_path(g.dir, "stopped");
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		stop_at s = {steps[i], 2, 0, 0};
		struct stat sb;
		DIR *d;
		struct dirent *e;
		int staged = 0;

		memset(&o, 0, sizeof(o));
		o.out_dir = out;
		o.progress = stop_progress;
		o.progress_ud = &s;
		o.stop = &s.flag;
		CHECK_RC(tfa_bundle_export(&res, st, g.key, &o), TFA_EUSAGE);
		CHECK(strstr(tfa_error_last()->message, "interrupted") != NULL);
		CHECK(s.flag == 1 && s.seen <= 1);
		CHECK(lstat(out, &sb) != 0 && errno == ENOENT);
		d = opendir(g.dir);
		CHECK(d != NULL);
		while (d && (e = readdir(d)) != NULL)
			staged += strncmp(e->d_name, "stopped", 7) == 0;
		if (d)
			closedir(d);
		CHECK(staged == 0);
	}
	/* No stop raised: the same export completes. */
	memset(&o, 0, sizeof(o));
	o.out_dir = out;
	{
		volatile sig_atomic_t never = 0;
		o.stop = &never;
		CHECK_OK(tfa_bundle_export(&res, st, g.key, &o));
	}
	tfa_test_rmtree(out);
	tfa_store_free(st);
	free(out);
}

/* ---- layer 1: the manifest ---------------------------------------------------------------- */

static void test_layer1_manifest(void)
{
	char *b;
	tfa_verify_report r;
	tfa_verify_opts o;

	/* A pinned key the bundle does not have. */
	b = fresh();
	memset(&o, 0, sizeof(o));
	o.expect_fpr = tfa_signer_fingerprint(g.other);
	CHECK_RC(tfa_verify_bundle(&r, b, &o), TFA_EVERIFY);
	CHECK(r.failed_layer == TFA_LAYER_MANIFEST);
	CHECK_STREQ(r.failed_file, "public_key.pem");
	CHECK(strstr(r.message, "Key fingerprint mismatch") != NULL);
	CHECK(!r.key_pinned);
	done(b);

	b = fresh();
	flip(b, "manifest.sig", -1);
	FAIL_AT(b, TFA_LAYER_MANIFEST, "manifest.sig", 0, "Manifest signature invalid");
	done(b);

	/* A writer rewritten (same length): the signature fails, and the claim is not reported. */
	b = fresh();
	{
		size_t n;
		char *m = get(b, "manifest.json", &n), *p = strstr(m, "\"writer\":{\"name\":\"");
		CHECK(p != NULL);
		if (p) {
			p += strlen("\"writer\":{\"name\":\"");
			*p = 'X';
		}
		put(b, "manifest.json", m, n);
		free(m);
	}
	FAIL_AT(b, TFA_LAYER_MANIFEST, "manifest.sig", 0, "Manifest signature invalid");
	CHECK_RC(run(&r, b, 1, 0), TFA_EVERIFY);
	CHECK_STREQ(r.writer_name, "");
	CHECK_STREQ(r.writer_version, "");
	done(b);

	b = fresh();
	del(b, "manifest.sig");
	FAIL_AT(b, TFA_LAYER_MANIFEST, "manifest.sig", 0, "Manifest signature unreadable");
	done(b);

	b = fresh();
	append_text(b, "manifest.json", "\n");
	FAIL_AT(b, TFA_LAYER_MANIFEST, "manifest.json", 0, "Manifest invalid");
	done(b);

	/* Same bytes length, one hash digit changed: parses, but the signature fails. */
	b = fresh();
	{
		size_t n;
		char *m = get(b, "manifest.json", &n), *p = strstr(m, "\"sha256\":\"");
		p += 10;
		*p = *p == 'a' ? 'b' : 'a';
		put(b, "manifest.json", m, n);
		free(m);
	}
	FAIL_AT(b, TFA_LAYER_MANIFEST, "manifest.sig", 0, "Manifest signature invalid");
	done(b);

	b = fresh();
	del(b, "manifest.json");
	FAIL_AT(b, TFA_LAYER_MANIFEST, "manifest.json", 0, "Manifest unreadable");
	done(b);

	/* A symlinked manifest is not followed. */
	b = fresh();
	{
		char *m = tfa_test_path(b, "manifest.json"),
		     *real = tfa_test_path(g.golden, "manifest.json");
		unlink(m);
		CHECK(symlink(real, m) == 0);
		free(m);
		free(real);
	}
	FAIL_AT(b, TFA_LAYER_MANIFEST, "manifest.json", 0, "manifest.json is a symlink");
	done(b);

	b = fresh();
	put(b, "public_key.pem", "garbage\n", 8);
	FAIL_AT(b, TFA_LAYER_MANIFEST, "public_key.pem", 0, "Public key unusable");
	done(b);

	/* Another key's PEM: pinned, a mismatch; unpinned, the manifest names another key. */
	b = fresh();
	{
		size_t len;
		const uint8_t *spki = tfa_signer_spki(g.other, &len);
		tfa_buf pem;
		tfa_buf_init(&pem, 0);
		CHECK_OK(tfa_spki_to_pem(&pem, spki, len));
		put(b, "public_key.pem", pem.data, pem.len);
		tfa_buf_free(&pem);
	}
	FAIL_AT(b, TFA_LAYER_MANIFEST, "public_key.pem", 0, "Key fingerprint mismatch");
	CHECK_RC(run(&r, b, 1, 0), TFA_EVERIFY);
	CHECK(r.failed_layer == TFA_LAYER_MANIFEST);
	CHECK_STREQ(r.failed_file, "manifest.json");
	CHECK(strstr(r.message, "Manifest names signing key") != NULL);
	done(b);
}

/* A forger re-seals the whole bundle with their own key. */
static void test_forged_reseal_needs_the_pin(void)
{
	char *b = fresh();
	tfa_verify_report r;

	reseal(b, g.other, 0, NULL, NULL);
	/* Pinned: caught at once. */
	FAIL_AT(b, TFA_LAYER_MANIFEST, "public_key.pem", 0, "Key fingerprint mismatch");
	/* Unpinned: the manifest holds, but the artifacts name the real key. */
	CHECK_RC(run(&r, b, 1, 0), TFA_EVERIFY);
	CHECK(r.failed_layer == TFA_LAYER_SIGNATURES);
	CHECK_STREQ(r.failed_file, "artifacts/000000000001.sig");
	CHECK(r.failed_seq == 1);
	CHECK(strstr(r.message, "names signing key") != NULL);
	done(b);
}

/* ---- layer 2: files ----------------------------------------------------------------------- */

static void test_layer2_files(void)
{
	char *b;

	b = fresh();
	flip(b, "artifacts/000000000003.json", 40);
	FAIL_AT(b, TFA_LAYER_FILES, "artifacts/000000000003.json", 3,
		"Hash mismatch for artifacts/000000000003.json (seq 3)");
	done(b);

	b = fresh();
	flip(b, "artifacts/000000000004.sig", -1);
	FAIL_AT(b, TFA_LAYER_FILES, "artifacts/000000000004.sig", 4,
		"Hash mismatch for artifacts/000000000004.sig (seq 4)");
	done(b);

	b = fresh();
	append_text(b, "artifacts/000000000005.json", " ");
	FAIL_AT(b, TFA_LAYER_FILES, "artifacts/000000000005.json", 5, "Hash mismatch");
	done(b);

	/* The first damaged artifact is reported, however the work is split. */
	b = fresh();
	flip(b, "artifacts/000000000005.json", 10);
	flip(b, "artifacts/000000000002.sig", 10);
	flip(b, "artifacts/000000000004.json", 10);
	FAIL_AT(b, TFA_LAYER_FILES, "artifacts/000000000002.sig", 2, "Hash mismatch");
	done(b);

	b = fresh();
	del(b, "artifacts/000000000002.json");
	FAIL_AT(b, TFA_LAYER_FILES, "artifacts/000000000002.json", 0,
		"Missing file: artifacts/000000000002.json");
	done(b);

	b = fresh();
	append_text(b, "VERIFY.md", "\nrm -rf /\n");
	FAIL_AT(b, TFA_LAYER_FILES, "VERIFY.md", 0, "Hash mismatch for VERIFY.md");
	done(b);

	b = fresh();
	put(b, "notes.txt", "hi", 2);
	FAIL_AT(b, TFA_LAYER_FILES, "notes.txt", 0, "File not listed in manifest: notes.txt");
	done(b);

	b = fresh();
	put(b, "artifacts/000000000006.json", "{}", 2);
	FAIL_AT(b, TFA_LAYER_FILES, "artifacts/000000000006.json", 0,
		"File not listed in manifest");
	done(b);

	b = fresh();
	put(b, ".hidden", "x", 1);
	FAIL_AT(b, TFA_LAYER_FILES, ".hidden", 0, "File not listed in manifest");
	done(b);

	/* A symlink to identical content outside the bundle is refused. */
	b = fresh();
	{
		char *link = tfa_test_path(b, "artifacts/000000000001.json");
		char *real = tfa_test_path(g.golden, "artifacts/000000000001.json");
		unlink(link);
		CHECK(symlink(real, link) == 0);
		free(link);
		free(real);
	}
	FAIL_AT(b, TFA_LAYER_FILES, "artifacts/000000000001.json", 0, "Symlink in bundle");
	done(b);

	b = fresh();
	{
		char *p = tfa_test_path(b, "pipe");
		CHECK(mkfifo(p, 0644) == 0);
		free(p);
	}
	FAIL_AT(b, TFA_LAYER_FILES, "pipe", 0, "Not a regular file");
	done(b);

	/* A listed file replaced by an (empty) directory of the same name. */
	b = fresh();
	{
		char *p = tfa_test_path(b, "artifacts/000000000003.sig");
		unlink(p);
		CHECK(mkdir(p, 0755) == 0);
		free(p);
	}
	FAIL_AT(b, TFA_LAYER_FILES, "artifacts/000000000003.sig", 0,
		"Empty directory in bundle: artifacts/000000000003.sig");
	done(b);

	/* ... and by a directory holding one file, which keeps the file count right. */
	b = fresh();
	{
		char *p = tfa_test_path(b, "artifacts/000000000003.sig");
		unlink(p);
		CHECK(mkdir(p, 0755) == 0);
		tfa_test_put_file(p, "x", "x", 1);
		free(p);
	}
	FAIL_AT(b, TFA_LAYER_FILES, "artifacts/000000000003.sig", 3,
		"Unsafe file: artifacts/000000000003.sig (seq 3)");
	done(b);
}

/* ---- layer 3: the hash chain (re-sealed, so layer 2 passes) ------------------------------- */

static void test_layer3_chain(void)
{
	char *b;
	size_t n2, n3, s2, s3;

	/* Two records swapped. */
	b = fresh();
	{
		char *j2 = get(b, "artifacts/000000000002.json", &n2);
		char *j3 = get(b, "artifacts/000000000003.json", &n3);
		char *g2 = get(b, "artifacts/000000000002.sig", &s2);
		char *g3 = get(b, "artifacts/000000000003.sig", &s3);
		put(b, "artifacts/000000000002.json", j3, n3);
		put(b, "artifacts/000000000003.json", j2, n2);
		put(b, "artifacts/000000000002.sig", g3, s3);
		put(b, "artifacts/000000000003.sig", g2, s2);
		free(j2);
		free(j3);
		free(g2);
		free(g3);
	}
	reseal(b, g.key, 0, NULL, NULL);
	FAIL_AT(b, TFA_LAYER_CHAIN, "artifacts/000000000002.json", 2,
		"Sequence mismatch: artifacts/000000000002.json holds seq 3, expected 2");
	done(b);

	/* A record rewritten and re-signed: the next one no longer links to it. */
	b = fresh();
	rewrite_artifact(b, 3, "event", "exit_code", "1", g.key);
	reseal(b, g.key, 0, NULL, NULL);
	FAIL_AT(
	    b, TFA_LAYER_CHAIN, "artifacts/000000000004.json", 4,
	    "Chain broken at artifacts/000000000004.json (seq 4): prev_hash does not match seq 3");
	done(b);

	/* The last record rewritten: only the head hash catches it. */
	b = fresh();
	rewrite_artifact(b, NREC, "event", "status", "\"failed\"", g.key);
	reseal(b, g.key, 0, NULL, NULL);
	FAIL_AT(b, TFA_LAYER_CHAIN, "manifest.json", NREC, "Head hash mismatch");
	done(b);

	/* ... and with the head hash updated too, the forgery verifies: the key signed it. */
	b = fresh();
	rewrite_artifact(b, NREC, "event", "status", "\"failed\"", g.key);
	reseal(b, g.key, 1, NULL, NULL);
	{
		tfa_verify_report r;
		CHECK_OK(run(&r, b, 0, 1));
	}
	done(b);

	/* Bytes that are not a canonical artifact. */
	b = fresh();
	{
		size_t n;
		char *j = get(b, "artifacts/000000000002.json", &n);
		char *k = malloc(n + 1);
		k[0] = ' ';
		memcpy(k + 1, j, n);
		put(b, "artifacts/000000000002.json", k, n + 1);
		sign_to(b, "artifacts/000000000002.sig", g.key, k, n + 1);
		free(j);
		free(k);
	}
	reseal(b, g.key, 0, NULL, NULL);
	FAIL_AT(b, TFA_LAYER_CHAIN, "artifacts/000000000002.json", 2,
		"Invalid artifact artifacts/000000000002.json (seq 2)");
	done(b);

	/* A record of another chain. */
	b = fresh();
	rewrite_artifact(b, 2, NULL, "chain_id", "\"other\"", g.key);
	reseal(b, g.key, 0, NULL, NULL);
	FAIL_AT(
	    b, TFA_LAYER_CHAIN, "artifacts/000000000002.json", 2,
	    "Chain id mismatch in artifacts/000000000002.json (seq 2): other, manifest says audit");
	done(b);

	/* A record left out. */
	b = fresh();
	del(b, "artifacts/000000000003.json");
	del(b, "artifacts/000000000003.sig");
	reseal(b, g.key, 0, NULL, NULL);
	FAIL_AT(b, TFA_LAYER_CHAIN, "artifacts/000000000003.json", 3,
		"Sequence gap: manifest does not list artifacts/000000000003.json");
	done(b);

	/* A range that claims more than the bundle holds (see also the known-bug test). */
	b = fresh();
	reseal(b, g.key, 0, "to_seq", "6");
	{
		tfa_verify_report r;
		CHECK_RC(run(&r, b, 1, 1), TFA_EVERIFY);
		CHECK(r.failed_layer == TFA_LAYER_CHAIN && r.failed_seq == 6);
		CHECK(strstr(r.message,
			     "Sequence gap: manifest does not list artifacts/000000000006.json") !=
		      NULL);
	}
	done(b);

	/* An extra artifact listed beyond the range. */
	b = fresh();
	put(b, "artifacts/000000000009.json", "{}", 2);
	{
		size_t n;
		char *m = get(b, "manifest.json", &n);
		cJSON *root = cJSON_ParseWithLength(m, n);
		cJSON *e = cJSON_CreateObject();
		char *out;
		cJSON_AddStringToObject(e, "path", "artifacts/000000000009.json");
		cJSON_AddStringToObject(e, "sha256", "00");
		cJSON_AddNumberToObject(e, "size", 2);
		cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
		cJSON *pk = cJSON_DetachItemFromArray(files, 2 * NREC + 1); /* public_key.pem */
		cJSON_AddItemToArray(files, e);
		cJSON_AddItemToArray(files, pk);
		out = canonical(root, &n);
		put(b, "manifest.json", out, n);
		cJSON_Delete(root);
		free(m);
		free(out);
	}
	reseal(b, g.key, 0, NULL, NULL);
	FAIL_AT(b, TFA_LAYER_CHAIN, "artifacts/000000000009.json", 0,
		"Manifest lists artifacts/000000000009.json outside the range 1..5");
	done(b);

	/* base_hash does not match the first record. */
	b = fresh();
	reseal(b, g.key, 0, "base_hash",
	       "\"sha256:1111111111111111111111111111111111111111111111111111111111111111\"");
	FAIL_AT(b, TFA_LAYER_CHAIN, "artifacts/000000000001.json", 1,
		"prev_hash is not the manifest's base_hash");
	done(b);

	/* Record 1 must start from the genesis value, whatever the manifest says. */
	b = fresh();
	rewrite_artifact(
	    b, 1, NULL, "prev_hash",
	    "\"sha256:2222222222222222222222222222222222222222222222222222222222222222\"", g.key);
	reseal(b, g.key, 0, "base_hash",
	       "\"sha256:2222222222222222222222222222222222222222222222222222222222222222\"");
	FAIL_AT(b, TFA_LAYER_CHAIN, "artifacts/000000000001.json", 1,
		"prev_hash is not the genesis value");
	done(b);
}

/* ---- layer 4: artifact signatures -------------------------------------------------------- */

static void test_layer4_signatures(void)
{
	char *b;

	/* A valid signature, but of another record. */
	b = fresh();
	{
		size_t n;
		char *s3 = get(b, "artifacts/000000000003.sig", &n);
		put(b, "artifacts/000000000004.sig", s3, n);
		free(s3);
	}
	reseal(b, g.key, 0, NULL, NULL);
	FAIL_AT(b, TFA_LAYER_SIGNATURES, "artifacts/000000000004.sig", 4,
		"Signature invalid for artifacts/000000000004.json (seq 4)");
	done(b);

	/* An empty signature file. */
	b = fresh();
	put(b, "artifacts/000000000002.sig", "", 0);
	reseal(b, g.key, 0, NULL, NULL);
	FAIL_AT(b, TFA_LAYER_SIGNATURES, "artifacts/000000000002.sig", 2, "Signature invalid");
	done(b);

	/* The last record signed by another key that it names. */
	b = fresh();
	{
		char fpr[TFA_FPR_STRLEN + 2];
		snprintf(fpr, sizeof(fpr), "\"%s\"", tfa_signer_fingerprint(g.other));
		rewrite_artifact(b, NREC, "signer", "key_fingerprint", fpr, g.other);
	}
	reseal(b, g.key, 1, NULL, NULL);
	FAIL_AT(b, TFA_LAYER_SIGNATURES, "artifacts/000000000005.sig", 5,
		"Artifact artifacts/000000000005.json (seq 5) names signing key");
	done(b);

	/* Signed by the bundle's key, but naming another: the named key is what counts. */
	b = fresh();
	{
		char fpr[TFA_FPR_STRLEN + 2];
		snprintf(fpr, sizeof(fpr), "\"%s\"", tfa_signer_fingerprint(g.other));
		rewrite_artifact(b, NREC, "signer", "key_fingerprint", fpr, g.key);
	}
	reseal(b, g.key, 1, NULL, NULL);
	FAIL_AT(b, TFA_LAYER_SIGNATURES, "artifacts/000000000005.sig", 5, "names signing key");
	done(b);

	/* An algorithm that does not fit the key. */
	b = fresh();
	rewrite_artifact(b, NREC, "signer", "algorithm", "\"RSASSA_PSS_SHA_256\"", g.key);
	reseal(b, g.key, 1, NULL, NULL);
	FAIL_AT(b, TFA_LAYER_SIGNATURES, "artifacts/000000000005.sig", 5,
		"Algorithm RSASSA_PSS_SHA_256 of artifacts/000000000005.json (seq 5) does not fit "
		"the key");
	done(b);
}

/* ---- the order of the layers -------------------------------------------------------------- */

static void test_layers_are_reported_in_order(void)
{
	char *b;

	/* A bad signature at seq 1 and a hash mismatch in VERIFY.md: files first. */
	b = fresh();
	{
		size_t n;
		char *s2 = get(b, "artifacts/000000000002.sig", &n);
		put(b, "artifacts/000000000001.sig", s2, n);
		free(s2);
	}
	reseal(b, g.key, 0, NULL, NULL);
	append_text(b, "VERIFY.md", "x");
	FAIL_AT(b, TFA_LAYER_FILES, "VERIFY.md", 0, "Hash mismatch");
	done(b);

	/* A broken link at seq 2 and a damaged file at seq 5: files first. */
	b = fresh();
	rewrite_artifact(b, 1, "event", "exit_code", "7", g.key);
	reseal(b, g.key, 0, NULL, NULL);
	flip(b, "artifacts/000000000005.json", 20);
	FAIL_AT(b, TFA_LAYER_FILES, "artifacts/000000000005.json", 5, "Hash mismatch");
	done(b);

	/* A bad signature at seq 1 and a broken link at seq 4: the chain first. */
	b = fresh();
	{
		size_t n;
		char *s2 = get(b, "artifacts/000000000002.sig", &n);
		put(b, "artifacts/000000000001.sig", s2, n);
		free(s2);
	}
	rewrite_artifact(b, 3, "event", "exit_code", "3", g.key);
	reseal(b, g.key, 0, NULL, NULL);
	FAIL_AT(b, TFA_LAYER_CHAIN, "artifacts/000000000004.json", 4, "Chain broken");
	done(b);
}

/* ---- threads ------------------------------------------------------------------------------ */

static void test_thread_counts_agree(void)
{
	char *bundles[5];
	tfa_verify_report r[3];
	tfa_err rc[3];
	static const unsigned counts[3] = {0, 1, 4};

	bundles[0] = fresh();
	bundles[1] = fresh();
	flip(bundles[1], "artifacts/000000000004.json", 30);
	bundles[2] = fresh();
	rewrite_artifact(bundles[2], 2, "event", "exit_code", "9", g.key);
	reseal(bundles[2], g.key, 0, NULL, NULL);
	bundles[3] = fresh();
	{
		size_t n;
		char *s = get(bundles[3], "artifacts/000000000001.sig", &n);
		put(bundles[3], "artifacts/000000000005.sig", s, n);
		free(s);
	}
	reseal(bundles[3], g.key, 0, NULL, NULL);
	bundles[4] = fresh();
	del(bundles[4], "artifacts/000000000005.sig");

	for (int i = 0; i < 5; i++) {
		for (int t = 0; t < 3; t++)
			rc[t] = run(&r[t], bundles[i], counts[t], 1);
		for (int t = 1; t < 3; t++) {
			if (rc[t] != rc[0] || r[t].failed_layer != r[0].failed_layer ||
			    strcmp(r[t].failed_file, r[0].failed_file) != 0 ||
			    r[t].failed_seq != r[0].failed_seq ||
			    strcmp(r[t].message, r[0].message) != 0 ||
			    r[t].artifacts != r[0].artifacts || r[t].files != r[0].files) {
				fprintf(stderr,
					"bundle %d: %u threads: %s \"%s\"; 0 threads: %s \"%s\"\n",
					i, counts[t], tfa_err_name(rc[t]), r[t].message,
					tfa_err_name(rc[0]), r[0].message);
				tfa_test_failures++;
			}
		}
		CHECK(i == 0 ? rc[0] == TFA_OK : rc[0] == TFA_EVERIFY);
	}
	CHECK(r[0].failed_layer == TFA_LAYER_FILES); /* the last: a missing .sig */
	/* TFATTEST_THREADS picks the count when the options leave it at 0. */
	setenv("TFATTEST_THREADS", "3", 1);
	rc[1] = run(&r[1], bundles[2], 0, 1);
	CHECK(rc[1] == TFA_EVERIFY && r[1].failed_layer == TFA_LAYER_CHAIN && r[1].failed_seq == 3);
	setenv("TFATTEST_THREADS", "garbage", 1);
	rc[1] = run(&r[1], bundles[0], 0, 1);
	CHECK(rc[1] == TFA_OK);
	unsetenv("TFATTEST_THREADS");
	/* More threads than artifacts. */
	rc[1] = run(&r[1], bundles[0], 64, 1);
	CHECK(rc[1] == TFA_OK && r[1].artifacts == NREC);
	rc[1] = run(&r[1], bundles[0], 1000, 1);
	CHECK(rc[1] == TFA_OK);
	for (int i = 0; i < 5; i++)
		done(bundles[i]);
}

/*
 * A gap at the end of the range (to_seq names a record the manifest does not
 * list) names the missing file, as a gap inside the range does.
 */
static void test_trailing_gap_names_the_file(void)
{
	char *b;

	b = fresh();
	reseal(b, g.key, 0, "to_seq", "6");
	FAIL_AT(b, TFA_LAYER_CHAIN, "artifacts/000000000006.json", 6, "Sequence gap");
	done(b);
}

TFA_TEST_MAIN(T(test_valid_bundle), T(test_bad_arguments), T(test_partial_range_export),
	      T(test_export_stopped), T(test_layer1_manifest), T(test_forged_reseal_needs_the_pin),
	      T(test_layer2_files), T(test_layer3_chain), T(test_layer4_signatures),
	      T(test_layers_are_reported_in_order), T(test_thread_counts_agree),
	      T(test_trailing_gap_names_the_file))
