/*
 * The one JSON lexer, under both the tree parser (jcs.c) and the streaming
 * reader (jstream.c). Its UTF-8 rules are format/utf8.h's, the library's one validator.
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

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "format/jcs_int.h"
#include "format/utf8.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

/* NUL bytes the lexer may read after a buffer's data. */
#define TFA_JLEX_PAD 16

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
 * The first byte at or after r that is not plain string content: '"', '\\',
 * a control character or a byte >= 0x80 (where escapes and UTF-8 begin). The
 * NUL padding after a buffer stops it. Sixteen bytes at a time with SSE2
 * (one signed compare finds the controls and the bytes >= 0x80 together),
 * eight elsewhere; the loads stay inside the padding.
 */
static inline const uint8_t *tfa_jlex_plain(const uint8_t *r)
{
#if defined(__SSE2__) && defined(__GNUC__)
	for (;;) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)r);
		unsigned hit = (unsigned)_mm_movemask_epi8(
		    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
					      _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
				 _mm_cmplt_epi8(x, _mm_set1_epi8(0x20))));

		if (hit)
			return r + __builtin_ctz(hit);
		r += 16;
	}
#else
	uint8_t c;

	for (;;) {
		uint64_t x = tfa_load64(r);

		if ((tfa_any_below(x, 0x20) | tfa_any_equal(x, '"') | tfa_any_equal(x, '\\') |
		     (x & TFA_SWAR_HIGHS)) != 0)
			break;
		r += 8;
	}
	while ((c = *r) >= 0x20 && c < 0x80 && c != '"' && c != '\\')
		r++;
	return r;
#endif
}

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
