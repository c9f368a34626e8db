#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "format/pathsafe.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"
#include "verify/manifest.h"

/* No string in a valid manifest is longer than a path or a time. */
#define MANIFEST_STRING_MAX 256

void tfa_manifest_clear(tfa_manifest *m)
{
	free(m->files);
	free(m->arena);
	memset(m, 0, sizeof(*m));
}

long tfa_manifest_find(const tfa_manifest *m, const char *path)
{
	size_t lo = 0, hi = m->files ? m->nfiles : 0;

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

/* The next token, which must be `want`; `what` names it in the error. */
static tfa_err expect(tfa_jstream *js, tfa_js_token want, const char *what)
{
	tfa_js_token t;
	tfa_err rc = tfa_jstream_next(js, &t);

	if (rc != TFA_OK)
		return rc == TFA_EFORMAT
			   ? tfa_error_set(TFA_EFORMAT, "manifest is not canonical JSON: %s",
					   tfa_error_last()->message)
			   : rc;
	if (t != want)
		return tfa_error_set(TFA_EFORMAT, "manifest: %s has the wrong type or is missing",
				     what);
	return TFA_OK;
}

/* The next token must be the key `name`. */
static tfa_err expect_key(tfa_jstream *js, const char *name, const char *what)
{
	size_t len;
	const char *k;
	tfa_err rc = expect(js, TFA_JS_KEY, what);

	if (rc != TFA_OK)
		return rc;
	k = tfa_jstream_str(js, &len);
	if (len != strlen(name) || memcmp(k, name, len) != 0)
		return tfa_error_set(TFA_EFORMAT,
				     "%s has an unknown or missing member near \"%.*s\"", what,
				     (int)(len > 64 ? 64 : len), k);
	return TFA_OK;
}

static tfa_err read_string(tfa_jstream *js, const char **s, size_t *len, const char *what)
{
	tfa_err rc = expect(js, TFA_JS_STRING, what);

	if (rc != TFA_OK)
		return rc;
	*s = tfa_jstream_str(js, len);
	if (*len == 0 || memchr(*s, '\0', *len) != NULL)
		return tfa_error_set(TFA_EFORMAT, "manifest: %s is empty or holds NUL", what);
	return TFA_OK;
}

static tfa_err read_int(tfa_jstream *js, int64_t min, int64_t max, int64_t *out, const char *what)
{
	tfa_err rc = expect(js, TFA_JS_NUMBER, what);
	double d;

	if (rc != TFA_OK)
		return rc;
	d = tfa_jstream_num(js);
	if (d != floor(d) || d < (double)min || d > (double)max)
		return tfa_error_set(TFA_EFORMAT, "manifest: %s is not an integer in range", what);
	*out = (int64_t)d;
	return TFA_OK;
}

static tfa_err read_hash(tfa_jstream *js, uint8_t out[TFA_SHA256_LEN], const char *what)
{
	const char *s;
	size_t n;
	tfa_err rc = read_string(js, &s, &n, what);

	if (rc != TFA_OK)
		return rc;
	if (tfa_hash_parse(out, s, n) != TFA_OK)
		return tfa_error_set(TFA_EFORMAT, "manifest: %s is not sha256:<64 lowercase hex>",
				     what);
	return TFA_OK;
}

enum {
	SEEN_BASE = 1 << 0,
	SEEN_CHAIN = 1 << 1,
	SEEN_CREATED = 1 << 2,
	SEEN_FILES = 1 << 3,
	SEEN_FROM = 1 << 4,
	SEEN_HEAD = 1 << 5,
	SEEN_SCHEMA = 1 << 6,
	SEEN_SIGNER = 1 << 7,
	SEEN_TO = 1 << 8,
	SEEN_TYPE = 1 << 9,
	SEEN_ALL = (1 << 10) - 1,
	SEEN_KIND = 1 << 10,  /* schema 2 only */
	SEEN_WRITER = 1 << 11 /* optional */
};

/* A byte of a writer's name or version: [A-Za-z0-9._+~-], ASCII whatever the locale. */
static bool writer_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '+' || c == '~' || c == '-';
}

static tfa_err read_writer_string(tfa_jstream *js, char out[TFA_MANIFEST_WRITER_MAX + 1],
				  const char *what)
{
	const char *s;
	size_t n;
	tfa_err rc = read_string(js, &s, &n, what);

	if (rc != TFA_OK)
		return rc;
	if (n > TFA_MANIFEST_WRITER_MAX)
		return tfa_error_set(TFA_EFORMAT, "manifest: %s is longer than %d bytes", what,
				     TFA_MANIFEST_WRITER_MAX);
	for (size_t i = 0; i < n; i++)
		if (!writer_char(s[i]))
			return tfa_error_set(TFA_EFORMAT,
					     "manifest: %s holds a byte outside [A-Za-z0-9._+~-]",
					     what);
	memcpy(out, s, n);
	out[n] = '\0';
	return TFA_OK;
}

