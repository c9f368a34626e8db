/*
 * Tests for the manifest parser: a valid manifest, then one rejection per
 * rule, each made by changing exactly one thing and re-canonicalizing.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "tfa_test.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"
#include "verify/manifest.h"

#define FPR  "sha256:261e452e495b6e36b5d6fa2854213c209374142096aaf2784bfd8f74739cbdbb"
#define HEAD "sha256:9e1377a2f91a35b9c4db1a7b290a635b5b9c79e22e01021e00bcb95e7ac26d82"
#define H1   "97eeaeb5bd34d07e0ff279bcc5d0f5c3885d6e3b209f04b0f9d371e80ec69b13"
#define H2   "850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03da"
#define H3   "e86df95b8f48bbaeeacb3cc80d4baa0ede6d2deb782cff67c806944ecbfe04f4"
#define H4   "68093f8087814d6bbf50b97d0e66b018e880544b1acac1afb2fd21d08db86a7a"

/* A valid manifest in canonical form, as export writes it. */
static const char base_manifest[] =
    "{\"base_hash\":\"" TFA_GENESIS_HASH "\",\"chain_id\":\"demo\","
    "\"created\":\"2026-11-27T21:04:51Z\",\"files\":["
    "{\"path\":\"VERIFY.md\",\"sha256\":\"" H1 "\",\"size\":2680},"
    "{\"path\":\"artifacts/000000000001.json\",\"sha256\":\"" H2 "\",\"size\":861},"
    "{\"path\":\"artifacts/000000000001.sig\",\"sha256\":\"" H3 "\",\"size\":72},"
    "{\"path\":\"public_key.pem\",\"sha256\":\"" H4 "\",\"size\":178}],"
    "\"from_seq\":1,\"head_hash\":\"" HEAD "\",\"schema_version\":1,"
    "\"signer\":{\"algorithm\":\"ECDSA_SHA_256\",\"key_fingerprint\":\"" FPR "\"},"
    "\"to_seq\":1,\"type\":\"tfattest.manifest\"}";

/* ---- helpers ------------------------------------------------------------------------------ */

static char *canon_of(cJSON *root, size_t *len)
{
	char *text = cJSON_PrintUnformatted(root);
	tfa_buf canon;

	tfa_buf_init(&canon, 0);
	if (text == NULL ||
	    tfa_jcs_canonicalize(&canon, (const uint8_t *)text, strlen(text)) != TFA_OK) {
		fprintf(stderr, "cannot canonicalize %s\n", text ? text : "(null)");
		exit(2);
	}
	cJSON_free(text);
	return (char *)tfa_buf_detach(&canon, len);
}

static cJSON *parse_or_die(const char *json)
{
	cJSON *v = cJSON_Parse(json);

	if (v == NULL) {
		fprintf(stderr, "bad JSON in test: %s\n", json);
		exit(2);
	}
	return v;
}

/*
 * The base manifest with one member changed. `where` is NULL (root),
 * "signer", or "files/N" (file entry N). value NULL removes the member.
 */
static char *mutate(const char *where, const char *key, const char *value, size_t *len)
{
	cJSON *root = parse_or_die(base_manifest), *obj = root;
	char *out;

	if (where && strncmp(where, "files/", 6) == 0)
		obj = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "files"),
					 (int)strtol(where + 6, NULL, 10));
	else if (where)
		obj = cJSON_GetObjectItemCaseSensitive(root, where);
	if (obj == NULL) {
		fprintf(stderr, "mutate: no %s\n", where);
		exit(2);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	if (value)
		cJSON_AddItemToObject(obj, key, parse_or_die(value));
	out = canon_of(root, len);
	cJSON_Delete(root);
	return out;
}

/* A manifest whose file list is `files` (a JSON array). */
static char *with_files(const char *files, size_t *len)
{
	return mutate(NULL, "files", files, len);
}

/*
 * True when msg holds one of the '|'-separated alternatives in `alts`. The
 * parser's wording is not a contract; the alternatives name the same fault.
 */
static int msg_matches(const char *msg, const char *alts)
{
	char buf[512];
	const char *p = alts;

	if (*alts == '\0')
		return 1;
	for (;;) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);

		snprintf(buf, sizeof(buf), "%.*s", (int)n, p);
		if (strstr(msg, buf) != NULL)
			return 1;
		if (bar == NULL)
			return 0;
		p = bar + 1;
	}
}

static void expect_reject_n(const char *bytes, size_t len, tfa_err want, const char *msg,
			    const char *what, int line)
{
	tfa_manifest m;
	tfa_err rc;

	tfa_error_clear();
	memset(&m, 0x5a, sizeof(m));
	rc = tfa_manifest_parse(&m, (const uint8_t *)bytes, len);
	if (rc != want || !msg_matches(tfa_error_last()->message, msg)) {
		fprintf(stderr, "line %d: %s: got %s (%s), wanted %s with \"%s\"\n", line, what,
			tfa_err_name(rc), tfa_error_last()->message, tfa_err_name(want), msg);
		tfa_test_failures++;
	}
	/* A failed parse leaves nothing to free. */
	if (rc != TFA_OK && (m.files != NULL || m.arena != NULL || m.nfiles != 0)) {
		fprintf(stderr, "line %d: manifest not cleared on failure\n", line);
		tfa_test_failures++;
	}
	if (rc == TFA_OK)
		tfa_manifest_clear(&m);
}

