#include <string.h>

#include "record/record.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

tfa_err tfa_record_encode(tfa_buf *out, const uint8_t *artifact, size_t artifact_len,
			  const uint8_t *sig, size_t sig_len)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE(artifact_len > 0 && sig_len > 0, TFA_EUSAGE, "record has an invalid size");
	TFA_ENSURE(memchr(artifact, '\n', artifact_len) == NULL, TFA_EUSAGE,
		   "artifact bytes contain a newline");
	TFA_ENSURE(sig_len <= (SIZE_MAX - artifact_len - 2) / 2, TFA_EUSAGE,
		   "record has an invalid size");
	TFA_GUARD(tfa_buf_reserve(out, artifact_len + 2 * sig_len + 2));
	memcpy(out->data + out->len, artifact, artifact_len);
	out->len += artifact_len;
	out->data[out->len++] = '\n';
	tfa_hex_encode((char *)out->data + out->len, sig, sig_len);
	out->len += 2 * sig_len;
	out->data[out->len++] = '\n';
	out->data[out->len] = '\0';
out:
	return rc;
}

tfa_err tfa_record_decode(const uint8_t *raw, size_t len, tfa_buf *artifact, tfa_buf *sig)
{
	tfa_err rc = TFA_OK;
	const uint8_t *nl, *end = raw + len;
	size_t hexlen;

	TFA_ENSURE(raw != NULL && len >= 4 && end[-1] == '\n', TFA_EFORMAT, "record is malformed");
	nl = memchr(raw, '\n', len);
	TFA_ENSURE(nl != NULL && nl > raw && nl < end - 1, TFA_EFORMAT, "record is malformed");
	hexlen = (size_t)(end - 1 - (nl + 1));
	TFA_ENSURE(hexlen % 2 == 0 && hexlen > 0, TFA_EFORMAT, "record is malformed");
	TFA_GUARD(tfa_buf_reserve(sig, hexlen / 2));
	if (tfa_hex_decode(sig->data + sig->len, hexlen / 2, (const char *)nl + 1, hexlen) !=
	    TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "record has a malformed signature line");
	TFA_GUARD(tfa_buf_append(artifact, raw, (size_t)(nl - raw)));
	sig->len += hexlen / 2;
	sig->data[sig->len] = '\0';
out:
	return rc;
}
