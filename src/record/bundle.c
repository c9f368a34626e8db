/* Export of a chain range as a self-contained, signed bundle directory or archive. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "record/export_int.h"
#include "sys/fsutil.h"
#include "tfattest/bundle.h"
#include "tfattest/chain.h"
#include "tfattest/sys/guard.h"
#include "tfattest/verify.h"
#include "verify/crypto.h"

#include <openssl/evp.h>

tfa_err tfa_export_check_stop(const volatile sig_atomic_t *stop)
{
	if (stop == NULL || *stop == 0)
		return TFA_OK;
	return tfa_error_set(TFA_EUSAGE,
			     "interrupted: the export was stopped and nothing was written");
}

/* verify's on_record during an export: ends the check once the export is stopped. */
static tfa_err stop_on_record(void *ud, const tfa_verify_record *r)
{
	const tfa_export_opts *o = ud;

	(void)r;
	return tfa_export_check_stop(o->stop);
}

/* Narrows [from, to] to the records whose time lies in [since, until]. */
static tfa_err time_range(tfa_store *st, const tfa_export_opts *o, uint64_t *from, uint64_t *to)
{
	tfa_err rc = TFA_OK;
	tfa_buf bytes, sig;
	tfa_artifact art;
	uint64_t lo = 0, hi = 0;

	tfa_buf_init(&bytes, TFA_ARTIFACT_MAX);
	tfa_buf_init(&sig, 0);
	for (uint64_t s = *from; s <= *to; s++) {
		tfa_buf_clear(&bytes);
		tfa_buf_clear(&sig);
		TFA_GUARD(tfa_store_get(st, s, &bytes, &sig));
		TFA_GUARD(tfa_artifact_parse(&art, bytes.data, bytes.len));
		if (o->has_since && art.time < o->since)
			continue;
		if (o->has_until && art.time > o->until)
			continue;
		if (lo == 0)
			lo = s;
		hi = s;
	}
	TFA_ENSURE(lo != 0, TFA_EUSAGE, "no record lies in the requested time range");
	*from = lo;
	*to = hi;
out:
	tfa_buf_free(&bytes);
	tfa_buf_free(&sig);
	return rc;
}

