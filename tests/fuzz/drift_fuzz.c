/*
 * Fuzz target for the readers of a drift check's refresh-only plan
 * (tfa_capture_set_drift) and of the state before a deployment
 * (tfa_capture_set_state_before), both `terraform` output: untrusted.
 *
 * Any input: TFA_OK, or TFA_EFORMAT / TFA_EUSAGE with a one-line message. An
 * accepted input leaves a capture that builds an artifact that parses, whose
 * drift addresses are strings and whose `drifted` says whether there are any.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tfattest/artifact.h"
#include "tfattest/buffer.h"
#include "tfattest/capture.h"
#include "tfattest/signer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "drift_fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond);     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void check_rc(tfa_err rc)
{
	const char *m = tfa_error_last()->message;

	if (rc == TFA_OK)
		return;
	REQUIRE(rc == TFA_EFORMAT || rc == TFA_EUSAGE || rc == TFA_EINTERNAL);
	REQUIRE(m[0] != '\0' && strchr(m, '\n') == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_capture *c = NULL;
	tfa_buf b;
	cJSON *doc, *drift, *addrs, *drifted;
	tfa_err rc;

	tfa_error_clear();
	/* No plan and no state: the capture itself needs nothing from the input. */
	REQUIRE(tfa_capture_new_mem(&c, &(tfa_event){"drift-check", "succeeded", 2}, NULL, 0, NULL,
				    0) == TFA_OK);
	rc = tfa_capture_set_drift(c, data, size);
	check_rc(rc);
	check_rc(tfa_capture_set_state_before(c, data, size));
	tfa_buf_init(&b, 0);
	REQUIRE(tfa_capture_serialize(&b, c) == TFA_OK);
	doc = cJSON_ParseWithLength((const char *)b.data, b.len);
	REQUIRE(doc != NULL);
	drift = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "terraform"),
						 "drift");
	if (rc == TFA_OK) {
		addrs = cJSON_GetObjectItemCaseSensitive(drift, "addresses");
		drifted = cJSON_GetObjectItemCaseSensitive(drift, "drifted");
		REQUIRE(cJSON_IsArray(addrs) && cJSON_IsBool(drifted));
		REQUIRE(cJSON_IsTrue(drifted) == (cJSON_GetArraySize(addrs) > 0));
		for (cJSON *a = addrs->child; a; a = a->next)
			REQUIRE(cJSON_IsString(a));
	}
	cJSON_Delete(doc);
	tfa_buf_free(&b);
	tfa_capture_free(c);
	return 0;
}
