/*
 * Tests for the Function URL event parser and response writer
 * (service/lambda_event.h): a real event shape, each member the service reads
 * in its wrong forms, and responses that parse back.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "service/lambda_event.h"
#include "tfa_test.h"

#define ARN "arn:aws:sts::111122223333:assumed-role/tfattest-ci/GitHubActions"
#define IAM_OK                                                                                     \
	"{\"accessKey\":\"ASIAEXAMPLE\",\"accountId\":\"111122223333\",\"callerId\":"              \
	"\"AROAEXAMPLE:GitHubActions\",\"cognitoIdentity\":null,\"principalOrgId\":\"o-abc123\","  \
	"\"userArn\":\"" ARN "\",\"userId\":\"AROAEXAMPLE:GitHubActions\"}"
#define HDR_OK "{\"content-type\":\"application/json\",\"host\":\"x.lambda-url.eu-west-1.on.aws\"}"

/* A payload 2.0 event with the given parts (each a JSON text, or NULL to leave it out). */
static char *event(const char *method, const char *path, const char *iam, const char *headers,
		   const char *body, const char *b64)
{
	static char buf[1 << 16];
	char auth[4096] = "";
	int n;

	if (iam != NULL)
		snprintf(auth, sizeof(auth), "\"authorizer\":{\"iam\":%s},", iam);
	n = snprintf(buf, sizeof(buf),
		     "{\"version\":\"2.0\",\"routeKey\":\"$default\",\"rawPath\":\"/\","
		     "\"rawQueryString\":\"\",%s%s%s"
		     "\"requestContext\":{\"accountId\":\"anonymous\",\"apiId\":\"abc\",%s"
		     "\"domainName\":\"abc.lambda-url.eu-west-1.on.aws\",\"domainPrefix\":\"abc\","
		     "\"http\":{\"method\":%s,\"path\":%s,\"protocol\":\"HTTP/1.1\","
		     "\"sourceIp\":\"192.0.2.1\",\"userAgent\":\"tfattest\"},"
		     "\"requestId\":\"req-1\",\"routeKey\":\"$default\",\"stage\":\"$default\","
		     "\"time\":\"04/Dec/2026:17:00:00 +0000\",\"timeEpoch\":1796403600000}"
		     "%s%s%s%s}",
		     headers ? "\"headers\":" : "", headers ? headers : "", headers ? "," : "",
		     auth, method, path, body ? ",\"body\":" : "", body ? body : "",
		     b64 ? ",\"isBase64Encoded\":" : "", b64 ? b64 : "");
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		fprintf(stderr, "test event too long\n");
		exit(2);
	}
	return buf;
}

static tfa_err parse(tfa_lambda_request *r, const char *ev)
{
	tfa_error_clear();
	return tfa_lambda_event_parse(r, (const uint8_t *)ev, strlen(ev));
}

