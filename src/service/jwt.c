/*
 * OIDC ID tokens: compact JWS (RFC 7515) JWTs (RFC 7519), verified over
 * OpenSSL 3 with the algorithm pinned here, never taken from the token.
 *
 * Why not a JOSE library. Debian 12 packages two; both were tried (in a
 * program of their own) with the hostile tokens of tests/unit/test_jwt.c,
 * and neither passes:
 *  - libjwt 1.10.2: jwt_decode() takes one key and verifies with whatever
 *    algorithm the token's header names. An HS256 token whose HMAC secret is
 *    the issuer's RSA public key (its PEM bytes) is ACCEPTED when verified
 *    with that PEM key: the alg-confusion attack. 1.10 has no way to pin the
 *    algorithm before the signature is checked (jwt_decode_2 and its key
 *    callback came later) and no JWKS support at all.
 *  - libcjose 0.6.2.1: refuses HS256 against an RSA JWK, reads JWKS and
 *    verifies JWS, but cjose_jws_verify() still takes the algorithm from the
 *    header, so pinning it per key is left to the caller anyway.
 *  - Both parse JSON with Jansson without JSON_REJECT_DUPLICATES: a token with
 *    two "alg" or two "iss" members (the last one wins) is ACCEPTED by both,
 *    and cjose accepts a JWK with two "kty" members.
 * Either would need, around it, the header parsed by us (to pin alg, refuse
 * crit and duplicates), the key chosen by us, the claims checked by us and,
 * for libjwt, the JWKS read by us: everything but one EVP_DigestVerify, which
 * OpenSSL 3 (a dependency already) does directly. So the whole check is here,
 * under the project's strict JSON parser (duplicates, invalid UTF-8 and
 * numbers out of range refused) and its strict base64url.
 *
 * Order matters: the header is read and the algorithm pinned, the key chosen
 * by kid and required to be of the algorithm's type, the signature checked,
 * and only then is the payload parsed and its claims judged. A token is never
 * logged or put into a message; messages name the check that failed.
 */
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/b64.h"
#include "service/jwk_int.h"
#include "service/jwt.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"

/* NumericDate bounds: from the epoch up to the end of year 9999. */
#define DATE_MAX     INT64_C(253402300799)
#define SKEW_MAX     600
#define CLAIM_MAX    4096
#define ES256_SIGLEN 64

static bool b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* Decodes one base64url part into a fresh buffer. */
static tfa_err part(uint8_t **out, size_t *outlen, const char *s, size_t n, const char *what)
{
	tfa_err rc = TFA_OK;
	uint8_t *buf = malloc(n * 3 / 4 + 1);

	*out = NULL;
	TFA_ENSURE(buf != NULL, TFA_EINTERNAL, "out of memory");
	if (tfa_b64url_decode(buf, n * 3 / 4 + 1, outlen, s, n) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "ID token: the %s is not base64url: %s", what,
			 tfa_error_last()->message);
	*out = buf;
	buf = NULL;
out:
	free(buf);
	return rc;
}

/* Parses a JSON object strictly (duplicate names refused). */
static tfa_err object(tfa_json **out, const uint8_t *b, size_t n, const char *what)
{
	tfa_err rc = TFA_OK;

	if (tfa_json_parse(out, b, n) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "ID token: the %s is not valid JSON: %s", what,
			 tfa_error_last()->message);
	TFA_ENSURE(tfa_json_type_of(tfa_json_root(*out)) == TFA_JSON_OBJECT, TFA_EFORMAT,
		   "ID token: the %s is not a JSON object", what);
out:
	if (rc != TFA_OK) {
		tfa_json_free(*out);
		*out = NULL;
	}
	return rc;
}

/* A string member without NUL, NULL when absent. */
static tfa_err str_member(const char **out, const tfa_json_value *o, const char *name,
			  const char *what)
{
	const tfa_json_value *v = tfa_json_get(o, name);
	const char *s;
	size_t n = 0;

	*out = NULL;
	if (v == NULL)
		return TFA_OK;
	s = tfa_json_string(v, &n);
	if (s == NULL || memchr(s, '\0', n) != NULL || n > CLAIM_MAX)
		return tfa_error_set(TFA_EFORMAT, "ID token: the %s member \"%s\" is not a string",
				     what, name);
	*out = s;
	return TFA_OK;
}

