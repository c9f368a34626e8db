#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tfa_test.h"
#include "tfattest/buffer.h"
#include "tfattest/sys/guard.h"

static void test_append_and_cap(void)
{
	tfa_buf b;

	tfa_buf_init(&b, 8);
	CHECK_OK(tfa_buf_puts(&b, "abcd"));
	CHECK_OK(tfa_buf_printf(&b, "%d", 123));
	CHECK(b.len == 7 && memcmp(b.data, "abcd123", 8) == 0);
	CHECK_OK(tfa_buf_putc(&b, 'x'));
	CHECK_RC(tfa_buf_putc(&b, 'y'), TFA_EFORMAT);
	CHECK(b.len == 8);
	tfa_buf_wipe_free(&b);
	CHECK(b.data == NULL);
}

static void test_read_file_limits(void)
{
	tfa_buf b;

	char *dir = tfa_test_tmpdir(), path[4200];
	FILE *f;

	tfa_buf_init(&b, 0);
	CHECK_RC(tfa_buf_read_file(&b, "/nonexistent/file", 100), TFA_ENOTFOUND);
	CHECK_RC(tfa_buf_read_file(&b, "/", 100), TFA_EFORMAT);
	tfa_buf_free(&b);

	/* A file of exactly the limit fits in a buffer capped at the limit; one byte more does not.
	 */
	snprintf(path, sizeof(path), "%s/f", dir);
	f = fopen(path, "wb");
	fwrite("0123456789", 1, 10, f);
	fclose(f);
	tfa_buf_init(&b, 10);
	CHECK_OK(tfa_buf_read_file(&b, path, 10));
	CHECK(b.len == 10 && memcmp(b.data, "0123456789", 10) == 0 && b.data[10] == 0);
	tfa_buf_free(&b);
	tfa_buf_init(&b, 4096);
	CHECK_OK(tfa_buf_read_file(&b, path, 4096));
	CHECK(b.len == 10);
	tfa_buf_free(&b);
	tfa_buf_init(&b, 0);
	CHECK_RC(tfa_buf_read_file(&b, path, 9), TFA_EFORMAT);
	tfa_buf_free(&b);
	tfa_test_rmtree(dir);
	free(dir);
}

/* A pipe whose writer (a child) sends n bytes of a pattern and closes it. */
static int pattern_pipe(size_t n, pid_t *pid)
{
	int p[2];

	if (pipe(p) != 0)
		return -1;
	*pid = fork();
	if (*pid == 0) {
		unsigned char chunk[4096];
		size_t sent = 0;

		close(p[0]);
		while (sent < n) {
			size_t k = n - sent < sizeof(chunk) ? n - sent : sizeof(chunk);
			for (size_t i = 0; i < k; i++)
				chunk[i] = (unsigned char)((sent + i) * 7 + 1);
			if (write(p[1], chunk, k) != (ssize_t)k)
				_exit(1);
			sent += k;
		}
		_exit(0);
	}
	close(p[1]);
	return p[0];
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Any descriptor to its end (a pipe, in more reads than one and past 64 KiB), up to max. */
static void test_read_stream(void)
{
	const size_t n = 200000;
	tfa_buf b;
	pid_t pid;
	int fd;
	bool same = true;

	tfa_buf_init(&b, 0);
	CHECK_OK(tfa_buf_puts(&b, "head"));
	fd = pattern_pipe(n, &pid);
	CHECK(fd >= 0);
	/* A pipe is not a regular file: refused where one is required. */
	CHECK_RC(tfa_buf_read_fd(&b, fd, "the pipe", n), TFA_EFORMAT);
	CHECK(strstr(tfa_error_last()->message, "the pipe is not a regular file") != NULL);
	/* Exactly max bytes: taken, after what the buffer held, and NUL-terminated. */
	CHECK_OK(tfa_buf_read_stream(&b, fd, "the pipe", n));
	CHECK(b.len == 4 + n && memcmp(b.data, "head", 4) == 0 && b.data[b.len] == '\0');
	for (size_t i = 0; i < n && b.len == 4 + n; i++)
		same = same && b.data[4 + i] == (uint8_t)(i * 7 + 1);
	CHECK(same);
	close(fd);
	reap(pid);
	/* One byte more than max: refused, naming the input and the limit. */
	tfa_buf_clear(&b);
	fd = pattern_pipe(n, &pid);
	CHECK(fd >= 0);
	CHECK_RC(tfa_buf_read_stream(&b, fd, "the pipe", n - 1), TFA_EFORMAT);
	CHECK(strstr(tfa_error_last()->message,
		     "the pipe is larger than the limit of 199999 bytes") != NULL);
	close(fd);
	reap(pid);
	/* An empty pipe: nothing appended, and the buffer still a string. */
	tfa_buf_clear(&b);
	fd = pattern_pipe(0, &pid);
	CHECK(fd >= 0);
	CHECK_OK(tfa_buf_read_stream(&b, fd, "the pipe", 10));
	CHECK(b.len == 0);
	close(fd);
	reap(pid);
	tfa_buf_free(&b);
}

/* Wrapping the previous error's message in a new one must not garble it. */
static void test_error_wraps_previous_message(void)
{
	char want[600];

	tfa_error_set(TFA_EFORMAT, "inner problem at byte %d", 102);
	tfa_error_set(TFA_EVERIFY, "outer: %s", tfa_error_last()->message);
	CHECK_STREQ(tfa_error_last()->message, "outer: inner problem at byte 102");
	CHECK(tfa_error_last()->code == TFA_EVERIFY);
	tfa_error_detail("CKR_%s", "PIN_INCORRECT");
	tfa_error_detail("again: %s", tfa_error_last()->detail);
	CHECK_STREQ(tfa_error_last()->detail, "again: CKR_PIN_INCORRECT");
	/* Control characters from input never break the one-line rule: they are escaped. */
	tfa_error_set(TFA_EFORMAT, "a\nb\tc");
	snprintf(want, sizeof(want), "a\\u000ab\\u0009c");
	CHECK_STREQ(tfa_error_last()->message, want);
	tfa_error_clear();
}

TFA_TEST_MAIN(T(test_append_and_cap), T(test_read_file_limits), T(test_read_stream),
	      T(test_error_wraps_previous_message))
