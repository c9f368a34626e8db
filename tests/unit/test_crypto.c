/*
 * Tests for the libcrypto helpers: hex, hash strings, algorithm names, public
 * key parsing and algorithm fit, signature verification and ECDSA raw-to-DER.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "tfa_test.h"
#include "tfattest/artifact.h"
#include "tfattest/signer.h"
#include "tfattest/sys/signer.h"
#include "verify/crypto.h"

/* ---- keys, generated once per process (RSA generation is slow under valgrind) --------------- */

static EVP_PKEY *k_rsa2048, *k_rsa1024, *k_p256, *k_p384, *k_ed25519;

static void free_keys(void);

/* Each key is made on first use; all are freed at exit. */
static EVP_PKEY *keep(EVP_PKEY *k)
{
	static int registered;

	if (!registered) {
		atexit(free_keys);
		registered = 1;
	}
	if (k == NULL) {
		fprintf(stderr, "key generation failed\n");
		exit(2);
	}
	return k;
}

static EVP_PKEY *rsa2048(void)
{
	if (k_rsa2048 == NULL)
		k_rsa2048 = keep(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048));
	return k_rsa2048;
}

static EVP_PKEY *rsa1024(void)
{
	if (k_rsa1024 == NULL)
		k_rsa1024 = keep(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024));
	return k_rsa1024;
}

static EVP_PKEY *p256(void)
{
	if (k_p256 == NULL)
		k_p256 = keep(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
	return k_p256;
}

static EVP_PKEY *p384(void)
{
	if (k_p384 == NULL)
		k_p384 = keep(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"));
	return k_p384;
}

static EVP_PKEY *ed25519(void)
{
	if (k_ed25519 == NULL)
		k_ed25519 = keep(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
	return k_ed25519;
}

static void free_keys(void)
{
	EVP_PKEY_free(k_rsa2048);
	EVP_PKEY_free(k_rsa1024);
	EVP_PKEY_free(k_p256);
	EVP_PKEY_free(k_p384);
	EVP_PKEY_free(k_ed25519);
	k_rsa2048 = k_rsa1024 = k_p256 = k_p384 = k_ed25519 = NULL;
}

/*
 * Signs a digest independently of the code under test. pss_salt < 0 means
 * PKCS#1 v1.5 for RSA keys; EC keys ignore it. Returns the length, 0 on failure.
 */
static size_t sign_digest(uint8_t *sig, size_t cap, EVP_PKEY *key, int pss_salt,
			  const uint8_t digest[TFA_SHA256_LEN])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	size_t n = cap;
	int ok = ctx != NULL && EVP_PKEY_sign_init(ctx) > 0 &&
		 EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0;

	if (ok && EVP_PKEY_is_a(key, "RSA")) {
		if (pss_salt >= 0)
			ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) > 0 &&
			     EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, pss_salt) > 0 &&
			     EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) > 0;
		else
			ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0;
	}
	if (ok)
		ok = EVP_PKEY_sign(ctx, sig, &n, digest, TFA_SHA256_LEN) > 0;
	EVP_PKEY_CTX_free(ctx);
	return ok ? n : 0;
}

static void spki_of(tfa_buf *der, EVP_PKEY *key)
{
	tfa_buf_init(der, 0);
	CHECK_OK(tfa_pkey_to_spki(der, key));
}

/* ---- hex and hash strings ------------------------------------------------------------------ */

static void test_hex(void)
{
	static const uint8_t bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
	char hex[2 * sizeof(bytes) + 1];
	uint8_t back[sizeof(bytes)];

	memset(hex, 'X', sizeof(hex));
	tfa_hex_encode(hex, bytes, sizeof(bytes));
	CHECK_STREQ(hex, "00017f80abcdefff");
	CHECK_OK(tfa_hex_decode(back, sizeof(back), hex, strlen(hex)));
	CHECK(memcmp(back, bytes, sizeof(bytes)) == 0);
	tfa_hex_encode(hex, bytes, 0);
	CHECK_STREQ(hex, "");
	CHECK_OK(tfa_hex_decode(back, 0, "", 0));

	CHECK_RC(tfa_hex_decode(back, 2, "ABCD", 4), TFA_EFORMAT); /* uppercase */
	CHECK(strstr(tfa_error_last()->message, "lowercase") != NULL);
	CHECK_RC(tfa_hex_decode(back, 2, "abCd", 4), TFA_EFORMAT);
	CHECK_RC(tfa_hex_decode(back, 2, "abcg", 4), TFA_EFORMAT);
	CHECK_RC(tfa_hex_decode(back, 2, "ab c", 4), TFA_EFORMAT);
	CHECK_RC(tfa_hex_decode(back, 2, "ab\0c", 4), TFA_EFORMAT);
	CHECK_RC(tfa_hex_decode(back, 2, "0x12", 4), TFA_EFORMAT);
	CHECK_RC(tfa_hex_decode(back, 2, "abc", 3), TFA_EFORMAT); /* odd */
	CHECK(strstr(tfa_error_last()->message, "expected 4 hex digits, found 3") != NULL);
	CHECK_RC(tfa_hex_decode(back, 2, "abcdef", 6), TFA_EFORMAT); /* too long */
	CHECK_RC(tfa_hex_decode(back, 2, "", 0), TFA_EFORMAT);
}

