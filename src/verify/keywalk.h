/*
 * The key-in-force and rotation rules, written once: the bundle verifier
 * (keys/ of a bundle) and the store's key walk (log, show, diff, rollback
 * targets) both extend a chain's key list through these two calls, and keep
 * no checks of their own. Needs libcrypto and cJSON only.
 */
#ifndef TFA_KEYWALK_H
#define TFA_KEYWALK_H

#include <openssl/evp.h>

#include "tfattest/artifact.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

/* A chain has at most this many keys over its life: the 65th is rejected. */
#define TFA_KEYWALK_MAX 64

/* One key of a chain: the anchor, or one a checked rotation brought in. */
typedef struct tfa_keywalk_key {
	char fpr[TFA_FPR_STRLEN]; /* of its canonical SPKI: the key's identity */
	EVP_PKEY *pkey;
	uint64_t from;			  /* the first seq it signs: 1 for the anchor */
	uint64_t rot_seq;		  /* the rotation that brought it in; 0 for the anchor */
	uint8_t rot_hash[TFA_SHA256_LEN]; /* that rotation record's hash */
} tfa_keywalk_key;

/* Which rule a rotation record broke, in the order they are checked. */
typedef enum tfa_keywalk_why {
	TFA_KW_OK = 0,
	TFA_KW_RECORD, /* not a valid rotation record of this chain at this seq, after the last */
	TFA_KW_SIGNER, /* not signed by the key in force */
	TFA_KW_SIGNATURE, /* its signature does not verify */
	TFA_KW_NEW_KEY,	  /* the new key is not canonical, or not usable with new_algorithm */
	TFA_KW_RETIRED,	  /* the new key was in force before */
	TFA_KW_LIMIT,	  /* the new key would be the 65th */
	TFA_KW_POP,	  /* the proof of possession does not verify */
} tfa_keywalk_why;

/*
 * keys has room for TFA_KEYWALK_MAX entries in both calls.
 *
 * Starts a key list with the anchor, given as DER SPKI, which must be canonical
 * and supported (crypto.h, tfa_spki_canonical_check). *n becomes 1.
 * TFA_EFORMAT with the reason otherwise.
 */
TFA_WUR tfa_err tfa_keywalk_anchor(tfa_keywalk_key *keys, size_t *n, const uint8_t *spki,
				   size_t len);

/*
 * Checks one rotation record (its bytes and signature), found at `seq`, of
 * chain `chain_id`, against the keys so far (*n >= 1), and on success
 * appends the key it brings in (in force from seq + 1). The rules, in order:
 *  1. the bytes are a valid rotation record (tfa_artifact_parse) of chain_id
 *     at seq, and seq is after the last rotation so far;
 *  2. signer.key_fingerprint is the key in force (the last key so far);
 *  3. the signature verifies under that key with signer.algorithm;
 *  4. new_public_key is canonical and usable with new_algorithm;
 *  5. the new key was never in force (by fingerprint of the canonical SPKI);
 *  6. it is at most the 64th key;
 *  7. the proof of possession verifies under the new key.
 * TFA_EVERIFY with *why the rule broken and a message without the record's
 * name (the caller adds it); TFA_EINTERNAL/ECRYPTO when no check could be made.
 * `a` is scratch space the caller provides (large); it holds the parsed record after.
 */
TFA_WUR tfa_err tfa_keywalk_step(tfa_keywalk_key *keys, size_t *n, const char *chain_id,
				 uint64_t seq, const uint8_t *bytes, size_t len, const uint8_t *sig,
				 size_t siglen, tfa_artifact *a, tfa_keywalk_why *why);

/* Index of the key in force at seq (seq >= 1): the last one whose run starts at or before it. */
size_t tfa_keywalk_at(const tfa_keywalk_key *keys, size_t n, uint64_t seq);

/* Releases the keys and empties the list. */
void tfa_keywalk_clear(tfa_keywalk_key *keys, size_t *n);

#endif
