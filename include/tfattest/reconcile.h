/*
 * Reconcile: every version of a Terraform state matched against the chain.
 *
 * Terraform keeps its own record of every state write: each write bumps the
 * state's serial, a new state gets a new lineage, and a versioned S3 backend
 * keeps every version with its time. A version is *attested* when it is the
 * after-state (terraform.state: lineage, serial and sha256) of a record read
 * back from the chain with its signature checked, and *unattested* otherwise:
 * a write that bypassed the pipeline. Only lineage, serial and
 * terraform_version are read from a state, and its bytes are hashed; each
 * body is read once.
 *
 * docs/WORKFLOW.md says what a reconcile proves and what it cannot.
 */
#ifndef TFATTEST_RECONCILE_H
#define TFATTEST_RECONCILE_H

#include <stdbool.h>

#include "buffer.h"
#include "common.h"
#include "error.h"
#include "history.h"

/* The recording side only. */
#if !TFATTEST_VERIFIER_ONLY

typedef struct tfa_reconcile tfa_reconcile;

TFA_WUR tfa_err tfa_reconcile_new(tfa_reconcile **out);

/* Accepts NULL. */
void tfa_reconcile_free(tfa_reconcile *r);

/*
 * Reads every record of the chain through h (each checked as
 * tfa_history_next() checks it) and keeps the state facts they carry.
 * TFA_EVERIFY when a record does not check out. Call it once.
 */
TFA_WUR tfa_err tfa_reconcile_read_chain(tfa_reconcile *r, tfa_history *h);

/* Optional, before tfa_reconcile_read_chain(): called as records are read ("read"). */
void tfa_reconcile_set_progress(tfa_reconcile *r, tfa_progress_fn fn, void *ud);

/*
 * Sources of state versions. A body that is not a Terraform state is kept as
 * unreadable (it counts against completeness) and is not an error; the
 * return is an error only when the source itself cannot be read: a missing
 * file or directory (TFA_EIO), an S3 call that fails (TFA_EBACKEND), a
 * command that cannot be run or fails (TFA_EIO).
 */
/* One state file: terraform.tfstate, its .backup, a snapshot. */
TFA_WUR tfa_err tfa_reconcile_add_file(tfa_reconcile *r, const char *path);
/* Every regular file in dir whose name does not start with '.', in name order. */
TFA_WUR tfa_err tfa_reconcile_add_dir(tfa_reconcile *r, const char *dir);
/*
 * Every version of one S3 object, s3://BUCKET/KEY[?region=R&endpoint=URL]:
 * ListObjectVersions page by page (1000 a page; TFATTEST_S3_LIST_MAX_KEYS
 * sets a smaller page), then GetObject of each version by its id. Delete
 * markers are kept as unattested deletions. Needs s3:ListBucketVersions and
 * s3:GetObjectVersion only.
 */
TFA_WUR tfa_err tfa_reconcile_add_s3(tfa_reconcile *r, const char *uri);
/* The standard output of a command, such as `terraform state pull` (argv[0] on PATH). */
TFA_WUR tfa_err tfa_reconcile_add_command(tfa_reconcile *r, int argc, char *const argv[]);

/*
 * The full report, as one JSON object (docs/WORKFLOW.md): the records read,
 * the sources, every distinct state version with its verdict and, for an
 * unattested one, the attested records around it in serial order, the
 * unreadable bodies, the records whose after-state the sources lack, the
 * lineage changes, gaps the records themselves show (a state_before that is
 * not the previous after-state) and stats (state bodies read). Matches first
 * when that has not been done.
 */
TFA_WUR tfa_err tfa_reconcile_report(tfa_buf *out, tfa_reconcile *r);

/*
 * The summary recorded as terraform.reconcile by `reconcile --record`
 * (docs/FORMAT.md §3.3): counts, the sources and the unattested versions as
 * lineage and serial, at most 256 of them and 32 sources (the rest counted).
 */
TFA_WUR tfa_err tfa_reconcile_summary(tfa_buf *out, tfa_reconcile *r);

/*
 * Whether every state version is accounted for: at least one version read,
 * none unattested or unreadable, and no gap between the records. Matches
 * first when that has not been done.
 */
bool tfa_reconcile_complete(tfa_reconcile *r);

/* State bodies read so far: one for each file, S3 version or command output. */
uint64_t tfa_reconcile_bodies_read(const tfa_reconcile *r);

#endif

#endif
