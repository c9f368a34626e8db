/*
 * Streaming pull reader for RFC 8785 canonical JSON (see jstream.h).
 *
 * The input sits in one fixed chunk followed by NUL padding, so string scans
 * can load eight bytes at a time and stop on the padding like on any control
 * character; a chunk is refilled only once every byte of it was consumed, and
 * that is when the on_bytes hook sees it. Tokens that cross a chunk boundary
 * (strings, escapes, UTF-8 sequences, numbers, literals) are assembled byte
 * by byte from the old and the new chunk.
 *
 * Key order is checked against the previous key of the innermost object only.
 * Keys of the open objects live on one stack: when a key is read, every
 * deeper object is closed, so the object's previous key is on top.
 *
 * Numbers are checked by printing: a token is canonical exactly when it is
 * what tfa_jcs_format_number() prints for its value. Canonical forms are at
 * most 24 bytes, so longer tokens are rejected before conversion; short plain
 * integers (up to 15 digits, below 2^53) are their own canonical form and skip
 * the conversion.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format/hex.h"
#include "format/jcs_int.h"
#include "format/jstream.h"
#include "tfattest/sys/guard.h"

#define JS_CHUNK ((size_t)64 * 1024)
/* NUL bytes after the data in the chunk: covers one 8-byte load past the end. */
#define JS_PAD 16
/* Longer than any number tfa_jcs_format_number() prints. */
#define JS_NUM_MAX 32
/* The first allocation for the current string and the key stack. */
#define JS_STR_INIT 256

enum js_state {
	S_START,        /* before the root value */
	S_VALUE,        /* a value must follow (after ':' or an array's ',') */
	S_FIRST_ARRAY,  /* after '[': a value or ']' */
	S_FIRST_OBJECT, /* after '{': a key or '}' */
	S_AFTER,        /* after a value in a container: ',' or the close */
	S_DONE,         /* the root value is complete: the input must end */
	S_END           /* TFA_JS_END was returned */
};

struct tfa_jstream {
	tfa_js_read_fn read;
	void *ud;
	tfa_js_bytes_fn hook;
	void *hook_ud;
	int fd; /* for tfa_jstream_new_fd */

	uint8_t *buf;  /* JS_CHUNK + JS_PAD bytes */
	size_t pos;    /* next byte to consume */
	size_t len;    /* bytes of data in buf */
	size_t hooked; /* buf[hooked..pos) not yet handed to the hook */
	uint64_t base; /* document offset of buf[0] */
	bool eof;

	size_t max_string;
	uint64_t max_total;

	enum js_state state;
	tfa_err failed;
	tfa_js_token last;

	uint8_t *str; /* current string or key, NUL-terminated */
	size_t slen, scap;
	double num;

	size_t depth;
	uint8_t kind[TFA_JSON_MAX_DEPTH];    /* '{' or '[' per open container */
	bool haskey[TFA_JSON_MAX_DEPTH];     /* the object has had a key */
	size_t keyoff[TFA_JSON_MAX_DEPTH];   /* where its previous key starts in keys */
	uint8_t *keys;
	size_t klen, kcap;
};

/* ---- byte access ------------------------------------------------------------------------- */

static inline uint64_t off(const tfa_jstream *js)
{
	return js->base + js->pos;
}

static void hook_flush(tfa_jstream *js)
{
	if (js->hook != NULL && js->pos > js->hooked)
		js->hook(js->hook_ud, js->buf + js->hooked, js->pos - js->hooked);
	js->hooked = js->pos;
}

