/*
 * Lambda Function URL events (payload format 2.0) and responses, for the
 * attestation service behind a Function URL with AWS_IAM auth.
 *
 * The event is built by AWS, but every byte of the HTTP request inside it
 * (headers, body, path) comes from the caller: the parser is strict where it
 * reads and refuses what it cannot account for. Members the service does not
 * read are ignored (AWS adds members to the event over time), but each member
 * it reads must have the type the payload format gives it, and the JSON must
 * be I-JSON (no duplicate members, valid UTF-8).
 *
 * The caller's identity is requestContext.authorizer.iam, which Lambda fills
 * after it has checked the request's SigV4 signature and the caller's right to
 * invoke the URL. An event without it (a Function URL with auth type NONE, or
 * a direct Invoke) carries no identity and is refused by the front end.
 */
#ifndef TFA_SERVICE_LAMBDA_EVENT_H
#define TFA_SERVICE_LAMBDA_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tfattest/buffer.h"
#include "tfattest/error.h"

/* The largest event read from the Runtime API (Lambda's synchronous payload limit is 6 MB). */
#define TFA_LAMBDA_EVENT_MAX (6u * 1024u * 1024u + 64u * 1024u)
/* The largest request body the service takes, decoded (the service core's own cap). */
#define TFA_LAMBDA_BODY_MAX (256u * 1024u)
/* The largest ID token header value. */
#define TFA_LAMBDA_TOKEN_MAX (16u * 1024u)
/* The request header that may carry a CI OIDC ID token (lower case, as events give names). */
#define TFA_LAMBDA_TOKEN_HEADER "x-tfattest-id-token"

/* The IAM principal Lambda verified (requestContext.authorizer.iam). */
typedef struct tfa_lambda_iam {
	char *user_arn; /* userArn: arn:PARTITION:iam::ACCOUNT:... or arn:PARTITION:sts::ACCOUNT:...
			 */
	char *account_id;	/* accountId: twelve digits, equal to the ARN's account */
	char *caller_id;	/* callerId, or NULL */
	char *user_id;		/* userId, or NULL */
	char *principal_org_id; /* principalOrgId, or NULL (null in the event) */
} tfa_lambda_iam;

/* What the service reads of one Function URL request. */
typedef struct tfa_lambda_request {
	char method[8];	     /* requestContext.http.method */
	char *path;	     /* requestContext.http.path */
	char *request_id;    /* requestContext.requestId, or NULL */
	bool has_iam;	     /* requestContext.authorizer.iam was there */
	tfa_lambda_iam iam;  /* when has_iam */
	bool body_too_large; /* the decoded body is over TFA_LAMBDA_BODY_MAX; body is empty */
	tfa_buf body;	     /* the body, base64-decoded when isBase64Encoded */
	char *content_type;  /* the content-type header, or NULL */
	char *id_token;	     /* the x-tfattest-id-token header, or NULL (wiped on free) */
} tfa_lambda_request;

/*
 * Parses one event into *out (which the caller releases with
 * tfa_lambda_request_free whatever the return). TFA_EFORMAT, with a one-line
 * message that names the member and never quotes a header value, when the
 * event is not a well-formed payload 2.0 Function URL event. A missing
 * authorizer is not an error here (has_iam false); a malformed one is.
 */
TFA_WUR tfa_err tfa_lambda_event_parse(tfa_lambda_request *out, const uint8_t *event, size_t len);

/* Accepts NULL. */
void tfa_lambda_request_free(tfa_lambda_request *r);

/*
 * Writes a Function URL response (statusCode, headers, body,
 * isBase64Encoded false) for a JSON body into out. `retry_after` (seconds)
 * adds a Retry-After header when > 0.
 */
TFA_WUR tfa_err tfa_lambda_response(tfa_buf *out, int status, const uint8_t *body, size_t len,
				    int retry_after);

/* The same, with the body {"type": "tfattest.error", "error": message}. */
TFA_WUR tfa_err tfa_lambda_error_response(tfa_buf *out, int status, const char *message);

#endif
