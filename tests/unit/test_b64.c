/*
 * Tests for strict base64 and base64url (format/b64.h): the encoders against
 * OpenSSL's, every length, and the non-canonical forms each decoder refuses.
 */
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

#include "format/b64.h"
#include "tfa_test.h"

static void expect_bad(const char *in, const char *msg, int line)
{
	uint8_t out[64];
	size_t n = 12345;
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_b64_decode(out, sizeof(out), &n, in, strlen(in));
	if (rc != TFA_EFORMAT || strstr(tfa_error_last()->message, msg) == NULL || n != 0) {
		fprintf(stderr, "line %d: \"%s\": got %s (%s), n %zu; wanted EFORMAT with \"%s\"\n",
			line, in, tfa_err_name(rc), tfa_error_last()->message, n, msg);
		tfa_test_failures++;
	}
}

static void expect_bad_url(const char *in, size_t len, const char *msg, int line)
{
	uint8_t out[64];
	size_t n = 12345;
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_b64url_decode(out, sizeof(out), &n, in, len);
	if (rc != TFA_EFORMAT || strcmp(tfa_error_last()->message, msg) != 0 || n != 0) {
		fprintf(stderr, "line %d: \"%.*s\": got %s (%s), n %zu; wanted EFORMAT \"%s\"\n",
			line, (int)len, in, tfa_err_name(rc), tfa_error_last()->message, n, msg);
		tfa_test_failures++;
	}
}

/* Both encoders write what OpenSSL writes, and it decodes back, for lengths 0..100. */
static void test_encode_matches_openssl(void)
{
	uint8_t data[100], back[100];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 151 + 7);
	for (size_t len = 0; len <= sizeof(data); len++) {
		char want[TFA_B64_LEN(sizeof(data)) + 1], str[TFA_B64_LEN(sizeof(data)) + 1];
		tfa_buf b = TFA_BUF_INIT;
		size_t n = 0;
		int wn = EVP_EncodeBlock((unsigned char *)want, data, (int)len);

		CHECK((size_t)wn == TFA_B64_LEN(len));
		CHECK_OK(tfa_b64_encode(&b, data, len));
		CHECK(b.len == (size_t)wn && (len == 0 || memcmp(b.data, want, b.len) == 0));
		memset(str, 'X', sizeof(str));
		CHECK_OK(tfa_b64_encode_str(str, TFA_B64_LEN(len) + 1, data, len));
		CHECK_STREQ(str, want);
		if (len > 0) {
			CHECK_OK(tfa_b64_decode(back, sizeof(back), &n, want, (size_t)wn));
			CHECK(n == len && memcmp(back, data, len) == 0);
		}
		tfa_buf_free(&b);
	}
}

static void test_encode_str_too_small(void)
{
	char s[8];

	memset(s, 'X', sizeof(s));
	CHECK_RC(tfa_b64_encode_str(s, 4, (const uint8_t *)"abc", 3), TFA_EINTERNAL);
	CHECK(s[0] == 'X');
	CHECK_OK(tfa_b64_encode_str(s, 5, (const uint8_t *)"abc", 3));
	CHECK_STREQ(s, "YWJj");
	CHECK_OK(tfa_b64_encode_str(s, 1, NULL, 0));
	CHECK_STREQ(s, "");
	CHECK_RC(tfa_b64_encode_str(s, 0, NULL, 0), TFA_EINTERNAL);
	CHECK(TFA_B64_LEN(0) == 0 && TFA_B64_LEN(1) == 4 && TFA_B64_LEN(3) == 4 &&
	      TFA_B64_LEN(4) == 8 && TFA_B64_LEN(32) == 44);
}

static void test_decode_known(void)
{
	uint8_t out[8];
	size_t n;

	CHECK_OK(tfa_b64_decode(out, sizeof(out), &n, "QUJD", 4));
	CHECK(n == 3 && memcmp(out, "ABC", 3) == 0);
	CHECK_OK(tfa_b64_decode(out, sizeof(out), &n, "QUI=", 4));
	CHECK(n == 2 && memcmp(out, "AB", 2) == 0);
	CHECK_OK(tfa_b64_decode(out, sizeof(out), &n, "QQ==", 4));
	CHECK(n == 1 && out[0] == 'A');
	CHECK_OK(tfa_b64_decode(out, sizeof(out), &n, "+/+/", 4));
	CHECK(n == 3 && out[0] == 0xfb && out[1] == 0xff && out[2] == 0xbf);
	/* The cap: exactly enough, and one short. */
	CHECK_OK(tfa_b64_decode(out, 3, &n, "QUJD", 4));
	CHECK_RC(tfa_b64_decode(out, 2, &n, "QUJD", 4), TFA_EFORMAT);
	CHECK(strstr(tfa_error_last()->message, "longer than 2 bytes") != NULL);
}

