/*
 * log, show, diff: a chain's records read back from the store, each checked
 * (signature by the chain's key, place, hash links) before it is shown.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "esc.h"
#include "session.h"
#include "tfattest/artifact.h"
#include "tfattest/buffer.h"
#include "tfattest/history.h"
#include "tfattest/signer.h"
#include "tfattest/store.h"

static const struct option hist_opts[] = {
    {"since", required_argument, NULL, 'S'},
    {"until", required_argument, NULL, 'U'},
    {NULL, 0, NULL, 0},
};

typedef struct hist_args {
	tfa_cli_opts o;
	const char *since, *until;
} hist_args;

/* window: the command takes --since and --until (log). */
static int parse_hist(hist_args *a, int argc, char **argv, const char *use, bool json, bool window)
{
	int c;

	a->since = a->until = NULL;
	tfa_cli_opts_init(&a->o, TFA_CLI_CHAIN | TFA_CLI_PUBLIC_KEY | (json ? TFA_CLI_JSON : 0u),
			  use);
	while ((c = tfa_cli_getopt(&a->o, argc, argv, window ? hist_opts : NULL)) > 0) {
		if (c == 'S')
			a->since = optarg;
		else
			a->until = optarg;
	}
	if (c < 0)
		return 2;
	if (a->o.store == NULL)
		return tfa_cli_usage("no store given (--store S or TFATTEST_STORE)");
	if (a->o.pubkey == NULL && a->o.key == NULL)
		return tfa_cli_usage("the chain's public key is needed to check the records: "
				     "--public-key PEM, --key K or TFATTEST_KEY");
	return 0;
}

/* Who ran the deployment, from the context. */
static const char *actor_of(const cJSON *doc)
{
	const char *s;

	if ((s = tfa_cli_json_str(doc, "context", "ci", "actor")) ||
	    (s = tfa_cli_json_str(doc, "context", "ci", "user")))
		return s;
	if ((s = tfa_cli_json_str(doc, "context", "ci", "job_name")))
		return s;
	if ((s = tfa_cli_json_str(doc, "context", "host", NULL)))
		return s;
	return "-";
}

/* The verified identity's subject (FORMAT.md §3.6), or NULL when the record has none. */
static const char *identity_of(const cJSON *doc)
{
	return tfa_cli_json_str(doc, "identity", "subject", NULL);
}

static int count_of(const cJSON *doc, const char *k)
{
	const cJSON *v = tfa_cli_json_at(doc, "terraform", "counts", k);
	return cJSON_IsNumber(v) ? v->valueint : 0;
}

/* The plan said "errored": true: Terraform stopped planning on an error. */
static int plan_errored(const cJSON *doc)
{
	return cJSON_IsTrue(tfa_cli_json_at(doc, "terraform", "plan_errored", NULL));
}

/* A drift check's finding: -1 none recorded, else the number of drifted addresses. */
static int drift_count(const cJSON *doc)
{
	const cJSON *a = tfa_cli_json_at(doc, "terraform", "drift", "addresses");
	return cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
}

