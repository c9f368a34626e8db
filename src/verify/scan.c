/*
 * Layers 2-4: the manifest is scanned once more in path order. Artifacts are
 * queued in fixed-size batches, two arrays of them: a few threads read, hash,
 * parse and check the signatures of one while the scan fills the other, and
 * the scanning thread joins them once it has filled it. Each batch is then
 * judged in seq order (file hashes, then links, then signatures), so the
 * first failure reported is the one a layer-by-layer run would report.
 * Other files are hashed in turn as the scan reaches them.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "tfattest/bundle.h"
#include "tfattest/sys/guard.h"
#include "verify/vfy_int.h"

#define OTHER_FILE_MAX ((uint64_t)1 << 30)
/* With on_artifact, the bytes a batch may hold for it before the batch is judged early. */
#define KEEP_BATCH_MAX ((uint64_t)64 << 20)

/* Layer 2's walk through the source: an entry no bundle may hold is a layer-2 failure. */
static tfa_err walk(tfa_vfy_ctx *v, uint64_t *count, const tfa_manifest *index)
{
	char bad[TFA_PATH_MAX_LEN * 2];
	tfa_err rc;

	bad[0] = '\0';
	rc = v->src.ops->walk(&v->src, count, index, bad, sizeof(bad));
	if (rc == TFA_EVERIFY)
		rc = tfa_vfy_fail(v, TFA_LAYER_FILES, bad, 0, "%s", tfa_error_last()->message);
	return rc;
}

/* Streams a listed file of any size through SHA-256; returns a TFA_VFY_FR_* code. */
static int hash_listed(const tfa_bsrc *src, const tfa_manifest_file *mf, tfa_buf *buf)
{
	int res = TFA_VFY_FR_MISMATCH;
	uint64_t total = 0;
	uint8_t d[TFA_SHA256_LEN];
	EVP_MD_CTX *md = NULL;
	tfa_bfile f;
	tfa_err orc = src->ops->open(src, -1, mf->path, &f);
	bool opened = orc == TFA_OK;

	if (orc != TFA_OK) {
		res = orc == TFA_ENOTFOUND ? TFA_VFY_FR_MISSING : TFA_VFY_FR_UNSAFE;
		goto out;
	}
	md = EVP_MD_CTX_new();
	if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
	    tfa_buf_reserve(buf, 65536) != TFA_OK)
		goto out;
	for (;;) {
		ssize_t n = src->ops->read(&f, buf->data, 65536);
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > mf->size || total > OTHER_FILE_MAX)
			goto out;
		EVP_DigestUpdate(md, buf->data, (size_t)n);
	}
	if (total == mf->size && EVP_DigestFinal_ex(md, d, NULL) &&
	    CRYPTO_memcmp(d, mf->sha256, TFA_SHA256_LEN) == 0)
		res = TFA_VFY_FR_OK;
out:
	tfa_error_clear();
	EVP_MD_CTX_free(md);
	if (opened)
		src->ops->close(&f);
	return res;
}

_Static_assert(sizeof(((tfa_verify_record *)0)->event) == sizeof(((tfa_artifact *)0)->event) &&
		   sizeof(((tfa_verify_record *)0)->status) == sizeof(((tfa_artifact *)0)->status),
	       "a record's event and status are copied whole from the artifact's");

