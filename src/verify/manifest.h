/* The verifier's view of a bundle manifest, read as a stream. */
#ifndef TFA_MANIFEST_H
#define TFA_MANIFEST_H

#include "format/jstream.h"
#include "tfattest/artifact.h"
#include "tfattest/bundle.h"
#include "tfattest/sigalg.h"

typedef struct tfa_manifest_file {
	const char *path; /* NUL-terminated */
	uint64_t size;
	uint8_t sha256[TFA_SHA256_LEN];
} tfa_manifest_file;

typedef struct tfa_manifest {
	char chain_id[TFA_CHAIN_ID_MAX + 1];
	uint64_t from_seq, to_seq;
	uint8_t base_hash[TFA_SHA256_LEN];
	uint8_t head_hash[TFA_SHA256_LEN];
	char key_fpr[TFA_FPR_STRLEN];
	tfa_sig_alg alg;
	size_t nfiles;
	bool lists_pubkey;
	/*
	 * Schema 2 (`kind` "exporter-signed"): signer names the exporter's own
	 * key, carried in exporter_key.pem, not a key of the chain. Schema 1:
	 * signer is the chain's key in force at export.
	 */
	bool exporter_signed;
	bool lists_exporter_key;
	/*
	 * `writer`, when the manifest has one (has_writer): what the program
	 * that wrote the bundle says it is. Signed with the manifest, but only
	 * its claim: nothing in verification depends on it.
	 */
	bool has_writer;
	char writer_name[TFA_MANIFEST_WRITER_MAX + 1];
	char writer_version[TFA_MANIFEST_WRITER_MAX + 1];
	/* Filled only by tfa_manifest_parse: strictly ascending by path. */
	tfa_manifest_file *files;
	char *arena;
} tfa_manifest;

/*
 * Called for each file entry, in order, during a scan; `f` is valid only
 * during the call. Anything but TFA_OK stops the scan with that code.
 */
typedef tfa_err (*tfa_manifest_file_fn)(void *ud, const tfa_manifest_file *f, size_t index);

/*
 * Reads a whole manifest from a stream: canonical JSON (the stream checks
 * that), the right type and schema, every member known and well-formed,
 * every path safe (pathsafe.h), listed once, in byte order, and neither
 * manifest.json nor manifest.sig; a genesis base_hash only with from_seq 1;
 * `kind` exactly in a schema 2 manifest; `writer`, optional, exactly its
 * two strings in their domain. Memory does not depend
 * on the number of files. TFA_EFORMAT or TFA_EVERIFY with the reason otherwise.
 */
TFA_WUR tfa_err tfa_manifest_scan(tfa_manifest *out, tfa_jstream *js, tfa_manifest_file_fn fn,
				  void *ud);

/* The same, with at most max_files file entries instead of TFA_MANIFEST_MAX_FILES (tests). */
TFA_WUR tfa_err tfa_manifest_scan_max(tfa_manifest *out, tfa_jstream *js, tfa_manifest_file_fn fn,
				      void *ud, size_t max_files);

/* Scans manifest bytes in memory and keeps the file list (for tests and slow paths). */
TFA_WUR tfa_err tfa_manifest_parse(tfa_manifest *out, const uint8_t *bytes, size_t len);

/* Index of path in a parsed manifest's file list, or -1. */
long tfa_manifest_find(const tfa_manifest *m, const char *path);

void tfa_manifest_clear(tfa_manifest *m);

#endif