static void print_log_line(const cJSON *doc, const tfa_artifact *m, const char *hash, int json)
{
	char when[32];
	struct tm tm;
	time_t t = (time_t)m->time;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (json) {
		cJSON *o = cJSON_CreateObject(), *cn;
		char *text;
		if (o == NULL)
			return;
		cJSON_AddNumberToObject(o, "seq", (double)m->seq);
		cJSON_AddStringToObject(o, "time", when);
		tfa_cli_json_add_str(o, "event", m->event);
		tfa_cli_json_add_str(o, "status", m->status);
		cJSON_AddNumberToObject(o, "exit_code", m->exit_code);
		tfa_cli_json_add_str(o, "actor", actor_of(doc));
		if (m->has_identity) {
			/* Verified, unlike actor (the context's claim). */
			cJSON *id = cJSON_AddObjectToObject(o, "identity");
			tfa_cli_json_add_str(id, "method", m->identity_method);
			tfa_cli_json_add_str(id, "issuer",
					     tfa_cli_json_str(doc, "identity", "issuer", NULL));
			tfa_cli_json_add_str(id, "subject", identity_of(doc));
			tfa_cli_json_add_str(id, "verified_by", m->identity_verifier);
		}
		if (m->idempotency_key[0])
			tfa_cli_json_add_str(o, "idempotency_key", m->idempotency_key);
		cn = cJSON_AddObjectToObject(o, "counts");
		for (const char *const *k =
			 (const char *const[]){"create", "update", "delete", "replace", NULL};
		     *k; k++)
			cJSON_AddNumberToObject(cn, *k, count_of(doc, *k));
		tfa_cli_json_add_str(o, "hash", hash);
		cJSON_AddBoolToObject(o, "spooled", m->spooled);
		if (m->rollback_to)
			cJSON_AddNumberToObject(o, "rollback_to", (double)m->rollback_to);
		if (plan_errored(doc))
			cJSON_AddBoolToObject(o, "plan_errored", 1);
		if (drift_count(doc) >= 0)
			cJSON_AddNumberToObject(o, "drifted", drift_count(doc));
		text = cJSON_PrintUnformatted(o);
		if (text)
			printf("%s\n", text);
		cJSON_free(text);
		cJSON_Delete(o);
		return;
	}
	printf("%6llu  %s  %-8s  %-9s  %-24s  +%d ~%d -%d ±%d  %.19s", (unsigned long long)m->seq,
	       when, tfa_cli_tty(m->event), tfa_cli_tty(m->status), tfa_cli_tty(actor_of(doc)),
	       count_of(doc, "create"), count_of(doc, "update"), count_of(doc, "delete"),
	       count_of(doc, "replace"), tfa_cli_tty(hash));
	if (m->rollback_to)
		printf("  rollback-to %llu", (unsigned long long)m->rollback_to);
	if (m->has_identity)
		printf("  identity %s (%s, verified by %s)", tfa_cli_tty(identity_of(doc)),
		       tfa_cli_tty(m->identity_method), tfa_cli_tty(m->identity_verifier));
	if (plan_errored(doc))
		printf("  ERRORED PLAN");
	if (drift_count(doc) == 0)
		printf("  no drift");
	else if (drift_count(doc) > 0)
		printf("  DRIFT (%d)", drift_count(doc));
	if (m->spooled) {
		char dep[32];
		t = (time_t)m->deployed_at;
		gmtime_r(&t, &tm);
		strftime(dep, sizeof(dep), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("  spooled (deployed %s)", dep);
	}
	printf("\n");
}

int tfa_cli_log(int argc, char **argv)
{
	static const char use[] = "tfattest log --store S [--key K|--public-key PEM] [--since T] "
				  "[--until T] [--json]";
	hist_args a;
	tfa_cli_session ch;
	tfa_buf art;
	tfa_artifact m;
	char hash[TFA_FPR_STRLEN];
	int64_t since = 0, until = INT64_MAX;
	uint64_t n = 0, shown = 0;
	bool opened;
	tfa_err rc;
	int status = 0, r;

	if ((r = parse_hist(&a, argc, argv, use, true, true)) != 0)
		return r;
	if (optind != argc)
		return tfa_cli_usage("%s", use);
	if (a.since && tfa_time_parse(&since, a.since, strlen(a.since)) != TFA_OK)
		return tfa_cli_usage("--since takes YYYY-MM-DDTHH:MM:SSZ");
	if (a.until && tfa_time_parse(&until, a.until, strlen(a.until)) != TFA_OK)
		return tfa_cli_usage("--until takes YYYY-MM-DDTHH:MM:SSZ");
	tfa_buf_init(&art, TFA_ARTIFACT_MAX);
	tfa_cli_chain_init(&ch);
	rc = tfa_cli_chain_open_history(&ch, &a.o);
	opened = rc == TFA_OK;
	while (rc == TFA_OK) {
		cJSON *doc;
		rc = tfa_history_next(ch.history, &art, &m, hash);
		if (rc == TFA_ENOTFOUND) {
			rc = TFA_OK;
			break;
		}
		if (rc != TFA_OK)
			break;
		n++;
		if (m.time < since || m.time > until)
			continue;
		doc = cJSON_ParseWithLength((const char *)art.data, art.len);
		print_log_line(doc, &m, hash, a.o.json);
		cJSON_Delete(doc);
		shown++;
	}
	fflush(stdout);
	if (rc != TFA_OK) {
		/* Only a chain that was read can fail to check out: a store with no chain,
		 * or a key that cannot be read, is said as such, not as a broken chain. */
		if (opened)
			fprintf(stderr,
				"tfattest: the chain did not check out after %llu good records\n",
				(unsigned long long)n);
		status = tfa_cli_fail(rc);
	} else {
		fprintf(stderr,
			"tfattest: %llu of %llu records shown; all %llu checked: signature by the "
			"key in "
			"force at its seq, place in chain %s, hash links from seq 1\n",
			(unsigned long long)shown, (unsigned long long)n, (unsigned long long)n,
			tfa_cli_tty(tfa_history_chain_id(ch.history)));
	}
	tfa_buf_free(&art);
	tfa_cli_chain_close(&ch);
	return status;
}

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

static int parse_seq(const char *s, uint64_t *out)
{
	long long v;

	if (tfa_cli_parse_int(s, 1, 999999999999LL, &v) != 0)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

/* A scalar's text: a string as it is, a number without a needless fraction. */
static const char *scalar_text(char out[64], const cJSON *v)
{
	if (cJSON_IsString(v))
		return v->valuestring;
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v) ? "true" : "false";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble == (double)(long long)v->valuedouble)
			snprintf(out, 64, "%lld", (long long)v->valuedouble);
		else
			snprintf(out, 64, "%g", v->valuedouble);
		return out;
	}
	return "";
}

