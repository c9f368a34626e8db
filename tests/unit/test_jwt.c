/*
 * Tests for ID-token verification (service/jwt.h): tokens and key sets made
 * here with OpenSSL, the accepting cases, and every hostile token the service
 * must refuse (alg confusion, `none`, a key used for another alg, bad dates,
 * duplicate members, ...), each refused by the check it names.
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Both define TFA_JWT_MAX, alike: this file includes both to keep it so. */
#include "capture/oidc.h"
#include "format/b64.h"
#include "service/jwt.h"
#include "tfa_test.h"
#include "tfattest/buffer.h"

#define ISS "https://token.example"
#define AUD "tfattest"
#define NOW INT64_C(1800000000)

static EVP_PKEY *rsa_key, *rsa_key2, *ec_key;

/* A malloc'd unpadded base64url string. */
static char *b64url(const void *p, size_t n)
{
	tfa_buf b;
	char *s;
	size_t j = 0;

	tfa_buf_init(&b, 1 << 20);
	if (tfa_b64_encode(&b, p, n) != TFA_OK || tfa_buf_putc(&b, '\0') != TFA_OK)
		exit(2);
	s = (char *)tfa_buf_detach(&b, NULL);
	for (size_t i = 0; s[i]; i++) {
		if (s[i] == '=')
			continue;
		s[j++] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
	}
	s[j] = '\0';
	return s;
}

static char *fmt(const char *f, ...) TFA_PRINTF(1, 2);
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, f);
	n = vsnprintf(NULL, 0, f, ap);
	va_end(ap);
	s = malloc((size_t)n + 1);
	if (n < 0 || s == NULL)
		exit(2);
	va_start(ap, f);
	vsnprintf(s, (size_t)n + 1, f, ap);
	va_end(ap);
	return s;
}

/* A private key from tests/fixtures/jwt (see SOURCE.md there). */
static EVP_PKEY *fixture_key(const char *name)
{
	char *rel = fmt("jwt/%s", name);
	size_t len;
	char *pem = tfa_test_read_fixture(rel, &len);
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);

	if (k == NULL) {
		fprintf(stderr, "cannot read the fixture %s\n", rel);
		exit(2);
	}
	BIO_free(b);
	free(pem);
	free(rel);
	return k;
}

static char *bn_param(EVP_PKEY *k, const char *name, size_t pad)
{
	BIGNUM *bn = NULL;
	uint8_t buf[1024];
	int n;

	if (EVP_PKEY_get_bn_param(k, name, &bn) != 1)
		exit(2);
	n = pad ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);
	BN_free(bn);
	return b64url(buf, (size_t)n);
}

/* A JWK for an RSA or P-256 key; `extra` is added members (",\"use\":\"sig\"" or ""). */
static char *jwk(EVP_PKEY *k, const char *kid, const char *extra)
{
	char *a, *b, *s;

	if (EVP_PKEY_is_a(k, "RSA")) {
		a = bn_param(k, OSSL_PKEY_PARAM_RSA_N, 0);
		b = bn_param(k, OSSL_PKEY_PARAM_RSA_E, 0);
		s = fmt("{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"%s}", kid, a, b,
			extra);
	} else {
		size_t w = (size_t)(EVP_PKEY_get_bits(k) + 7) / 8;

		a = bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, w);
		b = bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, w);
		s = fmt(
		    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%"
		    "s}",
		    kid, a, b, extra);
	}
	free(a);
	free(b);
	return s;
}

/* The set {rsa-1: rsa_key, ec-1: ec_key}. */
static tfa_jwks *std_set(void)
{
	char *r = jwk(rsa_key, "rsa-1", ",\"use\":\"sig\",\"alg\":\"RS256\"");
	char *e = jwk(ec_key, "ec-1", "");
	char *doc = fmt("{\"keys\":[%s,%s]}", r, e);
	tfa_jwks *k = NULL;

	if (tfa_jwks_parse(&k, (const uint8_t *)doc, strlen(doc)) != TFA_OK) {
		fprintf(stderr, "std_set: %s\n", tfa_error_last()->message);
		exit(2);
	}
	free(r);
	free(e);
	free(doc);
	return k;
}

typedef enum sigmode {
	SIG_KEY,     /* RS256 or ES256 (r||s) by the key */
	SIG_ES_DER,  /* ES256 left in DER */
	SIG_HMAC,    /* HMAC-SHA256 with `secret` */
	SIG_EMPTY,   /* "h.p." */
	SIG_NO_PART, /* "h.p" */
} sigmode;

static char *sign_raw(const char *hdr, const char *pay, EVP_PKEY *k, sigmode mode,
		      const uint8_t *secret, size_t secretlen)
{
	char *h = b64url(hdr, strlen(hdr)), *p = b64url(pay, strlen(pay));
	char *input = fmt("%s.%s", h, p), *s = NULL, *out;
	uint8_t sig[1024];
	size_t slen = sizeof(sig);

	if (mode == SIG_KEY || mode == SIG_ES_DER) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
		    EVP_DigestSign(md, sig, &slen, (const uint8_t *)input, strlen(input)) != 1)
			exit(2);
		EVP_MD_CTX_free(md);
		if (mode == SIG_KEY && EVP_PKEY_is_a(k, "EC")) {
			const uint8_t *q = sig;
			ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)slen);
			const BIGNUM *r, *ss;

			ECDSA_SIG_get0(es, &r, &ss);
			BN_bn2binpad(r, sig, 32);
			BN_bn2binpad(ss, sig + 32, 32);
			slen = 64;
			ECDSA_SIG_free(es);
		}
		s = b64url(sig, slen);
	} else if (mode == SIG_HMAC) {
		unsigned int n = 0;

		HMAC(EVP_sha256(), secret, (int)secretlen, (const uint8_t *)input, strlen(input),
		     sig, &n);
		s = b64url(sig, n);
	}
	if (mode == SIG_NO_PART)
		out = fmt("%s", input);
	else
		out = fmt("%s.%s", input, s ? s : "");
	free(h);
	free(p);
	free(input);
	free(s);
	return out;
}

static char *sign(const char *hdr, const char *pay, EVP_PKEY *k)
{
	return sign_raw(hdr, pay, k, SIG_KEY, NULL, 0);
}

#define RS_HDR "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"rsa-1\"}"
#define ES_HDR "{\"alg\":\"ES256\",\"kid\":\"ec-1\"}"

