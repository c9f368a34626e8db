/*
 * Fuzz target for the ID-token checks (service/jwt.h): the JWKS parser and
 * the compact-JWS verifier.
 *
 * The first byte picks the parser: 'k' reads the rest as a key set; anything
 * else verifies the rest as a token against a fixed key set (an RSA and a
 * P-256 key from tests/service/oidc_issuer.py; the corpus holds tokens they
 * signed, so the claim checks behind the signature are reached too).
 *
 * Any input: the JWKS parser gives TFA_OK with at most 64 keys or
 * TFA_EFORMAT; the verifier gives TFA_OK with a token that meets the rules,
 * or TFA_EFORMAT, TFA_EVERIFY or TFA_ENOTFOUND with a one-line message and
 * nothing out.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "jws_fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static const char jwks[] =
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec-1\",\"use\":\"sig\",\"alg\":\""
    "ES256\",\"x\":\"GzwxTQTAi7in6fzsf00_xFVpECzAQoZo7BXT7B2sCj8\",\"y\":\"ASSySEEw0kNlL2LLEW"
    "hpIIg_zDbA7sDcEkTb-Z2iuhU\"},{\"kty\":\"RSA\",\"kid\":\"rsa-1\",\"use\":\"sig\",\"alg\":"
    "\"RS256\",\"n\":\"4k2xldrMtOZN2Lt-OhH0UcGmaN1vjTOcmRlbB4H79XNn2Rfvl_HuKtUc7C34b1Mts6tvmM"
    "vvgikMg6SQKFbZI9YG81dOE8S9FD7b1lNIsBo_296oUqfF_MSeufQIcHeO2EGWEuE-eWeZXO31SZl_3-X2X9tzC0"
    "2UJOUwjInIfKG1MAFEvTMmfDS372I028AOcG16P_COJoob06I6a8EMeZBcLORrgA7t6zN-zGLHXKYx3bFXKUy0mi"
    "-vOg8dPNi09AlJsbhUiJis6IU3-lvZJjmz4ECYS7HHAir4xJ7tx0_sK12PmC91XH2cl5sD_7zouBpcS4PGUdXPvo"
    "4h9GSwpw\",\"e\":\"AQAB\"}]}";

static const tfa_jwt_rules rules = {
    .issuer = "https://token.example",
    .audience = "tfattest",
    .now = 1800000000,
    .max_skew = 60,
};

static void one_line(void)
{
	const char *m = tfa_error_last()->message;

	REQUIRE(m[0] != '\0' && strchr(m, '\n') == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static tfa_jwks *keys;
	tfa_err rc;

	if (keys == NULL)
		REQUIRE(tfa_jwks_parse(&keys, (const uint8_t *)jwks, sizeof(jwks) - 1) == TFA_OK &&
			tfa_jwks_count(keys) == 2);
	if (size == 0)
		return 0;
	tfa_error_clear();
	if (data[0] == 'k') {
		tfa_jwks *k = (tfa_jwks *)1;

		rc = tfa_jwks_parse(&k, data + 1, size - 1);
		if (rc != TFA_OK) {
			REQUIRE(rc == TFA_EFORMAT && k == NULL);
			one_line();
			return 0;
		}
		REQUIRE(k != NULL && tfa_jwks_count(k) <= 64);
		tfa_jwks_free(k);
	} else {
		tfa_jwt *t = (tfa_jwt *)1;

		rc = tfa_jwt_verify(&t, (const char *)data + 1, size - 1, keys, &rules);
		if (rc != TFA_OK) {
			REQUIRE((rc == TFA_EFORMAT || rc == TFA_EVERIFY || rc == TFA_ENOTFOUND) &&
				t == NULL);
			one_line();
			return 0;
		}
		REQUIRE(size - 1 <= TFA_JWT_MAX);
		REQUIRE(strcmp(t->alg, "RS256") == 0 || strcmp(t->alg, "ES256") == 0);
		REQUIRE(strcmp(t->issuer, rules.issuer) == 0 && t->subject[0] != '\0');
		REQUIRE(t->exp > rules.now - rules.max_skew &&
			t->iat <= rules.now + rules.max_skew &&
			t->nbf <= rules.now + rules.max_skew);
		tfa_jwt_free(t);
	}
	return 0;
}