/* What OpenSSL's EVP_DecodeBlock lets through and the strict decoder does not. */
static void test_decode_negatives(void)
{
	expect_bad("", "not a positive multiple of 4", __LINE__);
	expect_bad("QUJ", "not a positive multiple of 4", __LINE__);
	expect_bad("QUJDQ", "not a positive multiple of 4", __LINE__);
	expect_bad("QUJ=", "unused bits set", __LINE__); /* "QUI=" is the one form */
	expect_bad("QR==", "unused bits set", __LINE__); /* "QQ==" */
	expect_bad("QUE=QUE=", "padding before the end", __LINE__);
	expect_bad("QQ=A", "padding is malformed", __LINE__);
	expect_bad("Q===", "outside its alphabet", __LINE__);
	expect_bad("====", "outside its alphabet", __LINE__);
	expect_bad("    QUI=", "outside its alphabet", __LINE__); /* leading white space */
	expect_bad("QUI=    ", "padding before the end", __LINE__);
	expect_bad("QU\nI", "outside its alphabet", __LINE__);
	expect_bad("QU I", "outside its alphabet", __LINE__);
	expect_bad("QUJ-", "outside its alphabet", __LINE__); /* base64url's characters */
	expect_bad("QUJ_", "outside its alphabet", __LINE__);
	expect_bad("QUJ\xc3", "outside its alphabet", __LINE__);
	{
		uint8_t out[8];
		size_t n;

		CHECK_RC(tfa_b64_decode(out, sizeof(out), &n, "QU\0D", 4), TFA_EFORMAT);
	}
}

static void test_url_decode(void)
{
	uint8_t out[64];
	size_t n = 99;

	CHECK_OK(tfa_b64url_decode(out, sizeof(out), &n, "", 0));
	CHECK(n == 0);
	CHECK_OK(tfa_b64url_decode(out, sizeof(out), &n, "QQ", 2));
	CHECK(n == 1 && out[0] == 'A');
	CHECK_OK(tfa_b64url_decode(out, sizeof(out), &n, "QUI", 3));
	CHECK(n == 2 && memcmp(out, "AB", 2) == 0);
	CHECK_OK(tfa_b64url_decode(out, sizeof(out), &n, "-_-_", 4));
	CHECK(n == 3 && out[0] == 0xfb && out[1] == 0xff && out[2] == 0xbf);
	CHECK_OK(tfa_b64url_decode(out, sizeof(out), &n, "eyJzdWIiOiJ4In0", 15));
	CHECK(n == 11 && memcmp(out, "{\"sub\":\"x\"}", 11) == 0);
	/* The cap: exactly enough, and one short. */
	CHECK_OK(tfa_b64url_decode(out, 2, &n, "QUI", 3));
	CHECK_RC(tfa_b64url_decode(out, 1, &n, "QUI", 3), TFA_EFORMAT);
	CHECK(strstr(tfa_error_last()->message, "longer than 1 bytes") != NULL);
}

static void test_url_negatives(void)
{
	expect_bad_url("Q", 1, "bad base64url length", __LINE__);
	expect_bad_url("QUJDQ", 5, "bad base64url length", __LINE__);
	expect_bad_url("QQ==", 4, "not base64url", __LINE__); /* padded */
	expect_bad_url("QUI=", 4, "not base64url", __LINE__);
	expect_bad_url("+/+/", 4, "not base64url", __LINE__); /* standard alphabet */
	expect_bad_url("QU I", 4, "not base64url", __LINE__);
	expect_bad_url("QU\nI", 4, "not base64url", __LINE__);
	expect_bad_url("QU\0I", 4, "not base64url", __LINE__);
	expect_bad_url("QR", 2, "non-canonical base64url", __LINE__);  /* "QQ" */
	expect_bad_url("QUJ", 3, "non-canonical base64url", __LINE__); /* "QUI" */
}

TFA_TEST_MAIN(T(test_encode_matches_openssl), T(test_encode_str_too_small), T(test_decode_known),
	      T(test_decode_negatives), T(test_url_decode), T(test_url_negatives))