/* A NumericDate claim: an integer second in [0, DATE_MAX]. */
static tfa_err date_claim(int64_t *out, bool *present, const tfa_json_value *o, const char *name)
{
	const tfa_json_value *v = tfa_json_get(o, name);
	double d;

	*present = v != NULL;
	if (v == NULL)
		return TFA_OK;
	if (tfa_json_type_of(v) != TFA_JSON_NUMBER)
		return tfa_error_set(TFA_EFORMAT, "ID token: claim %s is not a number", name);
	d = tfa_json_number(v);
	if (!(d >= 0 && d <= (double)DATE_MAX) || d != (double)(int64_t)d)
		return tfa_error_set(TFA_EFORMAT,
				     "ID token: claim %s is not an integer date in range", name);
	*out = (int64_t)d;
	return TFA_OK;
}

static tfa_err header_check(const tfa_json_value *h, char alg[8], const char **kid)
{
	tfa_err rc = TFA_OK;
	const char *a;

	TFA_ENSURE(tfa_json_get(h, "crit") == NULL, TFA_EVERIFY,
		   "ID token: the header has \"crit\" (no extension is understood)");
	TFA_GUARD(str_member(&a, h, "alg", "header"));
	TFA_ENSURE(a != NULL, TFA_EFORMAT, "ID token: the header has no \"alg\"");
	TFA_ENSURE(strcmp(a, "RS256") == 0 || strcmp(a, "ES256") == 0, TFA_EVERIFY,
		   "ID token: alg \"%.16s\" is not accepted (RS256 and ES256 only)", a);
	memcpy(alg, a, 6);
	TFA_GUARD(str_member(kid, h, "kid", "header"));
out:
	return rc;
}

/* ES256 signatures are r||s (RFC 7518 §3.4); OpenSSL wants DER. */
static tfa_err es256_der(uint8_t **der, size_t *derlen, const uint8_t *sig, size_t len)
{
	tfa_err rc = TFA_OK;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *p = NULL;
	int n;

	*der = NULL;
	TFA_ENSURE(len == ES256_SIGLEN, TFA_EVERIFY,
		   "ID token: an ES256 signature is not 64 bytes (r||s)");
	es = ECDSA_SIG_new();
	r = BN_bin2bn(sig, ES256_SIGLEN / 2, NULL);
	s = BN_bin2bn(sig + ES256_SIGLEN / 2, ES256_SIGLEN / 2, NULL);
	TFA_ENSURE(es && r && s && ECDSA_SIG_set0(es, r, s) == 1, TFA_EINTERNAL, "out of memory");
	r = s = NULL;
	n = i2d_ECDSA_SIG(es, &p);
	TFA_ENSURE(n > 0, TFA_EINTERNAL, "out of memory");
	*der = p;
	*derlen = (size_t)n;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return rc;
}

static tfa_err signature_check(const tfa_jwk *key, const char *input, size_t inlen,
			       const uint8_t *sig, size_t siglen)
{
	tfa_err rc = TFA_OK;
	EVP_MD_CTX *md = NULL;
	uint8_t *der = NULL;
	const uint8_t *s = sig;
	size_t slen = siglen;
	int ok;

	if (key->alg == TFA_JWK_ES256) {
		TFA_GUARD(es256_der(&der, &slen, sig, siglen));
		s = der;
	} else {
		TFA_ENSURE(siglen == (size_t)EVP_PKEY_get_size(key->pkey), TFA_EVERIFY,
			   "ID token: the RS256 signature is not the size of the key");
	}
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key->pkey) != 1) {
		rc = tfa_error_openssl(TFA_ECRYPTO, "ID token: could not check the signature");
		goto out;
	}
	ok = EVP_DigestVerify(md, s, slen, (const unsigned char *)input, inlen);
	if (ok != 1) {
		rc = tfa_error_openssl(TFA_EVERIFY, "ID token: the signature does not verify");
		goto out;
	}
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	return rc;
}

static tfa_err audience_check(const tfa_json_value *p, const char *want)
{
	tfa_err rc = TFA_OK;
	const tfa_json_value *aud = tfa_json_get(p, "aud");
	bool found = false;
	size_t n;
	const char *s;

	TFA_ENSURE(aud != NULL, TFA_EVERIFY, "ID token: no aud claim");
	if (tfa_json_type_of(aud) == TFA_JSON_STRING) {
		s = tfa_json_string(aud, &n);
		found = n == strlen(want) && memcmp(s, want, n) == 0;
	} else {
		TFA_ENSURE(tfa_json_type_of(aud) == TFA_JSON_ARRAY, TFA_EFORMAT,
			   "ID token: claim aud is neither a string nor an array");
		for (size_t i = 0; i < tfa_json_count(aud); i++) {
			s = tfa_json_string(tfa_json_at(aud, i), &n);
			TFA_ENSURE(s != NULL, TFA_EFORMAT,
				   "ID token: claim aud holds a non-string");
			found |= n == strlen(want) && memcmp(s, want, n) == 0;
		}
	}
	TFA_ENSURE(found, TFA_EVERIFY, "ID token: aud does not name this audience (aud)");
out:
	return rc;
}

