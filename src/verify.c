/*
 * Offline bundle verification.
 *
 * Layer 1 runs first and alone. Layers 2-4 are computed in one parallel pass
 * over the artifacts, so each file is read once, but they are judged and
 * reported strictly in layer order: a hash mismatch anywhere outranks a
 * broken link, which outranks a bad signature, exactly as if each layer had
 * run to completion before the next. Memory per artifact is a few dozen
 * bytes of results; artifact bytes live only in per-thread buffers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto.h"
#include "manifest.h"
#include "pathsafe.h"
#include "tfattest/artifact.h"
#include "tfattest/bundle.h"
#include "tfattest/sys/guard.h"
#include "tfattest/verify.h"

#define SIG_MAX 1024
#define PUBKEY_MAX 65536
#define OTHER_FILE_MAX ((uint64_t)1 << 30)
#define WALK_MAX_DEPTH 8
#define THREADS_MAX 64

/* Per-artifact outcome of the parallel pass. */
enum { ST_UNCHECKED = 0, ST_OK, ST_FAIL };

typedef struct art_result {
	uint8_t files;     /* layer 2: both files present, sizes and hashes match */
	uint8_t parse;     /* layer 3 prerequisite: artifact valid and canonical */
	uint8_t sig;       /* layer 4 */
	uint8_t chain_ok;  /* chain id and seq as expected */
	uint8_t hash[TFA_SHA256_LEN];
	uint8_t prev[TFA_SHA256_LEN];
} art_result;

typedef struct vctx {
	const char *path;
	int rootfd;
	tfa_manifest man;
	EVP_PKEY *key;
	char key_fpr[TFA_FPR_STRLEN];
	size_t first_art;  /* index in man.files of the first artifact entry */
	uint64_t nart;
	art_result *res;
	atomic_uint_fast64_t next;
	atomic_int stop; /* a layer-2 failure was found: nothing later can matter */
	const tfa_verify_opts *opts;
	tfa_verify_report *rep;
} vctx;

