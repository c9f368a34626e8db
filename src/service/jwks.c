/*
 * JSON Web Key Sets (RFC 7517, RFC 7518 §6): the RSA and EC P-256 public keys
 * an OIDC issuer signs its ID tokens with, read into OpenSSL 3 keys.
 *
 * The JSON is read by the project's strict parser (duplicate member names,
 * invalid UTF-8 and out-of-range numbers are refused). Each key is fixed to
 * one algorithm when it is read: an RSA key to RS256, a P-256 key to ES256.
 * Keys that cannot be used for either (other types or curves, `use` other than
 * "sig", an `alg` other than the one the type implies, `key_ops` without
 * "verify") are skipped; a usable key with a malformed member, a private part,
 * or an RSA modulus under 2048 bits fails the whole set, since a set that
 * says something we do not understand is not one to trust in part.
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "format/b64.h"
#include "service/jwk_int.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"

#define JWKS_DOC_MAX	((size_t)256 << 10)
#define JWKS_KEYS_MAX	64
#define KID_MAX		256
#define RSA_BITS_MIN	2048
#define RSA_BITS_MAX	8192
#define RSA_E_BYTES_MAX 8
#define P256_COORD	32

/* A string member, NULL when absent; TFA_EFORMAT when present but not a string or holding NUL. */
static tfa_err opt_str(const char **out, size_t *len, const tfa_json_value *o, const char *name,
		       size_t i)
{
	const tfa_json_value *v = tfa_json_get(o, name);
	size_t n = 0;
	const char *s;

	*out = NULL;
	if (len)
		*len = 0;
	if (v == NULL)
		return TFA_OK;
	s = tfa_json_string(v, &n);
	if (s == NULL || memchr(s, '\0', n) != NULL)
		return tfa_error_set(TFA_EFORMAT, "JWKS: key %zu: \"%s\" is not a string", i, name);
	*out = s;
	if (len)
		*len = n;
	return TFA_OK;
}

/* Decodes a required base64url member into a fresh buffer of at most cap bytes. */
static tfa_err b64_member(uint8_t **out, size_t *outlen, const tfa_json_value *o, const char *name,
			  size_t cap, size_t i)
{
	tfa_err rc = TFA_OK;
	const char *s;
	size_t n;
	uint8_t *buf = NULL;

	*out = NULL;
	TFA_GUARD(opt_str(&s, &n, o, name, i));
	TFA_ENSURE(s != NULL && n > 0, TFA_EFORMAT, "JWKS: key %zu: \"%s\" is missing", i, name);
	TFA_ENSURE(n <= (cap * 4 + 2) / 3, TFA_EFORMAT, "JWKS: key %zu: \"%s\" is too long", i,
		   name);
	buf = malloc(n * 3 / 4 + 1);
	TFA_ENSURE(buf != NULL, TFA_EINTERNAL, "out of memory");
	rc = tfa_b64url_decode(buf, n * 3 / 4 + 1, outlen, s, n);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "JWKS: key %zu: \"%s\": %s", i, name,
			 tfa_error_last()->message);
	*out = buf;
	buf = NULL;
out:
	free(buf);
	return rc;
}

static tfa_err rsa_key(EVP_PKEY **out, const tfa_json_value *o, size_t i)
{
	tfa_err rc = TFA_OK;
	uint8_t *n = NULL, *e = NULL;
	size_t nlen = 0, elen = 0;
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int bits;

	TFA_GUARD(b64_member(&n, &nlen, o, "n", RSA_BITS_MAX / 8 + 1, i));
	TFA_GUARD(b64_member(&e, &elen, o, "e", RSA_E_BYTES_MAX, i));
	bn = BN_bin2bn(n, (int)nlen, NULL);
	be = BN_bin2bn(e, (int)elen, NULL);
	TFA_ENSURE(bn && be, TFA_EINTERNAL, "out of memory");
	bits = BN_num_bits(bn);
	TFA_ENSURE(bits >= RSA_BITS_MIN && bits <= RSA_BITS_MAX, TFA_EFORMAT,
		   "JWKS: key %zu: an RSA modulus of %d bits (%d to %d accepted)", i, bits,
		   RSA_BITS_MIN, RSA_BITS_MAX);
	TFA_ENSURE(BN_is_odd(be) && BN_num_bits(be) >= 2, TFA_EFORMAT,
		   "JWKS: key %zu: the RSA exponent is not an odd number above 1", i);
	bld = OSSL_PARAM_BLD_new();
	TFA_ENSURE(bld != NULL, TFA_EINTERNAL, "out of memory");
	if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		TFA_BAIL(TFA_EINTERNAL, "out of memory");
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		rc = tfa_error_openssl(TFA_EFORMAT, "JWKS: key %zu: not a usable RSA key", i);
		goto out;
	}
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	free(n);
	free(e);
	return rc;
}

