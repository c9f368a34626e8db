/* The verifier's view of a bundle manifest. */
#ifndef TFA_MANIFEST_H
#define TFA_MANIFEST_H

#include "tfattest/artifact.h"
#include "tfattest/bundle.h"
#include "tfattest/signer.h"

typedef struct tfa_manifest_file {
	const char *path; /* NUL-terminated, inside the manifest's string arena */
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
	tfa_manifest_file *files; /* strictly ascending by path (byte order) */
	char *arena;
} tfa_manifest;

/*
 * Parses manifest bytes: canonical JSON, no duplicate keys, the right type
 * and schema, every path safe (see pathsafe.h) and listed once, in order.
 * TFA_EFORMAT or TFA_EVERIFY with the reason otherwise.
 */
TFA_WUR tfa_err tfa_manifest_parse(tfa_manifest *out, const uint8_t *bytes, size_t len);

/* Index of path in the file list, or -1. */
long tfa_manifest_find(const tfa_manifest *m, const char *path);

void tfa_manifest_clear(tfa_manifest *m);

#endif
