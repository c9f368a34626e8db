/*
 * Strict JSON parser and RFC 8785 (JCS) canonical writer.
 *
 * Parsing works on a private copy of the input (padded with NUL bytes so
 * that word-at-a-time scans and look-ahead never leave the allocation);
 * tfa_jcs_canonicalize_fd reads the input straight into such a buffer.
 * Strings are unescaped in place in that copy and NUL-terminated where their
 * closing quote was, so a string value is a pointer and a length; a string
 * that held no escape is marked raw and written back as it stands. Values
 * live in a bump arena: while a container is parsed its children are
 * collected on a scratch stack, then copied into the arena in one block. An
 * object's block holds its members in document order followed by a
 * permutation that lists them in canonical (UTF-16) key order, sorted on a
 * per-key 8-byte prefix first; duplicate keys are found as equal neighbours
 * in that order, and the writer emits members by it, into a tfa_buf or
 * through a fixed window written to a file descriptor as it fills.
 *
 * Recursion is bounded by TFA_JSON_MAX_DEPTH in both the parser and the writer.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "format/jcs_int.h"
#include "format/jlex.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"

/* NUL bytes after the copy of the input, which the lexer may read. */
#define TEXT_PAD TFA_JLEX_PAD

typedef struct jmember jmember;

struct tfa_json_value {
	uint16_t type;
	uint16_t raw; /* string: had no escape, so its bytes are its canonical form */
	uint32_t n;   /* string length, element or member count */
	union {
		double num;
		const char *str;
		const tfa_json_value *items;
		const jmember *members; /* followed by uint32_t order[n] */
	} u;
};

struct jmember {
	const char *key;
	uint32_t keylen;
	uint32_t keyraw; /* as tfa_json_value's raw */
	tfa_json_value val;
};

typedef struct chunk {
	struct chunk *next;
	size_t size;
	/* data follows, 16-byte aligned */
} chunk;

#define CHUNK_HDR ((sizeof(chunk) + 15) & ~(size_t)15)

struct tfa_json {
	tfa_json_value root;
	uint8_t *text;
	chunk *chunks;
};

typedef struct parser {
	const uint8_t *p;
	const uint8_t *base;
	const uint8_t *end;
	tfa_json *doc;
	uint8_t *aptr, *aend; /* current arena chunk */
	size_t next_chunk;
	tfa_json_value *vs; /* scratch: array elements */
	size_t vlen, vcap;
	jmember *ms; /* scratch: object members */
	size_t mlen, mcap;
	struct keyent *keys; /* scratch: key sort, twice the members */
	size_t keycap;
	tfa_jlex lx;
} parser;

static size_t off(const parser *ps, const uint8_t *at)
{
	return (size_t)(at - ps->base);
}

/* ---- arena ---------------------------------------------------------------------------- */

static void *arena_alloc(parser *ps, size_t size)
{
	uint8_t *p;

	size = (size + 15) & ~(size_t)15;
	if (ps->aptr == NULL || (size_t)(ps->aend - ps->aptr) < size) {
		size_t want = ps->next_chunk;
		chunk *c;

		if (want < size)
			want = size;
		if (want > SIZE_MAX - CHUNK_HDR)
			return NULL;
		c = malloc(CHUNK_HDR + want);
		if (c == NULL)
			return NULL;
		c->next = ps->doc->chunks;
		c->size = want;
		ps->doc->chunks = c;
		ps->aptr = (uint8_t *)c + CHUNK_HDR;
		ps->aend = ps->aptr + want;
		if (ps->next_chunk < ((size_t)1 << 28))
			ps->next_chunk *= 2;
	}
	p = ps->aptr;
	ps->aptr += size;
	return p;
}

/* Grows a scratch array so that it holds at least `need` elements. */
static tfa_err grow(void **arr, size_t *cap, size_t need, size_t elsize)
{
	size_t ncap = *cap ? *cap : 64;
	void *p;

	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elsize)
			return tfa_error_set(TFA_EINTERNAL, "out of memory");
		ncap *= 2;
	}
	p = realloc(*arr, ncap * elsize);
	if (p == NULL)
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	*arr = p;
	*cap = ncap;
	return TFA_OK;
}

/* ---- key order -------------------------------------------------------------------------- */

/*
 * Orders keys by UTF-16 code units. UTF-8 byte order is code point order,
 * which agrees with UTF-16 order except that characters above U+FFFF (lead
 * bytes F0..F4, surrogate pairs in UTF-16) sort before U+E000..U+FFFF (lead
 * bytes EE, EF). The first differing byte of two valid UTF-8 strings with a
 * common prefix is at the same position in a character in both, so looking at
 * that byte alone decides.
 */
