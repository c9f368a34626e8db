/*
 * Capture: the facts of one deployment, read from `terraform show -json`
 * output, the state file and the run's environment.
 *
 * Only names are copied, never values: resource addresses, action names,
 * versions, serials and hashes. Plans and states hold secrets, and a
 * write-once store can never delete what it was given.
 */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "verify/crypto.h"
#include "format/jlex.h"
#include "format/jfield.h"
#include "capture/oidc.h"
#include "sys/spawn.h"
#include "format/timefmt.h"
#include "tfattest/artifact.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"

/* Plans of large estates run to hundreds of megabytes. */
#define PLAN_MAX ((size_t)512 << 20)
#define STATE_MAX ((size_t)512 << 20)
/* Longest string copied from the environment or git. */
#define CTX_STR_MAX 1024

struct tfa_capture {
	cJSON *event;
	cJSON *terraform;
	cJSON *context;
};

void tfa_capture_free(tfa_capture *c)
{
	if (c == NULL)
		return;
	cJSON_Delete(c->event);
	cJSON_Delete(c->terraform);
	cJSON_Delete(c->context);
	free(c);
}

/*
 * Adds a string, replacing bytes that are not valid UTF-8 or are NUL with '?',
 * and each Unicode noncharacter (which I-JSON forbids) with one '?'.
 */
static tfa_err add_text(cJSON *obj, const char *key, const char *s, size_t len)
{
	char *copy;
	size_t i = 0, w = 0;
	cJSON *item;

	if (len > CTX_STR_MAX)
		len = CTX_STR_MAX;
	copy = malloc(len + 1);
	if (copy == NULL)
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	memcpy(copy, s, len);
	copy[len] = '\0';
	while (i < len) {
		size_t n = tfa_utf8_seq_len((const uint8_t *)copy + i, len - i);

		if (n == 0 || copy[i] == 0 || tfa_utf8_is_nonchar((const uint8_t *)copy + i, n)) {
			copy[w++] = '?';
			i += n ? n : 1;
			continue;
		}
		memmove(copy + w, copy + i, n);
		w += n;
		i += n;
	}
	copy[w] = '\0';
	item = cJSON_CreateString(copy);
	free(copy);
	if (item == NULL || !cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	}
	return TFA_OK;
}

static tfa_err add_str(cJSON *obj, const char *key, const char *s)
{
	return add_text(obj, key, s, strlen(s));
}

static tfa_err add_num(cJSON *obj, const char *key, double v)
{
	return cJSON_AddNumberToObject(obj, key, v) ? TFA_OK
						    : tfa_error_set(TFA_EINTERNAL, "out of memory");
}

static tfa_err add_hash(cJSON *obj, const char *key, const uint8_t *data, size_t len)
{
	uint8_t d[TFA_SHA256_LEN];
	char s[TFA_FPR_STRLEN];

	tfa_sha256(d, data, len);
	tfa_hash_str(s, d);
	return add_str(obj, key, s);
}

