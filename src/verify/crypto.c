#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "tfattest/sigalg.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

static const char *const alg_names[] = {
    [TFA_ALG_NONE] = "NONE",
    [TFA_ALG_RSASSA_PSS_SHA_256] = "RSASSA_PSS_SHA_256",
    [TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256] = "RSASSA_PKCS1_V1_5_SHA_256",
    [TFA_ALG_ECDSA_SHA_256] = "ECDSA_SHA_256",
};

const char *tfa_sig_alg_name(tfa_sig_alg alg)
{
	if ((unsigned)alg >= sizeof(alg_names) / sizeof(alg_names[0]))
		return "NONE";
	return alg_names[alg];
}

tfa_err tfa_sig_alg_from_name(tfa_sig_alg *out, const char *name)
{
	for (unsigned i = 1; i < sizeof(alg_names) / sizeof(alg_names[0]); i++) {
		if (strcmp(name, alg_names[i]) == 0) {
			*out = (tfa_sig_alg)i;
			return TFA_OK;
		}
	}
	*out = TFA_ALG_NONE;
	return tfa_error_set(TFA_EFORMAT, "unknown signature algorithm");
}

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

void tfa_sha256(uint8_t out[TFA_SHA256_LEN], const void *data, size_t len)
{
	/* One fetch per process: SHA256() fetches the implementation on every call. */
	pthread_once(&sha256_once, fetch_sha256);
	if (sha256_md == NULL || !EVP_Digest(data, len, out, NULL, sha256_md, NULL))
		SHA256(data, len, out);
}

void tfa_spki_fingerprint(char out[TFA_FPR_STRLEN], const uint8_t *spki, size_t len)
{
	uint8_t d[TFA_SHA256_LEN];

	tfa_sha256(d, spki, len);
	tfa_hash_str(out, d);
}

/* Parses DER SPKI with no trailing bytes; the key must be one some algorithm can use. */
static tfa_err pkey_parse_any(EVP_PKEY **out, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	EVP_PKEY *pkey;

	*out = NULL;
	if (len == 0 || len > 16384)
		return tfa_error_set(TFA_EFORMAT, "public key has an invalid size");
	pkey = d2i_PUBKEY(NULL, &p, (long)len);
	if (pkey == NULL)
		return tfa_error_openssl(TFA_EFORMAT,
					 "public key is not a valid DER SubjectPublicKeyInfo");
	if (p != der + len) {
		EVP_PKEY_free(pkey);
		return tfa_error_set(TFA_EFORMAT, "public key has trailing bytes");
	}
	if (tfa_pkey_default_alg(pkey) == TFA_ALG_NONE) {
		EVP_PKEY_free(pkey);
		return tfa_error_set(
		    TFA_EFORMAT,
		    "unsupported public key: need RSA 2048-4096 with exponent 65537, or EC P-256");
	}
	*out = pkey;
	return TFA_OK;
}

/* The canonical DER SPKI of a supported key: named curve, uncompressed point; RSA as is. */
static tfa_err pkey_canonical_der(tfa_buf *der, EVP_PKEY *pkey)
{
	if (EVP_PKEY_is_a(pkey, "EC") &&
	    (!EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
					     OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) ||
	     !EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING,
					     OSSL_PKEY_EC_ENCODING_GROUP)))
		return tfa_error_openssl(TFA_ECRYPTO, "cannot set the canonical EC key encoding");
	return tfa_pkey_to_spki(der, pkey);
}

/* Why DER SPKI is not the canonical encoding of its key, or NULL when the shape is right. */
static const char *spki_shape_problem(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509_PUBKEY *xp = d2i_X509_PUBKEY(NULL, &p, (long)len);
	const ASN1_OBJECT *oid = NULL;
	const unsigned char *pk = NULL;
	const void *pval = NULL;
	int pklen = 0, ptype = 0;
	X509_ALGOR *alg = NULL;
	const char *why = NULL;

	if (xp == NULL || !X509_PUBKEY_get0_param(NULL, &pk, &pklen, &alg, xp)) {
		why = "not a DER SubjectPublicKeyInfo";
		goto out;
	}
	X509_ALGOR_get0(&oid, &ptype, &pval, alg);
	switch (OBJ_obj2nid(oid)) {
	case NID_rsaEncryption:
		if (ptype != V_ASN1_NULL)
			why = "RSA key parameters are not NULL";
		break;
	case NID_X9_62_id_ecPublicKey:
		if (ptype != V_ASN1_OBJECT || OBJ_obj2nid(pval) != NID_X9_62_prime256v1)
			why = "EC key without the named curve prime256v1";
		else if (pklen != 65 || pk[0] != 0x04)
			why = "compressed or hybrid EC point";
		break;
	case NID_rsassaPss:
		why = "RSASSA-PSS key; an RSA key has the rsaEncryption algorithm";
		break;
	default: why = "unsupported key algorithm"; break;
	}
out:
	X509_PUBKEY_free(xp);
	ERR_clear_error();
	return why;
}

