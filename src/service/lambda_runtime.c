#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/http.h"
#include "service/lambda_event.h"
#include "service/lambda_runtime.h"
#include "tfattest/sys/guard.h"

#define API_VERSION "2018-06-01"
#define API_MAX	    256
/* Answers to response and error posts are short JSON documents. */
#define ACK_MAX (64u * 1024u)

struct tfa_lambda_runtime {
	char base[API_MAX + 32]; /* "http://host:port/2018-06-01/runtime" */
	tfa_net_client *client;
};

tfa_err tfa_lambda_runtime_new(tfa_lambda_runtime **out, const char *api)
{
	tfa_err rc = TFA_OK;
	tfa_lambda_runtime *rt = NULL;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE(api != NULL && api[0] != '\0', TFA_EUSAGE,
		   "AWS_LAMBDA_RUNTIME_API is not set: `tfattest lambda` runs inside AWS Lambda "
		   "(a provided.al2023 function)");
	TFA_ENSURE(strlen(api) <= API_MAX &&
		       api[strspn(api, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789.-:[]")] == '\0',
		   TFA_EUSAGE, "AWS_LAMBDA_RUNTIME_API is not host:port");
	{
		const char *colon = strrchr(api, ':');
		size_t digits = colon ? strspn(colon + 1, "0123456789") : 0;

		TFA_ENSURE(colon != NULL && colon != api && digits >= 1 && digits <= 5 &&
			       colon[1 + digits] == '\0',
			   TFA_EUSAGE, "AWS_LAMBDA_RUNTIME_API is not host:port");
	}
	rt = calloc(1, sizeof(*rt));
	TFA_ENSURE(rt != NULL, TFA_EINTERNAL, "out of memory");
	snprintf(rt->base, sizeof(rt->base), "http://%s/" API_VERSION "/runtime", api);
	TFA_GUARD(tfa_net_client_new(&rt->client));
	*out = rt;
	rt = NULL;
out:
	tfa_lambda_runtime_free(rt);
	return rc;
}

void tfa_lambda_runtime_free(tfa_lambda_runtime *rt)
{
	if (rt == NULL)
		return;
	tfa_net_client_free(rt->client);
	free(rt);
}

static bool header_is(const char *name, size_t len, const char *want)
{
	return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

static void on_next_header(void *ud, const char *name, size_t name_len, const char *value,
			   size_t value_len)
{
	tfa_lambda_invocation *inv = ud;

	if (header_is(name, name_len, "Lambda-Runtime-Aws-Request-Id")) {
		/* Kept only when it is safe in a URL path; otherwise left empty (refused). */
		if (value_len > 0 && value_len < sizeof(inv->request_id)) {
			memcpy(inv->request_id, value, value_len);
			inv->request_id[value_len] = '\0';
			if (inv->request_id[strspn(inv->request_id,
						   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
						   "vwxyz0123456789-_.")] != '\0')
				inv->request_id[0] = '\0';
		} else {
			inv->request_id[0] = '\0';
		}
	} else if (header_is(name, name_len, "Lambda-Runtime-Deadline-Ms")) {
		char tmp[24];
		char *end = NULL;
		long long v;

		if (value_len == 0 || value_len >= sizeof(tmp))
			return;
		memcpy(tmp, value, value_len);
		tmp[value_len] = '\0';
		v = strtoll(tmp, &end, 10);
		if (end != NULL && *end == '\0' && v > 0)
			inv->deadline_ms = (int64_t)v;
	}
}

tfa_err tfa_lambda_runtime_next(tfa_lambda_runtime *rt, tfa_lambda_invocation *inv)
{
	tfa_err rc = TFA_OK;
	tfa_net_response resp;
	char url[sizeof(rt->base) + 32];
	tfa_net_request req = {0};

	memset(&resp, 0, sizeof(resp));
	TFA_ENSURE_ARG(rt);
	TFA_ENSURE_ARG(inv);
	memset(inv, 0, sizeof(*inv));
	tfa_buf_init(&inv->event, TFA_LAMBDA_EVENT_MAX);
	snprintf(url, sizeof(url), "%s/invocation/next", rt->base);
	req.what = "Lambda Runtime API next";
	req.method = "GET";
	req.url = url;
	req.no_timeout = true; /* the call blocks until an invocation comes */
	req.max_response = TFA_LAMBDA_EVENT_MAX;
	req.on_header = on_next_header;
	req.header_ud = inv;
	rc = tfa_net_send(&resp, rt->client, &req);
	if (rc == TFA_EFORMAT && resp.too_large && resp.status == 200 &&
	    inv->request_id[0] != '\0') {
		/* The invocation is answered with an error; the loop goes on. */
		tfa_error_clear();
		inv->too_large = true;
		rc = TFA_OK;
		goto out;
	}
	if (rc != TFA_OK)
		goto out;
	TFA_ENSURE(resp.status == 200, TFA_EIO, "Lambda Runtime API next: HTTP %ld (host %s)",
		   resp.status, resp.host);
	TFA_ENSURE(inv->request_id[0] != '\0', TFA_EIO,
		   "Lambda Runtime API next: no valid Lambda-Runtime-Aws-Request-Id");
	TFA_GUARD(tfa_buf_append(&inv->event, resp.body.data, resp.body.len));
out:
	tfa_net_response_free(&resp);
	if (rc != TFA_OK)
		tfa_buf_free(&inv->event);
	return rc;
}

static tfa_err post(tfa_lambda_runtime *rt, const char *what, const char *url,
		    const tfa_net_header *headers, size_t nheaders, const uint8_t *body, size_t len)
{
	tfa_err rc = TFA_OK;
	tfa_net_response resp;
	tfa_net_request req = {0};

	memset(&resp, 0, sizeof(resp));
	req.what = what;
	req.method = "POST";
	req.url = url;
	req.headers = headers;
	req.nheaders = nheaders;
	req.body = body;
	req.body_len = len;
	req.max_response = ACK_MAX;
	TFA_GUARD(tfa_net_send(&resp, rt->client, &req));
	/* 202 accepted; 400 and 403 a mistake of ours; 413 too large; 500 the runtime must exit. */
	TFA_ENSURE(resp.status == 202, TFA_EIO, "%s: HTTP %ld (host %s)%s", what, resp.status,
		   resp.host, resp.status == 413 ? ": the response is too large" : "");
out:
	tfa_net_response_free(&resp);
	return rc;
}

static bool valid_id(const char *id)
{
	size_t n = strlen(id);

	return n > 0 && n < TFA_LAMBDA_REQUEST_ID_MAX &&
	       id[strspn(id,
			 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")] ==
		   '\0';
}

tfa_err tfa_lambda_runtime_respond(tfa_lambda_runtime *rt, const char *request_id,
				   const uint8_t *body, size_t len)
{
	tfa_err rc = TFA_OK;
	char url[sizeof(rt->base) + TFA_LAMBDA_REQUEST_ID_MAX + 32];
	const tfa_net_header h[] = {{"Content-Type", "application/json"}};

	TFA_ENSURE_ARG(rt);
	TFA_ENSURE(request_id != NULL && valid_id(request_id), TFA_EUSAGE,
		   "Lambda Runtime API: invalid request id");
	snprintf(url, sizeof(url), "%s/invocation/%s/response", rt->base, request_id);
	TFA_GUARD(post(rt, "Lambda Runtime API response", url, h, 1, body, len));
out:
	return rc;
}

tfa_err tfa_lambda_runtime_fail(tfa_lambda_runtime *rt, const char *request_id, const char *type,
				const char *message)
{
	tfa_err rc = TFA_OK;
	char url[sizeof(rt->base) + TFA_LAMBDA_REQUEST_ID_MAX + 32];
	cJSON *o = NULL;
	char *text = NULL;

	TFA_ENSURE_ARG(rt);
	TFA_ENSURE_ARG(type);
	TFA_ENSURE_ARG(message);
	TFA_ENSURE(type[strspn(type, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.")] ==
		       '\0',
		   TFA_EUSAGE, "Lambda Runtime API: invalid error type");
	if (request_id != NULL) {
		TFA_ENSURE(valid_id(request_id), TFA_EUSAGE,
			   "Lambda Runtime API: invalid request id");
		snprintf(url, sizeof(url), "%s/invocation/%s/error", rt->base, request_id);
	} else {
		snprintf(url, sizeof(url), "%s/init/error", rt->base);
	}
	o = cJSON_CreateObject();
	TFA_ENSURE(o != NULL && cJSON_AddStringToObject(o, "errorMessage", message) != NULL &&
		       cJSON_AddStringToObject(o, "errorType", type) != NULL &&
		       cJSON_AddArrayToObject(o, "stackTrace") != NULL,
		   TFA_EINTERNAL, "out of memory");
	text = cJSON_PrintUnformatted(o);
	TFA_ENSURE(text != NULL, TFA_EINTERNAL, "out of memory");
	{
		const tfa_net_header h[] = {{"Content-Type", "application/json"},
					    {"Lambda-Runtime-Function-Error-Type", type}};

		TFA_GUARD(post(rt,
			       request_id != NULL ? "Lambda Runtime API invocation error"
						  : "Lambda Runtime API init error",
			       url, h, 2, (const uint8_t *)text, strlen(text)));
	}
out:
	cJSON_free(text);
	cJSON_Delete(o);
	return rc;
}
