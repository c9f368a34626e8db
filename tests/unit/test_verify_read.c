/*
 * Tests for the verifier's one read of the evidence (tfa_verify_opts.on_artifact)
 * and the layers it reports as passed. A caller that shows records takes them
 * from on_artifact: each call must carry exactly the bytes of a record that
 * passed, in seq order, none after a failure, and a caller's failure must
 * stop the verification with the caller's code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tfa_test.h"
#include "tfattest/artifact.h"
#include "tfattest/bundle.h"
#include "tfattest/capture.h"
#include "tfattest/chain.h"
#include "tfattest/jcs.h"
#include "tfattest/signer.h"
#include "tfattest/store.h"
#include "tfattest/verify.h"
#include "verify/crypto.h"

#define NREC 5
/* More than two batches of the verifier's double-buffered scan. */
#define NBIG 1100

static struct {
	char *dir;
	tfa_signer *key, *other;
	char *small, *big; /* exported bundles, never modified */
	int serial;
} g;

static void cleanup(void)
{
	tfa_signer_free(g.key);
	tfa_signer_free(g.other);
	if (g.dir)
		tfa_test_rmtree(g.dir);
	free(g.dir);
	free(g.small);
	free(g.big);
}

/* A chain of n records in a store named name, exported to a bundle (malloc'd path). */
static char *make_bundle(const char *name, int n)
{
	tfa_store *st = NULL;
	tfa_capture *c = NULL;
	tfa_event ev = {NULL, NULL, 0};
	tfa_export_opts o;
	tfa_export_result res;
	char plan[4096], sname[64], bname[64];
	char *spath, *bpath;

	snprintf(plan, sizeof(plan), "%s/terraform/plans/show-basic-delete.json",
		 tfa_test_fixtures());
	snprintf(sname, sizeof(sname), "store-%s", name);
	snprintf(bname, sizeof(bname), "bundle-%s", name);
	spath = tfa_test_path(g.dir, sname);
	bpath = tfa_test_path(g.dir, bname);
	if (tfa_store_open(&st, spath) != TFA_OK || tfa_chain_init(st, "audit", g.key) != TFA_OK ||
	    tfa_capture_new(&c, &ev, plan, NULL) != TFA_OK) {
		fprintf(stderr, "setup failed: %s\n", tfa_error_last()->message);
		exit(2);
	}
	for (int i = 0; i < n; i++)
		if (tfa_chain_append(NULL, st, g.key, TFA_ALG_NONE, c) != TFA_OK) {
			fprintf(stderr, "append failed: %s\n", tfa_error_last()->message);
			exit(2);
		}
	memset(&o, 0, sizeof(o));
	o.out_dir = bpath;
	if (tfa_bundle_export(&res, st, g.key, &o) != TFA_OK) {
		fprintf(stderr, "export failed: %s\n", tfa_error_last()->message);
		exit(2);
	}
	tfa_capture_free(c);
	tfa_store_free(st);
	free(spath);
	return bpath;
}

static void setup(void)
{
	if (g.dir)
		return;
	atexit(cleanup);
	g.dir = tfa_test_tmpdir();
	g.key = tfa_test_new_file_signer(g.dir, "key.pem");
	g.other = tfa_test_new_file_signer(g.dir, "other.pem");
	g.small = make_bundle("small", NREC);
}

/* A fresh copy of a bundle (malloc'd path). */
static char *copy_of(const char *src)
{
	char name[32], cmd[9000];
	char *p;

	snprintf(name, sizeof(name), "c%03d", g.serial++);
	p = tfa_test_path(g.dir, name);
	snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", src, p);
	if (system(cmd) != 0) {
		fprintf(stderr, "cannot copy %s\n", src);
		exit(2);
	}
	return p;
}

static char *art(uint64_t seq, const char *ext)
{
	static char p[2][48];
	static int i;

	i ^= 1;
	snprintf(p[i], sizeof(p[i]), "artifacts/%012llu.%s", (unsigned long long)seq, ext);
	return p[i];
}

static char *get(const char *dir, const char *rel, size_t *len)
{
	return tfa_test_get_file(dir, rel, len);
}

