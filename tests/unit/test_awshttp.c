/*
 * The AWS HTTPS layer against tests/aws/fake_aws.py: what goes on the wire,
 * retries and what is not retried, error code / message / request id
 * extraction (JSON and XML), the response size cap, timeouts, and endpoint
 * parsing.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <time.h>

#include "aws/aws.h"
#include "aws_fake.h"
#include "tfa_test.h"

#define SECRET "fakeSecretKeyForTheHttpTest0123456789abcd"
#define TOKEN  "FakeSessionTokenForTheHttpTest/+==zz9"

static aws_fake fake;

static tfa_aws_client *client(const char *service, unsigned attempts, long timeout_ms)
{
	tfa_aws_client *c = NULL;
	tfa_aws_client_opts o = {.service = service,
				 .region = "eu-west-1",
				 .endpoint = fake.base,
				 .max_attempts = attempts,
				 .timeout_ms = timeout_ms};

	CHECK_OK(tfa_aws_client_new(&c, &o));
	return c;
}

static cJSON *last_request(void)
{
	char *s = aws_fake_log(&fake);
	cJSON *j = cJSON_Parse(s), *last = NULL;

	free(s);
	if (cJSON_GetArraySize(j) > 0)
		last = cJSON_DetachItemFromArray(j, cJSON_GetArraySize(j) - 1);
	cJSON_Delete(j);
	return last;
}

static const char *hdr(const cJSON *req, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(req, "headers"), name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Messages and errors never carry the secret key or the token. */
static void check_no_secret(void)
{
	CHECK(strstr(tfa_error_last()->message, SECRET) == NULL);
	CHECK(strstr(tfa_error_last()->message, TOKEN) == NULL);
	CHECK(strstr(tfa_error_last()->detail, SECRET) == NULL);
}

static void test_json_call_on_the_wire(void)
{
	tfa_aws_client *c = client("kms", 0, 0);
	tfa_aws_response r;
	cJSON *req;
	const char *a;

	aws_fake_reset(&fake);
	aws_fake_script(&fake, "[{\"status\":200,\"body\":{\"KeyId\":\"k\"},"
			       "\"headers\":{\"x-amzn-RequestId\":\"rid-ok-1\"}}]");
	CHECK_OK(tfa_aws_json_call(&r, c, "TrentService.Sign", "1.1", "{\"a\":1}", 7));
	CHECK(r.status == 200);
	CHECK_STREQ(r.request_id, "rid-ok-1");
	CHECK_STREQ(r.error_code, "");
	CHECK(r.body.len == 14 && memcmp(r.body.data, "{\"KeyId\": \"k", 12) == 0);
	tfa_aws_response_free(&r);
	req = last_request();
	CHECK_STREQ(cJSON_GetObjectItemCaseSensitive(req, "method")->valuestring, "POST");
	CHECK_STREQ(cJSON_GetObjectItemCaseSensitive(req, "path")->valuestring, "/");
	CHECK_STREQ(cJSON_GetObjectItemCaseSensitive(req, "body")->valuestring, "{\"a\":1}");
	CHECK_STREQ(hdr(req, "content-type"), "application/x-amz-json-1.1");
	CHECK_STREQ(hdr(req, "x-amz-target"), "TrentService.Sign");
	CHECK_STREQ(hdr(req, "host"), fake.base + 7);
	CHECK(hdr(req, "x-amz-date") != NULL && strlen(hdr(req, "x-amz-date")) == 16);
	CHECK_STREQ(hdr(req, "x-amz-security-token"), TOKEN);
	CHECK(hdr(req, "expect") == NULL);
	a = hdr(req, "authorization");
	CHECK(a != NULL && strncmp(a, "AWS4-HMAC-SHA256 Credential=AKIDHTTPTEST/", 41) == 0);
	CHECK(a != NULL &&
	      strstr(a, "/eu-west-1/kms/aws4_request, SignedHeaders=content-type;host;"
			"x-amz-date;x-amz-security-token;x-amz-target, Signature=") != NULL);
	CHECK(a != NULL && strstr(a, SECRET) == NULL);
	cJSON_Delete(req);
	tfa_aws_client_free(c);
}

