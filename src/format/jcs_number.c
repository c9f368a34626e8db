/*
 * ES6 Number.prototype.toString for finite doubles (RFC 8785 section 3.2.2.3).
 *
 * JavaScript prints the shortest decimal digit string s (k digits) such that
 * s * 10^(n-k) rounds back to the double, choosing the closest such string when
 * several have k digits, and lays it out as a plain integer, a plain decimal or
 * an exponent form depending on n.
 *
 * The digits come from, in order of cost:
 *   1. integers below 2^53: printed exactly;
 *   2. normal doubles whose shortest form has at most 15 digits and whose
 *      decimal exponent is small: one multiplication gives a candidate that is
 *      verified exactly (Clinger's fast path). Fifteen-digit decimals map to
 *      distinct normal doubles (DBL_DIG), so a verified candidate is the only
 *      one of that length and thus the answer;
 *   3. otherwise correctly rounded digits from snprintf("%.*e") for increasing
 *      precision, checked by converting back. At a power-of-two boundary the
 *      rounding interval is asymmetric and the nearest p-digit decimal may miss
 *      it while the neighbour on the other side hits it; both neighbours are
 *      tried (only the one on the far side can succeed, and it is the closest
 *      p-digit decimal that round-trips).
 *
 * The round-trip check builds "DIGITSe[-]EXP" strings without a decimal point,
 * and digits are read from snprintf output skipping whatever decimal point the
 * locale uses, so LC_NUMERIC does not matter.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfattest/jcs.h"

/* The exact fast paths need double arithmetic without excess precision. */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define JCS_EXACT_FP 1
#else
#define JCS_EXACT_FP 0
#endif

#define TWO53 9007199254740992.0

static const double pow10_exact[23] = {
    1e0,  1e1,	1e2,  1e3,  1e4,  1e5,	1e6,  1e7,  1e8,  1e9,	1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static const char digit_pairs[201] = "00010203040506070809"
				     "10111213141516171819"
				     "20212223242526272829"
				     "30313233343536373839"
				     "40414243444546474849"
				     "50515253545556575859"
				     "60616263646566676869"
				     "70717273747576777879"
				     "80818283848586878889"
				     "90919293949596979899";

/* Writes the decimal digits of v (no leading zeros, "0" for 0); returns the count. */
static int u64_to_digits(char *out, uint64_t v)
{
	char tmp[24];
	int i = (int)sizeof(tmp);
	int n;

	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);
		v /= 100;
		tmp[--i] = digit_pairs[2 * r + 1];
		tmp[--i] = digit_pairs[2 * r];
	}
	if (v >= 10) {
		tmp[--i] = digit_pairs[2 * v + 1];
		tmp[--i] = digit_pairs[2 * v];
	} else {
		tmp[--i] = (char)('0' + v);
	}
	n = (int)sizeof(tmp) - i;
	memcpy(out, tmp + i, (size_t)n);
	return n;
}

/*
 * 1 when D * 10^q (D < 2^53, |q| <= 22) rounds to x, 0 when it does not;
 * -1 when the exact check does not apply.
 */
static int exact_check(uint64_t D, int q, double x)
{
#if JCS_EXACT_FP
	double v;

	if (D > (UINT64_C(1) << 53) || q < -22 || q > 22)
		return -1;
	v = (double)D;
	v = q >= 0 ? v * pow10_exact[q] : v / pow10_exact[-q];
	return v == x;
#else
	(void)D;
	(void)q;
	(void)x;
	return -1;
#endif
}

/* Whether D * 10^q converts back to x exactly. */
static bool roundtrips(uint64_t D, int q, double x)
{
	char tmp[48];
	int n, r;
	unsigned aq;

	r = exact_check(D, q, x);
	if (r >= 0)
		return r == 1;
	n = u64_to_digits(tmp, D);
	tmp[n++] = 'e';
	if (q < 0)
		tmp[n++] = '-';
	aq = q < 0 ? (unsigned)-q : (unsigned)q;
	n += u64_to_digits(tmp + n, aq);
	tmp[n] = '\0';
	return strtod(tmp, NULL) == x;
}