static void emit(const vctx *v, const char *tag, const char *fmt, ...) TFA_PRINTF(3, 4);
static void emit(const vctx *v, const char *tag, const char *fmt, ...)
{
	char line[768];
	va_list ap;

	if (v->opts == NULL || v->opts->line == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	v->opts->line(v->opts->ud, tag, line);
}

/* Records the failure in the report and returns TFA_EVERIFY. */
static tfa_err fail(vctx *v, tfa_layer layer, const char *file, uint64_t seq, const char *fmt, ...)
	TFA_PRINTF(5, 6);
static tfa_err fail(vctx *v, tfa_layer layer, const char *file, uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	v->rep->failed_layer = layer;
	snprintf(v->rep->failed_file, sizeof(v->rep->failed_file), "%s", file ? file : "");
	v->rep->failed_seq = seq;
	va_start(ap, fmt);
	vsnprintf(v->rep->message, sizeof(v->rep->message), fmt, ap);
	va_end(ap);
	emit(v, "ERROR", "%s", v->rep->message);
	return tfa_error_set(TFA_EVERIFY, "%s", v->rep->message);
}

/* Reads a whole small file through the safe opener. */
static tfa_err read_small(tfa_buf *out, int rootfd, const char *path, size_t max)
{
	tfa_err rc = TFA_OK;
	int fd = -1;
	struct stat st;

	TFA_GUARD(tfa_path_open(&fd, rootfd, path));
	TFA_ENSURE(fstat(fd, &st) == 0, TFA_EIO, "cannot stat %s", path);
	TFA_ENSURE((uint64_t)st.st_size <= max, TFA_EVERIFY, "%s is larger than %zu bytes", path, max);
	TFA_GUARD(tfa_buf_reserve(out, (size_t)st.st_size));
	for (;;) {
		ssize_t n;
		TFA_GUARD(tfa_buf_reserve(out, 1));
		n = read(fd, out->data + out->len, out->cap - out->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		TFA_ENSURE(n >= 0, TFA_EIO, "cannot read %s: %s", path, strerror(errno));
		if (n == 0)
			break;
		out->len += (size_t)n;
		TFA_ENSURE(out->len <= max, TFA_EVERIFY, "%s is larger than %zu bytes", path, max);
	}
	out->data[out->len] = '\0';
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Layer 1. */
static tfa_err check_manifest(vctx *v)
{
	tfa_err rc = TFA_OK;
	tfa_buf mbytes, sig, pem, spki;
	uint8_t d[TFA_SHA256_LEN];

	tfa_buf_init(&mbytes, TFA_MANIFEST_MAX_BYTES);
	tfa_buf_init(&sig, SIG_MAX);
	tfa_buf_init(&pem, PUBKEY_MAX);
	tfa_buf_init(&spki, PUBKEY_MAX);
	rc = read_small(&mbytes, v->rootfd, TFA_BUNDLE_MANIFEST, TFA_MANIFEST_MAX_BYTES);
	if (rc != TFA_OK) {
		rc = rc == TFA_EIO ? rc
				   : fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0, "Manifest unreadable: %s",
					  tfa_error_last()->message);
		goto out;
	}
	if (tfa_manifest_parse(&v->man, mbytes.data, mbytes.len) != TFA_OK) {
		rc = fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0, "Manifest invalid: %s",
			  tfa_error_last()->message);
		goto out;
	}
	snprintf(v->rep->chain_id, sizeof(v->rep->chain_id), "%s", v->man.chain_id);
	v->rep->from_seq = v->man.from_seq;
	v->rep->to_seq = v->man.to_seq;
	v->rep->files = v->man.nfiles;

	if (tfa_manifest_find(&v->man, TFA_BUNDLE_PUBKEY) < 0) {
		rc = fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_PUBKEY, 0, "Manifest does not list %s",
			  TFA_BUNDLE_PUBKEY);
		goto out;
	}
	if (read_small(&pem, v->rootfd, TFA_BUNDLE_PUBKEY, PUBKEY_MAX) != TFA_OK ||
	    tfa_spki_from_pem(&spki, pem.data, pem.len) != TFA_OK ||
	    tfa_pkey_from_spki(&v->key, spki.data, spki.len) != TFA_OK) {
		rc = fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_PUBKEY, 0, "Public key unusable: %s",
			  tfa_error_last()->message);
		goto out;
	}
	tfa_spki_fingerprint(v->key_fpr, spki.data, spki.len);
	if (v->opts->expect_fpr) {
		if (strcmp(v->opts->expect_fpr, v->key_fpr) != 0) {
			rc = fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_PUBKEY, 0,
				  "Key fingerprint mismatch: bundle key is %s, expected %s", v->key_fpr,
				  v->opts->expect_fpr);
			goto out;
		}
		v->rep->key_pinned = true;
		emit(v, "INFO", "Signing key matches the pinned fingerprint %s", v->key_fpr);
	} else {
		emit(v, "WARN",
		     "Trusting the bundle's own key %s; pin it with --expect-key-fingerprint",
		     v->key_fpr);
	}
	memcpy(v->rep->trusted_fpr, v->key_fpr, sizeof(v->key_fpr));
	if (strcmp(v->man.key_fpr, v->key_fpr) != 0) {
		rc = fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0,
			  "Manifest names signing key %s, but the bundle's key is %s", v->man.key_fpr,
			  v->key_fpr);
		goto out;
	}
	rc = read_small(&sig, v->rootfd, TFA_BUNDLE_MANIFEST_SIG, SIG_MAX);
	if (rc != TFA_OK) {
		rc = rc == TFA_EIO ? rc
				   : fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST_SIG, 0,
					  "Manifest signature unreadable: %s", tfa_error_last()->message);
		goto out;
	}
	tfa_sha256(d, mbytes.data, mbytes.len);
	rc = tfa_verify_digest(v->key, v->man.alg, d, sig.data, sig.len);
	if (rc == TFA_EVERIFY) {
		rc = fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST_SIG, 0,
			  "Manifest signature invalid: %s", tfa_error_last()->message);
		goto out;
	}
	if (rc != TFA_OK)
		goto out;
	emit(v, "SUCCESS", "Manifest signature valid");
