/*
 * Capture: the recording side's view of an artifact. The facts of one
 * deployment (tfa_capture), gathered before the chain gives it a place, and
 * the writer that makes them an artifact once it has one. Verifiers need
 * only artifact.h.
 */
#ifndef TFATTEST_CAPTURE_H
#define TFATTEST_CAPTURE_H

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

/* The spool id, or NULL when the capture was not spooled. */
const char *tfa_capture_spool_id(const tfa_capture *c);

/* When the capture was spooled (seconds since the epoch), or 0. */
int64_t tfa_capture_spooled_at(const tfa_capture *c);

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
