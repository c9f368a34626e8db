/*
 * Tests for the attestation service's client (tfattest/service_client.h):
 * the record request holds exactly the capture's facts and never a value,
 * and a reply is believed only when its record is signed by the pinned key,
 * parses, and carries the facts and the idempotency key that were sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "format/b64.h"
#include "format/hex.h"
#include "tfa_test.h"
#include "tfattest/artifact.h"
#include "tfattest/capture.h"
#include "tfattest/chain.h"
#include "tfattest/jcs.h"
#include "tfattest/service.h"
#include "tfattest/service_client.h"
#include "tfattest/signer.h"
#include "tfattest/store.h"
#include "verify/crypto.h"

#define KEY   "0123456789abcdef0123456789abcdef"
#define CHAIN "prod"

static const char secret_plan[] =
    "{\"format_version\":\"1.2\",\"terraform_version\":\"1.9.0\","
    "\"variables\":{\"db_password\":{\"value\":\"S3CRET-variable\"}},"
    "\"planned_values\":{\"root_module\":{\"resources\":[{\"address\":\"db.main\",\"values\":{"
    "\"password\":\"S3CRET-planned\"}}]}},"
    "\"resource_changes\":[{\"address\":\"db.main\",\"mode\":\"managed\",\"type\":\"db\","
    "\"name\":\"main\",\"change\":{\"actions\":[\"update\"],\"before\":{\"password\":"
    "\"S3CRET-before\"},\"after\":{\"password\":\"S3CRET-after\"},\"after_unknown\":{}}}],"
    "\"output_changes\":{\"pw\":{\"actions\":[\"create\"],\"before\":null,\"after\":"
    "\"S3CRET-output\"}}}";

static const char secret_state[] =
    "{\"version\":4,\"terraform_version\":\"1.9.0\",\"serial\":42,\"lineage\":\"abc-123\","
    "\"outputs\":{\"pw\":{\"value\":\"S3CRET-state-output\",\"type\":\"string\"}},"
    "\"resources\":[{\"mode\":\"managed\",\"type\":\"db\",\"name\":\"main\",\"instances\":[{"
    "\"attributes\":{\"password\":\"S3CRET-state-attr\",\"id\":\"db-1\"}}]}]}";

static tfa_capture *new_capture(void)
{
	tfa_capture *c = NULL;
	tfa_event ev = {"apply", "succeeded", 0};

	CHECK_OK(tfa_capture_new_mem(&c, &ev, (const uint8_t *)secret_plan, strlen(secret_plan),
				     (const uint8_t *)secret_state, strlen(secret_state)));
	if (c == NULL)
		exit(2);
	return c;
}

static void build_request(tfa_buf *req, tfa_capture *c, const char *key)
{
	tfa_buf_init(req, 0);
	CHECK_OK(tfa_service_request_build(req, c, CHAIN, key));
}

/* The member names of object o, sorted, joined with ','. */
static void names_of(char *out, size_t size, const cJSON *o)
{
	const char *names[32];
	size_t n = 0, w = 0;
	const cJSON *m;

	out[0] = '\0';
	cJSON_ArrayForEach(m, o)
	{
		if (n < 32)
			names[n++] = m->string;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(names[j], names[i]) < 0) {
				const char *t = names[i];
				names[i] = names[j];
				names[j] = t;
			}
	for (size_t i = 0; i < n; i++)
		w += (size_t)snprintf(out + w, size - w, "%s%s", i ? "," : "", names[i]);
}

static void test_request_exact_members(void)
{
	tfa_capture *c = new_capture();
	tfa_buf req;
	cJSON *j;
	char names[512];

	/* A capture that went through the local spool carries a spool mark: never sent. */
	CHECK_OK(
	    tfa_capture_set_spool(c, "00112233445566778899aabbccddeeff", 1767225600, 1767225601));
	build_request(&req, c, KEY);
	CHECK_OK(tfa_jcs_check_canonical(req.data, req.len));
	j = cJSON_ParseWithLength((const char *)req.data, req.len);
	CHECK(j != NULL);
	names_of(names, sizeof(names), j);
	CHECK_STREQ(names, "chain_id,context,event,idempotency_key,terraform,type");
	CHECK_STREQ(cJSON_GetObjectItem(j, "type")->valuestring, "tfattest.record-request");
	CHECK_STREQ(cJSON_GetObjectItem(j, "chain_id")->valuestring, CHAIN);
	CHECK_STREQ(cJSON_GetObjectItem(j, "idempotency_key")->valuestring, KEY);
	names_of(names, sizeof(names), cJSON_GetObjectItem(j, "event"));
	CHECK_STREQ(names, "exit_code,status,type");
	cJSON_Delete(j);
	tfa_buf_free(&req);
	tfa_capture_free(c);
}

