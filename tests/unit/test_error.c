/* Tests for error messages and the one output escaper (tfa_escape). */
#include <stdio.h>
#include <string.h>

#include "tfa_test.h"
#include "tfattest/error.h"
#include "tfattest/sys/guard.h"

static const char *esc(const char *s, tfa_escape_mode mode)
{
	static char out[1024];

	return tfa_escape(out, sizeof(out), s, mode);
}

static void test_plain_text_unchanged(void)
{
	CHECK_STREQ(esc("artifacts/000000000001.json", TFA_ESCAPE_TERM),
		    "artifacts/000000000001.json");
	CHECK_STREQ(esc("", TFA_ESCAPE_TERM), "");
	CHECK_STREQ(esc(NULL, TFA_ESCAPE_TERM), "");
	/* Printable non-ASCII stays: NBSP (U+00A0, just past C1), e acute, CJK, an emoji. */
	CHECK_STREQ(esc("\xc2\xa0\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80", TFA_ESCAPE_TERM),
		    "\xc2\xa0\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80");
	/* A backslash is not an escape of ours: kept. */
	CHECK_STREQ(esc("a\\b", TFA_ESCAPE_TERM), "a\\b");
}

static void test_controls_escaped(void)
{
	CHECK_STREQ(esc("\x1b[31mred", TFA_ESCAPE_TERM), "\\u001b[31mred");
	CHECK_STREQ(esc("a\nb\tc\rd", TFA_ESCAPE_TERM), "a\\u000ab\\u0009c\\u000dd");
	CHECK_STREQ(esc("\x01\x1f\x7f", TFA_ESCAPE_TERM), "\\u0001\\u001f\\u007f");
	/* C1 controls as UTF-8: U+0080, U+009B (8-bit CSI), U+009F. */
	CHECK_STREQ(esc("\xc2\x80\xc2\x9b\xc2\x9f", TFA_ESCAPE_TERM), "\\u0080\\u009b\\u009f");
	/* Newline and tab kept in a block, everything else still escaped. */
	CHECK_STREQ(esc("{\n\t\"a\": \"\x1b\xc2\x9b\x7f\"\n}", TFA_ESCAPE_BLOCK),
		    "{\n\t\"a\": \"\\u001b\\u009b\\u007f\"\n}");
	CHECK_STREQ(esc("a\rb", TFA_ESCAPE_BLOCK), "a\\u000db");
	/* For JSON, controls are the encoder's business: kept. */
	CHECK_STREQ(esc("\x1b\n\xc2\x9b", TFA_ESCAPE_UTF8), "\x1b\n\xc2\x9b");
}

static void test_invalid_utf8_escaped(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"\x9b", "\\x9b"},				  /* a raw 8-bit CSI byte */
	    {"\x80", "\\x80"},				  /* lone continuation */
	    {"\xc0\x80", "\\xc0\\x80"},			  /* overlong NUL */
	    {"\xc1\xbf", "\\xc1\\xbf"},			  /* overlong */
	    {"\xe0\x80\xaf", "\\xe0\\x80\\xaf"},	  /* overlong '/' */
	    {"\xed\xa0\x80", "\\xed\\xa0\\x80"},	  /* a surrogate */
	    {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"}, /* above U+10FFFF */
	    {"\xf5\x80", "\\xf5\\x80"},
	    {"\xff", "\\xff"},
	    {"\xe2\x82", "\\xe2\\x82"},	  /* cut short at the end */
	    {"\xe2\x82x", "\\xe2\\x82x"}, /* cut short by ASCII */
	    {"a\xc3", "a\\xc3"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_STREQ(esc(cases[i].in, TFA_ESCAPE_TERM), cases[i].want);
		CHECK_STREQ(esc(cases[i].in, TFA_ESCAPE_UTF8), cases[i].want);
	}
	/* The largest valid code point and the first after the surrogates pass. */
	CHECK_STREQ(esc("\xf4\x8f\xbf\xbf\xee\x80\x80", TFA_ESCAPE_TERM),
		    "\xf4\x8f\xbf\xbf\xee\x80\x80");
}

static void test_cut_between_pieces(void)
{
	char out[12];

	/* "ab" + "\u001b" does not fit with "..." in 12: cut before the escape, never inside it. */
	CHECK_STREQ(tfa_escape(out, sizeof(out), "abcd\x1b\x1b", TFA_ESCAPE_TERM), "abcd...");
	CHECK_STREQ(tfa_escape(out, sizeof(out), "abcdefg", TFA_ESCAPE_TERM), "abcdefg");
	CHECK_STREQ(
	    tfa_escape(out, sizeof(out), "\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5", TFA_ESCAPE_TERM),
	    "\xe6\x97\xa5\xe6\x97\xa5...");
	CHECK_STREQ(tfa_escape(out, 3, "abc", TFA_ESCAPE_TERM), "");
}

static int count_put(void *ud, const char *p, size_t n)
{
	size_t *total = ud;

	(void)p;
	*total += n;
	return 1;
}

static void test_each_sees_embedded_nul(void)
{
	size_t total = 0;

	/* Given a length, a NUL inside is a control like any other. */
	tfa_escape_each("a\0b", 3, TFA_ESCAPE_TERM, count_put, &total);
	CHECK(total == 1 + 6 + 1);
}

static void test_messages_escaped(void)
{
	tfa_error_set(TFA_EVERIFY, "File not listed: %s", "x\x1b[2J\n[SUCCESS] fake\xc2\x9b\x9b");
	CHECK_STREQ(tfa_error_last()->message,
		    "File not listed: x\\u001b[2J\\u000a[SUCCESS] fake\\u009b\\x9b");
	/* Wrapping a message escapes nothing twice. */
	tfa_error_set(TFA_EVERIFY, "outer: %s", tfa_error_last()->message);
	CHECK_STREQ(tfa_error_last()->message,
		    "outer: File not listed: x\\u001b[2J\\u000a[SUCCESS] fake\\u009b\\x9b");
	tfa_error_set(TFA_EIO, "ok");
	tfa_error_detail("detail\x1b]0;title\x07");
	CHECK_STREQ(tfa_error_last()->detail, "detail\\u001b]0;title\\u0007");
}

static void test_long_message_stays_bounded(void)
{
	char big[2000];

	memset(big, 0x1b, sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tfa_error_set(TFA_EVERIFY, "%s", big);
	CHECK(strlen(tfa_error_last()->message) < sizeof(tfa_error_last()->message));
	CHECK(strncmp(tfa_error_last()->message, "\\u001b\\u001b", 12) == 0);
	CHECK(strcmp(tfa_error_last()->message + strlen(tfa_error_last()->message) - 3, "...") ==
	      0);
	CHECK(strchr(tfa_error_last()->message, 0x1b) == NULL);
}

TFA_TEST_MAIN(T(test_plain_text_unchanged), T(test_controls_escaped), T(test_invalid_utf8_escaped),
	      T(test_cut_between_pieces), T(test_each_sees_embedded_nul), T(test_messages_escaped),
	      T(test_long_message_stays_bounded))