static void test_sha256_and_hash_strings(void)
{
	static const char abc_hex[] =
	    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	uint8_t d[TFA_SHA256_LEN], back[TFA_SHA256_LEN];
	char s[TFA_FPR_STRLEN];
	char bad[TFA_FPR_STRLEN + 2];

	tfa_sha256(d, "abc", 3);
	tfa_hash_str(s, d);
	CHECK_STREQ(s, abc_hex);
	CHECK(strlen(s) == TFA_FPR_STRLEN - 1);
	CHECK_OK(tfa_hash_parse(back, s, strlen(s)));
	CHECK(memcmp(back, d, sizeof(d)) == 0);
	CHECK_OK(tfa_hash_parse(back, TFA_GENESIS_HASH, strlen(TFA_GENESIS_HASH)));
	for (size_t i = 0; i < sizeof(back); i++)
		CHECK(back[i] == 0);

	/* Wrong prefix, length or case. */
	CHECK_RC(tfa_hash_parse(back, abc_hex + 7, 64), TFA_EFORMAT);
	memcpy(bad, abc_hex, sizeof(abc_hex));
	memcpy(bad, "SHA256", 6);
	CHECK_RC(tfa_hash_parse(back, bad, strlen(bad)), TFA_EFORMAT);
	memcpy(bad, abc_hex, sizeof(abc_hex));
	memcpy(bad, "sha512", 6);
	CHECK_RC(tfa_hash_parse(back, bad, strlen(bad)), TFA_EFORMAT);
	memcpy(bad, abc_hex, sizeof(abc_hex));
	bad[6] = '-';
	CHECK_RC(tfa_hash_parse(back, bad, strlen(bad)), TFA_EFORMAT);
	CHECK_RC(tfa_hash_parse(back, abc_hex, strlen(abc_hex) - 1), TFA_EFORMAT);
	CHECK(strstr(tfa_error_last()->message, "sha256:") != NULL);
	memcpy(bad, abc_hex, sizeof(abc_hex));
	bad[sizeof(abc_hex) - 1] = '0';
	bad[sizeof(abc_hex)] = '\0';
	CHECK_RC(tfa_hash_parse(back, bad, strlen(bad)), TFA_EFORMAT);
	memcpy(bad, abc_hex, sizeof(abc_hex));
	bad[10] = 'A';
	CHECK_RC(tfa_hash_parse(back, bad, strlen(bad)), TFA_EFORMAT);
	memcpy(bad, abc_hex, sizeof(abc_hex));
	bad[70] = 'g';
	CHECK_RC(tfa_hash_parse(back, bad, strlen(bad)), TFA_EFORMAT);
	CHECK_RC(tfa_hash_parse(back, "", 0), TFA_EFORMAT);
	CHECK_RC(tfa_hash_parse(back, "sha256:", 7), TFA_EFORMAT);
}

static void test_alg_names(void)
{
	static const tfa_sig_alg algs[] = {
	    TFA_ALG_RSASSA_PSS_SHA_256, TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256, TFA_ALG_ECDSA_SHA_256};
	tfa_sig_alg a = TFA_ALG_RSASSA_PSS_SHA_256;

	CHECK_STREQ(tfa_sig_alg_name(TFA_ALG_RSASSA_PSS_SHA_256), "RSASSA_PSS_SHA_256");
	CHECK_STREQ(tfa_sig_alg_name(TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256),
		    "RSASSA_PKCS1_V1_5_SHA_256");
	CHECK_STREQ(tfa_sig_alg_name(TFA_ALG_ECDSA_SHA_256), "ECDSA_SHA_256");
	CHECK_STREQ(tfa_sig_alg_name(TFA_ALG_NONE), "NONE");
	CHECK_STREQ(tfa_sig_alg_name((tfa_sig_alg)99), "NONE");
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		tfa_sig_alg back = TFA_ALG_NONE;
		CHECK_OK(tfa_sig_alg_from_name(&back, tfa_sig_alg_name(algs[i])));
		CHECK(back == algs[i]);
	}
	CHECK_RC(tfa_sig_alg_from_name(&a, "NONE"), TFA_EFORMAT);
	CHECK(a == TFA_ALG_NONE);
	CHECK_RC(tfa_sig_alg_from_name(&a, "ecdsa_sha_256"), TFA_EFORMAT);
	CHECK_RC(tfa_sig_alg_from_name(&a, "ECDSA_SHA_384"), TFA_EFORMAT);
	CHECK_RC(tfa_sig_alg_from_name(&a, "RSASSA_PSS_SHA_256 "), TFA_EFORMAT);
	CHECK_RC(tfa_sig_alg_from_name(&a, ""), TFA_EFORMAT);
	CHECK(strstr(tfa_error_last()->message, "unknown signature algorithm") != NULL);
}