static tfa_err ec_key(EVP_PKEY **out, const tfa_json_value *o, size_t i)
{
	tfa_err rc = TFA_OK;
	uint8_t *x = NULL, *y = NULL;
	size_t xlen = 0, ylen = 0;
	uint8_t point[1 + 2 * P256_COORD];
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL, *check = NULL;

	TFA_GUARD(b64_member(&x, &xlen, o, "x", P256_COORD, i));
	TFA_GUARD(b64_member(&y, &ylen, o, "y", P256_COORD, i));
	/* RFC 7518 §6.2.1.2: the full coordinate size, leading zeros kept. */
	TFA_ENSURE(xlen == P256_COORD && ylen == P256_COORD, TFA_EFORMAT,
		   "JWKS: key %zu: a P-256 coordinate is not 32 bytes", i);
	point[0] = 0x04;
	memcpy(point + 1, x, P256_COORD);
	memcpy(point + 1 + P256_COORD, y, P256_COORD);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
						     (char *)SN_X9_62_prime256v1, 0);
	params[1] =
	    OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
	params[2] = OSSL_PARAM_construct_end();
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		rc = tfa_error_openssl(TFA_EFORMAT, "JWKS: key %zu: not a point on P-256", i);
		goto out;
	}
	/* An invalid-curve point must never reach ECDSA. */
	check = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL);
	if (check == NULL || EVP_PKEY_public_check(check) != 1) {
		EVP_PKEY_free(*out);
		*out = NULL;
		rc = tfa_error_openssl(TFA_EFORMAT, "JWKS: key %zu: not a point on P-256", i);
		goto out;
	}
out:
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	free(x);
	free(y);
	return rc;
}

/* Whether a key of this type may verify tokens of alg `want` ("RS256" or "ES256"). */
static tfa_err usable(bool *ok, const tfa_json_value *o, const char *want, size_t i)
{
	tfa_err rc = TFA_OK;
	const char *use, *alg;
	const tfa_json_value *ops;

	*ok = false;
	TFA_GUARD(opt_str(&use, NULL, o, "use", i));
	TFA_GUARD(opt_str(&alg, NULL, o, "alg", i));
	if (use != NULL && strcmp(use, "sig") != 0)
		goto out;
	if (alg != NULL && strcmp(alg, want) != 0)
		goto out;
	ops = tfa_json_get(o, "key_ops");
	if (ops != NULL) {
		bool verify = false;

		TFA_ENSURE(tfa_json_type_of(ops) == TFA_JSON_ARRAY, TFA_EFORMAT,
			   "JWKS: key %zu: \"key_ops\" is not an array", i);
		for (size_t j = 0; j < tfa_json_count(ops); j++) {
			size_t n;
			const char *s = tfa_json_string(tfa_json_at(ops, j), &n);

			TFA_ENSURE(s != NULL, TFA_EFORMAT,
				   "JWKS: key %zu: \"key_ops\" holds a non-string", i);
			verify |= n == 6 && memcmp(s, "verify", 6) == 0;
		}
		if (!verify)
			goto out;
	}
	*ok = true;
out:
	return rc;
}

