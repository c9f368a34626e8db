/*
 * RFC 3161 timestamps through OpenSSL's TS API: the request a token must
 * answer, the check of a TSA's reply before it is stored, and the offline
 * verification of a stored token. Sending the request is the recorder's
 * (src/record/tsa_request.c); nothing here touches the network.
 *
 * tfa_tsa_verify checks the status, imprint, nonce and the TSA certificate's
 * extended key usage itself first, so that each failure has its own message
 * and the RFC 3161 rule on the key usage does not depend on OpenSSL's purpose
 * checks. TS_RESP_verify_response then checks, from a TimeStampReq rebuilt
 * with the same imprint and nonce: the signature, the ESS signing-certificate
 * attribute, the chain (at genTime, through the store's verification time),
 * the version, the imprint with its algorithm, the nonce and the TSA name.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "format/timefmt.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"
#include "verify/tsa.h"

#define TSA_CA_FILE_MAX	 (1u << 20) /* a PEM bundle of trust anchors */
#define TSA_CA_CERTS_MAX 256
#define TSA_NONCE_LEN	 8

/* Parses exactly TFA_TSA_NONCE_HEX - 1 lowercase hex digits into an INTEGER. */
static tfa_err nonce_from_hex(ASN1_INTEGER **out, const char *hex)
{
	tfa_err rc = TFA_OK;
	uint8_t raw[TSA_NONCE_LEN];
	BIGNUM *bn = NULL;

	*out = NULL;
	if (tfa_hex_decode(raw, sizeof(raw), hex, strnlen(hex, TFA_TSA_NONCE_HEX)) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "timestamp nonce is not %d lowercase hex digits",
			 TFA_TSA_NONCE_HEX - 1);
	if ((bn = BN_bin2bn(raw, (int)sizeof(raw), NULL)) == NULL ||
	    (*out = BN_to_ASN1_INTEGER(bn, NULL)) == NULL)
		TFA_BAIL(TFA_EINTERNAL, "out of memory");
out:
	BN_free(bn);
	return rc;
}

/* Records an error with OpenSSL's queue as detail and jumps to out. */
#define BAIL_SSL(code, ...)                                                                        \
	do {                                                                                       \
		rc = tfa_error_openssl((code), __VA_ARGS__);                                       \
		goto out;                                                                          \
	} while (0)

/* The TimeStampReq for a SHA-256 digest and a nonce: version 1, certReq true. */
static tfa_err build_request(TS_REQ **out, const uint8_t digest[TFA_SHA256_LEN],
			     const char *nonce_hex)
{
	tfa_err rc = TFA_OK;
	TS_REQ *req = NULL;
	TS_MSG_IMPRINT *mi = NULL;
	X509_ALGOR *alg = NULL;
	ASN1_INTEGER *nonce = NULL;

	*out = NULL;
	TFA_GUARD(nonce_from_hex(&nonce, nonce_hex));
	if ((req = TS_REQ_new()) == NULL || (mi = TS_MSG_IMPRINT_new()) == NULL ||
	    (alg = X509_ALGOR_new()) == NULL ||
	    !X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) ||
	    !TS_MSG_IMPRINT_set_algo(mi, alg) ||
	    !TS_MSG_IMPRINT_set_msg(mi, (unsigned char *)digest, TFA_SHA256_LEN) ||
	    !TS_REQ_set_version(req, 1) || !TS_REQ_set_msg_imprint(req, mi) ||
	    !TS_REQ_set_nonce(req, nonce) || !TS_REQ_set_cert_req(req, 1))
		BAIL_SSL(TFA_EINTERNAL, "cannot build a timestamp request");
	*out = req;
	req = NULL;
out:
	TS_REQ_free(req);
	TS_MSG_IMPRINT_free(mi);
	X509_ALGOR_free(alg);
	ASN1_INTEGER_free(nonce);
	return rc;
}

/* "granted", "rejection", ... for a PKIStatus value. */
static const char *status_name(long s)
{
	static const char *const names[] = {"granted",		 "grantedWithMods",
					    "rejection",	 "waiting",
					    "revocationWarning", "revocationNotification"};

	return s >= 0 && s < (long)(sizeof(names) / sizeof(names[0])) ? names[s] : "unknown";
}

/*
 * TFA_OK when the PKIStatusInfo says granted or grantedWithMods; otherwise
 * records `what` with the status and the TSA's first free-text line (printable
 * ASCII only) as detail.
 */
