#include "tfa_test.h"
#include "tfattest/buffer.h"

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

	tfa_buf_init(&b, 0);
	CHECK_RC(tfa_buf_read_file(&b, "/nonexistent/file", 100), TFA_ENOTFOUND);
	CHECK_RC(tfa_buf_read_file(&b, "/", 100), TFA_EFORMAT);
	tfa_buf_free(&b);
}

TFA_TEST_MAIN(T(test_append_and_cap), T(test_read_file_limits))