int tfa_jcs_keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	size_t i = 0;
	uint8_t x, y;

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; i + 8 <= n; i += 8) {
		uint64_t d = tfa_load64(a + i) ^ tfa_load64(b + i);

		if (d) {
			i += (size_t)__builtin_ctzll(d) / 8;
			goto differ;
		}
	}
#endif
	for (; i < n; i++)
		if (a[i] != b[i])
			goto differ;
	return al < bl ? -1 : al > bl;
differ:
	x = a[i];
	y = b[i];
	if (x >= 0xF0 && (y == 0xEE || y == 0xEF))
		return -1;
	if (y >= 0xF0 && (x == 0xEE || x == 0xEF))
		return 1;
	return x < y ? -1 : 1;
}

/*
 * A key's first eight bytes as a big-endian integer, so that comparing two of
 * them compares the keys' first eight bytes in UTF-16 order: bytes past the
 * key read as 0, and the lead bytes whose UTF-8 order is not their UTF-16
 * order are renumbered (F0..F4, surrogate pairs in UTF-16, before EE and EF,
 * U+E000..U+FFFF: EE -> F3, EF -> F4, F0..F4 -> EE..F2). Valid UTF-8 has no
 * other byte >= EE, and by tfa_jcs_keycmp's argument the first differing byte
 * decides. Keys with equal prefixes are compared in full.
 */
static inline uint8_t utf16_rank(uint8_t c)
{
	return c < 0xEE ? c : c <= 0xEF ? (uint8_t)(c + 5) : (uint8_t)(c - 2);
}

static inline uint64_t key_prefix(const uint8_t *key, size_t len)
{
	uint64_t x = 0;

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	x = tfa_load64(key); /* the text is padded: never past the allocation */
	if (len < 8)
		x &= ~(~UINT64_C(0) << (8 * len));
	if ((x & TFA_SWAR_HIGHS) == 0)
		return __builtin_bswap64(x);
	x = 0;
#endif
	for (size_t i = 0; i < 8; i++)
		x = x << 8 | (i < len ? utf16_rank(key[i]) : 0);
	return x;
}

typedef struct keyent {
	uint64_t pre;
	uint32_t idx;
} keyent;

static inline bool key_less(const jmember *m, const keyent *a, const keyent *b)
{
	if (a->pre != b->pre)
		return a->pre < b->pre;
	return tfa_jcs_keycmp((const uint8_t *)m[a->idx].key, m[a->idx].keylen,
			      (const uint8_t *)m[b->idx].key, m[b->idx].keylen) < 0;
}

static void insertion_sort(const jmember *m, keyent *e, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		keyent v = e[i];
		size_t j = i;

		while (j > 0 && key_less(m, &v, &e[j - 1])) {
			e[j] = e[j - 1];
			j--;
		}
		e[j] = v;
	}
}

/* Stable merge sort of e[0..n) using tmp[0..n); recursion depth is log2(n). */
static void merge_sort(const jmember *m, keyent *e, keyent *tmp, size_t n)
{
	size_t h = n / 2, i = 0, j = h, k = 0;

	if (n <= 16) {
		insertion_sort(m, e, n);
		return;
	}
	merge_sort(m, e, tmp, h);
	merge_sort(m, e + h, tmp, n - h);
	if (!key_less(m, &e[h], &e[h - 1]))
		return; /* already in order */
	while (i < h && j < n)
		tmp[k++] = key_less(m, &e[j], &e[i]) ? e[j++] : e[i++];
	while (i < h)
		tmp[k++] = e[i++];
	/* the rest of the right half is already in place */
	memcpy(e, tmp, k * sizeof(*e));
}

static tfa_err sort_members(parser *ps, const jmember *m, uint32_t *ord, size_t n)
{
	tfa_err rc = TFA_OK;
	keyent *e;
	size_t i;

	if (ps->keycap < 2 * n)
		TFA_GUARD(grow((void **)&ps->keys, &ps->keycap, 2 * n, sizeof(*ps->keys)));
	e = ps->keys;
	for (i = 0; i < n; i++) {
		e[i].pre = key_prefix((const uint8_t *)m[i].key, m[i].keylen);
		e[i].idx = (uint32_t)i;
	}
	/* Producers often emit keys sorted already. */
	for (i = 1; i < n; i++)
		if (!key_less(m, &e[i - 1], &e[i]))
			break;
	if (i < n)
		merge_sort(m, e, e + n, n);
	for (i = 0; i < n; i++)
		ord[i] = e[i].idx;
	for (i = 1; i < n; i++) {
		const jmember *a = &m[ord[i - 1]], *b = &m[ord[i]];

		if (e[i - 1].pre == e[i].pre && a->keylen == b->keylen &&
		    memcmp(a->key, b->key, a->keylen) == 0) {
			const jmember *later = ord[i - 1] > ord[i] ? a : b;

			TFA_BAIL(TFA_EFORMAT, "json: duplicate object key at byte %zu",
				 off(ps, (const uint8_t *)later->key) - 1);
		}
	}
out:
	return rc;
}

