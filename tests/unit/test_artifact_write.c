/*
 * Tests for the artifact writer's rotation records: the bytes for fixed
 * inputs are exactly those the rotation writer in chain.c produced before it
 * moved here (tests/fixtures/rotation/record.json, from old-key.pem rotating
 * to new-key.pem, both RSA with PKCS#1 v1.5, whose signatures are
 * deterministic), the head is the deployment records' head, and bad heads are
 * refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/artifact_write.h"
#include "tfa_test.h"
#include "tfattest/artifact.h"
#include "tfattest/capture.h"
#include "tfattest/signer.h"
#include "verify/crypto.h"

#define PREV "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
/* 2026-01-01T00:00:00Z */
#define WHEN INT64_C(1767225600)

static tfa_signer *open_key(const char *name)
{
	char uri[4200];
	tfa_signer *s = NULL;

	snprintf(uri, sizeof(uri), "file:%s/rotation/%s", tfa_test_fixtures(), name);
	CHECK_OK(tfa_signer_open(&s, uri));
	if (s == NULL)
		exit(2);
	return s;
}

static void fixed_head(tfa_artifact_head *h, const tfa_signer *old)
{
	h->chain_id = "prod-eu.1";
	h->seq = 42;
	h->prev_hash = PREV;
	h->time = WHEN;
	h->signer = old;
	h->alg = TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256;
}

/* The proof of possession as chain.c makes it: the new key signs the rotation's place. */
static void make_pop(tfa_buf *popsig, const tfa_artifact_head *h, tfa_signer *next)
{
	tfa_artifact a;
	tfa_buf pop;
	uint8_t d[TFA_SHA256_LEN];

	tfa_buf_init(&pop, 4096);
	memset(&a, 0, sizeof(a));
	snprintf(a.chain_id, sizeof(a.chain_id), "%s", h->chain_id);
	a.seq = h->seq;
	CHECK_OK(tfa_hash_parse(a.prev_hash, h->prev_hash, strlen(h->prev_hash)));
	snprintf(a.key_fpr, sizeof(a.key_fpr), "%s", tfa_signer_fingerprint(h->signer));
	a.is_rotation = true;
	a.rot.new_alg = TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256;
	snprintf(a.rot.new_fpr, sizeof(a.rot.new_fpr), "%s", tfa_signer_fingerprint(next));
	CHECK_OK(tfa_rotation_pop_bytes(&pop, &a));
	tfa_sha256(d, pop.data, pop.len);
	CHECK_OK(tfa_signer_sign(popsig, next, TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256, d));
	tfa_buf_free(&pop);
}

/* The new key's fields; the provenance is the one the recorded bytes were made with. */
static const tfa_kv fixed_prov[] = {{"key_path", "rotation-new.pem"}};

static void fixed_fields(tfa_rotation_fields *r, const tfa_signer *next, const tfa_buf *popsig)
{
	memset(r, 0, sizeof(*r));
	r->new_fpr = tfa_signer_fingerprint(next);
	r->new_alg = TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256;
	r->new_backend = tfa_signer_backend_name(next);
	r->new_prov = fixed_prov;
	r->new_prov_len = 1;
	r->new_spki = tfa_signer_spki(next, &r->new_spki_len);
	r->pop = popsig->data;
	r->pop_len = popsig->len;
}

static int contains(const tfa_buf *b, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i + n <= b->len; i++)
		if (memcmp(b->data + i, s, n) == 0)
			return 1;
	return 0;
}

