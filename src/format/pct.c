#include <stdbool.h>
#include <string.h>

#include "format/hex.h"
#include "format/pct.h"
#include "tfattest/sys/guard.h"

bool tfa_pct_unreserved(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

tfa_err tfa_pct_decode(uint8_t *out, size_t outsz, size_t *outlen, const char *in, size_t len,
		       unsigned flags)
{
	size_t o = 0;

	*outlen = 0;
	if (outsz == 0)
		return tfa_error_set(TFA_EINTERNAL, "percent-encoding: no room for the value");
	out[0] = '\0';
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)in[i];
		size_t at = i;

		if (c == '%') {
			int hi = len - i > 2 ? tfa_hexval((unsigned char)in[i + 1]) : -1;
			int lo = len - i > 2 ? tfa_hexval((unsigned char)in[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				return tfa_error_set(
				    TFA_EFORMAT,
				    "percent-encoding: the '%%' at offset %zu is not "
				    "followed by two hex digits",
				    at);
			c = hi << 4 | lo;
			i += 2;
		} else if (c == '+' && (flags & TFA_PCT_PLUS_SPACE)) {
			c = ' ';
		}
		if (c == 0 && !(flags & TFA_PCT_BINARY))
			return tfa_error_set(TFA_EFORMAT,
					     "percent-encoding: a NUL byte at offset %zu", at);
		if (o + 1 >= outsz)
			return tfa_error_set(TFA_EFORMAT,
					     "percent-encoding: the value is longer than %zu bytes",
					     outsz - 1);
		out[o++] = (uint8_t)c;
	}
	out[o] = '\0';
	*outlen = o;
	return TFA_OK;
}

tfa_err tfa_pct_encode(tfa_buf *out, const void *in, size_t len, unsigned flags, const char *keep)
{
	static const char hexd[] = "0123456789ABCDEF";
	const uint8_t *p = in;
	tfa_err rc = TFA_OK;
	size_t run = 0; /* start of the bytes that stay as they are */

	if (len == 0)
		return TFA_OK;
	for (size_t i = 0; i < len; i++) {
		int c = p[i];
		char e[3] = {'%', hexd[c >> 4], hexd[c & 15]};

		if (((flags & TFA_PCT_UNRESERVED) && tfa_pct_unreserved(c)) ||
		    (keep != NULL && c != 0 && strchr(keep, c) != NULL))
			continue;
		TFA_GUARD(tfa_buf_append(out, p + run, i - run));
		TFA_GUARD(tfa_buf_append(out, e, 3));
		run = i + 1;
	}
	TFA_GUARD(tfa_buf_append(out, p + run, len - run));
out:
	return rc;
}
