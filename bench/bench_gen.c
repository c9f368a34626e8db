/*
 * Appends N records to a store through the library, for building large
 * benchmark bundles. Several of these may run at once on one store: the
 * store's sequencer keeps the chain contiguous.
 *
 * usage: bench_gen STORE KEY_URI PLAN N ALG [CHAIN]
 * (initializes the chain when CHAIN is given)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfattest/artifact.h"
#include "tfattest/capture.h"
#include "tfattest/chain.h"
#include "tfattest/signer.h"
#include "tfattest/store.h"

int main(int argc, char **argv)
{
	tfa_store *st = NULL;
	tfa_signer *s = NULL;
	tfa_capture *cap = NULL;
	tfa_event ev = {"apply", "succeeded", 0};
	tfa_sig_alg alg;
	long n;

	if (argc < 6 || (n = strtol(argv[4], NULL, 10)) < 1 ||
	    tfa_sig_alg_from_name(&alg, argv[5]) != TFA_OK) {
		fprintf(stderr, "usage: bench_gen STORE KEY_URI PLAN N ALG [CHAIN]\n");
		return 2;
	}
	if (tfa_signer_open(&s, argv[2]) != TFA_OK || tfa_store_open(&st, argv[1]) != TFA_OK ||
	    (argc > 6 && tfa_chain_init(st, argv[6], s) != TFA_OK) ||
	    tfa_capture_new(&cap, &ev, argv[3], NULL) != TFA_OK) {
		fprintf(stderr, "bench_gen: %s\n", tfa_error_last()->message);
		return 2;
	}
	for (long i = 0; i < n; i++) {
		if (tfa_chain_append(NULL, st, s, alg, cap) != TFA_OK) {
			fprintf(stderr, "bench_gen: %s\n", tfa_error_last()->message);
			return 2;
		}
	}
	tfa_capture_free(cap);
	tfa_store_free(st);
	tfa_signer_free(s);
	return 0;
}
