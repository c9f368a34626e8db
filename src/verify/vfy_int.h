/*
 * The verifier's internals, shared by the files that verify a bundle:
 *   verify.c       the context and the entry points
 *   vfy_io.c       failures and lines, reading the bundle
 *   keypolicy.c    layer 1: the manifest, its signature, the anchor and the key rotations
 *   scan.c         layers 2-4: the parallel scan of the listed files and artifacts
 *   ckpt_verify.c  layer 5: checkpoints and their timestamps
 * Nothing outside these files includes it.
 */
#ifndef TFA_VFY_INT_H
#define TFA_VFY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "format/pathsafe.h"
#include "tfattest/artifact.h"
#include "tfattest/checkpoint.h"
#include "tfattest/common.h"
#include "tfattest/verify.h"
#include "verify/bsrc.h"
#include "verify/crypto.h"
#include "verify/keywalk.h"
#include "verify/manifest.h"

/* keys/: one .json and .sig per rotation, one .pem per key; room for the
 * rotation to a 65th key, which the key walk rejects by its own rule. */
#define TFA_VFY_KFILES_MAX  (3 * (TFA_VERIFY_KEYS_MAX + 1))
#define TFA_VFY_THREADS_MAX 16
#define TFA_VFY_BATCH	    512

/* Why a file failed layer 2. */
enum { TFA_VFY_FR_OK = 0, TFA_VFY_FR_MISSING, TFA_VFY_FR_UNSAFE, TFA_VFY_FR_MISMATCH };

typedef struct tfa_vfy_job {
	uint64_t seq;
	tfa_manifest_file json, sig;
	char jpath[48], spath[48];
	/* results */
	uint8_t files;	  /* TFA_VFY_FR_* of the first failing file */
	uint8_t bad_sig;  /* 1: the failing file is the .sig */
	uint8_t parse_ok; /* valid, canonical artifact */
	uint8_t place_ok; /* chain id and seq as expected */
	uint8_t sig_ok;
	uint8_t is_rot;	 /* a rotation record */
	uint64_t rb_seq; /* rollback_to.seq, or 0 */
	uint8_t rb_hash[TFA_SHA256_LEN];
	uint8_t hash[TFA_SHA256_LEN];
	uint8_t prev[TFA_SHA256_LEN];
	/* With on_artifact: the bytes read and checked, .json then .sig, kept until judged. */
	uint8_t *keep;
	size_t keep_len, keep_siglen;
	uint8_t keep_failed; /* out of memory */
} tfa_vfy_job;

typedef struct tfa_vfy_worker {
	struct tfa_vfy_ctx *v;
	tfa_buf art, sig;
	EVP_PKEY *key[TFA_VERIFY_KEYS_MAX]; /* this thread's copies: threads share no key state */
	tfa_verifier ver[TFA_VERIFY_KEYS_MAX];
	int hint; /* the source's per-thread handle for artifacts/, or -1 */
} tfa_vfy_worker;

/* A trusted key: the anchor, or one a verified rotation brought in (keywalk.h). */
typedef tfa_keywalk_key tfa_vfy_key;
_Static_assert(TFA_VERIFY_KEYS_MAX == TFA_KEYWALK_MAX,
	       "the verifier holds every key a chain may have");

/* A checkpoint the bundle is held to (layer 5). */
typedef struct tfa_vfy_ckpt {
	const char *path; /* as given, or the bundle's checkpoint path */
	bool trusted;
	bool parsed;
	char why[512]; /* why it did not parse */
	tfa_checkpoint_file f;
	bool have_hash;
	uint8_t art_hash[TFA_SHA256_LEN]; /* of the artifact at its seq, when in range */
} tfa_vfy_ckpt;

#define TFA_VFY_BUNDLE_CKPT "checkpoint.ckpt"

/* A rollback record's target inside the range, checked once the range has been read. */
typedef struct tfa_vfy_rollback {
	uint64_t seq;	 /* the rollback record's */
	uint64_t target; /* rollback_to.seq */
	uint8_t hash[TFA_SHA256_LEN];
	bool differs; /* from the artifact at target */
} tfa_vfy_rollback;

/* A manifest entry under keys/, kept from the first scan. */
typedef struct tfa_vfy_kfile {
	char path[TFA_PATH_MAX_LEN + 1];
	tfa_manifest_file f;
} tfa_vfy_kfile;