/* Claims valid at NOW, with `extra` members appended. */
static char *claims(const char *extra)
{
	return fmt("{\"iss\":\"" ISS "\",\"sub\":\"repo:acme/infra:ref:refs/heads/main\","
		   "\"aud\":\"" AUD "\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld%s}",
		   (long long)NOW - 10, (long long)NOW - 10, (long long)NOW + 300, extra);
}

static const tfa_jwt_rules rules = {.issuer = ISS, .audience = AUD, .now = NOW, .max_skew = 60};

/* Verifies `tok` (freed here) against `k`; wants rc and, when failing, `msg` in the message. */
static void expect(char *tok, const tfa_jwks *k, tfa_err want, const char *msg, int line)
{
	tfa_jwt *t = (tfa_jwt *)1;
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_jwt_verify(&t, tok, strlen(tok), k, &rules);
	if (rc != want || (want != TFA_OK && (t != NULL || msg == NULL ||
					      strstr(tfa_error_last()->message, msg) == NULL))) {
		fprintf(stderr, "line %d: got %s (%s), wanted %s with \"%s\"\n", line,
			tfa_err_name(rc), tfa_error_last()->message, tfa_err_name(want),
			msg ? msg : "");
		tfa_test_failures++;
	}
	/* A message never carries the token. */
	if (rc != TFA_OK && strlen(tok) > 20) {
		char *dot = strchr(tok, '.');

		if (dot && strstr(tfa_error_last()->message, dot) != NULL) {
			fprintf(stderr, "line %d: the message holds the token\n", line);
			tfa_test_failures++;
		}
	}
	tfa_jwt_free(rc == TFA_OK ? t : NULL);
	free(tok);
}

#define EXPECT(tok, k, want, msg) expect((tok), (k), (want), (msg), __LINE__)

static void test_accepts_rs256(void)
{
	tfa_jwks *k = std_set();
	char *c = claims(",\"repository\":\"acme/infra\",\"run_id\":42,\"ok\":true,\"o\":{}");
	char *tok = sign(RS_HDR, c, rsa_key);
	tfa_jwt *t = NULL;

	CHECK(tfa_jwks_count(k) == 2);
	CHECK_OK(tfa_jwt_verify(&t, tok, strlen(tok), k, &rules));
	if (t != NULL) {
		CHECK_STREQ(t->issuer, ISS);
		CHECK_STREQ(t->subject, "repo:acme/infra:ref:refs/heads/main");
		CHECK_STREQ(t->audience, AUD);
		CHECK_STREQ(t->kid, "rsa-1");
		CHECK_STREQ(t->alg, "RS256");
		CHECK(t->exp == NOW + 300 && t->iat == NOW - 10 && t->nbf == NOW - 10);
		/* iss sub aud iat nbf exp repository run_id ok; not the object. */
		CHECK(t->nclaims == 9);
		if (t->nclaims == 9) {
			CHECK_STREQ(t->names[6], "repository");
			CHECK_STREQ(t->values[6], "acme/infra");
			CHECK_STREQ(t->names[7], "run_id");
			CHECK_STREQ(t->values[7], "42");
			CHECK_STREQ(t->values[8], "true");
		}
	}
	tfa_jwt_free(t);
	/* One changed byte of the payload. */
	{
		char *dot = strchr(tok, '.');

		dot[5] = dot[5] == 'A' ? 'B' : 'A';
		EXPECT(tok, k, TFA_EVERIFY, "signature does not verify");
	}
	free(c);
	tfa_jwks_free(k);
}

