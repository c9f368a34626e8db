/*
 * Fuzz target for the checkpoint file parser (and through it the checkpoint
 * document parser).
 *
 * Any input: tfa_checkpoint_file_parse returns TFA_OK or TFA_EFORMAT with a
 * one-line message. When it accepts, writing the parts back gives exactly the
 * input (the format has one spelling), the document is canonical JSON with no
 * newline, and the parsed fields are in range.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfattest/checkpoint.h"
#include "tfattest/jcs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "checkpoint_fuzz: %s:%d: %s\n", __FILE__, __LINE__,        \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_checkpoint_file f;
	tfa_buf out;
	tfa_err rc;

	tfa_checkpoint_file_init(&f);
	tfa_buf_init(&out, 0);
	tfa_error_clear();
	rc = tfa_checkpoint_file_parse(&f, data, size);
	if (rc != TFA_OK) {
		const char *m = tfa_error_last()->message;
		REQUIRE(rc == TFA_EFORMAT);
		REQUIRE(m[0] != '\0' && strchr(m, '\n') == NULL);
		goto done;
	}
	REQUIRE(size <= TFA_CHECKPOINT_FILE_MAX);
	REQUIRE(f.doc.len > 0 && f.doc.len <= TFA_CHECKPOINT_DOC_MAX);
	REQUIRE(memchr(f.doc.data, '\n', f.doc.len) == NULL);
	REQUIRE(tfa_jcs_check_canonical(f.doc.data, f.doc.len) == TFA_OK);
	REQUIRE(f.sig.len > 0 && f.sig.len <= TFA_SIG_MAX);
	REQUIRE(f.cp.seq >= 1 && f.cp.seq <= TFA_SEQ_MAX);
	REQUIRE(tfa_chain_id_check(f.cp.chain_id, strlen(f.cp.chain_id)) == TFA_OK);
	REQUIRE(strlen(f.cp.key_fpr) == TFA_FPR_STRLEN - 1);
	if (f.has_tsa)
		REQUIRE(strlen(f.nonce_hex) == 16 && f.tsr.len > 0 &&
			f.tsr.len <= TFA_CHECKPOINT_TSR_MAX);
	REQUIRE(tfa_checkpoint_file_write(&out, &f) == TFA_OK);
	REQUIRE(out.len == size && memcmp(out.data, data, size) == 0);
done:
	tfa_buf_free(&out);
	tfa_checkpoint_file_clear(&f);
	return 0;
}
