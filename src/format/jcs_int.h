/*
 * Internals shared by the tree parser (jcs.c) and the streaming reader
 * (jstream.c), so that both apply one definition of key order.
 */
#ifndef TFA_JCS_INT_H
#define TFA_JCS_INT_H

#include <stdint.h>
#include <string.h>

#define TFA_SWAR_ONES UINT64_C(0x0101010101010101)
#define TFA_SWAR_HIGHS UINT64_C(0x8080808080808080)

static inline uint64_t tfa_load64(const uint8_t *s)
{
	uint64_t w;

	memcpy(&w, s, sizeof(w));
	return w;
}

/* Non-zero when some byte of w is < n (n <= 0x80). */
static inline uint64_t tfa_any_below(uint64_t w, uint8_t n)
{
	return (w - TFA_SWAR_ONES * n) & ~w & TFA_SWAR_HIGHS;
}

/* Non-zero when some byte of w equals c. */
static inline uint64_t tfa_any_equal(uint64_t w, uint8_t c)
{
	uint64_t x = w ^ (TFA_SWAR_ONES * c);

	return (x - TFA_SWAR_ONES) & ~x & TFA_SWAR_HIGHS;
}

/*
 * Compares two valid UTF-8 strings in the order of their UTF-16 code units
 * (RFC 8785 section 3.2.3): <0, 0, >0.
 */
int tfa_jcs_keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl);

/*
 * Unicode noncharacters (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF), which I-JSON
 * (RFC 7493 section 2.1) forbids in strings: the canonicalizer and the
 * streaming reader both reject them, through these two tests.
 */
static inline int tfa_cp_is_nonchar(unsigned long cp)
{
	return (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
}

/* The same for a well-formed UTF-8 sequence of n (2..4) bytes at s. */
static inline int tfa_utf8_is_nonchar(const uint8_t *s, size_t n)
{
	if (n == 3)
		return s[0] == 0xEF && ((s[1] == 0xB7 && s[2] >= 0x90 && s[2] <= 0xAF) ||
					(s[1] == 0xBF && s[2] >= 0xBE));
	if (n == 4)
		return (s[1] & 0x0F) == 0x0F && s[2] == 0xBF && s[3] >= 0xBE;
	return 0;
}

#endif
