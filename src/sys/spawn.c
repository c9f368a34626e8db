#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sys/spawn.h"

extern char **environ;

#define PATH_CAP 4096

bool tfa_spawn_find(const char *bin)
{
	const char *p = getenv("PATH");
	char path[PATH_CAP];

	if (strchr(bin, '/'))
		return access(bin, X_OK) == 0;
	if (p == NULL || *p == '\0')
		p = "/bin:/usr/bin";
	while (*p) {
		size_t n = strcspn(p, ":");
		if (snprintf(path, sizeof(path), "%.*s%s%s", (int)n, p, n ? "/" : "", bin) <
			(int)sizeof(path) &&
		    access(path, X_OK) == 0)
			return true;
		p += n;
		if (*p == ':')
			p++;
	}
	return false;
}

/* Waits for pid; an unexpected wait failure counts as exit 127, a stop as 1. */
static void wait_exit(tfa_spawn_exit *how, pid_t pid)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = 0x7f00; /* unknown: treated as exit 127 */
			break;
		}
	}
	how->signo = 0;
	if (WIFEXITED(status)) {
		how->code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		how->signo = WTERMSIG(status);
		how->code = 128 + how->signo;
	} else {
		how->code = 1;
	}
}

int tfa_spawn_read(tfa_spawn_exit *how, tfa_buf *out, char *const argv[], unsigned flags)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2], err;
	pid_t pid;
	char buf[65536];
	size_t max = out->max ? out->max : TFA_BUF_DEFAULT_MAX;

	if (pipe(pipefd) != 0)
		return errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_addclose(&fa, pipefd[0]);
	posix_spawn_file_actions_addclose(&fa, pipefd[1]);
	if (flags & TFA_SPAWN_QUIET)
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (err != 0) {
		close(pipefd[0]);
		return err;
	}
	for (;;) {
		ssize_t n = read(pipefd[0], buf, sizeof(buf));
		size_t keep;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		keep = (size_t)n;
		if ((flags & TFA_SPAWN_TRUNCATE) && keep > max - out->len)
			keep = max - out->len;
		if (tfa_buf_append(out, buf, keep) != TFA_OK) {
			kill(pid, SIGTERM);
			break;
		}
	}
	/* The output may be a plan or a state: no copy is left behind. */
	OPENSSL_cleanse(buf, sizeof(buf));
	close(pipefd[0]);
	wait_exit(how, pid);
	return 0;
}

int tfa_spawn_run(tfa_spawn_exit *how, char *const argv[], volatile sig_atomic_t *running)
{
	posix_spawnattr_t at;
	sigset_t block, old;
	pid_t pid;
	int err;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &old);
	posix_spawnattr_setsigdefault(&at, &block);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	err = posix_spawnp(&pid, argv[0], NULL, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	if (err == 0 && running)
		*running = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (err != 0)
		return err;
	wait_exit(how, pid);
	if (running)
		*running = 0;
	return 0;
}
