/*
 * The artifact writer: every record of a chain, a deployment (a capture at its
 * place in the chain) or a key rotation, becomes canonical bytes here
 * (docs/FORMAT.md). src/verify/artifact.c reads what this writes.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "capture/artifact_write.h"
#include "capture/capture_int.h"
#include "format/b64.h"
#include "format/timefmt.h"
#include "tfattest/artifact.h"
#include "tfattest/capture.h"
#include "tfattest/jcs.h"
#include "tfattest/signer.h"
#include "tfattest/sys/guard.h"

/*
 * The members every record has: type, schema_version, chain_id, seq,
 * prev_hash, time, and the signer (key_fingerprint, algorithm, backend),
 * returned in *signer_out for the caller to add to.
 */
static tfa_err add_head(cJSON *root, const tfa_artifact_head *h, int schema, cJSON **signer_out)
{
	tfa_err rc = TFA_OK;
	char when[TFA_TIME_STRLEN];
	cJSON *signer;

	TFA_ENSURE(h->seq >= 1 && h->seq <= TFA_SEQ_MAX, TFA_EUSAGE,
		   "sequence number out of range");
	TFA_GUARD(tfa_cap_add_str(root, "type", TFA_ARTIFACT_TYPE));
	TFA_GUARD(tfa_cap_add_num(root, "schema_version", schema));
	TFA_GUARD(tfa_cap_add_str(root, "chain_id", h->chain_id));
	TFA_GUARD(tfa_cap_add_num(root, "seq", (double)h->seq));
	TFA_GUARD(tfa_cap_add_str(root, "prev_hash", h->prev_hash));
	tfa_time_format(when, h->time);
	TFA_GUARD(tfa_cap_add_str(root, "time", when));
	signer = tfa_cap_new_obj(root, "signer");
	TFA_ENSURE(signer != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_cap_add_str(signer, "key_fingerprint", tfa_signer_fingerprint(h->signer)));
	TFA_GUARD(tfa_cap_add_str(signer, "algorithm", tfa_sig_alg_name(h->alg)));
	TFA_GUARD(tfa_cap_add_str(signer, "backend", tfa_signer_backend_name(h->signer)));
	*signer_out = signer;
out:
	return rc;
}

/*
 * Adds a string as it is, not cut at CTX_STR_MAX: a rotation's keys and
 * signature in base64 run past it (and its fields were always written so).
 */
static tfa_err add_raw(cJSON *o, const char *k, const char *v)
{
	return cJSON_AddStringToObject(o, k, v) ? TFA_OK
						: tfa_error_set(TFA_EINTERNAL, "out of memory");
}

/* Provenance pairs as an object member, each value added with add. */
static tfa_err add_provenance(cJSON *obj, const char *key, const tfa_kv *kv, size_t nkv,
			      tfa_err (*add)(cJSON *, const char *, const char *))
{
	tfa_err rc = TFA_OK;
	cJSON *prov;

	if (nkv == 0)
		return TFA_OK;
	prov = tfa_cap_new_obj(obj, key);
	TFA_ENSURE(prov != NULL, TFA_EINTERNAL, "out of memory");
	for (size_t i = 0; i < nkv; i++)
		TFA_GUARD(add(prov, kv[i].name, kv[i].value));
out:
	return rc;
}

/* The canonical bytes of root, within TFA_ARTIFACT_MAX. */
static tfa_err finish(tfa_buf *out, const cJSON *root)
{
	tfa_err rc = TFA_OK;
	char *text = cJSON_PrintUnformatted(root);

	TFA_ENSURE(text != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_jcs_canonicalize(out, (const uint8_t *)text, strlen(text)));
	TFA_ENSURE(out->len <= TFA_ARTIFACT_MAX, TFA_EFORMAT,
		   "the artifact would exceed %u bytes (too many resource changes)",
		   TFA_ARTIFACT_MAX);
out:
	cJSON_free(text);
	return rc;
}

tfa_err tfa_artifact_build(tfa_buf *out, const tfa_capture *c, const tfa_artifact_head *h)
{
	tfa_err rc = TFA_OK;
	cJSON *root = NULL, *signer;
	const tfa_kv *kv;
	size_t nkv;

	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(h);
	root = cJSON_CreateObject();
	TFA_ENSURE(root != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(add_head(root, h, TFA_ARTIFACT_SCHEMA, &signer));
	TFA_ENSURE(cJSON_AddItemReferenceToObject(root, "event", c->event) &&
		       cJSON_AddItemReferenceToObject(root, "terraform", c->terraform) &&
		       cJSON_AddItemReferenceToObject(root, "context", c->context),
		   TFA_EINTERNAL, "out of memory");
	if (c->identity)
		TFA_ENSURE(cJSON_AddItemReferenceToObject(root, "identity", c->identity),
			   TFA_EINTERNAL, "out of memory");
	kv = tfa_signer_provenance(h->signer, &nkv);
	TFA_GUARD(add_provenance(signer, "provenance", kv, nkv, tfa_cap_add_str));
	TFA_GUARD(finish(out, root));
out:
	cJSON_Delete(root);
	return rc;
}

/* Adds data in base64; b64 is scratch space. */
static tfa_err add_b64(cJSON *o, const char *k, tfa_buf *b64, const uint8_t *data, size_t len)
{
	tfa_err rc = TFA_OK;

	tfa_buf_clear(b64);
	TFA_GUARD(tfa_b64_encode(b64, data, len));
	TFA_GUARD(tfa_buf_putc(b64, '\0'));
	TFA_GUARD(add_raw(o, k, (const char *)b64->data));
out:
	return rc;
}

tfa_err tfa_artifact_build_rotation(tfa_buf *out, const tfa_artifact_head *h,
				    const tfa_rotation_fields *r)
{
	tfa_err rc = TFA_OK;
	cJSON *root = NULL, *signer, *o;
	tfa_buf b64;
	const uint8_t *spki;
	size_t spki_len = 0;

	tfa_buf_init(&b64, 0);
	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(h);
	TFA_ENSURE_ARG(r);
	root = cJSON_CreateObject();
	TFA_ENSURE(root != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(add_head(root, h, TFA_ARTIFACT_SCHEMA_ROTATION, &signer));
	o = cJSON_AddObjectToObject(root, "event");
	TFA_ENSURE(o != NULL && cJSON_AddNumberToObject(o, "exit_code", 0), TFA_EINTERNAL,
		   "out of memory");
	TFA_GUARD(add_raw(o, "type", "rotate"));
	TFA_GUARD(add_raw(o, "status", "succeeded"));
	o = cJSON_AddObjectToObject(root, "rotation");
	TFA_ENSURE(o != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(add_raw(o, "new_key_fingerprint", r->new_fpr));
	TFA_GUARD(add_raw(o, "new_algorithm", tfa_sig_alg_name(r->new_alg)));
	TFA_GUARD(add_raw(o, "new_backend", r->new_backend));
	TFA_GUARD(add_provenance(o, "new_provenance", r->new_prov, r->new_prov_len, add_raw));
	TFA_GUARD(add_b64(o, "new_public_key", &b64, r->new_spki, r->new_spki_len));
	TFA_GUARD(add_b64(o, "pop_signature", &b64, r->pop, r->pop_len));
	spki = tfa_signer_spki(h->signer, &spki_len);
	TFA_GUARD(add_b64(o, "old_public_key", &b64, spki, spki_len));
	TFA_GUARD(finish(out, root));
out:
	cJSON_Delete(root);
	tfa_buf_free(&b64);
	return rc;
}
