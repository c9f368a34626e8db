/*
 * The run's context: the git commit, ref and remote (without credentials),
 * the CI system and its OIDC identity claims, or the user and host when no
 * CI system is recognised. ID tokens are read, never kept.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "capture/capture_int.h"
#include "capture/oidc.h"
#include "sys/spawn.h"
#include "tfattest/sys/guard.h"

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

tfa_err tfa_cap_git(cJSON *ctxobj)
{
	tfa_err rc = TFA_OK;
	char line[CTX_STR_MAX + 1];
	cJSON *git = NULL;
	char *argv_head[] = {"git", "rev-parse", "--verify", "-q", "HEAD", NULL};
	char *argv_ref[] = {"git", "symbolic-ref", "-q", "HEAD", NULL};
	char *argv_remote[] = {"git", "config", "--get", "remote.origin.url", NULL};

	run_line(line, sizeof(line), argv_head);
	if (line[0] == '\0')
		return TFA_OK; /* not a git work tree, or no git */
	git = tfa_cap_new_obj(ctxobj, "git");
	TFA_ENSURE(git != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_cap_add_str(git, "commit", line));
	run_line(line, sizeof(line), argv_ref);
	if (line[0])
		TFA_GUARD(tfa_cap_add_str(git, "ref", line));
	run_line(line, sizeof(line), argv_remote);
	/* A cut line may have lost the '@' that ends its credentials: record no remote then. */
	if (line[0] && strlen(line) < sizeof(line) - 1) {
		strip_credentials(line);
		TFA_GUARD(tfa_cap_add_str(git, "remote", line));
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
			TFA_GUARD(tfa_cap_add_str(obj, f->key, v));
	}
out:
	return rc;
}

/* JWT claims copied from an ID token: identity, never anything secret. */
const char *const tfa_oidc_kept_claims[] = {
    "repository", "repository_owner", "ref", "ref_type", "sha", "workflow", "workflow_ref",
    "job_workflow_ref", "run_id", "run_attempt", "run_number", "actor", "environment", "event_name",
    "runner_environment",
    /* GitLab */
    "project_path", "namespace_path", "pipeline_id", "pipeline_source", "job_id", "user_login",
    "ref_path", "ref_protected", "environment_protected", NULL};

int tfa_oidc_claim_kept(const char *name)
{
	for (const char *const *k = tfa_oidc_kept_claims; *k; k++)
		if (strcmp(*k, name) == 0)
			return 1;
	return 0;
}

/* Adds a claim's value: strings as they are, numbers and booleans in their JSON form. */
static tfa_err add_claim(cJSON *obj, const char *key, const cJSON *v)
{
	char num[64];

	if (cJSON_IsString(v))
		return tfa_cap_add_str(obj, key, v->valuestring);
	if (cJSON_IsBool(v))
		return tfa_cap_add_str(obj, key, cJSON_IsTrue(v) ? "true" : "false");
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 9007199254740992.0) {
		snprintf(num, sizeof(num), "%.0f", v->valuedouble);
		return tfa_cap_add_str(obj, key, num);
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
		o = tfa_cap_new_obj(ci, "oidc");
		TFA_ENSURE(o != NULL, TFA_EINTERNAL, "out of memory");
		TFA_GUARD(tfa_cap_add_str(o, "source", source));
		TFA_GUARD(tfa_cap_add_str(o, "error", tfa_error_last()->message));
		goto out;
	}
	o = tfa_cap_new_obj(ci, "oidc");
	TFA_ENSURE(o != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_cap_add_str(o, "source", source));
	TFA_GUARD(tfa_cap_add_str(o, "signature", "not-verified"));
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
		cJSON *sel = tfa_cap_new_obj(o, "claims");
		TFA_ENSURE(sel != NULL, TFA_EINTERNAL, "out of memory");
		for (const char *const *k = tfa_oidc_kept_claims; *k; k++)
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
		o = tfa_cap_new_obj(ci, "oidc");
		TFA_ENSURE(o != NULL, TFA_EINTERNAL, "out of memory");
		TFA_GUARD(tfa_cap_add_str(o, "source", "github-actions"));
		TFA_GUARD(tfa_cap_add_str(o, "error", msg));
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