static void test_s3_payload_hash_header(void)
{
	tfa_aws_client *c = client("s3", 0, 0);
	tfa_aws_response r;
	const tfa_aws_header h[] = {{"x-amz-object-lock-mode", "COMPLIANCE"}};
	cJSON *req;

	aws_fake_reset(&fake);
	aws_fake_script(&fake, "[{\"status\":200,\"headers\":{\"ETag\":\"\\\"abc\\\"\","
			       "\"x-amz-request-id\":\"s3rid\"}}]");
	CHECK_OK(tfa_aws_call(&r, c, "s3 PutObject", "PUT", "/bucket/a%20b", "", h, 1,
			      (const uint8_t *)"hello", 5));
	CHECK_STREQ(r.etag, "\"abc\"");
	CHECK_STREQ(r.request_id, "s3rid");
	tfa_aws_response_free(&r);
	req = last_request();
	CHECK_STREQ(cJSON_GetObjectItemCaseSensitive(req, "method")->valuestring, "PUT");
	CHECK_STREQ(cJSON_GetObjectItemCaseSensitive(req, "path")->valuestring, "/bucket/a%20b");
	CHECK_STREQ(hdr(req, "x-amz-content-sha256"),
		    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
	CHECK_STREQ(hdr(req, "x-amz-object-lock-mode"), "COMPLIANCE");
	CHECK(strstr(hdr(req, "authorization"), "x-amz-content-sha256;x-amz-date;") != NULL);
	/* No default form content type is added to a body the caller did not type. */
	CHECK(hdr(req, "content-type") == NULL);
	cJSON_Delete(req);
	tfa_aws_client_free(c);
}

static void test_retries_then_success(void)
{
	tfa_aws_client *c = client("dynamodb", 5, 0);
	tfa_aws_response r;

	aws_fake_reset(&fake);
	aws_fake_script(&fake,
			"[{\"status\":429,\"body\":\"\"},"
			"{\"status\":500,\"body\":{\"__type\":\"InternalServerError\"}},"
			"{\"status\":503,\"body\":\"\"},"
			"{\"status\":400,\"body\":{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
			"ProvisionedThroughputExceededException\",\"message\":\"slow down\"}},"
			"{\"status\":200,\"body\":{}}]");
	CHECK_OK(tfa_aws_json_call(&r, c, "DynamoDB_20120810.GetItem", "1.0", "{}", 2));
	CHECK(aws_fake_count(&fake) == 5);
	tfa_aws_response_free(&r);
	tfa_aws_client_free(c);
}

static void test_not_retried(void)
{
	static const char *const codes[] = {"AccessDeniedException", "ExpiredTokenException",
					    "ExpiredToken", "RequestExpired",
					    "ValidationException"};
	tfa_aws_client *c = client("kms", 5, 0);
	tfa_aws_response r;
	char script[512], want[256];

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		aws_fake_reset(&fake);
		snprintf(script, sizeof(script),
			 "[{\"status\":400,\"body\":{\"__type\":\"com.amazon.coral#%s\","
			 "\"Message\":\"no way\"},\"headers\":{\"x-amzn-RequestId\":\"rid-%zu\"}},"
			 "{\"status\":200,\"body\":{}}]",
			 codes[i], i);
		aws_fake_script(&fake, script);
		CHECK_RC(tfa_aws_json_call(&r, c, "TrentService.Sign", "1.1", "{}", 2),
			 TFA_EBACKEND);
		CHECK_STREQ(r.error_code, codes[i]);
		CHECK_STREQ(r.error_message, "no way");
		CHECK(r.status == 400);
		snprintf(want, sizeof(want), "kms Sign: %s: no way (HTTP 400, request id rid-%zu)",
			 codes[i], i);
		CHECK_STREQ(tfa_error_last()->message, want);
		CHECK(aws_fake_count(&fake) == 1);
		check_no_secret();
		tfa_aws_response_free(&r);
	}
	tfa_aws_client_free(c);
}