/* Sets the manifest entry of rel to the file's hash and size, and re-signs the manifest. */
static void reseal_one(const char *b, const char *rel)
{
	size_t n, fn;
	char *text = get(b, "manifest.json", &n), *data = get(b, rel, &fn), *out;
	cJSON *root = cJSON_ParseWithLength(text, n), *e;
	uint8_t d[TFA_SHA256_LEN];
	char h[TFA_FPR_STRLEN];
	tfa_buf canon, sig;

	tfa_sha256(d, data, fn);
	tfa_hash_str(h, d);
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(root, "files"))
	{
		if (strcmp(cJSON_GetObjectItemCaseSensitive(e, "path")->valuestring, rel) != 0)
			continue;
		cJSON_ReplaceItemInObjectCaseSensitive(e, "sha256", cJSON_CreateString(h + 7));
		cJSON_ReplaceItemInObjectCaseSensitive(e, "size", cJSON_CreateNumber((double)fn));
	}
	out = cJSON_PrintUnformatted(root);
	tfa_buf_init(&canon, 0);
	tfa_buf_init(&sig, 0);
	if (out == NULL ||
	    tfa_jcs_canonicalize(&canon, (const uint8_t *)out, strlen(out)) != TFA_OK) {
		fprintf(stderr, "cannot canonicalize\n");
		exit(2);
	}
	tfa_sha256(d, canon.data, canon.len);
	if (tfa_signer_sign(&sig, g.key, tfa_signer_default_alg(g.key), d) != TFA_OK) {
		fprintf(stderr, "cannot sign\n");
		exit(2);
	}
	tfa_test_put_file(b, "manifest.json", canon.data, canon.len);
	tfa_test_put_file(b, "manifest.sig", sig.data, sig.len);
	tfa_buf_free(&canon);
	tfa_buf_free(&sig);
	cJSON_free(out);
	cJSON_Delete(root);
	free(text);
	free(data);
}

/* ---- what on_artifact saw ------------------------------------------------------------------ */

typedef struct seen {
	const char *bundle; /* to compare the bytes with */
	uint64_t calls, last_seq;
	int out_of_order, bytes_differ;
	uint64_t fail_at; /* return fail_rc at this seq; 0: never */
	tfa_err fail_rc;
	int only_records; /* on_record alone, without on_artifact */
	/* What on_record saw: each call after on_artifact's for the same seq (when both are
	 * set), with the fields a parse of the bundle's bytes gives. */
	uint64_t rec_calls, rec_last_seq;
	int rec_out_of_order, rec_differs, rec_before_bytes;
	uint64_t rec_fail_at; /* on_record returns fail_rc at this seq; 0: never */
} seen;

static tfa_err on_artifact(void *ud, uint64_t seq, const uint8_t *json, size_t len,
			   const uint8_t *sig, size_t siglen)
{
	seen *s = ud;
	size_t jn, sn;
	char *j = get(s->bundle, art(seq, "json"), &jn), *g2 = get(s->bundle, art(seq, "sig"), &sn);

	if (seq != s->last_seq + 1 && !(s->calls == 0))
		s->out_of_order++;
	if (jn != len || memcmp(j, json, len) != 0 || sn != siglen || memcmp(g2, sig, siglen) != 0)
		s->bytes_differ++;
	free(j);
	free(g2);
	s->calls++;
	s->last_seq = seq;
	return s->fail_at == seq ? s->fail_rc : TFA_OK;
}

static tfa_err on_record(void *ud, const tfa_verify_record *a)
{
	seen *s = ud;
	size_t jn;
	char *j = get(s->bundle, art(a->seq, "json"), &jn);
	tfa_artifact want;
	bool same;

	if (a->seq != s->rec_last_seq + 1 && s->rec_calls != 0)
		s->rec_out_of_order++;
	if (!s->only_records && s->last_seq != a->seq)
		s->rec_before_bytes++;
	same = tfa_artifact_parse(&want, (const uint8_t *)j, jn) == TFA_OK && want.seq == a->seq &&
	       want.time == a->time && strcmp(want.event, a->event) == 0 &&
	       strcmp(want.status, a->status) == 0 && want.spooled == a->spooled &&
	       want.deployed_at == a->deployed_at && want.spooled_at == a->spooled_at &&
	       want.has_identity == a->has_identity;
	if (!same)
		s->rec_differs++;
	free(j);
	s->rec_calls++;
	s->rec_last_seq = a->seq;
	return s->rec_fail_at == a->seq ? s->fail_rc : TFA_OK;
}

