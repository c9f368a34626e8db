/*
 * HTTP exchanges with AWS endpoints over the one HTTP client (src/net):
 * timeouts, retries with capped exponential backoff and full jitter, a 16 MiB
 * cap on the response, and the AWS error code, message and request id pulled
 * out of the answer. Used unsigned by the credential chain (STS
 * AssumeRoleWithWebIdentity, the ECS and EC2 metadata endpoints) and signed
 * by aws/call.h, which builds the headers of each attempt.
 *
 * Nothing here logs: neither headers (they carry the Authorization value and
 * the session token) nor bodies.
 */
#ifndef TFA_AWS_TRANSPORT_H
#define TFA_AWS_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/http.h"
#include "tfattest/buffer.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

#define TFA_AWS_BODY_MAX		   ((size_t)16 << 20)
#define TFA_AWS_DEFAULT_CONNECT_TIMEOUT_MS 3000L
#define TFA_AWS_DEFAULT_TIMEOUT_MS	   10000L
#define TFA_AWS_DEFAULT_MAX_ATTEMPTS	   5u

/* Environment variables read when the options leave a value at 0. */
#define TFA_AWS_ENV_CONNECT_TIMEOUT "TFATTEST_AWS_CONNECT_TIMEOUT_MS"
#define TFA_AWS_ENV_TIMEOUT	    "TFATTEST_AWS_TIMEOUT_MS"
#define TFA_AWS_ENV_MAX_ATTEMPTS    "TFATTEST_AWS_MAX_ATTEMPTS"
/* First backoff step in milliseconds (default 100); each retry doubles it, capped at 5 s. */
#define TFA_AWS_ENV_RETRY_BASE "TFATTEST_AWS_RETRY_BASE_MS"

typedef struct tfa_aws_timeouts {
	long connect_timeout_ms;
	long timeout_ms;
	unsigned max_attempts;
} tfa_aws_timeouts;

/* Fills zero fields from the environment, then the defaults. TFA_EUSAGE on a bad value. */
TFA_WUR tfa_err tfa_aws_timeouts_resolve(tfa_aws_timeouts *t);

typedef struct tfa_aws_response {
	long status;	      /* HTTP status of the last attempt; 0 when none completed */
	tfa_buf body;	      /* response body (capped at 16 MiB) */
	char request_id[128]; /* x-amzn-RequestId / x-amz-request-id, "" when absent */
	char error_code[128]; /* AWS error code ("AccessDeniedException", "NoSuchKey", ...), "" on
				 success */
	char error_message[512]; /* AWS error message, "" on success */
	char etag[128];		 /* ETag header, when present */
} tfa_aws_response;

/* Releases the body. Accepts NULL. */
void tfa_aws_response_free(tfa_aws_response *r);

/* tfa_aws_response_free, wiping the body first. */
void tfa_aws_response_free_wipe(tfa_aws_response *r);

/*
 * The headers of one attempt. Values are copied in and wiped when cleared:
 * they may be tokens or signatures. Names are not copied (string literals or
 * the caller's, which outlive the call).
 */
#define TFA_AWS_HEADERS_MAX 80
typedef struct tfa_aws_headers {
	tfa_net_header h[TFA_AWS_HEADERS_MAX];
	char *owned[TFA_AWS_HEADERS_MAX];
	size_t n;
} tfa_aws_headers;

TFA_WUR tfa_err tfa_aws_headers_add(tfa_aws_headers *hs, const char *name, const char *value);

/* Wipes and frees the values; the set is empty afterwards. */
void tfa_aws_headers_clear(tfa_aws_headers *hs);

/* Fills the headers of one attempt (called again before each retry). */
typedef tfa_err (*tfa_aws_headers_fn)(tfa_aws_headers *out, void *ud);

/*
 * One AWS exchange with retries: before each attempt `build` fills the
 * headers. `net` may be NULL (a fresh connection). Same returns as
 * tfa_aws_call (aws/call.h); `what` names the operation in messages.
 */
TFA_WUR tfa_err tfa_aws_send(tfa_aws_response *resp, tfa_net_client *net, const tfa_aws_timeouts *t,
			     const char *what, const char *method, const char *url,
			     const uint8_t *body, size_t body_len, tfa_aws_headers_fn build,
			     void *ud);

/*
 * An unsigned request to a full URL ("http://169.254.170.2/v2/credentials/x").
 * `headers` may carry a secret (an IMDS token, an ECS authorization token):
 * it is never logged. Release the response with tfa_aws_response_free_wipe.
 * Same returns as tfa_aws_call.
 */
TFA_WUR tfa_err tfa_aws_http_plain(tfa_aws_response *resp, const tfa_aws_timeouts *t,
				   const char *what, const char *method, const char *url,
				   const tfa_net_header *headers, size_t nheaders,
				   const uint8_t *body, size_t body_len);

/* The first occurrence of needle in the len bytes at hay (memmem, which C11 lacks). */
const char *tfa_aws_memfind(const char *hay, size_t len, const char *needle, size_t nlen);

/*
 * Splits "https://host[:port][/]" into scheme and Host header value (default
 * ports dropped, as curl sends it). TFA_EUSAGE for anything else: a path,
 * user info, a query, a scheme other than http/https.
 */
TFA_WUR tfa_err tfa_aws_endpoint_parse(const char *endpoint, bool *https, char *host,
				       size_t host_size);

#endif
