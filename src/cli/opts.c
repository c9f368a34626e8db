#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "help.h"
#include "opts.h"

const char tfa_cli_alg_error[] =
    "--algorithm takes RSASSA_PSS_SHA_256, RSASSA_PKCS1_V1_5_SHA_256 or ECDSA_SHA_256";

/* Vals above any command's own (which are characters). */
enum {
	OPT_STORE = 0x100,
	OPT_SEQUENCER,
	OPT_KEY,
	OPT_PUBLIC_KEY,
	OPT_ALGORITHM,
	OPT_JSON,
	OPT_EXPECT_FPR,
	OPT_CHECKPOINT,
	OPT_TSA_CA,
	OPT_REQUIRE_GENESIS,
	OPT_REQUIRE_CHAIN_MANIFEST,
	OPT_HELP,
};

static const struct {
	unsigned bit;
	struct option opt;
} common[] = {
    {TFA_CLI_STORE, {"store", required_argument, NULL, OPT_STORE}},
    {TFA_CLI_SEQUENCER, {"sequencer", required_argument, NULL, OPT_SEQUENCER}},
    {TFA_CLI_KEY, {"key", required_argument, NULL, OPT_KEY}},
    {TFA_CLI_PUBLIC_KEY, {"public-key", required_argument, NULL, OPT_PUBLIC_KEY}},
    {TFA_CLI_ALGORITHM, {"algorithm", required_argument, NULL, OPT_ALGORITHM}},
    {TFA_CLI_JSON, {"json", no_argument, NULL, OPT_JSON}},
    {TFA_CLI_EXPECT_FPR, {"expect-key-fingerprint", required_argument, NULL, OPT_EXPECT_FPR}},
    {TFA_CLI_TRUST, {"checkpoint", required_argument, NULL, OPT_CHECKPOINT}},
    {TFA_CLI_TRUST, {"tsa-ca", required_argument, NULL, OPT_TSA_CA}},
    {TFA_CLI_TRUST, {"require-genesis", no_argument, NULL, OPT_REQUIRE_GENESIS}},
    {TFA_CLI_TRUST, {"require-chain-manifest", no_argument, NULL, OPT_REQUIRE_CHAIN_MANIFEST}},
};

void tfa_cli_opts_init(tfa_cli_opts *o, unsigned take, const char *use)
{
	memset(o, 0, sizeof(*o));
	o->take = take;
	o->use = use;
	o->alg = TFA_ALG_NONE;
}

void tfa_cli_trust_opts(tfa_cli_opts *co, tfa_verify_opts *o)
{
	o->expect_fpr = co->expect_fpr;
	o->checkpoints = co->ncheckpoints ? co->checkpoints : NULL;
	o->ncheckpoints = co->ncheckpoints;
	o->tsa_ca = co->tsa_ca;
	o->require_genesis = co->require_genesis;
	o->require_chain_manifest = co->require_chain_manifest;
}

/* The common options taken, then the command's own: one table for getopt_long. */
static int build_table(tfa_cli_opts *o, const struct option *own)
{
	size_t n = 0;

	_Static_assert(
	    sizeof(common) / sizeof(common[0]) + TFA_CLI_OWN_MAX + 2 <=
		sizeof(o->table) / sizeof(o->table[0]),
	    "tfa_cli_opts.table holds every common option, the own ones, help and the end");
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		if (o->take & common[i].bit)
			o->table[n++] = common[i].opt;
	for (size_t i = 0; own && own[i].name; i++) {
		if (i >= TFA_CLI_OWN_MAX)
			return -1;
		o->table[n++] = own[i];
	}
	o->table[n++] = (struct option){"help", no_argument, NULL, OPT_HELP};
	memset(&o->table[n], 0, sizeof(o->table[n]));
	return 0;
}

/* The usage message has been printed: -1 tells the command to exit 2. */
static int usage_error(int status)
{
	(void)status;
	return -1;
}

int tfa_cli_getopt(tfa_cli_opts *o, int argc, char **argv, const struct option *own)
{
	int c;

	if (!o->started) {
		if (build_table(o, own) != 0)
			return usage_error(tfa_cli_usage("internal: too many options"));
		o->started = true;
		optind = 1;
		opterr = 0;
	}
	for (;;) {
		c = getopt_long(argc, argv, o->shortopts ? o->shortopts : "", o->table, NULL);
		switch (c) {
		case OPT_STORE: o->store = optarg; break;
		case OPT_SEQUENCER: o->sequencer = optarg; break;
		case OPT_KEY: o->key = optarg; break;
		case OPT_PUBLIC_KEY: o->pubkey = optarg; break;
		case OPT_JSON: o->json = true; break;
		case OPT_HELP:
			/* Nothing is open yet: help is printed and the command ends here. */
			tfa_cli_help_command(stdout, o->cmd ? o->cmd : argv[0], o->table);
			exit(fflush(stdout) == 0 ? 0 : 2);
		case OPT_ALGORITHM:
			if (tfa_sig_alg_from_name(&o->alg, optarg) != TFA_OK)
				return usage_error(tfa_cli_usage(
				    "%s", o->alg_error ? o->alg_error : tfa_cli_alg_error));
			break;
		case OPT_EXPECT_FPR:
			if (tfa_cli_load_fpr(o->fpr, optarg) != 0)
				return usage_error(
				    tfa_cli_usage("--expect-key-fingerprint takes "
						  "sha256:<hex> or a file holding it"));
			o->expect_fpr = o->fpr;
			break;
		case OPT_CHECKPOINT:
			if (o->ncheckpoints + 1 >= TFA_VERIFY_CHECKPOINTS_MAX)
				return usage_error(tfa_cli_usage("at most %d --checkpoint files",
								 TFA_VERIFY_CHECKPOINTS_MAX - 1));
			o->checkpoints[o->ncheckpoints++] = optarg;
			break;
		case OPT_TSA_CA: o->tsa_ca = optarg; break;
		case OPT_REQUIRE_GENESIS: o->require_genesis = true; break;
		case OPT_REQUIRE_CHAIN_MANIFEST: o->require_chain_manifest = true; break;
		case -1:
			if (o->pubkey && tfa_cli_pubkey_is_fpr(o->pubkey))
				return usage_error(tfa_cli_usage(
				    "--public-key %s: the file holds a key fingerprint, not a "
				    "public key; --public-key takes the PEM that `tfattest pubkey "
				    "--key K` prints%s",
				    o->pubkey,
				    o->take & TFA_CLI_EXPECT_FPR
					? ", and a fingerprint goes to --expect-key-fingerprint"
					: " (a fingerprint pins a key in verify, report and "
					  "export, "
					  "with --expect-key-fingerprint)"));
			if (o->take & TFA_CLI_STORE)
				o->store = tfa_cli_opt_env(o->store, "TFATTEST_STORE");
			if (o->take & TFA_CLI_SEQUENCER)
				o->sequencer = tfa_cli_opt_env(o->sequencer, "TFATTEST_SEQUENCER");
			if (o->take & TFA_CLI_KEY)
				o->key = tfa_cli_opt_env(o->key, "TFATTEST_KEY");
			return 0;
		case '?':
		case ':':
			if (o->use == NULL)
				return '?';
			return usage_error(tfa_cli_usage("%s", o->use));
		default: return c;
		}
	}
}
