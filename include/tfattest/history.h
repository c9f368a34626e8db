/*
 * Reading a chain's records back from a store, checked as they are read:
 * every record returned is valid (§3 of docs/FORMAT.md), at its place in the
 * chain, signed by the chain's key, and linked by hash to its neighbours.
 * A record that fails any check is never returned: the call fails with
 * TFA_EVERIFY and names the seq.
 */
#ifndef TFATTEST_HISTORY_H
#define TFATTEST_HISTORY_H

#include "artifact.h"
#include "buffer.h"
#include "common.h"
#include "error.h"
#include "store.h"

typedef struct tfa_history tfa_history;

/*
 * Opens the store's chain for reading. `pubkey` is the chain's public key as
 * PEM or DER SubjectPublicKeyInfo; its fingerprint must be the chain's anchor
 * (TFA_EVERIFY otherwise). The store is borrowed.
 */
TFA_WUR tfa_err tfa_history_open(tfa_history **out, tfa_store *st, const uint8_t *pubkey,
				 size_t len);

/* The chain id and the head seq seen when the history was opened. */
const char *tfa_history_chain_id(const tfa_history *h);
uint64_t tfa_history_head(const tfa_history *h);

/*
 * The next record, from seq 1 up, in constant memory: checks its signature,
 * place and prev_hash link to the record returned before it. The artifact's
 * bytes replace the contents of `artifact`; `hash` gets its "sha256:" hash.
 * TFA_ENOTFOUND after the head.
 */
TFA_WUR tfa_err tfa_history_next(tfa_history *h, tfa_buf *artifact, tfa_artifact *meta,
				 char hash[TFA_FPR_STRLEN]);

/*
 * Record `seq` alone: checks its signature and place, that its prev_hash is
 * the hash of record seq-1 (or genesis), and that record seq+1, when present,
 * links to it. TFA_ENOTFOUND when absent.
 */
TFA_WUR tfa_err tfa_history_get(tfa_history *h, uint64_t seq, tfa_buf *artifact, tfa_artifact *meta,
				char hash[TFA_FPR_STRLEN]);

/* Accepts NULL. */
void tfa_history_free(tfa_history *h);

#endif