out:
	tfa_buf_free(&mbytes);
	tfa_buf_free(&sig);
	tfa_buf_free(&pem);
	tfa_buf_free(&spki);
	return rc;
}

/* Name of artifact i's files. */
static void art_name(char out[48], const vctx *v, uint64_t i, const char *ext)
{
	snprintf(out, 48, "artifacts/%012" PRIu64 ".%s", v->man.from_seq + i, ext);
}

/*
 * The manifest must list, for each seq from..to, its .json and .sig, and
 * nothing else under artifacts/. Paths sort so those entries are contiguous.
 */
static tfa_err check_layout(vctx *v)
{
	size_t i = 0, n = v->man.nfiles;
	char name[48];

	while (i < n && strncmp(v->man.files[i].path, "artifacts/", 10) < 0)
		i++;
	v->first_art = i;
	v->nart = v->man.to_seq - v->man.from_seq + 1;
	for (uint64_t k = 0; k < v->nart; k++) {
		for (int e = 0; e < 2; e++) {
			size_t idx = i + 2 * k + (size_t)e;
			art_name(name, v, k, e ? "sig" : "json");
			if (idx >= n || strcmp(v->man.files[idx].path, name) != 0)
				return fail(v, TFA_LAYER_CHAIN, name, v->man.from_seq + k,
					    "Sequence gap: manifest does not list %s", name);
		}
	}
	i += 2 * v->nart;
	if (i < n && strncmp(v->man.files[i].path, "artifacts/", 10) == 0)
		return fail(v, TFA_LAYER_CHAIN, v->man.files[i].path, 0,
			    "Manifest lists %s outside the range %" PRIu64 "..%" PRIu64,
			    v->man.files[i].path, v->man.from_seq, v->man.to_seq);
	return TFA_OK;
}

/* Walks the bundle: every regular file must be listed; nothing else may exist. */
static tfa_err walk(vctx *v, int dirfd, const char *prefix, int depth, uint64_t *count)
{
	tfa_err rc = TFA_OK;
	DIR *d = NULL;
	struct dirent *de;
	int fd = dup(dirfd);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return tfa_error_set(TFA_EIO, "cannot list %s: %s", v->path, strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		char rel[TFA_PATH_MAX_LEN * 2];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(rel, sizeof(rel), "%s%s", prefix, de->d_name);
		if (depth == 0 && (strcmp(rel, TFA_BUNDLE_MANIFEST) == 0 ||
				   strcmp(rel, TFA_BUNDLE_MANIFEST_SIG) == 0))
			continue;
		/* The entry type from readdir saves a stat per file where the file system gives it. */
		if (de->d_type == DT_REG) {
			st.st_mode = S_IFREG;
		} else if (de->d_type == DT_DIR) {
			st.st_mode = S_IFDIR;
		} else if (de->d_type == DT_LNK) {
			st.st_mode = S_IFLNK;
		} else if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			TFA_BAIL(TFA_EIO, "cannot stat %s: %s", rel, strerror(errno));
		}
		if (S_ISLNK(st.st_mode)) {
			rc = fail(v, TFA_LAYER_FILES, rel, 0, "Symlink in bundle: %s", rel);
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub;
			char p2[TFA_PATH_MAX_LEN * 2 + 2];
			if (depth >= WALK_MAX_DEPTH) {
				rc = fail(v, TFA_LAYER_FILES, rel, 0, "Directory nested too deeply: %s", rel);
				goto out;
			}
			sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			TFA_ENSURE(sub >= 0, TFA_EIO, "cannot open %s: %s", rel, strerror(errno));
			snprintf(p2, sizeof(p2), "%s/", rel);
			rc = walk(v, sub, p2, depth + 1, count);
			close(sub);
			if (rc != TFA_OK)
				goto out;
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			rc = fail(v, TFA_LAYER_FILES, rel, 0, "Not a regular file: %s", rel);
			goto out;
		}
		if (tfa_manifest_find(&v->man, rel) < 0) {
			rc = fail(v, TFA_LAYER_FILES, rel, 0, "File not listed in manifest: %s", rel);
			goto out;
		}
		(*count)++;
	}