tfa_err tfa_bundle_export(tfa_export_result *res, tfa_store *st, tfa_signer *signer,
			  const tfa_export_opts *o)
{
	tfa_err rc = TFA_OK;
	tfa_export_ctx ex = TFA_EXPORT_CTX_INIT;
	tfa_export_head mh;
	tfa_chain_info info;
	tfa_buf bytes, sig, text;
	char *tmpdir = NULL;
	char head_hash[TFA_FPR_STRLEN], key_fpr[TFA_FPR_STRLEN], base_hash[TFA_FPR_STRLEN] = "";
	char prev[TFA_FPR_STRLEN], name[32];
	uint64_t head, from, to;
	uint8_t d[TFA_SHA256_LEN];
	size_t spki_len;
	const uint8_t *spki;
	tfa_sig_alg alg;
	struct stat sst;
	tfa_verify_report rep;
	tfa_verify_opts vo;
	const char *dest;
	tfa_export_arc_kind kind = TFA_EXPORT_ARC_NONE;
	int64_t created;
	tfa_signer *msigner;
	tfa_buf cur_spki, given;
	char given_fpr[TFA_FPR_STRLEN] = "";
	char anchor_fpr[TFA_FPR_STRLEN];

	tfa_buf_init(&bytes, TFA_ARTIFACT_MAX);
	tfa_buf_init(&sig, 0);
	tfa_buf_init(&text, 0);
	tfa_buf_init(&cur_spki, 0);
	tfa_buf_init(&given, 1 << 16);
	TFA_ENSURE_ARG(st);
	TFA_ENSURE_ARG(o);
	msigner = o->manifest_signer ? o->manifest_signer : signer;
	TFA_ENSURE(msigner != NULL, TFA_EUSAGE,
		   "no key to sign the manifest: the chain's current key (--key) or the "
		   "exporter's own (--manifest-key)");
	TFA_ENSURE(!(o->out_dir && o->archive), TFA_EUSAGE,
		   "--out and --archive are exclusive: give one of them");
	dest = o->archive ? o->archive : o->out_dir;
	TFA_ENSURE(dest && *dest, TFA_EUSAGE, "no output given (--out DIR or --archive FILE)");
	if (o->archive) {
		kind = tfa_export_archive_kind(o->archive);
		TFA_ENSURE(kind != TFA_EXPORT_ARC_NONE, TFA_EUSAGE,
			   "--archive FILE must end in .tar.gz, .tgz or .zip");
#if !TFATTEST_WITH_ARCHIVE
		TFA_BAIL(TFA_EUSAGE,
			 "this build cannot write archives (built without archive support)");
#endif
	}
	TFA_ENSURE(lstat(dest, &sst) != 0 && errno == ENOENT, TFA_EUSAGE,
		   "%s already exists: choose a new output path", dest);
	alg = o->alg == TFA_ALG_NONE ? tfa_signer_default_alg(msigner) : o->alg;
	TFA_GUARD(tfa_signer_check_alg(msigner, alg));

	TFA_GUARD(tfa_chain_info_read(&info, st));
	TFA_GUARD(tfa_chain_head(st, &info, &head, head_hash, key_fpr));
	TFA_ENSURE(head > 0, TFA_EUSAGE, "chain %s has no records to export", info.chain_id);
	if (o->manifest_signer == NULL)
		TFA_ENSURE(strcmp(key_fpr, tfa_signer_fingerprint(signer)) == 0, TFA_EVERIFY,
			   "key %s is not the current key of chain %s (%s): the manifest must be "
			   "signed by it",
			   tfa_signer_fingerprint(signer), info.chain_id, key_fpr);
	else if (signer != NULL)
		TFA_ENSURE(strcmp(key_fpr, tfa_signer_fingerprint(signer)) == 0, TFA_EVERIFY,
			   "key %s is not the current key of chain %s (%s)",
			   tfa_signer_fingerprint(signer), info.chain_id, key_fpr);
	/* The anchor the bundle must verify from: pinned, or else the store's own. */
	snprintf(anchor_fpr, sizeof(anchor_fpr), "%s", info.anchor_fpr);
	if (o->chain_key != NULL && o->chain_key_len > 0) {
		EVP_PKEY *k = NULL;
		if (o->chain_key_len > 10 && memcmp(o->chain_key, "-----BEGIN", 10) == 0)
			TFA_GUARD(tfa_spki_from_pem(&given, o->chain_key, o->chain_key_len));
		else
			TFA_GUARD(tfa_buf_append(&given, o->chain_key, o->chain_key_len));
		TFA_GUARD(tfa_pkey_from_spki(&k, given.data, given.len));
		EVP_PKEY_free(k);
		tfa_spki_fingerprint(given_fpr, given.data, given.len);
		TFA_ENSURE(
		    strcmp(given_fpr, info.anchor_fpr) == 0 || strcmp(given_fpr, key_fpr) == 0,
		    TFA_EVERIFY,
		    "the public key given, %s, is neither the anchor (%s) nor the current key "
		    "(%s) of chain %s in the store",
		    given_fpr, info.anchor_fpr, key_fpr, info.chain_id);
	}
	if (o->expect_fpr != NULL)
		TFA_ENSURE(strcmp(o->expect_fpr, info.anchor_fpr) == 0, TFA_EVERIFY,
			   "chain %s in the store starts from key %s, not from the pinned %s",
			   info.chain_id, info.anchor_fpr, o->expect_fpr);
	if (o->manifest_signer != NULL)
		TFA_ENSURE(strcmp(tfa_signer_fingerprint(msigner), key_fpr) != 0 &&
			       strcmp(tfa_signer_fingerprint(msigner), info.anchor_fpr) != 0,
			   TFA_EUSAGE,
			   "--manifest-key %s is a key of chain %s: an exporter-signed manifest "
			   "needs a key of the exporter's own (without --manifest-key, the chain's "
			   "key signs the manifest)",
			   tfa_signer_fingerprint(msigner), info.chain_id);
	from = o->from ? o->from : 1;
	to = o->to ? o->to : head;
	TFA_ENSURE(from <= to && to <= head, TFA_EUSAGE,
		   "range %" PRIu64 "..%" PRIu64 " is not within the chain's records 1..%" PRIu64,
		   from, to, head);
	if (o->has_since || o->has_until)
		TFA_GUARD(time_range(st, o, &from, &to));
	/* Two files a record, and a few more: refused before anything is written. */
	TFA_ENSURE(to - from < TFA_MANIFEST_MAX_FILES / 2 - 2, TFA_EUSAGE,
		   "range %" PRIu64 "..%" PRIu64 " holds more records than a manifest lists "
		   "(%u files): export a shorter range (--from, --to)",
		   from, to, TFA_MANIFEST_MAX_FILES);
#if TFATTEST_WITH_ARCHIVE
	TFA_GUARD(tfa_export_archive_check_range(kind, from, to));
#endif

	TFA_GUARD(tfa_fs_mkdtemp_beside(&tmpdir, dest));
	ex.dirfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	TFA_ENSURE(ex.dirfd >= 0, TFA_EIO, "cannot open %s: %s", tmpdir, strerror(errno));
	/* mkdtemp makes it private; the bundle is meant to be handed over. */
	TFA_ENSURE(fchmod(ex.dirfd, 0755) == 0, TFA_EIO, "cannot chmod %s: %s", tmpdir,
		   strerror(errno));
	TFA_ENSURE(mkdirat(ex.dirfd, "artifacts", 0755) == 0, TFA_EIO,
		   "cannot create artifacts/: %s", strerror(errno));
	ex.artfd = openat(ex.dirfd, "artifacts", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	TFA_ENSURE(ex.artfd >= 0, TFA_EIO, "cannot open artifacts/: %s", strerror(errno));

	/*
	 * The manifest is written as the files are: its members before the file
	 * list need base_hash (record `from`'s link) and created now.
	 */
	tfa_buf_clear(&bytes);
	tfa_buf_clear(&sig);
	TFA_GUARD(tfa_store_get(st, from, &bytes, &sig));
	{
		tfa_artifact art;
		rc = tfa_artifact_parse(&art, bytes.data, bytes.len);
		if (rc != TFA_OK)
			TFA_BAIL(TFA_EVERIFY, "record %" PRIu64 " in the store is invalid: %s",
				 from, tfa_error_last()->message);
		tfa_hash_str(base_hash, art.prev_hash);
	}
	created = (int64_t)time(NULL);
	memset(&mh, 0, sizeof(mh));
	mh.signer = msigner;
	mh.exporter = o->manifest_signer != NULL;
	mh.alg = alg;
	mh.chain_id = info.chain_id;
	mh.from = from;
	mh.to = to;
	mh.base_hash = base_hash;
	mh.head_hash = base_hash; /* final at the end; it sorts after the file list */
	mh.created = created;
	TFA_GUARD(tfa_export_manifest_begin(&ex, &mh));

	/* Paths in byte order: VERIFY.md, artifacts/..., checkpoint.ckpt, ..., public_key.pem. */
	TFA_GUARD(tfa_export_write_readme(&text, info.chain_id, from, to, base_hash, anchor_fpr,
					  o->manifest_signer != NULL));
	TFA_GUARD(tfa_export_put_file(&ex, ex.dirfd, "", TFA_BUNDLE_README, text.data, text.len));
	for (uint64_t s = from; s <= to; s++) {
		tfa_artifact art;

		TFA_GUARD(tfa_export_check_stop(o->stop));
		tfa_buf_clear(&bytes);
		tfa_buf_clear(&sig);
		TFA_GUARD(tfa_store_get(st, s, &bytes, &sig));
		rc = tfa_artifact_parse(&art, bytes.data, bytes.len);
		if (rc != TFA_OK)
			TFA_BAIL(TFA_EVERIFY, "record %" PRIu64 " in the store is invalid: %s", s,
				 tfa_error_last()->message);
		TFA_ENSURE(art.seq == s, TFA_EVERIFY,
			   "record %" PRIu64 " in the store claims seq %" PRIu64, s, art.seq);
		tfa_hash_str(prev, art.prev_hash);
		TFA_ENSURE(strcmp(prev, s == from ? base_hash : head_hash) == 0, TFA_EVERIFY,
			   "record %" PRIu64 " in the store does not link to its predecessor", s);
		tfa_sha256(d, bytes.data, bytes.len);
		tfa_hash_str(head_hash, d);
		snprintf(name, sizeof(name), "%012" PRIu64 ".json", s);
		TFA_GUARD(
		    tfa_export_put_file(&ex, ex.artfd, "artifacts/", name, bytes.data, bytes.len));
		snprintf(name, sizeof(name), "%012" PRIu64 ".sig", s);
		if (o->progress)
			o->progress(o->progress_ud, "exported", s - from + 1, to - from + 1);
		TFA_GUARD(
		    tfa_export_put_file(&ex, ex.artfd, "artifacts/", name, sig.data, sig.len));
	}
	/* checkpoint.ckpt sorts between artifacts/ and keys/. */
	{
		uint64_t cseq = 0;
		tfa_buf_clear(&text);
		rc = tfa_store_latest_checkpoint(st, from, to, &cseq, &text);
		if (rc == TFA_OK)
			TFA_GUARD(tfa_export_put_file(&ex, ex.dirfd, "", "checkpoint.ckpt",
						      text.data, text.len));
		else if (rc != TFA_ENOTFOUND)
			goto out;
		tfa_error_clear();
		rc = TFA_OK;
	}
	/* exporter_key.pem sorts between checkpoint.ckpt and keys/. */
	if (o->manifest_signer != NULL) {
		spki = tfa_signer_spki(msigner, &spki_len);
		tfa_buf_clear(&text);
		TFA_GUARD(tfa_spki_to_pem(&text, spki, spki_len));
		TFA_GUARD(tfa_export_put_file(&ex, ex.dirfd, "", TFA_BUNDLE_EXPORTER_KEY, text.data,
					      text.len));
	}
	TFA_GUARD(tfa_export_put_keys(&ex, st, head, &cur_spki));
	/*
	 * public_key.pem: the key in force at export. The chain's current key
	 * when given; else the key the last rotation brought in; else the
	 * public key given, when it is that key (the chain never rotated, and
	 * its metadata holds only the anchor's fingerprint).
	 */
	if (signer != NULL) {
		spki = tfa_signer_spki(signer, &spki_len);
	} else if (cur_spki.len > 0) {
		spki = cur_spki.data;
		spki_len = cur_spki.len;
	} else if (strcmp(given_fpr, key_fpr) == 0) {
		spki = given.data;
		spki_len = given.len;
	} else {
		TFA_BAIL(TFA_EUSAGE,
			 "chain %s has never rotated, so the store holds only its key's "
			 "fingerprint: give the chain's public key (--public-key PEM, or --key K, "
			 "of which only the public key is read)",
			 info.chain_id);
	}
	tfa_spki_fingerprint(prev, spki, spki_len);
	TFA_ENSURE(strcmp(prev, key_fpr) == 0, TFA_EVERIFY,
		   "key %s is not the current key of chain %s (%s)", prev, info.chain_id, key_fpr);
	tfa_buf_clear(&text);
	TFA_GUARD(tfa_spki_to_pem(&text, spki, spki_len));
	TFA_GUARD(tfa_export_put_file(&ex, ex.dirfd, "", TFA_BUNDLE_PUBKEY, text.data, text.len));

	mh.head_hash = head_hash;
	TFA_GUARD(tfa_export_manifest_finish(&ex, &mh));
	if (res)
		res->files = (size_t)ex.nfiles;
	TFA_GUARD(tfa_fs_sync_tree(ex.dirfd));

	TFA_GUARD(tfa_export_check_stop(o->stop));
	/* What we hand over must verify: check it before it gets its name. */
	memset(&vo, 0, sizeof(vo));
	vo.expect_fpr = anchor_fpr;
	vo.progress = o->progress;
	vo.progress_ud = o->progress_ud;
	if (o->stop != NULL) {
		/* The check ends at its next record once the export is stopped. */
		vo.on_record = stop_on_record;
		vo.record_ud = (void *)o;
	}
	rc = tfa_verify_bundle(&rep, tmpdir, &vo);
	TFA_GUARD(tfa_export_check_stop(o->stop));
	if (rc != TFA_OK)
		TFA_BAIL(rc == TFA_EVERIFY ? TFA_EVERIFY : rc,
			 "the exported bundle does not verify: %s", rep.message);
	if (kind != TFA_EXPORT_ARC_NONE) {
#if TFATTEST_WITH_ARCHIVE
		/* The directory goes either way: the archive replaces it. */
		TFA_GUARD(tfa_export_write_archive(tmpdir, dest, kind, created, o->stop));
#endif
	} else {
		TFA_GUARD(tfa_fs_rename_noreplace(tmpdir, o->out_dir));
		tfa_fs_sync_parent(o->out_dir);
		free(tmpdir);
		tmpdir = NULL;
	}
	if (res) {
		res->from = from;
		res->to = to;
	}
out:
	if (ex.artfd >= 0)
		close(ex.artfd);
	if (ex.dirfd >= 0)
		close(ex.dirfd);
	if (tmpdir) {
		tfa_fs_rmtree(tmpdir);
		free(tmpdir);
	}
	tfa_export_ctx_release(&ex);
	tfa_buf_free(&bytes);
	tfa_buf_free(&sig);
	tfa_buf_free(&text);
	tfa_buf_free(&cur_spki);
	tfa_buf_free(&given);
	return rc;
}
