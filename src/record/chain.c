#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "capture/artifact_write.h"
#include "format/jfield.h"
#include "format/timefmt.h"
#include "record/chainkeys.h"
#include "record/signer_int.h"
#include "tfattest/capture.h"
#include "tfattest/chain.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

/* Appends race only with other writers; each retry re-reads the head. */
#define APPEND_ATTEMPTS 1000

tfa_err tfa_chain_info_read(tfa_chain_info *out, tfa_store *st)
{
	static const char *const members[] = {"anchor_key_fingerprint", "chain_id", "created",
					      "schema_version",		"type",	    NULL};
	tfa_err rc = TFA_OK;
	tfa_buf raw;
	tfa_json *doc = NULL;
	const tfa_json_value *root;
	const char *s;
	size_t n;
	int64_t v;
	uint8_t tmp[TFA_SHA256_LEN];

	memset(out, 0, sizeof(*out));
	tfa_buf_init(&raw, 0);
	TFA_GUARD(tfa_store_read_chain(st, &raw));
	rc = tfa_json_parse(&doc, raw.data, raw.len);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "chain metadata is corrupt: %s", tfa_error_last()->message);
	root = tfa_json_root(doc);
	TFA_GUARD(tfa_jf_only(root, members, "chain metadata"));
	TFA_GUARD(tfa_jf_str(&s, &n, root, "type", 64, "chain metadata"));
	TFA_ENSURE(n == strlen(TFA_CHAIN_TYPE) && memcmp(s, TFA_CHAIN_TYPE, n) == 0, TFA_EFORMAT,
		   "chain metadata has the wrong type");
	TFA_GUARD(tfa_jf_int(&v, root, "schema_version", 1, 1, "chain metadata"));
	TFA_GUARD(tfa_jf_strcpy(out->chain_id, sizeof(out->chain_id), root, "chain_id",
				"chain metadata"));
	TFA_GUARD(tfa_chain_id_check(out->chain_id, strlen(out->chain_id)));
	TFA_GUARD(tfa_jf_hash(tmp, root, "anchor_key_fingerprint", "chain metadata"));
	TFA_GUARD(tfa_jf_strcpy(out->anchor_fpr, sizeof(out->anchor_fpr), root,
				"anchor_key_fingerprint", "chain metadata"));
	TFA_GUARD(tfa_jf_str(&s, &n, root, "created", 32, "chain metadata"));
	TFA_GUARD(tfa_time_parse(&out->created, s, n));
out:
	tfa_json_free(doc);
	tfa_buf_free(&raw);
	return rc;
}

tfa_err tfa_chain_init(tfa_store *st, const char *chain_id, const tfa_signer *signer)
{
	tfa_err rc = TFA_OK;
	cJSON *root = NULL;
	char *text = NULL;
	char when[TFA_TIME_STRLEN];
	tfa_buf canon;

	tfa_buf_init(&canon, 0);
	TFA_ENSURE_ARG(st);
	TFA_ENSURE_ARG(signer);
	TFA_ENSURE(chain_id != NULL, TFA_EUSAGE, "no chain name given (--chain NAME)");
	if (tfa_chain_id_check(chain_id, strlen(chain_id)) != TFA_OK)
		TFA_BAIL(TFA_EUSAGE, "%s", tfa_error_last()->message);
	tfa_time_format(when, (int64_t)time(NULL));
	root = cJSON_CreateObject();
	TFA_ENSURE(root != NULL && cJSON_AddStringToObject(root, "type", TFA_CHAIN_TYPE) &&
		       cJSON_AddNumberToObject(root, "schema_version", 1) &&
		       cJSON_AddStringToObject(root, "chain_id", chain_id) &&
		       cJSON_AddStringToObject(root, "anchor_key_fingerprint",
					       tfa_signer_fingerprint(signer)) &&
		       cJSON_AddStringToObject(root, "created", when),
		   TFA_EINTERNAL, "out of memory");
	text = cJSON_PrintUnformatted(root);
	TFA_ENSURE(text != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_jcs_canonicalize(&canon, (const uint8_t *)text, strlen(text)));
	TFA_GUARD(tfa_buf_putc(&canon, '\n'));
	TFA_GUARD(tfa_store_create_chain(st, canon.data, canon.len));
out:
	cJSON_free(text);
	cJSON_Delete(root);
	tfa_buf_free(&canon);
	return rc;
}