/* ---- keys -------------------------------------------------------------------------------- */

static void test_default_alg_and_check_alg(void)
{
	CHECK(tfa_pkey_default_alg(rsa2048()) == TFA_ALG_RSASSA_PSS_SHA_256);
	CHECK(tfa_pkey_default_alg(p256()) == TFA_ALG_ECDSA_SHA_256);
	CHECK(tfa_pkey_default_alg(rsa1024()) == TFA_ALG_NONE);
	CHECK(tfa_pkey_default_alg(p384()) == TFA_ALG_NONE);
	CHECK(tfa_pkey_default_alg(ed25519()) == TFA_ALG_NONE);

	CHECK_OK(tfa_pkey_check_alg(rsa2048(), TFA_ALG_RSASSA_PSS_SHA_256));
	CHECK_OK(tfa_pkey_check_alg(rsa2048(), TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256));
	CHECK_RC(tfa_pkey_check_alg(rsa2048(), TFA_ALG_ECDSA_SHA_256), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "ECDSA_SHA_256 does not fit") != NULL);
	CHECK_RC(tfa_pkey_check_alg(rsa2048(), TFA_ALG_NONE), TFA_EVERIFY);
	CHECK_OK(tfa_pkey_check_alg(p256(), TFA_ALG_ECDSA_SHA_256));
	CHECK_RC(tfa_pkey_check_alg(p256(), TFA_ALG_RSASSA_PSS_SHA_256), TFA_EVERIFY);
	CHECK_RC(tfa_pkey_check_alg(p256(), TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256), TFA_EVERIFY);
	CHECK_RC(tfa_pkey_check_alg(p256(), TFA_ALG_NONE), TFA_EVERIFY);
	CHECK_RC(tfa_pkey_check_alg(p256(), (tfa_sig_alg)42), TFA_EVERIFY);
	/* Unsupported keys fit nothing. */
	CHECK_RC(tfa_pkey_check_alg(rsa1024(), TFA_ALG_RSASSA_PSS_SHA_256), TFA_EVERIFY);
	CHECK_RC(tfa_pkey_check_alg(rsa1024(), TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256), TFA_EVERIFY);
	CHECK_RC(tfa_pkey_check_alg(p384(), TFA_ALG_ECDSA_SHA_256), TFA_EVERIFY);
	CHECK_RC(tfa_pkey_check_alg(ed25519(), TFA_ALG_ECDSA_SHA_256), TFA_EVERIFY);
}

static void test_spki_parsing(void)
{
	tfa_buf der, der2, pem, junk;
	EVP_PKEY *k = NULL;
	char fpr[TFA_FPR_STRLEN], want[TFA_FPR_STRLEN];
	uint8_t d[TFA_SHA256_LEN];

	spki_of(&der, p256());
	CHECK_OK(tfa_pkey_from_spki(&k, der.data, der.len));
	CHECK(k != NULL && EVP_PKEY_eq(k, p256()) == 1);
	EVP_PKEY_free(k);
	k = NULL;

	/* The fingerprint is the SHA-256 of the DER SPKI. */
	tfa_spki_fingerprint(fpr, der.data, der.len);
	tfa_sha256(d, der.data, der.len);
	tfa_hash_str(want, d);
	CHECK_STREQ(fpr, want);

	/* PEM round trip gives the same DER. */
	tfa_buf_init(&pem, 0);
	tfa_buf_init(&der2, 0);
	CHECK_OK(tfa_spki_to_pem(&pem, der.data, der.len));
	CHECK(pem.len > 0 && strstr((const char *)pem.data, "-----BEGIN PUBLIC KEY-----") != NULL);
	CHECK_OK(tfa_spki_from_pem(&der2, pem.data, pem.len));
	CHECK(der2.len == der.len && memcmp(der2.data, der.data, der.len) == 0);

	/* Trailing bytes, truncation, garbage, empty. */
	tfa_buf_init(&junk, 0);
	CHECK_OK(tfa_buf_append(&junk, der.data, der.len));
	CHECK_OK(tfa_buf_putc(&junk, 0));
	CHECK_RC(tfa_pkey_from_spki(&k, junk.data, junk.len), TFA_EFORMAT);
	CHECK(strstr(tfa_error_last()->message, "trailing bytes") != NULL);
	CHECK(k == NULL);
	CHECK_RC(tfa_pkey_from_spki(&k, der.data, der.len - 1), TFA_EFORMAT);
	CHECK(k == NULL);
	CHECK_RC(tfa_pkey_from_spki(&k, (const uint8_t *)"hello", 5), TFA_EFORMAT);
	CHECK_RC(tfa_pkey_from_spki(&k, der.data, 0), TFA_EFORMAT);
	CHECK(k == NULL);
	{
		uint8_t *big = calloc(1, 16385);
		CHECK_RC(tfa_pkey_from_spki(&k, big, 16385), TFA_EFORMAT);
		CHECK(strstr(tfa_error_last()->message, "invalid size") != NULL);
		free(big);
	}

	/* Well-formed keys of unsupported kinds. */
	tfa_buf_free(&der2);
	spki_of(&der2, p384());
	CHECK_RC(tfa_pkey_from_spki(&k, der2.data, der2.len), TFA_EFORMAT);
	CHECK(strstr(tfa_error_last()->message, "unsupported public key") != NULL);
	CHECK(k == NULL);
	tfa_buf_free(&der2);
	spki_of(&der2, rsa1024());
	CHECK_RC(tfa_pkey_from_spki(&k, der2.data, der2.len), TFA_EFORMAT);
	tfa_buf_free(&der2);
	spki_of(&der2, ed25519());
	CHECK_RC(tfa_pkey_from_spki(&k, der2.data, der2.len), TFA_EFORMAT);
	tfa_buf_clear(&pem);
	CHECK_RC(tfa_spki_to_pem(&pem, der2.data, der2.len), TFA_EFORMAT);
	tfa_buf_free(&der2);

	/* Not PEM at all, or a private key PEM. */
	tfa_buf_init(&der2, 0);
	CHECK_RC(tfa_spki_from_pem(&der2, (const uint8_t *)"not a key", 9), TFA_EFORMAT);
	CHECK(strstr(tfa_error_last()->message, "not a PEM public key") != NULL);
	CHECK(der2.len == 0);
	{
		static const char half[] = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYI\n"
					   "-----END PUBLIC KEY-----\n";
		CHECK_RC(tfa_spki_from_pem(&der2, (const uint8_t *)half, sizeof(half) - 1),
			 TFA_EFORMAT);
	}
	{
		uint8_t *big = malloc(65537);
		memset(big, 'A', 65537);
		CHECK_RC(tfa_spki_from_pem(&der2, big, 65537), TFA_EFORMAT);
		CHECK(strstr(tfa_error_last()->message, "too large") != NULL);
		free(big);
	}
	tfa_buf_free(&der);
	tfa_buf_free(&der2);
	tfa_buf_free(&pem);
	tfa_buf_free(&junk);
}