static cJSON *new_obj(cJSON *parent, const char *key)
{
	cJSON *o = cJSON_CreateObject();

	if (o && parent && !cJSON_AddItemToObject(parent, key, o)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* The one word for a change's action list, as the plan renderer shows it. */
static const char *action_word(const tfa_json_value *actions)
{
	size_t n = tfa_json_count(actions);
	const char *a0 = n > 0 ? tfa_json_string(tfa_json_at(actions, 0), NULL) : NULL;
	const char *a1 = n > 1 ? tfa_json_string(tfa_json_at(actions, 1), NULL) : NULL;
	static const char *const single[] = { "create", "update", "delete", "read", "no-op", "forget" };

	if (n == 1 && a0) {
		for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++)
			if (strcmp(a0, single[i]) == 0)
				return single[i];
	}
	if (n == 2 && a0 && a1 &&
	    ((strcmp(a0, "delete") == 0 && strcmp(a1, "create") == 0) ||
	     (strcmp(a0, "create") == 0 && strcmp(a1, "delete") == 0)))
		return "replace";
	return "other";
}

static const char *const count_keys[] = { "create", "update", "delete", "replace", "read",
					  "no-op", "forget", "other" };

static tfa_err capture_plan(cJSON *tf, const uint8_t *data, size_t len, const char *path)
{
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	const tfa_json_value *root, *rcs, *v;
	cJSON *changes, *counts;
	double count[sizeof(count_keys) / sizeof(count_keys[0])] = { 0 };
	const char *s;
	size_t n;

	TFA_ENSURE(len <= PLAN_MAX, TFA_EFORMAT, "plan %s is larger than %zu bytes", path, PLAN_MAX);
	TFA_GUARD(add_hash(tf, "plan_sha256", data, len));
	rc = tfa_json_parse(&doc, data, len);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "plan %s is not valid JSON: %s", path, tfa_error_last()->message);
	root = tfa_json_root(doc);
	TFA_ENSURE(tfa_json_type_of(root) == TFA_JSON_OBJECT &&
			   tfa_json_get(root, "format_version") != NULL,
		   TFA_EFORMAT, "%s is not `terraform show -json` plan output", path);
	TFA_GUARD(tfa_jf_str(&s, &n, root, "format_version", 32, "plan"));
	TFA_GUARD(add_text(tf, "plan_format_version", s, n));
	if (tfa_json_get(root, "terraform_version")) {
		TFA_GUARD(tfa_jf_str(&s, &n, root, "terraform_version", 64, "plan"));
		TFA_GUARD(add_text(tf, "version", s, n));
	}
	if ((v = tfa_json_get(root, "errored")) != NULL) {
		TFA_ENSURE(tfa_json_type_of(v) == TFA_JSON_TRUE || tfa_json_type_of(v) == TFA_JSON_FALSE,
			   TFA_EFORMAT, "plan: \"errored\" is not a boolean");
		TFA_ENSURE(cJSON_AddBoolToObject(tf, "plan_errored", tfa_json_type_of(v) == TFA_JSON_TRUE),
			   TFA_EINTERNAL, "out of memory");
	}
	changes = cJSON_AddArrayToObject(tf, "changes");
	TFA_ENSURE(changes != NULL, TFA_EINTERNAL, "out of memory");
	if (tfa_json_get(root, "resource_changes")) {
		TFA_GUARD(tfa_jf_arr(&rcs, root, "resource_changes", "plan"));
		for (size_t i = 0; i < tfa_json_count(rcs); i++) {
			const tfa_json_value *rch = tfa_json_at(rcs, i), *chg, *acts;
			const char *word;
			cJSON *item;

			TFA_GUARD(tfa_jf_obj(&chg, rch, "change", "plan resource change"));
			TFA_GUARD(tfa_jf_arr(&acts, chg, "actions", "plan resource change"));
			word = action_word(acts);
			for (size_t k = 0; k < sizeof(count_keys) / sizeof(count_keys[0]); k++)
				if (strcmp(word, count_keys[k]) == 0)
					count[k]++;
			if (strcmp(word, "no-op") == 0)
				continue;
			item = new_obj(NULL, NULL);
			TFA_ENSURE(item && cJSON_AddItemToArray(changes, item), TFA_EINTERNAL,
				   "out of memory");
			TFA_GUARD(tfa_jf_str(&s, &n, rch, "address", 4096, "plan resource change"));
			TFA_GUARD(add_text(item, "address", s, n));
			TFA_GUARD(add_str(item, "action", word));
			if (tfa_json_get(rch, "action_reason") &&
			    tfa_jf_str(&s, &n, rch, "action_reason", 128, "plan") == TFA_OK)
				TFA_GUARD(add_text(item, "reason", s, n));
		}
	}
	counts = new_obj(tf, "counts");
	TFA_ENSURE(counts != NULL, TFA_EINTERNAL, "out of memory");
	for (size_t k = 0; k < sizeof(count_keys) / sizeof(count_keys[0]); k++)
		TFA_GUARD(add_num(counts, count_keys[k], count[k]));
out:
	tfa_json_free(doc);
	return rc;
}

static tfa_err capture_state(cJSON *tf, const uint8_t *data, size_t len, const char *path)
{
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	const tfa_json_value *root;
	cJSON *st;
	const char *s;
	size_t n;
	int64_t serial;

	TFA_ENSURE(len <= STATE_MAX, TFA_EFORMAT, "state %s is larger than %zu bytes", path, STATE_MAX);
	rc = tfa_json_parse(&doc, data, len);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "state %s is not valid JSON: %s", path, tfa_error_last()->message);
	root = tfa_json_root(doc);
	st = new_obj(tf, "state");
	TFA_ENSURE(st != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(add_hash(st, "sha256", data, len));
	TFA_GUARD(tfa_jf_int(&serial, root, "serial", 0, (int64_t)1 << 53, "state"));
	TFA_GUARD(add_num(st, "serial", (double)serial));
	TFA_GUARD(tfa_jf_str(&s, &n, root, "lineage", 256, "state"));
	TFA_GUARD(add_text(st, "lineage", s, n));
	if (tfa_json_get(root, "terraform_version") &&
	    tfa_jf_str(&s, &n, root, "terraform_version", 64, "state") == TFA_OK)
		TFA_GUARD(add_text(st, "terraform_version", s, n));
out:
	tfa_json_free(doc);
	return rc;
}