static void check_job(tfa_vfy_worker *w, int batch, size_t i)
{
	tfa_vfy_ctx *v = w->v;
	tfa_vfy_job *j = &v->jobs[batch][i];
	uint8_t sh[TFA_SHA256_LEN];
	tfa_artifact art, *a = &art;
	size_t k;
	int r;

	r = tfa_vfy_read_listed(&w->art, &v->src, w->hint, &j->json, TFA_ARTIFACT_MAX, j->hash);
	if (r == TFA_VFY_FR_OK) {
		r = tfa_vfy_read_listed(&w->sig, &v->src, w->hint, &j->sig, TFA_SIG_MAX, sh);
		j->bad_sig = r != TFA_VFY_FR_OK;
	}
	j->files = (uint8_t)r;
	if (r != TFA_VFY_FR_OK)
		return;
	if (v->opts->on_artifact) {
		j->keep = malloc(w->art.len + w->sig.len + 1);
		if (j->keep == NULL) {
			j->keep_failed = 1;
		} else {
			memcpy(j->keep, w->art.data, w->art.len);
			memcpy(j->keep + w->art.len, w->sig.data, w->sig.len);
			j->keep_len = w->art.len;
			j->keep_siglen = w->sig.len;
		}
	}
	if (tfa_artifact_parse(a, w->art.data, w->art.len) != TFA_OK) {
		tfa_error_clear();
		return;
	}
	j->parse_ok = 1;
	if (a->spooled)
		atomic_fetch_add(&v->spooled, 1);
	if (v->recs[batch]) {
		tfa_verify_record *rec = &v->recs[batch][i];
		rec->seq = a->seq;
		rec->time = a->time;
		memcpy(rec->event, a->event, sizeof(rec->event));
		memcpy(rec->status, a->status, sizeof(rec->status));
		rec->spooled = a->spooled;
		rec->deployed_at = a->deployed_at;
		rec->spooled_at = a->spooled_at;
		rec->has_identity = a->has_identity;
	}
	memcpy(j->prev, a->prev_hash, TFA_SHA256_LEN);
	j->place_ok = a->seq == j->seq && strcmp(a->chain_id, v->man.chain_id) == 0;
	j->is_rot = a->is_rotation;
	j->rb_seq = a->rollback_to;
	memcpy(j->rb_hash, a->rollback_hash, TFA_SHA256_LEN);
	k = tfa_vfy_key_index(v, j->seq);
	j->sig_ok =
	    strcmp(a->key_fpr, v->keys[k].fpr) == 0 &&
	    tfa_verifier_check(&w->ver[k], a->alg, j->hash, w->sig.data, w->sig.len) == TFA_OK;
	tfa_error_clear();
}

static void *worker_main(void *arg)
{
	tfa_vfy_worker *w = arg;
	tfa_vfy_ctx *v = w->v;

	for (;;) {
		size_t i = atomic_fetch_add(&v->next_job, 1);
		if (i >= v->njobs[v->busy])
			break;
		check_job(w, v->busy, i);
	}
	return NULL;
}

static const char *const f_words[] = {"", "Missing file:", "Unsafe file:", "Hash mismatch for"};

/* Records a layer-2 failure: the first in path order, since entries are handled in order. */
static tfa_err l2_fail(tfa_vfy_ctx *v, const char *path, uint64_t seq, int why)
{
	v->l2_failed = true;
	snprintf(v->l2_path, sizeof(v->l2_path), "%s", path);
	v->l2_seq = seq;
	if (seq)
		snprintf(v->l2_msg, sizeof(v->l2_msg), "%s %s (seq %" PRIu64 ")", f_words[why],
			 path, seq);
	else
		snprintf(v->l2_msg, sizeof(v->l2_msg), "%s %s", f_words[why], path);
	return TFA_EVERIFY; /* stops the scan */
}

static void l3_fail(tfa_vfy_ctx *v, const char *path, uint64_t seq, bool explain, const char *fmt,
		    ...) TFA_PRINTF(5, 6);
static void l3_fail(tfa_vfy_ctx *v, const char *path, uint64_t seq, bool explain, const char *fmt,
		    ...)
{
	va_list ap;

	if (v->l3_failed)
		return;
	v->l3_failed = true;
	v->l3_explain = explain;
	v->l3_seq = seq;
	snprintf(v->l3_path, sizeof(v->l3_path), "%s", path);
	va_start(ap, fmt);
	vsnprintf(v->l3_msg, sizeof(v->l3_msg), fmt, ap);
	va_end(ap);
}

/*
 * Starts the workers on the array being filled; the scan goes on with the
 * other. The scanning thread is worker 0: once it has filled the next array
 * it takes what jobs are left (finish), so there is one thread a core and
 * no core waits while the scan runs ahead.
 */
static void launch(tfa_vfy_ctx *v)
{
	v->busy = v->fill;
	v->fill ^= 1;
	v->njobs[v->fill] = 0;
	v->fill_bytes = 0;
	atomic_store(&v->next_job, 0);
	v->started = 0;
	if (v->njobs[v->busy] > 1)
		for (unsigned t = 1; t < v->nthreads; t++)
			if (pthread_create(&v->tids[v->started], NULL, worker_main, &v->ws[t]) == 0)
				v->started++;
}

