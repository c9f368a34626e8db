/*
 * RFC 3161 trusted timestamps: the request a token answers, the check of a
 * reply, and the offline verification of a token. Obtaining a token from a
 * Time-Stamping Authority is the recorder's: record/tsa_request.h.
 */
#ifndef TFA_TSA_H
#define TFA_TSA_H

#include "tfattest/buffer.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

#define TFA_TSA_NONCE_HEX 17	      /* 16 hex digits + NUL */
#define TFA_TSA_RESP_MAX  (64u << 10) /* cap on a stored TimeStampResp */

/*
 * The DER TimeStampReq a token for digest must answer: version 1, SHA-256
 * imprint of digest, the nonce (TFA_TSA_NONCE_HEX - 1 lowercase hex digits),
 * certReq true. *der is released with OPENSSL_free. TFA_EFORMAT for a bad
 * nonce.
 */
TFA_WUR tfa_err tfa_tsa_request_der(uint8_t **der, size_t *len,
				    const uint8_t digest[TFA_SHA256_LEN], const char *nonce_hex);

/*
 * Checks a TSA's answer to that request before it is kept: one DER
 * TimeStampResp filling the len bytes, with status granted or
 * grantedWithMods, and a token whose imprint is SHA-256 of digest and whose
 * nonce is nonce_hex. The token's signature and certificate are not checked
 * here: use tfa_tsa_verify. TFA_EFORMAT when the reply is not a TimeStampResp,
 * exceeds TFA_TSA_RESP_MAX or holds no token; TFA_EVERIFY when the TSA refused
 * (detail: its status text) or the token answers another request.
 */
TFA_WUR tfa_err tfa_tsa_check_reply(const uint8_t *resp, size_t len,
				    const uint8_t digest[TFA_SHA256_LEN], const char *nonce_hex);

typedef struct tfa_tsa_info {
	int64_t gen_time;      /* seconds since the epoch, UTC (fraction dropped) */
	char serial_hex[81];   /* token serial number, lowercase hex */
	char tsa_subject[256]; /* signer certificate subject, RFC 2253 */
	char policy_oid[80];   /* TSA policy, dotted decimal */
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
