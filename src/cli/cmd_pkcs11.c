/*
 * tfattest pkcs11 list [--module PATH] [--token LABEL] [--pin-source FILE]
 *
 * Lists the tokens of a PKCS#11 module and the keys on them, each with a
 * ready-made pkcs11: URI for --key. The PIN comes from --pin-source (a file,
 * never the command line, where other processes could read it) or
 * TFATTEST_PKCS11_PIN; without one, the public keys are listed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "tfattest/pkcs11.h"

int tfa_cli_pkcs11(int argc, char **argv);

static const char pkcs11_usage[] =
    "tfattest pkcs11 list [--module PATH] [--token LABEL] [--pin-source FILE]";

static int pkcs11_list(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"module", required_argument, NULL, 'm'},
	    {"token", required_argument, NULL, 't'},
	    {"pin-source", required_argument, NULL, 'p'},
	    {NULL, 0, NULL, 0},
	};
	const char *module = NULL, *token = NULL, *pin_source = NULL, *env;
	char *pin = NULL;
	tfa_cli_opts o;
	tfa_buf out;
	tfa_err rc = TFA_OK;
	int c, status = 0;

	tfa_cli_opts_init(&o, 0, pkcs11_usage);
	o.cmd = "pkcs11 list";
	while ((c = tfa_cli_getopt(&o, argc, argv, longopts)) > 0) {
		switch (c) {
		case 'm': module = optarg; break;
		case 't': token = optarg; break;
		default: pin_source = optarg; break;
		}
	}
	if (c < 0)
		return 2;
	if (optind != argc)
		return tfa_cli_usage("%s", pkcs11_usage);
	module = tfa_cli_opt_env(module, "TFATTEST_PKCS11_MODULE");
	if (module == NULL)
		return tfa_cli_usage("%s (or set TFATTEST_PKCS11_MODULE)", pkcs11_usage);
	tfa_buf_init(&out, 0);
	if (pin_source != NULL) {
		/* On the command line a relative path is fine; in a URI it is not. */
		char *abs = NULL;
		if (pin_source[0] != '/' && strncmp(pin_source, "file:", 5) != 0)
			abs = realpath(pin_source, NULL);
		rc = tfa_pkcs11_pin_read(&pin, abs ? abs : pin_source);
		free(abs);
	} else if ((env = getenv("TFATTEST_PKCS11_PIN")) != NULL && *env != '\0') {
		pin = strdup(env);
		if (pin == NULL)
			return tfa_cli_usage("out of memory");
	}
	if (rc == TFA_OK)
		rc = tfa_pkcs11_list(&out, module, token, pin);
	tfa_pkcs11_pin_free(pin);
	if (rc != TFA_OK)
		status = tfa_cli_fail(rc);
	else if (out.len > 0 && fwrite(out.data, 1, out.len, stdout) != out.len)
		status = 2;
	tfa_buf_free(&out);
	return status;
}

int tfa_cli_pkcs11(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		if (argc >= 2) {
			printf("usage: tfattest pkcs11 list [options]\n       tfattest pkcs11 list "
			       "--help     its options\n");
			return fflush(stdout) == 0 ? 0 : 2;
		}
		return tfa_cli_usage("%s", pkcs11_usage);
	}
	if (strcmp(argv[1], "list") == 0)
		return pkcs11_list(argc - 1, argv + 1);
	return tfa_cli_usage("unknown pkcs11 command; %s", pkcs11_usage);
}
