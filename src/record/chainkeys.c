#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "record/chainkeys.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

void tfa_chain_keys_clear(tfa_chain_keys *keys)
{
	if (keys == NULL)
		return;
	tfa_keywalk_clear(keys->k, &keys->n);
	memset(keys, 0, sizeof(*keys));
}

const tfa_chain_key *tfa_chain_keys_at(const tfa_chain_keys *keys, uint64_t seq)
{
	return &keys->k[tfa_keywalk_at(keys->k, keys->n, seq)];
}

tfa_err tfa_chain_get_parsed(tfa_store *st, uint64_t seq, tfa_artifact *art, tfa_buf *bytes,
			     tfa_buf *sig)
{
	tfa_err rc;

	tfa_buf_clear(bytes);
	tfa_buf_clear(sig);
	rc = tfa_store_get(st, seq, bytes, sig);
	if (rc == TFA_ENOTFOUND) /* only seqs up to the head are read: a gap breaks the chain */
		return tfa_error_set(TFA_EVERIFY, "record %llu is missing below the head",
				     (unsigned long long)seq);
	if (rc != TFA_OK)
		return rc;
	if (tfa_artifact_parse(art, bytes->data, bytes->len) != TFA_OK || art->seq != seq)
		return tfa_error_set(TFA_EVERIFY, "record %llu in the store is invalid",
				     (unsigned long long)seq);
	return TFA_OK;
}

tfa_err tfa_chain_rotations(uint64_t seqs[TFA_CHAIN_KEYS_MAX], size_t *n, tfa_store *st,
			    uint64_t head)
{
	tfa_err rc = TFA_OK;
	tfa_artifact *art = NULL;
	tfa_buf bytes, sig;
	uint64_t p = head;
	size_t k = 0;

	*n = 0;
	tfa_buf_init(&bytes, TFA_ARTIFACT_MAX);
	tfa_buf_init(&sig, 0);
	art = calloc(1, sizeof(*art));
	TFA_ENSURE(art != NULL, TFA_EINTERNAL, "out of memory");
	/*
	 * A key never returns once rotated out, so each key signs one run of
	 * seqs: a binary search per key finds where its run starts, and the
	 * record before that is the rotation that brought it in.
	 */
	while (p >= 1) {
		char key[TFA_FPR_STRLEN];
		uint64_t lo = 1, hi = p;

		TFA_GUARD(tfa_chain_get_parsed(st, p, art, &bytes, &sig));
		if (art->is_rotation) {
			TFA_ENSURE(k < TFA_CHAIN_KEYS_MAX - 1, TFA_EUSAGE,
				   "chain has more than %d rotations", TFA_CHAIN_KEYS_MAX - 1);
			seqs[k++] = p;
		}
		memcpy(key, art->key_fpr, sizeof(key));
		while (lo < hi) {
			uint64_t mid = lo + (hi - lo) / 2;
			TFA_GUARD(tfa_chain_get_parsed(st, mid, art, &bytes, &sig));
			if (strcmp(art->key_fpr, key) == 0)
				hi = mid;
			else
				lo = mid + 1;
		}
		p = lo - 1;
	}
	/* Collected newest first. */
	for (size_t i = 0; i < k / 2; i++) {
		uint64_t t = seqs[i];
		seqs[i] = seqs[k - 1 - i];
		seqs[k - 1 - i] = t;
	}
	*n = k;
out:
	free(art);
	tfa_buf_free(&bytes);
	tfa_buf_free(&sig);
	return rc;
}

/* The anchor: its key must have the fingerprint the chain was created with. */
static tfa_err add_anchor(tfa_chain_keys *keys, const tfa_chain_info *info, const uint8_t *spki,
			  size_t len)
{
	char got[TFA_FPR_STRLEN];

	tfa_spki_fingerprint(got, spki, len);
	if (strcmp(got, info->anchor_fpr) != 0)
		return tfa_error_set(TFA_EVERIFY, "public key %s is not key %s", got,
				     info->anchor_fpr);
	return tfa_keywalk_anchor(keys->k, &keys->n, spki, len);
}

tfa_err tfa_chain_keys_load(tfa_chain_keys *out, tfa_store *st, const tfa_chain_info *info,
			    uint64_t head, const uint8_t *spki, size_t spki_len)
{
	tfa_err rc = TFA_OK;
	uint64_t seqs[TFA_CHAIN_KEYS_MAX];
	size_t n = 0;
	tfa_artifact *a = NULL;
	tfa_buf bytes, sig;
	tfa_keywalk_why why;
	char given[TFA_FPR_STRLEN] = "";
	bool found = false;

	tfa_buf_init(&bytes, TFA_ARTIFACT_MAX);
	tfa_buf_init(&sig, 0);
	TFA_ENSURE_ARG(out);
	memset(out, 0, sizeof(*out));
	TFA_ENSURE_ARG(st);
	TFA_ENSURE_ARG(info);
	if (spki)
		tfa_spki_fingerprint(given, spki, spki_len);
	a = calloc(1, sizeof(*a));
	TFA_ENSURE(a != NULL, TFA_EINTERNAL, "out of memory");
	if (head > 0)
		TFA_GUARD(tfa_chain_rotations(seqs, &n, st, head));
	for (size_t i = 0; i < n; i++) {
		tfa_buf_clear(&bytes);
		tfa_buf_clear(&sig);
		TFA_GUARD(tfa_store_get(st, seqs[i], &bytes, &sig));
		if (i == 0) {
			/* The first rotation record carries the anchor's public key. */
			if (tfa_artifact_parse(a, bytes.data, bytes.len) != TFA_OK ||
			    !a->is_rotation)
				TFA_BAIL(TFA_EVERIFY,
					 "rotation record %" PRIu64 " in the store is invalid: %s",
					 seqs[i], tfa_error_last()->message);
			if (add_anchor(out, info, a->rot.old_spki, a->rot.old_spki_len) != TFA_OK)
				TFA_BAIL(TFA_EVERIFY,
					 "rotation record %" PRIu64
					 " in the store: the anchor key: %s",
					 seqs[i], tfa_error_last()->message);
		}
		if (tfa_keywalk_step(out->k, &out->n, info->chain_id, seqs[i], bytes.data,
				     bytes.len, sig.data, sig.len, a, &why) != TFA_OK)
			TFA_BAIL(why == TFA_KW_OK ? tfa_error_last()->code : TFA_EVERIFY,
				 "rotation record %" PRIu64 " in the store: %s", seqs[i],
				 tfa_error_last()->message);
	}
	if (n == 0) {
		TFA_ENSURE(spki != NULL, TFA_EUSAGE, "the chain's public key is needed");
		TFA_ENSURE(strcmp(given, info->anchor_fpr) == 0, TFA_EVERIFY,
			   "key %s is not the key of chain %s (%s)", given, info->chain_id,
			   info->anchor_fpr);
		TFA_GUARD(add_anchor(out, info, spki, spki_len));
	}
	for (size_t i = 0; spki && i < out->n; i++)
		found |= strcmp(out->k[i].fpr, given) == 0;
	TFA_ENSURE(spki == NULL || found, TFA_EVERIFY, "key %s is not one of the keys of chain %s",
		   given, info->chain_id);
out:
	if (rc != TFA_OK && out)
		tfa_chain_keys_clear(out);
	free(a);
	tfa_buf_free(&bytes);
	tfa_buf_free(&sig);
	return rc;
}
