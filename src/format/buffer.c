#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "tfattest/buffer.h"
#include "tfattest/sys/guard.h"

void tfa_buf_init(tfa_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : TFA_BUF_DEFAULT_MAX;
}

static size_t buf_max(const tfa_buf *b)
{
	return b->max ? b->max : TFA_BUF_DEFAULT_MAX;
}

tfa_err tfa_buf_reserve(tfa_buf *b, size_t extra)
{
	size_t need, ncap;
	uint8_t *p;

	if (extra > buf_max(b) || b->len > buf_max(b) - extra)
		return tfa_error_set(TFA_EFORMAT, "data exceeds the size limit of %zu bytes",
				     buf_max(b));
	need = b->len + extra + 1; /* room for the trailing NUL */
	if (need <= b->cap)
		return TFA_OK;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	/* Not realloc(): a moved block would leave the old bytes (maybe a secret) in freed memory.
	 */
	p = malloc(ncap);
	if (p == NULL)
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	if (b->data) {
		memcpy(p, b->data, b->len + 1 <= b->cap ? b->len + 1 : b->len);
		OPENSSL_cleanse(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = ncap;
	return TFA_OK;
}

tfa_err tfa_buf_append(tfa_buf *b, const void *data, size_t len)
{
	tfa_err rc;

	if ((rc = tfa_buf_reserve(b, len)) != TFA_OK)
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return TFA_OK;
}

tfa_err tfa_buf_puts(tfa_buf *b, const char *s)
{
	return tfa_buf_append(b, s, strlen(s));
}

tfa_err tfa_buf_putc(tfa_buf *b, char c)
{
	return tfa_buf_append(b, &c, 1);
}

tfa_err tfa_buf_printf(tfa_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	tfa_err rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return tfa_error_set(TFA_EINTERNAL, "format error");
	if ((rc = tfa_buf_reserve(b, (size_t)n)) != TFA_OK)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return TFA_OK;
}

void tfa_buf_clear(tfa_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void tfa_buf_free(tfa_buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void tfa_buf_wipe_free(tfa_buf *b)
{
	if (b == NULL)
		return;
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	tfa_buf_free(b);
}

uint8_t *tfa_buf_detach(tfa_buf *b, size_t *len)
{
	uint8_t *p = b->data;

	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

tfa_err tfa_buf_read_stream(tfa_buf *b, int fd, const char *name, size_t max)
{
	tfa_err rc = TFA_OK;
	size_t start = b->len, got;

	for (;;) {
		ssize_t n;
		size_t room;

		got = b->len - start;
		if (got == max) {
			char c;
			n = read(fd, &c, 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0)
				break;
			TFA_BAIL(TFA_EFORMAT, "%s is larger than the limit of %zu bytes", name,
				 max);
		}
		room = b->cap > b->len ? b->cap - b->len - 1 : 0;
		if (room == 0) {
			size_t want = max - got < 65536 ? max - got : 65536;
			TFA_GUARD(tfa_buf_reserve(b, want));
			room = b->cap - b->len - 1;
		}
		if (room > max - got)
			room = max - got;
		n = read(fd, b->data + b->len, room);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			TFA_BAIL(TFA_EIO, "cannot read %s: %s", name, strerror(errno));
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	if (b->data != NULL)
		b->data[b->len] = '\0';
out:
	return rc;
}

tfa_err tfa_buf_read_fd(tfa_buf *b, int fd, const char *name, size_t max)
{
	tfa_err rc = TFA_OK;
	struct stat st;

	if (fstat(fd, &st) != 0)
		TFA_BAIL(TFA_EIO, "cannot stat %s: %s", name, strerror(errno));
	if (!S_ISREG(st.st_mode))
		TFA_BAIL(TFA_EFORMAT, "%s is not a regular file", name);
	if ((uint64_t)st.st_size > max)
		TFA_BAIL(TFA_EFORMAT, "%s is larger than the limit of %zu bytes", name, max);
	TFA_GUARD(tfa_buf_reserve(b, (size_t)st.st_size));
	/* Read to EOF, not just st_size bytes: the file may grow under us. */
	TFA_GUARD(tfa_buf_read_stream(b, fd, name, max));
out:
	return rc;
}

tfa_err tfa_buf_read_file(tfa_buf *b, const char *path, size_t max)
{
	tfa_err rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return tfa_error_set(errno == ENOENT ? TFA_ENOTFOUND : TFA_EIO,
				     "cannot open %s: %s", path, strerror(errno));
	rc = tfa_buf_read_fd(b, fd, path, max);
	close(fd);
	return rc;
}