/*
 * Runs argv (no shell) and returns its first line of stdout, or "" when it
 * fails or is absent. Never used with secrets.
 */
static void run_line(char *out, size_t cap, char *const argv[])
{
	tfa_buf b;
	tfa_spawn_exit how;

	out[0] = '\0';
	tfa_buf_init(&b, cap - 1);
	if (tfa_spawn_read(&how, &b, argv, TFA_SPAWN_QUIET | TFA_SPAWN_TRUNCATE) == 0 &&
	    how.code == 0 && b.len > 0) {
		memcpy(out, b.data, b.len + 1);
		out[strcspn(out, "\n")] = '\0';
	}
	tfa_buf_free(&b);
}

/*
 * Removes credentials from a remote URL: the userinfo of scheme://user:pw@host
 * (up to the authority's last '@', since a password may hold '@'), and any
 * query or fragment. scp-like user@host:path carries a user name, never a
 * password, and is kept.
 */
static void strip_credentials(char *url)
{
	char *scheme = strstr(url, "://");
	char *host, *at = NULL, *end;

	url[strcspn(url, "?#")] = '\0';
	if (scheme == NULL)
		return;
	host = scheme + 3;
	end = host + strcspn(host, "/");
	for (char *p = host; p < end; p++)
		if (*p == '@')
			at = p;
	if (at)
		memmove(host, at + 1, strlen(at + 1) + 1);
}

static tfa_err capture_git(cJSON *ctxobj)
{
	tfa_err rc = TFA_OK;
	char line[CTX_STR_MAX + 1];
	cJSON *git = NULL;
	char *argv_head[] = { "git", "rev-parse", "--verify", "-q", "HEAD", NULL };
	char *argv_ref[] = { "git", "symbolic-ref", "-q", "HEAD", NULL };
	char *argv_remote[] = { "git", "config", "--get", "remote.origin.url", NULL };

	run_line(line, sizeof(line), argv_head);
	if (line[0] == '\0')
		return TFA_OK; /* not a git work tree, or no git */
	git = new_obj(ctxobj, "git");
	TFA_ENSURE(git != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(add_str(git, "commit", line));
	run_line(line, sizeof(line), argv_ref);
	if (line[0])
		TFA_GUARD(add_str(git, "ref", line));
	run_line(line, sizeof(line), argv_remote);
	/* A cut line may have lost the '@' that ends its credentials: record no remote then. */
	if (line[0] && strlen(line) < sizeof(line) - 1) {
		strip_credentials(line);
		TFA_GUARD(add_str(git, "remote", line));
	}
out:
	return rc;
}

typedef struct env_field {
	const char *key;
	const char *var;
} env_field;

static tfa_err add_env_fields(cJSON *obj, const env_field *f)
{
	tfa_err rc = TFA_OK;

	for (; f->key; f++) {
		const char *v = getenv(f->var);
		if (v && *v)
			TFA_GUARD(add_str(obj, f->key, v));
	}
out:
	return rc;
}

/* JWT claims copied from an ID token: identity, never anything secret. */
static const char *const oidc_claims[] = {
	"repository", "repository_owner", "ref", "ref_type", "sha", "workflow", "workflow_ref",
	"job_workflow_ref", "run_id", "run_attempt", "run_number", "actor", "environment",
	"event_name", "runner_environment",
	/* GitLab */
	"project_path", "namespace_path", "pipeline_id", "pipeline_source", "job_id",
	"user_login", "ref_path", "ref_protected", "environment_protected", NULL
};

/* Adds a claim's value: strings as they are, numbers and booleans in their JSON form. */
static tfa_err add_claim(cJSON *obj, const char *key, const cJSON *v)
{
	char num[64];

	if (cJSON_IsString(v))
		return add_str(obj, key, v->valuestring);
	if (cJSON_IsBool(v))
		return add_str(obj, key, cJSON_IsTrue(v) ? "true" : "false");
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 9007199254740992.0) {
		snprintf(num, sizeof(num), "%.0f", v->valuedouble);
		return add_str(obj, key, num);
	}
	return TFA_OK;
}

