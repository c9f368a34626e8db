/*
 * Tests for chains through the public API: init pins the first key, append
 * links and signs records, only the current key may append, and a tampered
 * head is refused. Keys are generated here and used through file: URIs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tfa_test.h"
#include "tfattest/artifact.h"
#include "tfattest/capture.h"
#include "tfattest/chain.h"
#include "tfattest/jcs.h"
#include "tfattest/signer.h"
#include "tfattest/store.h"
#include "verify/crypto.h"
#include "verify/keywalk.h"

/* ---- helpers ------------------------------------------------------------------------------ */

/* Generates a key ("EC" P-256 or "RSA" 2048) into dir/name and opens it as a file: signer. */
static tfa_signer *new_key(const char *dir, const char *name, const char *type)
{
	EVP_PKEY *k = strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
					       : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	char *p = tfa_test_path(dir, name), uri[4200];
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
	CHECK_OK(tfa_signer_open(&s, uri));
	if (s == NULL)
		exit(2);
	return s;
}

static tfa_capture *new_capture(const char *plan)
{
	char path[4096];
	tfa_capture *c = NULL;
	tfa_event ev = {NULL, NULL, 0};

	snprintf(path, sizeof(path), "%s/terraform/plans/%s", tfa_test_fixtures(), plan);
	CHECK_OK(tfa_capture_new(&c, &ev, path, NULL));
	if (c == NULL)
		exit(2);
	return c;
}

typedef struct fixture {
	char *dir, *root;
	tfa_store *st;
	tfa_signer *key;
	tfa_capture *cap;
} fixture;

static void setup(fixture *f, const char *keytype)
{
	f->dir = tfa_test_tmpdir();
	f->root = tfa_test_path(f->dir, "store");
	f->st = NULL;
	CHECK_OK(tfa_store_open(&f->st, f->root));
	f->key = new_key(f->dir, "key.pem", keytype);
	f->cap = new_capture("show-basic-create.json");
}

static void teardown(fixture *f)
{
	tfa_capture_free(f->cap);
	tfa_signer_free(f->key);
	tfa_store_free(f->st);
	tfa_test_rmtree(f->dir);
	free(f->dir);
	free(f->root);
}

/*
 * Checks records 1..n: contiguous seqs, one chain id, prev_hash links from the
 * genesis value, each signed by `key` with `alg`.
 */
static void check_chain(tfa_store *st, const tfa_signer *key, tfa_sig_alg alg, uint64_t n,
			const char *chain_id)
{
	uint8_t prev[TFA_SHA256_LEN] = {0};
	size_t spki_len;
	const uint8_t *spki = tfa_signer_spki(key, &spki_len);
	EVP_PKEY *pub = NULL;
	tfa_buf a, s;

	CHECK_OK(tfa_pkey_from_spki(&pub, spki, spki_len));
	tfa_buf_init(&a, 0);
	tfa_buf_init(&s, 0);
	for (uint64_t seq = 1; seq <= n; seq++) {
		tfa_artifact art;
		uint8_t d[TFA_SHA256_LEN];

		tfa_buf_clear(&a);
		tfa_buf_clear(&s);
		CHECK_OK(tfa_store_get(st, seq, &a, &s));
		CHECK_OK(tfa_artifact_parse(&art, a.data, a.len));
		CHECK(art.seq == seq);
		CHECK_STREQ(art.chain_id, chain_id);
		CHECK(memcmp(art.prev_hash, prev, sizeof(prev)) == 0);
		CHECK_STREQ(art.key_fpr, tfa_signer_fingerprint(key));
		CHECK(art.alg == alg);
		tfa_sha256(d, a.data, a.len);
		CHECK_OK(tfa_verify_digest(pub, alg, d, s.data, s.len));
		memcpy(prev, d, sizeof(d));
	}
	EVP_PKEY_free(pub);
	tfa_buf_free(&a);
	tfa_buf_free(&s);
}

/* ---- init --------------------------------------------------------------------------------- */

static void test_init_pins_first_key(void)
{
	fixture f;
	tfa_chain_info info;
	tfa_signer *other;
	int64_t now = (int64_t)time(NULL);
	size_t len;
	char *meta;

	setup(&f, "EC");
	other = new_key(f.dir, "other.pem", "EC");
	CHECK_RC(tfa_chain_info_read(&info, f.st), TFA_ENOTFOUND);
	CHECK_OK(tfa_chain_init(f.st, "prod-eu.1_x", f.key));
	CHECK_OK(tfa_chain_info_read(&info, f.st));
	CHECK_STREQ(info.chain_id, "prod-eu.1_x");
	CHECK_STREQ(info.anchor_fpr, tfa_signer_fingerprint(f.key));
	CHECK(info.created >= now - 5 && info.created <= now + 5);
	/* The metadata is canonical JSON plus a newline. */
	meta = tfa_test_get_file(f.root, "chain.json", &len);
	CHECK(len > 1 && meta[len - 1] == '\n');
	CHECK_OK(tfa_jcs_check_canonical((const uint8_t *)meta, len - 1));
	CHECK(strstr(meta, "\"type\":\"tfattest.chain\"") != NULL);
	free(meta);

	/* Once only, whichever key asks. */
	CHECK_RC(tfa_chain_init(f.st, "prod-eu.1_x", f.key), TFA_ECONFLICT);
	CHECK_RC(tfa_chain_init(f.st, "another", other), TFA_ECONFLICT);
	CHECK_OK(tfa_chain_info_read(&info, f.st));
	CHECK_STREQ(info.anchor_fpr, tfa_signer_fingerprint(f.key));
	tfa_signer_free(other);
	teardown(&f);
}

