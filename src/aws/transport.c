/*
 * AWS exchanges over the one HTTP client: retries with capped exponential
 * backoff and full jitter, a cap on the response size, and the AWS error code
 * and request id pulled out of the answer.
 *
 * Nothing here logs: neither headers (they carry the Authorization value and
 * the session token) nor bodies.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws/transport.h"
#include "tfattest/sys/guard.h"

#define RETRY_CAP_MS 5000L

/* ---- options -------------------------------------------------------------- */

static tfa_err env_long(long *out, const char *name, long min, long max)
{
	const char *v = getenv(name);
	char *end = NULL;
	long x;

	if (v == NULL || v[0] == '\0')
		return TFA_OK;
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || x < min || x > max)
		return tfa_error_set(TFA_EUSAGE, "%s must be an integer from %ld to %ld", name, min,
				     max);
	*out = x;
	return TFA_OK;
}

tfa_err tfa_aws_timeouts_resolve(tfa_aws_timeouts *t)
{
	tfa_err rc = TFA_OK;
	long v;

	TFA_ENSURE_ARG(t);
	if (t->connect_timeout_ms <= 0) {
		v = TFA_AWS_DEFAULT_CONNECT_TIMEOUT_MS;
		TFA_GUARD(env_long(&v, TFA_AWS_ENV_CONNECT_TIMEOUT, 1, 600000));
		t->connect_timeout_ms = v;
	}
	if (t->timeout_ms <= 0) {
		v = TFA_AWS_DEFAULT_TIMEOUT_MS;
		TFA_GUARD(env_long(&v, TFA_AWS_ENV_TIMEOUT, 1, 3600000));
		t->timeout_ms = v;
	}
	/* Read when backing off; checked here so that a bad value is a clear error. */
	v = 100;
	TFA_GUARD(env_long(&v, TFA_AWS_ENV_RETRY_BASE, 0, RETRY_CAP_MS));
	if (t->max_attempts == 0) {
		v = TFA_AWS_DEFAULT_MAX_ATTEMPTS;
		TFA_GUARD(env_long(&v, TFA_AWS_ENV_MAX_ATTEMPTS, 1, 20));
		t->max_attempts = (unsigned)v;
	}
out:
	return rc;
}