/*
 * Records the claims of an ID token as received. The signature is not
 * checked here: the token came from the CI system's own endpoint over TLS
 * (GitHub) or from its environment (GitLab). The token itself is never kept.
 */
static tfa_err add_oidc_claims(cJSON *ci, const char *jwt, size_t len, const char *source)
{
	tfa_err rc = TFA_OK;
	cJSON *claims = NULL, *o, *v;

	if (tfa_jwt_payload(&claims, jwt, len) != TFA_OK) {
		o = new_obj(ci, "oidc");
		TFA_ENSURE(o != NULL, TFA_EINTERNAL, "out of memory");
		TFA_GUARD(add_str(o, "source", source));
		TFA_GUARD(add_str(o, "error", tfa_error_last()->message));
		goto out;
	}
	o = new_obj(ci, "oidc");
	TFA_ENSURE(o != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(add_str(o, "source", source));
	TFA_GUARD(add_str(o, "signature", "not-verified"));
	if ((v = cJSON_GetObjectItemCaseSensitive(claims, "iss")) != NULL)
		TFA_GUARD(add_claim(o, "issuer", v));
	if ((v = cJSON_GetObjectItemCaseSensitive(claims, "sub")) != NULL)
		TFA_GUARD(add_claim(o, "subject", v));
	if ((v = cJSON_GetObjectItemCaseSensitive(claims, "aud")) != NULL) {
		if (cJSON_IsArray(v))
			v = cJSON_GetArrayItem(v, 0);
		if (v)
			TFA_GUARD(add_claim(o, "audience", v));
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(claims, "iat")) != NULL)
		TFA_GUARD(add_claim(o, "issued_at", v));
	if ((v = cJSON_GetObjectItemCaseSensitive(claims, "exp")) != NULL)
		TFA_GUARD(add_claim(o, "expires_at", v));
	{
		cJSON *sel = new_obj(o, "claims");
		TFA_ENSURE(sel != NULL, TFA_EINTERNAL, "out of memory");
		for (const char *const *k = oidc_claims; *k; k++)
			if ((v = cJSON_GetObjectItemCaseSensitive(claims, *k)) != NULL)
				TFA_GUARD(add_claim(sel, *k, v));
	}
out:
	cJSON_Delete(claims);
	return rc;
}

/* GitHub Actions: asks the runner's token endpoint for an ID token with audience tfattest. */
static tfa_err github_oidc(cJSON *ci)
{
	tfa_err rc = TFA_OK;
	const char *url = getenv("ACTIONS_ID_TOKEN_REQUEST_URL");
	const char *bearer = getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
	tfa_buf tok;
	cJSON *o;

	tfa_buf_init(&tok, TFA_JWT_MAX);
	if (url == NULL || *url == '\0' || bearer == NULL || *bearer == '\0')
		return TFA_OK; /* the job has no id-token: write permission */
	if (tfa_oidc_fetch(&tok, url, bearer, TFA_OIDC_AUDIENCE) != TFA_OK) {
		char msg[600];
		snprintf(msg, sizeof(msg), "%s", tfa_error_last()->message);
		o = new_obj(ci, "oidc");
		TFA_ENSURE(o != NULL, TFA_EINTERNAL, "out of memory");
		TFA_GUARD(add_str(o, "source", "github-actions"));
		TFA_GUARD(add_str(o, "error", msg));
		goto out;
	}
	TFA_GUARD(add_oidc_claims(ci, (const char *)tok.data, tok.len, "github-actions"));
out:
	tfa_buf_wipe_free(&tok);
	return rc;
}

/*
 * An ID token handed over in the environment (GitLab's id_tokens:, or any CI):
 * TFATTEST_OIDC_TOKEN holds it, or TFATTEST_ID_TOKEN names the variable that does.
 */
static tfa_err env_oidc(cJSON *ci, const char *source)
{
	const char *name = getenv("TFATTEST_ID_TOKEN");
	const char *jwt;

	if (name && *name)
		jwt = getenv(name);
	else
		jwt = getenv("TFATTEST_OIDC_TOKEN");
	if (jwt == NULL || *jwt == '\0')
		return TFA_OK;
	return add_oidc_claims(ci, jwt, strlen(jwt), source);
}

