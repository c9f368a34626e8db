/*
 * The artifact writer: a capture and its place in the chain become the
 * canonical bytes of an artifact (docs/FORMAT.md). src/verify/artifact.c reads
 * what this writes.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "capture/capture_int.h"
#include "format/timefmt.h"
#include "tfattest/artifact.h"
#include "tfattest/capture.h"
#include "tfattest/jcs.h"
#include "tfattest/signer.h"
#include "tfattest/sys/guard.h"

tfa_err tfa_artifact_build(tfa_buf *out, const tfa_capture *c, const tfa_artifact_head *h)
{
	tfa_err rc = TFA_OK;
	cJSON *root = NULL, *signer, *prov;
	char *text = NULL;
	char when[TFA_TIME_STRLEN];
	const tfa_kv *kv;
	size_t nkv;

	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(h);
	TFA_ENSURE(h->seq >= 1 && h->seq <= TFA_SEQ_MAX, TFA_EUSAGE, "sequence number out of range");
	root = cJSON_CreateObject();
	TFA_ENSURE(root != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_cap_add_str(root, "type", TFA_ARTIFACT_TYPE));
	TFA_GUARD(tfa_cap_add_num(root, "schema_version", TFA_ARTIFACT_SCHEMA));
	TFA_GUARD(tfa_cap_add_str(root, "chain_id", h->chain_id));
	TFA_GUARD(tfa_cap_add_num(root, "seq", (double)h->seq));
	TFA_GUARD(tfa_cap_add_str(root, "prev_hash", h->prev_hash));
	tfa_time_format(when, h->time);
	TFA_GUARD(tfa_cap_add_str(root, "time", when));
	TFA_ENSURE(cJSON_AddItemReferenceToObject(root, "event", c->event) &&
			   cJSON_AddItemReferenceToObject(root, "terraform", c->terraform) &&
			   cJSON_AddItemReferenceToObject(root, "context", c->context),
		   TFA_EINTERNAL, "out of memory");
	signer = tfa_cap_new_obj(root, "signer");
	TFA_ENSURE(signer != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_cap_add_str(signer, "key_fingerprint", tfa_signer_fingerprint(h->signer)));
	TFA_GUARD(tfa_cap_add_str(signer, "algorithm", tfa_sig_alg_name(h->alg)));
	TFA_GUARD(tfa_cap_add_str(signer, "backend", tfa_signer_backend_name(h->signer)));
	kv = tfa_signer_provenance(h->signer, &nkv);
	if (nkv) {
		prov = tfa_cap_new_obj(signer, "provenance");
		TFA_ENSURE(prov != NULL, TFA_EINTERNAL, "out of memory");
		for (size_t i = 0; i < nkv; i++)
			TFA_GUARD(tfa_cap_add_str(prov, kv[i].name, kv[i].value));
	}
	text = cJSON_PrintUnformatted(root);
	TFA_ENSURE(text != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_jcs_canonicalize(out, (const uint8_t *)text, strlen(text)));
	TFA_ENSURE(out->len <= TFA_ARTIFACT_MAX, TFA_EFORMAT,
		   "the artifact would exceed %u bytes (too many resource changes)", TFA_ARTIFACT_MAX);
out:
	cJSON_free(text);
	cJSON_Delete(root);
	return rc;
}