static tfa_err check_status(TS_RESP *resp, tfa_err code, const char *what)
{
	TS_STATUS_INFO *si = TS_RESP_get_status_info(resp);
	const ASN1_INTEGER *st = si ? TS_STATUS_INFO_get0_status(si) : NULL;
	const STACK_OF(ASN1_UTF8STRING) *text = si ? TS_STATUS_INFO_get0_text(si) : NULL;
	char msg[128] = "";
	long s;

	if (st == NULL)
		return tfa_error_set(TFA_EFORMAT, "timestamp response has no status");
	s = ASN1_INTEGER_get(st);
	if (s == 0 || s == 1)
		return TFA_OK;
	if (text != NULL && sk_ASN1_UTF8STRING_num(text) > 0) {
		const ASN1_UTF8STRING *t = sk_ASN1_UTF8STRING_value(text, 0);
		const unsigned char *p = ASN1_STRING_get0_data(t);
		size_t n = (size_t)ASN1_STRING_length(t), j = 0;

		for (size_t i = 0; i < n && j + 1 < sizeof(msg); i++)
			msg[j++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
		msg[j] = '\0';
	}
	tfa_error_set(code, "%s: status %ld (%s)", what, s, status_name(s));
	if (msg[0] != '\0')
		tfa_error_detail("%s", msg);
	return code;
}

/* TFA_OK when the token's imprint is SHA-256 (parameters absent or NULL) of digest. */
static tfa_err check_imprint(TS_TST_INFO *tst, const uint8_t digest[TFA_SHA256_LEN])
{
	TS_MSG_IMPRINT *mi = TS_TST_INFO_get_msg_imprint(tst);
	X509_ALGOR *alg = mi ? TS_MSG_IMPRINT_get_algo(mi) : NULL;
	ASN1_OCTET_STRING *md = mi ? TS_MSG_IMPRINT_get_msg(mi) : NULL;
	const ASN1_OBJECT *obj = NULL;
	const void *pval = NULL;
	int ptype = V_ASN1_UNDEF;

	if (alg == NULL || md == NULL)
		return tfa_error_set(TFA_EFORMAT, "timestamp token has no message imprint");
	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	if (OBJ_obj2nid(obj) != NID_sha256 || (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL))
		return tfa_error_set(TFA_EVERIFY,
				     "timestamp token: message imprint is not SHA-256");
	if (ASN1_STRING_length(md) != TFA_SHA256_LEN ||
	    CRYPTO_memcmp(ASN1_STRING_get0_data(md), digest, TFA_SHA256_LEN) != 0)
		return tfa_error_set(TFA_EVERIFY,
				     "timestamp token: message imprint does not match the digest");
	return TFA_OK;
}

static tfa_err check_nonce(TS_TST_INFO *tst, const ASN1_INTEGER *want)
{
	const ASN1_INTEGER *got = TS_TST_INFO_get_nonce(tst);

	if (got == NULL)
		return tfa_error_set(TFA_EVERIFY, "timestamp token has no nonce");
	if (ASN1_INTEGER_cmp(got, want) != 0)
		return tfa_error_set(TFA_EVERIFY, "timestamp token: nonce does not match");
	return TFA_OK;
}

/* Parses one DER TimeStampResp that fills all of [der, der+len). */
static tfa_err parse_resp(TS_RESP **out, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;

	*out = NULL;
	if (len == 0 || len > TFA_TSA_RESP_MAX)
		return tfa_error_set(TFA_EFORMAT,
				     "timestamp response is empty or larger than %u bytes",
				     TFA_TSA_RESP_MAX);
	ERR_clear_error();
	*out = d2i_TS_RESP(NULL, &p, (long)len);
	if (*out == NULL)
		return tfa_error_openssl(TFA_EFORMAT, "timestamp response cannot be parsed");
	if (p != der + len) {
		TS_RESP_free(*out);
		*out = NULL;
		return tfa_error_set(TFA_EFORMAT, "timestamp response has trailing data");
	}
	return TFA_OK;
}

tfa_err tfa_tsa_request_der(uint8_t **der, size_t *len, const uint8_t digest[TFA_SHA256_LEN],
			    const char *nonce_hex)
{
	tfa_err rc = TFA_OK;
	TS_REQ *req = NULL;
	unsigned char *p = NULL;
	int n;

	TFA_ENSURE_ARG(der);
	*der = NULL;
	TFA_ENSURE_ARG(len);
	*len = 0;
	TFA_ENSURE_ARG(digest);
	TFA_ENSURE_ARG(nonce_hex);
	TFA_GUARD(build_request(&req, digest, nonce_hex));
	if ((n = i2d_TS_REQ(req, &p)) <= 0) {
		p = NULL;
		BAIL_SSL(TFA_ECRYPTO, "cannot encode a timestamp request");
	}
	*der = p;
	*len = (size_t)n;
out:
	TS_REQ_free(req);
	return rc;
}

tfa_err tfa_tsa_check_reply(const uint8_t *resp, size_t len, const uint8_t digest[TFA_SHA256_LEN],
			    const char *nonce_hex)
{
	tfa_err rc = TFA_OK;
	TS_RESP *r = NULL;
	TS_TST_INFO *tst;
	ASN1_INTEGER *nonce = NULL;

	TFA_ENSURE_ARG(resp);
	TFA_ENSURE_ARG(digest);
	TFA_ENSURE_ARG(nonce_hex);
	TFA_GUARD(parse_resp(&r, resp, len));
	TFA_GUARD(check_status(r, TFA_EVERIFY, "TSA refused the timestamp request"));
	if ((tst = TS_RESP_get_tst_info(r)) == NULL || TS_RESP_get_token(r) == NULL)
		TFA_BAIL(TFA_EFORMAT, "TSA granted the request but sent no token");
	/* A reply to some other request is useless: catch it now rather than at audit time. */
	TFA_GUARD(nonce_from_hex(&nonce, nonce_hex));
	TFA_GUARD(check_imprint(tst, digest));
	TFA_GUARD(check_nonce(tst, nonce));
out:
	ASN1_INTEGER_free(nonce);
	TS_RESP_free(r);
	return rc;
}

/*
 * RFC 3161 section 2.3: the TSA certificate has exactly one extended key
 * usage extension, it is critical and its only purpose is timeStamping.
 */
static tfa_err check_tsa_eku(X509 *cert)
{
	tfa_err rc = TFA_OK;
	int i = X509_get_ext_by_NID(cert, NID_ext_key_usage, -1);
	X509_EXTENSION *ext;
	EXTENDED_KEY_USAGE *eku = NULL;

	if (i < 0)
		TFA_BAIL(TFA_EVERIFY, "timestamp token: TSA certificate has no extended key usage");
	if (X509_get_ext_by_NID(cert, NID_ext_key_usage, i) >= 0)
		TFA_BAIL(TFA_EVERIFY,
			 "timestamp token: TSA certificate has more than one extended key usage");
	ext = X509_get_ext(cert, i);
	if (!X509_EXTENSION_get_critical(ext))
		TFA_BAIL(TFA_EVERIFY,
			 "timestamp token: TSA certificate's extended key usage is not critical");
	if ((eku = X509V3_EXT_d2i(ext)) == NULL)
		TFA_BAIL(TFA_EVERIFY,
			 "timestamp token: TSA certificate's extended key usage cannot be decoded");
	if (sk_ASN1_OBJECT_num(eku) != 1 ||
	    OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)) != NID_time_stamp)
		TFA_BAIL(TFA_EVERIFY, "timestamp token: TSA certificate's extended key usage is "
				      "not timeStamping alone");
