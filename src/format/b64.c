#include <stdint.h>
#include <string.h>

#include "format/b64.h"
#include "tfattest/sys/guard.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The four characters for the next three bytes of in (fewer when left < 3), padded with '='. */
static void encode_quad(char q[4], const uint8_t *in, size_t left)
{
	uint32_t v = (uint32_t)in[0] << 16;

	if (left > 1)
		v |= (uint32_t)in[1] << 8;
	if (left > 2)
		v |= in[2];
	q[0] = alphabet[(v >> 18) & 63];
	q[1] = alphabet[(v >> 12) & 63];
	q[2] = left > 1 ? alphabet[(v >> 6) & 63] : '=';
	q[3] = left > 2 ? alphabet[v & 63] : '=';
}

tfa_err tfa_b64_encode(tfa_buf *out, const uint8_t *in, size_t len)
{
	tfa_err rc = TFA_OK;

	for (size_t i = 0; i < len; i += 3) {
		char q[4];

		encode_quad(q, in + i, len - i);
		TFA_GUARD(tfa_buf_append(out, q, 4));
	}
out:
	return rc;
}

tfa_err tfa_b64_encode_str(char *out, size_t outsz, const uint8_t *in, size_t len)
{
	if (out == NULL || len / 3 + 1 > (SIZE_MAX - 1) / 4 || outsz < TFA_B64_LEN(len) + 1)
		return tfa_error_set(TFA_EINTERNAL, "base64: the output buffer is too small");
	for (size_t i = 0; i < len; i += 3)
		encode_quad(out + i / 3 * 4, in + i, len - i);
	out[TFA_B64_LEN(len)] = '\0';
	return TFA_OK;
}

static int val_in(const char *set, char c)
{
	const char *p = c ? strchr(set, c) : NULL;
	return p ? (int)(p - set) : -1;
}

static int val(char c)
{
	return val_in(alphabet, c);
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
			return tfa_error_set(TFA_EFORMAT,
					     "base64 holds a character outside its alphabet");
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		if ((pad == 2 && (v & 0xffff)) || (pad == 1 && (v & 0xff)))
			return tfa_error_set(TFA_EFORMAT,
					     "base64 is not canonical (unused bits set)");
		if (n + 3 - (size_t)pad > cap)
			return tfa_error_set(TFA_EFORMAT, "base64 value is longer than %zu bytes",
					     cap);
		out[n++] = (uint8_t)(v >> 16);
		if (pad < 2)
			out[n++] = (uint8_t)(v >> 8);
		if (pad < 1)
			out[n++] = (uint8_t)v;
	}
	*outlen = n;
	return TFA_OK;
}

tfa_err tfa_b64url_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t len)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;

	*outlen = 0;
	if (len % 4 == 1)
		return tfa_error_set(TFA_EFORMAT, "bad base64url length");
	if (len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > cap)
		return tfa_error_set(TFA_EFORMAT, "base64url value is longer than %zu bytes", cap);
	for (size_t i = 0; i < len; i++) {
		int v = val_in(url_alphabet, in[i]);

		if (v < 0)
			return tfa_error_set(TFA_EFORMAT, "not base64url");
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* The bits of the last character past the last byte are zero in the one encoding. */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return tfa_error_set(TFA_EFORMAT, "non-canonical base64url");
	*outlen = n;
	return TFA_OK;
}