out:
	closedir(d);
	return rc;
}

/*
 * Reads a listed file fully (bounded) and checks its size and hash. With
 * leafdir >= 0, mf->path's last component is opened in that directory (which
 * was itself opened without following symlinks), saving a lookup per file.
 */
static int read_listed_at(tfa_buf *buf, int rootfd, int leafdir, const tfa_manifest_file *mf,
			  size_t max, uint8_t hash[TFA_SHA256_LEN])
{
	int fd = -1, ok = 0;
	struct stat st;

	tfa_buf_clear(buf);
	if (mf->size > max)
		goto out;
	if (leafdir >= 0) {
		fd = openat(leafdir, strrchr(mf->path, '/') + 1,
			    O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
			goto out;
	} else if (tfa_path_open(&fd, rootfd, mf->path) != TFA_OK) {
		goto out;
	}
	if (tfa_buf_reserve(buf, (size_t)mf->size + 1) != TFA_OK)
		goto out;
	for (;;) {
		ssize_t n = read(fd, buf->data + buf->len, (size_t)mf->size + 1 - buf->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf->len += (size_t)n;
		if (buf->len > mf->size)
			goto out; /* larger than listed */
	}
	if (buf->len != mf->size)
		goto out;
	tfa_sha256(hash, buf->data, buf->len);
	ok = CRYPTO_memcmp(hash, mf->sha256, TFA_SHA256_LEN) == 0;
out:
	tfa_error_clear();
	if (fd >= 0)
		close(fd);
	return ok;
}

static int read_listed(tfa_buf *buf, int rootfd, const tfa_manifest_file *mf, size_t max,
		       uint8_t hash[TFA_SHA256_LEN])
{
	return read_listed_at(buf, rootfd, -1, mf, max, hash);
}

typedef struct worker {
	vctx *v;
	tfa_buf art, sig;
	tfa_verifier ver;
	int artfd; /* artifacts/, opened without following symlinks */
} worker;

static void check_artifact(worker *w, uint64_t i)
{
	vctx *v = w->v;
	art_result *r = &v->res[i];
	const tfa_manifest_file *mj = &v->man.files[v->first_art + 2 * i];
	const tfa_manifest_file *ms = mj + 1;
	uint8_t sh[TFA_SHA256_LEN];
	tfa_artifact a;

	if (!read_listed_at(&w->art, v->rootfd, w->artfd, mj, TFA_ARTIFACT_MAX, r->hash) ||
	    !read_listed_at(&w->sig, v->rootfd, w->artfd, ms, SIG_MAX, sh)) {
		r->files = ST_FAIL;
		atomic_store(&v->stop, 1);
		return;
	}
	r->files = ST_OK;
	if (tfa_artifact_parse(&a, w->art.data, w->art.len) != TFA_OK) {
		r->parse = ST_FAIL;
		return;
	}
	r->parse = ST_OK;
	memcpy(r->prev, a.prev_hash, TFA_SHA256_LEN);
	r->chain_ok = a.seq == v->man.from_seq + i && strcmp(a.chain_id, v->man.chain_id) == 0
			      ? ST_OK
			      : ST_FAIL;
	r->sig = strcmp(a.key_fpr, v->key_fpr) == 0 &&
				 tfa_verifier_check(&w->ver, a.alg, r->hash, w->sig.data, w->sig.len) == TFA_OK
			 ? ST_OK
			 : ST_FAIL;
	tfa_error_clear();
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	vctx *v = w->v;

	for (;;) {
		uint64_t i;
		if (atomic_load(&v->stop))
			break;
		i = atomic_fetch_add(&v->next, 1);
		if (i >= v->nart)
			break;
		check_artifact(w, i);
	}
	return NULL;
}

static unsigned pick_threads(const tfa_verify_opts *o, uint64_t nart)
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
	if (n > THREADS_MAX)
		n = THREADS_MAX;
	if ((uint64_t)n > nart)
		n = (long)nart;
	return (unsigned)(n ? n : 1);
}

/* Re-derives the message for artifact i's first failure in layer `layer`. */
static tfa_err explain(vctx *v, uint64_t i, tfa_layer layer)
{
	uint64_t seq = v->man.from_seq + i;
	const tfa_manifest_file *mj = &v->man.files[v->first_art + 2 * i];
	tfa_buf b;
	tfa_artifact a;
	uint8_t h[TFA_SHA256_LEN];
	tfa_err rc;

	tfa_buf_init(&b, 0);
	if (layer == TFA_LAYER_FILES) {
		for (int e = 0; e < 2; e++) {
			int fd;
			tfa_err orc = tfa_path_open(&fd, v->rootfd, mj[e].path);
			if (orc == TFA_ENOTFOUND)
				return fail(v, layer, mj[e].path, seq, "Missing file: %s", mj[e].path);
			if (orc != TFA_OK)
				return fail(v, layer, mj[e].path, seq, "%s", tfa_error_last()->message);
			close(fd);
			if (!read_listed(&b, v->rootfd, &mj[e], e ? SIG_MAX : TFA_ARTIFACT_MAX, h)) {
				tfa_buf_free(&b);
				return fail(v, layer, mj[e].path, seq, "Hash mismatch for %s (seq %" PRIu64 ")",
					    mj[e].path, seq);
			}
		}
		tfa_buf_free(&b);
		return fail(v, layer, mj->path, seq, "Hash mismatch for %s (seq %" PRIu64 ")", mj->path, seq);
	}
	(void)read_listed(&b, v->rootfd, mj, TFA_ARTIFACT_MAX, h);
	rc = tfa_artifact_parse(&a, b.data, b.len);
	tfa_buf_free(&b);
	if (rc != TFA_OK)
		return fail(v, layer, mj->path, seq, "Invalid artifact %s (seq %" PRIu64 "): %s", mj->path,
			    seq, tfa_error_last()->message);
	if (layer == TFA_LAYER_CHAIN) {
		if (strcmp(a.chain_id, v->man.chain_id) != 0)
			return fail(v, layer, mj->path, seq,
				    "Chain id mismatch in %s (seq %" PRIu64 "): %s, manifest says %s",
				    mj->path, seq, a.chain_id, v->man.chain_id);
		return fail(v, layer, mj->path, seq,
			    "Sequence mismatch: %s holds seq %" PRIu64 ", expected %" PRIu64, mj->path,
			    a.seq, seq);
	}
	if (strcmp(a.key_fpr, v->key_fpr) != 0)
		return fail(v, layer, mj[1].path, seq,
			    "Artifact %s (seq %" PRIu64 ") names signing key %s, not the bundle's key %s",
			    mj->path, seq, a.key_fpr, v->key_fpr);
	if (tfa_pkey_check_alg(v->key, a.alg) != TFA_OK)
		return fail(v, layer, mj[1].path, seq,
			    "Algorithm %s of %s (seq %" PRIu64 ") does not fit the key",
			    tfa_sig_alg_name(a.alg), mj->path, seq);
	return fail(v, layer, mj[1].path, seq, "Signature invalid for %s (seq %" PRIu64 ")", mj->path,
		    seq);
}

/* Layers 2-4. */
static tfa_err check_contents(vctx *v)
{
	tfa_err rc = TFA_OK;
	unsigned nthreads = 0;
	pthread_t tids[THREADS_MAX];
	worker ws[THREADS_MAX];
	uint64_t count = 0;
	tfa_buf buf;
	uint8_t h[TFA_SHA256_LEN];
	long fail_idx = -1;

	tfa_buf_init(&buf, 0);
	memset(ws, 0, sizeof(ws));
	TFA_GUARD(walk(v, v->rootfd, "", 0, &count));
	if (count != v->man.nfiles) {
		/* Something listed is absent: name the first. */
		for (size_t i = 0; i < v->man.nfiles; i++) {
			int fd;
			tfa_err orc = tfa_path_open(&fd, v->rootfd, v->man.files[i].path);
			if (orc == TFA_OK) {
				close(fd);
				continue;
			}
			rc = fail(v, TFA_LAYER_FILES, v->man.files[i].path, 0, "%s: %s",
				  orc == TFA_ENOTFOUND ? "Missing file" : "Unsafe file",
				  v->man.files[i].path);
			goto out;
		}
		rc = fail(v, TFA_LAYER_FILES, "", 0, "Bundle file count does not match the manifest");
		goto out;
	}
	TFA_GUARD(check_layout(v));
	v->res = calloc(v->nart, sizeof(*v->res));
	TFA_ENSURE(v->res != NULL, TFA_EINTERNAL, "out of memory");

	nthreads = pick_threads(v->opts, v->nart);
	for (unsigned t = 0; t < nthreads; t++) {
		ws[t].v = v;
		tfa_buf_init(&ws[t].art, TFA_ARTIFACT_MAX + 1);
		tfa_buf_init(&ws[t].sig, SIG_MAX + 1);
		tfa_verifier_init(&ws[t].ver, v->key);
		ws[t].artfd = openat(v->rootfd, "artifacts", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		TFA_ENSURE(ws[t].artfd >= 0, TFA_EIO, "cannot open artifacts/: %s", strerror(errno));
	}
	atomic_store(&v->next, 0);
	atomic_store(&v->stop, 0);
	if (nthreads == 1) {
		worker_main(&ws[0]);
	} else {
		unsigned started = 0;
		for (; started < nthreads; started++)
			if (pthread_create(&tids[started], NULL, worker_main, &ws[started]) != 0)
				break;
		if (started == 0)
			worker_main(&ws[0]);
		for (unsigned t = 0; t < started; t++)
			pthread_join(tids[t], NULL);
	}

	/* Layer 2, in manifest path order: files before the artifacts, artifacts, files after. */
	for (size_t i = 0; i < v->man.nfiles; i++) {
		const tfa_manifest_file *mf = &v->man.files[i];
		if (i == v->first_art) {
			for (uint64_t k = 0; k < v->nart; k++) {
				if (v->res[k].files == ST_FAIL) {
					rc = explain(v, k, TFA_LAYER_FILES);
					goto out;
				}
				if (v->res[k].files == ST_UNCHECKED)
					TFA_BAIL(TFA_EINTERNAL, "artifact %" PRIu64 " was not checked", k);
			}
			i += 2 * v->nart - 1;
			continue;
		}
		if (mf->size > OTHER_FILE_MAX || !read_listed(&buf, v->rootfd, mf, OTHER_FILE_MAX, h)) {
			int fd;
			tfa_err orc = tfa_path_open(&fd, v->rootfd, mf->path);
			if (orc == TFA_OK)
				close(fd);
			rc = fail(v, TFA_LAYER_FILES, mf->path, 0, "%s %s",
				  orc == TFA_ENOTFOUND ? "Missing file:" : "Hash mismatch for", mf->path);
			goto out;
		}
	}
	emit(v, "SUCCESS", "All %zu file hashes valid", v->man.nfiles);

	/* Layer 3. */
	for (uint64_t k = 0; k < v->nart; k++) {
		const art_result *r = &v->res[k];
		uint64_t seq = v->man.from_seq + k;
		const char *name = v->man.files[v->first_art + 2 * k].path;
		if (r->parse != ST_OK || r->chain_ok != ST_OK) {
			rc = explain(v, k, TFA_LAYER_CHAIN);
			goto out;
		}
		if (k == 0) {
			if (CRYPTO_memcmp(r->prev, v->man.base_hash, TFA_SHA256_LEN) != 0) {
				rc = fail(v, TFA_LAYER_CHAIN, name, seq,
					  "Chain broken at %s (seq %" PRIu64 "): prev_hash is not the manifest's base_hash",
					  name, seq);
				goto out;
			}
			if (seq == 1) {
				uint8_t g[TFA_SHA256_LEN];
				if (tfa_hash_parse(g, TFA_GENESIS_HASH, strlen(TFA_GENESIS_HASH)) != TFA_OK ||
				    CRYPTO_memcmp(r->prev, g, TFA_SHA256_LEN) != 0) {
					rc = fail(v, TFA_LAYER_CHAIN, name, seq,
						  "Chain broken at %s (seq 1): prev_hash is not the genesis value",
						  name);
					goto out;
				}
			}
		} else if (CRYPTO_memcmp(r->prev, v->res[k - 1].hash, TFA_SHA256_LEN) != 0) {
			rc = fail(v, TFA_LAYER_CHAIN, name, seq,
				  "Chain broken at %s (seq %" PRIu64 "): prev_hash does not match seq %" PRIu64,
				  name, seq, seq - 1);
			goto out;
		}
	}
	if (CRYPTO_memcmp(v->res[v->nart - 1].hash, v->man.head_hash, TFA_SHA256_LEN) != 0) {
		rc = fail(v, TFA_LAYER_CHAIN, TFA_BUNDLE_MANIFEST, v->man.to_seq,
			  "Head hash mismatch: the last artifact is not the manifest's head_hash");
		goto out;
	}
	emit(v, "SUCCESS", "Hash chain valid (%" PRIu64 " artifacts)", v->nart);

	/* Layer 4. */
	for (uint64_t k = 0; k < v->nart; k++) {
		if (v->res[k].sig != ST_OK) {
			fail_idx = (long)k;
			rc = explain(v, k, TFA_LAYER_SIGNATURES);
			goto out;
		}
	}
	emit(v, "SUCCESS", "All %" PRIu64 " artifact signatures valid", v->nart);
	v->rep->artifacts = v->nart;
out:
	(void)fail_idx;
	for (unsigned t = 0; t < nthreads; t++) {
		tfa_buf_free(&ws[t].art);
		tfa_buf_free(&ws[t].sig);
		tfa_verifier_clear(&ws[t].ver);
		if (ws[t].artfd > 0)
			close(ws[t].artfd);
	}
	tfa_buf_free(&buf);
	return rc;
}

tfa_err tfa_verify_bundle(tfa_verify_report *rep, const char *path, const tfa_verify_opts *opts)
{
	tfa_err rc = TFA_OK;
	tfa_verify_opts none;
	vctx v;
	uint8_t tmp[TFA_SHA256_LEN];

	memset(&none, 0, sizeof(none));
	memset(&v, 0, sizeof(v));
	v.rootfd = -1;
	TFA_ENSURE_ARG(rep);
	memset(rep, 0, sizeof(*rep));
	TFA_ENSURE(path != NULL, TFA_EUSAGE, "no bundle given");
	v.opts = opts ? opts : &none;
	v.rep = rep;
	v.path = path;
	if (v.opts->expect_fpr &&
	    tfa_hash_parse(tmp, v.opts->expect_fpr, strlen(v.opts->expect_fpr)) != TFA_OK)
		TFA_BAIL(TFA_EUSAGE, "--expect-key-fingerprint must be sha256:<64 lowercase hex digits>");
	emit(&v, "INFO", "Verifying evidence bundle: %s", path);
	v.rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (v.rootfd < 0)
		TFA_BAIL(errno == ENOENT ? TFA_EUSAGE : TFA_EIO, "cannot open bundle %s: %s", path,
			 strerror(errno));
	TFA_GUARD(check_manifest(&v));
	TFA_GUARD(check_contents(&v));
	emit(&v, "SUCCESS", "All verification checks passed");
out:
	if (rc != TFA_OK && rc != TFA_EVERIFY && rep && rep->message[0] == '\0')
		snprintf(rep->message, sizeof(rep->message), "%s", tfa_error_last()->message);
	if (v.rootfd >= 0)
		close(v.rootfd);
	EVP_PKEY_free(v.key);
	free(v.res);
	tfa_manifest_clear(&v.man);
	return rc;
}
