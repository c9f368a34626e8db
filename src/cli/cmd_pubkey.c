#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "session.h"
#include "tfattest/signer.h"

int tfa_cli_pubkey(int argc, char **argv)
{
	static const char use[] = "tfattest pubkey --key K";
	tfa_cli_opts o;
	tfa_cli_session ss;
	tfa_buf pem;
	const uint8_t *spki;
	size_t len;
	tfa_err rc;
	int c, status = 0;

	tfa_cli_opts_init(&o, TFA_CLI_KEY, use);
	if ((c = tfa_cli_getopt(&o, argc, argv, NULL)) != 0)
		return 2; /* the common options are all this command takes */
	if (optind != argc)
		return tfa_cli_usage("%s", use);
	tfa_buf_init(&pem, 0);
	tfa_cli_chain_init(&ss);
	rc = tfa_cli_chain_open_signer(&ss, &o);
	if (rc == TFA_OK) {
		spki = tfa_signer_spki(ss.signer, &len);
		rc = tfa_spki_to_pem(&pem, spki, len);
	}
	if (rc != TFA_OK) {
		status = tfa_cli_fail(rc);
	} else {
		fwrite(pem.data, 1, pem.len, stdout);
		printf("%s\n", tfa_signer_fingerprint(ss.signer));
	}
	tfa_buf_free(&pem);
	tfa_cli_chain_close(&ss);
	return status;
}