/* Replaces the fully consumed chunk with the next one; at the end, js->len stays 0. */
static tfa_err refill(tfa_jstream *js)
{
	tfa_err rc = TFA_OK;
	size_t want = JS_CHUNK;
	ssize_t n;

	hook_flush(js);
	js->base += js->len;
	js->pos = js->len = js->hooked = 0;
	memset(js->buf, 0, JS_PAD);
	if (js->eof)
		goto out;
	/* Ask for at most one byte beyond the cap: enough to know it is exceeded. */
	if (js->max_total - js->base < want - 1)
		want = (size_t)(js->max_total - js->base) + 1;
	do {
		n = js->read(js->ud, js->buf, want);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		TFA_BAIL(TFA_EIO, "json: read failed at byte %" PRIu64 ": %s", js->base,
			 strerror(errno));
	if ((size_t)n > want)
		TFA_BAIL(TFA_EIO, "json: read returned more than asked at byte %" PRIu64, js->base);
	if (n == 0) {
		js->eof = true;
		goto out;
	}
	js->len = (size_t)n;
	memset(js->buf + js->len, 0, JS_PAD);
	if (js->base + js->len > js->max_total)
		TFA_BAIL(TFA_EFORMAT,
			 "json: document longer than %" PRIu64 " bytes at byte %" PRIu64,
			 js->max_total, js->max_total);
out:
	return rc;
}

/* The next byte without consuming it, or -1 at the end of the input. */
static inline tfa_err peekc(tfa_jstream *js, int *c)
{
	tfa_err rc;

	if (js->pos < js->len) {
		*c = js->buf[js->pos];
		return TFA_OK;
	}
	if ((rc = refill(js)) != TFA_OK)
		return rc;
	*c = js->len ? js->buf[0] : -1;
	return TFA_OK;
}

/* Consumes the next byte, or gives -1 at the end of the input. */
static inline tfa_err getc_(tfa_jstream *js, int *c)
{
	tfa_err rc;

	if ((rc = peekc(js, c)) != TFA_OK)
		return rc;
	if (*c >= 0)
		js->pos++;
	return TFA_OK;
}

/* The error for byte c (-1: the end) at offset at, which was not what `what` says. */
static tfa_err unexpected(int c, uint64_t at, const char *what)
{
	if (c < 0)
		return tfa_error_set(TFA_EFORMAT,
				     "json: unexpected end of input at byte %" PRIu64 ", %s", at, what);
	if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
		return tfa_error_set(TFA_EFORMAT,
				     "json: white space at byte %" PRIu64 " is not canonical", at);
	if (c > 0x20 && c < 0x7f)
		return tfa_error_set(TFA_EFORMAT, "json: unexpected '%c' at byte %" PRIu64 ", %s", c,
				     at, what);
	return tfa_error_set(TFA_EFORMAT, "json: unexpected byte 0x%02x at byte %" PRIu64 ", %s", c,
			     at, what);
}

/* ---- strings ----------------------------------------------------------------------------- */

static tfa_err str_append(tfa_jstream *js, const uint8_t *p, size_t n, uint64_t start)
{
	if (n == 0)
		return TFA_OK;
	if (n > js->max_string - js->slen)
		return tfa_error_set(TFA_EFORMAT,
				     "json: string longer than %zu bytes at byte %" PRIu64,
				     js->max_string, start);
	if (js->slen + n >= js->scap) {
		/* max_string is clamped below SIZE_MAX / 2, so this cannot overflow. */
		size_t ncap = js->scap * 2;
		uint8_t *s;

		if (ncap < js->slen + n + 1)
			ncap = js->slen + n + 1;
		if (ncap > js->max_string + 1)
			ncap = js->max_string + 1;
		s = realloc(js->str, ncap);
		if (s == NULL)
			return tfa_error_set(TFA_EINTERNAL, "out of memory");
		js->str = s;
		js->scap = ncap;
	}
	memcpy(js->str + js->slen, p, n);
	js->slen += n;
	return TFA_OK;
}

/* Length of the UTF-8 sequence that lead byte c starts, or 0 when c cannot lead. */
static inline size_t utf8_need(uint8_t c)
{
	if (c >= 0xC2 && c <= 0xDF)
		return 2;
	if (c >= 0xE0 && c <= 0xEF)
		return 3;
	if (c >= 0xF0 && c <= 0xF4)
		return 4;
	return 0;
}

/*
 * Whether the n-byte sequence at s (n from utf8_need) is well formed: no
 * overlongs, no encoded surrogates, nothing above U+10FFFF.
 */
static bool utf8_ok(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];

	if (n == 2)
		return (s[1] & 0xC0) == 0x80;
	if (n == 3) {
		uint8_t lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80;
	}
	{
		uint8_t lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80;
	}
}

