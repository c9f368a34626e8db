/* Tests for the spawn helper (src/sys/spawn.c): exit status, bounded output, missing programs. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "sys/spawn.h"
#include "tfa_test.h"

static void test_exit_status(void)
{
	char *ok[] = {"sh", "-c", "printf 'a\\nb'", NULL};
	char *three[] = {"sh", "-c", "exit 3", NULL};
	char *killed[] = {"sh", "-c", "kill -TERM $$", NULL};
	tfa_spawn_exit how = {-1, -1};
	tfa_buf b;

	tfa_buf_init(&b, 0);
	CHECK(tfa_spawn_read(&how, &b, ok, 0) == 0);
	CHECK(how.code == 0 && how.signo == 0);
	CHECK(b.len == 3 && memcmp(b.data, "a\nb", 3) == 0);
	tfa_buf_clear(&b);
	CHECK(tfa_spawn_read(&how, &b, three, TFA_SPAWN_QUIET) == 0);
	CHECK(how.code == 3 && how.signo == 0);
	CHECK(b.len == 0);
	CHECK(tfa_spawn_read(&how, &b, killed, 0) == 0);
	CHECK(how.code == 128 + SIGTERM && how.signo == SIGTERM);
	CHECK(tfa_spawn_run(&how, three, NULL) == 0);
	CHECK(how.code == 3 && how.signo == 0);
	tfa_buf_free(&b);
}

/* Output past the cap: kept to the cap and drained, or the child is stopped. */
static void test_bounded_output(void)
{
	char *big[] = {"sh", "-c",
		       "i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); done", NULL};
	char *endless[] = {"yes", NULL};
	tfa_spawn_exit how;
	tfa_buf b;

	tfa_buf_init(&b, 100);
	CHECK(tfa_spawn_read(&how, &b, big, TFA_SPAWN_TRUNCATE) == 0);
	CHECK(how.code == 0);
	CHECK(b.len == 100 && memcmp(b.data, "0123456789\n0123456789\n", 22) == 0);
	CHECK(b.data[b.len] == '\0');
	tfa_buf_free(&b);

	tfa_buf_init(&b, 4096);
	CHECK(tfa_spawn_read(&how, &b, endless, 0) == 0);
	CHECK(how.code != 0); /* stopped, by SIGTERM or a broken pipe */
	CHECK(b.len <= 4096);
	tfa_buf_free(&b);
}

/*
 * glibc reports a program that cannot be executed as the spawn's error;
 * under valgrind the child starts and exits 127 instead, as after a
 * shell's failed exec.
 */
static int missing(int err, const tfa_spawn_exit *how)
{
	return err == ENOENT || (err == 0 && how->code == 127);
}

static void test_missing_program(void)
{
	char *none[] = {"tfattest-no-such-program", NULL};
	char *path[] = {"/nonexistent/tfattest", NULL};
	volatile sig_atomic_t running = 42;
	tfa_spawn_exit how = {0, 0};
	tfa_buf b;
	int err;

	tfa_buf_init(&b, 0);
	err = tfa_spawn_read(&how, &b, none, 0);
	CHECK(missing(err, &how));
	err = tfa_spawn_read(&how, &b, path, 0);
	CHECK(missing(err, &how));
	err = tfa_spawn_run(&how, none, &running);
	CHECK(missing(err, &how));
	CHECK(running == (err ? 42 : 0)); /* untouched when nothing started */
	CHECK(b.len == 0);
	tfa_buf_free(&b);
}

static void test_find(void)
{
	char *saved = getenv("PATH") ? strdup(getenv("PATH")) : NULL;

	CHECK(tfa_spawn_find("sh"));
	CHECK(tfa_spawn_find("/bin/sh"));
	CHECK(!tfa_spawn_find("tfattest-no-such-program"));
	CHECK(!tfa_spawn_find("/nonexistent/sh"));
	CHECK(!tfa_spawn_find("./tfattest-no-such-program"));
	setenv("PATH", "/nonexistent", 1);
	CHECK(!tfa_spawn_find("sh"));
	CHECK(tfa_spawn_find("/bin/sh"));
	setenv("PATH", "", 1); /* as posix_spawnp(): /bin:/usr/bin */
	CHECK(tfa_spawn_find("sh"));
	setenv("PATH", "/nonexistent::/bin", 1);
	CHECK(tfa_spawn_find("sh"));
	if (saved) {
		setenv("PATH", saved, 1);
		free(saved);
	}
}

TFA_TEST_MAIN(T(test_exit_status), T(test_bounded_output), T(test_missing_program), T(test_find))