static void reject_mut(const char *where, const char *key, const char *value, tfa_err want,
		       const char *msg, int line)
{
	size_t len;
	char *bytes = mutate(where, key, value, &len);
	char what[512];

	snprintf(what, sizeof(what), "%s.%s = %.400s", where ? where : "", key,
		 value ? value : "(removed)");
	expect_reject_n(bytes, len, want, msg, what, line);
	free(bytes);
}

/* One file entry with this path (a JSON string literal), otherwise valid. */
static void reject_path(const char *path_json, tfa_err want, const char *msg, int line)
{
	char files[1024];
	size_t len;
	char *bytes;

	snprintf(files, sizeof(files), "[{\"path\":%s,\"sha256\":\"%s\",\"size\":1}]", path_json,
		 H1);
	bytes = with_files(files, &len);
	expect_reject_n(bytes, len, want, msg, path_json, line);
	free(bytes);
}

static void reject_files(const char *files, tfa_err want, const char *msg, int line)
{
	size_t len;
	char *bytes = with_files(files, &len);

	expect_reject_n(bytes, len, want, msg, files, line);
	free(bytes);
}

#define REJECT(where, key, value, msg)                                                             \
	reject_mut((where), (key), (value), TFA_EFORMAT, (msg), __LINE__)
#define REJECT_V(where, key, value, msg)                                                           \
	reject_mut((where), (key), (value), TFA_EVERIFY, (msg), __LINE__)
#define REJECT_PATH(p, want, msg)  reject_path((p), (want), (msg), __LINE__)
#define REJECT_FILES(f, want, msg) reject_files((f), (want), (msg), __LINE__)
#define REJECT_RAW(s, msg)	   expect_reject_n((s), strlen(s), TFA_EFORMAT, (msg), (s), __LINE__)

/* ---- valid manifests ---------------------------------------------------------------------- */

static void test_parse_valid(void)
{
	tfa_manifest m;

	CHECK_OK(tfa_manifest_parse(&m, (const uint8_t *)base_manifest, strlen(base_manifest)));
	CHECK_STREQ(m.chain_id, "demo");
	CHECK(m.from_seq == 1 && m.to_seq == 1);
	for (size_t i = 0; i < TFA_SHA256_LEN; i++)
		CHECK(m.base_hash[i] == 0);
	CHECK(m.head_hash[0] == 0x9e && m.head_hash[31] == 0x82);
	CHECK_STREQ(m.key_fpr, FPR);
	CHECK(m.alg == TFA_ALG_ECDSA_SHA_256);
	CHECK(m.nfiles == 4);
	if (m.nfiles == 4) {
		CHECK_STREQ(m.files[0].path, "VERIFY.md");
		CHECK(m.files[0].size == 2680);
		CHECK(m.files[0].sha256[0] == 0x97 && m.files[0].sha256[31] == 0x13);
		CHECK_STREQ(m.files[1].path, "artifacts/000000000001.json");
		CHECK_STREQ(m.files[2].path, "artifacts/000000000001.sig");
		CHECK(m.files[2].size == 72);
		CHECK_STREQ(m.files[3].path, "public_key.pem");
		CHECK(m.files[3].sha256[0] == 0x68);
	}
	CHECK(tfa_manifest_find(&m, "VERIFY.md") == 0);
	CHECK(tfa_manifest_find(&m, "artifacts/000000000001.json") == 1);
	CHECK(tfa_manifest_find(&m, "artifacts/000000000001.sig") == 2);
	CHECK(tfa_manifest_find(&m, "public_key.pem") == 3);
	CHECK(tfa_manifest_find(&m, "manifest.json") == -1);
	CHECK(tfa_manifest_find(&m, "artifacts/000000000002.json") == -1);
	CHECK(tfa_manifest_find(&m, "") == -1);
	CHECK(tfa_manifest_find(&m, "zzz") == -1);
	CHECK(tfa_manifest_find(&m, "AAA") == -1);
	tfa_manifest_clear(&m);
	CHECK(m.files == NULL && m.arena == NULL && m.nfiles == 0);
	tfa_manifest_clear(&m); /* twice is harmless */
}

