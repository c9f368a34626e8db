/*
 * The record request's strict parser.
 *
 * A request comes from a CI job the service does not trust beyond its
 * verified identity. What it may say is exactly what FORMAT.md §3.3 and §3.4
 * describe that tfattest writes: names, actions, counts, hashes, versions,
 * serials. Every object is checked against a closed schema at every depth,
 * so a plan's `before`/`after` values, `sensitive` markers or any other
 * member cannot ride into a write-once store; every string and list is
 * bounded. The schema is a table per object, read by one walker.
 */
#include <stdio.h>
#include <string.h>

#include "capture/oidc.h"
#include "format/hex.h"
#include "service/request.h"
#include "tfattest/service.h"
#include "tfattest/sys/guard.h"

typedef enum kind {
	K_STR,	  /* a string of 0..max bytes, no NUL */
	K_HASH,	  /* "sha256:<hex>" */
	K_INT32,  /* an integer in the int32 range */
	K_COUNT,  /* an integer 0..2^53 */
	K_SEQ,	  /* an integer 1..TFA_SEQ_MAX */
	K_BOOL,	  /* true or false */
	K_ENUM,	  /* a string of `values` */
	K_OBJ,	  /* an object of schema `sub` */
	K_OBJS,	  /* an array of at most TFA_REQUEST_LIST_MAX objects of schema `sub` */
	K_STRS,	  /* an array of at most TFA_REQUEST_LIST_MAX strings of 0..max bytes */
	K_STRMAP, /* an object whose members are strings, named from `values` */
} kind;

typedef struct field {
	const char *name;
	kind k;
	int required;
	size_t max;
	const struct field *sub;
	const char *const *values;
} field;

#define END                                                                                        \
	{                                                                                          \
		NULL, K_STR, 0, 0, NULL, NULL                                                      \
	}
#define S(n, m)                                                                                    \
	{                                                                                          \
		n, K_STR, 0, m, NULL, NULL                                                         \
	}
#define REQ_S(n, m)                                                                                \
	{                                                                                          \
		n, K_STR, 1, m, NULL, NULL                                                         \
	}

static const char *const statuses[] = {"succeeded", "failed", NULL};
static const char *const actions[] = {"create", "update", "delete", "replace", "read",
				      "no-op",	"forget", "other",  NULL};
static const char *const plan_sources[] = {"saved-plan", "plan-first", "none", NULL};
static const char *const providers[] = {"github-actions", "gitlab-ci", "jenkins", NULL};

static const field rollback_schema[] = {
    {"seq", K_SEQ, 1, 0, NULL, NULL}, {"hash", K_HASH, 1, 0, NULL, NULL}, END};
static const field event_schema[] = {{"type", K_STR, 1, 15, NULL, NULL},
				     {"status", K_ENUM, 1, 0, NULL, statuses},
				     {"exit_code", K_INT32, 1, 0, NULL, NULL},
				     {"rollback_to", K_OBJ, 0, 0, rollback_schema, NULL},
				     END};
static const field change_schema[] = {REQ_S("address", TFA_REQUEST_STR_MAX),
				      {"action", K_ENUM, 1, 0, NULL, actions},
				      S("reason", 128),
				      END};
static const field counts_schema[] = {{"create", K_COUNT, 0, 0, NULL, NULL},
				      {"update", K_COUNT, 0, 0, NULL, NULL},
				      {"delete", K_COUNT, 0, 0, NULL, NULL},
				      {"replace", K_COUNT, 0, 0, NULL, NULL},
				      {"read", K_COUNT, 0, 0, NULL, NULL},
				      {"no-op", K_COUNT, 0, 0, NULL, NULL},
				      {"forget", K_COUNT, 0, 0, NULL, NULL},
				      {"other", K_COUNT, 0, 0, NULL, NULL},
				      END};
static const field state_schema[] = {{"sha256", K_HASH, 1, 0, NULL, NULL},
				     {"serial", K_COUNT, 0, 0, NULL, NULL},
				     S("lineage", 128),
				     S("terraform_version", 64),
				     END};
static const field drift_schema[] = {{"drifted", K_BOOL, 1, 0, NULL, NULL},
				     {"addresses", K_STRS, 0, TFA_REQUEST_STR_MAX, NULL, NULL},
				     END};
/* FORMAT.md §3.3, terraform.reconcile: the summary of a `tfattest reconcile` run. */
static const char *const source_kinds[] = {"file", "dir", "s3", "command", NULL};
static const field source_schema[] = {
    {"kind", K_ENUM, 1, 0, NULL, source_kinds}, REQ_S("name", TFA_REQUEST_STR_MAX), END};
