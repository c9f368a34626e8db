/*
 * ID tokens from CI systems. Only the claims are used, and only informationally:
 * a token is a bearer credential for the cloud roles that trust it, so it is
 * wiped from every buffer this file fills and never logged.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <stdio.h>

#include "capture/oidc.h"
#include "format/b64.h"
#include "net/http.h"
#include "tfattest/sys/guard.h"

#define RESPONSE_MAX	((size_t)64 << 10)
#define URL_MAX		4096
#define OIDC_TIMEOUT_MS 30000L

tfa_err tfa_jwt_payload(cJSON **out, const char *jwt, size_t len)
{
	tfa_err rc = TFA_OK;
	const char *d1, *d2;
	uint8_t *buf = NULL;
	size_t plen, n = 0;
	cJSON *obj = NULL;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE(jwt != NULL && len > 0 && len <= TFA_JWT_MAX, TFA_EFORMAT,
		   "ID token is empty or longer than %zu bytes", TFA_JWT_MAX);
	d1 = memchr(jwt, '.', len);
	TFA_ENSURE(d1 != NULL, TFA_EFORMAT, "ID token is not a JWT (no '.')");
	d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - jwt));
	TFA_ENSURE(d2 != NULL, TFA_EFORMAT, "ID token is not a JWT (one '.')");
	TFA_ENSURE(memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - jwt)) == NULL, TFA_EFORMAT,
		   "ID token is not a signed JWT (more than three parts)");
	plen = (size_t)(d2 - (d1 + 1));
	TFA_ENSURE(plen > 0, TFA_EFORMAT, "ID token has an empty payload");
	buf = malloc(plen * 3 / 4 + 2);
	TFA_ENSURE(buf != NULL, TFA_EINTERNAL, "out of memory");
	rc = tfa_b64url_decode(buf, plen * 3 / 4 + 2, &n, d1 + 1, plen);
	if (rc != TFA_OK)
		TFA_BAIL(rc, "ID token: %s", tfa_error_last()->message);
	obj = cJSON_ParseWithLength((const char *)buf, n);
	TFA_ENSURE(obj != NULL && cJSON_IsObject(obj), TFA_EFORMAT,
		   "ID token payload is not a JSON object");
	*out = obj;
	obj = NULL;
out:
	if (buf) {
		OPENSSL_cleanse(buf, plen * 3 / 4 + 2);
		free(buf);
	}
	cJSON_Delete(obj);
	return rc;
}

tfa_err tfa_oidc_fetch(tfa_buf *token, const char *url, const char *bearer, const char *audience)
{
	tfa_err rc = TFA_OK;
	tfa_buf auth;
	tfa_net_response resp;
	char full[URL_MAX];
	cJSON *doc = NULL, *val;
	tfa_net_header h[2];

	memset(&resp, 0, sizeof(resp));
	tfa_buf_init(&auth, 8192);
	TFA_ENSURE_ARG(token);
	TFA_ENSURE(url && bearer && audience, TFA_EUSAGE, "missing token request parameters");
	TFA_ENSURE(strncmp(url, "https://", 8) == 0, TFA_EUSAGE,
		   "the ID token request URL is not https://");
	TFA_ENSURE(snprintf(full, sizeof(full), "%s%saudience=%s", url,
			    strchr(url, '?') ? "&" : "?", audience) < (int)sizeof(full),
		   TFA_EUSAGE, "the ID token request URL is too long");
	TFA_GUARD(tfa_buf_printf(&auth, "bearer %s", bearer));
	h[0] = (tfa_net_header){"Authorization", (const char *)auth.data};
	h[1] = (tfa_net_header){"Accept", "application/json"};
	{
		tfa_net_request req = {
		    .what = "ID token request failed",
		    .method = "GET",
		    .url = full,
		    .headers = h,
		    .nheaders = 2,
		    .connect_timeout_ms = OIDC_TIMEOUT_MS,
		    .timeout_ms = OIDC_TIMEOUT_MS,
		    .max_response = RESPONSE_MAX,
		    .https_only = true,
		    .ca_file = getenv("CURL_CA_BUNDLE"),
		};

		TFA_GUARD(tfa_net_send(&resp, NULL, &req));
	}
	TFA_ENSURE(resp.status == 200, TFA_EBACKEND, "ID token request failed: HTTP %ld",
		   resp.status);
	doc = cJSON_ParseWithLength((const char *)resp.body.data, resp.body.len);
	val = cJSON_GetObjectItemCaseSensitive(doc, "value");
	TFA_ENSURE(cJSON_IsString(val) && strlen(val->valuestring) <= TFA_JWT_MAX, TFA_EFORMAT,
		   "ID token response holds no token");
	TFA_GUARD(tfa_buf_puts(token, val->valuestring));
out:
	if (doc) {
		val = cJSON_GetObjectItemCaseSensitive(doc, "value");
		if (cJSON_IsString(val))
			OPENSSL_cleanse(val->valuestring, strlen(val->valuestring));
		cJSON_Delete(doc);
	}
	tfa_net_response_free(&resp);
	tfa_buf_wipe_free(&auth);
	return rc;
}
