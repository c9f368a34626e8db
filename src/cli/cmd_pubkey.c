#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tfattest/signer.h"

int tfa_cli_pubkey(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key = NULL;
	tfa_signer *s = NULL;
	tfa_buf pem;
	const uint8_t *spki;
	size_t len;
	tfa_err rc;
	int c, status = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'k')
			return tfa_cli_usage("tfattest pubkey --key K");
		key = optarg;
	}
	if (optind != argc)
		return tfa_cli_usage("tfattest pubkey --key K");
	key = tfa_cli_opt_env(key, "TFATTEST_KEY");
	tfa_buf_init(&pem, 0);
	rc = tfa_signer_open(&s, key);
	if (rc == TFA_OK) {
		spki = tfa_signer_spki(s, &len);
		rc = tfa_spki_to_pem(&pem, spki, len);
	}
	if (rc != TFA_OK) {
		status = tfa_cli_fail(rc);
	} else {
		fwrite(pem.data, 1, pem.len, stdout);
		printf("%s\n", tfa_signer_fingerprint(s));
	}
	tfa_buf_free(&pem);
	tfa_signer_free(s);
	return status;
}