/* The UTF-8 sequence whose lead byte is next. */
static tfa_err read_utf8(tfa_jstream *js, uint64_t start)
{
	tfa_err rc = TFA_OK;
	uint64_t at = off(js);
	size_t n = utf8_need(js->buf[js->pos]);
	uint8_t tmp[4];

	if (n == 0)
		TFA_BAIL(TFA_EFORMAT, "json: invalid UTF-8 in string at byte %" PRIu64, at);
	if (js->len - js->pos >= n) {
		if (!utf8_ok(js->buf + js->pos, n))
			TFA_BAIL(TFA_EFORMAT, "json: invalid UTF-8 in string at byte %" PRIu64, at);
		if (tfa_utf8_is_nonchar(js->buf + js->pos, n))
			TFA_BAIL(TFA_EFORMAT,
				 "json: Unicode noncharacter in string at byte %" PRIu64, at);
		TFA_GUARD(str_append(js, js->buf + js->pos, n, start));
		js->pos += n;
		goto out;
	}
	/* The sequence crosses into the next chunk. */
	for (size_t i = 0; i < n; i++) {
		int c;

		TFA_GUARD(getc_(js, &c));
		if (c < 0)
			TFA_BAIL(TFA_EFORMAT, "json: unterminated string at byte %" PRIu64, start);
		tmp[i] = (uint8_t)c;
	}
	if (!utf8_ok(tmp, n))
		TFA_BAIL(TFA_EFORMAT, "json: invalid UTF-8 in string at byte %" PRIu64, at);
	if (tfa_utf8_is_nonchar(tmp, n))
		TFA_BAIL(TFA_EFORMAT, "json: Unicode noncharacter in string at byte %" PRIu64, at);
	TFA_GUARD(str_append(js, tmp, n, start));
out:
	return rc;
}

/* The escape whose backslash is next: only the forms RFC 8785 writes. */
static tfa_err read_escape(tfa_jstream *js, uint64_t start)
{
	tfa_err rc = TFA_OK;
	uint64_t at = off(js);
	uint8_t v;
	int c;

	js->pos++; /* the backslash, known to be in the chunk */
	TFA_GUARD(getc_(js, &c));
	switch (c) {
	case '"': v = '"'; break;
	case '\\': v = '\\'; break;
	case 'b': v = '\b'; break;
	case 'f': v = '\f'; break;
	case 'n': v = '\n'; break;
	case 'r': v = '\r'; break;
	case 't': v = '\t'; break;
	case 'u': {
		int h[4];
		char d;

		for (int i = 0; i < 4; i++) {
			TFA_GUARD(getc_(js, &h[i]));
			if (h[i] < 0)
				TFA_BAIL(TFA_EFORMAT, "json: unterminated string at byte %" PRIu64,
					 start);
		}
		if (h[0] != '0' || h[1] != '0' || (h[2] != '0' && h[2] != '1'))
			goto noncanon;
		d = (char)h[3];
		if (!tfa_is_lowerhex(&d, 1))
			goto noncanon;
		v = (uint8_t)tfa_hexval(d);
		v = (uint8_t)(v + (h[2] - '0') * 16);
		/* These have a two-character form, which RFC 8785 uses. */
		if (v == '\b' || v == '\t' || v == '\n' || v == '\f' || v == '\r')
			goto noncanon;
		break;
	}
	case '/':
		goto noncanon;
	case -1:
		TFA_BAIL(TFA_EFORMAT, "json: unterminated string at byte %" PRIu64, start);
	default:
		TFA_BAIL(TFA_EFORMAT, "json: invalid escape sequence at byte %" PRIu64, at);
	}
	TFA_GUARD(str_append(js, &v, 1, start));
	goto out;
noncanon:
	TFA_BAIL(TFA_EFORMAT, "json: escape sequence at byte %" PRIu64 " is not canonical", at);
out:
	return rc;
}

