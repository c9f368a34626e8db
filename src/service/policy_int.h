/*
 * What the service's files share about the policy. Private to src/service.
 */
#ifndef TFA_SERVICE_POLICY_INT_H
#define TFA_SERVICE_POLICY_INT_H

#include <stdbool.h>

/* The issuer of every identity an AWS front end verified (the caller's IAM principal). */
#define TFA_POLICY_AWS_IAM "aws-iam"

/* Whether s matches glob, where '*' stands for any run of bytes and nothing else is special. */
bool tfa_glob_match(const char *glob, const char *s);

#endif
