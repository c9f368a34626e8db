/*
 * Signature algorithms and public keys: what checking a signature needs to
 * name. Verifier-side; signer.h builds the signing side on top of it.
 * Signatures use the algorithm names of AWS KMS.
 */
#ifndef TFATTEST_SIGALG_H
#define TFATTEST_SIGALG_H

#include "buffer.h"
#include "common.h"
#include "error.h"

typedef enum tfa_sig_alg {
	TFA_ALG_NONE = 0,
	TFA_ALG_RSASSA_PSS_SHA_256, /* MGF1-SHA256, salt length 32 */
	TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256,
	TFA_ALG_ECDSA_SHA_256 /* P-256, DER */
} tfa_sig_alg;

/* "RSASSA_PSS_SHA_256" and so on; "NONE" for anything else. */
const char *tfa_sig_alg_name(tfa_sig_alg alg);

/* TFA_EFORMAT for an unknown name. */
TFA_WUR tfa_err tfa_sig_alg_from_name(tfa_sig_alg *out, const char *name);

/* Writes the PEM of a DER SPKI to `out`. */
TFA_WUR tfa_err tfa_spki_to_pem(tfa_buf *out, const uint8_t *spki, size_t len);

/* "sha256:<hex>" of a DER SPKI, into out[TFA_FPR_STRLEN]. */
void tfa_spki_fingerprint(char out[TFA_FPR_STRLEN], const uint8_t *spki, size_t len);

/*
 * Converts a raw r||s ECDSA signature (2 * n bytes) to DER, appending to out.
 * Signer backends whose device returns r||s use it (include/tfattest/sys/signer.h).
 */
TFA_WUR tfa_err tfa_ecdsa_raw_to_der(tfa_buf *out, const uint8_t *raw, size_t len);

#endif
