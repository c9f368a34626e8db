#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "format/b64.h"
#include "service/lambda_event.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"

#define WHAT "Function URL event"

/* Longest ARN IAM issues is 2048 bytes; ids and paths are far shorter. */
#define ARN_MAX	  2048
#define ID_MAX	  256
#define PATH_MAX_ 1024
#define CT_MAX	  256

/* A member that may be absent or null: NULL then. */
static const tfa_json_value *opt(const tfa_json_value *obj, const char *key)
{
	const tfa_json_value *v = tfa_json_get(obj, key);

	return (v == NULL || tfa_json_type_of(v) == TFA_JSON_NULL) ? NULL : v;
}

static tfa_err need_object(const tfa_json_value **out, const tfa_json_value *obj, const char *key,
			   const char *where)
{
	const tfa_json_value *v = tfa_json_get(obj, key);

	if (v == NULL)
		return tfa_error_set(TFA_EFORMAT, WHAT ": %s has no \"%s\"", where, key);
	if (tfa_json_type_of(v) != TFA_JSON_OBJECT)
		return tfa_error_set(TFA_EFORMAT, WHAT ": %s.%s is not an object", where, key);
	*out = v;
	return TFA_OK;
}

/*
 * The string value of obj.key copied to *out (NULL when absent or null and
 * !required): 1..max bytes, no NUL, no control character.
 */
static tfa_err get_str(char **out, const tfa_json_value *obj, const char *key, size_t max,
		       bool required, const char *where)
{
	const tfa_json_value *v = opt(obj, key);
	const char *s;
	size_t n = 0, i;

	*out = NULL;
	if (v == NULL) {
		if (required)
			return tfa_error_set(TFA_EFORMAT, WHAT ": %s has no \"%s\"", where, key);
		return TFA_OK;
	}
	s = tfa_json_string(v, &n);
	if (s == NULL)
		return tfa_error_set(TFA_EFORMAT, WHAT ": %s.%s is not a string", where, key);
	if (n == 0 || n > max)
		return tfa_error_set(TFA_EFORMAT, WHAT ": %s.%s is empty or longer than %zu bytes",
				     where, key, max);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return tfa_error_set(TFA_EFORMAT, WHAT ": %s.%s holds a control character",
					     where, key);
	*out = malloc(n + 1);
	if (*out == NULL)
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	memcpy(*out, s, n + 1);
	return TFA_OK;
}

static bool all_of(const char *s, const char *set)
{
	return s[strspn(s, set)] == '\0';
}

#define DIGITS	 "0123456789"
#define ALNUM	 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" DIGITS
#define ARN_NAME ALNUM "+=,.@_-/"

/*
 * arn:PARTITION:(iam|sts)::ACCOUNT:RESOURCE, RESOURCE of IAM name characters
 * (and '/' and ':'), and ACCOUNT equal to accountId. No '*' or '?': a subject
 * is matched against the policy's globs and must not be one itself.
 */