static void test_init_rejects_bad_arguments(void)
{
	fixture f;
	char id65[66];

	setup(&f, "EC");
	memset(id65, 'a', 65);
	id65[65] = '\0';
	CHECK_RC(tfa_chain_init(f.st, NULL, f.key), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "no chain name") != NULL);
	/* Invalid ids are in test_rewrapped_messages. */
	CHECK_RC(tfa_chain_init(NULL, "x", f.key), TFA_EUSAGE);
	CHECK_RC(tfa_chain_init(f.st, "x", NULL), TFA_EUSAGE);
	/* Nothing was created. */
	{
		tfa_chain_info info;
		CHECK_RC(tfa_chain_info_read(&info, f.st), TFA_ENOTFOUND);
	}
	id65[64] = '\0';
	CHECK_OK(tfa_chain_init(f.st, id65, f.key));
	teardown(&f);
}

/* Copies `tmpl` to out with each "@F" replaced by fpr. */
static void with_fpr(char *out, size_t cap, const char *tmpl, const char *fpr)
{
	size_t o = 0, fl = strlen(fpr);

	for (const char *p = tmpl; *p && o + fl + 1 < cap; p++) {
		if (p[0] == '@' && p[1] == 'F') {
			memcpy(out + o, fpr, fl);
			o += fl;
			p++;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static void test_info_rejects_bad_metadata(void)
{
	static const char fpr[] =
	    "sha256:261e452e495b6e36b5d6fa2854213c209374142096aaf2784bfd8f74739cbdbb";
	static const struct {
		const char *json;
		const char *msg;
	} bad[] = {
	    /* Not JSON at all: in test_rewrapped_messages. */
	    {"[]", "chain metadata is not a JSON object"},
	    {"{\"anchor_key_fingerprint\":\"@F\",\"chain_id\":\"c\",\"created\":\"2024-01-01T00:00:"
	     "00Z\",\"schema_version\":1,\"type\":\"tfattest.chain\",\"x\":1}",
	     "chain metadata has an unknown member \"x\""},
	    {"{\"anchor_key_fingerprint\":\"@F\",\"chain_id\":\"c\",\"created\":\"2024-01-01T00:00:"
	     "00Z\",\"schema_version\":1,\"type\":\"tfattest.artifact\"}",
	     "chain metadata has the wrong type"},
	    {"{\"anchor_key_fingerprint\":\"@F\",\"chain_id\":\"c\",\"created\":\"2024-01-01T00:00:"
	     "00Z\",\"schema_version\":2,\"type\":\"tfattest.chain\"}",
	     "\"schema_version\" is not an integer in range"},
	    {"{\"anchor_key_fingerprint\":\"@F\",\"chain_id\":\"c "
	     "d\",\"created\":\"2024-01-01T00:00:00Z\",\"schema_version\":1,\"type\":\"tfattest."
	     "chain\"}",
	     "chain id may hold only"},
	    {"{\"anchor_key_fingerprint\":\"sha256:00\",\"chain_id\":\"c\",\"created\":\"2024-01-"
	     "01T00:00:00Z\",\"schema_version\":1,\"type\":\"tfattest.chain\"}",
	     "\"anchor_key_fingerprint\" is not sha256"},
	    {"{\"anchor_key_fingerprint\":\"@F\",\"chain_id\":\"c\",\"created\":\"2024-02-30T00:00:"
	     "00Z\",\"schema_version\":1,\"type\":\"tfattest.chain\"}",
	     "time is not a valid UTC date"},
	    {"{\"anchor_key_fingerprint\":\"@F\",\"chain_id\":\"c\",\"schema_version\":1,\"type\":"
	     "\"tfattest.chain\"}",
	     "chain metadata has no \"created\""},
	};
	char *dir = tfa_test_tmpdir();
	tfa_store *st = NULL;
	tfa_chain_info info;
	char text[1024];

	CHECK_OK(tfa_store_open(&st, dir));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		with_fpr(text, sizeof(text), bad[i].json, fpr);
		tfa_test_put_file(dir, "chain.json", text, strlen(text));
		tfa_error_clear();
		CHECK_RC(tfa_chain_info_read(&info, st), TFA_EFORMAT);
		if (strstr(tfa_error_last()->message, bad[i].msg) == NULL) {
			fprintf(stderr, "case %zu: message \"%s\", wanted \"%s\"\n", i,
				tfa_error_last()->message, bad[i].msg);
			tfa_test_failures++;
		}
	}
	with_fpr(text, sizeof(text),
		 "{\"anchor_key_fingerprint\":\"@F\",\"chain_id\":\"c\",\"created\":\"2024-01-"
		 "01T00:00:00Z\",\"schema_version\":1,\"type\":\"tfattest.chain\"}\n",
		 fpr);
	tfa_test_put_file(dir, "chain.json", text, strlen(text));
	CHECK_OK(tfa_chain_info_read(&info, st));
	CHECK_STREQ(info.chain_id, "c");
	CHECK_STREQ(info.anchor_fpr, fpr);
	CHECK(info.created == 1704067200);
	tfa_store_free(st);
	tfa_test_rmtree(dir);
	free(dir);
}

/*
 * Errors re-raised with the previous message as an argument,
 * tfa_error_set(code, "...: %s", tfa_error_last()->message), from chain.c
 * and the file signer: the message must come out whole (tfa_error_set once
 * formatted the buffer into itself, which left chain_init's message empty).
 */
static void test_rewrapped_messages(void)
{
	fixture f;
	tfa_signer *s = NULL;
	tfa_chain_info info;
	char id65[66];
	uint64_t seq = 0, head;
	char hash[TFA_FPR_STRLEN], fpr[TFA_FPR_STRLEN];

	setup(&f, "EC");
	memset(id65, 'a', 65);
	id65[65] = '\0';
	CHECK_RC(tfa_chain_init(f.st, "has space", f.key), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "may hold only") != NULL);
	CHECK_RC(tfa_chain_init(f.st, "../up", f.key), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "may hold only") != NULL);
	CHECK_RC(tfa_chain_init(f.st, "", f.key), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "1 to 64 characters") != NULL);
	CHECK_RC(tfa_chain_init(f.st, id65, f.key), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "1 to 64 characters") != NULL);
	CHECK_RC(tfa_chain_info_read(&info, f.st), TFA_ENOTFOUND);

	CHECK_RC(tfa_signer_open(&s, "file:/nonexistent-dir/key.pem"), TFA_EUSAGE);
	tfa_test_expect_wrapped("cannot read key file", "cannot open /nonexistent-dir/key.pem",
				__LINE__);

	/* Corrupt chain metadata. */
	CHECK_OK(tfa_chain_init(f.st, "t", f.key));
	tfa_test_put_file(f.root, "chain.json", "not json", 8);
	CHECK_RC(tfa_chain_info_read(&info, f.st), TFA_EFORMAT);
	tfa_test_expect_wrapped("chain metadata is corrupt", "json: ", __LINE__);
	tfa_test_put_file(f.root, "chain.json", "{\"chain_id\":\"a\",\"chain_id\":\"a\"}", 31);
	CHECK_RC(tfa_chain_info_read(&info, f.st), TFA_EFORMAT);
	tfa_test_expect_wrapped("chain metadata is corrupt", "duplicate object key", __LINE__);
	tfa_signer_free(s);
	teardown(&f);

	/* A head record that is no longer a valid artifact. */
	setup(&f, "EC");
	CHECK_OK(tfa_chain_init(f.st, "t", f.key));
	CHECK_OK(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_NONE, f.cap));
	CHECK_OK(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_NONE, f.cap));
	CHECK_OK(tfa_chain_info_read(&info, f.st));
	{
		size_t n2;
		char *rec2 = tfa_test_get_file(f.root, "records/000000000002.rec", &n2);
		char *t = malloc(n2 + 2);
		t[0] = ' ';
		memcpy(t + 1, rec2, n2);
		tfa_test_put_file(f.root, "records/000000000002.rec", t, n2 + 1);
		free(t);
		free(rec2);
	}
	CHECK_RC(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_NONE, f.cap), TFA_EVERIFY);
	tfa_test_expect_wrapped("head record 2 is invalid", "not in RFC 8785 canonical form",
				__LINE__);
	CHECK_RC(tfa_chain_head(f.st, &info, &head, hash, fpr), TFA_EVERIFY);
	teardown(&f);
}

