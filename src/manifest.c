#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "jfield.h"
#include "manifest.h"
#include "pathsafe.h"
#include "timefmt.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"

void tfa_manifest_clear(tfa_manifest *m)
{
	free(m->files);
	free(m->arena);
	memset(m, 0, sizeof(*m));
}

long tfa_manifest_find(const tfa_manifest *m, const char *path)
{
	size_t lo = 0, hi = m->nfiles;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->files[mid].path, path);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

tfa_err tfa_manifest_parse(tfa_manifest *m, const uint8_t *bytes, size_t len)
{
	static const char *const members[] = { "base_hash", "chain_id", "created", "files",
					       "from_seq", "head_hash", "schema_version", "signer",
					       "to_seq", "type", NULL };
	static const char *const file_members[] = { "path", "sha256", "size", NULL };
	static const char *const signer_members[] = { "algorithm", "key_fingerprint", NULL };
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	const tfa_json_value *root, *files, *sg;
	const char *s;
	size_t n, arena_len = 0, off = 0;
	int64_t v;
	char alg[40];
	tfa_buf canon;

	memset(m, 0, sizeof(*m));
	tfa_buf_init(&canon, len + 1);
	TFA_GUARD(tfa_json_parse(&doc, bytes, len));
	root = tfa_json_root(doc);
	TFA_ENSURE(tfa_json_type_of(root) == TFA_JSON_OBJECT, TFA_EFORMAT,
		   "manifest is not a JSON object");
	TFA_GUARD(tfa_jcs_write(&canon, root));
	TFA_ENSURE(canon.len == len && memcmp(canon.data, bytes, len) == 0, TFA_EFORMAT,
		   "manifest is not in RFC 8785 canonical form");
	TFA_GUARD(tfa_jf_only(root, members, "manifest"));
	TFA_GUARD(tfa_jf_str(&s, &n, root, "type", 64, "manifest"));
	TFA_ENSURE(n == strlen(TFA_MANIFEST_TYPE) && memcmp(s, TFA_MANIFEST_TYPE, n) == 0,
		   TFA_EFORMAT, "manifest type is not %s", TFA_MANIFEST_TYPE);
	TFA_GUARD(tfa_jf_int(&v, root, "schema_version", 0, 1000, "manifest"));
	TFA_ENSURE(v == TFA_MANIFEST_SCHEMA, TFA_EFORMAT, "unsupported manifest schema version");
	TFA_GUARD(tfa_jf_str(&s, &n, root, "chain_id", TFA_CHAIN_ID_MAX, "manifest"));
	TFA_GUARD(tfa_chain_id_check(s, n));
	memcpy(m->chain_id, s, n);
	TFA_GUARD(tfa_jf_int(&v, root, "from_seq", 1, (int64_t)TFA_SEQ_MAX, "manifest"));
	m->from_seq = (uint64_t)v;
	TFA_GUARD(tfa_jf_int(&v, root, "to_seq", 1, (int64_t)TFA_SEQ_MAX, "manifest"));
	m->to_seq = (uint64_t)v;
	TFA_ENSURE(m->from_seq <= m->to_seq, TFA_EFORMAT, "manifest range is empty");
	TFA_GUARD(tfa_jf_hash(m->base_hash, root, "base_hash", "manifest"));
	TFA_GUARD(tfa_jf_hash(m->head_hash, root, "head_hash", "manifest"));
	TFA_GUARD(tfa_jf_str(&s, &n, root, "created", 32, "manifest"));
	{
		int64_t t;
		TFA_GUARD(tfa_time_parse(&t, s, n));
	}
	TFA_GUARD(tfa_jf_obj(&sg, root, "signer", "manifest"));
	TFA_GUARD(tfa_jf_only(sg, signer_members, "manifest signer"));
	TFA_GUARD(tfa_jf_strcpy(m->key_fpr, sizeof(m->key_fpr), sg, "key_fingerprint",
				"manifest signer"));
	{
		uint8_t tmp[TFA_SHA256_LEN];
		TFA_GUARD(tfa_jf_hash(tmp, sg, "key_fingerprint", "manifest signer"));
	}
	TFA_GUARD(tfa_jf_strcpy(alg, sizeof(alg), sg, "algorithm", "manifest signer"));
	TFA_GUARD(tfa_sig_alg_from_name(&m->alg, alg));

	TFA_GUARD(tfa_jf_arr(&files, root, "files", "manifest"));
	m->nfiles = tfa_json_count(files);
	TFA_ENSURE(m->nfiles > 0 && m->nfiles <= TFA_MANIFEST_MAX_FILES, TFA_EFORMAT,
		   "manifest lists no files or too many");
	for (size_t i = 0; i < m->nfiles; i++) {
		const tfa_json_value *f = tfa_json_at(files, i);
		TFA_GUARD(tfa_jf_str(&s, &n, f, "path", TFA_PATH_MAX_LEN, "manifest file entry"));
		arena_len += n + 1;
	}
	m->files = calloc(m->nfiles, sizeof(*m->files));
	m->arena = malloc(arena_len);
	TFA_ENSURE(m->files && m->arena, TFA_EINTERNAL, "out of memory");
	for (size_t i = 0; i < m->nfiles; i++) {
		const tfa_json_value *f = tfa_json_at(files, i);
		tfa_manifest_file *mf = &m->files[i];
		const char *hex;
		size_t hexlen;

		TFA_GUARD(tfa_jf_only(f, file_members, "manifest file entry"));
		TFA_GUARD(tfa_jf_str(&s, &n, f, "path", TFA_PATH_MAX_LEN, "manifest file entry"));
		TFA_GUARD(tfa_path_check(s, n));
		memcpy(m->arena + off, s, n);
		m->arena[off + n] = '\0';
		mf->path = m->arena + off;
		off += n + 1;
		if (strcmp(mf->path, TFA_BUNDLE_MANIFEST) == 0 ||
		    strcmp(mf->path, TFA_BUNDLE_MANIFEST_SIG) == 0)
			TFA_BAIL(TFA_EVERIFY, "manifest lists itself or its signature");
		if (i > 0 && strcmp(m->files[i - 1].path, mf->path) >= 0)
			TFA_BAIL(TFA_EVERIFY, "manifest paths are not unique and in order at %s",
				 mf->path);
		TFA_GUARD(tfa_jf_str(&hex, &hexlen, f, "sha256", 64, "manifest file entry"));
		if (tfa_hex_decode(mf->sha256, TFA_SHA256_LEN, hex, hexlen) != TFA_OK)
			TFA_BAIL(TFA_EFORMAT, "manifest entry %s has a malformed sha256", mf->path);
		TFA_GUARD(tfa_jf_int(&v, f, "size", 0, (int64_t)1 << 40, "manifest file entry"));
		mf->size = (uint64_t)v;
	}
out:
	tfa_buf_free(&canon);
	tfa_json_free(doc);
	if (rc != TFA_OK)
		tfa_manifest_clear(m);
	return rc;
}