/* Waits for the workers, if any are running. */
static void drain(tfa_vfy_ctx *v)
{
	for (unsigned t = 0; t < v->started; t++)
		pthread_join(v->tids[t], NULL);
	v->started = 0;
}

static void free_kept(tfa_vfy_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(jobs[i].keep);
		jobs[i].keep = NULL;
	}
}

/*
 * Hands a judged artifact to on_artifact and on_record: only while nothing
 * has failed, so every call is for a record that passed, in seq order.
 */
static tfa_err deliver(tfa_vfy_ctx *v, tfa_vfy_job *j, const tfa_verify_record *a)
{
	tfa_err rc = TFA_OK;

	if (v->l3_failed || v->l4_failed)
		return TFA_OK;
	if (v->opts->on_artifact) {
		if (j->keep_failed)
			return v->cb_rc = tfa_error_set(TFA_EINTERNAL, "out of memory");
		rc = v->opts->on_artifact(v->opts->artifact_ud, j->seq, j->keep, j->keep_len,
					  j->keep + j->keep_len, j->keep_siglen);
	}
	if (rc == TFA_OK && a)
		rc = v->opts->on_record(v->opts->record_ud, a);
	if (rc != TFA_OK) {
		if (rc == TFA_EVERIFY || rc == TFA_EFORMAT)
			rc = TFA_EINTERNAL;
		v->cb_rc = tfa_error_set(rc, "the caller could not take %s (seq %" PRIu64 ")",
					 j->jpath, j->seq);
	}
	free(j->keep);
	j->keep = NULL;
	return rc;
}

static tfa_err judge(tfa_vfy_ctx *v, int batch);

/* Waits for the array in flight, then judges it in seq order. */
static tfa_err finish(tfa_vfy_ctx *v)
{
	int batch = v->busy;
	tfa_err rc;

	if (batch < 0)
		return TFA_OK;
	worker_main(&v->ws[0]);
	drain(v);
	v->busy = -1;
	rc = judge(v, batch);
	free_kept(v->jobs[batch], v->njobs[batch]);
	return rc;
}

