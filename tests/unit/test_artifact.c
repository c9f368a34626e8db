/*
 * Tests for the artifact parser: one valid artifact, then one rejection per
 * rule, each made by changing exactly one thing and re-canonicalizing, so the
 * check under test is the one that fires.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "format/b64.h"
#include "tfa_test.h"
#include "tfattest/artifact.h"
#include "tfattest/jcs.h"

#define FPR  "sha256:261e452e495b6e36b5d6fa2854213c209374142096aaf2784bfd8f74739cbdbb"
#define PREV "sha256:850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03da"

/* A valid artifact in canonical form, as the builder writes it. */
static const char base_artifact[] =
    "{\"chain_id\":\"prod-eu.1_a\",\"context\":{\"host\":\"ci@runner\"},"
    "\"event\":{\"exit_code\":0,\"status\":\"succeeded\",\"type\":\"apply\"},"
    "\"prev_hash\":\"" PREV "\",\"schema_version\":1,\"seq\":2,"
    "\"signer\":{\"algorithm\":\"ECDSA_SHA_256\",\"backend\":\"file\","
    "\"key_fingerprint\":\"" FPR "\",\"provenance\":{\"key_path\":\"k.pem\"}},"
    "\"terraform\":{\"changes\":[{\"action\":\"replace\",\"address\":\"test_instance.test\"}],"
    "\"counts\":{\"create\":0},\"plan_format_version\":\"1.0\"},"
    "\"time\":\"2024-02-29T12:34:56Z\",\"type\":\"tfattest.artifact\"}";

/* ---- helpers ------------------------------------------------------------------------------ */

/*
 * The base artifact with one member changed: in the object named `where`
 * (NULL: the root), `key` gets the JSON value `value`, or is removed when
 * value is NULL. Returns malloc'd canonical bytes.
 */
