/*
 * tfa_lambda_run: the service core (service.h) behind the Lambda front end
 * (service/lambda.h). The caller's identity is the IAM principal Lambda
 * verified; nothing the caller wrote in the request names who it is.
 */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture/oidc.h"
#include "service/jwt.h"

#include "service/lambda.h"
#include "tfattest/lambda.h"
#include "tfattest/service.h"
#include "tfattest/sys/guard.h"

/* Seconds a caller is asked to wait after a 503 before it retries. */
#define RETRY_AFTER 2

/* Claims an identity carries at most: the IAM ones and a token's. */
#define CLAIMS_MAX 48

typedef struct lambda_ctx {
	tfa_service *svc;
	const tfa_policy *policy;
	tfa_jwks_cache **caches; /* one per policy issuer */
	size_t ncaches;
	char **policy_claims; /* the claim names the policy's allow rules test */
	size_t npolicy_claims;
} lambda_ctx;

/* The claim names the policy's allow rules test, from the policy's JSON (already validated). */
static tfa_err load_policy_claims(lambda_ctx *ctx, const uint8_t *json, size_t len)
{
	tfa_err rc = TFA_OK;
	cJSON *root = cJSON_ParseWithLength((const char *)json, len);
	const cJSON *rule, *c;

	TFA_ENSURE(root != NULL, TFA_EFORMAT, "TFATTEST_POLICY: not JSON");
	cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(root, "allow"))
	{
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(rule, "claims"))
		{
			char **grown;

			if (c->string == NULL)
				continue;
			grown = realloc(ctx->policy_claims,
					(ctx->npolicy_claims + 1) * sizeof(*ctx->policy_claims));
			TFA_ENSURE(grown != NULL, TFA_EINTERNAL, "out of memory");
			ctx->policy_claims = grown;
			ctx->policy_claims[ctx->npolicy_claims] = strdup(c->string);
			TFA_ENSURE(ctx->policy_claims[ctx->npolicy_claims] != NULL, TFA_EINTERNAL,
				   "out of memory");
			ctx->npolicy_claims++;
		}
	}
out:
	cJSON_Delete(root);
	return rc;
}

/*
 * Checks the request's ID token against the policy issuer its (unverified)
 * iss names. *status 0 when it verified; else the HTTP status to answer and a
 * message in the error slot (never the token).
 */
static tfa_err check_token(lambda_ctx *ctx, const char *token, tfa_jwt **out, int *status)
{
	tfa_err rc = TFA_OK;
	cJSON *peek = NULL;
	const char *iss;
	const tfa_policy_issuer *is = NULL;
	size_t i;
	tfa_jwt_rules rules;

	*status = 401;
	if (tfa_jwt_payload(&peek, token, strlen(token)) != TFA_OK)
		TFA_BAIL(TFA_EVERIFY, "x-tfattest-id-token: %s", tfa_error_last()->message);
	iss = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(peek, "iss"));
	TFA_ENSURE(iss != NULL, TFA_EVERIFY, "x-tfattest-id-token: the token has no iss");
	for (i = 0; i < ctx->ncaches; i++) {
		const tfa_policy_issuer *c = tfa_policy_issuer_at(ctx->policy, i);

		if (c != NULL && strcmp(c->issuer, iss) == 0) {
			is = c;
			break;
		}
	}
	TFA_ENSURE(is != NULL, TFA_EVERIFY,
		   "x-tfattest-id-token: the token's issuer is not one the policy trusts");
	memset(&rules, 0, sizeof(rules));
	rules.issuer = is->issuer;
	rules.audience = is->audience;
	rules.now = (int64_t)time(NULL);
	rules.max_skew = is->max_skew;
	rc = tfa_jwks_cache_verify(ctx->caches[i], out, token, strlen(token), &rules);
	if (rc == TFA_EIO || rc == TFA_EINTERNAL) {
		/* The issuer's keys could not be fetched: the caller may retry. */
		*status = rc == TFA_EIO ? 503 : 500;
		goto out;
	}
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EVERIFY, "x-tfattest-id-token: %s", tfa_error_last()->message);
	*status = 0;
out:
	cJSON_Delete(peek);
	return rc;
}

/*
 * A token claim the identity keeps: one FORMAT.md keeps, or one an allow rule
 * names (the policy check needs it), within the caps; never one named like
 * the IAM claims. Nothing else of the token reaches the write-once record.
 */