/* ---- head and append ---------------------------------------------------------------------- */

static void test_head_of_empty_chain(void)
{
	fixture f;
	tfa_chain_info info;
	uint64_t head = 99;
	char hash[TFA_FPR_STRLEN], fpr[TFA_FPR_STRLEN];

	setup(&f, "EC");
	CHECK_OK(tfa_chain_init(f.st, "c", f.key));
	CHECK_OK(tfa_chain_info_read(&info, f.st));
	CHECK_OK(tfa_chain_head(f.st, &info, &head, hash, fpr));
	CHECK(head == 0);
	CHECK_STREQ(hash, TFA_GENESIS_HASH);
	CHECK_STREQ(fpr, tfa_signer_fingerprint(f.key));
	teardown(&f);
}

static void test_append_links_and_signs(void)
{
	fixture f;
	tfa_chain_info info;
	uint64_t seq = 0, head = 0;
	char hash[TFA_FPR_STRLEN], fpr[TFA_FPR_STRLEN], want[TFA_FPR_STRLEN];
	tfa_buf a, s;
	uint8_t d[TFA_SHA256_LEN];

	setup(&f, "EC");
	CHECK_OK(tfa_chain_init(f.st, "c1", f.key));
	for (uint64_t i = 1; i <= 4; i++) {
		CHECK_OK(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_NONE, f.cap));
		CHECK(seq == i);
	}
	CHECK_OK(tfa_chain_append(NULL, f.st, f.key, TFA_ALG_ECDSA_SHA_256, f.cap));
	check_chain(f.st, f.key, TFA_ALG_ECDSA_SHA_256, 5, "c1");

	/* The head: seq, hash of its bytes, its key. */
	CHECK_OK(tfa_chain_info_read(&info, f.st));
	CHECK_OK(tfa_chain_head(f.st, &info, &head, hash, fpr));
	CHECK(head == 5);
	tfa_buf_init(&a, 0);
	tfa_buf_init(&s, 0);
	CHECK_OK(tfa_store_get(f.st, 5, &a, &s));
	tfa_sha256(d, a.data, a.len);
	tfa_hash_str(want, d);
	CHECK_STREQ(hash, want);
	CHECK_STREQ(fpr, tfa_signer_fingerprint(f.key));
	tfa_buf_free(&a);
	tfa_buf_free(&s);
	teardown(&f);
}

