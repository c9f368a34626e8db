/*
 * RFC 3161 trusted timestamps: obtaining a token from a Time-Stamping
 * Authority (full build) and checking one offline (verifier build).
 */
#ifndef TFA_TSA_H
#define TFA_TSA_H

#include "tfattest/buffer.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

#define TFA_TSA_NONCE_HEX 17         /* 16 hex digits + NUL */
#define TFA_TSA_RESP_MAX (64u << 10) /* cap on a stored TimeStampResp */

#if !TFATTEST_VERIFIER_ONLY
/*
 * POSTs an RFC 3161 TimeStampReq (Content-Type application/timestamp-query;
 * SHA-256 imprint of digest; a random 64-bit nonce; certReq true) to url
 * (http or https), checks that the reply parses and that its status is
 * granted or grantedWithMods, and appends the whole DER TimeStampResp to resp.
 * Writes the nonce as lowercase hex to nonce_hex.
 *
 * TFA_EIO when the server cannot be reached, times out or answers with an
 * HTTP error (detail: curl error or HTTP status); TFA_EFORMAT when the reply
 * is not a TimeStampResp or exceeds TFA_TSA_RESP_MAX; TFA_EVERIFY when the TSA
 * refused the request (detail: its status text). The token itself is not
 * verified here: use tfa_tsa_verify.
 */
TFA_WUR tfa_err tfa_tsa_fetch(tfa_buf *resp, char nonce_hex[TFA_TSA_NONCE_HEX], const char *url,
			      const uint8_t digest[TFA_SHA256_LEN]);
#endif

typedef struct tfa_tsa_info {
	int64_t gen_time;       /* seconds since the epoch, UTC (fraction dropped) */
	char serial_hex[81];    /* token serial number, lowercase hex */
	char tsa_subject[256];  /* signer certificate subject, RFC 2253 */
	char policy_oid[80];    /* TSA policy, dotted decimal */
} tfa_tsa_info;

/*
 * Verifies a DER TimeStampResp offline (libcrypto only):
 *  - the status is granted (or grantedWithMods);
 *  - the message imprint is SHA-256 and equals digest;
 *  - the nonce equals nonce_hex;
 *  - the signer certificate's extended key usage is present, critical and
 *    exactly timeStamping;
 *  - the ESS signing-certificate (v1 or v2) attribute names the signer
 *    certificate;
 *  - the signature verifies and the signer's chain is valid to a CA in
 *    ca_file (PEM) at genTime, not at the current time.
 *
 * TFA_EVERIFY when the token is invalid (the message says which check),
 * TFA_EFORMAT when it cannot be parsed or exceeds TFA_TSA_RESP_MAX, other
 * codes when it could not be checked (TFA_EIO/TFA_ENOTFOUND: unreadable CA
 * file). Fills *out on success only.
 */
TFA_WUR tfa_err tfa_tsa_verify(tfa_tsa_info *out, const uint8_t *resp, size_t len,
			       const uint8_t digest[TFA_SHA256_LEN], const char *nonce_hex,
			       const char *ca_file);

#endif
