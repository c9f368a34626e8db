/*
 * The library's one UTF-8 validator and decoder (RFC 3629: no overlong forms,
 * no encoded surrogates, nothing above U+10FFFF), and I-JSON's noncharacters.
 * The JSON lexer (jlex.c), the error escaper and capture's text filter use it.
 */
#ifndef TFA_UTF8_H
#define TFA_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Length of the sequence that lead byte c starts (1 for ASCII), or 0 when c
 * cannot start one (a continuation byte, C0, C1, F5..FF).
 */
static inline size_t tfa_utf8_lead_len(uint8_t c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return 2;
	if (c >= 0xE0 && c <= 0xEF)
		return 3;
	if (c >= 0xF0 && c <= 0xF4)
		return 4;
	return 0;
}

/*
 * Length of the well-formed UTF-8 sequence at s, of which n >= 1 bytes may be
 * read (1 for an ASCII byte, NUL included), or 0 when s does not start one:
 * no overlong forms, no encoded surrogates, nothing above U+10FFFF, no
 * sequence cut short by the end.
 */
size_t tfa_utf8_seq_len(const uint8_t *s, size_t n);

/* The same, with the code point in *cp when the sequence is well formed. */
size_t tfa_utf8_decode(const uint8_t *s, size_t n, unsigned long *cp);

/* Whether the n bytes at s are well-formed UTF-8 (NUL bytes included). */
bool tfa_utf8_valid(const uint8_t *s, size_t n);

/*
 * Unicode noncharacters (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF), which I-JSON
 * (RFC 7493 section 2.1) forbids in strings.
 */
static inline int tfa_cp_is_nonchar(unsigned long cp)
{
	return (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
}

/* The same for a well-formed UTF-8 sequence of n (1..4) bytes at s. */
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
