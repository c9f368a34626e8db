/* Tests for the hex digit rules (format/hex.h): tfa_hexval, tfa_is_lowerhex, hex and hash strings.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "format/hex.h"
#include "tfa_test.h"

/* Every value of an int a caller may pass: bytes, EOF, and beyond. */
static void test_hexval_all_bytes(void)
{
	for (int c = -1; c < 256; c++) {
		int want = -1;

		if (c >= '0' && c <= '9')
			want = c - '0';
		else if (c >= 'a' && c <= 'f')
			want = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			want = c - 'A' + 10;
		if (tfa_hexval(c) != want) {
			fprintf(stderr, "tfa_hexval(%d) = %d, wanted %d\n", c, tfa_hexval(c), want);
			tfa_test_failures++;
		}
	}
	CHECK(tfa_hexval(INT_MIN) == -1);
	CHECK(tfa_hexval(INT_MAX) == -1);
	CHECK(tfa_hexval('0' + 256) == -1); /* no truncation to a byte */
	CHECK(tfa_hexval('a' - 256) == -1);
}

static void test_is_lowerhex(void)
{
	CHECK(tfa_is_lowerhex("0123456789abcdef", 16));
	CHECK(tfa_is_lowerhex("", 0));
	CHECK(tfa_is_lowerhex("zz", 0)); /* only the n bytes count */
	CHECK(tfa_is_lowerhex("0fz", 2));
	CHECK(!tfa_is_lowerhex("0fz", 3));
	CHECK(!tfa_is_lowerhex("ABCDEF", 6));
	CHECK(!tfa_is_lowerhex("abcdeF", 6));
	CHECK(!tfa_is_lowerhex("ab\0d", 4));
	CHECK(!tfa_is_lowerhex("g", 1));
	CHECK(!tfa_is_lowerhex("/", 1)); /* the neighbours of the ranges */
	CHECK(!tfa_is_lowerhex(":", 1));
	CHECK(!tfa_is_lowerhex("`", 1));
	CHECK(!tfa_is_lowerhex(" 0", 2));
	CHECK(!tfa_is_lowerhex("\xe0", 1));
}

static void test_hex_round_trip(void)
{
	uint8_t all[256], back[256];
	char hex[2 * sizeof(all) + 1];

	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	tfa_hex_encode(hex, all, sizeof(all));
	CHECK(strlen(hex) == 512 && tfa_is_lowerhex(hex, 512));
	CHECK_OK(tfa_hex_decode(back, sizeof(back), hex, 512));
	CHECK(memcmp(all, back, sizeof(all)) == 0);
	hex[511] = 'F';
	CHECK_RC(tfa_hex_decode(back, sizeof(back), hex, 512), TFA_EFORMAT);
	CHECK(strstr(tfa_error_last()->message, "invalid lowercase hex digit") != NULL);
}

/* Every byte, in the high and in the low position of a pair: the decoder takes exactly the
 * sixteen lowercase digits, with their values, and refuses the other 240. */
static void test_hex_decode_every_byte(void)
{
	for (int c = 0; c < 256; c++) {
		int want = (c >= '0' && c <= '9')   ? c - '0'
			   : (c >= 'a' && c <= 'f') ? c - 'a' + 10
						    : -1;
		for (int pos = 0; pos < 2; pos++) {
			char hex[4] = {'1', '2', '3', '4'};
			uint8_t out[2];
			tfa_err rc;

			hex[2 + pos] = (char)c;
			rc = tfa_hex_decode(out, 2, hex, 4);
			if (want < 0) {
				if (rc != TFA_EFORMAT) {
					fprintf(stderr, "byte 0x%02x at %d decoded\n", c, pos);
					tfa_test_failures++;
				}
				continue;
			}
			if (rc != TFA_OK || out[0] != 0x12 ||
			    out[1] != (pos == 0 ? (want << 4 | 4) : (0x30 | want))) {
				fprintf(stderr, "byte 0x%02x at %d: rc %d, 0x%02x\n", c, pos,
					(int)rc, out[1]);
				tfa_test_failures++;
			}
			tfa_error_clear();
		}
	}
}

static void test_hash_strings(void)
{
	uint8_t d[TFA_SHA256_LEN], back[TFA_SHA256_LEN];
	char s[TFA_FPR_STRLEN];

	for (int i = 0; i < TFA_SHA256_LEN; i++)
		d[i] = (uint8_t)(i * 37 + 5);
	tfa_hash_str(s, d);
	CHECK(strlen(s) == 71 && strncmp(s, "sha256:", 7) == 0);
	CHECK_OK(tfa_hash_parse(back, s, strlen(s)));
	CHECK(memcmp(d, back, sizeof(d)) == 0);
	s[7] = 'A';
	CHECK_RC(tfa_hash_parse(back, s, strlen(s)), TFA_EFORMAT);
	CHECK_RC(tfa_hash_parse(back, "sha256:", 7), TFA_EFORMAT);
	CHECK_RC(tfa_hash_parse(back, "SHA256:0", 8), TFA_EFORMAT);
}

TFA_TEST_MAIN(T(test_hexval_all_bytes), T(test_is_lowerhex), T(test_hex_round_trip),
	      T(test_hex_decode_every_byte), T(test_hash_strings))
