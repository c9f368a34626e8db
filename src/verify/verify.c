/*
 * Offline bundle verification.
 *
 * Memory does not grow with the bundle: the manifest is read as a stream
 * twice (once to check it and its signature, once to drive the file checks),
 * and artifacts are checked in fixed-size batches by a few threads, each file
 * read once. Layers 2-4 are computed together but judged strictly in layer
 * order: the first hash mismatch anywhere outranks a broken link, which
 * outranks a bad signature, exactly as if each layer had run to completion
 * before the next.
 *
 * Every file is read through a bundle source (bsrc.h): a directory, read in
 * place, or an archive, read into memory under caps first. The layers do not
 * know which.
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

#include "tfattest/features.h"
#if TFATTEST_WITH_ARCHIVE
#include "verify/archive/bundle_archive.h"
#endif
#include "verify/bsrc.h"
#include "format/bundle_path.h"
#include "verify/crypto.h"
#include "format/jstream.h"
#include "verify/keywalk.h"
#include "verify/manifest.h"
#include "format/pathsafe.h"
#include "format/timefmt.h"
#include "verify/tsa.h"
#include "tfattest/artifact.h"
#include "tfattest/bundle.h"
#include "tfattest/checkpoint.h"
#include "tfattest/sys/guard.h"
#include "tfattest/verify.h"
#include "verify/verify_int.h"

#define SIG_MAX TFA_SIG_MAX
#define KEYS_MAX TFA_VERIFY_KEYS_MAX
/* keys/: one .json and .sig per rotation, one .pem per key; room for the
 * rotation to a 65th key, which the key walk rejects by its own rule. */
#define KFILES_MAX (3 * (KEYS_MAX + 1))
#define PUBKEY_MAX 65536
#define OTHER_FILE_MAX ((uint64_t)1 << 30)
#define THREADS_MAX 16
#define BATCH 512
#define MANIFEST_STRING_MAX 256
/* With on_artifact, the bytes a batch may hold for it before the batch is judged early. */
#define KEEP_BATCH_MAX ((uint64_t)64 << 20)

/* Why a file failed layer 2. */
enum { FR_OK = 0, FR_MISSING, FR_UNSAFE, FR_MISMATCH };

typedef struct job {
	uint64_t seq;
	tfa_manifest_file json, sig;
	char jpath[48], spath[48];
	/* results */
	uint8_t files;    /* FR_* of the first failing file */
	uint8_t bad_sig;  /* 1: the failing file is the .sig */
	uint8_t parse_ok; /* valid, canonical artifact */
	uint8_t place_ok; /* chain id and seq as expected */
	uint8_t sig_ok;
	uint8_t is_rot; /* a rotation record */
	uint64_t rb_seq; /* rollback_to.seq, or 0 */
	uint8_t rb_hash[TFA_SHA256_LEN];
	uint8_t hash[TFA_SHA256_LEN];
	uint8_t prev[TFA_SHA256_LEN];
	/* With on_artifact: the bytes read and checked, .json then .sig, kept until judged. */
	uint8_t *keep;
	size_t keep_len, keep_siglen;
	uint8_t keep_failed; /* out of memory */
} job;

typedef struct worker {
	struct vctx *v;
	tfa_buf art, sig;
	EVP_PKEY *key[KEYS_MAX]; /* this thread's copies: threads share no key state */
	tfa_verifier ver[KEYS_MAX];
	int hint; /* the source's per-thread handle for artifacts/, or -1 */
} worker;

/* A trusted key: the anchor, or one a verified rotation brought in (keywalk.h). */
typedef tfa_keywalk_key vkey;
_Static_assert(KEYS_MAX == TFA_KEYWALK_MAX, "the verifier holds every key a chain may have");

/* A checkpoint the bundle is held to (layer 5). */
typedef struct vckpt {
	const char *path; /* as given, or the bundle's checkpoint path */
	bool trusted;
	bool parsed;
	char why[512]; /* why it did not parse */
	tfa_checkpoint_file f;
	bool have_hash;
	uint8_t art_hash[TFA_SHA256_LEN]; /* of the artifact at its seq, when in range */
} vckpt;

#define BUNDLE_CKPT "checkpoint.ckpt"

/* A rollback record's target inside the range, checked once the range has been read. */
typedef struct vrollback {
	uint64_t seq;    /* the rollback record's */
	uint64_t target; /* rollback_to.seq */
	uint8_t hash[TFA_SHA256_LEN];
	bool differs; /* from the artifact at target */
} vrollback;

/* A manifest entry under keys/, kept from the first scan. */
typedef struct kfile {
	char path[TFA_PATH_MAX_LEN + 1];
	tfa_manifest_file f;
} kfile;

typedef struct vctx {
	const char *path;
	tfa_bsrc src;
	const tfa_verify_opts *opts;
	tfa_verify_opts none; /* the options when none are given */
	tfa_verify_report *rep;
	tfa_manifest man;
	uint8_t man_digest[TFA_SHA256_LEN];
	EVP_PKEY *key;
	char key_fpr[TFA_FPR_STRLEN];
	vkey keys[KEYS_MAX];
	size_t nkeys;
	kfile kfiles[KFILES_MAX];
	size_t nkfiles;
	bool lists_ckpt;
	vckpt ckpts[TFA_VERIFY_CHECKPOINTS_MAX];
	size_t nckpts;

	/* pass 2 */
	EVP_MD_CTX *md;
	unsigned nthreads;
	worker ws[THREADS_MAX];
	/* Two job arrays: the workers check one while the scan fills the other. */
	job jobs[2][BATCH];
	size_t njobs[2];
	int fill; /* the array the scan fills */
	int busy; /* the array the workers check, or -1 */
	pthread_t tids[THREADS_MAX];
	unsigned started;
	atomic_size_t next_job;
	atomic_uint_fast64_t spooled; /* artifacts marked event.spool */
	bool have_pending;
	tfa_manifest_file pending;
	char pending_path[48];
	uint64_t expect_seq; /* the next seq the manifest should list */
	uint64_t checked;    /* artifacts consumed */
	uint8_t last_hash[TFA_SHA256_LEN];
	tfa_buf other; /* buffer for non-artifact files */
	vrollback *rbs; /* one per rollback record whose target is in the range */
	size_t nrbs, caprbs;
	uint64_t fill_bytes; /* listed sizes of the artifacts in the array being filled */
	tfa_err cb_rc;       /* what on_artifact returned, when not TFA_OK */
	/* checkpoint.ckpt as layer 2 read and hashed it: layer 5 parses these bytes. */
	tfa_buf own_ckpt;
	bool own_ckpt_read;

	/* first failures */
	bool l2_failed;
	tfa_layer fail_layer;
	char l2_msg[512], l2_path[256];
	uint64_t l2_seq;
	bool l3_failed;
	char l3_msg[512], l3_path[256];
	uint64_t l3_seq; /* 0: message complete; else explain from the artifact */
	bool l3_explain;
	bool l4_failed;
	uint64_t l4_seq;
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

/* Records the failure in the report, prints it, and returns TFA_EVERIFY. */
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

/* Reads a whole small file from the bundle. */
static tfa_err read_small(tfa_buf *out, const tfa_bsrc *src, const char *path, size_t max)
{
	tfa_err rc;
	tfa_bfile f;

	if ((rc = src->ops->open(src, -1, path, &f)) != TFA_OK)
		return rc;
	rc = src->ops->read_all(&f, out, path, max);
	src->ops->close(&f);
	return rc == TFA_EFORMAT ? tfa_error_set(TFA_EVERIFY, "%s", tfa_error_last()->message) : rc;
}

static void hash_bytes(void *ud, const uint8_t *p, size_t n)
{
	EVP_DigestUpdate((EVP_MD_CTX *)ud, p, n);
}

typedef struct src_reader {
	const tfa_bsrc *src;
	tfa_bfile *f;
} src_reader;

static ssize_t read_src(void *ud, void *buf, size_t n)
{
	src_reader *r = ud;

	return r->src->ops->read(r->f, buf, n);
}

/* Streams manifest.json through a scan, hashing it on the way. */
static tfa_err scan_manifest(vctx *v, tfa_manifest *m, tfa_manifest_file_fn fn, void *ud,
			     uint8_t digest[TFA_SHA256_LEN])
{
	tfa_err rc = TFA_OK;
	tfa_jstream *js = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	tfa_bfile f;
	src_reader r = { &v->src, &f };
	bool opened = false;

	TFA_ENSURE(md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL), TFA_EINTERNAL,
		   "out of memory");
	TFA_GUARD(v->src.ops->open(&v->src, -1, TFA_BUNDLE_MANIFEST, &f));
	opened = true;
	TFA_GUARD(tfa_jstream_new(&js, read_src, &r, MANIFEST_STRING_MAX, TFA_MANIFEST_MAX_BYTES));
	tfa_jstream_on_bytes(js, hash_bytes, md);
	TFA_GUARD(tfa_manifest_scan(m, js, fn, ud));
	TFA_ENSURE(EVP_DigestFinal_ex(md, digest, NULL), TFA_ECRYPTO, "SHA-256 failed");
out:
	tfa_jstream_free(js);
	EVP_MD_CTX_free(md);
	if (opened)
		v->src.ops->close(&f);
	return rc;
}

