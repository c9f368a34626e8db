#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tfattest/artifact.h"
#include "tfattest/bundle.h"
#include "tfattest/signer.h"
#include "tfattest/store.h"

static int parse_time(const char *s, int64_t *out)
{
	return tfa_time_parse(out, s, strlen(s)) == TFA_OK ? 0 : -1;
}

int tfa_cli_export(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "sequencer", required_argument, NULL, 'Q' },
		{ "key", required_argument, NULL, 'k' },
		{ "out", required_argument, NULL, 'o' },
		{ "archive", required_argument, NULL, 'A' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "algorithm", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	static const char use[] = "tfattest export --store S [--sequencer Q] --key K (--out DIR | --archive FILE) "
				  "[--from N] [--to N] [--since T] [--until T]";
	const char *store = NULL, *sequencer = NULL, *key = NULL;
	tfa_export_opts o;
	tfa_export_result res;
	tfa_store *st = NULL;
	tfa_signer *s = NULL;
	long long v;
	tfa_err rc;
	int c, status = 0;

	memset(&o, 0, sizeof(o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'Q': sequencer = optarg; break;
		case 'k': key = optarg; break;
		case 'o': o.out_dir = optarg; break;
		case 'A': o.archive = optarg; break;
		case 'f':
		case 't':
			if (tfa_cli_parse_int(optarg, 1, 999999999999LL, &v) != 0)
				return tfa_cli_usage("--from and --to take a sequence number");
			if (c == 'f')
				o.from = (uint64_t)v;
			else
				o.to = (uint64_t)v;
			break;
		case 'S':
			if (parse_time(optarg, &o.since) != 0)
				return tfa_cli_usage("--since takes YYYY-MM-DDTHH:MM:SSZ");
			o.has_since = true;
			break;
		case 'U':
			if (parse_time(optarg, &o.until) != 0)
				return tfa_cli_usage("--until takes YYYY-MM-DDTHH:MM:SSZ");
			o.has_until = true;
			break;
		case 'a':
			if (tfa_sig_alg_from_name(&o.alg, optarg) != TFA_OK)
				return tfa_cli_usage("unknown --algorithm");
			break;
		default: return tfa_cli_usage("%s", use);
		}
	}
	if (optind != argc || (o.out_dir == NULL && o.archive == NULL))
		return tfa_cli_usage("%s", use);
	if (o.out_dir != NULL && o.archive != NULL)
		return tfa_cli_usage("--out and --archive are exclusive: give one of them");
	store = tfa_cli_opt_env(store, "TFATTEST_STORE");
	key = tfa_cli_opt_env(key, "TFATTEST_KEY");
	rc = tfa_signer_open(&s, key);
	if (rc == TFA_OK)
		rc = tfa_cli_open_store(&st, store, sequencer);
	if (rc == TFA_OK)
		rc = tfa_bundle_export(&res, st, s, &o);
	if (rc != TFA_OK)
		status = tfa_cli_fail(rc);
	else
		printf("exported records %llu..%llu (%zu files) to %s\n", (unsigned long long)res.from,
		       (unsigned long long)res.to, res.files, o.out_dir ? o.out_dir : o.archive);
	tfa_store_free(st);
	tfa_signer_free(s);
	return status;
}