/* Reads and checks the head record; fills its hash and signing key. */
static tfa_err read_head(tfa_store *st, const tfa_chain_info *info, uint64_t head,
			 char head_hash[TFA_FPR_STRLEN], char key_fpr[TFA_FPR_STRLEN],
			 tfa_artifact *art, tfa_buf *sig)
{
	tfa_err rc = TFA_OK;
	tfa_buf bytes;
	uint8_t d[TFA_SHA256_LEN];

	tfa_buf_init(&bytes, TFA_ARTIFACT_MAX);
	TFA_GUARD(tfa_store_get(st, head, &bytes, sig));
	rc = tfa_artifact_parse(art, bytes.data, bytes.len);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EVERIFY, "the store's head record %llu is invalid: %s",
			 (unsigned long long)head, tfa_error_last()->message);
	TFA_ENSURE(art->seq == head && strcmp(art->chain_id, info->chain_id) == 0, TFA_EVERIFY,
		   "the store's head record %llu does not belong at its place in chain %s",
		   (unsigned long long)head, info->chain_id);
	tfa_sha256(d, bytes.data, bytes.len);
	tfa_hash_str(head_hash, d);
	/* The head tells the key in force after it: no scan of the chain. */
	memcpy(key_fpr, tfa_artifact_key_after(art), TFA_FPR_STRLEN);
out:
	tfa_buf_free(&bytes);
	return rc;
}

tfa_err tfa_chain_head(tfa_store *st, const tfa_chain_info *info, uint64_t *head,
		       char head_hash[TFA_FPR_STRLEN], char key_fpr[TFA_FPR_STRLEN])
{
	tfa_err rc = TFA_OK;
	tfa_artifact art;
	tfa_buf sig;

	tfa_buf_init(&sig, 0);
	TFA_GUARD(tfa_store_head(st, head));
	if (*head == 0) {
		memcpy(head_hash, TFA_GENESIS_HASH, sizeof(TFA_GENESIS_HASH));
		memcpy(key_fpr, info->anchor_fpr, TFA_FPR_STRLEN);
	} else {
		TFA_GUARD(read_head(st, info, *head, head_hash, key_fpr, &art, &sig));
	}
out:
	tfa_buf_free(&sig);
	return rc;
}

/* A short random pause after losing a race, so that writers spread out. */
static void backoff(unsigned attempt)
{
	unsigned char r = 0;
	struct timespec ts;

	if (RAND_bytes(&r, 1) != 1)
		r = (unsigned char)getpid();
	ts.tv_sec = 0;
	ts.tv_nsec = (long)((attempt < 8 ? attempt : 8) * 100000L + r * 2000L);
	nanosleep(&ts, NULL);
}

/* Makes the artifact bytes for seq h->seq, once the head is known. */
typedef tfa_err (*build_fn)(tfa_buf *out, const tfa_artifact_head *h, void *ud);

/* Checks the head record against the signer: its signature, or for a rotation its proof of
 * possession. */
static tfa_err check_head(tfa_signer *signer, const tfa_artifact *art, const char *head_hash,
			  const tfa_buf *hsig, uint64_t head)
{
	tfa_err rc = TFA_OK;
	uint8_t hd[TFA_SHA256_LEN];
	tfa_buf pop;

	tfa_buf_init(&pop, 4096);
	if (art->is_rotation) {
		/* Signed by the previous key, which the signer no longer is: check
		 * what the new key itself vouched for instead. */
		TFA_GUARD(tfa_rotation_pop_bytes(&pop, art));
		tfa_sha256(hd, pop.data, pop.len);
		rc = tfa_verify_digest(tfa_signer_pkey(signer), art->rot.new_alg, hd, art->rot.pop,
				       art->rot.pop_len);
		if (rc != TFA_OK)
			TFA_BAIL(
			    TFA_EVERIFY,
			    "the proof of possession in the store's head record %llu is invalid",
			    (unsigned long long)head);
	} else {
		TFA_GUARD(tfa_hash_parse(hd, head_hash, strlen(head_hash)));
		rc =
		    tfa_verify_digest(tfa_signer_pkey(signer), art->alg, hd, hsig->data, hsig->len);
		if (rc != TFA_OK)
			TFA_BAIL(TFA_EVERIFY,
				 "the signature of the store's head record %llu is invalid",
				 (unsigned long long)head);
	}
out:
	tfa_buf_free(&pop);
	return rc;
}

