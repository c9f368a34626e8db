/*
 * Fuzz target for the small string checkers a bundle's safety rests on:
 * tfa_path_check, tfa_time_parse and tfa_hash_parse (with tfa_hex_decode).
 *
 * Each is compared with an independent reference written from its
 * documented rule, so any input where they disagree is a finding, in either
 * direction. Accepted values must also print back to the same text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format/pathsafe.h"
#include "format/timefmt.h"
#include "tfattest/artifact.h"
#include "verify/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "path_fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* pathsafe.h: 1..200 bytes of [A-Za-z0-9._-] components joined by single '/', at most 4 deep,
 * no component empty or starting with '.', no leading '/'. */
static int ref_path_ok(const char *p, size_t n)
{
	size_t depth = 0, start = 0;

	if (n == 0 || n > TFA_PATH_MAX_LEN)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '/') {
			if (i == start || p[start] == '.')
				return 0;
			depth++;
			start = i + 1;
		} else if (!strchr(
			       "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
			       p[i]) ||
			   p[i] == '\0') {
			return 0;
		}
	}
	return depth <= TFA_PATH_MAX_DEPTH;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* YYYY-MM-DDTHH:MM:SSZ, a real proleptic Gregorian date, 00:00:00 to 23:59:59. */
static int ref_time(const char *s, size_t n, int64_t *out)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	int y, mo, d, h, mi, se, leap, mdays;
	struct tm tm;

	if (n != 20)
		return 0;
	for (int i = 0; i < 20; i++)
		if (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != shape[i])
			return 0;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	mo = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	h = (s[11] - '0') * 10 + (s[12] - '0');
	mi = (s[14] - '0') * 10 + (s[15] - '0');
	se = (s[17] - '0') * 10 + (s[18] - '0');
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || h > 23 || mi > 59 || se > 59)
		return 0;
	mdays = mo == 2 ? 28 + leap : (mo == 4 || mo == 6 || mo == 9 || mo == 11) ? 30 : 31;
	if (d < 1 || d > mdays || y < 1970)
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	*out = (int64_t)timegm(&tm);
	return 1;
}

static int ref_hash(const char *s, size_t n)
{
	if (n != 71 || memcmp(s, "sha256:", 7) != 0)
		return 0;
	for (size_t i = 7; i < n; i++)
		if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return 0;
	return 1;
}

static void check_one(const char *s, size_t n)
{
	tfa_err rc;
	int64_t t = 0, want = 0;
	uint8_t d[TFA_SHA256_LEN];

	rc = tfa_path_check(s, n);
	REQUIRE(rc == TFA_OK || rc == TFA_EVERIFY);
	REQUIRE((rc == TFA_OK) == ref_path_ok(s, n));

	rc = tfa_time_parse(&t, s, n);
	REQUIRE(rc == TFA_OK || rc == TFA_EFORMAT);
	REQUIRE((rc == TFA_OK) == ref_time(s, n, &want));
	if (rc == TFA_OK) {
		REQUIRE(t == want);
		/* Every accepted time (1970-9999) prints back exactly. */
		{
			char back[TFA_TIME_STRLEN];
			tfa_time_format(back, t);
			REQUIRE(memcmp(back, s, 20) == 0);
		}
	}

	rc = tfa_hash_parse(d, s, n);
	REQUIRE(rc == TFA_OK || rc == TFA_EFORMAT);
	REQUIRE((rc == TFA_OK) == ref_hash(s, n));
	if (rc == TFA_OK) {
		char back[TFA_FPR_STRLEN];
		tfa_hash_str(back, d);
		REQUIRE(memcmp(back, s, n) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The whole input, and each line of it, so one corpus file can hold many cases. */
	const char *s = (const char *)data;
	size_t start = 0;

	check_one(s, size);
	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n') {
			check_one(s + start, i - start);
			start = i + 1;
		}
	}
	if (start > 0)
		check_one(s + start, size - start);
	return 0;
}
