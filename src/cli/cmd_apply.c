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
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "tfattest/signer.h"
#include "tfattest/workflow.h"

static void to_stderr(void *ud, const char *text)
{
	(void)ud;
	fprintf(stderr, "%s\n", text);
}

/* apply and drift: the same options, a different Terraform command. */
static int run(int argc, char **argv, bool drift)
{
	static const struct option own[] = {
	    {"event", required_argument, NULL, 'e'},
	    {"rollback-to", required_argument, NULL, 'r'},
	    {"no-plan-first", no_argument, NULL, 'n'},
	    {"allow-errored-plan", no_argument, NULL, 'E'},
	    {NULL, 0, NULL, 0},
	};
	static const struct option none[] = {{NULL, 0, NULL, 0}};
	static const char apply_use[] =
	    "tfattest apply [--store S] [--sequencer Q] [--key K] [--algorithm ALG] [--event "
	    "apply|destroy|rollback|import] [--rollback-to SEQ] [--no-plan-first] "
	    "[--allow-errored-plan] -- terraform|tofu [-chdir=DIR] apply|destroy|import|state "
	    "rm|mv|push [ARGS...]";
	static const char drift_use[] =
	    "tfattest drift [--store S] [--sequencer Q] [--key K] [--algorithm ALG] -- "
	    "terraform|tofu [-chdir=DIR] plan -refresh-only [-detailed-exitcode] [ARGS...]";
	const char *use = drift ? drift_use : apply_use;
	tfa_cli_opts co;
	tfa_workflow_opts o;
	tfa_workflow_result *res = NULL;
	long long v;
	int c, status;
	tfa_err rc;

	memset(&o, 0, sizeof(o));
	tfa_cli_opts_init(&co, TFA_CLI_CHAIN | TFA_CLI_ALGORITHM, use);
	co.shortopts = "+"; /* Terraform's own arguments follow -- */
	/* drift takes the common options alone: its --help lists no apply option. */
	while ((c = tfa_cli_getopt(&co, argc, argv, drift ? none : own)) > 0) {
		if (c == 'e' && !drift) {
			o.event = optarg;
		} else if (c == 'n' && !drift) {
			o.no_plan_first = true;
		} else if (c == 'E' && !drift) {
			o.allow_errored_plan = true;
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
	o.store = co.store;
	o.key = co.key;
	o.sequencer = co.sequencer;
	o.alg = co.alg;
	o.forward_signals = true;
	rc = tfa_workflow_apply(&res, &o);
	if (rc != TFA_OK)
		return tfa_cli_fail(rc);
	tfa_workflow_report(res, to_stderr, NULL);
	status = res->exit_status;
	tfa_workflow_result_free(res);
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
