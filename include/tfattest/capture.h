/*
 * Capture: the recording side's view of an artifact. The facts of one
 * deployment (tfa_capture), gathered before the chain gives it a place, and
 * the writer that makes them an artifact once it has one. Verifiers need
 * only artifact.h.
 */
#ifndef TFATTEST_CAPTURE_H
#define TFATTEST_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "artifact.h"
#include "buffer.h"
#include "common.h"
#include "error.h"
#include "sigalg.h"
#include "signer.h"

/* What happened. */
typedef struct tfa_event {
	const char *type;   /* apply (default), destroy, rollback, import */
	const char *status; /* succeeded (default), failed */
	int exit_code;
} tfa_event;

/*
 * The facts of one deployment, captured before a sequence number is known:
 * the event, the Terraform facts from `terraform show -json` output (and the
 * state file after apply, when given), and the run's context (git, CI, host).
 * No attribute value from the plan or state is ever copied.
 */
typedef struct tfa_capture tfa_capture;

/* Type tag of a serialised (spooled) capture. */
#define TFA_CAPTURE_TYPE "tfattest.capture"

/* Reads and summarises the inputs. state_path may be NULL. */
TFA_WUR tfa_err tfa_capture_new(tfa_capture **out, const tfa_event *ev, const char *plan_path,
				const char *state_path);

/*
 * The same from memory: `plan` is `terraform show -json` output, or NULL when
 * the deployment ran without a saved plan (no plan facts are recorded then);
 * `state` may be NULL. Names are used in messages only.
 */
TFA_WUR tfa_err tfa_capture_new_mem(tfa_capture **out, const tfa_event *ev, const uint8_t *plan,
				    size_t plan_len, const uint8_t *state, size_t state_len);

/*
 * Marks the capture as a rollback to record `seq` of the chain, whose hash is
 * `hash` ("sha256:..."; see tfa_chain_record_hash()). Only for event type
 * rollback.
 */
TFA_WUR tfa_err tfa_capture_set_rollback(tfa_capture *c, uint64_t seq, const char *hash);

/*
 * Sets terraform.reconcile to `summary` (len bytes of JSON: an object, such
 * as tfa_reconcile_summary() writes, at most 256 KiB). Only for event type
 * reconcile. TFA_EUSAGE otherwise or when the summary is not a JSON object.
 */
TFA_WUR tfa_err tfa_capture_set_reconcile(tfa_capture *c, const uint8_t *summary, size_t len);

/*
 * Spooled captures: a capture written to a local file when recording failed
 * after a deployment, and appended later. The id (32 hex digits) is stored in
 * the artifact so that an append interrupted before its spool file was
 * removed is not repeated.
 */
TFA_WUR tfa_err tfa_capture_set_spool(tfa_capture *c, const char *id, int64_t deployed_at,
				      int64_t spooled_at);

/*
 * Stores an idempotency key (FORMAT.md §3.1: 16 to 64 of [A-Za-z0-9._-]) as
 * event.idempotency_key: a writer that finds a recent record with the key
 * does not append the deployment again (tfa_chain_find_idempotency_key()).
 */
TFA_WUR tfa_err tfa_capture_set_idempotency_key(tfa_capture *c, const char *key);

/* The idempotency key, or NULL when the capture has none. */
const char *tfa_capture_idempotency_key(const tfa_capture *c);

/* Draws a fresh idempotency key (32 lowercase hex digits) into out. */
TFA_WUR tfa_err tfa_idempotency_key_new(char out[TFA_IDEMPOTENCY_KEY_MAX + 1]);

/*
 * A caller identity that a front end verified, for the artifact's identity
 * section (FORMAT.md §3.6). Strings are copied.
 */
typedef struct tfa_capture_identity {
	const char *method;   /* "oidc" or "aws-iam" */
	const char *issuer;   /* 1 to 1024 bytes */
	const char *subject;  /* 1 to 1024 bytes */
	const char *audience; /* or NULL */
	int64_t issued_at;    /* or 0 */
	int64_t expires_at;   /* or 0 */
	const tfa_kv *claims; /* names 1 to 64 bytes, values at most 1024 bytes */
	size_t nclaims;
	const char *client_cert; /* or NULL */
	const char *verified_by; /* "serve" or "lambda" */
	int64_t verified_at;
} tfa_capture_identity;

