#include <stdlib.h>
#include <string.h>

#include "chainkeys.h"
#include "crypto.h"
#include "tfattest/sys/guard.h"

void tfa_chain_keys_clear(tfa_chain_keys *keys)
{
	if (keys == NULL)
		return;
	for (size_t i = 0; i < keys->n; i++)
		EVP_PKEY_free(keys->k[i].pkey);
	memset(keys, 0, sizeof(*keys));
}

const tfa_chain_key *tfa_chain_keys_at(const tfa_chain_keys *keys, uint64_t seq)
{
	size_t i = 0;

	while (i + 1 < keys->n && keys->k[i + 1].from <= seq)
		i++;
	return &keys->k[i];
}

static tfa_err add_key(tfa_chain_keys *keys, const char *fpr, const uint8_t *spki, size_t len,
		       uint64_t from)
{
	tfa_chain_key *k = &keys->k[keys->n];
	char got[TFA_FPR_STRLEN];
	tfa_err rc;

	if (keys->n >= TFA_CHAIN_KEYS_MAX)
		return tfa_error_set(TFA_EVERIFY, "chain has more than %d keys", TFA_CHAIN_KEYS_MAX);
	tfa_spki_fingerprint(got, spki, len);
	if (strcmp(got, fpr) != 0)
		return tfa_error_set(TFA_EVERIFY, "public key %s is not key %s", got, fpr);
	memset(k, 0, sizeof(*k));
	if ((rc = tfa_pkey_from_spki(&k->pkey, spki, len)) != TFA_OK)
		return rc;
	memcpy(k->fpr, fpr, sizeof(k->fpr));
	k->from = from;
	keys->n++;
	return TFA_OK;
}

tfa_err tfa_chain_keys_load(tfa_chain_keys *out, tfa_store *st, const tfa_chain_info *info,
			    uint64_t head, const uint8_t *spki, size_t spki_len)
{
	tfa_err rc = TFA_OK;
	uint64_t seqs[TFA_CHAIN_KEYS_MAX];
	size_t n = 0;
	tfa_artifact *a = NULL;
	tfa_buf bytes, sig, pop;
	uint8_t d[TFA_SHA256_LEN];
	char given[TFA_FPR_STRLEN] = "";
	bool found = false;

	tfa_buf_init(&bytes, TFA_ARTIFACT_MAX);
	tfa_buf_init(&sig, 0);
	tfa_buf_init(&pop, 4096);
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
		const tfa_chain_key *cur;

		tfa_buf_clear(&bytes);
		tfa_buf_clear(&sig);
		TFA_GUARD(tfa_store_get(st, seqs[i], &bytes, &sig));
		if (tfa_artifact_parse(a, bytes.data, bytes.len) != TFA_OK || !a->is_rotation ||
		    a->seq != seqs[i] || strcmp(a->chain_id, info->chain_id) != 0)
			TFA_BAIL(TFA_EVERIFY, "rotation record %llu in the store is invalid",
				 (unsigned long long)seqs[i]);
		if (i == 0)
			TFA_GUARD(add_key(out, info->anchor_fpr, a->rot.old_spki, a->rot.old_spki_len, 1));
		cur = &out->k[out->n - 1];
		TFA_ENSURE(strcmp(a->key_fpr, cur->fpr) == 0, TFA_EVERIFY,
			   "rotation record %llu is signed by key %s, not the key in force (%s)",
			   (unsigned long long)seqs[i], a->key_fpr, cur->fpr);
		tfa_sha256(d, bytes.data, bytes.len);
		if (tfa_verify_digest(cur->pkey, a->alg, d, sig.data, sig.len) != TFA_OK)
			TFA_BAIL(TFA_EVERIFY, "the signature of rotation record %llu is invalid",
				 (unsigned long long)seqs[i]);
		TFA_GUARD(add_key(out, a->rot.new_fpr, a->rot.spki, a->rot.spki_len, seqs[i] + 1));
		tfa_buf_clear(&pop);
		TFA_GUARD(tfa_rotation_pop_bytes(&pop, a));
		tfa_sha256(d, pop.data, pop.len);
		if (tfa_verify_digest(out->k[out->n - 1].pkey, a->rot.new_alg, d, a->rot.pop,
				      a->rot.pop_len) != TFA_OK)
			TFA_BAIL(TFA_EVERIFY, "the proof of possession in rotation record %llu is invalid",
				 (unsigned long long)seqs[i]);
	}
	if (n == 0) {
		TFA_ENSURE(spki != NULL, TFA_EUSAGE, "the chain's public key is needed");
		TFA_ENSURE(strcmp(given, info->anchor_fpr) == 0, TFA_EVERIFY,
			   "key %s is not the key of chain %s (%s)", given, info->chain_id,
			   info->anchor_fpr);
		TFA_GUARD(add_key(out, info->anchor_fpr, spki, spki_len, 1));
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
	tfa_buf_free(&pop);
	return rc;
}