static int read_listed_at(tfa_buf *buf, const tfa_bsrc *src, int hint, const tfa_manifest_file *mf,
			  size_t max, uint8_t hash[TFA_SHA256_LEN]);

/* The key in force at seq: the last one whose run starts at or before it. */
static size_t key_index(const vctx *v, uint64_t seq)
{
	return tfa_keywalk_at(v->keys, v->nkeys, seq);
}

static const vkey *rotation_at(const vctx *v, uint64_t seq)
{
	for (size_t i = 1; i < v->nkeys; i++)
		if (v->keys[i].rot_seq == seq)
			return &v->keys[i];
	return NULL;
}

/* Layer 1's scan callback: every path must be one a bundle may hold; keeps the keys/ entries. */
static tfa_err on_key_file(void *ud, const tfa_manifest_file *f, size_t index)
{
	vctx *v = ud;
	const char *p = f->path;

	(void)index;
	if (!tfa_bundle_path_allowed(p))
		return tfa_error_set(TFA_EFORMAT, "manifest lists %s, which is not a path a bundle may hold",
				     p);
	if (strcmp(p, BUNDLE_CKPT) == 0)
		v->lists_ckpt = true;
	if (strncmp(p, "keys/", 5) != 0)
		return TFA_OK;
	if (v->nkfiles >= KFILES_MAX)
		return tfa_error_set(TFA_EFORMAT, "manifest lists more than %d files under keys/", KFILES_MAX);
	snprintf(v->kfiles[v->nkfiles].path, sizeof(v->kfiles[0].path), "%s", p);
	v->kfiles[v->nkfiles].f = *f;
	v->kfiles[v->nkfiles].f.path = v->kfiles[v->nkfiles].path;
	v->nkfiles++;
	return TFA_OK;
}

static const tfa_manifest_file *kfile_find(const vctx *v, const char *path)
{
	for (size_t i = 0; i < v->nkfiles; i++)
		if (strcmp(v->kfiles[i].path, path) == 0)
			return &v->kfiles[i].f;
	return NULL;
}

/* Reads a listed file now, in layer 1, and holds it to its manifest entry. */
static tfa_err read_checked(vctx *v, tfa_buf *out, const tfa_manifest_file *f, size_t max, uint64_t seq)
{
	uint8_t h[TFA_SHA256_LEN];
	int r = read_listed_at(out, &v->src, -1, f, max, h);

	if (r == FR_OK)
		return TFA_OK;
	if (seq)
		return fail(v, TFA_LAYER_MANIFEST, f->path, seq, "%s %s (seq %" PRIu64 ")",
			    r == FR_MISSING ? "Missing file:" : r == FR_UNSAFE ? "Unsafe file:" : "Hash mismatch for",
			    f->path, seq);
	return fail(v, TFA_LAYER_MANIFEST, f->path, 0, "%s %s",
		    r == FR_MISSING ? "Missing file:" : r == FR_UNSAFE ? "Unsafe file:" : "Hash mismatch for",
		    f->path);
}

static bool has_ext(const char *path, const char *ext)
{
	size_t n = strlen(path), e = strlen(ext);

	return n >= e && strcmp(path + n - e, ext) == 0;
}

/* keys/: every rotation record has its signature and every signature its record. */
static tfa_err check_key_pairs(vctx *v)
{
	for (size_t i = 0; i < v->nkfiles; i++) {
		const char *p = v->kfiles[i].path;
		char other[TFA_PATH_MAX_LEN + 1];
		bool json = has_ext(p, ".json");

		if (!json && !has_ext(p, ".sig"))
			continue;
		snprintf(other, sizeof(other), "%.17s%s", p, json ? ".sig" : ".json");
		if (kfile_find(v, other) == NULL) /* the missing one is the failing file */
			return fail(v, TFA_LAYER_MANIFEST, other, strtoull(p + 5, NULL, 10),
				    "Manifest lists %s but not %s", p, other);
	}
	return TFA_OK;
}

/* The anchor of a bundle with rotations: the first rotation's signer, whose key it carries. */
static tfa_err load_anchor(vctx *v, const tfa_manifest_file *first, tfa_artifact *a, tfa_buf *b)
{
	tfa_err rc = TFA_OK;
	uint64_t seq = strtoull(first->path + 5, NULL, 10);

	TFA_GUARD(read_checked(v, b, first, TFA_ARTIFACT_MAX, seq));
	if (tfa_artifact_parse(a, b->data, b->len) != TFA_OK) {
		rc = fail(v, TFA_LAYER_MANIFEST, first->path, seq, "Invalid rotation record %s (seq %" PRIu64 "): %s",
			  first->path, seq, tfa_error_last()->message);
		goto out;
	}
	if (!a->is_rotation) {
		rc = fail(v, TFA_LAYER_MANIFEST, first->path, seq, "%s (seq %" PRIu64 ") is not a rotation record",
			  first->path, seq);
		goto out;
	}
	if (tfa_keywalk_anchor(v->keys, &v->nkeys, a->rot.old_spki, a->rot.old_spki_len) != TFA_OK) {
		rc = fail(v, TFA_LAYER_MANIFEST, first->path, seq, "Anchor key in %s unusable: %s", first->path,
			  tfa_error_last()->message);
		goto out;
	}
out:
	return rc;
}

/*
 * keys/ records are linked to each other and to the range: keys/N+1's
 * prev_hash is keys/N's hash, keys/(from_seq-1) is the record base_hash
 * names, and keys/(to_seq+1) follows head_hash. So keys/ cannot come from
 * another fork than the range.
 */
static tfa_err check_key_links(vctx *v, const char *path, const tfa_artifact *a,
			       const uint8_t hash[TFA_SHA256_LEN], uint64_t prev_seq,
			       const uint8_t prev_hash[TFA_SHA256_LEN])
{
	uint64_t seq = a->seq;

	if (prev_seq != 0 && prev_seq + 1 == seq && CRYPTO_memcmp(a->prev_hash, prev_hash, TFA_SHA256_LEN) != 0)
		return fail(v, TFA_LAYER_MANIFEST, path, seq,
			    "Rotation %s (seq %" PRIu64 "): prev_hash is not the hash of keys/%012" PRIu64 ".json",
			    path, seq, prev_seq);
	if (seq + 1 == v->man.from_seq && CRYPTO_memcmp(hash, v->man.base_hash, TFA_SHA256_LEN) != 0)
		return fail(v, TFA_LAYER_MANIFEST, path, seq,
			    "Rotation %s (seq %" PRIu64 ") is not the record the manifest's base_hash names",
			    path, seq);
	if (seq == v->man.to_seq + 1 && CRYPTO_memcmp(a->prev_hash, v->man.head_hash, TFA_SHA256_LEN) != 0)
		return fail(v, TFA_LAYER_MANIFEST, path, seq,
			    "Rotation %s (seq %" PRIu64 "): prev_hash is not the manifest's head_hash", path,
			    seq);
	return TFA_OK;
}

