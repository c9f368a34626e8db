/*
 * Offline verification of a bundle. Layered and fail-fast, in this order:
 *   1. the manifest's signature (and the key's fingerprint, when pinned)
 *   2. every file's SHA-256 against the manifest; no file missing, none extra
 *   3. the hash chain: canonical artifacts, contiguous seqs, prev_hash links,
 *      one chain id, the manifest's head hash
 *   4. every artifact's signature, by the key in force at its seq: the anchor,
 *      then each key a rotation record brings in (proof of possession checked)
 *   5. checkpoints: each trusted checkpoint given (and the bundle's own, which
 *      is only checked for consistency) is signed by the key in force at its
 *      seq, is of this chain, and the bundle reaches it: its head hash is the
 *      hash of the artifact at its seq, or the base hash when it is the seq
 *      just before the range; a bundle that ends before it or starts after it
 *      fails. RFC 3161 timestamps on checkpoints are verified with a TSA CA.
 * The first failure is reported with the file and seq it concerns. Each
 * file is judged on the bytes of one read; a caller that shows the records
 * takes them from tfa_verify_opts.on_artifact, never from a second read.
 *
 * Never follows a path outside the bundle: manifest paths are relative, hold
 * no "." or ".." component, and are opened without following symlinks.
 */
#ifndef TFATTEST_VERIFY_H
#define TFATTEST_VERIFY_H

#include <stdbool.h>

#include "buffer.h"
#include "common.h"
#include "error.h"

typedef enum tfa_layer {
	TFA_LAYER_NONE = 0,
	TFA_LAYER_MANIFEST = 1,
	TFA_LAYER_FILES = 2,
	TFA_LAYER_CHAIN = 3,
	TFA_LAYER_SIGNATURES = 4,
	TFA_LAYER_CHECKPOINTS = 5
} tfa_layer;

/* A passed record's fields as the verifier parsed them (tfa_verify_opts.on_record). */
typedef struct tfa_verify_record {
	uint64_t seq;
	int64_t time;	     /* seconds since the epoch, UTC */
	char event[16];	     /* the event type, or rotate */
	char status[16];     /* succeeded, failed */
	bool spooled;	     /* appended later from a local spool: */
	int64_t deployed_at; /*   when the deployment finished */
	int64_t spooled_at;  /*   when its capture was spooled */
	bool has_identity;   /* carries a caller identity a front end verified */
} tfa_verify_record;

typedef struct tfa_verify_opts {
	/* "sha256:<hex>" of the chain's anchor (first) key; NULL trusts the bundle's (with a
	 * warning). */
	const char *expect_fpr;
	/* Fail unless the bundle starts at seq 1 (completeness from genesis). */
	bool require_genesis;
	/* Worker threads for layers 2-4; 0 picks the number of online CPUs; at most 16 run. */
	unsigned threads;
	/* Trusted checkpoint files (obtained out of band) the bundle must reach. */
	const char *const *checkpoints;
	size_t ncheckpoints;
	/* PEM file of the CA(s) trusted for RFC 3161 timestamps; NULL: timestamps unchecked. */
	const char *tsa_ca;
	/* Called for each progress line: tag is "INFO", "SUCCESS", "WARN" or "ERROR". May be NULL.
	 */
	void (*line)(void *ud, const char *tag, const char *text);
	void *ud;
	/*
	 * Optional: the evidence itself, read once. Called for each artifact in
	 * seq order, once it has passed every check that concerns it alone or
	 * its predecessors (its hash and size against the manifest, canonical
	 * form, place, prev_hash link, signature by the key in force), with
	 * exactly the bytes the verifier read and checked: json is
	 * artifacts/N.json, sig its .sig. Valid only during the call. No call is
	 * made after the first failure, but a later layer may still fail: the
	 * caller keeps what it builds only when tfa_verify_bundle() returns
	 * TFA_OK. A bundle's files are never read a second time for this: what
	 * a caller shows from these calls is what was verified, whatever
	 * happens to the path meanwhile. A return other than TFA_OK stops the
	 * verification with that code and the message "the caller could not
	 * take <path> (seq N)" (TFA_EVERIFY and TFA_EFORMAT, which would mean
	 * the bundle is invalid, become TFA_EINTERNAL).
	 */
	tfa_err (*on_artifact)(void *artifact_ud, uint64_t seq, const uint8_t *json, size_t len,
			       const uint8_t *sig, size_t siglen);
	void *artifact_ud;
	/*
	 * Fail a bundle whose manifest is signed by its exporter's own key
	 * (schema 2) rather than by the chain's key in force at export.
	 */
	bool require_chain_manifest;
	/* Optional: called as artifacts pass their checks ("verified"), in seq order. */
	tfa_progress_fn progress;
	void *progress_ud;
	/*
	 * Optional: as on_artifact, at the same points and under the same rules,
	 * but with some of the artifact's fields as the verifier parsed them from
	 * those bytes (valid only during the call), for a caller that needs those
	 * and not the bytes: nothing is copied or parsed a second time for it.
	 */
	tfa_err (*on_record)(void *record_ud, const tfa_verify_record *r);
	void *record_ud;
} tfa_verify_opts;

