/*
 * The network half of RFC 3161 timestamps. The request is built and the reply
 * checked by src/verify/tsa.c, so that what is asked for and what is accepted
 * are written once, next to the offline verification.
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "net/http.h"
#include "record/tsa_request.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

#define TSA_NONCE_LEN 8

tfa_err tfa_tsa_fetch(tfa_buf *resp, char nonce_hex[TFA_TSA_NONCE_HEX], const char *url,
		      const uint8_t digest[TFA_SHA256_LEN])
{
	tfa_err rc = TFA_OK;
	uint8_t raw[TSA_NONCE_LEN];
	uint8_t *der = NULL;
	size_t derlen = 0;
	tfa_net_response nr;
	static const tfa_net_header hdrs[] = {
	    {"Content-Type", "application/timestamp-query"},
	    {"Accept", "application/timestamp-reply"},
	};

	memset(&nr, 0, sizeof(nr));
	TFA_ENSURE_ARG(resp);
	TFA_ENSURE_ARG(nonce_hex);
	nonce_hex[0] = '\0';
	TFA_ENSURE_ARG(url);
	TFA_ENSURE_ARG(digest);
	if (RAND_bytes(raw, (int)sizeof(raw)) != 1)
		TFA_GUARD(tfa_error_openssl(TFA_ECRYPTO, "cannot draw a timestamp nonce"));
	tfa_hex_encode(nonce_hex, raw, sizeof(raw));
	TFA_GUARD(tfa_tsa_request_der(&der, &derlen, digest, nonce_hex));
	{
		tfa_net_request req = {
		    .what = "timestamp request failed",
		    .method = "POST",
		    .url = url,
		    .headers = hdrs,
		    .nheaders = sizeof(hdrs) / sizeof(hdrs[0]),
		    .body = der,
		    .body_len = derlen,
		    .connect_timeout_ms = TFA_TSA_CONNECT_TIMEOUT_MS,
		    .timeout_ms = TFA_TSA_TIMEOUT_MS,
		    .max_response = TFA_TSA_RESP_MAX,
		};

		rc = tfa_net_send(&nr, NULL, &req);
	}
	if (nr.too_large)
		TFA_BAIL(TFA_EFORMAT, "TSA reply is larger than %u bytes", TFA_TSA_RESP_MAX);
	if (rc != TFA_OK)
		goto out;
	if (nr.status != 200) {
		rc = tfa_error_set(TFA_EIO, "TSA answered with HTTP status %ld", nr.status);
		tfa_error_detail("HTTP %ld", nr.status);
		goto out;
	}
	TFA_GUARD(tfa_tsa_check_reply(nr.body.data, nr.body.len, digest, nonce_hex));
	TFA_GUARD(tfa_buf_append(resp, nr.body.data, nr.body.len));
out:
	if (rc != TFA_OK && nonce_hex != NULL)
		nonce_hex[0] = '\0';
	OPENSSL_free(der);
	tfa_net_response_free(&nr);
	return rc;
}
