/*
 * The one JSON lexer and UTF-8 validator (see jlex.h).
 *
 * Every rule of a token is written here once: what a string may contain and
 * how its escapes decode, which UTF-8 is well formed, which code points I-JSON
 * forbids, the number grammar and the conversion of a number to the nearest
 * double. The tree parser and the streaming reader differ only in what they do
 * around a token: the tree parser lexes a whole document in place, the stream
 * lexes one chunk at a time and assembles the elements that cross a boundary.
 */
#include "format/jlex.h"
#include "format/hex.h"
#include "format/jcs_int.h"
#include "tfattest/sys/guard.h"
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define JLEX_EXACT_FP 1
#else
#define JLEX_EXACT_FP 0
#endif

/* Significant digits handed to strtod; beyond this only a sticky digit matters. */
#define MAX_NUM_DIGITS 800

const uint8_t tfa_jlex_ws[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};

/* ---- strings ------------------------------------------------------------------------------- */

static inline uint64_t at_off(const tfa_jlex *lx, const uint8_t *p)
{
	return lx->base_off + (uint64_t)(p - lx->base);
}

/* The value of four hex digits, or -1. */
static long hex4(const uint8_t *s)
{
	int a = tfa_hexval(s[0]), b = tfa_hexval(s[1]), c = tfa_hexval(s[2]), d = tfa_hexval(s[3]);

	if ((a | b | c | d) < 0)
		return -1;
	return (long)((a << 12) | (b << 8) | (c << 4) | d);
}

