/*
 * The recording workflow: `tfattest apply` and `tfattest record --flush-spool`
 * as library calls, so that every front end drives the same pipeline.
 *
 * tfa_workflow_apply() runs one Terraform (or OpenTofu) command that writes
 * state (apply, destroy, import, state rm|mv|push), or a drift check, and
 * records exactly one attestation of what it did, for success or failure:
 *   1. preflight: the command is found, the key opens and is the chain's
 *      current key, the store is readable, a rollback target checks out, a
 *      saved plan can be summarised and is not errored; when any of this
 *      fails, Terraform is not run;
 *   2. the state before is read (`terraform state pull`, or the -state file);
 *      an apply or destroy without a saved plan is planned first (`plan
 *      -out` to a private temporary file, which is then summarised and
 *      applied exactly; when that plan fails, nothing is applied or
 *      recorded);
 *   3. Terraform runs with the caller's stdin, stdout and stderr, and inherits
 *      no PIN (TFATTEST_PKCS11_PIN, a pin-value in TFATTEST_KEY) from it;
 *   4. the plan and the state after the run are captured;
 *   5. the record is appended; when that fails, the capture is spooled
 *      (tfattest/spool.h), and tfa_workflow_flush_spool() appends it later.
 *
 * The outcome says which of these happened. tfa_workflow_report() turns it
 * into the lines `tfattest apply` prints.
 */
#ifndef TFATTEST_WORKFLOW_H
#define TFATTEST_WORKFLOW_H

#include <stdbool.h>

#include "chain.h"
#include "common.h"
#include "error.h"
#include "signer.h"
#include "spool.h"

/* The recording side only: a verifier-only build neither has nor installs this. */
#if !TFATTEST_VERIFIER_ONLY

/* What the workflow is given. Strings are borrowed for the length of the call. */
typedef struct tfa_workflow_opts {
	const char *store;     /* the store URI */
	const char *sequencer; /* the sequencer URI, or NULL for none */
	const char *key;       /* the signer URI */
	tfa_sig_alg alg;       /* TFA_ALG_NONE: the key's default */
	/* apply only: */
	const char *event;    /* apply, destroy, rollback, import; NULL: from the command */
	uint64_t rollback_to; /* with event rollback: the target seq (0: none) */
	int argc;	      /* the Terraform command line: argv[0] is the program */
	char *const *argv;
	bool forward_signals; /* SIGINT and SIGTERM reach Terraform (installs handlers) */
	/*
	 * apply or destroy without a saved plan: run it as Terraform would
	 * without the plan the wrapper otherwise makes first (the record
	 * then has plan_source "none" and no plan facts).
	 */
	bool no_plan_first;
	bool allow_errored_plan; /* record a plan that says "errored": true */
	/* The command is `PROGRAM plan -refresh-only ...`: a drift check (event drift-check). */
	bool drift;
} tfa_workflow_opts;

/* What an apply came to. */
typedef enum tfa_workflow_outcome {
	/* Terraform was not run, nothing was recorded: */
	TFA_WF_NOT_FOUND = 1,	/* the program is not on PATH */
	TFA_WF_WRONG_KEY,	/* the key is not the chain's current key (head_key) */
	TFA_WF_REFUSED,		/* the preflight failed (error): key, store, rollback, plan */
	TFA_WF_PLAN_UNREADABLE, /* `show -json PLAN` failed */
	TFA_WF_SIGNALS_FAILED,	/* the signal handlers could not be installed */
	TFA_WF_START_FAILED,	/* the program could not be started (start_errno) */
	/* Terraform ran: */
	TFA_WF_RECORDED,   /* the record is seq */
	TFA_WF_UNCAPTURED, /* its capture could not be made (error): not attested */
	TFA_WF_SPOOLED,	   /* the append failed (error); the capture is at spool_path */
	TFA_WF_UNSPOOLED,  /* the append failed (error), and so did the spool (spool_error) */
	/* Terraform ran, but only the plan it was to apply (plan-first), and that failed: */
	TFA_WF_PLAN_FAILED /* nothing was applied or recorded; tf_exit is the plan's */
} tfa_workflow_outcome;

