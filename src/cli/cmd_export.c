#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "progress.h"
#include "session.h"
#include "tfattest/artifact.h"
#include "tfattest/bundle.h"
#include "tfattest/signer.h"
#include "tfattest/store.h"

/* The signal that stopped the export (SIGINT or SIGTERM), or 0. */
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

/*
 * ^C or SIGTERM ends the export at its next record or file, and it removes
 * what it staged; a second one (the handler is reset) ends it at once. A
 * signal the caller ignores (nohup, a shell's background job) stays ignored.
 */
static void catch_stop(void)
{
	static const int sigs[] = {SIGINT, SIGTERM};
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	/* Restarted: an interrupted read or write goes on; the flag is seen next record. */
	sa.sa_flags = SA_RESETHAND | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
			(void)sigaction(sigs[i], &sa, NULL);
}

static int parse_time(const char *s, int64_t *out)
{
	return tfa_time_parse(out, s, strlen(s)) == TFA_OK ? 0 : -1;
}

int tfa_cli_export(int argc, char **argv)
{
	static const struct option own[] = {
	    {"out", required_argument, NULL, 'o'},
	    {"archive", required_argument, NULL, 'A'},
	    {"from", required_argument, NULL, 'f'},
	    {"to", required_argument, NULL, 't'},
	    {"since", required_argument, NULL, 'S'},
	    {"until", required_argument, NULL, 'U'},
	    {"manifest-key", required_argument, NULL, 'M'},
	    {NULL, 0, NULL, 0},
	};
	static const char use[] =
	    "tfattest export --store S [--sequencer Q] (--key K | --manifest-key K2 "
	    "[--key K | --public-key PEM] [--expect-key-fingerprint FPR|FILE]) "
	    "(--out DIR | --archive FILE) [--from N] [--to N] [--since T] [--until T]";
	tfa_cli_opts co;
	tfa_cli_session ss;
	tfa_export_opts o;
	tfa_cli_progress pr;
	tfa_export_result res;
	tfa_signer *msigner = NULL;
	const char *mkey = NULL;
	tfa_buf pem;
	long long v;
	tfa_err rc;
	int c, status = 0;

	memset(&o, 0, sizeof(o));
	tfa_cli_opts_init(
	    &co, TFA_CLI_CHAIN | TFA_CLI_ALGORITHM | TFA_CLI_PUBLIC_KEY | TFA_CLI_EXPECT_FPR, use);
	co.alg_error = "unknown --algorithm";
	while ((c = tfa_cli_getopt(&co, argc, argv, own)) > 0) {
		switch (c) {
		case 'o': o.out_dir = optarg; break;
		case 'A': o.archive = optarg; break;
		case 'M': mkey = optarg; break;
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
		default:
			if (parse_time(optarg, &o.until) != 0)
				return tfa_cli_usage("--until takes YYYY-MM-DDTHH:MM:SSZ");
			o.has_until = true;
			break;
		}
	}
	if (c < 0)
		return 2;
	if (optind != argc || (o.out_dir == NULL && o.archive == NULL))
		return tfa_cli_usage("%s", use);
	if (o.out_dir != NULL && o.archive != NULL)
		return tfa_cli_usage("--out and --archive are exclusive: give one of them");
	if (mkey == NULL && (co.pubkey != NULL || co.expect_fpr != NULL))
		return tfa_cli_usage(
		    "--public-key and --expect-key-fingerprint go with --manifest-key "
		    "(an export signed by the chain's key needs --key)");
	if (mkey != NULL && co.pubkey != NULL && co.key != NULL)
		return tfa_cli_usage(
		    "give the chain's key as --key K or --public-key PEM, not both");
	o.alg = co.alg;
	o.expect_fpr = co.expect_fpr;
	tfa_buf_init(&pem, 1 << 16);
	tfa_cli_chain_init(&ss);
	if (mkey == NULL) {
		rc = tfa_cli_chain_open(&ss, &co);
	} else {
		/*
		 * Exporter-signed: the exporter's key signs; the chain's key, when
		 * given, only tells which key the chain must be at (a KMS key is
		 * asked for its public key, never to sign).
		 */
		rc = tfa_signer_open(&msigner, mkey);
		if (rc == TFA_OK && co.key != NULL)
			rc = tfa_cli_chain_open_signer(&ss, &co);
		if (rc == TFA_OK && co.pubkey != NULL) {
			rc = tfa_buf_read_file(&pem, co.pubkey, 1 << 16);
			o.chain_key = pem.data;
			o.chain_key_len = pem.len;
		}
		if (rc == TFA_OK)
			rc = tfa_cli_chain_open_store(&ss, &co);
		o.manifest_signer = msigner;
	}
	tfa_cli_progress_init(&pr);
	o.progress = tfa_cli_progress_cb;
	o.progress_ud = &pr;
	o.stop = &stop_signal;
	catch_stop();
	if (rc == TFA_OK)
		rc = tfa_bundle_export(&res, ss.store, ss.signer, &o);
	tfa_cli_progress_end(&pr);
	if (rc != TFA_OK)
		/* Stopped by a signal: the shell's status for it (130 for ^C), once cleaned up. */
		status = stop_signal ? (tfa_cli_fail(rc), 128 + stop_signal) : tfa_cli_fail(rc);
	else
		printf("exported records %llu..%llu (%zu files and the signed manifest) to %s\n",
		       (unsigned long long)res.from, (unsigned long long)res.to, res.files,
		       o.out_dir ? o.out_dir : o.archive);
	tfa_cli_chain_close(&ss);
	tfa_signer_free(msigner);
	tfa_buf_free(&pem);
	return status;
}
