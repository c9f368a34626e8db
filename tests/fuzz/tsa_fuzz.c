/*
 * Fuzz target for RFC 3161 TimeStampResp verification.
 *
 * Any input: tfa_tsa_verify, with a fixed CA (tests/fixtures/tsa/ca.pem), a
 * fixed digest and nonce, returns TFA_OK, TFA_EFORMAT or TFA_EVERIFY with a
 * one-line message, and fills the info only on success, with NUL-terminated
 * fields. The committed corpus holds real responses for that digest and
 * nonce, so that mutations reach the signature and chain checks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/crypto.h"
#include "verify/tsa.h"

#ifndef TFA_TSA_FUZZ_CA
#error "TFA_TSA_FUZZ_CA must name the fixed CA file"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "tsa_fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The digest and nonce the corpus responses were made for (see tests/fixtures/tsa/SOURCE.md). */
#define FUZZ_NONCE "0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_tsa_info info;
	uint8_t digest[TFA_SHA256_LEN];
	const char *m;
	tfa_err rc;

	tfa_sha256(digest, "tfattest fuzz", 13);
	memset(&info, 0x5a, sizeof(info));
	tfa_error_clear();
	rc = tfa_tsa_verify(&info, data, size, digest, FUZZ_NONCE, TFA_TSA_FUZZ_CA);
	m = tfa_error_last()->message;
	if (rc != TFA_OK) {
		REQUIRE(rc == TFA_EFORMAT || rc == TFA_EVERIFY);
		REQUIRE(m[0] != '\0' && strchr(m, '\n') == NULL);
		REQUIRE((unsigned char)info.serial_hex[0] == 0x5a);
		return 0;
	}
	REQUIRE(size <= TFA_TSA_RESP_MAX);
	REQUIRE(memchr(info.serial_hex, '\0', sizeof(info.serial_hex)) != NULL);
	REQUIRE(memchr(info.tsa_subject, '\0', sizeof(info.tsa_subject)) != NULL);
	REQUIRE(memchr(info.policy_oid, '\0', sizeof(info.policy_oid)) != NULL);
	REQUIRE(info.serial_hex[0] != '\0' && info.policy_oid[0] != '\0');
	return 0;
}