tfa_err tfa_cap_ci(cJSON *ctxobj, int *found)
{
	static const env_field github[] = {
	    {"repository", "GITHUB_REPOSITORY"},
	    {"workflow_ref", "GITHUB_WORKFLOW_REF"},
	    {"run_id", "GITHUB_RUN_ID"},
	    {"run_attempt", "GITHUB_RUN_ATTEMPT"},
	    {"actor", "GITHUB_ACTOR"},
	    {"sha", "GITHUB_SHA"},
	    {"ref", "GITHUB_REF"},
	    {"server_url", "GITHUB_SERVER_URL"},
	    {"event_name", "GITHUB_EVENT_NAME"},
	    {NULL, NULL},
	};
	static const env_field gitlab[] = {
	    {"project", "CI_PROJECT_PATH"},
	    {"pipeline_id", "CI_PIPELINE_ID"},
	    {"job_id", "CI_JOB_ID"},
	    {"job_url", "CI_JOB_URL"},
	    {"user", "GITLAB_USER_LOGIN"},
	    {"sha", "CI_COMMIT_SHA"},
	    {"ref", "CI_COMMIT_REF_NAME"},
	    {"server_url", "CI_SERVER_URL"},
	    {NULL, NULL},
	};
	static const env_field jenkins[] = {
	    {"job_name", "JOB_NAME"},
	    {"build_number", "BUILD_NUMBER"},
	    {"build_url", "BUILD_URL"},
	    {"server_url", "JENKINS_URL"},
	    {NULL, NULL},
	};
	tfa_err rc = TFA_OK;
	cJSON *ci;
	const char *v;

	*found = 0;
	if ((v = getenv("GITHUB_ACTIONS")) && strcmp(v, "true") == 0) {
		ci = tfa_cap_new_obj(ctxobj, "ci");
		TFA_ENSURE(ci != NULL, TFA_EINTERNAL, "out of memory");
		TFA_GUARD(tfa_cap_add_str(ci, "provider", "github-actions"));
		TFA_GUARD(add_env_fields(ci, github));
		TFA_GUARD(github_oidc(ci));
		*found = 1;
	} else if ((v = getenv("GITLAB_CI")) && strcmp(v, "true") == 0) {
		ci = tfa_cap_new_obj(ctxobj, "ci");
		TFA_ENSURE(ci != NULL, TFA_EINTERNAL, "out of memory");
		TFA_GUARD(tfa_cap_add_str(ci, "provider", "gitlab-ci"));
		TFA_GUARD(add_env_fields(ci, gitlab));
		TFA_GUARD(env_oidc(ci, "gitlab-ci"));
		*found = 1;
	} else if ((v = getenv("JENKINS_URL")) && *v) {
		ci = tfa_cap_new_obj(ctxobj, "ci");
		TFA_ENSURE(ci != NULL, TFA_EINTERNAL, "out of memory");
		TFA_GUARD(tfa_cap_add_str(ci, "provider", "jenkins"));
		TFA_GUARD(add_env_fields(ci, jenkins));
		TFA_GUARD(env_oidc(ci, "jenkins"));
		*found = 1;
	}
out:
	return rc;
}

tfa_err tfa_cap_host(cJSON *ctxobj)
{
	char host[256] = "unknown", who[320];
	struct passwd *pw = getpwuid(geteuid());
	const char *user = pw && pw->pw_name ? pw->pw_name : getenv("USER");

	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	snprintf(who, sizeof(who), "%s@%s", user ? user : "unknown", host);
	return tfa_cap_add_str(ctxobj, "host", who);
}
