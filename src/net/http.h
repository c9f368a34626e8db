/*
 * The one HTTP(S) client of the recording side, over libcurl: AWS calls,
 * the credential endpoints, RFC 3161 timestamp requests and CI ID tokens all
 * go through it. Private to the library (not installed).
 *
 * One request, one response: no redirects, no retries (callers that retry,
 * such as AWS, loop over tfa_net_send), a connect and a whole-request
 * timeout, a cap on the response body, peer and host verification always on.
 * Nothing here logs: request headers (bearer tokens, AWS signatures), bodies
 * and response bodies may hold secrets. Header lists are wiped after use and
 * response bodies are wiped when released.
 */
#ifndef TFA_NET_HTTP_H
#define TFA_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tfattest/buffer.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

#define TFA_NET_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define TFA_NET_DEFAULT_TIMEOUT_MS	   30000L
#define TFA_NET_HOST_MAX		   256
#define TFA_NET_CURL_ERROR_MAX		   256

/* A request header: "Name: value". An empty value is sent as "Name:" with nothing after it. */
typedef struct tfa_net_header {
	const char *name;
	const char *value;
} tfa_net_header;

/*
 * Called once per response header line "Name: value", with the name as sent
 * and the value without surrounding blanks or the line end (neither is
 * NUL-terminated). Headers of every response of the exchange are passed.
 */
typedef void (*tfa_net_header_fn)(void *ud, const char *name, size_t name_len, const char *value,
				  size_t value_len);

typedef struct tfa_net_request {
	const char *what;	       /* names the call in messages ("kms Sign"); required */
	const char *method;	       /* "GET", "HEAD", "POST", "PUT", "DELETE", ...; required */
	const char *url;	       /* "https://host[:port]/path?query"; required */
	const tfa_net_header *headers; /* may carry secrets: never logged, wiped after use */
	size_t nheaders;
	const uint8_t *body; /* sent for any method but GET and HEAD */
	size_t body_len;
	long connect_timeout_ms; /* 0: TFA_NET_DEFAULT_CONNECT_TIMEOUT_MS */
	long timeout_ms;	 /* whole request; 0: TFA_NET_DEFAULT_TIMEOUT_MS */
	bool no_timeout;	 /* no whole-request timeout (a long poll); timeout_ms must be 0 */
	size_t max_response;	 /* cap on the response body in bytes; required (> 0) */
	bool https_only;	 /* refuse http:// (otherwise http and https) */
	const char *ca_file;	 /* PEM trust anchors; NULL or "": the system store */
	tfa_net_header_fn on_header; /* optional */
	void *header_ud;
} tfa_net_request;

typedef struct tfa_net_response {
	long status;		     /* HTTP status; 0 when no response came */
	tfa_buf body;		     /* the body, at most max_response bytes */
	bool too_large;		     /* the body went over max_response (the transfer was cut) */
	int curl_code;		     /* libcurl's CURLcode, 0 when the exchange completed */
	char host[TFA_NET_HOST_MAX]; /* "host[:port]" of the URL, for messages */
	char curl_error[TFA_NET_CURL_ERROR_MAX]; /* libcurl's own text, "" when none */
} tfa_net_response;

/*
 * A client keeps one libcurl handle, so that consecutive requests to one host
 * reuse the connection. It serves one thread at a time.
 */
typedef struct tfa_net_client tfa_net_client;

TFA_WUR tfa_err tfa_net_client_new(tfa_net_client **out);

/* Accepts NULL. */
void tfa_net_client_free(tfa_net_client *c);

/*
 * Sends req and reads the answer into resp (which is reset first, and which
 * the caller releases with tfa_net_response_free whatever the return).
 * `client` may be NULL for a one-off request on a fresh handle.
 *
 * TFA_OK when an HTTP response came, whatever its status: the status is the
 * caller's to judge. Otherwise:
 *   TFA_EIO      no response: "<what>: <reason> (host H, curl N)", detail "curl: <libcurl's text>"
 *   TFA_EFORMAT  the body went over max_response: "<what>: the response is larger than N bytes
 * (host H)" TFA_EUSAGE   a missing or invalid argument TFA_EINTERNAL libcurl could not be set up
 */
TFA_WUR tfa_err tfa_net_send(tfa_net_response *resp, tfa_net_client *client,
			     const tfa_net_request *req);

/* Wipes and releases the body. Accepts NULL. */
void tfa_net_response_free(tfa_net_response *r);

/*
 * True when the exchange failed in a way a later attempt may not: the name did
 * not resolve, the connection was refused or cut, a timeout, an empty reply.
 */
bool tfa_net_transient(const tfa_net_response *r);

/*
 * Records the error for a response that carries a libcurl failure, in the
 * form tfa_net_send uses: "<what>: <reason> (host H, curl N<; note>)" with
 * libcurl's text as detail. `note` may be NULL. Returns TFA_EIO.
 */
tfa_err tfa_net_fail(const tfa_net_response *r, const char *what, const char *note);

/*
 * The "host[:port]" part of a URL, without scheme, user info or path, cut to
 * fit; "" when the URL has no "://".
 */
void tfa_net_url_host(char *out, size_t size, const char *url);

#endif