/* The string whose opening quote was just consumed, unescaped into js->str. */
static tfa_err read_string(tfa_jstream *js)
{
	tfa_err rc = TFA_OK;
	uint64_t start = off(js) - 1;

	js->slen = 0;
	for (;;) {
		const uint8_t *b = js->buf, *p = b + js->pos, *e = b + js->len, *run = p;
		uint8_t c;

		/* Plain printable ASCII other than '"' and '\\', eight bytes at a time;
		 * the NUL padding stops the scan at the end of the chunk. */
		for (;;) {
			uint64_t x = tfa_load64(p);

			if ((tfa_any_below(x, 0x20) | tfa_any_equal(x, '"') | tfa_any_equal(x, '\\') |
			     (x & TFA_SWAR_HIGHS)) != 0)
				break;
			p += 8;
		}
		while ((c = *p) >= 0x20 && c < 0x80 && c != '"' && c != '\\')
			p++;
		TFA_GUARD(str_append(js, run, (size_t)(p - run), start));
		js->pos = (size_t)(p - b);
		if (p == e) {
			TFA_GUARD(refill(js));
			if (js->len == 0)
				TFA_BAIL(TFA_EFORMAT, "json: unterminated string at byte %" PRIu64,
					 start);
			continue;
		}
		if (c == '"') {
			js->pos++;
			break;
		}
		if (c == '\\') {
			TFA_GUARD(read_escape(js, start));
			continue;
		}
		if (c < 0x20)
			TFA_BAIL(TFA_EFORMAT,
				 "json: unescaped control character 0x%02x in string at byte %" PRIu64,
				 c, off(js));
		TFA_GUARD(read_utf8(js, start));
	}
	js->str[js->slen] = '\0';
out:
	return rc;
}

/* Checks the key in js->str against the innermost object's previous key and replaces it. */
static tfa_err key_order(tfa_jstream *js, uint64_t at)
{
	tfa_err rc = TFA_OK;
	size_t d = js->depth - 1, ko = js->keyoff[d];

	if (js->haskey[d]) {
		int c = tfa_jcs_keycmp(js->str, js->slen, js->keys + ko, js->klen - ko);

		if (c == 0)
			TFA_BAIL(TFA_EFORMAT, "json: duplicate object key at byte %" PRIu64, at);
		if (c < 0)
			TFA_BAIL(TFA_EFORMAT,
				 "json: object key at byte %" PRIu64 " is out of canonical order", at);
	}
	if (js->slen > js->kcap - ko) {
		size_t ncap = js->kcap * 2;
		uint8_t *k;

		if (ncap < ko + js->slen)
			ncap = ko + js->slen;
		k = realloc(js->keys, ncap);
		if (k == NULL)
			TFA_BAIL(TFA_EINTERNAL, "out of memory");
		js->keys = k;
		js->kcap = ncap;
	}
	if (js->slen)
		memcpy(js->keys + ko, js->str, js->slen);
	js->klen = ko + js->slen;
	js->haskey[d] = true;
out:
	return rc;
}

/* ---- numbers and literals ---------------------------------------------------------------- */

