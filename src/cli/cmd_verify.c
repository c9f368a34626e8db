#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "esc.h"
#include "opts.h"
#include "progress.h"
#include "tfattest/artifact.h"
#include "tfattest/buffer.h"
#include "tfattest/verify.h"

/* ud: the progress line, cleared before a line of the report. */
static void print_line(void *ud, const char *tag, const char *text)
{
	tfa_cli_progress_end(ud);
	printf("[%s] %s\n", tag, tfa_cli_tty(text));
	fflush(stdout);
}

/* A record appended from a spool, after the deployment it describes. */
typedef struct spooled_rec {
	uint64_t seq;
	int64_t deployed_at, spooled_at, time;
} spooled_rec;

typedef struct spooled_list {
	spooled_rec *v;
	size_t n, cap;
	char why[128];	     /* why collecting stopped */
	uint64_t records;    /* artifacts read */
	uint64_t identified; /* of which with a verified identity (FORMAT.md §3.6) */
} spooled_list;

/*
 * on_record: keeps the spooled records among those the verifier read and
 * checked, from the fields it parsed. Nothing is read again after
 * verification: a directory can change and an archive is never extracted.
 */
static tfa_err collect_spooled(void *ud, const tfa_verify_record *a)
{
	spooled_list *l = ud;

	l->records++;
	if (a->has_identity)
		l->identified++;
	if (!a->spooled)
		return TFA_OK;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		spooled_rec *nv = realloc(l->v, cap * sizeof(*nv));
		if (nv == NULL) {
			snprintf(l->why, sizeof(l->why), "out of memory");
			return TFA_EINTERNAL;
		}
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = (spooled_rec){a->seq, a->deployed_at, a->spooled_at, a->time};
	return TFA_OK;
}

static void fmt_time(char out[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "?");
}

/* Lists the spooled records of a verified bundle, as lines or into arr. */
static void list_spooled(const spooled_list *l, cJSON *arr)
{
	for (size_t i = 0; i < l->n; i++) {
		const spooled_rec *r = &l->v[i];
		char dep[32], spo[32], rec[32];

		fmt_time(dep, r->deployed_at);
		fmt_time(spo, r->spooled_at);
		fmt_time(rec, r->time);
		if (arr) {
			cJSON *o = cJSON_CreateObject();
			if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
				cJSON_Delete(o);
				break;
			}
			cJSON_AddNumberToObject(o, "seq", (double)r->seq);
			cJSON_AddStringToObject(o, "deployed_at", dep);
			cJSON_AddStringToObject(o, "spooled_at", spo);
			cJSON_AddStringToObject(o, "recorded_at", rec);
		} else {
			printf("[INFO] Record %llu was appended from the spool: deployed %s, "
			       "spooled %s, "
			       "recorded %s\n",
			       (unsigned long long)r->seq, dep, spo, rec);
		}
	}
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