out:
	EXTENDED_KEY_USAGE_free(eku);
	return rc;
}

/* A store holding every certificate of a PEM file. */
static tfa_err load_store(X509_STORE **out, const char *ca_file)
{
	tfa_err rc = TFA_OK;
	tfa_buf pem;
	BIO *bio = NULL;
	X509 *cert = NULL;
	X509_STORE *store = NULL;
	int n = 0;

	*out = NULL;
	tfa_buf_init(&pem, TSA_CA_FILE_MAX);
	rc = tfa_buf_read_file(&pem, ca_file, TSA_CA_FILE_MAX);
	/* EFORMAT would read as "the token is malformed": a bad CA file is a configuration error.
	 */
	if (rc == TFA_EFORMAT)
		TFA_BAIL(TFA_EUSAGE, "TSA CA file is not a regular file of at most %u bytes",
			 TSA_CA_FILE_MAX);
	if (rc != TFA_OK)
		goto out;
	if ((bio = BIO_new_mem_buf(pem.data, (int)pem.len)) == NULL ||
	    (store = X509_STORE_new()) == NULL)
		TFA_BAIL(TFA_EINTERNAL, "out of memory");
	while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (++n > TSA_CA_CERTS_MAX)
			TFA_BAIL(TFA_EUSAGE, "TSA CA file holds more than %d certificates",
				 TSA_CA_CERTS_MAX);
		if (!X509_STORE_add_cert(store, cert))
			BAIL_SSL(TFA_EUSAGE, "TSA CA file has an unusable certificate");
		X509_free(cert);
		cert = NULL;
	}
	/* The loop ends on "no start line" at the end of the file. */
	ERR_clear_error();
	if (n == 0)
		TFA_BAIL(TFA_EUSAGE, "TSA CA file holds no PEM certificate");
	*out = store;
	store = NULL;