static int is_scalar(const cJSON *v)
{
	return !cJSON_IsObject(v) && !cJSON_IsArray(v);
}

/*
 * Whether a member is shown on one line: a scalar as itself, an array of
 * scalars as "a, b", an object of numbers (counts) as "k n, k n". Other
 * objects are shown member by member, under dotted names.
 */
static int one_line(const cJSON *v)
{
	const cJSON *c;

	if (is_scalar(v))
		return 1;
	cJSON_ArrayForEach(c, v)
	{
		if (cJSON_IsObject(v) ? !cJSON_IsNumber(c) : !is_scalar(c))
			return 0;
	}
	return 1;
}

/* A scalar, or an object or array of scalars only. */
static int flat(const cJSON *v)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, v)
	{
		if (!is_scalar(c))
			return 0;
	}
	return 1;
}

static void print_one_line(const cJSON *v)
{
	const cJSON *c;
	char num[64];
	int first = 1;

	if (is_scalar(v)) {
		fputs(tfa_cli_tty(scalar_text(num, v)), stdout);
		return;
	}
	if (cJSON_GetArraySize(v) == 0)
		fputs(cJSON_IsArray(v) ? "(none)" : "(empty)", stdout);
	cJSON_ArrayForEach(c, v)
	{
		printf("%s", first ? "" : ", ");
		if (cJSON_IsObject(v))
			printf("%s ", tfa_cli_tty(c->string));
		fputs(tfa_cli_tty(scalar_text(num, c)), stdout);
		first = 0;
	}
}

/* The longest dotted name under o (prefix plen long), for one aligned column. */
static size_t name_width(const cJSON *o, size_t plen)
{
	const cJSON *c;
	size_t w = 0, n;

	cJSON_ArrayForEach(c, o)
	{
		if (c->string == NULL)
			continue;
		n = plen + strlen(c->string);
		if (!one_line(c) && cJSON_IsObject(c))
			n = name_width(c, n + 1);
		if (n > w)
			w = n;
	}
	return w;
}