static inline bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_numchar(int c)
{
	return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* Checks the number token t (n bytes, NUL-terminated) starting at byte at; sets js->num. */
static tfa_err check_number(tfa_jstream *js, const char *t, size_t n, uint64_t at)
{
	tfa_err rc = TFA_OK;
	size_t i = 0, int0, int1, frac0 = 0, frac1 = 0;
	long exp10 = 0;
	bool neg = false, eneg = false, has_exp = false;

	if (t[i] == '-') {
		neg = true;
		i++;
	}
	int0 = i;
	if (t[i] == '0')
		i++;
	else if (t[i] >= '1' && t[i] <= '9')
		while (is_digit(t[i]))
			i++;
	else
		TFA_BAIL(TFA_EFORMAT, "json: invalid number at byte %" PRIu64, at);
	if (is_digit(t[i]))
		TFA_BAIL(TFA_EFORMAT, "json: leading zero in number at byte %" PRIu64, at);
	int1 = i;
	if (t[i] == '.') {
		frac0 = ++i;
		while (is_digit(t[i]))
			i++;
		frac1 = i;
		if (frac1 == frac0)
			TFA_BAIL(TFA_EFORMAT, "json: invalid number at byte %" PRIu64, at);
	}
	if (t[i] == 'e' || t[i] == 'E') {
		size_t e0;

		has_exp = true;
		i++;
		if (t[i] == '+' || t[i] == '-')
			eneg = t[i++] == '-';
		e0 = i;
		/* Saturates far beyond any finite, non-zero result. */
		for (; is_digit(t[i]); i++)
			if (exp10 < 100000000)
				exp10 = exp10 * 10 + (t[i] - '0');
		if (i == e0)
			TFA_BAIL(TFA_EFORMAT, "json: invalid number at byte %" PRIu64, at);
	}
	if (i != n)
		TFA_BAIL(TFA_EFORMAT, "json: invalid number at byte %" PRIu64, at);

	if (frac1 == frac0 && !has_exp && int1 - int0 <= 15) {
		/* A plain integer below 10^15 < 2^53 prints as its digits, except -0. */
		uint64_t m = 0;

		if (neg && t[int0] == '0')
			TFA_BAIL(TFA_EFORMAT, "json: number at byte %" PRIu64 " is not canonical", at);
		for (i = int0; i < int1; i++)
			m = m * 10 + (uint64_t)(t[i] - '0');
		js->num = neg ? -(double)m : (double)m;
		goto out;
	}
	{
		/* "DIGITSe[-]EXP" has no decimal point, so strtod's locale does not matter. */
		char d[JS_NUM_MAX + 32], fmt[32];
		size_t k = 0;
		int w;
		double v;

		if (neg)
			d[k++] = '-';
		memcpy(d + k, t + int0, int1 - int0);
		k += int1 - int0;
		memcpy(d + k, t + frac0, frac1 - frac0);
		k += frac1 - frac0;
		w = snprintf(d + k, sizeof(d) - k, "e%ld",
			     (eneg ? -exp10 : exp10) - (long)(frac1 - frac0));
		if (w <= 0 || (size_t)w >= sizeof(d) - k)
			TFA_BAIL(TFA_EFORMAT, "json: number out of range at byte %" PRIu64, at);
		v = strtod(d, NULL);
		if (!isfinite(v))
			TFA_BAIL(TFA_EFORMAT, "json: number out of range at byte %" PRIu64, at);
		if (tfa_jcs_format_number(fmt, v) != n || memcmp(fmt, t, n) != 0)
			TFA_BAIL(TFA_EFORMAT, "json: number at byte %" PRIu64 " is not canonical", at);
		js->num = v;
	}
out:
	return rc;
}

static tfa_err read_number(tfa_jstream *js)
{
	tfa_err rc = TFA_OK;
	uint64_t at = off(js);
	char t[JS_NUM_MAX + 1];
	size_t n = 0;
	int c;

	for (;;) {
		TFA_GUARD(peekc(js, &c));
		if (!is_numchar(c))
			break;
		if (n == JS_NUM_MAX)
			TFA_BAIL(TFA_EFORMAT, "json: number at byte %" PRIu64 " is not canonical", at);
		t[n++] = (char)c;
		js->pos++;
	}
	t[n] = '\0';
	TFA_GUARD(check_number(js, t, n, at));
out:
	return rc;
}

static tfa_err read_literal(tfa_jstream *js, const char *lit)
{
	tfa_err rc = TFA_OK;
	uint64_t at = off(js);

	for (; *lit; lit++) {
		int c;

		TFA_GUARD(getc_(js, &c));
		if (c != (uint8_t)*lit)
			TFA_BAIL(TFA_EFORMAT, "json: invalid literal at byte %" PRIu64, at);
	}
out:
	return rc;
}

/* ---- tokens ------------------------------------------------------------------------------ */

static tfa_err next_token(tfa_jstream *js, tfa_js_token *tok)
{
	tfa_err rc = TFA_OK;
	uint64_t at;
	int c;

	switch (js->state) {
	case S_END:
		*tok = TFA_JS_END;
		goto out;
	case S_DONE:
		TFA_GUARD(peekc(js, &c));
		if (c >= 0)
			TFA_BAIL(TFA_EFORMAT, "json: unexpected data after the document at byte %" PRIu64,
				 off(js));
		hook_flush(js);
		js->state = S_END;
		*tok = TFA_JS_END;
		goto out;
	case S_START:
		TFA_GUARD(peekc(js, &c));
		if (c < 0)
			TFA_BAIL(TFA_EFORMAT, "json: empty document at byte %" PRIu64, off(js));
		goto value;
	case S_VALUE:
		goto value;
	case S_FIRST_ARRAY:
		TFA_GUARD(peekc(js, &c));
		if (c == ']') {
			js->pos++;
			goto close;
		}
		goto value;
	case S_FIRST_OBJECT:
		TFA_GUARD(peekc(js, &c));
		if (c == '}') {
			js->pos++;
			goto close;
		}
		goto key;
	case S_AFTER: {
		uint8_t k = js->kind[js->depth - 1];

		at = off(js);
		TFA_GUARD(getc_(js, &c));
		if (c == ',') {
			if (k == '{')
				goto key;
			goto value;
		}
		if (c == (k == '{' ? '}' : ']'))
			goto close;
		TFA_GUARD(unexpected(c, at,
				     k == '{' ? "expected ',' or '}'" : "expected ',' or ']'"));
	}
	}
	TFA_BAIL(TFA_EINTERNAL, "json: corrupt stream state");

key:
	at = off(js);
	TFA_GUARD(getc_(js, &c));
	if (c != '"')
		TFA_GUARD(unexpected(c, at, "expected a string key"));
	TFA_GUARD(read_string(js));
	TFA_GUARD(key_order(js, at));
	at = off(js);
	TFA_GUARD(getc_(js, &c));
	if (c != ':')
		TFA_GUARD(unexpected(c, at, "expected ':'"));
	js->state = S_VALUE;
	*tok = TFA_JS_KEY;
	goto out;

value:
	at = off(js);
	TFA_GUARD(peekc(js, &c));
	switch (c) {
	case '{':
	case '[':
		if (js->depth >= TFA_JSON_MAX_DEPTH)
			TFA_BAIL(TFA_EFORMAT, "json: nesting deeper than %d levels at byte %" PRIu64,
				 TFA_JSON_MAX_DEPTH, at);
		js->pos++;
		js->kind[js->depth] = (uint8_t)c;
		js->haskey[js->depth] = false;
		js->keyoff[js->depth] = js->klen;
		js->depth++;
		js->state = c == '{' ? S_FIRST_OBJECT : S_FIRST_ARRAY;
		*tok = c == '{' ? TFA_JS_BEGIN_OBJECT : TFA_JS_BEGIN_ARRAY;
		goto out;
	case '"':
		js->pos++;
		TFA_GUARD(read_string(js));
		*tok = TFA_JS_STRING;
		break;
	case 't':
		TFA_GUARD(read_literal(js, "true"));
		*tok = TFA_JS_TRUE;
		break;
	case 'f':
		TFA_GUARD(read_literal(js, "false"));
		*tok = TFA_JS_FALSE;
		break;
	case 'n':
		TFA_GUARD(read_literal(js, "null"));
		*tok = TFA_JS_NULL;
		break;
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		TFA_GUARD(read_number(js));
		*tok = TFA_JS_NUMBER;
		break;
	default:
		TFA_GUARD(unexpected(c, at, "expected a value"));
	}
	js->state = js->depth ? S_AFTER : S_DONE;
	goto out;

close:
	js->depth--;
	js->klen = js->keyoff[js->depth];
	*tok = js->kind[js->depth] == '{' ? TFA_JS_END_OBJECT : TFA_JS_END_ARRAY;
	js->state = js->depth ? S_AFTER : S_DONE;
out:
	return rc;
}

tfa_err tfa_jstream_next(tfa_jstream *js, tfa_js_token *tok)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE_ARG(js);
	TFA_ENSURE_ARG(tok);
	if (js->failed != TFA_OK)
		TFA_BAIL(js->failed, "json: the stream already failed before byte %" PRIu64, off(js));
	rc = next_token(js, tok);
	if (rc != TFA_OK) {
		js->failed = rc;
		js->last = TFA_JS_END;
		goto out;
	}
	js->last = *tok;
out:
	return rc;
}