static const field gap_schema[] = {
    REQ_S("lineage", 128), {"serial", K_COUNT, 1, 0, NULL, NULL}, END};
#define COUNT(n)                                                                                   \
	{                                                                                          \
		n, K_COUNT, 0, 0, NULL, NULL                                                       \
	}
static const field reconcile_schema[] = {{"complete", K_BOOL, 0, 0, NULL, NULL},
					 COUNT("head"),
					 COUNT("records"),
					 COUNT("records_with_state"),
					 COUNT("versions"),
					 COUNT("attested"),
					 COUNT("unattested"),
					 COUNT("unreadable"),
					 COUNT("deleted"),
					 COUNT("records_missing"),
					 COUNT("chain_gaps"),
					 COUNT("lineage_changes"),
					 {"sources", K_OBJS, 0, 0, source_schema, NULL},
					 COUNT("sources_omitted"),
					 {"gaps", K_OBJS, 0, 0, gap_schema, NULL},
					 COUNT("gaps_omitted"),
					 COUNT("state_bodies_read"),
					 END};
static const field terraform_schema[] = {{"plan_sha256", K_HASH, 0, 0, NULL, NULL},
					 S("plan_format_version", 64),
					 S("version", 64),
					 {"plan_errored", K_BOOL, 0, 0, NULL, NULL},
					 {"changes", K_OBJS, 0, 0, change_schema, NULL},
					 {"counts", K_OBJ, 0, 0, counts_schema, NULL},
					 {"state", K_OBJ, 0, 0, state_schema, NULL},
					 {"state_before", K_OBJ, 0, 0, state_schema, NULL},
					 {"plan_source", K_ENUM, 0, 0, NULL, plan_sources},
					 {"drift", K_OBJ, 0, 0, drift_schema, NULL},
					 {"reconcile", K_OBJ, 0, 0, reconcile_schema, NULL},
					 END};
static const field git_schema[] = {S("commit", 64), S("ref", TFA_REQUEST_STR_MAX),
				   S("remote", TFA_REQUEST_STR_MAX), END};
static const field oidc_schema[] = {
    S("source", 64),
    S("signature", 64),
    S("issuer", TFA_REQUEST_STR_MAX),
    S("subject", TFA_REQUEST_STR_MAX),
    S("audience", TFA_REQUEST_STR_MAX),
    S("issued_at", 32),
    S("expires_at", 32),
    {"claims", K_STRMAP, 0, TFA_REQUEST_STR_MAX, NULL, tfa_oidc_kept_claims},
    S("error", TFA_REQUEST_STR_MAX),
    END};
#define CI(n) S(n, TFA_REQUEST_STR_MAX)
static const field ci_schema[] = {{"provider", K_ENUM, 1, 0, NULL, providers},
				  CI("repository"),
				  CI("workflow_ref"),
				  CI("run_id"),
				  CI("run_attempt"),
				  CI("actor"),
				  CI("sha"),
				  CI("ref"),
				  CI("server_url"),
				  CI("event_name"),
				  CI("project"),
				  CI("pipeline_id"),
				  CI("job_id"),
				  CI("job_url"),
				  CI("user"),
				  CI("job_name"),
				  CI("build_number"),
				  CI("build_url"),
				  {"oidc", K_OBJ, 0, 0, oidc_schema, NULL},
				  END};
static const field context_schema[] = {{"git", K_OBJ, 0, 0, git_schema, NULL},
				       {"ci", K_OBJ, 0, 0, ci_schema, NULL},
				       S("host", TFA_REQUEST_STR_MAX),
				       END};
static const field request_schema[] = {REQ_S("type", 64),
				       REQ_S("chain_id", TFA_CHAIN_ID_MAX),
				       REQ_S("idempotency_key", 64),
				       {"event", K_OBJ, 1, 0, event_schema, NULL},
				       {"terraform", K_OBJ, 0, 0, terraform_schema, NULL},
				       {"context", K_OBJ, 0, 0, context_schema, NULL},
				       END};

/* The path of the value being checked, for messages ("terraform.changes[3].action"). */
typedef struct path {
	char s[160];
} path;

static void path_push(path *child, const path *parent, const char *name, size_t idx, int is_idx)
{
	int n;

	/* A path cut short still names where the error is; the message says the rest. */
	if (is_idx)
		n = snprintf(child->s, sizeof(child->s), "%s[%zu]", parent->s, idx);
	else if (parent->s[0])
		n = snprintf(child->s, sizeof(child->s), "%s.%s", parent->s, name);
	else
		n = snprintf(child->s, sizeof(child->s), "%s", name);
	if (n < 0 || (size_t)n >= sizeof(child->s))
		child->s[sizeof(child->s) - 1] = '\0';
}