static tfa_err one_key(tfa_jwks *set, const tfa_json_value *o, size_t i)
{
	tfa_err rc = TFA_OK;
	const char *kty, *crv, *kid;
	size_t kidlen;
	bool ok = false;
	tfa_jwk key = {0};

	TFA_ENSURE(tfa_json_type_of(o) == TFA_JSON_OBJECT, TFA_EFORMAT,
		   "JWKS: key %zu is not an object", i);
	TFA_GUARD(opt_str(&kty, NULL, o, "kty", i));
	TFA_ENSURE(kty != NULL, TFA_EFORMAT, "JWKS: key %zu has no \"kty\"", i);
	if (strcmp(kty, "RSA") == 0) {
		key.alg = TFA_JWK_RS256;
		TFA_GUARD(usable(&ok, o, "RS256", i));
	} else if (strcmp(kty, "EC") == 0) {
		TFA_GUARD(opt_str(&crv, NULL, o, "crv", i));
		TFA_ENSURE(crv != NULL, TFA_EFORMAT, "JWKS: key %zu has no \"crv\"", i);
		key.alg = TFA_JWK_ES256;
		if (strcmp(crv, "P-256") == 0)
			TFA_GUARD(usable(&ok, o, "ES256", i));
	}
	if (!ok)
		goto out; /* another type, curve, use or algorithm: not ours to use */
	TFA_ENSURE(tfa_json_get(o, "d") == NULL && tfa_json_get(o, "p") == NULL, TFA_EFORMAT,
		   "JWKS: key %zu holds a private key", i);
	TFA_GUARD(opt_str(&kid, &kidlen, o, "kid", i));
	if (kid != NULL) {
		TFA_ENSURE(kidlen > 0 && kidlen <= KID_MAX, TFA_EFORMAT,
			   "JWKS: key %zu: \"kid\" is empty or longer than %d bytes", i, KID_MAX);
		for (size_t j = 0; j < set->n; j++)
			TFA_ENSURE(set->keys[j].kid == NULL || strcmp(set->keys[j].kid, kid) != 0,
				   TFA_EFORMAT, "JWKS: key %zu repeats the kid of key %zu", i, j);
		key.kid = strdup(kid);
		TFA_ENSURE(key.kid != NULL, TFA_EINTERNAL, "out of memory");
	}
	if (key.alg == TFA_JWK_RS256)
		TFA_GUARD(rsa_key(&key.pkey, o, i));
	else
		TFA_GUARD(ec_key(&key.pkey, o, i));
	TFA_ENSURE(set->n < JWKS_KEYS_MAX, TFA_EFORMAT, "JWKS: more than %d usable keys",
		   JWKS_KEYS_MAX);
	set->keys[set->n++] = key;
	memset(&key, 0, sizeof(key));
out:
	free(key.kid);
	EVP_PKEY_free(key.pkey);
	return rc;
}

tfa_err tfa_jwks_parse(tfa_jwks **out, const uint8_t *json, size_t len)
{
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	const tfa_json_value *root, *keys;
	tfa_jwks *set = NULL;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE(json != NULL && len > 0, TFA_EFORMAT, "JWKS: empty");
	TFA_ENSURE(len <= JWKS_DOC_MAX, TFA_EFORMAT, "JWKS: larger than %zu bytes", JWKS_DOC_MAX);
	if (tfa_json_parse(&doc, json, len) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "JWKS: %s", tfa_error_last()->message);
	root = tfa_json_root(doc);
	TFA_ENSURE(tfa_json_type_of(root) == TFA_JSON_OBJECT, TFA_EFORMAT,
		   "JWKS: not a JSON object");
	keys = tfa_json_get(root, "keys");
	TFA_ENSURE(keys != NULL && tfa_json_type_of(keys) == TFA_JSON_ARRAY, TFA_EFORMAT,
		   "JWKS: no \"keys\" array");
	set = calloc(1, sizeof(*set));
	TFA_ENSURE(set != NULL, TFA_EINTERNAL, "out of memory");
	set->keys = calloc(JWKS_KEYS_MAX, sizeof(*set->keys));
	TFA_ENSURE(set->keys != NULL, TFA_EINTERNAL, "out of memory");
	for (size_t i = 0; i < tfa_json_count(keys); i++)
		TFA_GUARD(one_key(set, tfa_json_at(keys, i), i));
	*out = set;
	set = NULL;
out:
	tfa_jwks_free(set);
	tfa_json_free(doc);
	return rc;
}

size_t tfa_jwks_count(const tfa_jwks *k)
{
	return k ? k->n : 0;
}

const tfa_jwk *tfa_jwks_find(const tfa_jwks *k, const char *kid)
{
	if (k == NULL)
		return NULL;
	if (kid == NULL)
		return k->n == 1 ? &k->keys[0] : NULL;
	for (size_t i = 0; i < k->n; i++)
		if (k->keys[i].kid != NULL && strcmp(k->keys[i].kid, kid) == 0)
			return &k->keys[i];
	return NULL;
}

void tfa_jwks_free(tfa_jwks *k)
{
	if (k == NULL)
		return;
	for (size_t i = 0; i < k->n; i++) {
		free(k->keys[i].kid);
		EVP_PKEY_free(k->keys[i].pkey);
	}
	free(k->keys);
	free(k);
}