static void test_parse_valid_variants(void)
{
	tfa_manifest m;
	size_t len;
	char *b;

	/* Edge values that must be accepted. */
	static const struct {
		const char *where, *key, *value;
	} ok[] = {
	    {NULL, "to_seq", "999999999999"},
	    {NULL, "from_seq", "1"},
	    {"files/0", "size", "0"},
	    {"files/0", "size", "1099511627776"}, /* 2^40 */
	    {"signer", "algorithm", "\"RSASSA_PSS_SHA_256\""},
	    {"signer", "algorithm", "\"RSASSA_PKCS1_V1_5_SHA_256\""},
	    {NULL, "created", "\"2000-02-29T00:00:00Z\""},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		b = mutate(ok[i].where, ok[i].key, ok[i].value, &len);
		if (tfa_manifest_parse(&m, (const uint8_t *)b, len) != TFA_OK) {
			fprintf(stderr, "%s.%s = %s rejected: %s\n", ok[i].where ? ok[i].where : "",
				ok[i].key, ok[i].value, tfa_error_last()->message);
			tfa_test_failures++;
		} else {
			tfa_manifest_clear(&m);
		}
		free(b);
	}

	/* Paths at the limits: 200 bytes, 4 levels; byte order, not locale order. */
	{
		char files[2048], p200[201];
		memset(p200, 'x', 200);
		p200[200] = '\0';
		snprintf(files, sizeof(files),
			 "[{\"path\":\"A\",\"sha256\":\"" H1 "\",\"size\":1},"
			 "{\"path\":\"Z\",\"sha256\":\"" H1 "\",\"size\":1},"
			 "{\"path\":\"a-b\",\"sha256\":\"" H1 "\",\"size\":1},"
			 "{\"path\":\"a.b\",\"sha256\":\"" H1 "\",\"size\":1},"
			 "{\"path\":\"a/b/c/d\",\"sha256\":\"" H1 "\",\"size\":1},"
			 "{\"path\":\"a/b/c/e\",\"sha256\":\"" H1 "\",\"size\":1},"
			 "{\"path\":\"manifest.jsonx\",\"sha256\":\"" H1 "\",\"size\":1},"
			 "{\"path\":\"%s\",\"sha256\":\"" H1 "\",\"size\":1}]",
			 p200);
		b = with_files(files, &len);
		CHECK_OK(tfa_manifest_parse(&m, (const uint8_t *)b, len));
		CHECK(m.nfiles == 8);
		CHECK(tfa_manifest_find(&m, p200) == 7);
		CHECK(tfa_manifest_find(&m, "a/b/c/e") == 5);
		CHECK(tfa_manifest_find(&m, "a.b") == 3);
		CHECK(tfa_manifest_find(&m, "a/b/c") == -1);
		tfa_manifest_clear(&m);
		free(b);
	}
}

/* ---- structure ---------------------------------------------------------------------------- */

static void test_reject_missing_members(void)
{
	static const char *const top[] = {"type",   "schema_version", "chain_id",  "from_seq",
					  "to_seq", "base_hash",      "head_hash", "created",
					  "signer", "files"};
	static const char *const file[] = {"path", "sha256", "size"};
	char msg[128];

	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		snprintf(msg, sizeof(msg),
			 "manifest has no \"%s\"|lacks a required member|is missing", top[i]);
		REJECT(NULL, top[i], NULL, msg);
	}
	REJECT("signer", "key_fingerprint", NULL, "has no \"key_fingerprint\"|missing");
	REJECT("signer", "algorithm", NULL, "has no \"algorithm\"|missing");
	for (size_t i = 0; i < sizeof(file) / sizeof(file[0]); i++) {
		snprintf(msg, sizeof(msg), "manifest file entry has no \"%s\"|missing", file[i]);
		REJECT("files/2", file[i], NULL, msg);
	}
}

static void test_reject_wrong_types(void)
{
#define WRONG "is not a|wrong type"
	REJECT_RAW("[]", "manifest is not a JSON object|wrong type");
	REJECT_RAW("\"x\"", "manifest is not a JSON object|wrong type");
	/* Too short to be a manifest. */
	expect_reject_n("{}", 2, TFA_EFORMAT, "", "{}", __LINE__);
	REJECT_RAW("", "json: empty document|json:");
	REJECT(NULL, "type", "1", WRONG);
	REJECT(NULL, "schema_version", "\"1\"", WRONG);
	REJECT(NULL, "chain_id", "null", WRONG);
	REJECT(NULL, "from_seq", "\"1\"", WRONG);
	REJECT(NULL, "to_seq", "[1]", WRONG);
	REJECT(NULL, "base_hash", "0", WRONG);
	REJECT(NULL, "head_hash", "{}", WRONG);
	REJECT(NULL, "created", "0", WRONG);
	REJECT(NULL, "signer", "\"x\"", WRONG);
	REJECT(NULL, "files", "{}", WRONG);
	REJECT(NULL, "files", "\"VERIFY.md\"", WRONG);
	REJECT("signer", "algorithm", "1", WRONG);
	REJECT("signer", "key_fingerprint", "null", WRONG);
	REJECT("files/0", "path", "1", WRONG);
	REJECT("files/1", "sha256", "null", WRONG);
	REJECT("files/3", "size", "\"178\"", WRONG);
	REJECT("files/3", "size", "true", WRONG);
	REJECT_FILES("[\"VERIFY.md\"]", TFA_EFORMAT, "file entry is not a");
	REJECT_FILES("[[]]", TFA_EFORMAT, "file entry is not a");
	REJECT_FILES("[]", TFA_EFORMAT, "manifest lists no files");
#undef WRONG
}

static void test_reject_unknown_members(void)
{
	REJECT(NULL, "extra", "1", "manifest has an unknown member \"extra\"");
	REJECT(NULL, "signature", "\"x\"", "manifest has an unknown member \"signature\"");
	REJECT("signer", "backend", "\"file\"",
	       "unknown member \"backend\"|unknown or missing member near \"backend\"");
	REJECT("files/1", "mode", "420",
	       "unknown member \"mode\"|unknown or missing member near \"mode\"");
	REJECT("files/0", "Path", "\"x\"",
	       "unknown member \"Path\"|unknown or missing member near \"Path\"");
}

