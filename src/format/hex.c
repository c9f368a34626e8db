#include <string.h>

#include "format/hex.h"
#include "tfattest/sys/guard.h"

static const char hexdigits[] = "0123456789abcdef";

void tfa_hex_encode(char *out, const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hexdigits[in[i] >> 4];
		out[2 * i + 1] = hexdigits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

int tfa_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool tfa_is_lowerhex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

tfa_err tfa_hex_decode(uint8_t *out, size_t len, const char *hex, size_t hexlen)
{
	if (hexlen != 2 * len)
		return tfa_error_set(TFA_EFORMAT, "expected %zu hex digits, found %zu", 2 * len,
				     hexlen);
	if (!tfa_is_lowerhex(hex, hexlen))
		return tfa_error_set(TFA_EFORMAT, "invalid lowercase hex digit");
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(tfa_hexval(hex[2 * i]) << 4 | tfa_hexval(hex[2 * i + 1]));
	return TFA_OK;
}

void tfa_hash_str(char out[TFA_FPR_STRLEN], const uint8_t digest[TFA_SHA256_LEN])
{
	memcpy(out, "sha256:", 7);
	tfa_hex_encode(out + 7, digest, TFA_SHA256_LEN);
}

tfa_err tfa_hash_parse(uint8_t out[TFA_SHA256_LEN], const char *s, size_t len)
{
	if (len != 7 + 2 * TFA_SHA256_LEN || memcmp(s, "sha256:", 7) != 0)
		return tfa_error_set(TFA_EFORMAT, "expected sha256:<64 lowercase hex digits>");
	return tfa_hex_decode(out, TFA_SHA256_LEN, s + 7, len - 7);
}