static tfa_err capture_ci(cJSON *ctxobj, int *found)
{
	static const env_field github[] = {
		{ "repository", "GITHUB_REPOSITORY" }, { "workflow_ref", "GITHUB_WORKFLOW_REF" },
		{ "run_id", "GITHUB_RUN_ID" },         { "run_attempt", "GITHUB_RUN_ATTEMPT" },
		{ "actor", "GITHUB_ACTOR" },           { "sha", "GITHUB_SHA" },
		{ "ref", "GITHUB_REF" },               { "server_url", "GITHUB_SERVER_URL" },
		{ "event_name", "GITHUB_EVENT_NAME" }, { NULL, NULL },
	};
	static const env_field gitlab[] = {
		{ "project", "CI_PROJECT_PATH" }, { "pipeline_id", "CI_PIPELINE_ID" },
		{ "job_id", "CI_JOB_ID" },        { "job_url", "CI_JOB_URL" },
		{ "user", "GITLAB_USER_LOGIN" },  { "sha", "CI_COMMIT_SHA" },
		{ "ref", "CI_COMMIT_REF_NAME" },  { "server_url", "CI_SERVER_URL" },
		{ NULL, NULL },
	};
	static const env_field jenkins[] = {
		{ "job_name", "JOB_NAME" },   { "build_number", "BUILD_NUMBER" },
		{ "build_url", "BUILD_URL" }, { "server_url", "JENKINS_URL" },
		{ NULL, NULL },
	};
	tfa_err rc = TFA_OK;
	cJSON *ci;
	const char *v;

	*found = 0;
	if ((v = getenv("GITHUB_ACTIONS")) && strcmp(v, "true") == 0) {
		ci = new_obj(ctxobj, "ci");
		TFA_ENSURE(ci != NULL, TFA_EINTERNAL, "out of memory");
		TFA_GUARD(add_str(ci, "provider", "github-actions"));
		TFA_GUARD(add_env_fields(ci, github));
		TFA_GUARD(github_oidc(ci));
		*found = 1;
	} else if ((v = getenv("GITLAB_CI")) && strcmp(v, "true") == 0) {
		ci = new_obj(ctxobj, "ci");
		TFA_ENSURE(ci != NULL, TFA_EINTERNAL, "out of memory");
		TFA_GUARD(add_str(ci, "provider", "gitlab-ci"));
		TFA_GUARD(add_env_fields(ci, gitlab));
		TFA_GUARD(env_oidc(ci, "gitlab-ci"));
		*found = 1;
	} else if ((v = getenv("JENKINS_URL")) && *v) {
		ci = new_obj(ctxobj, "ci");
		TFA_ENSURE(ci != NULL, TFA_EINTERNAL, "out of memory");
		TFA_GUARD(add_str(ci, "provider", "jenkins"));
		TFA_GUARD(add_env_fields(ci, jenkins));
		TFA_GUARD(env_oidc(ci, "jenkins"));
		*found = 1;
	}
out:
	return rc;
}

static tfa_err capture_host(cJSON *ctxobj)
{
	char host[256] = "unknown", who[320];
	struct passwd *pw = getpwuid(geteuid());
	const char *user = pw && pw->pw_name ? pw->pw_name : getenv("USER");

	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	snprintf(who, sizeof(who), "%s@%s", user ? user : "unknown", host);
	return add_str(ctxobj, "host", who);
}

static tfa_err check_event(const char *type, const char *status)
{
	static const char *const events[] = { "apply", "destroy", "rollback", "import", NULL };
	static const char *const statuses[] = { "succeeded", "failed", NULL };
	int ok = 0;

	for (const char *const *p = events; *p; p++)
		ok |= strcmp(*p, type) == 0;
	if (!ok)
		return tfa_error_set(TFA_EUSAGE, "--event must be apply, destroy, rollback or import");
	ok = 0;
	for (const char *const *p = statuses; *p; p++)
		ok |= strcmp(*p, status) == 0;
	if (!ok)
		return tfa_error_set(TFA_EUSAGE, "--status must be succeeded or failed");
	return TFA_OK;
}

