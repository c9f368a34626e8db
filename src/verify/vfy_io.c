/*
 * What the verifier's layers share: the lines it prints, the failure that ends
 * a run, and reading from the bundle (small files, listed files hashed as they
 * are read, the manifest as a stream). Calls into no layer.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "format/jstream.h"
#include "tfattest/sys/guard.h"
#include "tfattest/verify.h"
#include "verify/vfy_int.h"

#define MANIFEST_STRING_MAX 256

void tfa_vfy_emit(const tfa_vfy_ctx *v, const char *tag, const char *fmt, ...)
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
tfa_err tfa_vfy_fail(tfa_vfy_ctx *v, tfa_layer layer, const char *file, uint64_t seq,
		     const char *fmt, ...)
{
	va_list ap;

	v->rep->failed_layer = layer;
	snprintf(v->rep->failed_file, sizeof(v->rep->failed_file), "%s", file ? file : "");
	v->rep->failed_seq = seq;
	va_start(ap, fmt);
	vsnprintf(v->rep->message, sizeof(v->rep->message), fmt, ap);
	va_end(ap);
	tfa_vfy_emit(v, "ERROR", "%s", v->rep->message);
	return tfa_error_set(TFA_EVERIFY, "%s", v->rep->message);
}

/* Reads a whole small file from the bundle. */
tfa_err tfa_vfy_read_small(tfa_buf *out, const tfa_bsrc *src, const char *path, size_t max)
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
tfa_err tfa_vfy_scan_manifest(tfa_vfy_ctx *v, tfa_manifest *m, tfa_manifest_file_fn fn, void *ud,
			      uint8_t digest[TFA_SHA256_LEN])
{
	tfa_err rc = TFA_OK;
	tfa_jstream *js = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	tfa_bfile f;
	src_reader r = {&v->src, &f};
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

/*
 * Reads a listed file fully (bounded) and checks its size and hash; returns
 * a TFA_VFY_FR_* code. hint is the source's per-thread handle for artifacts/, or -1.
 */
int tfa_vfy_read_listed(tfa_buf *buf, const tfa_bsrc *src, int hint, const tfa_manifest_file *mf,
			size_t max, uint8_t hash[TFA_SHA256_LEN])
{
	int res = TFA_VFY_FR_MISMATCH;
	bool opened = false;
	ssize_t n;
	tfa_bfile f;
	tfa_err orc;

	tfa_buf_clear(buf);
	orc = src->ops->open(src, hint, mf->path, &f);
	if (orc != TFA_OK) {
		res = orc == TFA_ENOTFOUND ? TFA_VFY_FR_MISSING : TFA_VFY_FR_UNSAFE;
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
		res = TFA_VFY_FR_UNSAFE; /* a directory where a file is listed */
	if (n != (ssize_t)mf->size)
		goto out;
	buf->len = (size_t)n;
	tfa_sha256(hash, buf->data, buf->len);
	if (CRYPTO_memcmp(hash, mf->sha256, TFA_SHA256_LEN) == 0)
		res = TFA_VFY_FR_OK;
out:
	tfa_error_clear();
	if (opened)
		src->ops->close(&f);
	return res;
}
