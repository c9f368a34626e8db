/*
 * tfattest apply [record options] -- terraform apply [args...]
 * tfattest drift [record options] -- terraform plan -refresh-only [args...]
 *
 * Runs Terraform (or OpenTofu) and records exactly one attestation of what it
 * did, for success or failure. What cannot be recorded is spooled, never lost.
 * The workflow is the library's (tfattest/workflow.h): this parses the
 * options, calls it and prints what it reports.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "svcopts.h"
#include "tfattest/artifact.h"
#include "tfattest/service_client.h"
#include "tfattest/signer.h"
#include "tfattest/workflow.h"

static void to_stderr(void *ud, const char *text)
{
	(void)ud;
	fprintf(stderr, "%s\n", text);
}

/* The workflow's sink: the record goes to the attestation service. */
static tfa_err sink_prepare(void *ud)
{
	return tfa_service_client_prepare(ud);
}

static tfa_err sink_record(void *ud, const tfa_capture *cap, int64_t deployed_at_ns, uint64_t *seq,
			   char **spool_path, tfa_error *spool_error)
{
	tfa_service_receipt r;
	tfa_err rc =
	    tfa_service_client_record(&r, ud, cap, deployed_at_ns, spool_path, spool_error);

	if (rc == TFA_OK) {
		*seq = r.seq;
		/* The runner cannot read the store: the hash the reply was checked against is
		 * the one place a pipeline can take the record's hash from. */
		fprintf(stderr, "tfattest: the service's record seq %llu has hash %s\n",
			(unsigned long long)r.seq, r.hash);
		if (r.replayed)
			fprintf(stderr,
				"tfattest: the service had this record already (idempotency key "
				"%s): nothing was appended twice\n",
				r.idempotency_key);
	}
	return rc;
}

