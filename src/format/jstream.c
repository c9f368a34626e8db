/*
 * Streaming pull reader for RFC 8785 canonical JSON (see jstream.h).
 *
 * Tokens are lexed by the lexer the tree parser uses (jlex.c), in its
 * canonical dialect. The input sits in one fixed chunk followed by the NUL
 * padding the lexer needs; a chunk is refilled only once every byte of it was
 * consumed, and that is when the on_bytes hook sees it. A string is lexed a
 * chunk at a time; the one escape or UTF-8 sequence that crosses a chunk
 * boundary is assembled byte by byte from the old and the new chunk, then
 * lexed whole. Numbers and literals are gathered byte by byte.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format/jcs_int.h"
#include "format/jlex.h"
#include "format/jstream.h"
#include "tfattest/sys/guard.h"

#define JS_CHUNK ((size_t)64 * 1024)
/* NUL bytes after the data in the chunk, which the lexer may read. */
#define JS_PAD TFA_JLEX_PAD
/* Longer than any number tfa_jcs_format_number() prints. */
#define JS_NUM_MAX 32
/* The first allocation for the current string and the key stack. */
#define JS_STR_INIT 256

enum js_state {
	S_START,	/* before the root value */
	S_VALUE,	/* a value must follow (after ':' or an array's ',') */
	S_FIRST_ARRAY,	/* after '[': a value or ']' */
	S_FIRST_OBJECT, /* after '{': a key or '}' */
	S_AFTER,	/* after a value in a container: ',' or the close */
	S_DONE,		/* the root value is complete: the input must end */
	S_END		/* TFA_JS_END was returned */
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
	uint8_t kind[TFA_JSON_MAX_DEPTH];  /* '{' or '[' per open container */
	bool haskey[TFA_JSON_MAX_DEPTH];   /* the object has had a key */
	size_t keyoff[TFA_JSON_MAX_DEPTH]; /* where its previous key starts in keys */
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
		return tfa_error_set(
		    TFA_EFORMAT, "json: unexpected end of input at byte %" PRIu64 ", %s", at, what);
	if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
		return tfa_error_set(TFA_EFORMAT,
				     "json: white space at byte %" PRIu64 " is not canonical", at);
	if (c > 0x20 && c < 0x7f)
		return tfa_error_set(TFA_EFORMAT, "json: unexpected '%c' at byte %" PRIu64 ", %s",
				     c, at, what);
	return tfa_error_set(TFA_EFORMAT, "json: unexpected byte 0x%02x at byte %" PRIu64 ", %s", c,
			     at, what);
}

/* ---- strings ----------------------------------------------------------------------------- */

/*
 * Lexes the string content at *r in lx's buffer into js->str, as far as the
 * buffer goes: every piece of output is checked against max_string before
 * it is written.
 */
static tfa_err lex_span(tfa_jstream *js, const tfa_jlex *lx, const uint8_t **r, uint64_t start,
			tfa_jlex_stop *stop)
{
	tfa_err rc = TFA_OK;
	size_t room = js->max_string - js->slen, avail = (size_t)(lx->end - *r);
	uint8_t *w;

	/* Unescaping never lengthens: the output fits in what is left of the input. */
	if (room > avail)
		room = avail;
	if (js->slen + room >= js->scap) {
		/* max_string is clamped below SIZE_MAX / 2, so this cannot overflow. */
		size_t ncap = js->scap * 2;
		uint8_t *s;

		if (ncap < js->slen + room + 1)
			ncap = js->slen + room + 1;
		if (ncap > js->max_string + 1)
			ncap = js->max_string + 1;
		s = realloc(js->str, ncap);
		if (s == NULL)
			TFA_BAIL(TFA_EINTERNAL, "out of memory");
		js->str = s;
		js->scap = ncap;
	}
	w = js->str + js->slen;
	rc = tfa_jlex_string(lx, start, r, &w, w + room, stop);
	js->slen = (size_t)(w - js->str);
	if (rc == TFA_OK && *stop == TFA_JLEX_FULL)
		TFA_BAIL(TFA_EFORMAT, "json: string longer than %zu bytes at byte %" PRIu64,
			 js->max_string, start);
out:
	return rc;
}

/*
 * The escape or UTF-8 sequence that starts at the end of the chunk and
 * crosses into the next one: its bytes are gathered, then lexed together.
 */
static tfa_err read_split(tfa_jstream *js, uint64_t start)
{
	tfa_err rc = TFA_OK;
	uint8_t tmp[12 + TFA_JLEX_PAD];
	tfa_jlex lx = {tmp, tmp, off(js), false, true};
	const uint8_t *r = tmp;
	size_t have = 0;
	tfa_jlex_stop stop;

	memset(tmp, 0, sizeof(tmp));
	while (have < tfa_jlex_elem_need(&lx, tmp, have)) {
		int c;

		TFA_GUARD(getc_(js, &c));
		if (c < 0)
			TFA_BAIL(TFA_EFORMAT, "json: unterminated string at byte %" PRIu64, start);
		tmp[have++] = (uint8_t)c;
	}
	lx.end = tmp + have;
	TFA_GUARD(lex_span(js, &lx, &r, start, &stop));
out:
	return rc;
}