static void test_append_needs_a_chain(void)
{
	fixture f;
	uint64_t seq = 77;

	setup(&f, "EC");
	CHECK_RC(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_NONE, f.cap), TFA_ENOTFOUND);
	CHECK(seq == 77);
	CHECK_RC(tfa_chain_append(&seq, NULL, f.key, TFA_ALG_NONE, f.cap), TFA_EUSAGE);
	CHECK_RC(tfa_chain_append(&seq, f.st, NULL, TFA_ALG_NONE, f.cap), TFA_EUSAGE);
	CHECK_RC(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_NONE, NULL), TFA_EUSAGE);
	teardown(&f);
}

static void test_only_the_current_key_appends(void)
{
	fixture f;
	tfa_signer *other;
	uint64_t seq = 0, head = 0;

	setup(&f, "EC");
	other = new_key(f.dir, "other.pem", "EC");
	CHECK_OK(tfa_chain_init(f.st, "pinned", f.key));
	/* Empty chain: the anchor is the current key. */
	CHECK_RC(tfa_chain_append(&seq, f.st, other, TFA_ALG_NONE, f.cap), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "is not the current key of chain pinned") != NULL);
	CHECK(strstr(tfa_error_last()->message, tfa_signer_fingerprint(other)) != NULL);
	CHECK_OK(tfa_store_head(f.st, &head));
	CHECK(head == 0);
	CHECK_OK(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_NONE, f.cap));
	/* Non-empty chain: the key of the head record. */
	CHECK_RC(tfa_chain_append(&seq, f.st, other, TFA_ALG_NONE, f.cap), TFA_EVERIFY);
	CHECK_OK(tfa_store_head(f.st, &head));
	CHECK(head == 1);
	tfa_signer_free(other);
	teardown(&f);
}

static void test_algorithm_choice(void)
{
	fixture f;
	tfa_signer *rsa;
	tfa_store *st2 = NULL;
	char *root2;
	uint64_t seq;

	setup(&f, "EC");
	CHECK_OK(tfa_chain_init(f.st, "ec", f.key));
	CHECK_RC(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_RSASSA_PSS_SHA_256, f.cap),
		 TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "does not fit") != NULL);
	CHECK_RC(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256, f.cap),
		 TFA_EUSAGE);
	CHECK_OK(tfa_store_head(f.st, &seq));
	CHECK(seq == 0);

	/* RSA: PSS by default, PKCS#1 v1.5 on request; each record names its own. */
	rsa = new_key(f.dir, "rsa.pem", "RSA");
	CHECK(tfa_signer_default_alg(rsa) == TFA_ALG_RSASSA_PSS_SHA_256);
	root2 = tfa_test_path(f.dir, "rsa-store");
	CHECK_OK(tfa_store_open(&st2, root2));
	CHECK_OK(tfa_chain_init(st2, "rsa", rsa));
	CHECK_RC(tfa_chain_append(&seq, st2, rsa, TFA_ALG_ECDSA_SHA_256, f.cap), TFA_EUSAGE);
	CHECK_OK(tfa_chain_append(&seq, st2, rsa, TFA_ALG_NONE, f.cap));
	check_chain(st2, rsa, TFA_ALG_RSASSA_PSS_SHA_256, 1, "rsa");
	CHECK_OK(tfa_chain_append(&seq, st2, rsa, TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256, f.cap));
	CHECK(seq == 2);
	{
		tfa_buf a, s;
		tfa_artifact art;
		tfa_buf_init(&a, 0);
		tfa_buf_init(&s, 0);
		CHECK_OK(tfa_store_get(st2, 2, &a, &s));
		CHECK_OK(tfa_artifact_parse(&art, a.data, a.len));
		CHECK(art.alg == TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256);
		CHECK(s.len == 256);
		tfa_buf_free(&a);
		tfa_buf_free(&s);
	}
	/* Appending after a PKCS#1 record checks the head with PKCS#1, then signs with PSS. */
	CHECK_OK(tfa_chain_append(&seq, st2, rsa, TFA_ALG_NONE, f.cap));
	CHECK(seq == 3);
	tfa_store_free(st2);
	tfa_signer_free(rsa);
	free(root2);
	teardown(&f);
}