static bool keep_claim(const lambda_ctx *ctx, const char *name, const char *value)
{
	bool kept = false;

	if (strncmp(name, "aws_", 4) == 0 || strncmp(name, "oidc_", 5) == 0 || strlen(name) > 64 ||
	    strlen(value) > 1024)
		return false;
	kept = tfa_oidc_claim_kept(name);
	for (size_t i = 0; i < ctx->npolicy_claims && !kept; i++)
		kept = strcmp(ctx->policy_claims[i], name) == 0;
	return kept;
}

static tfa_err handle(void *ud, const tfa_lambda_request *req, tfa_lambda_answer *ans)
{
	lambda_ctx *ctx = ud;
	tfa_err rc = TFA_OK;
	tfa_identity who;
	tfa_identity_claim claims[CLAIMS_MAX];
	size_t n = 0;
	tfa_service_reply reply;
	tfa_jwt *jwt = NULL;

	memset(&reply, 0, sizeof(reply));
	tfa_buf_init(&reply.body, 0);
	memset(&who, 0, sizeof(who));
	if (req->id_token != NULL) {
		int status = 0;
		tfa_err trc = check_token(ctx, req->id_token, &jwt, &status);

		if (trc != TFA_OK) {
			char msg[sizeof(tfa_error_last()->message)];

			if (trc == TFA_EINTERNAL && status == 500)
				TFA_BAIL(trc, "%s", tfa_error_last()->message);
			snprintf(msg, sizeof(msg), "%s", tfa_error_last()->message);
			TFA_GUARD(tfa_lambda_answer_error(
			    ans, status, status == 503 ? "unavailable" : "refused", msg));
			if (status == 503)
				ans->retry_after = RETRY_AFTER;
			goto out;
		}
	}
	claims[n].name = "aws_account_id";
	claims[n++].value = req->iam.account_id;
	if (req->iam.principal_org_id != NULL) {
		claims[n].name = "aws_principal_org_id";
		claims[n++].value = req->iam.principal_org_id;
	}
	if (req->iam.user_id != NULL) {
		claims[n].name = "aws_user_id";
		claims[n++].value = req->iam.user_id;
	}
	if (jwt != NULL) {
		/* The token adds its claims; the caller is still the IAM principal. */
		claims[n].name = "oidc_issuer";
		claims[n++].value = jwt->issuer;
		claims[n].name = "oidc_subject";
		claims[n++].value = jwt->subject;
		for (size_t i = 0; i < jwt->nclaims && n < CLAIMS_MAX; i++) {
			if (!keep_claim(ctx, jwt->names[i], jwt->values[i]))
				continue;
			claims[n].name = jwt->names[i];
			claims[n++].value = jwt->values[i];
		}
		who.audience = jwt->audience;
		who.issued_at = jwt->iat;
		who.expires_at = jwt->exp;
	}
	who.method = "aws-iam";
	who.issuer = "aws-iam";
	who.subject = req->iam.user_arn;
	who.claims = claims;
	who.nclaims = n;
	TFA_GUARD(tfa_service_record(ctx->svc, &who, req->body.data, req->body.len, &reply));
	ans->status = reply.status;
	ans->retry_after = reply.status == 503 ? RETRY_AFTER : 0;
	snprintf(ans->outcome, sizeof(ans->outcome), "%s", reply.outcome);
	tfa_buf_clear(&ans->body);
	TFA_GUARD(tfa_buf_append(&ans->body, reply.body.data, reply.body.len));
out:
	tfa_jwt_free(jwt);
	tfa_service_reply_free(&reply);
	return rc;
}

static tfa_err load_policy(tfa_policy **out, lambda_ctx *ctx, const tfa_lambda_config *cfg)
{
	tfa_err rc = TFA_OK;
	const char *p = cfg->policy;
	tfa_buf file;

	tfa_buf_init(&file, 1u << 20);
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p == '{') {
		TFA_GUARD(tfa_policy_parse(out, (const uint8_t *)p, strlen(p),
					   cfg->base_dir ? cfg->base_dir : "."));
		TFA_GUARD(load_policy_claims(ctx, (const uint8_t *)p, strlen(p)));
	} else {
		TFA_GUARD(tfa_policy_load(out, cfg->policy));
		TFA_GUARD(tfa_buf_read_file(&file, cfg->policy, 1u << 20));
		TFA_GUARD(load_policy_claims(ctx, file.data, file.len));
	}
