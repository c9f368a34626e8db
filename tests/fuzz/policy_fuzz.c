/*
 * Fuzz target for the service's policy file (tfa_policy_parse).
 *
 * Any input: TFA_OK with a policy whose issuers all have an issuer and an
 * audience, or TFA_EFORMAT with a one-line message and no policy. An accepted
 * policy answers a check for any identity without crashing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfattest/service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "policy_fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_policy *p = (tfa_policy *)1;
	tfa_identity w;
	tfa_identity_claim cl[] = {{"environment", "prod"}, {"ref", "refs/heads/main"}};
	tfa_err rc;

	tfa_error_clear();
	rc = tfa_policy_parse(&p, data, size, "/base");
	if (rc != TFA_OK) {
		const char *m = tfa_error_last()->message;
		REQUIRE(rc == TFA_EFORMAT || rc == TFA_EINTERNAL);
		REQUIRE(p == NULL);
		REQUIRE(m[0] != '\0' && strchr(m, '\n') == NULL);
		return 0;
	}
	for (size_t i = 0; i < tfa_policy_issuer_count(p); i++) {
		const tfa_policy_issuer *is = tfa_policy_issuer_at(p, i);
		REQUIRE(is->issuer && is->audience && is->jwks_ttl >= 1 && is->max_skew >= 0);
		REQUIRE(!(is->jwks_file && is->jwks_uri));
	}
	memset(&w, 0, sizeof(w));
	w.method = "oidc";
	w.issuer = tfa_policy_issuer_count(p) ? tfa_policy_issuer_at(p, 0)->issuer : "aws-iam";
	w.subject = "repo:acme/infra:ref:refs/heads/main";
	w.claims = cl;
	w.nclaims = 2;
	rc = tfa_policy_check(p, &w, "prod", "apply");
	REQUIRE(rc == TFA_OK || rc == TFA_EVERIFY);
	tfa_policy_free(p);
	return 0;
}