static void test_ok(void)
{
	tfa_lambda_request r;

	CHECK_OK(
	    parse(&r, event("\"POST\"", "\"/\"", IAM_OK, HDR_OK, "\"{\\\"a\\\":1}\"", "false")));
	CHECK_STREQ(r.method, "POST");
	CHECK_STREQ(r.path, "/");
	CHECK(r.has_iam);
	CHECK_STREQ(r.iam.user_arn, ARN);
	CHECK_STREQ(r.iam.account_id, "111122223333");
	CHECK_STREQ(r.iam.caller_id, "AROAEXAMPLE:GitHubActions");
	CHECK_STREQ(r.iam.principal_org_id, "o-abc123");
	CHECK_STREQ(r.content_type, "application/json");
	CHECK_STREQ(r.request_id, "req-1");
	CHECK(r.id_token == NULL);
	CHECK(!r.body_too_large);
	CHECK(r.body.len == 7 && memcmp(r.body.data, "{\"a\":1}", 7) == 0);
	tfa_lambda_request_free(&r);

	/* Base64 body, a token header, principalOrgId null, no callerId. */
	CHECK_OK(parse(&r, event("\"POST\"", "\"/v1/record\"",
				 "{\"accountId\":\"111122223333\",\"principalOrgId\":null,"
				 "\"userArn\":\"arn:aws:iam::111122223333:user/ci\"}",
				 "{\"x-tfattest-id-token\":\"eyJ.eyJ.sig-_\"}", "\"eyJhIjoxfQ==\"",
				 "true")));
	CHECK(r.body.len == 7 && memcmp(r.body.data, "{\"a\":1}", 7) == 0);
	CHECK_STREQ(r.id_token, "eyJ.eyJ.sig-_");
	CHECK(r.iam.principal_org_id == NULL && r.iam.caller_id == NULL);
	tfa_lambda_request_free(&r);

	/* No authorizer: parsed, but no identity (the front end refuses it). */
	CHECK_OK(parse(&r, event("\"POST\"", "\"/\"", NULL, NULL, NULL, NULL)));
	CHECK(!r.has_iam && r.body.len == 0);
	tfa_lambda_request_free(&r);

	/* GovCloud partition. */
	CHECK_OK(parse(&r, event("\"GET\"", "\"/health\"",
				 "{\"accountId\":\"111122223333\",\"userArn\":"
				 "\"arn:aws-us-gov:iam::111122223333:role/ci\"}",
				 NULL, NULL, NULL)));
	tfa_lambda_request_free(&r);
}

static void test_body_limits(void)
{
	tfa_lambda_request r;
	static char big[TFA_LAMBDA_BODY_MAX + 16];
	char *ev;

	memset(big, 'a', sizeof(big) - 1);
	big[0] = '"';
	big[TFA_LAMBDA_BODY_MAX + 2] = '"';
	big[TFA_LAMBDA_BODY_MAX + 3] = '\0';
	/* Exactly the cap: kept. */
	{
		static char ok[TFA_LAMBDA_BODY_MAX + 8];
		static char evb[TFA_LAMBDA_BODY_MAX + 4096];

		memset(ok, 'a', sizeof(ok));
		ok[0] = '"';
		ok[TFA_LAMBDA_BODY_MAX + 1] = '"';
		ok[TFA_LAMBDA_BODY_MAX + 2] = '\0';
		snprintf(evb, sizeof(evb),
			 "{\"version\":\"2.0\",\"requestContext\":{\"http\":{\"method\":\"POST\","
			 "\"path\":\"/\"}},\"body\":%s}",
			 ok);
		CHECK_OK(parse(&r, evb));
		CHECK(!r.body_too_large && r.body.len == TFA_LAMBDA_BODY_MAX);
		tfa_lambda_request_free(&r);
		/* One more byte: flagged, not an error (the front end answers 413). */
		snprintf(evb, sizeof(evb),
			 "{\"version\":\"2.0\",\"requestContext\":{\"http\":{\"method\":\"POST\","
			 "\"path\":\"/\"}},\"body\":%s}",
			 big);
		CHECK_OK(parse(&r, evb));
		CHECK(r.body_too_large && r.body.len == 0);
		tfa_lambda_request_free(&r);
	}
	(void)ev;
	/* An event over the Runtime API cap is refused before it is parsed. */
	CHECK_RC(tfa_lambda_event_parse(&r, (const uint8_t *)"{}", TFA_LAMBDA_EVENT_MAX + 1),
		 TFA_EFORMAT);
	tfa_lambda_request_free(&r);
}

static void expect_bad(const char *ev, const char *msg, int line)
{
	tfa_lambda_request r;
	tfa_err rc = parse(&r, ev);

	if (rc != TFA_EFORMAT || strstr(tfa_error_last()->message, msg) == NULL ||
	    strchr(tfa_error_last()->message, '\n') != NULL) {
		fprintf(stderr, "line %d: got %s (%s); wanted EFORMAT with \"%s\"\n", line,
			tfa_err_name(rc), tfa_error_last()->message, msg);
		tfa_test_failures++;
	}
	/* Never a token in a message. */
	CHECK(strstr(tfa_error_last()->message, "SECRETTOKEN") == NULL);
	tfa_lambda_request_free(&r);
}

