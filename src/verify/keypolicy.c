/*
 * Layer 1: the manifest, its signature, and the keys. The anchor is the
 * bundle's key or the first rotation's signer (pinned with
 * --expect-key-fingerprint); the rotation records under keys/ are followed
 * from it, each extending the trusted keys, and each key's run of seqs is
 * what the later layers hold every record and checkpoint to.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "format/bundle_path.h"
#include "tfattest/bundle.h"
#include "tfattest/sys/guard.h"
#include "verify/vfy_int.h"

#define PUBKEY_MAX 65536

/* The key in force at seq: the last one whose run starts at or before it. */
size_t tfa_vfy_key_index(const tfa_vfy_ctx *v, uint64_t seq)
{
	return tfa_keywalk_at(v->keys, v->nkeys, seq);
}

const tfa_vfy_key *tfa_vfy_rotation_at(const tfa_vfy_ctx *v, uint64_t seq)
{
	for (size_t i = 1; i < v->nkeys; i++)
		if (v->keys[i].rot_seq == seq)
			return &v->keys[i];
	return NULL;
}

/* Layer 1's scan callback: every path must be one a bundle may hold; keeps the keys/ entries. */
static tfa_err on_key_file(void *ud, const tfa_manifest_file *f, size_t index)
{
	tfa_vfy_ctx *v = ud;
	const char *p = f->path;

	(void)index;
	if (!tfa_bundle_path_allowed(p))
		return tfa_error_set(TFA_EFORMAT,
				     "manifest lists %s, which is not a path a bundle may hold", p);
	if (strcmp(p, TFA_VFY_BUNDLE_CKPT) == 0)
		v->lists_ckpt = true;
	if (strcmp(p, TFA_BUNDLE_EXPORTER_KEY) == 0)
		v->exporter_entry = *f;
	if (strncmp(p, "keys/", 5) != 0)
		return TFA_OK;
	if (v->nkfiles >= TFA_VFY_KFILES_MAX)
		return tfa_error_set(TFA_EFORMAT, "manifest lists more than %d files under keys/",
				     TFA_VFY_KFILES_MAX);
	snprintf(v->kfiles[v->nkfiles].path, sizeof(v->kfiles[0].path), "%s", p);
	v->kfiles[v->nkfiles].f = *f;
	v->kfiles[v->nkfiles].f.path = v->kfiles[v->nkfiles].path;
	v->nkfiles++;
	return TFA_OK;
}

static const tfa_manifest_file *kfile_find(const tfa_vfy_ctx *v, const char *path)
{
	for (size_t i = 0; i < v->nkfiles; i++)
		if (strcmp(v->kfiles[i].path, path) == 0)
			return &v->kfiles[i].f;
	return NULL;
}

/* Reads a listed file now, in layer 1, and holds it to its manifest entry. */
static tfa_err read_checked(tfa_vfy_ctx *v, tfa_buf *out, const tfa_manifest_file *f, size_t max,
			    uint64_t seq)
{
	uint8_t h[TFA_SHA256_LEN];
	int r = tfa_vfy_read_listed(out, &v->src, -1, f, max, h);

	if (r == TFA_VFY_FR_OK)
		return TFA_OK;
	if (seq)
		return tfa_vfy_fail(v, TFA_LAYER_MANIFEST, f->path, seq, "%s %s (seq %" PRIu64 ")",
				    r == TFA_VFY_FR_MISSING  ? "Missing file:"
				    : r == TFA_VFY_FR_UNSAFE ? "Unsafe file:"
							     : "Hash mismatch for",
				    f->path, seq);
	return tfa_vfy_fail(v, TFA_LAYER_MANIFEST, f->path, 0, "%s %s",
			    r == TFA_VFY_FR_MISSING  ? "Missing file:"
			    : r == TFA_VFY_FR_UNSAFE ? "Unsafe file:"
						     : "Hash mismatch for",
			    f->path);
}

static bool has_ext(const char *path, const char *ext)
{
	size_t n = strlen(path), e = strlen(ext);

	return n >= e && strcmp(path + n - e, ext) == 0;
}

/* keys/: every rotation record has its signature and every signature its record. */
static tfa_err check_key_pairs(tfa_vfy_ctx *v)
{
	for (size_t i = 0; i < v->nkfiles; i++) {
		const char *p = v->kfiles[i].path;
		char other[TFA_PATH_MAX_LEN + 1];
		bool json = has_ext(p, ".json");

		if (!json && !has_ext(p, ".sig"))
			continue;
		snprintf(other, sizeof(other), "%.17s%s", p, json ? ".sig" : ".json");
		if (kfile_find(v, other) == NULL) /* the missing one is the failing file */
			return tfa_vfy_fail(v, TFA_LAYER_MANIFEST, other, strtoull(p + 5, NULL, 10),
					    "Manifest lists %s but not %s", p, other);
	}
	return TFA_OK;
}

