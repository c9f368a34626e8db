/*
 * OIDC ID tokens: JSON Web Tokens (RFC 7519) in compact JWS form (RFC 7515),
 * checked against the issuer's JSON Web Key Set (RFC 7517).
 *
 * The algorithm is pinned by us, never by the token: RS256 (RSA keys of 2048
 * bits or more) and ES256 (P-256) only. `none`, HS* and every other alg are
 * refused, whatever the key set holds; a key is used only for the algorithm
 * its type implies, and only when its `use` (if present) is `sig` and its
 * `alg` (if present) equals the token's.
 */
#ifndef TFA_SERVICE_JWT_H
#define TFA_SERVICE_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "tfattest/error.h"

/* The largest token accepted, in bytes (spelt as capture/oidc.h spells it,
 * so that a file may include both). */
#define TFA_JWT_MAX ((size_t)16 << 10)

/* A parsed key set: its RS256 and ES256 keys by kid. */
typedef struct tfa_jwks tfa_jwks;

/* Parses a JWKS document; keys of other types are skipped. TFA_EFORMAT otherwise. */
TFA_WUR tfa_err tfa_jwks_parse(tfa_jwks **out, const uint8_t *json, size_t len);

/* How many usable keys the set holds. */
size_t tfa_jwks_count(const tfa_jwks *k);

void tfa_jwks_free(tfa_jwks *k);

/* What a token must satisfy besides its signature. */
typedef struct tfa_jwt_rules {
	const char *issuer;   /* iss must equal it */
	const char *audience; /* aud (a string, or an array) must contain it */
	int64_t now;	      /* seconds since the epoch */
	int64_t max_skew;     /* seconds allowed on exp, nbf and iat: 0 to 600 */
} tfa_jwt_rules;

/* A verified token's claims. */
typedef struct tfa_jwt {
	char *issuer;
	char *subject;
	char *audience; /* the audience checked */
	char *kid;
	char alg[8];
	int64_t iat, nbf, exp; /* nbf 0 when absent; exp and iat are required */
	/* Every top-level claim whose value is a string, a number or a boolean, as
	 * name/value strings (numbers in their JSON form), in the token's order. */
	char **names;
	char **values;
	size_t nclaims;
} tfa_jwt;

/*
 * Verifies a compact JWS token: header, signature (by the key its kid names,
 * or the only key when the token has no kid and the set has one key), then
 * iss, aud, exp, nbf and iat with at most max_skew of skew, and a non-empty
 * sub. TFA_EVERIFY with a message naming the check that failed (never the
 * token); TFA_EFORMAT for a token that is not a well-formed JWT (duplicate
 * member names, a date that is not an integer second in range, ...);
 * TFA_ENOTFOUND when its kid is not in the set (the caller may refresh the
 * set once and retry); TFA_EUSAGE for rules without an issuer or audience or
 * with a skew out of range. *out is set only on TFA_OK.
 */
TFA_WUR tfa_err tfa_jwt_verify(tfa_jwt **out, const char *token, size_t len, const tfa_jwks *keys,
			       const tfa_jwt_rules *rules);

void tfa_jwt_free(tfa_jwt *t);

/*
 * The key set of one issuer, from a file or fetched (the jwks_uri, else the
 * issuer's discovery document) and kept for ttl seconds. A kid not in the
 * set refetches it at most once per 30 seconds (key rotation).
 *
 * jwks_file and jwks_uri are exclusive; both NULL means discovery. Fetches
 * need https:// (CURL_CA_BUNDLE, when set, names the CAs to trust), except
 * from a loopback http:// issuer (tests). The set is first read here, and a
 * failure fails the call; later, a failed refresh keeps the set held.
 */
typedef struct tfa_jwks_cache tfa_jwks_cache;

TFA_WUR tfa_err tfa_jwks_cache_new(tfa_jwks_cache **out, const char *issuer, const char *jwks_file,
				   const char *jwks_uri, int64_t ttl);

/*
 * Verifies a token against the cache's keys (refreshing them as above).
 * Thread-safe.
 */
TFA_WUR tfa_err tfa_jwks_cache_verify(tfa_jwks_cache *c, tfa_jwt **out, const char *token,
				      size_t len, const tfa_jwt_rules *rules);

void tfa_jwks_cache_free(tfa_jwks_cache *c);

#endif
