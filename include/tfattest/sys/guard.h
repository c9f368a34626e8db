/*
 * Guard macros and error setters, for the library and its backends.
 *
 * Functions that use the macros declare `tfa_err rc = TFA_OK;` and end with
 * one `out:` label that frees everything and returns rc.
 */
#ifndef TFATTEST_SYS_GUARD_H
#define TFATTEST_SYS_GUARD_H

#include "../error.h"

/* Records an error on this thread and returns `code`. */
tfa_err tfa_error_set(tfa_err code, const char *fmt, ...) TFA_PRINTF(2, 3);

/* Sets the backend detail of the current error. */
void tfa_error_detail(const char *fmt, ...) TFA_PRINTF(1, 2);

/* Like tfa_error_set, with the OpenSSL error queue (drained) as detail. */
tfa_err tfa_error_openssl(tfa_err code, const char *fmt, ...) TFA_PRINTF(2, 3);

/* Evaluates a tfa_err expression; on failure jumps to out with rc set. */
#define TFA_GUARD(expr)                                                                            \
	do {                                                                                       \
		if ((rc = (expr)) != TFA_OK)                                                       \
			goto out;                                                                  \
	} while (0)

/* Records an error and jumps to out. */
#define TFA_BAIL(code, ...)                                                                        \
	do {                                                                                       \
		rc = tfa_error_set((code), __VA_ARGS__);                                           \
		goto out;                                                                          \
	} while (0)

/* Bails with the error unless cond holds. */
#define TFA_ENSURE(cond, code, ...)                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			TFA_BAIL((code), __VA_ARGS__);                                             \
	} while (0)

/* Bails with TFA_EUSAGE when a required argument is NULL. */
#define TFA_ENSURE_ARG(arg) TFA_ENSURE((arg) != NULL, TFA_EUSAGE, "missing argument: %s", #arg)

#endif
