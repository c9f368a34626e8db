/*
 * Artifacts: the signed, canonical JSON document of one deployment event.
 * docs/FORMAT.md is the normative description; this header gives the C view.
 */
#ifndef TFATTEST_ARTIFACT_H
#define TFATTEST_ARTIFACT_H

#include <stdbool.h>

#include "buffer.h"
#include "common.h"
#include "error.h"
#include "sigalg.h"

#define TFA_ARTIFACT_TYPE   "tfattest.artifact"
#define TFA_ARTIFACT_SCHEMA 1
/* Rotation records carry schema 2: a verifier that predates rotation refuses them. */
#define TFA_ARTIFACT_SCHEMA_ROTATION 2
/* The type tag of the document a rotation's proof of possession signs. */
#define TFA_ROTATION_POP_TYPE "tfattest.rotation-pop"
/* Caps on the new key (DER SPKI) and on signatures carried in a rotation. */
#define TFA_SPKI_MAX 2048
#define TFA_SIG_MAX  1024
/* Artifacts are at most this large. */
#define TFA_ARTIFACT_MAX (8u << 20)
/* Chain ids: 1 to 64 characters from [A-Za-z0-9._-]. */
#define TFA_CHAIN_ID_MAX 64
/* Sequence numbers run from 1 to this (12 decimal digits). */
#define TFA_SEQ_MAX UINT64_C(999999999999)
/* prev_hash of seq 1. */
#define TFA_GENESIS_HASH "sha256:0000000000000000000000000000000000000000000000000000000000000000"

/* An idempotency key (FORMAT.md §3.1, event.idempotency_key): 16 to 64 of [A-Za-z0-9._-]. */
#define TFA_IDEMPOTENCY_KEY_MIN 16
#define TFA_IDEMPOTENCY_KEY_MAX 64

/* What a rotation record adds: the key in force after it, and its proof of possession. */
typedef struct tfa_rotation {
	char new_fpr[TFA_FPR_STRLEN];
	tfa_sig_alg new_alg;
	uint8_t spki[TFA_SPKI_MAX]; /* DER SubjectPublicKeyInfo; its fingerprint is new_fpr */
	size_t spki_len;
	uint8_t pop[TFA_SIG_MAX]; /* by the new key over tfa_rotation_pop_bytes() */
	size_t pop_len;
	uint8_t
	    old_spki[TFA_SPKI_MAX]; /* the signing key; its fingerprint is signer.key_fingerprint */
	size_t old_spki_len;
} tfa_rotation;

/* The fields of a validated artifact that chains and verification use. */
typedef struct tfa_artifact {
	char chain_id[TFA_CHAIN_ID_MAX + 1];
	uint64_t seq;
	uint8_t prev_hash[TFA_SHA256_LEN];
	int64_t time; /* seconds since the epoch, UTC */
	char key_fpr[TFA_FPR_STRLEN];
	tfa_sig_alg alg;
	char event[16];	 /* an event type (tfa_event_types()) or rotate */
	char status[16]; /* succeeded, failed */
	int32_t exit_code;
	/* event.rollback_to: the earlier seq a rollback reverts to (0: none) and its hash. */
	uint64_t rollback_to;
	uint8_t rollback_hash[TFA_SHA256_LEN];
	/* event.spool: the record was appended later from a local spool. */
	bool spooled;
	int64_t deployed_at; /* when the deployment finished (spooled records) */
	int64_t spooled_at;  /* when its capture was spooled */
	char spool_id[33];   /* 32 lowercase hex digits */
	bool is_rotation;    /* event "rotate": rot is filled */
	tfa_rotation rot;
	/* event.idempotency_key, or "" when the record has none. */
	char idempotency_key[TFA_IDEMPOTENCY_KEY_MAX + 1];
	/* The top-level identity section (FORMAT.md §3.6): a caller identity that the
	 * front end named in verified_by checked before the service signed. Its issuer,
	 * subject and claims are read from the artifact's JSON by whoever shows them. */
	bool has_identity;
	char identity_method[16];   /* oidc, aws-iam */
	char identity_verifier[16]; /* verified_by: serve, lambda */
	int64_t identity_verified_at;
} tfa_artifact;

/*
 * The event types a deployment record may have (FORMAT.md §3.1), NULL-terminated:
 * apply, destroy, rollback, import, refresh, state-rm, state-mv, state-push,
 * drift-check, reconcile. rotate (rotation records only) is not among them.
 */
const char *const *tfa_event_types(void);

/* Whether type is one of tfa_event_types(). */
bool tfa_event_type_known(const char *type);

/*
 * Parses and validates artifact bytes: canonical RFC 8785 JSON, no duplicate
 * keys, the right type tag and schema version, every required field present
 * with the right type and range, and no unknown top-level members.
 * TFA_EFORMAT with a one-line reason otherwise.
 */
TFA_WUR tfa_err tfa_artifact_parse(tfa_artifact *out, const uint8_t *bytes, size_t len);

/*
 * The bytes a rotation's proof of possession signs (SHA-256, new algorithm):
 * the canonical JSON of {"chain_id","new_algorithm","new_key_fingerprint",
 * "old_key_fingerprint","prev_hash","seq","type":"tfattest.rotation-pop"}.
 * `a` must be a parsed rotation record.
 */
TFA_WUR tfa_err tfa_rotation_pop_bytes(tfa_buf *out, const tfa_artifact *a);

/* The key in force after this record: the rotation's new key, else the record's signer. */
const char *tfa_artifact_key_after(const tfa_artifact *a);

/* Parses exactly YYYY-MM-DDTHH:MM:SSZ (UTC), a valid date and time in 1970-9999. TFA_EFORMAT
 * otherwise. */
TFA_WUR tfa_err tfa_time_parse(int64_t *out, const char *s, size_t len);

/* TFA_OK if s is a valid chain id. */
TFA_WUR tfa_err tfa_chain_id_check(const char *s, size_t len);

/* TFA_OK if s is a valid idempotency key; TFA_EFORMAT otherwise. */
TFA_WUR tfa_err tfa_idempotency_key_check(const char *s, size_t len);

#endif
