/* Export of a chain range as a self-contained, signed bundle directory. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "crypto.h"
#include "fsutil.h"
#include "timefmt.h"
#include "tfattest/bundle.h"
#include "tfattest/chain.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"
#include "tfattest/verify.h"

typedef struct exporter {
	int dirfd;
	int artfd;
	cJSON *files; /* the manifest's file list, kept in path order */
} exporter;

static tfa_err put_file(exporter *ex, int dirfd, const char *dirname, const char *name,
			const uint8_t *data, size_t len)
{
	tfa_err rc = TFA_OK;
	uint8_t d[TFA_SHA256_LEN];
	char hex[2 * TFA_SHA256_LEN + 1], path[128];
	cJSON *e = NULL;

	TFA_GUARD(tfa_fs_write_new(dirfd, name, data, len, 0444, false));
	tfa_sha256(d, data, len);
	tfa_hex_encode(hex, d, sizeof(d));
	snprintf(path, sizeof(path), "%s%s", dirname, name);
	e = cJSON_CreateObject();
	TFA_ENSURE(e && cJSON_AddStringToObject(e, "path", path) &&
			   cJSON_AddStringToObject(e, "sha256", hex) &&
			   cJSON_AddNumberToObject(e, "size", (double)len) &&
			   cJSON_AddItemToArray(ex->files, e),
		   TFA_EINTERNAL, "out of memory");
	e = NULL;
out:
	cJSON_Delete(e);
	return rc;
}

static const char *pss_opts(tfa_sig_alg alg)
{
	return alg == TFA_ALG_RSASSA_PSS_SHA_256
		       ? " -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32"
		       : "";
}

static tfa_err write_readme(tfa_buf *out, const char *chain_id, uint64_t from, uint64_t to,
			    const char *base_hash, const char *fpr, tfa_sig_alg alg)
{
	return tfa_buf_printf(
		out,
		"# Verifying this bundle\n"
		"\n"
		"This bundle holds records %" PRIu64 " to %" PRIu64 " of the tfattest chain `%s`.\n"
		"With tfattest:\n"
		"\n"
		"    tfattest verify . --expect-key-fingerprint %s\n"
		"\n"
		"Without it, with only openssl, sha256sum, grep and sed, run the script below from\n"
		"this directory. Each step stops at the first failure. See the project's\n"
		"docs/FORMAT.md for the full specification.\n"
		"\n"
		"```sh\n"
		"set -e\n"
		"# 0. The key. Compare this with the fingerprint you were given out of band:\n"
		"#    %s\n"
		"echo \"sha256:$(openssl pkey -pubin -in public_key.pem -outform DER | sha256sum | cut -d' ' -f1)\"\n"
		"\n"
		"# 1. The manifest's signature (%s).\n"
		"openssl dgst -sha256 -verify public_key.pem%s -signature manifest.sig manifest.json\n"
		"\n"
		"# 2. Every file's SHA-256, and no file that the manifest does not list\n"
		"#    (no temporary files: nothing is written outside this directory).\n"
		"sums=$(grep -o '\"path\":\"[^\"]*\",\"sha256\":\"[0-9a-f]*\"' manifest.json |\n"
		"  sed 's/\"path\":\"\\([^\"]*\\)\",\"sha256\":\"\\([0-9a-f]*\\)\"/\\2  \\1/')\n"
		"printf '%%s\\n' \"$sums\" | sha256sum --quiet -c -\n"
		"listed=$(printf '%%s\\n' \"$sums\" | cut -c67- | sort)\n"
		"found=$(find . -type f ! -name manifest.json ! -name manifest.sig | sed 's|^\\./||' | sort)\n"
		"[ \"$listed\" = \"$found\" ] || { echo \"files differ from the manifest's list\"; exit 1; }\n"
		"\n"
		"# 3. The hash chain: each artifact's prev_hash is the SHA-256 of the one before.\n"
		"prev=%s\n"
		"for f in artifacts/*.json; do\n"
		"  grep -q \"\\\"prev_hash\\\":\\\"$prev\\\"\" \"$f\" || { echo \"chain broken at $f\"; exit 1; }\n"
		"  prev=\"sha256:$(sha256sum < \"$f\" | cut -d' ' -f1)\"\n"
		"done\n"
		"grep -q \"\\\"head_hash\\\":\\\"$prev\\\"\" manifest.json || { echo \"head hash mismatch\"; exit 1; }\n"
		"\n"
		"# 4. Every artifact's signature, with the algorithm the artifact names.\n"
		"for f in artifacts/*.json; do\n"
		"  case \"$(grep -o '\"algorithm\":\"[A-Z0-9_]*\"' \"$f\")\" in\n"
		"    *RSASSA_PSS_SHA_256*) opts=\"%s\" ;;\n"
		"    *) opts=\"\" ;;\n"
		"  esac\n"
		"  openssl dgst -sha256 -verify public_key.pem $opts -signature \"${f%%.json}.sig\" \"$f\" > /dev/null ||\n"
		"    { echo \"bad signature: $f\"; exit 1; }\n"
		"done\n"
		"echo \"bundle verified\"\n"
		"```\n"
		"\n"
		"Also check that every artifact's `chain_id` is `%s` and that the `seq` values\n"
		"run from %" PRIu64 " to %" PRIu64 " without a gap: the file names alone are not signed.\n"
		"\n"
		"What this proves: the artifacts are intact, were signed by the key above, and\n"
		"form one unbroken chain in this order. It does not prove that no record was\n"
		"left out after record %" PRIu64 " or before record %" PRIu64 " unless the range starts at\n"
		"record 1 (prev_hash is the all-zero genesis value) and you hold a newer\n"
		"checkpoint of the chain's head from another source.\n",
		from, to, chain_id, fpr, fpr, tfa_sig_alg_name(alg), pss_opts(alg), base_hash,
		pss_opts(TFA_ALG_RSASSA_PSS_SHA_256), chain_id, from, to, to, from);
}