static char *mutate(const char *where, const char *key, const char *value, size_t *len)
{
	cJSON *root = cJSON_Parse(base_artifact), *obj;
	char *text;
	tfa_buf canon;

	obj = where ? cJSON_GetObjectItemCaseSensitive(root, where) : root;
	if (obj == NULL) {
		fprintf(stderr, "mutate: no object %s\n", where);
		exit(2);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	if (value) {
		cJSON *v = cJSON_Parse(value);
		if (v == NULL) {
			fprintf(stderr, "mutate: bad JSON value %s\n", value);
			exit(2);
		}
		cJSON_AddItemToObject(obj, key, v);
	}
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	tfa_buf_init(&canon, 0);
	if (tfa_jcs_canonicalize(&canon, (const uint8_t *)text, strlen(text)) != TFA_OK) {
		fprintf(stderr, "mutate: cannot canonicalize %s\n", text);
		exit(2);
	}
	cJSON_free(text);
	return (char *)tfa_buf_detach(&canon, len);
}

static void expect_reject_n(const char *bytes, size_t len, tfa_err want, const char *msg,
			    const char *what, int line)
{
	tfa_artifact a;
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_artifact_parse(&a, (const uint8_t *)bytes, len);
	if (rc != want || strstr(tfa_error_last()->message, msg) == NULL) {
		fprintf(stderr, "line %d: %s: got %s (%s), wanted %s with \"%s\"\n", line, what,
			tfa_err_name(rc), tfa_error_last()->message, tfa_err_name(want), msg);
		tfa_test_failures++;
	}
}

/* Rejection of the base artifact with one change. */
static void reject_mut(const char *where, const char *key, const char *value, const char *msg,
		       int line)
{
	size_t len;
	char *bytes = mutate(where, key, value, &len);
	char what[256];

	snprintf(what, sizeof(what), "%s.%s = %s", where ? where : "", key,
		 value ? value : "(removed)");
	expect_reject_n(bytes, len, TFA_EFORMAT, msg, what, line);
	free(bytes);
}

/* Acceptance of the base artifact with one change; the parsed fields go to *out. */
static void accept_mut(tfa_artifact *out, const char *where, const char *key, const char *value,
		       int line)
{
	size_t len;
	char *bytes = mutate(where, key, value, &len);
	tfa_err rc = tfa_artifact_parse(out, (const uint8_t *)bytes, len);

	if (rc != TFA_OK) {
		fprintf(stderr, "line %d: %s.%s = %s rejected: %s\n", line, where ? where : "", key,
			value ? value : "(removed)", tfa_error_last()->message);
		tfa_test_failures++;
	}
	free(bytes);
}

#define REJECT(where, key, value, msg) reject_mut((where), (key), (value), (msg), __LINE__)
#define ACCEPT(out, where, key, value) accept_mut((out), (where), (key), (value), __LINE__)
#define REJECT_RAW(s, msg)	       expect_reject_n((s), strlen(s), TFA_EFORMAT, (msg), (s), __LINE__)

/* ---- valid artifacts ---------------------------------------------------------------------- */

static void test_parse_valid(void)
{
	tfa_artifact a;
	uint8_t want_prev[TFA_SHA256_LEN] = {0x85, 0x06, 0x05, 0xea, 0xe7, 0x7a, 0x64, 0xec};

	memset(&a, 0xaa, sizeof(a));
	CHECK_OK(tfa_artifact_parse(&a, (const uint8_t *)base_artifact, strlen(base_artifact)));
	CHECK_STREQ(a.chain_id, "prod-eu.1_a");
	CHECK(a.seq == 2);
	CHECK(memcmp(a.prev_hash, want_prev, 8) == 0 && a.prev_hash[31] == 0xda);
	CHECK(a.time == 1709210096);
	CHECK_STREQ(a.key_fpr, FPR);
	CHECK(a.alg == TFA_ALG_ECDSA_SHA_256);
	CHECK_STREQ(a.event, "apply");
	CHECK_STREQ(a.status, "succeeded");
}

static void test_parse_valid_variants(void)
{
	tfa_artifact a;
	char id64[70];

	memset(id64, 'z', sizeof(id64));
	id64[0] = id64[65] = '"';
	id64[66] = '\0';

	{
		/* The genesis prev_hash, on seq 1. */
		static const char first[] =
		    "{\"chain_id\":\"prod-eu.1_a\",\"context\":{\"host\":\"ci@runner\"},"
		    "\"event\":{\"exit_code\":0,\"status\":\"succeeded\",\"type\":\"apply\"},"
		    "\"prev_hash\":\"" TFA_GENESIS_HASH "\",\"schema_version\":1,\"seq\":1,"
		    "\"signer\":{\"algorithm\":\"ECDSA_SHA_256\",\"backend\":\"file\","
		    "\"key_fingerprint\":\"" FPR "\"},"
		    "\"time\":\"2024-02-29T12:34:56Z\",\"type\":\"tfattest.artifact\"}";
		CHECK_OK(tfa_artifact_parse(&a, (const uint8_t *)first, strlen(first)));
		CHECK(a.seq == 1);
		for (size_t i = 0; i < TFA_SHA256_LEN; i++)
			CHECK(a.prev_hash[i] == 0);
	}
	ACCEPT(&a, NULL, "seq", "999999999999");
	CHECK(a.seq == TFA_SEQ_MAX);
	ACCEPT(&a, "event", "exit_code", "-2147483648");
	ACCEPT(&a, "event", "exit_code", "2147483647");
	ACCEPT(&a, "event", "type", "\"destroy\"");
	CHECK_STREQ(a.event, "destroy");
	ACCEPT(&a, "event", "type", "\"rollback\"");
	ACCEPT(&a, "event", "type", "\"import\"");
	CHECK_STREQ(a.event, "import");
	for (const char *const *t = tfa_event_types(); *t; t++) {
		char quoted[32];
		snprintf(quoted, sizeof(quoted), "\"%s\"", *t);
		ACCEPT(&a, "event", "type", quoted);
		CHECK_STREQ(a.event, *t);
	}
	CHECK(tfa_event_type_known("drift-check"));
	CHECK(tfa_event_type_known("state-push"));
	CHECK(!tfa_event_type_known("rotate"));
	CHECK(!tfa_event_type_known("state"));
	CHECK(!tfa_event_type_known("Apply"));
	CHECK(!tfa_event_type_known(NULL));
	ACCEPT(&a, "event", "status", "\"failed\"");
	CHECK_STREQ(a.status, "failed");
	ACCEPT(&a, "signer", "algorithm", "\"RSASSA_PSS_SHA_256\"");
	CHECK(a.alg == TFA_ALG_RSASSA_PSS_SHA_256);
	ACCEPT(&a, "signer", "algorithm", "\"RSASSA_PKCS1_V1_5_SHA_256\"");
	CHECK(a.alg == TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256);
	ACCEPT(&a, NULL, "time", "\"1970-01-01T00:00:00Z\"");
	CHECK(a.time == 0);
	ACCEPT(&a, NULL, "chain_id", "\"a\"");
	ACCEPT(&a, NULL, "chain_id", id64);
	CHECK(strlen(a.chain_id) == 64);
	/* Members below the top level are free-form: the builder adds backend and provenance. */
	ACCEPT(&a, "signer", "anything", "{\"x\":[1,2]}");
	ACCEPT(&a, "event", "note", "\"x\"");
	ACCEPT(&a, "context", "ci", "{\"provider\":\"github-actions\"}");
}

/* ---- structure ---------------------------------------------------------------------------- */

static void test_reject_missing_members(void)
{
	static const char *const top[] = {"type",      "schema_version", "chain_id", "seq",
					  "prev_hash", "time",		 "event",    "signer"};
	static const char *const event[] = {"type", "status", "exit_code"};
	static const char *const signer[] = {"key_fingerprint", "algorithm"};
	char msg[64];

	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		snprintf(msg, sizeof(msg), "artifact has no \"%s\"", top[i]);
		REJECT(NULL, top[i], NULL, msg);
	}
	for (size_t i = 0; i < sizeof(event) / sizeof(event[0]); i++) {
		snprintf(msg, sizeof(msg), "artifact event has no \"%s\"", event[i]);
		REJECT("event", event[i], NULL, msg);
	}
	for (size_t i = 0; i < sizeof(signer) / sizeof(signer[0]); i++) {
		snprintf(msg, sizeof(msg), "artifact signer has no \"%s\"", signer[i]);
		REJECT("signer", signer[i], NULL, msg);
	}
}

static void test_reject_wrong_types(void)
{
	REJECT(NULL, "type", "1", "\"type\" is not a string");
	REJECT(NULL, "type", "null", "\"type\" is not a string");
	REJECT(NULL, "schema_version", "\"1\"", "\"schema_version\" is not a number");
	REJECT(NULL, "schema_version", "true", "\"schema_version\" is not a number");
	REJECT(NULL, "chain_id", "7", "\"chain_id\" is not a string");
	REJECT(NULL, "chain_id", "[\"demo\"]", "\"chain_id\" is not a string");
	REJECT(NULL, "seq", "\"2\"", "\"seq\" is not a number");
	REJECT(NULL, "seq", "null", "\"seq\" is not a number");
	REJECT(NULL, "prev_hash", "null", "\"prev_hash\" is not a string");
	REJECT(NULL, "prev_hash", "{}", "\"prev_hash\" is not a string");
	REJECT(NULL, "time", "1709210096", "\"time\" is not a string");
	REJECT(NULL, "event", "\"apply\"", "\"event\" is not an object");
	REJECT(NULL, "event", "[]", "\"event\" is not an object");
	REJECT(NULL, "signer", "\"file\"", "\"signer\" is not an object");
	REJECT(NULL, "signer", "null", "\"signer\" is not an object");
	REJECT("event", "type", "1", "\"type\" is not a string");
	REJECT("event", "status", "false", "\"status\" is not a string");
	REJECT("event", "exit_code", "\"0\"", "\"exit_code\" is not a number");
	REJECT("event", "exit_code", "null", "\"exit_code\" is not a number");
	REJECT("signer", "key_fingerprint", "true", "\"key_fingerprint\" is not a string");
	REJECT("signer", "algorithm", "3", "\"algorithm\" is not a string");
}

