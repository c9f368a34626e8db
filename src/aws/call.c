/*
 * Signed AWS calls: a client holds the endpoint, the credentials (fetched
 * again shortly before they expire) and a connection; each attempt is signed
 * afresh, so that X-Amz-Date is current, and sent by the transport.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws/call.h"
#include "aws/creds.h"
#include "aws/sigv4.h"
#include "aws/transport.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

#define CREDS_REFRESH_MARGIN 300 /* seconds before expiry when credentials are fetched again */

struct tfa_aws_client {
	char service[32];
	char region[64];
	char base_url[300]; /* "https://host[:port]" */
	char host[256];	    /* Host header value */
	tfa_aws_timeouts t;
	tfa_aws_creds creds;
	tfa_net_client *net;
};

static bool has_header(const tfa_aws_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return true;
	return false;
}

/* ---- the client ------------------------------------------------------------------ */

static bool valid_name(const char *s, size_t max)
{
	size_t n = s ? strnlen(s, max + 1) : 0;

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL, as the SDKs read them. */
static const char *env_endpoint(const char *service)
{
	char name[64];
	size_t i;
	const char *v;

	i = (size_t)snprintf(name, sizeof(name), "AWS_ENDPOINT_URL_");
	for (const char *p = service; *p && i + 1 < sizeof(name); p++)
		name[i++] =
		    (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : (*p == '-' ? '_' : *p);
	name[i] = '\0';
	v = getenv(name);
	if (v != NULL && v[0] != '\0')
		return v;
	v = getenv("AWS_ENDPOINT_URL");
	return v != NULL && v[0] != '\0' ? v : NULL;
}

tfa_err tfa_aws_client_new(tfa_aws_client **out, const tfa_aws_client_opts *opts)
{
	tfa_err rc = TFA_OK;
	tfa_aws_client *c = NULL;
	const char *ep;
	bool https;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(opts);
	TFA_ENSURE(valid_name(opts->service, 31), TFA_EUSAGE,
		   "AWS service name is missing or invalid");
	TFA_ENSURE(valid_name(opts->region, 63), TFA_EUSAGE,
		   "AWS region is missing or invalid (set AWS_REGION)");
	c = calloc(1, sizeof(*c));
	TFA_ENSURE(c != NULL, TFA_EINTERNAL, "out of memory");
	snprintf(c->service, sizeof(c->service), "%s", opts->service);
	snprintf(c->region, sizeof(c->region), "%s", opts->region);
	c->t.connect_timeout_ms = opts->connect_timeout_ms;
	c->t.timeout_ms = opts->timeout_ms;
	c->t.max_attempts = opts->max_attempts;
	TFA_GUARD(tfa_aws_timeouts_resolve(&c->t));
	ep = opts->endpoint ? opts->endpoint : env_endpoint(opts->service);
	if (ep != NULL) {
		TFA_GUARD(tfa_aws_endpoint_parse(ep, &https, c->host, sizeof(c->host)));
	} else {
		https = true;
		snprintf(c->host, sizeof(c->host), "%s.%s.amazonaws.com", c->service, c->region);
	}
	snprintf(c->base_url, sizeof(c->base_url), "%s://%s", https ? "https" : "http", c->host);
	TFA_GUARD(tfa_net_client_new(&c->net));
	TFA_GUARD(tfa_aws_creds_resolve(&c->creds, c->region));
	*out = c;
	c = NULL;
out:
	tfa_aws_client_free(c);
	return rc;
}

void tfa_aws_client_free(tfa_aws_client *c)
{
	if (c == NULL)
		return;
	tfa_aws_creds_clear(&c->creds);
	tfa_net_client_free(c->net);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

typedef struct signed_ud {
	tfa_aws_client *c;
	const char *method, *path, *query;
	const tfa_aws_header *headers;
	size_t nheaders;
	const uint8_t *body;
	size_t body_len;
	char payload_hash[65];
} signed_ud;

static tfa_err amz_now(char out[17])
{
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm) == NULL || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
		return tfa_error_set(TFA_EINTERNAL, "the clock cannot be read");
	return TFA_OK;
}

static tfa_err signed_build(tfa_aws_headers *out, void *p)
{
	signed_ud *u = p;
	tfa_aws_client *c = u->c;
	tfa_err rc = TFA_OK;
	tfa_buf auth = TFA_BUF_INIT;
	tfa_aws_header *all = NULL;
	size_t n = u->nheaders;
	char date[17];
	time_t now = time(NULL);

	/* Short-lived credentials are fetched again shortly before they expire. */
	if (c->creds.expiration != 0 &&
	    (int64_t)now + CREDS_REFRESH_MARGIN >= c->creds.expiration) {
		tfa_aws_creds fresh;

		memset(&fresh, 0, sizeof(fresh));
		TFA_GUARD(tfa_aws_creds_resolve(&fresh, c->region));
		tfa_aws_creds_clear(&c->creds);
		c->creds = fresh;
	}
	TFA_GUARD(amz_now(date));
	all = calloc(n + 1, sizeof(*all));
	TFA_ENSURE(all != NULL, TFA_EINTERNAL, "out of memory");
	if (n > 0)
		memcpy(all, u->headers, n * sizeof(*all));
	if (strcmp(c->service, "s3") == 0 && !has_header(u->headers, n, "x-amz-content-sha256"))
		all[n++] = (tfa_aws_header){"x-amz-content-sha256", u->payload_hash};
	{
		tfa_sigv4_request r = {
		    .method = u->method,
		    .host = c->host,
		    .path = u->path,
		    .query = u->query ? u->query : "",
		    .headers = all,
		    .nheaders = n,
		    .body = u->body,
		    .body_len = u->body_len,
		    .payload_hash = u->payload_hash,
		    .s3 = strcmp(c->service, "s3") == 0,
		};
		TFA_GUARD(
		    tfa_sigv4_sign(&auth, &r, c->service, c->region, date, &c->creds, NULL, NULL));
	}
	for (size_t i = 0; i < n; i++)
		TFA_GUARD(tfa_aws_headers_add(out, all[i].name, all[i].value));
	TFA_GUARD(tfa_aws_headers_add(out, "Host", c->host));
	TFA_GUARD(tfa_aws_headers_add(out, "X-Amz-Date", date));
	if (c->creds.session_token != NULL)
		TFA_GUARD(tfa_aws_headers_add(out, "X-Amz-Security-Token", c->creds.session_token));
	TFA_GUARD(tfa_aws_headers_add(out, "Authorization", (const char *)auth.data));
out:
	free(all);
	tfa_buf_free(&auth);
	return rc;
}

tfa_err tfa_aws_call(tfa_aws_response *resp, tfa_aws_client *c, const char *what,
		     const char *method, const char *path, const char *query,
		     const tfa_aws_header *headers, size_t nheaders, const uint8_t *body,
		     size_t body_len)
{
	tfa_err rc = TFA_OK;
	tfa_buf url = TFA_BUF_INIT;
	signed_ud u;
	uint8_t d[32];

	TFA_ENSURE_ARG(resp);
	memset(resp, 0, sizeof(*resp));
	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(what);
	TFA_ENSURE_ARG(method);
	TFA_ENSURE_ARG(path);
	TFA_ENSURE(path[0] == '/', TFA_EUSAGE, "%s: the request path must start with '/'", what);
	TFA_ENSURE(nheaders == 0 || headers != NULL, TFA_EUSAGE, "%s: missing headers", what);
	TFA_ENSURE(body_len == 0 || body != NULL, TFA_EUSAGE, "%s: missing body", what);
	memset(&u, 0, sizeof(u));
	u.c = c;
	u.method = method;
	u.path = path;
	u.query = query;
	u.headers = headers;
	u.nheaders = nheaders;
	u.body = body;
	u.body_len = body_len;
	tfa_sha256(d, body, body_len);
	tfa_hex_encode(u.payload_hash, d, 32);
	TFA_GUARD(tfa_buf_printf(&url, "%s%s%s%s", c->base_url, path, query && query[0] ? "?" : "",
				 query ? query : ""));
	rc = tfa_aws_send(resp, c->net, &c->t, what, method, (const char *)url.data, body, body_len,
			  signed_build, &u);
out:
	tfa_buf_free(&url);
	return rc;
}

tfa_err tfa_aws_json_call(tfa_aws_response *resp, tfa_aws_client *c, const char *target,
			  const char *json_version, const char *json, size_t json_len)
{
	tfa_err rc = TFA_OK;
	char ctype[40], what[96];
	const char *op;
	tfa_aws_header h[2];

	TFA_ENSURE_ARG(resp);
	memset(resp, 0, sizeof(*resp));
	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(target);
	TFA_ENSURE_ARG(json);
	TFA_ENSURE(json_version != NULL &&
		       (strcmp(json_version, "1.0") == 0 || strcmp(json_version, "1.1") == 0),
		   TFA_EUSAGE, "AWS JSON protocol version must be 1.0 or 1.1");
	op = strrchr(target, '.');
	snprintf(what, sizeof(what), "%s %s", c->service, op ? op + 1 : target);
	snprintf(ctype, sizeof(ctype), "application/x-amz-json-%s", json_version);
	h[0] = (tfa_aws_header){"Content-Type", ctype};
	h[1] = (tfa_aws_header){"X-Amz-Target", target};
	rc = tfa_aws_call(resp, c, what, "POST", "/", "", h, 2, (const uint8_t *)json, json_len);
	if (rc == TFA_EBACKEND &&
	    strcmp(resp->error_code, "ConditionalCheckFailedException") == 0) {
		tfa_error e = *tfa_error_last();

		rc = tfa_error_set(TFA_ECONFLICT, "%s", e.message);
		tfa_error_detail("%s", e.detail);
	}
out:
	return rc;
}
