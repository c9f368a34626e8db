#include <stdio.h>
#include <string.h>

#include "cli.h"

#define TFA_VERSION "0.1.0"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: tfattest <command> [options]\n"
	    "\n"
	    "Commands:\n"
#if !TFATTEST_VERIFIER_ONLY
	    "  init    --store S --chain NAME --key K         create a chain, pin its first key\n"
	    "  record  --store S --key K --plan PLAN.json     append one signed record\n"
	    "          [--state F] [--event apply|destroy|rollback|import]\n"
	    "          [--status succeeded|failed] [--exit-code N] [--algorithm ALG]\n"
	    "          [--rollback-to SEQ]                    (with --event rollback)\n"
	    "  record  --flush-spool --store S --key K        append spooled captures\n"
	    "  apply   [--store S] [--key K] [--event E] [--rollback-to SEQ] [--algorithm ALG]\n"
	    "          -- terraform|tofu [-chdir=DIR] apply|destroy [ARGS]\n"
	    "          run it, record the outcome, spool the record if it cannot be written\n"
	    "  log     --store S [--key K|--public-key PEM] [--since T] [--until T] [--json]\n"
	    "  show    --store S [--key K|--public-key PEM] SEQ [--json]\n"
	    "  diff    --store S [--key K|--public-key PEM] SEQ1 SEQ2\n"
	    "  export  --store S --key K --out DIR            write a signed bundle\n"
	    "          [--from N] [--to N] [--since T] [--until T] [--algorithm ALG]\n"
#if TFATTEST_WITH_ARCHIVE
	    "          or --archive FILE.tar.gz|FILE.tgz|FILE.zip instead of --out:\n"
	    "          the same bundle as one archive\n"
#endif
	    "  checkpoint --store S --key K                   sign the chain head and store it\n"
	    "          [--out FILE] [--tsa URL] [--algorithm ALG]\n"
	    "  rotate  --store S --key OLD --new-key NEW      hand the chain to a new key\n"
	    "          [--algorithm ALG] [--new-algorithm ALG]\n"
	    "  pubkey  --key K                                print the public key and "
	    "fingerprint\n"
	    "  lambda                                         the attestation service as an AWS "
	    "Lambda\n"
	    "          custom runtime, configured by the environment (docs/LAMBDA.md)\n"
#ifdef TFATTEST_CLI_PKCS11
	    "  pkcs11  list --module PATH [--token LABEL] [--pin-source FILE]\n"
	    "          list PKCS#11 tokens and key URIs\n"
#endif
#endif
	    "  verify  BUNDLE [--expect-key-fingerprint FPR|FILE] [--require-genesis] [--json]\n"
	    "          [--checkpoint FILE]... [--tsa-ca FILE] [--threads N]\n"
#if TFATTEST_WITH_ARCHIVE
	    "          BUNDLE is a bundle directory or a .tar.gz/.zip bundle archive\n"
#else
	    "          BUNDLE is a bundle directory (this build reads no archives)\n"
#endif
	    "  canon   [FILE]                                 print the RFC 8785 canonical form\n"
	    "  report  BUNDLE --html FILE [--expect-key-fingerprint FPR|FILE]\n"
	    "          verify and write a self-contained HTML report\n"
	    "\n"
	    "S and K may also come from TFATTEST_STORE and TFATTEST_KEY.\n"
	    "Every command that opens a store takes --sequencer Q (or TFATTEST_SEQUENCER) for a "
	    "store\n"
	    "that needs one: S = s3://BUCKET/PREFIX?region=R&retention-days=N with\n"
	    "Q = dynamodb://TABLE?region=R (docs/AWS-STORE.md).\n"
	    "Exit status: 0 ok, 1 verification failed or input rejected, 2 usage or environment "
	    "error.\n");
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("tfattest %s%s\n", TFA_VERSION,
#if TFATTEST_VERIFIER_ONLY
		       " (verifier only)"
#else
		       ""
#endif
		);
		return 0;
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
	if (strcmp(cmd, "lambda") == 0)
		return tfa_cli_lambda(argc - 1, argv + 1);
#ifdef TFATTEST_CLI_PKCS11
	if (strcmp(cmd, "pkcs11") == 0)
		return tfa_cli_pkcs11(argc - 1, argv + 1);
#endif
#endif
	fprintf(stderr, "tfattest: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
