/* Tests for the CLI's common options (src/cli/opts.c): spelling, checks, messages, environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "tfa_test.h"

/* What the parser wrote to stderr while running, so the messages can be checked. */
static char err_text[4096];
static int saved_fd = -1;
static FILE *err_file;

static void capture_begin(void)
{
	fflush(stderr);
	err_file = tmpfile();
	if (err_file == NULL)
		exit(2);
	saved_fd = dup(fileno(stderr));
	dup2(fileno(err_file), fileno(stderr));
}

static const char *capture_end(void)
{
	size_t n;

	fflush(stderr);
	dup2(saved_fd, fileno(stderr));
	close(saved_fd);
	rewind(err_file);
	n = fread(err_text, 1, sizeof(err_text) - 1, err_file);
	err_text[n] = '\0';
	fclose(err_file);
	return err_text;
}

static const struct option own[] = {
    {"plan", required_argument, NULL, 'p'},
    {"flag", no_argument, NULL, 'f'},
    {NULL, 0, NULL, 0},
};

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)

static void clear_env(void)
{
	unsetenv("TFATTEST_STORE");
	unsetenv("TFATTEST_KEY");
	unsetenv("TFATTEST_SEQUENCER");
}

/* Common and own options mixed: the common are kept, the own returned in argv order. */
static void test_mixed(void)
{
	char *argv[] = {"cmd",	 "--store", "s",	   "--plan", "p",    "--json", "--flag",
			"--key", "k",	    "--sequencer", "q",	     "rest", NULL};
	tfa_cli_opts o;

	clear_env();
	tfa_cli_opts_init(&o, TFA_CLI_CHAIN | TFA_CLI_JSON, "use");
	CHECK(tfa_cli_getopt(&o, ARGC(argv), argv, own) == 'p');
	CHECK_STREQ(optarg, "p");
	CHECK(tfa_cli_getopt(&o, ARGC(argv), argv, own) == 'f');
	CHECK(tfa_cli_getopt(&o, ARGC(argv), argv, own) == 0);
	CHECK(optind == ARGC(argv) - 1);
	CHECK_STREQ(o.store, "s");
	CHECK_STREQ(o.key, "k");
	CHECK_STREQ(o.sequencer, "q");
	CHECK(o.json);
	CHECK(o.pubkey == NULL && o.expect_fpr == NULL && o.alg == TFA_ALG_NONE);
}

/* A command parses twice in one process (tests do): each parse starts from argv[1]. */
static void test_restart(void)
{
	char *a1[] = {"cmd", "--store", "one", NULL};
	char *a2[] = {"cmd", "--store", "two", NULL};
	tfa_cli_opts o;

	clear_env();
	tfa_cli_opts_init(&o, TFA_CLI_STORE, "use");
	CHECK(tfa_cli_getopt(&o, ARGC(a1), a1, NULL) == 0);
	CHECK_STREQ(o.store, "one");
	tfa_cli_opts_init(&o, TFA_CLI_STORE, "use");
	CHECK(tfa_cli_getopt(&o, ARGC(a2), a2, NULL) == 0);
	CHECK_STREQ(o.store, "two");
}

static void test_environment(void)
{
	char *none[] = {"cmd", NULL};
	char *given[] = {"cmd", "--store", "s", "--key", "", NULL};
	tfa_cli_opts o;

	clear_env();
	setenv("TFATTEST_STORE", "/env/store", 1);
	setenv("TFATTEST_KEY", "file:/env/k.pem", 1);
	setenv("TFATTEST_SEQUENCER", "dynamodb://t", 1);
	tfa_cli_opts_init(&o, TFA_CLI_CHAIN, "use");
	CHECK(tfa_cli_getopt(&o, ARGC(none), none, NULL) == 0);
	CHECK_STREQ(o.store, "/env/store");
	CHECK_STREQ(o.key, "file:/env/k.pem");
	CHECK_STREQ(o.sequencer, "dynamodb://t");
	/* An option given wins; an empty one is as if not given. */
	tfa_cli_opts_init(&o, TFA_CLI_CHAIN, "use");
	CHECK(tfa_cli_getopt(&o, ARGC(given), given, NULL) == 0);
	CHECK_STREQ(o.store, "s");
	CHECK_STREQ(o.key, "file:/env/k.pem");
	/* Only the options a command takes come from the environment. */
	tfa_cli_opts_init(&o, TFA_CLI_KEY, "use");
	CHECK(tfa_cli_getopt(&o, ARGC(none), none, NULL) == 0);
	CHECK(o.store == NULL && o.sequencer == NULL);
	CHECK_STREQ(o.key, "file:/env/k.pem");
	clear_env();
	tfa_cli_opts_init(&o, TFA_CLI_CHAIN, "use");
	CHECK(tfa_cli_getopt(&o, ARGC(none), none, NULL) == 0);
	CHECK(o.store == NULL && o.key == NULL && o.sequencer == NULL);
}