static void test_reject_header_fields(void)
{
	REJECT(NULL, "type", "\"tfattest.artifact\"", "manifest type is not tfattest.manifest");
	REJECT(NULL, "type", "\"tfattest.manifes\"", "manifest type is not");
	REJECT(NULL, "schema_version", "2", "unsupported manifest schema version");
	REJECT(NULL, "schema_version", "0", "unsupported manifest schema version");
	REJECT(NULL, "schema_version", "1.5", "not an integer in range");
	REJECT(NULL, "chain_id", "\"a b\"", "chain id may hold only");
	REJECT(NULL, "chain_id", "\"\"", "\"chain_id\" is empty");
	REJECT(NULL, "from_seq", "0", "\"from_seq\" is not an integer in range");
	REJECT(NULL, "from_seq", "1.5", "\"from_seq\" is not an integer in range");
	REJECT(NULL, "to_seq", "1000000000000", "\"to_seq\" is not an integer in range");
	REJECT(NULL, "to_seq", "-1", "\"to_seq\" is not an integer in range");
	REJECT(NULL, "from_seq", "2", "manifest range is empty");
	REJECT(NULL, "base_hash", "\"sha256:00\"",
	       "\"base_hash\" is not sha256:<64 lowercase hex>");
	REJECT(NULL, "head_hash",
	       "\"sha256:9E1377A2F91A35B9C4DB1A7B290A635B5B9C79E22E01021E00BCB95E7AC26D82\"",
	       "\"head_hash\" is not sha256:<64 lowercase hex>");
	REJECT(NULL, "created", "\"2026-02-30T00:00:00Z\"",
	       "time is not a valid UTC date and time");
	REJECT(NULL, "created", "\"2026-01-01T00:00:00\"", "time is not of the form");
	REJECT("signer", "algorithm", "\"NONE\"", "unknown signature algorithm");
	REJECT("signer", "key_fingerprint", "\"sha256:xyz\"",
	       "\"key_fingerprint\" is not sha256|key fingerprint is malformed");
	REJECT("signer", "key_fingerprint", "\"" FPR "0\"",
	       "\"key_fingerprint\" is empty, too long|key fingerprint is malformed");
}

/* ---- file entries ------------------------------------------------------------------------- */

static void test_reject_paths(void)
{
	char p[260];

	REJECT_PATH("\"/etc/passwd\"", TFA_EVERIFY, "is absolute");
	REJECT_PATH("\"/VERIFY.md\"", TFA_EVERIFY, "is absolute");
	REJECT_PATH("\"..\"", TFA_EVERIFY, "starting with '.'");
	REJECT_PATH("\"../outside\"", TFA_EVERIFY, "starting with '.'");
	REJECT_PATH("\"artifacts/../../x\"", TFA_EVERIFY, "starting with '.'");
	REJECT_PATH("\".\"", TFA_EVERIFY, "starting with '.'");
	REJECT_PATH("\"./VERIFY.md\"", TFA_EVERIFY, "starting with '.'");
	REJECT_PATH("\".x\"", TFA_EVERIFY, "starting with '.'");
	REJECT_PATH("\"artifacts/.hidden\"", TFA_EVERIFY, "starting with '.'");
	REJECT_PATH("\"a//b\"", TFA_EVERIFY, "empty component");
	REJECT_PATH("\"artifacts/\"", TFA_EVERIFY, "empty component");
	REJECT_PATH("\"a\\\\b\"", TFA_EVERIFY, "outside");
	REJECT_PATH("\"a b\"", TFA_EVERIFY, "outside");
	REJECT_PATH("\"caf\\u00e9\"", TFA_EVERIFY, "outside");
	REJECT_PATH("\"a/b/c/d/e\"", TFA_EVERIFY, "nested too deeply");
	REJECT_PATH("\"\"", TFA_EFORMAT, "\"path\" is empty|file path is empty");
	memset(p, 'x', sizeof(p));
	p[0] = '"';
	p[202] = '"';
	p[203] = '\0';
	REJECT_PATH(p, TFA_EVERIFY, "is too long|longer than"); /* 201 bytes */
}

static void test_reject_nul_in_path(void)
{
	/* cJSON cannot carry a NUL inside a string: edit the text. */
	static const char m[] =
	    "{\"base_hash\":\"" TFA_GENESIS_HASH "\",\"chain_id\":\"demo\","
	    "\"created\":\"2026-11-27T21:04:51Z\",\"files\":["
	    "{\"path\":\"VERIFY.md\\u0000x\",\"sha256\":\"" H1 "\",\"size\":2680}],"
	    "\"from_seq\":1,\"head_hash\":\"" HEAD "\",\"schema_version\":1,"
	    "\"signer\":{\"algorithm\":\"ECDSA_SHA_256\",\"key_fingerprint\":\"" FPR "\"},"
	    "\"to_seq\":1,\"type\":\"tfattest.manifest\"}";

	REJECT_RAW(m, "holds NUL");
}

#define ENTRY(p) "{\"path\":\"" p "\",\"sha256\":\"" H1 "\",\"size\":1}"

