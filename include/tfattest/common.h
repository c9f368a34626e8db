/* tfattest: common definitions shared by every public header. */
#ifndef TFATTEST_COMMON_H
#define TFATTEST_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* What this build of the library contains (generated; the same for every user of it). */
#include <tfattest/features.h>

#if defined(__GNUC__) || defined(__clang__)
#define TFA_WUR		 __attribute__((warn_unused_result))
#define TFA_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TFA_WUR
#define TFA_PRINTF(f, a)
#endif

#define TFA_SHA256_LEN 32
/* "sha256:" + 64 hex digits + NUL */
#define TFA_FPR_STRLEN 72

/*
 * Reports long work as it advances: `done` of `total` records `what` says
 * ("verified", "exported", "read"); total is known from the start. Called
 * from the thread that called the library, often: a caller that shows it
 * throttles. It must not call back into the library.
 */
typedef void (*tfa_progress_fn)(void *ud, const char *what, uint64_t done, uint64_t total);

#endif
