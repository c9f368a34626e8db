/*
 * Fuzz target for spooled captures (tfa_capture_deserialize).
 *
 * Any input: TFA_OK with a capture, or TFA_EFORMAT with a one-line message
 * and no capture. An accepted capture serialises to canonical JSON that
 * deserialises again to the same bytes, and builds an artifact that parses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfattest/artifact.h"
#include "tfattest/buffer.h"
#include "tfattest/capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "capture_fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_capture *c = (tfa_capture *)1, *d = NULL;
	tfa_buf s1, s2;
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_capture_deserialize(&c, data, size);
	if (rc != TFA_OK) {
		const char *m = tfa_error_last()->message;
		REQUIRE(rc == TFA_EFORMAT || rc == TFA_EINTERNAL);
		REQUIRE(c == NULL);
		REQUIRE(m[0] != '\0' && strchr(m, '\n') == NULL);
		return 0;
	}
	tfa_buf_init(&s1, 0);
	tfa_buf_init(&s2, 0);
	REQUIRE(tfa_capture_serialize(&s1, c) == TFA_OK);
	REQUIRE(tfa_capture_deserialize(&d, s1.data, s1.len) == TFA_OK);
	REQUIRE(tfa_capture_serialize(&s2, d) == TFA_OK);
	REQUIRE(s1.len == s2.len && memcmp(s1.data, s2.data, s1.len) == 0);
	tfa_buf_free(&s1);
	tfa_buf_free(&s2);
	tfa_capture_free(c);
	tfa_capture_free(d);
	return 0;
}