/* ---- canonical key encodings ------------------------------------------------------------ */

/* The compressed-point SPKI of a P-256 key, built from its uncompressed one. */
static void compressed_spki(tfa_buf *out, const tfa_buf *der)
{
	static const uint8_t prefix[] = {0x30, 0x39, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
					 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
					 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x22, 0x00};
	const uint8_t *pt = der->data + der->len - 65; /* 04 || X || Y */
	uint8_t lead = (uint8_t)(0x02 | (pt[64] & 1));

	tfa_buf_init(out, 0);
	CHECK(der->len == 91 && pt[0] == 0x04);
	CHECK_OK(tfa_buf_append(out, prefix, sizeof(prefix)));
	CHECK_OK(tfa_buf_append(out, &lead, 1));
	CHECK_OK(tfa_buf_append(out, pt + 1, 32));
}

static void expect_not_canonical(const tfa_buf *der, const char *why, int line)
{
	EVP_PKEY *k = NULL;
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_spki_canonical_check(der->data, der->len);
	if (rc != TFA_EFORMAT || strstr(tfa_error_last()->message, why) == NULL) {
		fprintf(stderr, "line %d: canonical check gave %s (%s), wanted \"%s\"\n", line,
			tfa_err_name(rc), tfa_error_last()->message, why);
		tfa_test_failures++;
	}
	/* Every way a key enters holds it to the same rule. */
	if (tfa_pkey_from_spki(&k, der->data, der->len) != TFA_EFORMAT || k != NULL) {
		fprintf(stderr, "line %d: tfa_pkey_from_spki accepts it\n", line);
		tfa_test_failures++;
	}
	EVP_PKEY_free(k);
	{
		tfa_buf pem, back;
		tfa_buf_init(&pem, 0);
		tfa_buf_init(&back, 0);
		CHECK_OK(tfa_buf_puts(&pem, "-----BEGIN PUBLIC KEY-----\n"));
		{
			char b64[4096];
			int n = EVP_EncodeBlock((unsigned char *)b64, der->data, (int)der->len);
			for (int i = 0; i < n; i += 64) {
				CHECK_OK(tfa_buf_append(&pem, b64 + i,
							(size_t)(n - i < 64 ? n - i : 64)));
				CHECK_OK(tfa_buf_putc(&pem, '\n'));
			}
		}
		CHECK_OK(tfa_buf_puts(&pem, "-----END PUBLIC KEY-----\n"));
		if (tfa_spki_from_pem(&back, pem.data, pem.len) != TFA_EFORMAT || back.len != 0 ||
		    strstr(tfa_error_last()->message, why) == NULL) {
			fprintf(stderr, "line %d: tfa_spki_from_pem accepts it or says \"%s\"\n",
				line, tfa_error_last()->message);
			tfa_test_failures++;
		}
		tfa_buf_free(&pem);
		tfa_buf_free(&back);
	}
}

#define NOT_CANONICAL(der, why) expect_not_canonical((der), (why), __LINE__)

