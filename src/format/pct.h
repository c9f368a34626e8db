/*
 * Percent-encoding (RFC 3986 §2.1), written once for every URI and query the
 * library reads or writes: s3:// and dynamodb:// parameters, SigV4 canonical
 * paths and queries, form bodies, pkcs11: URIs.
 */
#ifndef TFA_PCT_H
#define TFA_PCT_H

#include <stdbool.h>

#include "tfattest/buffer.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

/* Decoding: '+' stands for a space (application/x-www-form-urlencoded). */
#define TFA_PCT_PLUS_SPACE 1u
/* Decoding: a NUL byte (%00) is allowed, for binary values such as a PKCS#11 id. */
#define TFA_PCT_BINARY 2u
/* Encoding: the unreserved bytes (A-Z a-z 0-9 - . _ ~) stay as they are. */
#define TFA_PCT_UNRESERVED 4u

/* True for the bytes RFC 3986 calls unreserved: A-Z a-z 0-9 - . _ ~ */
bool tfa_pct_unreserved(int c);

/*
 * Decodes in[0..len) into out, NUL-terminated, with *outlen the decoded length
 * (the NUL not counted). Strict: a '%' not followed by two hex digits (either
 * case) is an error, and so is a NUL byte, escaped or not, unless
 * TFA_PCT_BINARY. outsz = len + 1 always suffices; a smaller out that cannot
 * hold the value is an error. TFA_EFORMAT, with the offset in the message
 * (TFA_EINTERNAL when outsz is 0).
 */
TFA_WUR tfa_err tfa_pct_decode(uint8_t *out, size_t outsz, size_t *outlen, const char *in,
			       size_t len, unsigned flags);

/*
 * Appends in[0..len) percent-encoded to out, with uppercase hex digits. Every
 * byte is escaped, except the unreserved ones with TFA_PCT_UNRESERVED, and
 * the bytes of `keep` (a C string, may be NULL). Fails only as tfa_buf_append.
 */
TFA_WUR tfa_err tfa_pct_encode(tfa_buf *out, const void *in, size_t len, unsigned flags,
			       const char *keep);

#endif