static int one_of(const char *s, size_t n, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == n && memcmp(*list, s, n) == 0)
			return 1;
	return 0;
}

static tfa_err check_obj(const tfa_json_value *v, const field *schema, const path *at);

static tfa_err check_str(const tfa_json_value *v, size_t max, const path *at)
{
	size_t n;
	const char *s = tfa_json_string(v, &n);

	if (s == NULL)
		return tfa_error_set(TFA_EFORMAT, "request: %s is not a string", at->s);
	if (n > max)
		return tfa_error_set(TFA_EFORMAT, "request: %s is longer than %zu bytes", at->s,
				     max);
	if (memchr(s, '\0', n) != NULL)
		return tfa_error_set(TFA_EFORMAT, "request: %s holds a NUL character", at->s);
	return TFA_OK;
}

static tfa_err check_int(const tfa_json_value *v, double min, double max, const path *at)
{
	double d;

	if (tfa_json_type_of(v) != TFA_JSON_NUMBER)
		return tfa_error_set(TFA_EFORMAT, "request: %s is not a number", at->s);
	d = tfa_json_number(v);
	if (d != (double)(int64_t)d || d < min || d > max)
		return tfa_error_set(TFA_EFORMAT, "request: %s is not an integer from %.0f to %.0f",
				     at->s, min, max);
	return TFA_OK;
}

static tfa_err check_array(const tfa_json_value *v, const path *at)
{
	if (tfa_json_type_of(v) != TFA_JSON_ARRAY)
		return tfa_error_set(TFA_EFORMAT, "request: %s is not an array", at->s);
	if (tfa_json_count(v) > TFA_REQUEST_LIST_MAX)
		return tfa_error_set(TFA_EFORMAT, "request: %s holds more than %d entries", at->s,
				     TFA_REQUEST_LIST_MAX);
	return TFA_OK;
}

static tfa_err check_value(const tfa_json_value *v, const field *f, const path *at)
{
	tfa_err rc = TFA_OK;
	path el;
	size_t n;
	const char *s;
	uint8_t d[TFA_SHA256_LEN];

	switch (f->k) {
	case K_STR: TFA_GUARD(check_str(v, f->max, at)); break;
	case K_HASH:
		TFA_GUARD(check_str(v, 80, at));
		s = tfa_json_string(v, &n);
		if (tfa_hash_parse(d, s, n) != TFA_OK)
			TFA_BAIL(TFA_EFORMAT, "request: %s is not a \"sha256:<64 hex>\" hash",
				 at->s);
		break;
	case K_INT32: TFA_GUARD(check_int(v, -2147483648.0, 2147483647.0, at)); break;
	case K_COUNT: TFA_GUARD(check_int(v, 0, 9007199254740992.0, at)); break;
	case K_SEQ: TFA_GUARD(check_int(v, 1, (double)TFA_SEQ_MAX, at)); break;
	case K_BOOL:
		TFA_ENSURE(tfa_json_type_of(v) == TFA_JSON_TRUE ||
			       tfa_json_type_of(v) == TFA_JSON_FALSE,
			   TFA_EFORMAT, "request: %s is not a boolean", at->s);
		break;
	case K_ENUM:
		TFA_GUARD(check_str(v, 64, at));
		s = tfa_json_string(v, &n);
		TFA_ENSURE(one_of(s, n, f->values), TFA_EFORMAT,
			   "request: %s has a value it may not have", at->s);
		break;
	case K_OBJ: TFA_GUARD(check_obj(v, f->sub, at)); break;
	case K_OBJS:
		TFA_GUARD(check_array(v, at));
		for (size_t i = 0; i < tfa_json_count(v); i++) {
			path_push(&el, at, NULL, i, 1);
			TFA_GUARD(check_obj(tfa_json_at(v, i), f->sub, &el));
		}
		break;
	case K_STRS:
		TFA_GUARD(check_array(v, at));
		for (size_t i = 0; i < tfa_json_count(v); i++) {
			path_push(&el, at, NULL, i, 1);
			TFA_GUARD(check_str(tfa_json_at(v, i), f->max, &el));
		}
		break;
	case K_STRMAP:
		TFA_ENSURE(tfa_json_type_of(v) == TFA_JSON_OBJECT, TFA_EFORMAT,
			   "request: %s is not an object", at->s);
		for (size_t i = 0; i < tfa_json_count(v); i++) {
			s = tfa_json_key_at(v, i, &n);
			TFA_ENSURE(one_of(s, n, f->values), TFA_EFORMAT,
				   "request: %s: a member is not one of the claims FORMAT.md "
				   "§3.4 lists",
				   at->s);
			path_push(&el, at, s, 0, 0);
			TFA_GUARD(check_str(tfa_json_value_at(v, i), f->max, &el));
		}
		break;
	}
out:
	return rc;
}

