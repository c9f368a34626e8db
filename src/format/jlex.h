/*
 * The one JSON lexer, under both the tree parser (jcs.c) and the streaming
 * reader (jstream.c), and the one UTF-8 validator of the library.
 *
 * The lexer reads tokens out of a contiguous buffer followed by at least
 * TFA_JLEX_PAD NUL bytes, so that scans may load eight bytes at a time and
 * stop on the padding as on any control character. It knows the grammar of
 * strings (escapes, UTF-8, surrogates, I-JSON's noncharacters), numbers and
 * literals; the parsers above it know the structure and the limits.
 *
 * A buffer either holds the document to its end (final: the padding stands for
 * the end of the input, as in the tree parser) or one chunk of it (not final:
 * a token that runs past the chunk stops with TFA_JLEX_MORE, and the stream
 * assembles the element that crosses the boundary, sized by
 * tfa_jlex_elem_need(), before it carries on).
 *
 * Strings have two dialects: plain JSON (RFC 8259 with I-JSON's rules: every
 * escape, \u escapes as surrogate pairs) and canonical (only the escapes
 * RFC 8785 writes: \b \t \n \f \r \" \\ and lowercase \u00xx for the other
 * characters below U+0020).
 */
#ifndef TFA_JLEX_H
#define TFA_JLEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tfattest/common.h"
#include "tfattest/error.h"

/* NUL bytes the lexer may read after a buffer's data. */
#define TFA_JLEX_PAD 16

/* ---- UTF-8 --------------------------------------------------------------------------------- */

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

/* ---- the lexer ----------------------------------------------------------------------------- */

typedef struct tfa_jlex {
	const uint8_t *base; /* the buffer */
	const uint8_t *end;  /* end of its data; TFA_JLEX_PAD NUL bytes follow */
	uint64_t base_off;   /* document offset of base, for messages */
	bool final;	     /* end is the end of the document */
	bool canonical;	     /* strings: only the escapes RFC 8785 writes */
} tfa_jlex;

/* Where a string scan stopped when it did not fail. */
typedef enum tfa_jlex_stop {
	TFA_JLEX_DONE, /* at the closing quote */
	TFA_JLEX_MORE, /* at the end of a chunk, or at an element that crosses it */
	TFA_JLEX_FULL  /* the next piece of output does not fit before wend */
} tfa_jlex_stop;

/* 1 for the four JSON white space characters. */
extern const uint8_t tfa_jlex_ws[256];

/*
 * Scans string content from *r (after the opening quote, whose document
 * offset is quote_off), writing the unescaped UTF-8 to *w, which may be *r
 * itself (unescaping never lengthens) but never ahead of it, and at most up to
 * wend. Both cursors advance past what was done; on TFA_JLEX_DONE *r is at the
 * closing quote. TFA_EFORMAT with a one-line message naming the byte when the
 * string breaks the grammar (the end of a final buffer included), with *r at
 the byte or element at fault.
 */
TFA_WUR tfa_err tfa_jlex_string(const tfa_jlex *lx, uint64_t quote_off, const uint8_t **r,
				uint8_t **w, const uint8_t *wend, tfa_jlex_stop *stop);

/*
 * How many bytes the element at s (a backslash or a byte >= 0x80) needs, of
 * which `have` are known (the rest reads as NUL). Grows as more are known:
 * call again after adding bytes until it is at most `have`.
 */
size_t tfa_jlex_elem_need(const tfa_jlex *lx, const uint8_t *s, size_t have);

/* A number token's parts, from tfa_jlex_number(). */
typedef struct tfa_jlex_num {
	const uint8_t *start, *end;   /* the token */
	const uint8_t *int0, *int1;   /* integer digits */
	const uint8_t *frac0, *frac1; /* fraction digits (empty without '.') */
	bool neg, has_exp;
	uint64_t m;    /* first 19 significant digits */
	size_t nd;     /* significant digits (after leading zeros) */
	int64_t exp10; /* exponent of the last digit, saturated */
} tfa_jlex_num;

typedef enum tfa_jlex_numerr {
	TFA_JLEX_NUM_OK,
	TFA_JLEX_NUM_INVALID,	   /* no digit where the number starts (at start) */
	TFA_JLEX_NUM_LEADING_ZERO, /* a digit after a leading 0 (at start) */
	TFA_JLEX_NUM_FRAC,	   /* no digit after '.' (at *at) */
	TFA_JLEX_NUM_EXP	   /* no digit in the exponent (at *at) */
} tfa_jlex_numerr;

/*
 * Reads the longest number token at s ('-' or a digit) by RFC 8259's grammar
 * into *out; the token ends at the first byte that cannot continue it, which
 * the padding guarantees. On error *at is where.
 */
tfa_jlex_numerr tfa_jlex_number(const uint8_t *s, tfa_jlex_num *out, const uint8_t **at);

/*
 * The double nearest to a number read by tfa_jlex_number() (correctly
 * rounded); TFA_EFORMAT "number out of range" naming byte `at` when it is
 * not finite.
 */
TFA_WUR tfa_err tfa_jlex_number_value(const tfa_jlex_num *num, uint64_t at, double *out);

/* The literal (true, false, null) that starts with c, with its length, or NULL. */
static inline const char *tfa_jlex_literal(uint8_t c, size_t *len)
{
	switch (c) {
	case 't': *len = 4; return "true";
	case 'f': *len = 5; return "false";
	case 'n': *len = 4; return "null";
	default: *len = 0; return NULL;
	}
}

#endif