/* Gives the capture an identity section; TFA_EUSAGE for a value outside its domain. */
TFA_WUR tfa_err tfa_capture_set_identity(tfa_capture *c, const tfa_capture_identity *id);

/*
 * A capture from a record request (include/tfattest/service.h) that the
 * service has validated: its event (with the request's idempotency_key), its
 * terraform section as given, and its context as given with
 * `claimed_by: "client"` added, marking it as the caller's claim. The request
 * must have passed the service's strict validation; this checks only what the
 * artifact needs (TFA_EFORMAT otherwise).
 */
TFA_WUR tfa_err tfa_capture_from_request(tfa_capture **out, const uint8_t *req, size_t len);

/*
 * What makes two deployments "the same request" for an idempotency key
 * (docs/SERVICE.md): the SHA-256 of the canonical JSON of the event (without
 * event.spool), the terraform and context sections, and the identity's
 * method, issuer and subject. Times and claims of the identity are left out:
 * a retry carries a fresh token.
 */
TFA_WUR tfa_err tfa_capture_digest(uint8_t out[TFA_SHA256_LEN], const tfa_capture *c);

/* The same digest, of the deployment a stored artifact records. TFA_EFORMAT when not JSON. */
TFA_WUR tfa_err tfa_artifact_capture_digest(uint8_t out[TFA_SHA256_LEN], const uint8_t *artifact,
					    size_t len);

/* The spool id, or NULL when the capture was not spooled. */
const char *tfa_capture_spool_id(const tfa_capture *c);

/* When the capture was spooled (seconds since the epoch), or 0. */
int64_t tfa_capture_spooled_at(const tfa_capture *c);

/*
 * The state as it was before the deployment, as terraform.state_before (the
 * same facts as the state after: hash, serial, lineage, version).
 */
TFA_WUR tfa_err tfa_capture_set_state_before(tfa_capture *c, const uint8_t *state, size_t len);

/*
 * terraform.plan_source: "saved-plan" (the command applied a plan file it was
 * given), "plan-first" (the wrapper made the plan and applied exactly it) or
 * "none" (no plan was recorded). TFA_EUSAGE for anything else.
 */
TFA_WUR tfa_err tfa_capture_set_plan_source(tfa_capture *c, const char *source);

/*
 * terraform.drift from a refresh-only plan (`terraform show -json` output):
 * `drifted` and the `addresses` of its resource_drift entries whose action is
 * not no-op. No value is copied.
 */
TFA_WUR tfa_err tfa_capture_set_drift(tfa_capture *c, const uint8_t *plan, size_t len);

/* Whether the captured plan says `"errored": true` (Terraform stopped planning on an error). */
bool tfa_capture_plan_errored(const tfa_capture *c);

/* The capture's event type ("apply", ...). */
const char *tfa_capture_event_type(const tfa_capture *c);

/* Serialises a capture (canonical JSON) for the spool. Holds no secret: it is what the artifact
 * holds. */
TFA_WUR tfa_err tfa_capture_serialize(tfa_buf *out, const tfa_capture *c);

/* Parses what tfa_capture_serialize() wrote. TFA_EFORMAT otherwise. */
TFA_WUR tfa_err tfa_capture_deserialize(tfa_capture **out, const uint8_t *bytes, size_t len);

/* Accepts NULL. */
void tfa_capture_free(tfa_capture *c);

/* The chain fields that make a capture an artifact. */
typedef struct tfa_artifact_head {
	const char *chain_id;
	uint64_t seq;
	const char *prev_hash; /* "sha256:..." */
	int64_t time;
	const tfa_signer *signer;
	tfa_sig_alg alg;
} tfa_artifact_head;

/* Writes the canonical bytes of the artifact to out. */
TFA_WUR tfa_err tfa_artifact_build(tfa_buf *out, const tfa_capture *c, const tfa_artifact_head *h);

#endif