out:
	X509_free(cert);
	X509_STORE_free(store);
	BIO_free(bio);
	tfa_buf_free(&pem);
	return rc;
}

/* genTime as seconds since the epoch; the fraction of a second, if any, is dropped. */
static tfa_err gen_time(int64_t *out, TS_TST_INFO *tst)
{
	const ASN1_GENERALIZEDTIME *gt = TS_TST_INFO_get_time(tst);
	struct tm tm;
	char s[32];
	int n;

	if (gt == NULL || !ASN1_TIME_to_tm(gt, &tm))
		return tfa_error_set(TFA_EFORMAT, "timestamp token has an invalid genTime");
	n = snprintf(s, sizeof(s), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (n != TFA_TIME_STRLEN - 1 || tfa_time_parse(out, s, (size_t)n) != TFA_OK)
		return tfa_error_set(TFA_EFORMAT, "timestamp token has an invalid genTime");
	return TFA_OK;
}

/* Says which check OpenSSL's verification failed, from its error queue. */
static tfa_err verify_failed(void)
{
	const char *what = "token does not verify";
	const char *data = NULL;
	char first[200] = "", extra[200] = "";
	unsigned long e;
	int flags = 0;

	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		int lib = ERR_GET_LIB(e), reason = ERR_GET_REASON(e);

		if (first[0] == '\0')
			ERR_error_string_n(e, first, sizeof(first));
		if (lib == ERR_LIB_TS && reason == TS_R_CERTIFICATE_VERIFY_ERROR) {
			what = "TSA certificate chain is not valid at genTime";
			if ((flags & ERR_TXT_STRING) && data != NULL)
				snprintf(extra, sizeof(extra), "%s", data);
		} else if ((lib == ERR_LIB_TS && reason == TS_R_ESS_SIGNING_CERTIFICATE_ERROR) ||
			   lib == ERR_LIB_ESS) {
			what = "ESS signing-certificate attribute does not name the signer "
			       "certificate";
		} else if (lib == ERR_LIB_TS && reason == TS_R_TSA_NAME_MISMATCH) {
			what = "TSA name in the token is not the signer's";
		} else if (lib == ERR_LIB_TS && (reason == TS_R_SIGNATURE_FAILURE ||
						 reason == TS_R_THERE_MUST_BE_ONE_SIGNER ||
						 reason == TS_R_WRONG_CONTENT_TYPE)) {
			what = "signature does not verify";
		}
	}
	tfa_error_set(TFA_EVERIFY, "timestamp token: %s", what);
	tfa_error_detail("%s", extra[0] ? extra : first);
	return TFA_EVERIFY;
}

/* Lowercase hex of a non-negative INTEGER, without leading zeros ("0" for zero). */
static tfa_err serial_hex(char out[81], const ASN1_INTEGER *serial)
{
	tfa_err rc = TFA_OK;
	BIGNUM *bn = NULL;
	char *hex = NULL;
	const char *h;
	size_t n;

	if (serial == NULL || (bn = ASN1_INTEGER_to_BN(serial, NULL)) == NULL)
		TFA_BAIL(TFA_EFORMAT, "timestamp token has no serial number");
	if (BN_is_negative(bn))
		TFA_BAIL(TFA_EFORMAT, "timestamp token has a negative serial number");
	if ((hex = BN_bn2hex(bn)) == NULL)
		TFA_BAIL(TFA_EINTERNAL, "out of memory");
	/* BN_bn2hex pads to whole bytes; drop one leading zero so the form is canonical. */
	h = hex[0] == '0' && hex[1] != '\0' ? hex + 1 : hex;
	if ((n = strlen(h)) > 80)
		TFA_BAIL(TFA_EFORMAT, "timestamp token's serial number is longer than 320 bits");
	for (size_t i = 0; i < n; i++)
		out[i] = (char)(h[i] >= 'A' && h[i] <= 'F' ? h[i] - 'A' + 'a' : h[i]);
	out[n] = '\0';
out:
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

/* RFC 2253 form of a name, cut to fit. */
static void name_str(char *out, size_t cap, const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;

	out[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_get_mem_data(b, &p)) > 0) {
		size_t len = (size_t)n < cap - 1 ? (size_t)n : cap - 1;

		memcpy(out, p, len);
		out[len] = '\0';
	}
	BIO_free(b);
}