static tfa_err judge(tfa_vfy_ctx *v, int batch)
{
	tfa_vfy_job *jobs = v->jobs[batch];
	size_t n = v->njobs[batch];

	for (size_t i = 0; i < n; i++) {
		tfa_vfy_job *j = &jobs[i];
		uint8_t g[TFA_SHA256_LEN] = {0};
		tfa_err rc;

		if (j->files != TFA_VFY_FR_OK)
			return l2_fail(v, j->bad_sig ? j->spath : j->jpath, j->seq, j->files);
		if (!j->parse_ok || !j->place_ok) {
			l3_fail(v, j->jpath, j->seq, true, "%s", "");
		} else if (j->seq == v->man.from_seq) {
			if (CRYPTO_memcmp(j->prev, v->man.base_hash, TFA_SHA256_LEN) != 0)
				l3_fail(v, j->jpath, j->seq, false,
					"Chain broken at %s (seq %" PRIu64
					"): prev_hash is not the manifest's base_hash",
					j->jpath, j->seq);
			else if (j->seq == 1 && CRYPTO_memcmp(j->prev, g, TFA_SHA256_LEN) != 0)
				l3_fail(v, j->jpath, j->seq, false,
					"Chain broken at %s (seq 1): prev_hash is not the genesis "
					"value",
					j->jpath);
		} else if (CRYPTO_memcmp(j->prev, v->last_hash, TFA_SHA256_LEN) != 0) {
			l3_fail(v, j->jpath, j->seq, false,
				"Chain broken at %s (seq %" PRIu64
				"): prev_hash does not match seq %" PRIu64,
				j->jpath, j->seq, j->seq - 1);
		}
		if (j->parse_ok && j->place_ok) {
			/* keys/ must hold exactly the rotations the range holds. */
			const tfa_vfy_key *rk = tfa_vfy_rotation_at(v, j->seq);
			if (j->is_rot && rk == NULL)
				l3_fail(v, j->jpath, j->seq, false,
					"Rotation %s (seq %" PRIu64
					") is not among the bundle's keys/ rotation records",
					j->jpath, j->seq);
			else if (rk && (!j->is_rot ||
					CRYPTO_memcmp(rk->rot_hash, j->hash, TFA_SHA256_LEN) != 0))
				l3_fail(v, j->jpath, j->seq, false,
					"%s (seq %" PRIu64
					") differs from the rotation record keys/%012" PRIu64
					".json",
					j->jpath, j->seq, j->seq);
		}
		if (j->parse_ok && j->place_ok && j->rb_seq != 0 && j->rb_seq < v->man.from_seq &&
		    !v->l3_failed) {
			/* A target before the range is in the bundle only as a rotation record
			 * under keys/, whose hash layer 1 kept. */
			const tfa_vfy_key *rt = tfa_vfy_rotation_at(v, j->rb_seq);
			if (rt && CRYPTO_memcmp(rt->rot_hash, j->rb_hash, TFA_SHA256_LEN) != 0)
				l3_fail(v, j->jpath, j->seq, false,
					"Rollback %s (seq %" PRIu64
					"): rollback_to.hash is not the hash of "
					"keys/%012" PRIu64 ".json",
					j->jpath, j->seq, j->rb_seq);
		}
		if (j->parse_ok && j->place_ok && j->rb_seq >= v->man.from_seq && !v->l3_failed) {
			tfa_vfy_rollback *r;
			if (v->nrbs == v->caprbs) {
				size_t cap = v->caprbs ? 2 * v->caprbs : 64;
				void *p = realloc(v->rbs, cap * sizeof(*v->rbs));
				if (p == NULL)
					return tfa_error_set(TFA_EINTERNAL, "out of memory");
				v->rbs = p;
				v->caprbs = cap;
			}
			r = &v->rbs[v->nrbs++];
			r->seq = j->seq;
			r->target = j->rb_seq;
			memcpy(r->hash, j->rb_hash, TFA_SHA256_LEN);
			r->differs = false;
		}
		memcpy(v->last_hash, j->hash, TFA_SHA256_LEN);
		for (size_t c = 0; c < v->nckpts; c++)
			if (v->ckpts[c].parsed && v->ckpts[c].f.cp.seq == j->seq) {
				memcpy(v->ckpts[c].art_hash, j->hash, TFA_SHA256_LEN);
				v->ckpts[c].have_hash = true;
			}
		if (j->parse_ok && !j->sig_ok && !v->l4_failed) {
			v->l4_failed = true;
			v->l4_seq = j->seq;
		}
		v->checked++;
		if (v->opts->progress)
			v->opts->progress(v->opts->progress_ud, "verified", v->checked,
					  v->man.to_seq - v->man.from_seq + 1);
		if ((rc = deliver(v, j, v->recs[batch] ? &v->recs[batch][i] : NULL)) != TFA_OK)
			return rc;
	}
	return TFA_OK;
}

/* Checks and judges everything queued so far, in order. */
static tfa_err run_batch(tfa_vfy_ctx *v)
{
	tfa_err rc = finish(v);

	if (rc != TFA_OK || v->njobs[v->fill] == 0)
		return rc;
	launch(v);
	return finish(v);
}

static void art_names(char json[48], char sig[48], uint64_t seq)
{
	snprintf(json, 48, "artifacts/%012" PRIu64 ".json", seq);
	snprintf(sig, 48, "artifacts/%012" PRIu64 ".sig", seq);
}

/* A file that is not an expected artifact file: hashed now, in order. */
static tfa_err check_other(tfa_vfy_ctx *v, const tfa_manifest_file *f)
{
	tfa_err rc;
	int r;

	if ((rc = run_batch(v)) != TFA_OK)
		return rc;
	if (strcmp(f->path, TFA_VFY_BUNDLE_CKPT) == 0 && f->size <= TFA_CHECKPOINT_FILE_MAX) {
		uint8_t h[TFA_SHA256_LEN];
		/* Kept: layer 5 judges the bytes hashed here, not a second read. */
		r = tfa_vfy_read_listed(&v->own_ckpt, &v->src, -1, f, TFA_CHECKPOINT_FILE_MAX, h);
		v->own_ckpt_read = r == TFA_VFY_FR_OK;
	} else {
		r = hash_listed(&v->src, f, &v->other);
	}
	return r == TFA_VFY_FR_OK ? TFA_OK : l2_fail(v, f->path, 0, r);
}

