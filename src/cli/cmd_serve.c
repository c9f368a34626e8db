#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "tfattest/serve.h"

static int uint_opt(const char *name, const char *arg, long long min, long long max, unsigned *out)
{
	long long v;

	if (tfa_cli_parse_int(arg, min, max, &v) != 0) {
		tfa_cli_usage("%s must be a whole number from %lld to %lld", name, min, max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

int tfa_cli_serve(int argc, char **argv)
{
	static const struct option own[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"policy", required_argument, NULL, 'p'},
	    {"tls-cert", required_argument, NULL, 'c'},
	    {"tls-key", required_argument, NULL, 'k'},
	    {"client-ca", required_argument, NULL, 'a'},
	    {"workers", required_argument, NULL, 'w'},
	    {"queue", required_argument, NULL, 'q'},
	    {"checkpoint-every", required_argument, NULL, 'e'},
	    {"checkpoint-interval", required_argument, NULL, 'i'},
	    {"access-log", required_argument, NULL, 'g'},
	    {"insecure-plain-http", no_argument, NULL, 'P'},
	    {"request-timeout", required_argument, NULL, 't'},
	    {"max-connections-per-ip", required_argument, NULL, 'm'},
	    {"ready-file", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	static const char use[] =
	    "tfattest serve --listen HOST:PORT --store S [--sequencer Q] --key K --policy FILE\n"
	    "       --tls-cert F --tls-key F [--client-ca F] [--workers N] [--queue N]\n"
	    "       [--checkpoint-every N] [--checkpoint-interval MIN] [--access-log FILE|-]\n"
	    "       [--request-timeout S] [--max-connections-per-ip N] [--ready-file F]\n"
	    "       [--algorithm ALG] [--insecure-plain-http (loopback only)]";
	tfa_serve_config cfg;
	tfa_cli_opts co;
	tfa_err rc;
	int c, bad = 0;

	tfa_serve_config_init(&cfg);
	tfa_cli_opts_init(&co, TFA_CLI_CHAIN | TFA_CLI_ALGORITHM, use);
	while (!bad && (c = tfa_cli_getopt(&co, argc, argv, own)) > 0) {
		switch (c) {
		case 'l': cfg.listen = optarg; break;
		case 'p': cfg.policy = optarg; break;
		case 'c': cfg.tls_cert = optarg; break;
		case 'k': cfg.tls_key = optarg; break;
		case 'a': cfg.client_ca = optarg; break;
		case 'g': cfg.access_log = optarg; break;
		case 'P': cfg.plain_http = true; break;
		case 'r': cfg.ready_file = optarg; break;
		case 'w':
			bad = uint_opt("--workers", optarg, 1, TFA_SERVE_WORKERS_MAX, &cfg.workers);
			break;
		case 'q':
			bad = uint_opt("--queue", optarg, 1, TFA_SERVE_QUEUE_MAX, &cfg.queue);
			break;
		case 'e':
			bad = uint_opt("--checkpoint-every", optarg, 0, 1000000,
				       &cfg.checkpoint_every);
			break;
		case 'i':
			bad = uint_opt("--checkpoint-interval", optarg, 0, 525600,
				       &cfg.checkpoint_interval);
			break;
		case 't':
			bad = uint_opt("--request-timeout", optarg, 1, 3600, &cfg.request_timeout);
			break;
		default:
			bad = uint_opt("--max-connections-per-ip", optarg, 1, 65535,
				       &cfg.per_ip_connections);
			break;
		}
	}
	if (bad || c < 0)
		return 2;
	if (optind != argc)
		return tfa_cli_usage("%s", use);
	cfg.store = co.store;
	cfg.sequencer = co.sequencer;
	cfg.key = co.key;
	cfg.alg = co.alg;
	rc = tfa_serve_run(&cfg);
	return rc == TFA_OK ? 0 : tfa_cli_fail(rc);
}
