/*
 * ID tokens from CI systems. Only the claims are used, and only informationally:
 * a token is a bearer credential for the cloud roles that trust it, so it is
 * wiped from every buffer this file fills and never logged.
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "capture/oidc.h"
#include "format/b64.h"
#include "tfattest/sys/guard.h"

#define RESPONSE_MAX ((size_t)64 << 10)
#define URL_MAX 4096

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

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	tfa_buf *b = ud;
	size_t n = size * nmemb;

	if (tfa_buf_append(b, p, n) != TFA_OK)
		return 0; /* too large: abort the transfer */
	return n;
}

/* Wipes and frees a header list (the bearer credential is in it). */
static void slist_wipe_free(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p; p = p->next)
		if (p->data)
			OPENSSL_cleanse(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

tfa_err tfa_oidc_fetch(tfa_buf *token, const char *url, const char *bearer, const char *audience)
{
	tfa_err rc = TFA_OK;
	CURL *h = NULL;
	struct curl_slist *hdr = NULL;
	tfa_buf resp, auth;
	char full[URL_MAX];
	char errbuf[CURL_ERROR_SIZE] = "";
	const char *ca = getenv("CURL_CA_BUNDLE");
	cJSON *doc = NULL, *val;
	long status = 0;
	CURLcode cc;

	tfa_buf_init(&resp, RESPONSE_MAX);
	tfa_buf_init(&auth, 8192);
	TFA_ENSURE_ARG(token);
	TFA_ENSURE(url && bearer && audience, TFA_EUSAGE, "missing token request parameters");
	TFA_ENSURE(strncmp(url, "https://", 8) == 0, TFA_EUSAGE,
		   "the ID token request URL is not https://");
	TFA_ENSURE(snprintf(full, sizeof(full), "%s%saudience=%s", url, strchr(url, '?') ? "&" : "?",
			    audience) < (int)sizeof(full),
		   TFA_EUSAGE, "the ID token request URL is too long");
	TFA_GUARD(tfa_buf_printf(&auth, "Authorization: bearer %s", bearer));
	h = curl_easy_init();
	TFA_ENSURE(h != NULL, TFA_EINTERNAL, "cannot set up an HTTP client");
	hdr = curl_slist_append(NULL, (const char *)auth.data);
	TFA_ENSURE(hdr != NULL, TFA_EINTERNAL, "out of memory");
	{
		struct curl_slist *more = curl_slist_append(hdr, "Accept: application/json");
		TFA_ENSURE(more != NULL, TFA_EINTERNAL, "out of memory");
		hdr = more;
	}
	if (curl_easy_setopt(h, CURLOPT_URL, full) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    (ca && *ca && curl_easy_setopt(h, CURLOPT_CAINFO, ca) != CURLE_OK))
		TFA_BAIL(TFA_EINTERNAL, "cannot set up an HTTP client");
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		rc = tfa_error_set(TFA_EIO, "ID token request failed: %s",
				   errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	TFA_ENSURE(status == 200, TFA_EBACKEND, "ID token request failed: HTTP %ld", status);
	doc = cJSON_ParseWithLength((const char *)resp.data, resp.len);
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
	slist_wipe_free(hdr);
	curl_easy_cleanup(h);
	tfa_buf_wipe_free(&resp);
	tfa_buf_wipe_free(&auth);
	return rc;
}