/* `writer`: exactly `name` and `version`, in that (canonical) order. */
static tfa_err scan_writer(tfa_manifest *m, tfa_jstream *js)
{
	tfa_err rc = TFA_OK;

	TFA_GUARD(expect(js, TFA_JS_BEGIN_OBJECT, "\"writer\""));
	TFA_GUARD(expect_key(js, "name", "manifest writer"));
	TFA_GUARD(read_writer_string(js, m->writer_name, "the writer's name"));
	TFA_GUARD(expect_key(js, "version", "manifest writer"));
	TFA_GUARD(read_writer_string(js, m->writer_version, "the writer's version"));
	TFA_GUARD(expect(js, TFA_JS_END_OBJECT, "manifest writer has an unknown member; its end"));
	m->has_writer = true;
out:
	return rc;
}

static tfa_err scan_files(tfa_manifest *m, tfa_jstream *js, tfa_manifest_file_fn fn, void *ud,
			  size_t max_files)
{
	tfa_err rc = TFA_OK;
	char prev[TFA_PATH_MAX_LEN + 1] = "", path[TFA_PATH_MAX_LEN + 1];
	tfa_manifest_file f;
	size_t n = 0;

	TFA_GUARD(expect(js, TFA_JS_BEGIN_ARRAY, "\"files\""));
	for (;;) {
		tfa_js_token t;
		const char *s;
		size_t len;
		int64_t size = 0;

		rc = tfa_jstream_next(js, &t);
		if (rc != TFA_OK)
			TFA_BAIL(rc == TFA_EFORMAT ? TFA_EFORMAT : rc,
				 "manifest is not canonical JSON: %s", tfa_error_last()->message);
		if (t == TFA_JS_END_ARRAY)
			break;
		TFA_ENSURE(t == TFA_JS_BEGIN_OBJECT, TFA_EFORMAT,
			   "manifest: a file entry is not an object");
		TFA_ENSURE(n < max_files, TFA_EFORMAT, "manifest lists more than %zu files",
			   max_files);
		TFA_GUARD(expect_key(js, "path", "manifest file entry"));
		TFA_GUARD(read_string(js, &s, &len, "a file path"));
		TFA_ENSURE(len <= TFA_PATH_MAX_LEN, TFA_EVERIFY, "path %.64s... is too long", s);
		TFA_GUARD(tfa_path_check(s, len));
		memcpy(path, s, len);
		path[len] = '\0';
		if (strcmp(path, TFA_BUNDLE_MANIFEST) == 0 ||
		    strcmp(path, TFA_BUNDLE_MANIFEST_SIG) == 0)
			TFA_BAIL(TFA_EVERIFY, "manifest lists itself or its signature");
		if (n > 0 && strcmp(prev, path) >= 0)
			TFA_BAIL(TFA_EVERIFY, "manifest paths are not unique and in order at %s",
				 path);
		if (strcmp(path, TFA_BUNDLE_PUBKEY) == 0)
			m->lists_pubkey = true;
		if (strcmp(path, TFA_BUNDLE_EXPORTER_KEY) == 0)
			m->lists_exporter_key = true;
		TFA_GUARD(expect_key(js, "sha256", "manifest file entry"));
		TFA_GUARD(read_string(js, &s, &len, "a file hash"));
		if (tfa_hex_decode(f.sha256, TFA_SHA256_LEN, s, len) != TFA_OK)
			TFA_BAIL(TFA_EFORMAT, "manifest entry %s has a malformed sha256", path);
		TFA_GUARD(expect_key(js, "size", "manifest file entry"));
		TFA_GUARD(read_int(js, 0, (int64_t)1 << 40, &size, "a file size"));
		f.size = (uint64_t)size;
		rc = tfa_jstream_next(js, &t);
		if (rc != TFA_OK || t != TFA_JS_END_OBJECT)
			TFA_BAIL(TFA_EFORMAT, "manifest entry %s has an unknown member", path);
		f.path = path;
		if (fn)
			TFA_GUARD(fn(ud, &f, n));
		memcpy(prev, path, len + 1);
		n++;
	}
	TFA_ENSURE(n > 0, TFA_EFORMAT, "manifest lists no files");
	m->nfiles = n;
out:
	return rc;
}

tfa_err tfa_manifest_scan(tfa_manifest *m, tfa_jstream *js, tfa_manifest_file_fn fn, void *ud)
{
	return tfa_manifest_scan_max(m, js, fn, ud, TFA_MANIFEST_MAX_FILES);
}