static void test_canonical_keys(void)
{
	tfa_buf ec, rsa, bad, canon;
	EVP_PKEY *k = NULL;
	char f1[TFA_FPR_STRLEN], f2[TFA_FPR_STRLEN];

	spki_of(&ec, p256());
	spki_of(&rsa, rsa2048());
	CHECK_OK(tfa_spki_canonical_check(ec.data, ec.len));
	CHECK_OK(tfa_spki_canonical_check(rsa.data, rsa.len));

	/* A compressed point: the same key, another encoding, so another fingerprint. */
	compressed_spki(&bad, &ec);
	NOT_CANONICAL(&bad, "public key is not in canonical form (compressed or hybrid EC point)");
	/* The canonicalising encoder gives the one canonical SPKI and fingerprint. */
	tfa_buf_init(&canon, 0);
	CHECK_OK(tfa_spki_canonicalize(&canon, bad.data, bad.len));
	CHECK(canon.len == ec.len && memcmp(canon.data, ec.data, ec.len) == 0);
	tfa_spki_fingerprint(f1, canon.data, canon.len);
	tfa_spki_fingerprint(f2, ec.data, ec.len);
	CHECK_STREQ(f1, f2);
	tfa_buf_clear(&canon);
	CHECK_OK(tfa_spki_canonicalize(&canon, rsa.data, rsa.len));
	CHECK(canon.len == rsa.len && memcmp(canon.data, rsa.data, rsa.len) == 0);
	tfa_buf_free(&canon);
	tfa_buf_free(&bad);

	/* A hybrid point (06/07 || X || Y). */
	tfa_buf_init(&bad, 0);
	CHECK_OK(tfa_buf_append(&bad, ec.data, ec.len));
	bad.data[26] = (uint8_t)(0x06 | (ec.data[90] & 1));
	CHECK_RC(tfa_spki_canonical_check(bad.data, bad.len), TFA_EFORMAT);
	tfa_buf_free(&bad);

	/* Explicit curve parameters instead of the named curve. */
	{
		EVP_PKEY *x = EVP_PKEY_dup(p256());
		CHECK(x != NULL && EVP_PKEY_set_utf8_string_param(x, "encoding", "explicit") == 1);
		spki_of(&bad, x);
		CHECK(bad.len > ec.len);
		NOT_CANONICAL(&bad, "public key is not in canonical form (EC key without the named "
				    "curve prime256v1)");
		tfa_buf_free(&bad);
		EVP_PKEY_free(x);
	}

	/* rsaEncryption with the NULL parameters left out. */
	tfa_buf_init(&bad, 0);
	CHECK(rsa.len == 294 && rsa.data[17] == 0x05 && rsa.data[18] == 0x00);
	{
		static const uint8_t head[] = {0x30, 0x82, 0x01, 0x20, 0x30, 0x0b, 0x06, 0x09, 0x2a,
					       0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
		CHECK_OK(tfa_buf_append(&bad, head, sizeof(head)));
		CHECK_OK(tfa_buf_append(&bad, rsa.data + 19, rsa.len - 19));
	}
	NOT_CANONICAL(&bad,
		      "public key is not in canonical form (RSA key parameters are not NULL)");
	tfa_buf_free(&bad);

	/* An RSASSA-PSS key (id-RSASSA-PSS): not an rsaEncryption key. */
	{
		EVP_PKEY *pss = NULL;
		EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);
		CHECK(kc != NULL && EVP_PKEY_keygen_init(kc) > 0 &&
		      EVP_PKEY_CTX_set_rsa_keygen_bits(kc, 2048) > 0 &&
		      EVP_PKEY_generate(kc, &pss) > 0);
		EVP_PKEY_CTX_free(kc);
		CHECK(pss != NULL);
		if (pss) {
			spki_of(&bad, pss);
			CHECK_RC(tfa_spki_canonical_check(bad.data, bad.len), TFA_EFORMAT);
			CHECK_RC(tfa_pkey_from_spki(&k, bad.data, bad.len), TFA_EFORMAT);
			tfa_buf_free(&bad);
			EVP_PKEY_free(pss);
		}
	}

	/* BER: a long-form length where DER has the short form. */
	tfa_buf_init(&bad, 0);
	CHECK_OK(tfa_buf_append(&bad, (const uint8_t[]){0x30, 0x81, 0x59}, 3));
	CHECK_OK(tfa_buf_append(&bad, ec.data + 2, ec.len - 2));
	CHECK_RC(tfa_spki_canonical_check(bad.data, bad.len), TFA_EFORMAT);
	CHECK_RC(tfa_pkey_from_spki(&k, bad.data, bad.len), TFA_EFORMAT);
	tfa_buf_free(&bad);

	/* Unsupported keys cannot be canonicalised either. */
	spki_of(&bad, p384());
	tfa_buf_init(&canon, 0);
	CHECK_RC(tfa_spki_canonicalize(&canon, bad.data, bad.len), TFA_EFORMAT);
	CHECK(canon.len == 0);
	tfa_buf_free(&canon);
	tfa_buf_free(&bad);
	EVP_PKEY_free(k);
	tfa_buf_free(&ec);
	tfa_buf_free(&rsa);
}