/* An option the command does not take is unknown: the usage line, or '?' for the command. */
static void test_unknown(void)
{
	char *not_taken[] = {"cmd", "--key", "k", NULL};
	char *bogus[] = {"cmd", "--bogus", NULL};
	char *missing[] = {"cmd", "--store", NULL};
	tfa_cli_opts o;

	clear_env();
	tfa_cli_opts_init(&o, TFA_CLI_STORE, "tfattest cmd --store S");
	capture_begin();
	CHECK(tfa_cli_getopt(&o, ARGC(not_taken), not_taken, own) == -1);
	CHECK_STREQ(capture_end(), TFA_CLI_PROGRAM ": usage error: tfattest cmd --store S\n");
	tfa_cli_opts_init(&o, TFA_CLI_STORE, "tfattest cmd --store S");
	capture_begin();
	CHECK(tfa_cli_getopt(&o, ARGC(missing), missing, own) == -1);
	CHECK_STREQ(capture_end(), TFA_CLI_PROGRAM ": usage error: tfattest cmd --store S\n");
	tfa_cli_opts_init(&o, TFA_CLI_STORE, NULL);
	capture_begin();
	CHECK(tfa_cli_getopt(&o, ARGC(bogus), bogus, own) == '?');
	CHECK_STREQ(capture_end(), "");
	CHECK(optind == 2);
}

static void test_algorithm(void)
{
	char *good[] = {"cmd", "--algorithm", "ECDSA_SHA_256", NULL};
	char *bad[] = {"cmd", "--algorithm", "MD5", "--bogus", NULL};
	tfa_cli_opts o;

	tfa_cli_opts_init(&o, TFA_CLI_ALGORITHM, "use");
	CHECK(tfa_cli_getopt(&o, ARGC(good), good, NULL) == 0);
	CHECK(o.alg == TFA_ALG_ECDSA_SHA_256);
	/* Checked as it is read: the bad value is told before the unknown option after it. */
	tfa_cli_opts_init(&o, TFA_CLI_ALGORITHM, "use");
	capture_begin();
	CHECK(tfa_cli_getopt(&o, ARGC(bad), bad, NULL) == -1);
	CHECK_STREQ(capture_end(),
		    TFA_CLI_PROGRAM ": usage error: --algorithm takes RSASSA_PSS_SHA_256, "
				    "RSASSA_PKCS1_V1_5_SHA_256 or ECDSA_SHA_256\n");
	tfa_cli_opts_init(&o, TFA_CLI_ALGORITHM, "use");
	o.alg_error = "unknown --algorithm";
	capture_begin();
	CHECK(tfa_cli_getopt(&o, ARGC(bad), bad, NULL) == -1);
	CHECK_STREQ(capture_end(), TFA_CLI_PROGRAM ": usage error: unknown --algorithm\n");
}

static void test_fingerprint(void)
{
	char *good[] = {"cmd", "--expect-key-fingerprint", "sha256:00ff", NULL};
	char *bad[] = {"cmd", "--expect-key-fingerprint", "/nonexistent/fpr", NULL};
	tfa_cli_opts o;

	tfa_cli_opts_init(&o, TFA_CLI_EXPECT_FPR, "use");
	CHECK(tfa_cli_getopt(&o, ARGC(good), good, NULL) == 0);
	CHECK(o.expect_fpr == o.fpr);
	CHECK_STREQ(o.expect_fpr, "sha256:00ff");
	tfa_cli_opts_init(&o, TFA_CLI_EXPECT_FPR, "use");
	capture_begin();
	CHECK(tfa_cli_getopt(&o, ARGC(bad), bad, NULL) == -1);
	CHECK_STREQ(capture_end(), TFA_CLI_PROGRAM ": usage error: --expect-key-fingerprint takes "
						   "sha256:<hex> or a file holding it\n");
	CHECK(o.expect_fpr == NULL);
}

/* With "+", parsing stops at the first operand: what follows -- is another program's. */
static void test_stop_at_operand(void)
{
	char *argv[] = {"cmd", "--store", "s", "--", "terraform", "apply", "--key", "x", NULL};
	tfa_cli_opts o;

	clear_env();
	tfa_cli_opts_init(&o, TFA_CLI_CHAIN, "use");
	o.shortopts = "+";
	CHECK(tfa_cli_getopt(&o, ARGC(argv), argv, NULL) == 0);
	CHECK(optind == 4);
	CHECK_STREQ(argv[optind - 1], "--");
	CHECK(o.key == NULL);
}