tfa_err tfa_manifest_scan_max(tfa_manifest *m, tfa_jstream *js, tfa_manifest_file_fn fn, void *ud,
			      size_t max_files)
{
	tfa_err rc = TFA_OK;
	unsigned seen = 0;
	const char *s;
	size_t n;
	int64_t v;

	memset(m, 0, sizeof(*m));
	TFA_GUARD(expect(js, TFA_JS_BEGIN_OBJECT, "the document"));
	for (;;) {
		tfa_js_token t;
		const char *k;
		unsigned bit;

		rc = tfa_jstream_next(js, &t);
		if (rc != TFA_OK)
			TFA_BAIL(rc == TFA_EFORMAT ? TFA_EFORMAT : rc,
				 "manifest is not canonical JSON: %s", tfa_error_last()->message);
		if (t == TFA_JS_END_OBJECT)
			break;
		k = tfa_jstream_str(js, &n);
		/* Keys arrive sorted and unique (the stream checks that). */
		if (strcmp(k, "base_hash") == 0) {
			bit = SEEN_BASE;
			TFA_GUARD(read_hash(js, m->base_hash, "\"base_hash\""));
		} else if (strcmp(k, "chain_id") == 0) {
			bit = SEEN_CHAIN;
			TFA_GUARD(read_string(js, &s, &n, "\"chain_id\""));
			TFA_GUARD(tfa_chain_id_check(s, n));
			memcpy(m->chain_id, s, n);
			m->chain_id[n] = '\0';
		} else if (strcmp(k, "created") == 0) {
			int64_t tm;
			bit = SEEN_CREATED;
			TFA_GUARD(read_string(js, &s, &n, "\"created\""));
			TFA_GUARD(tfa_time_parse(&tm, s, n));
		} else if (strcmp(k, "files") == 0) {
			bit = SEEN_FILES;
			TFA_GUARD(scan_files(m, js, fn, ud, max_files));
		} else if (strcmp(k, "from_seq") == 0) {
			bit = SEEN_FROM;
			TFA_GUARD(read_int(js, 1, (int64_t)TFA_SEQ_MAX, &v, "\"from_seq\""));
			m->from_seq = (uint64_t)v;
		} else if (strcmp(k, "head_hash") == 0) {
			bit = SEEN_HEAD;
			TFA_GUARD(read_hash(js, m->head_hash, "\"head_hash\""));
		} else if (strcmp(k, "kind") == 0) {
			bit = SEEN_KIND;
			TFA_GUARD(read_string(js, &s, &n, "\"kind\""));
			TFA_ENSURE(n == strlen(TFA_MANIFEST_KIND_EXPORTER) &&
				       memcmp(s, TFA_MANIFEST_KIND_EXPORTER, n) == 0,
				   TFA_EFORMAT, "manifest kind is not %s",
				   TFA_MANIFEST_KIND_EXPORTER);
		} else if (strcmp(k, "schema_version") == 0) {
			bit = SEEN_SCHEMA;
			TFA_GUARD(read_int(js, 0, 1000, &v, "\"schema_version\""));
			/* "kind" sorts before "schema_version": it has been read if present. */
			TFA_ENSURE(v == TFA_MANIFEST_SCHEMA ||
				       (v == TFA_MANIFEST_SCHEMA_EXPORTER && (seen & SEEN_KIND)),
				   TFA_EFORMAT, "unsupported manifest schema version");
			TFA_ENSURE(
			    v != TFA_MANIFEST_SCHEMA || !(seen & SEEN_KIND), TFA_EFORMAT,
			    "a schema 1 manifest has no \"kind\" (it is signed by the chain's "
			    "key)");
			m->exporter_signed = v == TFA_MANIFEST_SCHEMA_EXPORTER;
		} else if (strcmp(k, "signer") == 0) {
			uint8_t tmp[TFA_SHA256_LEN];
			char alg[40];
			bit = SEEN_SIGNER;
			TFA_GUARD(expect(js, TFA_JS_BEGIN_OBJECT, "\"signer\""));
			TFA_GUARD(expect_key(js, "algorithm", "manifest signer"));
			TFA_GUARD(read_string(js, &s, &n, "the signer's algorithm"));
			TFA_ENSURE(n < sizeof(alg), TFA_EFORMAT, "unknown signature algorithm");
			memcpy(alg, s, n);
			alg[n] = '\0';
			TFA_GUARD(tfa_sig_alg_from_name(&m->alg, alg));
			TFA_GUARD(expect_key(js, "key_fingerprint", "manifest signer"));
			TFA_GUARD(read_string(js, &s, &n, "the signer's key fingerprint"));
			TFA_ENSURE(tfa_hash_parse(tmp, s, n) == TFA_OK, TFA_EFORMAT,
				   "manifest: the signer's key fingerprint is malformed");
			memcpy(m->key_fpr, s, n);
			m->key_fpr[n] = '\0';
			TFA_GUARD(expect(js, TFA_JS_END_OBJECT,
					 "manifest signer has an unknown member; its end"));
		} else if (strcmp(k, "to_seq") == 0) {
			bit = SEEN_TO;
			TFA_GUARD(read_int(js, 1, (int64_t)TFA_SEQ_MAX, &v, "\"to_seq\""));
			m->to_seq = (uint64_t)v;
		} else if (strcmp(k, "type") == 0) {
			bit = SEEN_TYPE;
			TFA_GUARD(read_string(js, &s, &n, "\"type\""));
			TFA_ENSURE(n == strlen(TFA_MANIFEST_TYPE) &&
				       memcmp(s, TFA_MANIFEST_TYPE, n) == 0,
				   TFA_EFORMAT, "manifest type is not %s", TFA_MANIFEST_TYPE);
		} else if (strcmp(k, "writer") == 0) {
			bit = SEEN_WRITER;
			TFA_GUARD(scan_writer(m, js));
		} else {
			TFA_BAIL(TFA_EFORMAT, "manifest has an unknown member \"%.*s\"",
				 (int)(n > 64 ? 64 : n), k);
		}
		seen |= bit;
	}
	TFA_ENSURE((seen & SEEN_ALL) == SEEN_ALL, TFA_EFORMAT, "manifest lacks a required member");
	TFA_GUARD(expect(js, TFA_JS_END, "the end of the document"));
	TFA_ENSURE(m->from_seq <= m->to_seq, TFA_EFORMAT, "manifest range is empty");
	{
		static const uint8_t genesis[TFA_SHA256_LEN];
		/* Only seq 1 follows genesis: anything else would need a SHA-256 preimage. */
		TFA_ENSURE(m->from_seq == 1 || memcmp(m->base_hash, genesis, TFA_SHA256_LEN) != 0,
			   TFA_EFORMAT,
			   "manifest base_hash is the genesis value but from_seq is %" PRIu64,
			   m->from_seq);
	}
out:
	return rc;
}