static void test_reject_not_an_object(void)
{
	REJECT_RAW("[]", "artifact is not a JSON object");
	REJECT_RAW("\"tfattest.artifact\"", "artifact is not a JSON object");
	REJECT_RAW("1", "artifact is not a JSON object");
	REJECT_RAW("null", "artifact is not a JSON object");
	REJECT_RAW("{}", "artifact has no \"type\"");
	REJECT_RAW("", "json: empty document");
	REJECT_RAW("{", "json:");
}

static void test_reject_unknown_top_level_member(void)
{
	REJECT(NULL, "extra", "1", "artifact has an unknown member \"extra\"");
	REJECT(NULL, "Type", "\"tfattest.artifact\"", "unknown member \"Type\"");
	REJECT(NULL, "signature", "\"abc\"", "unknown member \"signature\"");
	REJECT(NULL, "", "0", "unknown member \"\"");
}

static void test_reject_type_tag(void)
{
	REJECT(NULL, "type", "\"tfattest.chain\"", "artifact type is not tfattest.artifact");
	REJECT(NULL, "type", "\"tfattest.manifest\"", "artifact type is not");
	REJECT(NULL, "type", "\"tfattest.artifactx\"", "artifact type is not");
	REJECT(NULL, "type", "\"tfattest.artifac\"", "artifact type is not");
	REJECT(NULL, "type", "\"TFATTEST.ARTIFACT\"", "artifact type is not");
	REJECT(NULL, "type", "\"\"", "\"type\" is empty, too long or holds NUL");
}

static void test_reject_schema_version(void)
{
	REJECT(NULL, "schema_version", "2",
	       "event \"rotate\" goes with schema version 2 and no other");
	REJECT(NULL, "schema_version", "3", "unsupported artifact schema version 3");
	REJECT(NULL, "schema_version", "0", "unsupported artifact schema version 0");
	REJECT(NULL, "schema_version", "1000", "unsupported artifact schema version 1000");
	REJECT(NULL, "schema_version", "1001", "not an integer in range");
	REJECT(NULL, "schema_version", "-1", "not an integer in range");
	REJECT(NULL, "schema_version", "1.5", "not an integer in range");
}

/* ---- fields ------------------------------------------------------------------------------- */

static void test_reject_seq(void)
{
	REJECT(NULL, "seq", "0", "\"seq\" is not an integer in range");
	REJECT(NULL, "seq", "-1", "\"seq\" is not an integer in range");
	REJECT(NULL, "seq", "1000000000000", "\"seq\" is not an integer in range");
	REJECT(NULL, "seq", "9007199254740993", "\"seq\" is not an integer in range");
	REJECT(NULL, "seq", "1e300", "\"seq\" is not an integer in range");
	REJECT(NULL, "seq", "1.5", "\"seq\" is not an integer in range");
	REJECT(NULL, "seq", "0.5", "\"seq\" is not an integer in range");
	REJECT(NULL, "seq", "999999999999.5", "\"seq\" is not an integer in range");
	REJECT(NULL, "seq", "1e-7", "\"seq\" is not an integer in range");
}

