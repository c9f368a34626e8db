#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tfattest/artifact.h"
#include "tfattest/chain.h"
#include "tfattest/signer.h"
#include "tfattest/store.h"

int tfa_cli_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "sequencer", required_argument, NULL, 'Q' },
		{ "chain", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store = NULL, *sequencer = NULL, *chain = NULL, *key = NULL;
	tfa_store *st = NULL;
	tfa_signer *s = NULL;
	tfa_err rc;
	int c, status = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'Q': sequencer = optarg; break;
		case 'c': chain = optarg; break;
		case 'k': key = optarg; break;
		default: return tfa_cli_usage("tfattest init --store S [--sequencer Q] --chain NAME --key K");
		}
	}
	if (optind != argc || chain == NULL)
		return tfa_cli_usage("tfattest init --store S [--sequencer Q] --chain NAME --key K");
	store = tfa_cli_opt_env(store, "TFATTEST_STORE");
	key = tfa_cli_opt_env(key, "TFATTEST_KEY");
	rc = tfa_signer_open(&s, key);
	if (rc == TFA_OK)
		rc = tfa_cli_open_store(&st, store, sequencer);
	if (rc == TFA_OK)
		rc = tfa_chain_init(st, chain, s);
	if (rc != TFA_OK)
		status = tfa_cli_fail(rc);
	else
		printf("initialized chain %s in %s, anchor key %s\n", chain, store,
		       tfa_signer_fingerprint(s));
	tfa_store_free(st);
	tfa_signer_free(s);
	return status;
}

int tfa_cli_record(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "sequencer", required_argument, NULL, 'Q' },
		{ "key", required_argument, NULL, 'k' },
		{ "plan", required_argument, NULL, 'p' },
		{ "state", required_argument, NULL, 'S' },
		{ "event", required_argument, NULL, 'e' },
		{ "status", required_argument, NULL, 't' },
		{ "exit-code", required_argument, NULL, 'x' },
		{ "algorithm", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	static const char use[] =
		"tfattest record --store S [--sequencer Q] --key K --plan PLAN.json [--state F] "
		"[--event apply|destroy|rollback|import] [--status succeeded|failed] [--exit-code N]";
	const char *store = NULL, *sequencer = NULL, *key = NULL, *plan = NULL, *state = NULL;
	tfa_event ev = { NULL, NULL, 0 };
	tfa_sig_alg alg = TFA_ALG_NONE;
	tfa_store *st = NULL;
	tfa_signer *s = NULL;
	tfa_capture *cap = NULL;
	uint64_t seq = 0;
	long long v;
	tfa_err rc;
	int c, status = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'Q': sequencer = optarg; break;
		case 'k': key = optarg; break;
		case 'p': plan = optarg; break;
		case 'S': state = optarg; break;
		case 'e': ev.type = optarg; break;
		case 't': ev.status = optarg; break;
		case 'x':
			if (tfa_cli_parse_int(optarg, -2147483648LL, 2147483647LL, &v) != 0)
				return tfa_cli_usage("--exit-code takes an integer");
			ev.exit_code = (int)v;
			break;
		case 'a':
			if (tfa_sig_alg_from_name(&alg, optarg) != TFA_OK)
				return tfa_cli_usage("--algorithm takes RSASSA_PSS_SHA_256, "
						     "RSASSA_PKCS1_V1_5_SHA_256 or ECDSA_SHA_256");
			break;
		default: return tfa_cli_usage("%s", use);
		}
	}
	if (optind != argc || plan == NULL)
		return tfa_cli_usage("%s", use);
	store = tfa_cli_opt_env(store, "TFATTEST_STORE");
	key = tfa_cli_opt_env(key, "TFATTEST_KEY");
	rc = tfa_capture_new(&cap, &ev, plan, state);
	if (rc == TFA_OK)
		rc = tfa_signer_open(&s, key);
	if (rc == TFA_OK)
		rc = tfa_cli_open_store(&st, store, sequencer);
	if (rc == TFA_OK)
		rc = tfa_chain_append(&seq, st, s, alg, cap);
	if (rc != TFA_OK)
		status = tfa_cli_fail(rc);
	else
		printf("recorded seq %llu in %s\n", (unsigned long long)seq, store);
	tfa_capture_free(cap);
	tfa_store_free(st);
	tfa_signer_free(s);
	return status;
}