tfa_err tfa_spki_canonical_check(const uint8_t *der, size_t len)
{
	tfa_err rc = TFA_OK;
	EVP_PKEY *pkey = NULL;
	const char *why;
	tfa_buf c;

	tfa_buf_init(&c, 16384);
	TFA_GUARD(pkey_parse_any(&pkey, der, len));
	if ((why = spki_shape_problem(der, len)) != NULL)
		TFA_BAIL(TFA_EFORMAT, "public key is not in canonical form (%s)", why);
	TFA_GUARD(pkey_canonical_der(&c, pkey));
	if (c.len != len || memcmp(c.data, der, len) != 0)
		TFA_BAIL(TFA_EFORMAT,
			 "public key is not in canonical form (not the DER encoding of its key)");
out:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	tfa_buf_free(&c);
	return rc;
}

tfa_err tfa_spki_canonicalize(tfa_buf *out, const uint8_t *der, size_t len)
{
	tfa_err rc = TFA_OK;
	EVP_PKEY *pkey = NULL;

	TFA_GUARD(pkey_parse_any(&pkey, der, len));
	TFA_ENSURE(EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA || EVP_PKEY_is_a(pkey, "EC"),
		   TFA_EFORMAT,
		   "unsupported public key: need RSA 2048-4096 with exponent 65537, or EC P-256");
	TFA_GUARD(pkey_canonical_der(out, pkey));
out:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	return rc;
}

tfa_err tfa_pkey_from_spki(EVP_PKEY **out, const uint8_t *der, size_t len)
{
	*out = NULL;
	if (tfa_spki_canonical_check(der, len) != TFA_OK)
		return tfa_error_last()->code;
	return pkey_parse_any(out, der, len);
}

tfa_err tfa_pkey_to_spki(tfa_buf *der, EVP_PKEY *pkey)
{
	unsigned char *p = NULL;
	int n = i2d_PUBKEY(pkey, &p);
	tfa_err rc;

	if (n <= 0)
		return tfa_error_openssl(TFA_ECRYPTO, "cannot encode the public key");
	rc = tfa_buf_append(der, p, (size_t)n);
	OPENSSL_free(p);
	return rc;
}

tfa_err tfa_spki_from_pem(tfa_buf *der, const uint8_t *pem, size_t len)
{
	tfa_err rc = TFA_OK;
	BIO *bio = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long n = 0;

	if (len > 65536)
		TFA_BAIL(TFA_EFORMAT, "public key file is too large");
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		TFA_BAIL(TFA_EINTERNAL, "out of memory");
	if (!PEM_read_bio(bio, &name, &header, &data, &n) || strcmp(name, PEM_STRING_PUBLIC) != 0 ||
	    n <= 0)
		TFA_BAIL(TFA_EFORMAT, "not a PEM public key");
	/* The key is what the PEM holds, byte for byte: it must be canonical as it stands. */
	TFA_GUARD(tfa_spki_canonical_check(data, (size_t)n));
	TFA_GUARD(tfa_buf_append(der, data, (size_t)n));
out:
	ERR_clear_error();
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	return rc;
}

tfa_err tfa_spki_from_bundle_pem(tfa_buf *der, const uint8_t *pem, size_t len)
{
	tfa_err rc = TFA_OK;
	size_t start = der->len;
	tfa_buf want;

	tfa_buf_init(&want, 65536);
	TFA_GUARD(tfa_spki_from_pem(der, pem, len));
	TFA_GUARD(tfa_spki_to_pem(&want, der->data + start, der->len - start));
	if (want.len != len || memcmp(want.data, pem, len) != 0)
		TFA_BAIL(TFA_EFORMAT, "public key file is not strict PEM (one PUBLIC KEY block in "
				      "64-character lines ended by \\n, nothing before or after)");
out:
	if (rc != TFA_OK)
		der->len = start;
	tfa_buf_free(&want);
	return rc;
}

tfa_err tfa_spki_to_pem(tfa_buf *out, const uint8_t *spki, size_t len)
{
	tfa_err rc = TFA_OK;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	char *p;
	long n;

	TFA_GUARD(tfa_pkey_from_spki(&pkey, spki, len));
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || !PEM_write_bio_PUBKEY(bio, pkey))
		TFA_BAIL(TFA_EINTERNAL, "cannot write PEM");
	n = BIO_get_mem_data(bio, &p);
	TFA_GUARD(tfa_buf_append(out, p, (size_t)n));
out:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return rc;
}

static int is_p256(EVP_PKEY *pkey)
{
	char name[64];
	size_t len = 0;

	if (!EVP_PKEY_is_a(pkey, "EC"))
		return 0;
	if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name),
					    &len))
		return 0;
	return strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0;
}

tfa_sig_alg tfa_pkey_default_alg(EVP_PKEY *pkey)
{
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		int bits = EVP_PKEY_get_bits(pkey);
		BIGNUM *e = NULL;
		bool f4;

		/* One public exponent, so that "a supported key" has one meaning everywhere. */
		if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e)) {
			ERR_clear_error();
			return TFA_ALG_NONE;
		}
		f4 = BN_is_word(e, RSA_F4);
		BN_free(e);
		return f4 && bits >= 2048 && bits <= 4096 ? TFA_ALG_RSASSA_PSS_SHA_256
							  : TFA_ALG_NONE;
	}
	if (is_p256(pkey))
		return TFA_ALG_ECDSA_SHA_256;
	return TFA_ALG_NONE;
}

/* Whether alg fits a key whose default algorithm is def. */
static tfa_err alg_fits(tfa_sig_alg def, tfa_sig_alg alg)
{
	switch (alg) {
	case TFA_ALG_RSASSA_PSS_SHA_256:
	case TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256:
		if (def == TFA_ALG_RSASSA_PSS_SHA_256)
			return TFA_OK;
		break;
	case TFA_ALG_ECDSA_SHA_256:
		if (def == TFA_ALG_ECDSA_SHA_256)
			return TFA_OK;
		break;
	default: break;
	}
	return tfa_error_set(TFA_EVERIFY, "algorithm %s does not fit the key",
			     tfa_sig_alg_name(alg));
}

tfa_err tfa_pkey_check_alg(EVP_PKEY *pkey, tfa_sig_alg alg)
{
	return alg_fits(tfa_pkey_default_alg(pkey), alg);
}

tfa_err tfa_pkey_ctx_set_alg(EVP_PKEY_CTX *ctx, tfa_sig_alg alg)
{
	if (EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0)
		return tfa_error_openssl(TFA_ECRYPTO, "cannot select SHA-256");
	switch (alg) {
	case TFA_ALG_RSASSA_PSS_SHA_256:
		if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) <= 0)
			return tfa_error_openssl(TFA_ECRYPTO, "cannot set up RSASSA-PSS");
		break;
	case TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256:
		if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0)
			return tfa_error_openssl(TFA_ECRYPTO, "cannot set up RSASSA-PKCS1-v1_5");
		break;
	case TFA_ALG_ECDSA_SHA_256: break;
	default: return tfa_error_set(TFA_EUSAGE, "unknown signature algorithm");
	}
	return TFA_OK;
}

/*
 * The encoding rules a signature must meet before it is verified: an RSA
 * signature is exactly the modulus length (OpenSSL accepts a PSS signature
 * with leading zero bytes removed); an ECDSA signature is strict DER, one
 * SEQUENCE of two minimal INTEGERs and nothing after it (either S accepted).
 */
static tfa_err sig_shape_check(int size, tfa_sig_alg alg, const uint8_t *sig, size_t siglen)
{
	tfa_err rc = TFA_OK;
	ECDSA_SIG *es = NULL;
	unsigned char *der = NULL;
	const unsigned char *p = sig;
	int n;

	if (siglen == 0 || siglen > 1024)
		TFA_BAIL(TFA_EVERIFY, "signature has an invalid length (%zu bytes)", siglen);
	if (alg == TFA_ALG_RSASSA_PSS_SHA_256 || alg == TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256) {
		if (size <= 0 || siglen != (size_t)size)
			TFA_BAIL(TFA_EVERIFY,
				 "RSA signature is %zu bytes, not the modulus length (%d bytes)",
				 siglen, size);
	} else if (alg == TFA_ALG_ECDSA_SHA_256) {
		es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
		if (es == NULL || p != sig + siglen)
			TFA_BAIL(TFA_EVERIFY,
				 "ECDSA signature is not one DER SEQUENCE of two INTEGERs");
		n = i2d_ECDSA_SIG(es, &der);
		if (n <= 0 || (size_t)n != siglen || memcmp(der, sig, siglen) != 0)
			TFA_BAIL(TFA_EVERIFY, "ECDSA signature is not strict DER");
	}
out:
	ERR_clear_error();
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	return rc;
}