/* Follows the rotation records in keys/ from the anchor; each one extends the trusted keys. */
static tfa_err follow_rotations(vctx *v)
{
	tfa_err rc = TFA_OK;
	tfa_buf b, sig;
	tfa_artifact *a = calloc(1, sizeof(*a));
	tfa_keywalk_why why;
	uint64_t prev_seq = 0;
	uint8_t prev_hash[TFA_SHA256_LEN];

	tfa_buf_init(&b, TFA_ARTIFACT_MAX);
	tfa_buf_init(&sig, SIG_MAX);
	TFA_ENSURE(a != NULL, TFA_EINTERNAL, "out of memory");
	for (size_t i = 0; i < v->nkfiles; i++) {
		const tfa_manifest_file *jf = &v->kfiles[i].f, *sf;
		char spath[TFA_PATH_MAX_LEN + 1];
		uint64_t seq;
		const vkey *cur, *nk;

		if (strcmp(jf->path + strlen(jf->path) - 5, ".json") != 0)
			continue;
		seq = strtoull(jf->path + 5, NULL, 10);
		snprintf(spath, sizeof(spath), "keys/%012" PRIu64 ".sig", seq);
		sf = kfile_find(v, spath);
		TFA_ENSURE(sf != NULL, TFA_EINTERNAL, "%s lost its signature", jf->path);
		tfa_buf_clear(&b);
		tfa_buf_clear(&sig);
		TFA_GUARD(read_checked(v, &b, jf, TFA_ARTIFACT_MAX, seq));
		TFA_GUARD(read_checked(v, &sig, sf, SIG_MAX, seq));
		if (tfa_keywalk_step(v->keys, &v->nkeys, v->man.chain_id, seq, b.data, b.len, sig.data,
				     sig.len, a, &why) != TFA_OK) {
			if (why == TFA_KW_OK) {
				rc = tfa_error_last()->code;
				goto out;
			}
			rc = fail(v, TFA_LAYER_MANIFEST, why == TFA_KW_SIGNATURE ? spath : jf->path, seq,
				  "Rotation %s (seq %" PRIu64 "): %s", jf->path, seq, tfa_error_last()->message);
			goto out;
		}
		cur = &v->keys[v->nkeys - 2];
		nk = &v->keys[v->nkeys - 1];
		TFA_GUARD(check_key_links(v, jf->path, a, nk->rot_hash, prev_seq, prev_hash));
		prev_seq = seq;
		memcpy(prev_hash, nk->rot_hash, sizeof(prev_hash));
		emit(v, "INFO", "Rotation at seq %" PRIu64 ": key %s replaces %s (proof of possession valid)",
		     seq, nk->fpr, cur->fpr);
	}
out:
	free(a);
	tfa_buf_free(&b);
	tfa_buf_free(&sig);
	return rc;
}

/*
 * keys/ holds one .pem for each key the rotations name (the anchor and each
 * new key) and no other, and each holds the key its name says, canonical.
 */
static tfa_err check_key_pems(vctx *v)
{
	tfa_err rc = TFA_OK;
	tfa_buf b, spki;
	char fpr[TFA_FPR_STRLEN], path[TFA_PATH_MAX_LEN + 1];
	bool rotated = v->nkeys > 1;

	tfa_buf_init(&b, PUBKEY_MAX);
	tfa_buf_init(&spki, PUBKEY_MAX);
	for (size_t i = 0; i < v->nkfiles; i++) {
		const tfa_manifest_file *f = &v->kfiles[i].f;
		bool named = false;

		if (!has_ext(f->path, ".pem"))
			continue;
		for (size_t k = 0; rotated && k < v->nkeys && !named; k++)
			named = strncmp(v->keys[k].fpr + 7, f->path + 5, 64) == 0;
		if (!named) {
			rc = fail(v, TFA_LAYER_MANIFEST, f->path, 0,
				  "%s is not a key the bundle's rotations name", f->path);
			goto out;
		}
		tfa_buf_clear(&b);
		tfa_buf_clear(&spki);
		TFA_GUARD(read_checked(v, &b, f, PUBKEY_MAX, 0));
		if (tfa_spki_from_bundle_pem(&spki, b.data, b.len) != TFA_OK) {
			rc = fail(v, TFA_LAYER_MANIFEST, f->path, 0, "Public key unusable: %s", tfa_error_last()->message);
			goto out;
		}
		tfa_spki_fingerprint(fpr, spki.data, spki.len);
		if (strncmp(fpr + 7, f->path + 5, 64) != 0) {
			rc = fail(v, TFA_LAYER_MANIFEST, f->path, 0, "%s holds key %s, not the key its name says",
				  f->path, fpr);
			goto out;
		}
	}
	for (size_t k = 0; rotated && k < v->nkeys; k++) {
		snprintf(path, sizeof(path), "keys/%s.pem", v->keys[k].fpr + 7);
		if (kfile_find(v, path) == NULL) {
			rc = fail(v, TFA_LAYER_MANIFEST, path, 0, "Manifest does not list %s, the %s key %s", path,
				  k == 0 ? "anchor" : "rotated-in", v->keys[k].fpr);
			goto out;
		}
	}
out:
	tfa_buf_free(&b);
	tfa_buf_free(&spki);
	return rc;
}

static void report_keys(vctx *v)
{
	v->rep->nkeys = v->nkeys;
	for (size_t i = 0; i < v->nkeys; i++) {
		tfa_verify_key *k = &v->rep->keys[i];
		memcpy(k->fpr, v->keys[i].fpr, sizeof(k->fpr));
		k->from_seq = v->keys[i].from;
		k->to_seq = i + 1 < v->nkeys ? v->keys[i + 1].rot_seq : 0;
		if (k->to_seq)
			emit(v, "INFO", "Key %s in force for seq %" PRIu64 "..%" PRIu64 "%s", k->fpr,
			     k->from_seq, k->to_seq, i == 0 ? " (anchor)" : "");
		else
			emit(v, "INFO", "Key %s in force from seq %" PRIu64 "%s", k->fpr, k->from_seq,
			     i == 0 ? " (anchor)" : "");
	}
}

