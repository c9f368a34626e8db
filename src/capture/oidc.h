/* OpenID Connect ID tokens from CI systems: fetched and read, never kept. */
#ifndef TFA_OIDC_H
#define TFA_OIDC_H

#include <cjson/cJSON.h>

#include "tfattest/buffer.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

/* The audience tfattest asks for. */
#define TFA_OIDC_AUDIENCE "tfattest"
/* ID tokens longer than this are refused. */
#define TFA_JWT_MAX ((size_t)16 << 10)

/*
 * GitHub Actions' token request: GET <url>&audience=<audience> (or ?audience=
 * when the URL has no query) with "Authorization: bearer <bearer>", over
 * HTTPS only. The response's "value" (the JWT) is appended to `token`, which
 * the caller wipes (tfa_buf_wipe_free). Every copy made here is wiped.
 * CURL_CA_BUNDLE, when set, names the CA certificates to trust.
 */
TFA_WUR tfa_err tfa_oidc_fetch(tfa_buf *token, const char *url, const char *bearer,
			       const char *audience);

/*
 * Decodes a JWT's payload (the second dot-separated part, base64url without
 * padding) into a JSON object. The signature is NOT checked. TFA_EFORMAT for
 * anything that is not three base64url parts with a JSON object in the middle.
 */
TFA_WUR tfa_err tfa_jwt_payload(cJSON **out, const char *jwt, size_t len);

/*
 * The ID-token claims a record keeps (FORMAT.md §3.4), NULL-terminated: the
 * one list, for the claims capture copies and for what the service keeps of
 * a verified token.
 */
extern const char *const tfa_oidc_kept_claims[];

/* Whether `name` is one of tfa_oidc_kept_claims. */
int tfa_oidc_claim_kept(const char *name);

#endif
