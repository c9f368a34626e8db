/*
 * The stored form of a record, shared by the stores and sequencers:
 * the artifact's canonical bytes, "\n", the signature in lowercase hex, "\n".
 * (docs/FORMAT.md §7.)
 */
#ifndef TFA_RECORD_H
#define TFA_RECORD_H

#include "tfattest/buffer.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

/* Appends the stored form of (artifact, sig) to out. TFA_EUSAGE when the
 * artifact holds a newline or either part is empty. */
TFA_WUR tfa_err tfa_record_encode(tfa_buf *out, const uint8_t *artifact, size_t artifact_len,
				  const uint8_t *sig, size_t sig_len);

/*
 * Splits a stored record: appends the artifact bytes to `artifact` and the
 * decoded signature to `sig`. TFA_EFORMAT when raw is not exactly one
 * non-empty line followed by one line of an even number (>0) of lowercase hex
 * digits.
 */
TFA_WUR tfa_err tfa_record_decode(const uint8_t *raw, size_t len, tfa_buf *artifact, tfa_buf *sig);

#endif
