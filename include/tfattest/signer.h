/*
 * Signers: keys that sign SHA-256 digests, named by URI.
 *
 *   file:PATH                          PEM private key (development, demo)
 *   pkcs11:token=...;object=...?...    RFC 7512 URI, through libp11
 *   awskms:///KEYID | awskms://HOST:PORT/KEYID   AWS KMS
 *
 * The backend is chosen by the URI's scheme from the build's registry.
 * Algorithms and key helpers are in sigalg.h. ECDSA signatures are always
 * returned DER-encoded (ECDSA-Sig-Value), whatever the backend produces.
 */
#ifndef TFATTEST_SIGNER_H
#define TFATTEST_SIGNER_H

#include "buffer.h"
#include "common.h"
#include "error.h"
#include "sigalg.h"

typedef struct tfa_signer tfa_signer;

/* Opens the key named by `uri`. Release with tfa_signer_free(). */
TFA_WUR tfa_err tfa_signer_open(tfa_signer **out, const char *uri);

/*
 * Signs a SHA-256 digest. The signature is appended to `sig`. Before it is
 * returned it is verified against the signer's public key, so a faulty token
 * or a key mix-up cannot produce a record that later fails verification.
 */
TFA_WUR tfa_err tfa_signer_sign(tfa_buf *sig, tfa_signer *s, tfa_sig_alg alg,
				const uint8_t digest[TFA_SHA256_LEN]);

/* The public key as DER SubjectPublicKeyInfo. Owned by the signer. */
const uint8_t *tfa_signer_spki(const tfa_signer *s, size_t *len);

/* "sha256:" + lowercase hex SHA-256 of the DER SPKI. Owned by the signer. */
const char *tfa_signer_fingerprint(const tfa_signer *s);

/* RSASSA_PSS_SHA_256 for RSA keys, ECDSA_SHA_256 for P-256 keys. */
tfa_sig_alg tfa_signer_default_alg(const tfa_signer *s);

/* TFA_OK if the key can make signatures of this algorithm, else TFA_EUSAGE. */
TFA_WUR tfa_err tfa_signer_check_alg(const tfa_signer *s, tfa_sig_alg alg);

/* The backend's name: "file", "pkcs11", "awskms". */
const char *tfa_signer_backend_name(const tfa_signer *s);

/*
 * Facts that tie the key to a device or account, as name/value pairs
 * (e.g. "token_label", "token_serial", "key_label", "key_id", "key_arn").
 * Never secret. Count in *n; the array is owned by the signer.
 */
typedef struct tfa_kv {
	const char *name;
	const char *value;
} tfa_kv;
const tfa_kv *tfa_signer_provenance(const tfa_signer *s, size_t *n);

/* Accepts NULL. Closes sessions and wipes any secret material. */
void tfa_signer_free(tfa_signer *s);

#endif
