#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "service/lambda.h"
#include "tfattest/sys/guard.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* application/json, with parameters (charset) allowed; nothing else. */
static bool json_media_type(const char *ct)
{
	size_t n = strlen("application/json");

	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

tfa_err tfa_lambda_answer_error(tfa_lambda_answer *ans, int status, const char *outcome,
				const char *msg)
{
	tfa_err rc = TFA_OK;
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;

	ans->status = status;
	snprintf(ans->outcome, sizeof(ans->outcome), "%s", outcome);
	TFA_ENSURE(o != NULL && cJSON_AddStringToObject(o, "type", "tfattest.error") != NULL &&
		       cJSON_AddStringToObject(o, "error", msg) != NULL,
		   TFA_EINTERNAL, "out of memory");
	text = cJSON_PrintUnformatted(o);
	TFA_ENSURE(text != NULL, TFA_EINTERNAL, "out of memory");
	tfa_buf_clear(&ans->body);
	TFA_GUARD(tfa_buf_puts(&ans->body, text));
out:
	cJSON_free(text);
	cJSON_Delete(o);
	return rc;
}

/* The front end's own checks, then the handler. */
static tfa_err answer(const tfa_lambda_request *req, tfa_lambda_handler handler, void *ud,
		      tfa_lambda_answer *ans)
{
	bool record_route = strcmp(req->path, TFA_LAMBDA_ROUTE_RECORD) == 0 ||
			    strcmp(req->path, TFA_LAMBDA_ROUTE_RECORD_ALT) == 0;

	if (!record_route)
		return tfa_lambda_answer_error(ans, 404, "not-found",
					       "no such resource: POST a record request to / or "
					       "/v1/records");
	if (strcmp(req->method, "POST") != 0)
		return tfa_lambda_answer_error(ans, 405, "bad-method", "only POST is accepted");
	if (!req->has_iam)
		return tfa_lambda_answer_error(
		    ans, 403, "no-identity",
		    "the request carries no IAM caller identity: the function must be "
		    "invoked through its Function URL with AWS_IAM auth");
	if (req->body_too_large) {
		char m[80];

		snprintf(m, sizeof(m), "the request body is larger than %u bytes",
			 TFA_LAMBDA_BODY_MAX);
		return tfa_lambda_answer_error(ans, 413, "too-large", m);
	}
	if (!json_media_type(req->content_type))
		return tfa_lambda_answer_error(ans, 415, "bad-media-type",
					       "the request body must be application/json");
	return handler(ud, req, ans);
}

static void log_line(FILE *log, const char *rid, const tfa_lambda_request *req, int status,
		     const char *outcome, int64_t ms)
{
	cJSON *o;
	char *text, when[32];
	time_t t = time(NULL);
	struct tm tm;

	if (log == NULL)
		return;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = cJSON_CreateObject();
	if (o == NULL)
		return;
	cJSON_AddStringToObject(o, "time", when);
	cJSON_AddStringToObject(o, "request_id", rid);
	if (req != NULL && req->path != NULL) {
		cJSON_AddStringToObject(o, "method", req->method);
		cJSON_AddStringToObject(o, "path", req->path);
	}
	if (req != NULL && req->has_iam)
		cJSON_AddStringToObject(o, "subject", req->iam.user_arn);
	if (status > 0)
		cJSON_AddNumberToObject(o, "status", status);
	cJSON_AddStringToObject(o, "outcome", outcome);
	cJSON_AddNumberToObject(o, "ms", (double)ms);
	text = cJSON_PrintUnformatted(o);
	if (text != NULL) {
		fprintf(log, "%s\n", text);
		fflush(log);
	}
	cJSON_free(text);
	cJSON_Delete(o);
}

/* One invocation; TFA_EIO only when the Runtime API failed us. */
static tfa_err one(tfa_lambda_runtime *rt, const tfa_lambda_invocation *inv,
		   tfa_lambda_handler handler, void *ud, FILE *log)
{
	tfa_err rc = TFA_OK, hrc;
	tfa_lambda_request req;
	tfa_lambda_answer ans;
	tfa_buf resp = TFA_BUF_INIT;
	int64_t t0 = now_ms();
	char msg[sizeof(tfa_error_last()->message)];

	memset(&req, 0, sizeof(req));
	memset(&ans, 0, sizeof(ans));
	tfa_buf_init(&ans.body, 0);
	if (inv->too_large) {
		log_line(log, inv->request_id, NULL, 0, "event-too-large", now_ms() - t0);
		TFA_GUARD(tfa_lambda_runtime_fail(rt, inv->request_id, "tfattest.EventTooLarge",
						  "the event is larger than the runtime reads"));
		goto out;
	}
	hrc = tfa_lambda_event_parse(&req, inv->event.data, inv->event.len);
	if (hrc != TFA_OK) {
		/* Not a Function URL request (a direct Invoke, or a bug): no HTTP caller to answer.
		 */
		snprintf(msg, sizeof(msg), "%s", tfa_error_last()->message);
		log_line(log, inv->request_id, NULL, 0, "invalid-event", now_ms() - t0);
		TFA_GUARD(tfa_lambda_runtime_fail(
		    rt, inv->request_id,
		    hrc == TFA_EFORMAT ? "tfattest.InvalidEvent" : "tfattest.InternalError", msg));
		goto out;
	}
	hrc = answer(&req, handler, ud, &ans);
	if (hrc != TFA_OK) {
		snprintf(msg, sizeof(msg), "%s", tfa_error_last()->message);
		log_line(log, inv->request_id, &req, 0, "internal-error", now_ms() - t0);
		TFA_GUARD(
		    tfa_lambda_runtime_fail(rt, inv->request_id, "tfattest.InternalError", msg));
		goto out;
	}
	hrc = tfa_lambda_response(&resp, ans.status, ans.body.data, ans.body.len, ans.retry_after);
	if (hrc != TFA_OK) {
		snprintf(msg, sizeof(msg), "%s", tfa_error_last()->message);
		TFA_GUARD(
		    tfa_lambda_runtime_fail(rt, inv->request_id, "tfattest.InternalError", msg));
		goto out;
	}
	log_line(log, inv->request_id, &req, ans.status, ans.outcome, now_ms() - t0);
	rc = tfa_lambda_runtime_respond(rt, inv->request_id, resp.data, resp.len);
	if (rc != TFA_OK) {
		/* Refused (too large, say): the invocation still gets an answer, as an error. */
		snprintf(msg, sizeof(msg), "%s", tfa_error_last()->message);
		TFA_GUARD(
		    tfa_lambda_runtime_fail(rt, inv->request_id, "tfattest.ResponseRefused", msg));
	}
out:
	tfa_buf_free(&resp);
	tfa_buf_free(&ans.body);
	tfa_lambda_request_free(&req);
	return rc;
}

tfa_err tfa_lambda_serve(tfa_lambda_runtime *rt, tfa_lambda_handler handler, void *ud,
			 unsigned long max, FILE *log)
{
	tfa_err rc = TFA_OK;
	unsigned long n;
	tfa_lambda_invocation inv;

	memset(&inv, 0, sizeof(inv));
	TFA_ENSURE_ARG(rt);
	TFA_ENSURE_ARG(handler);
	for (n = 0; max == 0 || n < max; n++) {
		TFA_GUARD(tfa_lambda_runtime_next(rt, &inv));
		rc = one(rt, &inv, handler, ud, log);
		tfa_buf_free(&inv.event);
		if (rc != TFA_OK)
			goto out;
	}
out:
	tfa_buf_free(&inv.event);
	return rc;
}