/* Each member of o as "  name  value", nested objects as dotted names. */
static void print_members(const cJSON *o, const char *prefix, int width)
{
	const cJSON *c, *e;
	char name[512];
	int i;

	cJSON_ArrayForEach(c, o)
	{
		if (c->string == NULL)
			continue;
		snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", c->string);
		if (one_line(c)) {
			printf("  %-*s  ", width, tfa_cli_tty(name));
			print_one_line(c);
			printf("\n");
		} else if (cJSON_IsObject(c)) {
			print_members(c, name, width);
		} else {
			/* An array of objects: one line each. */
			i = 0;
			cJSON_ArrayForEach(e, c)
			{
				printf("  %-*s  ", width, i == 0 ? tfa_cli_tty(name) : "");
				if (flat(e)) {
					print_one_line(e);
				} else {
					/* Deeper than a line: its compact JSON, escaped. */
					char *t = cJSON_PrintUnformatted(e);
					if (t)
						tfa_cli_escape_write(stdout, t, strlen(t),
								     TFA_ESCAPE_TERM);
					cJSON_free(t);
				}
				printf("\n");
				i++;
			}
		}
	}
}

/*
 * The record's members, readable: the resource changes as a list, then each
 * object member as a section of aligned "name  value" lines, with the top
 * level's scalars under "record". `--json` prints the signed bytes instead.
 */
static void print_fields(const cJSON *doc)
{
	const cJSON *changes = tfa_cli_json_at(doc, "terraform", "changes", NULL), *c, *sec;
	cJSON *top = NULL, *tf = NULL;
	size_t w = 6; /* "action" */

	if (doc == NULL)
		return;
	printf("\nresource changes: %d\n", cJSON_GetArraySize(changes));
	cJSON_ArrayForEach(c, changes)
	{
		const char *a = tfa_cli_json_str(c, "action", NULL, NULL);
		if (a && strlen(a) > w)
			w = strlen(a);
	}
	cJSON_ArrayForEach(c, changes)
	{
		const char *r = tfa_cli_json_str(c, "reason", NULL, NULL);
		printf("  %-*s  %s", (int)w,
		       tfa_cli_tty(or_dash(tfa_cli_json_str(c, "action", NULL, NULL))),
		       tfa_cli_tty(or_dash(tfa_cli_json_str(c, "address", NULL, NULL))));
		if (r)
			printf("  (%s)", tfa_cli_tty(r));
		printf("\n");
	}
	/* The top level's scalars, and terraform without the changes listed above. */
	top = cJSON_CreateObject();
	tf = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(doc, "terraform"), 1);
	if (tf)
		cJSON_DeleteItemFromObjectCaseSensitive(tf, "changes");
	cJSON_ArrayForEach(sec, doc)
	{
		if (top && is_scalar(sec))
			cJSON_AddItemToObject(top, sec->string, cJSON_Duplicate(sec, 1));
	}
	if (top) {
		printf("\nrecord\n");
		print_members(top, "", (int)name_width(top, 0));
	}
	cJSON_ArrayForEach(sec, doc)
	{
		const cJSON *body = strcmp(sec->string, "terraform") == 0 ? tf : sec;
		if (is_scalar(sec) || body == NULL)
			continue;
		printf("\n%s\n", tfa_cli_tty(sec->string));
		if (cJSON_IsArray(body) && one_line(body)) {
			printf("  ");
			print_one_line(body);
			printf("\n");
		} else {
			print_members(body, "", (int)name_width(body, 0));
		}
	}
	cJSON_Delete(top);
	cJSON_Delete(tf);
}