#define BAD(ev, msg) expect_bad((ev), (msg), __LINE__)

static void test_malformed(void)
{
	BAD("", "not valid JSON");
	BAD("[]", "not a JSON object");
	BAD("{\"version\":\"2.0\",\"version\":\"2.0\"}", "not valid JSON");
	BAD("{\"version\":\"1.0\",\"requestContext\":{}}", "not 2.0");
	BAD("{\"version\":2,\"requestContext\":{}}", "version is not a string");
	BAD("{\"version\":\"2.0\"}", "has no \"requestContext\"");
	BAD("{\"version\":\"2.0\",\"requestContext\":[]}", "requestContext is not an object");
	BAD("{\"version\":\"2.0\",\"requestContext\":{}}", "has no \"http\"");
	BAD(event("\"post\"", "\"/\"", IAM_OK, NULL, NULL, NULL), "not an HTTP method");
	BAD(event("\"POSTPOSTPOST\"", "\"/\"", IAM_OK, NULL, NULL, NULL), "longer than");
	BAD(event("1", "\"/\"", IAM_OK, NULL, NULL, NULL), "method is not a string");
	BAD(event("\"POST\"", "\"x\"", IAM_OK, NULL, NULL, NULL), "does not start with '/'");
	BAD(event("\"POST\"", "\"/\\u0000\"", IAM_OK, NULL, NULL, NULL), "control character");
	BAD(event("\"POST\"", "\"/\\n\"", IAM_OK, NULL, NULL, NULL), "control character");
	BAD(event("\"POST\"", "\"/\"", IAM_OK, "[]", NULL, NULL), "headers is not an object");
	BAD(event("\"POST\"", "\"/\"", IAM_OK, "{\"a\":1}", NULL, NULL), "header value");
	BAD(event("\"POST\"", "\"/\"", IAM_OK, "{\"x-tfattest-id-token\":\"\"}", NULL, NULL),
	    "is empty");
	BAD(event("\"POST\"", "\"/\"", IAM_OK, "{\"x-tfattest-id-token\":\"SECRETTOKEN x\"}", NULL,
		  NULL),
	    "not a compact JWS");
	BAD(event("\"POST\"", "\"/\"", IAM_OK, NULL, "1", NULL), "body is not a string");
	BAD(event("\"POST\"", "\"/\"", IAM_OK, NULL, "\"abc\"", "\"true\""),
	    "isBase64Encoded is not a boolean");
	BAD(event("\"POST\"", "\"/\"", IAM_OK, NULL, "\"ab c\"", "true"), "not canonical base64");
	BAD(event("\"POST\"", "\"/\"", IAM_OK, NULL, "\"YQ\"", "true"), "not canonical base64");
	BAD(event("\"POST\"", "\"/\"", IAM_OK, NULL, "\"YR==\"", "true"), "not canonical base64");
}