static tfa_err append_loop(uint64_t *seq_out, tfa_store *st, tfa_signer *signer, tfa_sig_alg alg,
			   build_fn build, void *ud)
{
	tfa_err rc = TFA_OK;
	tfa_chain_info info;
	tfa_buf bytes, sig, hsig;
	tfa_artifact *art = NULL;
	uint8_t digest[TFA_SHA256_LEN];
	char head_hash[TFA_FPR_STRLEN], key_fpr[TFA_FPR_STRLEN];
	uint64_t head = 0;
	unsigned attempt;

	tfa_buf_init(&bytes, TFA_ARTIFACT_MAX);
	tfa_buf_init(&sig, 0);
	tfa_buf_init(&hsig, 0);
	art = calloc(1, sizeof(*art));
	TFA_ENSURE(art != NULL, TFA_EINTERNAL, "out of memory");
	if (alg == TFA_ALG_NONE)
		alg = tfa_signer_default_alg(signer);
	TFA_GUARD(tfa_signer_check_alg(signer, alg));
	TFA_GUARD(tfa_chain_info_read(&info, st));
	for (attempt = 0; attempt < APPEND_ATTEMPTS; attempt++) {
		tfa_artifact_head h;

		tfa_buf_clear(&bytes);
		tfa_buf_clear(&sig);
		tfa_buf_clear(&hsig);
		TFA_GUARD(tfa_store_head(st, &head));
		if (head == 0) {
			memcpy(head_hash, TFA_GENESIS_HASH, sizeof(TFA_GENESIS_HASH));
			memcpy(key_fpr, info.anchor_fpr, TFA_FPR_STRLEN);
		} else {
			TFA_GUARD(read_head(st, &info, head, head_hash, key_fpr, art, &hsig));
		}
		if (strcmp(key_fpr, tfa_signer_fingerprint(signer)) != 0)
			TFA_BAIL(TFA_EVERIFY, "key %s is not the current key of chain %s (%s)",
				 tfa_signer_fingerprint(signer), info.chain_id, key_fpr);
		/* Check the head, so a tampered head is noticed before anything links to it. */
		if (head > 0)
			TFA_GUARD(check_head(signer, art, head_hash, &hsig, head));
		TFA_ENSURE(head < TFA_SEQ_MAX, TFA_EUSAGE, "chain %s is full", info.chain_id);
		h.chain_id = info.chain_id;
		h.seq = head + 1;
		h.prev_hash = head_hash;
		h.time = (int64_t)time(NULL);
		h.signer = signer;
		h.alg = alg;
		TFA_GUARD(build(&bytes, &h, ud));
		tfa_sha256(digest, bytes.data, bytes.len);
		TFA_GUARD(tfa_signer_sign(&sig, signer, alg, digest));
		rc = tfa_store_append(st, h.seq, bytes.data, bytes.len, sig.data, sig.len);
		if (rc == TFA_OK) {
			if (seq_out)
				*seq_out = h.seq;
			goto out;
		}
		if (rc != TFA_ECONFLICT)
			goto out;
		backoff(attempt);
	}
	TFA_BAIL(TFA_EBACKEND, "gave up after %u attempts to append: too much contention", attempt);
out:
	free(art);
	tfa_buf_free(&bytes);
	tfa_buf_free(&sig);
	tfa_buf_free(&hsig);
	return rc;
}