typedef struct tfa_vfy_ctx {
	const char *path;
	tfa_bsrc src;
	const tfa_verify_opts *opts;
	tfa_verify_opts none; /* the options when none are given */
	tfa_verify_report *rep;
	tfa_manifest man;
	uint8_t man_digest[TFA_SHA256_LEN];
	EVP_PKEY *key; /* public_key.pem: the chain's key in force at export */
	char key_fpr[TFA_FPR_STRLEN];
	EVP_PKEY *mkey;			  /* the manifest's key: key, or exporter_key */
	EVP_PKEY *exporter_key;		  /* exporter_key.pem of an exporter-signed manifest */
	tfa_manifest_file exporter_entry; /* its manifest entry (path not kept) */
	tfa_vfy_key keys[TFA_VERIFY_KEYS_MAX];
	size_t nkeys;
	tfa_vfy_kfile kfiles[TFA_VFY_KFILES_MAX];
	size_t nkfiles;
	bool lists_ckpt;
	tfa_vfy_ckpt ckpts[TFA_VERIFY_CHECKPOINTS_MAX];
	size_t nckpts;

	/* pass 2 */
	EVP_MD_CTX *md;
	unsigned nthreads;
	tfa_vfy_worker ws[TFA_VFY_THREADS_MAX];
	/* Two job arrays: the workers check one while the scan fills the other. */
	tfa_vfy_job jobs[2][TFA_VFY_BATCH];
	tfa_verify_record *recs[2]; /* with on_record: each job's fields as parsed, by index */
	size_t njobs[2];
	int fill; /* the array the scan fills */
	int busy; /* the array the workers check, or -1 */
	pthread_t tids[TFA_VFY_THREADS_MAX];
	unsigned started;
	atomic_size_t next_job;
	atomic_uint_fast64_t spooled; /* artifacts marked event.spool */
	bool have_pending;
	tfa_manifest_file pending;
	char pending_path[48];
	uint64_t expect_seq; /* the next seq the manifest should list */
	uint64_t checked;    /* artifacts consumed */
	uint8_t last_hash[TFA_SHA256_LEN];
	tfa_buf other;	       /* buffer for non-artifact files */
	tfa_vfy_rollback *rbs; /* one per rollback record whose target is in the range */
	size_t nrbs, caprbs;
	uint64_t fill_bytes; /* listed sizes of the artifacts in the array being filled */
	tfa_err cb_rc;	     /* what on_artifact returned, when not TFA_OK */
	/* checkpoint.ckpt as layer 2 read and hashed it: layer 5 parses these bytes. */
	tfa_buf own_ckpt;
	bool own_ckpt_read;

	/* first failures */
	bool l2_failed;
	tfa_layer fail_layer;
	char l2_msg[512], l2_path[256];
	uint64_t l2_seq;
	bool l3_failed;
	char l3_msg[512], l3_path[256];
	uint64_t l3_seq; /* 0: message complete; else explain from the artifact */
	bool l3_explain;
	bool l4_failed;
	uint64_t l4_seq;
} tfa_vfy_ctx;

void tfa_vfy_emit(const tfa_vfy_ctx *v, const char *tag, const char *fmt, ...) TFA_PRINTF(3, 4);
/* Records the failure in the report, prints it, and returns TFA_EVERIFY. */
TFA_WUR tfa_err tfa_vfy_fail(tfa_vfy_ctx *v, tfa_layer layer, const char *file, uint64_t seq,
			     const char *fmt, ...) TFA_PRINTF(5, 6);
/* Reads a whole small file from the bundle. */
TFA_WUR tfa_err tfa_vfy_read_small(tfa_buf *out, const tfa_bsrc *src, const char *path, size_t max);
/* Streams manifest.json through a scan, hashing it on the way. */
TFA_WUR tfa_err tfa_vfy_scan_manifest(tfa_vfy_ctx *v, tfa_manifest *m, tfa_manifest_file_fn fn,
				      void *ud, uint8_t digest[TFA_SHA256_LEN]);
/*
 * Reads a listed file fully (bounded) and checks its size and hash; returns
 * a TFA_VFY_FR_* code. hint is the source's per-thread handle for artifacts/, or -1.
 */
int tfa_vfy_read_listed(tfa_buf *buf, const tfa_bsrc *src, int hint, const tfa_manifest_file *mf,
			size_t max, uint8_t hash[TFA_SHA256_LEN]);

/* The key in force at seq: the last one whose run starts at or before it. */
size_t tfa_vfy_key_index(const tfa_vfy_ctx *v, uint64_t seq);
/* The key a rotation record at seq brought in, or NULL. */
const tfa_vfy_key *tfa_vfy_rotation_at(const tfa_vfy_ctx *v, uint64_t seq);

/* Layer 1 (keypolicy.c). */
TFA_WUR tfa_err tfa_vfy_check_manifest(tfa_vfy_ctx *v);
/* Layers 2-4 (scan.c). */
TFA_WUR tfa_err tfa_vfy_check_contents(tfa_vfy_ctx *v);
/*
 * Reads and parses the checkpoints before layer 2, so the scan can keep the
 * hashes of the artifacts at their seqs. Problems are reported in layer 5.
 */
TFA_WUR tfa_err tfa_vfy_load_checkpoints(tfa_vfy_ctx *v);
/* Layer 5 (ckpt_verify.c). */
TFA_WUR tfa_err tfa_vfy_check_checkpoints(tfa_vfy_ctx *v);

#endif
