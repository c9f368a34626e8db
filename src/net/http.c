/*
 * HTTP(S) over libcurl: one exchange per call, bounded in time and size.
 *
 * Header lines are built in buffers that are wiped, and the curl header list
 * is wiped before it is freed: they carry bearer tokens, AWS signatures and
 * session tokens. libcurl's verbose mode is never turned on.
 */
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/http.h"
#include "tfattest/sys/guard.h"

struct tfa_net_client {
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

tfa_err tfa_net_client_new(tfa_net_client **out)
{
	tfa_err rc = TFA_OK;
	tfa_net_client *c = NULL;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_GUARD(ensure_curl());
	c = calloc(1, sizeof(*c));
	TFA_ENSURE(c != NULL, TFA_EINTERNAL, "out of memory");
	c->curl = curl_easy_init();
	TFA_ENSURE(c->curl != NULL, TFA_EINTERNAL, "libcurl handle could not be created");
	*out = c;
	c = NULL;
out:
	tfa_net_client_free(c);
	return rc;
}

void tfa_net_client_free(tfa_net_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	free(c);
}

/* ---- helpers ---------------------------------------------------------------- */

void tfa_net_url_host(char *out, size_t size, const char *url)
{
	const char *s = url ? strstr(url, "://") : NULL;
	const char *e, *at;
	size_t n;

	if (size == 0)
		return;
	out[0] = '\0';
	if (s == NULL)
		return;
	s += 3;
	e = s + strcspn(s, "/?#");
	/* User info ("user:password@") never goes into a message. */
	for (at = e; at > s && at[-1] != '@'; at--)
		;
	if (at > s)
		s = at;
	n = (size_t)(e - s);
	if (n >= size)
		n = size - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

void tfa_net_response_free(tfa_net_response *r)
{
	if (r == NULL)
		return;
	tfa_buf_wipe_free(&r->body);
}

bool tfa_net_transient(const tfa_net_response *r)
{
	if (r == NULL)
		return false;
	switch ((CURLcode)r->curl_code) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM: return true;
	default: return false;
	}
}

tfa_err tfa_net_fail(const tfa_net_response *r, const char *what, const char *note)
{
	CURLcode cc = (CURLcode)r->curl_code;

	tfa_error_set(TFA_EIO, "%s: %s (host %s, curl %d%s%s)", what ? what : "HTTP request",
		      cc == CURLE_OPERATION_TIMEDOUT ? "timed out" : curl_easy_strerror(cc),
		      r->host[0] ? r->host : "none", (int)cc, note ? "; " : "", note ? note : "");
	tfa_error_detail("curl: %s", r->curl_error[0] ? r->curl_error : curl_easy_strerror(cc));
	return TFA_EIO;
}

/* ---- callbacks ----------------------------------------------------------------- */

typedef struct xfer {
	tfa_net_response *resp;
	const tfa_net_request *req;
} xfer;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	xfer *x = ud;
	size_t n = size * nmemb;

	if (tfa_buf_append(&x->resp->body, ptr, n) != TFA_OK) {
		x->resp->too_large = true;
		return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
	}
	return n;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	xfer *x = ud;
	size_t n = size * nmemb, nl;
	const char *colon, *v;
	size_t vl;

	if (x->req->on_header == NULL || (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0))
		return n;
	colon = memchr(ptr, ':', n);
	if (colon == NULL || colon == ptr)
		return n;
	nl = (size_t)(colon - ptr);
	v = colon + 1;
	vl = n - nl - 1;
	while (vl > 0 && blank(*v)) {
		v++;
		vl--;
	}
	while (vl > 0 && blank(v[vl - 1]))
		vl--;
	x->req->on_header(x->req->header_ud, ptr, nl, v, vl);
	return n;
}

/* ---- the request header list ----------------------------------------------------- */

/* Appends one line; the temporary copy is wiped, as the value may be a token. */
static tfa_err slist_add(struct curl_slist **l, const char *name, const char *value)
{
	tfa_err rc = TFA_OK;
	tfa_buf b = TFA_BUF_INIT;
	struct curl_slist *n;

	if (value == NULL)
		TFA_GUARD(tfa_buf_printf(&b, "%s:", name));
	else if (value[0] == '\0')
		TFA_GUARD(tfa_buf_printf(&b, "%s;", name)); /* curl's form of an empty value */
	else
		TFA_GUARD(tfa_buf_printf(&b, "%s: %s", name, value));
	n = curl_slist_append(*l, (const char *)b.data);
	TFA_ENSURE(n != NULL, TFA_EINTERNAL, "out of memory");
	*l = n;
out:
	tfa_buf_wipe_free(&b);
	return rc;
}

