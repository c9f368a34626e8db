/*
 * Fuzz target for the streaming canonical-JSON reader.
 *
 * The first byte picks the read size (1 byte up to 64 KiB) and whether values
 * are skipped; the rest is the document. Invariants (abort on violation):
 *   - the stream accepts the document iff tfa_jcs_check_canonical() does (the
 *     limits are set so that only the nesting depth, which both share, can
 *     reject), with or without tfa_jstream_skip();
 *   - when accepted, the tokens match a walk of the tfa_json_parse() tree,
 *     END repeats, the offset is the length and the on_bytes hook saw exactly
 *     the document;
 *   - when rejected, the error is TFA_EFORMAT with a one-line message naming
 *     a byte, and it sticks.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/jstream.h"
#include "tfattest/jcs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "jstream_fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static const size_t chunk_sizes[8] = {1, 2, 3, 5, 7, 64, 4096, 65536};

typedef struct src {
	const uint8_t *p;
	size_t len, pos, chunk;
} src;

static ssize_t src_read(void *ud, void *buf, size_t n)
{
	src *s = ud;
	size_t k = s->len - s->pos;

	if (k > n)
		k = n;
	if (k > s->chunk)
		k = s->chunk;
	memcpy(buf, s->p + s->pos, k);
	s->pos += k;
	return (ssize_t)k;
}

/* Collects what the on_bytes hook is given. */
typedef struct sink {
	const uint8_t *want;
	size_t len, got;
} sink;

static void sink_bytes(void *ud, const uint8_t *p, size_t n)
{
	sink *k = ud;

	REQUIRE(n <= k->len - k->got);
	REQUIRE(memcmp(k->want + k->got, p, n) == 0);
	k->got += n;
}

static tfa_js_token next(tfa_jstream *js)
{
	tfa_js_token t = TFA_JS_END;

	REQUIRE(tfa_jstream_next(js, &t) == TFA_OK);
	return t;
}

static void walk(tfa_jstream *js, const tfa_json_value *v, size_t depth)
{
	size_t n, sl, tl;
	const char *s, *t;

	switch (tfa_json_type_of(v)) {
	case TFA_JSON_NULL: REQUIRE(next(js) == TFA_JS_NULL); break;
	case TFA_JSON_TRUE: REQUIRE(next(js) == TFA_JS_TRUE); break;
	case TFA_JSON_FALSE: REQUIRE(next(js) == TFA_JS_FALSE); break;
	case TFA_JSON_NUMBER: {
		double a, b;

		REQUIRE(next(js) == TFA_JS_NUMBER);
		a = tfa_jstream_num(js);
		b = tfa_json_number(v);
		REQUIRE(memcmp(&a, &b, sizeof(a)) == 0);
		break;
	}
	case TFA_JSON_STRING:
		REQUIRE(next(js) == TFA_JS_STRING);
		s = tfa_jstream_str(js, &sl);
		t = tfa_json_string(v, &tl);
		REQUIRE(s != NULL && t != NULL && sl == tl && memcmp(s, t, sl) == 0 && s[sl] == 0);
		break;
	case TFA_JSON_ARRAY:
		REQUIRE(next(js) == TFA_JS_BEGIN_ARRAY);
		REQUIRE(tfa_jstream_depth(js) == depth + 1);
		n = tfa_json_count(v);
		for (size_t i = 0; i < n; i++)
			walk(js, tfa_json_at(v, i), depth + 1);
		REQUIRE(next(js) == TFA_JS_END_ARRAY);
		break;
	case TFA_JSON_OBJECT:
		REQUIRE(next(js) == TFA_JS_BEGIN_OBJECT);
		REQUIRE(tfa_jstream_depth(js) == depth + 1);
		n = tfa_json_count(v);
		for (size_t i = 0; i < n; i++) {
			REQUIRE(next(js) == TFA_JS_KEY);
			REQUIRE(tfa_jstream_depth(js) == depth + 1);
			s = tfa_jstream_str(js, &sl);
			t = tfa_json_key_at(v, i, &tl);
			REQUIRE(s != NULL && t != NULL && sl == tl && memcmp(s, t, sl) == 0);
			walk(js, tfa_json_value_at(v, i), depth + 1);
		}
		REQUIRE(next(js) == TFA_JS_END_OBJECT);
		break;
	}
	REQUIRE(tfa_jstream_depth(js) == depth);
}