/* Layer 1. */
static tfa_err check_manifest(vctx *v)
{
	tfa_err rc = TFA_OK;
	tfa_buf sig, pem, spki;
	bool rotated;
	const char *anchor;

	tfa_buf_init(&sig, SIG_MAX);
	tfa_buf_init(&pem, PUBKEY_MAX);
	tfa_buf_init(&spki, PUBKEY_MAX);
	rc = scan_manifest(v, &v->man, on_key_file, v, v->man_digest);
	if (rc == TFA_ENOTFOUND) {
		rc = fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0, "Manifest unreadable: %s",
			  tfa_error_last()->message);
		goto out;
	}
	if (rc == TFA_EFORMAT || rc == TFA_EVERIFY) {
		rc = fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0, "Manifest invalid: %s",
			  tfa_error_last()->message);
		goto out;
	}
	if (rc != TFA_OK)
		goto out;
	if (v->opts->require_genesis && v->man.from_seq != 1) {
		rc = fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, v->man.from_seq,
			  "Bundle starts at seq %" PRIu64 ", not at genesis (--require-genesis)",
			  v->man.from_seq);
		goto out;
	}
	snprintf(v->rep->chain_id, sizeof(v->rep->chain_id), "%s", v->man.chain_id);
	v->rep->from_seq = v->man.from_seq;
	v->rep->to_seq = v->man.to_seq;
	v->rep->files = v->man.nfiles;

	if (!v->man.lists_pubkey) {
		rc = fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_PUBKEY, 0, "Manifest does not list %s",
			  TFA_BUNDLE_PUBKEY);
		goto out;
	}
	if (read_small(&pem, &v->src, TFA_BUNDLE_PUBKEY, PUBKEY_MAX) != TFA_OK ||
	    tfa_spki_from_bundle_pem(&spki, pem.data, pem.len) != TFA_OK ||
	    tfa_pkey_from_spki(&v->key, spki.data, spki.len) != TFA_OK) {
		rc = fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_PUBKEY, 0, "Public key unusable: %s",
			  tfa_error_last()->message);
		goto out;
	}
	tfa_spki_fingerprint(v->key_fpr, spki.data, spki.len);

	TFA_GUARD(check_key_pairs(v));
	/* The anchor: the first rotation's signer, or with no rotation the bundle's key. */
	rotated = false;
	for (size_t i = 0; i < v->nkfiles && !rotated; i++)
		rotated = strcmp(v->kfiles[i].path + strlen(v->kfiles[i].path) - 5, ".json") == 0;
	if (rotated) {
		tfa_buf b;
		tfa_artifact *a = calloc(1, sizeof(*a));
		const tfa_manifest_file *first = NULL;

		for (size_t i = 0; i < v->nkfiles && first == NULL; i++)
			if (strcmp(v->kfiles[i].path + strlen(v->kfiles[i].path) - 5, ".json") == 0)
				first = &v->kfiles[i].f;
		TFA_ENSURE(a != NULL, TFA_EINTERNAL, "out of memory");
		tfa_buf_init(&b, TFA_ARTIFACT_MAX);
		rc = load_anchor(v, first, a, &b);
		free(a);
		tfa_buf_free(&b);
		if (rc != TFA_OK)
			goto out;
	} else {
		memcpy(v->keys[0].fpr, v->key_fpr, sizeof(v->key_fpr));
		v->keys[0].pkey = v->key;
		EVP_PKEY_up_ref(v->key);
		v->keys[0].from = 1;
		v->nkeys = 1;
	}
	anchor = v->keys[0].fpr;
	if (v->opts->expect_fpr) {
		if (strcmp(v->opts->expect_fpr, anchor) != 0) {
			rc = fail(v, TFA_LAYER_MANIFEST, rotated ? "keys/" : TFA_BUNDLE_PUBKEY, 0,
				  "Key fingerprint mismatch: bundle %s is %s, expected %s",
				  rotated ? "anchor key" : "key", anchor, v->opts->expect_fpr);
			goto out;
		}
		v->rep->key_pinned = true;
		emit(v, "INFO", "Anchor key matches the pinned fingerprint %s", anchor);
	} else {
		emit(v, "WARN",
		     "Trusting the bundle's own key %s; pin it with --expect-key-fingerprint", anchor);
	}
	memcpy(v->rep->trusted_fpr, anchor, TFA_FPR_STRLEN);
	if (rotated) {
		/* follow_rotations re-reads the first record: keys[0] is set, start from it. */
		v->nkeys = 1;
		TFA_GUARD(follow_rotations(v));
	}
	TFA_GUARD(check_key_pems(v));
	if (strcmp(v->man.key_fpr, v->keys[v->nkeys - 1].fpr) != 0) {
		rc = fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0,
			  "Manifest names signing key %s, which is not the key in force at export (%s) "
			  "reached from the anchor through the bundle's rotations",
			  v->man.key_fpr, v->keys[v->nkeys - 1].fpr);
		goto out;
	}
	if (strcmp(v->man.key_fpr, v->key_fpr) != 0) {
		rc = fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0,
			  "Manifest names signing key %s, but the bundle's key is %s", v->man.key_fpr,
			  v->key_fpr);
		goto out;
	}
	report_keys(v);
	rc = read_small(&sig, &v->src, TFA_BUNDLE_MANIFEST_SIG, SIG_MAX);
	if (rc != TFA_OK) {
		rc = rc == TFA_EIO ? rc
				   : fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST_SIG, 0,
					  "Manifest signature unreadable: %s", tfa_error_last()->message);
		goto out;
	}
	rc = tfa_verify_digest(v->key, v->man.alg, v->man_digest, sig.data, sig.len);
	if (rc == TFA_EVERIFY) {
		rc = fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST_SIG, 0,
			  "Manifest signature invalid: %s", tfa_error_last()->message);
		goto out;
	}
	if (rc != TFA_OK)
		goto out;
	emit(v, "SUCCESS", "Manifest signature valid");
	v->rep->passed_layer = TFA_LAYER_MANIFEST;
out:
	tfa_buf_free(&sig);
	tfa_buf_free(&pem);
	tfa_buf_free(&spki);
	return rc;
}

/* Layer 2's walk through the source: an entry no bundle may hold is a layer-2 failure. */
static tfa_err walk(vctx *v, uint64_t *count, const tfa_manifest *index)
{
	char bad[TFA_PATH_MAX_LEN * 2];
	tfa_err rc;

	bad[0] = '\0';
	rc = v->src.ops->walk(&v->src, count, index, bad, sizeof(bad));
	if (rc == TFA_EVERIFY)
		rc = fail(v, TFA_LAYER_FILES, bad, 0, "%s", tfa_error_last()->message);
	return rc;
}

/*
 * Reads a listed file fully (bounded) and checks its size and hash; returns
 * an FR_* code. hint is the source's per-thread handle for artifacts/, or -1.
 */
static int read_listed_at(tfa_buf *buf, const tfa_bsrc *src, int hint, const tfa_manifest_file *mf,
			  size_t max, uint8_t hash[TFA_SHA256_LEN])
{
	int res = FR_MISMATCH;
	bool opened = false;
	ssize_t n;
	tfa_bfile f;
	tfa_err orc;

	tfa_buf_clear(buf);
	orc = src->ops->open(src, hint, mf->path, &f);
	if (orc != TFA_OK) {
		res = orc == TFA_ENOTFOUND ? FR_MISSING : FR_UNSAFE;
		goto out;
	}
	opened = true;
	if (mf->size > max || tfa_buf_reserve(buf, (size_t)mf->size + 1) != TFA_OK)
		goto out;
	/*
	 * Ask for one byte more than listed: a regular file returns fewer bytes
	 * than asked only at its end, so one read settles both the content and
	 * the size. Anything that is not a regular file fails the comparison.
	 */
	n = src->ops->read(&f, buf->data, (size_t)mf->size + 1);
	if (n < 0 && errno == EISDIR)
		res = FR_UNSAFE; /* a directory where a file is listed */
	if (n != (ssize_t)mf->size)
		goto out;
	buf->len = (size_t)n;
	tfa_sha256(hash, buf->data, buf->len);
	if (CRYPTO_memcmp(hash, mf->sha256, TFA_SHA256_LEN) == 0)
		res = FR_OK;
out:
	tfa_error_clear();
	if (opened)
		src->ops->close(&f);
	return res;
}

