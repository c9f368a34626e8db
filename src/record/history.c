#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "record/chainkeys.h"
#include "tfattest/chain.h"
#include "tfattest/history.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

struct tfa_history {
	tfa_store *st;
	tfa_chain_info info;
	tfa_chain_keys keys; /* the anchor and every rotated-in key */
	uint64_t head;
	uint64_t next;			   /* next seq for tfa_history_next */
	uint8_t last_hash[TFA_SHA256_LEN]; /* hash of next-1 */
	tfa_buf sig;
};

void tfa_history_free(tfa_history *h)
{
	if (h == NULL)
		return;
	tfa_chain_keys_clear(&h->keys);
	tfa_buf_free(&h->sig);
	free(h);
}

tfa_err tfa_history_open(tfa_history **out, tfa_store *st, const uint8_t *pubkey, size_t len)
{
	tfa_err rc = TFA_OK;
	tfa_history *h = NULL;
	tfa_buf der;

	tfa_buf_init(&der, 1 << 16);
	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(st);
	TFA_ENSURE(pubkey != NULL && len > 0, TFA_EUSAGE, "no public key given");
	h = calloc(1, sizeof(*h));
	TFA_ENSURE(h != NULL, TFA_EINTERNAL, "out of memory");
	h->st = st;
	tfa_buf_init(&h->sig, 0);
	if (len > 10 && memcmp(pubkey, "-----BEGIN", 10) == 0)
		TFA_GUARD(tfa_spki_from_pem(&der, pubkey, len));
	else
		TFA_GUARD(tfa_buf_append(&der, pubkey, len));
	{
		/* A key that does not parse is malformed input, whatever the chain holds. */
		EVP_PKEY *k = NULL;
		TFA_GUARD(tfa_pkey_from_spki(&k, der.data, der.len));
		EVP_PKEY_free(k);
	}
	TFA_GUARD(tfa_chain_info_read(&h->info, st));
	TFA_GUARD(tfa_store_head(st, &h->head));
	/* The given key must be one of the chain's: the anchor, or one a checked rotation brought
	 * in. */
	TFA_GUARD(tfa_chain_keys_load(&h->keys, st, &h->info, h->head, der.data, der.len));
	h->next = 1;
	*out = h;
	h = NULL;
out:
	tfa_buf_free(&der);
	tfa_history_free(h);
	return rc;
}

const char *tfa_history_chain_id(const tfa_history *h)
{
	return h ? h->info.chain_id : "";
}

uint64_t tfa_history_head(const tfa_history *h)
{
	return h ? h->head : 0;
}

/* Reads record seq and checks it alone: validity, place, signature. */
static tfa_err read_checked(tfa_history *h, uint64_t seq, tfa_buf *artifact, tfa_artifact *meta,
			    uint8_t digest[TFA_SHA256_LEN])
{
	tfa_err rc = TFA_OK;
	const tfa_chain_key *k;

	tfa_buf_clear(artifact);
	tfa_buf_clear(&h->sig);
	rc = tfa_store_get(h->st, seq, artifact, &h->sig);
	if (rc == TFA_ENOTFOUND)
		return rc;
	TFA_GUARD(rc);
	rc = tfa_artifact_parse(meta, artifact->data, artifact->len);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EVERIFY, "record %llu is invalid: %s", (unsigned long long)seq,
			 tfa_error_last()->message);
	TFA_ENSURE(meta->seq == seq && strcmp(meta->chain_id, h->info.chain_id) == 0, TFA_EVERIFY,
		   "record %llu does not belong at its place in chain %s", (unsigned long long)seq,
		   h->info.chain_id);
	k = tfa_chain_keys_at(&h->keys, seq);
	TFA_ENSURE(strcmp(meta->key_fpr, k->fpr) == 0, TFA_EVERIFY,
		   "record %llu names key %s, not the key in force at its seq (%s)",
		   (unsigned long long)seq, meta->key_fpr, k->fpr);
	tfa_sha256(digest, artifact->data, artifact->len);
	if (tfa_verify_digest(k->pkey, meta->alg, digest, h->sig.data, h->sig.len) != TFA_OK)
		TFA_BAIL(TFA_EVERIFY, "the signature of record %llu is invalid",
			 (unsigned long long)seq);
	if (seq <= h->head) {
		/*
		 * The keys were taken from an earlier read of the rotation records:
		 * the record shown must be the one they came from, not one the store
		 * holds now in its place.
		 */
		const tfa_chain_key *nk = tfa_chain_keys_at(&h->keys, seq + 1);
		bool rot_here = nk != k;
		TFA_ENSURE(
		    meta->is_rotation == rot_here &&
			(!rot_here || strcmp(nk->fpr, meta->rot.new_fpr) == 0),
		    TFA_EVERIFY,
		    "record %llu is not the record the chain's keys were read from: the store "
		    "changed while it was read",
		    (unsigned long long)seq);
	}