/* The anchor of a bundle with rotations: the first rotation's signer, whose key it carries. */
static tfa_err load_anchor(tfa_vfy_ctx *v, const tfa_manifest_file *first, tfa_artifact *a,
			   tfa_buf *b)
{
	tfa_err rc = TFA_OK;
	uint64_t seq = strtoull(first->path + 5, NULL, 10);

	TFA_GUARD(read_checked(v, b, first, TFA_ARTIFACT_MAX, seq));
	if (tfa_artifact_parse(a, b->data, b->len) != TFA_OK) {
		rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, first->path, seq,
				  "Invalid rotation record %s (seq %" PRIu64 "): %s", first->path,
				  seq, tfa_error_last()->message);
		goto out;
	}
	if (!a->is_rotation) {
		rc =
		    tfa_vfy_fail(v, TFA_LAYER_MANIFEST, first->path, seq,
				 "%s (seq %" PRIu64 ") is not a rotation record", first->path, seq);
		goto out;
	}
	if (tfa_keywalk_anchor(v->keys, &v->nkeys, a->rot.old_spki, a->rot.old_spki_len) !=
	    TFA_OK) {
		rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, first->path, seq,
				  "Anchor key in %s unusable: %s", first->path,
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
static tfa_err check_key_links(tfa_vfy_ctx *v, const char *path, const tfa_artifact *a,
			       const uint8_t hash[TFA_SHA256_LEN], uint64_t prev_seq,
			       const uint8_t prev_hash[TFA_SHA256_LEN])
{
	uint64_t seq = a->seq;

	if (prev_seq != 0 && prev_seq + 1 == seq &&
	    CRYPTO_memcmp(a->prev_hash, prev_hash, TFA_SHA256_LEN) != 0)
		return tfa_vfy_fail(v, TFA_LAYER_MANIFEST, path, seq,
				    "Rotation %s (seq %" PRIu64
				    "): prev_hash is not the hash of keys/%012" PRIu64 ".json",
				    path, seq, prev_seq);
	if (seq + 1 == v->man.from_seq &&
	    CRYPTO_memcmp(hash, v->man.base_hash, TFA_SHA256_LEN) != 0)
		return tfa_vfy_fail(v, TFA_LAYER_MANIFEST, path, seq,
				    "Rotation %s (seq %" PRIu64
				    ") is not the record the manifest's base_hash names",
				    path, seq);
	if (seq == v->man.to_seq + 1 &&
	    CRYPTO_memcmp(a->prev_hash, v->man.head_hash, TFA_SHA256_LEN) != 0)
		return tfa_vfy_fail(v, TFA_LAYER_MANIFEST, path, seq,
				    "Rotation %s (seq %" PRIu64
				    "): prev_hash is not the manifest's head_hash",
				    path, seq);
	return TFA_OK;
}

/* Follows the rotation records in keys/ from the anchor; each one extends the trusted keys. */
static tfa_err follow_rotations(tfa_vfy_ctx *v)
{
	tfa_err rc = TFA_OK;
	tfa_buf b, sig;
	tfa_artifact *a = calloc(1, sizeof(*a));
	tfa_keywalk_why why;
	uint64_t prev_seq = 0;
	uint8_t prev_hash[TFA_SHA256_LEN];

	tfa_buf_init(&b, TFA_ARTIFACT_MAX);
	tfa_buf_init(&sig, TFA_SIG_MAX);
	TFA_ENSURE(a != NULL, TFA_EINTERNAL, "out of memory");
	for (size_t i = 0; i < v->nkfiles; i++) {
		const tfa_manifest_file *jf = &v->kfiles[i].f, *sf;
		char spath[TFA_PATH_MAX_LEN + 1];
		uint64_t seq;
		const tfa_vfy_key *cur, *nk;

		if (strcmp(jf->path + strlen(jf->path) - 5, ".json") != 0)
			continue;
		seq = strtoull(jf->path + 5, NULL, 10);
		snprintf(spath, sizeof(spath), "keys/%012" PRIu64 ".sig", seq);
		sf = kfile_find(v, spath);
		TFA_ENSURE(sf != NULL, TFA_EINTERNAL, "%s lost its signature", jf->path);
		tfa_buf_clear(&b);
		tfa_buf_clear(&sig);
		TFA_GUARD(read_checked(v, &b, jf, TFA_ARTIFACT_MAX, seq));
		TFA_GUARD(read_checked(v, &sig, sf, TFA_SIG_MAX, seq));
		if (tfa_keywalk_step(v->keys, &v->nkeys, v->man.chain_id, seq, b.data, b.len,
				     sig.data, sig.len, a, &why) != TFA_OK) {
			if (why == TFA_KW_OK) {
				rc = tfa_error_last()->code;
				goto out;
			}
			rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST,
					  why == TFA_KW_SIGNATURE ? spath : jf->path, seq,
					  "Rotation %s (seq %" PRIu64 "): %s", jf->path, seq,
					  tfa_error_last()->message);
			goto out;
		}
		cur = &v->keys[v->nkeys - 2];
		nk = &v->keys[v->nkeys - 1];
		TFA_GUARD(check_key_links(v, jf->path, a, nk->rot_hash, prev_seq, prev_hash));
		prev_seq = seq;
		memcpy(prev_hash, nk->rot_hash, sizeof(prev_hash));
		tfa_vfy_emit(v, "INFO",
			     "Rotation at seq %" PRIu64
			     ": key %s replaces %s (proof of possession valid)",
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
static tfa_err check_key_pems(tfa_vfy_ctx *v)
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
			rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, f->path, 0,
					  "%s is not a key the bundle's rotations name", f->path);
			goto out;
		}
		tfa_buf_clear(&b);
		tfa_buf_clear(&spki);
		TFA_GUARD(read_checked(v, &b, f, PUBKEY_MAX, 0));
		if (tfa_spki_from_bundle_pem(&spki, b.data, b.len) != TFA_OK) {
			rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, f->path, 0,
					  "Public key unusable: %s", tfa_error_last()->message);
			goto out;
		}
		tfa_spki_fingerprint(fpr, spki.data, spki.len);
		if (strncmp(fpr + 7, f->path + 5, 64) != 0) {
			rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, f->path, 0,
					  "%s holds key %s, not the key its name says", f->path,
					  fpr);
			goto out;
		}
	}
	for (size_t k = 0; rotated && k < v->nkeys; k++) {
		snprintf(path, sizeof(path), "keys/%s.pem", v->keys[k].fpr + 7);
		if (kfile_find(v, path) == NULL) {
			rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, path, 0,
					  "Manifest does not list %s, the %s key %s", path,
					  k == 0 ? "anchor" : "rotated-in", v->keys[k].fpr);
			goto out;
		}
	}
