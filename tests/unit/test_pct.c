/* Tests for percent-encoding (format/pct.h): strict decoding, its flags, and the encoder. */
#include <stdint.h>
#include <string.h>

#include "format/pct.h"
#include "tfa_test.h"

static void expect_dec(const char *in, size_t len, unsigned flags, const char *want, size_t wantlen,
		       int line)
{
	uint8_t out[64];
	size_t n = 12345;
	tfa_err rc = tfa_pct_decode(out, sizeof(out), &n, in, len, flags);

	if (rc != TFA_OK || n != wantlen || memcmp(out, want, wantlen) != 0 || out[n] != '\0') {
		fprintf(stderr, "line %d: \"%.*s\": got %s (%s), n %zu\n", line, (int)len, in,
			tfa_err_name(rc), tfa_error_last()->message, n);
		tfa_test_failures++;
	}
}

static void expect_bad(const char *in, size_t len, unsigned flags, const char *msg, int line)
{
	uint8_t out[64];
	size_t n = 12345;
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_pct_decode(out, sizeof(out), &n, in, len, flags);
	if (rc != TFA_EFORMAT || strstr(tfa_error_last()->message, msg) == NULL || n != 0) {
		fprintf(stderr,
			"line %d: \"%.*s\": got %s (%s), n %zu; wanted EFORMAT with \"%s\"\n", line,
			(int)len, in, tfa_err_name(rc), tfa_error_last()->message, n, msg);
		tfa_test_failures++;
	}
}

#define DEC(in, flags, want) expect_dec(in, strlen(in), flags, want, sizeof(want) - 1, __LINE__)
#define BAD(in, flags, msg)  expect_bad(in, sizeof(in) - 1, flags, msg, __LINE__)

static void test_decode(void)
{
	DEC("", 0, "");
	DEC("abc", 0, "abc");
	DEC("a%20b", 0, "a b");
	DEC("%2f%2F", 0, "//"); /* either case */
	DEC("%41%7e%7E", 0, "A~~");
	DEC("%25", 0, "%");
	DEC("%2525", 0, "%25"); /* one level only */
	DEC("%ff%80", 0, "\xff\x80");
	DEC("a+b", 0, "a+b"); /* '+' is itself */
	DEC("a+b%2B", TFA_PCT_PLUS_SPACE, "a b+");
	DEC("%00a", TFA_PCT_BINARY, "\0a");
	DEC("%00+", TFA_PCT_BINARY | TFA_PCT_PLUS_SPACE, "\0 ");
}

static void test_decode_negatives(void)
{
	BAD("%G0", 0, "the '%' at offset 0 is not followed by two hex digits");
	BAD("%0G", 0, "offset 0");
	BAD("ab%0", 0, "the '%' at offset 2 is not");
	BAD("%0", 0, "offset 0");
	BAD("%", 0, "offset 0");
	BAD("abc%", 0, "offset 3");
	BAD("%%41", 0, "offset 0");
	BAD("% 41", 0, "offset 0");
	BAD("%+1", TFA_PCT_PLUS_SPACE, "offset 0");
	BAD("%-1", 0, "offset 0");
	BAD("%0x", 0, "offset 0");
	BAD("%\0"
	    "00",
	    0, "offset 0");
	BAD("x%00", 0, "a NUL byte at offset 1");
	BAD("%00", TFA_PCT_PLUS_SPACE, "a NUL byte at offset 0");
	BAD("ab\0", 0, "a NUL byte at offset 2");
	BAD("%G0", TFA_PCT_BINARY, "offset 0"); /* binary allows NUL, not bad escapes */
	/* The input ends where len says, whatever follows in memory. */
	expect_bad("%41", 2, 0, "offset 0", __LINE__);
	expect_bad("a%41", 3, 0, "offset 1", __LINE__);
	BAD("%", TFA_PCT_BINARY, "offset 0");
}

static void test_decode_room(void)
{
	uint8_t out[4];
	size_t n;

	CHECK_OK(tfa_pct_decode(out, 4, &n, "a%62c", 5, 0));
	CHECK(n == 3 && memcmp(out, "abc", 4) == 0);
	CHECK_RC(tfa_pct_decode(out, 4, &n, "abcd", 4, 0), TFA_EFORMAT);
	CHECK(strstr(tfa_error_last()->message, "longer than 3 bytes") != NULL);
	CHECK_RC(tfa_pct_decode(out, 0, &n, "", 0, 0), TFA_EINTERNAL);
	CHECK_OK(tfa_pct_decode(out, 1, &n, "", 0, 0));
	CHECK(n == 0 && out[0] == '\0');
}

static void expect_enc(const char *in, size_t len, unsigned flags, const char *keep,
		       const char *want, int line)
{
	tfa_buf b = TFA_BUF_INIT;
	tfa_err rc;

	CHECK_OK(tfa_buf_puts(&b, "<"));
	rc = tfa_pct_encode(&b, in, len, flags, keep);
	if (rc != TFA_OK || strcmp((const char *)b.data + 1, want) != 0) {
		fprintf(stderr, "line %d: encode gave %s \"%s\", wanted \"%s\"\n", line,
			tfa_err_name(rc), b.data ? (const char *)b.data + 1 : "", want);
		tfa_test_failures++;
	}
	tfa_buf_free(&b);
}

#define ENC(in, flags, keep, want) expect_enc(in, sizeof(in) - 1, flags, keep, want, __LINE__)

static void test_encode(void)
{
	ENC("", 0, NULL, "");
	ENC("", TFA_PCT_UNRESERVED, NULL, "");
	ENC("aZ09-._~", 0, NULL, "%61%5A%30%39%2D%2E%5F%7E");
	ENC("aZ09-._~", TFA_PCT_UNRESERVED, NULL, "aZ09-._~");
	ENC("a b/c+d%e", TFA_PCT_UNRESERVED, NULL, "a%20b%2Fc%2Bd%25e");
	ENC("a b/c+d%e", TFA_PCT_UNRESERVED, "/", "a%20b/c%2Bd%25e");
	ENC("/:?", TFA_PCT_UNRESERVED, "/:", "/:%3F");
	ENC("\0\xff\x80", TFA_PCT_UNRESERVED, "/", "%00%FF%80"); /* a NUL never matches keep */
	ENC("\0\x01", 0, "", "%00%01");
	ENC("ab", 0, "b", "%61b");
}

/* Encoding every byte, then decoding, gives the bytes back; so does encoding the unreserved kept.
 */
static void test_round_trip(void)
{
	uint8_t all[256], back[256 * 3 + 1];
	unsigned flags[] = {0, TFA_PCT_UNRESERVED};

	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	for (size_t f = 0; f < 2; f++) {
		tfa_buf b = TFA_BUF_INIT;
		size_t n = 0;

		CHECK_OK(tfa_pct_encode(&b, all, sizeof(all), flags[f], NULL));
		CHECK(b.len == (f ? 3 * 256 - 2 * 66 : 3 * 256));
		CHECK_OK(tfa_pct_decode(back, sizeof(back), &n, (const char *)b.data, b.len,
					TFA_PCT_BINARY));
		CHECK(n == 256 && memcmp(back, all, 256) == 0);
		CHECK_RC(tfa_pct_decode(back, sizeof(back), &n, (const char *)b.data, b.len, 0),
			 TFA_EFORMAT);
		tfa_buf_free(&b);
	}
}

TFA_TEST_MAIN(T(test_decode), T(test_decode_negatives), T(test_decode_room), T(test_encode),
	      T(test_round_trip))