static tfa_err run(tfa_verify_report *rep, const char *b, unsigned threads, seen *s)
{
	tfa_verify_opts o;

	memset(&o, 0, sizeof(o));
	o.threads = threads;
	o.expect_fpr = tfa_signer_fingerprint(g.key);
	if (!s->only_records) {
		o.on_artifact = on_artifact;
		o.artifact_ud = s;
	}
	o.on_record = on_record;
	o.record_ud = s;
	s->bundle = b;
	return tfa_verify_bundle(rep, b, &o);
}

static void test_valid_bundle_every_record_once(void)
{
	tfa_verify_report rep;

	setup();
	for (unsigned t = 1; t <= 4; t += 3) {
		seen s = {0};
		CHECK_OK(run(&rep, g.small, t, &s));
		CHECK(s.calls == NREC);
		CHECK(s.last_seq == NREC);
		CHECK(s.out_of_order == 0);
		CHECK(s.bytes_differ == 0);
		CHECK(s.rec_calls == NREC && s.rec_last_seq == NREC);
		CHECK(s.rec_out_of_order == 0 && s.rec_differs == 0 && s.rec_before_bytes == 0);
		CHECK(rep.passed_layer == TFA_LAYER_CHECKPOINTS);
		CHECK(rep.failed_layer == TFA_LAYER_NONE);
	}
	/* on_record alone, as `verify` uses it: every record, in order, nothing kept. */
	for (unsigned t = 1; t <= 4; t += 3) {
		seen s = {0};
		s.only_records = 1;
		CHECK_OK(run(&rep, g.small, t, &s));
		CHECK(s.calls == 0);
		CHECK(s.rec_calls == NREC && s.rec_last_seq == NREC);
		CHECK(s.rec_out_of_order == 0 && s.rec_differs == 0);
	}
}

static void test_many_batches_in_order(void)
{
	tfa_verify_report rep;

	setup();
	if (g.big == NULL)
		g.big = make_bundle("big", NBIG);
	for (unsigned t = 1; t <= 4; t += 3) {
		seen s = {0};
		CHECK_OK(run(&rep, g.big, t, &s));
		CHECK(s.calls == NBIG);
		CHECK(s.last_seq == NBIG);
		CHECK(s.out_of_order == 0);
		CHECK(s.bytes_differ == 0);
		CHECK(s.rec_calls == NBIG && s.rec_last_seq == NBIG);
		CHECK(s.rec_out_of_order == 0 && s.rec_differs == 0 && s.rec_before_bytes == 0);
	}
	for (unsigned t = 1; t <= 4; t += 3) {
		seen s = {0};
		s.only_records = 1;
		CHECK_OK(run(&rep, g.big, t, &s));
		CHECK(s.rec_calls == NBIG && s.rec_last_seq == NBIG);
		CHECK(s.rec_out_of_order == 0 && s.rec_differs == 0);
	}
}

static void test_no_call_from_a_failed_record_on(void)
{
	tfa_verify_report rep;
	char *b;
	size_t n;
	char *data;

	setup();
	/* Layer 2: record 3's bytes differ from the manifest. Records 1 and 2 passed. */
	b = copy_of(g.small);
	data = get(b, art(3, "json"), &n);
	data[40] ^= 1;
	tfa_test_put_file(b, art(3, "json"), data, n);
	free(data);
	{
		seen s = {0};
		CHECK_RC(run(&rep, b, 1, &s), TFA_EVERIFY);
		CHECK(rep.failed_layer == TFA_LAYER_FILES);
		CHECK(rep.passed_layer == TFA_LAYER_MANIFEST);
		CHECK(s.last_seq < 3);
	}
	tfa_test_rmtree(b);
	free(b);

	/* Layer 4: record 3 signed by another key (the manifest re-sealed over it). */
	b = copy_of(g.small);
	{
		uint8_t d[TFA_SHA256_LEN];
		tfa_buf sig;
		seen s = {0};

		data = get(b, art(3, "json"), &n);
		tfa_sha256(d, data, n);
		tfa_buf_init(&sig, 0);
		CHECK_OK(tfa_signer_sign(&sig, g.other, tfa_signer_default_alg(g.other), d));
		tfa_test_put_file(b, art(3, "sig"), sig.data, sig.len);
		tfa_buf_free(&sig);
		free(data);
		reseal_one(b, art(3, "sig"));
		for (unsigned t = 1; t <= 4; t += 3) {
			memset(&s, 0, sizeof(s));
			CHECK_RC(run(&rep, b, t, &s), TFA_EVERIFY);
			CHECK(rep.failed_layer == TFA_LAYER_SIGNATURES);
			CHECK(rep.failed_seq == 3);
			CHECK(rep.passed_layer == TFA_LAYER_CHAIN);
			CHECK(s.calls == 2);
			CHECK(s.last_seq == 2);
			CHECK(s.bytes_differ == 0);
			CHECK(s.rec_calls == 2 && s.rec_last_seq == 2 && s.rec_differs == 0);
			memset(&s, 0, sizeof(s));
			s.only_records = 1;
			CHECK_RC(run(&rep, b, t, &s), TFA_EVERIFY);
			CHECK(rep.failed_layer == TFA_LAYER_SIGNATURES);
			CHECK(s.rec_calls == 2 && s.rec_last_seq == 2);
		}
	}
	tfa_test_rmtree(b);
	free(b);
}

