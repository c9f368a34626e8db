/*
 * The spool: where a deployment's capture goes when it could not be recorded
 * (store unreachable, key unavailable), so that the fact of the deployment is
 * never lost. `tfattest record --flush-spool` appends spooled captures later.
 *
 * A spool is a directory, mode 0700, of files mode 0600, each one capture
 * (tfa_capture_serialize()) written atomically (temp file, fsync, rename,
 * fsync of the directory) and named
 *     <deployment time, ns since the epoch, 20 digits>-<chain id>-<spool id>.json
 * so that names sort in deployment order.
 */
#ifndef TFATTEST_SPOOL_H
#define TFATTEST_SPOOL_H

#include "capture.h"
#include "common.h"
#include "error.h"
#include "signer.h"
#include "store.h"

/*
 * The spool directory: $TFATTEST_SPOOL, else $XDG_STATE_HOME/tfattest/spool,
 * else $HOME/.local/state/tfattest/spool. free() the result.
 */
TFA_WUR tfa_err tfa_spool_dir(char **out);

/*
 * Gives the capture a fresh spool id, marks it spooled (deployed_at, now) and
 * writes it to `dir` (created 0700 if absent). `path_out` (may be NULL) gets
 * the file's path; free() it.
 */
TFA_WUR tfa_err tfa_spool_write(char **path_out, const char *dir, tfa_capture *c,
				const char *chain_id, int64_t deployed_at_ns);

typedef struct tfa_spool_result {
	unsigned appended; /* appended now */
	unsigned already;  /* found already in the chain (an earlier flush was interrupted) */
	unsigned other;	   /* for another chain: left in place */
} tfa_spool_result;

/*
 * Appends the spooled captures for the store's chain, oldest first. Each file
 * is removed only after its record is durable; a record whose spool id is
 * already in the chain is not appended again. Stops at the first failure,
 * leaving that file and the later ones in place. `line` (may be NULL) is told
 * of each record appended.
 */
TFA_WUR tfa_err tfa_spool_flush(tfa_spool_result *out, const char *dir, tfa_store *st,
				tfa_signer *signer, tfa_sig_alg alg,
				void (*line)(void *ud, const char *text), void *ud);

#endif