static void check_failure(tfa_jstream *js, tfa_err rc)
{
	const char *msg = tfa_error_last()->message;
	tfa_js_token t;

	REQUIRE(rc == TFA_EFORMAT);
	REQUIRE(msg[0] != '\0' && strchr(msg, '\n') == NULL && strstr(msg, "byte") != NULL);
	REQUIRE(tfa_jstream_next(js, &t) == TFA_EFORMAT);
}

/* Pulls every token, skipping values where `pattern` says; returns the result. */
static tfa_err drain_skipping(tfa_jstream *js, unsigned pattern)
{
	unsigned k = 0;
	tfa_err rc;

	if (pattern & 1) {
		rc = tfa_jstream_skip(js);
		if (rc != TFA_OK)
			return rc;
	}
	for (;;) {
		tfa_js_token t;

		rc = tfa_jstream_next(js, &t);
		if (rc != TFA_OK || t == TFA_JS_END)
			return rc;
		if (t != TFA_JS_KEY && t != TFA_JS_BEGIN_ARRAY)
			continue;
		if (((pattern >> (k++ % 4)) & 2) == 0)
			continue;
		rc = tfa_jstream_skip(js);
		if (rc == TFA_ENOTFOUND && t == TFA_JS_BEGIN_ARRAY)
			continue;
		if (rc != TFA_OK)
			return rc;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *doc;
	size_t len, chunk;
	tfa_json *tree = NULL;
	tfa_jstream *js = NULL;
	bool canonical, skipping;
	src s;
	tfa_err rc;

	if (size == 0)
		return 0;
	chunk = chunk_sizes[data[0] & 7];
	skipping = (data[0] & 8) != 0;
	doc = data + 1;
	len = size - 1;
	canonical = tfa_jcs_check_canonical(doc, len) == TFA_OK;

	s.p = doc;
	s.len = len;
	s.pos = 0;
	s.chunk = chunk;
	REQUIRE(tfa_jstream_new(&js, src_read, &s, SIZE_MAX, UINT64_MAX) == TFA_OK);
	if (canonical) {
		sink k = {doc, len, 0};

		REQUIRE(tfa_json_parse(&tree, doc, len) == TFA_OK);
		tfa_jstream_on_bytes(js, sink_bytes, &k);
		walk(js, tfa_json_root(tree), 0);
		REQUIRE(next(js) == TFA_JS_END);
		REQUIRE(k.got == len);
		REQUIRE(next(js) == TFA_JS_END);
		REQUIRE(tfa_jstream_offset(js) == len);
		REQUIRE(k.got == len);
	} else {
		tfa_js_token t = TFA_JS_NULL;

		do
			rc = tfa_jstream_next(js, &t);
		while (rc == TFA_OK && t != TFA_JS_END);
		if (rc == TFA_OK) {
			fprintf(stderr, "jstream_fuzz: the stream accepts what "
					"tfa_jcs_check_canonical rejects\n");
			abort();
		}
		check_failure(js, rc);
	}
	tfa_jstream_free(js);
	js = NULL;

	if (skipping) {
		s.pos = 0;
		REQUIRE(tfa_jstream_new(&js, src_read, &s, SIZE_MAX, UINT64_MAX) == TFA_OK);
		rc = drain_skipping(js, data[0] >> 4);
		if (canonical) {
			REQUIRE(rc == TFA_OK);
			REQUIRE(tfa_jstream_offset(js) == len);
		} else {
			check_failure(js, rc);
		}
		tfa_jstream_free(js);
	}
	tfa_json_free(tree);
	return 0;
}