static void test_request_never_a_value(void)
{
	tfa_capture *c = new_capture();
	tfa_buf req, art;
	cJSON *r, *a;
	char *x, *y;
	tfa_signer *s;
	char *dir = tfa_test_tmpdir();
	tfa_artifact_head h = {CHAIN, 1, TFA_GENESIS_HASH, 1767225600, NULL, TFA_ALG_ECDSA_SHA_256};

	build_request(&req, c, KEY);
	CHECK(strstr((const char *)req.data, "S3CRET") == NULL);
	CHECK(strstr((const char *)req.data, "password") == NULL);
	CHECK(strstr((const char *)req.data, "db-1") == NULL);
	CHECK(strstr((const char *)req.data, "\"address\":\"db.main\"") != NULL);
	CHECK(strstr((const char *)req.data, "\"lineage\":\"abc-123\"") != NULL);
	/* The terraform and context members are exactly the ones a local record holds. */
	s = tfa_test_new_file_signer(dir, "k.pem");
	h.signer = s;
	tfa_buf_init(&art, 0);
	CHECK_OK(tfa_artifact_build(&art, c, &h));
	r = cJSON_ParseWithLength((const char *)req.data, req.len);
	a = cJSON_ParseWithLength((const char *)art.data, art.len);
	x = cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "terraform"));
	y = cJSON_PrintUnformatted(cJSON_GetObjectItem(a, "terraform"));
	CHECK_STREQ(x, y);
	cJSON_free(x);
	cJSON_free(y);
	x = cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "context"));
	y = cJSON_PrintUnformatted(cJSON_GetObjectItem(a, "context"));
	CHECK_STREQ(x, y);
	cJSON_free(x);
	cJSON_free(y);
	cJSON_Delete(r);
	cJSON_Delete(a);
	tfa_buf_free(&art);
	tfa_buf_free(&req);
	tfa_signer_free(s);
	tfa_capture_free(c);
	free(dir);
}

static void test_request_refuses_bad_input(void)
{
	tfa_capture *c = new_capture();
	tfa_buf req;

	tfa_buf_init(&req, 0);
	CHECK_RC(tfa_service_request_build(&req, c, CHAIN, "short"), TFA_EUSAGE);
	CHECK_RC(tfa_service_request_build(&req, c, CHAIN, "0123456789abcdef\n"), TFA_EUSAGE);
	CHECK_RC(tfa_service_request_build(&req, c, "no/slash", KEY), TFA_EFORMAT);
	CHECK(req.len == 0);
	tfa_buf_free(&req);
	tfa_capture_free(c);
}

static void test_idempotency_keys(void)
{
	tfa_service_client *c = NULL, *d = NULL;
	tfa_service_client_opts o;
	const char *a, *b;

	memset(&o, 0, sizeof(o));
	o.url = "https://attest.example/";
	o.chain_id = CHAIN;
	o.expect_fpr = "sha256:0011223344556677889900112233445566778899001122334455667788990011";
	CHECK_OK(tfa_service_client_new(&c, &o));
	CHECK_OK(tfa_service_client_new(&d, &o));
	a = tfa_service_client_key(c);
	b = tfa_service_client_key(d);
	CHECK(a && strlen(a) == 32 && strspn(a, "0123456789abcdef") == 32);
	CHECK(a && b && strcmp(a, b) != 0);
	tfa_service_client_free(c);
	tfa_service_client_free(d);
	o.idempotency_key = "run-1234.attempt_2";
	CHECK_OK(tfa_service_client_new(&c, &o));
	CHECK_STREQ(tfa_service_client_key(c), "run-1234.attempt_2");
	tfa_service_client_free(c);
	c = NULL;
	o.idempotency_key = "0123456789abcde";
	CHECK_RC(tfa_service_client_new(&c, &o), TFA_EUSAGE);
	o.idempotency_key = "0123456789abcdef 1";
	CHECK_RC(tfa_service_client_new(&c, &o), TFA_EUSAGE);
	CHECK(c == NULL);
}

/* ---- replies ------------------------------------------------------------------------- */

