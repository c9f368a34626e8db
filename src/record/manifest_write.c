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
#include <openssl/evp.h>

#include "format/timefmt.h"
#include "record/export_int.h"
#include "sys/fsutil.h"
#include "tfattest/chain.h"
#include "tfattest/features.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

/* manifest.json's bytes are written in blocks of this size. */
#define MAN_BLOCK 65536

static tfa_err man_flush(tfa_export_ctx *ex)
{
	size_t done = 0;

	while (done < ex->man.len) {
		ssize_t r = write(ex->manfd, ex->man.data + done, ex->man.len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return tfa_error_set(TFA_EIO, "cannot write %s: %s", TFA_BUNDLE_MANIFEST,
					     r < 0 ? strerror(errno) : "short write");
		done += (size_t)r;
	}
	tfa_buf_clear(&ex->man);
	return TFA_OK;
}

/* Bytes of manifest.json: hashed, buffered, written out in blocks. */
static tfa_err man_put(tfa_export_ctx *ex, const void *data, size_t len)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE(ex->manlen + len <= TFA_MANIFEST_MAX_BYTES, TFA_EUSAGE,
		   "the manifest would take more than %zu bytes: export a shorter range (--from, "
		   "--to)",
		   TFA_MANIFEST_MAX_BYTES);
	TFA_ENSURE(EVP_DigestUpdate(ex->md, data, len), TFA_ECRYPTO, "SHA-256 failed");
	ex->manlen += len;
	TFA_GUARD(tfa_buf_append(&ex->man, data, len));
	if (ex->man.len >= MAN_BLOCK)
		TFA_GUARD(man_flush(ex));
out:
	return rc;
}

