/*
 * tfa_lambda_run: the service core (service.h) behind the Lambda front end
 * (service/lambda.h). The caller's identity is the IAM principal Lambda
 * verified; nothing the caller wrote in the request names who it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/lambda.h"
#include "tfattest/lambda.h"
#include "tfattest/service.h"
#include "tfattest/sys/guard.h"

/* Seconds a caller is asked to wait after a 503 before it retries. */
#define RETRY_AFTER 2

typedef struct lambda_ctx {
	tfa_service *svc;
} lambda_ctx;

static tfa_err handle(void *ud, const tfa_lambda_request *req, tfa_lambda_answer *ans)
{
	lambda_ctx *ctx = ud;
	tfa_err rc = TFA_OK;
	tfa_identity who;
	tfa_identity_claim claims[3];
	size_t n = 0;
	tfa_service_reply reply;

	memset(&reply, 0, sizeof(reply));
	tfa_buf_init(&reply.body, 0);
	if (req->id_token != NULL) {
		/* A token whose claims would not be checked must not look as if they were. */
		ans->status = 400;
		snprintf(ans->outcome, sizeof(ans->outcome), "malformed");
		TFA_GUARD(tfa_buf_puts(&ans->body,
				       "{\"type\":\"tfattest.error\",\"error\":\"this service does "
				       "not check ID tokens: send the request without the "
				       "x-tfattest-id-token header\"}"));
		goto out;
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
	memset(&who, 0, sizeof(who));
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
	tfa_service_reply_free(&reply);
	return rc;
}

static tfa_err load_policy(tfa_policy **out, const tfa_lambda_config *cfg)
{
	const char *p = cfg->policy;

	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p == '{')
		return tfa_policy_parse(out, (const uint8_t *)p, strlen(p),
					cfg->base_dir ? cfg->base_dir : ".");
	return tfa_policy_load(out, cfg->policy);
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
	lambda_ctx ctx = {NULL};
	tfa_service_config sc;

	TFA_ENSURE_ARG(cfg);
	TFA_GUARD(tfa_lambda_runtime_new(&rt, cfg->runtime_api));
	rc = check_config(cfg);
	if (rc == TFA_OK) {
		rc = load_policy(&policy, cfg);
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
	tfa_service_close(ctx.svc);
	tfa_policy_free(policy);
	tfa_lambda_runtime_free(rt);
	return rc;
}
