#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "record/chainkeys.h"
#include "verify/crypto.h"
#include "tfattest/sys/guard.h"

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