/* Streams a listed file of any size through SHA-256; returns an FR_* code. */
static int hash_listed(const tfa_bsrc *src, const tfa_manifest_file *mf, tfa_buf *buf)
{
	int res = FR_MISMATCH;
	uint64_t total = 0;
	uint8_t d[TFA_SHA256_LEN];
	EVP_MD_CTX *md = NULL;
	tfa_bfile f;
	tfa_err orc = src->ops->open(src, -1, mf->path, &f);
	bool opened = orc == TFA_OK;

	if (orc != TFA_OK) {
		res = orc == TFA_ENOTFOUND ? FR_MISSING : FR_UNSAFE;
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
		res = FR_OK;
out:
	tfa_error_clear();
	EVP_MD_CTX_free(md);
	if (opened)
		src->ops->close(&f);
	return res;
}

static void check_job(worker *w, job *j)
{
	vctx *v = w->v;
	uint8_t sh[TFA_SHA256_LEN];
	tfa_artifact a;
	size_t k;
	int r;

	r = read_listed_at(&w->art, &v->src, w->hint, &j->json, TFA_ARTIFACT_MAX, j->hash);
	if (r == FR_OK) {
		r = read_listed_at(&w->sig, &v->src, w->hint, &j->sig, SIG_MAX, sh);
		j->bad_sig = r != FR_OK;
	}
	j->files = (uint8_t)r;
	if (r != FR_OK)
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
	if (tfa_artifact_parse(&a, w->art.data, w->art.len) != TFA_OK) {
		tfa_error_clear();
		return;
	}
	j->parse_ok = 1;
	if (a.spooled)
		atomic_fetch_add(&v->spooled, 1);
	memcpy(j->prev, a.prev_hash, TFA_SHA256_LEN);
	j->place_ok = a.seq == j->seq && strcmp(a.chain_id, v->man.chain_id) == 0;
	j->is_rot = a.is_rotation;
	j->rb_seq = a.rollback_to;
	memcpy(j->rb_hash, a.rollback_hash, TFA_SHA256_LEN);
	k = key_index(v, j->seq);
	j->sig_ok = strcmp(a.key_fpr, v->keys[k].fpr) == 0 &&
		    tfa_verifier_check(&w->ver[k], a.alg, j->hash, w->sig.data, w->sig.len) == TFA_OK;
	tfa_error_clear();
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	vctx *v = w->v;

	for (;;) {
		size_t i = atomic_fetch_add(&v->next_job, 1);
		if (i >= v->njobs[v->busy])
			break;
		check_job(w, &v->jobs[v->busy][i]);
	}
	return NULL;
}

static const char *const f_words[] = { "", "Missing file:", "Unsafe file:", "Hash mismatch for" };

/* Records a layer-2 failure: the first in path order, since entries are handled in order. */
static tfa_err l2_fail(vctx *v, const char *path, uint64_t seq, int why)
{
	v->l2_failed = true;
	snprintf(v->l2_path, sizeof(v->l2_path), "%s", path);
	v->l2_seq = seq;
	if (seq)
		snprintf(v->l2_msg, sizeof(v->l2_msg), "%s %s (seq %" PRIu64 ")", f_words[why], path, seq);
	else
		snprintf(v->l2_msg, sizeof(v->l2_msg), "%s %s", f_words[why], path);
	return TFA_EVERIFY; /* stops the scan */
}

static void l3_fail(vctx *v, const char *path, uint64_t seq, bool explain, const char *fmt, ...)
	TFA_PRINTF(5, 6);
static void l3_fail(vctx *v, const char *path, uint64_t seq, bool explain, const char *fmt, ...)
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

/* Starts the workers on the array being filled; the scan goes on with the other. */
static void launch(vctx *v)
{
	v->busy = v->fill;
	v->fill ^= 1;
	v->njobs[v->fill] = 0;
	v->fill_bytes = 0;
	atomic_store(&v->next_job, 0);
	v->started = 0;
	if (v->njobs[v->busy] > 1)
		for (unsigned t = 0; t < v->nthreads; t++)
			if (pthread_create(&v->tids[v->started], NULL, worker_main, &v->ws[t]) == 0)
				v->started++;
	if (v->started == 0)
		worker_main(&v->ws[0]);
}

/* Waits for the workers, if any are running. */
static void drain(vctx *v)
{
	for (unsigned t = 0; t < v->started; t++)
		pthread_join(v->tids[t], NULL);
	v->started = 0;
}

static void free_kept(job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(jobs[i].keep);
		jobs[i].keep = NULL;
	}
}

/*
 * Hands a judged artifact to on_artifact: only while nothing has failed,
 * so every call is for a record that passed, in seq order.
 */
static tfa_err deliver(vctx *v, job *j)
{
	tfa_err rc;

	if (v->opts->on_artifact == NULL || v->l3_failed || v->l4_failed)
		return TFA_OK;
	if (j->keep_failed)
		return v->cb_rc = tfa_error_set(TFA_EINTERNAL, "out of memory");
	rc = v->opts->on_artifact(v->opts->artifact_ud, j->seq, j->keep, j->keep_len,
				  j->keep + j->keep_len, j->keep_siglen);
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

static tfa_err judge(vctx *v, job *jobs, size_t n);

/* Waits for the array in flight, then judges it in seq order. */
static tfa_err finish(vctx *v)
{
	job *jobs;
	size_t n;
	tfa_err rc;

	if (v->busy < 0)
		return TFA_OK;
	drain(v);
	jobs = v->jobs[v->busy];
	n = v->njobs[v->busy];
	v->busy = -1;
	rc = judge(v, jobs, n);
	free_kept(jobs, n);
	return rc;
}

static tfa_err judge(vctx *v, job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		job *j = &jobs[i];
		uint8_t g[TFA_SHA256_LEN] = { 0 };
		tfa_err rc;

		if (j->files != FR_OK)
			return l2_fail(v, j->bad_sig ? j->spath : j->jpath, j->seq, j->files);
		if (!j->parse_ok || !j->place_ok) {
			l3_fail(v, j->jpath, j->seq, true, "%s", "");
		} else if (j->seq == v->man.from_seq) {
			if (CRYPTO_memcmp(j->prev, v->man.base_hash, TFA_SHA256_LEN) != 0)
				l3_fail(v, j->jpath, j->seq, false,
					"Chain broken at %s (seq %" PRIu64 "): prev_hash is not the manifest's base_hash",
					j->jpath, j->seq);
			else if (j->seq == 1 && CRYPTO_memcmp(j->prev, g, TFA_SHA256_LEN) != 0)
				l3_fail(v, j->jpath, j->seq, false,
					"Chain broken at %s (seq 1): prev_hash is not the genesis value",
					j->jpath);
		} else if (CRYPTO_memcmp(j->prev, v->last_hash, TFA_SHA256_LEN) != 0) {
			l3_fail(v, j->jpath, j->seq, false,
				"Chain broken at %s (seq %" PRIu64 "): prev_hash does not match seq %" PRIu64,
				j->jpath, j->seq, j->seq - 1);
		}
		if (j->parse_ok && j->place_ok) {
			/* keys/ must hold exactly the rotations the range holds. */
			const vkey *rk = rotation_at(v, j->seq);
			if (j->is_rot && rk == NULL)
				l3_fail(v, j->jpath, j->seq, false,
					"Rotation %s (seq %" PRIu64 ") is not among the bundle's keys/ rotation records",
					j->jpath, j->seq);
			else if (rk && (!j->is_rot || CRYPTO_memcmp(rk->rot_hash, j->hash, TFA_SHA256_LEN) != 0))
				l3_fail(v, j->jpath, j->seq, false,
					"%s (seq %" PRIu64 ") differs from the rotation record keys/%012" PRIu64 ".json",
					j->jpath, j->seq, j->seq);
		}
		if (j->parse_ok && j->place_ok && j->rb_seq != 0 && j->rb_seq < v->man.from_seq &&
		    !v->l3_failed) {
			/* A target before the range is in the bundle only as a rotation record
			 * under keys/, whose hash layer 1 kept. */
			const vkey *rt = rotation_at(v, j->rb_seq);
			if (rt && CRYPTO_memcmp(rt->rot_hash, j->rb_hash, TFA_SHA256_LEN) != 0)
				l3_fail(v, j->jpath, j->seq, false,
					"Rollback %s (seq %" PRIu64 "): rollback_to.hash is not the hash of "
					"keys/%012" PRIu64 ".json",
					j->jpath, j->seq, j->rb_seq);
		}
		if (j->parse_ok && j->place_ok && j->rb_seq >= v->man.from_seq && !v->l3_failed) {
			vrollback *r;
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
		if ((rc = deliver(v, j)) != TFA_OK)
			return rc;
	}
	return TFA_OK;
}

/* Checks and judges everything queued so far, in order. */
static tfa_err run_batch(vctx *v)
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
static tfa_err check_other(vctx *v, const tfa_manifest_file *f)
{
	tfa_err rc;
	int r;

	if ((rc = run_batch(v)) != TFA_OK)
		return rc;
	if (strcmp(f->path, BUNDLE_CKPT) == 0 && f->size <= TFA_CHECKPOINT_FILE_MAX) {
		uint8_t h[TFA_SHA256_LEN];
		/* Kept: layer 5 judges the bytes hashed here, not a second read. */
		r = read_listed_at(&v->own_ckpt, &v->src, -1, f, TFA_CHECKPOINT_FILE_MAX, h);
		v->own_ckpt_read = r == FR_OK;
	} else {
		r = hash_listed(&v->src, f, &v->other);
	}
	return r == FR_OK ? TFA_OK : l2_fail(v, f->path, 0, r);
}

/* Pass 2's callback: each manifest entry in path order. */
static tfa_err on_file(void *ud, const tfa_manifest_file *f, size_t index)
{
	vctx *v = ud;
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
			job *j = &v->jobs[v->fill][v->njobs[v->fill]++];
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
			if (v->njobs[v->fill] < BATCH &&
			    (v->opts->on_artifact == NULL || v->fill_bytes < KEEP_BATCH_MAX))
				return TFA_OK;
			/* Judge the batch in flight, then start this one and scan on. */
			if ((rc = finish(v)) != TFA_OK)
				return rc;
			launch(v);
			return TFA_OK;
		}
		l3_fail(v, esig, v->expect_seq, false,
			"Sequence gap: manifest does not list %s", esig);
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
		l3_fail(v, f->path, 0, false, "Manifest lists %s outside the range %" PRIu64 "..%" PRIu64,
			f->path, v->man.from_seq, v->man.to_seq);
	else
		l3_fail(v, ejson, v->expect_seq, false, "Sequence gap: manifest does not list %s", ejson);
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
	if (n > THREADS_MAX)
		n = THREADS_MAX;
	return (unsigned)n;
}

