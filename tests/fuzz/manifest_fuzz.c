/*
 * Fuzz target for the manifest parser.
 *
 * Any input: tfa_manifest_parse must return TFA_OK, TFA_EFORMAT or
 * TFA_EVERIFY, with a one-line message, and leave nothing allocated on
 * failure. When it accepts: the input is canonical, the range is not empty,
 * every path passes tfa_path_check, is neither manifest.json nor
 * manifest.sig, sorts strictly after the one before, and is found by
 * tfa_manifest_find at its own index; a writer, when there is one, is two
 * strings of 1 to 64 bytes of [A-Za-z0-9._+~-], and none is made up.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/pathsafe.h"
#include "tfattest/buffer.h"
#include "tfattest/jcs.h"
#include "verify/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "manifest_fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond);  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A writer's name or version as FORMAT.md R-5.2-13 has it. */
static int writer_ok(const char *s)
{
	size_t n = strnlen(s, TFA_MANIFEST_WRITER_MAX + 1);

	if (n == 0 || n > TFA_MANIFEST_WRITER_MAX)
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+~-") ==
	       n;
}

static void check_accepted(const tfa_manifest *m, const uint8_t *data, size_t size)
{
	tfa_buf c;

	tfa_buf_init(&c, 0);
	REQUIRE(tfa_jcs_canonicalize(&c, data, size) == TFA_OK);
	REQUIRE(c.len == size && memcmp(c.data, data, size) == 0);
	tfa_buf_free(&c);

	REQUIRE(m->from_seq >= 1 && m->from_seq <= m->to_seq && m->to_seq <= TFA_SEQ_MAX);
	REQUIRE(tfa_chain_id_check(m->chain_id, strlen(m->chain_id)) == TFA_OK);
	REQUIRE(strlen(m->key_fpr) == TFA_FPR_STRLEN - 1);
	REQUIRE(m->alg != TFA_ALG_NONE);
	REQUIRE(m->nfiles > 0 && m->files != NULL);
	for (size_t i = 0; i < m->nfiles; i++) {
		const char *p = m->files[i].path;

		REQUIRE(p != NULL);
		REQUIRE(tfa_path_check(p, strlen(p)) == TFA_OK);
		REQUIRE(strcmp(p, TFA_BUNDLE_MANIFEST) != 0 &&
			strcmp(p, TFA_BUNDLE_MANIFEST_SIG) != 0);
		if (i > 0)
			REQUIRE(strcmp(m->files[i - 1].path, p) < 0);
		REQUIRE(tfa_manifest_find(m, p) == (long)i);
		REQUIRE(m->files[i].size <= ((uint64_t)1 << 40));
	}
	REQUIRE(tfa_manifest_find(m, TFA_BUNDLE_MANIFEST) == -1);
	if (m->has_writer) {
		REQUIRE(writer_ok(m->writer_name));
		REQUIRE(writer_ok(m->writer_version));
	} else {
		REQUIRE(m->writer_name[0] == '\0' && m->writer_version[0] == '\0');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_manifest m;
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_manifest_parse(&m, data, size);
	if (rc != TFA_OK) {
		const char *msg = tfa_error_last()->message;

		REQUIRE(rc == TFA_EFORMAT || rc == TFA_EVERIFY);
		REQUIRE(msg[0] != '\0' && strchr(msg, '\n') == NULL);
		REQUIRE(m.files == NULL && m.arena == NULL && m.nfiles == 0);
		return 0;
	}
	check_accepted(&m, data, size);
	tfa_manifest_clear(&m);
	return 0;
}