static void test_reject_order_and_duplicates(void)
{
	REJECT_FILES("[" ENTRY("b") "," ENTRY("a") "]", TFA_EVERIFY,
		     "manifest paths are not unique and in order at a");
	REJECT_FILES("[" ENTRY("a") "," ENTRY("a") "]", TFA_EVERIFY,
		     "manifest paths are not unique and in order at a");
	REJECT_FILES("[" ENTRY("a") "," ENTRY("c") "," ENTRY("b") "]", TFA_EVERIFY,
		     "not unique and in order at b");
	/* Byte order: uppercase sorts before lowercase. */
	REJECT_FILES("[" ENTRY("a") "," ENTRY("B") "]", TFA_EVERIFY, "not unique and in order");
	REJECT_FILES(
	    "[" ENTRY("artifacts/000000000002.json") "," ENTRY("artifacts/000000000001.json") "]",
	    TFA_EVERIFY, "not unique and in order");
}

static void test_reject_self_listing(void)
{
	REJECT_FILES("[" ENTRY("VERIFY.md") "," ENTRY("manifest.json") "]", TFA_EVERIFY,
		     "manifest lists itself or its signature");
	REJECT_FILES("[" ENTRY("manifest.sig") "]", TFA_EVERIFY,
		     "manifest lists itself or its signature");
	REJECT_FILES("[" ENTRY("manifest.json") "," ENTRY("public_key.pem") "]", TFA_EVERIFY,
		     "manifest lists itself");
}

static void test_reject_file_hash_and_size(void)
{
	REJECT("files/1", "sha256", "\"" H2 "0\"",
	       "malformed sha256|\"sha256\" is empty, too long");
	REJECT("files/1", "sha256", "\"850605eae77a64ecfb10b753f0b003d9\"",
	       "entry artifacts/000000000001.json has a malformed sha256");
	REJECT("files/1", "sha256",
	       "\"850605EAE77A64ECFB10B753F0B003D9E0D33876BB0D093309F15FB16F5D03DA\"",
	       "has a malformed sha256");
	REJECT("files/1", "sha256",
	       "\"850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03dg\"",
	       "has a malformed sha256");
	REJECT("files/1", "sha256",
	       "\"sha256:850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f\"",
	       "has a malformed sha256");
	REJECT("files/1", "sha256", "\"\"", "is empty");
	REJECT("files/3", "size", "-1",
	       "size\" is not an integer in range|size is not an integer in range");
	REJECT("files/3", "size", "1.5", "is not an integer in range");
	REJECT("files/3", "size", "1099511627777", "is not an integer in range");
	REJECT("files/3", "size", "1e300", "is not an integer in range");
}

static void test_reject_non_canonical(void)
{
	size_t n = strlen(base_manifest);
	char *s = malloc(n + 2);

	memcpy(s, base_manifest, n);
	s[n] = '\n';
	expect_reject_n(s, n + 1, TFA_EFORMAT, "canonical", "newline", __LINE__);
	s[0] = ' ';
	memcpy(s + 1, base_manifest, n);
	expect_reject_n(s, n + 1, TFA_EFORMAT, "canonical", "space", __LINE__);
	free(s);
	{
		/* Unsorted: the last member moved to the front. */
		static const char tail[] = ",\"type\":\"tfattest.manifest\"}";
		static const char head[] = "{\"type\":\"tfattest.manifest\",";
		size_t mid = n - (sizeof(tail) - 1) - 1;
		char *u = malloc(n + 2);

		memcpy(u, head, sizeof(head) - 1);
		memcpy(u + sizeof(head) - 1, base_manifest + 1, mid);
		u[sizeof(head) - 1 + mid] = '}';
		u[sizeof(head) + mid] = '\0';
		CHECK(strlen(u) == n);
		expect_reject_n(u, strlen(u), TFA_EFORMAT, "canonical", u, __LINE__);
		free(u);
	}
	/* An escaped letter and an exponent, where canonical form writes them plainly. */
	{
		static const char m[] =
		    "{\"base_hash\":\"" TFA_GENESIS_HASH "\",\"chain_id\":\"d\\u0065mo\","
		    "\"created\":\"2026-11-27T21:04:51Z\",\"files\":["
		    "{\"path\":\"VERIFY.md\",\"sha256\":\"" H1 "\",\"size\":2.68e3}],"
		    "\"from_seq\":1,\"head_hash\":\"" HEAD "\",\"schema_version\":1,"
		    "\"signer\":{\"algorithm\":\"ECDSA_SHA_256\",\"key_fingerprint\":\"" FPR "\"},"
		    "\"to_seq\":1,\"type\":\"tfattest.manifest\"}";
		REJECT_RAW(m, "canonical");
	}
}