tfa_err tfa_chain_record_hash(char hash[TFA_FPR_STRLEN], tfa_store *st, const tfa_signer *signer,
			      uint64_t seq)
{
	tfa_err rc = TFA_OK;
	tfa_chain_info info;
	tfa_chain_keys keys;
	const tfa_chain_key *k;
	tfa_artifact art;
	tfa_buf bytes, sig;
	uint8_t d[TFA_SHA256_LEN];
	const uint8_t *spki;
	size_t spki_len = 0;
	uint64_t head = 0;

	memset(&keys, 0, sizeof(keys));
	tfa_buf_init(&bytes, TFA_ARTIFACT_MAX);
	tfa_buf_init(&sig, 0);
	TFA_ENSURE_ARG(hash);
	TFA_ENSURE_ARG(st);
	TFA_ENSURE_ARG(signer);
	TFA_GUARD(tfa_chain_info_read(&info, st));
	rc = tfa_store_get(st, seq, &bytes, &sig);
	if (rc == TFA_ENOTFOUND)
		TFA_BAIL(TFA_ENOTFOUND, "chain %s has no record %llu", info.chain_id,
			 (unsigned long long)seq);
	TFA_GUARD(rc);
	rc = tfa_artifact_parse(&art, bytes.data, bytes.len);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EVERIFY, "record %llu is invalid: %s", (unsigned long long)seq,
			 tfa_error_last()->message);
	TFA_ENSURE(art.seq == seq && strcmp(art.chain_id, info.chain_id) == 0, TFA_EVERIFY,
		   "record %llu does not belong at its place in chain %s", (unsigned long long)seq,
		   info.chain_id);
	/* The record was signed by the key in force at its seq, which rotations may have retired
	 * since. */
	TFA_GUARD(tfa_store_head(st, &head));
	spki = tfa_signer_spki(signer, &spki_len);
	TFA_GUARD(tfa_chain_keys_load(&keys, st, &info, head, spki, spki_len));
	k = tfa_chain_keys_at(&keys, seq);
	TFA_ENSURE(strcmp(art.key_fpr, k->fpr) == 0, TFA_EVERIFY,
		   "record %llu was signed by key %s, not the key in force at its seq (%s)",
		   (unsigned long long)seq, art.key_fpr, k->fpr);
	tfa_sha256(d, bytes.data, bytes.len);
	if (tfa_verify_digest(k->pkey, art.alg, d, sig.data, sig.len) != TFA_OK)
		TFA_BAIL(TFA_EVERIFY, "the signature of record %llu is invalid",
			 (unsigned long long)seq);
	tfa_hash_str(hash, d);
out:
	tfa_chain_keys_clear(&keys);
	tfa_buf_free(&bytes);
	tfa_buf_free(&sig);
	return rc;
}

/* Which mark of the event a search compares: the spool id or the idempotency key. */
typedef enum find_mark { FIND_SPOOL_ID, FIND_IDEMPOTENCY_KEY } find_mark;

static tfa_err find_marked(uint64_t *seq_out, tfa_store *st, find_mark mark, const char *id,
			   int64_t not_before, uint64_t limit)
{
	tfa_err rc = TFA_OK;
	tfa_buf bytes, sig;
	tfa_artifact *art = NULL;
	uint64_t head = 0;

	tfa_buf_init(&bytes, TFA_ARTIFACT_MAX);
	tfa_buf_init(&sig, 0);
	TFA_ENSURE_ARG(seq_out);
	*seq_out = 0;
	TFA_ENSURE_ARG(st);
	TFA_ENSURE_ARG(id);
	art = calloc(1, sizeof(*art));
	TFA_ENSURE(art != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_store_head(st, &head));
	for (uint64_t seq = head, n = 0; seq >= 1 && n < limit; seq--, n++) {
		bool hit;

		tfa_buf_clear(&bytes);
		tfa_buf_clear(&sig);
		TFA_GUARD(tfa_store_get(st, seq, &bytes, &sig));
		if (tfa_artifact_parse(art, bytes.data, bytes.len) != TFA_OK)
			TFA_BAIL(TFA_EVERIFY, "record %llu is invalid: %s", (unsigned long long)seq,
				 tfa_error_last()->message);
		if (mark == FIND_SPOOL_ID)
			hit = art->spooled && strcmp(art->spool_id, id) == 0;
		else
			hit = art->idempotency_key[0] != '\0' &&
			      strcmp(art->idempotency_key, id) == 0;
		if (hit) {
			*seq_out = seq;
			break;
		}
		if (art->time < not_before)
			break;
	}
out:
	free(art);
	tfa_buf_free(&bytes);
	tfa_buf_free(&sig);
	return rc;
}

