/*
 * AWS credentials and region, resolved in the order the AWS SDKs use.
 *
 * Secrets (secret access keys, session tokens, web identity tokens) live only
 * in tfa_aws_creds, are wiped with OPENSSL_cleanse when released, and are never
 * written to an error message, a log line or stdout.
 */
#ifndef TFA_AWS_CREDS_H
#define TFA_AWS_CREDS_H

#include <stddef.h>
#include <stdint.h>

#include "tfattest/common.h"
#include "tfattest/error.h"

typedef struct tfa_aws_creds {
	char *access_key_id;	 /* heap */
	char *secret_access_key; /* heap, wiped on clear */
	char *session_token;	 /* heap or NULL, wiped on clear */
	int64_t expiration;	 /* seconds since the epoch; 0 = does not expire */
	char source[32]; /* "env", "profile:NAME", "web-identity", "ecs", "imds"; safe to print */
} tfa_aws_creds;

/*
 * Resolves credentials in the order the AWS SDKs use: environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the shared
 * credentials and config files (AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE,
 * AWS_CONFIG_FILE), web identity (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE
 * through STS AssumeRoleWithWebIdentity), ECS container credentials
 * (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI), then EC2 IMDSv2.
 * `region` is used for the STS call. TFA_EUSAGE when no source has any.
 */
TFA_WUR tfa_err tfa_aws_creds_resolve(tfa_aws_creds *out, const char *region);

/* Wipes and frees the members; the struct may be reused. Accepts NULL. */
void tfa_aws_creds_clear(tfa_aws_creds *c);

/*
 * The region: AWS_REGION, else AWS_DEFAULT_REGION, else `region` of the
 * profile (AWS_PROFILE or "default") in the config or credentials file.
 * TFA_EUSAGE when none is set or the name is not a region name.
 */
TFA_WUR tfa_err tfa_aws_region_resolve(char *out, size_t size);

#endif
