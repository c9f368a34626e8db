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

TFA_TEST_MAIN(T(test_append_and_cap), T(test_read_file_limits),
	      T(test_error_wraps_previous_message))
