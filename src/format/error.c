#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "format/utf8.h"
#include "tfattest/error.h"
#include "tfattest/sys/guard.h"

static _Thread_local tfa_error last_error;

const tfa_error *tfa_error_last(void)
{
	return &last_error;
}

void tfa_error_clear(void)
{
	memset(&last_error, 0, sizeof(last_error));
}

const char *tfa_err_name(tfa_err code)
{
	switch (code) {
	case TFA_OK: return "OK";
	case TFA_EUSAGE: return "EUSAGE";
	case TFA_EIO: return "EIO";
	case TFA_EFORMAT: return "EFORMAT";
	case TFA_ECRYPTO: return "ECRYPTO";
	case TFA_EBACKEND: return "EBACKEND";
	case TFA_EVERIFY: return "EVERIFY";
	case TFA_ECONFLICT: return "ECONFLICT";
	case TFA_ENOTFOUND: return "ENOTFOUND";
	case TFA_EINTERNAL: return "EINTERNAL";
	}
	return "EUNKNOWN";
}

int tfa_err_exit_status(tfa_err code)
{
	switch (code) {
	case TFA_OK: return 0;
	case TFA_EFORMAT:
	case TFA_EVERIFY: return 1;
	default: return 2;
	}
}

void tfa_escape_each(const char *s, size_t n, tfa_escape_mode mode,
		     int (*put)(void *ud, const char *piece, size_t len), void *ud)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	if (s == NULL)
		return;
	while (i < n) {
		unsigned long cp = 0;
		size_t len = tfa_utf8_decode(p + i, n - i, &cp);
		char e[8];
		int ok;

		if (len == 0) {
			snprintf(e, sizeof(e), "\\x%02x", p[i]);
			ok = put(ud, e, 4);
			len = 1;
		} else if (mode != TFA_ESCAPE_UTF8 && (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) &&
			   !(mode == TFA_ESCAPE_BLOCK && (cp == '\n' || cp == '\t'))) {
			snprintf(e, sizeof(e), "\\u%04lx", cp);
			ok = put(ud, e, 6);
		} else {
			ok = put(ud, (const char *)p + i, len);
		}
		if (!ok)
			return;
		i += len;
	}
}

typedef struct esc_buf {
	char *out;
	size_t cap, len;
	int cut;
} esc_buf;

static int put_buf(void *ud, const char *p, size_t n)
{
	esc_buf *b = ud;

	/* Room for the piece, "..." and the NUL. */
	if (b->len + n + 4 > b->cap) {
		b->cut = 1;
		return 0;
	}
	memcpy(b->out + b->len, p, n);
	b->len += n;
	return 1;
}

const char *tfa_escape(char *out, size_t cap, const char *s, tfa_escape_mode mode)
{
	esc_buf b = {out, cap, 0, 0};

	if (out == NULL || cap == 0)
		return out;
	if (cap < 4) {
		out[0] = '\0';
		return out;
	}
	if (s)
		tfa_escape_each(s, strlen(s), mode, put_buf, &b);
	if (b.cut) {
		memcpy(out + b.len, "...", 3);
		b.len += 3;
	}
	out[b.len] = '\0';
	return out;
}

/* Messages are one line that any terminal shows as it is: everything from input is escaped. */
static void flatten(char *s, size_t cap)
{
	char tmp[sizeof(last_error.message)];

	tfa_escape(tmp, sizeof(tmp) < cap ? sizeof(tmp) : cap, s, TFA_ESCAPE_TERM);
	memcpy(s, tmp, strlen(tmp) + 1);
}

tfa_err tfa_error_set(tfa_err code, const char *fmt, ...)
{
	va_list ap;
	char msg[sizeof(last_error.message)];

	/* Format first: the arguments often include the previous message. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	last_error.code = code;
	last_error.detail[0] = '\0';
	memcpy(last_error.message, msg, sizeof(msg));
	flatten(last_error.message, sizeof(last_error.message));
	return code;
}

void tfa_error_detail(const char *fmt, ...)
{
	va_list ap;
	char d[sizeof(last_error.detail)];

	va_start(ap, fmt);
	vsnprintf(d, sizeof(d), fmt, ap);
	va_end(ap);
	memcpy(last_error.detail, d, sizeof(d));
	flatten(last_error.detail, sizeof(last_error.detail));
}

tfa_err tfa_error_openssl(tfa_err code, const char *fmt, ...)
{
	va_list ap;
	unsigned long e, first = 0;
	char msg[sizeof(last_error.message)];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	last_error.code = code;
	memcpy(last_error.message, msg, sizeof(msg));
	flatten(last_error.message, sizeof(last_error.message));
	/* The earliest error in the queue is usually the root cause. */
	while ((e = ERR_get_error()) != 0)
		if (first == 0)
			first = e;
	last_error.detail[0] = '\0';
	if (first != 0)
		ERR_error_string_n(first, last_error.detail, sizeof(last_error.detail));
	return code;
}