/* ---- strings ------------------------------------------------------------------------------ */

/*
 * Parses the string whose opening quote is at ps->p, unescaping it in place
 * (the result is never longer than its source) and NUL-terminating it. *raw is
 * whether it held no escape: every escape is longer than what it stands for,
 * so that is when its length did not change. Such a string has no '"', '\\'
 * or control character, and its bytes are already its canonical form.
 */
static tfa_err parse_string(parser *ps, const char **out, uint32_t *outlen, uint16_t *raw)
{
	tfa_err rc = TFA_OK;
	uint8_t *start = (uint8_t *)ps->p + 1, *w;
	const uint8_t *r = tfa_jlex_plain(start);
	tfa_jlex_stop stop;

	/* Most strings are plain up to their quote; the lexer takes the rest. */
	w = (uint8_t *)r;
	if (*r != '"')
		TFA_GUARD(tfa_jlex_string(&ps->lx, off(ps, ps->p), &r, &w, ps->end, &stop));
	if ((size_t)(w - start) >= UINT32_MAX)
		TFA_BAIL(TFA_EFORMAT, "json: string too long at byte %zu", off(ps, ps->p));
	*w = '\0';
	*out = (const char *)start;
	*outlen = (uint32_t)(w - start);
	*raw = w == r;
	ps->p = r + 1;
out:
	return rc;
}

/* ---- numbers ------------------------------------------------------------------------------ */

static tfa_err parse_number(parser *ps, tfa_json_value *out)
{
	tfa_err rc = TFA_OK;
	const uint8_t *start = ps->p, *at;
	tfa_jlex_num num;
	double v;

	switch (tfa_jlex_number(start, &num, &at)) {
	case TFA_JLEX_NUM_OK: break;
	case TFA_JLEX_NUM_LEADING_ZERO:
		TFA_BAIL(TFA_EFORMAT, "json: leading zero in number at byte %zu", off(ps, start));
	case TFA_JLEX_NUM_FRAC:
		TFA_BAIL(TFA_EFORMAT, "json: digit expected after '.' in number at byte %zu",
			 off(ps, at));
	case TFA_JLEX_NUM_EXP:
		TFA_BAIL(TFA_EFORMAT, "json: digit expected in exponent at byte %zu", off(ps, at));
	default: TFA_BAIL(TFA_EFORMAT, "json: invalid number at byte %zu", off(ps, start));
	}
	TFA_GUARD(tfa_jlex_number_value(&num, off(ps, start), &v));
	out->type = TFA_JSON_NUMBER;
	out->raw = 0;
	out->n = 0;
	out->u.num = v;
	ps->p = num.end;
out:
	return rc;
}

/* ---- values ------------------------------------------------------------------------------- */

static inline void skip_ws(parser *ps)
{
	const uint8_t *p = ps->p;

	while (tfa_jlex_ws[*p])
		p++;
	ps->p = p;
}

static tfa_err parse_value(parser *ps, unsigned depth, tfa_json_value *out);

static tfa_err unexpected(parser *ps, const char *what)
{
	if (ps->p >= ps->end)
		return tfa_error_set(TFA_EFORMAT, "json: unexpected end of input at byte %zu%s%s",
				     off(ps, ps->p), *what ? ", " : "", what);
	if (*ps->p >= 0x20 && *ps->p < 0x7f)
		return tfa_error_set(TFA_EFORMAT, "json: unexpected '%c' at byte %zu%s%s", *ps->p,
				     off(ps, ps->p), *what ? ", " : "", what);
	return tfa_error_set(TFA_EFORMAT, "json: unexpected byte 0x%02x at byte %zu%s%s", *ps->p,
			     off(ps, ps->p), *what ? ", " : "", what);
}