typedef struct tfa_workflow_result {
	tfa_workflow_outcome outcome;
	int exit_status;  /* what `tfattest apply` exits with: Terraform's code, else 1 or 2 */
	int tf_exit;	  /* when it ran: Terraform's exit code (128 + signal for a signal) */
	int tf_signal;	  /* the signal that ended Terraform, else 0 */
	int start_errno;  /* TFA_WF_START_FAILED: why */
	uint64_t seq;	  /* TFA_WF_RECORDED: the record's seq */
	char *program;	  /* argv[0] */
	char *plan;	  /* the saved plan on the command line, or NULL */
	char *store;	  /* the store URI */
	char *event;	  /* the event type recorded */
	char *spool_path; /* TFA_WF_SPOOLED: the spool file */
	char key_fpr[TFA_FPR_STRLEN];  /* the signer's key, once opened */
	char head_key[TFA_FPR_STRLEN]; /* TFA_WF_WRONG_KEY: the chain's current key */
	char chain_id[TFA_CHAIN_ID_MAX + 1];
	bool state_dropped; /* the state could not be captured (state_error): left out */
	tfa_error state_error;
	tfa_error error;       /* why, for the outcomes that say so; its code is the failure's */
	tfa_error spool_error; /* TFA_WF_UNSPOOLED: why the spool write failed */
} tfa_workflow_result;

/*
 * Whether argv is a Terraform command the workflow records: `PROGRAM [global
 * options] SUBCOMMAND [args]`, where SUBCOMMAND writes state: apply (event
 * apply; with -refresh-only, refresh; with -destroy, destroy), destroy
 * (destroy), import (import), state rm|mv|push (state-rm, state-mv,
 * state-push; not with -dry-run). With drift, only `plan -refresh-only`
 * (drift-check). *event (may be NULL) is set to the event type, a static
 * string. TFA_EUSAGE otherwise.
 */
TFA_WUR tfa_err tfa_workflow_command_event(const char **event, bool drift, int argc,
					   char *const argv[]);

/*
 * tfa_workflow_command_event() without drift; *destroy (may be NULL) tells
 * whether the command destroys (destroy, or apply -destroy).
 */
TFA_WUR tfa_err tfa_workflow_check_command(bool *destroy, int argc, char *const argv[]);

/*
 * Runs the apply described by opts and fills *out (free it with
 * tfa_workflow_result_free()) with what happened, whatever the outcome: a
 * preflight failure, a failed Terraform run and an unreachable store are
 * outcomes, not errors. Returns TFA_EUSAGE (and no result) for options that
 * do not describe an apply (a command tfa_workflow_check_command() refuses, a
 * rollback target without event rollback), TFA_EINTERNAL when out of
 * memory. A store or key that cannot be opened (or is NULL) is the outcome
 * TFA_WF_REFUSED.
 */
TFA_WUR tfa_err tfa_workflow_apply(tfa_workflow_result **out, const tfa_workflow_opts *opts);

/*
 * The lines `tfattest apply` prints (to stderr) for the result, in order,
 * each without its newline.
 */
void tfa_workflow_report(const tfa_workflow_result *r, void (*line)(void *ud, const char *text),
			 void *ud);

/* Releases a result. Accepts NULL. */
void tfa_workflow_result_free(tfa_workflow_result *r);

/* What a flush of the spool did. */
typedef struct tfa_workflow_flush_result {
	char *spool_dir; /* the spool flushed (tfa_spool_dir()) */
	tfa_spool_result counts;
} tfa_workflow_flush_result;

/*
 * Appends the spooled captures of the store's chain (tfa_spool_flush() on
 * tfa_spool_dir(), with opts' store, sequencer, key and alg). `line` (may be
 * NULL) is told of each record appended. Fails as tfa_spool_flush() and the
 * opening of the key and store do; *out (free it with
 * tfa_workflow_flush_result_free()) is set on success only.
 */
TFA_WUR tfa_err tfa_workflow_flush_spool(tfa_workflow_flush_result **out,
					 const tfa_workflow_opts *opts,
					 void (*line)(void *ud, const char *text), void *ud);

/* The line `tfattest record --flush-spool` prints (to stdout) at the end, without its newline. */
void tfa_workflow_flush_report(const tfa_workflow_flush_result *r,
			       void (*line)(void *ud, const char *text), void *ud);

/* Releases a flush result. Accepts NULL. */
void tfa_workflow_flush_result_free(tfa_workflow_flush_result *r);

#endif

#endif
