/*
 * tfattest reconcile: every version of a Terraform state matched against the
 * chain's records (tfattest/reconcile.h). Prints the report, exits 0 when
 * every version is accounted for and 1 otherwise; --record appends a signed
 * reconcile event with the summary.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "esc.h"
#include "opts.h"
#include "progress.h"
#include "session.h"
#include "tfattest/buffer.h"
#include "tfattest/capture.h"
#include "tfattest/chain.h"
#include "tfattest/reconcile.h"

typedef struct rc_source {
	int kind; /* 'f' file, 'd' dir, 's' s3 */
	const char *arg;
} rc_source;

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* "serial N" with the seqs around it, for a version that no record accounts for. */
static void print_version(const cJSON *v)
{
	const char *status = str(v, "status"), *tsrc = str(v, "time_source");
	char when[64];

	if (strcmp(tsrc, "s3-last-modified") == 0)
		snprintf(when, sizeof(when), "%s", str(v, "time"));
	else if (strcmp(tsrc, "file-mtime") == 0)
		snprintf(when, sizeof(when), "time unknown (file mtime %s)", str(v, "time"));
	else if (strcmp(tsrc, "seen") == 0)
		snprintf(when, sizeof(when), "time unknown (seen %s)", str(v, "time"));
	else
		snprintf(when, sizeof(when), "time unknown");
	if (strcmp(status, "unreadable") == 0) {
		printf("  UNREADABLE  %s: %s\n", tfa_cli_tty(str(v, "name")),
		       tfa_cli_tty(str(v, "error")));
		return;
	}
	if (strcmp(status, "deleted") == 0) {
		printf("  DELETED     %s  the state object was deleted (delete marker %s)\n", when,
		       tfa_cli_tty(str(v, "name")));
		return;
	}
	if (strcmp(status, "attested") == 0) {
		printf("  attested    lineage %s serial %.0f  seq %.0f%s  %s\n",
		       tfa_cli_tty(str(v, "lineage")), num(v, "serial"), num(v, "seq"),
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "intermediate"))
			   ? " (written during it)"
			   : "",
		       tfa_cli_tty(str(v, "name")));
		return;
	}
	printf("  UNATTESTED  lineage %s serial %.0f  %s  %s", tfa_cli_tty(str(v, "lineage")),
	       num(v, "serial"), when, tfa_cli_tty(str(v, "name")));
	if (strcmp(str(v, "reason"), "content-differs") == 0)
		printf("  (same serial as seq %.0f, different content)",
		       num(v, "record_same_serial"));
	if (num(v, "seq_before") > 0 && num(v, "seq_after") > 0)
		printf("  between seq %.0f and seq %.0f", num(v, "seq_before"),
		       num(v, "seq_after"));
	else if (num(v, "seq_before") > 0)
		printf("  after seq %.0f", num(v, "seq_before"));
	else if (num(v, "seq_after") > 0)
		printf("  before seq %.0f", num(v, "seq_after"));
	else
		printf("  (no record of this lineage)");
	if (num(v, "state_before_of") > 0)
		printf("  (the state seq %.0f started from)", num(v, "state_before_of"));
	printf("\n");
}