tfa_err tfa_chain_find_spool_id(uint64_t *seq_out, tfa_store *st, const char *id,
				int64_t not_before, uint64_t limit)
{
	return find_marked(seq_out, st, FIND_SPOOL_ID, id, not_before, limit);
}

tfa_err tfa_chain_find_idempotency_key(uint64_t *seq_out, tfa_store *st, const char *key,
				       int64_t not_before, uint64_t limit)
{
	return find_marked(seq_out, st, FIND_IDEMPOTENCY_KEY, key, not_before, limit);
}

tfa_err tfa_chain_append_once(uint64_t *seq_out, bool *replayed, tfa_store *st, tfa_signer *signer,
			      tfa_sig_alg alg, const tfa_capture *c)
{
	tfa_err rc = TFA_OK;
	const char *key;
	uint64_t found = 0;
	char why[512];

	TFA_ENSURE_ARG(replayed);
	*replayed = false;
	TFA_ENSURE_ARG(st);
	TFA_ENSURE_ARG(signer);
	TFA_ENSURE_ARG(c);
	key = tfa_capture_idempotency_key(c);
	if (key != NULL) {
		TFA_GUARD(tfa_chain_find_idempotency_key(
		    &found, st, key, (int64_t)time(NULL) - TFA_CHAIN_IDEMPOTENCY_WINDOW_AGE,
		    TFA_CHAIN_IDEMPOTENCY_WINDOW));
		if (found != 0) {
			*replayed = true;
			if (seq_out)
				*seq_out = found;
			goto out;
		}
	}
	rc = tfa_chain_append(seq_out, st, signer, alg, c);
	if (rc != TFA_OK && key != NULL && (rc == TFA_EIO || rc == TFA_EBACKEND)) {
		/* The key first: it is what the reader needs, and a long cause is cut. */
		snprintf(why, sizeof(why), "%s", tfa_error_last()->message);
		TFA_BAIL(
		    rc,
		    "the outcome is unknown: the record may have been appended; run the same "
		    "command again with --idempotency-key %s (or TFATTEST_IDEMPOTENCY_KEY=%s), "
		    "which finds the record if it was appended and appends it once if not "
		    "(%.200s)",
		    key, key, why);
	}
out:
	return rc;
}

static tfa_err build_capture(tfa_buf *out, const tfa_artifact_head *h, void *ud)
{
	return tfa_artifact_build(out, ud, h);
}

tfa_err tfa_chain_append(uint64_t *seq_out, tfa_store *st, tfa_signer *signer, tfa_sig_alg alg,
			 const tfa_capture *c)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE_ARG(st);
	TFA_ENSURE_ARG(signer);
	TFA_ENSURE_ARG(c);
	rc = append_loop(seq_out, st, signer, alg, build_capture, (void *)c);
out:
	return rc;
}

typedef struct rotate_ctx {
	tfa_signer *next;
	tfa_sig_alg next_alg;
} rotate_ctx;

