/* Strict base64 (RFC 4648 §4, with padding, no line breaks) for keys and signatures in JSON. */
#ifndef TFA_B64_H
#define TFA_B64_H

#include "tfattest/buffer.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

/* Appends the base64 of len bytes to out (no NUL). */
TFA_WUR tfa_err tfa_b64_encode(tfa_buf *out, const uint8_t *in, size_t len);

/*
 * Decodes exactly the canonical base64 of some bytes: the standard alphabet,
 * '=' padding to a multiple of 4, no white space, zero unused bits. At most
 * cap bytes are written. TFA_EFORMAT otherwise.
 */
TFA_WUR tfa_err tfa_b64_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t len);

#endif
