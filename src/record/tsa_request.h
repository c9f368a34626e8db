/* Asking a Time-Stamping Authority for an RFC 3161 token, over src/net. */
#ifndef TFA_TSA_REQUEST_H
#define TFA_TSA_REQUEST_H

#include "tfattest/buffer.h"
#include "tfattest/common.h"
#include "tfattest/error.h"
#include "verify/tsa.h"

#define TFA_TSA_CONNECT_TIMEOUT_MS 10000L
#define TFA_TSA_TIMEOUT_MS	   30000L

/*
 * POSTs an RFC 3161 TimeStampReq (Content-Type application/timestamp-query;
 * SHA-256 imprint of digest; a random 64-bit nonce; certReq true) to url
 * (http or https, no redirects), checks the reply with tfa_tsa_check_reply,
 * and appends the whole DER TimeStampResp to resp. Writes the nonce as
 * lowercase hex to nonce_hex ("" on failure).
 *
 * TFA_EIO when the server cannot be reached or times out (message naming the
 * host and curl's code, detail "curl: ...") or answers with an HTTP status
 * other than 200 (detail "HTTP <status>"); TFA_EFORMAT when the reply is not a
 * TimeStampResp or exceeds TFA_TSA_RESP_MAX; TFA_EVERIFY when the TSA refused
 * the request (detail: its status text) or the token answers another request.
 * The token itself is not verified here: use tfa_tsa_verify.
 */
TFA_WUR tfa_err tfa_tsa_fetch(tfa_buf *resp, char nonce_hex[TFA_TSA_NONCE_HEX], const char *url,
			      const uint8_t digest[TFA_SHA256_LEN]);

#endif
