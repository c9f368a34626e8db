#include <stdio.h>
#include <string.h>

#include "format/timefmt.h"
#include "tfattest/sys/guard.h"

/* Days since 1970-01-01 of a civil date (proleptic Gregorian), after H. Hinnant. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void tfa_time_format(char out[TFA_TIME_STRLEN], int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	/* strftime cannot overflow here: every field has a fixed width for years 0-9999. */
	if (strftime(out, TFA_TIME_STRLEN, "%Y-%m-%dT%H:%M:%SZ", &tm) != TFA_TIME_STRLEN - 1)
		snprintf(out, TFA_TIME_STRLEN, "1970-01-01T00:00:00Z");
}

static int digits(const char *s, int n, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 1;
}

tfa_err tfa_time_parse(int64_t *out, const char *s, size_t len)
{
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y, mo, d, h, mi, se;

	if (len != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != 'Z' || !digits(s, 4, &y) || !digits(s + 5, 2, &mo) ||
	    !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) ||
	    !digits(s + 17, 2, &se))
		return tfa_error_set(TFA_EFORMAT, "time is not of the form YYYY-MM-DDTHH:MM:SSZ");
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59 ||
	    (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)))
		return tfa_error_set(TFA_EFORMAT, "time is not a valid UTC date and time");
	/* No deployment happened before 1970; refusing it keeps parse and format inverse. */
	if (y < 1970)
		return tfa_error_set(TFA_EFORMAT, "time is before 1970");
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	return TFA_OK;
}
