/*
 * Stores: write-once homes for a chain's records, with the sequencer that
 * decides who appends seq n+1.
 *
 *   DIR | fs:DIR     a local directory (store and sequencer in one)
 *   s3://BUCKET/PREFIX?region=R&endpoint=URL&retention-days=N
 *                    S3 with Object Lock (COMPLIANCE), sequenced by
 *   dynamodb://TABLE?region=R&endpoint=URL
 *                    a DynamoDB table (see docs/AWS-STORE.md)
 *
 * A record is an artifact's canonical bytes and its signature. Records are
 * never modified or deleted once appended.
 */
#ifndef TFATTEST_STORE_H
#define TFATTEST_STORE_H

#include "buffer.h"
#include "common.h"
#include "error.h"

typedef struct tfa_store tfa_store;

/* Opens the store named by uri. Release with tfa_store_free(). */
TFA_WUR tfa_err tfa_store_open(tfa_store **out, const char *uri);

/*
 * Opens the store named by store_uri with the sequencer named by
 * sequencer_uri. A store that is its own sequencer (fs) takes NULL and
 * refuses a sequencer with TFA_EUSAGE. A store that needs one (s3) opened with
 * NULL is read-only: tfa_store_create_chain and tfa_store_append fail with
 * TFA_EUSAGE, and the head is found by listing the store.
 * tfa_store_open(out, uri) is tfa_store_open_seq(out, uri, NULL).
 */
TFA_WUR tfa_err tfa_store_open_seq(tfa_store **out, const char *store_uri,
				   const char *sequencer_uri);

/*
 * Writes the chain's metadata document once. TFA_ECONFLICT when the store
 * already holds a chain.
 */
TFA_WUR tfa_err tfa_store_create_chain(tfa_store *st, const uint8_t *meta, size_t len);

/* Reads the chain's metadata document. TFA_ENOTFOUND when there is no chain. */
TFA_WUR tfa_err tfa_store_read_chain(tfa_store *st, tfa_buf *meta);

/*
 * The highest seq present (0 for an empty chain). Cost does not grow with the
 * chain's length. Also repairs what an interrupted writer left behind.
 */
TFA_WUR tfa_err tfa_store_head(tfa_store *st, uint64_t *seq);

/* Reads record `seq`. TFA_ENOTFOUND when absent. Appends to both buffers. */
TFA_WUR tfa_err tfa_store_get(tfa_store *st, uint64_t seq, tfa_buf *artifact, tfa_buf *sig);

/*
 * Appends record `seq` if and only if it does not exist yet; durable when this
 * returns TFA_OK. TFA_ECONFLICT when another writer already holds seq.
 */
TFA_WUR tfa_err tfa_store_append(tfa_store *st, uint64_t seq, const uint8_t *artifact,
				 size_t artifact_len, const uint8_t *sig, size_t sig_len);

/*
 * Stores a checkpoint (a self-contained checkpoint file) of head `seq`,
 * write-once. TFA_ECONFLICT when seq already has one; TFA_EUSAGE when the
 * backend keeps no checkpoints.
 */
TFA_WUR tfa_err tfa_store_put_checkpoint(tfa_store *st, uint64_t seq, const uint8_t *data,
					 size_t len);

/*
 * The stored checkpoint with the highest seq in [min_seq, max_seq]; its bytes
 * are appended to data. TFA_ENOTFOUND when there is none or the backend keeps
 * no checkpoints.
 */
TFA_WUR tfa_err tfa_store_latest_checkpoint(tfa_store *st, uint64_t min_seq, uint64_t max_seq,
					    uint64_t *seq, tfa_buf *data);

/* The backend's name: "fs", "s3". */
const char *tfa_store_backend_name(const tfa_store *st);

/* Accepts NULL. */
void tfa_store_free(tfa_store *st);

#endif