static tfa_err capture_build(tfa_capture **out, const tfa_event *ev, const uint8_t *plan,
			     size_t plan_len, const char *plan_name, const uint8_t *state,
			     size_t state_len, const char *state_name)
{
	tfa_err rc = TFA_OK;
	tfa_capture *c = NULL;
	const char *type, *status;
	int ci = 0;

	type = ev->type ? ev->type : "apply";
	status = ev->status ? ev->status : "succeeded";
	TFA_GUARD(check_event(type, status));
	c = calloc(1, sizeof(*c));
	TFA_ENSURE(c != NULL, TFA_EINTERNAL, "out of memory");
	c->event = new_obj(NULL, NULL);
	c->terraform = new_obj(NULL, NULL);
	c->context = new_obj(NULL, NULL);
	TFA_ENSURE(c->event && c->terraform && c->context, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(add_str(c->event, "type", type));
	TFA_GUARD(add_str(c->event, "status", status));
	TFA_GUARD(add_num(c->event, "exit_code", ev->exit_code));
	if (plan)
		TFA_GUARD(capture_plan(c->terraform, plan, plan_len, plan_name));
	if (state)
		TFA_GUARD(capture_state(c->terraform, state, state_len, state_name));
	TFA_GUARD(capture_git(c->context));
	TFA_GUARD(capture_ci(c->context, &ci));
	if (!ci)
		TFA_GUARD(capture_host(c->context));
	*out = c;
	c = NULL;
out:
	tfa_capture_free(c);
	return rc;
}

tfa_err tfa_capture_new(tfa_capture **out, const tfa_event *ev, const char *plan_path,
			const char *state_path)
{
	tfa_err rc = TFA_OK;
	tfa_buf plan, state;

	tfa_buf_init(&plan, PLAN_MAX);
	tfa_buf_init(&state, STATE_MAX);
	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(ev);
	TFA_ENSURE(plan_path != NULL, TFA_EUSAGE, "no plan given (--plan FILE)");
	TFA_GUARD(check_event(ev->type ? ev->type : "apply", ev->status ? ev->status : "succeeded"));
	rc = tfa_buf_read_file(&plan, plan_path, PLAN_MAX);
	if (rc != TFA_OK)
		TFA_BAIL(rc == TFA_EFORMAT ? TFA_EFORMAT : TFA_EUSAGE, "cannot read plan: %s",
			 tfa_error_last()->message);
	if (state_path) {
		rc = tfa_buf_read_file(&state, state_path, STATE_MAX);
		if (rc != TFA_OK)
			TFA_BAIL(rc == TFA_EFORMAT ? TFA_EFORMAT : TFA_EUSAGE, "cannot read state: %s",
				 tfa_error_last()->message);
	}
	TFA_GUARD(capture_build(out, ev, plan.data, plan.len, plan_path,
				state_path ? state.data : NULL, state.len, state_path));
out:
	/* Plans and states hold secrets. */
	tfa_buf_wipe_free(&plan);
	tfa_buf_wipe_free(&state);
	return rc;
}

tfa_err tfa_capture_new_mem(tfa_capture **out, const tfa_event *ev, const uint8_t *plan,
			    size_t plan_len, const uint8_t *state, size_t state_len)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(ev);
	TFA_GUARD(capture_build(out, ev, plan, plan_len, "(plan)", state, state_len, "(state)"));
out:
	return rc;
}

