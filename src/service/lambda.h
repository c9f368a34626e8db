/*
 * The Lambda front end's loop: each invocation from the Runtime API is a
 * Function URL request, checked here (route, IAM identity, body size, media
 * type) before a handler answers it, and answered with a Function URL
 * response. Private to the library; `tfattest lambda` reaches it through
 * tfa_lambda_run (include/tfattest/lambda.h).
 */
#ifndef TFA_SERVICE_LAMBDA_H
#define TFA_SERVICE_LAMBDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "service/lambda_event.h"
#include "service/lambda_runtime.h"
#include "tfattest/buffer.h"
#include "tfattest/error.h"

/* The routes: POST of a record request. */
#define TFA_LAMBDA_ROUTE_RECORD	    "/v1/records"
#define TFA_LAMBDA_ROUTE_RECORD_ALT "/"

/* A handler's answer to one request. */
typedef struct tfa_lambda_answer {
	int status;	  /* HTTP status */
	int retry_after;  /* seconds, for 503; 0 for none */
	char outcome[24]; /* for the access log */
	tfa_buf body;	  /* the JSON reply */
} tfa_lambda_answer;

/*
 * Fills *ans with a refusal: `status`, `outcome` for the access log, and the
 * body {"type":"tfattest.error","error":msg}.
 */
TFA_WUR tfa_err tfa_lambda_answer_error(tfa_lambda_answer *ans, int status, const char *outcome,
					const char *msg);

/*
 * Answers a request that passed the front end's checks: POST to a record
 * route, with an IAM identity, a body within TFA_LAMBDA_BODY_MAX and a JSON
 * media type. Returns TFA_OK with *ans filled (a refusal is an answer), or an
 * error for a failure that is the function's, not the caller's (reported to
 * the Runtime API as an invocation error).
 */
typedef tfa_err (*tfa_lambda_handler)(void *ud, const tfa_lambda_request *req,
				      tfa_lambda_answer *ans);

/*
 * Serves invocations until the Runtime API cannot be reached (TFA_EIO: the
 * runtime exits, and Lambda starts another) or, when max > 0, max
 * invocations were answered (TFA_OK). One JSON access-log line per
 * invocation goes to `log` (NULL: none): time, request id, method, path,
 * subject, status, outcome, milliseconds; never a header value or a body.
 */
TFA_WUR tfa_err tfa_lambda_serve(tfa_lambda_runtime *rt, tfa_lambda_handler handler, void *ud,
				 unsigned long max, FILE *log);

#endif