static tfa_err parse_array(parser *ps, unsigned depth, tfa_json_value *out)
{
	tfa_err rc = TFA_OK;
	size_t base = ps->vlen, n;
	tfa_json_value *items;

	if (depth > TFA_JSON_MAX_DEPTH)
		TFA_BAIL(TFA_EFORMAT, "json: nesting deeper than %d levels at byte %zu",
			 TFA_JSON_MAX_DEPTH, off(ps, ps->p));
	ps->p++;
	skip_ws(ps);
	if (*ps->p != ']') {
		for (;;) {
			size_t at;

			if (ps->vlen == ps->vcap)
				TFA_GUARD(grow((void **)&ps->vs, &ps->vcap, ps->vlen + 1,
					       sizeof(*ps->vs)));
			at = ps->vlen++;
			/*
			 * A scalar is parsed into its slot: copying it from a local,
			 * just written field by field, stalls on store forwarding. A
			 * container may grow ps->vs, so it is parsed aside.
			 */
			if (*ps->p == '{' || *ps->p == '[') {
				tfa_json_value v;

				TFA_GUARD(parse_value(ps, depth, &v));
				ps->vs[at] = v;
			} else {
				TFA_GUARD(parse_value(ps, depth, &ps->vs[at]));
			}
			skip_ws(ps);
			if (*ps->p == ',') {
				ps->p++;
				skip_ws(ps);
				continue;
			}
			if (*ps->p == ']')
				break;
			TFA_GUARD(unexpected(ps, "expected ',' or ']'"));
		}
	}
	ps->p++;
	n = ps->vlen - base;
	if (n >= UINT32_MAX)
		TFA_BAIL(TFA_EFORMAT, "json: array too large at byte %zu", off(ps, ps->p));
	items = NULL;
	if (n) {
		items = arena_alloc(ps, n * sizeof(*items));
		if (items == NULL)
			TFA_BAIL(TFA_EINTERNAL, "out of memory");
		memcpy(items, ps->vs + base, n * sizeof(*items));
	}
	ps->vlen = base;
	out->type = TFA_JSON_ARRAY;
	out->raw = 0;
	out->n = (uint32_t)n;
	out->u.items = items;
out:
	return rc;
}

static tfa_err parse_object(parser *ps, unsigned depth, tfa_json_value *out)
{
	tfa_err rc = TFA_OK;
	size_t base = ps->mlen, n;
	jmember *mem;
	uint32_t *ord;

	if (depth > TFA_JSON_MAX_DEPTH)
		TFA_BAIL(TFA_EFORMAT, "json: nesting deeper than %d levels at byte %zu",
			 TFA_JSON_MAX_DEPTH, off(ps, ps->p));
	ps->p++;
	skip_ws(ps);
	if (*ps->p != '}') {
		for (;;) {
			jmember *m;
			uint16_t keyraw;
			size_t at;

			if (*ps->p != '"')
				TFA_GUARD(unexpected(ps, "expected a string key"));
			if (ps->mlen == ps->mcap)
				TFA_GUARD(grow((void **)&ps->ms, &ps->mcap, ps->mlen + 1,
					       sizeof(*ps->ms)));
			/* The member is parsed into its slot, as in parse_array; nested
			 * containers use the scratch stacks above it. */
			at = ps->mlen++;
			m = &ps->ms[at];
			TFA_GUARD(parse_string(ps, &m->key, &m->keylen, &keyraw));
			m->keyraw = keyraw;
			skip_ws(ps);
			if (*ps->p != ':')
				TFA_GUARD(unexpected(ps, "expected ':'"));
			ps->p++;
			skip_ws(ps);
			if (*ps->p == '{' || *ps->p == '[') {
				tfa_json_value v;

				TFA_GUARD(parse_value(ps, depth, &v));
				ps->ms[at].val = v;
			} else {
				TFA_GUARD(parse_value(ps, depth, &m->val));
			}
			skip_ws(ps);
			if (*ps->p == ',') {
				ps->p++;
				skip_ws(ps);
				continue;
			}
			if (*ps->p == '}')
				break;
			TFA_GUARD(unexpected(ps, "expected ',' or '}'"));
		}
	}
	ps->p++;
	n = ps->mlen - base;
	if (n >= UINT32_MAX)
		TFA_BAIL(TFA_EFORMAT, "json: object too large at byte %zu", off(ps, ps->p));
	mem = NULL;
	if (n) {
		mem = arena_alloc(ps, n * (sizeof(*mem) + sizeof(*ord)));
		if (mem == NULL)
			TFA_BAIL(TFA_EINTERNAL, "out of memory");
		memcpy(mem, ps->ms + base, n * sizeof(*mem));
		ord = (uint32_t *)(mem + n);
		TFA_GUARD(sort_members(ps, mem, ord, n));
	}
	ps->mlen = base;
	out->type = TFA_JSON_OBJECT;
	out->raw = 0;
	out->n = (uint32_t)n;
	out->u.members = mem;
out:
	return rc;
}

