/*
 * Tests for the Lambda front end's loop (service/lambda.h) and the Runtime
 * API client, against tests/service/lambda_runtime_double.py: every
 * invocation answered once, with the right kind (response or error) and
 * status, and the front end's own refusals made before the handler runs.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "service/lambda.h"
#include "tfa_test.h"

#define ARN "arn:aws:sts::111122223333:assumed-role/tfattest-ci/GitHubActions"

static int g_calls;

/* Answers 200 with the subject it was given, or 503 when the body asks for it. */
static tfa_err fake_handler(void *ud, const tfa_lambda_request *req, tfa_lambda_answer *ans)
{
	(void)ud;
	g_calls++;
	if (req->body.len == 4 && memcmp(req->body.data, "busy", 4) == 0) {
		ans->status = 503;
		ans->retry_after = 2;
		snprintf(ans->outcome, sizeof(ans->outcome), "unavailable");
		return tfa_buf_puts(&ans->body, "{\"type\":\"tfattest.error\",\"error\":\"busy\"}");
	}
	ans->status = 200;
	snprintf(ans->outcome, sizeof(ans->outcome), "recorded");
	return tfa_buf_printf(&ans->body, "{\"type\":\"tfattest.record-reply\",\"subject\":\"%s\"}",
			      req->iam.user_arn);
}