/*
 * The p significant digits of x (x > 0) correctly rounded, as D * 10^q with
 * 10^(p-1) <= D < 10^p. Returns false if snprintf misbehaves.
 */
static bool nearest_digits(double x, int p, uint64_t *D, int *q)
{
	char tmp[64];
	const char *s;
	uint64_t d = 0;
	int e = 0, nd = 0;
	bool neg = false;

	if (snprintf(tmp, sizeof(tmp), "%.*e", p - 1, x) <= 0)
		return false;
	for (s = tmp; *s && *s != 'e' && *s != 'E'; s++)
		if (*s >= '0' && *s <= '9') {
			d = d * 10 + (uint64_t)(*s - '0');
			nd++;
		}
	if (*s == '\0' || nd != p)
		return false;
	s++;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	for (; *s >= '0' && *s <= '9'; s++)
		e = e * 10 + (*s - '0');
	e = neg ? -e : e;
	*D = d;
	*q = e - (p - 1);
	return true;
}

static const uint64_t pow10_u64[18] = {
    UINT64_C(1),
    UINT64_C(10),
    UINT64_C(100),
    UINT64_C(1000),
    UINT64_C(10000),
    UINT64_C(100000),
    UINT64_C(1000000),
    UINT64_C(10000000),
    UINT64_C(100000000),
    UINT64_C(1000000000),
    UINT64_C(10000000000),
    UINT64_C(100000000000),
    UINT64_C(1000000000000),
    UINT64_C(10000000000000),
    UINT64_C(100000000000000),
    UINT64_C(1000000000000000),
    UINT64_C(10000000000000000),
    UINT64_C(100000000000000000),
};

/*
 * Finds a p-digit decimal that round-trips to x: the nearest, else the
 * neighbour one unit away in the last digit. Returns false when none does.
 */
static bool digits_at(double x, int p, bool neighbours, uint64_t *D, int *q)
{
	uint64_t d, lo = pow10_u64[p - 1], hi = pow10_u64[p];
	int e;

	if (!nearest_digits(x, p, &d, &e))
		return false;
	if (roundtrips(d, e, x)) {
		*D = d;
		*q = e;
		return true;
	}
	if (!neighbours)
		return false;
	/* The next p-digit decimal up. */
	if (d + 1 == hi) {
		if (roundtrips(lo, e + 1, x)) {
			*D = lo;
			*q = e + 1;
			return true;
		}
	} else if (roundtrips(d + 1, e, x)) {
		*D = d + 1;
		*q = e;
		return true;
	}
	/* The next p-digit decimal down. */
	if (d == lo) {
		if (roundtrips(hi - 1, e - 1, x)) {
			*D = hi - 1;
			*q = e - 1;
			return true;
		}
	} else if (roundtrips(d - 1, e, x)) {
		*D = d - 1;
		*q = e;
		return true;
	}
	return false;
}

/*
 * Normal doubles whose shortest form has at most 15 digits and a decimal
 * exponent in [-8, 36]: x * 10^(14-e10) rounded gives the 15-digit candidate
 * within one unit; candidates are verified exactly.
 */
