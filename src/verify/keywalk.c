#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tfattest/sys/guard.h"
#include "verify/crypto.h"
#include "verify/keywalk.h"

tfa_err tfa_keywalk_anchor(tfa_keywalk_key *keys, size_t *n, const uint8_t *spki, size_t len)
{
	tfa_keywalk_key *k = &keys[0];
	tfa_err rc;

	*n = 0;
	memset(k, 0, sizeof(*k));
	if ((rc = tfa_pkey_from_spki(&k->pkey, spki, len)) != TFA_OK)
		return rc;
	tfa_spki_fingerprint(k->fpr, spki, len);
	k->from = 1;
	*n = 1;
	return TFA_OK;
}

static tfa_err broke(tfa_keywalk_why *why, tfa_keywalk_why w)
{
	*why = w;
	return TFA_EVERIFY;
}

tfa_err tfa_keywalk_step(tfa_keywalk_key *keys, size_t *n, const char *chain_id, uint64_t seq,
			 const uint8_t *bytes, size_t len, const uint8_t *sig, size_t siglen,
			 tfa_artifact *a, tfa_keywalk_why *why)
{
	tfa_err rc = TFA_OK;
	const tfa_keywalk_key *cur;
	EVP_PKEY *nk = NULL;
	uint8_t h[TFA_SHA256_LEN], rh[TFA_SHA256_LEN];
	tfa_buf pop;

	*why = TFA_KW_OK;
	tfa_buf_init(&pop, 4096);
	TFA_ENSURE(*n >= 1 && *n <= TFA_KEYWALK_MAX, TFA_EINTERNAL, "key walk without an anchor");
	cur = &keys[*n - 1];
	/* 1: a rotation record of this chain at this seq, after the last one. */
	if (tfa_artifact_parse(a, bytes, len) != TFA_OK) {
		rc = broke(why, TFA_KW_RECORD);
		tfa_error_set(rc, "invalid rotation record: %s", tfa_error_last()->message);
		goto out;
	}
	if (!a->is_rotation || a->seq != seq || strcmp(a->chain_id, chain_id) != 0) {
		rc = broke(why, TFA_KW_RECORD);
		tfa_error_set(rc, "not a rotation record of chain %s at seq %" PRIu64, chain_id,
			      seq);
		goto out;
	}
	if (seq <= cur->rot_seq) {
		rc = broke(why, TFA_KW_RECORD);
		tfa_error_set(rc, "not after the previous rotation (seq %" PRIu64 ")",
			      cur->rot_seq);
		goto out;
	}
	/* 2, 3: signed by the key in force, and the signature verifies. */
	if (strcmp(a->key_fpr, cur->fpr) != 0) {
		rc = broke(why, TFA_KW_SIGNER);
		tfa_error_set(rc, "signed by key %s, not the key in force at seq %" PRIu64 " (%s)",
			      a->key_fpr, seq, cur->fpr);
		goto out;
	}
	tfa_sha256(rh, bytes, len);
	if (tfa_verify_digest(cur->pkey, a->alg, rh, sig, siglen) != TFA_OK) {
		rc = broke(why, TFA_KW_SIGNATURE);
		tfa_error_set(rc, "signature invalid (%s)", tfa_error_last()->message);
		goto out;
	}
	/* 4: the new key is canonical and fits its algorithm. */
	if (tfa_pkey_from_spki(&nk, a->rot.spki, a->rot.spki_len) != TFA_OK ||
	    tfa_pkey_check_alg(nk, a->rot.new_alg) != TFA_OK) {
		rc = broke(why, TFA_KW_NEW_KEY);
		tfa_error_set(rc, "the new key is unusable: %s", tfa_error_last()->message);
		goto out;
	}
	/* 5: never in force before. Keys are canonical, so one key has one fingerprint. */
	for (size_t k = 0; k < *n; k++)
		if (strcmp(keys[k].fpr, a->rot.new_fpr) == 0) {
			rc = broke(why, TFA_KW_RETIRED);
			tfa_error_set(rc, "brings back the retired key %s", a->rot.new_fpr);
			goto out;
		}
	/* 6: at most 64 keys over the chain's life. */
	if (*n >= TFA_KEYWALK_MAX) {
		rc = broke(why, TFA_KW_LIMIT);
		tfa_error_set(rc, "brings in a key beyond the limit of %d keys", TFA_KEYWALK_MAX);
		goto out;
	}
	/* 7: the new key signed the proof of possession. */
	TFA_GUARD(tfa_rotation_pop_bytes(&pop, a));
	tfa_sha256(h, pop.data, pop.len);
	if (tfa_verify_digest(nk, a->rot.new_alg, h, a->rot.pop, a->rot.pop_len) != TFA_OK) {
		rc = broke(why, TFA_KW_POP);
		tfa_error_set(rc, "proof of possession invalid");
		goto out;
	}
	memset(&keys[*n], 0, sizeof(keys[*n]));
	keys[*n].pkey = nk;
	nk = NULL;
	memcpy(keys[*n].fpr, a->rot.new_fpr, sizeof(keys[*n].fpr));
	keys[*n].from = seq + 1;
	keys[*n].rot_seq = seq;
	memcpy(keys[*n].rot_hash, rh, sizeof(rh));
	(*n)++;
out:
	EVP_PKEY_free(nk);
	tfa_buf_free(&pop);
	return rc;
}

size_t tfa_keywalk_at(const tfa_keywalk_key *keys, size_t n, uint64_t seq)
{
	size_t i = 0;

	while (i + 1 < n && keys[i + 1].from <= seq)
		i++;
	return i;
}

void tfa_keywalk_clear(tfa_keywalk_key *keys, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		EVP_PKEY_free(keys[i].pkey);
	memset(keys, 0, *n * sizeof(*keys));
	*n = 0;
}
