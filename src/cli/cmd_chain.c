#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "session.h"
#include "tfattest/artifact.h"
#include "tfattest/capture.h"
#include "tfattest/chain.h"
#include "tfattest/signer.h"
#include "tfattest/store.h"
#include "tfattest/workflow.h"

int tfa_cli_init(int argc, char **argv)
{
	static const struct option own[] = {
	    {"chain", required_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	static const char use[] = "tfattest init --store S [--sequencer Q] --chain NAME --key K";
	const char *chain = NULL;
	tfa_cli_opts o;
	tfa_cli_session ss;
	tfa_err rc;
	int c, status = 0;

	tfa_cli_opts_init(&o, TFA_CLI_CHAIN, use);
	while ((c = tfa_cli_getopt(&o, argc, argv, own)) > 0)
		chain = optarg;
	if (c < 0)
		return 2;
	if (optind != argc || chain == NULL)
		return tfa_cli_usage("%s", use);
	tfa_cli_chain_init(&ss);
	rc = tfa_cli_chain_open(&ss, &o);
	if (rc == TFA_OK)
		rc = tfa_chain_init(ss.store, chain, ss.signer);
	if (rc != TFA_OK)
		status = tfa_cli_fail(rc);
	else
		printf("initialized chain %s in %s, anchor key %s\n", chain, o.store,
		       tfa_signer_fingerprint(ss.signer));
	tfa_cli_chain_close(&ss);
	return status;
}

static void flush_line(void *ud, const char *text)
{
	(void)ud;
	printf("%s\n", text);
	fflush(stdout);
}

static int flush_spool(const tfa_cli_opts *co)
{
	tfa_workflow_opts o;
	tfa_workflow_flush_result *res = NULL;
	tfa_err rc;

	memset(&o, 0, sizeof(o));
	o.store = co->store;
	o.sequencer = co->sequencer;
	o.key = co->key;
	o.alg = co->alg;
	rc = tfa_workflow_flush_spool(&res, &o, flush_line, NULL);
	if (rc != TFA_OK)
		return tfa_cli_fail(rc);
	tfa_workflow_flush_report(res, flush_line, NULL);
	tfa_workflow_flush_result_free(res);
	return 0;
}

int tfa_cli_record(int argc, char **argv)
{
	static const struct option own[] = {
	    {"plan", required_argument, NULL, 'p'},
	    {"state", required_argument, NULL, 'S'},
	    {"event", required_argument, NULL, 'e'},
	    {"status", required_argument, NULL, 't'},
	    {"exit-code", required_argument, NULL, 'x'},
	    {"rollback-to", required_argument, NULL, 'r'},
	    {"flush-spool", no_argument, NULL, 'F'},
	    {"idempotency-key", required_argument, NULL, 'i'},
	    {"allow-errored-plan", no_argument, NULL, 'E'},
	    {NULL, 0, NULL, 0},
	};
	static const char use[] =
	    "tfattest record --store S [--sequencer Q] --key K --plan PLAN.json [--state F] "
	    "[--event E] [--rollback-to SEQ] [--status succeeded|failed] [--exit-code N] "
	    "[--allow-errored-plan] [--idempotency-key K]\n       tfattest record --flush-spool "
	    "--store S [--sequencer Q] --key "
	    "K";
	const char *plan = NULL, *state = NULL, *idem = NULL;
	char drawn[TFA_IDEMPOTENCY_KEY_MAX + 1];
	bool replayed = false;
	tfa_event ev = {NULL, NULL, 0};
	tfa_cli_opts o;
	tfa_cli_session ss;
	tfa_capture *cap = NULL;
	uint64_t seq = 0, rollback_to = 0;
	char rollback_hash[TFA_FPR_STRLEN];
	int flush = 0, allow_errored = 0;
	long long v;
	tfa_err rc;
	int c, status = 0;

	tfa_cli_opts_init(&o, TFA_CLI_CHAIN | TFA_CLI_ALGORITHM, use);
	while ((c = tfa_cli_getopt(&o, argc, argv, own)) > 0) {
		switch (c) {
		case 'p': plan = optarg; break;
		case 'S': state = optarg; break;
		case 'e': ev.type = optarg; break;
		case 't': ev.status = optarg; break;
		case 'x':
			if (tfa_cli_parse_int(optarg, -2147483648LL, 2147483647LL, &v) != 0)
				return tfa_cli_usage("--exit-code takes an integer");
			ev.exit_code = (int)v;
			break;
		case 'r':
			if (tfa_cli_parse_int(optarg, 1, 999999999999LL, &v) != 0)
				return tfa_cli_usage("--rollback-to takes a seq");
			rollback_to = (uint64_t)v;
			break;
		case 'F': flush = 1; break;
		case 'i': idem = optarg; break;
		case 'E': allow_errored = 1; break;
		}
	}
	if (c < 0)
		return 2;
	if (flush) {
		if (optind != argc || plan || state || ev.type || ev.status || rollback_to || idem)
			return tfa_cli_usage(
			    "--flush-spool takes only --store, --key and --algorithm");
		return flush_spool(&o);
	}
	if (optind != argc || plan == NULL)
		return tfa_cli_usage("%s", use);
	if (rollback_to && (ev.type == NULL || strcmp(ev.type, "rollback") != 0))
		return tfa_cli_usage("--rollback-to needs --event rollback");
	/* One key per deployment: given (a retry), or drawn for this run. */
	if (idem == NULL && (idem = getenv("TFATTEST_IDEMPOTENCY_KEY")) != NULL && idem[0] == '\0')
		idem = NULL;
	if (idem && tfa_idempotency_key_check(idem, strlen(idem)) != TFA_OK)
		return tfa_cli_usage("--idempotency-key takes 16 to 64 of [A-Za-z0-9._-]");
	tfa_cli_chain_init(&ss);
	rc = tfa_capture_new(&cap, &ev, plan, state);
	if (rc == TFA_OK && idem == NULL && (rc = tfa_idempotency_key_new(drawn)) == TFA_OK)
		idem = drawn;
	if (rc == TFA_OK)
		rc = tfa_capture_set_idempotency_key(cap, idem);
	if (rc == TFA_OK && tfa_capture_plan_errored(cap) && !allow_errored) {
		tfa_capture_free(cap);
		return tfa_cli_usage("plan %s is errored (Terraform stopped planning on an error); "
				     "--allow-errored-plan records it anyway",
				     plan);
	}
	if (rc == TFA_OK)
		rc = tfa_cli_chain_open(&ss, &o);
	if (rc == TFA_OK && rollback_to) {
		rc = tfa_chain_record_hash(rollback_hash, ss.store, ss.signer, rollback_to);
		if (rc == TFA_ENOTFOUND)
			rc = TFA_EUSAGE; /* a target that does not exist is a usage error */
		if (rc == TFA_OK)
			rc = tfa_capture_set_rollback(cap, rollback_to, rollback_hash);
	}
	if (rc == TFA_OK)
		rc = tfa_chain_append_once(&seq, &replayed, ss.store, ss.signer, o.alg, cap);
	if (rc != TFA_OK)
		status = tfa_cli_fail(rc);
	else if (replayed)
		printf(
		    "already recorded as seq %llu in %s (idempotency key %s): nothing appended\n",
		    (unsigned long long)seq, o.store, idem);
	else
		printf("recorded seq %llu in %s\n", (unsigned long long)seq, o.store);
	tfa_capture_free(cap);
	tfa_cli_chain_close(&ss);
	return status;
}

int tfa_cli_rotate(int argc, char **argv)
{
	static const struct option own[] = {
	    {"new-key", required_argument, NULL, 'n'},
	    {"new-algorithm", required_argument, NULL, 'A'},
	    {NULL, 0, NULL, 0},
	};
	static const char use[] =
	    "tfattest rotate --store S [--sequencer Q] --key OLD --new-key NEW "
	    "[--algorithm ALG] [--new-algorithm ALG]";
	static const char alg_error[] = "--algorithm and --new-algorithm take RSASSA_PSS_SHA_256, "
					"RSASSA_PKCS1_V1_5_SHA_256 or ECDSA_SHA_256";
	const char *next_uri = NULL;
	tfa_sig_alg next_alg = TFA_ALG_NONE;
	tfa_cli_opts o;
	tfa_cli_session ss;
	tfa_signer *next = NULL;
	uint64_t seq = 0;
	tfa_err rc;
	int c, status = 0;

	tfa_cli_opts_init(&o, TFA_CLI_CHAIN | TFA_CLI_ALGORITHM, use);
	o.alg_error = alg_error;
	while ((c = tfa_cli_getopt(&o, argc, argv, own)) > 0) {
		if (c == 'n')
			next_uri = optarg;
		else if (tfa_sig_alg_from_name(&next_alg, optarg) != TFA_OK)
			return tfa_cli_usage("%s", alg_error);
	}
	if (c < 0)
		return 2;
	if (optind != argc || next_uri == NULL)
		return tfa_cli_usage("%s", use);
	tfa_cli_chain_init(&ss);
	/* The new key before the store, so a bad --new-key is told before any store error. */
	rc = tfa_cli_chain_open_signer(&ss, &o);
	if (rc == TFA_OK)
		rc = tfa_signer_open(&next, next_uri);
	if (rc == TFA_OK)
		rc = tfa_cli_chain_open_store(&ss, &o);
	if (rc == TFA_OK)
		rc = tfa_chain_rotate(&seq, ss.store, ss.signer, o.alg, next, next_alg);
	if (rc != TFA_OK)
		status = tfa_cli_fail(rc);
	else
		printf("rotated at seq %llu in %s: key %s replaces %s\n", (unsigned long long)seq,
		       o.store, tfa_signer_fingerprint(next), tfa_signer_fingerprint(ss.signer));
	tfa_cli_chain_close(&ss);
	tfa_signer_free(next);
	return status;
}