tfa_err tfa_jstream_skip(tfa_jstream *js)
{
	tfa_err rc = TFA_OK;
	tfa_js_token tok;
	size_t depth;
	int c;

	TFA_ENSURE_ARG(js);
	if (js->failed != TFA_OK)
		TFA_BAIL(js->failed, "json: the stream already failed before byte %" PRIu64, off(js));
	switch (js->state) {
	case S_START:
	case S_VALUE:
		break;
	case S_FIRST_ARRAY:
	case S_AFTER:
		if (js->kind[js->depth - 1] != '[')
			TFA_BAIL(TFA_EUSAGE, "json: no value to skip at byte %" PRIu64, off(js));
		rc = peekc(js, &c);
		if (rc != TFA_OK) {
			js->failed = rc;
			goto out;
		}
		if (c == ']') {
			rc = TFA_ENOTFOUND;
			tfa_error_set(rc, "json: no array element to skip at byte %" PRIu64, off(js));
			goto out;
		}
		break;
	default:
		TFA_BAIL(TFA_EUSAGE, "json: no value to skip at byte %" PRIu64, off(js));
	}
	depth = js->depth;
	do
		TFA_GUARD(tfa_jstream_next(js, &tok));
	while (js->depth > depth);
out:
	return rc;
}

/* ---- construction and accessors ---------------------------------------------------------- */