static void print_report(const cJSON *rep)
{
	const cJSON *sum = cJSON_GetObjectItemCaseSensitive(rep, "summary"), *e;

	printf("reconcile of chain %s: %.0f records checked (head %.0f), %.0f with a state\n",
	       tfa_cli_tty(str(rep, "chain_id")), num(sum, "records"), num(sum, "head"),
	       num(sum, "records_with_state"));
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(rep, "versions")) print_version(e);
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(rep, "chain_gaps"))
	{
		printf("  GAP         lineage %s: seq %.0f left serial %.0f, seq %.0f started from "
		       "serial %.0f: the state changed between them unrecorded\n",
		       tfa_cli_tty(str(e, "lineage")), num(e, "seq_before"),
		       num(e, "serial_after_it"), num(e, "seq_after"), num(e, "serial_before_it"));
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(rep, "records_missing"))
	{
		printf("  missing     seq %.0f (%s) left lineage %s serial %.0f, which the sources "
		       "do not hold\n",
		       num(e, "seq"), tfa_cli_tty(str(e, "event")), tfa_cli_tty(str(e, "lineage")),
		       num(e, "serial"));
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(rep, "lineage_changes"))
	{
		printf("  lineage     seq %.0f changed the lineage from %s to %s\n", num(e, "seq"),
		       tfa_cli_tty(str(e, "from")), tfa_cli_tty(str(e, "to")));
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(rep, "source_lineage_changes"))
	{
		printf(
		    "  lineage     %s: at %s the state's lineage changed from %s (serial %.0f) to "
		    "%s (serial %.0f)\n",
		    tfa_cli_tty(str(e, "source")), str(e, "time"), tfa_cli_tty(str(e, "from")),
		    num(e, "from_serial"), tfa_cli_tty(str(e, "to")), num(e, "to_serial"));
	}
	printf("%.0f state versions: %.0f attested, %.0f unattested, %.0f unreadable, %.0f "
	       "deletions; %.0f gaps between records; %.0f records missing from the sources\n",
	       num(sum, "versions"), num(sum, "attested"), num(sum, "unattested"),
	       num(sum, "unreadable"), num(sum, "deleted"), num(sum, "chain_gaps"),
	       num(sum, "records_missing"));
	printf("%s\n", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sum, "complete"))
			   ? "every state version is accounted for"
			   : "NOT every state version is accounted for");
}