out:
	tfa_buf_free(&b);
	tfa_buf_free(&spki);
	return rc;
}

static void report_keys(tfa_vfy_ctx *v)
{
	v->rep->nkeys = v->nkeys;
	for (size_t i = 0; i < v->nkeys; i++) {
		tfa_verify_key *k = &v->rep->keys[i];
		memcpy(k->fpr, v->keys[i].fpr, sizeof(k->fpr));
		k->from_seq = v->keys[i].from;
		k->to_seq = i + 1 < v->nkeys ? v->keys[i + 1].rot_seq : 0;
		if (k->to_seq)
			tfa_vfy_emit(v, "INFO",
				     "Key %s in force for seq %" PRIu64 "..%" PRIu64 "%s", k->fpr,
				     k->from_seq, k->to_seq, i == 0 ? " (anchor)" : "");
		else
			tfa_vfy_emit(v, "INFO", "Key %s in force from seq %" PRIu64 "%s", k->fpr,
				     k->from_seq, i == 0 ? " (anchor)" : "");
	}
}

/* Schema 1: the manifest is signed by the key in force at export, held in public_key.pem. */
static tfa_err check_chain_manifest_key(tfa_vfy_ctx *v)
{
	if (strcmp(v->man.key_fpr, v->keys[v->nkeys - 1].fpr) != 0)
		return tfa_vfy_fail(
		    v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0,
		    "Manifest names signing key %s, which is not the key in force at export (%s) "
		    "reached from the anchor through the bundle's rotations",
		    v->man.key_fpr, v->keys[v->nkeys - 1].fpr);
	if (strcmp(v->man.key_fpr, v->key_fpr) != 0)
		return tfa_vfy_fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0,
				    "Manifest names signing key %s, but the bundle's key is %s",
				    v->man.key_fpr, v->key_fpr);
	v->mkey = v->key;
	return TFA_OK;
}

/*
 * Schema 2: public_key.pem is still the key in force at export; the manifest
 * is signed by the exporter's own key, carried in exporter_key.pem, which
 * must be no key of the chain: a chain key never signs an exporter-signed
 * manifest, and an exporter's signature is never taken for the chain's.
 */
