/*
 * Signed calls to an AWS service: a client holds the endpoint, the
 * credentials and a connection, and each call is signed with SigV4 and
 * retried by the transport (aws/transport.h).
 */
#ifndef TFA_AWS_CALL_H
#define TFA_AWS_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "aws/sigv4.h"
#include "aws/transport.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

typedef struct tfa_aws_client tfa_aws_client;

typedef struct tfa_aws_client_opts {
	const char *service;  /* "kms", "dynamodb", "s3", "sts" (signing name) */
	const char *region;   /* required */
	const char *endpoint; /* "https://host[:port]" or "http://host[:port]"; NULL: the public AWS
				 endpoint */
	long connect_timeout_ms; /* 0: TFATTEST_AWS_CONNECT_TIMEOUT_MS, else 3000 */
	long timeout_ms;	 /* 0: TFATTEST_AWS_TIMEOUT_MS, else 10000 (whole request) */
	unsigned max_attempts;	 /* 0: TFATTEST_AWS_MAX_ATTEMPTS, else 5 */
				 /* TLS trust: AWS_CA_BUNDLE when set, else the system store. */
} tfa_aws_client_opts;

/*
 * Resolves credentials once (tfa_aws_creds_resolve) and keeps a connection.
 * A client serves one thread at a time.
 */
TFA_WUR tfa_err tfa_aws_client_new(tfa_aws_client **out, const tfa_aws_client_opts *opts);

/* Wipes the credentials. Accepts NULL. */
void tfa_aws_client_free(tfa_aws_client *c);

/*
 * Sends a signed request and retries throttling (ThrottlingException,
 * ProvisionedThroughputExceededException, RequestLimitExceeded, SlowDown,
 * HTTP 429), 5xx, connection errors and timeouts with capped exponential
 * backoff and full jitter, up to max_attempts.
 *
 * Returns TFA_OK for a 2xx response. Otherwise `resp` still holds the status
 * and error code, and the return is:
 *   TFA_ENOTFOUND  404 / NoSuchKey / ResourceNotFoundException / NotFoundException
 *   TFA_EBACKEND   any other AWS error (access denied, disabled or invalid-state key,
 *                  expired credentials, exhausted retries, ...)
 *   TFA_EIO        no response at all (connection failure after the last attempt)
 * with a one-line error such as
 *   "kms Sign: AccessDeniedException: <message> (HTTP 400, request id <id>)".
 * `what` names the operation for messages ("kms Sign").
 */
TFA_WUR tfa_err tfa_aws_call(tfa_aws_response *resp, tfa_aws_client *c, const char *what,
			     const char *method, const char *path, const char *query,
			     const tfa_aws_header *headers, size_t nheaders, const uint8_t *body,
			     size_t body_len);

/*
 * An AWS JSON protocol call: POST / with Content-Type
 * application/x-amz-json-<json_version> ("1.0" DynamoDB, "1.1" KMS) and
 * X-Amz-Target: <target> ("TrentService.Sign", "DynamoDB_20120810.PutItem").
 * Same returns as tfa_aws_call; a 400 with __type
 * ConditionalCheckFailedException returns TFA_ECONFLICT.
 */
TFA_WUR tfa_err tfa_aws_json_call(tfa_aws_response *resp, tfa_aws_client *c, const char *target,
				  const char *json_version, const char *json, size_t json_len);

#endif
