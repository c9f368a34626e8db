/*
 * Tests for checkpoint documents and files: one valid of each, then one
 * rejection per rule; the file form round-trips through write and parse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfa_test.h"
#include "tfattest/checkpoint.h"

#define FPR  "sha256:261e452e495b6e36b5d6fa2854213c209374142096aaf2784bfd8f74739cbdbb"
#define HEAD "sha256:850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03da"

static const char doc[] =
    "{\"chain_id\":\"prod\",\"head_hash\":\"" HEAD "\",\"schema_version\":1,\"seq\":42,"
    "\"signer\":{\"algorithm\":\"ECDSA_SHA_256\",\"key_fingerprint\":\"" FPR "\"},"
    "\"time\":\"2026-01-02T03:04:05Z\",\"type\":\"tfattest.checkpoint\"}";

static void reject_doc(const char *d, const char *msg, int line)
{
	tfa_checkpoint cp;
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_checkpoint_parse(&cp, (const uint8_t *)d, strlen(d));
	if (rc != TFA_EFORMAT || strstr(tfa_error_last()->message, msg) == NULL) {
		fprintf(stderr, "line %d: got %s (%s), wanted EFORMAT with \"%s\"\n", line,
			tfa_err_name(rc), tfa_error_last()->message, msg);
		tfa_test_failures++;
	}
}
#define REJECT_DOC(d, msg) reject_doc((d), (msg), __LINE__)

/* doc with the first occurrence of `from` replaced by `to`. */
static char *swap(const char *base, const char *from, const char *to)
{
	const char *p = strstr(base, from);
	size_t n = strlen(base) - strlen(from) + strlen(to) + 1;
	char *out = malloc(n);

	if (p == NULL || out == NULL) {
		fprintf(stderr, "swap: no %s\n", from);
		exit(2);
	}
	snprintf(out, n, "%.*s%s%s", (int)(p - base), base, to, p + strlen(from));
	return out;
}

static void reject_swap(const char *from, const char *to, const char *msg, int line)
{
	char *d = swap(doc, from, to);
	reject_doc(d, msg, line);
	free(d);
}
#define REJECT_SWAP(from, to, msg) reject_swap((from), (to), (msg), __LINE__)

static void test_doc_valid(void)
{
	tfa_checkpoint cp;

	CHECK_OK(tfa_checkpoint_parse(&cp, (const uint8_t *)doc, strlen(doc)));
	CHECK_STREQ(cp.chain_id, "prod");
	CHECK(cp.seq == 42);
	CHECK(cp.head_hash[0] == 0x85 && cp.head_hash[31] == 0xda);
	CHECK_STREQ(cp.key_fpr, FPR);
	CHECK(cp.alg == TFA_ALG_ECDSA_SHA_256);
	CHECK(cp.time == 1767323045);
}

static void test_doc_reject(void)
{
	REJECT_SWAP("tfattest.checkpoint", "tfattest.artifact", "checkpoint type is not");
	REJECT_SWAP("tfattest.checkpoint", "tfattest.manifest", "checkpoint type is not");
	REJECT_SWAP("\"schema_version\":1", "\"schema_version\":2",
		    "unsupported checkpoint schema version 2");
	REJECT_SWAP("\"seq\":42", "\"seq\":0", "seq");
	REJECT_SWAP("\"seq\":42", "\"seq\":1000000000000", "seq");
	REJECT_SWAP("\"seq\":42", "\"seq\":4.5", "seq");
	REJECT_SWAP("\"seq\":42", "\"seq\":\"42\"", "seq");
	REJECT_SWAP("\"chain_id\":\"prod\"", "\"chain_id\":\"pr/od\"", "chain id");
	REJECT_SWAP("\"chain_id\":\"prod\"", "\"chain_id\":\"\"", "chain_id");
	REJECT_SWAP(HEAD, "sha256:00", "head_hash");
	REJECT_SWAP(HEAD, "sha1:850605eae77a64ecfb10b753f0b003d9e0d33876", "head_hash");
	REJECT_SWAP("2026-01-02T03:04:05Z", "2026-02-30T03:04:05Z", "");
	REJECT_SWAP("2026-01-02T03:04:05Z", "2026-01-02 03:04:05", "");
	REJECT_SWAP("ECDSA_SHA_256", "ED25519", "");
	REJECT_SWAP("\"key_fingerprint\":\"" FPR "\"", "\"key_fingerprint\":\"sha256:x\"",
		    "key_fingerprint");
	REJECT_SWAP("\"algorithm\":\"ECDSA_SHA_256\",",
		    "\"algorithm\":\"ECDSA_SHA_256\",\"extra\":1,", "unknown member \"extra\"");
	REJECT_SWAP("\"chain_id\"", "\"aaa\":1,\"chain_id\"", "unknown member \"aaa\"");
	/* missing members */
	REJECT_SWAP("\"chain_id\":\"prod\",", "", "no \"chain_id\"");
	REJECT_SWAP("\"seq\":42,", "", "no \"seq\"");
	REJECT_SWAP(",\"time\":\"2026-01-02T03:04:05Z\"", "", "no \"time\"");
	/* canonical form, I-JSON */
	REJECT_SWAP("{\"chain_id\"", "{ \"chain_id\"", "");
	REJECT_SWAP("\"head_hash\":\"" HEAD "\",", "", "no \"head_hash\"");
	REJECT_SWAP("\"chain_id\":\"prod\"", "\"chain_id\":\"prod\",\"chain_id\":\"prod\"", "");
	REJECT_SWAP("\"seq\":42", "\"seq\":42.0", "");
	REJECT_DOC("[]", "not a JSON object");
	REJECT_DOC("", "");
	REJECT_DOC("{", "");
	{
		char big[TFA_CHECKPOINT_DOC_MAX + 2];
		memset(big, ' ', sizeof(big));
		big[sizeof(big) - 1] = '\0';
		REJECT_DOC(big, "larger than");
	}
}

