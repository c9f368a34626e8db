/* The tfattest command line: built on the library's public API only. */
#ifndef TFA_CLI_H
#define TFA_CLI_H

#include <stdbool.h>

#include "tfattest/error.h"
#include "tfattest/features.h"

/*
 * The program's name as installed, which its messages and help use: a
 * verifier-only build is installed as tfattest-verify, beside a full tfattest
 * (TFA_PROGRAM_NAME in CMakeLists.txt, which tests/integration/help.sh holds
 * this to).
 */
#if TFATTEST_VERIFIER_ONLY
#define TFA_CLI_PROGRAM "tfattest-verify"
#else
#define TFA_CLI_PROGRAM "tfattest"
#endif

/* Prints "<program>: error: <message> (<detail>)" for the last error and returns the exit status.
 */
int tfa_cli_fail(tfa_err rc);

/* Prints a usage error and returns 2. */
int tfa_cli_usage(const char *fmt, ...) TFA_PRINTF(1, 2);

/* The value of --opt, else the environment variable, else NULL. */
const char *tfa_cli_opt_env(const char *opt, const char *env);

/* --expect-key-fingerprint takes sha256:<hex> itself, or a file holding it; 0 on success. */
int tfa_cli_load_fpr(char out[TFA_FPR_STRLEN], const char *arg);

/*
 * Whether the file a --public-key names holds a key fingerprint (sha256:<hex>,
 * or 64 hex digits) rather than a PEM: a usage mistake worth its own message.
 * A file that cannot be read is not judged here (false).
 */
bool tfa_cli_pubkey_is_fpr(const char *path);

struct cJSON;
/* The member o.a[.b[.c]] (b and c may be NULL), or NULL. */
const struct cJSON *tfa_cli_json_at(const struct cJSON *o, const char *a, const char *b,
				    const char *c);
/* The same, when it is a string: its value, else NULL. */
const char *tfa_cli_json_str(const struct cJSON *o, const char *a, const char *b, const char *c);

/* Parses a decimal integer in [min, max]; 0 on success. */
int tfa_cli_parse_int(const char *s, long long min, long long max, long long *out);

int tfa_cli_verify(int argc, char **argv);
int tfa_cli_canon(int argc, char **argv);
int tfa_cli_report(int argc, char **argv);
#if !TFATTEST_VERIFIER_ONLY
int tfa_cli_apply(int argc, char **argv);
int tfa_cli_drift(int argc, char **argv);
int tfa_cli_log(int argc, char **argv);
int tfa_cli_show(int argc, char **argv);
int tfa_cli_diff(int argc, char **argv);
int tfa_cli_init(int argc, char **argv);
int tfa_cli_record(int argc, char **argv);
int tfa_cli_export(int argc, char **argv);
int tfa_cli_pubkey(int argc, char **argv);
int tfa_cli_rotate(int argc, char **argv);
int tfa_cli_checkpoint(int argc, char **argv);
int tfa_cli_reconcile(int argc, char **argv);
int tfa_cli_serve(int argc, char **argv);
int tfa_cli_lambda(int argc, char **argv);
#ifdef TFATTEST_CLI_PKCS11
int tfa_cli_pkcs11(int argc, char **argv);
#endif
#endif

#endif