/* A bundle names at most this many keys: its anchor and the keys its rotations bring in. */
#define TFA_VERIFY_KEYS_MAX 64

/* One trusted key and the records it was in force for. */
typedef struct tfa_verify_key {
	char fpr[TFA_FPR_STRLEN];
	uint64_t from_seq; /* the first record it signs (the seq after its rotation) */
	uint64_t
	    to_seq; /* its last record (its successor's rotation); 0: still in force at export */
} tfa_verify_key;

/* At most this many checkpoints: the trusted ones given, and the bundle's own. */
#define TFA_VERIFY_CHECKPOINTS_MAX 16

typedef enum tfa_ts_status {
	TFA_TS_NONE = 0,  /* no timestamp */
	TFA_TS_UNCHECKED, /* a timestamp, not checked (no TSA CA given) */
	TFA_TS_VALID	  /* verified against the TSA CA */
} tfa_ts_status;

/* One checkpoint the bundle was held to. */
typedef struct tfa_verify_checkpoint {
	char file[256];
	bool trusted; /* given by the caller; false: the bundle's own (consistency only) */
	uint64_t seq;
	char head_hash[TFA_FPR_STRLEN];
	int64_t time;
	tfa_ts_status ts;
	int64_t ts_gen_time;
	char ts_subject[256];
} tfa_verify_checkpoint;

typedef struct tfa_verify_report {
	tfa_layer failed_layer; /* TFA_LAYER_NONE when everything verified */
	/*
	 * The last layer that passed in full (its [SUCCESS] line was given):
	 * TFA_LAYER_NONE before layer 1 passes, TFA_LAYER_CHECKPOINTS when
	 * all did. Set also when verification stops on an error that is not
	 * a verdict (I/O), so a caller can tell what was checked.
	 */
	tfa_layer passed_layer;
	char failed_file[256]; /* bundle-relative path, or "" */
	uint64_t failed_seq;   /* 0 when the failure concerns no artifact */
	char message[512];     /* the failure, one line */
	char chain_id[65];
	uint64_t from_seq, to_seq;
	uint64_t artifacts;
	uint64_t files;
	char trusted_fpr[TFA_FPR_STRLEN]; /* the anchor: the chain's first key */
	bool key_pinned;		  /* false: the key was taken from the bundle itself */
	/* Verified artifacts that were appended from a spool (event.spool), after the deployment.
	 */
	uint64_t spooled;
	/* Every key trusted, reached from the anchor through rotations, in order. */
	tfa_verify_key keys[TFA_VERIFY_KEYS_MAX];
	size_t nkeys;
	/* Checkpoints checked (layer 5), in the order given, the bundle's last. */
	tfa_verify_checkpoint checkpoints[TFA_VERIFY_CHECKPOINTS_MAX];
	size_t ncheckpoints;
	/*
	 * The manifest's kind, known once layer 1 read it: false, signed by the
	 * chain's key in force at export; true, signed by the exporter's own key
	 * exporter_fpr, which is no key of the chain (it says who assembled the
	 * bundle, not that the chain's key holder exported this range).
	 */
	bool exporter_signed;
	char exporter_fpr[TFA_FPR_STRLEN];
	/*
	 * The manifest's optional `writer` (docs/FORMAT.md §5.2), set once the
	 * manifest's signature verified: the name and version of the program
	 * that says it wrote the bundle, "" when the manifest has none. It is
	 * that program's claim, not evidence: no check depends on it.
	 */
	char writer_name[65];
	char writer_version[65];
} tfa_verify_report;

/*
 * Verifies the bundle at `path`: a directory, or a regular file read as a
 * bundle archive (.tar.gz, .zip; docs/FORMAT.md §5.3) in memory without
 * extracting it. An archive that breaks the entry rules fails layer 1. In a
 * build without archive support a file is TFA_EUSAGE. Returns TFA_OK when every layer
 * passes, TFA_EVERIFY when the bundle is invalid (details in *rep), or
 * another code when verification could not be carried out (I/O errors,
 * bad options).
 */
TFA_WUR tfa_err tfa_verify_bundle(tfa_verify_report *rep, const char *path,
				  const tfa_verify_opts *opts);

#endif
