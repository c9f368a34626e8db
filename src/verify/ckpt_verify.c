/*
 * Layer 5: the checkpoints the bundle is held to, the caller's trusted ones
 * and the bundle's own, with their RFC 3161 timestamps when a TSA CA is given.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "format/timefmt.h"
#include "tfattest/sys/guard.h"
#include "verify/tsa.h"
#include "verify/vfy_int.h"

/*
 * Reads and parses the checkpoints before layer 2, so the scan can keep the
 * hashes of the artifacts at their seqs. Problems are reported in layer 5.
 */
tfa_err tfa_vfy_load_checkpoints(tfa_vfy_ctx *v)
{
	tfa_err rc = TFA_OK;
	tfa_buf raw;

	tfa_buf_init(&raw, TFA_CHECKPOINT_FILE_MAX);
	for (size_t i = 0; i <= v->opts->ncheckpoints; i++) {
		tfa_vfy_ckpt *c;
		bool own = i == v->opts->ncheckpoints;

		if (own && !v->lists_ckpt)
			break;
		c = &v->ckpts[v->nckpts++];
		tfa_checkpoint_file_init(&c->f);
		c->trusted = !own;
		c->path = own ? TFA_VFY_BUNDLE_CKPT : v->opts->checkpoints[i];
		tfa_buf_clear(&raw);
		if (own) {
			/* Its hash is checked in layer 2; this read only learns its seq. */
			if (tfa_vfy_read_small(&raw, &v->src, TFA_VFY_BUNDLE_CKPT,
					       TFA_CHECKPOINT_FILE_MAX) != TFA_OK) {
				snprintf(c->why, sizeof(c->why), "%s", tfa_error_last()->message);
				continue;
			}
		} else {
			rc = tfa_buf_read_file(&raw, c->path, TFA_CHECKPOINT_FILE_MAX);
			if (rc == TFA_EFORMAT) {
				snprintf(c->why, sizeof(c->why), "%s", tfa_error_last()->message);
				rc = TFA_OK;
				continue;
			}
			if (rc != TFA_OK)
				goto out; /* a caller's file unreadable: its error names it */
		}
		if (tfa_checkpoint_file_parse(&c->f, raw.data, raw.len) != TFA_OK)
			snprintf(c->why, sizeof(c->why), "%s", tfa_error_last()->message);
		else
			c->parsed = true;
	}
	tfa_error_clear();
out:
	tfa_buf_free(&raw);
	return rc;
}