static tfa_err parse_value(parser *ps, unsigned depth, tfa_json_value *out)
{
	const uint8_t *p = ps->p;

	switch (*p) {
	case '"':
		out->type = TFA_JSON_STRING;
		return parse_string(ps, &out->u.str, &out->n, &out->raw);
	case '{': return parse_object(ps, depth + 1, out);
	case '[': return parse_array(ps, depth + 1, out);
	case 't':
	case 'f':
	case 'n': {
		size_t n;
		const char *lit = tfa_jlex_literal(*p, &n);

		if (memcmp(p, lit, n) != 0)
			break;
		out->type = *p == 't' ? TFA_JSON_TRUE : *p == 'f' ? TFA_JSON_FALSE : TFA_JSON_NULL;
		out->raw = 0;
		out->n = 0;
		out->u.items = NULL;
		ps->p += n;
		return TFA_OK;
	}
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
	case '9': return parse_number(ps, out);
	default: break;
	}
	if (p < ps->end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return tfa_error_set(TFA_EFORMAT, "json: invalid literal at byte %zu", off(ps, p));
	return unexpected(ps, "expected a value");
}

/*
 * Parses the len bytes of text, which has TEXT_PAD more bytes allocated after
 * them and becomes the document's (freed with it, even on failure).
 */
static tfa_err parse_text(tfa_json **out, uint8_t *text, size_t len)
{
	tfa_err rc = TFA_OK;
	parser ps;
	tfa_json *doc = NULL;

	memset(&ps, 0, sizeof(ps));
	*out = NULL;
	memset(text + len, 0, TEXT_PAD);
	doc = calloc(1, sizeof(*doc));
	if (doc == NULL) {
		free(text);
		TFA_BAIL(TFA_EINTERNAL, "out of memory");
	}
	doc->text = text;

	ps.doc = doc;
	ps.base = ps.p = doc->text;
	ps.end = doc->text + len;
	ps.lx.base = doc->text;
	ps.lx.end = ps.end;
	ps.lx.base_off = 0;
	ps.lx.final = true;
	ps.lx.canonical = false;
	/* Roughly what a typical document needs; later chunks double. */
	ps.next_chunk = len < 4096 ? 4096 : len;

	if (len >= 3 && text[0] == 0xEF && text[1] == 0xBB && text[2] == 0xBF)
		TFA_BAIL(TFA_EFORMAT, "json: byte-order mark at byte 0 is not allowed");
	skip_ws(&ps);
	if (ps.p >= ps.end)
		TFA_BAIL(TFA_EFORMAT, "json: empty document at byte %zu", off(&ps, ps.p));
	TFA_GUARD(parse_value(&ps, 0, &doc->root));
	skip_ws(&ps);
	if (ps.p < ps.end)
		TFA_BAIL(TFA_EFORMAT, "json: unexpected data after the document at byte %zu",
			 off(&ps, ps.p));
	*out = doc;
	doc = NULL;
out:
	free(ps.vs);
	free(ps.ms);
	free(ps.keys);
	tfa_json_free(doc);
	return rc;
}

tfa_err tfa_json_parse(tfa_json **out, const uint8_t *in, size_t len)
{
	tfa_err rc = TFA_OK;
	uint8_t *text;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE(in != NULL || len == 0, TFA_EUSAGE, "missing argument: in");
	if (len > SIZE_MAX - TEXT_PAD - 1)
		TFA_BAIL(TFA_EFORMAT, "json: document too large");
	text = malloc(len + TEXT_PAD);
	if (text == NULL)
		TFA_BAIL(TFA_EINTERNAL, "out of memory");
	if (len)
		memcpy(text, in, len);
	rc = parse_text(out, text, len);
out:
	return rc;
}

void tfa_json_free(tfa_json *doc)
{
	chunk *c, *next;

	if (doc == NULL)
		return;
	for (c = doc->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(doc->text);
	free(doc);
}

/* ---- accessors ---------------------------------------------------------------------------- */

const tfa_json_value *tfa_json_root(const tfa_json *doc)
{
	return doc ? &doc->root : NULL;
}

tfa_json_type tfa_json_type_of(const tfa_json_value *v)
{
	return v ? (tfa_json_type)v->type : TFA_JSON_NULL;
}

size_t tfa_json_count(const tfa_json_value *v)
{
	if (v == NULL || (v->type != TFA_JSON_ARRAY && v->type != TFA_JSON_OBJECT))
		return 0;
	return v->n;
}

const tfa_json_value *tfa_json_at(const tfa_json_value *v, size_t i)
{
	if (v == NULL || v->type != TFA_JSON_ARRAY || i >= v->n)
		return NULL;
	return &v->u.items[i];
}

const char *tfa_json_key_at(const tfa_json_value *v, size_t i, size_t *keylen)
{
	if (v == NULL || v->type != TFA_JSON_OBJECT || i >= v->n) {
		if (keylen)
			*keylen = 0;
		return NULL;
	}
	if (keylen)
		*keylen = v->u.members[i].keylen;
	return v->u.members[i].key;
}

const tfa_json_value *tfa_json_value_at(const tfa_json_value *v, size_t i)
{
	if (v == NULL || v->type != TFA_JSON_OBJECT || i >= v->n)
		return NULL;
	return &v->u.members[i].val;
}

const tfa_json_value *tfa_json_get(const tfa_json_value *obj, const char *key)
{
	const jmember *m;
	const uint32_t *ord;
	size_t lo = 0, hi, klen;

	if (obj == NULL || key == NULL || obj->type != TFA_JSON_OBJECT || obj->n == 0)
		return NULL;
	m = obj->u.members;
	ord = (const uint32_t *)(m + obj->n);
	hi = obj->n;
	klen = strlen(key);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const jmember *x = &m[ord[mid]];
		int c =
		    tfa_jcs_keycmp((const uint8_t *)x->key, x->keylen, (const uint8_t *)key, klen);

		if (c == 0)
			return &x->val;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *tfa_json_string(const tfa_json_value *v, size_t *len)
{
	if (v == NULL || v->type != TFA_JSON_STRING) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = v->n;
	return v->u.str;
}

double tfa_json_number(const tfa_json_value *v)
{
	return v && v->type == TFA_JSON_NUMBER ? v->u.num : 0.0;
}

/* ---- writer ------------------------------------------------------------------------------- */

/*
 * Output cursor over a tfa_buf; b->len is brought up to date by flush(). With
 * fd >= 0 the buffer is a window: when it is full its bytes are written to fd
 * and it starts again from empty, so the output is never held whole.
 */
typedef struct writer {
	tfa_buf *b;
	uint8_t *p, *end;
	int fd;
	const char *fd_name;
} writer;

/* Bytes of output gathered before they are written to a file descriptor. */
#define WINDOW ((size_t)1 << 18)

static void flush(writer *w)
{
	if (w->p)
		w->b->len = (size_t)(w->p - w->b->data);
}

static tfa_err write_all(int fd, const char *name, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return tfa_error_set(TFA_EIO, "cannot write %s: %s", name,
					     k < 0 ? strerror(errno) : "nothing written");
		p += k;
		n -= (size_t)k;
	}
	return TFA_OK;
}

static tfa_err drain(writer *w)
{
	tfa_err rc;

	flush(w);
	if (w->b->len == 0)
		return TFA_OK;
	rc = write_all(w->fd, w->fd_name, w->b->data, w->b->len);
	w->b->len = 0;
	w->p = w->b->data;
	return rc;
}

static tfa_err need_slow(writer *w, size_t n)
{
	tfa_err rc;

	if (w->fd >= 0 && (rc = drain(w)) != TFA_OK)
		return rc;
	flush(w);
	if ((rc = tfa_buf_reserve(w->b, n)) != TFA_OK)
		return rc;
	w->p = w->b->data + w->b->len;
	w->end = w->b->data + w->b->cap - 1; /* keep room for the trailing NUL */
	return TFA_OK;
}

static inline tfa_err need(writer *w, size_t n)
{
	if ((size_t)(w->end - w->p) >= n)
		return TFA_OK;
	return need_slow(w, n);
}

static const char hexdig[] = "0123456789abcdef";

static tfa_err write_string(writer *w, const uint8_t *s, size_t n)
{
	tfa_err rc = TFA_OK;
	const uint8_t *e = s + n;

	TFA_GUARD(need(w, n + 2));
	*w->p++ = '"';
	for (;;) {
		const uint8_t *run = s;
		uint8_t c = 0;

#if defined(__SSE2__)
		/* Sixteen bytes at a time; a string lies in the document's padded
		 * text, so reading past its end stays inside the allocation. */
		while (s < e) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
			unsigned hit = (unsigned)_mm_movemask_epi8(
			    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
						      _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
					 _mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8(0x1F)),
							_mm_set1_epi8(0x1F))));

			if (hit) {
				size_t k = (size_t)__builtin_ctz(hit);

				s = k < (size_t)(e - s) ? s + k : e;
				break;
			}
			s = (size_t)(e - s) > 16 ? s + 16 : e;
		}