static void test_gives_up(void)
{
	tfa_aws_client *c = client("kms", 3, 0);
	tfa_aws_response r;

	aws_fake_reset(&fake);
	aws_fake_script(&fake,
			"[{\"status\":400,\"body\":{\"__type\":\"ThrottlingException\","
			"\"message\":\"Rate exceeded\"},\"headers\":{\"x-amzn-RequestId\":\"t1\"},"
			"\"repeat\":5}]");
	CHECK_RC(tfa_aws_json_call(&r, c, "TrentService.Sign", "1.1", "{}", 2), TFA_EBACKEND);
	CHECK_STREQ(tfa_error_last()->message,
		    "kms Sign: ThrottlingException: Rate exceeded "
		    "(HTTP 400, request id t1; gave up after 3 attempts)");
	CHECK(aws_fake_count(&fake) == 3);
	tfa_aws_response_free(&r);
	tfa_aws_client_free(c);
}

static void test_conflict_and_not_found(void)
{
	tfa_aws_client *c = client("dynamodb", 0, 0);
	tfa_aws_client *s3 = client("s3", 0, 0);
	tfa_aws_response r;

	aws_fake_reset(&fake);
	aws_fake_script(&fake, "[{\"status\":400,\"body\":{\"__type\":\"com.amazonaws.dynamodb."
			       "v20120810#ConditionalCheckFailedException\",\"message\":\"The "
			       "conditional request failed\"}}]");
	CHECK_RC(tfa_aws_json_call(&r, c, "DynamoDB_20120810.PutItem", "1.0", "{}", 2),
		 TFA_ECONFLICT);
	CHECK(tfa_error_last()->code == TFA_ECONFLICT);
	CHECK_STREQ(r.error_code, "ConditionalCheckFailedException");
	tfa_aws_response_free(&r);
	aws_fake_script(&fake, "[{\"status\":404,\"body\":\"<?xml version=\\\"1.0\\\"?><Error>"
			       "<Code>NoSuchKey</Code><Message>The specified key does not exist."
			       "</Message><Key>k</Key><RequestId>S3RID42</RequestId></Error>\"}]");
	CHECK_RC(tfa_aws_call(&r, s3, "s3 GetObject", "GET", "/b/k", "", NULL, 0, NULL, 0),
		 TFA_ENOTFOUND);
	CHECK_STREQ(r.error_code, "NoSuchKey");
	CHECK_STREQ(r.request_id, "S3RID42");
	CHECK_STREQ(tfa_error_last()->message,
		    "s3 GetObject: NoSuchKey: The specified key does not "
		    "exist. (HTTP 404, request id S3RID42)");
	tfa_aws_response_free(&r);
	/* A HEAD has no body: the status names the error. */
	aws_fake_script(&fake, "[{\"status\":404}]");
	CHECK_RC(tfa_aws_call(&r, s3, "s3 HeadObject", "HEAD", "/b/k", "", NULL, 0, NULL, 0),
		 TFA_ENOTFOUND);
	CHECK_STREQ(r.error_code, "NotFound");
	tfa_aws_response_free(&r);
	/* KMS says NotFoundException with HTTP 400. */
	aws_fake_script(&fake, "[{\"status\":400,\"body\":{\"__type\":\"NotFoundException\"}}]");
	CHECK_RC(tfa_aws_json_call(&r, c, "TrentService.Sign", "1.1", "{}", 2), TFA_ENOTFOUND);
	tfa_aws_response_free(&r);
	/* An error type in the x-amzn-ErrorType header when the body has none. */
	aws_fake_script(&fake, "[{\"status\":400,\"headers\":{\"x-amzn-ErrorType\":"
			       "\"AccessDeniedException:http://internal.amazon.com/\"}}]");
	CHECK_RC(tfa_aws_json_call(&r, c, "TrentService.Sign", "1.1", "{}", 2), TFA_EBACKEND);
	CHECK_STREQ(r.error_code, "AccessDeniedException");
	tfa_aws_response_free(&r);
	tfa_aws_client_free(c);
	tfa_aws_client_free(s3);
}