static void test_reject_duplicate_keys(void)
{
	static const char m[] =
	    "{\"base_hash\":\"" TFA_GENESIS_HASH "\",\"chain_id\":\"demo\","
	    "\"created\":\"2026-11-27T21:04:51Z\",\"files\":["
	    "{\"path\":\"VERIFY.md\",\"path\":\"x\",\"sha256\":\"" H1 "\",\"size\":2680}],"
	    "\"from_seq\":1,\"head_hash\":\"" HEAD "\",\"schema_version\":1,"
	    "\"signer\":{\"algorithm\":\"ECDSA_SHA_256\",\"key_fingerprint\":\"" FPR "\"},"
	    "\"to_seq\":1,\"type\":\"tfattest.manifest\"}";
	static const char m2[] =
	    "{\"base_hash\":\"" TFA_GENESIS_HASH "\",\"chain_id\":\"demo\",\"chain_id\":\"demo\","
	    "\"created\":\"2026-11-27T21:04:51Z\",\"files\":["
	    "{\"path\":\"VERIFY.md\",\"sha256\":\"" H1 "\",\"size\":2680}],"
	    "\"from_seq\":1,\"head_hash\":\"" HEAD "\",\"schema_version\":1,"
	    "\"signer\":{\"algorithm\":\"ECDSA_SHA_256\",\"key_fingerprint\":\"" FPR "\"},"
	    "\"to_seq\":1,\"type\":\"tfattest.manifest\"}";

	REJECT_RAW(m, "duplicate object key");
	REJECT_RAW(m2, "duplicate object key");
}

/* Schema 2: exporter-signed, with "kind" (which sorts before "schema_version"). */
#define EXPORTER_MANIFEST(kind, schema)                                                            \
	"{\"base_hash\":\"" TFA_GENESIS_HASH "\",\"chain_id\":\"demo\","                           \
	"\"created\":\"2026-11-27T21:04:51Z\",\"files\":["                                         \
	"{\"path\":\"exporter_key.pem\",\"sha256\":\"" H1 "\",\"size\":178},"                      \
	"{\"path\":\"public_key.pem\",\"sha256\":\"" H4 "\",\"size\":178}],"                       \
	"\"from_seq\":1,\"head_hash\":\"" HEAD "\"," kind "\"schema_version\":" schema ","         \
	"\"signer\":{\"algorithm\":\"ECDSA_SHA_256\",\"key_fingerprint\":\"" FPR "\"},"            \
	"\"to_seq\":1,\"type\":\"tfattest.manifest\"}"

static void test_manifest_kinds(void)
{
	static const char ok[] = EXPORTER_MANIFEST("\"kind\":\"exporter-signed\",", "2");
	tfa_manifest m;

	CHECK_OK(tfa_manifest_parse(&m, (const uint8_t *)ok, sizeof(ok) - 1));
	CHECK(m.exporter_signed && m.lists_exporter_key && m.lists_pubkey);
	CHECK(strcmp(m.key_fpr, FPR) == 0);
	tfa_manifest_clear(&m);
	CHECK_OK(tfa_manifest_parse(&m, (const uint8_t *)base_manifest, sizeof(base_manifest) - 1));
	CHECK(!m.exporter_signed && !m.lists_exporter_key);
	tfa_manifest_clear(&m);
	/* The kind and the schema version go together, and the kind has one value. */
	REJECT_RAW(EXPORTER_MANIFEST("", "2"), "unsupported manifest schema version");
	REJECT_RAW(EXPORTER_MANIFEST("\"kind\":\"exporter-signed\",", "1"),
		   "a schema 1 manifest has no \"kind\"");
	REJECT_RAW(EXPORTER_MANIFEST("\"kind\":\"unsigned\",", "2"),
		   "manifest kind is not exporter-signed");
	REJECT_RAW(EXPORTER_MANIFEST("\"kind\":\"chain-signed\",", "1"),
		   "manifest kind is not exporter-signed");
	REJECT_RAW(EXPORTER_MANIFEST("\"kind\":2,", "2"), "\"kind\" has the wrong type");
	REJECT_RAW(EXPORTER_MANIFEST("\"kind\":\"exporter-signed\",", "3"),
		   "unsupported manifest schema version");
}

