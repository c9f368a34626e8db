/*
 * Offline verification of a bundle. Layered and fail-fast, in this order:
 *   1. the manifest's signature (and the key's fingerprint, when pinned)
 *   2. every file's SHA-256 against the manifest; no file missing, none extra
 *   3. the hash chain: canonical artifacts, contiguous seqs, prev_hash links,
 *      one chain id, the manifest's head hash
 *   4. every artifact's signature, by the key the artifact names
 * The first failure is reported with the file and seq it concerns.
 *
 * Never follows a path outside the bundle: manifest paths are relative, hold
 * no "." or ".." component, and are opened without following symlinks.
 */
#ifndef TFATTEST_VERIFY_H
#define TFATTEST_VERIFY_H

#include <stdbool.h>

#include "common.h"
#include "error.h"

typedef enum tfa_layer {
	TFA_LAYER_NONE = 0,
	TFA_LAYER_MANIFEST = 1,
	TFA_LAYER_FILES = 2,
	TFA_LAYER_CHAIN = 3,
	TFA_LAYER_SIGNATURES = 4
} tfa_layer;

typedef struct tfa_verify_opts {
	/* "sha256:<hex>" the signing key must have; NULL trusts the bundle's key (with a warning). */
	const char *expect_fpr;
	/* Fail unless the bundle starts at seq 1 (completeness from genesis). */
	bool require_genesis;
	/* Worker threads for layers 2-4; 0 picks the number of online CPUs. */
	unsigned threads;
	/* Called for each progress line: tag is "INFO", "SUCCESS", "WARN" or "ERROR". May be NULL. */
	void (*line)(void *ud, const char *tag, const char *text);
	void *ud;
} tfa_verify_opts;

typedef struct tfa_verify_report {
	tfa_layer failed_layer;  /* TFA_LAYER_NONE when everything verified */
	char failed_file[256];   /* bundle-relative path, or "" */
	uint64_t failed_seq;     /* 0 when the failure concerns no artifact */
	char message[512];       /* the failure, one line */
	char chain_id[65];
	uint64_t from_seq, to_seq;
	uint64_t artifacts;
	uint64_t files;
	char trusted_fpr[TFA_FPR_STRLEN];
	bool key_pinned; /* false: the key was taken from the bundle itself */
} tfa_verify_report;

/*
 * Verifies the bundle at `path`: a directory, or a regular file read as a
 * bundle archive (.tar.gz, .zip; docs/FORMAT.md §5.3) in memory without
 * extracting it. An archive that breaks the entry rules fails layer 1. In a
 * build without archive support a file is TFA_EUSAGE. Returns TFA_OK when every layer
 * passes, TFA_EVERIFY when the bundle is invalid (details in *rep), or
 * another code when verification could not be carried out (I/O errors,
 * bad options).
 */
TFA_WUR tfa_err tfa_verify_bundle(tfa_verify_report *rep, const char *path,
				  const tfa_verify_opts *opts);

#endif