static void print_json(const char *path, tfa_err rc, const tfa_verify_report *r,
		       const spooled_list *sp)
{
	cJSON *root = cJSON_CreateObject(), *layers, *f;
	char *text;

	if (root == NULL)
		return;
	tfa_cli_json_add_str(root, "bundle", path);
	cJSON_AddStringToObject(root, "result",
				rc == TFA_OK	    ? "verified"
				: rc == TFA_EVERIFY ? "failed"
						    : "error");
	layers = cJSON_AddObjectToObject(root, "layers");
	for (int l = TFA_LAYER_MANIFEST; l <= TFA_LAYER_CHECKPOINTS; l++) {
		const char *st;
		/* As the text lines said: each layer whose [SUCCESS] line was given passed. */
		if (rc == TFA_EVERIFY && (int)r->failed_layer == l)
			st = "failed";
		else if (rc == TFA_OK || (int)r->passed_layer >= l)
			st = "passed";
		else
			st = "not_checked";
		cJSON_AddStringToObject(layers, layer_name((tfa_layer)l), st);
	}
	if (rc != TFA_OK) {
		f = cJSON_AddObjectToObject(root, "failure");
		cJSON_AddStringToObject(f, "layer", layer_name(r->failed_layer));
		tfa_cli_json_add_str(f, "file", r->failed_file);
		cJSON_AddNumberToObject(f, "seq", (double)r->failed_seq);
		tfa_cli_json_add_str(f, "message", r->message[0] ? r->message : tfa_err_name(rc));
	}
	tfa_cli_json_add_str(root, "chain_id", r->chain_id);
	cJSON_AddNumberToObject(root, "from_seq", (double)r->from_seq);
	cJSON_AddNumberToObject(root, "to_seq", (double)r->to_seq);
	cJSON_AddNumberToObject(root, "artifacts", (double)r->artifacts);
	cJSON_AddNumberToObject(root, "files", (double)r->files);
	tfa_cli_json_add_str(root, "trusted_key_fingerprint", r->trusted_fpr);
	cJSON_AddBoolToObject(root, "key_pinned", r->key_pinned);
	/*
	 * Only for an exporter-signed manifest, so that the output for every
	 * chain-signed bundle stays what it was: absent, the manifest was
	 * signed by the chain's key (or layer 1 stopped before its kind).
	 */
	if (r->exporter_signed) {
		cJSON *m = cJSON_AddObjectToObject(root, "manifest");
		if (m) {
			cJSON_AddStringToObject(m, "signed_by", "exporter");
			tfa_cli_json_add_str(m, "key_fingerprint", r->exporter_fpr);
		}
	}
	/* Only when the manifest has one: the output for other bundles stays what it was. */
	if (r->writer_name[0]) {
		cJSON *w = cJSON_AddObjectToObject(root, "writer");
		if (w) {
			tfa_cli_json_add_str(w, "name", r->writer_name);
			tfa_cli_json_add_str(w, "version", r->writer_version);
		}
	}
	if (rc == TFA_OK) {
		cJSON *arr = cJSON_AddArrayToObject(root, "spooled");
		if (arr)
			list_spooled(sp, arr);
		/* Only when there are some: the output of bundles without any is unchanged. */
		if (sp->identified)
			cJSON_AddNumberToObject(root, "verified_identities",
						(double)sp->identified);
	}
	{
		cJSON *keys = cJSON_AddArrayToObject(root, "keys");
		for (size_t i = 0; keys && i < r->nkeys; i++) {
			cJSON *k = cJSON_CreateObject();
			if (k == NULL || !cJSON_AddItemToArray(keys, k)) {
				cJSON_Delete(k);
				break;
			}
			tfa_cli_json_add_str(k, "fingerprint", r->keys[i].fpr);
			cJSON_AddNumberToObject(k, "from_seq", (double)r->keys[i].from_seq);
			if (r->keys[i].to_seq)
				cJSON_AddNumberToObject(k, "to_seq", (double)r->keys[i].to_seq);
			else
				cJSON_AddNullToObject(k, "to_seq");
		}
	}
	{
		static const char *const ts[] = {"none", "unchecked", "valid"};
		cJSON *cps = cJSON_AddArrayToObject(root, "checkpoints");
		for (size_t i = 0; cps && i < r->ncheckpoints; i++) {
			const tfa_verify_checkpoint *c = &r->checkpoints[i];
			cJSON *o = cJSON_CreateObject();
			char when[32];
			if (o == NULL || !cJSON_AddItemToArray(cps, o)) {
				cJSON_Delete(o);
				break;
			}
			tfa_cli_json_add_str(o, "file", c->file);
			cJSON_AddBoolToObject(o, "trusted", c->trusted);
			cJSON_AddNumberToObject(o, "seq", (double)c->seq);
			tfa_cli_json_add_str(o, "head_hash", c->head_hash);
			fmt_time(when, c->time);
			cJSON_AddStringToObject(o, "time", when);
			cJSON_AddStringToObject(o, "timestamp", ts[c->ts]);
			if (c->ts == TFA_TS_VALID) {
				fmt_time(when, c->ts_gen_time);
				cJSON_AddStringToObject(o, "timestamp_time", when);
				tfa_cli_json_add_str(o, "timestamp_authority", c->ts_subject);
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
	static const struct option own[] = {
	    {"threads", required_argument, NULL, 't'},
	    {NULL, 0, NULL, 0},
	};
	tfa_cli_opts co;
	tfa_verify_opts o;
	tfa_verify_report rep;
	int c, status;
	long long th;
	tfa_err rc;
	spooled_list sp = {NULL, 0, 0, "", 0, 0};
	tfa_cli_progress pr;

	memset(&o, 0, sizeof(o));
	/* No usage line: an unknown option is named in the message. */
	tfa_cli_opts_init(&co, TFA_CLI_EXPECT_FPR | TFA_CLI_TRUST | TFA_CLI_JSON, NULL);
	while ((c = tfa_cli_getopt(&co, argc, argv, own)) > 0) {
		switch (c) {
		case 't':
			if (tfa_cli_parse_int(optarg, 1, 64, &th) != 0)
				return tfa_cli_usage("--threads takes 1 to 64");
			o.threads = (unsigned)th;
			break;
		default: return tfa_cli_usage("unknown or incomplete option %s", argv[optind - 1]);
		}
	}
	if (c < 0)
		return 2;
	if (optind != argc - 1)
		return tfa_cli_usage(TFA_CLI_PROGRAM
				     " verify BUNDLE [--expect-key-fingerprint FPR|FILE] "
				     "[--checkpoint FILE]... [--tsa-ca FILE] [--require-genesis] "
				     "[--require-chain-manifest] [--json]");
	tfa_cli_trust_opts(&co, &o);
	tfa_cli_progress_init(&pr);
	if (!co.json)
		o.line = print_line;
	o.ud = &pr;
	o.on_record = collect_spooled;
	o.record_ud = &sp;
	o.progress = tfa_cli_progress_cb;
	o.progress_ud = &pr;
	rc = tfa_verify_bundle(&rep, argv[optind], &o);
	tfa_cli_progress_end(&pr);
	if (co.json) {
		print_json(argv[optind], rc, &rep, &sp);
		status = tfa_err_exit_status(rc);
	} else if (rc == TFA_EVERIFY) {
		status = 1; /* the [ERROR] line has been printed */
	} else if (rc != TFA_OK) {
		status = tfa_cli_fail(rc);
		if (sp.why[0])
			fprintf(stderr, "%s: error: %s\n", TFA_CLI_PROGRAM, sp.why);
	} else {
		list_spooled(&sp, NULL);
		if (sp.identified)
			printf(
			    "[INFO] %llu of %llu records carry a verified identity: who asked the "
			    "attestation service for them, as the service verified it and its key "
			    "signed; their context is the caller's own claim (tfattest show "
			    "tells them apart)\n",
			    (unsigned long long)sp.identified, (unsigned long long)sp.records);
		status = 0;
	}
	free(sp.v);
	return status;
}
