/*
 * Running programs (never through a shell): the one place the recording side
 * spawns a process, finds a command on PATH and reads a child's output.
 */
#ifndef TFA_SPAWN_H
#define TFA_SPAWN_H

#include <signal.h>
#include <stdbool.h>

#include "tfattest/buffer.h"
#include "tfattest/common.h"

/* How a child ended. */
typedef struct tfa_spawn_exit {
	int code;  /* its exit status; 128 + the signal when a signal ended it */
	int signo; /* the signal that ended it, else 0 */
} tfa_spawn_exit;

/* Flags of tfa_spawn_read(). */
enum {
	/* The child's stderr goes to /dev/null (else it is ours). */
	TFA_SPAWN_QUIET = 1u << 0,
	/*
	 * Output past the buffer's max is read and dropped, so that the child
	 * finishes; without it the child is sent SIGTERM once the buffer is full.
	 */
	TFA_SPAWN_TRUNCATE = 1u << 1,
};

/*
 * Whether bin names an executable as posix_spawnp() finds it: bin itself when
 * it holds a '/', else the first match on $PATH (/bin:/usr/bin when unset or
 * empty).
 */
bool tfa_spawn_find(const char *bin);

/*
 * Runs argv[0] (found on PATH) with argv, stdin from /dev/null, and appends
 * its stdout to `out`, at most out's max bytes (see the flags). Returns 0 and
 * fills *how when it ran, or the errno value of why it could not be started.
 */
TFA_WUR int tfa_spawn_read(tfa_spawn_exit *how, tfa_buf *out, char *const argv[], unsigned flags);

/*
 * Runs argv[0] (found on PATH) with our stdin, stdout and stderr and waits for
 * it. SIGINT and SIGTERM are blocked while it starts and at their default in
 * the child; `running` (may be NULL) holds its pid from before they are
 * unblocked until it has ended, so that a handler can forward them to it.
 * Returns 0 and fills *how, or the errno value of why it could not be started.
 */
TFA_WUR int tfa_spawn_run(tfa_spawn_exit *how, char *const argv[], volatile sig_atomic_t *running);

#endif
