/*
 * Internals of the AWS HTTPS layer shared by http.c and creds.c: unsigned
 * calls (STS AssumeRoleWithWebIdentity, the ECS and EC2 metadata endpoints)
 * with the same timeouts, retries, size cap and error extraction as the
 * signed ones.
 */
#ifndef TFA_AWS_HTTP_INT_H
#define TFA_AWS_HTTP_INT_H

#include "aws/aws.h"

#define TFA_AWS_BODY_MAX ((size_t)16 << 20)
#define TFA_AWS_DEFAULT_CONNECT_TIMEOUT_MS 3000L
#define TFA_AWS_DEFAULT_TIMEOUT_MS 10000L
#define TFA_AWS_DEFAULT_MAX_ATTEMPTS 5u

/* Environment variables read when the options leave a value at 0. */
#define TFA_AWS_ENV_CONNECT_TIMEOUT "TFATTEST_AWS_CONNECT_TIMEOUT_MS"
#define TFA_AWS_ENV_TIMEOUT "TFATTEST_AWS_TIMEOUT_MS"
#define TFA_AWS_ENV_MAX_ATTEMPTS "TFATTEST_AWS_MAX_ATTEMPTS"
/* First backoff step in milliseconds (default 100); each retry doubles it, capped at 5 s. */
#define TFA_AWS_ENV_RETRY_BASE "TFATTEST_AWS_RETRY_BASE_MS"

typedef struct tfa_aws_timeouts {
	long connect_timeout_ms;
	long timeout_ms;
	unsigned max_attempts;
} tfa_aws_timeouts;

/* Fills zero fields from the environment, then the defaults. TFA_EUSAGE on a bad value. */
TFA_WUR tfa_err tfa_aws_timeouts_resolve(tfa_aws_timeouts *t);

/*
 * An unsigned request to a full URL ("http://169.254.170.2/v2/credentials/x").
 * `headers` may carry a secret (an IMDS token, an ECS authorization token):
 * it is never logged. `secret_body` makes the response body be wiped when
 * released by the caller with tfa_aws_response_free_wipe. Same returns as
 * tfa_aws_call.
 */
TFA_WUR tfa_err tfa_aws_http_plain(tfa_aws_response *resp, const tfa_aws_timeouts *t,
				   const char *what, const char *method, const char *url,
				   const tfa_aws_header *headers, size_t nheaders,
				   const uint8_t *body, size_t body_len);

/* The first occurrence of needle in the len bytes at hay (memmem, which C11 lacks). */
const char *tfa_aws_memfind(const char *hay, size_t len, const char *needle, size_t nlen);

/* tfa_aws_response_free, wiping the body first. */
void tfa_aws_response_free_wipe(tfa_aws_response *r);

/*
 * Splits "https://host[:port][/]" into scheme and Host header value (default
 * ports dropped, as curl sends it). TFA_EUSAGE for anything else: a path,
 * user info, a query, a scheme other than http/https.
 */
TFA_WUR tfa_err tfa_aws_endpoint_parse(const char *endpoint, bool *https, char *host,
				       size_t host_size);

#endif