#else
		while (e - s >= 8) {
			uint64_t x = tfa_load64(s);

			if ((tfa_any_below(x, 0x20) | tfa_any_equal(x, '"') |
			     tfa_any_equal(x, '\\')) != 0)
				break;
			s += 8;
		}
#endif
		while (s < e && (c = *s) >= 0x20 && c != '"' && c != '\\')
			s++;
		memcpy(w->p, run, (size_t)(s - run));
		w->p += s - run;
		if (s == e)
			break;
		/* One byte becomes at most six; keep room for the rest and the quote. */
		TFA_GUARD(need(w, (size_t)(e - s) + 6));
		s++;
		*w->p++ = '\\';
		switch (c) {
		case '"': *w->p++ = '"'; break;
		case '\\': *w->p++ = '\\'; break;
		case '\b': *w->p++ = 'b'; break;
		case '\t': *w->p++ = 't'; break;
		case '\n': *w->p++ = 'n'; break;
		case '\f': *w->p++ = 'f'; break;
		case '\r': *w->p++ = 'r'; break;
		default:
			*w->p++ = 'u';
			*w->p++ = '0';
			*w->p++ = '0';
			*w->p++ = (uint8_t)hexdig[c >> 4];
			*w->p++ = (uint8_t)hexdig[c & 15];
			break;
		}
	}
	*w->p++ = '"';