/* A file with the given lines after the magic. */
static void reject_file(const char *bytes, size_t len, const char *msg, int line)
{
	tfa_checkpoint_file f;
	tfa_err rc;

	tfa_checkpoint_file_init(&f);
	tfa_error_clear();
	rc = tfa_checkpoint_file_parse(&f, (const uint8_t *)bytes, len);
	if (rc != TFA_EFORMAT || strstr(tfa_error_last()->message, msg) == NULL) {
		fprintf(stderr, "line %d: got %s (%s), wanted EFORMAT with \"%s\"\n", line,
			tfa_err_name(rc), tfa_error_last()->message, msg);
		tfa_test_failures++;
	}
	tfa_checkpoint_file_clear(&f);
}
#define REJECT_FILE(s, msg) reject_file((s), strlen(s), (msg), __LINE__)

#define MAGIC "tfattest-checkpoint 1\n"

static void test_file_roundtrip(void)
{
	tfa_checkpoint_file f, g;
	tfa_buf out, again;
	char want[2048];

	tfa_checkpoint_file_init(&f);
	tfa_checkpoint_file_init(&g);
	tfa_buf_init(&out, 0);
	tfa_buf_init(&again, 0);
	snprintf(want, sizeof(want), MAGIC "%s\nsig AAEC\n", doc);
	CHECK_OK(tfa_checkpoint_file_parse(&f, (const uint8_t *)want, strlen(want)));
	CHECK(!f.has_tsa);
	CHECK(f.sig.len == 3 && f.sig.data[2] == 2);
	CHECK(f.doc.len == strlen(doc) && memcmp(f.doc.data, doc, f.doc.len) == 0);
	CHECK(f.cp.seq == 42);
	CHECK_OK(tfa_checkpoint_file_write(&out, &f));
	CHECK(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0);
	/* With a timestamp line. */
	snprintf(want, sizeof(want), MAGIC "%s\nsig AAEC\ntsa 0123456789abcdef MIIB\n", doc);
	CHECK_OK(tfa_checkpoint_file_parse(&g, (const uint8_t *)want, strlen(want)));
	CHECK(g.has_tsa);
	CHECK_STREQ(g.nonce_hex, "0123456789abcdef");
	CHECK(g.tsr.len == 3 && g.tsr.data[0] == 0x30);
	CHECK_OK(tfa_checkpoint_file_write(&again, &g));
	CHECK(again.len == strlen(want) && memcmp(again.data, want, again.len) == 0);
	/* A parse reuses the buffers: a file without a timestamp clears the old one. */
	snprintf(want, sizeof(want), MAGIC "%s\nsig AAEC\n", doc);
	CHECK_OK(tfa_checkpoint_file_parse(&g, (const uint8_t *)want, strlen(want)));
	CHECK(!g.has_tsa && g.tsr.len == 0);
	/* Writing an incomplete one is refused. */
	tfa_buf_clear(&g.sig);
	tfa_buf_clear(&again);
	CHECK_RC(tfa_checkpoint_file_write(&again, &g), TFA_EINTERNAL);
	tfa_checkpoint_file_clear(&f);
	tfa_checkpoint_file_clear(&g);
	tfa_checkpoint_file_clear(NULL);
	tfa_buf_free(&out);
	tfa_buf_free(&again);
}

