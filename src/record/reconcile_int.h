/*
 * What the reconcile files share: the state versions read, the records'
 * state facts, and the helpers that add a source or a version. Private to
 * src/record.
 */
#ifndef TFA_RECONCILE_INT_H
#define TFA_RECONCILE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/statefacts.h"
#include "tfattest/reconcile.h"

/* A state's identity: an interned lineage, its serial and its hash. */
typedef struct tfa_rc_state {
	uint32_t lin;
	int64_t serial;
	bool has_sha;
	uint8_t sha[TFA_SHA256_LEN];
} tfa_rc_state;

typedef struct tfa_rc_rec {
	uint64_t seq;
	int64_t time;
	char event[16];
	bool has_after, has_before;
	tfa_rc_state after, before;
	bool found;   /* a source holds its after-state */
	bool missing; /* it does not, though the sources cover its lineage and serial */
} tfa_rc_rec;

/* Kinds of version, in report order. */
enum { TFA_RC_STATE = 0, TFA_RC_UNREADABLE = 1, TFA_RC_DELETED = 2 };
/* Where a version's time comes from. */
enum { TFA_RC_TIME_NONE = 0, TFA_RC_TIME_S3, TFA_RC_TIME_MTIME, TFA_RC_TIME_SEEN };

typedef struct tfa_rc_ver {
	int kind;
	size_t src;
	size_t order; /* the order read, from 1 */
	char *name;   /* file path, S3 version id, command line */
	char *why;    /* unreadable: the reason */
	tfa_rc_state st;
	char tfver[TFA_STATE_TFVER_MAX + 1];
	int time_kind;
	int64_t time;
	uint64_t size;
	/* Matching. */
	bool dup;	   /* the same state as an earlier version (listed once) */
	size_t dups;	   /* the versions that are the same as this one */
	bool attested;	   /* the after-state of record seq */
	bool sha_unknown;  /* that record names no sha256: matched on lineage and serial */
	bool intermediate; /* written during record seq: between its state_before and state */
	uint64_t seq, seq_prev, seq_next, seq_mismatch, seq_before_of;
} tfa_rc_ver;

typedef struct tfa_rc_src {
	char kind[8]; /* file, dir, s3, command */
	char *name;
	uint64_t versions;
} tfa_rc_src;

/* Two records of a lineage between which its state changed unrecorded (state_before). */
typedef struct tfa_rc_gap {
	uint64_t seq_prev, seq_next;
	uint32_t lin;
	int64_t serial_prev, serial_next;
} tfa_rc_gap;

typedef struct tfa_rc_linchg {
	uint64_t seq;
	uint32_t from, to;
} tfa_rc_linchg;

struct tfa_reconcile {
	char *chain_id;
	uint64_t head;
	char **lin;
	size_t nlin, caplin, last_lin;
	tfa_rc_rec *recs;
	size_t nrec, caprec, nrec_state;
	tfa_rc_ver *vers;
	size_t nver, capver;
	tfa_rc_src *srcs;
	size_t nsrc, capsrc;
	tfa_rc_gap *gaps;
	size_t ngap, capgap;
	tfa_rc_linchg *linchg;
	size_t nlinchg, caplinchg;
	uint64_t bodies_read;
	bool analysed;
	tfa_progress_fn progress;
	void *progress_ud;
	size_t n_att, n_unatt, n_bad, n_del, n_distinct, n_missing, n_uncovered;
};

/* A copy of s (len bytes) with bytes that are not valid UTF-8, and controls, as '?'. */
char *tfa_rc_clean(const char *s, size_t len);

/* A new source; *idx is its index. */
TFA_WUR tfa_err tfa_rc_add_source(tfa_reconcile *r, const char *kind, const char *name,
				  size_t *idx);

/*
 * A version read from source src: its facts when parsed is TFA_OK, else an
 * unreadable body (the reason is the last error) named by its hash, which f
 * holds whenever the body was read.
 */
TFA_WUR tfa_err tfa_rc_add_version(tfa_reconcile *r, size_t src, const char *name, tfa_err parsed,
				   const tfa_state_facts *f, int time_kind, int64_t time);

/* An S3 delete marker: the object was deleted at `time`. */
TFA_WUR tfa_err tfa_rc_add_deleted(tfa_reconcile *r, size_t src, const char *name, int64_t time);

#endif