/* ---- signature encodings ------------------------------------------------------------------ */

/* A DER INTEGER of v (big-endian, minimal unless pad). */
static size_t der_int(uint8_t *out, const BIGNUM *v, bool pad)
{
	uint8_t b[40];
	int n = BN_bn2bin(v, b + 2);
	size_t off = 2;

	if (b[2] & 0x80)
		b[--off] = 0;
	if (pad)
		b[--off] = 0;
	out[0] = 0x02;
	out[1] = (uint8_t)(n + 2 - (int)off);
	memcpy(out + 2, b + off, (size_t)out[1]);
	return (size_t)out[1] + 2;
}

/* (r, s) as DER, with options to break it. */
static size_t ecdsa_der(uint8_t *out, const BIGNUM *r, const BIGNUM *s, bool pad_r)
{
	uint8_t body[90];
	size_t n = der_int(body, r, pad_r);

	n += der_int(body + n, s, false);
	out[0] = 0x30;
	out[1] = (uint8_t)n;
	memcpy(out + 2, body, n);
	return n + 2;
}

static void test_signature_encodings(void)
{
	uint8_t d[TFA_SHA256_LEN], sig[1100], alt[1100];
	size_t n, m;
	tfa_verifier v;

	tfa_sha256(d, "manifest bytes", 14);

	/* RSA: exactly the modulus length. A PSS signature whose first byte is zero,
	 * sent without it, is refused before OpenSSL (which would accept it) sees it. */
	for (int i = 0; i < 5000; i++) {
		n = sign_digest(sig, sizeof(sig), rsa2048(), 32, d);
		if (n == 256 && sig[0] == 0)
			break;
	}
	CHECK(n == 256 && sig[0] == 0);
	CHECK_OK(tfa_verify_digest(rsa2048(), TFA_ALG_RSASSA_PSS_SHA_256, d, sig, n));
	CHECK_RC(tfa_verify_digest(rsa2048(), TFA_ALG_RSASSA_PSS_SHA_256, d, sig + 1, n - 1),
		 TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message,
		     "RSA signature is 255 bytes, not the modulus length (256 bytes)") != NULL);
	tfa_verifier_init(&v, rsa2048());
	CHECK_OK(tfa_verifier_check(&v, TFA_ALG_RSASSA_PSS_SHA_256, d, sig, n));
	CHECK_RC(tfa_verifier_check(&v, TFA_ALG_RSASSA_PSS_SHA_256, d, sig + 1, n - 1),
		 TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "not the modulus length") != NULL);
	tfa_verifier_clear(&v);
	/* A leading zero byte added is refused too. */
	alt[0] = 0;
	memcpy(alt + 1, sig, n);
	CHECK_RC(tfa_verify_digest(rsa2048(), TFA_ALG_RSASSA_PSS_SHA_256, d, alt, n + 1),
		 TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "not the modulus length") != NULL);
	/* PSS salt: exactly 32. */
	n = sign_digest(sig, sizeof(sig), rsa2048(), 33, d);
	CHECK(n == 256);
	CHECK_RC(tfa_verify_digest(rsa2048(), TFA_ALG_RSASSA_PSS_SHA_256, d, sig, n), TFA_EVERIFY);

	/* ECDSA: strict DER; both S values verify (signatures are malleable). */
	n = sign_digest(sig, sizeof(sig), p256(), -1, d);
	CHECK(n > 0);
	{
		const uint8_t *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
		BIGNUM *order = BN_new(), *hs = BN_new();
		BN_CTX *bc = BN_CTX_new();
		const BIGNUM *r, *s;

		CHECK(es != NULL && order != NULL && hs != NULL && bc != NULL);
		ECDSA_SIG_get0(es, &r, &s);
		CHECK(BN_hex2bn(
			  &order,
			  "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551") > 0);
		CHECK(BN_sub(hs, order, s) == 1);
		/* The other S of the pair: one is high, one low; both verify. */
		m = ecdsa_der(alt, r, hs, false);
		CHECK(m != n || memcmp(alt, sig, n) != 0);
		CHECK_OK(tfa_verify_digest(p256(), TFA_ALG_ECDSA_SHA_256, d, alt, m));
		tfa_verifier_init(&v, p256());
		CHECK_OK(tfa_verifier_check(&v, TFA_ALG_ECDSA_SHA_256, d, alt, m));
		CHECK_OK(tfa_verifier_check(&v, TFA_ALG_ECDSA_SHA_256, d, sig, n));
		/* Trailing bytes. */
		memcpy(alt, sig, n);
		alt[n] = 0;
		CHECK_RC(tfa_verify_digest(p256(), TFA_ALG_ECDSA_SHA_256, d, alt, n + 1),
			 TFA_EVERIFY);
		CHECK(strstr(tfa_error_last()->message, "not one DER SEQUENCE of two INTEGERs") !=
		      NULL);
		CHECK_RC(tfa_verifier_check(&v, TFA_ALG_ECDSA_SHA_256, d, alt, n + 1), TFA_EVERIFY);
		/* A non-minimal INTEGER (a zero byte DER forbids). */
		m = ecdsa_der(alt, r, s, true);
		CHECK_RC(tfa_verify_digest(p256(), TFA_ALG_ECDSA_SHA_256, d, alt, m), TFA_EVERIFY);
		CHECK(strstr(tfa_error_last()->message, "ECDSA signature is not") != NULL);
		/* A long-form length where DER has the short form. */
		alt[0] = 0x30;
		alt[1] = 0x81;
		alt[2] = (uint8_t)(n - 2);
		memcpy(alt + 3, sig + 2, n - 2);
		CHECK_RC(tfa_verify_digest(p256(), TFA_ALG_ECDSA_SHA_256, d, alt, n + 1),
			 TFA_EVERIFY);
		CHECK(strstr(tfa_error_last()->message, "ECDSA signature is not") != NULL);
		tfa_verifier_clear(&v);
		ECDSA_SIG_free(es);
		BN_free(order);
		BN_free(hs);
		BN_CTX_free(bc);
	}
}

