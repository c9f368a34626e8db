/*
 * The options several commands share, written once: their spelling, their
 * checks and messages, and the environment variables they fall back to.
 * A command lists the common options it takes and its own getopt table;
 * tfa_cli_getopt parses both and returns only the command's own options.
 */
#ifndef TFA_CLI_OPTS_H
#define TFA_CLI_OPTS_H

#include <getopt.h>
#include <stdbool.h>

#include "tfattest/error.h"
#include "tfattest/sigalg.h"
#include "tfattest/verify.h"

/* The common options, as bits of tfa_cli_opts.take. */
#define TFA_CLI_STORE	   (1u << 0) /* --store S, else TFATTEST_STORE */
#define TFA_CLI_SEQUENCER  (1u << 1) /* --sequencer Q, else TFATTEST_SEQUENCER */
#define TFA_CLI_KEY	   (1u << 2) /* --key K, else TFATTEST_KEY */
#define TFA_CLI_PUBLIC_KEY (1u << 3) /* --public-key PEM */
#define TFA_CLI_ALGORITHM  (1u << 4) /* --algorithm ALG, checked as it is read */
#define TFA_CLI_JSON	   (1u << 5) /* --json */
#define TFA_CLI_EXPECT_FPR (1u << 6) /* --expect-key-fingerprint FPR|FILE */
/* What a bundle is judged against: --checkpoint FILE (repeatable), --tsa-ca FILE,
 * --require-genesis, --require-chain-manifest. */
#define TFA_CLI_TRUST (1u << 7)
/* What every command that opens a chain takes. */
#define TFA_CLI_CHAIN (TFA_CLI_STORE | TFA_CLI_SEQUENCER | TFA_CLI_KEY)

#define TFA_CLI_OWN_MAX 16 /* a command's own options, at most */

typedef struct tfa_cli_opts {
	/* Set by the command before the first tfa_cli_getopt. */
	unsigned take;	       /* TFA_CLI_* bits */
	const char *use;       /* the usage line for an unknown option; NULL: '?' is returned */
	const char *alg_error; /* the message for a bad --algorithm; NULL: the common one */
	const char *shortopts; /* getopt's optstring; NULL: "" */
	const char *cmd;       /* the command's name for --help; NULL: argv[0] */
	/* The values read; store, sequencer and key from the environment when not given. */
	const char *store, *sequencer, *key, *pubkey;
	const char *expect_fpr; /* NULL, or fpr */
	tfa_sig_alg alg;	/* TFA_ALG_NONE unless --algorithm */
	bool json;
	char fpr[TFA_FPR_STRLEN];
	/* TFA_CLI_TRUST's, in the form tfa_verify_opts takes them (tfa_cli_trust_opts). */
	const char *checkpoints[TFA_VERIFY_CHECKPOINTS_MAX];
	size_t ncheckpoints;
	const char *tsa_ca;
	bool require_genesis, require_chain_manifest;
	/* The parser's own. */
	bool started;
	struct option table[TFA_CLI_OWN_MAX + 14]; /* the common ones (11), own, help, end */
} tfa_cli_opts;

/* Ready for a command: nothing taken, nothing read. */
void tfa_cli_opts_init(tfa_cli_opts *o, unsigned take, const char *use);

/*
 * getopt_long over the common options o->take, the command's own table
 * (NULL-terminated, vals below 256) and --help, which prints the command's
 * help (help.h) to stdout and exits 0. Returns the val of the command's own
 * option next in argv (optarg as usual), 0 after the last option (optind is
 * then the first operand and the environment has filled store, sequencer and
 * key), -1 after printing a usage error (the command exits 2), or '?' for an
 * unknown or incomplete option when o->use is NULL.
 */
int tfa_cli_getopt(tfa_cli_opts *o, int argc, char **argv, const struct option *own);

/* Copies the trust inputs read (TFA_CLI_TRUST, TFA_CLI_EXPECT_FPR) into o; o keeps
 * pointers into co, which must outlive it. */
void tfa_cli_trust_opts(tfa_cli_opts *co, tfa_verify_opts *o);

/* The message for a bad --algorithm when the command has none of its own. */
extern const char tfa_cli_alg_error[];

#endif
