/*
 * Progress of long work (export, verify, reconcile) on a terminal: one line
 * on stderr, "verified N/M records", rewritten in place, at most ten times a
 * second, and cleared when the work ends. Only when stderr is a terminal:
 * a log or a pipe gets no progress bytes at all.
 */
#ifndef TFA_CLI_PROGRESS_H
#define TFA_CLI_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tfa_cli_progress {
	bool on;	 /* stderr is a terminal */
	bool shown;	 /* a line is on the screen */
	int64_t last_ms; /* when it was last written */
	size_t width;	 /* its length, to clear it */
} tfa_cli_progress;

/* Ready; on only when stderr is a terminal. */
void tfa_cli_progress_init(tfa_cli_progress *p);

/* A tfa_progress_fn: ud is the tfa_cli_progress. */
void tfa_cli_progress_cb(void *ud, const char *what, uint64_t done, uint64_t total);

/* Clears the line, if one is shown: what is printed next starts a clean line. */
void tfa_cli_progress_end(tfa_cli_progress *p);

#endif
