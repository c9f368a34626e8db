#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "tfattest/artifact.h"
#include "tfattest/buffer.h"
#include "tfattest/verify.h"

static void print_line(void *ud, const char *tag, const char *text)
{
	(void)ud;
	printf("[%s] %s\n", tag, text);
	fflush(stdout);
}

/*
 * Lists the records of a verified bundle that were appended from a spool,
 * after the deployment they describe. Reads only when the verifier counted some.
 */
static void list_spooled(const char *path, const tfa_verify_report *r, cJSON *arr)
{
	tfa_buf b;
	char name[4200];
	uint64_t found = 0;

	tfa_buf_init(&b, TFA_ARTIFACT_MAX);
	for (uint64_t seq = r->from_seq; seq <= r->to_seq && found < r->spooled; seq++) {
		tfa_artifact a;
		char dep[TFA_FPR_STRLEN], spo[TFA_FPR_STRLEN], rec[TFA_FPR_STRLEN];
		struct tm tm;
		time_t t;

		tfa_buf_clear(&b);
		snprintf(name, sizeof(name), "%s/artifacts/%012llu.json", path, (unsigned long long)seq);
		if (tfa_buf_read_file(&b, name, TFA_ARTIFACT_MAX) != TFA_OK ||
		    tfa_artifact_parse(&a, b.data, b.len) != TFA_OK || !a.spooled)
			continue;
		found++;
		t = (time_t)a.deployed_at;
		gmtime_r(&t, &tm);
		strftime(dep, sizeof(dep), "%Y-%m-%dT%H:%M:%SZ", &tm);
		t = (time_t)a.spooled_at;
		gmtime_r(&t, &tm);
		strftime(spo, sizeof(spo), "%Y-%m-%dT%H:%M:%SZ", &tm);
		t = (time_t)a.time;
		gmtime_r(&t, &tm);
		strftime(rec, sizeof(rec), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (arr) {
			cJSON *o = cJSON_CreateObject();
			if (o == NULL)
				break;
			cJSON_AddNumberToObject(o, "seq", (double)seq);
			cJSON_AddStringToObject(o, "deployed_at", dep);
			cJSON_AddStringToObject(o, "spooled_at", spo);
			cJSON_AddStringToObject(o, "recorded_at", rec);
			cJSON_AddItemToArray(arr, o);
		} else {
			printf("[INFO] Record %llu was appended from the spool: deployed %s, spooled %s, "
			       "recorded %s\n",
			       (unsigned long long)seq, dep, spo, rec);
		}
	}
	tfa_buf_free(&b);
}

static const char *layer_name(tfa_layer l)
{
	switch (l) {
	case TFA_LAYER_MANIFEST: return "manifest_signature";
	case TFA_LAYER_FILES: return "file_hashes";
	case TFA_LAYER_CHAIN: return "hash_chain";
	case TFA_LAYER_SIGNATURES: return "artifact_signatures";
	case TFA_LAYER_CHECKPOINTS: return "checkpoints";
	default: return "none";
	}
}

static void fmt_time(char out[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "?");
}

static void print_json(const char *path, tfa_err rc, const tfa_verify_report *r)
{
	cJSON *root = cJSON_CreateObject(), *layers, *f;
	char *text;

	if (root == NULL)
		return;
	cJSON_AddStringToObject(root, "bundle", path);
	cJSON_AddStringToObject(root, "result",
				rc == TFA_OK ? "verified" : rc == TFA_EVERIFY ? "failed" : "error");
	layers = cJSON_AddObjectToObject(root, "layers");
	for (int l = TFA_LAYER_MANIFEST; l <= TFA_LAYER_CHECKPOINTS; l++) {
		const char *st;
		if (rc == TFA_OK)
			st = "passed";
		else if (rc != TFA_EVERIFY)
			st = "not_checked";
		else if ((int)r->failed_layer == l)
			st = "failed";
		else if ((int)r->failed_layer > l)
			st = "passed";
		else
			st = "not_checked";
		cJSON_AddStringToObject(layers, layer_name((tfa_layer)l), st);
	}
	if (rc != TFA_OK) {
		f = cJSON_AddObjectToObject(root, "failure");
		cJSON_AddStringToObject(f, "layer", layer_name(r->failed_layer));
		cJSON_AddStringToObject(f, "file", r->failed_file);
		cJSON_AddNumberToObject(f, "seq", (double)r->failed_seq);
		cJSON_AddStringToObject(f, "message", r->message);
	}
	cJSON_AddStringToObject(root, "chain_id", r->chain_id);
	cJSON_AddNumberToObject(root, "from_seq", (double)r->from_seq);
	cJSON_AddNumberToObject(root, "to_seq", (double)r->to_seq);
	cJSON_AddNumberToObject(root, "artifacts", (double)r->artifacts);
	cJSON_AddNumberToObject(root, "files", (double)r->files);
	cJSON_AddStringToObject(root, "trusted_key_fingerprint", r->trusted_fpr);
	cJSON_AddBoolToObject(root, "key_pinned", r->key_pinned);
	if (rc == TFA_OK) {
		cJSON *arr = cJSON_AddArrayToObject(root, "spooled");
		if (arr && r->spooled)
			list_spooled(path, r, arr);
	}
	{
		cJSON *keys = cJSON_AddArrayToObject(root, "keys");
		for (size_t i = 0; keys && i < r->nkeys; i++) {
			cJSON *k = cJSON_CreateObject();
			if (k == NULL || !cJSON_AddItemToArray(keys, k)) {
				cJSON_Delete(k);
				break;
			}
			cJSON_AddStringToObject(k, "fingerprint", r->keys[i].fpr);
			cJSON_AddNumberToObject(k, "from_seq", (double)r->keys[i].from_seq);
			if (r->keys[i].to_seq)
				cJSON_AddNumberToObject(k, "to_seq", (double)r->keys[i].to_seq);
			else
				cJSON_AddNullToObject(k, "to_seq");
		}
	}
	{
		static const char *const ts[] = { "none", "unchecked", "valid" };
		cJSON *cps = cJSON_AddArrayToObject(root, "checkpoints");
		for (size_t i = 0; cps && i < r->ncheckpoints; i++) {
			const tfa_verify_checkpoint *c = &r->checkpoints[i];
			cJSON *o = cJSON_CreateObject();
			char when[32];
			if (o == NULL || !cJSON_AddItemToArray(cps, o)) {
				cJSON_Delete(o);
				break;
			}
			cJSON_AddStringToObject(o, "file", c->file);
			cJSON_AddBoolToObject(o, "trusted", c->trusted);
			cJSON_AddNumberToObject(o, "seq", (double)c->seq);
			cJSON_AddStringToObject(o, "head_hash", c->head_hash);
			fmt_time(when, c->time);
			cJSON_AddStringToObject(o, "time", when);
			cJSON_AddStringToObject(o, "timestamp", ts[c->ts]);
			if (c->ts == TFA_TS_VALID) {
				fmt_time(when, c->ts_gen_time);
				cJSON_AddStringToObject(o, "timestamp_time", when);
				cJSON_AddStringToObject(o, "timestamp_authority", c->ts_subject);
			}
		}
	}
	text = cJSON_Print(root);
	if (text)
		printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(root);
}

int tfa_cli_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "expect-key-fingerprint", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "require-genesis", no_argument, NULL, 'g' },
		{ "threads", required_argument, NULL, 't' },
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "tsa-ca", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	tfa_verify_opts o;
	tfa_verify_report rep;
	char fpr[TFA_FPR_STRLEN];
	const char *cps[TFA_VERIFY_CHECKPOINTS_MAX];
	int json = 0, c;
	long long th;
	tfa_err rc;

	memset(&o, 0, sizeof(o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (tfa_cli_load_fpr(fpr, optarg) != 0)
				return tfa_cli_usage("--expect-key-fingerprint takes sha256:<hex> or a file holding it");
			o.expect_fpr = fpr;
			break;
		case 'j':
			json = 1;
			break;
		case 'c':
			if (o.ncheckpoints + 1 >= TFA_VERIFY_CHECKPOINTS_MAX)
				return tfa_cli_usage("at most %d --checkpoint files", TFA_VERIFY_CHECKPOINTS_MAX - 1);
			cps[o.ncheckpoints++] = optarg;
			o.checkpoints = cps;
			break;
		case 'T':
			o.tsa_ca = optarg;
			break;
		case 'g':
			o.require_genesis = true;
			break;
		case 't':
			if (tfa_cli_parse_int(optarg, 1, 64, &th) != 0)
				return tfa_cli_usage("--threads takes 1 to 64");
			o.threads = (unsigned)th;
			break;
		case 'h':
			printf("usage: tfattest verify BUNDLE [--expect-key-fingerprint FPR|FILE] [--checkpoint FILE]... "
			       "[--tsa-ca FILE] [--require-genesis] [--json]\n");
			return 0;
		default:
			return tfa_cli_usage("unknown or incomplete option %s", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return tfa_cli_usage("tfattest verify BUNDLE [--expect-key-fingerprint FPR|FILE] "
				     "[--checkpoint FILE]... [--tsa-ca FILE] [--require-genesis] [--json]");
	if (!json)
		o.line = print_line;
	rc = tfa_verify_bundle(&rep, argv[optind], &o);
	if (json) {
		print_json(argv[optind], rc, &rep);
		return tfa_err_exit_status(rc);
	}
	if (rc == TFA_EVERIFY)
		return 1; /* the [ERROR] line has been printed */
	if (rc != TFA_OK)
		return tfa_cli_fail(rc);
	if (rep.spooled)
		list_spooled(argv[optind], &rep, NULL);
	return 0;
}