/* Pass 2's callback: each manifest entry in path order. */
static tfa_err on_file(void *ud, const tfa_manifest_file *f, size_t index)
{
	tfa_vfy_ctx *v = ud;
	char ejson[48], esig[48];
	tfa_err rc;

	(void)index;
	if (strncmp(f->path, "artifacts/", 10) != 0) {
		if (v->have_pending) {
			l3_fail(v, v->pending_path, v->expect_seq, false,
				"Sequence gap: manifest does not list artifacts/%012" PRIu64 ".sig",
				v->expect_seq);
			v->have_pending = false;
			if ((rc = check_other(v, &v->pending)) != TFA_OK)
				return rc;
		}
		return check_other(v, f);
	}
	art_names(ejson, esig, v->expect_seq);
	if (v->have_pending) {
		if (strcmp(f->path, esig) == 0 && !v->l3_failed) {
			tfa_vfy_job *j = &v->jobs[v->fill][v->njobs[v->fill]++];
			memset(j, 0, sizeof(*j));
			j->seq = v->expect_seq;
			snprintf(j->jpath, sizeof(j->jpath), "%s", ejson);
			snprintf(j->spath, sizeof(j->spath), "%s", esig);
			j->json = v->pending;
			j->json.path = j->jpath;
			j->sig = *f;
			j->sig.path = j->spath;
			v->have_pending = false;
			v->expect_seq++;
			v->fill_bytes += j->json.size + j->sig.size;
			if (v->njobs[v->fill] < TFA_VFY_BATCH &&
			    (v->opts->on_artifact == NULL || v->fill_bytes < KEEP_BATCH_MAX))
				return TFA_OK;
			/* Judge the batch in flight, then start this one and scan on. */
			if ((rc = finish(v)) != TFA_OK)
				return rc;
			launch(v);
			return TFA_OK;
		}
		l3_fail(v, esig, v->expect_seq, false, "Sequence gap: manifest does not list %s",
			esig);
		v->have_pending = false;
		if ((rc = check_other(v, &v->pending)) != TFA_OK)
			return rc;
	}
	if (!v->l3_failed && v->expect_seq <= v->man.to_seq && strcmp(f->path, ejson) == 0) {
		v->pending = *f;
		snprintf(v->pending_path, sizeof(v->pending_path), "%s", f->path);
		v->pending.path = v->pending_path;
		v->have_pending = true;
		return TFA_OK;
	}
	if (v->expect_seq > v->man.to_seq)
		l3_fail(v, f->path, 0, false,
			"Manifest lists %s outside the range %" PRIu64 "..%" PRIu64, f->path,
			v->man.from_seq, v->man.to_seq);
	else
		l3_fail(v, ejson, v->expect_seq, false, "Sequence gap: manifest does not list %s",
			ejson);
	return check_other(v, f);
}

static unsigned pick_threads(const tfa_verify_opts *o)
{
	long n = o->threads ? (long)o->threads : sysconf(_SC_NPROCESSORS_ONLN);
	const char *env = getenv("TFATTEST_THREADS");

	if (!o->threads && env && *env) {
		char *end;
		long e = strtol(env, &end, 10);
		if (*end == '\0' && e > 0)
			n = e;
	}
	if (n < 1)
		n = 1;
	if (n > TFA_VFY_THREADS_MAX)
		n = TFA_VFY_THREADS_MAX;
	return (unsigned)n;
}