/* The string whose opening quote was just consumed, unescaped into js->str. */
static tfa_err read_string(tfa_jstream *js)
{
	tfa_err rc = TFA_OK;
	uint64_t start = off(js) - 1;
	tfa_jlex lx = {NULL, NULL, 0, false, true};

	js->slen = 0;
	for (;;) {
		const uint8_t *r = js->buf + js->pos;
		tfa_jlex_stop stop;

		lx.base = js->buf;
		lx.end = js->buf + js->len;
		lx.base_off = js->base;
		rc = lex_span(js, &lx, &r, start, &stop);
		js->pos = (size_t)(r - js->buf);
		if (rc != TFA_OK) {
			/* Reading an escape consumes it, even the one at fault. */
			if (js->pos < js->len && js->buf[js->pos] == '\\')
				js->pos += tfa_jlex_elem_need(&lx, r, js->len - js->pos);
			goto out;
		}
		if (stop == TFA_JLEX_DONE) {
			js->pos++;
			break;
		}
		if (js->pos < js->len) {
			TFA_GUARD(read_split(js, start));
			continue;
		}
		TFA_GUARD(refill(js));
		if (js->len == 0)
			TFA_BAIL(TFA_EFORMAT, "json: unterminated string at byte %" PRIu64, start);
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
				 "json: object key at byte %" PRIu64 " is out of canonical order",
				 at);
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

static inline bool is_numchar(int c)
{
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* Checks the number token t (n bytes, NUL-terminated) starting at byte at; sets js->num. */
static tfa_err check_number(tfa_jstream *js, const char *t, size_t n, uint64_t at)
{
	tfa_err rc = TFA_OK;
	tfa_jlex_num num;
	tfa_jlex_numerr e;
	const uint8_t *where;
	char fmt[32];
	double v;

	e = tfa_jlex_number((const uint8_t *)t, &num, &where);
	if (e == TFA_JLEX_NUM_LEADING_ZERO)
		TFA_BAIL(TFA_EFORMAT, "json: leading zero in number at byte %" PRIu64, at);
	if (e != TFA_JLEX_NUM_OK || num.end != (const uint8_t *)t + n)
		TFA_BAIL(TFA_EFORMAT, "json: invalid number at byte %" PRIu64, at);
	if (num.frac0 == num.frac1 && !num.has_exp && num.int1 - num.int0 <= 15) {
		/* A plain integer below 10^15 < 2^53 prints as its digits, except -0. */
		if (num.neg && *num.int0 == '0')
			TFA_BAIL(TFA_EFORMAT, "json: number at byte %" PRIu64 " is not canonical",
				 at);
		js->num = num.neg ? -(double)num.m : (double)num.m;
		goto out;
	}
	TFA_GUARD(tfa_jlex_number_value(&num, at, &v));
	if (tfa_jcs_format_number(fmt, v) != n || memcmp(fmt, t, n) != 0)
		TFA_BAIL(TFA_EFORMAT, "json: number at byte %" PRIu64 " is not canonical", at);
	js->num = v;
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
			TFA_BAIL(TFA_EFORMAT, "json: number at byte %" PRIu64 " is not canonical",
				 at);
		t[n++] = (char)c;
		js->pos++;
	}
	t[n] = '\0';
	TFA_GUARD(check_number(js, t, n, at));
out:
	return rc;
}

/* The literal whose first byte c is next. */
static tfa_err read_literal(tfa_jstream *js, uint8_t c0)
{
	tfa_err rc = TFA_OK;
	uint64_t at = off(js);
	size_t n;
	const char *lit = tfa_jlex_literal(c0, &n);

	for (size_t i = 0; i < n; i++) {
		int c;

		TFA_GUARD(getc_(js, &c));
		if (c != (uint8_t)lit[i])
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
	case S_END: *tok = TFA_JS_END; goto out;
	case S_DONE:
		TFA_GUARD(peekc(js, &c));
		if (c >= 0)
			TFA_BAIL(TFA_EFORMAT,
				 "json: unexpected data after the document at byte %" PRIu64,
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
	case S_VALUE: goto value;
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
		TFA_GUARD(
		    unexpected(c, at, k == '{' ? "expected ',' or '}'" : "expected ',' or ']'"));
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
			TFA_BAIL(TFA_EFORMAT,
				 "json: nesting deeper than %d levels at byte %" PRIu64,
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
		TFA_GUARD(read_literal(js, 't'));
		*tok = TFA_JS_TRUE;
		break;
	case 'f':
		TFA_GUARD(read_literal(js, 'f'));
		*tok = TFA_JS_FALSE;
		break;
	case 'n':
		TFA_GUARD(read_literal(js, 'n'));
		*tok = TFA_JS_NULL;
		break;
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		TFA_GUARD(read_number(js));
		*tok = TFA_JS_NUMBER;
		break;
	default: TFA_GUARD(unexpected(c, at, "expected a value"));
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
		TFA_BAIL(js->failed, "json: the stream already failed before byte %" PRIu64,
			 off(js));
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
		TFA_BAIL(js->failed, "json: the stream already failed before byte %" PRIu64,
			 off(js));
	switch (js->state) {
	case S_START:
	case S_VALUE: break;
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
			tfa_error_set(rc, "json: no array element to skip at byte %" PRIu64,
				      off(js));
			goto out;
		}
		break;
	default: TFA_BAIL(TFA_EUSAGE, "json: no value to skip at byte %" PRIu64, off(js));
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
