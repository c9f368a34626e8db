/*
 * The attestation service's client: `tfattest record --service URL` and
 * `tfattest apply --service URL`. A CI runner that holds neither a signing
 * key nor write access to the store sends the facts it captured to the
 * service (tfattest serve, or tfattest lambda behind a Function URL), which
 * signs and appends the record for the identity it verified.
 *
 * The request (tfa_service_request_build) holds the capture's event,
 * terraform and context members and nothing else, with the chain meant and an
 * idempotency key: a retry with the same key returns the first record and
 * appends nothing. The reply is believed only after it checks out
 * (tfa_service_reply_check): the artifact is signed by the pinned key, parses
 * as a valid artifact, and carries the facts that were sent and our key.
 * A request that could not be delivered, or whose reply did not check out, is
 * spooled with its key, and `tfattest record --flush-spool --service URL`
 * sends it again with that same key.
 */
#ifndef TFATTEST_SERVICE_CLIENT_H
#define TFATTEST_SERVICE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "capture.h"
#include "common.h"
#include "error.h"

#if !TFATTEST_VERIFIER_ONLY

/* The media type tag of a record request and of its reply. */
#define TFA_SERVICE_REQUEST_TYPE "tfattest.record-request"
#define TFA_SERVICE_REPLY_TYPE	 "tfattest.record-reply"
/* The largest request the service reads (its TFA_SERVICE_REQUEST_MAX). */
#define TFA_SERVICE_CLIENT_REQUEST_MAX (256u * 1024u)
/*
 * Idempotency keys (16 to 64 characters from [A-Za-z0-9._-]) are checked
 * with tfa_idempotency_key_check() (artifact.h).
 */

/*
 * The record request for capture c (canonical JSON, appended to out): type,
 * chain_id, idempotency_key, and the capture's event (type, status,
 * exit_code, and rollback_to when set; never a spool mark), terraform and
 * context. TFA_EFORMAT when it would be larger than the service takes.
 */
TFA_WUR tfa_err tfa_service_request_build(tfa_buf *out, const tfa_capture *c, const char *chain_id,
					  const char *idempotency_key);

/* What the service recorded, once its reply checked out. */
typedef struct tfa_service_receipt {
	uint64_t seq;
	char hash[TFA_FPR_STRLEN]; /* "sha256:..." of the artifact's bytes */
	bool replayed;		   /* the key named a record made earlier */
	char chain_id[65];
	char idempotency_key[TFA_IDEMPOTENCY_KEY_MAX + 1];
} tfa_service_receipt;

/*
 * Checks a 200 reply to `request` (what tfa_service_request_build made):
 *   - it is a record reply naming the pinned key `expect_fpr`;
 *   - the artifact's signature verifies under the public key `spki` (DER;
 *     when NULL, the reply's "public_key", base64 DER), whose fingerprint
 *     must be expect_fpr;
 *   - the artifact parses as a valid deployment record (tfa_artifact_parse),
 *     signed by expect_fpr, with the seq and hash the reply states;
 *   - its chain, event (apart from the idempotency key the service adds to
 *     it) and terraform members are exactly those of the request, and its
 *     event.idempotency_key is the request's.
 * TFA_EVERIFY for a reply that does not check out, TFA_EFORMAT for one that
 * is malformed, TFA_EUSAGE when no public key is at hand; *out on success.
 */
TFA_WUR tfa_err tfa_service_reply_check(tfa_service_receipt *out, const uint8_t *request,
					size_t request_len, const uint8_t *reply, size_t reply_len,
					const char *expect_fpr, const uint8_t *spki,
					size_t spki_len);

/* How the client proves who it is. */
typedef enum tfa_service_auth {
	TFA_SERVICE_AUTH_DEFAULT = 0, /* aws when the URL's host ends in .on.aws, else oidc */
	TFA_SERVICE_AUTH_OIDC,	      /* a CI ID token as "Authorization: Bearer" */
	TFA_SERVICE_AUTH_AWS	      /* SigV4 for service lambda (Function URL, AWS_IAM) */
} tfa_service_auth;

/* TFA_OK and *out for "oidc" or "aws"; TFA_EUSAGE otherwise. */
TFA_WUR tfa_err tfa_service_auth_from_name(tfa_service_auth *out, const char *name);

