#include <string.h>

#include "format/b64.h"
#include "tfattest/sys/guard.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

tfa_err tfa_b64_encode(tfa_buf *out, const uint8_t *in, size_t len)
{
	tfa_err rc = TFA_OK;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t left = len - i;
		char q[4];

		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		q[0] = alphabet[(v >> 18) & 63];
		q[1] = alphabet[(v >> 12) & 63];
		q[2] = left > 1 ? alphabet[(v >> 6) & 63] : '=';
		q[3] = left > 2 ? alphabet[v & 63] : '=';
		TFA_GUARD(tfa_buf_append(out, q, 4));
	}
out:
	return rc;
}

static int val(char c)
{
	const char *p = c ? strchr(alphabet, c) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

tfa_err tfa_b64_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t len)
{
	size_t n = 0;

	*outlen = 0;
	if (len == 0 || len % 4 != 0)
		return tfa_error_set(TFA_EFORMAT, "base64 length is not a positive multiple of 4");
	for (size_t i = 0; i < len; i += 4) {
		int a = val(in[i]), b = val(in[i + 1]), c, d;
		int last = i + 4 == len;
		int pad = (in[i + 2] == '=') + (in[i + 3] == '=');
		uint32_t v;

		if (pad && !last)
			return tfa_error_set(TFA_EFORMAT, "base64 padding before the end");
		if (in[i + 2] == '=' && in[i + 3] != '=')
			return tfa_error_set(TFA_EFORMAT, "base64 padding is malformed");
		c = in[i + 2] == '=' ? 0 : val(in[i + 2]);
		d = in[i + 3] == '=' ? 0 : val(in[i + 3]);
		if (a < 0 || b < 0 || c < 0 || d < 0)
			return tfa_error_set(TFA_EFORMAT, "base64 holds a character outside its alphabet");
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		if ((pad == 2 && (v & 0xffff)) || (pad == 1 && (v & 0xff)))
			return tfa_error_set(TFA_EFORMAT, "base64 is not canonical (unused bits set)");
		if (n + 3 - (size_t)pad > cap)
			return tfa_error_set(TFA_EFORMAT, "base64 value is longer than %zu bytes", cap);
		out[n++] = (uint8_t)(v >> 16);
		if (pad < 2)
			out[n++] = (uint8_t)(v >> 8);
		if (pad < 1)
			out[n++] = (uint8_t)v;
	}
	*outlen = n;
	return TFA_OK;
}
