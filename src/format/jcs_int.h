/*
 * Internals shared by the tree parser (jcs.c) and the streaming reader
 * (jstream.c), so that both apply one definition of key order.
 */
#ifndef TFA_JCS_INT_H
#define TFA_JCS_INT_H

#include <stdint.h>
#include <string.h>

#define TFA_SWAR_ONES  UINT64_C(0x0101010101010101)
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

#endif
