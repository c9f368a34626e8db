/*
 * An LD_PRELOAD library for tests: swaps a file or directory in place at the
 * moment a program opens a given path for the Nth time, to show what the
 * program does with a path that changes between two reads.
 *
 *   SWAP_MATCH  the path as the program passes it to open()/openat(), or
 *               its last components (it matches when the argument ends
 *               with "/" SWAP_MATCH too)
 *   SWAP_AT     which matching open triggers the swap (1 = the first)
 *   SWAP_FROM   what is moved into place (a file, a directory, a symlink)
 *   SWAP_TO     the path it replaces; the old one is moved to SWAP_TO.orig
 *
 *   SWAP_LOG    optional: a file that gets one line per matching open
 *
 * The swap happens just before the triggering open runs, once. A program
 * that opens the path only once never sees it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int seen, done, logging;

static void maybe_swap(const char *path)
{
	const char *m = getenv("SWAP_MATCH"), *at = getenv("SWAP_AT");
	const char *from = getenv("SWAP_FROM"), *to = getenv("SWAP_TO");
	size_t n, k;
	char orig[4096];

	if (done || path == NULL || m == NULL || at == NULL || from == NULL || to == NULL)
		return;
	n = strlen(path);
	k = strlen(m);
	if (!(strcmp(path, m) == 0 ||
	      (n > k && path[n - k - 1] == '/' && strcmp(path + n - k, m) == 0)))
		return;
	if (getenv("SWAP_LOG") && !logging) {
		FILE *f;
		logging = 1;
		if ((f = fopen(getenv("SWAP_LOG"), "a")) != NULL) {
			fprintf(f, "%s\n", path);
			fclose(f);
		}
		logging = 0;
	}
	if (++seen != atoi(at))
		return;
	done = 1;
	snprintf(orig, sizeof(orig), "%s.orig", to);
	if (rename(to, orig) != 0 || rename(from, to) != 0)
		perror("swapshim: rename");
}

#define FLAGS_MODE(flags, mode)                                                                    \
	do {                                                                                       \
		if ((flags) & (O_CREAT | O_TMPFILE)) {                                             \
			va_list ap;                                                                \
			va_start(ap, flags);                                                       \
			mode = va_arg(ap, int);                                                    \
			va_end(ap);                                                                \
		}                                                                                  \
	} while (0)

#define WRAP_OPEN(name)                                                                            \
	int name(const char *path, int flags, ...)                                                 \
	{                                                                                          \
		static int (*real)(const char *, int, ...);                                        \
		int mode = 0;                                                                      \
		FLAGS_MODE(flags, mode);                                                           \
		if (real == NULL)                                                                  \
			real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name);           \
		maybe_swap(path);                                                                  \
		return real(path, flags, mode);                                                    \
	}

#define WRAP_OPENAT(name)                                                                          \
	int name(int dirfd, const char *path, int flags, ...)                                      \
	{                                                                                          \
		static int (*real)(int, const char *, int, ...);                                   \
		int mode = 0;                                                                      \
		FLAGS_MODE(flags, mode);                                                           \
		if (real == NULL)                                                                  \
			real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, #name);      \
		maybe_swap(path);                                                                  \
		return real(dirfd, path, flags, mode);                                             \
	}

WRAP_OPEN(open)
WRAP_OPEN(open64)
WRAP_OPENAT(openat)
WRAP_OPENAT(openat64)

/* What _FORTIFY_SOURCE builds call instead. */
int __open_2(const char *path, int flags)
{
	static int (*real)(const char *, int);

	if (real == NULL)
		real = (int (*)(const char *, int))dlsym(RTLD_NEXT, "__open_2");
	maybe_swap(path);
	return real(path, flags);
}

int __open64_2(const char *path, int flags)
{
	static int (*real)(const char *, int);

	if (real == NULL)
		real = (int (*)(const char *, int))dlsym(RTLD_NEXT, "__open64_2");
	maybe_swap(path);
	return real(path, flags);
}

int __openat_2(int dirfd, const char *path, int flags)
{
	static int (*real)(int, const char *, int);

	if (real == NULL)
		real = (int (*)(int, const char *, int))dlsym(RTLD_NEXT, "__openat_2");
	maybe_swap(path);
	return real(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char *path, int flags)
{
	static int (*real)(int, const char *, int);

	if (real == NULL)
		real = (int (*)(int, const char *, int))dlsym(RTLD_NEXT, "__openat64_2");
	maybe_swap(path);
	return real(dirfd, path, flags);
}