tfa_err tfa_capture_set_rollback(tfa_capture *c, uint64_t seq, const char *hash)
{
	tfa_err rc = TFA_OK;
	uint8_t d[TFA_SHA256_LEN];
	const cJSON *t;
	cJSON *o;

	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(hash);
	t = cJSON_GetObjectItemCaseSensitive(c->event, "type");
	TFA_ENSURE(cJSON_IsString(t) && strcmp(t->valuestring, "rollback") == 0, TFA_EUSAGE,
		   "--rollback-to needs --event rollback");
	TFA_ENSURE(seq >= 1 && seq <= TFA_SEQ_MAX, TFA_EUSAGE, "--rollback-to takes a seq");
	TFA_GUARD(tfa_hash_parse(d, hash, strlen(hash)));
	cJSON_DeleteItemFromObjectCaseSensitive(c->event, "rollback_to");
	o = new_obj(c->event, "rollback_to");
	TFA_ENSURE(o != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(add_num(o, "seq", (double)seq));
	TFA_GUARD(add_str(o, "hash", hash));
out:
	return rc;
}

tfa_err tfa_capture_set_spool(tfa_capture *c, const char *id, int64_t deployed_at,
			      int64_t spooled_at)
{
	tfa_err rc = TFA_OK;
	char when[TFA_TIME_STRLEN];
	cJSON *o;

	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(id);
	TFA_ENSURE(strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32, TFA_EUSAGE,
		   "a spool id is 32 lowercase hex digits");
	cJSON_DeleteItemFromObjectCaseSensitive(c->event, "spool");
	o = new_obj(c->event, "spool");
	TFA_ENSURE(o != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(add_str(o, "id", id));
	tfa_time_format(when, deployed_at);
	TFA_GUARD(add_str(o, "deployed_at", when));
	tfa_time_format(when, spooled_at);
	TFA_GUARD(add_str(o, "spooled_at", when));
out:
	return rc;
}

const char *tfa_capture_spool_id(const tfa_capture *c)
{
	const cJSON *o, *id;

	if (c == NULL)
		return NULL;
	o = cJSON_GetObjectItemCaseSensitive(c->event, "spool");
	id = cJSON_GetObjectItemCaseSensitive(o, "id");
	return cJSON_IsString(id) ? id->valuestring : NULL;
}

int64_t tfa_capture_spooled_at(const tfa_capture *c)
{
	const cJSON *o, *t;
	int64_t v = 0;

	if (c == NULL)
		return 0;
	o = cJSON_GetObjectItemCaseSensitive(c->event, "spool");
	t = cJSON_GetObjectItemCaseSensitive(o, "spooled_at");
	if (!cJSON_IsString(t) || tfa_time_parse(&v, t->valuestring, strlen(t->valuestring)) != TFA_OK)
		return 0;
	return v;
}

const char *tfa_capture_event_type(const tfa_capture *c)
{
	const cJSON *t = c ? cJSON_GetObjectItemCaseSensitive(c->event, "type") : NULL;

	return cJSON_IsString(t) ? t->valuestring : "apply";
}

tfa_err tfa_capture_serialize(tfa_buf *out, const tfa_capture *c)
{
	tfa_err rc = TFA_OK;
	cJSON *root = NULL;
	char *text = NULL;

	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(c);
	root = cJSON_CreateObject();
	TFA_ENSURE(root != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(add_str(root, "type", TFA_CAPTURE_TYPE));
	TFA_GUARD(add_num(root, "schema_version", 1));
	TFA_ENSURE(cJSON_AddItemReferenceToObject(root, "event", c->event) &&
			   cJSON_AddItemReferenceToObject(root, "terraform", c->terraform) &&
			   cJSON_AddItemReferenceToObject(root, "context", c->context),
		   TFA_EINTERNAL, "out of memory");
	text = cJSON_PrintUnformatted(root);
	TFA_ENSURE(text != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_jcs_canonicalize(out, (const uint8_t *)text, strlen(text)));
out:
	cJSON_free(text);
	cJSON_Delete(root);
	return rc;
}

tfa_err tfa_capture_deserialize(tfa_capture **out, const uint8_t *bytes, size_t len)
{
	static const char *const members[] = { "context", "event", "schema_version", "terraform",
					       "type", NULL };
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	const tfa_json_value *root, *ev;
	tfa_capture *c = NULL;
	cJSON *all = NULL;
	const char *s;
	size_t n;
	int64_t v;
	char type[16], status[16];

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE(bytes != NULL && len <= TFA_ARTIFACT_MAX, TFA_EFORMAT,
		   "a spooled capture is at most %u bytes", TFA_ARTIFACT_MAX);
	/* Validate strictly with the artifact parser's JSON reader first. */
	TFA_GUARD(tfa_json_parse(&doc, bytes, len));
	root = tfa_json_root(doc);
	TFA_ENSURE(tfa_json_type_of(root) == TFA_JSON_OBJECT, TFA_EFORMAT,
		   "spooled capture is not a JSON object");
	TFA_GUARD(tfa_jf_only(root, members, "spooled capture"));
	TFA_GUARD(tfa_jf_str(&s, &n, root, "type", 64, "spooled capture"));
	TFA_ENSURE(n == strlen(TFA_CAPTURE_TYPE) && memcmp(s, TFA_CAPTURE_TYPE, n) == 0, TFA_EFORMAT,
		   "spooled capture has the wrong type");
	TFA_GUARD(tfa_jf_int(&v, root, "schema_version", 1, 1, "spooled capture"));
	TFA_GUARD(tfa_jf_obj(&ev, root, "event", "spooled capture"));
	TFA_GUARD(tfa_jf_strcpy(type, sizeof(type), ev, "type", "spooled capture event"));
	TFA_GUARD(tfa_jf_strcpy(status, sizeof(status), ev, "status", "spooled capture event"));
	/* A bad file is malformed input, not a bad option: not check_event's EUSAGE and message. */
	if (check_event(type, status) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "spooled capture event type or status is unknown");
	TFA_GUARD(tfa_jf_int(&v, ev, "exit_code", -2147483648LL, 2147483647LL, "spooled capture event"));
	{
		const tfa_json_value *tmp;
		TFA_GUARD(tfa_jf_obj(&tmp, root, "terraform", "spooled capture"));
		TFA_GUARD(tfa_jf_obj(&tmp, root, "context", "spooled capture"));
	}
	all = cJSON_ParseWithLength((const char *)bytes, len);
	TFA_ENSURE(all != NULL, TFA_EFORMAT, "spooled capture is not valid JSON");
	c = calloc(1, sizeof(*c));
	TFA_ENSURE(c != NULL, TFA_EINTERNAL, "out of memory");
	c->event = cJSON_DetachItemFromObjectCaseSensitive(all, "event");
	c->terraform = cJSON_DetachItemFromObjectCaseSensitive(all, "terraform");
	c->context = cJSON_DetachItemFromObjectCaseSensitive(all, "context");
	TFA_ENSURE(c->event && c->terraform && c->context, TFA_EFORMAT, "spooled capture is incomplete");
	*out = c;
	c = NULL;
out:
	cJSON_Delete(all);
	tfa_json_free(doc);
	tfa_capture_free(c);
	return rc;
}

tfa_err tfa_artifact_build(tfa_buf *out, const tfa_capture *c, const tfa_artifact_head *h)
{
	tfa_err rc = TFA_OK;
	cJSON *root = NULL, *signer, *prov;
	char *text = NULL;
	char when[TFA_TIME_STRLEN];
	const tfa_kv *kv;
	size_t nkv;

	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(h);
	TFA_ENSURE(h->seq >= 1 && h->seq <= TFA_SEQ_MAX, TFA_EUSAGE, "sequence number out of range");
	root = cJSON_CreateObject();
	TFA_ENSURE(root != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(add_str(root, "type", TFA_ARTIFACT_TYPE));
	TFA_GUARD(add_num(root, "schema_version", TFA_ARTIFACT_SCHEMA));
	TFA_GUARD(add_str(root, "chain_id", h->chain_id));
	TFA_GUARD(add_num(root, "seq", (double)h->seq));
	TFA_GUARD(add_str(root, "prev_hash", h->prev_hash));
	tfa_time_format(when, h->time);
	TFA_GUARD(add_str(root, "time", when));
	TFA_ENSURE(cJSON_AddItemReferenceToObject(root, "event", c->event) &&
			   cJSON_AddItemReferenceToObject(root, "terraform", c->terraform) &&
			   cJSON_AddItemReferenceToObject(root, "context", c->context),
		   TFA_EINTERNAL, "out of memory");
	signer = new_obj(root, "signer");
	TFA_ENSURE(signer != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(add_str(signer, "key_fingerprint", tfa_signer_fingerprint(h->signer)));
	TFA_GUARD(add_str(signer, "algorithm", tfa_sig_alg_name(h->alg)));
	TFA_GUARD(add_str(signer, "backend", tfa_signer_backend_name(h->signer)));
	kv = tfa_signer_provenance(h->signer, &nkv);
	if (nkv) {
		prov = new_obj(signer, "provenance");
		TFA_ENSURE(prov != NULL, TFA_EINTERNAL, "out of memory");
		for (size_t i = 0; i < nkv; i++)
			TFA_GUARD(add_str(prov, kv[i].name, kv[i].value));
	}
	text = cJSON_PrintUnformatted(root);
	TFA_ENSURE(text != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_jcs_canonicalize(out, (const uint8_t *)text, strlen(text)));
	TFA_ENSURE(out->len <= TFA_ARTIFACT_MAX, TFA_EFORMAT,
		   "the artifact would exceed %u bytes (too many resource changes)", TFA_ARTIFACT_MAX);
out:
	cJSON_free(text);
	cJSON_Delete(root);
	return rc;
}
