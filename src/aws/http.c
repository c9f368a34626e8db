/*
 * HTTPS calls to AWS through libcurl: SigV4 signing, retries with capped
 * exponential backoff and full jitter, a cap on the response size, and the
 * AWS error code and request id pulled out of the answer.
 *
 * Nothing here logs: neither headers (they carry the Authorization value and
 * the session token) nor bodies.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "verify/crypto.h"
#include "aws/http_int.h"
#include "tfattest/sys/guard.h"

#define RETRY_CAP_MS 5000L
#define CREDS_REFRESH_MARGIN 300 /* seconds before expiry when credentials are fetched again */

struct tfa_aws_client {
	char service[32];
	char region[64];
	char base_url[300]; /* "https://host[:port]" */
	char host[256];     /* Host header value */
	tfa_aws_timeouts t;
	tfa_aws_creds creds;
	CURL *curl;
};

/* ---- global init ---------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static tfa_err ensure_curl(void)
{
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return tfa_error_set(TFA_EINTERNAL, "libcurl could not be initialised: %s",
				     curl_easy_strerror(curl_init_rc));
	return TFA_OK;
}

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

static void response_reset(tfa_aws_response *r, bool wipe)
{
	if (wipe)
		tfa_buf_wipe_free(&r->body);
	else
		tfa_buf_free(&r->body);
	memset(r, 0, sizeof(*r));
	tfa_buf_init(&r->body, TFA_AWS_BODY_MAX);
}

typedef struct xfer {
	tfa_aws_response *resp;
	bool too_large;
} xfer;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	xfer *x = ud;
	size_t n = size * nmemb;

	if (tfa_buf_append(&x->resp->body, ptr, n) != TFA_OK) {
		x->too_large = true;
		return 0;
	}
	return n;
}

/* Copies a header value, trimmed, with controls dropped, into a fixed field. */
static void copy_field(char *dst, size_t dsz, const char *v, size_t n)
{
	size_t j = 0;

	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' ||
			 v[n - 1] == '\n'))
		n--;
	for (size_t i = 0; i < n && j + 1 < dsz; i++)
		if ((unsigned char)v[i] >= 0x20 && v[i] != 0x7f)
			dst[j++] = v[i];
	dst[j] = '\0';
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	xfer *x = ud;
	size_t n = size * nmemb;
	const char *colon = memchr(ptr, ':', n);
	size_t nl;

	if (colon == NULL)
		return n;
	nl = (size_t)(colon - ptr);
	colon++;
#define HDR_IS(s) (nl == sizeof(s) - 1 && strncasecmp(ptr, s, nl) == 0)
	if (HDR_IS("x-amzn-RequestId") || HDR_IS("x-amz-request-id"))
		copy_field(x->resp->request_id, sizeof(x->resp->request_id), colon,
			   n - (size_t)(colon - ptr));
	else if (HDR_IS("ETag"))
		copy_field(x->resp->etag, sizeof(x->resp->etag), colon, n - (size_t)(colon - ptr));
	else if (HDR_IS("x-amzn-ErrorType")) {
		/* "AccessDeniedException:http://internal.amazon.com/..." */
		char v[128];
		char *c;

		copy_field(v, sizeof(v), colon, n - (size_t)(colon - ptr));
		if ((c = strchr(v, ':')) != NULL)
			*c = '\0';
		if (x->resp->error_code[0] == '\0')
			snprintf(x->resp->error_code, sizeof(x->resp->error_code), "%s", v);
	}
#undef HDR_IS
	return n;
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
		/* JSON protocols: {"__type":"com.amazon...#AccessDeniedException","message":"..."} */
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
	"ExpiredTokenException", "ExpiredToken", "RequestExpired", "AccessDeniedException",
	"AccessDenied", "UnrecognizedClientException", "InvalidClientTokenId",
	"SignatureDoesNotMatch", "IncompleteSignature", "InvalidSignatureException", NULL,
};

static const char *const throttling[] = {
	"ThrottlingException", "Throttling", "ThrottledException", "RequestThrottledException",
	"TooManyRequestsException", "ProvisionedThroughputExceededException",
	"RequestLimitExceeded", "SlowDown", "BandwidthLimitExceeded", "RequestThrottled",
	"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
	"TransactionInProgressException", "IDPCommunicationError", "InternalError",
	"InternalFailure", "ServiceUnavailable", "KMSInternalException",
	"DependencyTimeoutException", NULL,
};

static bool retryable_status(const tfa_aws_response *r)
{
	if (code_is(r->error_code, never_retry))
		return false;
	return r->status == 429 || r->status >= 500 || code_is(r->error_code, throttling);
}

static bool retryable_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
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

/* ---- one exchange ----------------------------------------------------------- */

