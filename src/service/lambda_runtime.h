/*
 * The AWS Lambda Runtime API (version 2018-06-01), as a custom runtime
 * (provided.al2023) speaks it: GET .../runtime/invocation/next (a long poll,
 * no timeout), then POST .../invocation/ID/response or .../invocation/ID/error,
 * and POST .../runtime/init/error when the function cannot start. Over the
 * project's one HTTP client (src/net). One invocation at a time.
 */
#ifndef TFA_SERVICE_LAMBDA_RUNTIME_H
#define TFA_SERVICE_LAMBDA_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tfattest/buffer.h"
#include "tfattest/error.h"

#define TFA_LAMBDA_REQUEST_ID_MAX 128

typedef struct tfa_lambda_runtime tfa_lambda_runtime;

/*
 * `api` is AWS_LAMBDA_RUNTIME_API: "host:port" (letters, digits, '.', '-',
 * ':', '[' and ']' only). TFA_EUSAGE when it is missing or malformed.
 */
TFA_WUR tfa_err tfa_lambda_runtime_new(tfa_lambda_runtime **out, const char *api);

/* Accepts NULL. */
void tfa_lambda_runtime_free(tfa_lambda_runtime *rt);

/* One invocation. */
typedef struct tfa_lambda_invocation {
	char request_id[TFA_LAMBDA_REQUEST_ID_MAX]; /* Lambda-Runtime-Aws-Request-Id */
	int64_t deadline_ms;			    /* Lambda-Runtime-Deadline-Ms, or 0 */
	bool too_large;				    /* the event was over the cap; event is empty */
	tfa_buf event;				    /* the event's bytes */
} tfa_lambda_invocation;

/*
 * Waits for the next invocation (no timeout). The caller releases inv->event
 * with tfa_buf_free. TFA_EIO when the Runtime API cannot be reached or answers
 * other than 200, or the answer has no valid request id: the runtime should
 * then exit, and Lambda starts a new one.
 */
TFA_WUR tfa_err tfa_lambda_runtime_next(tfa_lambda_runtime *rt, tfa_lambda_invocation *inv);

/* Posts the invocation's response. TFA_EIO when it is not accepted (202). */
TFA_WUR tfa_err tfa_lambda_runtime_respond(tfa_lambda_runtime *rt, const char *request_id,
					   const uint8_t *body, size_t len);

/*
 * Reports an invocation error (request_id set) or an initialization error
 * (request_id NULL): {"errorMessage", "errorType", "stackTrace": []} with the
 * Lambda-Runtime-Function-Error-Type header. `type` is a short name such as
 * "Runtime.InvalidEvent"; `message` one line, never a secret.
 */
TFA_WUR tfa_err tfa_lambda_runtime_fail(tfa_lambda_runtime *rt, const char *request_id,
					const char *type, const char *message);

#endif
