/* Inside a parsed key set: shared by the set's parser and the token check. */
#ifndef TFA_SERVICE_JWK_INT_H
#define TFA_SERVICE_JWK_INT_H

#include <openssl/evp.h>

#include "service/jwt.h"

/* The one algorithm a key may be used for, fixed by its type when it is read. */
typedef enum tfa_jwk_alg { TFA_JWK_RS256 = 1, TFA_JWK_ES256 } tfa_jwk_alg;

typedef struct tfa_jwk {
	char *kid; /* NULL when the key has none */
	tfa_jwk_alg alg;
	EVP_PKEY *pkey;
} tfa_jwk;

struct tfa_jwks {
	tfa_jwk *keys;
	size_t n;
};

/* The key named kid (or, when kid is NULL, the only key of a one-key set), or NULL. */
const tfa_jwk *tfa_jwks_find(const tfa_jwks *k, const char *kid);

#endif