typedef struct exchange {
	const char *method;
	const char *url;
	struct curl_slist *headers;
	const uint8_t *body;
	size_t body_len;
} exchange;

static CURLcode perform(CURL *curl, const tfa_aws_timeouts *t, const exchange *ex,
			tfa_aws_response *resp, bool *too_large)
{
	xfer x = { resp, false };
	const char *ca = getenv("AWS_CA_BUNDLE");
	CURLcode cc;

	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, ex->url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca != NULL && ca[0] != '\0')
		curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, t->connect_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, t->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, ex->headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "tfattest");
	if (strcmp(ex->method, "GET") == 0) {
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(ex->method, "HEAD") == 0) {
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, ex->method);
		if (ex->body_len > 0 || strcmp(ex->method, "POST") == 0 ||
		    strcmp(ex->method, "PUT") == 0) {
			curl_easy_setopt(curl, CURLOPT_POSTFIELDS, ex->body ? (const char *)ex->body : "");
			curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)ex->body_len);
		}
	}
	cc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
	*too_large = x.too_large;
	return cc;
}

/* Appends "Name: value" (or "Name;" for an empty value, curl's form) to the list. */
static tfa_err slist_add(struct curl_slist **l, const char *name, const char *value)
{
	tfa_err rc = TFA_OK;
	tfa_buf b = TFA_BUF_INIT;
	struct curl_slist *n;

	if (value[0] == '\0')
		TFA_GUARD(tfa_buf_printf(&b, "%s;", name));
	else
		TFA_GUARD(tfa_buf_printf(&b, "%s: %s", name, value));
	n = curl_slist_append(*l, (const char *)b.data);
	TFA_ENSURE(n != NULL, TFA_EINTERNAL, "out of memory");
	*l = n;
out:
	/* The value may be a token. */
	tfa_buf_wipe_free(&b);
	return rc;
}

static tfa_err slist_raw(struct curl_slist **l, const char *line)
{
	struct curl_slist *n = curl_slist_append(*l, line);

	if (n == NULL)
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	*l = n;
	return TFA_OK;
}

