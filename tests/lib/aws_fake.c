/* Starts and drives tests/aws/fake_aws.py for the AWS plumbing's unit tests. */
#include "aws_fake.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aws/transport.h"
#include "tfa_test.h"

static const tfa_aws_timeouts ctl_t = {2000, 10000, 1};

void aws_fake_write_creds(aws_fake *f, const char *akid, const char *secret, const char *token,
			  const char *expiration)
{
	char buf[2048];
	int n = snprintf(buf, sizeof(buf),
			 "{\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\",\"Token\":\"%s\","
			 "\"Expiration\":\"%s\"}",
			 akid, secret, token, expiration);

	tfa_test_put_file(f->dir, "creds.json", buf, (size_t)n);
}

void aws_fake_start(aws_fake *f)
{
	const char *src = getenv("TFA_SOURCE_DIR");
	char *script, *portf, *creds, *web, *ecs;
	char *port = NULL;

	if (src == NULL) {
		fprintf(stderr, "TFA_SOURCE_DIR is not set\n");
		exit(1);
	}
	script = tfa_test_path(src, "tests/aws/fake_aws.py");
	portf = tfa_test_path(f->dir, "port");
	creds = tfa_test_path(f->dir, "creds.json");
	web = tfa_test_path(f->dir, "web.token");
	ecs = tfa_test_path(f->dir, "ecs.token");
	unlink(portf);
	f->pid = fork();
	if (f->pid == 0) {
		execl("/usr/bin/python3", "python3", script, "--port-file", portf, "--creds-file",
		      creds, "--web-token-file", web, "--ecs-token-file", ecs, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && port == NULL; i++) {
		struct timespec ts = {0, 50 * 1000000L};
		if (access(portf, R_OK) == 0)
			port = tfa_test_get_file(f->dir, "port", NULL);
		else
			nanosleep(&ts, NULL);
	}
	if (port == NULL) {
		fprintf(stderr, "fake_aws.py did not start\n");
		exit(1);
	}
	snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%s", port);
	free(port);
	free(script);
	free(portf);
	free(creds);
	free(web);
	free(ecs);
}

void aws_fake_stop(aws_fake *f)
{
	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		waitpid(f->pid, NULL, 0);
		f->pid = 0;
	}
}

static void post(aws_fake *f, const char *path, const char *body)
{
	char url[128];
	tfa_aws_response r;

	snprintf(url, sizeof(url), "%s%s", f->base, path);
	if (tfa_aws_http_plain(&r, &ctl_t, "fake control", "POST", url, NULL, 0,
			       (const uint8_t *)body, strlen(body)) != TFA_OK) {
		fprintf(stderr, "fake control %s failed: %s\n", path, tfa_error_last()->message);
		exit(1);
	}
	tfa_aws_response_free(&r);
}

void aws_fake_script(aws_fake *f, const char *json)
{
	post(f, "/__script", json);
}

void aws_fake_reset(aws_fake *f)
{
	post(f, "/__reset", "{}");
}

char *aws_fake_log(aws_fake *f)
{
	char url[128];
	tfa_aws_response r;
	char *s;

	snprintf(url, sizeof(url), "%s/__log", f->base);
	if (tfa_aws_http_plain(&r, &ctl_t, "fake log", "GET", url, NULL, 0, NULL, 0) != TFA_OK) {
		fprintf(stderr, "fake log failed: %s\n", tfa_error_last()->message);
		exit(1);
	}
	s = strndup(r.body.data ? (const char *)r.body.data : "[]", r.body.len ? r.body.len : 2);
	tfa_aws_response_free(&r);
	return s;
}

int aws_fake_count(aws_fake *f)
{
	char *s = aws_fake_log(f);
	cJSON *j = cJSON_Parse(s);
	int n = cJSON_GetArraySize(j);

	cJSON_Delete(j);
	free(s);
	return n;
}
