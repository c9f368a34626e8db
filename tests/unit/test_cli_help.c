/* Tests for the CLI's help (src/cli/help.c): the listing, per-command help, typo suggestions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/help.h"
#include "tfa_test.h"
#include "tfattest/features.h"

/* What f received, as a string (static buffer). */
static const char *text_of(FILE *f)
{
	static char buf[16384];
	size_t n;

	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	return buf;
}

static void test_nearest(void)
{
	CHECK_STREQ(tfa_cli_nearest_command("verfy"), "verify"); /* a letter missing */
	CHECK_STREQ(tfa_cli_nearest_command("canno"), "canon");
	CHECK(tfa_cli_nearest_command("frobnicate") == NULL);
	CHECK(tfa_cli_nearest_command("") == NULL);
#if !TFATTEST_VERIFIER_ONLY
	CHECK_STREQ(tfa_cli_nearest_command("recrod"), "record");  /* a swap */
	CHECK_STREQ(tfa_cli_nearest_command("verfy"), "verify");   /* a letter missing */
	CHECK_STREQ(tfa_cli_nearest_command("exportt"), "export"); /* one too many */
	CHECK_STREQ(tfa_cli_nearest_command("chekpoint"), "checkpoint");
	CHECK_STREQ(tfa_cli_nearest_command("recor"), "record"); /* the one command it begins */
	CHECK(tfa_cli_nearest_command("rec") == NULL);		 /* record, reconcile: not one */
	CHECK_STREQ(tfa_cli_nearest_command("reconcil"), "reconcile");
	CHECK(tfa_cli_nearest_command("frobnicate") == NULL);
	CHECK(tfa_cli_nearest_command("re") == NULL); /* record, report, rotate: not one */
	CHECK(tfa_cli_nearest_command("") == NULL);
	CHECK(tfa_cli_nearest_command("a-very-long-word-that-is-no-command-at-all") == NULL);
#else
	/* The verifier-only build knows its own commands alone. */
	CHECK(tfa_cli_nearest_command("recrod") == NULL);
#endif
}

static void test_main_lists_every_command(void)
{
	static const char *const cmds[] = {
#if !TFATTEST_VERIFIER_ONLY
		"init",
		"record",
		"apply",
		"drift",
		"log",
		"show",
		"diff",
		"export",
		"checkpoint",
		"rotate",
		"pubkey",
		"reconcile",
		"lambda",
#endif
		"verify",
		"report",
		"canon",
		NULL
	};
	FILE *f = tmpfile();
	const char *t;

	CHECK(f != NULL);
	if (f == NULL)
		return;
	tfa_cli_help_main(f);
	t = text_of(f);
	CHECK(strncmp(t, "usage: " TFA_CLI_PROGRAM " <command>",
		      strlen("usage: " TFA_CLI_PROGRAM " <command>")) == 0);
	CHECK(strstr(t, "\n       " TFA_CLI_PROGRAM " --version\n") != NULL);
	for (const char *const *c = cmds; *c; c++) {
		char line[64];
		snprintf(line, sizeof(line), "\n  %s ", *c);
		CHECK(strstr(t, line) != NULL);
		CHECK(tfa_cli_is_command(*c));
	}
	CHECK(!tfa_cli_is_command("frobnicate"));
	fclose(f);
}

static void test_command_help(void)
{
	static const struct option table[] = {
	    {"store", required_argument, NULL, 1},
	    {"flush-spool", no_argument, NULL, 2},
	    {"not-a-documented-option", required_argument, NULL, 3},
	    {"help", no_argument, NULL, 4},
	    {NULL, 0, NULL, 0},
	};
	FILE *f = tmpfile();
	const char *t;

	CHECK(f != NULL);
	if (f == NULL)
		return;
	tfa_cli_help_command(f, "record", table);
	t = text_of(f);
	/* The program as installed: tfattest, or tfattest-verify (a verifier-only build). */
	CHECK(strncmp(t, "usage: " TFA_CLI_PROGRAM " record ",
		      strlen("usage: " TFA_CLI_PROGRAM " record ")) == 0);
	CHECK(strstr(t, "  --store S ") != NULL);
	CHECK(strstr(t, "TFATTEST_STORE") != NULL);
	CHECK(strstr(t, "  --flush-spool ") != NULL);
	/* An option the table has and the docs do not is shown, and flagged. */
	CHECK(strstr(t, "--not-a-documented-option VALUE") != NULL);
	CHECK(strstr(t, "(no description)") != NULL);
	/* --help is listed once, last. */
	CHECK(strstr(t, "  --help ") != NULL &&
	      strstr(strstr(t, "  --help ") + 3, "--help") == NULL);
	CHECK(strstr(t, "  --help ") > strstr(t, "--not-a-documented-option"));
	fclose(f);

	/* A command's own entry wins over the common one. */
	f = tmpfile();
	CHECK(f != NULL);
	if (f == NULL)
		return;
	tfa_cli_help_command(f, "rotate", (const struct option[]){{"key", 1, NULL, 1}, {0}});
	CHECK(strstr(text_of(f), "--key OLD ") != NULL);
	fclose(f);
}

TFA_TEST_MAIN(T(test_nearest), T(test_main_lists_every_command), T(test_command_help))