/* The message for an artifact's layer-3 or layer-4 failure, re-derived from the file. */
static tfa_err explain(vctx *v, tfa_layer layer, uint64_t seq)
{
	char jp[48], sp[48];
	tfa_buf b;
	tfa_artifact a;
	const vkey *k;
	tfa_err rc;

	art_names(jp, sp, seq);
	tfa_buf_init(&b, TFA_ARTIFACT_MAX);
	rc = read_small(&b, &v->src, jp, TFA_ARTIFACT_MAX);
	if (rc == TFA_OK)
		rc = tfa_artifact_parse(&a, b.data, b.len);
	tfa_buf_free(&b);
	if (rc != TFA_OK)
		return fail(v, layer, jp, seq, "Invalid artifact %s (seq %" PRIu64 "): %s", jp, seq,
			    tfa_error_last()->message);
	if (layer == TFA_LAYER_CHAIN) {
		if (strcmp(a.chain_id, v->man.chain_id) != 0)
			return fail(v, layer, jp, seq,
				    "Chain id mismatch in %s (seq %" PRIu64 "): %s, manifest says %s", jp,
				    seq, a.chain_id, v->man.chain_id);
		return fail(v, layer, jp, seq, "Sequence mismatch: %s holds seq %" PRIu64 ", expected %" PRIu64,
			    jp, a.seq, seq);
	}
	k = &v->keys[key_index(v, seq)];
	if (strcmp(a.key_fpr, k->fpr) != 0)
		return fail(v, layer, sp, seq,
			    "Artifact %s (seq %" PRIu64 ") names signing key %s, not the key in force at seq %" PRIu64 " (%s)",
			    jp, seq, a.key_fpr, seq, k->fpr);
	if (tfa_pkey_check_alg(k->pkey, a.alg) != TFA_OK)
		return fail(v, layer, sp, seq, "Algorithm %s of %s (seq %" PRIu64 ") does not fit the key",
			    tfa_sig_alg_name(a.alg), jp, seq);
	return fail(v, layer, sp, seq, "Signature invalid for %s (seq %" PRIu64 ")", jp, seq);
}

/* The slow path when the bundle's file count differs from the manifest's. */
static tfa_err name_count_mismatch(vctx *v)
{
	tfa_err rc = TFA_OK;
	tfa_buf raw;
	tfa_manifest full;
	uint64_t count = 0;

	memset(&full, 0, sizeof(full));
	tfa_buf_init(&raw, TFA_MANIFEST_MAX_BYTES);
	TFA_GUARD(read_small(&raw, &v->src, TFA_BUNDLE_MANIFEST, TFA_MANIFEST_MAX_BYTES));
	TFA_GUARD(tfa_manifest_parse(&full, raw.data, raw.len));
	TFA_GUARD(walk(v, &count, &full));
	for (size_t i = 0; i < full.nfiles; i++) {
		tfa_bfile f;
		tfa_err orc = v->src.ops->open(&v->src, -1, full.files[i].path, &f);
		if (orc == TFA_OK) {
			v->src.ops->close(&f);
			continue;
		}
		rc = fail(v, TFA_LAYER_FILES, full.files[i].path, 0, "%s %s",
			  orc == TFA_ENOTFOUND ? "Missing file:" : "Unsafe file:", full.files[i].path);
		goto out;
	}
	rc = fail(v, TFA_LAYER_FILES, "", 0, "Bundle file count does not match the manifest");
out:
	tfa_manifest_clear(&full);
	tfa_buf_free(&raw);
	return rc;
}

static int rb_by_target(const void *x, const void *y)
{
	const vrollback *a = x, *b = y;

	if (a->target != b->target)
		return a->target < b->target ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* The rollback checks' scan callback: the manifest's hash of each target artifact. */
static tfa_err on_rollback_target(void *ud, const tfa_manifest_file *f, size_t index)
{
	vctx *v = ud;
	size_t lo = 0, hi = v->nrbs;
	uint64_t seq;

	(void)index;
	if (strlen(f->path) != 27 || strncmp(f->path, "artifacts/", 10) != 0 || strcmp(f->path + 22, ".json") != 0)
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
static tfa_err check_rollbacks(vctx *v)
{
	tfa_err rc = TFA_OK;
	tfa_manifest again;
	uint8_t digest[TFA_SHA256_LEN];
	const vrollback *bad = NULL;

	if (v->nrbs == 0 || (v->l3_failed && v->rbs[0].seq >= v->l3_seq && v->l3_seq != 0))
		return TFA_OK;
	qsort(v->rbs, v->nrbs, sizeof(*v->rbs), rb_by_target);
	rc = scan_manifest(v, &again, on_rollback_target, v, digest);
	if (rc == TFA_OK && CRYPTO_memcmp(digest, v->man_digest, sizeof(digest)) != 0)
		rc = TFA_EFORMAT;
	if (rc == TFA_EFORMAT || rc == TFA_EVERIFY)
		return fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0,
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
			"Rollback %s (seq %" PRIu64 "): rollback_to.hash is not the hash of artifacts/%012" PRIu64 ".json",
			jp, bad->seq, bad->target);
	}
	return TFA_OK;
}

