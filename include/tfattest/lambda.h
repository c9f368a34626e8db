/*
 * `tfattest lambda`: the attestation service (service.h) as an AWS Lambda
 * custom runtime (provided.al2023) behind a Function URL with AWS_IAM auth.
 * docs/LAMBDA.md describes the deployment.
 *
 * Each invocation is a Function URL request (payload format 2.0). Lambda has
 * checked its SigV4 signature and the caller's right to invoke the URL; the
 * verified IAM principal (requestContext.authorizer.iam) is the caller's
 * identity: method "aws-iam", issuer "aws-iam", subject the principal's ARN.
 */
#ifndef TFATTEST_LAMBDA_H
#define TFATTEST_LAMBDA_H

#include "common.h"
#include "error.h"

#if !TFATTEST_VERIFIER_ONLY

/* What the runtime runs with; the command line fills it from the environment. */
typedef struct tfa_lambda_config {
	const char *runtime_api; /* AWS_LAMBDA_RUNTIME_API: host:port; required */
	const char *key;	 /* TFATTEST_KEY: the signer URI */
	const char *store;	 /* TFATTEST_STORE: the store URI */
	const char *sequencer;	 /* TFATTEST_SEQUENCER, or NULL */
	/* TFATTEST_POLICY: the policy itself when its first non-blank character is '{'
	 * (jwks_file paths in it are then relative to base_dir), else a file path. */
	const char *policy;
	const char *base_dir;	       /* LAMBDA_TASK_ROOT, or NULL for "." */
	unsigned long max_invocations; /* 0: serve until the Runtime API goes away */
} tfa_lambda_config;

/*
 * Opens the service and serves invocations. A configuration that cannot be
 * used (a variable missing, a policy that does not parse, a key that is not
 * the chain's current key, a store that cannot be read) is reported to the
 * Runtime API as an init error, and returned. Otherwise returns when the
 * Runtime API cannot be reached (TFA_EIO: the process should exit, and Lambda
 * starts another), or after max_invocations (TFA_OK). One JSON access-log
 * line per invocation goes to stderr (CloudWatch Logs).
 */
TFA_WUR tfa_err tfa_lambda_run(const tfa_lambda_config *cfg);

#endif /* !TFATTEST_VERIFIER_ONLY */
#endif