tfa_err tfa_jstream_new(tfa_jstream **out, tfa_js_read_fn read_fn, void *ud, size_t max_string,
			uint64_t max_total)
{
	tfa_err rc = TFA_OK;
	tfa_jstream *js = NULL;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(read_fn);
	js = calloc(1, sizeof(*js));
	if (js == NULL)
		TFA_BAIL(TFA_EINTERNAL, "out of memory");
	js->read = read_fn;
	js->ud = ud;
	js->fd = -1;
	/* Keeps max_string + 1 and doubling capacities from overflowing. */
	js->max_string = max_string < SIZE_MAX / 4 ? max_string : SIZE_MAX / 4;
	js->max_total = max_total < UINT64_MAX - 1 ? max_total : UINT64_MAX - 1;
	js->state = S_START;
	js->last = TFA_JS_END;
	js->buf = malloc(JS_CHUNK + JS_PAD);
	js->scap = JS_STR_INIT;
	js->str = malloc(js->scap);
	js->kcap = JS_STR_INIT;
	js->keys = malloc(js->kcap);
	if (js->buf == NULL || js->str == NULL || js->keys == NULL)
		TFA_BAIL(TFA_EINTERNAL, "out of memory");
	memset(js->buf, 0, JS_PAD);
	js->str[0] = '\0';
	*out = js;
	js = NULL;
out:
	tfa_jstream_free(js);
	return rc;
}

static ssize_t fd_read(void *ud, void *buf, size_t n)
{
	const tfa_jstream *js = ud;

	return read(js->fd, buf, n);
}

tfa_err tfa_jstream_new_fd(tfa_jstream **out, int fd, size_t max_string, uint64_t max_total)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE(fd >= 0, TFA_EUSAGE, "invalid file descriptor");
	TFA_GUARD(tfa_jstream_new(out, fd_read, NULL, max_string, max_total));
	(*out)->ud = *out;
	(*out)->fd = fd;
out:
	return rc;
}

const char *tfa_jstream_str(const tfa_jstream *js, size_t *len)
{
	if (js == NULL || (js->last != TFA_JS_KEY && js->last != TFA_JS_STRING)) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = js->slen;
	return (const char *)js->str;
}

double tfa_jstream_num(const tfa_jstream *js)
{
	return js && js->last == TFA_JS_NUMBER ? js->num : 0.0;
}

size_t tfa_jstream_depth(const tfa_jstream *js)
{
	return js ? js->depth : 0;
}

uint64_t tfa_jstream_offset(const tfa_jstream *js)
{
	return js ? off(js) : 0;
}

void tfa_jstream_on_bytes(tfa_jstream *js, tfa_js_bytes_fn fn, void *ud)
{
	if (js == NULL)
		return;
	hook_flush(js); /* what the old hook is owed */
	js->hook = fn;
	js->hook_ud = ud;
}

void tfa_jstream_free(tfa_jstream *js)
{
	if (js == NULL)
		return;
	free(js->buf);
	free(js->str);
	free(js->keys);
	free(js);
}