/* ---- signature verification -------------------------------------------------------------- */

static void test_verify_digest(void)
{
	uint8_t d[TFA_SHA256_LEN], other[TFA_SHA256_LEN], sig[1100];
	size_t n;

	tfa_sha256(d, "artifact bytes", 14);
	tfa_sha256(other, "artifact bytez", 14);

	/* ECDSA P-256. */
	n = sign_digest(sig, sizeof(sig), p256(), -1, d);
	CHECK(n > 0);
	CHECK_OK(tfa_verify_digest(p256(), TFA_ALG_ECDSA_SHA_256, d, sig, n));
	CHECK_RC(tfa_verify_digest(p256(), TFA_ALG_ECDSA_SHA_256, other, sig, n), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "signature is invalid") != NULL);
	sig[n - 1] ^= 1;
	CHECK_RC(tfa_verify_digest(p256(), TFA_ALG_ECDSA_SHA_256, d, sig, n), TFA_EVERIFY);
	sig[n - 1] ^= 1;
	CHECK_RC(tfa_verify_digest(p256(), TFA_ALG_ECDSA_SHA_256, d, sig, n - 1), TFA_EVERIFY);
	/* An algorithm that does not fit the key is "invalid", not "could not check". */
	CHECK_RC(tfa_verify_digest(p256(), TFA_ALG_RSASSA_PSS_SHA_256, d, sig, n), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "does not fit") != NULL);
	CHECK_RC(tfa_verify_digest(p256(), TFA_ALG_NONE, d, sig, n), TFA_EVERIFY);
	/* Lengths outside 1..1024. */
	CHECK_RC(tfa_verify_digest(p256(), TFA_ALG_ECDSA_SHA_256, d, sig, 0), TFA_EVERIFY);
	CHECK(strstr(tfa_error_last()->message, "invalid length") != NULL);
	CHECK_RC(tfa_verify_digest(p256(), TFA_ALG_ECDSA_SHA_256, d, sig, 1025), TFA_EVERIFY);
	/* A raw r||s signature is not accepted as DER. */
	{
		ECDSA_SIG *es;
		const uint8_t *p = sig;
		uint8_t raw[64];
		es = d2i_ECDSA_SIG(NULL, &p, (long)n);
		CHECK(es != NULL);
		if (es) {
			CHECK(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32) == 32);
			CHECK(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32) == 32);
			CHECK_RC(tfa_verify_digest(p256(), TFA_ALG_ECDSA_SHA_256, d, raw, 64),
				 TFA_EVERIFY);
			ECDSA_SIG_free(es);
		}
	}

	/* RSASSA-PSS, salt length 32 exactly. */
	n = sign_digest(sig, sizeof(sig), rsa2048(), 32, d);
	CHECK(n == 256);
	CHECK_OK(tfa_verify_digest(rsa2048(), TFA_ALG_RSASSA_PSS_SHA_256, d, sig, n));
	CHECK_RC(tfa_verify_digest(rsa2048(), TFA_ALG_RSASSA_PSS_SHA_256, other, sig, n),
		 TFA_EVERIFY);
	CHECK_RC(tfa_verify_digest(rsa2048(), TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256, d, sig, n),
		 TFA_EVERIFY);
	CHECK_RC(tfa_verify_digest(rsa2048(), TFA_ALG_ECDSA_SHA_256, d, sig, n), TFA_EVERIFY);
	sig[0] ^= 0x80;
	CHECK_RC(tfa_verify_digest(rsa2048(), TFA_ALG_RSASSA_PSS_SHA_256, d, sig, n), TFA_EVERIFY);
	/* Another salt length is a different signature scheme: refused. */
	n = sign_digest(sig, sizeof(sig), rsa2048(), 20, d);
	CHECK(n == 256);
	CHECK_RC(tfa_verify_digest(rsa2048(), TFA_ALG_RSASSA_PSS_SHA_256, d, sig, n), TFA_EVERIFY);
	n = sign_digest(sig, sizeof(sig), rsa2048(), 0, d);
	CHECK_RC(tfa_verify_digest(rsa2048(), TFA_ALG_RSASSA_PSS_SHA_256, d, sig, n), TFA_EVERIFY);

	/* RSASSA-PKCS1-v1_5. */
	n = sign_digest(sig, sizeof(sig), rsa2048(), -1, d);
	CHECK(n == 256);
	CHECK_OK(tfa_verify_digest(rsa2048(), TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256, d, sig, n));
	CHECK_RC(tfa_verify_digest(rsa2048(), TFA_ALG_RSASSA_PSS_SHA_256, d, sig, n), TFA_EVERIFY);
	CHECK_RC(tfa_verify_digest(rsa2048(), TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256, other, sig, n),
		 TFA_EVERIFY);
	CHECK_RC(tfa_verify_digest(rsa2048(), TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256, d, sig, n - 1),
		 TFA_EVERIFY);

	/* A valid signature by a key the verifier refuses (RSA-1024) is still refused. */
	n = sign_digest(sig, sizeof(sig), rsa1024(), 32, d);
	CHECK(n == 128);
	CHECK_RC(tfa_verify_digest(rsa1024(), TFA_ALG_RSASSA_PSS_SHA_256, d, sig, n), TFA_EVERIFY);
}

