/*
 * tfattest apply [record options] -- terraform apply [args...]
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

int tfa_cli_apply(int argc, char **argv)
{
	static const struct option own[] = {
	    {"event", required_argument, NULL, 'e'},
	    {"rollback-to", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	static const char use[] = "tfattest apply [--store S] [--sequencer Q] [--key K] [--event "
				  "apply|destroy|rollback|import] "
				  "[--rollback-to SEQ] [--algorithm ALG] -- terraform|tofu "
				  "[-chdir=DIR] apply|destroy [ARGS...]";
	tfa_cli_opts co;
	tfa_workflow_opts o;
	tfa_workflow_result *res = NULL;
	long long v;
	int c, status;
	tfa_err rc;

	memset(&o, 0, sizeof(o));
	tfa_cli_opts_init(&co, TFA_CLI_CHAIN | TFA_CLI_ALGORITHM, use);
	co.shortopts = "+"; /* Terraform's own arguments follow -- */
	while ((c = tfa_cli_getopt(&co, argc, argv, own)) > 0) {
		if (c == 'e') {
			o.event = optarg;
		} else {
			if (tfa_cli_parse_int(optarg, 1, 999999999999LL, &v) != 0)
				return tfa_cli_usage("--rollback-to takes a seq");
			o.rollback_to = (uint64_t)v;
		}
	}
	if (c < 0)
		return 2;
	if (optind < 2 || strcmp(argv[optind - 1], "--") != 0)
		return tfa_cli_usage("`--` is missing: the Terraform command follows it, as in "
				     "`tfattest apply [options] -- terraform apply PLAN`");
	if (optind >= argc)
		return tfa_cli_usage("no Terraform command after `--`: %s", use);
	o.argv = argv + optind;
	o.argc = argc - optind;
	if (tfa_workflow_check_command(NULL, o.argc, o.argv) != TFA_OK)
		return tfa_cli_usage(
		    "the command after -- must be `%s apply ...` or `%s destroy ...`", o.argv[0],
		    o.argv[0]);
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
