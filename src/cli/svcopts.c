/* The options of `record --service` and `apply --service` (svcopts.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "svcopts.h"

int tfa_cli_service_opt(tfa_cli_service *s, int c, const char *arg)
{
	switch (c) {
	case 'U': s->url = arg; break;
	case 'C': s->ca = arg; break;
	case 'A': s->auth = arg; break;
	case 'a': s->audience = arg; break;
	case 'I': s->id_token = arg; break;
	case 'c': s->chain = arg; break;
	default: return 0;
	}
	s->given = 1;
	return 1;
}

int tfa_cli_service_open(tfa_service_client **out, const tfa_cli_service *s, const tfa_cli_opts *co)
{
	tfa_service_client_opts o;
	tfa_err rc;

	*out = NULL;
	memset(&o, 0, sizeof(o));
	if (s->url == NULL)
		return tfa_cli_usage(
		    "--service-ca, --service-auth, --service-audience, --id-token, "
		    "--idempotency-key and --chain go with --service URL");
	if (co->expect_fpr == NULL)
		return tfa_cli_usage("--service needs the chain key it trusts: "
				     "--expect-key-fingerprint FPR");
	if (co->pubkey == NULL)
		return tfa_cli_usage(
		    "--service needs the pinned key's public key to check the "
		    "service's signature: --public-key PEM (`tfattest pubkey` on the "
		    "service's host writes it)");
	o.chain_id = tfa_cli_opt_env(s->chain, "TFATTEST_CHAIN");
	if (o.chain_id == NULL)
		return tfa_cli_usage("--service needs the chain it records into: --chain ID");
	if (s->auth && tfa_service_auth_from_name(&o.auth, s->auth) != TFA_OK)
		return tfa_cli_usage("--service-auth takes oidc or aws");
	o.url = s->url;
	o.ca_file = s->ca;
	o.audience = s->audience;
	o.id_token_file = s->id_token;
	o.expect_fpr = co->expect_fpr;
	o.public_key_pem = co->pubkey;
	o.idempotency_key = s->key;
	rc = tfa_service_client_new(out, &o);
	if (rc != TFA_OK)
		return tfa_cli_fail(rc);
	fprintf(stderr,
		"tfattest: idempotency key %s (a retry of this run reuses it: "
		"--idempotency-key %s)\n",
		tfa_service_client_key(*out), tfa_service_client_key(*out));
	return 0;
}

void tfa_cli_service_flush_hint(char *out, size_t size, const tfa_service_client *c,
				const tfa_cli_service *s, const tfa_cli_opts *co)
{
	snprintf(out, size,
		 "tfattest record --flush-spool --service %s --chain %s "
		 "--expect-key-fingerprint %s%s%s",
		 tfa_service_client_url(c), tfa_cli_opt_env(s->chain, "TFATTEST_CHAIN"),
		 co->expect_fpr, co->pubkey ? " --public-key " : "", co->pubkey ? co->pubkey : "");
}
