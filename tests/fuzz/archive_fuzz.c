/*
 * Fuzz target for bundle archives: the bytes are read as an archive and the
 * bundle in it verified, all in memory, under small caps.
 *
 * Any input: the reader returns TFA_OK or TFA_EVERIFY (TFA_EINTERNAL only
 * when out of memory); on success its entries are sorted, unique, within the
 * caps and every name is a bundle path; on failure the message is one line; verification returns
 * TFA_OK or TFA_EVERIFY with a one-line message, and a failure before the archive was accepted is
 * reported as layer 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/bundle_path.h"
#include "verify/archive/bundle_archive.h"
#include "verify/verify_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "archive_fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void check_archive(const tfa_archive *a, const tfa_archive_limits *l)
{
	uint64_t total = 0;

	REQUIRE(a->n <= l->max_entries);
	for (size_t i = 0; i < a->n; i++) {
		const tfa_archive_entry *e = &a->e[i];

		REQUIRE(tfa_bundle_path_allowed(e->path));
		REQUIRE(e->data != NULL);
		if (i > 0)
			REQUIRE(strcmp(a->e[i - 1].path, e->path) < 0);
		REQUIRE(tfa_archive_find(a, e->path) == e);
		REQUIRE(e->size <=
			(strcmp(e->path, "manifest.json") == 0 ? l->max_manifest : l->max_file));
		total += e->size;
	}
	REQUIRE(total == a->total && total <= l->max_total);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_archive_limits l;
	tfa_archive *a = NULL;
	tfa_verify_report r;
	tfa_verify_opts o;
	tfa_err rc, vrc;

	tfa_archive_limits_default(&l);
	l.max_entries = 4096;
	l.max_file = 1u << 20;
	l.max_manifest = 1u << 20;
	l.max_total = 8u << 20;

	tfa_error_clear();
	rc = tfa_archive_load_mem(&a, data, size, &l);
	REQUIRE(rc == TFA_OK || rc == TFA_EVERIFY || rc == TFA_EINTERNAL);
	if (rc == TFA_OK) {
		REQUIRE(a != NULL);
		check_archive(a, &l);
		tfa_archive_free(a);
	} else {
		REQUIRE(a == NULL);
		REQUIRE(strchr(tfa_error_last()->message, '\n') == NULL);
	}

	memset(&o, 0, sizeof(o));
	o.threads = 1;
	vrc = tfa_verify_archive_mem(&r, data, size, &o, &l);
	REQUIRE(vrc == TFA_OK || vrc == TFA_EVERIFY || vrc == TFA_EINTERNAL);
	if (rc != TFA_OK && rc != TFA_EINTERNAL)
		REQUIRE(vrc == TFA_EVERIFY && r.failed_layer == TFA_LAYER_MANIFEST);
	if (vrc == TFA_EVERIFY) {
		REQUIRE(r.failed_layer != TFA_LAYER_NONE);
		REQUIRE(r.message[0] != '\0' && strchr(r.message, '\n') == NULL);
	}
	if (vrc == TFA_OK)
		REQUIRE(r.failed_layer == TFA_LAYER_NONE && r.artifacts >= 1 && rc == TFA_OK);
	return 0;
}