/* What a client is opened with. Strings are copied. */
typedef struct tfa_service_client_opts {
	const char *url;	    /* the service's record endpoint: https://host[:port][/path] */
	const char *ca_file;	    /* PEM trust anchors for the service; NULL: the system store */
	tfa_service_auth auth;	    /* TFA_SERVICE_AUTH_DEFAULT: from the URL */
	const char *audience;	    /* oidc, GitHub Actions: the token's audience; NULL: tfattest */
	const char *id_token_file;  /* oidc: the ID token from this file; NULL: from the CI */
	const char *chain_id;	    /* the chain meant; required */
	const char *expect_fpr;	    /* the pinned chain key ("sha256:..."); required */
	const char *public_key_pem; /* that key's PEM file; NULL: from the reply */
	const char
	    *idempotency_key;  /* NULL: a fresh one, 32 hex digits from the OS's random source */
	unsigned max_attempts; /* 0: $TFATTEST_SERVICE_MAX_ATTEMPTS, else 4 */
	long max_wait_s;       /* cap on one wait (Retry-After); 0: 30 */
} tfa_service_client_opts;

typedef struct tfa_service_client tfa_service_client;

/*
 * Checks the options (URL, chain id, fingerprint, key file, idempotency key)
 * and opens a client. Nothing is sent and no credential is read yet.
 */
TFA_WUR tfa_err tfa_service_client_new(tfa_service_client **out,
				       const tfa_service_client_opts *opts);

/* Wipes the token and credentials it holds. Accepts NULL. */
void tfa_service_client_free(tfa_service_client *c);

/* The idempotency key of this run (given or generated). */
const char *tfa_service_client_key(const tfa_service_client *c);

/* The URL, for messages. */
const char *tfa_service_client_url(const tfa_service_client *c);

/* The auth method in use: "oidc" or "aws". */
const char *tfa_service_client_auth_name(const tfa_service_client *c);

/*
 * Obtains the credentials the requests will carry (the ID token, or the AWS
 * credentials and region), so that a deployment is not started when they
 * cannot be had. Called by the first send when not before.
 */
TFA_WUR tfa_err tfa_service_client_prepare(tfa_service_client *c);

/*
 * Sends a record request and checks the reply (tfa_service_reply_check).
 * Retries, with the request's own idempotency key, when no answer came, on
 * 5xx and on 429, up to max_attempts, waiting as Retry-After says (capped)
 * or with a doubling backoff. Returns:
 *   TFA_OK        *out holds the record
 *   TFA_EIO       no answer from the service
 *   TFA_EBACKEND  the service refused (4xx) or failed (5xx): the message
 *                 carries the status and the service's own one-line error
 *   TFA_EVERIFY / TFA_EFORMAT  the reply did not check out
 * and never prints or keeps a token.
 */
TFA_WUR tfa_err tfa_service_client_send(tfa_service_receipt *out, tfa_service_client *c,
					const uint8_t *request, size_t len);

/*
 * Records capture c through the service with the client's key. When that
 * fails, the request is spooled (tfa_spool_dir(), a file named
 * <deployed ns>-<sha256 of the key, 32 hex>.request) for
 * tfa_service_flush_spool(), *spool_path (may be NULL; free() it) names it
 * and the failure is returned; when spooling fails too, *spool_path stays
 * NULL and spool_error (may be NULL) says why.
 */
TFA_WUR tfa_err tfa_service_client_record(tfa_service_receipt *out, tfa_service_client *c,
					  const tfa_capture *cap, int64_t deployed_at_ns,
					  char **spool_path, tfa_error *spool_error);

/* What a flush of spooled requests did. */
typedef struct tfa_service_flush_counts {
	unsigned sent;	   /* recorded now */
	unsigned replayed; /* the service had them already (an earlier send got through) */
	unsigned other;	   /* for another chain: left in place */
} tfa_service_flush_counts;

/*
 * Sends the spooled requests of the client's chain in `dir`, oldest first,
 * each with its own idempotency key; a file is removed only once its reply
 * checked out. Stops at the first failure, leaving that file and the later
 * ones in place. `line` (may be NULL) is told of each record.
 */
TFA_WUR tfa_err tfa_service_flush_spool(tfa_service_flush_counts *out, tfa_service_client *c,
					const char *dir, void (*line)(void *ud, const char *text),
					void *ud);

#endif /* !TFATTEST_VERIFIER_ONLY */
#endif