/* ---- a tampered head ---------------------------------------------------------------------- */

static void test_tampered_head_is_refused(void)
{
	fixture f;
	tfa_chain_info info;
	uint64_t seq = 0, head;
	char hash[TFA_FPR_STRLEN], fpr[TFA_FPR_STRLEN];
	char *rec1, *rec2;
	size_t n1, n2;

	setup(&f, "EC");
	CHECK_OK(tfa_chain_init(f.st, "t", f.key));
	CHECK_OK(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_NONE, f.cap));
	CHECK_OK(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_NONE, f.cap));
	CHECK_OK(tfa_chain_info_read(&info, f.st));
	rec1 = tfa_test_get_file(f.root, "records/000000000001.rec", &n1);
	rec2 = tfa_test_get_file(f.root, "records/000000000002.rec", &n2);

	/* 1. The signature line changed (still valid hex): appending refuses to link to it. */
	{
		char *t = malloc(n2 + 1);
		memcpy(t, rec2, n2 + 1);
		t[n2 - 2] = t[n2 - 2] == '0' ? '1' : '0';
		tfa_test_put_file(f.root, "records/000000000002.rec", t, n2);
		free(t);
	}
	CHECK_RC(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_NONE, f.cap), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message,
		     "signature of the store's head record 2 is invalid") != NULL);
	CHECK_OK(tfa_store_head(f.st, &head));
	CHECK(head == 2);

	/* 2. The artifact bytes changed: in test_rewrapped_messages. */

	/* 3. Record 1 copied into place 2: valid and signed, but at the wrong place. */
	tfa_test_put_file(f.root, "records/000000000002.rec", rec1, n1);
	CHECK_RC(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_NONE, f.cap), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "does not belong at its place") != NULL);
	CHECK_RC(tfa_chain_head(f.st, &info, &head, hash, fpr), TFA_EVERIFY);

	/* Restored: appends again. */
	tfa_test_put_file(f.root, "records/000000000002.rec", rec2, n2);
	CHECK_OK(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_NONE, f.cap));
	CHECK(seq == 3);
	check_chain(f.st, f.key, TFA_ALG_ECDSA_SHA_256, 3, "t");
	free(rec1);
	free(rec2);
	teardown(&f);
}

