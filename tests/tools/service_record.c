/*
 * Drives the service core (tfa_service_record) from the command line, for
 * tests: one request from a file, as the identity given by the arguments.
 *
 *   service_record STORE KEY_URI POLICY REQUEST_FILE METHOD ISSUER SUBJECT
 *                  [AUDIENCE IAT EXP [NAME=VALUE...]]
 *
 * Prints the HTTP status and the reply body on two lines; exits 0 when the
 * reply is 200, 1 for another reply, 2 when the service does not open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfattest/buffer.h"
#include "tfattest/service.h"

int main(int argc, char **argv)
{
	tfa_policy *policy = NULL;
	tfa_service *svc = NULL;
	tfa_service_config cfg;
	tfa_service_reply r;
	tfa_identity who;
	tfa_identity_claim claims[32];
	tfa_buf req;
	int status = 2;

	if (argc < 8 || argc > 11 + 32) {
		fprintf(stderr,
			"usage: service_record STORE KEY POLICY REQUEST METHOD ISSUER SUBJECT "
			"[AUDIENCE IAT EXP [NAME=VALUE...]]\n");
		return 2;
	}
	tfa_buf_init(&req, TFA_SERVICE_REQUEST_MAX + 1);
	memset(&who, 0, sizeof(who));
	who.method = argv[5];
	who.issuer = argv[6];
	who.subject = argv[7];
	if (argc >= 11) {
		who.audience = argv[8];
		who.issued_at = strtoll(argv[9], NULL, 10);
		who.expires_at = strtoll(argv[10], NULL, 10);
		for (int i = 11; i < argc; i++) {
			char *eq = strchr(argv[i], '=');
			if (eq == NULL)
				return 2;
			*eq = '\0';
			claims[who.nclaims].name = argv[i];
			claims[who.nclaims].value = eq + 1;
			who.nclaims++;
		}
		who.claims = claims;
	}
	if (tfa_policy_load(&policy, argv[3]) != TFA_OK ||
	    tfa_buf_read_file(&req, argv[4], TFA_SERVICE_REQUEST_MAX + 1) != TFA_OK) {
		fprintf(stderr, "service_record: %s\n", tfa_error_last()->message);
		goto out;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.store = argv[1];
	cfg.key = argv[2];
	cfg.policy = policy;
	cfg.front_end = strcmp(who.method, "aws-iam") == 0 ? "lambda" : "serve";
	if (tfa_service_open(&svc, &cfg) != TFA_OK) {
		fprintf(stderr, "service_record: %s\n", tfa_error_last()->message);
		goto out;
	}
	if (tfa_service_record(svc, &who, req.data, req.len, &r) != TFA_OK) {
		fprintf(stderr, "service_record: %s\n", tfa_error_last()->message);
		goto out;
	}
	printf("%d\n%.*s\n", r.status, (int)r.body.len, (const char *)r.body.data);
	status = r.status == 200 ? 0 : 1;
	tfa_service_reply_free(&r);
out:
	tfa_service_close(svc);
	tfa_policy_free(policy);
	tfa_buf_free(&req);
	return status;
}