typedef struct forge {
	const char *key;       /* the idempotency key the record carries; NULL: none */
	const char *terraform; /* replaces terraform.state.lineage when not NULL */
	const char *status;    /* replaces event.status when not NULL */
	const char *chain;     /* the record's chain id */
	bool flip_sig;	       /* a byte of the signature changed */
	bool flip_art;	       /* the artifact changed after signing */
	int64_t seq_delta;     /* the reply's seq off by this */
	bool bad_hash;	       /* the reply's hash is another one */
	bool with_public_key;  /* the reply carries the signer's public key */
} forge;

/* A reply as the service would make it for `req`, signed by s, altered as f says. */
static void make_reply(tfa_buf *out, tfa_capture *c, tfa_signer *s, const forge *f,
		       const char *reply_fpr)
{
	tfa_artifact_head h = {
	    f->chain ? f->chain : CHAIN,
	    7,
	    "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	    1767225600,
	    s,
	    TFA_ALG_ECDSA_SHA_256};
	tfa_buf art, canon, sig, b64;
	uint8_t d[TFA_SHA256_LEN];
	char hash[TFA_FPR_STRLEN], *text;
	cJSON *a, *ev, *r;

	tfa_buf_init(&art, 0);
	tfa_buf_init(&canon, 0);
	tfa_buf_init(&sig, 0);
	tfa_buf_init(&b64, 0);
	CHECK_OK(tfa_artifact_build(&art, c, &h));
	a = cJSON_ParseWithLength((const char *)art.data, art.len);
	ev = cJSON_GetObjectItem(a, "event");
	cJSON_DeleteItemFromObject(ev, "spool");
	if (f->key)
		cJSON_AddStringToObject(ev, "idempotency_key", f->key);
	if (f->status)
		cJSON_ReplaceItemInObject(ev, "status", cJSON_CreateString(f->status));
	if (f->terraform)
		CHECK(cJSON_ReplaceItemInObject(
		    cJSON_GetObjectItem(cJSON_GetObjectItem(a, "terraform"), "state"), "lineage",
		    cJSON_CreateString(f->terraform)));
	text = cJSON_PrintUnformatted(a);
	CHECK_OK(tfa_jcs_canonicalize(&canon, (const uint8_t *)text, strlen(text)));
	cJSON_free(text);
	cJSON_Delete(a);
	tfa_sha256(d, canon.data, canon.len);
	CHECK_OK(tfa_signer_sign(&sig, s, TFA_ALG_ECDSA_SHA_256, d));
	tfa_hash_str(hash, d);
	if (f->bad_hash)
		hash[10] = hash[10] == '0' ? '1' : '0';
	if (f->flip_sig)
		sig.data[sig.len / 2] ^= 0x01;
	if (f->flip_art) {
		char *p = strstr((char *)canon.data, "\"exit_code\":0");
		CHECK(p != NULL);
		if (p)
			p[12] = '1';
	}
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "type", "tfattest.record-reply");
	cJSON_AddNumberToObject(r, "seq", (double)(7 + f->seq_delta));
	cJSON_AddStringToObject(r, "hash", hash);
	cJSON_AddBoolToObject(r, "replayed", false);
	cJSON_AddStringToObject(r, "key_fingerprint",
				reply_fpr ? reply_fpr : tfa_signer_fingerprint(s));
	CHECK_OK(tfa_b64_encode(&b64, canon.data, canon.len));
	CHECK_OK(tfa_buf_putc(&b64, '\0'));
	cJSON_AddStringToObject(r, "artifact", (const char *)b64.data);
	tfa_buf_clear(&b64);
	CHECK_OK(tfa_b64_encode(&b64, sig.data, sig.len));
	CHECK_OK(tfa_buf_putc(&b64, '\0'));
	cJSON_AddStringToObject(r, "signature", (const char *)b64.data);
	if (f->with_public_key) {
		size_t n = 0;
		const uint8_t *spki = tfa_signer_spki(s, &n);
		tfa_buf_clear(&b64);
		CHECK_OK(tfa_b64_encode(&b64, spki, n));
		CHECK_OK(tfa_buf_putc(&b64, '\0'));
		cJSON_AddStringToObject(r, "public_key", (const char *)b64.data);
	}
	text = cJSON_PrintUnformatted(r);
	tfa_buf_init(out, 0);
	CHECK_OK(tfa_buf_puts(out, text));
	cJSON_free(text);
	cJSON_Delete(r);
	tfa_buf_free(&art);
	tfa_buf_free(&canon);
	tfa_buf_free(&sig);
	tfa_buf_free(&b64);
}

