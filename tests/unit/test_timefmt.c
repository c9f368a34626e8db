/* Tests for the UTC timestamp parser and formatter (YYYY-MM-DDTHH:MM:SSZ). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format/timefmt.h"
#include "tfa_test.h"
#include "tfattest/artifact.h"

static void expect_time(const char *s, int64_t want, int line)
{
	int64_t got = -12345;
	tfa_err rc = tfa_time_parse(&got, s, strlen(s));

	if (rc != TFA_OK || got != want) {
		fprintf(stderr, "line %d: %s: parse gave %s, %lld; wanted %lld\n", line, s,
			tfa_err_name(rc), (long long)got, (long long)want);
		tfa_test_failures++;
	}
}

static void expect_bad_n(const char *s, size_t len, const char *msg, int line)
{
	int64_t got = -12345;
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_time_parse(&got, s, len);
	if (rc != TFA_EFORMAT || strstr(tfa_error_last()->message, msg) == NULL) {
		fprintf(stderr, "line %d: \"%.*s\": got %s (%s), wanted EFORMAT with \"%s\"\n",
			line, (int)len, s, tfa_err_name(rc), tfa_error_last()->message, msg);
		tfa_test_failures++;
	}
	if (got != -12345) {
		fprintf(stderr, "line %d: output written on failure\n", line);
		tfa_test_failures++;
	}
}

#define GOOD(s, t)  expect_time((s), (t), __LINE__)
#define BAD_FORM(s) expect_bad_n((s), strlen(s), "not of the form", __LINE__)
#define BAD_DATE(s) expect_bad_n((s), strlen(s), "not a valid UTC date", __LINE__)

static void test_parse_known_values(void)
{
	GOOD("1970-01-01T00:00:00Z", 0);
	GOOD("1970-01-01T00:00:01Z", 1);
	GOOD("2000-01-01T00:00:00Z", 946684800);
	GOOD("2000-02-29T00:00:00Z", 951782400);
	GOOD("2024-02-29T12:34:56Z", 1709210096);
	GOOD("2038-01-19T03:14:08Z", INT64_C(2147483648));
	GOOD("9999-12-31T23:59:59Z", INT64_C(253402300799));
	expect_bad_n("1969-12-31T23:59:59Z", 20, "before 1970", __LINE__);
	expect_bad_n("0000-01-01T00:00:00Z", 20, "before 1970", __LINE__);
	expect_bad_n("1600-03-01T00:00:00Z", 20, "before 1970", __LINE__);
}

static void test_parse_agrees_with_timegm(void)
{
	/* Every month end and start across leap and century years. */
	static const int years[] = {1970, 1999, 2000, 2001, 2004, 2023, 2024, 2100, 2400, 2200};
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	for (size_t yi = 0; yi < sizeof(years) / sizeof(years[0]); yi++) {
		int y = years[yi];
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		for (int m = 1; m <= 12; m++) {
			int last = mdays[m - 1] + (m == 2 && leap);
			for (int d = 1; d <= last; d += last - 1) {
				char s[32];
				struct tm tm;
				int64_t got;

				memset(&tm, 0, sizeof(tm));
				tm.tm_year = y - 1900;
				tm.tm_mon = m - 1;
				tm.tm_mday = d;
				tm.tm_hour = 23;
				tm.tm_min = 59;
				tm.tm_sec = 58;
				snprintf(s, sizeof(s), "%04d-%02d-%02dT23:59:58Z", y, m, d);
				CHECK_OK(tfa_time_parse(&got, s, strlen(s)));
				CHECK(got == (int64_t)timegm(&tm));
			}
		}
	}
}

static void test_reject_invalid_dates(void)
{
	BAD_DATE("2023-02-30T00:00:00Z");
	BAD_DATE("2024-02-30T00:00:00Z");
	BAD_DATE("2023-02-29T00:00:00Z"); /* not a leap year */
	BAD_DATE("1900-02-29T00:00:00Z"); /* century, not leap */
	BAD_DATE("2100-02-29T00:00:00Z");
	BAD_DATE("2023-04-31T00:00:00Z");
	BAD_DATE("2023-06-31T00:00:00Z");
	BAD_DATE("2023-09-31T00:00:00Z");
	BAD_DATE("2023-11-31T00:00:00Z");
	BAD_DATE("2023-01-32T00:00:00Z");
	BAD_DATE("2023-00-10T00:00:00Z");
	BAD_DATE("2023-13-10T00:00:00Z");
	BAD_DATE("2023-01-00T00:00:00Z");
	BAD_DATE("2023-01-01T24:00:00Z");
	BAD_DATE("2023-01-01T23:60:00Z");
	BAD_DATE("2023-01-01T23:59:60Z"); /* leap seconds are not representable */
	BAD_DATE("2023-01-01T99:99:99Z");
}