int tfa_cli_show(int argc, char **argv)
{
	static const char use[] = "tfattest show --store S [--key K|--public-key PEM] SEQ [--json]";
	hist_args a;
	tfa_cli_session ch;
	tfa_buf art;
	tfa_artifact m;
	char hash[TFA_FPR_STRLEN];
	uint64_t seq;
	tfa_err rc;
	int status = 0, r;

	if ((r = parse_hist(&a, argc, argv, use, true, false)) != 0)
		return r;
	if (optind != argc - 1 || parse_seq(argv[optind], &seq) != 0)
		return tfa_cli_usage("%s", use);
	tfa_buf_init(&art, TFA_ARTIFACT_MAX);
	tfa_cli_chain_init(&ch);
	rc = tfa_cli_chain_open_history(&ch, &a.o);
	if (rc == TFA_OK)
		rc = tfa_history_get(ch.history, seq, &art, &m, hash);
	if (rc != TFA_OK) {
		status = tfa_cli_fail(rc);
	} else if (a.o.json) {
		fwrite(art.data, 1, art.len, stdout);
		printf("\n");
	} else {
		cJSON *doc = cJSON_ParseWithLength((const char *)art.data, art.len);
		printf("record %llu of chain %s\n", (unsigned long long)seq,
		       tfa_cli_tty(tfa_history_chain_id(ch.history)));
		printf("hash      %s\n", tfa_cli_tty(hash));
		printf("checked   signature by %s, the key in force at seq %llu; prev_hash is the "
		       "hash of record %llu%s\n",
		       tfa_cli_tty(m.key_fpr), (unsigned long long)seq,
		       (unsigned long long)(seq - 1),
		       seq < tfa_history_head(ch.history) ? "; the next record links to it"
							  : " (genesis when 0); it is the head");
		printf("event     %s, %s, exit code %d\n", tfa_cli_tty(m.event),
		       tfa_cli_tty(m.status), (int)m.exit_code);
		if (m.has_identity) {
			const cJSON *cl = tfa_cli_json_at(doc, "identity", "claims", NULL), *c;
			char at[32];
			struct tm tm;
			time_t t = (time_t)m.identity_verified_at;

			gmtime_r(&t, &tm);
			strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
			printf("identity  %s, issuer %s (%s): verified by %s at %s; the record's "
			       "signer %s vouches for it\n",
			       tfa_cli_tty(identity_of(doc)),
			       tfa_cli_tty(tfa_cli_json_str(doc, "identity", "issuer", NULL)),
			       tfa_cli_tty(m.identity_method), tfa_cli_tty(m.identity_verifier), at,
			       tfa_cli_tty(m.key_fpr));
			cJSON_ArrayForEach(c, cl)
			{
				if (cJSON_IsString(c))
					printf("  claim   %s = %s\n", tfa_cli_tty(c->string),
					       tfa_cli_tty(c->valuestring));
			}
		}
		{
			const char *by = tfa_cli_json_str(doc, "context", "claimed_by", NULL);
			printf("actor     %s%s%s%s\n", tfa_cli_tty(actor_of(doc)),
			       by ? " (claimed by the " : " (from the context, unverified)",
			       by ? tfa_cli_tty(by) : "", by ? ", unverified)" : "");
		}
		if (m.idempotency_key[0])
			printf("key       idempotency key %s\n", tfa_cli_tty(m.idempotency_key));
		if (m.rollback_to)
			printf("rollback  to record %llu\n", (unsigned long long)m.rollback_to);
		if (m.spooled)
			printf("spooled   yes: appended from the spool (id %s)\n",
			       tfa_cli_tty(m.spool_id));
		print_fields(doc);
		cJSON_Delete(doc);
	}
	tfa_buf_free(&art);
	tfa_cli_chain_close(&ch);
	return status;
}

static const char *change_action(const cJSON *changes, const char *addr)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, changes)
	{
		const char *a = tfa_cli_json_str(c, "address", NULL, NULL);
		if (a && strcmp(a, addr) == 0)
			return tfa_cli_json_str(c, "action", NULL, NULL);
	}
	return NULL;
}

static void diff_field(const char *label, const char *x, const char *y)
{
	printf("  %-12s %s %s %s\n", label, tfa_cli_tty(or_dash(x)),
	       (x && y && strcmp(x, y) == 0) ? "==" : "->", tfa_cli_tty(or_dash(y)));
}