tfa_err tfa_tsa_verify(tfa_tsa_info *out, const uint8_t *resp, size_t len,
		       const uint8_t digest[TFA_SHA256_LEN], const char *nonce_hex,
		       const char *ca_file)
{
	tfa_err rc = TFA_OK;
	TS_RESP *r = NULL;
	TS_REQ *req = NULL;
	TS_TST_INFO *tst;
	PKCS7 *token;
	STACK_OF(X509) *signers = NULL;
	X509 *signer;
	X509_STORE *store = NULL;
	TS_VERIFY_CTX *vctx = NULL;
	tfa_tsa_info info;
	char policy[sizeof(info.policy_oid) + 1];
	int n;

	memset(&info, 0, sizeof(info));
	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(resp);
	TFA_ENSURE_ARG(digest);
	TFA_ENSURE_ARG(nonce_hex);
	TFA_ENSURE_ARG(ca_file);
	/* The request this token must answer; OpenSSL derives its checks from it. */
	TFA_GUARD(build_request(&req, digest, nonce_hex));
	TFA_GUARD(parse_resp(&r, resp, len));
	TFA_GUARD(check_status(r, TFA_EVERIFY, "timestamp was not granted by the TSA"));
	/* d2i_TS_RESP has already decoded the token's TSTInfo when the status is granted. */
	token = TS_RESP_get_token(r);
	tst = TS_RESP_get_tst_info(r);
	if (token == NULL || tst == NULL)
		TFA_BAIL(TFA_EFORMAT, "timestamp response has no token");
	if (TS_TST_INFO_get_version(tst) != 1)
		TFA_BAIL(TFA_EVERIFY, "timestamp token has an unsupported version");
	TFA_GUARD(check_imprint(tst, digest));
	TFA_GUARD(check_nonce(tst, TS_REQ_get_nonce(req)));
	TFA_GUARD(gen_time(&info.gen_time, tst));

	/* The signer certificate must travel in the token (certReq true). */
	if (!PKCS7_type_is_signed(token) ||
	    sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(token)) != 1)
		TFA_BAIL(TFA_EVERIFY, "timestamp token must have exactly one signer");
	ERR_clear_error();
	if ((signers = PKCS7_get0_signers(token, NULL, 0)) == NULL || sk_X509_num(signers) != 1)
		BAIL_SSL(TFA_EVERIFY, "timestamp token does not hold its signer's certificate");
	signer = sk_X509_value(signers, 0);
	TFA_GUARD(check_tsa_eku(signer));

	TFA_GUARD(load_store(&store, ca_file));
	/* Check the chain as it stood when the token was made, not today. */
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), (time_t)info.gen_time);

	/* Imprint with its algorithm, and nonce, from the request; the store from here on. */
	if ((vctx = TS_REQ_to_TS_VERIFY_CTX(req, NULL)) == NULL)
		BAIL_SSL(TFA_EINTERNAL, "cannot set up timestamp verification");
	TS_VERIFY_CTX_set_flags(vctx, TS_VFY_SIGNATURE | TS_VFY_VERSION | TS_VFY_IMPRINT |
					  TS_VFY_NONCE | TS_VFY_SIGNER);
#if OPENSSL_VERSION_NUMBER >= 0x30400000L
	TS_VERIFY_CTX_set0_store(vctx, store);
#else
	TS_VERIFY_CTX_set_store(vctx, store);
#endif
	store = NULL;
	ERR_clear_error();
	if (TS_RESP_verify_response(vctx, r) != 1) {
		rc = verify_failed();
		goto out;
	}

	TFA_GUARD(serial_hex(info.serial_hex, TS_TST_INFO_get_serial(tst)));
	name_str(info.tsa_subject, sizeof(info.tsa_subject), X509_get_subject_name(signer));
	n = OBJ_obj2txt(policy, (int)sizeof(policy), TS_TST_INFO_get_policy_id(tst), 1);
	if (n <= 0 || (size_t)n >= sizeof(info.policy_oid))
		TFA_BAIL(TFA_EFORMAT, "timestamp token's policy identifier is missing or too long");
	memcpy(info.policy_oid, policy, (size_t)n + 1);
	*out = info;
out:
	TS_VERIFY_CTX_free(vctx);
	X509_STORE_free(store);
	sk_X509_free(signers);
	TS_RESP_free(r);
	TS_REQ_free(req);
	return rc;
}
