/*
 * For authors of sequencer backends. A sequencer decides who appends seq n+1
 * to a store that cannot decide it alone (S3 has no create-if-absent that
 * every S3-compatible service honours). The core goes through store.c, which
 * composes a store backend with a sequencer, and never calls these pointers
 * directly.
 *
 * A sequencer keeps one small state per chain: the head seq, the head
 * record's bytes (so that the next writer can roll forward a record whose
 * writer died before storing it) and the chain's metadata document (likewise
 * for chain creation). The chain is named by `scope`, the store URI without
 * its query, so that one sequencer (a DynamoDB table) can serve many chains.
 */
#ifndef TFATTEST_SYS_SEQUENCER_H
#define TFATTEST_SYS_SEQUENCER_H

#include "../buffer.h"
#include "../common.h"
#include "../error.h"

#define TFA_SEQUENCER_ABI 1

/* The largest scope (store URI without its query) a sequencer must accept. */
#define TFA_SEQUENCER_SCOPE_MAX 1024u

typedef struct tfa_sequencer_backend {
	unsigned abi;	    /* TFA_SEQUENCER_ABI */
	const char *name;   /* "dynamodb" */
	const char *scheme; /* URI prefix including the colon: "dynamodb:" */
	unsigned caps;	    /* none defined yet: 0 */
	/*
	 * The largest record (artifact, "\n", hex signature, "\n") that claim
	 * takes; a larger append fails with TFA_EUSAGE before anything is
	 * written.
	 */
	size_t record_max;

	/* Required. Parses uri and connects; `scope` names the chain. */
	tfa_err (*open)(void **ctx, const char *uri, const char *scope);
	/*
	 * Required. Creates the chain's state at head 0 holding `meta`, if and
	 * only if none exists. TFA_ECONFLICT when the chain exists.
	 */
	tfa_err (*create)(void *ctx, const uint8_t *meta, size_t len);
	/*
	 * Required. Reads the chain's state with a strongly consistent read:
	 * the head seq (0 for an empty chain), and appends the head record's
	 * bytes to `rec` (nothing at head 0) and the metadata to `meta`.
	 * TFA_ENOTFOUND when there is no chain.
	 */
	tfa_err (*state)(void *ctx, uint64_t *head, tfa_buf *rec, tfa_buf *meta);
	/*
	 * Required. Moves the head from seq-1 to seq and stores `rec` as the
	 * head record, atomically and if and only if the head is seq-1.
	 * TFA_ECONFLICT when it is not (another writer won, or the chain does
	 * not exist). Durable on TFA_OK.
	 */
	tfa_err (*claim)(void *ctx, uint64_t seq, const uint8_t *rec, size_t len);
	/* Required. Accepts NULL. */
	void (*close)(void *ctx);
} tfa_sequencer_backend;

/* The sequencers this build includes, NULL-terminated (may be empty). */
extern const tfa_sequencer_backend *const tfa_sequencer_backends[];

#endif