static void test_concurrent_writers(void)
{
	enum { WRITERS = 3, EACH = 4 };
	fixture f;
	char uri[4200];
	pid_t pids[WRITERS];

	setup(&f, "EC");
	CHECK_OK(tfa_chain_init(f.st, "busy", f.key));
	snprintf(uri, sizeof(uri), "file:%s/key.pem", f.dir);
	fflush(NULL);
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		if (pids[w] == 0) {
			/* Each writer process opens its own store and key. */
			tfa_store *st = NULL;
			tfa_signer *k = NULL;
			int bad = 0;
			if (tfa_store_open(&st, f.root) != TFA_OK ||
			    tfa_signer_open(&k, uri) != TFA_OK)
				_exit(3);
			for (int i = 0; i < EACH; i++)
				if (tfa_chain_append(NULL, st, k, TFA_ALG_NONE, f.cap) != TFA_OK)
					bad = 1;
			tfa_signer_free(k);
			tfa_store_free(st);
			_exit(bad);
		}
	}
	for (int w = 0; w < WRITERS; w++) {
		int status = -1;
		CHECK(pids[w] > 0 && waitpid(pids[w], &status, 0) == pids[w]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	{
		uint64_t head = 0;
		CHECK_OK(tfa_store_head(f.st, &head));
		CHECK(head == WRITERS * EACH);
	}
	check_chain(f.st, f.key, TFA_ALG_ECDSA_SHA_256, WRITERS * EACH, "busy");
	teardown(&f);
}

/* ---- rotation ---------------------------------------------------------------------------- */

static void test_rotation_hands_over(void)
{
	fixture f;
	tfa_signer *b, *c;
	uint64_t seq = 0, head = 0, seqs[TFA_CHAIN_KEYS_MAX];
	size_t n = 99;
	char hh[TFA_FPR_STRLEN], key[TFA_FPR_STRLEN];
	tfa_chain_info info;

	setup(&f, "RSA");
	b = new_key(f.dir, "b.pem", "EC");
	c = new_key(f.dir, "c.pem", "RSA");
	CHECK_OK(tfa_chain_init(f.st, "rot", f.key));
	CHECK_OK(tfa_chain_info_read(&info, f.st));
	CHECK_OK(tfa_chain_rotations(seqs, &n, f.st, 0));
	CHECK(n == 0);
	CHECK_OK(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_NONE, f.cap));
	CHECK_OK(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_NONE, f.cap));
	/* Only the current key may rotate, and not to itself. */
	CHECK_RC(tfa_chain_rotate(&seq, f.st, b, TFA_ALG_NONE, c, TFA_ALG_NONE), TFA_EVERIFY);
	CHECK_RC(tfa_chain_rotate(&seq, f.st, f.key, TFA_ALG_NONE, f.key, TFA_ALG_NONE),
		 TFA_EUSAGE);
	/* The new key must be able to sign with the algorithm named for it. */
	CHECK_RC(tfa_chain_rotate(&seq, f.st, f.key, TFA_ALG_NONE, b, TFA_ALG_RSASSA_PSS_SHA_256),
		 TFA_EUSAGE);
	CHECK_OK(tfa_store_head(f.st, &head));
	CHECK(head == 2);
	CHECK_OK(tfa_chain_rotate(&seq, f.st, f.key, TFA_ALG_NONE, b, TFA_ALG_NONE));
	CHECK(seq == 3);
	/* The head (the rotation) tells the key in force after it. */
	CHECK_OK(tfa_chain_head(f.st, &info, &head, hh, key));
	CHECK(head == 3);
	CHECK_STREQ(key, tfa_signer_fingerprint(b));
	CHECK_RC(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_NONE, f.cap), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "is not the current key") != NULL);
	CHECK_OK(tfa_chain_append(&seq, f.st, b, TFA_ALG_NONE, f.cap));
	CHECK(seq == 4);
	CHECK_OK(tfa_chain_append(&seq, f.st, b, TFA_ALG_NONE, f.cap));
	/* A retired key never returns. */
	CHECK_RC(tfa_chain_rotate(&seq, f.st, b, TFA_ALG_NONE, f.key, TFA_ALG_NONE), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "retired key") != NULL);
	CHECK_OK(
	    tfa_chain_rotate(&seq, f.st, b, TFA_ALG_NONE, c, TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256));
	CHECK(seq == 6);
	CHECK_RC(tfa_chain_rotate(&seq, f.st, c, TFA_ALG_NONE, b, TFA_ALG_NONE), TFA_EUSAGE);
	CHECK_RC(tfa_chain_append(&seq, f.st, b, TFA_ALG_NONE, f.cap), TFA_EVERIFY);
	CHECK_OK(tfa_chain_append(&seq, f.st, c, TFA_ALG_NONE, f.cap));
	CHECK_OK(tfa_store_head(f.st, &head));
	CHECK_OK(tfa_chain_rotations(seqs, &n, f.st, head));
	CHECK(n == 2 && seqs[0] == 3 && seqs[1] == 6);
	CHECK_OK(tfa_chain_rotations(seqs, &n, f.st, 5));
	CHECK(n == 1 && seqs[0] == 3);
	CHECK_OK(tfa_chain_rotations(seqs, &n, f.st, 3));
	CHECK(n == 1 && seqs[0] == 3);
	CHECK_OK(tfa_chain_rotations(seqs, &n, f.st, 2));
	CHECK(n == 0);
	tfa_signer_free(b);
	tfa_signer_free(c);
	teardown(&f);
}

/* The record after a rotation must link to it and be signed by the new key; a
 * rotation whose proof of possession was tampered with stops further appends. */
