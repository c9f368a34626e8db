/*
 * The attestation service: records deployments on behalf of callers whose
 * identity a front end has verified, with a signer and a store the callers
 * never hold. `tfattest serve` (HTTPS, OIDC ID tokens) and `tfattest lambda`
 * (an AWS Lambda Function URL with AWS_IAM auth) are front ends over it.
 *
 * The front end verifies who is calling (tfa_identity), hands the request
 * body to tfa_service_record() and sends back the reply it gets. The core
 * validates the request strictly, applies the policy, builds the artifact
 * with the verified identity in its own section (FORMAT.md, `identity`) and
 * the caller's context marked as claimed, signs it with the service's key,
 * appends it, and answers with the stored record.
 *
 * The record request (media type application/json, at most
 * TFA_SERVICE_REQUEST_MAX bytes), canonical member order not required:
 *
 *   {"type": "tfattest.record-request",
 *    "chain_id": "prod",                      the chain the caller means
 *    "idempotency_key": "<16 to 64 of [A-Za-z0-9._-]>",
 *    "event": {"type": "apply", "status": "succeeded", "exit_code": 0,
 *              "rollback_to": {"seq": 5, "hash": "sha256:..."}},   (rollback only)
 *    "terraform": { the members of FORMAT.md §3.3, and no others },
 *    "context": { the members of FORMAT.md §3.4, and no others }}
 *
 * The reply body (JSON) for a record made or found:
 *
 *   {"type": "tfattest.record-reply", "seq": 7, "hash": "sha256:...",
 *    "replayed": false, "key_fingerprint": "sha256:...",
 *    "artifact": "<base64 of the artifact's canonical bytes>",
 *    "signature": "<base64 of the signature>"}
 *
 * and otherwise {"type": "tfattest.error", "error": "<one line>"}, with the
 * HTTP status the reply carries.
 */
#ifndef TFATTEST_SERVICE_H
#define TFATTEST_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "common.h"
#include "error.h"
#include "sigalg.h"

#if !TFATTEST_VERIFIER_ONLY

/* The largest request body the service reads; a larger one is refused (413). */
#define TFA_SERVICE_REQUEST_MAX (256u * 1024u)

/* One claim kept from a verified token: both strings. */
typedef struct tfa_identity_claim {
	const char *name;
	const char *value;
} tfa_identity_claim;

/*
 * A caller identity that a front end has verified. Strings are borrowed for
 * the length of the call.
 */
typedef struct tfa_identity {
	const char *method;   /* "oidc" (an ID token checked against the issuer's keys) or
				 "aws-iam" (the caller's IAM principal, as AWS verified it) */
	const char *issuer;   /* oidc: the token's iss; aws-iam: "aws-iam" */
	const char *subject;  /* oidc: the token's sub; aws-iam: the principal's ARN */
	const char *audience; /* oidc: the audience the token was checked for; else NULL */
	int64_t issued_at;    /* the token's iat, or 0 */
	int64_t expires_at;   /* the token's exp, or 0 */
	const tfa_identity_claim *claims; /* the claims the policy names or FORMAT.md keeps */
	size_t nclaims;
	const char *client_cert; /* mTLS: the client certificate's subject DN, or NULL */
} tfa_identity;

/* The policy file (docs/SERVICE.md): issuers, and who may append what to which chain. */
typedef struct tfa_policy tfa_policy;

/* One trusted issuer of the policy. */
typedef struct tfa_policy_issuer {
	const char *issuer;    /* exact iss */
	const char *audience;  /* the aud a token must carry */
	const char *jwks_file; /* the issuer's keys from a file (resolved against the policy's
				  folder), or NULL */
	const char *jwks_uri;  /* or from this URL, or NULL: then from the issuer's discovery
				  document (ISSUER/.well-known/openid-configuration) */
	int64_t jwks_ttl;      /* seconds a fetched key set is kept (default 300) */
	int64_t max_skew;      /* seconds of clock skew allowed on exp, nbf, iat (default 60) */
} tfa_policy_issuer;

TFA_WUR tfa_err tfa_policy_load(tfa_policy **out, const char *path);

/* The same from memory; jwks_file paths are resolved against base_dir. */
TFA_WUR tfa_err tfa_policy_parse(tfa_policy **out, const uint8_t *json, size_t len,
				 const char *base_dir);

size_t tfa_policy_issuer_count(const tfa_policy *p);
const tfa_policy_issuer *tfa_policy_issuer_at(const tfa_policy *p, size_t i);

/*
 * TFA_OK when some allow rule lets `who` append an `event` record to chain
 * `chain_id`; TFA_EVERIFY otherwise, with a message that says which of
 * issuer, subject, claims, chain or event matched no rule (never a token).
 */
TFA_WUR tfa_err tfa_policy_check(const tfa_policy *p, const tfa_identity *who, const char *chain_id,
				 const char *event);

void tfa_policy_free(tfa_policy *p);

/* What the service runs with. Strings are borrowed for the service's life. */
typedef struct tfa_service_config {
	const char *store;     /* the store URI */
	const char *sequencer; /* the sequencer URI, or NULL */
	const char *key;       /* the signer URI: the key stays inside the service */
	tfa_sig_alg alg;       /* TFA_ALG_NONE: the key's default */
	const tfa_policy *policy;
	const char *front_end; /* "serve" or "lambda": written into the identity section */
} tfa_service_config;

typedef struct tfa_service tfa_service;

/* Opens the store and the key, and checks that the key is the chain's current key. */
TFA_WUR tfa_err tfa_service_open(tfa_service **out, const tfa_service_config *cfg);

/* Accepts NULL. */
void tfa_service_close(tfa_service *s);

/* The chain the service appends to. */
const char *tfa_service_chain_id(const tfa_service *s);

/* The answer to one request. Free with tfa_service_reply_free(). */
typedef struct tfa_service_reply {
	int status;	  /* the HTTP status: 200 made or found, 400 malformed, 403 policy,
			     409 idempotency key reused for another request, 413 too large,
			     500 internal, 503 store or key unavailable (retry) */
	bool replayed;	  /* 200: the idempotency key named an earlier record */
	uint64_t seq;	  /* 200: the record's seq */
	char outcome[24]; /* for the access log: recorded, replayed, malformed, refused,
			     conflict, too-large, failed, unavailable */
	tfa_buf body;	  /* the JSON reply */
} tfa_service_reply;

/*
 * Handles one record request from `who`. Always fills *reply (status and
 * body) unless it returns TFA_EINTERNAL (out of memory); a refused request is
 * a reply, not an error. Thread-safe: appends to one chain are made one at a
 * time, in the order they take the chain's lock.
 */
TFA_WUR tfa_err tfa_service_record(tfa_service *s, const tfa_identity *who, const uint8_t *req,
				   size_t len, tfa_service_reply *reply);

void tfa_service_reply_free(tfa_service_reply *reply);

#endif /* !TFATTEST_VERIFIER_ONLY */
#endif