/* Layer 5 for one checkpoint. */
static tfa_err check_checkpoint(tfa_vfy_ctx *v, tfa_vfy_ckpt *c)
{
	tfa_err rc = TFA_OK;
	const tfa_checkpoint *cp = &c->f.cp;
	const char *f = c->path;
	tfa_verify_checkpoint *r;
	uint8_t d[TFA_SHA256_LEN];
	const tfa_vfy_key *k;
	char hh[TFA_FPR_STRLEN];

	if (!c->trusted) {
		/* The bundle's own copy: parse the bytes layer 2 hashed, not a second read. */
		c->parsed = false;
		tfa_checkpoint_file_clear(&c->f);
		tfa_checkpoint_file_init(&c->f);
		if (!v->own_ckpt_read)
			snprintf(c->why, sizeof(c->why), "%s is larger than the limit of %zu bytes",
				 TFA_VFY_BUNDLE_CKPT, (size_t)TFA_CHECKPOINT_FILE_MAX);
		else if (tfa_checkpoint_file_parse(&c->f, v->own_ckpt.data, v->own_ckpt.len) ==
			 TFA_OK)
			c->parsed = true;
		else
			snprintf(c->why, sizeof(c->why), "%s", tfa_error_last()->message);
	}
	if (!c->parsed)
		return tfa_vfy_fail(v, TFA_LAYER_CHECKPOINTS, f, 0, "Checkpoint %s invalid: %s", f,
				    c->why);
	if (strcmp(cp->chain_id, v->man.chain_id) != 0)
		return tfa_vfy_fail(v, TFA_LAYER_CHECKPOINTS, f, cp->seq,
				    "Checkpoint %s is of chain %s, not of the bundle's chain %s", f,
				    cp->chain_id, v->man.chain_id);
	if (cp->seq > v->man.to_seq)
		return tfa_vfy_fail(v, TFA_LAYER_CHECKPOINTS, f, cp->seq,
				    "Bundle ends at seq %" PRIu64
				    ", before checkpoint %s (seq %" PRIu64 "): "
				    "records are withheld or the bundle is an older export",
				    v->man.to_seq, f, cp->seq);
	if (cp->seq + 1 < v->man.from_seq)
		return tfa_vfy_fail(v, TFA_LAYER_CHECKPOINTS, f, cp->seq,
				    "Bundle starts at seq %" PRIu64
				    ", after checkpoint %s (seq %" PRIu64 "): "
				    "it cannot show that it extends it",
				    v->man.from_seq, f, cp->seq);
	/* Signed by the key in force after its seq: the one that would sign seq + 1. */
	k = &v->keys[tfa_vfy_key_index(v, cp->seq + 1)];
	if (strcmp(cp->key_fpr, k->fpr) != 0)
		return tfa_vfy_fail(v, TFA_LAYER_CHECKPOINTS, f, cp->seq,
				    "Checkpoint %s (seq %" PRIu64
				    ") is signed by key %s, not the key in force after seq %" PRIu64
				    " (%s)",
				    f, cp->seq, cp->key_fpr, cp->seq, k->fpr);
	tfa_sha256(d, c->f.doc.data, c->f.doc.len);
	rc = tfa_verify_digest(k->pkey, cp->alg, d, c->f.sig.data, c->f.sig.len);
	if (rc == TFA_EVERIFY)
		return tfa_vfy_fail(v, TFA_LAYER_CHECKPOINTS, f, cp->seq,
				    "Checkpoint %s (seq %" PRIu64 "): signature invalid", f,
				    cp->seq);
	if (rc != TFA_OK)
		return rc;
	tfa_hash_str(hh, cp->head_hash);
	if (cp->seq >= v->man.from_seq) {
		if (!c->have_hash || CRYPTO_memcmp(c->art_hash, cp->head_hash, TFA_SHA256_LEN) != 0)
			return tfa_vfy_fail(v, TFA_LAYER_CHECKPOINTS, f, cp->seq,
					    "Checkpoint %s (seq %" PRIu64
					    ") names head %s, but artifacts/%012" PRIu64
					    ".json differs: the chain was rewritten or forked",
					    f, cp->seq, hh, cp->seq);
	} else if (CRYPTO_memcmp(v->man.base_hash, cp->head_hash, TFA_SHA256_LEN) != 0) {
		return tfa_vfy_fail(v, TFA_LAYER_CHECKPOINTS, f, cp->seq,
				    "Checkpoint %s (seq %" PRIu64
				    ") names head %s, but the bundle's base_hash differs: "
				    "the chain was rewritten or forked",
				    f, cp->seq, hh);
	}
	r = &v->rep->checkpoints[v->rep->ncheckpoints++];
	snprintf(r->file, sizeof(r->file), "%s", f);
	r->trusted = c->trusted;
	r->seq = cp->seq;
	memcpy(r->head_hash, hh, sizeof(hh));
	r->time = cp->time;
	if (c->f.has_tsa && v->opts->tsa_ca) {
		tfa_tsa_info ti;
		char when[TFA_TIME_STRLEN];
		rc = tfa_tsa_verify(&ti, c->f.tsr.data, c->f.tsr.len, d, c->f.nonce_hex,
				    v->opts->tsa_ca);
		if (rc == TFA_EVERIFY || rc == TFA_EFORMAT)
			return tfa_vfy_fail(v, TFA_LAYER_CHECKPOINTS, f, cp->seq,
					    "Checkpoint %s (seq %" PRIu64
					    "): timestamp invalid: %s",
					    f, cp->seq, tfa_error_last()->message);
		if (rc != TFA_OK)
			return rc;
		r->ts = TFA_TS_VALID;
		r->ts_gen_time = ti.gen_time;
		snprintf(r->ts_subject, sizeof(r->ts_subject), "%s", ti.tsa_subject);
		tfa_time_format(when, ti.gen_time);
		tfa_vfy_emit(v, "SUCCESS", "Checkpoint %s timestamped at %s by %s", f, when,
			     ti.tsa_subject);
	} else if (c->f.has_tsa) {
		r->ts = TFA_TS_UNCHECKED;
		tfa_vfy_emit(
		    v, "WARN",
		    "Checkpoint %s carries an RFC 3161 timestamp, not checked (give --tsa-ca)", f);
	}
	if (c->trusted)
		tfa_vfy_emit(v, "SUCCESS",
			     "Bundle reaches trusted checkpoint %s (seq %" PRIu64 ", head %s)", f,
			     cp->seq, hh);
	else
		tfa_vfy_emit(v, "INFO",
			     "Bundle's own checkpoint (seq %" PRIu64
			     ") is consistent, but untrusted: "
			     "pass a copy obtained out of band with --checkpoint",
			     cp->seq);
	return TFA_OK;
}

tfa_err tfa_vfy_check_checkpoints(tfa_vfy_ctx *v)
{
	for (size_t i = 0; i < v->nckpts; i++) {
		tfa_err rc = check_checkpoint(v, &v->ckpts[i]);
		if (rc != TFA_OK)
			return rc;
	}
	if (v->opts->ncheckpoints == 0)
		tfa_vfy_emit(v, "INFO",
			     "No trusted checkpoint given: records after seq %" PRIu64
			     " may exist that this bundle does not show",
			     v->man.to_seq);
	return TFA_OK;
}