/* `writer` (FORMAT.md R-5.2-13, R-5.2-14): optional, exactly its two strings in their domain. */
static void test_writer(void)
{
	static const char v64[] =
	    "\"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwx._+~\"";
	tfa_manifest m;
	size_t len;
	char *b, val[2048];

	/* Absent: valid, and nothing is made up. */
	memset(&m, 0x5a, sizeof(m));
	CHECK_OK(tfa_manifest_parse(&m, (const uint8_t *)base_manifest, strlen(base_manifest)));
	CHECK(!m.has_writer && m.writer_name[0] == '\0' && m.writer_version[0] == '\0');
	tfa_manifest_clear(&m);

	/* As tfattest writes it. */
	b = mutate(NULL, "writer", "{\"name\":\"tfattest\",\"version\":\"0.1.0\"}", &len);
	CHECK_OK(tfa_manifest_parse(&m, (const uint8_t *)b, len));
	CHECK(m.has_writer);
	CHECK_STREQ(m.writer_name, "tfattest");
	CHECK_STREQ(m.writer_version, "0.1.0");
	tfa_manifest_clear(&m);
	free(b);

	/* The boundaries: one byte, and 64 bytes of digits, letters and ._+~. */
	CHECK(strlen(v64) == 64 + 2);
	snprintf(val, sizeof(val), "{\"name\":\"x\",\"version\":%s}", v64);
	b = mutate(NULL, "writer", val, &len);
	CHECK_OK(tfa_manifest_parse(&m, (const uint8_t *)b, len));
	CHECK_STREQ(m.writer_name, "x");
	CHECK(strlen(m.writer_version) == 64);
	tfa_manifest_clear(&m);
	free(b);
	b = mutate(NULL, "writer", "{\"name\":\"a-b\",\"version\":\"1.0.0~rc1+git-2\"}", &len);
	CHECK_OK(tfa_manifest_parse(&m, (const uint8_t *)b, len));
	CHECK_STREQ(m.writer_version, "1.0.0~rc1+git-2");
	tfa_manifest_clear(&m);
	free(b);

	/* Its type, its members, and each string's length and bytes. */
	REJECT(NULL, "writer", "\"tfattest 0.1.0\"", "\"writer\" has the wrong type");
	REJECT(NULL, "writer", "null", "\"writer\" has the wrong type");
	REJECT(NULL, "writer", "[\"tfattest\",\"0.1.0\"]", "\"writer\" has the wrong type");
	REJECT(NULL, "writer", "{}", "manifest writer");
	REJECT(NULL, "writer", "{\"name\":\"tfattest\"}", "manifest writer");
	REJECT(NULL, "writer", "{\"version\":\"0.1.0\"}", "manifest writer");
	REJECT(NULL, "writer", "{\"name\":\"tfattest\",\"version\":\"0.1.0\",\"x\":1}",
	       "manifest writer has an unknown member");
	REJECT(NULL, "writer", "{\"commit\":\"abc\",\"name\":\"tfattest\",\"version\":\"0.1.0\"}",
	       "manifest writer has an unknown or missing member near \"commit\"");
	REJECT(NULL, "writer", "{\"name\":\"tfattest\",\"version\":1}",
	       "the writer's version has the wrong type");
	REJECT(NULL, "writer", "{\"name\":true,\"version\":\"0.1.0\"}",
	       "the writer's name has the wrong type");
	REJECT(NULL, "writer", "{\"name\":\"\",\"version\":\"0.1.0\"}",
	       "the writer's name is empty");
	REJECT(NULL, "writer", "{\"name\":\"tfattest\",\"version\":\"\"}",
	       "the writer's version is empty");
	snprintf(val, sizeof(val), "{\"name\":\"tfattest\",\"version\":\"%.64s-\"}", v64 + 1);
	REJECT(NULL, "writer", val, "the writer's version is longer than 64 bytes");
	snprintf(val, sizeof(val), "{\"name\":\"%.64sx\",\"version\":\"0.1.0\"}", v64 + 1);
	REJECT(NULL, "writer", val, "the writer's name is longer than 64 bytes");
	{
		static const char *const bad[] = {"0.1.0 rc1",	  "0.1/0",	  "0.1.0\\n",
						  "0:1.0",	  "0.1.0\\u00e9", "\\u00010.1",
						  "0.1.0\\u007f", "v\\\"1"};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(val, sizeof(val), "{\"name\":\"tfattest\",\"version\":\"%s\"}",
				 bad[i]);
			REJECT(NULL, "writer", val, "the writer's version holds a byte outside");
		}
	}
	/* cJSON would cut the string at the NUL: the manifest is written out whole. */
	snprintf(val, sizeof(val),
		 "%.*s,\"writer\":{\"name\":\"tfattest\\u0000\",\"version\":\"0.1.0\"}}",
		 (int)strlen(base_manifest) - 1, base_manifest);
	REJECT_RAW(val, "the writer's name is empty or holds NUL");
}

/* ---- caps --------------------------------------------------------------------------------- */

/* base_manifest read as a stream, scanned with at most max file entries. */
typedef struct mem_src {
	const char *p;
	size_t len, pos;
} mem_src;

