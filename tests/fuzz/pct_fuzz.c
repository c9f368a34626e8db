/*
 * Fuzz target for percent-encoding (format/pct.h). The first byte picks the
 * flags; the rest is the input. tfa_pct_decode is compared with a reference
 * written from the documented rule, in both directions; whatever it accepts
 * must encode (every byte, or the unreserved kept) and decode back to itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/pct.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "pct_fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static int ref_digit(int c)
{
	const char *d = "0123456789abcdef", *u = "0123456789ABCDEF";

	for (int i = 0; i < 16; i++)
		if (c == d[i] || c == u[i])
			return i;
	return -1;
}

/* The rule: "%" HEXDIG HEXDIG is one byte, '+' a space when asked, no NUL unless binary. */
static int ref_decode(uint8_t *out, size_t *outlen, const uint8_t *in, size_t len, unsigned flags)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int c = in[i];

		if (c == '%') {
			if (i + 2 >= len)
				return -1;
			if (ref_digit(in[i + 1]) < 0 || ref_digit(in[i + 2]) < 0)
				return -1;
			c = ref_digit(in[i + 1]) * 16 + ref_digit(in[i + 2]);
			i += 2;
		} else if (c == '+' && (flags & TFA_PCT_PLUS_SPACE)) {
			c = ' ';
		}
		if (c == 0 && !(flags & TFA_PCT_BINARY))
			return -1;
		out[o++] = (uint8_t)c;
	}
	*outlen = o;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags;
	const char *in;
	size_t len, n = 0, rn = 0, bn = 0, outsz;
	uint8_t *out, *ref, *back;
	tfa_buf enc = TFA_BUF_INIT;
	int ok, rok;

	if (size < 1 || size > 4096)
		return 0;
	flags = data[0] & (TFA_PCT_PLUS_SPACE | TFA_PCT_BINARY);
	in = (const char *)data + 1;
	len = size - 1;
	outsz = len + 1;
	out = malloc(outsz);
	ref = malloc(outsz);
	back = malloc(outsz);
	REQUIRE(out != NULL && ref != NULL && back != NULL);
	ok = tfa_pct_decode(out, outsz, &n, in, len, flags) == TFA_OK;
	rok = ref_decode(ref, &rn, (const uint8_t *)in, len, flags) == 0;
	REQUIRE(ok == rok);
	if (ok) {
		REQUIRE(n == rn && memcmp(out, ref, n) == 0 && out[n] == '\0');
		/* A buffer just large enough, then one byte short. */
		if (data[0] & 4) {
			tfa_err rc = tfa_pct_decode(back, n + 1, &bn, in, len, flags);
			REQUIRE(rc == TFA_OK && bn == n);
			if (n > 0)
				REQUIRE(tfa_pct_decode(back, n, &bn, in, len, flags) ==
					TFA_EFORMAT);
		}
		REQUIRE(tfa_pct_encode(&enc, out, n, (data[0] & 8) ? TFA_PCT_UNRESERVED : 0,
				       (data[0] & 16) ? "/:" : NULL) == TFA_OK);
		for (size_t i = 0; i < enc.len; i++)
			REQUIRE(enc.data[i] != '+' && enc.data[i] != ' ' && enc.data[i] != 0);
		free(back);
		back = malloc(enc.len + 1);
		REQUIRE(back != NULL);
		REQUIRE(tfa_pct_decode(back, enc.len + 1, &bn, (const char *)enc.data, enc.len,
				       flags) == TFA_OK);
		REQUIRE(bn == n && memcmp(back, out, n) == 0);
	}
	tfa_buf_free(&enc);
	free(out);
	free(ref);
	free(back);
	return 0;
}
