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
#include "tfattest/signer.h"
#include "tfattest/workflow.h"

static void to_stderr(void *ud, const char *text)
{
	(void)ud;
	fprintf(stderr, "%s\n", text);
}

int tfa_cli_apply(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"store", required_argument, NULL, 's'},
	    {"sequencer", required_argument, NULL, 'Q'},
	    {"key", required_argument, NULL, 'k'},
	    {"event", required_argument, NULL, 'e'},
	    {"algorithm", required_argument, NULL, 'a'},
	    {"rollback-to", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	static const char use[] = "tfattest apply [--store S] [--sequencer Q] [--key K] [--event "
				  "apply|destroy|rollback|import] "
				  "[--rollback-to SEQ] [--algorithm ALG] -- terraform|tofu "
				  "[-chdir=DIR] apply|destroy [ARGS...]";
	tfa_workflow_opts o;
	tfa_workflow_result *res = NULL;
	const char *sequencer = NULL;
	long long v;
	int c, status;
	tfa_err rc;

	memset(&o, 0, sizeof(o));
	o.alg = TFA_ALG_NONE;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o.store = optarg; break;
		case 'Q': sequencer = optarg; break;
		case 'k': o.key = optarg; break;
		case 'e': o.event = optarg; break;
		case 'a':
			if (tfa_sig_alg_from_name(&o.alg, optarg) != TFA_OK)
				return tfa_cli_usage("--algorithm takes RSASSA_PSS_SHA_256, "
						     "RSASSA_PKCS1_V1_5_SHA_256 or ECDSA_SHA_256");
			break;
		case 'r':
			if (tfa_cli_parse_int(optarg, 1, 999999999999LL, &v) != 0)
				return tfa_cli_usage("--rollback-to takes a seq");
			o.rollback_to = (uint64_t)v;
			break;
		default: return tfa_cli_usage("%s", use);
		}
	}
	if (optind < 2 || strcmp(argv[optind - 1], "--") != 0 || optind >= argc)
		return tfa_cli_usage("%s", use);
	o.argv = argv + optind;
	o.argc = argc - optind;
	if (tfa_workflow_check_command(NULL, o.argc, o.argv) != TFA_OK)
		return tfa_cli_usage(
		    "the command after -- must be `%s apply ...` or `%s destroy ...`", o.argv[0],
		    o.argv[0]);
	if (o.rollback_to && (o.event == NULL || strcmp(o.event, "rollback") != 0))
		return tfa_cli_usage("--rollback-to needs --event rollback");
	o.store = tfa_cli_opt_env(o.store, "TFATTEST_STORE");
	o.key = tfa_cli_opt_env(o.key, "TFATTEST_KEY");
	o.sequencer = tfa_cli_opt_env(sequencer, "TFATTEST_SEQUENCER");
	o.forward_signals = true;
	rc = tfa_workflow_apply(&res, &o);
	if (rc != TFA_OK)
		return tfa_cli_fail(rc);
	tfa_workflow_report(res, to_stderr, NULL);
	status = res->exit_status;
	tfa_workflow_result_free(res);
	return status;
}
