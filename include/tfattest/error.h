/*
 * Errors.
 *
 * Every fallible function returns a tfa_err. TFA_OK is zero. On failure the
 * function also records a one-line, impersonal message and, when there is one,
 * the backend's own detail (a CKR_* name, an HTTP status and AWS error code,
 * an OpenSSL error string) in a thread-local slot read by tfa_error_last().
 *
 * "The signature is invalid" is TFA_EVERIFY; "the signature could not be
 * checked" is TFA_ECRYPTO (or TFA_EIO, TFA_EBACKEND).
 */
#ifndef TFATTEST_ERROR_H
#define TFATTEST_ERROR_H

#include "common.h"

typedef enum tfa_err {
	TFA_OK = 0,
	TFA_EUSAGE,    /* bad argument, option or configuration */
	TFA_EIO,       /* a file, directory or network operation failed */
	TFA_EFORMAT,   /* input is malformed and was rejected */
	TFA_ECRYPTO,   /* a cryptographic operation could not be performed */
	TFA_EBACKEND,  /* a signer or store backend reported a failure */
	TFA_EVERIFY,   /* verification failed, or policy refused the input */
	TFA_ECONFLICT, /* another writer took the sequence number: retry */
	TFA_ENOTFOUND, /* the requested object does not exist */
	TFA_EINTERNAL  /* a bug or resource exhaustion */
} tfa_err;

typedef struct tfa_error {
	tfa_err code;
	char message[512]; /* one line, no trailing newline */
	char detail[256];  /* backend detail, may be empty */
} tfa_error;

/* The last error recorded on this thread. Never NULL. */
const tfa_error *tfa_error_last(void);

void tfa_error_clear(void);

/* Stable upper-case name of a code, e.g. "EVERIFY". */
const char *tfa_err_name(tfa_err code);

/*
 * Process exit status for a code, as the CLI contract defines it:
 * 0 ok, 1 verification failed or input rejected, 2 usage/configuration/environment.
 */
int tfa_err_exit_status(tfa_err code);

/*
 * Escaping of text for output: the one implementation every printer uses.
 * TFA_ESCAPE_TERM shows C0 controls (newline included), DEL and C1 controls
 * (U+0080..U+009F; U+009B is an 8-bit CSI) as \u00NN and each byte that is
 * not part of valid UTF-8 as \xNN, so the text cannot move a terminal's
 * cursor, recolour it or start a line of its own. TFA_ESCAPE_BLOCK is the
 * same but keeps \n and \t (text already laid out in lines). TFA_ESCAPE_UTF8
 * only replaces invalid UTF-8 (for JSON, whose encoder escapes the rest).
 * Error messages (tfa_error_set) are escaped with TFA_ESCAPE_TERM.
 */
typedef enum tfa_escape_mode {
	TFA_ESCAPE_TERM = 0,
	TFA_ESCAPE_BLOCK,
	TFA_ESCAPE_UTF8
} tfa_escape_mode;

/*
 * Escapes the n bytes at s, handing the output to put piece by piece (a
 * piece is never split); stops when put returns 0.
 */
void tfa_escape_each(const char *s, size_t n, tfa_escape_mode mode,
		     int (*put)(void *ud, const char *piece, size_t len), void *ud);

/*
 * Escapes the string s (NULL is "") into out, cap bytes, NUL-terminated;
 * output that does not fit is cut between pieces and ends in "...".
 * Returns out.
 */
const char *tfa_escape(char *out, size_t cap, const char *s, tfa_escape_mode mode);

#endif
