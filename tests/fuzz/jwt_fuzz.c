/*
 * Fuzz target for the ID-token payload decoder.
 *
 * Any input: tfa_jwt_payload returns TFA_OK with a JSON object, or
 * TFA_EFORMAT with a one-line message and no object.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/oidc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "jwt_fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *o = (cJSON *)1;
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_jwt_payload(&o, (const char *)data, size);
	if (rc != TFA_OK) {
		const char *m = tfa_error_last()->message;
		REQUIRE(rc == TFA_EFORMAT);
		REQUIRE(o == NULL);
		REQUIRE(m[0] != '\0' && strchr(m, '\n') == NULL);
		return 0;
	}
	REQUIRE(size <= TFA_JWT_MAX);
	REQUIRE(o != NULL && cJSON_IsObject(o));
	/* Exactly three parts. */
	{
		size_t dots = 0;
		for (size_t i = 0; i < size; i++)
			dots += data[i] == '.';
		REQUIRE(dots == 2);
	}
	cJSON_Delete(o);
	return 0;
}
