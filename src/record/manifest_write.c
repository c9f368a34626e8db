/*
 * The bundle's files as the manifest lists them: each file written once,
 * read-only, with its SHA-256 and size; keys/; then the manifest itself,
 * canonical, and its signature.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "format/timefmt.h"
#include "record/export_int.h"
#include "sys/fsutil.h"
#include "tfattest/chain.h"
#include "tfattest/features.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

/* Writes a file of the bundle (read-only) and lists it in ex->files, under dirname. */
tfa_err tfa_export_put_file(tfa_export_ctx *ex, int dirfd, const char *dirname, const char *name,
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
tfa_err tfa_export_put_keys(tfa_export_ctx *ex, tfa_store *st, uint64_t head, tfa_buf *last_key)
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
		if (i + 1 == n && last_key != NULL) {
			tfa_buf_clear(last_key);
			TFA_GUARD(tfa_buf_append(last_key, art->rot.spki, art->rot.spki_len));
		}
		if (i == 0) {
			key_entry *a = &e[ne++];
			tfa_spki_fingerprint(fpr, art->rot.old_spki, art->rot.old_spki_len);
			snprintf(a->name, sizeof(a->name), "%s.pem", fpr + 7);
			TFA_GUARD(
			    tfa_spki_to_pem(&a->data, art->rot.old_spki, art->rot.old_spki_len));
		}
	}
	qsort(e, ne, sizeof(*e), cmp_entry);
	TFA_ENSURE(mkdirat(ex->dirfd, "keys", 0755) == 0, TFA_EIO, "cannot create keys/: %s",
		   strerror(errno));
	kfd = openat(ex->dirfd, "keys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	TFA_ENSURE(kfd >= 0, TFA_EIO, "cannot open keys/: %s", strerror(errno));
	for (size_t i = 0; i < ne; i++)
		TFA_GUARD(tfa_export_put_file(ex, kfd, "keys/", e[i].name, e[i].data.data,
					      e[i].data.len));
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

/*
 * Writes manifest.json, canonical, listing the files put so far (ex->files
 * moves into the manifest, returned in *out), and manifest.sig, its signature
 * by signer.
 */
tfa_err tfa_export_write_manifest(cJSON **out, tfa_export_ctx *ex, tfa_signer *signer,
				  bool exporter, tfa_sig_alg alg, const char *chain_id,
				  uint64_t from, uint64_t to, const char *base_hash,
				  const char *head_hash, int64_t created)
{
	tfa_err rc = TFA_OK;
	char when[TFA_TIME_STRLEN];
	cJSON *man = NULL;
	char *json = NULL;
	tfa_buf canon, sig;
	uint8_t d[TFA_SHA256_LEN];

	*out = NULL;
	tfa_buf_init(&canon, TFA_MANIFEST_MAX_BYTES);
	tfa_buf_init(&sig, 0);
	tfa_time_format(when, created);
	man = cJSON_CreateObject();
	TFA_ENSURE(man != NULL, TFA_EINTERNAL, "out of memory");
	{
		cJSON *sg = cJSON_CreateObject();
		TFA_ENSURE(sg &&
			       cJSON_AddStringToObject(sg, "key_fingerprint",
						       tfa_signer_fingerprint(signer)) &&
			       cJSON_AddStringToObject(sg, "algorithm", tfa_sig_alg_name(alg)) &&
			       cJSON_AddItemToObject(man, "signer", sg),
			   TFA_EINTERNAL, "out of memory");
	}
	{
		/* Who wrote the bundle, as it says (FORMAT.md §5.2: a claim, not evidence). */
		cJSON *w = cJSON_AddObjectToObject(man, "writer");
		TFA_ENSURE(w && cJSON_AddStringToObject(w, "name", TFA_WRITER_NAME) &&
			       cJSON_AddStringToObject(w, "version", TFATTEST_VERSION),
			   TFA_EINTERNAL, "out of memory");
	}
	TFA_ENSURE(
	    cJSON_AddStringToObject(man, "type", TFA_MANIFEST_TYPE) &&
		cJSON_AddNumberToObject(man, "schema_version",
					exporter ? TFA_MANIFEST_SCHEMA_EXPORTER
						 : TFA_MANIFEST_SCHEMA) &&
		(!exporter || cJSON_AddStringToObject(man, "kind", TFA_MANIFEST_KIND_EXPORTER)) &&
		cJSON_AddStringToObject(man, "chain_id", chain_id) &&
		cJSON_AddNumberToObject(man, "from_seq", (double)from) &&
		cJSON_AddNumberToObject(man, "to_seq", (double)to) &&
		cJSON_AddStringToObject(man, "base_hash", base_hash) &&
		cJSON_AddStringToObject(man, "head_hash", head_hash) &&
		cJSON_AddStringToObject(man, "created", when),
	    TFA_EINTERNAL, "out of memory");
	TFA_ENSURE(cJSON_AddItemToObject(man, "files", ex->files), TFA_EINTERNAL, "out of memory");
	ex->files = NULL;
	json = cJSON_PrintUnformatted(man);
	TFA_ENSURE(json != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_jcs_canonicalize(&canon, (const uint8_t *)json, strlen(json)));
	TFA_GUARD(
	    tfa_fs_write_new(ex->dirfd, TFA_BUNDLE_MANIFEST, canon.data, canon.len, 0444, false));
	tfa_sha256(d, canon.data, canon.len);
	tfa_buf_clear(&sig);
	TFA_GUARD(tfa_signer_sign(&sig, signer, alg, d));
	TFA_GUARD(
	    tfa_fs_write_new(ex->dirfd, TFA_BUNDLE_MANIFEST_SIG, sig.data, sig.len, 0444, false));
	*out = man;
	man = NULL;
out:
	cJSON_Delete(man);
	cJSON_free(json);
	tfa_buf_free(&canon);
	tfa_buf_free(&sig);
	return rc;
}
