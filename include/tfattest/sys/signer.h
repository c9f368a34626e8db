/*
 * For authors of signer backends. The core never calls these pointers
 * directly; it goes through tfa_signer_*() in signer.c.
 *
 * A backend is one const instance of tfa_signer_backend in providers/<name>/,
 * listed once in src/record/registry.c behind its build option.
 */
#ifndef TFATTEST_SYS_SIGNER_H
#define TFATTEST_SYS_SIGNER_H

#include "../signer.h"

#define TFA_SIGNER_ABI 1

/* Capability bits. */
#define TFA_SIGNER_CAP_RSA     0x1u
#define TFA_SIGNER_CAP_EC_P256 0x2u

typedef struct tfa_signer_backend {
	unsigned abi;	    /* TFA_SIGNER_ABI */
	const char *name;   /* "file" */
	const char *scheme; /* URI prefix including the colon: "file:" */
	unsigned caps;

	/* Required. Opens the key named by uri and stores the backend's context. */
	tfa_err (*open)(void **ctx, const char *uri);

	/*
	 * Required. Signs a SHA-256 digest computed by the caller. Appends the
	 * signature to sig: RSA signatures as the modulus-sized octet string,
	 * ECDSA signatures DER-encoded (use tfa_ecdsa_raw_to_der for r||s).
	 */
	tfa_err (*sign)(void *ctx, tfa_sig_alg alg, const uint8_t digest[TFA_SHA256_LEN],
			tfa_buf *sig);

	/* Required. Appends the public key as DER SubjectPublicKeyInfo. */
	tfa_err (*public_key)(void *ctx, tfa_buf *spki);

	/*
	 * Optional (NULL: none). Name/value pairs that tie the key to its device
	 * or account. The array and strings stay owned by ctx until close.
	 */
	const tfa_kv *(*provenance)(void *ctx, size_t *n);

	/* Required. Releases ctx, wiping secrets. Accepts NULL. */
	void (*close)(void *ctx);
} tfa_signer_backend;

/* The backends this build includes, NULL-terminated. */
extern const tfa_signer_backend *const tfa_signer_backends[];

#endif
