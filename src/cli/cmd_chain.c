#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tfattest/artifact.h"
#include "tfattest/chain.h"
#include "tfattest/signer.h"
#include "tfattest/store.h"
#include "tfattest/workflow.h"

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

static void flush_line(void *ud, const char *text)
{
	(void)ud;
	printf("%s\n", text);
	fflush(stdout);
}

static int flush_spool(const char *store, const char *sequencer, const char *key, tfa_sig_alg alg)
{
	tfa_workflow_opts o;
	tfa_workflow_flush_result *res = NULL;
	tfa_err rc;

	memset(&o, 0, sizeof(o));
	o.store = tfa_cli_opt_env(store, "TFATTEST_STORE");
	o.sequencer = tfa_cli_opt_env(sequencer, "TFATTEST_SEQUENCER");
	o.key = key;
	o.alg = alg;
	rc = tfa_workflow_flush_spool(&res, &o, flush_line, NULL);
	if (rc != TFA_OK)
		return tfa_cli_fail(rc);
	tfa_workflow_flush_report(res, flush_line, NULL);
	tfa_workflow_flush_result_free(res);
	return 0;
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
		{ "rollback-to", required_argument, NULL, 'r' },
		{ "flush-spool", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	static const char use[] =
		"tfattest record --store S [--sequencer Q] --key K --plan PLAN.json [--state F] "
		"[--event apply|destroy|rollback|import] [--rollback-to SEQ] [--status succeeded|failed] "
		"[--exit-code N]\n       tfattest record --flush-spool --store S [--sequencer Q] --key K";
	const char *store = NULL, *sequencer = NULL, *key = NULL, *plan = NULL, *state = NULL;
	tfa_event ev = { NULL, NULL, 0 };
	tfa_sig_alg alg = TFA_ALG_NONE;
	tfa_store *st = NULL;
	tfa_signer *s = NULL;
	tfa_capture *cap = NULL;
	uint64_t seq = 0, rollback_to = 0;
	char rollback_hash[TFA_FPR_STRLEN];
	int flush = 0;
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
		case 'r':
			if (tfa_cli_parse_int(optarg, 1, 999999999999LL, &v) != 0)
				return tfa_cli_usage("--rollback-to takes a seq");
			rollback_to = (uint64_t)v;
			break;
		case 'F': flush = 1; break;
		default: return tfa_cli_usage("%s", use);
		}
	}
	store = tfa_cli_opt_env(store, "TFATTEST_STORE");
	key = tfa_cli_opt_env(key, "TFATTEST_KEY");
	if (flush) {
		if (optind != argc || plan || state || ev.type || ev.status || rollback_to)
			return tfa_cli_usage("--flush-spool takes only --store, --key and --algorithm");
		return flush_spool(store, sequencer, key, alg);
	}
	if (optind != argc || plan == NULL)
		return tfa_cli_usage("%s", use);
	if (rollback_to && (ev.type == NULL || strcmp(ev.type, "rollback") != 0))
		return tfa_cli_usage("--rollback-to needs --event rollback");
	rc = tfa_capture_new(&cap, &ev, plan, state);
	if (rc == TFA_OK)
		rc = tfa_signer_open(&s, key);
	if (rc == TFA_OK)
		rc = tfa_cli_open_store(&st, store, sequencer);
	if (rc == TFA_OK && rollback_to) {
		rc = tfa_chain_record_hash(rollback_hash, st, s, rollback_to);
		if (rc == TFA_ENOTFOUND)
			rc = TFA_EUSAGE; /* a target that does not exist is a usage error */
		if (rc == TFA_OK)
			rc = tfa_capture_set_rollback(cap, rollback_to, rollback_hash);
	}
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

int tfa_cli_rotate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "sequencer", required_argument, NULL, 'Q' },
		{ "key", required_argument, NULL, 'k' },
		{ "new-key", required_argument, NULL, 'n' },
		{ "algorithm", required_argument, NULL, 'a' },
		{ "new-algorithm", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	static const char use[] = "tfattest rotate --store S [--sequencer Q] --key OLD --new-key NEW "
				  "[--algorithm ALG] [--new-algorithm ALG]";
	const char *store = NULL, *sequencer = NULL, *key = NULL, *next_uri = NULL;
	tfa_sig_alg alg = TFA_ALG_NONE, next_alg = TFA_ALG_NONE;
	tfa_store *st = NULL;
	tfa_signer *s = NULL, *next = NULL;
	uint64_t seq = 0;
	tfa_err rc;
	int c, status = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'Q': sequencer = optarg; break;
		case 'k': key = optarg; break;
		case 'n': next_uri = optarg; break;
		case 'a':
		case 'A':
			if (tfa_sig_alg_from_name(c == 'a' ? &alg : &next_alg, optarg) != TFA_OK)
				return tfa_cli_usage("--algorithm and --new-algorithm take RSASSA_PSS_SHA_256, "
						     "RSASSA_PKCS1_V1_5_SHA_256 or ECDSA_SHA_256");
			break;
		default: return tfa_cli_usage("%s", use);
		}
	}
	if (optind != argc || next_uri == NULL)
		return tfa_cli_usage("%s", use);
	store = tfa_cli_opt_env(store, "TFATTEST_STORE");
	key = tfa_cli_opt_env(key, "TFATTEST_KEY");
	rc = tfa_signer_open(&s, key);
	if (rc == TFA_OK)
		rc = tfa_signer_open(&next, next_uri);
	if (rc == TFA_OK)
		rc = tfa_cli_open_store(&st, store, sequencer);
	if (rc == TFA_OK)
		rc = tfa_chain_rotate(&seq, st, s, alg, next, next_alg);
	if (rc != TFA_OK)
		status = tfa_cli_fail(rc);
	else
		printf("rotated at seq %llu in %s: key %s replaces %s\n", (unsigned long long)seq, store,
		       tfa_signer_fingerprint(next), tfa_signer_fingerprint(s));
	tfa_store_free(st);
	tfa_signer_free(s);
	tfa_signer_free(next);
	return status;
}
