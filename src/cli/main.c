#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "help.h"

#include "tfattest/features.h"

/* An unknown command: the nearest one, if it is close, else where the list is. */
static int unknown_command(const char *cmd)
{
	const char *near = tfa_cli_nearest_command(cmd);

	if (near)
		return tfa_cli_usage("unknown command '%s'; did you mean `%s`? (" TFA_CLI_PROGRAM
				     " --help lists "
				     "the commands)",
				     cmd, near);
	return tfa_cli_usage("unknown command '%s' (" TFA_CLI_PROGRAM " --help lists the commands)",
			     cmd);
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		tfa_cli_help_main(stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		tfa_cli_help_main(stdout);
		return fflush(stdout) == 0 ? 0 : 2;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		/* The name says which build it is: tfattest-verify is the verifier only. */
		printf("%s %s\n", TFA_CLI_PROGRAM, TFATTEST_VERSION);
		return fflush(stdout) == 0 ? 0 : 2;
	}
	if (strcmp(cmd, "verify") == 0)
		return tfa_cli_verify(argc - 1, argv + 1);
	if (strcmp(cmd, "canon") == 0)
		return tfa_cli_canon(argc - 1, argv + 1);
	if (strcmp(cmd, "report") == 0)
		return tfa_cli_report(argc - 1, argv + 1);
#if !TFATTEST_VERIFIER_ONLY
	if (strcmp(cmd, "apply") == 0)
		return tfa_cli_apply(argc - 1, argv + 1);
	if (strcmp(cmd, "drift") == 0)
		return tfa_cli_drift(argc - 1, argv + 1);
	if (strcmp(cmd, "log") == 0)
		return tfa_cli_log(argc - 1, argv + 1);
	if (strcmp(cmd, "show") == 0)
		return tfa_cli_show(argc - 1, argv + 1);
	if (strcmp(cmd, "diff") == 0)
		return tfa_cli_diff(argc - 1, argv + 1);
	if (strcmp(cmd, "init") == 0)
		return tfa_cli_init(argc - 1, argv + 1);
	if (strcmp(cmd, "record") == 0)
		return tfa_cli_record(argc - 1, argv + 1);
	if (strcmp(cmd, "export") == 0)
		return tfa_cli_export(argc - 1, argv + 1);
	if (strcmp(cmd, "pubkey") == 0)
		return tfa_cli_pubkey(argc - 1, argv + 1);
	if (strcmp(cmd, "rotate") == 0)
		return tfa_cli_rotate(argc - 1, argv + 1);
	if (strcmp(cmd, "checkpoint") == 0)
		return tfa_cli_checkpoint(argc - 1, argv + 1);
	if (strcmp(cmd, "reconcile") == 0)
		return tfa_cli_reconcile(argc - 1, argv + 1);
	if (strcmp(cmd, "serve") == 0)
		return tfa_cli_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "lambda") == 0)
		return tfa_cli_lambda(argc - 1, argv + 1);
#ifdef TFATTEST_CLI_PKCS11
	if (strcmp(cmd, "pkcs11") == 0)
		return tfa_cli_pkcs11(argc - 1, argv + 1);
#endif
#endif
	return unknown_command(cmd);
}