static void test_rotation_bytes_unchanged(void)
{
	tfa_signer *old = open_key("old-key.pem"), *next = open_key("new-key.pem");
	tfa_artifact_head h;
	tfa_rotation_fields r;
	tfa_buf popsig, out;
	size_t want_len = 0;
	char *want = tfa_test_read_fixture("rotation/record.json", &want_len);

	tfa_buf_init(&popsig, 0);
	tfa_buf_init(&out, TFA_ARTIFACT_MAX);
	fixed_head(&h, old);
	make_pop(&popsig, &h, next);
	fixed_fields(&r, next, &popsig);
	CHECK_OK(tfa_artifact_build_rotation(&out, &h, &r));
	CHECK(want != NULL && out.len == want_len && memcmp(out.data, want, want_len) == 0);
	if (want && (out.len != want_len || memcmp(out.data, want, want_len) != 0))
		fprintf(stderr, "got:  %.*s\nwant: %s\n", (int)out.len, (const char *)out.data,
			want);
	free(want);
	tfa_buf_free(&out);
	tfa_buf_free(&popsig);
	tfa_signer_free(old);
	tfa_signer_free(next);
}

static void test_rotation_parses_as_written(void)
{
	tfa_signer *old = open_key("old-key.pem"), *next = open_key("new-key.pem");
	tfa_artifact_head h;
	tfa_rotation_fields r;
	tfa_buf popsig, out;
	tfa_artifact *a = calloc(1, sizeof(*a));
	const uint8_t *spki;
	size_t spki_len = 0;

	if (a == NULL)
		exit(2);
	tfa_buf_init(&popsig, 0);
	tfa_buf_init(&out, TFA_ARTIFACT_MAX);
	fixed_head(&h, old);
	make_pop(&popsig, &h, next);
	fixed_fields(&r, next, &popsig);
	CHECK_OK(tfa_artifact_build_rotation(&out, &h, &r));
	CHECK_OK(tfa_artifact_parse(a, out.data, out.len));
	CHECK(a->is_rotation);
	CHECK(a->seq == 42 && a->time == WHEN);
	CHECK_STREQ(a->chain_id, "prod-eu.1");
	CHECK_STREQ(a->key_fpr, tfa_signer_fingerprint(old));
	CHECK_STREQ(a->rot.new_fpr, tfa_signer_fingerprint(next));
	CHECK(a->rot.new_alg == TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256);
	spki = tfa_signer_spki(next, &spki_len);
	CHECK(a->rot.spki_len == spki_len && memcmp(a->rot.spki, spki, spki_len) == 0);
	spki = tfa_signer_spki(old, &spki_len);
	CHECK(a->rot.old_spki_len == spki_len && memcmp(a->rot.old_spki, spki, spki_len) == 0);
	CHECK(a->rot.pop_len == popsig.len && memcmp(a->rot.pop, popsig.data, popsig.len) == 0);
	CHECK(contains(&out, "\"schema_version\":2"));
	free(a);
	tfa_buf_free(&out);
	tfa_buf_free(&popsig);
	tfa_signer_free(old);
	tfa_signer_free(next);
}

/* A deployment record and a rotation record at the same place share every head field. */
static void test_rotation_head_is_deployment_head(void)
{
	tfa_signer *old = open_key("old-key.pem"), *next = open_key("new-key.pem");
	tfa_artifact_head h;
	tfa_rotation_fields r;
	tfa_buf popsig, rot, dep;
	tfa_capture *c = NULL;
	tfa_event ev = {NULL, NULL, 0};
	tfa_artifact *a = calloc(2, sizeof(*a));

	if (a == NULL)
		exit(2);
	tfa_buf_init(&popsig, 0);
	tfa_buf_init(&rot, TFA_ARTIFACT_MAX);
	tfa_buf_init(&dep, TFA_ARTIFACT_MAX);
	fixed_head(&h, old);
	make_pop(&popsig, &h, next);
	fixed_fields(&r, next, &popsig);
	CHECK_OK(tfa_artifact_build_rotation(&rot, &h, &r));
	CHECK_OK(tfa_capture_new_mem(&c, &ev, NULL, 0, NULL, 0));
	CHECK_OK(tfa_artifact_build(&dep, c, &h));
	CHECK_OK(tfa_artifact_parse(&a[0], rot.data, rot.len));
	CHECK_OK(tfa_artifact_parse(&a[1], dep.data, dep.len));
	CHECK_STREQ(a[0].chain_id, a[1].chain_id);
	CHECK(a[0].seq == a[1].seq && a[0].time == a[1].time && a[0].alg == a[1].alg);
	CHECK(memcmp(a[0].prev_hash, a[1].prev_hash, TFA_SHA256_LEN) == 0);
	CHECK_STREQ(a[0].key_fpr, a[1].key_fpr);
	CHECK(!a[1].is_rotation && a[0].is_rotation);
	CHECK(contains(&rot, "\"backend\":\"file\"") && contains(&dep, "\"backend\":\"file\""));
	/* The rotation's signer carries no provenance: the old key's was recorded when it came in.
	 */
	CHECK(!contains(&rot, "\"provenance\"") && contains(&dep, "\"provenance\""));
	tfa_capture_free(c);
	free(a);
	tfa_buf_free(&rot);
	tfa_buf_free(&dep);
	tfa_buf_free(&popsig);
	tfa_signer_free(old);
	tfa_signer_free(next);
}