/* Starts the double with a plan; returns its pid and the Runtime API address. */
static pid_t start_double(const char *dir, const char *plan, char *api, size_t apisz,
			  const char *extra)
{
	const char *src = getenv("TFA_SOURCE_DIR");
	char *script, *pf, *pp, *rp, *port = NULL;
	pid_t pid;

	if (src == NULL) {
		fprintf(stderr, "TFA_SOURCE_DIR is not set\n");
		exit(2);
	}
	tfa_test_put_file(dir, "plan.json", plan, strlen(plan));
	script = tfa_test_path(src, "tests/service/lambda_runtime_double.py");
	pf = tfa_test_path(dir, "port");
	pp = tfa_test_path(dir, "plan.json");
	rp = tfa_test_path(dir, "result.json");
	pid = fork();
	if (pid < 0)
		exit(2);
	if (pid == 0) {
		execl("/usr/bin/python3", "python3", script, "--port-file", pf, "--plan", pp,
		      "--result", rp, "--timeout", "30", extra, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 400 && port == NULL; i++) {
		struct timespec ts = {0, 25 * 1000000L};

		if (access(pf, R_OK) == 0)
			port = tfa_test_get_file(dir, "port", NULL);
		else
			nanosleep(&ts, NULL);
	}
	if (port == NULL) {
		fprintf(stderr, "lambda_runtime_double.py did not start\n");
		kill(pid, SIGTERM);
		exit(2);
	}
	snprintf(api, apisz, "127.0.0.1:%s", port);
	free(port);
	free(script);
	free(pf);
	free(pp);
	free(rp);
	return pid;
}

/* Waits for the double's verdict; prints its failures. */
static int double_verdict(pid_t pid, const char *dir)
{
	int st = 0;
	char *res;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	res = tfa_test_get_file(dir, "result.json", NULL);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fprintf(stderr, "runtime double result: %s\n", res);
	free(res);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_loop(void)
{
	static const char plan[] =
	    "{\"events\":["
	    "{\"name\":\"ok\",\"arn\":\"" ARN "\",\"body\":\"{}\","
	    " \"expect\":{\"kind\":\"response\",\"status\":200,"
	    "  \"reply_type\":\"tfattest.record-reply\"}},"
	    "{\"name\":\"ok-v1-base64\",\"arn\":\"" ARN "\",\"body\":\"{}\",\"base64\":true,"
	    " \"path\":\"/v1/records\",\"expect\":{\"status\":200}},"
	    "{\"name\":\"busy\",\"arn\":\"" ARN "\",\"body\":\"busy\","
	    " \"expect\":{\"status\":503,\"error_has\":\"busy\"}},"
	    "{\"name\":\"no-iam\",\"arn\":null,\"body\":\"{}\","
	    " \"expect\":{\"status\":403,\"error_has\":\"AWS_IAM\"}},"
	    "{\"name\":\"too-large\",\"arn\":\"" ARN "\",\"body_size\":262145,"
	    " \"expect\":{\"status\":413,\"error_has\":\"larger than 262144\"}},"
	    "{\"name\":\"get\",\"arn\":\"" ARN "\",\"method\":\"GET\","
	    " \"expect\":{\"status\":405}},"
	    "{\"name\":\"other-path\",\"arn\":\"" ARN "\",\"path\":\"/admin\",\"body\":\"{}\","
	    " \"expect\":{\"status\":404}},"
	    "{\"name\":\"text-body\",\"arn\":\"" ARN "\",\"body\":\"{}\","
	    " \"headers\":{\"content-type\":\"text/plain\"},\"expect\":{\"status\":415}},"
	    "{\"name\":\"not-an-event\",\"raw\":\"{\\\"version\\\":\\\"1.0\\\"}\","
	    " \"expect\":{\"kind\":\"error\",\"error_type\":\"tfattest.InvalidEvent\","
	    "  \"error_has\":\"not 2.0\"}},"
	    "{\"name\":\"bad-arn\",\"arn\":\"arn:aws:s3:::bucket\",\"account\":\"111122223333\","
	    " \"body\":\"{}\",\"expect\":{\"kind\":\"error\",\"error_has\":\"principal ARN\"}}"
	    "]}";
	char *dir = tfa_test_tmpdir(), api[64];
	pid_t pid = start_double(dir, plan, api, sizeof(api), "--timeout=30");
	tfa_lambda_runtime *rt = NULL;

	g_calls = 0;
	CHECK_OK(tfa_lambda_runtime_new(&rt, api));
	CHECK_OK(tfa_lambda_serve(rt, fake_handler, NULL, 10, NULL));
	/* Only the three requests that passed the front end reached the handler. */
	CHECK(g_calls == 3);
	/* The double then ends, and the held poll fails: the runtime's cue to exit. */
	CHECK(double_verdict(pid, dir) == 0);
	CHECK_RC(tfa_lambda_serve(rt, fake_handler, NULL, 0, NULL), TFA_EIO);
	tfa_lambda_runtime_free(rt);
	free(dir);
}

static void test_init_error(void)
{
	char *dir = tfa_test_tmpdir(), api[64];
	pid_t pid = start_double(dir, "{\"events\":[]}", api, sizeof(api), "--expect-init-error");
	tfa_lambda_runtime *rt = NULL;

	CHECK_OK(tfa_lambda_runtime_new(&rt, api));
	CHECK_OK(
	    tfa_lambda_runtime_fail(rt, NULL, "tfattest.ConfigError", "TFATTEST_KEY is not set"));
	CHECK(double_verdict(pid, dir) == 0);
	tfa_lambda_runtime_free(rt);
	free(dir);
}

static void test_args(void)
{
	tfa_lambda_runtime *rt = NULL;

	CHECK_RC(tfa_lambda_runtime_new(&rt, NULL), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "AWS_LAMBDA_RUNTIME_API") != NULL);
	CHECK_RC(tfa_lambda_runtime_new(&rt, "127.0.0.1:9001/x"), TFA_EUSAGE);
	CHECK_RC(tfa_lambda_runtime_new(&rt, "user@host:1"), TFA_EUSAGE);
	CHECK_RC(tfa_lambda_runtime_new(&rt, "127.0.0.1:"), TFA_EUSAGE);
	CHECK_RC(tfa_lambda_runtime_new(&rt, "127.0.0.1"), TFA_EUSAGE);
	CHECK_RC(tfa_lambda_runtime_new(&rt, ":9001"), TFA_EUSAGE);
	CHECK_RC(tfa_lambda_runtime_new(&rt, "127.0.0.1:900100"), TFA_EUSAGE);
	CHECK(rt == NULL);
	CHECK_OK(tfa_lambda_runtime_new(&rt, "127.0.0.1:1"));
	/* Request ids go into URL paths: nothing but [A-Za-z0-9._-]. */
	CHECK_RC(tfa_lambda_runtime_respond(rt, "../init/error", (const uint8_t *)"{}", 2),
		 TFA_EUSAGE);
	CHECK_RC(tfa_lambda_runtime_fail(rt, "a/b", "x", "y"), TFA_EUSAGE);
	CHECK_RC(tfa_lambda_runtime_fail(rt, "abc", "bad type\r\nX: y", "y"), TFA_EUSAGE);
	/* Nothing listens on port 1. */
	{
		tfa_lambda_invocation inv;

		CHECK_RC(tfa_lambda_runtime_next(rt, &inv), TFA_EIO);
		CHECK(inv.event.data == NULL);
	}
	tfa_lambda_runtime_free(rt);
}

int main(int argc, char **argv)
{
	static const tfa_test_case cases[] = {
	    {"loop", test_loop},
	    {"init_error", test_init_error},
	    {"args", test_args},
	    {NULL, NULL},
	};

	return tfa_test_run(cases, argc, argv);
}