/* Gathers what a rotation record states, the new key's proof of possession first. */
static tfa_err build_rotation(tfa_buf *out, const tfa_artifact_head *h, void *ud)
{
	rotate_ctx *rx = ud;
	tfa_err rc = TFA_OK;
	tfa_buf pop, popsig;
	tfa_artifact a;
	tfa_rotation_fields r;
	uint8_t d[TFA_SHA256_LEN];

	tfa_buf_init(&pop, 4096);
	tfa_buf_init(&popsig, 0);
	/* The proof of possession: the new key signs the rotation's place in the chain. */
	memset(&a, 0, sizeof(a));
	snprintf(a.chain_id, sizeof(a.chain_id), "%s", h->chain_id);
	a.seq = h->seq;
	TFA_GUARD(tfa_hash_parse(a.prev_hash, h->prev_hash, strlen(h->prev_hash)));
	snprintf(a.key_fpr, sizeof(a.key_fpr), "%s", tfa_signer_fingerprint(h->signer));
	a.is_rotation = true;
	a.rot.new_alg = rx->next_alg;
	snprintf(a.rot.new_fpr, sizeof(a.rot.new_fpr), "%s", tfa_signer_fingerprint(rx->next));
	TFA_GUARD(tfa_rotation_pop_bytes(&pop, &a));
	tfa_sha256(d, pop.data, pop.len);
	TFA_GUARD(tfa_signer_sign(&popsig, rx->next, rx->next_alg, d));

	memset(&r, 0, sizeof(r));
	r.new_fpr = tfa_signer_fingerprint(rx->next);
	r.new_alg = rx->next_alg;
	r.new_backend = tfa_signer_backend_name(rx->next);
	r.new_prov = tfa_signer_provenance(rx->next, &r.new_prov_len);
	r.new_spki = tfa_signer_spki(rx->next, &r.new_spki_len);
	r.pop = popsig.data;
	r.pop_len = popsig.len;
	TFA_GUARD(tfa_artifact_build_rotation(out, h, &r));
out:
	tfa_buf_free(&pop);
	tfa_buf_free(&popsig);
	return rc;
}

tfa_err tfa_chain_rotate(uint64_t *seq_out, tfa_store *st, tfa_signer *signer, tfa_sig_alg alg,
			 tfa_signer *next, tfa_sig_alg next_alg)
{
	tfa_err rc = TFA_OK;
	tfa_chain_info info;
	tfa_artifact *art = NULL;
	tfa_buf bytes, sig;
	uint64_t head, seqs[TFA_CHAIN_KEYS_MAX];
	size_t n = 0;
	char hh[TFA_FPR_STRLEN], key[TFA_FPR_STRLEN];
	rotate_ctx rx;

	tfa_buf_init(&bytes, TFA_ARTIFACT_MAX);
	tfa_buf_init(&sig, 0);
	TFA_ENSURE_ARG(st);
	TFA_ENSURE_ARG(signer);
	TFA_ENSURE_ARG(next);
	art = calloc(1, sizeof(*art));
	TFA_ENSURE(art != NULL, TFA_EINTERNAL, "out of memory");
	if (next_alg == TFA_ALG_NONE)
		next_alg = tfa_signer_default_alg(next);
	TFA_GUARD(tfa_signer_check_alg(next, next_alg));
	TFA_ENSURE(strcmp(tfa_signer_fingerprint(signer), tfa_signer_fingerprint(next)) != 0,
		   TFA_EUSAGE, "the new key is the current key");
	/* A retired key never comes back: it may be why the chain rotated. */
	TFA_GUARD(tfa_chain_info_read(&info, st));
	TFA_GUARD(tfa_chain_head(st, &info, &head, hh, key));
	TFA_ENSURE(strcmp(info.anchor_fpr, tfa_signer_fingerprint(next)) != 0, TFA_EUSAGE,
		   "key %s was in force earlier in chain %s: a retired key cannot return",
		   tfa_signer_fingerprint(next), info.chain_id);
	TFA_GUARD(tfa_chain_rotations(seqs, &n, st, head));
	TFA_ENSURE(n < TFA_CHAIN_KEYS_MAX - 1, TFA_EUSAGE, "chain %s has too many rotations",
		   info.chain_id);
	for (size_t i = 0; i < n; i++) {
		TFA_GUARD(tfa_chain_get_parsed(st, seqs[i], art, &bytes, &sig));
		TFA_ENSURE(strcmp(art->rot.new_fpr, tfa_signer_fingerprint(next)) != 0, TFA_EUSAGE,
			   "key %s was in force earlier in chain %s: a retired key cannot return",
			   tfa_signer_fingerprint(next), info.chain_id);
	}
	rx.next = next;
	rx.next_alg = next_alg;
	rc = append_loop(seq_out, st, signer, alg, build_rotation, &rx);
out:
	free(art);
	tfa_buf_free(&bytes);
	tfa_buf_free(&sig);
	return rc;
}
