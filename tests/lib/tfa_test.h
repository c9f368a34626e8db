/* A minimal unit-test harness: one file per module, each test a function. */
#ifndef TFA_TEST_H
#define TFA_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfattest/error.h"

extern int tfa_test_failures;
extern const char *tfa_test_current;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__,       \
				tfa_test_current, #cond);                                          \
			tfa_test_failures++;                                                       \
		}                                                                                  \
	} while (0)

#define CHECK_RC(expr, want)                                                                       \
	do {                                                                                       \
		tfa_err got_ = (expr);                                                             \
		if (got_ != (want)) {                                                              \
			fprintf(stderr, "%s:%d: %s: %s gave %s (%s), wanted %s\n", __FILE__,       \
				__LINE__, tfa_test_current, #expr, tfa_err_name(got_),             \
				tfa_error_last()->message, tfa_err_name(want));                    \
			tfa_test_failures++;                                                       \
		}                                                                                  \
	} while (0)

#define CHECK_OK(expr) CHECK_RC((expr), TFA_OK)

#define CHECK_STREQ(a, b)                                                                          \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                             \
			fprintf(stderr, "%s:%d: %s: \"%s\" != \"%s\"\n", __FILE__, __LINE__,       \
				tfa_test_current, a_ ? a_ : "(null)", b_ ? b_ : "(null)");         \
			tfa_test_failures++;                                                       \
		}                                                                                  \
	} while (0)

typedef struct tfa_test_case {
	const char *name;
	void (*fn)(void);
} tfa_test_case;

/* Runs the cases (those named in argv, or all), prints a summary, returns the exit status. */
int tfa_test_run(const tfa_test_case *cases, int argc, char **argv);

/* The directory holding tests/fixtures, from the TFA_FIXTURES environment variable. */
const char *tfa_test_fixtures(void);

/* Reads a fixture file (relative to the fixtures dir) into a malloc'd NUL-terminated buffer. */
char *tfa_test_read_fixture(const char *rel, size_t *len);

/* A fresh, empty temporary directory (removed by the caller). */
char *tfa_test_tmpdir(void);

#if !TFATTEST_VERIFIER_ONLY
#include "tfattest/signer.h"
/* Writes a fresh EC P-256 key to DIR/NAME and opens it as a file: signer. Exits 2 on failure. */
tfa_signer *tfa_test_new_file_signer(const char *dir, const char *name);
#endif

/* "dir/rel", malloc'd. */
char *tfa_test_path(const char *dir, const char *rel);

/* Replaces dir/rel with len bytes of data; exits on failure. */
void tfa_test_put_file(const char *dir, const char *rel, const void *data, size_t len);

/* Reads dir/rel whole (NUL-terminated, malloc'd); exits on failure. */
char *tfa_test_get_file(const char *dir, const char *rel, size_t *len);

/* The current error message holds `outer` exactly once and `inner` intact; counts a failure
 * otherwise. */
void tfa_test_expect_wrapped(const char *outer, const char *inner, int line);

/* rm -rf */
void tfa_test_rmtree(const char *path);

#define TFA_TEST_MAIN(...)                                                                         \
	int main(int argc, char **argv)                                                            \
	{                                                                                          \
		static const tfa_test_case cases_[] = {__VA_ARGS__, {NULL, NULL}};                 \
		return tfa_test_run(cases_, argc, argv);                                           \
	}
#define T(fn)                                                                                      \
	{                                                                                          \
#fn, fn                                                                            \
	}

#endif
