/* UTF-8: the one validator and decoder (see utf8.h). */
#include "format/utf8.h"

#include "format/jcs_int.h"

size_t tfa_utf8_seq_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		uint8_t lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;

		return n >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		uint8_t lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;

		return n >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 &&
			       (s[3] & 0xC0) == 0x80
			   ? 4
			   : 0;
	}
	return 0;
}

size_t tfa_utf8_decode(const uint8_t *s, size_t n, unsigned long *cp)
{
	size_t len = tfa_utf8_seq_len(s, n);
	unsigned long c;

	if (len == 0)
		return 0;
	c = len == 1 ? s[0] : (unsigned long)(s[0] & (0x7F >> len));
	for (size_t i = 1; i < len; i++)
		c = (c << 6) | (s[i] & 0x3F);
	*cp = c;
	return len;
}

bool tfa_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t k;

		/* ASCII eight bytes at a time. */
		while (n - i >= 8 && (tfa_load64(s + i) & TFA_SWAR_HIGHS) == 0)
			i += 8;
		if (i >= n)
			break;
		k = tfa_utf8_seq_len(s + i, n - i);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}