/* The message for an artifact's layer-3 or layer-4 failure, re-derived from the file. */
static tfa_err explain(tfa_vfy_ctx *v, tfa_layer layer, uint64_t seq)
{
	char jp[48], sp[48];
	tfa_buf b;
	tfa_artifact a;
	const tfa_vfy_key *k;
	tfa_err rc;

	art_names(jp, sp, seq);
	tfa_buf_init(&b, TFA_ARTIFACT_MAX);
	rc = tfa_vfy_read_small(&b, &v->src, jp, TFA_ARTIFACT_MAX);
	if (rc == TFA_OK)
		rc = tfa_artifact_parse(&a, b.data, b.len);
	tfa_buf_free(&b);
	if (rc != TFA_OK)
		return tfa_vfy_fail(v, layer, jp, seq, "Invalid artifact %s (seq %" PRIu64 "): %s",
				    jp, seq, tfa_error_last()->message);
	if (layer == TFA_LAYER_CHAIN) {
		if (strcmp(a.chain_id, v->man.chain_id) != 0)
			return tfa_vfy_fail(v, layer, jp, seq,
					    "Chain id mismatch in %s (seq %" PRIu64
					    "): %s, manifest says %s",
					    jp, seq, a.chain_id, v->man.chain_id);
		return tfa_vfy_fail(v, layer, jp, seq,
				    "Sequence mismatch: %s holds seq %" PRIu64
				    ", expected %" PRIu64,
				    jp, a.seq, seq);
	}
	k = &v->keys[tfa_vfy_key_index(v, seq)];
	if (strcmp(a.key_fpr, k->fpr) != 0)
		return tfa_vfy_fail(v, layer, sp, seq,
				    "Artifact %s (seq %" PRIu64
				    ") names signing key %s, not the key in force at seq %" PRIu64
				    " (%s)",
				    jp, seq, a.key_fpr, seq, k->fpr);
	if (tfa_pkey_check_alg(k->pkey, a.alg) != TFA_OK)
		return tfa_vfy_fail(v, layer, sp, seq,
				    "Algorithm %s of %s (seq %" PRIu64 ") does not fit the key",
				    tfa_sig_alg_name(a.alg), jp, seq);
	return tfa_vfy_fail(v, layer, sp, seq, "Signature invalid for %s (seq %" PRIu64 ")", jp,
			    seq);
}

/* The slow path when the bundle's file count differs from the manifest's. */
static tfa_err name_count_mismatch(tfa_vfy_ctx *v)
{
	tfa_err rc = TFA_OK;
	tfa_buf raw;
	tfa_manifest full;
	uint64_t count = 0;

	memset(&full, 0, sizeof(full));
	tfa_buf_init(&raw, TFA_MANIFEST_MAX_BYTES);
	TFA_GUARD(tfa_vfy_read_small(&raw, &v->src, TFA_BUNDLE_MANIFEST, TFA_MANIFEST_MAX_BYTES));
	TFA_GUARD(tfa_manifest_parse(&full, raw.data, raw.len));
	TFA_GUARD(walk(v, &count, &full));
	for (size_t i = 0; i < full.nfiles; i++) {
		tfa_bfile f;
		tfa_err orc = v->src.ops->open(&v->src, -1, full.files[i].path, &f);
		if (orc == TFA_OK) {
			v->src.ops->close(&f);
			continue;
		}
		rc = tfa_vfy_fail(
		    v, TFA_LAYER_FILES, full.files[i].path, 0, "%s %s",
		    orc == TFA_ENOTFOUND ? "Missing file:" : "Unsafe file:", full.files[i].path);
		goto out;
	}
	rc = tfa_vfy_fail(v, TFA_LAYER_FILES, "", 0,
			  "Bundle file count does not match the manifest");
out:
	tfa_manifest_clear(&full);
	tfa_buf_free(&raw);
	return rc;
}

