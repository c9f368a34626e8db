/*
 * AWS plumbing shared by the awskms signer, the s3 store and the dynamodb
 * sequencer: credentials, Signature Version 4, and HTTPS calls through
 * libcurl with retries. Private to the library (not installed).
 *
 * Secrets (secret access keys, session tokens, web identity tokens) live only
 * in tfa_aws_creds, are wiped with OPENSSL_cleanse when released, and are never
 * written to an error message, a log line or stdout.
 */
#ifndef TFA_AWS_H
#define TFA_AWS_H

#include <stdbool.h>
#include <stdint.h>

#include "tfattest/buffer.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

/* ---- credentials -------------------------------------------------------- */

typedef struct tfa_aws_creds {
	char *access_key_id;     /* heap */
	char *secret_access_key; /* heap, wiped on clear */
	char *session_token;     /* heap or NULL, wiped on clear */
	int64_t expiration;      /* seconds since the epoch; 0 = does not expire */
	char source[32];         /* "env", "profile:NAME", "web-identity", "ecs", "imds"; safe to print */
} tfa_aws_creds;

/*
 * Resolves credentials in the order the AWS SDKs use: environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the shared
 * credentials and config files (AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE,
 * AWS_CONFIG_FILE), web identity (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE
 * through STS AssumeRoleWithWebIdentity), ECS container credentials
 * (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI), then EC2 IMDSv2.
 * `region` is used for the STS call. TFA_EUSAGE when no source has any.
 */
TFA_WUR tfa_err tfa_aws_creds_resolve(tfa_aws_creds *out, const char *region);

/* Wipes and frees the members; the struct may be reused. Accepts NULL. */
void tfa_aws_creds_clear(tfa_aws_creds *c);

/*
 * The region: AWS_REGION, else AWS_DEFAULT_REGION, else `region` of the
 * profile (AWS_PROFILE or "default") in the config or credentials file.
 * TFA_EUSAGE when none is set or the name is not a region name.
 */
TFA_WUR tfa_err tfa_aws_region_resolve(char *out, size_t size);

/* ---- Signature Version 4 -------------------------------------------------- */

typedef struct tfa_aws_header {
	const char *name;
	const char *value;
} tfa_aws_header;

/* An HTTP request as it will be sent. */
typedef struct tfa_sigv4_request {
	const char *method;            /* "POST" */
	const char *host;              /* Host header value: "kms.eu-west-1.amazonaws.com", "127.0.0.1:4569" */
	const char *path;              /* the request path as sent (already percent-encoded), e.g. "/" */
	const char *query;             /* the raw query string without '?', "" for none */
	const tfa_aws_header *headers; /* other headers that are sent and signed (not Host / X-Amz-Date) */
	size_t nheaders;
	const uint8_t *body;
	size_t body_len;
	const char *payload_hash;      /* lowercase hex SHA-256 of the body, or NULL to compute it */
	bool s3;                       /* S3 rules: no path normalisation or double encoding */
} tfa_sigv4_request;

/*
 * Signs req for service/region at amz_date ("YYYYMMDDTHHMMSSZ"). Appends the
 * Authorization header value to `authorization`. The caller sends Host,
 * X-Amz-Date = amz_date, X-Amz-Security-Token when the credentials carry a
 * session token (it is signed), and x-amz-content-sha256 for S3.
 * The canonical request and string to sign are appended to the optional
 * debug buffers, for tests. The canonical request carries the session token
 * when there is one: never log it.
 */
TFA_WUR tfa_err tfa_sigv4_sign(tfa_buf *authorization, const tfa_sigv4_request *req,
			       const char *service, const char *region, const char *amz_date,
			       const tfa_aws_creds *creds, tfa_buf *canonical_request,
			       tfa_buf *string_to_sign);

/* ---- HTTPS calls -------------------------------------------------------- */

typedef struct tfa_aws_client tfa_aws_client;

typedef struct tfa_aws_client_opts {
	const char *service;      /* "kms", "dynamodb", "s3", "sts" (signing name) */
	const char *region;       /* required */
	const char *endpoint;     /* "https://host[:port]" or "http://host[:port]"; NULL: the public AWS endpoint */
	long connect_timeout_ms;  /* 0: TFATTEST_AWS_CONNECT_TIMEOUT_MS, else 3000 */
	long timeout_ms;          /* 0: TFATTEST_AWS_TIMEOUT_MS, else 10000 (whole request) */
	unsigned max_attempts;    /* 0: TFATTEST_AWS_MAX_ATTEMPTS, else 5 */
	/* TLS trust: AWS_CA_BUNDLE when set, else the system store. */
} tfa_aws_client_opts;

/*
 * Resolves credentials once (tfa_aws_creds_resolve) and keeps a curl handle.
 * A client serves one thread at a time.
 */
TFA_WUR tfa_err tfa_aws_client_new(tfa_aws_client **out, const tfa_aws_client_opts *opts);

/* Wipes the credentials. Accepts NULL. */
void tfa_aws_client_free(tfa_aws_client *c);

typedef struct tfa_aws_response {
	long status;             /* HTTP status of the last attempt; 0 when none completed */
	tfa_buf body;            /* response body (capped at 16 MiB) */
	char request_id[128];    /* x-amzn-RequestId / x-amz-request-id, "" when absent */
	char error_code[128];    /* AWS error code ("AccessDeniedException", "NoSuchKey", ...), "" on success */
	char error_message[512]; /* AWS error message, "" on success */
	char etag[128];          /* ETag header, when present */
} tfa_aws_response;

/* Releases the body. Accepts NULL. */
void tfa_aws_response_free(tfa_aws_response *r);

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
