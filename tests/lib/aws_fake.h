/* Starts and drives tests/aws/fake_aws.py (fake STS, ECS, IMDS and scripted answers). */
#ifndef TFA_AWS_FAKE_H
#define TFA_AWS_FAKE_H

#include <sys/types.h>

typedef struct aws_fake {
	pid_t pid;
	char *dir;     /* work directory: creds.json, web.token, ecs.token, port */
	char base[64]; /* "http://127.0.0.1:PORT" */
} aws_fake;

/* The credentials the fake serves (written to dir/creds.json); expiration as ISO 8601. */
void aws_fake_write_creds(aws_fake *f, const char *akid, const char *secret, const char *token,
			  const char *expiration);

/* Starts the server; exits the test program on failure. */
void aws_fake_start(aws_fake *f);
void aws_fake_stop(aws_fake *f);

/* POST /__script with a JSON list of answers; POST /__reset. */
void aws_fake_script(aws_fake *f, const char *json);
void aws_fake_reset(aws_fake *f);

/* GET /__log, malloc'd JSON text. */
char *aws_fake_log(aws_fake *f);

/* Number of requests in the log. */
int aws_fake_count(aws_fake *f);

#endif
