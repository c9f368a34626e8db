/*
 * Fuzz target for the strict JSON parser and the RFC 8785 writer.
 *
 * Any input: parse it; when it parses, its canonical form must parse again,
 * canonicalize to the same bytes and pass tfa_jcs_check_canonical. Rejections
 * must be TFA_EFORMAT with a message. Inputs of exactly 8 bytes are also read
 * as a double: its ES6 form must convert back to the same value with strtod
 * and canonicalize to itself.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfattest/buffer.h"
#include "tfattest/jcs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "jcs_fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void check_number(const uint8_t *data)
{
	char s[32];
	double d, back;
	size_t n;
	tfa_buf b;

	memcpy(&d, data, sizeof(d));
	n = tfa_jcs_format_number(s, d);
	if (!isfinite(d)) {
		REQUIRE(n == 0 && s[0] == '\0');
		return;
	}
	REQUIRE(n > 0 && n < 32 && strlen(s) == n);
	back = strtod(s, NULL);
	REQUIRE(back == d);
	/* The text is itself canonical JSON. */
	REQUIRE(tfa_jcs_check_canonical((const uint8_t *)s, n) == TFA_OK);
	/* The 17-digit form canonicalizes to the same text. */
	{
		char in[40];
		int m = snprintf(in, sizeof(in), "%.17g", d);

		REQUIRE(m > 0 && (size_t)m < sizeof(in));
		tfa_buf_init(&b, 0);
		REQUIRE(tfa_jcs_canonicalize(&b, (const uint8_t *)in, (size_t)m) == TFA_OK);
		REQUIRE(b.len == n && memcmp(b.data, s, n) == 0);
		tfa_buf_free(&b);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_json *doc = NULL, *doc2 = NULL;
	tfa_buf c1, c2;
	tfa_err rc;

	if (size == 8)
		check_number(data);

	tfa_buf_init(&c1, 0);
	tfa_buf_init(&c2, 0);
	rc = tfa_json_parse(&doc, data, size);
	if (rc != TFA_OK) {
		REQUIRE(rc == TFA_EFORMAT && doc == NULL);
		REQUIRE(tfa_error_last()->message[0] != '\0');
		REQUIRE(tfa_jcs_check_canonical(data, size) == TFA_EFORMAT);
		goto out;
	}
	REQUIRE(tfa_jcs_write(&c1, tfa_json_root(doc)) == TFA_OK);
	REQUIRE(c1.len > 0 && c1.data[c1.len] == '\0');
	/* The canonical form re-parses and is a fixed point. */
	REQUIRE(tfa_json_parse(&doc2, c1.data, c1.len) == TFA_OK);
	REQUIRE(tfa_jcs_write(&c2, tfa_json_root(doc2)) == TFA_OK);
	REQUIRE(c2.len == c1.len && memcmp(c1.data, c2.data, c1.len) == 0);
	REQUIRE(tfa_jcs_check_canonical(c1.data, c1.len) == TFA_OK);
	/* The input is canonical exactly when it equals its canonical form. */
	REQUIRE((tfa_jcs_check_canonical(data, size) == TFA_OK) ==
		(size == c1.len && memcmp(data, c1.data, size) == 0));
	/* The same structure through the accessors. */
	{
		const tfa_json_value *r1 = tfa_json_root(doc), *r2 = tfa_json_root(doc2);

		REQUIRE(tfa_json_type_of(r1) == tfa_json_type_of(r2));
		REQUIRE(tfa_json_count(r1) == tfa_json_count(r2));
		if (tfa_json_type_of(r1) == TFA_JSON_OBJECT) {
			for (size_t i = 0; i < tfa_json_count(r1); i++) {
				size_t kl;
				const char *k = tfa_json_key_at(r1, i, &kl);

				REQUIRE(k != NULL && k[kl] == '\0');
				/* Lookup by NUL-terminated name finds keys without NUL. */
				if (strlen(k) == kl)
					REQUIRE(tfa_json_get(r1, k) == tfa_json_value_at(r1, i));
			}
		}
	}
out:
	tfa_json_free(doc);
	tfa_json_free(doc2);
	tfa_buf_free(&c1);
	tfa_buf_free(&c2);
	return 0;
}
