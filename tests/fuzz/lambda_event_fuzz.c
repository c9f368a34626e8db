/*
 * Fuzz target for the Lambda Function URL event parser.
 *
 * Any input: tfa_lambda_event_parse returns TFA_OK with a request whose
 * strings are NUL-free and within their caps, or TFA_EFORMAT with a one-line
 * message; either way the request frees cleanly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/lambda_event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "lambda_event_fuzz: %s:%d: %s\n", __FILE__, __LINE__,      \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_lambda_request r;
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_lambda_event_parse(&r, data, size);
	if (rc != TFA_OK) {
		const char *m = tfa_error_last()->message;

		REQUIRE(rc == TFA_EFORMAT || rc == TFA_EINTERNAL);
		REQUIRE(m[0] != '\0' && strchr(m, '\n') == NULL);
		tfa_lambda_request_free(&r);
		return 0;
	}
	REQUIRE(r.method[0] != '\0' && r.path != NULL && r.path[0] == '/');
	REQUIRE(r.body.len <= TFA_LAMBDA_BODY_MAX);
	REQUIRE(!r.body_too_large || r.body.len == 0);
	if (r.has_iam) {
		REQUIRE(r.iam.user_arn != NULL && strncmp(r.iam.user_arn, "arn:aws", 7) == 0);
		REQUIRE(strchr(r.iam.user_arn, '*') == NULL && strchr(r.iam.user_arn, '?') == NULL);
		REQUIRE(r.iam.account_id != NULL && strlen(r.iam.account_id) == 12);
		REQUIRE(strstr(r.iam.user_arn, r.iam.account_id) != NULL);
	} else {
		REQUIRE(r.iam.user_arn == NULL);
	}
	if (r.id_token != NULL)
		REQUIRE(strlen(r.id_token) <= TFA_LAMBDA_TOKEN_MAX);
	tfa_lambda_request_free(&r);
	return 0;
}