static void test_rotation_head_checked(void)
{
	fixture f;
	tfa_signer *b;
	uint64_t seq = 0;
	char *rec;
	tfa_buf a, s;
	tfa_artifact *art = calloc(1, sizeof(*art));

	setup(&f, "EC");
	b = new_key(f.dir, "b.pem", "EC");
	tfa_buf_init(&a, 0);
	tfa_buf_init(&s, 0);
	CHECK_OK(tfa_chain_init(f.st, "rot", f.key));
	CHECK_OK(tfa_chain_rotate(&seq, f.st, f.key, TFA_ALG_NONE, b, TFA_ALG_NONE));
	CHECK(seq == 1);
	CHECK_OK(tfa_store_get(f.st, 1, &a, &s));
	CHECK_OK(tfa_artifact_parse(art, a.data, a.len));
	CHECK(art->is_rotation);
	CHECK_STREQ(art->key_fpr, tfa_signer_fingerprint(f.key));
	CHECK_STREQ(art->rot.new_fpr, tfa_signer_fingerprint(b));
	/* Replace the stored rotation by one whose proof of possession is another's. */
	{
		char *p = strstr((char *)a.data, "\"pop_signature\":\"");
		CHECK(p != NULL);
		if (p) {
			p += strlen("\"pop_signature\":\"") + 10;
			*p = *p == 'A' ? 'B' : 'A';
		}
	}
	rec = tfa_test_path(f.root, "records/000000000001.rec");
	{
		FILE *fp;
		chmod(rec, 0644);
		fp = fopen(rec, "wb");
		CHECK(fp != NULL);
		if (fp) {
			char hex[2 * TFA_SIG_MAX + 1];
			tfa_hex_encode(hex, s.data, s.len);
			fwrite(a.data, 1, a.len, fp);
			fprintf(fp, "\n%s\n", hex);
			fclose(fp);
		}
	}
	CHECK_RC(tfa_chain_append(&seq, f.st, b, TFA_ALG_NONE, f.cap), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "proof of possession") != NULL);
	free(rec);
	free(art);
	tfa_buf_free(&a);
	tfa_buf_free(&s);
	tfa_signer_free(b);
	teardown(&f);
}

/*
 * The rotation rules (keywalk.h), one at a time, on a genuine rotation record
 * a -> b: each rule breaks alone, with its own reason, and the record passes
 * when nothing is changed.
 */
static void test_keywalk_rules(void)
{
	fixture f;
	tfa_signer *b, *c;
	uint64_t seq = 0;
	tfa_buf rec, sig, alt;
	tfa_artifact *scratch = calloc(1, sizeof(*scratch));
	tfa_keywalk_key keys[TFA_KEYWALK_MAX];
	size_t n = 0, len;
	const uint8_t *spki;
	tfa_keywalk_why why;
	uint8_t d[TFA_SHA256_LEN];

	setup(&f, "EC");
	b = new_key(f.dir, "b.pem", "RSA");
	c = new_key(f.dir, "c.pem", "EC");
	tfa_buf_init(&rec, 0);
	tfa_buf_init(&sig, 0);
	tfa_buf_init(&alt, 0);
	memset(keys, 0, sizeof(keys));
	CHECK(scratch != NULL);
	CHECK_OK(tfa_chain_init(f.st, "kw", f.key));
	CHECK_OK(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_NONE, f.cap));
	CHECK_OK(tfa_chain_rotate(&seq, f.st, f.key, TFA_ALG_NONE, b, TFA_ALG_NONE));
	CHECK(seq == 2);
	CHECK_OK(tfa_store_get(f.st, 2, &rec, &sig));
	spki = tfa_signer_spki(f.key, &len);

