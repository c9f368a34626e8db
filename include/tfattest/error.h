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

#endif
