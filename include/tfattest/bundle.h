/*
 * Bundles: what an auditor receives. A directory holding
 *
 *   manifest.json          canonical JSON: every other file with its SHA-256
 *   manifest.sig           signature over manifest.json by the chain's current key, or
 *                          by the exporter's own key (exporter_key.pem, schema 2)
 *   public_key.pem         the chain's key in force at export
 *   exporter_key.pem       only in an exporter-signed bundle: the key that signed it
 *   keys/                  when the chain has rotated: every rotation record up to the
 *                          export (NNNNNNNNNNNN.json and .sig) and every key as <hex>.pem
 *   checkpoint.ckpt        the latest stored checkpoint within the range, if any
 *   VERIFY.md              how to check all of it by hand with openssl and sha256sum
 *   artifacts/NNNNNNNNNNNN.json and .sig   the records, seq zero-padded to 12 digits
 *
 * docs/FORMAT.md is the normative description.
 */
#ifndef TFATTEST_BUNDLE_H
#define TFATTEST_BUNDLE_H

#include <signal.h>
#include <stdbool.h>

#include "common.h"
#include "error.h"

#define TFA_MANIFEST_TYPE   "tfattest.manifest"
#define TFA_MANIFEST_SCHEMA 1
/* A manifest signed by the exporter's own key, not by the chain's (docs/FORMAT.md §5.2). */
#define TFA_MANIFEST_SCHEMA_EXPORTER 2
#define TFA_MANIFEST_KIND_EXPORTER   "exporter-signed"
#define TFA_BUNDLE_EXPORTER_KEY	     "exporter_key.pem"
#define TFA_BUNDLE_MANIFEST	     "manifest.json"
#define TFA_BUNDLE_MANIFEST_SIG	     "manifest.sig"
#define TFA_BUNDLE_PUBKEY	     "public_key.pem"
#define TFA_BUNDLE_README	     "VERIFY.md"
/*
 * A manifest lists at most this many files, and is at most this large
 * (docs/FORMAT.md R-5.4-1): a range of 8,000,000 records, at about 126 bytes
 * an entry.
 */
#define TFA_MANIFEST_MAX_FILES 16000000u
#define TFA_MANIFEST_MAX_BYTES ((size_t)2 << 30)
/*
 * The manifest's optional `writer` (docs/FORMAT.md §5.2, R-5.2-13): the name
 * and version of the program that says it wrote the bundle, each 1 to this
 * many bytes of [A-Za-z0-9._+~-]. tfattest writes TFA_WRITER_NAME and
 * TFATTEST_VERSION (features.h).
 */
#define TFA_MANIFEST_WRITER_MAX 64
#define TFA_WRITER_NAME		"tfattest"

#if !TFATTEST_VERIFIER_ONLY

#include "signer.h"
#include "store.h"

typedef struct tfa_export_opts {
	const char *out_dir; /* must not exist yet; or NULL with archive */
	/*
	 * Instead of out_dir: one archive file holding exactly the bundle's
	 * files, its format chosen by the name (.tar.gz or .tgz: pax tar with
	 * gzip; .zip: zip with deflate). Must not exist yet. Needs a build with
	 * archive support (TFA_EUSAGE otherwise).
	 */
	const char *archive;
	uint64_t from; /* 0: the first record */
	uint64_t to;   /* 0: the head */
	bool has_since;
	int64_t since; /* first record with time >= since */
	bool has_until;
	int64_t until;	 /* last record with time <= until */
	tfa_sig_alg alg; /* for the manifest; TFA_ALG_NONE: the key's default */
	/*
	 * An exporter-signed manifest (docs/FORMAT.md §5.2, schema 2): the
	 * manifest is signed by this key, the exporter's own, which must be
	 * no key of the chain; the chain's key is then never asked to sign,
	 * so an export needs only read access to the store. `signer` may
	 * then be NULL, or the chain's current key, of which only the public
	 * key is used (it must be the key in force at the head).
	 */
	tfa_signer *manifest_signer;
	/*
	 * Optional, with manifest_signer: a public key of the chain (PEM or
	 * DER SPKI), its anchor or its key in force at the head. The anchor
	 * is pinned by it (it must be the store's anchor); the key in force
	 * is what public_key.pem holds. When the chain never rotated, the
	 * store holds no key but fingerprints, so this or `signer` is needed.
	 * Borrowed.
	 */
	const uint8_t *chain_key;
	size_t chain_key_len;
	/* Optional: "sha256:<hex>" the chain's anchor must have (else TFA_EVERIFY). */
	const char *expect_fpr;
	/* Optional: called as records are written ("exported"), then as the written bundle
	 * is checked ("verified"). */
	tfa_progress_fn progress;
	void *progress_ud;
	/*
	 * Optional: a flag a signal handler may set. Once it is non-zero the
	 * export ends at its next record (written, or checked once written) or
	 * at the next file of an archive, with TFA_EUSAGE, "interrupted", and
	 * removes what it staged; nothing appears at the output path. Read
	 * only, and only between steps: it is never waited on.
	 */
	const volatile sig_atomic_t *stop;
} tfa_export_opts;

typedef struct tfa_export_result {
	uint64_t from, to;
	size_t files; /* the files manifest.json lists (the bundle adds it and manifest.sig) */
} tfa_export_result;

/*
 * Writes a bundle of the chosen range. The manifest is signed by `signer`,
 * which must be the chain's current key, or by opts->manifest_signer; the bundle carries the
 * chain's rotation records so that it verifies from the anchor key. The bundle is assembled in a
 * temporary directory beside out_dir and renamed into place only when
 * complete, so a crash never leaves a partial bundle under that name. An
 * archive is written from that directory, once it verifies, to a temporary
 * file beside it, fsynced and renamed into place without replacing anything;
 * the directory is then removed. Entries come in a fixed order
 * (manifest.json, manifest.sig, then the rest in byte order), mode 0444,
 * owner root, mtime the manifest's `created`, so exporting the same range in
 * the same second with a deterministic signature gives the same bytes.
 */
TFA_WUR tfa_err tfa_bundle_export(tfa_export_result *res, tfa_store *st, tfa_signer *signer,
				  const tfa_export_opts *opts);

#endif

#endif