int tfa_cli_reconcile(int argc, char **argv)
{
	static const struct option own[] = {
	    {"state", required_argument, NULL, 'f'},
	    {"state-dir", required_argument, NULL, 'd'},
	    {"state-s3", required_argument, NULL, 's'},
	    {"record", no_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	static const char use[] =
	    "tfattest reconcile --store S [--sequencer Q] (--key K | --public-key PEM) "
	    "[--state FILE]... [--state-dir DIR]... [--state-s3 s3://BUCKET/KEY[?region=R]]... "
	    "[--json] [--record --key K] [-- terraform state pull]";
	tfa_cli_opts co;
	tfa_cli_session ss;
	tfa_reconcile *r = NULL;
	rc_source *srcs = NULL;
	size_t nsrc = 0;
	bool record = false;
	tfa_buf rep, sum;
	cJSON *doc = NULL;
	tfa_capture *cap = NULL;
	tfa_err rc = TFA_OK;
	int c, status = 0, cmd_argc = 0;
	char **cmd_argv = NULL;
	bool complete;
	tfa_cli_progress pr;

	tfa_cli_progress_init(&pr);
	tfa_buf_init(&rep, 0);
	tfa_buf_init(&sum, 0);
	tfa_cli_chain_init(&ss);
	srcs = calloc((size_t)argc + 1, sizeof(*srcs));
	if (srcs == NULL)
		return tfa_cli_usage("out of memory");
	tfa_cli_opts_init(
	    &co, TFA_CLI_CHAIN | TFA_CLI_PUBLIC_KEY | TFA_CLI_JSON | TFA_CLI_ALGORITHM, use);
	co.shortopts = "+";
	while ((c = tfa_cli_getopt(&co, argc, argv, own)) > 0) {
		if (c == 'r') {
			record = true;
			continue;
		}
		srcs[nsrc].kind = c;
		srcs[nsrc++].arg = optarg;
	}
	if (c < 0) {
		status = 2;
		goto out;
	}
	if (optind < argc) {
		if (optind < 2 || strcmp(argv[optind - 1], "--") != 0) {
			status = tfa_cli_usage("%s", use);
			goto out;
		}
		cmd_argv = argv + optind;
		cmd_argc = argc - optind;
	}
	if (co.store == NULL) {
		status = tfa_cli_usage("no store given (--store S or TFATTEST_STORE)");
		goto out;
	}
	if (co.pubkey == NULL && co.key == NULL) {
		status = tfa_cli_usage("the chain's public key is needed to check the records: "
				       "--public-key PEM, --key K or TFATTEST_KEY");
		goto out;
	}
	if (record && co.key == NULL) {
		status =
		    tfa_cli_usage("--record signs a record: it needs --key K (or TFATTEST_KEY)");
		goto out;
	}
	if (nsrc == 0 && cmd_argc == 0) {
		status = tfa_cli_usage("no state source: --state FILE, --state-dir DIR, --state-s3 "
				       "URI or -- terraform state pull");
		goto out;
	}
	if ((rc = tfa_cli_chain_open_history(&ss, &co)) != TFA_OK)
		goto fail;
	if (record && ss.signer == NULL && (rc = tfa_cli_chain_open_signer(&ss, &co)) != TFA_OK)
		goto fail;
	if ((rc = tfa_reconcile_new(&r)) != TFA_OK)
		goto fail;
	tfa_reconcile_set_progress(r, tfa_cli_progress_cb, &pr);
	rc = tfa_reconcile_read_chain(r, ss.history);
	tfa_cli_progress_end(&pr);
	if (rc != TFA_OK)
		goto fail;
	for (size_t i = 0; i < nsrc; i++) {
		if (srcs[i].kind == 'f')
			rc = tfa_reconcile_add_file(r, srcs[i].arg);
		else if (srcs[i].kind == 'd')
			rc = tfa_reconcile_add_dir(r, srcs[i].arg);
		else
			rc = tfa_reconcile_add_s3(r, srcs[i].arg);
		if (rc != TFA_OK)
			goto source_fail;
	}
	if (cmd_argc > 0 && (rc = tfa_reconcile_add_command(r, cmd_argc, cmd_argv)) != TFA_OK)
		goto source_fail;
	if ((rc = tfa_reconcile_report(&rep, r)) != TFA_OK)
		goto fail;
	if (tfa_reconcile_bodies_read(r) == 0) {
		fprintf(stderr, "tfattest: error: the sources hold no state version\n");
		status = 2;
		goto out;
	}
	complete = tfa_reconcile_complete(r);
	if (co.json) {
		fwrite(rep.data, 1, rep.len, stdout);
		printf("\n");
	} else {
		doc = cJSON_ParseWithLength((const char *)rep.data, rep.len);
		if (doc == NULL) {
			rc = tfa_cli_usage("out of memory");
			status = 2;
			goto out;
		}
		print_report(doc);
	}
	fflush(stdout);
	status = complete ? 0 : 1;
	if (record) {
		tfa_event ev = {.type = "reconcile", .status = "succeeded", .exit_code = status};
		uint64_t seq = 0;

		if ((rc = tfa_reconcile_summary(&sum, r)) != TFA_OK ||
		    (rc = tfa_capture_new_mem(&cap, &ev, NULL, 0, NULL, 0)) != TFA_OK ||
		    (rc = tfa_capture_set_reconcile(cap, sum.data, sum.len)) != TFA_OK ||
		    (rc = tfa_chain_append(&seq, ss.store, ss.signer, co.alg, cap)) != TFA_OK) {
			fprintf(stderr, "tfattest: the reconcile ran but could not be recorded\n");
			tfa_cli_fail(rc);
			status = 2;
			goto out;
		}
		fprintf(stderr, "tfattest: recorded seq %llu (reconcile, exit %d)\n",
			(unsigned long long)seq, status);
	}
	goto out;
source_fail:
	/* A source that cannot be read (a malformed S3 listing included) is the environment's
	 * fault, not a finding: exit 2. */
	tfa_cli_fail(rc);
	status = 2;
	goto out;
fail:
	status = tfa_cli_fail(rc);
out:
	cJSON_Delete(doc);
	tfa_capture_free(cap);
	tfa_reconcile_free(r);
	tfa_buf_free(&rep);
	tfa_buf_free(&sum);
	tfa_cli_chain_close(&ss);
	free(srcs);
	return status;
}