out:
	return rc;
}

/*
 * A string that held no escape, quoted. Short ones are copied 16 bytes at a
 * time, which may read up to 15 bytes past the string (inside the document's
 * text and its padding) and write as far past it (inside the room asked for).
 */
static inline tfa_err write_raw(writer *w, const uint8_t *s, size_t n)
{
	tfa_err rc = TFA_OK;
	uint8_t *p;

	TFA_GUARD(need(w, n + 2 + 16));
	p = w->p;
	*p++ = '"';
	if (n <= 32) {
		for (size_t i = 0; i < n; i += 16)
			memcpy(p + i, s + i, 16);
	} else {
		memcpy(p, s, n);
	}
	p += n;
	*p++ = '"';
	w->p = p;
out:
	return rc;
}

/*
 * The tree is written long after it was parsed, from memory the caches no
 * longer hold, and it is walked in an order no hardware prefetcher guesses (a
 * container's block is allocated after its children's, members are visited
 * in key order). So the writer asks ahead for what it will read next: on
 * entering an object, its order, every key and every member's block; in an
 * array, the block of the element after next.
 */
#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch((p), 0, 3)
#else
#define PREFETCH(p) ((void)(p))
#endif

static inline void prefetch_block(const tfa_json_value *v)
{
	if (v->type == TFA_JSON_OBJECT || v->type == TFA_JSON_ARRAY)
		PREFETCH(v->u.items);
}

static tfa_err write_value(writer *w, const tfa_json_value *v, unsigned depth)
{
	tfa_err rc = TFA_OK;

	if (depth > TFA_JSON_MAX_DEPTH && (v->type == TFA_JSON_ARRAY || v->type == TFA_JSON_OBJECT))
		TFA_BAIL(TFA_EFORMAT, "json: nesting deeper than %d levels", TFA_JSON_MAX_DEPTH);
	switch ((tfa_json_type)v->type) {
	case TFA_JSON_NULL:
		TFA_GUARD(need(w, 4));
		memcpy(w->p, "null", 4);
		w->p += 4;
		break;
	case TFA_JSON_TRUE:
		TFA_GUARD(need(w, 4));
		memcpy(w->p, "true", 4);
		w->p += 4;
		break;
	case TFA_JSON_FALSE:
		TFA_GUARD(need(w, 5));
		memcpy(w->p, "false", 5);
		w->p += 5;
		break;
	case TFA_JSON_NUMBER: {
		char tmp[32];
		size_t n = tfa_jcs_format_number(tmp, v->u.num);

		if (n == 0)
			TFA_BAIL(TFA_EFORMAT, "json: number is not finite");
		TFA_GUARD(need(w, n));
		memcpy(w->p, tmp, n);
		w->p += n;
		break;
	}
	case TFA_JSON_STRING:
		if (v->raw)
			TFA_GUARD(write_raw(w, (const uint8_t *)v->u.str, v->n));
		else
			TFA_GUARD(write_string(w, (const uint8_t *)v->u.str, v->n));
		break;
	case TFA_JSON_ARRAY:
		TFA_GUARD(need(w, 2));
		*w->p++ = '[';
		if (v->n)
			prefetch_block(&v->u.items[0]);
		if (v->n > 1)
			prefetch_block(&v->u.items[1]);
		for (uint32_t i = 0; i < v->n; i++) {
			if (i) {
				TFA_GUARD(need(w, 1));
				*w->p++ = ',';
			}
			if (i + 2 < v->n)
				prefetch_block(&v->u.items[i + 2]);
			TFA_GUARD(write_value(w, &v->u.items[i], depth + 1));
		}
		TFA_GUARD(need(w, 1));
		*w->p++ = ']';
		break;
	case TFA_JSON_OBJECT: {
		const jmember *m = v->u.members;
		const uint32_t *ord = v->n ? (const uint32_t *)(m + v->n) : NULL;

		/* The order, every key and every member's block: all at once, so
		 * that the misses overlap. */
		for (size_t k = 0; k < v->n * sizeof(*ord); k += 64)
			PREFETCH((const uint8_t *)ord + k);
		for (uint32_t k = 0; k < v->n; k++) {
			PREFETCH(m[k].key);
			prefetch_block(&m[k].val);
		}
		TFA_GUARD(need(w, 2));
		*w->p++ = '{';
		for (uint32_t i = 0; i < v->n; i++) {
			const jmember *x = &m[ord[i]];

			if (i) {
				TFA_GUARD(need(w, 1));
				*w->p++ = ',';
			}
			if (x->keyraw)
				TFA_GUARD(write_raw(w, (const uint8_t *)x->key, x->keylen));
			else
				TFA_GUARD(write_string(w, (const uint8_t *)x->key, x->keylen));
			TFA_GUARD(need(w, 1));
			*w->p++ = ':';
			TFA_GUARD(write_value(w, &x->val, depth + 1));
		}
		TFA_GUARD(need(w, 1));
		*w->p++ = '}';
		break;
	}
	default: TFA_BAIL(TFA_EINTERNAL, "json: corrupt value");
	}
out:
	return rc;
}