static tfa_err check_arn(const char *arn, const char *account)
{
	const char *p = arn, *svc, *acct, *res;
	size_t plen;

	if (strncmp(p, "arn:", 4) != 0)
		goto bad;
	p += 4;
	plen = strcspn(p, ":");
	if (plen < 3 || plen > 16 || strncmp(p, "aws", 3) != 0)
		goto bad;
	for (size_t i = 3; i < plen; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyz-", p[i]) == NULL)
			goto bad;
	svc = p + plen;
	if (strncmp(svc, ":iam::", 6) != 0 && strncmp(svc, ":sts::", 6) != 0)
		goto bad;
	acct = svc + 6;
	if (strspn(acct, DIGITS) != 12 || acct[12] != ':')
		goto bad;
	res = acct + 13;
	if (res[0] == '\0' || !all_of(res, ARN_NAME ":"))
		goto bad;
	if (strncmp(acct, account, 12) != 0 || account[12] != '\0')
		return tfa_error_set(TFA_EFORMAT, WHAT ": the IAM principal's ARN names another "
						       "account than accountId");
	return TFA_OK;
bad:
	return tfa_error_set(TFA_EFORMAT, WHAT ": requestContext.authorizer.iam.userArn is not an "
					       "IAM or STS principal ARN");
}

static tfa_err parse_iam(tfa_lambda_iam *iam, const tfa_json_value *o)
{
	tfa_err rc = TFA_OK;
	const char *where = "requestContext.authorizer.iam";
	char *access_key = NULL;
	const tfa_json_value *cog;

	TFA_GUARD(get_str(&iam->user_arn, o, "userArn", ARN_MAX, true, where));
	TFA_GUARD(get_str(&iam->account_id, o, "accountId", 12, true, where));
	TFA_ENSURE(strlen(iam->account_id) == 12 && all_of(iam->account_id, DIGITS), TFA_EFORMAT,
		   WHAT ": %s.accountId is not twelve digits", where);
	TFA_GUARD(check_arn(iam->user_arn, iam->account_id));
	TFA_GUARD(get_str(&iam->caller_id, o, "callerId", ID_MAX, false, where));
	TFA_GUARD(get_str(&iam->user_id, o, "userId", ID_MAX, false, where));
	TFA_GUARD(get_str(&iam->principal_org_id, o, "principalOrgId", ID_MAX, false, where));
	/* Typed, but not kept: the access key id says nothing the ARN does not. */
	TFA_GUARD(get_str(&access_key, o, "accessKey", ID_MAX, false, where));
	if (iam->caller_id != NULL)
		TFA_ENSURE(all_of(iam->caller_id, ALNUM ":+=,.@_-"), TFA_EFORMAT,
			   WHAT ": %s.callerId has unexpected characters", where);
	if (iam->user_id != NULL)
		TFA_ENSURE(all_of(iam->user_id, ALNUM ":+=,.@_-"), TFA_EFORMAT,
			   WHAT ": %s.userId has unexpected characters", where);
	if (iam->principal_org_id != NULL)
		TFA_ENSURE(all_of(iam->principal_org_id, ALNUM "-"), TFA_EFORMAT,
			   WHAT ": %s.principalOrgId has unexpected characters", where);
	/* A Cognito identity pool's identity is not an IAM principal the policy can name. */
	cog = opt(o, "cognitoIdentity");
	TFA_ENSURE(cog == NULL, TFA_EFORMAT,
		   WHAT ": the caller is a Cognito identity, which the service does not accept");
out:
	free(access_key);
	return rc;
}

/* Header names arrive in lower case; values are strings (repeated headers joined by commas). */
static tfa_err parse_headers(tfa_lambda_request *r, const tfa_json_value *h)
{
	tfa_err rc = TFA_OK;
	size_t i, n = tfa_json_count(h);

	for (i = 0; i < n; i++) {
		size_t klen = 0;
		const char *k = tfa_json_key_at(h, i, &klen);
		const tfa_json_value *v = tfa_json_value_at(h, i);

		TFA_ENSURE(tfa_json_type_of(v) == TFA_JSON_STRING, TFA_EFORMAT,
			   WHAT ": a header value is not a string");
		if (klen == strlen("content-type") && memcmp(k, "content-type", klen) == 0)
			TFA_GUARD(
			    get_str(&r->content_type, h, "content-type", CT_MAX, false, "headers"));
		if (klen == strlen(TFA_LAMBDA_TOKEN_HEADER) &&
		    memcmp(k, TFA_LAMBDA_TOKEN_HEADER, klen) == 0) {
			size_t tlen = 0;
			const char *t = tfa_json_string(v, &tlen);

			/* Named without the value: a token is a credential. */
			TFA_ENSURE(tlen > 0 && tlen <= TFA_LAMBDA_TOKEN_MAX, TFA_EFORMAT,
				   WHAT ": header " TFA_LAMBDA_TOKEN_HEADER
					" is empty or longer than %u bytes",
				   TFA_LAMBDA_TOKEN_MAX);
			TFA_ENSURE(all_of(t, ALNUM "-_."), TFA_EFORMAT,
				   WHAT ": header " TFA_LAMBDA_TOKEN_HEADER
					" is not a compact JWS token");
			r->id_token = malloc(tlen + 1);
			TFA_ENSURE(r->id_token != NULL, TFA_EINTERNAL, "out of memory");
			memcpy(r->id_token, t, tlen + 1);
		}
	}
out:
	return rc;
}

static tfa_err parse_body(tfa_lambda_request *r, const tfa_json_value *root)
{
	tfa_err rc = TFA_OK;
	const tfa_json_value *b = opt(root, "body"), *enc = opt(root, "isBase64Encoded");
	bool b64 = false;
	const char *s;
	size_t n = 0;

	if (enc != NULL) {
		tfa_json_type t = tfa_json_type_of(enc);

		TFA_ENSURE(t == TFA_JSON_TRUE || t == TFA_JSON_FALSE, TFA_EFORMAT,
			   WHAT ": isBase64Encoded is not a boolean");
		b64 = t == TFA_JSON_TRUE;
	}
	if (b == NULL)
		goto out;
	s = tfa_json_string(b, &n);
	TFA_ENSURE(s != NULL, TFA_EFORMAT, WHAT ": body is not a string");
	if (!b64) {
		if (n > TFA_LAMBDA_BODY_MAX) {
			r->body_too_large = true;
			goto out;
		}
		TFA_GUARD(tfa_buf_append(&r->body, s, n));
		goto out;
	}
	if (n / 4 * 3 > TFA_LAMBDA_BODY_MAX + 2) {
		r->body_too_large = true;
		goto out;
	}
	TFA_GUARD(tfa_buf_reserve(&r->body, n / 4 * 3 + 1));
	rc = tfa_b64_decode(r->body.data, n / 4 * 3 + 1, &r->body.len, s, n);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, WHAT ": body is not canonical base64");
	if (r->body.len > TFA_LAMBDA_BODY_MAX) {
		tfa_buf_clear(&r->body);
		r->body_too_large = true;
	}
out:
	return rc;
}