static void test_rotation_rejects_bad_heads(void)
{
	tfa_signer *old = open_key("old-key.pem"), *next = open_key("new-key.pem");
	tfa_artifact_head h;
	tfa_rotation_fields r;
	tfa_buf popsig, out;

	tfa_buf_init(&popsig, 0);
	tfa_buf_init(&out, TFA_ARTIFACT_MAX);
	fixed_head(&h, old);
	make_pop(&popsig, &h, next);
	fixed_fields(&r, next, &popsig);
	h.seq = 0;
	CHECK_RC(tfa_artifact_build_rotation(&out, &h, &r), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "sequence number out of range") != NULL);
	h.seq = TFA_SEQ_MAX + 1;
	CHECK_RC(tfa_artifact_build_rotation(&out, &h, &r), TFA_EUSAGE);
	CHECK(out.len == 0);
	h.seq = 42;
	CHECK_RC(tfa_artifact_build_rotation(NULL, &h, &r), TFA_EUSAGE);
	CHECK_RC(tfa_artifact_build_rotation(&out, NULL, &r), TFA_EUSAGE);
	CHECK_RC(tfa_artifact_build_rotation(&out, &h, NULL), TFA_EUSAGE);
	CHECK(out.len == 0);
	tfa_buf_free(&out);
	tfa_buf_free(&popsig);
	tfa_signer_free(old);
	tfa_signer_free(next);
}

/* Rotation fields are written whole: a long provenance value is not cut, an empty one is left out.
 */
static void test_rotation_provenance(void)
{
	tfa_signer *old = open_key("old-key.pem"), *next = open_key("new-key.pem");
	tfa_artifact_head h;
	tfa_rotation_fields r;
	tfa_buf popsig, out;
	char *longv = malloc(3001), *want = malloc(3100);
	tfa_kv kv[1];

	if (longv == NULL || want == NULL)
		exit(2);
	memset(longv, 'p', 3000);
	longv[3000] = '\0';
	snprintf(want, 3100, "\"new_provenance\":{\"uri\":\"%s\"}", longv);
	kv[0].name = "uri";
	kv[0].value = longv;
	tfa_buf_init(&popsig, 0);
	tfa_buf_init(&out, TFA_ARTIFACT_MAX);
	fixed_head(&h, old);
	make_pop(&popsig, &h, next);
	fixed_fields(&r, next, &popsig);
	r.new_prov = kv;
	CHECK_OK(tfa_artifact_build_rotation(&out, &h, &r));
	CHECK(contains(&out, want));
	r.new_prov = NULL;
	r.new_prov_len = 0;
	tfa_buf_clear(&out);
	CHECK_OK(tfa_artifact_build_rotation(&out, &h, &r));
	CHECK(!contains(&out, "new_provenance"));
	free(longv);
	free(want);
	tfa_buf_free(&out);
	tfa_buf_free(&popsig);
	tfa_signer_free(old);
	tfa_signer_free(next);
}

TFA_TEST_MAIN(T(test_rotation_bytes_unchanged), T(test_rotation_parses_as_written),
	      T(test_rotation_head_is_deployment_head), T(test_rotation_rejects_bad_heads),
	      T(test_rotation_provenance))