#define STEP(chain, at, bytes, blen, s, slen)                                                      \
	tfa_keywalk_step(keys, &n, (chain), (at), (bytes), (blen), (s), (slen), scratch, &why)

	/* As it is: the anchor a, then b from seq 3. */
	CHECK_OK(tfa_keywalk_anchor(keys, &n, spki, len));
	CHECK(n == 1 && keys[0].from == 1);
	CHECK_STREQ(keys[0].fpr, tfa_signer_fingerprint(f.key));
	CHECK_OK(STEP("kw", 2, rec.data, rec.len, sig.data, sig.len));
	CHECK(n == 2 && keys[1].from == 3 && keys[1].rot_seq == 2 && why == TFA_KW_OK);
	CHECK_STREQ(keys[1].fpr, tfa_signer_fingerprint(b));
	CHECK(tfa_keywalk_at(keys, n, 2) == 0 && tfa_keywalk_at(keys, n, 3) == 1);
	/* 1: the same record again is not after the last rotation. */
	CHECK_RC(STEP("kw", 2, rec.data, rec.len, sig.data, sig.len), TFA_EVERIFY);
	CHECK(why == TFA_KW_RECORD && n == 2);
	CHECK(strstr(tfa_error_last()->message, "not after the previous rotation") != NULL);
	tfa_keywalk_clear(keys, &n);
	CHECK(n == 0);

	/* 1: another seq, another chain, not a rotation record. */
	CHECK_OK(tfa_keywalk_anchor(keys, &n, spki, len));
	CHECK_RC(STEP("kw", 3, rec.data, rec.len, sig.data, sig.len), TFA_EVERIFY);
	CHECK(why == TFA_KW_RECORD);
	CHECK_RC(STEP("other", 2, rec.data, rec.len, sig.data, sig.len), TFA_EVERIFY);
	CHECK(why == TFA_KW_RECORD && strstr(tfa_error_last()->message, "of chain other at seq 2"));
	{
		tfa_buf r1, s1;
		tfa_buf_init(&r1, 0);
		tfa_buf_init(&s1, 0);
		CHECK_OK(tfa_store_get(f.st, 1, &r1, &s1));
		CHECK_RC(STEP("kw", 1, r1.data, r1.len, s1.data, s1.len), TFA_EVERIFY);
		CHECK(why == TFA_KW_RECORD);
		tfa_buf_free(&r1);
		tfa_buf_free(&s1);
	}
	CHECK(n == 1);

	/* 3: the signature does not verify. */
	CHECK_OK(tfa_buf_append(&alt, sig.data, sig.len));
	alt.data[alt.len / 2] ^= 1;
	CHECK_RC(STEP("kw", 2, rec.data, rec.len, alt.data, alt.len), TFA_EVERIFY);
	CHECK(why == TFA_KW_SIGNATURE && n == 1);
	tfa_keywalk_clear(keys, &n);

	/* 2: the key in force is not the record's signer. */
	{
		const uint8_t *cs = tfa_signer_spki(c, &len);
		CHECK_OK(tfa_keywalk_anchor(keys, &n, cs, len));
		CHECK_RC(STEP("kw", 2, rec.data, rec.len, sig.data, sig.len), TFA_EVERIFY);
		CHECK(why == TFA_KW_SIGNER &&
		      strstr(tfa_error_last()->message, "not the key in force"));
		tfa_keywalk_clear(keys, &n);
		spki = tfa_signer_spki(f.key, &len);
	}

	/* 5: the new key was in force before (b, then a, hands back to b). */
	{
		const uint8_t *bs;
		size_t blen;
		bs = tfa_signer_spki(b, &blen);
		CHECK_OK(tfa_keywalk_anchor(keys, &n, bs, blen));
		CHECK_OK(tfa_pkey_from_spki(&keys[1].pkey, spki, len));
		memcpy(keys[1].fpr, tfa_signer_fingerprint(f.key), TFA_FPR_STRLEN);
		keys[1].from = 1;
		n = 2;
		CHECK_RC(STEP("kw", 2, rec.data, rec.len, sig.data, sig.len), TFA_EVERIFY);
		CHECK(why == TFA_KW_RETIRED && n == 2);
		CHECK(strstr(tfa_error_last()->message, "brings back the retired key") != NULL);
		tfa_keywalk_clear(keys, &n);
	}

	/* 6: a 65th key. */
	for (size_t i = 0; i + 1 < TFA_KEYWALK_MAX; i++) {
		snprintf(keys[i].fpr, sizeof(keys[i].fpr), "sha256:%064zx", i + 1);
		keys[i].from = 1;
	}
	n = TFA_KEYWALK_MAX - 1;
	CHECK_OK(tfa_pkey_from_spki(&keys[n].pkey, spki, len));
	memcpy(keys[n].fpr, tfa_signer_fingerprint(f.key), TFA_FPR_STRLEN);
	keys[n].from = 1;
	n++;
	CHECK_RC(STEP("kw", 2, rec.data, rec.len, sig.data, sig.len), TFA_EVERIFY);
	CHECK(why == TFA_KW_LIMIT && n == TFA_KEYWALK_MAX);
	CHECK(strstr(tfa_error_last()->message, "beyond the limit of 64 keys") != NULL);
	tfa_keywalk_clear(keys, &n);

	/* 7: another proof of possession, the record re-signed by its signer. */
	tfa_buf_clear(&alt);
	CHECK_OK(tfa_buf_append(&alt, rec.data, rec.len));
	CHECK_OK(tfa_buf_putc(&alt, '\0'));
	{
		char *p = strstr((char *)alt.data, "\"pop_signature\":\"");
		CHECK(p != NULL);
		if (p) {
			p += strlen("\"pop_signature\":\"") + 10;
			*p = *p == 'A' ? 'B' : 'A';
		}
	}
	alt.len--;
	tfa_sha256(d, alt.data, alt.len);
	tfa_buf_clear(&sig);
	CHECK_OK(tfa_signer_sign(&sig, f.key, tfa_signer_default_alg(f.key), d));
	CHECK_OK(tfa_keywalk_anchor(keys, &n, spki, len));
	CHECK_RC(STEP("kw", 2, alt.data, alt.len, sig.data, sig.len), TFA_EVERIFY);
	CHECK(why == TFA_KW_POP && n == 1);
	CHECK(strstr(tfa_error_last()->message, "proof of possession invalid") != NULL);
	tfa_keywalk_clear(keys, &n);
#undef STEP

	free(scratch);
	tfa_buf_free(&rec);
	tfa_buf_free(&sig);
	tfa_buf_free(&alt);
	tfa_signer_free(b);
	tfa_signer_free(c);
	teardown(&f);
}

TFA_TEST_MAIN(T(test_init_pins_first_key), T(test_init_rejects_bad_arguments),
	      T(test_info_rejects_bad_metadata), T(test_head_of_empty_chain),
	      T(test_append_links_and_signs), T(test_append_needs_a_chain),
	      T(test_only_the_current_key_appends), T(test_algorithm_choice),
	      T(test_tampered_head_is_refused), T(test_concurrent_writers),
	      T(test_rewrapped_messages), T(test_rotation_hands_over),
	      T(test_rotation_head_checked), T(test_keywalk_rules))