/* Layers 2-4. */
static tfa_err check_contents(vctx *v)
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
		worker *w = &v->ws[t];
		w->v = v;
		w->hint = -1;
		tfa_buf_init(&w->art, TFA_ARTIFACT_MAX + 1);
		tfa_buf_init(&w->sig, SIG_MAX + 1);
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
	v->expect_seq = v->man.from_seq;
	v->busy = -1;
	rc = scan_manifest(v, &again, on_file, v, digest);
	if (rc == TFA_OK || (rc == TFA_EVERIFY && v->l2_failed))
		rc = v->l2_failed ? TFA_EVERIFY : run_batch(v);
	if (v->cb_rc != TFA_OK) {
		rc = v->cb_rc;
		goto out;
	}
	if (rc != TFA_OK && !v->l2_failed) {
		/* The manifest was valid a moment ago: it changed under us. */
		if (rc == TFA_EFORMAT || rc == TFA_EVERIFY)
			rc = fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0,
				  "Manifest changed during verification");
		goto out;
	}
	if (!v->l2_failed && CRYPTO_memcmp(digest, v->man_digest, sizeof(digest)) != 0) {
		rc = fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0,
			  "Manifest changed during verification");
		goto out;
	}
	if (v->l2_failed) {
		rc = fail(v, TFA_LAYER_FILES, v->l2_path, v->l2_seq, "%s", v->l2_msg);
		goto out;
	}
	if (v->have_pending)
		l3_fail(v, v->pending_path, v->expect_seq, false,
			"Sequence gap: manifest does not list artifacts/%012" PRIu64 ".sig", v->expect_seq);
	emit(v, "SUCCESS", "All %zu file hashes valid", v->man.nfiles);
	v->rep->passed_layer = TFA_LAYER_FILES;

	if (!v->l3_failed && v->expect_seq != v->man.to_seq + 1) {
		char ejson[48], esig[48];
		art_names(ejson, esig, v->expect_seq);
		l3_fail(v, ejson, v->expect_seq, false, "Sequence gap: manifest does not list %s", ejson);
	}
	if (!v->l3_failed && CRYPTO_memcmp(v->last_hash, v->man.head_hash, TFA_SHA256_LEN) != 0)
		l3_fail(v, TFA_BUNDLE_MANIFEST, v->man.to_seq, false,
			"Head hash mismatch: the last artifact is not the manifest's head_hash");
	TFA_GUARD(check_rollbacks(v));
	if (v->l3_failed) {
		rc = v->l3_explain ? explain(v, TFA_LAYER_CHAIN, v->l3_seq)
				   : fail(v, TFA_LAYER_CHAIN, v->l3_path, v->l3_seq, "%s", v->l3_msg);
		goto out;
	}
	emit(v, "SUCCESS", "Hash chain valid (%" PRIu64 " artifacts)", v->checked);
	v->rep->passed_layer = TFA_LAYER_CHAIN;
	if (v->l4_failed) {
		rc = explain(v, TFA_LAYER_SIGNATURES, v->l4_seq);
		goto out;
	}
	emit(v, "SUCCESS", "All %" PRIu64 " artifact signatures valid", v->checked);
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
	free(v->rbs);
	v->rbs = NULL;
	v->nrbs = v->caprbs = 0;
	return rc;
}

/*
 * Reads and parses the checkpoints before layer 2, so the scan can keep the
 * hashes of the artifacts at their seqs. Problems are reported in layer 5.
 */