static void test_reject_other_forms(void)
{
	BAD_FORM("");
	BAD_FORM("2023-01-01T00:00:00");  /* no Z */
	BAD_FORM("2023-01-01t00:00:00Z"); /* lowercase t */
	BAD_FORM("2023-01-01T00:00:00z"); /* lowercase z */
	BAD_FORM("2023-01-01 00:00:00Z"); /* space */
	BAD_FORM("2023-01-01T00:00:00+00:00");
	BAD_FORM("2023-01-01T00:00:00.5Z"); /* fraction */
	BAD_FORM("2023-01-01T00:00Z");
	BAD_FORM("2023-1-01T00:00:00Z");
	BAD_FORM("23-01-01T00:00:00Z");
	BAD_FORM("12023-01-01T00:00:00Z");
	BAD_FORM("2023/01/01T00:00:00Z");
	BAD_FORM("2023-01-01T00-00-00Z");
	BAD_FORM("2O23-01-01T00:00:00Z"); /* letter O */
	BAD_FORM("-023-01-01T00:00:00Z");
	BAD_FORM("+023-01-01T00:00:00Z");
	BAD_FORM("2023-01-01T0 :00:00Z");
	BAD_FORM("2023-01-01T00:00:0 Z");
	BAD_FORM(" 2023-01-01T00:00:00Z");
	BAD_FORM("2023-01-01T00:00:00Z ");
	BAD_FORM("2023-01-01T00:00:00ZZ");
	/* The length is what counts, not a NUL. */
	expect_bad_n("2023-01-01T00:00:00Z", 19, "not of the form", __LINE__);
	expect_bad_n("2023-01-01T00:00:00Z\0", 21, "not of the form", __LINE__);
	expect_bad_n("2023-01-01T00:00:0\0Z", 20, "not of the form", __LINE__);
}

static void test_format(void)
{
	char s[TFA_TIME_STRLEN];

	tfa_time_format(s, 0);
	CHECK_STREQ(s, "1970-01-01T00:00:00Z");
	tfa_time_format(s, -1);
	CHECK_STREQ(s, "1969-12-31T23:59:59Z");
	tfa_time_format(s, 1709210096);
	CHECK_STREQ(s, "2024-02-29T12:34:56Z");
	tfa_time_format(s, INT64_C(253402300799));
	CHECK_STREQ(s, "9999-12-31T23:59:59Z");
	/* Past year 9999 the form cannot hold the year: a fixed fallback, still well-formed. */
	tfa_time_format(s, INT64_C(253402300800));
	CHECK(strlen(s) == 20);
	{
		int64_t t;
		CHECK_OK(tfa_time_parse(&t, s, strlen(s)));
	}
}

static void test_round_trip(void)
{
	/* format(parse(s)) == s and parse(format(t)) == t, years 1970 to 9999. */
	uint64_t x = 88172645463325252ULL;

	for (int i = 0; i < 20000; i++) {
		char s[TFA_TIME_STRLEN];
		int64_t t, back;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		t = (int64_t)(x % UINT64_C(253402300800));
		tfa_time_format(s, t);
		if (tfa_time_parse(&back, s, strlen(s)) != TFA_OK || back != t) {
			fprintf(stderr, "round trip failed for %lld: %s\n", (long long)t, s);
			tfa_test_failures++;
			break;
		}
	}
}

/* Every accepted time formats back to itself: years before 1970 are refused. */
static void test_years_before_1970_refused(void)
{
	char s[TFA_TIME_STRLEN];
	int64_t t;

	CHECK_RC(tfa_time_parse(&t, "0999-12-31T23:59:59Z", 20), TFA_EFORMAT);
	CHECK_RC(tfa_time_parse(&t, "1969-12-31T23:59:59Z", 20), TFA_EFORMAT);
	CHECK_OK(tfa_time_parse(&t, "1970-01-01T00:00:00Z", 20));
	CHECK(t == 0);
	CHECK_OK(tfa_time_parse(&t, "9999-12-31T23:59:59Z", 20));
	tfa_time_format(s, t);
	CHECK_STREQ(s, "9999-12-31T23:59:59Z");
}

TFA_TEST_MAIN(T(test_parse_known_values), T(test_parse_agrees_with_timegm),
	      T(test_reject_invalid_dates), T(test_reject_other_forms), T(test_format),
	      T(test_round_trip), T(test_years_before_1970_refused))