static int rb_by_target(const void *x, const void *y)
{
	const tfa_vfy_rollback *a = x, *b = y;

	if (a->target != b->target)
		return a->target < b->target ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* The rollback checks' scan callback: the manifest's hash of each target artifact. */
static tfa_err on_rollback_target(void *ud, const tfa_manifest_file *f, size_t index)
{
	tfa_vfy_ctx *v = ud;
	size_t lo = 0, hi = v->nrbs;
	uint64_t seq;

	(void)index;
	if (strlen(f->path) != 27 || strncmp(f->path, "artifacts/", 10) != 0 ||
	    strcmp(f->path + 22, ".json") != 0)
		return TFA_OK;
	seq = strtoull(f->path + 10, NULL, 10);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->rbs[mid].target < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Layer 2 held every listed file to its hash: this is the artifact's hash. */
	for (; lo < v->nrbs && v->rbs[lo].target == seq; lo++)
		v->rbs[lo].differs = CRYPTO_memcmp(v->rbs[lo].hash, f->sha256, TFA_SHA256_LEN) != 0;
	return TFA_OK;
}

/*
 * Layer 3: a rollback record's rollback_to.hash is the hash of the artifact at
 * rollback_to.seq whenever the bundle holds it. The targets come before the
 * records naming them, so they are looked up in one more scan of the manifest,
 * made only when some rollback names a seq in the range.
 */
static tfa_err check_rollbacks(tfa_vfy_ctx *v)
{
	tfa_err rc = TFA_OK;
	tfa_manifest again;
	uint8_t digest[TFA_SHA256_LEN];
	const tfa_vfy_rollback *bad = NULL;

	if (v->nrbs == 0 || (v->l3_failed && v->rbs[0].seq >= v->l3_seq && v->l3_seq != 0))
		return TFA_OK;
	qsort(v->rbs, v->nrbs, sizeof(*v->rbs), rb_by_target);
	rc = tfa_vfy_scan_manifest(v, &again, on_rollback_target, v, digest);
	if (rc == TFA_OK && CRYPTO_memcmp(digest, v->man_digest, sizeof(digest)) != 0)
		rc = TFA_EFORMAT;
	if (rc == TFA_EFORMAT || rc == TFA_EVERIFY)
		return tfa_vfy_fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0,
				    "Manifest changed during verification");
	if (rc != TFA_OK)
		return rc;
	for (size_t i = 0; i < v->nrbs; i++)
		if (v->rbs[i].differs && (bad == NULL || v->rbs[i].seq < bad->seq))
			bad = &v->rbs[i];
	if (bad && (!v->l3_failed || bad->seq < v->l3_seq || v->l3_seq == 0)) {
		char jp[48], sp[48];
		art_names(jp, sp, bad->seq);
		v->l3_failed = false;
		l3_fail(v, jp, bad->seq, false,
			"Rollback %s (seq %" PRIu64
			"): rollback_to.hash is not the hash of artifacts/%012" PRIu64 ".json",
			jp, bad->seq, bad->target);
	}
	return TFA_OK;
}