_Static_assert(sizeof(((tfa_verify_report *)0)->writer_name) == TFA_MANIFEST_WRITER_MAX + 1 &&
		   sizeof(((tfa_verify_report *)0)->writer_version) == TFA_MANIFEST_WRITER_MAX + 1,
	       "the report holds a manifest writer's name and version whole");

static tfa_err check_exporter_key(tfa_vfy_ctx *v)
{
	tfa_err rc = TFA_OK;
	tfa_buf pem, spki;
	tfa_manifest_file f;
	char fpr[TFA_FPR_STRLEN];

	tfa_buf_init(&pem, PUBKEY_MAX);
	tfa_buf_init(&spki, PUBKEY_MAX);
	if (strcmp(v->key_fpr, v->keys[v->nkeys - 1].fpr) != 0) {
		rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_PUBKEY, 0,
				  "%s holds key %s, which is not the key in force at export (%s) "
				  "reached from the anchor through the bundle's rotations",
				  TFA_BUNDLE_PUBKEY, v->key_fpr, v->keys[v->nkeys - 1].fpr);
		goto out;
	}
	if (!v->man.lists_exporter_key) {
		rc = tfa_vfy_fail(
		    v, TFA_LAYER_MANIFEST, TFA_BUNDLE_EXPORTER_KEY, 0,
		    "Manifest is exporter-signed but does not list %s, the exporter's key",
		    TFA_BUNDLE_EXPORTER_KEY);
		goto out;
	}
	f = v->exporter_entry;
	f.path = TFA_BUNDLE_EXPORTER_KEY;
	TFA_GUARD(read_checked(v, &pem, &f, PUBKEY_MAX, 0));
	if (tfa_spki_from_bundle_pem(&spki, pem.data, pem.len) != TFA_OK ||
	    tfa_pkey_from_spki(&v->exporter_key, spki.data, spki.len) != TFA_OK) {
		rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_EXPORTER_KEY, 0,
				  "Exporter key unusable: %s", tfa_error_last()->message);
		goto out;
	}
	tfa_spki_fingerprint(fpr, spki.data, spki.len);
	if (strcmp(fpr, v->man.key_fpr) != 0) {
		rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_EXPORTER_KEY, 0,
				  "Manifest names exporter key %s, but %s holds %s", v->man.key_fpr,
				  TFA_BUNDLE_EXPORTER_KEY, fpr);
		goto out;
	}
	for (size_t k = 0; k < v->nkeys; k++)
		if (strcmp(fpr, v->keys[k].fpr) == 0) {
			rc = tfa_vfy_fail(
			    v, TFA_LAYER_MANIFEST, TFA_BUNDLE_EXPORTER_KEY, 0,
			    "Exporter key %s is the chain's %s key: an exporter-signed manifest "
			    "must be signed by a key that is not the chain's",
			    fpr, k == 0 ? "anchor" : "rotated-in");
			goto out;
		}
	if (v->opts->require_chain_manifest) {
		rc = tfa_vfy_fail(
		    v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0,
		    "Manifest is signed by the exporter's key %s, not by the chain's key "
		    "(--require-chain-manifest)",
		    fpr);
		goto out;
	}
	v->mkey = v->exporter_key;
	v->rep->exporter_signed = true;
	memcpy(v->rep->exporter_fpr, fpr, sizeof(fpr));
out:
	tfa_buf_free(&pem);
	tfa_buf_free(&spki);
	return rc;
}

