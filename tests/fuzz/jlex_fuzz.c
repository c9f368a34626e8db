/*
 * Fuzz target for the JSON lexer and the UTF-8 validator (src/format/jlex.c).
 *
 * Invariants (abort on violation):
 *   - tfa_utf8_valid and tfa_utf8_decode agree with a decoder written from
 *     RFC 3629's table, sequence by sequence;
 *   - a string lexed whole (as the tree parser does) and a chunk at a time with
 *     the crossing element assembled (as the stream does) give the same bytes
 *     or the same message, whatever the chunk size (the first input byte);
 *   - a number the lexer reads converts to what strtod makes of its token.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/jlex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "jlex_fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define MAXIN 4096

static size_t ref_len(const uint8_t *s, size_t n, unsigned long *cp)
{
	size_t len;
	unsigned long c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xE0) == 0xC0)
		len = 2, c = s[0] & 0x1F;
	else if ((s[0] & 0xF0) == 0xE0)
		len = 3, c = s[0] & 0x0F;
	else if ((s[0] & 0xF8) == 0xF0)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

static void check_utf8(const uint8_t *d, size_t n)
{
	bool ok = true;

	for (size_t i = 0; i < n;) {
		unsigned long a = 0, b = 0;
		size_t r = ref_len(d + i, n - i, &a), l = tfa_utf8_decode(d + i, n - i, &b);

		REQUIRE(r == l && (r == 0 || a == b));
		REQUIRE(tfa_utf8_seq_len(d + i, n - i) == r);
		if (r == 0) {
			ok = false;
			i++;
		} else {
			REQUIRE(!tfa_utf8_is_nonchar(d + i, r) == !tfa_cp_is_nonchar(a));
			i += r;
		}
	}
	REQUIRE(tfa_utf8_valid(d, n) == ok);
}

typedef struct result {
	tfa_err rc;
	char msg[sizeof(((tfa_error *)0)->message)];
	uint8_t out[MAXIN];
	size_t len;
} result;

static void finish(result *res, tfa_err rc, const uint8_t *w)
{
	res->rc = rc;
	res->len = (size_t)(w - res->out);
	snprintf(res->msg, sizeof(res->msg), "%s", rc ? tfa_error_last()->message : "");
}

/* The tree parser's way: the whole input, final, lexed in place in a padded copy. */
static void lex_whole(const uint8_t *d, size_t n, bool canonical, result *res)
{
	uint8_t buf[MAXIN + TFA_JLEX_PAD];
	tfa_jlex lx = {buf, buf + n, 1, true, canonical};
	const uint8_t *r = buf;
	uint8_t *w = buf;
	tfa_jlex_stop stop = TFA_JLEX_MORE;
	tfa_err rc;

	memcpy(buf, d, n);
	memset(buf + n, 0, TFA_JLEX_PAD);
	rc = tfa_jlex_string(&lx, 0, &r, &w, buf + n, &stop);
	REQUIRE(rc != TFA_OK || stop == TFA_JLEX_DONE);
	memcpy(res->out, buf, (size_t)(w - buf));
	finish(res, rc, res->out + (w - buf));
}

/*
 * The stream's way: chunks of `chunk` bytes, the element that crosses a
 * boundary assembled from the next chunk; the end inside the string is
 * reported as "unterminated" only when the whole-input lexer would not say
 * more (so only complete strings and errors before the end are compared).
 */
static bool lex_chunked(const uint8_t *d, size_t n, size_t chunk, bool canonical, result *res)
{
	uint8_t buf[MAXIN + TFA_JLEX_PAD];
	size_t pos = 0;
	uint8_t *w = res->out;

	for (;;) {
		size_t len = n - pos < chunk ? n - pos : chunk;
		tfa_jlex lx = {buf, buf + len, 1 + pos, false, canonical};
		const uint8_t *r = buf;
		tfa_jlex_stop stop;
		tfa_err rc;

		memcpy(buf, d + pos, len);
		memset(buf + len, 0, TFA_JLEX_PAD);
		rc = tfa_jlex_string(&lx, 0, &r, &w, res->out + MAXIN, &stop);
		if (rc != TFA_OK) {
			finish(res, rc, w);
			return true;
		}
		pos += (size_t)(r - buf);
		if (stop == TFA_JLEX_DONE) {
			finish(res, TFA_OK, w);
			return true;
		}
		REQUIRE(stop == TFA_JLEX_MORE);
		if (pos >= n)
			return false; /* the input ends inside the string */
		if (r < buf + len) {
			/* an element crosses: gather it like the stream does */
			uint8_t tmp[12 + TFA_JLEX_PAD];
			size_t have = 0;
			tfa_jlex ex = {tmp, tmp, 1 + pos, false, canonical};
			const uint8_t *q = tmp;

			memset(tmp, 0, sizeof(tmp));
			while (have < tfa_jlex_elem_need(&ex, tmp, have)) {
				if (pos + have >= n)
					return false;
				tmp[have] = d[pos + have];
				have++;
			}
			ex.end = tmp + have;
			rc = tfa_jlex_string(&ex, 0, &q, &w, res->out + MAXIN, &stop);
			if (rc != TFA_OK) {
				finish(res, rc, w);
				return true;
			}
			REQUIRE(stop == TFA_JLEX_MORE && q == tmp + have);
			pos += have;
		}
	}
}

static void check_number(const uint8_t *d, size_t n)
{
	uint8_t buf[64 + TFA_JLEX_PAD];
	tfa_jlex_num num;
	const uint8_t *at;
	double v, ref;
	char tok[80];
	size_t tl;

	if (n > 64 || n == 0 || (d[0] != '-' && (d[0] < '0' || d[0] > '9')))
		return;
	memcpy(buf, d, n);
	memset(buf + n, 0, TFA_JLEX_PAD);
	if (tfa_jlex_number(buf, &num, &at) != TFA_JLEX_NUM_OK)
		return;
	REQUIRE(num.end > buf && num.end <= buf + n);
	tl = (size_t)(num.end - buf);
	memcpy(tok, buf, tl);
	tok[tl] = '\0';
	ref = strtod(tok, NULL);
	if (tfa_jlex_number_value(&num, 0, &v) != TFA_OK) {
		REQUIRE(isinf(ref));
		return;
	}
	REQUIRE(memcmp(&v, &ref, sizeof(v)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static result a, b;
	size_t chunk;

	if (size == 0 || size > MAXIN)
		return 0;
	check_utf8(data, size);
	check_number(data, size);
	chunk = 1 + data[0] % 16;
	for (int canonical = 0; canonical < 2; canonical++) {
		lex_whole(data + 1, size - 1, canonical, &a);
		if (!lex_chunked(data + 1, size - 1, chunk, canonical, &b))
			continue;
		REQUIRE(a.rc == b.rc && strcmp(a.msg, b.msg) == 0);
		REQUIRE(a.len == b.len && memcmp(a.out, b.out, a.len) == 0);
	}
	return 0;
}