/* apply and drift: the same options, a different Terraform command. */
static int run(int argc, char **argv, bool drift)
{
	static const struct option own[] = {
	    {"event", required_argument, NULL, 'e'},
	    {"rollback-to", required_argument, NULL, 'r'},
	    {"no-plan-first", no_argument, NULL, 'n'},
	    {"allow-errored-plan", no_argument, NULL, 'E'},
	    {"idempotency-key", required_argument, NULL, 'i'},
	    TFA_CLI_SERVICE_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	static const struct option none[] = {{NULL, 0, NULL, 0}};
	static const char apply_use[] =
	    "tfattest apply [--store S] [--sequencer Q] [--key K] [--algorithm ALG] [--event "
	    "apply|destroy|rollback|import] [--rollback-to SEQ] [--no-plan-first] "
	    "[--allow-errored-plan] [--idempotency-key K] -- terraform|tofu [-chdir=DIR] "
	    "apply|destroy|import|state rm|mv|push [ARGS...]\n"
	    "       tfattest apply " TFA_CLI_SERVICE_USE " [--event E] [--no-plan-first] "
	    "[--allow-errored-plan] -- terraform|tofu [-chdir=DIR] apply|destroy [ARGS...]";
	static const char drift_use[] =
	    "tfattest drift [--store S] [--sequencer Q] [--key K] [--algorithm ALG] -- "
	    "terraform|tofu [-chdir=DIR] plan -refresh-only [-detailed-exitcode] [ARGS...]";
	const char *use = drift ? drift_use : apply_use;
	tfa_cli_opts co;
	tfa_cli_service so;
	tfa_workflow_opts o;
	tfa_workflow_sink sink;
	tfa_workflow_result *res = NULL;
	tfa_service_client *client = NULL;
	char hint[4096];
	long long v;
	int c, status;
	tfa_err rc;

	memset(&o, 0, sizeof(o));
	memset(&so, 0, sizeof(so));
	memset(&sink, 0, sizeof(sink));
	tfa_cli_opts_init(&co,
			  TFA_CLI_CHAIN | TFA_CLI_ALGORITHM |
			      (drift ? 0u : TFA_CLI_EXPECT_FPR | TFA_CLI_PUBLIC_KEY),
			  use);
	co.shortopts = "+"; /* Terraform's own arguments follow -- */
	/* drift takes the common options alone: its --help lists no apply option. */
	while ((c = tfa_cli_getopt(&co, argc, argv, drift ? none : own)) > 0) {
		if (!drift && tfa_cli_service_opt(&so, c, optarg))
			continue;
		if (c == 'e' && !drift) {
			o.event = optarg;
		} else if (c == 'n' && !drift) {
			o.no_plan_first = true;
		} else if (c == 'E' && !drift) {
			o.allow_errored_plan = true;
		} else if (c == 'i' && !drift) {
			o.idempotency_key = optarg;
		} else if (c == 'r' && !drift) {
			if (tfa_cli_parse_int(optarg, 1, 999999999999LL, &v) != 0)
				return tfa_cli_usage("--rollback-to takes a seq");
			o.rollback_to = (uint64_t)v;
		} else {
			return tfa_cli_usage("%s", use);
		}
	}
	if (c < 0)
		return 2;
	if (optind < 2 || strcmp(argv[optind - 1], "--") != 0)
		return tfa_cli_usage("`--` is missing: the Terraform command follows it, as in "
				     "`tfattest %s`",
				     drift ? "drift [options] -- terraform plan -refresh-only "
					     "-detailed-exitcode"
					   : "apply [options] -- terraform apply PLAN");
	if (optind >= argc)
		return tfa_cli_usage("no Terraform command after `--`: %s", use);
	o.argv = argv + optind;
	o.argc = argc - optind;
	o.drift = drift;
	if (tfa_workflow_command_event(NULL, drift, o.argc, o.argv) != TFA_OK)
		return tfa_cli_usage("%s", tfa_error_last()->message);
	if (o.rollback_to && (o.event == NULL || strcmp(o.event, "rollback") != 0))
		return tfa_cli_usage("--rollback-to needs --event rollback");
	/* A key given names a retry of one deployment (docs/WORKFLOW.md). */
	if (!drift && o.idempotency_key == NULL &&
	    (o.idempotency_key = getenv("TFATTEST_IDEMPOTENCY_KEY")) &&
	    o.idempotency_key[0] == '\0')
		o.idempotency_key = NULL;
	if (o.idempotency_key &&
	    tfa_idempotency_key_check(o.idempotency_key, strlen(o.idempotency_key)) != TFA_OK)
		return tfa_cli_usage("--idempotency-key takes 16 to 64 of [A-Za-z0-9._-]");
	o.store = co.store;
	o.key = co.key;
	o.sequencer = co.sequencer;
	o.alg = co.alg;
	o.forward_signals = true;
	if (so.given) {
		/* The service client sends the run's key (given, or drawn by the client). */
		so.key = o.idempotency_key;
		o.idempotency_key = NULL;
		if (o.rollback_to)
			return tfa_cli_usage("--rollback-to needs the chain's store: not with "
					     "--service");
		if ((status = tfa_cli_service_open(&client, &so, &co)) != 0)
			return status;
		tfa_cli_service_flush_hint(hint, sizeof(hint), client, &so, &co);
		sink.where = tfa_service_client_url(client);
		sink.flush_hint = hint;
		sink.idempotency_key = tfa_service_client_key(client);
		sink.prepare = sink_prepare;
		sink.record = sink_record;
		sink.ud = client;
		o.sink = &sink;
	} else if (co.expect_fpr || co.pubkey) {
		return tfa_cli_usage("--expect-key-fingerprint and --public-key go with --service");
	}
	rc = tfa_workflow_apply(&res, &o);
	if (rc != TFA_OK) {
		tfa_service_client_free(client);
		return tfa_cli_fail(rc);
	}
	tfa_workflow_report(res, to_stderr, NULL);
	status = res->exit_status;
	tfa_workflow_result_free(res);
	tfa_service_client_free(client);
	return status;
}

int tfa_cli_apply(int argc, char **argv)
{
	return run(argc, argv, false);
}

int tfa_cli_drift(int argc, char **argv)
{
	return run(argc, argv, true);
}