static tfa_err dates_check(tfa_jwt *t, const tfa_json_value *p, const tfa_jwt_rules *r)
{
	tfa_err rc = TFA_OK;
	bool has_exp, has_nbf, has_iat;

	TFA_GUARD(date_claim(&t->exp, &has_exp, p, "exp"));
	TFA_GUARD(date_claim(&t->nbf, &has_nbf, p, "nbf"));
	TFA_GUARD(date_claim(&t->iat, &has_iat, p, "iat"));
	TFA_ENSURE(has_exp, TFA_EVERIFY, "ID token: no exp claim");
	TFA_ENSURE(has_iat, TFA_EVERIFY, "ID token: no iat claim");
	if (!has_nbf)
		t->nbf = 0;
	TFA_ENSURE(r->now < t->exp + r->max_skew, TFA_EVERIFY, "ID token: expired (exp)");
	TFA_ENSURE(t->nbf <= r->now + r->max_skew, TFA_EVERIFY, "ID token: not yet valid (nbf)");
	TFA_ENSURE(t->iat <= r->now + r->max_skew, TFA_EVERIFY,
		   "ID token: issued in the future (iat)");
out:
	return rc;
}

static char *dup_str(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Every top-level string, number or boolean claim, as name/value strings. */
static tfa_err claims_copy(tfa_jwt *t, const tfa_json_value *p)
{
	tfa_err rc = TFA_OK;
	size_t n = tfa_json_count(p);

	t->names = calloc(n + 1, sizeof(char *));
	t->values = calloc(n + 1, sizeof(char *));
	TFA_ENSURE(t->names && t->values, TFA_EINTERNAL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		size_t klen, vlen;
		const char *k = tfa_json_key_at(p, i, &klen);
		const tfa_json_value *v = tfa_json_value_at(p, i);
		char num[32];
		const char *val;

		switch (tfa_json_type_of(v)) {
		case TFA_JSON_STRING: val = tfa_json_string(v, &vlen); break;
		case TFA_JSON_NUMBER:
			vlen = tfa_jcs_format_number(num, tfa_json_number(v));
			val = num;
			break;
		case TFA_JSON_TRUE:
			val = "true";
			vlen = 4;
			break;
		case TFA_JSON_FALSE:
			val = "false";
			vlen = 5;
			break;
		default: continue;
		}
		TFA_ENSURE(memchr(k, '\0', klen) == NULL && memchr(val, '\0', vlen) == NULL,
			   TFA_EFORMAT, "ID token: a claim holds a NUL character");
		t->names[t->nclaims] = strndup(k, klen);
		t->values[t->nclaims] = strndup(val, vlen);
		t->nclaims++;
		TFA_ENSURE(t->names[t->nclaims - 1] && t->values[t->nclaims - 1], TFA_EINTERNAL,
			   "out of memory");
	}
out:
	return rc;
}

static tfa_err claims_check(tfa_jwt *t, const tfa_json_value *p, const tfa_jwt_rules *r)
{
	tfa_err rc = TFA_OK;
	const char *iss, *sub;

	TFA_GUARD(str_member(&iss, p, "iss", "payload"));
	TFA_ENSURE(iss != NULL, TFA_EVERIFY, "ID token: no iss claim");
	TFA_ENSURE(strcmp(iss, r->issuer) == 0, TFA_EVERIFY,
		   "ID token: iss is not the expected issuer (iss)");
	TFA_GUARD(audience_check(p, r->audience));
	TFA_GUARD(dates_check(t, p, r));
	TFA_GUARD(str_member(&sub, p, "sub", "payload"));
	TFA_ENSURE(sub != NULL && sub[0] != '\0', TFA_EVERIFY, "ID token: no sub claim");
	t->issuer = dup_str(iss);
	t->subject = dup_str(sub);
	t->audience = dup_str(r->audience);
	TFA_ENSURE(t->issuer && t->subject && t->audience, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(claims_copy(t, p));
out:
	return rc;
}

tfa_err tfa_jwt_verify(tfa_jwt **out, const char *token, size_t len, const tfa_jwks *keys,
		       const tfa_jwt_rules *rules)
{
	tfa_err rc = TFA_OK;
	const char *d1 = NULL, *d2 = NULL, *kid;
	uint8_t *hdr = NULL, *pay = NULL, *sig = NULL;
	size_t hlen = 0, plen = 0, slen = 0;
	tfa_json *hdoc = NULL, *pdoc = NULL;
	const tfa_jwk *key;
	tfa_jwt *t = NULL;
	char alg[8] = {0};

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(keys);
	TFA_ENSURE_ARG(rules);
	TFA_ENSURE(rules->issuer && rules->issuer[0] && rules->audience && rules->audience[0],
		   TFA_EUSAGE, "ID token rules: an issuer and an audience are required");
	TFA_ENSURE(rules->max_skew >= 0 && rules->max_skew <= SKEW_MAX, TFA_EUSAGE,
		   "ID token rules: the clock skew must be 0 to %d seconds", SKEW_MAX);
	TFA_ENSURE(rules->now >= 0 && rules->now <= DATE_MAX, TFA_EUSAGE,
		   "ID token rules: the time is out of range");
	TFA_ENSURE(token != NULL && len > 0, TFA_EFORMAT, "ID token: empty");
	TFA_ENSURE(len <= TFA_JWT_MAX, TFA_EFORMAT, "ID token: larger than %zu bytes", TFA_JWT_MAX);
	for (size_t i = 0; i < len; i++) {
		if (token[i] == '.') {
			TFA_ENSURE(d2 == NULL, TFA_EFORMAT,
				   "ID token: not a compact JWS (more than three parts)");
			if (d1 == NULL)
				d1 = token + i;
			else
				d2 = token + i;
		} else {
			TFA_ENSURE(b64url_char(token[i]), TFA_EFORMAT,
				   "ID token: a character outside base64url");
		}
	}
	TFA_ENSURE(d2 != NULL, TFA_EFORMAT, "ID token: not a compact JWS (three parts)");

	TFA_GUARD(part(&hdr, &hlen, token, (size_t)(d1 - token), "header"));
	TFA_GUARD(object(&hdoc, hdr, hlen, "header"));
	TFA_GUARD(header_check(tfa_json_root(hdoc), alg, &kid));
	key = tfa_jwks_find(keys, kid);
	if (key == NULL) {
		if (kid != NULL)
			TFA_BAIL(TFA_ENOTFOUND, "ID token: kid \"%.64s\" is not in the key set",
				 kid);
		TFA_BAIL(TFA_EVERIFY, "ID token: no kid, and the key set holds %zu keys",
			 tfa_jwks_count(keys));
	}
	TFA_ENSURE((key->alg == TFA_JWK_RS256) == (strcmp(alg, "RS256") == 0), TFA_EVERIFY,
		   "ID token: alg %s does not match its key (%s key)", alg,
		   key->alg == TFA_JWK_RS256 ? "an RSA" : "an EC P-256");

	TFA_GUARD(part(&sig, &slen, d2 + 1, len - (size_t)(d2 + 1 - token), "signature"));
	TFA_ENSURE(slen > 0, TFA_EVERIFY, "ID token: no signature");
	TFA_GUARD(signature_check(key, token, (size_t)(d2 - token), sig, slen));

	TFA_GUARD(part(&pay, &plen, d1 + 1, (size_t)(d2 - d1 - 1), "payload"));
	TFA_GUARD(object(&pdoc, pay, plen, "payload"));
	t = calloc(1, sizeof(*t));
	TFA_ENSURE(t != NULL, TFA_EINTERNAL, "out of memory");
	memcpy(t->alg, alg, sizeof(t->alg));
	TFA_GUARD(claims_check(t, tfa_json_root(pdoc), rules));
	if (kid != NULL) {
		t->kid = strdup(kid);
		TFA_ENSURE(t->kid != NULL, TFA_EINTERNAL, "out of memory");
	}
	*out = t;
	t = NULL;
out:
	tfa_jwt_free(t);
	tfa_json_free(hdoc);
	tfa_json_free(pdoc);
	if (pay)
		OPENSSL_cleanse(pay, plen);
	free(hdr);
	free(pay);
	free(sig);
	return rc;
}

void tfa_jwt_free(tfa_jwt *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nclaims; i++) {
		free(t->names[i]);
		free(t->values[i]);
	}
	free(t->names);
	free(t->values);
	free(t->issuer);
	free(t->subject);
	free(t->audience);
	free(t->kid);
	free(t);
}