static void test_iam(void)
{
#define EV(iam) event("\"POST\"", "\"/\"", (iam), NULL, NULL, NULL)
	BAD("{\"version\":\"2.0\",\"requestContext\":{\"authorizer\":[],\"http\":{\"method\":"
	    "\"POST\",\"path\":\"/\"}}}",
	    "authorizer is not an object");
	BAD(EV("\"x\""), "iam is not an object");
	BAD(EV("{}"), "has no \"userArn\"");
	BAD(EV("{\"userArn\":\"" ARN "\"}"), "has no \"accountId\"");
	BAD(EV("{\"userArn\":\"" ARN "\",\"accountId\":\"11112222333\"}"), "not twelve digits");
	BAD(EV("{\"userArn\":\"" ARN "\",\"accountId\":\"11112222333x\"}"), "not twelve digits");
	BAD(EV("{\"userArn\":\"" ARN "\",\"accountId\":\"999988887777\"}"), "another account");
	BAD(EV("{\"userArn\":\"arn:aws:s3:::bucket\",\"accountId\":\"111122223333\"}"),
	    "not an IAM or STS principal");
	BAD(EV("{\"userArn\":\"arn:aws:iam::111122223333:role/*\",\"accountId\":\"111122223333\"}"),
	    "not an IAM or STS principal");
	BAD(EV("{\"userArn\":\"arn:aws:iam::111122223333:\",\"accountId\":\"111122223333\"}"),
	    "not an IAM or STS principal");
	BAD(EV("{\"userArn\":\"arn:aws:iam::1111222233334:root\",\"accountId\":\"111122223333\"}"),
	    "not an IAM or STS principal");
	BAD(EV("{\"userArn\":\"arn:AWS:iam::111122223333:root\",\"accountId\":\"111122223333\"}"),
	    "not an IAM or STS principal");
	BAD(EV("{\"userArn\":\"arn:aws:iam::111122223333:role/a b\",\"accountId\":"
	       "\"111122223333\"}"),
	    "not an IAM or STS principal");
	BAD(EV("{\"userArn\":1,\"accountId\":\"111122223333\"}"), "userArn is not a string");
	BAD(EV("{\"userArn\":\"" ARN "\",\"accountId\":\"111122223333\",\"callerId\":\"a b\"}"),
	    "callerId has unexpected");
	BAD(EV("{\"userArn\":\"" ARN "\",\"accountId\":\"111122223333\",\"principalOrgId\":1}"),
	    "principalOrgId is not a string");
	BAD(EV("{\"userArn\":\"" ARN "\",\"accountId\":\"111122223333\",\"cognitoIdentity\":"
	       "{\"identityId\":\"x\"}}"),
	    "Cognito identity");
#undef EV
}

static void test_response(void)
{
	tfa_buf out = TFA_BUF_INIT;
	cJSON *o, *h;

	CHECK_OK(tfa_lambda_response(&out, 200, (const uint8_t *)"{\"seq\":1}", 9, 0));
	o = cJSON_ParseWithLength((const char *)out.data, out.len);
	CHECK(o != NULL);
	if (o != NULL) {
		CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "statusCode")) ==
		      200);
		CHECK_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "body")),
			    "{\"seq\":1}");
		CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "isBase64Encoded")));
		h = cJSON_GetObjectItemCaseSensitive(o, "headers");
		CHECK_STREQ(
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "content-type")),
		    "application/json");
		CHECK(cJSON_GetObjectItemCaseSensitive(h, "retry-after") == NULL);
		cJSON_Delete(o);
	}
	CHECK_OK(tfa_lambda_error_response(&out, 503, "store \"busy\"\n"));
	o = cJSON_ParseWithLength((const char *)out.data, out.len);
	CHECK(o != NULL);
	if (o != NULL) {
		cJSON *b =
		    cJSON_Parse(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "body")));

		CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "statusCode")) ==
		      503);
		CHECK_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "error")),
			    "store \"busy\"\n");
		CHECK_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "type")),
			    "tfattest.error");
		cJSON_Delete(b);
		cJSON_Delete(o);
	}
	CHECK_OK(tfa_lambda_response(&out, 503, (const uint8_t *)"{}", 2, 5));
	CHECK(strstr((const char *)out.data, "\"retry-after\":\"5\"") != NULL);
	CHECK_RC(tfa_lambda_response(&out, 99, (const uint8_t *)"{}", 2, 0), TFA_EUSAGE);
	CHECK_RC(tfa_lambda_response(&out, 200, (const uint8_t *)"a\0b", 3, 0), TFA_EUSAGE);
	tfa_buf_free(&out);
}

int main(int argc, char **argv)
{
	static const tfa_test_case cases[] = {
	    {"ok", test_ok},   {"body_limits", test_body_limits}, {"malformed", test_malformed},
	    {"iam", test_iam}, {"response", test_response},	  {NULL, NULL},
	};

	return tfa_test_run(cases, argc, argv);
}
