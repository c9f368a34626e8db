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
 *
 * This file holds the context and the entry points; vfy_io.c the failures, the
 * lines and the reading helpers; the layers are in keypolicy.c (1), scan.c
 * (2-4) and ckpt_verify.c (5), sharing the context through vfy_int.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "tfattest/features.h"
#if TFATTEST_WITH_ARCHIVE
#include "verify/archive/bundle_archive.h"
#endif
#include "format/jstream.h"
#include "tfattest/bundle.h"
#include "tfattest/sys/guard.h"
#include "tfattest/verify.h"
#include "verify/verify_int.h"
#include "verify/vfy_int.h"

/* Allocates the context and checks the options; prints the first line. */
static tfa_err begin(tfa_vfy_ctx **out, tfa_verify_report *rep, const char *path,
		     const tfa_verify_opts *opts)
{
	tfa_err rc = TFA_OK;
	tfa_vfy_ctx *v = NULL;
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
		TFA_BAIL(TFA_EUSAGE,
			 "--expect-key-fingerprint must be sha256:<64 lowercase hex digits>");
	TFA_ENSURE(v->opts->ncheckpoints < TFA_VERIFY_CHECKPOINTS_MAX &&
		       (v->opts->ncheckpoints == 0 || v->opts->checkpoints != NULL),
		   TFA_EUSAGE, "at most %d checkpoints can be given",
		   TFA_VERIFY_CHECKPOINTS_MAX - 1);
	tfa_vfy_emit(v, "INFO", "Verifying evidence bundle: %s", path);
	*out = v;
	v = NULL;
out:
	if (v)
		tfa_buf_free(&v->own_ckpt);
	free(v);
	return rc;
}

/* Every layer, once the source is open. */
static tfa_err run(tfa_vfy_ctx *v)
{
	tfa_err rc = TFA_OK;

	TFA_GUARD(tfa_vfy_check_manifest(v));
	TFA_GUARD(tfa_vfy_load_checkpoints(v));
	TFA_GUARD(tfa_vfy_check_contents(v));
	TFA_GUARD(tfa_vfy_check_checkpoints(v));
	v->rep->passed_layer = TFA_LAYER_CHECKPOINTS;
	tfa_vfy_emit(v, "SUCCESS", "All verification checks passed");
out:
	return rc;
}

static tfa_err end(tfa_vfy_ctx *v, tfa_verify_report *rep, tfa_err rc)
{
	if (rc != TFA_OK && rc != TFA_EVERIFY && rep && rep->message[0] == '\0')
		snprintf(rep->message, sizeof(rep->message), "%s", tfa_error_last()->message);
	if (v) {
		tfa_bsrc_close(&v->src);
		EVP_PKEY_free(v->key);
		EVP_PKEY_free(v->exporter_key);
		for (size_t k = 0; k < TFA_VERIFY_KEYS_MAX; k++)
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
static tfa_err use_archive(tfa_vfy_ctx *v, tfa_err loaded)
{
	if (loaded == TFA_EVERIFY)
		return tfa_vfy_fail(v, TFA_LAYER_MANIFEST, tfa_archive_rejected_entry(), 0, "%s",
				    tfa_error_last()->message);
	if (loaded == TFA_OK)
		v->src.ops = &tfa_bsrc_archive_ops;
	return loaded;
}

tfa_err tfa_verify_archive_mem(tfa_verify_report *rep, const void *data, size_t len,
			       const tfa_verify_opts *opts, const tfa_archive_limits *lim)
{
	tfa_err rc = TFA_OK;
	tfa_vfy_ctx *v = NULL;

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
	tfa_vfy_ctx *v = NULL;

	TFA_GUARD(begin(&v, rep, path, opts));
	rc = tfa_bsrc_open(&v->src, path);
#if TFATTEST_WITH_ARCHIVE
	/* An archive that breaks the entry rules fails layer 1. */
	if (rc == TFA_EVERIFY && v->src.ops == NULL)
		rc = tfa_vfy_fail(v, TFA_LAYER_MANIFEST, tfa_archive_rejected_entry(), 0, "%s",
				  tfa_error_last()->message);
#endif
	TFA_GUARD(rc);
	TFA_GUARD(run(v));
out:
	return end(v, rep, rc);
}