static ssize_t mem_read(void *ud, void *buf, size_t n)
{
	mem_src *m = ud;

	if (n > m->len - m->pos)
		n = m->len - m->pos;
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static tfa_err scan_base_max(size_t max, tfa_manifest *m)
{
	mem_src src = {base_manifest, strlen(base_manifest), 0};
	tfa_jstream *js = NULL;
	tfa_err rc;

	memset(m, 0, sizeof(*m));
	if (tfa_jstream_new(&js, mem_read, &src, 256, TFA_MANIFEST_MAX_BYTES) != TFA_OK)
		return TFA_EINTERNAL;
	rc = tfa_manifest_scan_max(m, js, NULL, NULL, max);
	tfa_jstream_free(js);
	return rc;
}

/* The file entry cap, at its boundary: base_manifest lists 4 files. */
static void test_files_cap(void)
{
	tfa_manifest m;

	CHECK_OK(scan_base_max(4, &m));
	CHECK(m.nfiles == 4);
	tfa_manifest_clear(&m);
	tfa_error_clear();
	CHECK_RC(scan_base_max(3, &m), TFA_EFORMAT);
	CHECK_STREQ(tfa_error_last()->message, "manifest lists more than 3 files");
	tfa_manifest_clear(&m);
}

/*
 * A manifest of a range of 2,000,001 records: 4,000,004 files, over the
 * 4,000,000 that the cap once was. Generated as it is read, never held.
 */
typedef struct gen_src {
	uint64_t recs, next; /* records; the next entry to produce (0: the head) */
	char pend[512];
	size_t plen, ppos;
	bool done;
} gen_src;

static void gen_more(gen_src *g)
{
	uint64_t i = g->next++, last = 2 * g->recs + 1;
	int n;

	if (i == 0)
		n = snprintf(g->pend, sizeof(g->pend),
			     "{\"base_hash\":\"" TFA_GENESIS_HASH "\",\"chain_id\":\"demo\","
			     "\"created\":\"2026-11-27T21:04:51Z\",\"files\":["
			     "{\"path\":\"VERIFY.md\",\"sha256\":\"" H1 "\",\"size\":2680}");
	else if (i < last)
		n = snprintf(g->pend, sizeof(g->pend),
			     ",{\"path\":\"artifacts/%012" PRIu64 ".%s\",\"sha256\":\"%s\","
			     "\"size\":%u}",
			     (i + 1) / 2, i % 2 ? "json" : "sig", i % 2 ? H2 : H3,
			     i % 2 ? 861 : 72);
	else if (i == last)
		n = snprintf(g->pend, sizeof(g->pend),
			     ",{\"path\":\"public_key.pem\",\"sha256\":\"" H4 "\",\"size\":178}],"
			     "\"from_seq\":1,\"head_hash\":\"" HEAD "\",\"schema_version\":1,"
			     "\"signer\":{\"algorithm\":\"ECDSA_SHA_256\",\"key_fingerprint\":"
			     "\"" FPR "\"},\"to_seq\":%" PRIu64 ",\"type\":\"tfattest.manifest\"}",
			     g->recs);
	else
		n = 0, g->done = true;
	g->plen = (size_t)n;
	g->ppos = 0;
}

static ssize_t gen_read(void *ud, void *buf, size_t n)
{
	gen_src *g = ud;
	size_t got = 0;

	while (got < n) {
		size_t k;

		if (g->ppos == g->plen) {
			if (g->done)
				break;
			gen_more(g);
			continue;
		}
		k = g->plen - g->ppos < n - got ? g->plen - g->ppos : n - got;
		memcpy((char *)buf + got, g->pend + g->ppos, k);
		g->ppos += k;
		got += k;
	}
	return (ssize_t)got;
}

static tfa_err count_files(void *ud, const tfa_manifest_file *f, size_t index)
{
	uint64_t *n = ud;

	(void)f;
	if (index != *n)
		return tfa_error_set(TFA_EINTERNAL, "entry %zu out of turn", index);
	(*n)++;
	return TFA_OK;
}

static void test_many_files(void)
{
	gen_src g;
	tfa_jstream *js = NULL;
	tfa_manifest m;
	uint64_t seen = 0;

	memset(&g, 0, sizeof(g));
	g.recs = 2000001;
	memset(&m, 0, sizeof(m));
	CHECK_OK(tfa_jstream_new(&js, gen_read, &g, 256, TFA_MANIFEST_MAX_BYTES));
	if (js == NULL)
		return;
	CHECK_OK(tfa_manifest_scan(&m, js, count_files, &seen));
	CHECK(m.nfiles == 4000004 && seen == 4000004);
	CHECK(m.to_seq == 2000001 && m.lists_pubkey);
	tfa_jstream_free(js);
	tfa_manifest_clear(&m);
}

/*
 * The caps are the numbers docs/FORMAT.md states: R-5.4-1's row for
 * manifest.json, "| `manifest.json` | N GiB (...) and at most N `files` entries |".
 */
static uint64_t number_before(const char *line, const char *word)
{
	const char *w = strstr(line, word);
	uint64_t v = 0, scale = 1;

	if (w == NULL)
		return 0;
	while (w > line && (w[-1] == ' '))
		w--;
	while (w > line && ((w[-1] >= '0' && w[-1] <= '9') || w[-1] == ',')) {
		w--;
		if (*w != ',') {
			v += (uint64_t)(*w - '0') * scale;
			scale *= 10;
		}
	}
	return v;
}

static void test_caps_documented(void)
{
	const char *src = getenv("TFA_SOURCE_DIR");
	char dir[4096], *doc, *row, *end;
	size_t len;

	CHECK(TFA_MANIFEST_MAX_FILES == 16000000u);
	CHECK(TFA_MANIFEST_MAX_BYTES == (size_t)2 << 30);
	snprintf(dir, sizeof(dir), "%s/docs", src ? src : ".");
	doc = tfa_test_get_file(dir, "FORMAT.md", &len);
	row = strstr(doc, "\n| `manifest.json` | ");
	CHECK(row != NULL);
	if (row != NULL) {
		row += 1;
		end = strchr(row, '\n');
		if (end)
			*end = '\0';
		CHECK(number_before(row, "GiB") << 30 == TFA_MANIFEST_MAX_BYTES);
		CHECK(number_before(row, "`files` entries") == TFA_MANIFEST_MAX_FILES);
	}
	free(doc);
}

TFA_TEST_MAIN(T(test_parse_valid), T(test_manifest_kinds), T(test_writer),
	      T(test_parse_valid_variants), T(test_reject_missing_members),
	      T(test_reject_wrong_types), T(test_reject_unknown_members),
	      T(test_reject_header_fields), T(test_reject_paths), T(test_reject_nul_in_path),
	      T(test_reject_order_and_duplicates), T(test_reject_self_listing),
	      T(test_reject_file_hash_and_size), T(test_reject_non_canonical),
	      T(test_reject_duplicate_keys), T(test_files_cap), T(test_many_files),
	      T(test_caps_documented))