tfa_err tfa_verify_digest(EVP_PKEY *pkey, tfa_sig_alg alg, const uint8_t digest[TFA_SHA256_LEN],
			  const uint8_t *sig, size_t siglen)
{
	tfa_err rc = TFA_OK;
	EVP_PKEY_CTX *ctx = NULL;
	int ok;

	TFA_GUARD(tfa_pkey_check_alg(pkey, alg));
	TFA_GUARD(sig_shape_check(EVP_PKEY_get_size(pkey), alg, sig, siglen));
	ctx = EVP_PKEY_CTX_new(pkey, NULL);
	if (ctx == NULL || EVP_PKEY_verify_init(ctx) <= 0)
		TFA_BAIL(TFA_ECRYPTO, "cannot set up signature verification");
	TFA_GUARD(tfa_pkey_ctx_set_alg(ctx, alg));
	ok = EVP_PKEY_verify(ctx, sig, siglen, digest, TFA_SHA256_LEN);
	if (ok != 1)
		TFA_BAIL(TFA_EVERIFY, "signature is invalid");
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

void tfa_verifier_init(tfa_verifier *v, EVP_PKEY *pkey)
{
	memset(v, 0, sizeof(*v));
	v->pkey = pkey;
	v->def = tfa_pkey_default_alg(pkey);
	v->size = EVP_PKEY_get_size(pkey);
}

void tfa_verifier_clear(tfa_verifier *v)
{
	for (size_t i = 0; i < sizeof(v->ctx) / sizeof(v->ctx[0]); i++)
		EVP_PKEY_CTX_free(v->ctx[i]);
	memset(v, 0, sizeof(*v));
}

tfa_err tfa_verifier_check(tfa_verifier *v, tfa_sig_alg alg, const uint8_t digest[TFA_SHA256_LEN],
			   const uint8_t *sig, size_t siglen)
{
	tfa_err rc = TFA_OK;
	EVP_PKEY_CTX *ctx;
	int ok;

	TFA_GUARD(alg_fits(v->def, alg));
	TFA_GUARD(sig_shape_check(v->size, alg, sig, siglen));
	if ((unsigned)alg >= sizeof(v->ctx) / sizeof(v->ctx[0]))
		TFA_BAIL(TFA_EUSAGE, "unknown signature algorithm");
	if (v->ctx[alg] == NULL) {
		ctx = EVP_PKEY_CTX_new(v->pkey, NULL);
		if (ctx == NULL || EVP_PKEY_verify_init(ctx) <= 0) {
			EVP_PKEY_CTX_free(ctx);
			TFA_BAIL(TFA_ECRYPTO, "cannot set up signature verification");
		}
		if ((rc = tfa_pkey_ctx_set_alg(ctx, alg)) != TFA_OK) {
			EVP_PKEY_CTX_free(ctx);
			goto out;
		}
		v->ctx[alg] = ctx;
	}
	ok = EVP_PKEY_verify(v->ctx[alg], sig, siglen, digest, TFA_SHA256_LEN);
	if (ok != 1) {
		/* Start afresh after a failure rather than trust the context's state. */
		EVP_PKEY_CTX_free(v->ctx[alg]);
		v->ctx[alg] = NULL;
		TFA_BAIL(TFA_EVERIFY, "signature is invalid");
	}
out:
	ERR_clear_error();
	return rc;
}

tfa_err tfa_ecdsa_raw_to_der(tfa_buf *out, const uint8_t *raw, size_t len)
{
	tfa_err rc = TFA_OK;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *sv = NULL;
	unsigned char *der = NULL;
	int n;

	if (len == 0 || len % 2 != 0 || len > 132)
		TFA_BAIL(TFA_EBACKEND, "raw ECDSA signature has an invalid length (%zu bytes)",
			 len);
	r = BN_bin2bn(raw, (int)(len / 2), NULL);
	sv = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL);
	es = ECDSA_SIG_new();
	if (r == NULL || sv == NULL || es == NULL || !ECDSA_SIG_set0(es, r, sv))
		TFA_BAIL(TFA_EINTERNAL, "out of memory");
	r = sv = NULL; /* owned by es now */
	n = i2d_ECDSA_SIG(es, &der);
	if (n <= 0)
		TFA_BAIL(TFA_ECRYPTO, "cannot DER-encode the ECDSA signature");
	TFA_GUARD(tfa_buf_append(out, der, (size_t)n));
out:
	OPENSSL_free(der);
	BN_free(r);
	BN_free(sv);
	ECDSA_SIG_free(es);
	return rc;
}