static bool fast15(double x, uint64_t *D, int *q)
{
#if JCS_EXACT_FP
	uint64_t bits;
	int e2, e10;

	memcpy(&bits, &x, sizeof(bits));
	e2 = (int)((bits >> 52) & 0x7ff) - 1023;
	/* floor(e2 * log10(2)); the true floor(log10(x)) is this or one more. */
	e10 = e2 >= 0 ? (e2 * 78913) >> 18 : -((-e2 * 78913 + (1 << 18) - 1) >> 18);
	for (int attempt = 0; attempt < 2; attempt++, e10++) {
		int k = 14 - e10;
		double y;
		uint64_t s;

		if (e10 < -8 || e10 > 36)
			return false;
		y = k >= 0 ? x * pow10_exact[k] : x / pow10_exact[-k];
		if (y >= 999999999999999.5)
			continue; /* e10 was one too small */
		s = (uint64_t)(y + 0.5);
		for (int delta = 0; delta < 3; delta++) {
			uint64_t c = delta == 0 ? s : delta == 1 ? s - 1 : s + 1;

			if (c == 0 || c >= UINT64_C(1000000000000000))
				continue;
			if (exact_check(c, -k, x) == 1) {
				*D = c;
				*q = -k;
				return true;
			}
		}
		return false;
	}
	return false;
#else
	(void)x;
	(void)D;
	(void)q;
	return false;
#endif
}

/* The shortest round-tripping digits of x > 0 (finite) as D * 10^q. */
static bool shortest(double x, uint64_t *D, int *q)
{
	if (x >= DBL_MIN) {
		if (fast15(x, D, q))
			return true;
		/* Up to 15 digits the nearest is the only candidate (see above). */
		if (digits_at(x, 15, false, D, q) || digits_at(x, 16, true, D, q) ||
		    digits_at(x, 17, true, D, q))
			return true;
		return false;
	}
	/* Subnormal: fewer significant bits, so search every length. The set of
	 * lengths that admit a round-tripping decimal is upward closed. */
	{
		int lo = 1, hi = 17;
		uint64_t bd = 0;
		int bq = 0;
		bool found = false;

		while (lo <= hi) {
			int mid = (lo + hi) / 2;
			uint64_t d;
			int e;

			if (digits_at(x, mid, true, &d, &e)) {
				bd = d;
				bq = e;
				found = true;
				hi = mid - 1;
			} else {
				lo = mid + 1;
			}
		}
		*D = bd;
		*q = bq;
		return found;
	}
}

size_t tfa_jcs_format_number(char out[32], double d)
{
	char dig[24];
	char *o = out;
	uint64_t D;
	int q, k, n;

	if (!isfinite(d)) {
		out[0] = '\0';
		return 0;
	}
	if (d == 0) { /* also -0 */
		out[0] = '0';
		out[1] = '\0';
		return 1;
	}
	if (d < 0) {
		*o++ = '-';
		d = -d;
	}
	if (d < TWO53 && d == (double)(uint64_t)d) {
		o += u64_to_digits(o, (uint64_t)d);
		*o = '\0';
		return (size_t)(o - out);
	}
	if (!shortest(d, &D, &q)) {
		/* Unreachable: 17 digits always round-trip. */
		out[0] = '\0';
		return 0;
	}
	while (D % 10 == 0) {
		D /= 10;
		q++;
	}
	k = u64_to_digits(dig, D);
	n = k + q; /* the value is 0.DIGITS * 10^n */

	if (k <= n && n <= 21) {
		memcpy(o, dig, (size_t)k);
		o += k;
		memset(o, '0', (size_t)(n - k));
		o += n - k;
	} else if (0 < n && n <= 21) {
		memcpy(o, dig, (size_t)n);
		o += n;
		*o++ = '.';
		memcpy(o, dig + n, (size_t)(k - n));
		o += k - n;
	} else if (-6 < n && n <= 0) {
		*o++ = '0';
		*o++ = '.';
		memset(o, '0', (size_t)-n);
		o += -n;
		memcpy(o, dig, (size_t)k);
		o += k;
	} else {
		int e = n - 1;

		*o++ = dig[0];
		if (k > 1) {
			*o++ = '.';
			memcpy(o, dig + 1, (size_t)(k - 1));
			o += k - 1;
		}
		*o++ = 'e';
		*o++ = e < 0 ? '-' : '+';
		o += u64_to_digits(o, (uint64_t)(e < 0 ? -e : e));
	}
	*o = '\0';
	return (size_t)(o - out);
}