typedef struct fixture {
	char *dir;
	tfa_signer *pinned, *other;
	tfa_capture *cap;
	tfa_buf req;
	const uint8_t *spki;
	size_t spki_len;
} fixture;

static void setup(fixture *fx)
{
	fx->dir = tfa_test_tmpdir();
	fx->pinned = tfa_test_new_file_signer(fx->dir, "pinned.pem");
	fx->other = tfa_test_new_file_signer(fx->dir, "other.pem");
	fx->cap = new_capture();
	build_request(&fx->req, fx->cap, KEY);
	fx->spki = tfa_signer_spki(fx->pinned, &fx->spki_len);
}

static void teardown(fixture *fx)
{
	tfa_signer_free(fx->pinned);
	tfa_signer_free(fx->other);
	tfa_capture_free(fx->cap);
	tfa_buf_free(&fx->req);
	free(fx->dir);
}

/* The check's verdict for a reply forged as f (signed by `by`, naming fpr). */
static tfa_err verdict(fixture *fx, const forge *f, tfa_signer *by, const char *fpr,
		       bool spki_given, tfa_service_receipt *r)
{
	tfa_buf reply;
	tfa_err rc;

	make_reply(&reply, fx->cap, by, f, fpr);
	rc = tfa_service_reply_check(r, fx->req.data, fx->req.len, reply.data, reply.len,
				     tfa_signer_fingerprint(fx->pinned),
				     spki_given ? fx->spki : NULL, spki_given ? fx->spki_len : 0);
	tfa_buf_free(&reply);
	return rc;
}

static void test_reply_good(void)
{
	fixture fx;
	tfa_service_receipt r;
	forge f = {.key = KEY};

	setup(&fx);
	memset(&r, 0, sizeof(r));
	CHECK_OK(verdict(&fx, &f, fx.pinned, NULL, true, &r));
	CHECK(r.seq == 7);
	CHECK(!r.replayed);
	CHECK_STREQ(r.idempotency_key, KEY);
	CHECK_STREQ(r.chain_id, CHAIN);
	CHECK(strncmp(r.hash, "sha256:", 7) == 0);
	/* The key may come with the reply, when it is the pinned one. */
	f.with_public_key = true;
	CHECK_OK(verdict(&fx, &f, fx.pinned, NULL, false, &r));
	teardown(&fx);
}

static void test_reply_bad_signature(void)
{
	fixture fx;
	tfa_service_receipt r;
	forge f = {.key = KEY, .flip_sig = true};

	setup(&fx);
	CHECK_RC(verdict(&fx, &f, fx.pinned, NULL, true, &r), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "does not verify") != NULL);
	/* An artifact changed after it was signed. */
	f.flip_sig = false;
	f.flip_art = true;
	CHECK_RC(verdict(&fx, &f, fx.pinned, NULL, true, &r), TFA_EVERIFY);
	teardown(&fx);
}

static void test_reply_other_key(void)
{
	fixture fx;
	tfa_service_receipt r;
	forge f = {.key = KEY};

	setup(&fx);
	/* Signed by another key, and saying so. */
	CHECK_RC(verdict(&fx, &f, fx.other, NULL, true, &r), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "not the pinned key") != NULL);
	/* Signed by another key, naming the pinned one. */
	CHECK_RC(verdict(&fx, &f, fx.other, tfa_signer_fingerprint(fx.pinned), true, &r),
		 TFA_EVERIFY);
	/* ... and handing over its own public key as if it were the pinned one. */
	f.with_public_key = true;
	CHECK_RC(verdict(&fx, &f, fx.other, tfa_signer_fingerprint(fx.pinned), false, &r),
		 TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "not the pinned key") != NULL);
	/* No key at hand at all. */
	f.with_public_key = false;
	CHECK_RC(verdict(&fx, &f, fx.pinned, NULL, false, &r), TFA_EUSAGE);
	teardown(&fx);
}

static void test_reply_altered_facts(void)
{
	fixture fx;
	tfa_service_receipt r;
	forge f = {.key = KEY, .terraform = "other-lineage"};

	setup(&fx);
	CHECK_RC(verdict(&fx, &f, fx.pinned, NULL, true, &r), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "Terraform facts") != NULL);
	f.terraform = NULL;
	f.status = "failed";
	CHECK_RC(verdict(&fx, &f, fx.pinned, NULL, true, &r), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "another event") != NULL);
	f.status = NULL;
	f.chain = "staging";
	CHECK_RC(verdict(&fx, &f, fx.pinned, NULL, true, &r), TFA_EVERIFY);
	f.chain = NULL;
	f.seq_delta = 1;
	CHECK_RC(verdict(&fx, &f, fx.pinned, NULL, true, &r), TFA_EVERIFY);
	f.seq_delta = 0;
	f.bad_hash = true;
	CHECK_RC(verdict(&fx, &f, fx.pinned, NULL, true, &r), TFA_EVERIFY);
	teardown(&fx);
}

