/*
 * Bounded byte buffers and read cursors.
 *
 * A tfa_buf grows on demand up to its `max`; an append past `max` fails with
 * TFA_EFORMAT ("too large") instead of allocating without bound. The data is
 * always followed by a NUL byte that is not counted in `len`, so text can be
 * passed to C string functions safely.
 */
#ifndef TFATTEST_BUFFER_H
#define TFATTEST_BUFFER_H

#include "common.h"
#include "error.h"

typedef struct tfa_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max; /* 0 means TFA_BUF_DEFAULT_MAX */
} tfa_buf;

#define TFA_BUF_DEFAULT_MAX ((size_t)1 << 30)
#define TFA_BUF_INIT                                                                               \
	{                                                                                          \
		NULL, 0, 0, 0                                                                      \
	}

/* Sets up an empty buffer with a size cap (0 = default). Never fails. */
void tfa_buf_init(tfa_buf *b, size_t max);

TFA_WUR tfa_err tfa_buf_reserve(tfa_buf *b, size_t extra);
TFA_WUR tfa_err tfa_buf_append(tfa_buf *b, const void *data, size_t len);
TFA_WUR tfa_err tfa_buf_puts(tfa_buf *b, const char *s);
TFA_WUR tfa_err tfa_buf_putc(tfa_buf *b, char c);
TFA_WUR tfa_err tfa_buf_printf(tfa_buf *b, const char *fmt, ...) TFA_PRINTF(2, 3);

/* Empties the buffer, keeping its allocation. */
void tfa_buf_clear(tfa_buf *b);

/* Releases the memory. */
void tfa_buf_free(tfa_buf *b);

/* Wipes the whole allocation with OPENSSL_cleanse, then releases it. */
void tfa_buf_wipe_free(tfa_buf *b);

/* Hands ownership of the data to the caller (free() it); the buffer is reset. */
uint8_t *tfa_buf_detach(tfa_buf *b, size_t *len);

/*
 * Appends a whole regular file, refusing anything larger than max bytes
 * (TFA_EFORMAT), or that is not a regular file. TFA_ENOTFOUND when absent.
 */
TFA_WUR tfa_err tfa_buf_read_file(tfa_buf *b, const char *path, size_t max);

/* The same for an open descriptor; `name` is for messages. */
TFA_WUR tfa_err tfa_buf_read_fd(tfa_buf *b, int fd, const char *name, size_t max);

/*
 * Appends what a descriptor of any kind (a pipe too) gives until its end,
 * refusing more than max bytes (TFA_EFORMAT); `name` is for messages.
 */
TFA_WUR tfa_err tfa_buf_read_stream(tfa_buf *b, int fd, const char *name, size_t max);

#endif