tfa_err tfa_lambda_event_parse(tfa_lambda_request *out, const uint8_t *event, size_t len)
{
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	const tfa_json_value *root, *ctx = NULL, *http = NULL, *auth = NULL, *iam = NULL, *h = NULL;
	char *version = NULL, *method = NULL;

	TFA_ENSURE_ARG(out);
	memset(out, 0, sizeof(*out));
	tfa_buf_init(&out->body, TFA_LAMBDA_BODY_MAX + 4);
	TFA_ENSURE(event != NULL || len == 0, TFA_EUSAGE, "missing argument: event");
	TFA_ENSURE(len <= TFA_LAMBDA_EVENT_MAX, TFA_EFORMAT, WHAT ": larger than %u bytes",
		   TFA_LAMBDA_EVENT_MAX);
	if (tfa_json_parse(&doc, event, len) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, WHAT ": not valid JSON (%s)", tfa_error_last()->message);
	root = tfa_json_root(doc);
	TFA_ENSURE(tfa_json_type_of(root) == TFA_JSON_OBJECT, TFA_EFORMAT,
		   WHAT ": not a JSON object");
	TFA_GUARD(get_str(&version, root, "version", 8, true, "the event"));
	TFA_ENSURE(strcmp(version, "2.0") == 0, TFA_EFORMAT,
		   WHAT ": payload format version is not 2.0");
	TFA_GUARD(need_object(&ctx, root, "requestContext", "the event"));
	TFA_GUARD(need_object(&http, ctx, "http", "requestContext"));
	TFA_GUARD(
	    get_str(&method, http, "method", sizeof(out->method) - 1, true, "requestContext.http"));
	TFA_ENSURE(all_of(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"), TFA_EFORMAT,
		   WHAT ": requestContext.http.method is not an HTTP method");
	memcpy(out->method, method, strlen(method) + 1);
	TFA_GUARD(get_str(&out->path, http, "path", PATH_MAX_, true, "requestContext.http"));
	TFA_ENSURE(out->path[0] == '/', TFA_EFORMAT,
		   WHAT ": requestContext.http.path does not start with '/'");
	TFA_GUARD(get_str(&out->request_id, ctx, "requestId", ID_MAX, false, "requestContext"));

	auth = opt(ctx, "authorizer");
	if (auth != NULL) {
		TFA_ENSURE(tfa_json_type_of(auth) == TFA_JSON_OBJECT, TFA_EFORMAT,
			   WHAT ": requestContext.authorizer is not an object");
		iam = opt(auth, "iam");
		if (iam != NULL) {
			TFA_ENSURE(tfa_json_type_of(iam) == TFA_JSON_OBJECT, TFA_EFORMAT,
				   WHAT ": requestContext.authorizer.iam is not an object");
			TFA_GUARD(parse_iam(&out->iam, iam));
			out->has_iam = true;
		}
	}

	h = opt(root, "headers");
	if (h != NULL) {
		TFA_ENSURE(tfa_json_type_of(h) == TFA_JSON_OBJECT, TFA_EFORMAT,
			   WHAT ": headers is not an object");
		TFA_GUARD(parse_headers(out, h));
	}
	TFA_GUARD(parse_body(out, root));
out:
	free(version);
	free(method);
	tfa_json_free(doc);
	return rc;
}

void tfa_lambda_request_free(tfa_lambda_request *r)
{
	if (r == NULL)
		return;
	free(r->path);
	free(r->request_id);
	free(r->iam.user_arn);
	free(r->iam.account_id);
	free(r->iam.caller_id);
	free(r->iam.user_id);
	free(r->iam.principal_org_id);
	free(r->content_type);
	if (r->id_token != NULL) {
		OPENSSL_cleanse(r->id_token, strlen(r->id_token));
		free(r->id_token);
	}
	tfa_buf_free(&r->body);
	memset(r, 0, sizeof(*r));
}

/* ---- responses ----------------------------------------------------------------------- */

tfa_err tfa_lambda_response(tfa_buf *out, int status, const uint8_t *body, size_t len,
			    int retry_after)
{
	tfa_err rc = TFA_OK;
	cJSON *o = NULL, *h;
	char *text = NULL, *s = NULL, ra[24];

	TFA_ENSURE_ARG(out);
	TFA_ENSURE(status >= 100 && status <= 599, TFA_EUSAGE, "HTTP status %d out of range",
		   status);
	TFA_ENSURE(body != NULL || len == 0, TFA_EUSAGE, "missing argument: body");
	TFA_ENSURE(memchr(body ? (const void *)body : "", '\0', len) == NULL, TFA_EUSAGE,
		   "a Function URL response body cannot hold NUL");
	s = malloc(len + 1);
	TFA_ENSURE(s != NULL, TFA_EINTERNAL, "out of memory");
	if (len > 0)
		memcpy(s, body, len);
	s[len] = '\0';
	o = cJSON_CreateObject();
	TFA_ENSURE(o != NULL, TFA_EINTERNAL, "out of memory");
	TFA_ENSURE(cJSON_AddNumberToObject(o, "statusCode", status) != NULL, TFA_EINTERNAL,
		   "out of memory");
	h = cJSON_AddObjectToObject(o, "headers");
	TFA_ENSURE(h != NULL, TFA_EINTERNAL, "out of memory");
	TFA_ENSURE(cJSON_AddStringToObject(h, "content-type", "application/json") != NULL,
		   TFA_EINTERNAL, "out of memory");
	TFA_ENSURE(cJSON_AddStringToObject(h, "cache-control", "no-store") != NULL, TFA_EINTERNAL,
		   "out of memory");
	if (retry_after > 0) {
		snprintf(ra, sizeof(ra), "%d", retry_after);
		TFA_ENSURE(cJSON_AddStringToObject(h, "retry-after", ra) != NULL, TFA_EINTERNAL,
			   "out of memory");
	}
	TFA_ENSURE(cJSON_AddStringToObject(o, "body", s) != NULL, TFA_EINTERNAL, "out of memory");
	TFA_ENSURE(cJSON_AddFalseToObject(o, "isBase64Encoded") != NULL, TFA_EINTERNAL,
		   "out of memory");
	text = cJSON_PrintUnformatted(o);
	TFA_ENSURE(text != NULL, TFA_EINTERNAL, "out of memory");
	tfa_buf_clear(out);
	TFA_GUARD(tfa_buf_puts(out, text));
out:
	cJSON_free(text);
	cJSON_Delete(o);
	free(s);
	return rc;
}

tfa_err tfa_lambda_error_response(tfa_buf *out, int status, const char *message)
{
	tfa_err rc = TFA_OK;
	cJSON *o = NULL;
	char *text = NULL;

	TFA_ENSURE_ARG(message);
	o = cJSON_CreateObject();
	TFA_ENSURE(o != NULL, TFA_EINTERNAL, "out of memory");
	TFA_ENSURE(cJSON_AddStringToObject(o, "type", "tfattest.error") != NULL &&
		       cJSON_AddStringToObject(o, "error", message) != NULL,
		   TFA_EINTERNAL, "out of memory");
	text = cJSON_PrintUnformatted(o);
	TFA_ENSURE(text != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_lambda_response(out, status, (const uint8_t *)text, strlen(text), 0));
out:
	cJSON_free(text);
	cJSON_Delete(o);
	return rc;
}