static size_t put_utf8(uint8_t *w, unsigned long cp)
{
	if (cp < 0x80) {
		w[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		w[0] = (uint8_t)(0xC0 | (cp >> 6));
		w[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		w[0] = (uint8_t)(0xE0 | (cp >> 12));
		w[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		w[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	w[0] = (uint8_t)(0xF0 | (cp >> 18));
	w[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
	w[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
	w[3] = (uint8_t)(0x80 | (cp & 0x3F));
	return 4;
}

size_t tfa_jlex_elem_need(const tfa_jlex *lx, const uint8_t *s, size_t have)
{
	long u;
	size_t n;

	if (s[0] != '\\') {
		n = tfa_utf8_lead_len(s[0]);
		return n ? n : 1;
	}
	if (have < 2 || s[1] != 'u')
		return 2;
	if (lx->canonical || have < 6)
		return 6;
	u = hex4(s + 2);
	if (u < 0xD800 || u > 0xDBFF)
		return 6;
	if (have < 8)
		return 8;
	return s[6] == '\\' && s[7] == 'u' ? 12 : 6;
}

/*
 * The escape whose backslash is at r: its decoded bytes into out (at most 4),
 * their count into *outlen and the escape's length into *inlen.
 */
static tfa_err lex_escape(const tfa_jlex *lx, uint64_t quote_off, const uint8_t *r, uint8_t *out,
			  size_t *outlen, size_t *inlen)
{
	tfa_err rc = TFA_OK;
	long u;

	*inlen = 2;
	*outlen = 1;
	switch (r[1]) {
	case '"': out[0] = '"'; goto out;
	case '\\': out[0] = '\\'; goto out;
	case 'b': out[0] = '\b'; goto out;
	case 'f': out[0] = '\f'; goto out;
	case 'n': out[0] = '\n'; goto out;
	case 'r': out[0] = '\r'; goto out;
	case 't': out[0] = '\t'; goto out;
	case '/':
		if (lx->canonical)
			goto noncanon;
		out[0] = '/';
		goto out;
	case 'u': break;
	default:
		if (r + 1 >= lx->end)
			TFA_BAIL(TFA_EFORMAT, "json: unterminated string at byte %" PRIu64,
				 quote_off);
		TFA_BAIL(TFA_EFORMAT, "json: invalid escape sequence at byte %" PRIu64,
			 at_off(lx, r));
	}
	*inlen = 6;
	if (lx->canonical) {
		/* Only \u00xx, lowercase, for the controls without a short form. */
		uint8_t v;

		if (r[2] != '0' || r[3] != '0' || (r[4] != '0' && r[4] != '1'))
			goto noncanon;
		if (r[5] >= '0' && r[5] <= '9')
			v = (uint8_t)(r[5] - '0');
		else if (r[5] >= 'a' && r[5] <= 'f')
			v = (uint8_t)(r[5] - 'a' + 10);
		else
			goto noncanon;
		v = (uint8_t)(v + (r[4] - '0') * 16);
		if (v == '\b' || v == '\t' || v == '\n' || v == '\f' || v == '\r')
			goto noncanon;
		out[0] = v;
		goto out;
	}
	u = hex4(r + 2);
	if (u < 0)
		TFA_BAIL(TFA_EFORMAT, "json: invalid \\u escape at byte %" PRIu64, at_off(lx, r));
	if (u >= 0xDC00 && u <= 0xDFFF)
		TFA_BAIL(TFA_EFORMAT, "json: lone low surrogate \\u%04lX at byte %" PRIu64, u,
			 at_off(lx, r));
	if (u >= 0xD800 && u <= 0xDBFF) {
		long lo = r[6] == '\\' && r[7] == 'u' ? hex4(r + 8) : -1;

		if (lo < 0xDC00 || lo > 0xDFFF)
			TFA_BAIL(TFA_EFORMAT, "json: lone high surrogate \\u%04lX at byte %" PRIu64,
				 u, at_off(lx, r));
		u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
		*inlen = 12;
	}
	if (tfa_cp_is_nonchar((unsigned long)u))
		TFA_BAIL(TFA_EFORMAT, "json: Unicode noncharacter in string at byte %" PRIu64,
			 at_off(lx, r));
	*outlen = put_utf8(out, (unsigned long)u);
	goto out;
noncanon:
	TFA_BAIL(TFA_EFORMAT, "json: escape sequence at byte %" PRIu64 " is not canonical",
		 at_off(lx, r));
out:
	return rc;
}

tfa_err tfa_jlex_string(const tfa_jlex *lx, uint64_t quote_off, const uint8_t **rp, uint8_t **wp,
			const uint8_t *wend, tfa_jlex_stop *stop)
{
	tfa_err rc = TFA_OK;
	const uint8_t *r = *rp;
	uint8_t *w = *wp;

	for (;;) {
		const uint8_t *run = r;
		size_t n;
		uint8_t c;

		r = tfa_jlex_plain(r);
		c = *r;
		n = (size_t)(r - run);
		if (n) {
			if (n > (size_t)(wend - w)) {
				r = run;
				*stop = TFA_JLEX_FULL;
				goto out;
			}
			if (w != run)
				memmove(w, run, n);
			w += n;
		}
		if (c == '"') {
			*stop = TFA_JLEX_DONE;
			goto out;
		}
		if (r >= lx->end) {
			if (!lx->final) {
				*stop = TFA_JLEX_MORE;
				goto out;
			}
			TFA_BAIL(TFA_EFORMAT, "json: unterminated string at byte %" PRIu64,
				 quote_off);
		}
		if (c < 0x20)
			TFA_BAIL(
			    TFA_EFORMAT,
			    "json: unescaped control character 0x%02x in string at byte %" PRIu64,
			    c, at_off(lx, r));
		if (!lx->final &&
		    tfa_jlex_elem_need(lx, r, (size_t)(lx->end - r)) > (size_t)(lx->end - r)) {
			*stop = TFA_JLEX_MORE;
			goto out;
		}
		if (c == '\\') {
			uint8_t tmp[4];
			size_t in, out;

			TFA_GUARD(lex_escape(lx, quote_off, r, tmp, &out, &in));
			if (out > (size_t)(wend - w)) {
				*stop = TFA_JLEX_FULL;
				goto out;
			}
			memcpy(w, tmp, out);
			w += out;
			r += in;
			continue;
		}
		/* c >= 0x80 */
		n = tfa_utf8_seq_len(r, (size_t)(lx->end - r));
		if (n == 0)
			TFA_BAIL(TFA_EFORMAT, "json: invalid UTF-8 in string at byte %" PRIu64,
				 at_off(lx, r));
		if (tfa_utf8_is_nonchar(r, n))
			TFA_BAIL(TFA_EFORMAT,
				 "json: Unicode noncharacter in string at byte %" PRIu64,
				 at_off(lx, r));
		if (n > (size_t)(wend - w)) {
			*stop = TFA_JLEX_FULL;
			goto out;
		}
		if (w != r)
			memmove(w, r, n);
		w += n;
		r += n;
	}
out:
	*rp = r;
	*wp = w;
	return rc;
}

/* ---- numbers ------------------------------------------------------------------------------- */

static inline bool is_digit(uint8_t c)
{
	return (uint8_t)(c - '0') < 10;
}

tfa_jlex_numerr tfa_jlex_number(const uint8_t *s, tfa_jlex_num *out, const uint8_t **at)
{
	const uint8_t *r = s;
	uint64_t m = 0;
	size_t nd = 0;	  /* significant digits (after leading zeros) */
	int64_t frac = 0; /* digits after the point */
	int64_t exp10 = 0;

	*at = s;
	out->start = s;
	out->neg = *r == '-';
	if (out->neg)
		r++;
	out->int0 = r;
	if (*r == '0') {
		r++;
		if (is_digit(*r))
			return TFA_JLEX_NUM_LEADING_ZERO;
	} else if (is_digit(*r)) {
		for (; is_digit(*r); r++) {
			if (nd < 19)
				m = m * 10 + (uint64_t)(*r - '0');
			nd++;
		}
	} else {
		return TFA_JLEX_NUM_INVALID;
	}
	out->int1 = out->frac0 = out->frac1 = r;
	if (*r == '.') {
		r++;
		out->frac0 = r;
		if (!is_digit(*r)) {
			*at = r;
			return TFA_JLEX_NUM_FRAC;
		}
		for (; is_digit(*r); r++) {
			frac++;
			if (nd == 0 && *r == '0')
				continue;
			if (nd < 19)
				m = m * 10 + (uint64_t)(*r - '0');
			nd++;
		}
		out->frac1 = r;
	}
	out->has_exp = *r == 'e' || *r == 'E';
	if (out->has_exp) {
		bool eneg = false;

		r++;
		if (*r == '+' || *r == '-')
			eneg = *r++ == '-';
		if (!is_digit(*r)) {
			*at = r;
			return TFA_JLEX_NUM_EXP;
		}
		/* Saturates far beyond anything a finite, non-zero result needs. */
		for (; is_digit(*r); r++)
			if (exp10 < INT64_C(100000000000000000))
				exp10 = exp10 * 10 + (*r - '0');
		if (eneg)
			exp10 = -exp10;
	}
	out->end = r;
	out->m = m;
	out->nd = nd;
	out->exp10 = exp10 - frac;
	return TFA_JLEX_NUM_OK;
}

static const double pow10_exact[23] = {
    1e0,  1e1,	1e2,  1e3,  1e4,  1e5,	1e6,  1e7,  1e8,  1e9,	1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*
 * Converts the significant digits with strtod, using a "DIGITSe[-]EXP" string
 * (no decimal point, so the locale does not matter).
 */
static tfa_err slow_number(const tfa_jlex_num *num, double *out)
{
	tfa_err rc = TFA_OK;
	char t[MAX_NUM_DIGITS + 32];
	size_t nd = 0, dropped = 0;
	bool sticky = false, seen = false;
	int64_t exp10 = num->exp10;

	for (const uint8_t *s = num->int0; s < num->frac1; s++) {
		uint8_t c = *s;

		if (c == '.')
			continue;
		if (!seen && c == '0')
			continue;
		seen = true;
		if (nd < MAX_NUM_DIGITS) {
			t[nd++] = (char)c;
		} else {
			dropped++;
			if (c != '0')
				sticky = true;
		}
	}
	exp10 += (int64_t)dropped;
	if (sticky) {
		t[nd++] = '1';
		exp10--;
	}
	/* Beyond these bounds the result is 0 or infinite whatever the digits. */
	if (exp10 > 999999)
		exp10 = 999999;
	if (exp10 < -999999)
		exp10 = -999999;
	{
		int n = snprintf(t + nd, 16, "e%d", (int)exp10);

		if (n <= 0 || n >= 16)
			TFA_BAIL(TFA_EINTERNAL, "number conversion failed");
	}
	*out = strtod(t, NULL);
out:
	return rc;
}

tfa_err tfa_jlex_number_value(const tfa_jlex_num *num, uint64_t at, double *out)
{
	tfa_err rc = TFA_OK;
	int64_t e = num->exp10;
	double v;

	if (num->nd == 0) {
		v = 0.0;
	} else if (JLEX_EXACT_FP && num->nd <= 19 && num->m <= (UINT64_C(1) << 53) && e >= -22 &&
		   e <= 22) {
		/* Clinger: both operands exact, one correctly rounded operation. */
		v = (double)num->m;
		v = e >= 0 ? v * pow10_exact[e] : v / pow10_exact[-e];
	} else {
		/* exp10 counts from the last digit, which is what slow_number wants. */
		TFA_GUARD(slow_number(num, &v));
		if (isinf(v))
			TFA_BAIL(TFA_EFORMAT, "json: number out of range at byte %" PRIu64, at);
	}
	*out = num->neg ? -v : v;
out:
	return rc;
}