typedef struct membuf {
	const uint8_t *p;
	size_t left;
} membuf;

static ssize_t mem_read(void *ud, void *buf, size_t n)
{
	membuf *mb = ud;

	if (n > mb->left)
		n = mb->left;
	memcpy(buf, mb->p, n);
	mb->p += n;
	mb->left -= n;
	return (ssize_t)n;
}

typedef struct collector {
	tfa_manifest_file *files;
	size_t n, cap;
	tfa_buf arena;
} collector;

static tfa_err collect(void *ud, const tfa_manifest_file *f, size_t index)
{
	collector *c = ud;
	tfa_err rc;

	(void)index;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 64;
		tfa_manifest_file *p = realloc(c->files, ncap * sizeof(*p));
		if (p == NULL)
			return tfa_error_set(TFA_EINTERNAL, "out of memory");
		c->files = p;
		c->cap = ncap;
	}
	c->files[c->n] = *f;
	/* Store the offset now; pointers are fixed up once the arena stops moving. */
	c->files[c->n].path = (const char *)(uintptr_t)c->arena.len;
	if ((rc = tfa_buf_append(&c->arena, f->path, strlen(f->path) + 1)) != TFA_OK)
		return rc;
	c->n++;
	return TFA_OK;
}

tfa_err tfa_manifest_parse(tfa_manifest *m, const uint8_t *bytes, size_t len)
{
	tfa_err rc = TFA_OK;
	tfa_jstream *js = NULL;
	membuf mb = {bytes, len};
	collector c;

	memset(&c, 0, sizeof(c));
	tfa_buf_init(&c.arena, 0);
	memset(m, 0, sizeof(*m));
	TFA_GUARD(tfa_jstream_new(&js, mem_read, &mb, MANIFEST_STRING_MAX, TFA_MANIFEST_MAX_BYTES));
	TFA_GUARD(tfa_manifest_scan(m, js, collect, &c));
	for (size_t i = 0; i < c.n; i++)
		c.files[i].path = (const char *)c.arena.data + (uintptr_t)c.files[i].path;
	m->files = c.files;
	m->arena = (char *)tfa_buf_detach(&c.arena, NULL);
	c.files = NULL;
out:
	tfa_jstream_free(js);
	free(c.files);
	tfa_buf_free(&c.arena);
	if (rc != TFA_OK)
		tfa_manifest_clear(m);
	return rc;
}
