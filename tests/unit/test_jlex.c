/* Tests for the JSON lexer and the UTF-8 validator (src/format/jlex.c). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "format/jlex.h"
#include "tfa_test.h"

/* A reference decoder, written from RFC 3629's table, to hold the validator to. */
static size_t ref_seq_len(const uint8_t *s, size_t n, unsigned long *cp)
{
	size_t len;
	unsigned long c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xE0) == 0xC0)
		len = 2, c = s[0] & 0x1F;
	else if ((s[0] & 0xF0) == 0xE0)
		len = 3, c = s[0] & 0x0F;
	else if ((s[0] & 0xF8) == 0xF0)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* Every two-byte prefix, with the third and fourth bytes from a set of edges. */
static void test_utf8_against_reference(void)
{
	static const uint8_t tails[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90,
					0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
	size_t checked = 0, bad = 0;

	for (unsigned a = 0; a < 256; a++)
		for (unsigned b = 0; b < 256; b++)
			for (size_t i = 0; i < sizeof(tails); i++)
				for (size_t j = 0; j < sizeof(tails); j++)
					for (size_t n = 1; n <= 4; n++) {
						uint8_t s[4] = {(uint8_t)a, (uint8_t)b, tails[i],
								tails[j]};
						unsigned long c1 = 0, c2 = 0;
						size_t r = ref_seq_len(s, n, &c1);
						size_t l = tfa_utf8_decode(s, n, &c2);

						checked++;
						if (l != r || tfa_utf8_seq_len(s, n) != r ||
						    (r && (c1 != c2 || !tfa_utf8_valid(s, r))))
							bad++;
					}
	printf("# %zu sequences checked\n", checked);
	CHECK(bad == 0);
}

static void test_utf8_valid(void)
{
	CHECK(tfa_utf8_valid((const uint8_t *)"", 0));
	CHECK(tfa_utf8_valid((const uint8_t *)"plain ASCII, long enough for a word", 35));
	CHECK(tfa_utf8_valid((const uint8_t *)"a\0b", 3));
	CHECK(tfa_utf8_valid((const uint8_t *)"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
	CHECK(tfa_utf8_valid((const uint8_t *)"\xf4\x8f\xbf\xbf", 4));
	CHECK(!tfa_utf8_valid((const uint8_t *)"\xc3", 1));		 /* cut short */
	CHECK(!tfa_utf8_valid((const uint8_t *)"abcdefgh\xe2\x82", 10)); /* cut after a word */
	CHECK(!tfa_utf8_valid((const uint8_t *)"\xc0\x80", 2));		 /* overlong NUL */
	CHECK(!tfa_utf8_valid((const uint8_t *)"\xe0\x80\xaf", 3));	 /* overlong '/' */
	CHECK(!tfa_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));	 /* U+D800 */
	CHECK(!tfa_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4));	 /* above U+10FFFF */
	CHECK(!tfa_utf8_valid((const uint8_t *)"\x80", 1));		 /* lone continuation */
	CHECK(!tfa_utf8_valid((const uint8_t *)"\xff", 1));
	CHECK(tfa_utf8_lead_len('a') == 1 && tfa_utf8_lead_len(0xC2) == 2 &&
	      tfa_utf8_lead_len(0xE0) == 3 && tfa_utf8_lead_len(0xF4) == 4);
	CHECK(tfa_utf8_lead_len(0x80) == 0 && tfa_utf8_lead_len(0xC1) == 0 &&
	      tfa_utf8_lead_len(0xF5) == 0);
}

static void test_noncharacters(void)
{
	CHECK(tfa_cp_is_nonchar(0xFDD0) && tfa_cp_is_nonchar(0xFDEF) && tfa_cp_is_nonchar(0xFFFE));
	CHECK(tfa_cp_is_nonchar(0x10FFFF) && tfa_cp_is_nonchar(0x1FFFE));
	CHECK(!tfa_cp_is_nonchar(0xFDCF) && !tfa_cp_is_nonchar(0xFDF0) &&
	      !tfa_cp_is_nonchar(0xFFFD));
	/* The byte test agrees with the code point test on every well-formed sequence. */
	for (unsigned long cp = 0x80; cp <= 0x10FFFF; cp++) {
		uint8_t s[4];
		size_t n;
		unsigned long back = 0;

		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		if (cp < 0x800) {
			s[0] = (uint8_t)(0xC0 | (cp >> 6));
			s[1] = (uint8_t)(0x80 | (cp & 0x3F));
			n = 2;
		} else if (cp < 0x10000) {
			s[0] = (uint8_t)(0xE0 | (cp >> 12));
			s[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
			s[2] = (uint8_t)(0x80 | (cp & 0x3F));
			n = 3;
		} else {
			s[0] = (uint8_t)(0xF0 | (cp >> 18));
			s[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
			s[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
			s[3] = (uint8_t)(0x80 | (cp & 0x3F));
			n = 4;
		}
		if (tfa_utf8_decode(s, n, &back) != n || back != cp ||
		    !tfa_utf8_is_nonchar(s, n) != !tfa_cp_is_nonchar(cp)) {
			CHECK(!"nonchar tests disagree");
			break;
		}
	}
}

/* Lexes `in` as string content (after the quote) in a final, padded buffer. */
static tfa_err lex_final(const char *in, bool canonical, char *out, size_t *outlen,
			 tfa_jlex_stop *stop)
{
	uint8_t buf[256];
	size_t n = strlen(in);
	tfa_jlex lx;
	const uint8_t *r = buf;
	uint8_t *w = (uint8_t *)out;
	tfa_err rc;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, in, n);
	lx.base = buf;
	lx.end = buf + n;
	lx.base_off = 1;
	lx.final = true;
	lx.canonical = canonical;
	rc = tfa_jlex_string(&lx, 0, &r, &w, (uint8_t *)out + 64, stop);
	*outlen = (size_t)(w - (uint8_t *)out);
	return rc;
}

#define LEX_OK(in, canon, want)                                                                    \
	do {                                                                                       \
		char o_[64];                                                                       \
		size_t l_;                                                                         \
		tfa_jlex_stop s_;                                                                  \
		CHECK_OK(lex_final(in, canon, o_, &l_, &s_));                                      \
		CHECK(s_ == TFA_JLEX_DONE && l_ == sizeof(want) - 1 && memcmp(o_, want, l_) == 0); \
	} while (0)

#define LEX_BAD(in, canon, msg)                                                                    \
	do {                                                                                       \
		char o_[64];                                                                       \
		size_t l_;                                                                         \
		tfa_jlex_stop s_;                                                                  \
		CHECK_RC(lex_final(in, canon, o_, &l_, &s_), TFA_EFORMAT);                         \
		CHECK_STREQ(tfa_error_last()->message, msg);                                       \
	} while (0)

static void test_strings(void)
{
	LEX_OK("abc\"", false, "abc");
	LEX_OK("\\\"\\\\\\/\\b\\f\\n\\r\\t\"", false, "\"\\/\b\f\n\r\t");
	LEX_OK("\\u0041\\u00e9\\uD83D\\uDE00\"", false, "A\xc3\xa9\xf0\x9f\x98\x80");
	LEX_OK("\\u0000x\"", false, "\0x");
	LEX_OK("\\u001f\\u0000\\\"\"", true, "\x1f\0\"");
	LEX_BAD("\\u0041\"", true, "json: escape sequence at byte 1 is not canonical");
	LEX_BAD("\\u000a\"", true, "json: escape sequence at byte 1 is not canonical");
	LEX_BAD("\\u001F\"", true, "json: escape sequence at byte 1 is not canonical");
	LEX_BAD("a\\/\"", true, "json: escape sequence at byte 2 is not canonical");
	LEX_BAD("\\x\"", false, "json: invalid escape sequence at byte 1");
	LEX_BAD("\\u12\"", false, "json: invalid \\u escape at byte 1");
	LEX_BAD("\\uDC00\"", false, "json: lone low surrogate \\uDC00 at byte 1");
	LEX_BAD("\\uD800\\u0041\"", false, "json: lone high surrogate \\uD800 at byte 1");
	LEX_BAD("\\uD800", false, "json: lone high surrogate \\uD800 at byte 1");
	LEX_BAD("\\uFDD0\"", false, "json: Unicode noncharacter in string at byte 1");
	LEX_BAD("\\uDBFF\\uDFFF\"", false, "json: Unicode noncharacter in string at byte 1");
	LEX_BAD("ab\xef\xbf\xbe\"", false, "json: Unicode noncharacter in string at byte 3");
	LEX_BAD("ab\xc3(\"", false, "json: invalid UTF-8 in string at byte 3");
	LEX_BAD("ab\xed\xa0\x80\"", false, "json: invalid UTF-8 in string at byte 3");
	LEX_BAD("a\tb\"", false, "json: unescaped control character 0x09 in string at byte 2");
	LEX_BAD("abc", false, "json: unterminated string at byte 0");
	LEX_BAD("abc\\", false, "json: unterminated string at byte 0");
}

/* The stream's side: a chunk that ends inside an element stops before it, and wend holds. */
static void test_string_stops(void)
{
	uint8_t buf[64], out[64];
	tfa_jlex lx = {buf, NULL, 0, false, true};
	const uint8_t *r;
	uint8_t *w;
	tfa_jlex_stop stop = TFA_JLEX_DONE;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, "ab\xc3", 3);
	lx.end = buf + 3;
	r = buf;
	w = out;
	CHECK_OK(tfa_jlex_string(&lx, 0, &r, &w, out + sizeof(out), &stop));
	CHECK(stop == TFA_JLEX_MORE && r == buf + 2 && w == out + 2);
	CHECK(tfa_jlex_elem_need(&lx, r, 1) == 2);

	memcpy(buf, "ab\\u00", 6);
	lx.end = buf + 6;
	r = buf;
	w = out;
	CHECK_OK(tfa_jlex_string(&lx, 0, &r, &w, out + sizeof(out), &stop));
	CHECK(stop == TFA_JLEX_MORE && r == buf + 2);
	CHECK(tfa_jlex_elem_need(&lx, r, 1) == 2 && tfa_jlex_elem_need(&lx, r, 2) == 6);

	memcpy(buf, "abcdef\"", 7);
	lx.end = buf + 7;
	r = buf;
	w = out;
	CHECK_OK(tfa_jlex_string(&lx, 0, &r, &w, out + 3, &stop));
	CHECK(stop == TFA_JLEX_FULL && w == out);
	r = buf;
	CHECK_OK(tfa_jlex_string(&lx, 0, &r, &w, out + 6, &stop));
	CHECK(stop == TFA_JLEX_DONE && r == buf + 6 && w == out + 6);

	/* Plain JSON looks past a high surrogate for its pair. */
	lx.canonical = false;
	memcpy(buf, "\\uD83D\\uDE00", 12);
	CHECK(tfa_jlex_elem_need(&lx, buf, 2) == 6 && tfa_jlex_elem_need(&lx, buf, 6) == 8 &&
	      tfa_jlex_elem_need(&lx, buf, 8) == 12);
	CHECK(tfa_jlex_elem_need(&lx, (const uint8_t *)"\\u0041", 6) == 6);
}

static void num(const char *s, tfa_jlex_numerr want, size_t tok, double v)
{
	tfa_jlex_num n;
	const uint8_t *at;
	tfa_jlex_numerr e = tfa_jlex_number((const uint8_t *)s, &n, &at);
	double got = 0;

	if (e != want) {
		fprintf(stderr, "%s: %s: error %d, wanted %d\n", tfa_test_current, s, e, want);
		tfa_test_failures++;
		return;
	}
	if (e != TFA_JLEX_NUM_OK)
		return;
	CHECK((size_t)(n.end - (const uint8_t *)s) == tok);
	CHECK_OK(tfa_jlex_number_value(&n, 0, &got));
	CHECK(memcmp(&got, &v, sizeof(v)) == 0);
}

static void test_numbers(void)
{
	tfa_jlex_num n;
	const uint8_t *at;
	double v;

	num("0", TFA_JLEX_NUM_OK, 1, 0.0);
	num("-0", TFA_JLEX_NUM_OK, 2, -0.0);
	num("12,", TFA_JLEX_NUM_OK, 2, 12.0);
	num("1.5e3]", TFA_JLEX_NUM_OK, 5, 1500.0);
	num("1E-2", TFA_JLEX_NUM_OK, 4, 0.01);
	num("0.1", TFA_JLEX_NUM_OK, 3, 0.1);
	num("123456789012345678901234567890", TFA_JLEX_NUM_OK, 30, 1.2345678901234568e29);
	num("4.9406564584124654e-324", TFA_JLEX_NUM_OK, 23, 5e-324);
	num("1e-400", TFA_JLEX_NUM_OK, 6, 0.0);
	num("-", TFA_JLEX_NUM_INVALID, 0, 0);
	num("-a", TFA_JLEX_NUM_INVALID, 0, 0);
	num("01", TFA_JLEX_NUM_LEADING_ZERO, 0, 0);
	num("-00", TFA_JLEX_NUM_LEADING_ZERO, 0, 0);
	num("1.", TFA_JLEX_NUM_FRAC, 0, 0);
	num("1.e5", TFA_JLEX_NUM_FRAC, 0, 0);
	num("1e", TFA_JLEX_NUM_EXP, 0, 0);
	num("1e+", TFA_JLEX_NUM_EXP, 0, 0);
	CHECK(tfa_jlex_number((const uint8_t *)"2.5e", &n, &at) == TFA_JLEX_NUM_EXP);
	CHECK(at == (const uint8_t *)"2.5e" + 4 || *at == '\0');
	/* Out of range. */
	CHECK(tfa_jlex_number((const uint8_t *)"1e400", &n, &at) == TFA_JLEX_NUM_OK);
	CHECK_RC(tfa_jlex_number_value(&n, 7, &v), TFA_EFORMAT);
	CHECK_STREQ(tfa_error_last()->message, "json: number out of range at byte 7");
	CHECK(tfa_jlex_number((const uint8_t *)"-1.7976931348623157e308", &n, &at) ==
	      TFA_JLEX_NUM_OK);
	CHECK_OK(tfa_jlex_number_value(&n, 0, &v));
	CHECK(v == -1.7976931348623157e308);
}

static void test_literals_and_ws(void)
{
	size_t n;

	CHECK_STREQ(tfa_jlex_literal('t', &n), "true");
	CHECK(n == 4);
	CHECK_STREQ(tfa_jlex_literal('f', &n), "false");
	CHECK(n == 5);
	CHECK_STREQ(tfa_jlex_literal('n', &n), "null");
	CHECK(tfa_jlex_literal('x', &n) == NULL && n == 0);
	CHECK(tfa_jlex_ws[' '] && tfa_jlex_ws['\t'] && tfa_jlex_ws['\n'] && tfa_jlex_ws['\r']);
	CHECK(!tfa_jlex_ws['\f'] && !tfa_jlex_ws['\v'] && !tfa_jlex_ws[0] && !tfa_jlex_ws[0xA0]);
}

TFA_TEST_MAIN(T(test_utf8_against_reference), T(test_utf8_valid), T(test_noncharacters),
	      T(test_strings), T(test_string_stops), T(test_numbers), T(test_literals_and_ws))