/* An integer member, or "-" when absent. */
static const char *num_str(char out[32], const cJSON *o, const char *a, const char *b,
			   const char *c)
{
	const cJSON *v = tfa_cli_json_at(o, a, b, c);

	if (cJSON_IsNumber(v))
		snprintf(out, 32, "%.0f", v->valuedouble);
	else
		snprintf(out, 32, "-");
	return out;
}

/*
 * The resource addresses that differ: "-" only in the first, "+" only in the
 * second, "~" another action. A heading only over lines: when none differ,
 * one line says so.
 */
static void diff_resources(const cJSON *c0, const cJSON *c1, uint64_t s1, uint64_t s2)
{
	const cJSON *c;
	int n = 0;

	cJSON_ArrayForEach(c, c0)
	{
		const char *ad = tfa_cli_json_str(c, "address", NULL, NULL), *a0, *a1;
		if (!ad)
			continue;
		a0 = tfa_cli_json_str(c, "action", NULL, NULL);
		a1 = change_action(c1, ad);
		if (a1 == NULL || (a0 && strcmp(a0, a1) != 0))
			printf("%s", n++ ? "" : "resources:\n");
		if (a1 == NULL)
			printf("  - %s (%s, only in %llu)\n", tfa_cli_tty(ad),
			       tfa_cli_tty(or_dash(a0)), (unsigned long long)s1);
		else if (a0 && strcmp(a0, a1) != 0)
			printf("  ~ %s: %s -> %s\n", tfa_cli_tty(ad), tfa_cli_tty(a0),
			       tfa_cli_tty(a1));
	}
	cJSON_ArrayForEach(c, c1)
	{
		const char *ad = tfa_cli_json_str(c, "address", NULL, NULL);
		if (ad == NULL || change_action(c0, ad) != NULL)
			continue;
		printf("%s", n++ ? "" : "resources:\n");
		printf("  + %s (%s, only in %llu)\n", tfa_cli_tty(ad),
		       tfa_cli_tty(or_dash(tfa_cli_json_str(c, "action", NULL, NULL))),
		       (unsigned long long)s2);
	}
	if (n == 0)
		printf("resources: the same addresses, with the same actions, in both\n");
}

