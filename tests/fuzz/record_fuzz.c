/*
 * libFuzzer target for the stored record form (read back from S3 and from
 * the sequencer). An accepted record must encode back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_buf a, s, again;

	tfa_buf_init(&a, 1u << 20);
	tfa_buf_init(&s, 1u << 20);
	tfa_buf_init(&again, 4u << 20);
	if (tfa_record_decode(data, size, &a, &s) == TFA_OK) {
		if (tfa_record_encode(&again, a.data, a.len, s.data, s.len) != TFA_OK ||
		    again.len != size || memcmp(again.data, data, size) != 0)
			abort();
	}
	tfa_buf_free(&a);
	tfa_buf_free(&s);
	tfa_buf_free(&again);
	return 0;
}
