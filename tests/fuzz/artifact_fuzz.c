/*
 * Fuzz target for the artifact parser.
 *
 * Any input: tfa_artifact_parse must return TFA_OK or TFA_EFORMAT with a
 * one-line message. When it accepts, the input is canonical (a fixed point of
 * the canonicalizer, and tfa_jcs_check_canonical agrees), no larger than
 * TFA_ARTIFACT_MAX, and every parsed field satisfies its own rule: seq in
 * range, a valid chain id, a known event, status and algorithm, a time that
 * tfa_time_parse gives back, and hashes that print back as they were.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/timefmt.h"
#include "tfattest/artifact.h"
#include "tfattest/buffer.h"
#include "tfattest/jcs.h"
#include "verify/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "artifact_fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond);  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static int one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* The string value of root[k1][k2] (k2 may be NULL), or NULL. */
static const char *str_at(const tfa_json *doc, const char *k1, const char *k2, size_t *len)
{
	const tfa_json_value *v = tfa_json_get(tfa_json_root(doc), k1);

	if (k2)
		v = tfa_json_get(v, k2);
	return tfa_json_string(v, len);
}

static void check_accepted(const tfa_artifact *a, const uint8_t *data, size_t size)
{
	static const char *const events[] = {"apply", "destroy", "rollback", "import", NULL};
	static const char *const statuses[] = {"succeeded", "failed", NULL};
	tfa_buf c;
	tfa_json *doc = NULL;
	const char *s;
	size_t n;
	char h[TFA_FPR_STRLEN];
	int64_t t;

	REQUIRE(size <= TFA_ARTIFACT_MAX);
	/* Canonical: re-canonicalizing gives the same bytes. */
	tfa_buf_init(&c, 0);
	REQUIRE(tfa_jcs_canonicalize(&c, data, size) == TFA_OK);
	REQUIRE(c.len == size && memcmp(c.data, data, size) == 0);
	tfa_buf_free(&c);
	REQUIRE(tfa_jcs_check_canonical(data, size) == TFA_OK);
	/* A canonical artifact holds no raw newline: the fs store's record format relies on it. */
	REQUIRE(memchr(data, '\n', size) == NULL);

	REQUIRE(a->seq >= 1 && a->seq <= TFA_SEQ_MAX);
	REQUIRE(strlen(a->chain_id) >= 1 && strlen(a->chain_id) <= TFA_CHAIN_ID_MAX);
	REQUIRE(tfa_chain_id_check(a->chain_id, strlen(a->chain_id)) == TFA_OK);
	REQUIRE(one_of(a->event, events));
	REQUIRE(one_of(a->status, statuses));
	REQUIRE(a->alg == TFA_ALG_RSASSA_PSS_SHA_256 ||
		a->alg == TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256 || a->alg == TFA_ALG_ECDSA_SHA_256);
	REQUIRE(strlen(a->key_fpr) == TFA_FPR_STRLEN - 1);
	/* A rollback target is earlier than the record, and only rollbacks name one. */
	REQUIRE(a->rollback_to < a->seq);
	REQUIRE(a->rollback_to == 0 || strcmp(a->event, "rollback") == 0);
	REQUIRE(!a->spooled || strspn(a->spool_id, "0123456789abcdef") == 32);

	/* The parsed fields agree with the document. */
	REQUIRE(tfa_json_parse(&doc, data, size) == TFA_OK);
	s = str_at(doc, "chain_id", NULL, &n);
	REQUIRE(s && n == strlen(a->chain_id) && memcmp(s, a->chain_id, n) == 0);
	s = str_at(doc, "prev_hash", NULL, &n);
	tfa_hash_str(h, a->prev_hash);
	REQUIRE(s && n == strlen(h) && memcmp(s, h, n) == 0);
	s = str_at(doc, "signer", "key_fingerprint", &n);
	REQUIRE(s && n == strlen(a->key_fpr) && memcmp(s, a->key_fpr, n) == 0);
	s = str_at(doc, "signer", "algorithm", &n);
	REQUIRE(s && strcmp(s, tfa_sig_alg_name(a->alg)) == 0);
	s = str_at(doc, "time", NULL, &n);
	REQUIRE(s && tfa_time_parse(&t, s, n) == TFA_OK && t == a->time);
	REQUIRE((uint64_t)tfa_json_number(tfa_json_get(tfa_json_root(doc), "seq")) == a->seq);
	tfa_json_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_artifact a;
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_artifact_parse(&a, data, size);
	if (rc != TFA_OK) {
		const char *m = tfa_error_last()->message;

		REQUIRE(rc == TFA_EFORMAT);
		REQUIRE(m[0] != '\0' && strchr(m, '\n') == NULL);
		return 0;
	}
	check_accepted(&a, data, size);
	return 0;
}