out:
	return rc;
}

tfa_err tfa_history_next(tfa_history *h, tfa_buf *artifact, tfa_artifact *meta,
			 char hash[TFA_FPR_STRLEN])
{
	tfa_err rc = TFA_OK;
	uint8_t d[TFA_SHA256_LEN];
	static const uint8_t zero[TFA_SHA256_LEN];

	TFA_ENSURE_ARG(h);
	TFA_ENSURE_ARG(artifact);
	TFA_ENSURE_ARG(meta);
	if (h->next > TFA_SEQ_MAX)
		return TFA_ENOTFOUND;
	rc = read_checked(h, h->next, artifact, meta, d);
	if (rc == TFA_ENOTFOUND) {
		/* A gap below the head is a broken chain, not its end. */
		if (h->next <= h->head)
			TFA_BAIL(TFA_EVERIFY, "record %llu is missing below the head %llu",
				 (unsigned long long)h->next, (unsigned long long)h->head);
		return TFA_ENOTFOUND;
	}
	TFA_GUARD(rc);
	if (CRYPTO_memcmp(meta->prev_hash, h->next == 1 ? zero : h->last_hash, TFA_SHA256_LEN) != 0)
		TFA_BAIL(TFA_EVERIFY,
			 "record %llu does not link to record %llu (prev_hash mismatch)",
			 (unsigned long long)h->next, (unsigned long long)(h->next - 1));
	memcpy(h->last_hash, d, sizeof(d));
	if (hash)
		tfa_hash_str(hash, d);
	h->next++;
out:
	return rc;
}

tfa_err tfa_history_get(tfa_history *h, uint64_t seq, tfa_buf *artifact, tfa_artifact *meta,
			char hash[TFA_FPR_STRLEN])
{
	tfa_err rc = TFA_OK;
	uint8_t d[TFA_SHA256_LEN], pd[TFA_SHA256_LEN];
	tfa_buf other, osig;
	tfa_artifact om;

	tfa_buf_init(&other, TFA_ARTIFACT_MAX);
	tfa_buf_init(&osig, 0);
	TFA_ENSURE_ARG(h);
	TFA_ENSURE_ARG(artifact);
	TFA_ENSURE_ARG(meta);
	TFA_ENSURE(seq >= 1 && seq <= TFA_SEQ_MAX, TFA_EUSAGE, "no such seq");
	rc = read_checked(h, seq, artifact, meta, d);
	if (rc == TFA_ENOTFOUND)
		TFA_BAIL(TFA_ENOTFOUND, "chain %s has no record %llu", h->info.chain_id,
			 (unsigned long long)seq);
	TFA_GUARD(rc);
	if (seq == 1) {
		memset(pd, 0, sizeof(pd));
	} else {
		rc = tfa_store_get(h->st, seq - 1, &other, &osig);
		if (rc == TFA_ENOTFOUND)
			TFA_BAIL(TFA_EVERIFY, "record %llu is missing",
				 (unsigned long long)(seq - 1));
		TFA_GUARD(rc);
		tfa_sha256(pd, other.data, other.len);
	}
	if (CRYPTO_memcmp(meta->prev_hash, pd, TFA_SHA256_LEN) != 0)
		TFA_BAIL(TFA_EVERIFY,
			 "record %llu does not link to record %llu (prev_hash mismatch)",
			 (unsigned long long)seq, (unsigned long long)(seq - 1));
	tfa_buf_clear(&other);
	tfa_buf_clear(&osig);
	rc = tfa_store_get(h->st, seq + 1, &other, &osig);
	if (rc == TFA_OK) {
		if (tfa_artifact_parse(&om, other.data, other.len) != TFA_OK ||
		    CRYPTO_memcmp(om.prev_hash, d, TFA_SHA256_LEN) != 0)
			TFA_BAIL(TFA_EVERIFY, "record %llu does not link to record %llu",
				 (unsigned long long)(seq + 1), (unsigned long long)seq);
	} else if (rc == TFA_ENOTFOUND) {
		rc = TFA_OK;
		if (seq < h->head)
			TFA_BAIL(TFA_EVERIFY, "record %llu is missing below the head",
				 (unsigned long long)(seq + 1));
	} else {
		goto out;
	}
	if (hash)
		tfa_hash_str(hash, d);
out:
	tfa_buf_free(&other);
	tfa_buf_free(&osig);
	return rc;
}