static void test_reply_other_idempotency_key(void)
{
	fixture fx;
	tfa_service_receipt r;
	forge f = {.key = "fedcba9876543210fedcba9876543210"};

	setup(&fx);
	CHECK_RC(verdict(&fx, &f, fx.pinned, NULL, true, &r), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "not ours") != NULL);
	f.key = NULL;
	CHECK_RC(verdict(&fx, &f, fx.pinned, NULL, true, &r), TFA_EVERIFY);
	teardown(&fx);
}

static void test_reply_malformed(void)
{
	fixture fx;
	tfa_service_receipt r;
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{\"type\":\"tfattest.error\",\"error\":\"no\"}",
	    "{\"type\":\"tfattest.record-reply\",\"type\":\"tfattest.record-reply\"}",
	    "{\"type\":\"tfattest.record-reply\",\"seq\":7}",
	    NULL,
	};

	setup(&fx);
	for (const char *const *p = bad; *p; p++)
		CHECK(tfa_service_reply_check(&r, fx.req.data, fx.req.len, (const uint8_t *)*p,
					      strlen(*p), tfa_signer_fingerprint(fx.pinned),
					      fx.spki, fx.spki_len) != TFA_OK);
	teardown(&fx);
}

static void test_client_options(void)
{
	tfa_service_client *c = NULL;
	tfa_service_client_opts o;
	const char *fpr = "sha256:0011223344556677889900112233445566778899001122334455667788990011";

	memset(&o, 0, sizeof(o));
	o.url = "https://attest.example:8443/v1/records";
	o.chain_id = CHAIN;
	o.expect_fpr = fpr;
	CHECK_OK(tfa_service_client_new(&c, &o));
	CHECK_STREQ(tfa_service_client_auth_name(c), "oidc");
	CHECK(strlen(tfa_service_client_key(c)) == 32);
	tfa_service_client_free(c);
	o.url = "https://abcdefg.lambda-url.eu-west-1.on.aws/";
	o.idempotency_key = KEY;
#if TFATTEST_WITH_AWS
	CHECK_OK(tfa_service_client_new(&c, &o));
	CHECK_STREQ(tfa_service_client_auth_name(c), "aws");
	CHECK_STREQ(tfa_service_client_key(c), KEY);
	tfa_service_client_free(c);
	c = NULL;
#else
	/* A Function URL needs SigV4, which this build cannot make. */
	CHECK_RC(tfa_service_client_new(&c, &o), TFA_EUSAGE);
#endif
	o.auth = TFA_SERVICE_AUTH_OIDC;
	CHECK_OK(tfa_service_client_new(&c, &o));
	CHECK_STREQ(tfa_service_client_auth_name(c), "oidc");
	CHECK_STREQ(tfa_service_client_key(c), KEY);
	tfa_service_client_free(c);
	c = NULL;
	o.auth = TFA_SERVICE_AUTH_DEFAULT;
	/* Plain http only to loopback; nothing but http(s). */
	o.url = "http://attest.example/";
	CHECK_RC(tfa_service_client_new(&c, &o), TFA_EUSAGE);
	o.url = "ftp://attest.example/";
	CHECK_RC(tfa_service_client_new(&c, &o), TFA_EUSAGE);
	o.url = "https://user@attest.example/";
	CHECK_RC(tfa_service_client_new(&c, &o), TFA_EUSAGE);
	o.url = "http://127.0.0.1:8080/";
	CHECK_OK(tfa_service_client_new(&c, &o));
	tfa_service_client_free(c);
	c = NULL;
	o.expect_fpr = NULL;
	CHECK_RC(tfa_service_client_new(&c, &o), TFA_EUSAGE);
	o.expect_fpr = "sha256:00";
	CHECK_RC(tfa_service_client_new(&c, &o), TFA_EUSAGE);
	o.expect_fpr = fpr;
	o.chain_id = NULL;
	CHECK_RC(tfa_service_client_new(&c, &o), TFA_EUSAGE);
	o.chain_id = CHAIN;
	o.idempotency_key = "bad key";
	CHECK_RC(tfa_service_client_new(&c, &o), TFA_EUSAGE);
	CHECK(c == NULL);
}

