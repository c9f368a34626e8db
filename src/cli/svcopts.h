/*
 * The options of `record --service` and `apply --service`, written once:
 * the service's URL, trust, authentication, chain and idempotency key.
 */
#ifndef TFA_CLI_SVCOPTS_H
#define TFA_CLI_SVCOPTS_H

#include <getopt.h>

#include "opts.h"
#include "tfattest/service_client.h"

/* The getopt entries (vals below 256), for a command's own table. */
#define TFA_CLI_SERVICE_OPTIONS                                                                    \
	{"service", required_argument, NULL, 'U'}, {"service-ca", required_argument, NULL, 'C'},   \
	    {"service-auth", required_argument, NULL, 'A'},                                        \
	    {"service-audience", required_argument, NULL, 'a'},                                    \
	    {"id-token", required_argument, NULL, 'I'},                                            \
	{                                                                                          \
		"chain", required_argument, NULL, 'c'                                              \
	}

/* The usage text of those options. */
#define TFA_CLI_SERVICE_USE                                                                        \
	"--service URL --chain ID --expect-key-fingerprint FPR --public-key PEM "                  \
	"[--service-ca F] [--service-auth oidc|aws] [--service-audience A] [--id-token FILE] "     \
	"[--idempotency-key K]"

typedef struct tfa_cli_service {
	const char *url, *ca, *auth, *audience, *id_token, *chain;
	const char *key; /* the idempotency key: the command's --idempotency-key, or NULL */
	int given;	 /* any service option was given */
} tfa_cli_service;

/* 1 when c is one of the service options (its value is kept), else 0. */
int tfa_cli_service_opt(tfa_cli_service *s, int c, const char *arg);

/*
 * Opens the client from the options (chain from --chain, else TFATTEST_CHAIN)
 * and prints the run's idempotency key to stderr. Returns the exit status
 * of a failure (after printing it), or 0 with *out set.
 */
int tfa_cli_service_open(tfa_service_client **out, const tfa_cli_service *s,
			 const tfa_cli_opts *co);

/* The command that sends spooled requests again, for messages. */
void tfa_cli_service_flush_hint(char *out, size_t size, const tfa_service_client *c,
				const tfa_cli_service *s, const tfa_cli_opts *co);

#endif
