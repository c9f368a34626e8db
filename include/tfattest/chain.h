/*
 * Chains: records appended to a store, each linking to its predecessor by
 * SHA-256, each signed by the chain's current key.
 */
#ifndef TFATTEST_CHAIN_H
#define TFATTEST_CHAIN_H

#include <stdbool.h>

#include "artifact.h"
#include "capture.h"
#include "common.h"
#include "error.h"
#include "signer.h"
#include "store.h"

#define TFA_CHAIN_TYPE "tfattest.chain"
/* A chain holds at most this many keys over its life (the anchor and its rotations). */
#define TFA_CHAIN_KEYS_MAX 64

/* What a store's chain metadata says. */
typedef struct tfa_chain_info {
	char chain_id[TFA_CHAIN_ID_MAX + 1];
	char anchor_fpr[TFA_FPR_STRLEN]; /* the first key, pinned at init */
	int64_t created;
} tfa_chain_info;

/* Reads and validates the store's chain metadata. */
TFA_WUR tfa_err tfa_chain_info_read(tfa_chain_info *out, tfa_store *st);

/* Creates a chain in an empty store and pins the signer's key as its anchor. */
TFA_WUR tfa_err tfa_chain_init(tfa_store *st, const char *chain_id, const tfa_signer *signer);

/*
 * The key in force at the head: the anchor for an empty chain, else the key
 * the head record leaves in force (its signer, or a rotation's new key). `head` gets the
 * head seq and `head_hash` its "sha256:" hash (the genesis value when empty).
 */
TFA_WUR tfa_err tfa_chain_head(tfa_store *st, const tfa_chain_info *info, uint64_t *head,
			       char head_hash[TFA_FPR_STRLEN], char key_fpr[TFA_FPR_STRLEN]);

/*
 * Appends one record for a capture: builds the artifact at seq head+1,
 * signs it and creates it in the store, retrying from the new head when
 * another writer won the race. Refuses (TFA_EVERIFY) a signer that is not
 * the chain's current key. alg TFA_ALG_NONE means the key's default.
 */
TFA_WUR tfa_err tfa_chain_append(uint64_t *seq_out, tfa_store *st, tfa_signer *signer,
				 tfa_sig_alg alg, const tfa_capture *c);

/*
 * The hash ("sha256:...") of record `seq`, for a rollback's target: the record
 * must exist, belong to the chain at its place, and carry a valid signature by
 * the signer's key. TFA_ENOTFOUND when there is no such record, TFA_EVERIFY
 * when it does not check out.
 */
TFA_WUR tfa_err tfa_chain_record_hash(char hash[TFA_FPR_STRLEN], tfa_store *st,
				      const tfa_signer *signer, uint64_t seq);

/*
 * Looks for a record whose event.spool.id is `id`, from the head back to the
 * first record made before `not_before` (at most `limit` records). *seq_out is
 * its seq, or 0 when there is none.
 */
TFA_WUR tfa_err tfa_chain_find_spool_id(uint64_t *seq_out, tfa_store *st, const char *id,
					int64_t not_before, uint64_t limit);

/*
 * Looks for a record whose event.idempotency_key is `key`, the same way: from
 * the head back to the first record made before `not_before` (at most `limit`
 * records). *seq_out is its seq, or 0 when there is none in that window.
 */
TFA_WUR tfa_err tfa_chain_find_idempotency_key(uint64_t *seq_out, tfa_store *st, const char *key,
					       int64_t not_before, uint64_t limit);

/* How far back an idempotency key is looked for: records, and seconds of age. */
#define TFA_CHAIN_IDEMPOTENCY_WINDOW	 1024
#define TFA_CHAIN_IDEMPOTENCY_WINDOW_AGE (7 * 86400)

/*
 * tfa_chain_append() made idempotent: when the capture carries an idempotency
 * key (tfa_capture_set_idempotency_key()) and a record in the window above
 * carries it too, *replayed is set, *seq_out is that record and nothing is
 * appended. When the append fails in a way that may have left the record
 * appended (the store's or the sequencer's answer lost, a backend failure),
 * the error says that the outcome is unknown and names the key to retry with.
 */
TFA_WUR tfa_err tfa_chain_append_once(uint64_t *seq_out, bool *replayed, tfa_store *st,
				      tfa_signer *signer, tfa_sig_alg alg, const tfa_capture *c);

/*
 * Rotates the chain's key: appends a rotation record signed by `signer` (the
 * current key, as for tfa_chain_append) that names `next` and carries its
 * proof of possession. Records after it must be signed by `next`. A key that
 * was ever in force cannot be rotated back in. TFA_ALG_NONE means the key's
 * default algorithm.
 */
TFA_WUR tfa_err tfa_chain_rotate(uint64_t *seq_out, tfa_store *st, tfa_signer *signer,
				 tfa_sig_alg alg, tfa_signer *next, tfa_sig_alg next_alg);

/*
 * The seqs of every rotation record at or below `head`, ascending, into
 * seqs; *n gets their number. Costs O(rotations x log(head)) reads.
 */
TFA_WUR tfa_err tfa_chain_rotations(uint64_t seqs[TFA_CHAIN_KEYS_MAX], size_t *n, tfa_store *st,
				    uint64_t head);

#endif
