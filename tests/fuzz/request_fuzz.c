/*
 * Fuzz target for the service's record-request parser (tfa_svc_request_parse)
 * and the capture built from an accepted request (tfa_capture_from_request).
 *
 * Any input: TFA_OK with a chain id, an idempotency key and a known event
 * type, or TFA_EFORMAT with a one-line message and nothing held. An accepted
 * request always makes a capture whose context is marked as claimed by the
 * client, whose idempotency key is the request's, and whose digest exists.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/request.h"
#include "tfattest/artifact.h"
#include "tfattest/capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "request_fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_svc_request rq;
	tfa_capture *c = NULL;
	uint8_t d[TFA_SHA256_LEN];
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_svc_request_parse(&rq, data, size);
	if (rc != TFA_OK) {
		const char *m = tfa_error_last()->message;
		REQUIRE(rc == TFA_EFORMAT || rc == TFA_EINTERNAL);
		REQUIRE(rq.doc == NULL);
		REQUIRE(m[0] != '\0' && strchr(m, '\n') == NULL);
		return 0;
	}
	REQUIRE(tfa_chain_id_check(rq.chain_id, strlen(rq.chain_id)) == TFA_OK);
	REQUIRE(tfa_idempotency_key_check(rq.idempotency_key, strlen(rq.idempotency_key)) ==
		TFA_OK);
	REQUIRE(tfa_event_type_known(rq.event));
	REQUIRE(tfa_capture_from_request(&c, data, size) == TFA_OK);
	REQUIRE(strcmp(tfa_capture_idempotency_key(c), rq.idempotency_key) == 0);
	REQUIRE(strcmp(tfa_capture_event_type(c), rq.event) == 0);
	REQUIRE(tfa_capture_digest(d, c) == TFA_OK);
	tfa_capture_free(c);
	tfa_svc_request_free(&rq);
	return 0;
}
