/*
 * Checkpoints: a signed statement of a chain's head (chain id, seq, head
 * hash, time), published out of band so that a bundle can be shown to reach
 * it: a verifier holding one detects truncation, withheld records and a
 * bundle rolled back to an older export. Optionally timestamped (RFC 3161).
 *
 * The checkpoint file is text, so that it can be published anywhere and
 * checked with stock tools:
 *
 *   tfattest-checkpoint 1\n
 *   <the checkpoint document: canonical JSON, one line>\n
 *   sig <base64 of the signature over the document>\n
 *   [tsa <nonce, 16 lowercase hex> <base64 of a DER TimeStampResp>\n]
 *
 * docs/FORMAT.md §8 is the normative description.
 */
#ifndef TFATTEST_CHECKPOINT_H
#define TFATTEST_CHECKPOINT_H

#include <stdbool.h>

#include "artifact.h"
#include "buffer.h"
#include "common.h"
#include "error.h"
#include "sigalg.h"

#define TFA_CHECKPOINT_TYPE   "tfattest.checkpoint"
#define TFA_CHECKPOINT_SCHEMA 1
#define TFA_CHECKPOINT_MAGIC  "tfattest-checkpoint 1"
/* Caps: the document, a timestamp response, and a whole file. */
#define TFA_CHECKPOINT_DOC_MAX	4096u
#define TFA_CHECKPOINT_TSR_MAX	(64u << 10)
#define TFA_CHECKPOINT_FILE_MAX (256u << 10)
/* A timestamp nonce: 16 lowercase hex digits and a NUL. */
#define TFA_CHECKPOINT_NONCE_HEX 17

/* What a checkpoint document says. */
typedef struct tfa_checkpoint {
	char chain_id[TFA_CHAIN_ID_MAX + 1];
	uint64_t seq; /* the head's seq */
	uint8_t head_hash[TFA_SHA256_LEN];
	int64_t time;
	char key_fpr[TFA_FPR_STRLEN]; /* the key in force at the head */
	tfa_sig_alg alg;
} tfa_checkpoint;

/*
 * Parses and validates a checkpoint document: canonical RFC 8785 JSON, type
 * tfattest.checkpoint, schema 1, every member present and well-formed, no
 * other member. TFA_EFORMAT with the reason otherwise.
 */
TFA_WUR tfa_err tfa_checkpoint_parse(tfa_checkpoint *out, const uint8_t *doc, size_t len);

/* A checkpoint file's parts. Initialize with tfa_checkpoint_file_init(). */
typedef struct tfa_checkpoint_file {
	tfa_checkpoint cp;
	tfa_buf doc; /* the document's exact bytes: what is signed and timestamped */
	tfa_buf sig;
	bool has_tsa;
	char nonce_hex[TFA_CHECKPOINT_NONCE_HEX];
	tfa_buf tsr; /* DER TimeStampResp */
} tfa_checkpoint_file;

void tfa_checkpoint_file_init(tfa_checkpoint_file *f);

/* Releases the buffers; accepts NULL. */
void tfa_checkpoint_file_clear(tfa_checkpoint_file *f);

/*
 * Parses a checkpoint file (the layout above, byte for byte: no other line,
 * no CR, canonical base64) and its document. It checks form only: the
 * signature and timestamp are for the verifier. TFA_EFORMAT otherwise.
 */
TFA_WUR tfa_err tfa_checkpoint_file_parse(tfa_checkpoint_file *out, const uint8_t *bytes,
					  size_t len);

/* Appends the file form of f (doc, sig and, when has_tsa, the timestamp) to out. */
TFA_WUR tfa_err tfa_checkpoint_file_write(tfa_buf *out, const tfa_checkpoint_file *f);

#if !TFATTEST_VERIFIER_ONLY

#include "signer.h"
#include "store.h"

typedef struct tfa_checkpoint_opts {
	tfa_sig_alg alg;     /* TFA_ALG_NONE: the key's default */
	const char *tsa_url; /* NULL: no timestamp */
} tfa_checkpoint_opts;

/*
 * Signs a checkpoint of the chain's head with `signer`, which must be the key
 * in force at the head, optionally timestamps it, and stores it write-once.
 * When the head already has a stored checkpoint, that one is returned
 * instead and *existed is set. *out must have been initialized.
 */
TFA_WUR tfa_err tfa_checkpoint_create(tfa_checkpoint_file *out, bool *existed, tfa_store *st,
				      tfa_signer *signer, const tfa_checkpoint_opts *o);

#endif

#endif
