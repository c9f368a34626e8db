/*
 * libFuzzer target for the state-facts reader (reconcile). Besides memory
 * errors it checks that the facts agree with the input: the hash is always
 * the body's, and accepted facts have a lineage of 1 to 256 bytes without
 * NUL and a serial in 0..2^53.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/statefacts.h"
#include "verify/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_state_facts f;
	uint8_t d[TFA_SHA256_LEN];
	tfa_err rc;
	size_t n;

	if (size > (1u << 20))
		return 0;
	rc = tfa_state_facts_parse(&f, data, size, "fuzz");
	tfa_sha256(d, size ? data : (const uint8_t *)"", size);
	if (memcmp(d, f.sha256, sizeof(d)) != 0 || f.size != size)
		abort();
	if (rc != TFA_OK) {
		if (rc != TFA_EFORMAT)
			abort();
		return 0;
	}
	n = strlen(f.lineage);
	if (n == 0 || n > TFA_STATE_LINEAGE_MAX || f.serial < 0 || f.serial > ((int64_t)1 << 53))
		abort();
	if (strlen(f.tf_version) > TFA_STATE_TFVER_MAX)
		abort();
	return 0;
}
