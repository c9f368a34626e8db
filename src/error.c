#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

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

/* Messages are one line: control characters from input are replaced. */
static void flatten(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
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
	flatten(last_error.message);
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
	flatten(last_error.detail);
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
	flatten(last_error.message);
	/* The earliest error in the queue is usually the root cause. */
	while ((e = ERR_get_error()) != 0)
		if (first == 0)
			first = e;
	last_error.detail[0] = '\0';
	if (first != 0)
		ERR_error_string_n(first, last_error.detail, sizeof(last_error.detail));
	return code;
}
