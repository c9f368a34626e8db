/*
 * file:PATH — an unencrypted PEM private key (RSA 2048-4096 or EC P-256).
 * For development and the demo: the key sits on disk, so nothing proves it
 * was not copied. Production keys belong in an HSM or KMS.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "tfattest/sys/guard.h"
#include "tfattest/sys/signer.h"
#include "verify/crypto.h"

#define KEY_FILE_MAX (64u << 10)

typedef struct file_ctx {
	EVP_PKEY *key;
	tfa_kv prov[1];
	char *path;
} file_ctx;

static void file_close(void *vctx)
{
	file_ctx *ctx = vctx;

	if (ctx == NULL)
		return;
	EVP_PKEY_free(ctx->key);
	free(ctx->path);
	free(ctx);
}

static tfa_err file_open(void **out, const char *uri)
{
	tfa_err rc = TFA_OK;
	tfa_buf pem;
	BIO *bio = NULL;
	file_ctx *ctx = NULL;
	const char *path = uri + strlen("file:");

	tfa_buf_init(&pem, KEY_FILE_MAX);
	*out = NULL;
	if (strncmp(path, "//", 2) == 0)
		path += 2; /* file:///abs/path */
	TFA_ENSURE(*path, TFA_EUSAGE, "file: key URI has no path");
	ctx = calloc(1, sizeof(*ctx));
	TFA_ENSURE(ctx != NULL, TFA_EINTERNAL, "out of memory");
	ctx->path = strdup(path);
	TFA_ENSURE(ctx->path != NULL, TFA_EINTERNAL, "out of memory");
	rc = tfa_buf_read_file(&pem, path, KEY_FILE_MAX);
	if (rc != TFA_OK) {
		rc = tfa_error_set(TFA_EUSAGE, "cannot read key file: %s",
				   tfa_error_last()->message);
		goto out;
	}
	bio = BIO_new_mem_buf(pem.data, (int)pem.len);
	TFA_ENSURE(bio != NULL, TFA_EINTERNAL, "out of memory");
	/* No passphrase callback: an encrypted key fails here instead of prompting. */
	ctx->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	if (ctx->key == NULL)
		TFA_BAIL(TFA_EUSAGE, "%s holds no unencrypted PEM private key", path);
	if (tfa_pkey_default_alg(ctx->key) == TFA_ALG_NONE)
		TFA_BAIL(TFA_EUSAGE, "%s: unsupported key, need RSA 2048-4096 or EC P-256", path);
	ctx->prov[0].name = "key_path";
	ctx->prov[0].value = ctx->path;
	*out = ctx;
	ctx = NULL;
out:
	ERR_clear_error();
	BIO_free(bio);
	tfa_buf_wipe_free(&pem);
	file_close(ctx);
	return rc;
}

static tfa_err file_sign(void *vctx, tfa_sig_alg alg, const uint8_t digest[TFA_SHA256_LEN],
			 tfa_buf *sig)
{
	tfa_err rc = TFA_OK;
	file_ctx *ctx = vctx;
	EVP_PKEY_CTX *pctx = NULL;
	size_t n = 0;

	pctx = EVP_PKEY_CTX_new(ctx->key, NULL);
	if (pctx == NULL || EVP_PKEY_sign_init(pctx) <= 0)
		TFA_BAIL(TFA_ECRYPTO, "cannot set up signing");
	TFA_GUARD(tfa_pkey_ctx_set_alg(pctx, alg));
	if (EVP_PKEY_sign(pctx, NULL, &n, digest, TFA_SHA256_LEN) <= 0)
		TFA_BAIL(TFA_ECRYPTO, "cannot size the signature");
	TFA_GUARD(tfa_buf_reserve(sig, n));
	if (EVP_PKEY_sign(pctx, sig->data + sig->len, &n, digest, TFA_SHA256_LEN) <= 0) {
		rc = tfa_error_openssl(TFA_ECRYPTO, "signing failed");
		goto out;
	}
	sig->len += n;
out:
	EVP_PKEY_CTX_free(pctx);
	return rc;
}

static tfa_err file_public_key(void *vctx, tfa_buf *spki)
{
	file_ctx *ctx = vctx;

	return tfa_pkey_to_spki(spki, ctx->key);
}

static const tfa_kv *file_provenance(void *vctx, size_t *n)
{
	file_ctx *ctx = vctx;

	*n = 1;
	return ctx->prov;
}

const tfa_signer_backend tfa_signer_backend_file = {
    .abi = TFA_SIGNER_ABI,
    .name = "file",
    .scheme = "file:",
    .caps = TFA_SIGNER_CAP_RSA | TFA_SIGNER_CAP_EC_P256,
    .open = file_open,
    .sign = file_sign,
    .public_key = file_public_key,
    .provenance = file_provenance,
    .close = file_close,
};