static void test_timeout_and_size_cap(void)
{
	tfa_aws_client *c = client("kms", 2, 300);
	tfa_aws_response r;
	struct timespec t0, t1;
	double secs;

	aws_fake_reset(&fake);
	aws_fake_script(&fake, "[{\"status\":200,\"delay\":1.5,\"repeat\":2}]");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_RC(tfa_aws_json_call(&r, c, "TrentService.Sign", "1.1", "{}", 2), TFA_EIO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(secs >= 0.6 && secs < 2.5);
	CHECK(r.status == 0);
	CHECK(strstr(tfa_error_last()->message, "kms Sign: timed out (host 127.0.0.1:") != NULL);
	CHECK(strstr(tfa_error_last()->message, ", curl 28; gave up after 2 attempts)") != NULL);
	tfa_aws_response_free(&r);
	/* A timeout, then an answer. */
	aws_fake_script(&fake, "[{\"status\":200,\"delay\":1.5},{\"status\":200,\"body\":{}}]");
	CHECK_OK(tfa_aws_json_call(&r, c, "TrentService.Sign", "1.1", "{}", 2));
	tfa_aws_response_free(&r);
	tfa_aws_client_free(c);
	c = client("kms", 3, 0);
	aws_fake_reset(&fake);
	aws_fake_script(&fake, "[{\"status\":200,\"body_size\":16777217}]");
	CHECK_RC(tfa_aws_json_call(&r, c, "TrentService.Sign", "1.1", "{}", 2), TFA_EBACKEND);
	CHECK(strstr(tfa_error_last()->message, "larger than 16777216 bytes") != NULL);
	CHECK(aws_fake_count(&fake) == 1);
	tfa_aws_response_free(&r);
	tfa_aws_client_free(c);
}

static void test_connection_refused(void)
{
	tfa_aws_timeouts t = {500, 1000, 2};
	tfa_aws_response r;

	/* Port 1 on loopback: nothing listens. */
	CHECK_RC(
	    tfa_aws_http_plain(&r, &t, "sts X", "GET", "http://127.0.0.1:1/", NULL, 0, NULL, 0),
	    TFA_EIO);
	CHECK(strstr(tfa_error_last()->message, "sts X: ") == tfa_error_last()->message);
	CHECK(strstr(tfa_error_last()->message, "gave up after 2 attempts") != NULL);
	/* The host and curl's code are named. */
	CHECK(strstr(tfa_error_last()->message, "(host 127.0.0.1:1, curl 7;") != NULL);
	tfa_aws_response_free(&r);
}

static void test_endpoint_parse(void)
{
	static const char *const badv[] = {
	    "ftp://h",	  "https://",	  "https://h/path", "https://u@h", "https://h:99999",
	    "https://h:", "https://h:8x", "h:443",	    "https://h?x", "https://h h"};
	char host[256];
	bool https;

	CHECK_OK(tfa_aws_endpoint_parse("https://kms.eu-west-1.amazonaws.com:443/", &https, host,
					sizeof(host)));
	CHECK(https);
	CHECK_STREQ(host, "kms.eu-west-1.amazonaws.com");
	CHECK_OK(tfa_aws_endpoint_parse("http://127.0.0.1:8080", &https, host, sizeof(host)));
	CHECK(!https);
	CHECK_STREQ(host, "127.0.0.1:8080");
	CHECK_OK(tfa_aws_endpoint_parse("http://localhost:80", &https, host, sizeof(host)));
	CHECK_STREQ(host, "localhost");
	CHECK_OK(tfa_aws_endpoint_parse("https://[::1]:8443", &https, host, sizeof(host)));
	CHECK_STREQ(host, "[::1]:8443");
	for (size_t i = 0; i < sizeof(badv) / sizeof(badv[0]); i++) {
		tfa_err rc = tfa_aws_endpoint_parse(badv[i], &https, host, sizeof(host));
		if (rc != TFA_EUSAGE)
			fprintf(stderr, "  accepted endpoint %s\n", badv[i]);
		CHECK(rc == TFA_EUSAGE);
	}
}

static void test_options(void)
{
	tfa_aws_client *c = NULL;
	tfa_aws_client_opts o = {.service = "kms", .region = "eu-west-1", .endpoint = fake.base};

	setenv("TFATTEST_AWS_MAX_ATTEMPTS", "0", 1);
	CHECK_RC(tfa_aws_client_new(&c, &o), TFA_EUSAGE);
	setenv("TFATTEST_AWS_MAX_ATTEMPTS", "3x", 1);
	CHECK_RC(tfa_aws_client_new(&c, &o), TFA_EUSAGE);
	unsetenv("TFATTEST_AWS_MAX_ATTEMPTS");
	setenv("TFATTEST_AWS_TIMEOUT_MS", "-5", 1);
	CHECK_RC(tfa_aws_client_new(&c, &o), TFA_EUSAGE);
	unsetenv("TFATTEST_AWS_TIMEOUT_MS");
	setenv("TFATTEST_AWS_RETRY_BASE_MS", "many", 1);
	CHECK_RC(tfa_aws_client_new(&c, &o), TFA_EUSAGE);
	setenv("TFATTEST_AWS_RETRY_BASE_MS", "5", 1);
	o.region = "EU WEST";
	CHECK_RC(tfa_aws_client_new(&c, &o), TFA_EUSAGE);
	o.region = NULL;
	CHECK_RC(tfa_aws_client_new(&c, &o), TFA_EUSAGE);
	o.region = "eu-west-1";
	o.endpoint = "https://h/with/path";
	CHECK_RC(tfa_aws_client_new(&c, &o), TFA_EUSAGE);
	CHECK(c == NULL);
	o.endpoint = fake.base;
	CHECK_OK(tfa_aws_client_new(&c, &o));
	tfa_aws_client_free(c);
	tfa_aws_client_free(NULL);
	tfa_aws_response_free(NULL);
}

static void setup(void)
{
	fake.dir = tfa_test_tmpdir();
	aws_fake_write_creds(&fake, "unused", "unused", "unused", "2030-01-01T00:00:00Z");
	tfa_test_put_file(fake.dir, "web.token", "x", 1);
	tfa_test_put_file(fake.dir, "ecs.token", "x", 1);
	aws_fake_start(&fake);
	setenv("AWS_ACCESS_KEY_ID", "AKIDHTTPTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	setenv("AWS_SESSION_TOKEN", TOKEN, 1);
	setenv("TFATTEST_AWS_RETRY_BASE_MS", "5", 1);
	unsetenv("AWS_CA_BUNDLE");
}

static void test_start(void)
{
	setup();
	CHECK(fake.pid > 0);
}

static void test_stop(void)
{
	aws_fake_stop(&fake);
	tfa_test_rmtree(fake.dir);
	free(fake.dir);
}

TFA_TEST_MAIN(T(test_start), T(test_json_call_on_the_wire), T(test_s3_payload_hash_header),
	      T(test_retries_then_success), T(test_not_retried), T(test_gives_up),
	      T(test_conflict_and_not_found), T(test_timeout_and_size_cap),
	      T(test_connection_refused), T(test_endpoint_parse), T(test_options), T(test_stop))