tfa_err tfa_aws_endpoint_parse(const char *endpoint, bool *https, char *host, size_t host_size)
{
	tfa_err rc = TFA_OK;
	const char *h, *end, *colon;
	size_t hl;

	TFA_ENSURE_ARG(endpoint);
	if (strncmp(endpoint, "https://", 8) == 0) {
		*https = true;
		h = endpoint + 8;
	} else if (strncmp(endpoint, "http://", 7) == 0) {
		*https = false;
		h = endpoint + 7;
	} else {
		TFA_BAIL(TFA_EUSAGE, "AWS endpoint must start with https:// or http://");
	}
	end = h + strlen(h);
	if (end > h && end[-1] == '/')
		end--;
	hl = (size_t)(end - h);
	TFA_ENSURE(hl > 0 && hl < host_size && hl <= 255, TFA_EUSAGE,
		   "AWS endpoint has an empty or overlong host");
	for (const char *p = h; p < end; p++)
		TFA_ENSURE((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			       (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == ':' ||
			       *p == '[' || *p == ']',
			   TFA_EUSAGE, "AWS endpoint must be scheme://host[:port] with no path");
	/* A default port is left out of Host, as curl and botocore leave it out. */
	colon = NULL;
	for (const char *p = h; p < end; p++)
		if (*p == ':')
			colon = p;
	if (colon != NULL && h[0] == '[' && memchr(colon, ']', (size_t)(end - colon)) != NULL)
		colon = NULL;
	if (colon != NULL) {
		const char *port = colon + 1;
		size_t pl = (size_t)(end - port);

		TFA_ENSURE(pl > 0 && pl <= 5, TFA_EUSAGE, "AWS endpoint has an invalid port");
		for (const char *p = port; p < end; p++)
			TFA_ENSURE(*p >= '0' && *p <= '9', TFA_EUSAGE,
				   "AWS endpoint has an invalid port");
		TFA_ENSURE(atoi(port) > 0 && atoi(port) <= 65535, TFA_EUSAGE,
			   "AWS endpoint has an invalid port");
		if ((*https && pl == 3 && memcmp(port, "443", 3) == 0) ||
		    (!*https && pl == 2 && memcmp(port, "80", 2) == 0))
			hl = (size_t)(colon - h);
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
out:
	return rc;
}

/* ---- response --------------------------------------------------------------- */

void tfa_aws_response_free(tfa_aws_response *r)
{
	if (r == NULL)
		return;
	tfa_buf_free(&r->body);
}

void tfa_aws_response_free_wipe(tfa_aws_response *r)
{
	if (r == NULL)
		return;
	tfa_buf_wipe_free(&r->body);
}

/* Copies a header value, trimmed, with controls dropped, into a fixed field. */
static void copy_field(char *dst, size_t dsz, const char *v, size_t n)
{
	size_t j = 0;

	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 &&
	       (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	for (size_t i = 0; i < n && j + 1 < dsz; i++)
		if ((unsigned char)v[i] >= 0x20 && v[i] != 0x7f)
			dst[j++] = v[i];
	dst[j] = '\0';
}

/* Keeps the headers AWS answers carry: request id, ETag, error type. */
static void on_header(void *ud, const char *name, size_t nl, const char *value, size_t vl)
{
	tfa_aws_response *r = ud;

#define HDR_IS(s) (nl == sizeof(s) - 1 && strncasecmp(name, s, nl) == 0)
	if (HDR_IS("x-amzn-RequestId") || HDR_IS("x-amz-request-id"))
		copy_field(r->request_id, sizeof(r->request_id), value, vl);
	else if (HDR_IS("ETag"))
		copy_field(r->etag, sizeof(r->etag), value, vl);
	else if (HDR_IS("x-amzn-ErrorType")) {
		/* "AccessDeniedException:http://internal.amazon.com/..." */
		char v[128];
		char *c;

		copy_field(v, sizeof(v), value, vl);
		if ((c = strchr(v, ':')) != NULL)
			*c = '\0';
		if (r->error_code[0] == '\0')
			snprintf(r->error_code, sizeof(r->error_code), "%s", v);
	}
#undef HDR_IS
}

const char *tfa_aws_memfind(const char *hay, size_t len, const char *needle, size_t nlen)
{
	if (hay == NULL || nlen == 0 || nlen > len)
		return NULL;
	for (size_t i = 0; i + nlen <= len; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, nlen) == 0)
			return hay + i;
	return NULL;
}

/* <Tag>value</Tag>, first occurrence, for S3 and STS error documents. */
static void xml_field(char *dst, size_t dsz, const char *doc, size_t len, const char *tag)
{
	char open[64], close[64];
	const char *s, *e;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	s = tfa_aws_memfind(doc, len, open, strlen(open));
	if (s == NULL)
		return;
	s += strlen(open);
	e = tfa_aws_memfind(s, len - (size_t)(s - doc), close, strlen(close));
	if (e == NULL)
		return;
	copy_field(dst, dsz, s, (size_t)(e - s));
}

/* Reads the AWS error code, message and request id from an error body. */
static void parse_error(tfa_aws_response *r)
{
	const char *doc = (const char *)r->body.data;
	size_t len = r->body.len;
	char code[128] = "";

	if (doc == NULL || len == 0)
		goto fallback;
	if (doc[0] == '{') {
		/* JSON protocols: {"__type":"com.amazon...#AccessDeniedException","message":"..."}
		 */
		cJSON *j = cJSON_ParseWithLength(doc, len);
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "__type");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");

		if (!cJSON_IsString(m))
			m = cJSON_GetObjectItemCaseSensitive(j, "Message");
		if (cJSON_IsString(t)) {
			const char *hash = strrchr(t->valuestring, '#');
			const char *v = hash ? hash + 1 : t->valuestring;
			copy_field(code, sizeof(code), v, strlen(v));
		}
		if (cJSON_IsString(m))
			copy_field(r->error_message, sizeof(r->error_message), m->valuestring,
				   strlen(m->valuestring));
		cJSON_Delete(j);
	} else if (tfa_aws_memfind(doc, len, "<Code>", 6) != NULL) {
		xml_field(code, sizeof(code), doc, len, "Code");
		xml_field(r->error_message, sizeof(r->error_message), doc, len, "Message");
		if (r->request_id[0] == '\0')
			xml_field(r->request_id, sizeof(r->request_id), doc, len, "RequestId");
	}
	if (code[0] != '\0')
		memcpy(r->error_code, code, sizeof(code));
fallback:
	if (r->error_code[0] == '\0') {
		/* A HEAD or an empty answer: name the status. */
		const char *c = r->status == 404   ? "NotFound"
				: r->status == 403 ? "Forbidden"
				: r->status == 429 ? "TooManyRequests"
				: r->status >= 500 ? "ServerError"
						   : "HTTPError";
		snprintf(r->error_code, sizeof(r->error_code), "%s", c);
	}
}

static bool code_is(const char *code, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(code, *list) == 0)
			return true;
	return false;
}

static const char *const never_retry[] = {
    "ExpiredTokenException",
    "ExpiredToken",
    "RequestExpired",
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidSignatureException",
    NULL,
};

static const char *const throttling[] = {
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "BandwidthLimitExceeded",
    "RequestThrottled",
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "TransactionInProgressException",
    "IDPCommunicationError",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "KMSInternalException",
    "DependencyTimeoutException",
    NULL,
};

static bool retryable_status(const tfa_aws_response *r)
{
	if (code_is(r->error_code, never_retry))
		return false;
	return r->status == 429 || r->status >= 500 || code_is(r->error_code, throttling);
}

/* Full jitter: a uniform pause in [0, min(cap, base * 2^attempt)). */
static void backoff(unsigned attempt)
{
	long base = 100, ceil_ms;
	uint32_t r = 0;
	struct timespec ts;

	if (env_long(&base, TFA_AWS_ENV_RETRY_BASE, 0, RETRY_CAP_MS) != TFA_OK) {
		tfa_error_clear();
		base = 100;
	}
	ceil_ms = base;
	for (unsigned i = 0; i < attempt && ceil_ms < RETRY_CAP_MS; i++)
		ceil_ms *= 2;
	if (ceil_ms > RETRY_CAP_MS)
		ceil_ms = RETRY_CAP_MS;
	if (ceil_ms <= 0)
		return;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)rand();
	ceil_ms = (long)(r % (uint32_t)ceil_ms);
	ts.tv_sec = ceil_ms / 1000;
	ts.tv_nsec = (ceil_ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- headers of one attempt ------------------------------------------------------ */

tfa_err tfa_aws_headers_add(tfa_aws_headers *hs, const char *name, const char *value)
{
	char *v;

	if (hs->n >= TFA_AWS_HEADERS_MAX)
		return tfa_error_set(TFA_EUSAGE, "too many request headers");
	v = strdup(value);
	if (v == NULL)
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	hs->owned[hs->n] = v;
	hs->h[hs->n] = (tfa_net_header){name, v};
	hs->n++;
	return TFA_OK;
}

void tfa_aws_headers_clear(tfa_aws_headers *hs)
{
	for (size_t i = 0; i < hs->n; i++) {
		if (hs->owned[i] != NULL) {
			OPENSSL_cleanse(hs->owned[i], strlen(hs->owned[i]));
			free(hs->owned[i]);
		}
		hs->owned[i] = NULL;
	}
	hs->n = 0;
}

/* ---- the exchange ------------------------------------------------------------------- */

/*
 * Builds the one-line error for a failed call. `attempts` > 1 notes the retries.
 */
static tfa_err fail(const tfa_aws_response *r, const tfa_net_response *nr, const char *what,
		    bool too_large, unsigned attempts, bool retried_out)
{
	char tail[64] = "";
	tfa_err code;

	if (retried_out && attempts > 1)
		snprintf(tail, sizeof(tail), "gave up after %u attempts", attempts);
	if (too_large)
		return tfa_error_set(TFA_EBACKEND, "%s: the response is larger than %zu bytes",
				     what, (size_t)TFA_AWS_BODY_MAX);
	if (nr->curl_code != 0)
		return tfa_net_fail(nr, what, tail[0] ? tail : NULL);
	if (r->status == 404 || strcmp(r->error_code, "NoSuchKey") == 0 ||
	    strcmp(r->error_code, "ResourceNotFoundException") == 0 ||
	    strcmp(r->error_code, "NotFoundException") == 0)
		code = TFA_ENOTFOUND;
	else
		code = TFA_EBACKEND;
	tfa_error_set(code, "%s: %s%s%s (HTTP %ld, request id %s%s%s)", what, r->error_code,
		      r->error_message[0] ? ": " : "", r->error_message, r->status,
		      r->request_id[0] ? r->request_id : "none", tail[0] ? "; " : "", tail);
	/* The status and AWS error code are in the message already. */
	return code;
}

tfa_err tfa_aws_send(tfa_aws_response *resp, tfa_net_client *net, const tfa_aws_timeouts *t,
		     const char *what, const char *method, const char *url, const uint8_t *body,
		     size_t body_len, tfa_aws_headers_fn build, void *ud)
{
	tfa_err rc = TFA_OK;
	tfa_aws_headers hs;
	tfa_net_response nr;
	unsigned attempt;
	bool too_large = false, retry = false;

	memset(&hs, 0, sizeof(hs));
	memset(&nr, 0, sizeof(nr));
	TFA_ENSURE_ARG(resp);
	memset(resp, 0, sizeof(*resp));
	TFA_ENSURE_ARG(t);
	TFA_ENSURE_ARG(what);
	TFA_ENSURE_ARG(method);
	TFA_ENSURE_ARG(url);
	TFA_ENSURE_ARG(build);
	for (attempt = 0; attempt < t->max_attempts; attempt++) {
		tfa_err nrc;

		if (attempt > 0)
			backoff(attempt - 1);
		/* Error bodies can echo the session token: wiped. */
		tfa_buf_wipe_free(&resp->body);
		memset(resp, 0, sizeof(*resp));
		tfa_net_response_free(&nr);
		tfa_aws_headers_clear(&hs);
		TFA_GUARD(build(&hs, ud));
		{
			tfa_net_request req = {
			    .what = what,
			    .method = method,
			    .url = url,
			    .headers = hs.h,
			    .nheaders = hs.n,
			    .body = body,
			    .body_len = body_len,
			    .connect_timeout_ms = t->connect_timeout_ms,
			    .timeout_ms = t->timeout_ms,
			    .max_response = TFA_AWS_BODY_MAX,
			    .ca_file = getenv("AWS_CA_BUNDLE"),
			    .on_header = on_header,
			    .header_ud = resp,
			};
			nrc = tfa_net_send(&nr, net, &req);
		}
		/* The body moves to the AWS response, which the caller releases. */
		resp->status = nr.status;
		resp->body = nr.body;
		tfa_buf_init(&nr.body, TFA_AWS_BODY_MAX);
		if (nr.too_large) {
			too_large = true;
			break;
		}
		if (nrc != TFA_OK && nr.curl_code == 0) {
			/* Not an exchange that failed: a bad argument or no libcurl. */
			rc = nrc;
			goto out;
		}
		if (nr.curl_code != 0) {
			resp->status = 0;
			retry = tfa_net_transient(&nr);
		} else if (resp->status >= 200 && resp->status < 300) {
			rc = TFA_OK;
			goto out;
		} else {
			parse_error(resp);
			retry = retryable_status(resp);
		}
		if (!retry)
			break;
	}
	if (attempt == t->max_attempts)
		attempt--;
	rc = fail(resp, &nr, what, too_large, attempt + 1, retry);
out:
	tfa_aws_headers_clear(&hs);
	tfa_net_response_free(&nr);
	return rc;
}

/* ---- unsigned calls ------------------------------------------------------------ */

typedef struct plain_ud {
	const tfa_net_header *headers;
	size_t n;
} plain_ud;

static tfa_err plain_build(tfa_aws_headers *out, void *ud)
{
	tfa_err rc = TFA_OK;
	plain_ud *p = ud;

	for (size_t i = 0; i < p->n; i++)
		TFA_GUARD(tfa_aws_headers_add(out, p->headers[i].name, p->headers[i].value));
out:
	return rc;
}

tfa_err tfa_aws_http_plain(tfa_aws_response *resp, const tfa_aws_timeouts *t, const char *what,
			   const char *method, const char *url, const tfa_net_header *headers,
			   size_t nheaders, const uint8_t *body, size_t body_len)
{
	tfa_err rc = TFA_OK;
	plain_ud ud = {headers, nheaders};
	tfa_net_client *net = NULL;

	TFA_ENSURE_ARG(resp);
	memset(resp, 0, sizeof(*resp));
	TFA_ENSURE(nheaders == 0 || headers != NULL, TFA_EUSAGE, "%s: missing headers",
		   what ? what : "AWS request");
	/* One connection for the attempts of this call. */
	TFA_GUARD(tfa_net_client_new(&net));
	rc = tfa_aws_send(resp, net, t, what, method, url, body, body_len, plain_build, &ud);
out:
	tfa_net_client_free(net);
	return rc;
}