out:
	tfa_buf_free(&file);
	return rc;
}

/* The configuration, checked before anything is opened. */
static tfa_err check_config(const tfa_lambda_config *cfg)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE(cfg->key != NULL && cfg->key[0] != '\0', TFA_EUSAGE,
		   "TFATTEST_KEY is not set: the service needs the chain's signing key");
	TFA_ENSURE(cfg->store != NULL && cfg->store[0] != '\0', TFA_EUSAGE,
		   "TFATTEST_STORE is not set: the service needs the chain's store");
	TFA_ENSURE(cfg->policy != NULL && cfg->policy[0] != '\0', TFA_EUSAGE,
		   "TFATTEST_POLICY is not set: the service needs a policy (a file in the package, "
		   "or the policy's JSON)");
out:
	return rc;
}

tfa_err tfa_lambda_run(const tfa_lambda_config *cfg)
{
	tfa_err rc = TFA_OK;
	tfa_lambda_runtime *rt = NULL;
	tfa_policy *policy = NULL;
	lambda_ctx ctx = {NULL, NULL, NULL, 0, NULL, 0};
	tfa_service_config sc;

	TFA_ENSURE_ARG(cfg);
	TFA_GUARD(tfa_lambda_runtime_new(&rt, cfg->runtime_api));
	rc = check_config(cfg);
	if (rc == TFA_OK) {
		rc = load_policy(&policy, &ctx, cfg);
		if (rc != TFA_OK)
			rc = tfa_error_set(rc, "TFATTEST_POLICY: %s", tfa_error_last()->message);
	}
	if (rc == TFA_OK) {
		memset(&sc, 0, sizeof(sc));
		sc.store = cfg->store;
		sc.sequencer =
		    cfg->sequencer != NULL && cfg->sequencer[0] != '\0' ? cfg->sequencer : NULL;
		sc.key = cfg->key;
		sc.alg = TFA_ALG_NONE;
		sc.policy = policy;
		sc.front_end = "lambda";
		rc = tfa_service_open(&ctx.svc, &sc);
	}
	if (rc == TFA_OK) {
		ctx.policy = policy;
		ctx.ncaches = tfa_policy_issuer_count(policy);
		ctx.caches = calloc(ctx.ncaches ? ctx.ncaches : 1, sizeof(*ctx.caches));
		if (ctx.caches == NULL)
			rc = tfa_error_set(TFA_EINTERNAL, "out of memory");
		for (size_t i = 0; rc == TFA_OK && i < ctx.ncaches; i++) {
			const tfa_policy_issuer *is = tfa_policy_issuer_at(policy, i);

			rc = tfa_jwks_cache_new(&ctx.caches[i], is->issuer, is->jwks_file,
						is->jwks_uri, is->jwks_ttl);
		}
	}
	if (rc != TFA_OK) {
		tfa_error saved = *tfa_error_last();

		/* Lambda shows the init error to whoever looks at the function; the message names
		 * what failed and never a secret (a PIN or a token is never in one). */
		if (tfa_lambda_runtime_fail(rt, NULL, "tfattest.InitError", saved.message) !=
		    TFA_OK)
			fprintf(stderr,
				"tfattest lambda: the init error could not be reported: %s\n",
				tfa_error_last()->message);
		rc = tfa_error_set(saved.code, "%s", saved.message);
		if (saved.detail[0] != '\0')
			tfa_error_detail("%s", saved.detail);
		goto out;
	}
	fprintf(stderr, "{\"event\":\"ready\",\"chain\":\"%s\"}\n", tfa_service_chain_id(ctx.svc));
	fflush(stderr);
	TFA_GUARD(tfa_lambda_serve(rt, handle, &ctx, cfg->max_invocations, stderr));
out:
	for (size_t i = 0; ctx.caches != NULL && i < ctx.ncaches; i++)
		tfa_jwks_cache_free(ctx.caches[i]);
	free(ctx.caches);
	for (size_t i = 0; i < ctx.npolicy_claims; i++)
		free(ctx.policy_claims[i]);
	free(ctx.policy_claims);
	tfa_service_close(ctx.svc);
	tfa_policy_free(policy);
	tfa_lambda_runtime_free(rt);
	return rc;
}