static tfa_err check_obj(const tfa_json_value *v, const field *schema, const path *at)
{
	tfa_err rc = TFA_OK;
	path sub;

	TFA_ENSURE(tfa_json_type_of(v) == TFA_JSON_OBJECT, TFA_EFORMAT,
		   "request: %s is not an object", at->s[0] ? at->s : "the body");
	for (size_t i = 0; i < tfa_json_count(v); i++) {
		size_t kl;
		const char *k = tfa_json_key_at(v, i, &kl);
		const field *f = schema;

		while (f->name && !(strlen(f->name) == kl && memcmp(f->name, k, kl) == 0))
			f++;
		if (f->name == NULL) {
			char name[48];
			snprintf(name, sizeof(name), "%.*s", (int)(kl < 40 ? kl : 40), k);
			TFA_BAIL(
			    TFA_EFORMAT,
			    "request: %s%smember \"%s\" is not allowed (a request carries only "
			    "the facts docs/SERVICE.md lists, never attribute values)",
			    at->s, at->s[0] ? ": " : "", name);
		}
		path_push(&sub, at, f->name, 0, 0);
		TFA_GUARD(check_value(tfa_json_value_at(v, i), f, &sub));
	}
	for (const field *f = schema; f->name; f++) {
		if (f->required && tfa_json_get(v, f->name) == NULL) {
			path_push(&sub, at, f->name, 0, 0);
			TFA_BAIL(TFA_EFORMAT, "request: %s is missing", sub.s);
		}
	}
out:
	return rc;
}

void tfa_svc_request_free(tfa_svc_request *r)
{
	if (r == NULL)
		return;
	tfa_json_free(r->doc);
	r->doc = NULL;
}

static tfa_err copy_str(char *dst, size_t cap, const tfa_json_value *v)
{
	size_t n;
	const char *s = tfa_json_string(v, &n);

	if (s == NULL || n >= cap)
		return tfa_error_set(TFA_EINTERNAL, "request copy out of bounds");
	memcpy(dst, s, n);
	dst[n] = '\0';
	return TFA_OK;
}

tfa_err tfa_svc_request_parse(tfa_svc_request *out, const uint8_t *req, size_t len)
{
	tfa_err rc = TFA_OK;
	const tfa_json_value *root, *ev, *v;
	path top = {{0}};
	size_t n;
	const char *s;

	TFA_ENSURE_ARG(out);
	memset(out, 0, sizeof(*out));
	TFA_ENSURE_ARG(req);
	TFA_ENSURE(len <= TFA_SERVICE_REQUEST_MAX, TFA_EFORMAT, "request is larger than %u bytes",
		   TFA_SERVICE_REQUEST_MAX);
	if (tfa_json_parse(&out->doc, req, len) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "request is not valid JSON: %s", tfa_error_last()->message);
	root = tfa_json_root(out->doc);
	TFA_GUARD(check_obj(root, request_schema, &top));
	s = tfa_json_string(tfa_json_get(root, "type"), &n);
	TFA_ENSURE(n == strlen(TFA_REQUEST_TYPE) && memcmp(s, TFA_REQUEST_TYPE, n) == 0,
		   TFA_EFORMAT, "request: type is not \"" TFA_REQUEST_TYPE "\"");
	v = tfa_json_get(root, "chain_id");
	s = tfa_json_string(v, &n);
	if (tfa_chain_id_check(s, n) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "request: chain_id: %s", tfa_error_last()->message);
	TFA_GUARD(copy_str(out->chain_id, sizeof(out->chain_id), v));
	v = tfa_json_get(root, "idempotency_key");
	s = tfa_json_string(v, &n);
	if (tfa_idempotency_key_check(s, n) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "request: idempotency_key: %s", tfa_error_last()->message);
	TFA_GUARD(copy_str(out->idempotency_key, sizeof(out->idempotency_key), v));
	ev = tfa_json_get(root, "event");
	v = tfa_json_get(ev, "type");
	s = tfa_json_string(v, &n);
	TFA_ENSURE(n < sizeof(out->event) && tfa_event_type_known(s), TFA_EFORMAT,
		   "request: event.type is not one of the event types of FORMAT.md §3.1");
	TFA_GUARD(copy_str(out->event, sizeof(out->event), v));
	TFA_ENSURE(tfa_json_get(ev, "rollback_to") == NULL || strcmp(out->event, "rollback") == 0,
		   TFA_EFORMAT, "request: event.rollback_to on an event that is not a rollback");
out:
	if (rc != TFA_OK)
		tfa_svc_request_free(out);
	return rc;
}