/* Layer 1. */
tfa_err tfa_vfy_check_manifest(tfa_vfy_ctx *v)
{
	tfa_err rc = TFA_OK;
	tfa_buf sig, pem, spki;
	bool rotated;
	const char *anchor;

	tfa_buf_init(&sig, TFA_SIG_MAX);
	tfa_buf_init(&pem, PUBKEY_MAX);
	tfa_buf_init(&spki, PUBKEY_MAX);
	rc = tfa_vfy_scan_manifest(v, &v->man, on_key_file, v, v->man_digest);
	if (rc == TFA_ENOTFOUND) {
		rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0,
				  "Manifest unreadable: %s", tfa_error_last()->message);
		goto out;
	}
	if (rc == TFA_EFORMAT || rc == TFA_EVERIFY) {
		rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, 0,
				  "Manifest invalid: %s", tfa_error_last()->message);
		goto out;
	}
	if (rc != TFA_OK)
		goto out;
	if (!v->man.exporter_signed && v->man.lists_exporter_key) {
		rc = tfa_vfy_fail(
		    v, TFA_LAYER_MANIFEST, TFA_BUNDLE_EXPORTER_KEY, 0,
		    "Manifest lists %s, which only an exporter-signed manifest carries",
		    TFA_BUNDLE_EXPORTER_KEY);
		goto out;
	}
	if (v->opts->require_genesis && v->man.from_seq != 1) {
		rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST, v->man.from_seq,
				  "Bundle starts at seq %" PRIu64
				  ", not at genesis (--require-genesis)",
				  v->man.from_seq);
		goto out;
	}
	snprintf(v->rep->chain_id, sizeof(v->rep->chain_id), "%s", v->man.chain_id);
	v->rep->from_seq = v->man.from_seq;
	v->rep->to_seq = v->man.to_seq;
	v->rep->files = v->man.nfiles;

	if (!v->man.lists_pubkey) {
		rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_PUBKEY, 0,
				  "Manifest does not list %s", TFA_BUNDLE_PUBKEY);
		goto out;
	}
	if (tfa_vfy_read_small(&pem, &v->src, TFA_BUNDLE_PUBKEY, PUBKEY_MAX) != TFA_OK ||
	    tfa_spki_from_bundle_pem(&spki, pem.data, pem.len) != TFA_OK ||
	    tfa_pkey_from_spki(&v->key, spki.data, spki.len) != TFA_OK) {
		rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_PUBKEY, 0,
				  "Public key unusable: %s", tfa_error_last()->message);
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
			rc = tfa_vfy_fail(
			    v, TFA_LAYER_MANIFEST, rotated ? "keys/" : TFA_BUNDLE_PUBKEY, 0,
			    "Key fingerprint mismatch: bundle %s is %s, expected %s",
			    rotated ? "anchor key" : "key", anchor, v->opts->expect_fpr);
			goto out;
		}
		v->rep->key_pinned = true;
		tfa_vfy_emit(v, "INFO", "Anchor key matches the pinned fingerprint %s", anchor);
	} else {
		tfa_vfy_emit(
		    v, "WARN",
		    "Trusting the bundle's own key %s; pin it with --expect-key-fingerprint",
		    anchor);
	}
	memcpy(v->rep->trusted_fpr, anchor, TFA_FPR_STRLEN);
	if (rotated) {
		/* follow_rotations re-reads the first record: keys[0] is set, start from it. */
		v->nkeys = 1;
		TFA_GUARD(follow_rotations(v));
	}
	TFA_GUARD(check_key_pems(v));
	if (v->man.exporter_signed)
		TFA_GUARD(check_exporter_key(v));
	else
		TFA_GUARD(check_chain_manifest_key(v));
	report_keys(v);
	rc = tfa_vfy_read_small(&sig, &v->src, TFA_BUNDLE_MANIFEST_SIG, TFA_SIG_MAX);
	if (rc != TFA_OK) {
		rc = rc == TFA_EIO ? rc
				   : tfa_vfy_fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST_SIG, 0,
						  "Manifest signature unreadable: %s",
						  tfa_error_last()->message);
		goto out;
	}
	rc = tfa_verify_digest(v->mkey, v->man.alg, v->man_digest, sig.data, sig.len);
	if (rc == TFA_EVERIFY) {
		rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, TFA_BUNDLE_MANIFEST_SIG, 0,
				  "Manifest signature invalid: %s", tfa_error_last()->message);
		goto out;
	}
	if (rc != TFA_OK)
		goto out;
	if (v->man.exporter_signed) {
		tfa_vfy_emit(v, "SUCCESS", "Manifest signature valid (the exporter's key %s)",
			     v->rep->exporter_fpr);
		tfa_vfy_emit(
		    v, "WARN",
		    "Manifest signed by the exporter's key %s, not by the chain's key: it shows "
		    "who "
		    "assembled this bundle, not that the chain's key holder exported this range. "
		    "Every record is still checked against the chain's keys; that the range is "
		    "complete rests only on --checkpoint and --require-genesis",
		    v->rep->exporter_fpr);
	} else {
		tfa_vfy_emit(v, "SUCCESS", "Manifest signature valid");
	}
	if (v->man.has_writer) {
		/* Shown only once signed, and never relied on: the writer's claim. */
		snprintf(v->rep->writer_name, sizeof(v->rep->writer_name), "%s",
			 v->man.writer_name);
		snprintf(v->rep->writer_version, sizeof(v->rep->writer_version), "%s",
			 v->man.writer_version);
		tfa_vfy_emit(v, "INFO", "Bundle written by %s %s (the writer's own claim)",
			     v->rep->writer_name, v->rep->writer_version);
	}
	v->rep->passed_layer = TFA_LAYER_MANIFEST;
out:
	tfa_buf_free(&sig);
	tfa_buf_free(&pem);
	tfa_buf_free(&spki);
	return rc;
}