static tfa_err load_checkpoints(vctx *v)
{
	tfa_err rc = TFA_OK;
	tfa_buf raw;

	tfa_buf_init(&raw, TFA_CHECKPOINT_FILE_MAX);
	for (size_t i = 0; i <= v->opts->ncheckpoints; i++) {
		vckpt *c;
		bool own = i == v->opts->ncheckpoints;

		if (own && !v->lists_ckpt)
			break;
		c = &v->ckpts[v->nckpts++];
		tfa_checkpoint_file_init(&c->f);
		c->trusted = !own;
		c->path = own ? BUNDLE_CKPT : v->opts->checkpoints[i];
		tfa_buf_clear(&raw);
		if (own) {
			/* Its hash is checked in layer 2; this read only learns its seq. */
			if (read_small(&raw, &v->src, BUNDLE_CKPT, TFA_CHECKPOINT_FILE_MAX) != TFA_OK) {
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
static tfa_err check_checkpoint(vctx *v, vckpt *c)
{
	tfa_err rc = TFA_OK;
	const tfa_checkpoint *cp = &c->f.cp;
	const char *f = c->path;
	tfa_verify_checkpoint *r;
	uint8_t d[TFA_SHA256_LEN];
	const vkey *k;
	char hh[TFA_FPR_STRLEN];

	if (!c->trusted) {
		/* The bundle's own copy: parse the bytes layer 2 hashed, not a second read. */
		c->parsed = false;
		tfa_checkpoint_file_clear(&c->f);
		tfa_checkpoint_file_init(&c->f);
		if (!v->own_ckpt_read)
			snprintf(c->why, sizeof(c->why), "%s is larger than the limit of %zu bytes",
				 BUNDLE_CKPT, (size_t)TFA_CHECKPOINT_FILE_MAX);
		else if (tfa_checkpoint_file_parse(&c->f, v->own_ckpt.data, v->own_ckpt.len) == TFA_OK)
			c->parsed = true;
		else
			snprintf(c->why, sizeof(c->why), "%s", tfa_error_last()->message);
	}
	if (!c->parsed)
		return fail(v, TFA_LAYER_CHECKPOINTS, f, 0, "Checkpoint %s invalid: %s", f, c->why);
	if (strcmp(cp->chain_id, v->man.chain_id) != 0)
		return fail(v, TFA_LAYER_CHECKPOINTS, f, cp->seq,
			    "Checkpoint %s is of chain %s, not of the bundle's chain %s", f, cp->chain_id,
			    v->man.chain_id);
	if (cp->seq > v->man.to_seq)
		return fail(v, TFA_LAYER_CHECKPOINTS, f, cp->seq,
			    "Bundle ends at seq %" PRIu64 ", before checkpoint %s (seq %" PRIu64 "): "
			    "records are withheld or the bundle is an older export",
			    v->man.to_seq, f, cp->seq);
	if (cp->seq + 1 < v->man.from_seq)
		return fail(v, TFA_LAYER_CHECKPOINTS, f, cp->seq,
			    "Bundle starts at seq %" PRIu64 ", after checkpoint %s (seq %" PRIu64 "): "
			    "it cannot show that it extends it", v->man.from_seq, f, cp->seq);
	/* Signed by the key in force after its seq: the one that would sign seq + 1. */
	k = &v->keys[key_index(v, cp->seq + 1)];
	if (strcmp(cp->key_fpr, k->fpr) != 0)
		return fail(v, TFA_LAYER_CHECKPOINTS, f, cp->seq,
			    "Checkpoint %s (seq %" PRIu64 ") is signed by key %s, not the key in force after seq %" PRIu64 " (%s)",
			    f, cp->seq, cp->key_fpr, cp->seq, k->fpr);
	tfa_sha256(d, c->f.doc.data, c->f.doc.len);
	rc = tfa_verify_digest(k->pkey, cp->alg, d, c->f.sig.data, c->f.sig.len);
	if (rc == TFA_EVERIFY)
		return fail(v, TFA_LAYER_CHECKPOINTS, f, cp->seq,
			    "Checkpoint %s (seq %" PRIu64 "): signature invalid", f, cp->seq);
	if (rc != TFA_OK)
		return rc;
	tfa_hash_str(hh, cp->head_hash);
	if (cp->seq >= v->man.from_seq) {
		if (!c->have_hash || CRYPTO_memcmp(c->art_hash, cp->head_hash, TFA_SHA256_LEN) != 0)
			return fail(v, TFA_LAYER_CHECKPOINTS, f, cp->seq,
				    "Checkpoint %s (seq %" PRIu64 ") names head %s, but artifacts/%012" PRIu64
				    ".json differs: the chain was rewritten or forked", f, cp->seq, hh, cp->seq);
	} else if (CRYPTO_memcmp(v->man.base_hash, cp->head_hash, TFA_SHA256_LEN) != 0) {
		return fail(v, TFA_LAYER_CHECKPOINTS, f, cp->seq,
			    "Checkpoint %s (seq %" PRIu64 ") names head %s, but the bundle's base_hash differs: "
			    "the chain was rewritten or forked", f, cp->seq, hh);
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
		rc = tfa_tsa_verify(&ti, c->f.tsr.data, c->f.tsr.len, d, c->f.nonce_hex, v->opts->tsa_ca);
		if (rc == TFA_EVERIFY || rc == TFA_EFORMAT)
			return fail(v, TFA_LAYER_CHECKPOINTS, f, cp->seq,
				    "Checkpoint %s (seq %" PRIu64 "): timestamp invalid: %s", f, cp->seq,
				    tfa_error_last()->message);
		if (rc != TFA_OK)
			return rc;
		r->ts = TFA_TS_VALID;
		r->ts_gen_time = ti.gen_time;
		snprintf(r->ts_subject, sizeof(r->ts_subject), "%s", ti.tsa_subject);
		tfa_time_format(when, ti.gen_time);
		emit(v, "SUCCESS", "Checkpoint %s timestamped at %s by %s", f, when, ti.tsa_subject);
	} else if (c->f.has_tsa) {
		r->ts = TFA_TS_UNCHECKED;
		emit(v, "WARN", "Checkpoint %s carries an RFC 3161 timestamp, not checked (give --tsa-ca)", f);
	}
	if (c->trusted)
		emit(v, "SUCCESS", "Bundle reaches trusted checkpoint %s (seq %" PRIu64 ", head %s)", f,
		     cp->seq, hh);
	else
		emit(v, "INFO",
		     "Bundle's own checkpoint (seq %" PRIu64 ") is consistent, but untrusted: "
		     "pass a copy obtained out of band with --checkpoint", cp->seq);
	return TFA_OK;
}

static tfa_err check_checkpoints(vctx *v)
{
	for (size_t i = 0; i < v->nckpts; i++) {
		tfa_err rc = check_checkpoint(v, &v->ckpts[i]);
		if (rc != TFA_OK)
			return rc;
	}
	if (v->opts->ncheckpoints == 0)
		emit(v, "INFO", "No trusted checkpoint given: records after seq %" PRIu64
		     " may exist that this bundle does not show", v->man.to_seq);
	return TFA_OK;
}

/* Allocates the context and checks the options; prints the first line. */
static tfa_err begin(vctx **out, tfa_verify_report *rep, const char *path,
		     const tfa_verify_opts *opts)
{
	tfa_err rc = TFA_OK;
	vctx *v = NULL;
	uint8_t tmp[TFA_SHA256_LEN];

	*out = NULL;
	TFA_ENSURE_ARG(rep);
	memset(rep, 0, sizeof(*rep));
	TFA_ENSURE(path != NULL, TFA_EUSAGE, "no bundle given");
	v = calloc(1, sizeof(*v));
	TFA_ENSURE(v != NULL, TFA_EINTERNAL, "out of memory");
	v->src.rootfd = -1;
	tfa_buf_init(&v->own_ckpt, TFA_CHECKPOINT_FILE_MAX + 1);
	v->opts = opts ? opts : &v->none;
	v->rep = rep;
	v->path = path;
	v->src.path = path;
	if (v->opts->expect_fpr &&
	    tfa_hash_parse(tmp, v->opts->expect_fpr, strlen(v->opts->expect_fpr)) != TFA_OK)
		TFA_BAIL(TFA_EUSAGE, "--expect-key-fingerprint must be sha256:<64 lowercase hex digits>");
	TFA_ENSURE(v->opts->ncheckpoints < TFA_VERIFY_CHECKPOINTS_MAX &&
			   (v->opts->ncheckpoints == 0 || v->opts->checkpoints != NULL),
		   TFA_EUSAGE, "at most %d checkpoints can be given", TFA_VERIFY_CHECKPOINTS_MAX - 1);
	emit(v, "INFO", "Verifying evidence bundle: %s", path);
	*out = v;
	v = NULL;
out:
	if (v)
		tfa_buf_free(&v->own_ckpt);
	free(v);
	return rc;
}

/* Every layer, once the source is open. */
static tfa_err run(vctx *v)
{
	tfa_err rc = TFA_OK;

	TFA_GUARD(check_manifest(v));
	TFA_GUARD(load_checkpoints(v));
	TFA_GUARD(check_contents(v));
	TFA_GUARD(check_checkpoints(v));
	v->rep->passed_layer = TFA_LAYER_CHECKPOINTS;
	emit(v, "SUCCESS", "All verification checks passed");
out:
	return rc;
}

static tfa_err end(vctx *v, tfa_verify_report *rep, tfa_err rc)
{
	if (rc != TFA_OK && rc != TFA_EVERIFY && rep && rep->message[0] == '\0')
		snprintf(rep->message, sizeof(rep->message), "%s", tfa_error_last()->message);
	if (v) {
		tfa_bsrc_close(&v->src);
		EVP_PKEY_free(v->key);
		for (size_t k = 0; k < KEYS_MAX; k++)
			EVP_PKEY_free(v->keys[k].pkey);
		for (size_t k = 0; k < v->nckpts; k++)
			tfa_checkpoint_file_clear(&v->ckpts[k].f);
		tfa_manifest_clear(&v->man);
		tfa_buf_free(&v->own_ckpt);
		free(v);
	}
	return rc;
}

#if TFATTEST_WITH_ARCHIVE
/* Takes a loaded archive as the source; an archive that breaks the entry rules fails layer 1. */
static tfa_err use_archive(vctx *v, tfa_err loaded)
{
	if (loaded == TFA_EVERIFY)
		return fail(v, TFA_LAYER_MANIFEST, tfa_archive_rejected_entry(), 0, "%s",
			    tfa_error_last()->message);
	if (loaded == TFA_OK)
		v->src.ops = &tfa_bsrc_archive_ops;
	return loaded;
}

tfa_err tfa_verify_archive_mem(tfa_verify_report *rep, const void *data, size_t len,
			       const tfa_verify_opts *opts, const tfa_archive_limits *lim)
{
	tfa_err rc = TFA_OK;
	vctx *v = NULL;

	TFA_GUARD(begin(&v, rep, "(memory)", opts));
	TFA_GUARD(use_archive(v, tfa_archive_load_mem(&v->src.ar, data, len, lim)));
	TFA_GUARD(run(v));
out:
	return end(v, rep, rc);
}
#endif

tfa_err tfa_verify_bundle(tfa_verify_report *rep, const char *path, const tfa_verify_opts *opts)
{
	tfa_err rc = TFA_OK;
	vctx *v = NULL;

	TFA_GUARD(begin(&v, rep, path, opts));
	rc = tfa_bsrc_open(&v->src, path);
#if TFATTEST_WITH_ARCHIVE
	/* An archive that breaks the entry rules fails layer 1. */
	if (rc == TFA_EVERIFY && v->src.ops == NULL)
		rc = fail(v, TFA_LAYER_MANIFEST, tfa_archive_rejected_entry(), 0, "%s",
			  tfa_error_last()->message);
#endif
	TFA_GUARD(rc);
	TFA_GUARD(run(v));
out:
	return end(v, rep, rc);
}
