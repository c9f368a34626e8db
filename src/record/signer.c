#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "record/signer_int.h"
#include "tfattest/sys/guard.h"
#include "tfattest/sys/signer.h"
#include "verify/crypto.h"

struct tfa_signer {
	const tfa_signer_backend *backend;
	void *ctx;
	tfa_buf spki;
	EVP_PKEY *pub;
	char fpr[TFA_FPR_STRLEN];
};

static const tfa_signer_backend *find_backend(const char *uri)
{
	for (const tfa_signer_backend *const *b = tfa_signer_backends; *b; b++)
		if (strncmp(uri, (*b)->scheme, strlen((*b)->scheme)) == 0)
			return *b;
	return NULL;
}

tfa_err tfa_signer_open(tfa_signer **out, const char *uri)
{
	tfa_err rc = TFA_OK;
	tfa_signer *s = NULL;
	const tfa_signer_backend *b;
	tfa_buf raw;

	tfa_buf_init(&raw, 16384);
	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE(uri != NULL && *uri, TFA_EUSAGE, "no signing key given (--key or TFATTEST_KEY)");
	b = find_backend(uri);
	if (b == NULL) {
		const char *colon = strchr(uri, ':');
		int n = colon ? (int)(colon - uri) : (int)strlen(uri);
		if (n > 32)
			n = 32;
		TFA_BAIL(TFA_EUSAGE,
			 "unsupported key URI scheme '%.*s': this build knows file:%s%s", n, uri,
#if TFATTEST_WITH_PKCS11
			 ", pkcs11:",
#else
			 "",
#endif
#if TFATTEST_WITH_AWS
			 ", awskms://"
#else
			 ""
#endif
		);
	}
	if (b->abi != TFA_SIGNER_ABI)
		TFA_BAIL(TFA_EINTERNAL, "signer backend %s has ABI %u, expected %u", b->name,
			 b->abi, TFA_SIGNER_ABI);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		TFA_BAIL(TFA_EINTERNAL, "out of memory");
	s->backend = b;
	tfa_buf_init(&s->spki, 16384);
	TFA_GUARD(b->open(&s->ctx, uri));
	TFA_GUARD(b->public_key(s->ctx, &raw));
	/* Whatever encoding the backend reports, the key has one SPKI and one fingerprint. */
	TFA_GUARD(tfa_spki_canonicalize(&s->spki, raw.data, raw.len));
	TFA_GUARD(tfa_pkey_from_spki(&s->pub, s->spki.data, s->spki.len));
	tfa_spki_fingerprint(s->fpr, s->spki.data, s->spki.len);
	*out = s;
	s = NULL;
out:
	tfa_buf_free(&raw);
	tfa_signer_free(s);
	return rc;
}

tfa_err tfa_signer_check_alg(const tfa_signer *s, tfa_sig_alg alg)
{
	if (tfa_pkey_check_alg(s->pub, alg) != TFA_OK)
		return tfa_error_set(
		    TFA_EUSAGE, "algorithm %s does not fit this %s key", tfa_sig_alg_name(alg),
		    tfa_signer_default_alg(s) == TFA_ALG_ECDSA_SHA_256 ? "EC P-256" : "RSA");
	return TFA_OK;
}

tfa_err tfa_signer_sign(tfa_buf *sig, tfa_signer *s, tfa_sig_alg alg,
			const uint8_t digest[TFA_SHA256_LEN])
{
	tfa_err rc = TFA_OK;
	size_t start;

	TFA_ENSURE_ARG(sig);
	TFA_ENSURE_ARG(s);
	TFA_ENSURE_ARG(digest);
	TFA_GUARD(tfa_signer_check_alg(s, alg));
	start = sig->len;
	TFA_GUARD(s->backend->sign(s->ctx, alg, digest, sig));
	/* A token that signs with another key, or returns garbage, is caught here. */
	if (tfa_verify_digest(s->pub, alg, digest, sig->data + start, sig->len - start) != TFA_OK) {
		sig->len = start;
		TFA_BAIL(
		    TFA_EBACKEND,
		    "the %s signer returned a signature that does not verify under its public key",
		    s->backend->name);
	}
out:
	return rc;
}

const uint8_t *tfa_signer_spki(const tfa_signer *s, size_t *len)
{
	*len = s->spki.len;
	return s->spki.data;
}

EVP_PKEY *tfa_signer_pkey(const tfa_signer *s)
{
	return s->pub;
}

const char *tfa_signer_fingerprint(const tfa_signer *s)
{
	return s->fpr;
}

tfa_sig_alg tfa_signer_default_alg(const tfa_signer *s)
{
	return tfa_pkey_default_alg(s->pub);
}

const char *tfa_signer_backend_name(const tfa_signer *s)
{
	return s->backend->name;
}

const tfa_kv *tfa_signer_provenance(const tfa_signer *s, size_t *n)
{
	*n = 0;
	if (s->backend->provenance == NULL)
		return NULL;
	return s->backend->provenance(s->ctx, n);
}

void tfa_signer_free(tfa_signer *s)
{
	if (s == NULL)
		return;
	if (s->ctx)
		s->backend->close(s->ctx);
	EVP_PKEY_free(s->pub);
	tfa_buf_free(&s->spki);
	free(s);
}