static void test_accepts_es256(void)
{
	tfa_jwks *k = std_set();
	char *c = claims(",\"aud\":[\"other\",\"" AUD "\"]");
	char *tok;

	/* aud repeated: a duplicate member, refused even though signed. */
	tok = sign(ES_HDR, c, ec_key);
	EXPECT(tok, k, TFA_EFORMAT, "duplicate");
	free(c);
	c = fmt("{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":[\"other\",\"" AUD
		"\"],\"iat\":%lld,\"exp\":%lld}",
		(long long)NOW, (long long)NOW + 60);
	EXPECT(sign(ES_HDR, c, ec_key), k, TFA_OK, NULL);
	/* ES256 with the signature left in DER. */
	EXPECT(sign_raw(ES_HDR, c, ec_key, SIG_ES_DER, NULL, 0), k, TFA_EVERIFY, "64 bytes");
	/* Signed by the RSA key but claiming ES256 with the EC kid. */
	EXPECT(sign("{\"alg\":\"ES256\",\"kid\":\"ec-1\"}", c, rsa_key), k, TFA_EVERIFY,
	       "64 bytes");
	free(c);
	tfa_jwks_free(k);
}

static void test_dates(void)
{
	tfa_jwks *k = std_set();
	struct {
		long long iat, nbf, exp;
		tfa_err want;
		const char *msg;
	} cases[] = {
	    {NOW - 100, NOW - 100, NOW - 61, TFA_EVERIFY, "expired (exp)"},
	    {NOW - 100, NOW - 100, NOW - 59, TFA_OK, NULL}, /* within the skew */
	    {NOW - 100, NOW - 100, NOW - 60, TFA_EVERIFY, "expired (exp)"},
	    {NOW, NOW + 61, NOW + 300, TFA_EVERIFY, "not yet valid (nbf)"},
	    {NOW, NOW + 60, NOW + 300, TFA_OK, NULL},
	    {NOW + 61, NOW, NOW + 300, TFA_EVERIFY, "issued in the future (iat)"},
	    {NOW + 60, NOW, NOW + 300, TFA_OK, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *c = fmt("{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":\"" AUD
			      "\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld}",
			      cases[i].iat, cases[i].nbf, cases[i].exp);
		expect(sign(RS_HDR, c, rsa_key), k, cases[i].want, cases[i].msg, (int)i);
		free(c);
	}
	/* Missing exp, missing iat. */
	EXPECT(sign(RS_HDR, "{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":\"" AUD "\",\"iat\":1}",
		    rsa_key),
	       k, TFA_EVERIFY, "no exp claim");
	EXPECT(sign(RS_HDR,
		    "{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":\"" AUD "\",\"exp\":9999999999}",
		    rsa_key),
	       k, TFA_EVERIFY, "no iat claim");
	/* Dates that are not integers in range, each in a validly signed token. */
	{
		const char *bad[] = {"1e400", "-1",   "1800000300.5", "\"1800000300\"", "1e300",
				     "null",  "true", "253402300800", "[1800000300]"};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char *c = fmt("{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":\"" AUD
				      "\",\"iat\":1,\"exp\":%s}",
				      bad[i]);
			expect(sign(RS_HDR, c, rsa_key), k, TFA_EFORMAT,
			       strcmp(bad[i], "1e400") == 0 ? "not valid JSON" : "claim exp",
			       (int)(100 + i));
			free(c);
		}
		/* nbf and iat are read the same way. */
		EXPECT(sign(RS_HDR,
			    "{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":\"" AUD
			    "\",\"iat\":-5,\"exp\":9999999999}",
			    rsa_key),
		       k, TFA_EFORMAT, "claim iat");
		EXPECT(sign(RS_HDR,
			    "{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":\"" AUD
			    "\",\"iat\":1,\"nbf\":0.25,\"exp\":9999999999}",
			    rsa_key),
		       k, TFA_EFORMAT, "claim nbf");
	}
	tfa_jwks_free(k);
}

static void test_issuer_audience(void)
{
	tfa_jwks *k = std_set();
	const char *tail = ",\"iat\":1800000000,\"exp\":1800000100}";
	char *c;

	c = fmt("{\"iss\":\"https://token.example.evil\",\"sub\":\"s\",\"aud\":\"" AUD "\"%s",
		tail);
	EXPECT(sign(RS_HDR, c, rsa_key), k, TFA_EVERIFY, "(iss)");
	free(c);
	c = fmt("{\"sub\":\"s\",\"aud\":\"" AUD "\"%s", tail);
	EXPECT(sign(RS_HDR, c, rsa_key), k, TFA_EVERIFY, "no iss claim");
	free(c);
	c = fmt("{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":\"tfattest2\"%s", tail);
	EXPECT(sign(RS_HDR, c, rsa_key), k, TFA_EVERIFY, "(aud)");
	free(c);
	c = fmt("{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":[\"a\",\"b\"]%s", tail);
	EXPECT(sign(RS_HDR, c, rsa_key), k, TFA_EVERIFY, "(aud)");
	free(c);
	c = fmt("{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":[]%s", tail);
	EXPECT(sign(RS_HDR, c, rsa_key), k, TFA_EVERIFY, "(aud)");
	free(c);
	c = fmt("{\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":[\"" AUD "\",7]%s", tail);
	EXPECT(sign(RS_HDR, c, rsa_key), k, TFA_EFORMAT, "aud holds a non-string");
	free(c);
	c = fmt("{\"iss\":\"" ISS "\",\"sub\":\"s\"%s", tail);
	EXPECT(sign(RS_HDR, c, rsa_key), k, TFA_EVERIFY, "no aud claim");
	free(c);
	c = fmt("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"%s", tail);
	EXPECT(sign(RS_HDR, c, rsa_key), k, TFA_EVERIFY, "no sub claim");
	free(c);
	/* A duplicate iss: the second would win in a lenient parser. */
	c = fmt("{\"iss\":\"https://evil\",\"iss\":\"" ISS "\",\"sub\":\"s\",\"aud\":\"" AUD "\"%s",
		tail);
	EXPECT(sign(RS_HDR, c, rsa_key), k, TFA_EFORMAT, "duplicate");
	free(c);
	tfa_jwks_free(k);
}

static void test_alg_none_and_hmac(void)
{
	tfa_jwks *k = std_set();
	char *c = claims("");
	uint8_t *der = NULL;
	int derlen;
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem;
	long pemlen;

	EXPECT(sign_raw("{\"alg\":\"none\",\"kid\":\"rsa-1\"}", c, NULL, SIG_EMPTY, NULL, 0), k,
	       TFA_EVERIFY, "alg \"none\" is not accepted");
	EXPECT(sign_raw("{\"alg\":\"none\"}", c, NULL, SIG_EMPTY, NULL, 0), k, TFA_EVERIFY,
	       "alg \"none\" is not accepted");
	EXPECT(sign_raw("{\"alg\":\"none\"}", c, NULL, SIG_NO_PART, NULL, 0), k, TFA_EFORMAT,
	       "three parts");
	EXPECT(sign_raw("{\"alg\":\"None\",\"kid\":\"rsa-1\"}", c, NULL, SIG_EMPTY, NULL, 0), k,
	       TFA_EVERIFY, "not accepted");
	/* An RS256 header with an empty signature. */
	EXPECT(sign_raw(RS_HDR, c, NULL, SIG_EMPTY, NULL, 0), k, TFA_EVERIFY, "no signature");
	/* HS256 keyed with the RSA public key's bytes, PEM and DER. */
	PEM_write_bio_PUBKEY(bio, rsa_key);
	pemlen = BIO_get_mem_data(bio, &pem);
	EXPECT(sign_raw("{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}", c, NULL, SIG_HMAC,
			(const uint8_t *)pem, (size_t)pemlen),
	       k, TFA_EVERIFY, "alg \"HS256\" is not accepted");
	derlen = i2d_PUBKEY(rsa_key, &der);
	CHECK(derlen > 0);
	EXPECT(sign_raw("{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}", c, NULL, SIG_HMAC, der,
			(size_t)derlen),
	       k, TFA_EVERIFY, "alg \"HS256\" is not accepted");
	EXPECT(sign_raw("{\"alg\":\"HS512\"}", c, NULL, SIG_HMAC, der, (size_t)derlen), k,
	       TFA_EVERIFY, "not accepted");
	/* Algorithms we do not pin, though the key could do them. */
	EXPECT(sign("{\"alg\":\"PS256\",\"kid\":\"rsa-1\"}", c, rsa_key), k, TFA_EVERIFY,
	       "not accepted");
	EXPECT(sign("{\"alg\":\"RS512\",\"kid\":\"rsa-1\"}", c, rsa_key), k, TFA_EVERIFY,
	       "not accepted");
	EXPECT(sign("{\"kid\":\"rsa-1\"}", c, rsa_key), k, TFA_EFORMAT, "no \"alg\"");
	EXPECT(sign("{\"alg\":256,\"kid\":\"rsa-1\"}", c, rsa_key), k, TFA_EFORMAT,
	       "\"alg\" is not a string");
	OPENSSL_free(der);
	BIO_free(bio);
	free(c);
	tfa_jwks_free(k);
}

static void test_key_confusion(void)
{
	tfa_jwks *k = std_set();
	char *c = claims("");

	/* RS256 naming the EC key's kid: refused before any signature check. */
	EXPECT(sign("{\"alg\":\"RS256\",\"kid\":\"ec-1\"}", c, rsa_key), k, TFA_EVERIFY,
	       "does not match its key (an EC P-256 key)");
	EXPECT(sign("{\"alg\":\"ES256\",\"kid\":\"rsa-1\"}", c, ec_key), k, TFA_EVERIFY,
	       "does not match its key (an RSA key)");
	/* Unknown kid: ENOTFOUND (the cache may refresh). */
	EXPECT(sign("{\"alg\":\"RS256\",\"kid\":\"rsa-2\"}", c, rsa_key2), k, TFA_ENOTFOUND,
	       "kid \"rsa-2\" is not in the key set");
	/* No kid against a two-key set. */
	EXPECT(sign("{\"alg\":\"RS256\"}", c, rsa_key), k, TFA_EVERIFY, "no kid");
	/* Signed by another RSA key under a known kid. */
	EXPECT(sign(RS_HDR, c, rsa_key2), k, TFA_EVERIFY, "signature does not verify");
	/* A kid that is not a string. */
	EXPECT(sign("{\"alg\":\"RS256\",\"kid\":1}", c, rsa_key), k, TFA_EFORMAT,
	       "\"kid\" is not a string");
	tfa_jwks_free(k);
	/* No kid against a one-key set without kids. */
	{
		char *r = jwk(rsa_key, "x", "");
		char *doc, *p = strstr(r, "\"kid\":\"x\",");

		memmove(p, p + 10, strlen(p + 10) + 1);
		doc = fmt("{\"keys\":[%s]}", r);
		CHECK_OK(tfa_jwks_parse(&k, (const uint8_t *)doc, strlen(doc)));
		EXPECT(sign("{\"alg\":\"RS256\"}", c, rsa_key), k, TFA_OK, NULL);
		EXPECT(sign(RS_HDR, c, rsa_key), k, TFA_ENOTFOUND, "not in the key set");
		tfa_jwks_free(k);
		free(r);
		free(doc);
	}
	free(c);
}

static void test_header_and_form(void)
{
	tfa_jwks *k = std_set();
	char *c = claims(""), *tok, *big;

	EXPECT(sign("{\"alg\":\"RS256\",\"alg\":\"none\",\"kid\":\"rsa-1\"}", c, rsa_key), k,
	       TFA_EFORMAT, "duplicate");
	EXPECT(sign("{\"alg\":\"none\",\"alg\":\"RS256\",\"kid\":\"rsa-1\"}", c, rsa_key), k,
	       TFA_EFORMAT, "duplicate");
	EXPECT(sign("{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"kid\":\"ec-1\"}", c, rsa_key), k,
	       TFA_EFORMAT, "duplicate");
	EXPECT(
	    sign("{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"crit\":[\"exp\"],\"exp\":1}", c, rsa_key),
	    k, TFA_EVERIFY, "\"crit\"");
	EXPECT(sign("{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"crit\":[]}", c, rsa_key), k,
	       TFA_EVERIFY, "\"crit\"");
	EXPECT(sign("[\"RS256\"]", c, rsa_key), k, TFA_EFORMAT, "header is not a JSON object");
	EXPECT(sign(RS_HDR, "[1]", rsa_key), k, TFA_EFORMAT, "payload is not a JSON object");
	EXPECT(sign(RS_HDR, "\"x\"", rsa_key), k, TFA_EFORMAT, "payload is not a JSON object");
	EXPECT(sign(RS_HDR, "{\"iss\":", rsa_key), k, TFA_EFORMAT, "payload is not valid JSON");
	/* Oversized: a valid token padded past the cap by a long claim. */
	big = malloc(TFA_JWT_MAX);
	memset(big, 'a', TFA_JWT_MAX - 1);
	big[TFA_JWT_MAX - 1] = '\0';
	tok = fmt(",\"pad\":\"%s\"", big);
	free(c);
	c = claims(tok);
	free(tok);
	EXPECT(sign(RS_HDR, c, rsa_key), k, TFA_EFORMAT, "larger than 16384 bytes");
	free(big);
	free(c);
	c = claims("");
	/* base64url: padding, the standard alphabet, white space, a fourth part. */
	tok = sign(RS_HDR, c, rsa_key);
	{
		char *t2 = fmt("%s=", tok);
		char *dot = strchr(tok, '.');
		char *t3, *t4, *t5;

		EXPECT(t2, k, TFA_EFORMAT, "outside base64url");
		t3 = fmt("%.*s=%s", (int)(dot - tok), tok, dot);
		EXPECT(t3, k, TFA_EFORMAT, "outside base64url");
		t4 = fmt("%s.", tok);
		EXPECT(t4, k, TFA_EFORMAT, "more than three parts");
		t5 = fmt(" %s", tok);
		EXPECT(t5, k, TFA_EFORMAT, "outside base64url");
		t2 = strdup(tok);
		t2[3] = '+';
		EXPECT(t2, k, TFA_EFORMAT, "outside base64url");
		/* A header of length 4k+1. */
		t3 = fmt("A%s", dot);
		EXPECT(t3, k, TFA_EFORMAT, "header is not base64url");
	}
	free(tok);
	tok = strdup("");
	EXPECT(tok, k, TFA_EFORMAT, "empty");
	EXPECT(strdup(".."), k, TFA_EFORMAT, "header is not valid JSON");
	free(c);
	tfa_jwks_free(k);
}

static void expect_set(const char *keys, tfa_err want, size_t count, const char *msg, int line)
{
	char *doc = fmt("{\"keys\":[%s]}", keys);
	tfa_jwks *k = NULL;
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_jwks_parse(&k, (const uint8_t *)doc, strlen(doc));
	if (rc != want || (rc == TFA_OK && tfa_jwks_count(k) != count) ||
	    (rc != TFA_OK && (k != NULL || strstr(tfa_error_last()->message, msg) == NULL))) {
		fprintf(stderr, "line %d: got %s (%s), %zu keys; wanted %s \"%s\" %zu\n", line,
			tfa_err_name(rc), tfa_error_last()->message, tfa_jwks_count(k),
			tfa_err_name(want), msg ? msg : "", count);
		tfa_test_failures++;
	}
	tfa_jwks_free(k);
	free(doc);
}

#define EXPECT_SET(keys, want, count, msg) expect_set((keys), (want), (count), (msg), __LINE__)

static void test_jwks(void)
{
	char *r = jwk(rsa_key, "r", ""), *e = jwk(ec_key, "e", "");
	char *s;
	EVP_PKEY *small = fixture_key("rsa-1024.pem");
	EVP_PKEY *p384 = fixture_key("p384.pem");
	uint8_t *buf = NULL;
	char *x;

	EXPECT_SET("", TFA_OK, 0, NULL);
	s = fmt("%s,%s", r, e);
	EXPECT_SET(s, TFA_OK, 2, NULL);
	free(s);
	/* Skipped: other key types, curves, uses and algorithms. */
	s = fmt("{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
		"\"x\":\"AA\"},%s",
		r);
	EXPECT_SET(s, TFA_OK, 1, NULL);
	free(s);
	x = jwk(rsa_key, "r2", ",\"use\":\"enc\"");
	EXPECT_SET(x, TFA_OK, 0, NULL);
	free(x);
	x = jwk(rsa_key, "r2", ",\"alg\":\"RS384\"");
	EXPECT_SET(x, TFA_OK, 0, NULL);
	free(x);
	x = jwk(rsa_key, "r2", ",\"alg\":\"ES256\"");
	EXPECT_SET(x, TFA_OK, 0, NULL);
	free(x);
	x = jwk(ec_key, "e2", ",\"alg\":\"RS256\"");
	EXPECT_SET(x, TFA_OK, 0, NULL);
	free(x);
	x = jwk(rsa_key, "r2", ",\"key_ops\":[\"encrypt\"]");
	EXPECT_SET(x, TFA_OK, 0, NULL);
	free(x);
	x = jwk(rsa_key, "r2", ",\"key_ops\":[\"verify\"],\"use\":\"sig\",\"alg\":\"RS256\"");
	EXPECT_SET(x, TFA_OK, 1, NULL);
	free(x);
	EXPECT_SET("{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}", TFA_OK, 0, NULL);
	/* Refused: the whole set. */
	/* A P-384 point presented as P-256 (jwk() always says P-256). */
	x = jwk(p384, "e3", "");
	EXPECT_SET(x, TFA_EFORMAT, 0, "\"x\" is too long");
	free(x);
	{
		uint8_t z[31] = {1};
		char *c31 = b64url(z, sizeof(z));

		x = fmt("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", c31, c31);
		EXPECT_SET(x, TFA_EFORMAT, 0, "coordinate is not 32 bytes");
		free(x);
		free(c31);
	}
	x = jwk(small, "s", "");
	EXPECT_SET(x, TFA_EFORMAT, 0, "RSA modulus of 1024 bits");
	free(x);
	s = fmt("%s,%s", r, r);
	EXPECT_SET(s, TFA_EFORMAT, 0, "repeats the kid");
	free(s);
	x = fmt("%s", r);
	x[strlen(x) - 1] = '\0';
	s = fmt("%s,\"d\":\"AQAB\"}", x);
	EXPECT_SET(s, TFA_EFORMAT, 0, "private key");
	free(s);
	s = fmt("%s,\"kty\":\"EC\"}", x);
	EXPECT_SET(s, TFA_EFORMAT, 0, "duplicate");
	free(s);
	s = fmt("%s,\"use\":7}", x);
	EXPECT_SET(s, TFA_EFORMAT, 0, "\"use\" is not a string");
	free(s);
	free(x);
	/* n with padding, with the standard alphabet. */
	x = strdup(r);
	{
		char *q = strstr(x, "\"e\":\"AQAB\"");
		memcpy(q, "\"e\":\"AQA=\"", 10);
	}
	EXPECT_SET(x, TFA_EFORMAT, 0, "\"e\": not base64url");
	free(x);
	EXPECT_SET("{\"kty\":\"RSA\",\"n\":\"AQAB\"}", TFA_EFORMAT, 0, "\"e\" is missing");
	EXPECT_SET("{\"kty\":\"RSA\",\"n\":7,\"e\":\"AQAB\"}", TFA_EFORMAT, 0,
		   "\"n\" is not a string");
	EXPECT_SET("{\"n\":\"AQAB\"}", TFA_EFORMAT, 0, "no \"kty\"");
	EXPECT_SET("[]", TFA_EFORMAT, 0, "is not an object");
	/* An EC point off the curve. */
	x = strdup(e);
	{
		char *q = strstr(x, "\"y\":\"") + 5;
		q[10] = q[10] == 'A' ? 'B' : 'A';
	}
	EXPECT_SET(x, TFA_EFORMAT, 0, "not a point on P-256");
	free(x);
	/* Not a key set. */
	{
		tfa_jwks *k = NULL;

		CHECK_RC(tfa_jwks_parse(&k, (const uint8_t *)"{}", 2), TFA_EFORMAT);
		CHECK_RC(tfa_jwks_parse(&k, (const uint8_t *)"{\"keys\":{}}", 11), TFA_EFORMAT);
		CHECK_RC(tfa_jwks_parse(&k, (const uint8_t *)"[]", 2), TFA_EFORMAT);
		CHECK_RC(tfa_jwks_parse(&k, (const uint8_t *)"", 0), TFA_EFORMAT);
		CHECK_RC(tfa_jwks_parse(&k, NULL, 0), TFA_EFORMAT);
		CHECK(k == NULL);
	}
	OPENSSL_free(buf);
	EVP_PKEY_free(small);
	EVP_PKEY_free(p384);
	free(r);
	free(e);
}

static void test_rules(void)
{
	tfa_jwks *k = std_set();
	char *c = claims(""), *tok = sign(RS_HDR, c, rsa_key);
	tfa_jwt *t = NULL;
	tfa_jwt_rules r = rules;

	r.max_skew = 601;
	CHECK_RC(tfa_jwt_verify(&t, tok, strlen(tok), k, &r), TFA_EUSAGE);
	r = rules;
	r.audience = "";
	CHECK_RC(tfa_jwt_verify(&t, tok, strlen(tok), k, &r), TFA_EUSAGE);
	r = rules;
	r.issuer = NULL;
	CHECK_RC(tfa_jwt_verify(&t, tok, strlen(tok), k, &r), TFA_EUSAGE);
	CHECK(t == NULL);
	free(tok);
	free(c);
	tfa_jwks_free(k);
}

/* The cache over a key file: rotation on an unknown kid, at most once per 30 s. */
static void test_cache_file(void)
{
	char *dir = tfa_test_tmpdir(), *path = tfa_test_path(dir, "jwks.json");
	char *r1 = jwk(rsa_key, "rsa-1", ""), *r2 = jwk(rsa_key2, "rsa-2", "");
	char *e = jwk(ec_key, "ec-1", "");
	char *doc = fmt("{\"keys\":[%s]}", r1), *c = claims("");
	char *t1 = sign(RS_HDR, c, rsa_key);
	char *t2 = sign("{\"alg\":\"RS256\",\"kid\":\"rsa-2\"}", c, rsa_key2);
	char *t3 = sign(ES_HDR, c, ec_key);
	tfa_jwks_cache *cache = NULL;
	tfa_jwt *t = NULL;

	tfa_test_put_file(dir, "jwks.json", doc, strlen(doc));
	CHECK_RC(tfa_jwks_cache_new(&cache, ISS, path, "https://x/jwks", 3600), TFA_EUSAGE);
	CHECK_RC(tfa_jwks_cache_new(&cache, ISS, path, NULL, 0), TFA_EUSAGE);
	CHECK_OK(tfa_jwks_cache_new(&cache, ISS, path, NULL, 3600));
	CHECK_OK(tfa_jwks_cache_verify(cache, &t, t1, strlen(t1), &rules));
	tfa_jwt_free(t);
	t = NULL;
	/* The issuer rotates: the file now holds rsa-2. */
	free(doc);
	doc = fmt("{\"keys\":[%s,%s]}", r1, r2);
	tfa_test_put_file(dir, "jwks.json", doc, strlen(doc));
	CHECK_OK(tfa_jwks_cache_verify(cache, &t, t2, strlen(t2), &rules));
	if (t)
		CHECK_STREQ(t->kid, "rsa-2");
	tfa_jwt_free(t);
	t = NULL;
	/* Another rotation at once: not reread within 30 s. */
	free(doc);
	doc = fmt("{\"keys\":[%s,%s,%s]}", r1, r2, e);
	tfa_test_put_file(dir, "jwks.json", doc, strlen(doc));
	CHECK_RC(tfa_jwks_cache_verify(cache, &t, t3, strlen(t3), &rules), TFA_ENOTFOUND);
	CHECK(t == NULL);
	/* Rules for another issuer than the cache's. */
	{
		tfa_jwt_rules r = rules;

		r.issuer = "https://other";
		CHECK_RC(tfa_jwks_cache_verify(cache, &t, t1, strlen(t1), &r), TFA_EUSAGE);
	}
	tfa_jwks_cache_free(cache);
	/* A missing or bad file fails at creation. */
	cache = NULL;
	tfa_test_put_file(dir, "jwks.json", "{\"keys\":7}", 10);
	CHECK_RC(tfa_jwks_cache_new(&cache, ISS, path, NULL, 60), TFA_EFORMAT);
	tfa_test_put_file(dir, "jwks.json", "", 0);
	CHECK_RC(tfa_jwks_cache_new(&cache, ISS, path, NULL, 60), TFA_EFORMAT);
	unlink(path);
	CHECK_RC(tfa_jwks_cache_new(&cache, ISS, path, NULL, 60), TFA_ENOTFOUND);
	CHECK(cache == NULL);
	/* Fetching needs https, bar a loopback test issuer. */
	CHECK_RC(tfa_jwks_cache_new(&cache, "http://token.example", NULL, NULL, 60), TFA_EUSAGE);
	CHECK_RC(tfa_jwks_cache_new(&cache, ISS, NULL, "http://token.example/jwks", 60),
		 TFA_EUSAGE);
	CHECK_RC(tfa_jwks_cache_new(&cache, ISS, NULL, "http://127.0.0.1:1/jwks", 60), TFA_EUSAGE);
	rmdir(dir);
	free(dir);
	free(path);
	free(r1);
	free(r2);
	free(e);
	free(doc);
	free(c);
	free(t1);
	free(t2);
	free(t3);
}

/* The test issuer (tests/service/oidc_issuer.py) serving on loopback. */
typedef struct issuer {
	pid_t pid;
	char *dir;
	char url[64]; /* its issuer URL */
} issuer;

static char *issuer_script(void)
{
	const char *src = getenv("TFA_SOURCE_DIR");

	if (src == NULL) {
		fprintf(stderr, "TFA_SOURCE_DIR is not set\n");
		exit(2);
	}
	return tfa_test_path(src, "tests/service/oidc_issuer.py");
}

/* Runs `oidc_issuer.py keys --dir DIR ARGS`. */
static void issuer_keys(const issuer *is, const char *args)
{
	char *script = issuer_script();
	char *cmd = fmt("/usr/bin/python3 '%s' keys --dir '%s' %s", script, is->dir, args);

	if (system(cmd) != 0) {
		fprintf(stderr, "%s failed\n", cmd);
		exit(2);
	}
	free(cmd);
	free(script);
}

/* Issuers still running, stopped at exit whatever ends the test (exit(2) included). */
static pid_t live[4];

static void stop_live(void)
{
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (live[i] > 0) {
			kill(live[i], SIGTERM);
			waitpid(live[i], NULL, 0);
			live[i] = 0;
		}
}

static void issuer_start(issuer *is, bool tls)
{
	char *script = issuer_script(), *pf, *u = NULL;

	is->dir = tfa_test_tmpdir();
	issuer_keys(is, "");
	pf = tfa_test_path(is->dir, "port");
	is->pid = fork();
	if (is->pid < 0)
		exit(2);
	if (is->pid > 0) {
		static bool registered;

		for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
			if (live[i] == 0) {
				live[i] = is->pid;
				break;
			}
		if (!registered)
			atexit(stop_live);
		registered = true;
	}
	if (is->pid == 0) {
		execl("/usr/bin/python3", "python3", script, "serve", "--dir", is->dir,
		      "--port-file", pf, tls ? "--tls" : "--port", tls ? NULL : "0", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 300 && access(pf, R_OK) != 0; i++) {
		struct timespec ts = {0, 50 * 1000000L};

		nanosleep(&ts, NULL);
	}
	if (access(pf, R_OK) != 0) {
		fprintf(stderr, "oidc_issuer.py did not start\n");
		exit(2);
	}
	u = tfa_test_get_file(is->dir, "issuer", NULL);
	u[strcspn(u, "\r\n")] = '\0';
	snprintf(is->url, sizeof(is->url), "%s", u);
	free(u);
	free(pf);
	free(script);
}

static void issuer_stop(issuer *is)
{
	kill(is->pid, SIGTERM);
	waitpid(is->pid, NULL, 0);
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (live[i] == is->pid)
			live[i] = 0;
	tfa_test_rmtree(is->dir);
	free(is->dir);
}

/* How many requests for `path` the issuer has served. */
static int issuer_served(const issuer *is, const char *path)
{
	char *p = tfa_test_path(is->dir, "requests.log"), line[256];
	FILE *f = fopen(p, "r");
	int n = 0;

	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		n += strcmp(line, path) == 0;
	}
	if (f)
		fclose(f);
	free(p);
	return n;
}

/* A token for the issuer signed by its key `kid`. */
static char *issuer_token(const issuer *is, const char *kid)
{
	char *rel = fmt("keys/%s.pem", kid), *pem = tfa_test_get_file(is->dir, rel, NULL);
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	char *hdr = fmt("{\"alg\":\"%s\",\"kid\":\"%s\"}",
			EVP_PKEY_is_a(k, "RSA") ? "RS256" : "ES256", kid);
	char *c =
	    fmt("{\"iss\":\"%s\",\"sub\":\"s\",\"aud\":\"" AUD "\",\"iat\":%lld,\"exp\":%lld}",
		is->url, (long long)NOW, (long long)NOW + 300);
	char *tok = sign(hdr, c, k);

	EVP_PKEY_free(k);
	BIO_free(b);
	free(rel);
	free(pem);
	free(hdr);
	free(c);
	return tok;
}

/* A token minted by `oidc_issuer.py mint --dir DIR ARGS`, valid at NOW. */
static char *issuer_mint(const issuer *is, const char *args)
{
	char *script = issuer_script(), line[TFA_JWT_MAX + 64];
	char *cmd = fmt("/usr/bin/python3 '%s' mint --dir '%s' --claims "
			"'{\"iat\":%lld,\"exp\":%lld}' %s",
			script, is->dir, (long long)NOW, (long long)NOW + 300, args);
	FILE *f = popen(cmd, "r");

	if (f == NULL || fgets(line, sizeof(line), f) == NULL || pclose(f) != 0) {
		fprintf(stderr, "%s failed\n", cmd);
		exit(2);
	}
	line[strcspn(line, "\n")] = '\0';
	free(cmd);
	free(script);
	return strdup(line);
}

static tfa_err cache_check(tfa_jwks_cache *c, const issuer *is, const char *tok)
{
	tfa_jwt_rules r = rules;
	tfa_jwt *t = NULL;
	tfa_err rc;

	r.issuer = is->url;
	rc = tfa_jwks_cache_verify(c, &t, tok, strlen(tok), &r);
	tfa_jwt_free(t);
	return rc;
}

/* Discovery, rotation through the cache, the refetch limit, the TTL. */
static void test_cache_http(void)
{
	issuer is;
	tfa_jwks_cache *c = NULL;
	char *t1, *t2, *t3, *uri, *other;
	int disc;

	issuer_start(&is, false);
	t1 = issuer_token(&is, "rsa-1");
	CHECK_OK(tfa_jwks_cache_new(&c, is.url, NULL, NULL, 3600));
	CHECK(issuer_served(&is, "/.well-known/openid-configuration") == 1);
	CHECK(issuer_served(&is, "/jwks.json") == 1);
	CHECK_OK(cache_check(c, &is, t1));
	t2 = issuer_token(&is, "ec-1");
	CHECK_OK(cache_check(c, &is, t2));
	free(t2);
	CHECK(issuer_served(&is, "/jwks.json") == 1);
	/* The issuer rotates to rsa-2: one refetch, and the new key verifies. */
	issuer_keys(&is, "--replace --rsa rsa-2");
	t2 = issuer_token(&is, "rsa-2");
	CHECK_OK(cache_check(c, &is, t2));
	CHECK(issuer_served(&is, "/jwks.json") == 2);
	/* rsa-1 is gone from the set; a second unknown kid within 30 s fetches nothing. */
	CHECK_RC(cache_check(c, &is, t1), TFA_ENOTFOUND);
	issuer_keys(&is, "--ec ec-3");
	t3 = issuer_token(&is, "ec-3");
	CHECK_RC(cache_check(c, &is, t3), TFA_ENOTFOUND);
	CHECK(issuer_served(&is, "/jwks.json") == 2);
	tfa_jwks_cache_free(c);
	c = NULL;
	CHECK_OK(tfa_jwks_cache_new(&c, is.url, NULL, NULL, 3600));
	/* Tokens minted by the test issuer's own command. */
	{
		struct {
			const char *args;
			tfa_err want;
		} m[] = {
		    {"--key rsa", TFA_OK},
		    {"--key ec", TFA_OK},
		    {"--kid ec-3 --der", TFA_EVERIFY},
		    {"--kid ec-3 --alg RS256", TFA_EVERIFY},
		    {"--kid rsa-2 --alg ES256", TFA_EVERIFY},
		    {"--key rsa --alg none", TFA_EVERIFY},
		    {"--key rsa --hmac-pubkey", TFA_EVERIFY},
		    {"--key ec --aud other", TFA_EVERIFY},
		    {"--key ec --claims '{\"exp\":null}'", TFA_EVERIFY},
		    {"--key rsa --raw-header "
		     "'{\"alg\":\"RS256\",\"alg\":\"RS256\",\"kid\":\"rsa-2\"}'",
		     TFA_EFORMAT},
		};

		for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
			char *tok = issuer_mint(&is, m[i].args);
			tfa_err rc = cache_check(c, &is, tok);

			if (rc != m[i].want) {
				fprintf(stderr, "mint %s: got %s (%s)\n", m[i].args,
					tfa_err_name(rc), tfa_error_last()->message);
				tfa_test_failures++;
			}
			free(tok);
		}
	}
	tfa_jwks_cache_free(c);
	c = NULL;
	/* A jwks_uri given, with a two-second TTL: refetched when it runs out. */
	disc = issuer_served(&is, "/.well-known/openid-configuration");
	uri = fmt("%s/jwks.json", is.url);
	CHECK_OK(tfa_jwks_cache_new(&c, is.url, NULL, uri, 2));
	CHECK(issuer_served(&is, "/jwks.json") == 4);
	CHECK_OK(cache_check(c, &is, t3));
	CHECK(issuer_served(&is, "/jwks.json") == 4);
	{
		struct timespec ts = {2, 200 * 1000000L};

		nanosleep(&ts, NULL);
	}
	CHECK_OK(cache_check(c, &is, t3));
	CHECK(issuer_served(&is, "/jwks.json") == 5);
	CHECK(issuer_served(&is, "/.well-known/openid-configuration") == disc);
	tfa_jwks_cache_free(c);
	c = NULL;
	/* A discovery document for another issuer (the same server, named otherwise). */
	other = fmt("http://localhost:%s", strrchr(is.url, ':') + 1);
	CHECK_RC(tfa_jwks_cache_new(&c, other, NULL, NULL, 60), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "another issuer") != NULL);
	free(other);
	/* No discovery document. */
	other = fmt("%s/nothing", is.url);
	CHECK_RC(tfa_jwks_cache_new(&c, other, NULL, NULL, 60), TFA_EBACKEND);
	CHECK(strstr(tfa_error_last()->message, "HTTP 404") != NULL);
	CHECK(c == NULL);
	free(other);
	free(uri);
	free(t1);
	free(t2);
	free(t3);
	issuer_stop(&is);
}

/* HTTPS: the issuer's CA must be trusted (CURL_CA_BUNDLE). */
static void test_cache_https(void)
{
	issuer is;
	tfa_jwks_cache *c = NULL;
	char *tok, *ca;
	const char *saved = getenv("CURL_CA_BUNDLE");
	char *keep = saved ? strdup(saved) : NULL;

	issuer_start(&is, true);
	CHECK(strncmp(is.url, "https://127.0.0.1:", 18) == 0);
	tok = issuer_token(&is, "ec-1");
	unsetenv("CURL_CA_BUNDLE");
	CHECK_RC(tfa_jwks_cache_new(&c, is.url, NULL, NULL, 60), TFA_EIO);
	ca = tfa_test_path(is.dir, "tls/ca.pem");
	setenv("CURL_CA_BUNDLE", ca, 1);
	CHECK_OK(tfa_jwks_cache_new(&c, is.url, NULL, NULL, 60));
	if (c != NULL)
		CHECK_OK(cache_check(c, &is, tok));
	tfa_jwks_cache_free(c);
	if (keep) {
		setenv("CURL_CA_BUNDLE", keep, 1);
		free(keep);
	} else {
		unsetenv("CURL_CA_BUNDLE");
	}
	free(ca);
	free(tok);
	issuer_stop(&is);
}

/* Many threads on one cache while its TTL runs out and it refetches. */
typedef struct worker {
	tfa_jwks_cache *c;
	const issuer *is;
	const char *tok;
	int failures;
} worker;

static void *work(void *arg)
{
	worker *w = arg;

	for (int i = 0; i < 40; i++) {
		struct timespec ts = {0, 40 * 1000000L};

		if (cache_check(w->c, w->is, w->tok) != TFA_OK)
			w->failures++;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void test_cache_threads(void)
{
	issuer is;
	tfa_jwks_cache *c = NULL;
	char *tok;
	pthread_t th[4];
	worker w[4];
	struct timespec t0, t1;
	int n;

	issuer_start(&is, false);
	tok = issuer_token(&is, "ec-1");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_OK(tfa_jwks_cache_new(&c, is.url, NULL, NULL, 1));
	for (int i = 0; i < 4; i++) {
		w[i] = (worker){c, &is, tok, 0};
		CHECK(pthread_create(&th[i], NULL, work, &w[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK(w[i].failures == 0);
	}
	/* Over 1.6 s with a 1 s TTL: a refetch, and at most one per second, never one per token. */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	n = issuer_served(&is, "/jwks.json");
	CHECK(n >= 2 && n <= 2 + (int)(t1.tv_sec - t0.tv_sec));
	tfa_jwks_cache_free(c);
	free(tok);
	issuer_stop(&is);
}

static void setup(void)
{
	rsa_key = fixture_key("rsa-1.pem");
	rsa_key2 = fixture_key("rsa-2.pem");
	ec_key = fixture_key("ec-1.pem");
}

static void teardown(void)
{
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(rsa_key2);
	EVP_PKEY_free(ec_key);
}

/*
 * No arguments: the offline cases (ctest unit_jwt). --fetch: the cases that
 * run the test issuer (ctest unit_jwt_fetch). Names: those cases.
 */
int main(int argc, char **argv)
{
	static const tfa_test_case cases[] = {
	    {"accepts_rs256", test_accepts_rs256},
	    {"accepts_es256", test_accepts_es256},
	    {"dates", test_dates},
	    {"issuer_audience", test_issuer_audience},
	    {"alg_none_and_hmac", test_alg_none_and_hmac},
	    {"key_confusion", test_key_confusion},
	    {"header_and_form", test_header_and_form},
	    {"jwks", test_jwks},
	    {"rules", test_rules},
	    {"cache_file", test_cache_file},
	    {NULL, NULL}, /* the fetch cases follow */
	    {"cache_http", test_cache_http},
	    {"cache_https", test_cache_https},
	    {"cache_threads", test_cache_threads},
	    {NULL, NULL},
	};
	static const size_t fetch = 11;
	tfa_test_case all[sizeof(cases) / sizeof(cases[0]) - 1];
	int st;

	memcpy(all, cases, sizeof(cases[0]) * (fetch - 1));
	memcpy(all + fetch - 1, cases + fetch,
	       sizeof(cases[0]) * (sizeof(cases) / sizeof(cases[0]) - fetch));
	setup();
	if (argc > 1 && strcmp(argv[1], "--fetch") == 0)
		st = tfa_test_run(cases + fetch, argc - 1, argv + 1);
	else if (argc > 1)
		st = tfa_test_run(all, argc, argv);
	else
		st = tfa_test_run(cases, argc, argv);
	teardown();
	return st;
}