tfa_err tfa_jcs_write(tfa_buf *out, const tfa_json_value *v)
{
	tfa_err rc = TFA_OK;
	writer w;
	size_t start;

	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(v);
	start = out->len;
	w.b = out;
	w.p = w.end = NULL;
	w.fd = -1;
	w.fd_name = NULL;
	TFA_GUARD(need_slow(&w, 64));
	rc = write_value(&w, v, 1);
	flush(&w);
	if (rc != TFA_OK)
		out->len = start; /* drop partial output */
	out->data[out->len] = '\0';
out:
	return rc;
}

tfa_err tfa_jcs_canonicalize(tfa_buf *out, const uint8_t *in, size_t len)
{
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;

	TFA_ENSURE_ARG(out);
	TFA_GUARD(tfa_json_parse(&doc, in, len));
	/* The canonical form is usually about as long as the input: reserve that
	 * much up front (when the buffer's cap allows) instead of growing by copying. */
	{
		size_t max = out->max ? out->max : TFA_BUF_DEFAULT_MAX;

		if (out->len <= max && len <= max - out->len)
			TFA_GUARD(tfa_buf_reserve(out, len));
	}
	TFA_GUARD(tfa_jcs_write(out, tfa_json_root(doc)));
out:
	tfa_json_free(doc);
	return rc;
}

/*
 * Reads in_fd to its end into a buffer with TEXT_PAD bytes to spare: a
 * regular file in one read into a buffer of its size, anything else growing.
 */
static tfa_err read_all(int fd, const char *name, size_t max, uint8_t **out, size_t *outlen)
{
	tfa_err rc = TFA_OK;
	struct stat st;
	tfa_buf b;

	tfa_buf_init(&b, max + TEXT_PAD);
	*out = NULL;
	*outlen = 0;
	if (fstat(fd, &st) != 0)
		TFA_BAIL(TFA_EIO, "cannot stat %s: %s", name, strerror(errno));
	if (S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size > max)
			TFA_BAIL(TFA_EFORMAT, "%s is larger than the limit of %zu bytes", name,
				 max);
		TFA_GUARD(tfa_buf_reserve(&b, (size_t)st.st_size + TEXT_PAD));
	}
	TFA_GUARD(tfa_buf_read_stream(&b, fd, name, max));
	TFA_GUARD(tfa_buf_reserve(&b, TEXT_PAD));
	*out = tfa_buf_detach(&b, outlen);
out:
	tfa_buf_free(&b);
	return rc;
}

tfa_err tfa_jcs_canonicalize_fd(int out_fd, const char *out_name, int in_fd, const char *in_name,
				size_t max)
{
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	tfa_buf window;
	uint8_t *text;
	size_t len;
	writer w;

	/* Room for a long string whose every byte is escaped, as in a tfa_buf output. */
	tfa_buf_init(&window, SIZE_MAX / 2);
	TFA_ENSURE_ARG(out_name);
	TFA_ENSURE_ARG(in_name);
	TFA_ENSURE(out_fd >= 0 && in_fd >= 0, TFA_EUSAGE, "invalid file descriptor");
	if (max > SIZE_MAX / 4)
		max = SIZE_MAX / 4;
	TFA_GUARD(read_all(in_fd, in_name, max, &text, &len));
	TFA_GUARD(parse_text(&doc, text, len));
	w.b = &window;
	w.p = w.end = NULL;
	w.fd = out_fd;
	w.fd_name = out_name;
	TFA_GUARD(need_slow(&w, WINDOW));
	TFA_GUARD(write_value(&w, tfa_json_root(doc), 1));
	TFA_GUARD(drain(&w));
out:
	tfa_json_free(doc);
	tfa_buf_free(&window);
	return rc;
}

tfa_err tfa_jcs_check_canonical(const uint8_t *in, size_t len)
{
	tfa_err rc = TFA_OK;
	tfa_buf b;
	size_t i;

	tfa_buf_init(&b, 0);
	TFA_GUARD(tfa_jcs_canonicalize(&b, in, len));
	if (b.len == len && (len == 0 || memcmp(b.data, in, len) == 0))
		goto out;
	for (i = 0; i < len && i < b.len && b.data[i] == in[i]; i++)
		;
	TFA_BAIL(TFA_EFORMAT, "json: not in canonical form at byte %zu", i);
out:
	tfa_buf_free(&b);
	return rc;
}