/* Layers 2-4. */
tfa_err tfa_vfy_check_contents(tfa_vfy_ctx *v)
{
	tfa_err rc = TFA_OK;
	uint64_t count = 0;
	uint8_t digest[TFA_SHA256_LEN];
	tfa_manifest again;

	tfa_buf_init(&v->other, 0);
	TFA_GUARD(walk(v, &count, NULL));
	if (count != v->man.nfiles) {
		rc = name_count_mismatch(v);
		goto out;
	}
	v->nthreads = pick_threads(v->opts);
	for (unsigned t = 0; t < v->nthreads; t++) {
		tfa_vfy_worker *w = &v->ws[t];
		w->v = v;
		w->hint = -1;
		tfa_buf_init(&w->art, TFA_ARTIFACT_MAX + 1);
		tfa_buf_init(&w->sig, TFA_SIG_MAX + 1);
		for (size_t k = 0; k < v->nkeys; k++) {
			w->key[k] = t == 0 ? NULL : EVP_PKEY_dup(v->keys[k].pkey);
			tfa_verifier_init(&w->ver[k], w->key[k] ? w->key[k] : v->keys[k].pkey);
		}
	}
	for (unsigned t = 0; t < v->nthreads && v->src.ops->hint_open; t++) {
		v->ws[t].hint = v->src.ops->hint_open(&v->src);
		if (v->ws[t].hint < 0)
			break; /* no artifacts/ directory: the scan reports what is missing */
	}
	if (v->opts->on_record) {
		for (int b = 0; b < 2; b++)
			if ((v->recs[b] = calloc(TFA_VFY_BATCH, sizeof(tfa_verify_record))) ==
			    NULL) {
				rc = tfa_error_set(TFA_EINTERNAL, "out of memory");
				goto out;
			}
	}
	v->expect_seq = v->man.from_seq;
	v->busy = -1;
	rc = tfa_vfy_scan_manifest(v, &again, on_file, v, digest);
	if (rc == TFA_OK || (rc == TFA_EVERIFY && v->l2_failed))
		rc = v->l2_failed ? TFA_EVERIFY : run_batch(v);
	if (v->cb_rc != TFA_OK) {
		rc = v->cb_rc;
		goto out;
	}
	if (rc != TFA_OK && !v->l2_failed) {
		/* The manifest was valid a moment ago: it changed under us. */
		if (rc == TFA_EFORMAT || rc == TFA_EVERIFY)
			rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0,
					  "Manifest changed during verification");
		goto out;
	}
	if (!v->l2_failed && CRYPTO_memcmp(digest, v->man_digest, sizeof(digest)) != 0) {
		rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0,
				  "Manifest changed during verification");
		goto out;
	}
	if (v->l2_failed) {
		rc = tfa_vfy_fail(v, TFA_LAYER_FILES, v->l2_path, v->l2_seq, "%s", v->l2_msg);
		goto out;
	}
	if (v->have_pending)
		l3_fail(v, v->pending_path, v->expect_seq, false,
			"Sequence gap: manifest does not list artifacts/%012" PRIu64 ".sig",
			v->expect_seq);
	tfa_vfy_emit(v, "SUCCESS", "All %zu file hashes valid", v->man.nfiles);
	v->rep->passed_layer = TFA_LAYER_FILES;

	if (!v->l3_failed && v->expect_seq != v->man.to_seq + 1) {
		char ejson[48], esig[48];
		art_names(ejson, esig, v->expect_seq);
		l3_fail(v, ejson, v->expect_seq, false, "Sequence gap: manifest does not list %s",
			ejson);
	}
	if (!v->l3_failed && CRYPTO_memcmp(v->last_hash, v->man.head_hash, TFA_SHA256_LEN) != 0)
		l3_fail(v, TFA_BUNDLE_MANIFEST, v->man.to_seq, false,
			"Head hash mismatch: the last artifact is not the manifest's head_hash");
	TFA_GUARD(check_rollbacks(v));
	if (v->l3_failed) {
		rc = v->l3_explain
			 ? explain(v, TFA_LAYER_CHAIN, v->l3_seq)
			 : tfa_vfy_fail(v, TFA_LAYER_CHAIN, v->l3_path, v->l3_seq, "%s", v->l3_msg);
		goto out;
	}
	tfa_vfy_emit(v, "SUCCESS", "Hash chain valid (%" PRIu64 " artifacts)", v->checked);
	v->rep->passed_layer = TFA_LAYER_CHAIN;
	if (v->l4_failed) {
		rc = explain(v, TFA_LAYER_SIGNATURES, v->l4_seq);
		goto out;
	}
	tfa_vfy_emit(v, "SUCCESS", "All %" PRIu64 " artifact signatures valid", v->checked);
	v->rep->passed_layer = TFA_LAYER_SIGNATURES;
	v->rep->artifacts = v->checked;
	v->rep->spooled = (uint64_t)atomic_load(&v->spooled);
out:
	drain(v); /* no worker may outlive the buffers below */
	free_kept(v->jobs[0], v->njobs[0]);
	free_kept(v->jobs[1], v->njobs[1]);
	for (unsigned t = 0; t < v->nthreads; t++) {
		tfa_buf_free(&v->ws[t].art);
		tfa_buf_free(&v->ws[t].sig);
		for (size_t k = 0; k < v->nkeys; k++) {
			tfa_verifier_clear(&v->ws[t].ver[k]);
			EVP_PKEY_free(v->ws[t].key[k]);
		}
		if (v->ws[t].hint >= 0)
			v->src.ops->hint_close(v->ws[t].hint);
	}
	tfa_buf_free(&v->other);
	for (int b = 0; b < 2; b++) {
		free(v->recs[b]);
		v->recs[b] = NULL;
	}
	free(v->rbs);
	v->rbs = NULL;
	v->nrbs = v->caprbs = 0;
	return rc;
}
