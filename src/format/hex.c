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

/* Lowercase hex digit values, -1 for every other byte: one look-up per digit. */
static const int8_t lowerhex[256] = {
    ['0'] = 0 + 1,  ['1'] = 1 + 1,  ['2'] = 2 + 1,  ['3'] = 3 + 1,  ['4'] = 4 + 1,  ['5'] = 5 + 1,
    ['6'] = 6 + 1,  ['7'] = 7 + 1,  ['8'] = 8 + 1,  ['9'] = 9 + 1,  ['a'] = 10 + 1, ['b'] = 11 + 1,
    ['c'] = 12 + 1, ['d'] = 13 + 1, ['e'] = 14 + 1, ['f'] = 15 + 1,
};

tfa_err tfa_hex_decode(uint8_t *out, size_t len, const char *hex, size_t hexlen)
{
	int bad = 0;

	if (hexlen != 2 * len)
		return tfa_error_set(TFA_EFORMAT, "expected %zu hex digits, found %zu", 2 * len,
				     hexlen);
	/* The table holds value + 1, so 0 marks a byte that is not a lowercase digit. */
	for (size_t i = 0; i < len; i++) {
		int hi = lowerhex[(unsigned char)hex[2 * i]] - 1;
		int lo = lowerhex[(unsigned char)hex[2 * i + 1]] - 1;
		bad |= hi | lo;
		out[i] = (uint8_t)((unsigned)hi << 4 | (unsigned)lo);
	}
	if (bad < 0)
		return tfa_error_set(TFA_EFORMAT, "invalid lowercase hex digit");
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