static void slist_wipe_free(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p != NULL; p = p->next)
		OPENSSL_cleanse(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static bool has_header(const tfa_aws_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return true;
	return false;
}

static tfa_err caller_headers(struct curl_slist **l, const tfa_aws_header *h, size_t n)
{
	tfa_err rc = TFA_OK;

	for (size_t i = 0; i < n; i++)
		TFA_GUARD(slist_add(l, h[i].name, h[i].value));
	/*
	 * No "Expect: 100-continue" round trip, and no default form content
	 * type: "Name:" with nothing after the colon makes curl drop its own.
	 */
	TFA_GUARD(slist_raw(l, "Expect:"));
	if (!has_header(h, n, "Content-Type"))
		TFA_GUARD(slist_raw(l, "Content-Type:"));
out:
	return rc;
}

/*
 * Builds the one-line error for a failed call. `attempts` > 1 notes the retries.
 */
static tfa_err fail(const tfa_aws_response *r, const char *what, CURLcode cc, bool too_large,
		    unsigned attempts, bool retried_out)
{
	char tail[64] = "";
	tfa_err code;

	if (retried_out && attempts > 1)
		snprintf(tail, sizeof(tail), "; gave up after %u attempts", attempts);
	if (too_large)
		return tfa_error_set(TFA_EBACKEND, "%s: the response is larger than %zu bytes", what,
				     (size_t)TFA_AWS_BODY_MAX);
	if (cc != CURLE_OK) {
		code = TFA_EIO;
		tfa_error_set(code, "%s: %s (curl %d%s)", what,
			      cc == CURLE_OPERATION_TIMEDOUT ? "timed out" : curl_easy_strerror(cc),
			      (int)cc, tail);
		return code;
	}
	if (r->status == 404 || strcmp(r->error_code, "NoSuchKey") == 0 ||
	    strcmp(r->error_code, "ResourceNotFoundException") == 0 ||
	    strcmp(r->error_code, "NotFoundException") == 0)
		code = TFA_ENOTFOUND;
	else
		code = TFA_EBACKEND;
	tfa_error_set(code, "%s: %s%s%s (HTTP %ld, request id %s%s)", what, r->error_code,
		      r->error_message[0] ? ": " : "", r->error_message, r->status,
		      r->request_id[0] ? r->request_id : "none", tail);
	/* The status and AWS error code are in the message already. */
	return code;
}

/*
 * The retry loop shared by signed and unsigned calls. `sign` (may be NULL)
 * rebuilds the headers before each attempt, so that X-Amz-Date is fresh.
 */
typedef tfa_err (*build_fn)(struct curl_slist **out, void *ud);

static tfa_err run(tfa_aws_response *resp, CURL *curl, const tfa_aws_timeouts *t,
		   const char *what, const char *method, const char *url, const uint8_t *body,
		   size_t body_len, build_fn build, void *ud, bool wipe_body)
{
	tfa_err rc = TFA_OK;
	struct curl_slist *hl = NULL;
	unsigned attempt;
	CURLcode cc = CURLE_OK;
	bool too_large = false, retry = false;

	for (attempt = 0; attempt < t->max_attempts; attempt++) {
		if (attempt > 0)
			backoff(attempt - 1);
		response_reset(resp, wipe_body);
		slist_wipe_free(hl);
		hl = NULL;
		TFA_GUARD(build(&hl, ud));
		{
			exchange ex = { method, url, hl, body, body_len };
			cc = perform(curl, t, &ex, resp, &too_large);
		}
		if (too_large)
			break;
		if (cc != CURLE_OK) {
			resp->status = 0;
			retry = retryable_curl(cc);
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
	rc = fail(resp, what, cc, too_large, attempt + 1, retry);
out:
	slist_wipe_free(hl);
	return rc;
}

/* ---- unsigned calls ------------------------------------------------------------ */

typedef struct plain_ud {
	const tfa_aws_header *headers;
	size_t n;
} plain_ud;

static tfa_err plain_build(struct curl_slist **out, void *ud)
{
	plain_ud *p = ud;

	return caller_headers(out, p->headers, p->n);
}

tfa_err tfa_aws_http_plain(tfa_aws_response *resp, const tfa_aws_timeouts *t, const char *what,
			   const char *method, const char *url, const tfa_aws_header *headers,
			   size_t nheaders, const uint8_t *body, size_t body_len)
{
	tfa_err rc = TFA_OK;
	CURL *curl = NULL;
	plain_ud ud = { headers, nheaders };

	TFA_ENSURE_ARG(resp);
	TFA_ENSURE_ARG(t);
	TFA_ENSURE_ARG(url);
	memset(resp, 0, sizeof(*resp));
	TFA_GUARD(ensure_curl());
	curl = curl_easy_init();
	TFA_ENSURE(curl != NULL, TFA_EINTERNAL, "libcurl handle could not be created");
	rc = run(resp, curl, t, what, method, url, body, body_len, plain_build, &ud, true);
out:
	if (curl != NULL)
		curl_easy_cleanup(curl);
	return rc;
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
		name[i++] = (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : (*p == '-' ? '_' : *p);
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
	TFA_ENSURE(valid_name(opts->service, 31), TFA_EUSAGE, "AWS service name is missing or invalid");
	TFA_ENSURE(valid_name(opts->region, 63), TFA_EUSAGE,
		   "AWS region is missing or invalid (set AWS_REGION)");
	TFA_GUARD(ensure_curl());
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
	c->curl = curl_easy_init();
	TFA_ENSURE(c->curl != NULL, TFA_EINTERNAL, "libcurl handle could not be created");
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
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
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

static tfa_err signed_build(struct curl_slist **out, void *p)
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
	if (c->creds.expiration != 0 && (int64_t)now + CREDS_REFRESH_MARGIN >= c->creds.expiration) {
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
		all[n++] = (tfa_aws_header){ "x-amz-content-sha256", u->payload_hash };
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
		TFA_GUARD(tfa_sigv4_sign(&auth, &r, c->service, c->region, date, &c->creds, NULL,
					 NULL));
	}
	TFA_GUARD(caller_headers(out, all, n));
	TFA_GUARD(slist_add(out, "Host", c->host));
	TFA_GUARD(slist_add(out, "X-Amz-Date", date));
	if (c->creds.session_token != NULL)
		TFA_GUARD(slist_add(out, "X-Amz-Security-Token", c->creds.session_token));
	TFA_GUARD(slist_add(out, "Authorization", (const char *)auth.data));
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
	TFA_GUARD(tfa_buf_printf(&url, "%s%s%s%s", c->base_url, path,
				 query && query[0] ? "?" : "", query ? query : ""));
	rc = run(resp, c->curl, &c->t, what, method, (const char *)url.data, body, body_len,
		 signed_build, &u, true); /* error bodies can echo the session token */
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
	h[0] = (tfa_aws_header){ "Content-Type", ctype };
	h[1] = (tfa_aws_header){ "X-Amz-Target", target };
	rc = tfa_aws_call(resp, c, what, "POST", "/", "", h, 2, (const uint8_t *)json, json_len);
	if (rc == TFA_EBACKEND && strcmp(resp->error_code, "ConditionalCheckFailedException") == 0) {
		tfa_error e = *tfa_error_last();

		rc = tfa_error_set(TFA_ECONFLICT, "%s", e.message);
		tfa_error_detail("%s", e.detail);
	}
out:
	return rc;
}
