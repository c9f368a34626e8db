/*
 * The keys of a chain as its store holds them: the anchor, and every key a
 * rotation record handed the chain to, each with the first seq it signs.
 * Built by reading only the rotation records (found by binary search), each
 * held to the same rules as a bundle's keys/ (keywalk.h). Private to the
 * library. chain.c builds on this file, never the other way round: the reads
 * the key walk needs (tfa_chain_rotations(), declared in tfattest/chain.h,
 * and tfa_chain_get_parsed()) live here.
 */
#ifndef TFA_CHAINKEYS_H
#define TFA_CHAINKEYS_H

#include <openssl/evp.h>

#include "tfattest/chain.h"
#include "verify/keywalk.h"

/* fpr, pkey, and from: the first seq it signs (1 for the anchor). */
typedef tfa_keywalk_key tfa_chain_key;

typedef struct tfa_chain_keys {
	tfa_chain_key k[TFA_CHAIN_KEYS_MAX];
	size_t n;
} tfa_chain_keys;

/*
 * Loads the keys of the chain up to `head`. `spki` is a public key (DER SPKI)
 * the caller holds; it must be one of the chain's keys. The anchor's public
 * key comes from the first rotation record (which carries it), or, for a chain
 * that never rotated, from `spki`. TFA_EVERIFY when a rotation breaks a rule
 * of keywalk.h or `spki` is not one of the chain's keys.
 */
TFA_WUR tfa_err tfa_chain_keys_load(tfa_chain_keys *out, tfa_store *st, const tfa_chain_info *info,
				    uint64_t head, const uint8_t *spki, size_t spki_len);

/* The key in force at seq (seq >= 1). */
const tfa_chain_key *tfa_chain_keys_at(const tfa_chain_keys *keys, uint64_t seq);

/*
 * Reads record seq (at or below the head) of the store and parses it into
 * art; bytes and sig get its stored parts. TFA_EVERIFY when it is missing or
 * invalid.
 */
TFA_WUR tfa_err tfa_chain_get_parsed(tfa_store *st, uint64_t seq, tfa_artifact *art, tfa_buf *bytes,
				     tfa_buf *sig);

/* Releases the keys. Accepts NULL. */
void tfa_chain_keys_clear(tfa_chain_keys *keys);

#endif