static void test_reject_prev_hash(void)
{
	/* The genesis value on any seq but 1 would need a SHA-256 preimage. */
	REJECT(NULL, "prev_hash", "\"" TFA_GENESIS_HASH "\"",
	       "artifact prev_hash is the genesis value but seq is not 1");
	{
		/* And seq 1 follows only genesis, wherever the record is found (R-3-5). */
		static const char first[] =
		    "{\"chain_id\":\"prod-eu.1_a\",\"context\":{\"host\":\"ci@runner\"},"
		    "\"event\":{\"exit_code\":0,\"status\":\"succeeded\",\"type\":\"apply\"},"
		    "\"prev_hash\":\"" PREV "\",\"schema_version\":1,\"seq\":1,"
		    "\"signer\":{\"algorithm\":\"ECDSA_SHA_256\",\"backend\":\"file\","
		    "\"key_fingerprint\":\"" FPR "\"},"
		    "\"time\":\"2024-02-29T12:34:56Z\",\"type\":\"tfattest.artifact\"}";
		expect_reject_n(first, strlen(first), TFA_EFORMAT,
				"artifact prev_hash is not the genesis value but seq is 1",
				"seq 1, prev_hash", __LINE__);
	}
	static const char hex64[] =
	    "850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03da";
	static const char *const bad[] = {
	    /* uppercase hex */
	    "\"sha256:850605EAE77A64ECFB10B753F0B003D9E0D33876BB0D093309F15FB16F5D03DA\"",
	    "\"sha256:850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03dA\"",
	    /* prefix */
	    "\"SHA256:850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03da\"",
	    "\"sha512:850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03da\"",
	    "\"sha256-850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03da\"",
	    "\"sha256: 850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03d\"",
	    /* length */
	    "\"sha256:850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03d\"",
	    "\"sha256:850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03da0\"",
	    "\"sha256:\"",
	    /* not hex */
	    "\"sha256:850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03dg\"",
	    "\"sha256:850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03d \"",
	    "\"sha256:0x0605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03da\"",
	};
	char s[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		REJECT(NULL, "prev_hash", bad[i], "\"prev_hash\" is not sha256:<64 lowercase hex>");
	snprintf(s, sizeof(s), "\"%s\"", hex64);
	REJECT(NULL, "prev_hash", s, "is not sha256:<64 lowercase hex>");
	REJECT(NULL, "prev_hash", "\"\"", "\"prev_hash\" is empty, too long or holds NUL");
	snprintf(s, sizeof(s), "\"sha256:%s%s\"", hex64, hex64); /* 135 bytes */
	REJECT(NULL, "prev_hash", s, "\"prev_hash\" is empty, too long or holds NUL");
}

static void test_reject_time(void)
{
	REJECT(NULL, "time", "\"2023-02-30T00:00:00Z\"", "time is not a valid UTC date and time");
	REJECT(NULL, "time", "\"2023-02-29T00:00:00Z\"", "time is not a valid UTC date and time");
	REJECT(NULL, "time", "\"2024-01-01T24:00:00Z\"", "time is not a valid UTC date and time");
	REJECT(NULL, "time", "\"2024-01-01T23:59:60Z\"", "time is not a valid UTC date and time");
	REJECT(NULL, "time", "\"2024-13-01T00:00:00Z\"", "time is not a valid UTC date and time");
	REJECT(NULL, "time", "\"2024-01-01T00:00:00\"", "time is not of the form");
	REJECT(NULL, "time", "\"2024-01-01t00:00:00Z\"", "time is not of the form");
	REJECT(NULL, "time", "\"2024-01-01T00:00:00z\"", "time is not of the form");
	REJECT(NULL, "time", "\"2024-01-01T00:00:00+00:00\"", "time is not of the form");
	REJECT(NULL, "time", "\"2024-01-01T00:00:00.000Z\"", "time is not of the form");
	REJECT(NULL, "time", "\"2024-01-01 00:00:00Z\"", "time is not of the form");
	REJECT(NULL, "time", "\"\"", "\"time\" is empty, too long or holds NUL");
	REJECT(NULL, "time", "\"2024-01-01T00:00:00Z 2024-01-01T00:00:00Z\"",
	       "\"time\" is empty, too long or holds NUL");
}

static void test_reject_chain_id(void)
{
	char s[80];

	REJECT(NULL, "chain_id", "\"prod eu\"", "chain id may hold only");
	REJECT(NULL, "chain_id", "\"prod/eu\"", "chain id may hold only");
	REJECT(NULL, "chain_id", "\"prod:eu\"", "chain id may hold only");
	REJECT(NULL, "chain_id", "\"caf\\u00e9\"", "chain id may hold only");
	REJECT(NULL, "chain_id", "\"tab\\there\"", "chain id may hold only");
	REJECT(NULL, "chain_id", "\"\"", "\"chain_id\" is empty, too long or holds NUL");
	snprintf(s, sizeof(s), "\"%.65s\"",
		 "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
	REJECT(NULL, "chain_id", s, "\"chain_id\" is empty, too long or holds NUL");
}

static void test_chain_id_check(void)
{
	char s[70];

	CHECK_OK(tfa_chain_id_check("a", 1));
	CHECK_OK(tfa_chain_id_check("A-Z_a-z.0-9", 11));
	memset(s, 'q', sizeof(s));
	CHECK_OK(tfa_chain_id_check(s, 64));
	CHECK_RC(tfa_chain_id_check(s, 65), TFA_EFORMAT);
	CHECK(strstr(tfa_error_last()->message, "1 to 64 characters") != NULL);
	CHECK_RC(tfa_chain_id_check(s, 0), TFA_EFORMAT);
	CHECK_RC(tfa_chain_id_check("a b", 3), TFA_EFORMAT);
	CHECK(strstr(tfa_error_last()->message, "may hold only") != NULL);
	CHECK_RC(tfa_chain_id_check("a\0b", 3), TFA_EFORMAT);
	CHECK_RC(tfa_chain_id_check("../x", 4), TFA_EFORMAT);
	CHECK_RC(tfa_chain_id_check("x\n", 2), TFA_EFORMAT);
	/* Only len bytes count. */
	CHECK_OK(tfa_chain_id_check("ab cd", 2));
}

static void test_reject_event(void)
{
	REJECT("event", "type", "\"deploy\"", "artifact event type is unknown");
	REJECT("event", "type", "\"Apply\"", "artifact event type is unknown");
	REJECT("event", "type", "\"apply \"", "artifact event type is unknown");
	REJECT("event", "type", "\"\"", "\"type\" is empty, too long or holds NUL");
	REJECT("event", "type", "\"applyapplyapplyapply\"", "\"type\" is empty, too long");
	REJECT("event", "status", "\"success\"", "artifact event status is unknown");
	REJECT("event", "status", "\"FAILED\"", "artifact event status is unknown");
	REJECT("event", "status", "\"succeededsucceeded\"", "\"status\" is empty, too long");
}

static void test_reject_exit_code(void)
{
	REJECT("event", "exit_code", "2147483648", "\"exit_code\" is not an integer in range");
	REJECT("event", "exit_code", "-2147483649", "\"exit_code\" is not an integer in range");
	REJECT("event", "exit_code", "4294967296", "\"exit_code\" is not an integer in range");
	REJECT("event", "exit_code", "1.5", "\"exit_code\" is not an integer in range");
	REJECT("event", "exit_code", "-0.5", "\"exit_code\" is not an integer in range");
}

static void test_reject_signer(void)
{
	REJECT("signer", "algorithm", "\"NONE\"", "unknown signature algorithm");
	REJECT("signer", "algorithm", "\"ECDSA_SHA_384\"", "unknown signature algorithm");
	REJECT("signer", "algorithm", "\"ecdsa_sha_256\"", "unknown signature algorithm");
	REJECT("signer", "algorithm", "\"ED25519\"", "unknown signature algorithm");
	REJECT("signer", "algorithm", "\"\"", "\"algorithm\" is empty, too long or holds NUL");
	REJECT("signer", "algorithm", "\"RSASSA_PKCS1_V1_5_SHA_256_RSASSA_PSS_SHA_256\"",
	       "\"algorithm\" is empty, too long");
	REJECT("signer", "key_fingerprint",
	       "\"sha256:261E452E495B6E36B5D6FA2854213C209374142096AAF2784BFD8F74739CBDBB\"",
	       "\"key_fingerprint\" is not sha256:<64 lowercase hex>");
	REJECT("signer", "key_fingerprint",
	       "\"261e452e495b6e36b5d6fa2854213c209374142096aaf2784bfd8f74739cbdbb\"",
	       "\"key_fingerprint\" is not sha256");
	REJECT("signer", "key_fingerprint", "\"sha256:261e\"", "\"key_fingerprint\" is not sha256");
	REJECT("signer", "key_fingerprint",
	       "\"sha256:261e452e495b6e36b5d6fa2854213c209374142096aaf2784bfd8f74739cbdbbb\"",
	       "\"key_fingerprint\" is empty, too long");
	REJECT("signer", "key_fingerprint", "\"\"", "\"key_fingerprint\" is empty");
}

/* ---- bytes -------------------------------------------------------------------------------- */

/*
 * base_artifact edited as text at the first occurrence of `anchor`: `ins` is
 * inserted there, after removing `del` (a prefix of the anchor) when given.
 */
static char *edit(const char *anchor, const char *ins, const char *del)
{
	const char *p = strstr(base_artifact, anchor);
	size_t pre, dl = del ? strlen(del) : 0;
	char *out;

	if (p == NULL) {
		fprintf(stderr, "edit: no %s\n", anchor);
		exit(2);
	}
	size_t il = strlen(ins), rest;

	pre = (size_t)(p - base_artifact);
	rest = strlen(base_artifact) - pre - dl;
	out = malloc(pre + il + rest + 1);
	memcpy(out, base_artifact, pre);
	memcpy(out + pre, ins, il);
	memcpy(out + pre + il, base_artifact + pre + dl, rest + 1);
	return out;
}

static void reject_edit(const char *anchor, const char *ins, const char *del, const char *msg,
			int line)
{
	char *s = edit(anchor, ins, del);

	expect_reject_n(s, strlen(s), TFA_EFORMAT, msg, s, line);
	free(s);
}

#define NONCANON "not in RFC 8785 canonical form"

static void test_reject_non_canonical(void)
{
	size_t n = strlen(base_artifact);
	char *s;

	/* White space anywhere. */
	reject_edit("\"seq\"", " ", NULL, NONCANON, __LINE__);
	reject_edit(":2,", ": 2,", ":2,", NONCANON, __LINE__);
	reject_edit("{\"chain_id\"", "{\n\"chain_id\"", "{\"chain_id\"", NONCANON, __LINE__);
	s = malloc(n + 2);
	memcpy(s, base_artifact, n);
	s[n] = '\n'; /* a trailing newline, as a text file would have */
	expect_reject_n(s, n + 1, TFA_EFORMAT, NONCANON, "trailing newline", __LINE__);
	s[0] = ' ';
	memcpy(s + 1, base_artifact, n);
	expect_reject_n(s, n + 1, TFA_EFORMAT, NONCANON, "leading space", __LINE__);
	free(s);
	/* Unsorted keys: "time" moved before "signer", and inside "event". */
	reject_edit("\"event\":{\"exit_code\":0,\"status\":\"succeeded\",\"type\":\"apply\"}",
		    "\"event\":{\"status\":\"succeeded\",\"exit_code\":0,\"type\":\"apply\"}",
		    "\"event\":{\"exit_code\":0,\"status\":\"succeeded\",\"type\":\"apply\"}",
		    NONCANON, __LINE__);
	reject_edit("\"chain_id\"", "\"type\":\"tfattest.artifact\",", NULL, "duplicate", __LINE__);
	{
		/* Move "type" to the front (removing it at the end). */
		char *t = edit("\"chain_id\"", "\"type\":\"tfattest.artifact\",", NULL);
		char *end = strstr(t, ",\"type\":\"tfattest.artifact\"}");
		CHECK(end != NULL);
		if (end) {
			end[0] = '}';
			end[1] = '\0';
			expect_reject_n(t, strlen(t), TFA_EFORMAT, NONCANON, t, __LINE__);
		}
		free(t);
	}
	/* Numbers and strings not in their canonical spelling. */
	reject_edit("\"seq\":2", "\"seq\":2.0", "\"seq\":2", NONCANON, __LINE__);
	reject_edit("\"seq\":2", "\"seq\":2e0", "\"seq\":2", NONCANON, __LINE__);
	reject_edit("\"seq\":2", "\"seq\":20e-1", "\"seq\":2", NONCANON, __LINE__);
	reject_edit("\"exit_code\":0", "\"exit_code\":-0", "\"exit_code\":0", NONCANON, __LINE__);
	reject_edit("\"apply\"", "\"\\u0061pply\"", "\"apply\"", NONCANON, __LINE__);
	reject_edit("\"ci@runner\"", "\"ci\\u0040runner\"", "\"ci@runner\"", NONCANON, __LINE__);
	reject_edit("\"k.pem\"", "\"k\\/pem\"", "\"k.pem\"", NONCANON, __LINE__);
}

static void test_reject_duplicate_keys(void)
{
	reject_edit("\"seq\":2", "\"seq\":2,\"seq\":2", "\"seq\":2", "duplicate object key",
		    __LINE__);
	reject_edit("\"exit_code\"", "\"exit_code\":0,", NULL, "duplicate object key", __LINE__);
	reject_edit("\"key_path\"", "\"key_path\":\"x\",", NULL, "duplicate object key", __LINE__);
	/* The same key spelled two ways is still a duplicate. */
	reject_edit("\"seq\":2", "\"s\\u0065q\":2,\"seq\":2", "\"seq\":2", "duplicate object key",
		    __LINE__);
}

static void test_reject_oversize(void)
{
	size_t n = (size_t)TFA_ARTIFACT_MAX + 1;
	char *big = malloc(n);

	memset(big, ' ', n);
	memcpy(big, base_artifact, strlen(base_artifact));
	expect_reject_n(big, n, TFA_EFORMAT, "artifact is larger than", "8 MiB + 1", __LINE__);
	free(big);
}

/* cJSON cannot hold a NUL inside a string, so these edit the text: "\u0000" is canonical. */
static void test_reject_embedded_nul(void)
{
	reject_edit("\"tfattest.artifact\"", "\"tfattest.artifact\\u0000\"",
		    "\"tfattest.artifact\"", "\"type\" is empty, too long or holds NUL", __LINE__);
	reject_edit("\"prod-eu.1_a\"", "\"prod\\u0000eu\"", "\"prod-eu.1_a\"",
		    "\"chain_id\" is empty, too long or holds NUL", __LINE__);
	reject_edit("\"apply\"", "\"apply\\u0000\"", "\"apply\"",
		    "\"type\" is empty, too long or holds NUL", __LINE__);
	reject_edit("\"succeeded\"", "\"succeeded\\u0000\"", "\"succeeded\"",
		    "\"status\" is empty, too long or holds NUL", __LINE__);
	reject_edit(PREV,
		    "sha256:850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03d\\u0000",
		    PREV, "\"prev_hash\" is empty, too long or holds NUL", __LINE__);
	reject_edit("\"2024-02-29T12:34:56Z\"", "\"2024-02-29T12:34:5\\u0000Z\"",
		    "\"2024-02-29T12:34:56Z\"", "\"time\" is empty, too long or holds NUL",
		    __LINE__);
	reject_edit("\"ECDSA_SHA_256\"", "\"ECDSA_SHA_256\\u0000\"", "\"ECDSA_SHA_256\"",
		    "\"algorithm\" is empty, too long or holds NUL", __LINE__);
	reject_edit("\"" FPR "\"", "\"" FPR "\\u0000\"", "\"" FPR "\"",
		    "\"key_fingerprint\" is empty, too long or holds NUL", __LINE__);
}

static void test_reject_invalid_utf8(void)
{
	char *s = edit("ci@runner", "ci\xc3(runner", "ci@runner");

	expect_reject_n(s, strlen(s), TFA_EFORMAT, "invalid UTF-8", "bad UTF-8", __LINE__);
	free(s);
}

/* ---- rotation records -------------------------------------------------------------------- */

/* The base64 DER SPKI of a fresh P-256 key, and its fingerprint. */
static void new_spki(char *b64, size_t cap, char fpr[TFA_FPR_STRLEN])
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);
	tfa_buf b;

	tfa_buf_init(&b, 0);
	if (n <= 0 || tfa_b64_encode(&b, der, (size_t)n) != TFA_OK || b.len >= cap) {
		fprintf(stderr, "new_spki failed\n");
		exit(2);
	}
	memcpy(b64, b.data, b.len);
	b64[b.len] = '\0';
	tfa_spki_fingerprint(fpr, der, (size_t)n);
	tfa_buf_free(&b);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

static char old_b64[256], new_b64[256], old_fpr[TFA_FPR_STRLEN], new_fpr[TFA_FPR_STRLEN];

/*
 * A rotation record; `where`/`key`/`value` change one member as mutate()
 * does ("rotation" names the rotation object). Returns malloc'd canonical bytes.
 */
static char *rotation(const char *where, const char *key, const char *value, size_t *len)
{
	char text[4096];
	cJSON *root, *obj;
	char *out;
	tfa_buf canon;

	if (old_b64[0] == '\0') {
		new_spki(old_b64, sizeof(old_b64), old_fpr);
		new_spki(new_b64, sizeof(new_b64), new_fpr);
	}
	snprintf(
	    text, sizeof(text),
	    "{\"chain_id\":\"prod\",\"event\":{\"exit_code\":0,\"status\":\"succeeded\",\"type\":"
	    "\"rotate\"},"
	    "\"prev_hash\":\"" PREV "\",\"rotation\":{\"new_algorithm\":\"ECDSA_SHA_256\","
	    "\"new_key_fingerprint\":\"%s\",\"new_public_key\":\"%s\",\"old_public_key\":\"%s\","
	    "\"pop_signature\":\"AAEC\"},\"schema_version\":2,\"seq\":7,"
	    "\"signer\":{\"algorithm\":\"ECDSA_SHA_256\",\"key_fingerprint\":\"%s\"},"
	    "\"time\":\"2024-02-29T12:34:56Z\",\"type\":\"tfattest.artifact\"}",
	    new_fpr, new_b64, old_b64, old_fpr);
	root = cJSON_Parse(text);
	if (key) {
		obj = where ? cJSON_GetObjectItemCaseSensitive(root, where) : root;
		cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
		if (value)
			cJSON_AddItemToObject(obj, key, cJSON_Parse(value));
	}
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	tfa_buf_init(&canon, 0);
	if (tfa_jcs_canonicalize(&canon, (const uint8_t *)out, strlen(out)) != TFA_OK) {
		fprintf(stderr, "rotation: cannot canonicalize\n");
		exit(2);
	}
	cJSON_free(out);
	return (char *)tfa_buf_detach(&canon, len);
}

static void reject_rot(const char *where, const char *key, const char *value, const char *msg,
		       int line)
{
	size_t len;
	char *b = rotation(where, key, value, &len);
	char what[1024];

	snprintf(what, sizeof(what), "rotation %s.%s = %s", where ? where : "", key,
		 value ? value : "(removed)");
	expect_reject_n(b, len, TFA_EFORMAT, msg, what, line);
	free(b);
}
#define REJECT_ROT(where, key, value, msg) reject_rot((where), (key), (value), (msg), __LINE__)

static void test_rotation_valid(void)
{
	size_t len;
	char *b = rotation(NULL, NULL, NULL, &len);
	tfa_artifact *a = calloc(1, sizeof(*a));
	tfa_buf pop;
	char want[1024];

	tfa_buf_init(&pop, 0);
	CHECK_OK(tfa_artifact_parse(a, (const uint8_t *)b, len));
	CHECK(a->is_rotation);
	CHECK(strcmp(a->rot.new_fpr, new_fpr) == 0);
	CHECK(a->rot.new_alg == TFA_ALG_ECDSA_SHA_256);
	CHECK(a->rot.pop_len == 3 && a->rot.pop[2] == 2);
	CHECK(strcmp(tfa_artifact_key_after(a), new_fpr) == 0);
	/* The proof of possession covers exactly this document. */
	CHECK_OK(tfa_rotation_pop_bytes(&pop, a));
	snprintf(want, sizeof(want),
		 "{\"chain_id\":\"prod\",\"new_algorithm\":\"ECDSA_SHA_256\",\"new_key_"
		 "fingerprint\":\"%s\","
		 "\"old_key_fingerprint\":\"%s\",\"prev_hash\":\"" PREV "\",\"seq\":7,"
		 "\"type\":\"tfattest.rotation-pop\"}",
		 new_fpr, old_fpr);
	CHECK(pop.len == strlen(want) && memcmp(pop.data, want, pop.len) == 0);
	free(b);
	free(a);
	tfa_buf_free(&pop);
}

static void test_rotation_reject(void)
{
	char other[256], ofpr[TFA_FPR_STRLEN], q[300];

	/* rotate only in schema 2, schema 2 only for rotate, rotation only with rotate */
	REJECT_ROT(NULL, "schema_version", "1", "goes with schema version 2");
	REJECT_ROT("event", "type", "\"apply\"", "goes with schema version 2");
	REJECT(NULL, "rotation", "{}", "\"rotation\" is present exactly in rotation records");
	REJECT_ROT(NULL, "rotation", NULL, "\"rotation\" is present exactly in rotation records");
	REJECT_ROT("event", "status", "\"failed\"", "status succeeded, exit code 0");
	REJECT_ROT("event", "exit_code", "1", "status succeeded, exit code 0");
	REJECT_ROT(NULL, "terraform", "{}", "no terraform facts");
	REJECT_ROT(NULL, "rotation", "[]", "\"rotation\" is not an object");
	/* members */
	REJECT_ROT("rotation", "new_key_fingerprint", NULL, "has no \"new_key_fingerprint\"");
	REJECT_ROT("rotation", "new_algorithm", NULL, "has no \"new_algorithm\"");
	REJECT_ROT("rotation", "new_algorithm", "\"ED25519\"", "algorithm");
	REJECT_ROT("rotation", "new_public_key", NULL, "has no \"new_public_key\"");
	REJECT_ROT("rotation", "old_public_key", NULL, "has no \"old_public_key\"");
	REJECT_ROT("rotation", "pop_signature", NULL, "has no \"pop_signature\"");
	REJECT_ROT("rotation", "pop_signature", "7", "pop_signature");
	/* base64: not canonical, padded wrongly, foreign characters, white space, too long */
	REJECT_ROT("rotation", "pop_signature", "\"AAF=\"", "not canonical");
	REJECT_ROT("rotation", "pop_signature", "\"AA==AAAA\"", "padding before the end");
	REJECT_ROT("rotation", "pop_signature", "\"AA=A\"", "padding is malformed");
	REJECT_ROT("rotation", "pop_signature", "\"AA-_\"", "outside its alphabet");
	REJECT_ROT("rotation", "pop_signature", "\"AAE\"", "multiple of 4");
	REJECT_ROT("rotation", "pop_signature", "\"AA E\"", "outside its alphabet");
	REJECT_ROT("rotation", "pop_signature", "\"\"", "empty");
	{
		char big[1500];
		memset(big, 'A', sizeof(big));
		big[0] = '"';
		big[1370] = '"';
		big[1371] = '\0';
		REJECT_ROT("rotation", "pop_signature", big, "pop_signature");
	}
	/* keys must match their fingerprints, and differ */
	new_spki(other, sizeof(other), ofpr);
	snprintf(q, sizeof(q), "\"%s\"", other);
	REJECT_ROT("rotation", "new_public_key", q, "new_public_key does not have the fingerprint");
	REJECT_ROT("rotation", "old_public_key", q, "old_public_key does not have the fingerprint");
	snprintf(q, sizeof(q), "\"%s\"", ofpr);
	REJECT_ROT("rotation", "new_key_fingerprint", q,
		   "new_public_key does not have the fingerprint");
	REJECT_ROT("rotation", "new_key_fingerprint", "\"sha256:00\"", "new_key_fingerprint");
	snprintf(q, sizeof(q), "\"%s\"", old_b64);
	{
		/* new == old: both fingerprints agree, so only the sameness rule fires */
		size_t len;
		char *b = rotation("rotation", "new_public_key", q, &len);
		cJSON *r = cJSON_Parse(b);
		cJSON *ro = cJSON_GetObjectItemCaseSensitive(r, "rotation");
		char *t;
		tfa_buf c;
		cJSON_ReplaceItemInObjectCaseSensitive(ro, "new_key_fingerprint",
						       cJSON_CreateString(old_fpr));
		t = cJSON_PrintUnformatted(r);
		tfa_buf_init(&c, 0);
		CHECK_OK(tfa_jcs_canonicalize(&c, (const uint8_t *)t, strlen(t)));
		expect_reject_n((const char *)c.data, c.len, TFA_EFORMAT,
				"the new key is the key that signs", "rotation to itself",
				__LINE__);
		tfa_buf_free(&c);
		cJSON_free(t);
		cJSON_Delete(r);
		free(b);
	}
	/* a pop document for a record that is not a rotation */
	{
		tfa_artifact a;
		tfa_buf pop;
		memset(&a, 0, sizeof(a));
		tfa_buf_init(&pop, 0);
		CHECK(tfa_rotation_pop_bytes(&pop, &a) == TFA_EINTERNAL);
		tfa_buf_free(&pop);
	}
}

/* ---- the identity section and the idempotency key (FORMAT.md §3.6, §3.1) ----------------- */

#define IDENTITY                                                                                   \
	"{\"method\":\"oidc\",\"issuer\":\"https://token.example\",\"subject\":\"repo:a/b\","      \
	"\"audience\":\"tfattest\",\"issued_at\":\"2024-02-29T12:30:00Z\","                        \
	"\"expires_at\":\"2024-02-29T12:35:00Z\",\"claims\":{\"ref\":\"refs/heads/main\"},"        \
	"\"client_cert\":\"CN=runner-1\",\"verified_by\":\"serve\","                               \
	"\"verified_at\":\"2024-02-29T12:34:56Z\"}"

static void test_identity_valid(void)
{
	tfa_artifact a;

	memset(&a, 0xa5, sizeof(a));
	ACCEPT(&a, NULL, "identity", IDENTITY);
	CHECK(a.has_identity);
	CHECK_STREQ(a.identity_method, "oidc");
	CHECK_STREQ(a.identity_verifier, "serve");
	CHECK(a.identity_verified_at == 1709210096);
	CHECK(a.idempotency_key[0] == '\0');
	ACCEPT(
	    &a, NULL, "identity",
	    "{\"method\":\"aws-iam\",\"issuer\":\"aws-iam\",\"subject\":\"arn:aws:iam::1:user/x\","
	    "\"verified_by\":\"lambda\",\"verified_at\":\"2024-02-29T12:34:56Z\",\"new\":[1]}");
	CHECK(a.has_identity);
	CHECK_STREQ(a.identity_method, "aws-iam");
	CHECK_STREQ(a.identity_verifier, "lambda");
	ACCEPT(&a, NULL, "chain_id", "\"prod-eu.1_a\"");
	CHECK(!a.has_identity);
	ACCEPT(&a, "event", "idempotency_key", "\"0123456789abcdef\"");
	CHECK_STREQ(a.idempotency_key, "0123456789abcdef");
	ACCEPT(&a, "event", "idempotency_key",
	       "\"AZaz09._-AZaz09._-AZaz09._-AZaz09._-AZaz09._-AZaz09._-AZaz09._-0\"");
	CHECK(strlen(a.idempotency_key) == 64);
}

/* The identity object with one member set to value (NULL removes it). */
static char *identity_with(const char *key, const char *value)
{
	cJSON *o = cJSON_Parse(IDENTITY);
	char *text;

	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	if (value)
		cJSON_AddItemToObject(o, key, cJSON_Parse(value));
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

static void reject_identity(const char *key, const char *value, const char *msg, int line)
{
	char *id = identity_with(key, value);

	reject_mut(NULL, "identity", id, msg, line);
	cJSON_free(id);
}

static void test_identity_reject(void)
{
	reject_mut(NULL, "identity", "\"repo:a/b\"", "\"identity\"", __LINE__);
	reject_mut(NULL, "identity", "null", "\"identity\"", __LINE__);
	reject_identity("method", "\"password\"", "method is not oidc or aws-iam", __LINE__);
	reject_identity("method", NULL, "method", __LINE__);
	reject_identity("issuer", NULL, "issuer", __LINE__);
	reject_identity("issuer", "\"\"", "issuer", __LINE__);
	reject_identity("subject", NULL, "subject", __LINE__);
	reject_identity("subject", "7", "subject", __LINE__);
	reject_identity("audience", "[\"a\"]", "audience", __LINE__);
	reject_identity("issued_at", "\"1709210096\"", "issued_at", __LINE__);
	reject_identity("expires_at", "\"2024-02-30T00:00:00Z\"", "expires_at", __LINE__);
	reject_identity("claims", "[]", "claims", __LINE__);
	reject_identity("claims", "{\"run_id\":7}", "claims", __LINE__);
	reject_identity("claims", "{\"\":\"x\"}", "claims", __LINE__);
	reject_identity("client_cert", "\"\"", "client_cert", __LINE__);
	reject_identity("verified_by", "\"client\"", "verified_by is not serve or lambda",
			__LINE__);
	reject_identity("verified_by", NULL, "verified_by", __LINE__);
	reject_identity("verified_at", NULL, "verified_at", __LINE__);
	{
		/* A subject of 1025 bytes. */
		char big[1100];
		big[0] = '"';
		memset(big + 1, 's', 1025);
		strcpy(big + 1026, "\"");
		reject_identity("subject", big, "subject", __LINE__);
	}
	REJECT("event", "idempotency_key", "\"0123456789abcde\"", "idempotency key is 16 to 64");
	REJECT("event", "idempotency_key",
	       "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0\"",
	       "idempotency_key");
	REJECT("event", "idempotency_key", "\"0123456789abcdef/\"", "only letters, digits");
	REJECT("event", "idempotency_key", "\"0123456789abcdef \"", "only letters, digits");
	REJECT("event", "idempotency_key", "1234567890123456", "idempotency_key");
}

static void test_idempotency_key_check(void)
{
	CHECK_OK(tfa_idempotency_key_check("abcdefghijklmnop", 16));
	CHECK_RC(tfa_idempotency_key_check("abcdefghijklmno", 15), TFA_EFORMAT);
	CHECK_RC(tfa_idempotency_key_check("abcdefghijklmno\0", 16), TFA_EFORMAT);
	CHECK_RC(tfa_idempotency_key_check(NULL, 16), TFA_EFORMAT);
}

TFA_TEST_MAIN(T(test_parse_valid), T(test_parse_valid_variants), T(test_reject_missing_members),
	      T(test_reject_wrong_types), T(test_reject_not_an_object),
	      T(test_reject_unknown_top_level_member), T(test_reject_type_tag),
	      T(test_reject_schema_version), T(test_reject_seq), T(test_reject_prev_hash),
	      T(test_reject_time), T(test_reject_chain_id), T(test_chain_id_check),
	      T(test_reject_event), T(test_reject_exit_code), T(test_reject_signer),
	      T(test_reject_non_canonical), T(test_reject_duplicate_keys), T(test_reject_oversize),
	      T(test_reject_embedded_nul), T(test_reject_invalid_utf8), T(test_rotation_valid),
	      T(test_rotation_reject), T(test_identity_valid), T(test_identity_reject),
	      T(test_idempotency_key_check))
