/*
 * Strict base64 (RFC 4648 §4, with padding, no line breaks) for keys and signatures in JSON,
 * and the unpadded base64url of RFC 4648 §5 that JWTs use.
 */
#ifndef TFA_B64_H
#define TFA_B64_H

#include "tfattest/buffer.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

/* The length of the base64 of n bytes, padding included, without a NUL. */
#define TFA_B64_LEN(n) (((n) + 2) / 3 * 4)

/* Appends the base64 of len bytes to out (no NUL). */
TFA_WUR tfa_err tfa_b64_encode(tfa_buf *out, const uint8_t *in, size_t len);

/*
 * Writes the base64 of len bytes to out as a C string. outsz must be at least
 * TFA_B64_LEN(len) + 1; TFA_EINTERNAL (nothing written) otherwise.
 */
TFA_WUR tfa_err tfa_b64_encode_str(char *out, size_t outsz, const uint8_t *in, size_t len);

/*
 * Decodes exactly the canonical base64 of some bytes: the standard alphabet,
 * '=' padding to a multiple of 4, no white space, zero unused bits. At most
 * cap bytes are written. TFA_EFORMAT otherwise.
 */
TFA_WUR tfa_err tfa_b64_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in,
			       size_t len);

/*
 * Decodes exactly the canonical unpadded base64url of some bytes: the URL-safe
 * alphabet ('-' and '_'), no '=', no white space, no length of the form 4k+1,
 * zero unused bits. The empty string is zero bytes. At most cap bytes are
 * written (len * 3 / 4 always suffices). TFA_EFORMAT otherwise, with the
 * messages "bad base64url length", "not base64url", "non-canonical base64url".
 */
TFA_WUR tfa_err tfa_b64url_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in,
				  size_t len);

#endif
