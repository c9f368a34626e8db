/*
 * Builds the reconcile benchmark's inputs in one process: N state versions
 * (lineage L, serials 1..N, each about 2 KiB) written to DIR, and for each
 * one a record appended to STORE whose after-state it is.
 *
 * usage: bench_reconcile_gen STORE KEY_URI N DIR CHAIN
 *
 * The run's context (git, host) is captured once and each record's state set
 * in that capture: capturing the context anew would spawn git N times.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "capture/capture_int.h"
#include "tfattest/buffer.h"
#include "tfattest/capture.h"
#include "tfattest/chain.h"
#include "tfattest/signer.h"
#include "tfattest/store.h"

#define LINEAGE "b3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"

int main(int argc, char **argv)
{
	tfa_store *st = NULL;
	tfa_signer *s = NULL;
	tfa_event ev = {"apply", "succeeded", 0};
	tfa_buf body;
	tfa_capture *cap = NULL;
	long n;

	if (argc != 6 || (n = strtol(argv[3], NULL, 10)) < 1) {
		fprintf(stderr, "usage: bench_reconcile_gen STORE KEY_URI N DIR CHAIN\n");
		return 2;
	}
	tfa_buf_init(&body, 0);
	if (tfa_signer_open(&s, argv[2]) != TFA_OK || tfa_store_open(&st, argv[1]) != TFA_OK ||
	    tfa_chain_init(st, argv[5], s) != TFA_OK ||
	    tfa_capture_new_mem(&cap, &ev, NULL, 0, NULL, 0) != TFA_OK) {
		fprintf(stderr, "bench_reconcile_gen: %s\n", tfa_error_last()->message);
		return 2;
	}
	for (long i = 1; i <= n; i++) {
		char path[4096];
		FILE *f;

		tfa_buf_clear(&body);
		if (tfa_buf_printf(
			&body,
			"{\n  \"version\": 4,\n  \"terraform_version\": \"1.11.4\",\n"
			"  \"serial\": %ld,\n  \"lineage\": \"%s\",\n  \"outputs\": {},\n"
			"  \"resources\": [\n",
			i, LINEAGE) != TFA_OK)
			return 2;
		for (int r = 0; r < 8; r++)
			if (tfa_buf_printf(
				&body,
				"    {\"mode\": \"managed\", \"type\": \"terraform_data\", "
				"\"name\": \"r%d\", \"provider\": "
				"\"provider[\\\"terraform.io/builtin/terraform\\\"]\", "
				"\"instances\": [{\"schema_version\": 0, \"attributes\": "
				"{\"id\": \"%08lx-%04d\", \"input\": null}}]}%s\n",
				r, i, r, r < 7 ? "," : "") != TFA_OK)
				return 2;
		if (tfa_buf_puts(&body, "  ],\n  \"check_results\": null\n}\n") != TFA_OK)
			return 2;
		snprintf(path, sizeof(path), "%s/%06ld.tfstate", argv[4], i);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(body.data, 1, body.len, f) != body.len || fclose(f) != 0) {
			fprintf(stderr, "bench_reconcile_gen: cannot write %s\n", path);
			return 2;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(cap->terraform, "state");
		if (tfa_cap_state(cap->terraform, "state", body.data, body.len, path) != TFA_OK ||
		    tfa_chain_append(NULL, st, s, TFA_ALG_NONE, cap) != TFA_OK) {
			fprintf(stderr, "bench_reconcile_gen: %s\n", tfa_error_last()->message);
			return 2;
		}
	}
	tfa_capture_free(cap);
	tfa_buf_free(&body);
	tfa_store_free(st);
	tfa_signer_free(s);
	return 0;
}