static void test_caller_failure_stops_verification(void)
{
	tfa_verify_report rep;
	seen s = {0};

	setup();
	s.fail_at = 2;
	s.fail_rc = TFA_EIO;
	CHECK_RC(run(&rep, g.small, 1, &s), TFA_EIO);
	CHECK(s.calls == 2);
	CHECK(strstr(tfa_error_last()->message, "artifacts/000000000002.json") != NULL);
	CHECK(strstr(rep.message, "artifacts/000000000002.json") != NULL);
	CHECK(rep.failed_layer == TFA_LAYER_NONE);
	CHECK(rep.passed_layer == TFA_LAYER_MANIFEST);

	/* A caller cannot make a valid bundle look invalid. */
	memset(&s, 0, sizeof(s));
	s.fail_at = 1;
	s.fail_rc = TFA_EVERIFY;
	CHECK_RC(run(&rep, g.small, 4, &s), TFA_EINTERNAL);
	CHECK(s.calls == 1);
	CHECK(rep.failed_layer == TFA_LAYER_NONE);

	/* The same for on_record: its failure stops the scan, named by the record, and cannot
	 * make the bundle look invalid. */
	static const struct {
		uint64_t at;
		tfa_err rc, want;
		unsigned threads;
	} cases[] = {{3, TFA_EIO, TFA_EIO, 4}, {1, TFA_EFORMAT, TFA_EINTERNAL, 1}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[48];
		memset(&s, 0, sizeof(s));
		s.only_records = 1;
		s.rec_fail_at = cases[i].at;
		s.fail_rc = cases[i].rc;
		CHECK_RC(run(&rep, g.small, cases[i].threads, &s), cases[i].want);
		CHECK(s.rec_calls == cases[i].at);
		snprintf(name, sizeof(name), "artifacts/%012llu.json",
			 (unsigned long long)cases[i].at);
		CHECK(strstr(rep.message, name) != NULL);
	}
}

static void test_missing_checkpoint_file_is_named(void)
{
	tfa_verify_report rep;
	tfa_verify_opts o;
	const char *cps[1] = {"/nonexistent/trusted.ckpt"};

	setup();
	memset(&o, 0, sizeof(o));
	o.checkpoints = cps;
	o.ncheckpoints = 1;
	CHECK_RC(tfa_verify_bundle(&rep, g.small, &o), TFA_ENOTFOUND);
	CHECK(strstr(tfa_error_last()->message, "/nonexistent/trusted.ckpt") != NULL);
	CHECK(strstr(rep.message, "/nonexistent/trusted.ckpt") != NULL);
	/* The text lines said layer 1 passed before the file was read: the report says so too. */
	CHECK(rep.passed_layer == TFA_LAYER_MANIFEST);
	CHECK(tfa_err_exit_status(TFA_ENOTFOUND) == 2);
}

TFA_TEST_MAIN(T(test_valid_bundle_every_record_once), T(test_many_batches_in_order),
	      T(test_no_call_from_a_failed_record_on), T(test_caller_failure_stops_verification),
	      T(test_missing_checkpoint_file_is_named))