static void slist_wipe_free(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p != NULL; p = p->next)
		if (p->data != NULL)
			OPENSSL_cleanse(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static bool has_header(const tfa_net_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return true;
	return false;
}

static tfa_err header_list(struct curl_slist **l, const tfa_net_request *req)
{
	tfa_err rc = TFA_OK;

	for (size_t i = 0; i < req->nheaders; i++) {
		const tfa_net_header *h = &req->headers[i];

		TFA_ENSURE(h->name != NULL && h->name[0] != '\0' && h->value != NULL &&
			       strpbrk(h->name, ":\r\n") == NULL &&
			       strpbrk(h->value, "\r\n") == NULL,
			   TFA_EUSAGE, "%s: invalid request header", req->what);
		TFA_GUARD(slist_add(l, h->name, h->value));
	}
	/*
	 * No "Expect: 100-continue" round trip, and no default form content
	 * type: "Name:" with nothing after the colon makes curl drop its own.
	 */
	TFA_GUARD(slist_add(l, "Expect", NULL));
	if (!has_header(req, "Content-Type"))
		TFA_GUARD(slist_add(l, "Content-Type", NULL));
out:
	return rc;
}

/* ---- one exchange ------------------------------------------------------------------ */

static tfa_err check_request(const tfa_net_request *req)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE_ARG(req);
	TFA_ENSURE(req->what != NULL, TFA_EUSAGE, "HTTP request: missing argument: what");
	TFA_ENSURE(req->method != NULL && req->method[0] != '\0' &&
		       strspn(req->method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(req->method),
		   TFA_EUSAGE, "%s: invalid HTTP method", req->what);
	TFA_ENSURE(req->url != NULL && req->url[0] != '\0', TFA_EUSAGE, "%s: missing URL",
		   req->what);
	TFA_ENSURE(req->nheaders == 0 || req->headers != NULL, TFA_EUSAGE, "%s: missing headers",
		   req->what);
	TFA_ENSURE(req->body_len == 0 || req->body != NULL, TFA_EUSAGE, "%s: missing body",
		   req->what);
	TFA_ENSURE(req->max_response > 0, TFA_EUSAGE, "%s: no cap on the response size", req->what);
	TFA_ENSURE(req->connect_timeout_ms >= 0 && req->timeout_ms >= 0, TFA_EUSAGE,
		   "%s: negative timeout", req->what);
	TFA_ENSURE(!req->no_timeout || req->timeout_ms == 0, TFA_EUSAGE,
		   "%s: a timeout and no timeout", req->what);
out:
	return rc;
}

/* Sets one option; the first failure is kept. */
#define SETOPT(opt, val)                                                                           \
	do {                                                                                       \
		if (sc == CURLE_OK)                                                                \
			sc = curl_easy_setopt(curl, (opt), (val));                                 \
	} while (0)

static CURLcode configure(CURL *curl, const tfa_net_request *req, struct curl_slist *hl, xfer *x,
			  char *errbuf)
{
	CURLcode sc = CURLE_OK;
	const char *protocols = req->https_only ? "https" : "http,https";

	curl_easy_reset(curl);
	SETOPT(CURLOPT_URL, req->url);
	SETOPT(CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(CURLOPT_PROTOCOLS_STR, protocols);
#else
	SETOPT(CURLOPT_PROTOCOLS,
	       req->https_only ? (long)CURLPROTO_HTTPS : (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	(void)protocols;
#endif
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->ca_file != NULL && req->ca_file[0] != '\0')
		SETOPT(CURLOPT_CAINFO, req->ca_file);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms > 0
					      ? req->connect_timeout_ms
					      : TFA_NET_DEFAULT_CONNECT_TIMEOUT_MS);
	SETOPT(CURLOPT_TIMEOUT_MS, req->no_timeout	 ? 0L
				   : req->timeout_ms > 0 ? req->timeout_ms
							 : TFA_NET_DEFAULT_TIMEOUT_MS);
	SETOPT(CURLOPT_HTTPHEADER, hl);
	SETOPT(CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(CURLOPT_WRITEDATA, x);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, x);
	SETOPT(CURLOPT_USERAGENT, "tfattest");
	if (strcmp(req->method, "GET") == 0) {
		SETOPT(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(req->method, "HEAD") == 0) {
		SETOPT(CURLOPT_NOBODY, 1L);
	} else {
		SETOPT(CURLOPT_CUSTOMREQUEST, req->method);
		if (req->body_len > 0 || strcmp(req->method, "POST") == 0 ||
		    strcmp(req->method, "PUT") == 0) {
			SETOPT(CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
			SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		}
	}
	return sc;
}

#undef SETOPT

tfa_err tfa_net_send(tfa_net_response *resp, tfa_net_client *client, const tfa_net_request *req)
{
	tfa_err rc = TFA_OK;
	CURL *own = NULL, *curl = NULL;
	struct curl_slist *hl = NULL;
	char errbuf[CURL_ERROR_SIZE];
	xfer x;
	CURLcode cc;

	TFA_ENSURE_ARG(resp);
	memset(resp, 0, sizeof(*resp));
	TFA_GUARD(check_request(req));
	tfa_buf_init(&resp->body, req->max_response);
	tfa_net_url_host(resp->host, sizeof(resp->host), req->url);
	TFA_GUARD(ensure_curl());
	if (client != NULL) {
		curl = client->curl;
	} else {
		curl = own = curl_easy_init();
		TFA_ENSURE(own != NULL, TFA_EINTERNAL, "libcurl handle could not be created");
	}
	TFA_GUARD(header_list(&hl, req));
	x.resp = resp;
	x.req = req;
	errbuf[0] = '\0';
	cc = configure(curl, req, hl, &x, errbuf);
	if (cc != CURLE_OK) {
		/* An option this libcurl lacks, or a URL it will not take. */
		resp->curl_code = (int)cc;
		rc = tfa_net_fail(resp, req->what, NULL);
		goto out;
	}
	cc = curl_easy_perform(curl);
	if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status) != CURLE_OK)
		resp->status = 0;
	snprintf(resp->curl_error, sizeof(resp->curl_error), "%s", errbuf);
	if (resp->too_large) {
		resp->curl_code = (int)cc;
		TFA_BAIL(TFA_EFORMAT, "%s: the response is larger than %zu bytes (host %s)",
			 req->what, req->max_response, resp->host[0] ? resp->host : "none");
	}
	if (cc != CURLE_OK) {
		resp->status = 0;
		resp->curl_code = (int)cc;
		rc = tfa_net_fail(resp, req->what, NULL);
		goto out;
	}
out:
	/* The handle must not keep pointers to this frame; its connections stay open. */
	if (curl != NULL)
		curl_easy_reset(curl);
	slist_wipe_free(hl);
	if (own != NULL)
		curl_easy_cleanup(own);
	return rc;
}