/* Writes a file of the bundle (read-only) and lists it in manifest.json, under dirname. */
tfa_err tfa_export_put_file(tfa_export_ctx *ex, int dirfd, const char *dirname, const char *name,
			    const uint8_t *data, size_t len)
{
	tfa_err rc = TFA_OK;
	uint8_t d[TFA_SHA256_LEN];
	char hex[2 * TFA_SHA256_LEN + 1], entry[256];
	int n;

	TFA_ENSURE(ex->manfd >= 0, TFA_EINTERNAL, "the manifest is not open");
	TFA_ENSURE(ex->nfiles < TFA_MANIFEST_MAX_FILES, TFA_EUSAGE,
		   "the manifest would list more than %u files: export a shorter range (--from, "
		   "--to)",
		   TFA_MANIFEST_MAX_FILES);
	TFA_GUARD(tfa_fs_write_new(dirfd, name, data, len, 0444, false));
	tfa_sha256(d, data, len);
	tfa_hex_encode(hex, d, sizeof(d));
	/* Canonical as it stands: keys in order, a bundle path needs no escape. */
	n = snprintf(entry, sizeof(entry), "%s{\"path\":\"%s%s\",\"sha256\":\"%s\",\"size\":%zu}",
		     ex->nfiles > 0 ? "," : "", dirname, name, hex, len);
	TFA_ENSURE(n > 0 && (size_t)n < sizeof(entry), TFA_EINTERNAL, "path %s%s is too long",
		   dirname, name);
	TFA_GUARD(man_put(ex, entry, (size_t)n));
	ex->nfiles++;
	ex->total += len;
out:
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
 * The manifest without its files, canonical, cut around the file list: the
 * text before the list's first entry and after its last. Members sort before
 * or after "files" by name alone, so the cut does not move with the values.
 */
static tfa_err man_frame(char **before, char **after, const tfa_export_head *h)
{
	tfa_err rc = TFA_OK;
	char when[TFA_TIME_STRLEN];
	cJSON *man = NULL;
	char *json = NULL, *cut;
	tfa_buf canon;
	static const char mark[] = "\"files\":[]";

	*before = *after = NULL;
	tfa_buf_init(&canon, 1 << 20);
	tfa_time_format(when, h->created);
	man = cJSON_CreateObject();
	TFA_ENSURE(man != NULL, TFA_EINTERNAL, "out of memory");
	{
		cJSON *sg = cJSON_CreateObject();
		TFA_ENSURE(sg &&
			       cJSON_AddStringToObject(sg, "key_fingerprint",
						       tfa_signer_fingerprint(h->signer)) &&
			       cJSON_AddStringToObject(sg, "algorithm", tfa_sig_alg_name(h->alg)) &&
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
	TFA_ENSURE(cJSON_AddStringToObject(man, "type", TFA_MANIFEST_TYPE) &&
		       cJSON_AddNumberToObject(man, "schema_version",
					       h->exporter ? TFA_MANIFEST_SCHEMA_EXPORTER
							   : TFA_MANIFEST_SCHEMA) &&
		       (!h->exporter ||
			cJSON_AddStringToObject(man, "kind", TFA_MANIFEST_KIND_EXPORTER)) &&
		       cJSON_AddStringToObject(man, "chain_id", h->chain_id) &&
		       cJSON_AddNumberToObject(man, "from_seq", (double)h->from) &&
		       cJSON_AddNumberToObject(man, "to_seq", (double)h->to) &&
		       cJSON_AddStringToObject(man, "base_hash", h->base_hash) &&
		       cJSON_AddStringToObject(man, "head_hash", h->head_hash) &&
		       cJSON_AddStringToObject(man, "created", when) &&
		       cJSON_AddArrayToObject(man, "files"),
		   TFA_EINTERNAL, "out of memory");
	json = cJSON_PrintUnformatted(man);
	TFA_ENSURE(json != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_jcs_canonicalize(&canon, (const uint8_t *)json, strlen(json)));
	TFA_GUARD(tfa_buf_putc(&canon, '\0'));
	/* Inside a string every quote is escaped: the mark is the member itself. */
	cut = strstr((char *)canon.data, mark);
	TFA_ENSURE(cut != NULL, TFA_EINTERNAL, "the manifest has no file list");
	cut += sizeof(mark) - 2;
	*after = strdup(cut);
	*cut = '\0';
	*before = strdup((char *)canon.data);
	TFA_ENSURE(*before && *after, TFA_EINTERNAL, "out of memory");
out:
	if (rc != TFA_OK) {
		free(*before);
		free(*after);
		*before = *after = NULL;
	}
	cJSON_Delete(man);
	cJSON_free(json);
	tfa_buf_free(&canon);
	return rc;
}

tfa_err tfa_export_manifest_begin(tfa_export_ctx *ex, const tfa_export_head *h)
{
	tfa_err rc = TFA_OK;
	char *after = NULL;

	TFA_ENSURE(ex->manfd < 0 && ex->md == NULL, TFA_EINTERNAL, "the manifest is open");
	ex->md = EVP_MD_CTX_new();
	TFA_ENSURE(ex->md != NULL && EVP_DigestInit_ex(ex->md, EVP_sha256(), NULL), TFA_EINTERNAL,
		   "out of memory");
	TFA_GUARD(man_frame(&ex->head, &after, h));
	ex->manfd = openat(ex->dirfd, TFA_BUNDLE_MANIFEST,
			   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	TFA_ENSURE(ex->manfd >= 0, TFA_EIO, "cannot create %s: %s", TFA_BUNDLE_MANIFEST,
		   strerror(errno));
	TFA_GUARD(man_put(ex, ex->head, strlen(ex->head)));
out:
	free(after);
	return rc;
}

tfa_err tfa_export_manifest_finish(tfa_export_ctx *ex, const tfa_export_head *h)
{
	tfa_err rc = TFA_OK;
	char *before = NULL, *after = NULL;
	tfa_buf sig;
	uint8_t d[TFA_SHA256_LEN];

	tfa_buf_init(&sig, 0);
	TFA_ENSURE(ex->manfd >= 0 && ex->head != NULL, TFA_EINTERNAL, "the manifest is not open");
	TFA_GUARD(man_frame(&before, &after, h));
	/* Only head_hash changed since the start, and it sorts after the file list. */
	TFA_ENSURE(strcmp(before, ex->head) == 0, TFA_EINTERNAL,
		   "the manifest's members before its file list changed while it was written");
	TFA_GUARD(man_put(ex, after, strlen(after)));
	TFA_GUARD(man_flush(ex));
	TFA_ENSURE(close(ex->manfd) == 0, TFA_EIO, "cannot close %s: %s", TFA_BUNDLE_MANIFEST,
		   strerror(errno));
	ex->manfd = -1;
	TFA_ENSURE(EVP_DigestFinal_ex(ex->md, d, NULL), TFA_ECRYPTO, "SHA-256 failed");
	TFA_GUARD(tfa_signer_sign(&sig, h->signer, h->alg, d));
	TFA_GUARD(
	    tfa_fs_write_new(ex->dirfd, TFA_BUNDLE_MANIFEST_SIG, sig.data, sig.len, 0444, false));
out:
	free(before);
	free(after);
	tfa_buf_free(&sig);
	return rc;
}

void tfa_export_ctx_release(tfa_export_ctx *ex)
{
	if (ex->manfd >= 0)
		close(ex->manfd);
	ex->manfd = -1;
	EVP_MD_CTX_free(ex->md);
	ex->md = NULL;
	free(ex->head);
	ex->head = NULL;
	tfa_buf_free(&ex->man);
}