/* A table too long for the parser is refused, never overrun. */
static void test_too_many(void)
{
	struct option many[TFA_CLI_OWN_MAX + 2];
	char names[TFA_CLI_OWN_MAX + 1][8];
	char *argv[] = {"cmd", NULL};
	tfa_cli_opts o;

	for (int i = 0; i <= TFA_CLI_OWN_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "o%d", i);
		many[i] = (struct option){names[i], no_argument, NULL, 'a' + i};
	}
	memset(&many[TFA_CLI_OWN_MAX + 1], 0, sizeof(many[0]));
	tfa_cli_opts_init(&o, ~0u, "use");
	capture_begin();
	CHECK(tfa_cli_getopt(&o, ARGC(argv), argv, many) == -1);
	CHECK(strstr(capture_end(), "too many options") != NULL);
	/* One fewer fits, with every common option. */
	memset(&many[TFA_CLI_OWN_MAX], 0, sizeof(many[0]));
	tfa_cli_opts_init(&o, ~0u, "use");
	CHECK(tfa_cli_getopt(&o, ARGC(argv), argv, many) == 0);
}

/* The trust inputs verify and report share: read once, handed on as tfa_verify_opts. */
static void test_trust(void)
{
	char *argv[] = {"cmd",	  "--checkpoint", "a.ckpt", "--require-genesis",	"--tsa-ca",
			"ca.pem", "--checkpoint", "b.ckpt", "--require-chain-manifest", "bundle",
			NULL};
	char *none[] = {"cmd", "bundle", NULL};
	char *over[2 * TFA_VERIFY_CHECKPOINTS_MAX + 2];
	tfa_cli_opts o;
	tfa_verify_opts v;

	clear_env();
	tfa_cli_opts_init(&o, TFA_CLI_TRUST, "use");
	CHECK(tfa_cli_getopt(&o, ARGC(argv), argv, NULL) == 0);
	CHECK(optind == ARGC(argv) - 1);
	memset(&v, 0, sizeof(v));
	tfa_cli_trust_opts(&o, &v);
	CHECK(v.ncheckpoints == 2);
	CHECK_STREQ(v.checkpoints[0], "a.ckpt");
	CHECK_STREQ(v.checkpoints[1], "b.ckpt");
	CHECK_STREQ(v.tsa_ca, "ca.pem");
	CHECK(v.require_genesis && v.require_chain_manifest);
	CHECK(v.expect_fpr == NULL);

	/* None given: nothing required, no list. */
	tfa_cli_opts_init(&o, TFA_CLI_TRUST, "use");
	CHECK(tfa_cli_getopt(&o, ARGC(none), none, NULL) == 0);
	memset(&v, 0xff, sizeof(v));
	tfa_cli_trust_opts(&o, &v);
	CHECK(v.checkpoints == NULL && v.ncheckpoints == 0 && v.tsa_ca == NULL);
	CHECK(!v.require_genesis && !v.require_chain_manifest);

	/* Not taken: the options are unknown. */
	tfa_cli_opts_init(&o, TFA_CLI_EXPECT_FPR, "use");
	capture_begin();
	CHECK(tfa_cli_getopt(&o, ARGC(argv), argv, NULL) == -1);
	capture_end();

	/* One --checkpoint more than the verifier takes is a usage error, not an overrun. */
	over[0] = "cmd";
	for (int i = 0; i < TFA_VERIFY_CHECKPOINTS_MAX; i++) {
		over[1 + 2 * i] = "--checkpoint";
		over[2 + 2 * i] = "c.ckpt";
	}
	over[2 * TFA_VERIFY_CHECKPOINTS_MAX + 1] = NULL;
	tfa_cli_opts_init(&o, TFA_CLI_TRUST, "use");
	capture_begin();
	CHECK(tfa_cli_getopt(&o, ARGC(over), over, NULL) == -1);
	CHECK(strstr(capture_end(), "at most 15 --checkpoint files") != NULL);
	CHECK(o.ncheckpoints == TFA_VERIFY_CHECKPOINTS_MAX - 1);
	/* One fewer is taken whole. */
	over[2 * TFA_VERIFY_CHECKPOINTS_MAX - 1] = NULL;
	tfa_cli_opts_init(&o, TFA_CLI_TRUST, "use");
	CHECK(tfa_cli_getopt(&o, ARGC(over) - 2, over, NULL) == 0);
	CHECK(o.ncheckpoints == TFA_VERIFY_CHECKPOINTS_MAX - 1);
}

TFA_TEST_MAIN(T(test_trust), T(test_mixed), T(test_restart), T(test_environment), T(test_unknown),
	      T(test_algorithm), T(test_fingerprint), T(test_stop_at_operand), T(test_too_many))