/* ---- ECDSA raw r||s to DER ----------------------------------------------------------------- */

static void test_ecdsa_raw_to_der(void)
{
	uint8_t d[TFA_SHA256_LEN], sig[128], raw[132];
	size_t n;
	tfa_buf out;
	ECDSA_SIG *es;
	const uint8_t *p;

	tfa_buf_init(&out, 0);
	tfa_sha256(d, "x", 1);
	/* Real signatures: raw -> DER gives the signature back, and it verifies. */
	for (int i = 0; i < 16; i++) {
		d[0] = (uint8_t)i;
		n = sign_digest(sig, sizeof(sig), p256(), -1, d);
		p = sig;
		es = d2i_ECDSA_SIG(NULL, &p, (long)n);
		CHECK(es != NULL);
		if (es == NULL)
			continue;
		CHECK(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32) == 32);
		CHECK(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32) == 32);
		ECDSA_SIG_free(es);
		tfa_buf_clear(&out);
		CHECK_OK(tfa_ecdsa_raw_to_der(&out, raw, 64));
		CHECK(out.len == n && memcmp(out.data, sig, n) == 0);
		CHECK_OK(tfa_verify_digest(p256(), TFA_ALG_ECDSA_SHA_256, d, out.data, out.len));
	}

	/* Minimal INTEGER encodings: leading zeros dropped, a 0x00 added before a high bit. */
	memset(raw, 0, 64);
	raw[31] = 1;
	raw[63] = 2;
	tfa_buf_clear(&out);
	CHECK_OK(tfa_ecdsa_raw_to_der(&out, raw, 64));
	{
		static const uint8_t want[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02};
		CHECK(out.len == sizeof(want) && memcmp(out.data, want, sizeof(want)) == 0);
	}
	memset(raw, 0, 64);
	raw[0] = 0x80;
	raw[63] = 0x7f;
	tfa_buf_clear(&out);
	CHECK_OK(tfa_ecdsa_raw_to_der(&out, raw, 64));
	CHECK(out.len == 2 + (2 + 33) + (2 + 1));
	CHECK(out.len > 6 && out.data[2] == 0x02 && out.data[3] == 33 && out.data[4] == 0x00 &&
	      out.data[5] == 0x80);

	/* Appends; does not overwrite. */
	tfa_buf_clear(&out);
	CHECK_OK(tfa_buf_puts(&out, "ab"));
	CHECK_OK(tfa_ecdsa_raw_to_der(&out, raw, 64));
	CHECK(out.len == 2 + 40 && memcmp(out.data, "ab", 2) == 0 && out.data[2] == 0x30);

	/* P-521 size is the largest accepted. */
	memset(raw, 0x11, sizeof(raw));
	tfa_buf_clear(&out);
	CHECK_OK(tfa_ecdsa_raw_to_der(&out, raw, 132));

	tfa_buf_clear(&out);
	CHECK_RC(tfa_ecdsa_raw_to_der(&out, raw, 0), TFA_EBACKEND);
	CHECK_RC(tfa_ecdsa_raw_to_der(&out, raw, 63), TFA_EBACKEND);
	CHECK(strstr(tfa_error_last()->message, "invalid length") != NULL);
	CHECK_RC(tfa_ecdsa_raw_to_der(&out, raw, 1), TFA_EBACKEND);
	{
		uint8_t big[134] = {0};
		CHECK_RC(tfa_ecdsa_raw_to_der(&out, big, 134), TFA_EBACKEND);
	}
	CHECK(out.len == 0);
	tfa_buf_free(&out);
}

TFA_TEST_MAIN(T(test_canonical_keys), T(test_signature_encodings), T(test_hex),
	      T(test_sha256_and_hash_strings), T(test_alg_names), T(test_default_alg_and_check_alg),
	      T(test_spki_parsing), T(test_verify_digest), T(test_ecdsa_raw_to_der))
