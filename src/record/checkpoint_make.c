/* Making checkpoints of a chain's head (full build). */
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "format/timefmt.h"
#include "record/signer_int.h"
#include "record/tsa_request.h"
#include "tfattest/chain.h"
#include "tfattest/checkpoint.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"
#include "verify/tsa.h"

/*
 * Loads the stored checkpoint of exactly the head `seq` into out, and holds it
 * to the chain: a store's writer must not be able to pass an older (validly
 * signed) checkpoint off as the head's, since --out hands it on as trusted.
 */
static tfa_err load_stored(tfa_checkpoint_file *out, tfa_store *st, const tfa_chain_info *info,
			   uint64_t seq, const char *head_hash, const tfa_signer *signer)
{
	tfa_err rc = TFA_OK;
	tfa_buf raw;
	uint64_t got = 0;
	uint8_t hh[TFA_SHA256_LEN], d[TFA_SHA256_LEN];

	tfa_buf_init(&raw, TFA_CHECKPOINT_FILE_MAX);
	TFA_GUARD(tfa_store_latest_checkpoint(st, seq, seq, &got, &raw));
	rc = tfa_checkpoint_file_parse(out, raw.data, raw.len);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EVERIFY, "the stored checkpoint of seq %llu is invalid: %s",
			 (unsigned long long)seq, tfa_error_last()->message);
	TFA_GUARD(tfa_hash_parse(hh, head_hash, strlen(head_hash)));
	TFA_ENSURE(got == seq && out->cp.seq == seq &&
		       strcmp(out->cp.chain_id, info->chain_id) == 0 &&
		       CRYPTO_memcmp(out->cp.head_hash, hh, sizeof(hh)) == 0 &&
		       strcmp(out->cp.key_fpr, tfa_signer_fingerprint(signer)) == 0,
		   TFA_EVERIFY, "the stored checkpoint of seq %llu does not state the chain's head",
		   (unsigned long long)seq);
	tfa_sha256(d, out->doc.data, out->doc.len);
	if (tfa_verify_digest(tfa_signer_pkey(signer), out->cp.alg, d, out->sig.data,
			      out->sig.len) != TFA_OK)
		TFA_BAIL(TFA_EVERIFY, "the stored checkpoint of seq %llu has an invalid signature",
			 (unsigned long long)seq);
out:
	tfa_buf_free(&raw);
	return rc;
}

tfa_err tfa_checkpoint_create(tfa_checkpoint_file *out, bool *existed, tfa_store *st,
			      tfa_signer *signer, const tfa_checkpoint_opts *o)
{
	tfa_err rc = TFA_OK;
	tfa_chain_info info;
	uint64_t head = 0;
	char head_hash[TFA_FPR_STRLEN], key_fpr[TFA_FPR_STRLEN], when[TFA_TIME_STRLEN];
	tfa_sig_alg alg;
	cJSON *root = NULL, *sg;
	char *text = NULL;
	uint8_t d[TFA_SHA256_LEN];
	tfa_buf file;

	tfa_buf_init(&file, TFA_CHECKPOINT_FILE_MAX);
	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(st);
	TFA_ENSURE_ARG(signer);
	TFA_ENSURE_ARG(o);
	*existed = false;
	alg = o->alg == TFA_ALG_NONE ? tfa_signer_default_alg(signer) : o->alg;
	TFA_GUARD(tfa_signer_check_alg(signer, alg));
	TFA_GUARD(tfa_chain_info_read(&info, st));
	TFA_GUARD(tfa_chain_head(st, &info, &head, head_hash, key_fpr));
	TFA_ENSURE(head > 0, TFA_EUSAGE, "chain %s has no records to checkpoint", info.chain_id);
	if (strcmp(key_fpr, tfa_signer_fingerprint(signer)) != 0)
		TFA_BAIL(TFA_EVERIFY, "key %s is not the current key of chain %s (%s)",
			 tfa_signer_fingerprint(signer), info.chain_id, key_fpr);
	rc = load_stored(out, st, &info, head, head_hash, signer);
	if (rc == TFA_OK) {
		*existed = true;
		goto out;
	}
	if (rc != TFA_ENOTFOUND)
		goto out;
	tfa_error_clear();
	rc = TFA_OK;

	tfa_time_format(when, (int64_t)time(NULL));
	root = cJSON_CreateObject();
	sg = cJSON_CreateObject();
	TFA_ENSURE(root && sg && cJSON_AddItemToObject(root, "signer", sg), TFA_EINTERNAL,
		   "out of memory");
	TFA_ENSURE(cJSON_AddStringToObject(sg, "key_fingerprint", key_fpr) &&
		       cJSON_AddStringToObject(sg, "algorithm", tfa_sig_alg_name(alg)) &&
		       cJSON_AddStringToObject(root, "type", TFA_CHECKPOINT_TYPE) &&
		       cJSON_AddNumberToObject(root, "schema_version", TFA_CHECKPOINT_SCHEMA) &&
		       cJSON_AddStringToObject(root, "chain_id", info.chain_id) &&
		       cJSON_AddNumberToObject(root, "seq", (double)head) &&
		       cJSON_AddStringToObject(root, "head_hash", head_hash) &&
		       cJSON_AddStringToObject(root, "time", when),
		   TFA_EINTERNAL, "out of memory");
	text = cJSON_PrintUnformatted(root);
	TFA_ENSURE(text != NULL, TFA_EINTERNAL, "out of memory");
	tfa_buf_clear(&out->doc);
	tfa_buf_clear(&out->sig);
	tfa_buf_clear(&out->tsr);
	TFA_GUARD(tfa_jcs_canonicalize(&out->doc, (const uint8_t *)text, strlen(text)));
	TFA_GUARD(tfa_checkpoint_parse(&out->cp, out->doc.data, out->doc.len));
	tfa_sha256(d, out->doc.data, out->doc.len);
	TFA_GUARD(tfa_signer_sign(&out->sig, signer, alg, d));
	out->has_tsa = false;
	if (o->tsa_url) {
		char nonce[TFA_TSA_NONCE_HEX];
		TFA_GUARD(tfa_tsa_fetch(&out->tsr, nonce, o->tsa_url, d));
		TFA_ENSURE(strlen(nonce) == 16, TFA_EBACKEND, "the timestamp nonce is not 64 bits");
		memcpy(out->nonce_hex, nonce, sizeof(out->nonce_hex));
		out->has_tsa = true;
	}
	TFA_GUARD(tfa_checkpoint_file_write(&file, out));
	rc = tfa_store_put_checkpoint(st, head, file.data, file.len);
	if (rc == TFA_ECONFLICT) {
		/* Another writer checkpointed this head first: theirs stands. */
		TFA_GUARD(load_stored(out, st, &info, head, head_hash, signer));
		*existed = true;
	}
out:
	cJSON_free(text);
	cJSON_Delete(root);
	tfa_buf_free(&file);
	return rc;
}