int tfa_cli_diff(int argc, char **argv)
{
	static const char use[] = "tfattest diff --store S [--key K|--public-key PEM] SEQ1 SEQ2";
	static const char *const cnt[] = {"create", "update", "delete", "replace", "read",
					  "no-op",  "forget", "other",	NULL};
	hist_args a;
	tfa_cli_session ch;
	tfa_buf art[3];
	tfa_artifact m[3];
	cJSON *doc[3] = {NULL, NULL, NULL};
	char hash[3][TFA_FPR_STRLEN];
	uint64_t s1, s2;
	tfa_err rc;
	int status = 0, r;

	if ((r = parse_hist(&a, argc, argv, use, false, false)) != 0)
		return r;
	if (optind != argc - 2 || parse_seq(argv[optind], &s1) != 0 ||
	    parse_seq(argv[optind + 1], &s2) != 0)
		return tfa_cli_usage("%s", use);
	for (int i = 0; i < 3; i++)
		tfa_buf_init(&art[i], TFA_ARTIFACT_MAX);
	tfa_cli_chain_init(&ch);
	rc = tfa_cli_chain_open_history(&ch, &a.o);
	if (rc == TFA_OK)
		rc = tfa_history_get(ch.history, s1, &art[0], &m[0], hash[0]);
	if (rc == TFA_OK)
		rc = tfa_history_get(ch.history, s2, &art[1], &m[1], hash[1]);
	if (rc != TFA_OK) {
		status = tfa_cli_fail(rc);
		goto out;
	}
	for (int i = 0; i < 2; i++)
		doc[i] = cJSON_ParseWithLength((const char *)art[i].data, art[i].len);
	printf("diff record %llu -> record %llu (chain %s; both checked: signature by the key in "
	       "force, "
	       "hash links)\n",
	       (unsigned long long)s1, (unsigned long long)s2,
	       tfa_cli_tty(tfa_history_chain_id(ch.history)));
	{
		char e0[48], e1[48];
		snprintf(e0, sizeof(e0), "%s/%s/%d", m[0].event, m[0].status, (int)m[0].exit_code);
		snprintf(e1, sizeof(e1), "%s/%s/%d", m[1].event, m[1].status, (int)m[1].exit_code);
		diff_field("event", e0, e1);
	}
	diff_field("time", tfa_cli_json_str(doc[0], "time", NULL, NULL),
		   tfa_cli_json_str(doc[1], "time", NULL, NULL));
	diff_field("actor", actor_of(doc[0]), actor_of(doc[1]));
	diff_field("hash", hash[0], hash[1]);
	diff_field("plan", tfa_cli_json_str(doc[0], "terraform", "plan_sha256", NULL),
		   tfa_cli_json_str(doc[1], "terraform", "plan_sha256", NULL));
	diff_field("state", tfa_cli_json_str(doc[0], "terraform", "state", "sha256"),
		   tfa_cli_json_str(doc[1], "terraform", "state", "sha256"));
	diff_field("lineage", tfa_cli_json_str(doc[0], "terraform", "state", "lineage"),
		   tfa_cli_json_str(doc[1], "terraform", "state", "lineage"));
	{
		char n0[32], n1[32];
		diff_field("serial", num_str(n0, doc[0], "terraform", "state", "serial"),
			   num_str(n1, doc[1], "terraform", "state", "serial"));
	}
	printf("  counts      ");
	for (const char *const *k = cnt; *k; k++)
		printf(" %s %d->%d", *k, count_of(doc[0], *k), count_of(doc[1], *k));
	printf("\n");
	diff_resources(tfa_cli_json_at(doc[0], "terraform", "changes", NULL),
		       tfa_cli_json_at(doc[1], "terraform", "changes", NULL), s1, s2);
	for (int i = 0; i < 2; i++) {
		uint64_t t = m[i].rollback_to;
		char th[TFA_FPR_STRLEN], want[TFA_FPR_STRLEN];
		const char *ls, *lt, *ss, *sT;
		if (t == 0)
			continue;
		rc = tfa_history_get(ch.history, t, &art[2], &m[2], th);
		if (rc != TFA_OK) {
			status = tfa_cli_fail(rc);
			goto out;
		}
		cJSON_Delete(doc[2]);
		doc[2] = cJSON_ParseWithLength((const char *)art[2].data, art[2].len);
		snprintf(want, sizeof(want), "sha256:");
		for (int k = 0; k < TFA_SHA256_LEN; k++)
			snprintf(want + 7 + 2 * k, 3, "%02x", m[i].rollback_hash[k]);
		printf("rollback: record %llu reverts to record %llu (%s)\n",
		       (unsigned long long)m[i].seq, (unsigned long long)t,
		       strcmp(want, th) == 0 ? "target hash matches the record"
					     : "TARGET HASH MISMATCH");
		ls = tfa_cli_json_str(doc[i], "terraform", "state", "lineage");
		lt = tfa_cli_json_str(doc[2], "terraform", "state", "lineage");
		ss = tfa_cli_json_str(doc[i], "terraform", "state", "sha256");
		sT = tfa_cli_json_str(doc[2], "terraform", "state", "sha256");
		{
			char n0[32], n1[32];
			printf("  state lineage %s; serial %s (target %s); state hash %s\n",
			       ls && lt ? (strcmp(ls, lt) == 0 ? "matches the target's"
							       : "differs from the target's")
					: "not recorded",
			       num_str(n0, doc[i], "terraform", "state", "serial"),
			       num_str(n1, doc[2], "terraform", "state", "serial"),
			       ss && sT ? (strcmp(ss, sT) == 0 ? "equals the target's"
							       : "differs from the target's")
					: "not recorded on both");
		}
	}
out:
	for (int i = 0; i < 3; i++) {
		cJSON_Delete(doc[i]);
		tfa_buf_free(&art[i]);
	}
	tfa_cli_chain_close(&ch);
	return status;
}