/*
 * Against the service's own core: a request built here is accepted, and the
 * core's reply checks out; the same key again is a replay of the same record,
 * and a reply from the core is refused under another pinned key.
 */
static void test_core_round_trip(void)
{
	static const char policy[] =
	    "{\"issuers\":[{\"issuer\":\"https://token.example\",\"jwks_file\":\"jwks.json\","
	    "\"audience\":\"tfattest\"}],\"allow\":[{\"issuer\":\"https://token.example\","
	    "\"subject\":\"repo:acme/infra:*\",\"chains\":[\"prod\"],\"events\":[\"apply\"]}]}";
	char *dir = tfa_test_tmpdir(), store_uri[4200], key_uri[4200];
	tfa_signer *s = tfa_test_new_file_signer(dir, "service.pem");
	tfa_signer *other = tfa_test_new_file_signer(dir, "other.pem");
	tfa_store *st = NULL;
	tfa_policy *pol = NULL;
	tfa_service *svc = NULL;
	tfa_service_config cfg;
	tfa_service_reply rep, rep2;
	tfa_service_receipt r, r2;
	tfa_capture *c = new_capture();
	tfa_buf req;
	size_t spki_len = 0;
	const uint8_t *spki = tfa_signer_spki(s, &spki_len);
	tfa_identity who = {"oidc",
			    "https://token.example",
			    "repo:acme/infra:ref:refs/heads/main",
			    "tfattest",
			    0,
			    0,
			    NULL,
			    0,
			    NULL};

	memset(&rep, 0, sizeof(rep));
	memset(&rep2, 0, sizeof(rep2));
	snprintf(store_uri, sizeof(store_uri), "%s/store", dir);
	snprintf(key_uri, sizeof(key_uri), "file:%s/service.pem", dir);
	CHECK_OK(tfa_store_open(&st, store_uri));
	CHECK_OK(tfa_chain_init(st, CHAIN, s));
	tfa_store_free(st);
	CHECK_OK(tfa_policy_parse(&pol, (const uint8_t *)policy, strlen(policy), dir));
	memset(&cfg, 0, sizeof(cfg));
	cfg.store = store_uri;
	cfg.key = key_uri;
	cfg.policy = pol;
	cfg.front_end = "serve";
	CHECK_OK(tfa_service_open(&svc, &cfg));
	if (svc == NULL)
		goto out;
	build_request(&req, c, KEY);
	CHECK_OK(tfa_service_record(svc, &who, req.data, req.len, &rep));
	CHECK(rep.status == 200);
	CHECK_OK(tfa_service_reply_check(&r, req.data, req.len, rep.body.data, rep.body.len,
					 tfa_signer_fingerprint(s), spki, spki_len));
	CHECK(r.seq == 1 && !r.replayed);
	/* A retry with the same key: the same record, replayed. */
	CHECK_OK(tfa_service_record(svc, &who, req.data, req.len, &rep2));
	CHECK(rep2.status == 200);
	CHECK_OK(tfa_service_reply_check(&r2, req.data, req.len, rep2.body.data, rep2.body.len,
					 tfa_signer_fingerprint(s), spki, spki_len));
	CHECK(r2.seq == 1 && r2.replayed);
	CHECK_STREQ(r.hash, r2.hash);
	/* The same reply, pinned to another key. */
	spki = tfa_signer_spki(other, &spki_len);
	CHECK_RC(tfa_service_reply_check(&r2, req.data, req.len, rep2.body.data, rep2.body.len,
					 tfa_signer_fingerprint(other), spki, spki_len),
		 TFA_EVERIFY);
	tfa_buf_free(&req);
out:
	tfa_service_reply_free(&rep);
	tfa_service_reply_free(&rep2);
	tfa_service_close(svc);
	tfa_policy_free(pol);
	tfa_capture_free(c);
	tfa_signer_free(s);
	tfa_signer_free(other);
	free(dir);
}

TFA_TEST_MAIN(T(test_request_exact_members), T(test_request_never_a_value),
	      T(test_request_refuses_bad_input), T(test_idempotency_keys), T(test_reply_good),
	      T(test_reply_bad_signature), T(test_reply_other_key), T(test_reply_altered_facts),
	      T(test_reply_other_idempotency_key), T(test_reply_malformed), T(test_client_options),
	      T(test_core_round_trip))
