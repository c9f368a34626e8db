/*
 * Help: what `tfattest --help` and `tfattest CMD --help` print. Each
 * command's help lists the options its own parser takes (the getopt table
 * tfa_cli_getopt builds), each explained in one line from the table in
 * help.c, so that the help cannot list an option the command does not take
 * or miss one it does.
 */
#ifndef TFA_CLI_HELP_H
#define TFA_CLI_HELP_H

#include <getopt.h>
#include <stdio.h>

/* Writes the list of commands (`tfattest --help`). */
void tfa_cli_help_main(FILE *f);

/*
 * Writes the help of command `cmd` ("record", "pkcs11 list"): its usage, what
 * it does, and one line for each option of `table` (NULL-terminated; "help"
 * is listed last, whatever the table holds).
 */
void tfa_cli_help_command(FILE *f, const char *cmd, const struct option *table);

/* The command closest to `word` (a typo of it), or NULL when none is close. */
const char *tfa_cli_nearest_command(const char *word);

/* Whether `cmd` has help (is a command of this build). */
int tfa_cli_is_command(const char *cmd);

#endif
