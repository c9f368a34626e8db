/* Library-private helpers around libcrypto. */
#ifndef TFA_CRYPTO_H
#define TFA_CRYPTO_H

#include <openssl/evp.h>

#include "format/hex.h"
#include "tfattest/buffer.h"
#include "tfattest/common.h"
#include "tfattest/error.h"
#include "tfattest/sigalg.h"

void tfa_sha256(uint8_t out[TFA_SHA256_LEN], const void *data, size_t len);

/*
 * TFA_OK when DER SPKI is the one canonical encoding of a supported key:
 * id-ecPublicKey with the named curve prime256v1 and an uncompressed point, or
 * rsaEncryption with NULL parameters and a 2048..4096-bit modulus, in exactly
 * the DER that i2d_PUBKEY writes for it. TFA_EFORMAT ("public key is not in
 * canonical form (...)") otherwise. One key thus has one fingerprint.
 */
TFA_WUR tfa_err tfa_spki_canonical_check(const uint8_t *der, size_t len);

/*
 * Re-encodes any DER SPKI of a supported key in its canonical form (appended
 * to out). For keys a signer backend reports, which may come compressed.
 */
TFA_WUR tfa_err tfa_spki_canonicalize(tfa_buf *out, const uint8_t *der, size_t len);

/* Parses a canonical DER SubjectPublicKeyInfo (tfa_spki_canonical_check) of a supported key. */
TFA_WUR tfa_err tfa_pkey_from_spki(EVP_PKEY **out, const uint8_t *der, size_t len);

/* Parses one PEM public key into DER; the DER it holds must be canonical. */
TFA_WUR tfa_err tfa_spki_from_pem(tfa_buf *der, const uint8_t *pem, size_t len);

/*
 * The same for a key file of a bundle (public_key.pem, keys/<hex>.pem): the file must
 * also be exactly the PEM text tfa_spki_to_pem() writes for the key (FORMAT.md R-1.3-2).
 */
TFA_WUR tfa_err tfa_spki_from_bundle_pem(tfa_buf *der, const uint8_t *pem, size_t len);

/* The DER SPKI of a key. */
TFA_WUR tfa_err tfa_pkey_to_spki(tfa_buf *der, EVP_PKEY *pkey);

/*
 * TFA_OK when `alg` fits the key: RSA 2048..4096 bits for the RSA algorithms,
 * EC on P-256 for ECDSA_SHA_256. TFA_EVERIFY otherwise.
 */
TFA_WUR tfa_err tfa_pkey_check_alg(EVP_PKEY *pkey, tfa_sig_alg alg);

/* The default algorithm for a key type, or TFA_ALG_NONE for unsupported keys. */
tfa_sig_alg tfa_pkey_default_alg(EVP_PKEY *pkey);

/*
 * Verifies a signature over a SHA-256 digest. TFA_OK when valid, TFA_EVERIFY
 * when invalid (including an algorithm that does not fit the key), TFA_ECRYPTO
 * when the check could not be made.
 */
TFA_WUR tfa_err tfa_verify_digest(EVP_PKEY *pkey, tfa_sig_alg alg,
				  const uint8_t digest[TFA_SHA256_LEN], const uint8_t *sig,
				  size_t siglen);

/*
 * A reusable signature checker for one key: keeps one initialized context per
 * algorithm, since setting one up costs a fair part of an RSA verification.
 * Not thread-safe: one per thread.
 */
typedef struct tfa_verifier {
	EVP_PKEY *pkey; /* borrowed */
	EVP_PKEY_CTX *ctx[4];
	/* The key's facts each check needs, read once: OpenSSL 3 answers them through the
	 * provider, which costs a fair part of a verification too. */
	tfa_sig_alg def; /* tfa_pkey_default_alg(pkey) */
	int size;	 /* EVP_PKEY_get_size(pkey) */
} tfa_verifier;

void tfa_verifier_init(tfa_verifier *v, EVP_PKEY *pkey);
/* As tfa_verify_digest. */
TFA_WUR tfa_err tfa_verifier_check(tfa_verifier *v, tfa_sig_alg alg,
				   const uint8_t digest[TFA_SHA256_LEN], const uint8_t *sig,
				   size_t siglen);
void tfa_verifier_clear(tfa_verifier *v);

/* Sets up a signing or verifying context's padding for alg. */
TFA_WUR tfa_err tfa_pkey_ctx_set_alg(EVP_PKEY_CTX *ctx, tfa_sig_alg alg);

#endif