typedef struct key_entry {
	char name[80];
	tfa_buf data;
} key_entry;

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const key_entry *)a)->name, ((const key_entry *)b)->name);
}

/*
 * keys/: every rotation record up to the head (so the verifier can follow
 * the keys from the anchor to the one signing the manifest, whatever the
 * range), and each key as PEM for the manual recipe.
 */
static tfa_err put_keys(exporter *ex, tfa_store *st, uint64_t head)
{
	tfa_err rc = TFA_OK;
	uint64_t seqs[TFA_CHAIN_KEYS_MAX];
	size_t n = 0, ne = 0;
	key_entry *e = NULL;
	tfa_artifact *art = NULL;
	int kfd = -1;

	TFA_GUARD(tfa_chain_rotations(seqs, &n, st, head));
	if (n == 0)
		goto out;
	e = calloc(3 * n + 1, sizeof(*e));
	art = calloc(1, sizeof(*art));
	TFA_ENSURE(e != NULL && art != NULL, TFA_EINTERNAL, "out of memory");
	for (size_t i = 0; i < 3 * n + 1; i++)
		tfa_buf_init(&e[i].data, TFA_ARTIFACT_MAX);
	for (size_t i = 0; i < n; i++) {
		key_entry *j = &e[ne++], *g = &e[ne++], *k = &e[ne++];
		char fpr[TFA_FPR_STRLEN];

		TFA_GUARD(tfa_store_get(st, seqs[i], &j->data, &g->data));
		TFA_GUARD(tfa_artifact_parse(art, j->data.data, j->data.len));
		TFA_ENSURE(art->is_rotation && art->seq == seqs[i], TFA_EVERIFY,
			   "record %" PRIu64 " in the store is not the rotation it was", seqs[i]);
		snprintf(j->name, sizeof(j->name), "%012" PRIu64 ".json", seqs[i]);
		snprintf(g->name, sizeof(g->name), "%012" PRIu64 ".sig", seqs[i]);
		tfa_spki_fingerprint(fpr, art->rot.spki, art->rot.spki_len);
		snprintf(k->name, sizeof(k->name), "%s.pem", fpr + 7);
		TFA_GUARD(tfa_spki_to_pem(&k->data, art->rot.spki, art->rot.spki_len));
		if (i == 0) {
			key_entry *a = &e[ne++];
			tfa_spki_fingerprint(fpr, art->rot.old_spki, art->rot.old_spki_len);
			snprintf(a->name, sizeof(a->name), "%s.pem", fpr + 7);
			TFA_GUARD(tfa_spki_to_pem(&a->data, art->rot.old_spki, art->rot.old_spki_len));
		}
	}
	qsort(e, ne, sizeof(*e), cmp_entry);
	TFA_ENSURE(mkdirat(ex->dirfd, "keys", 0755) == 0, TFA_EIO, "cannot create keys/: %s",
		   strerror(errno));
	kfd = openat(ex->dirfd, "keys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	TFA_ENSURE(kfd >= 0, TFA_EIO, "cannot open keys/: %s", strerror(errno));
	for (size_t i = 0; i < ne; i++)
		TFA_GUARD(put_file(ex, kfd, "keys/", e[i].name, e[i].data.data, e[i].data.len));
out:
	if (kfd >= 0)
		close(kfd);
	if (e)
		for (size_t i = 0; i < 3 * n + 1; i++)
			tfa_buf_free(&e[i].data);
	free(e);
	free(art);
	return rc;
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
	exporter ex = { -1, -1, NULL };
	tfa_chain_info info;
	tfa_buf bytes, sig, text, canon;
	char *tmpdir = NULL, *json = NULL;
	char head_hash[TFA_FPR_STRLEN], key_fpr[TFA_FPR_STRLEN], base_hash[TFA_FPR_STRLEN] = "";
	char prev[TFA_FPR_STRLEN], name[32], when[TFA_TIME_STRLEN];
	uint64_t head, from, to;
	uint8_t d[TFA_SHA256_LEN];
	size_t spki_len;
	const uint8_t *spki;
	tfa_sig_alg alg;
	cJSON *man = NULL;
	struct stat sst;
	tfa_verify_report rep;
	tfa_verify_opts vo;

	tfa_buf_init(&bytes, TFA_ARTIFACT_MAX);
	tfa_buf_init(&sig, 0);
	tfa_buf_init(&text, 0);
	tfa_buf_init(&canon, TFA_MANIFEST_MAX_BYTES);
	TFA_ENSURE_ARG(st);
	TFA_ENSURE_ARG(signer);
	TFA_ENSURE_ARG(o);
	TFA_ENSURE(o->out_dir && *o->out_dir, TFA_EUSAGE, "no output directory given (--out DIR)");
	TFA_ENSURE(lstat(o->out_dir, &sst) != 0 && errno == ENOENT, TFA_EUSAGE,
		   "%s already exists: choose a new output path", o->out_dir);
	alg = o->alg == TFA_ALG_NONE ? tfa_signer_default_alg(signer) : o->alg;
	TFA_GUARD(tfa_signer_check_alg(signer, alg));

	TFA_GUARD(tfa_chain_info_read(&info, st));
	TFA_GUARD(tfa_chain_head(st, &info, &head, head_hash, key_fpr));
	TFA_ENSURE(head > 0, TFA_EUSAGE, "chain %s has no records to export", info.chain_id);
	TFA_ENSURE(strcmp(key_fpr, tfa_signer_fingerprint(signer)) == 0, TFA_EVERIFY,
		   "key %s is not the current key of chain %s (%s): the manifest must be signed by it",
		   tfa_signer_fingerprint(signer), info.chain_id, key_fpr);
	from = o->from ? o->from : 1;
	to = o->to ? o->to : head;
	TFA_ENSURE(from <= to && to <= head, TFA_EUSAGE,
		   "range %" PRIu64 "..%" PRIu64 " is not within the chain's records 1..%" PRIu64, from,
		   to, head);
	if (o->has_since || o->has_until)
		TFA_GUARD(time_range(st, o, &from, &to));

	TFA_GUARD(tfa_fs_mkdtemp_beside(&tmpdir, o->out_dir));
	ex.dirfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	TFA_ENSURE(ex.dirfd >= 0, TFA_EIO, "cannot open %s: %s", tmpdir, strerror(errno));
	/* mkdtemp makes it private; the bundle is meant to be handed over. */
	TFA_ENSURE(fchmod(ex.dirfd, 0755) == 0, TFA_EIO, "cannot chmod %s: %s", tmpdir, strerror(errno));
	TFA_ENSURE(mkdirat(ex.dirfd, "artifacts", 0755) == 0, TFA_EIO, "cannot create artifacts/: %s",
		   strerror(errno));
	ex.artfd = openat(ex.dirfd, "artifacts", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	TFA_ENSURE(ex.artfd >= 0, TFA_EIO, "cannot open artifacts/: %s", strerror(errno));
	ex.files = cJSON_CreateArray();
	TFA_ENSURE(ex.files != NULL, TFA_EINTERNAL, "out of memory");

	/* Paths in byte order: VERIFY.md, artifacts/..., public_key.pem. */
	spki = tfa_signer_spki(signer, &spki_len);
	for (uint64_t s = from; s <= to; s++) {
		tfa_artifact art;

		tfa_buf_clear(&bytes);
		tfa_buf_clear(&sig);
		TFA_GUARD(tfa_store_get(st, s, &bytes, &sig));
		rc = tfa_artifact_parse(&art, bytes.data, bytes.len);
		if (rc != TFA_OK)
			TFA_BAIL(TFA_EVERIFY, "record %" PRIu64 " in the store is invalid: %s", s,
				 tfa_error_last()->message);
		TFA_ENSURE(art.seq == s, TFA_EVERIFY, "record %" PRIu64 " in the store claims seq %" PRIu64,
			   s, art.seq);
		tfa_hash_str(prev, art.prev_hash);
		if (s == from)
			memcpy(base_hash, prev, sizeof(prev));
		else
			TFA_ENSURE(strcmp(prev, head_hash) == 0, TFA_EVERIFY,
				   "record %" PRIu64 " in the store does not link to its predecessor", s);
		tfa_sha256(d, bytes.data, bytes.len);
		tfa_hash_str(head_hash, d);
		snprintf(name, sizeof(name), "%012" PRIu64 ".json", s);
		TFA_GUARD(put_file(&ex, ex.artfd, "artifacts/", name, bytes.data, bytes.len));
		snprintf(name, sizeof(name), "%012" PRIu64 ".sig", s);
		TFA_GUARD(put_file(&ex, ex.artfd, "artifacts/", name, sig.data, sig.len));
	}
	/* VERIFY.md sorts first: insert it at the front. */
	TFA_GUARD(write_readme(&text, info.chain_id, from, to, base_hash,
			       tfa_signer_fingerprint(signer), alg));
	{
		cJSON *tail = ex.files;
		ex.files = cJSON_CreateArray();
		TFA_ENSURE(ex.files != NULL, TFA_EINTERNAL, "out of memory");
		rc = put_file(&ex, ex.dirfd, "", TFA_BUNDLE_README, text.data, text.len);
		if (rc != TFA_OK) {
			cJSON_Delete(tail);
			goto out;
		}
		cJSON *item;
		while ((item = cJSON_DetachItemFromArray(tail, 0)) != NULL)
			cJSON_AddItemToArray(ex.files, item);
		cJSON_Delete(tail);
	}
	/* checkpoint.ckpt sorts between artifacts/ and keys/. */
	{
		uint64_t cseq = 0;
		tfa_buf_clear(&text);
		rc = tfa_store_latest_checkpoint(st, from, to, &cseq, &text);
		if (rc == TFA_OK)
			TFA_GUARD(put_file(&ex, ex.dirfd, "", "checkpoint.ckpt", text.data, text.len));
		else if (rc != TFA_ENOTFOUND)
			goto out;
		tfa_error_clear();
		rc = TFA_OK;
	}
	TFA_GUARD(put_keys(&ex, st, head));
	tfa_buf_clear(&text);
	TFA_GUARD(tfa_spki_to_pem(&text, spki, spki_len));
	TFA_GUARD(put_file(&ex, ex.dirfd, "", TFA_BUNDLE_PUBKEY, text.data, text.len));

	tfa_time_format(when, (int64_t)time(NULL));
	man = cJSON_CreateObject();
	TFA_ENSURE(man != NULL, TFA_EINTERNAL, "out of memory");
	{
		cJSON *sg = cJSON_CreateObject();
		TFA_ENSURE(sg && cJSON_AddStringToObject(sg, "key_fingerprint", tfa_signer_fingerprint(signer)) &&
				   cJSON_AddStringToObject(sg, "algorithm", tfa_sig_alg_name(alg)) &&
				   cJSON_AddItemToObject(man, "signer", sg),
			   TFA_EINTERNAL, "out of memory");
	}
	TFA_ENSURE(cJSON_AddStringToObject(man, "type", TFA_MANIFEST_TYPE) &&
			   cJSON_AddNumberToObject(man, "schema_version", TFA_MANIFEST_SCHEMA) &&
			   cJSON_AddStringToObject(man, "chain_id", info.chain_id) &&
			   cJSON_AddNumberToObject(man, "from_seq", (double)from) &&
			   cJSON_AddNumberToObject(man, "to_seq", (double)to) &&
			   cJSON_AddStringToObject(man, "base_hash", base_hash) &&
			   cJSON_AddStringToObject(man, "head_hash", head_hash) &&
			   cJSON_AddStringToObject(man, "created", when),
		   TFA_EINTERNAL, "out of memory");
	TFA_ENSURE(cJSON_AddItemToObject(man, "files", ex.files), TFA_EINTERNAL, "out of memory");
	if (res)
		res->files = (size_t)cJSON_GetArraySize(ex.files);
	ex.files = NULL;
	json = cJSON_PrintUnformatted(man);
	TFA_ENSURE(json != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_jcs_canonicalize(&canon, (const uint8_t *)json, strlen(json)));
	TFA_GUARD(tfa_fs_write_new(ex.dirfd, TFA_BUNDLE_MANIFEST, canon.data, canon.len, 0444, false));
	tfa_sha256(d, canon.data, canon.len);
	tfa_buf_clear(&sig);
	TFA_GUARD(tfa_signer_sign(&sig, signer, alg, d));
	TFA_GUARD(tfa_fs_write_new(ex.dirfd, TFA_BUNDLE_MANIFEST_SIG, sig.data, sig.len, 0444, false));
	TFA_GUARD(tfa_fs_sync_tree(ex.dirfd));

	/* What we hand over must verify: check it before it gets its name. */
	memset(&vo, 0, sizeof(vo));
	vo.expect_fpr = info.anchor_fpr;
	rc = tfa_verify_bundle(&rep, tmpdir, &vo);
	if (rc != TFA_OK)
		TFA_BAIL(rc == TFA_EVERIFY ? TFA_EVERIFY : rc,
			 "the exported bundle does not verify: %s", rep.message);
	TFA_GUARD(tfa_fs_rename_noreplace(tmpdir, o->out_dir));
	tfa_fs_sync_parent(o->out_dir);
	free(tmpdir);
	tmpdir = NULL;
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
	cJSON_Delete(ex.files);
	cJSON_Delete(man);
	cJSON_free(json);
	tfa_buf_free(&bytes);
	tfa_buf_free(&sig);
	tfa_buf_free(&text);
	tfa_buf_free(&canon);
	return rc;
}
