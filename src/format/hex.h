/*
 * Hex digits, written once: the value of a digit, the lowercase form the
 * format uses for digests, fingerprints and nonces, and "sha256:<hex>".
 */
#ifndef TFA_HEX_H
#define TFA_HEX_H

#include <stdbool.h>

#include "tfattest/common.h"
#include "tfattest/error.h"

/* The value of one hex digit (0-9, a-f, A-F), or -1 for any other value (EOF included). */
int tfa_hexval(int c);

/* True when s[0..n) is n lowercase hex digits (0-9, a-f); true for n == 0. */
bool tfa_is_lowerhex(const char *s, size_t n);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void tfa_hex_encode(char *out, const uint8_t *in, size_t len);

/* Decodes exactly 2*len lowercase hex digits; TFA_EFORMAT otherwise. */
TFA_WUR tfa_err tfa_hex_decode(uint8_t *out, size_t len, const char *hex, size_t hexlen);

/* "sha256:<64 lowercase hex>" of a digest. */
void tfa_hash_str(char out[TFA_FPR_STRLEN], const uint8_t digest[TFA_SHA256_LEN]);

/* Parses "sha256:<64 lowercase hex>"; TFA_EFORMAT otherwise. */
TFA_WUR tfa_err tfa_hash_parse(uint8_t out[TFA_SHA256_LEN], const char *s, size_t len);

#endif
