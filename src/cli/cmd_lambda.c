#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "tfattest/lambda.h"

/*
 * `tfattest lambda`: the attestation service as a Lambda custom runtime
 * (docs/LAMBDA.md). Lambda starts it as `bootstrap`; it is configured by the
 * environment alone, as Lambda functions are.
 */
int tfa_cli_lambda(int argc, char **argv)
{
	static const char use[] = "tfattest lambda takes no arguments: it is configured by "
				  "AWS_LAMBDA_RUNTIME_API, TFATTEST_KEY, TFATTEST_STORE, "
				  "TFATTEST_SEQUENCER and TFATTEST_POLICY";
	tfa_cli_opts o;
	tfa_lambda_config cfg;
	tfa_err rc;

	tfa_cli_opts_init(&o, 0, use);
	o.cmd = "lambda";
	if (tfa_cli_getopt(&o, argc, argv, NULL) != 0)
		return 2; /* --help is handled there; nothing else is taken */
	if (optind != argc)
		return tfa_cli_usage("%s", use);
	memset(&cfg, 0, sizeof(cfg));
	cfg.runtime_api = getenv("AWS_LAMBDA_RUNTIME_API");
	cfg.key = getenv("TFATTEST_KEY");
	cfg.store = getenv("TFATTEST_STORE");
	cfg.sequencer = getenv("TFATTEST_SEQUENCER");
	cfg.policy = getenv("TFATTEST_POLICY");
	cfg.base_dir = getenv("LAMBDA_TASK_ROOT");
	rc = tfa_lambda_run(&cfg);
	return rc == TFA_OK ? 0 : tfa_cli_fail(rc);
}
