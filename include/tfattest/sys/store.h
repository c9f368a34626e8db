/*
 * For authors of store backends. The core goes through tfa_store_*() in
 * store.c and never calls these pointers directly.
 */
#ifndef TFATTEST_SYS_STORE_H
#define TFATTEST_SYS_STORE_H

#include "../store.h"

#define TFA_STORE_ABI 2

/* Records are at most this large (artifact + signature). */
#define TFA_RECORD_MAX (9u << 20)
/* Chain metadata documents are at most this large. */
#define TFA_CHAIN_META_MAX (64u << 10)
/* Stored checkpoints (a self-contained checkpoint file) are at most this large. */
#define TFA_STORE_CHECKPOINT_MAX (256u << 10)

/*
 * caps: the backend cannot decide who appends seq n+1 alone and takes a
 * sequencer (include/tfattest/sys/sequencer.h). store.c then claims each seq
 * in the sequencer before calling append, which only has to write the record
 * (idempotently: the same bytes again are TFA_OK; other bytes TFA_ECONFLICT),
 * and head is called only on a read-only store opened without a sequencer.
 */
#define TFA_STORE_CAP_SEQUENCED 1u

typedef struct tfa_store_backend {
	unsigned abi;	    /* TFA_STORE_ABI */
	const char *name;   /* "fs" */
	const char *scheme; /* URI prefix including the colon, e.g. "s3:" */
	unsigned caps;

	/* Required. */
	tfa_err (*open)(void **ctx, const char *uri);
	/* Required. Write-once; TFA_ECONFLICT when a chain exists. */
	tfa_err (*create_chain)(void *ctx, const uint8_t *meta, size_t len);
	/* Required. TFA_ENOTFOUND when there is no chain. */
	tfa_err (*read_chain)(void *ctx, tfa_buf *meta);
	/* Required. Exact head seq, 0 when empty; must not scan the whole chain. */
	tfa_err (*head)(void *ctx, uint64_t *seq);
	/* Required. TFA_ENOTFOUND when absent. */
	tfa_err (*get)(void *ctx, uint64_t seq, tfa_buf *artifact, tfa_buf *sig);
	/* Required. Create-if-absent, durable on TFA_OK; TFA_ECONFLICT when taken. */
	tfa_err (*append)(void *ctx, uint64_t seq, const uint8_t *artifact, size_t artifact_len,
			  const uint8_t *sig, size_t sig_len);
	/* Required. Accepts NULL. */
	void (*close)(void *ctx);

	/* Optional (NULL: the backend keeps no checkpoints). Stores the checkpoint of
	 * head `seq` write-once and durably on TFA_OK; TFA_ECONFLICT when seq has one. */
	tfa_err (*put_checkpoint)(void *ctx, uint64_t seq, const uint8_t *data, size_t len);
	/* Optional, with put_checkpoint. The stored checkpoint with the highest seq in
	 * [min_seq, max_seq]: its seq, and its bytes appended to data. TFA_ENOTFOUND
	 * when there is none. */
	tfa_err (*latest_checkpoint)(void *ctx, uint64_t min_seq, uint64_t max_seq, uint64_t *seq,
				     tfa_buf *data);
	/*
	 * Optional (ABI 2). TFA_OK when the store is configured to write, else
	 * TFA_EUSAGE with the reason. Called before the sequencer's claim, so
	 * that a store that cannot write claims no seq. NULL: always writable.
	 */
	tfa_err (*writable)(void *ctx);
} tfa_store_backend;

/* The backends this build includes, NULL-terminated. A backend with an empty
 * scheme takes URIs no other backend claims. */
extern const tfa_store_backend *const tfa_store_backends[];

#endif