static void test_file_reject(void)
{
	char b[4096];

	REJECT_FILE("", "the first line does not end");
	REJECT_FILE("tfattest-checkpoint 2\n", "not a checkpoint file");
	REJECT_FILE("tfattest-checkpoint 1\r\n", "not a checkpoint file");
	REJECT_FILE(MAGIC, "the checkpoint line does not end");
	REJECT_FILE(MAGIC "\n", "checkpoint line is empty");
	snprintf(b, sizeof(b), MAGIC "%s", doc);
	REJECT_FILE(b, "the checkpoint line does not end");
	snprintf(b, sizeof(b), MAGIC "%s\n", doc);
	REJECT_FILE(b, "the signature line does not end");
	snprintf(b, sizeof(b), MAGIC "%s \nsig AAEC\n", doc);
	REJECT_FILE(b, "");
	snprintf(b, sizeof(b), MAGIC "%s\nsig AAEC", doc);
	REJECT_FILE(b, "the signature line does not end");
	snprintf(b, sizeof(b), MAGIC "%s\nsig \n", doc);
	REJECT_FILE(b, "the third line is not");
	snprintf(b, sizeof(b), MAGIC "%s\nSIG AAEC\n", doc);
	REJECT_FILE(b, "the third line is not");
	snprintf(b, sizeof(b), MAGIC "%s\nsig AAE\n", doc);
	REJECT_FILE(b, "signature: base64");
	snprintf(b, sizeof(b), MAGIC "%s\nsig AAEC\r\n", doc);
	REJECT_FILE(b, "signature: base64");
	snprintf(b, sizeof(b), MAGIC "%s\nsig AAEC\n\n", doc);
	REJECT_FILE(b, "the fourth line is not");
	snprintf(b, sizeof(b), MAGIC "%s\nsig AAEC\ntsa 0123456789ABCDEF MIIB\n", doc);
	REJECT_FILE(b, "nonce is not 16 lowercase hex");
	snprintf(b, sizeof(b), MAGIC "%s\nsig AAEC\ntsa 0123456789abcde MIIB\n", doc);
	REJECT_FILE(b, "the fourth line is not");
	snprintf(b, sizeof(b), MAGIC "%s\nsig AAEC\ntsa 0123456789abcdef \n", doc);
	REJECT_FILE(b, "the fourth line is not");
	snprintf(b, sizeof(b), MAGIC "%s\nsig AAEC\ntsa 0123456789abcdef MI!B\n", doc);
	REJECT_FILE(b, "timestamp: base64");
	snprintf(b, sizeof(b), MAGIC "%s\nsig AAEC\ntsa 0123456789abcdef MIIB\nextra\n", doc);
	REJECT_FILE(b, "unexpected data after the last line");
	snprintf(b, sizeof(b), MAGIC "%s\nsig AAEC\ntsa 0123456789abcdef MIIB", doc);
	REJECT_FILE(b, "the timestamp line does not end");
	{
		/* An embedded NUL in the document line. */
		size_t n;
		snprintf(b, sizeof(b), MAGIC "%s\nsig AAEC\n", doc);
		n = strlen(b);
		b[strlen(MAGIC) + 5] = '\0';
		reject_file(b, n, "", __LINE__);
	}
	{
		/* A signature longer than any the formats allow. */
		size_t off;
		snprintf(b, sizeof(b), MAGIC "%s\nsig ", doc);
		off = strlen(b);
		memset(b + off, 'A', 1368);
		memcpy(b + off + 1368, "\n", 2);
		REJECT_FILE(b, "longer than");
	}
	{
		char *big = malloc(TFA_CHECKPOINT_FILE_MAX + 2);
		memset(big, 'A', TFA_CHECKPOINT_FILE_MAX + 1);
		big[TFA_CHECKPOINT_FILE_MAX + 1] = '\0';
		REJECT_FILE(big, "larger than");
		free(big);
	}
}

TFA_TEST_MAIN(T(test_doc_valid), T(test_doc_reject), T(test_file_roundtrip), T(test_file_reject))
