/*
 * Tests for RFC 3161 timestamps (src/verify/tsa.c).
 *
 * A test TSA is made once per run with tests/tsa/make-ca.sh. Tokens come
 * from `openssl ts -reply` where the openssl CLI will make them. It refuses
 * to sign with a certificate whose extended key usage is wrong, and always
 * stamps the current time, so for those cases the test mints tokens itself
 * with the CMS API (mint_cms), exactly as a misbehaving TSA would; a token
 * minted that way with the good certificate verifies, so the minter is not
 * what makes the negative cases fail.
 *
 * In the full build, tfa_tsa_fetch (src/record/tsa_request.c) is tested
 * against tests/tsa/tsa_server.py.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/ess.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tfa_test.h"
#include "tfattest/buffer.h"
#include "verify/crypto.h"
#include "verify/tsa.h"

#define NONCE  "0123456789abcdef"
#define POLICY "1.3.6.1.4.1.4146.2.3.999"

static char *g_dir; /* the test CA, made once */
static uint8_t g_digest[TFA_SHA256_LEN];

static const char *ca_dir(void);
/* The digest being stamped; the CA is made first. */
#define DIGEST (ca_dir(), (const uint8_t *)g_digest)

static void cleanup(void)
{
	if (g_dir != NULL) {
		tfa_test_rmtree(g_dir);
		free(g_dir);
	}
}

static const char *ca_dir(void)
{
	if (g_dir == NULL) {
		const char *src = getenv("TFA_SOURCE_DIR");
		char cmd[4096];

		if (src == NULL) {
			fprintf(stderr, "TFA_SOURCE_DIR is not set\n");
			exit(2);
		}
		g_dir = tfa_test_tmpdir();
		atexit(cleanup);
		snprintf(cmd, sizeof(cmd), "sh '%s/tests/tsa/make-ca.sh' '%s' >/dev/null 2>&1", src,
			 g_dir);
		if (system(cmd) != 0) {
			fprintf(stderr, "make-ca.sh failed\n");
			exit(2);
		}
		tfa_sha256(g_digest, "a checkpoint", 12);
	}
	return g_dir;
}

/* dir/name in a static buffer (one at a time). */
static const char *in_ca(const char *name)
{
	static char p[2][4096];
	static int i;

	i ^= 1;
	snprintf(p[i], sizeof(p[i]), "%s/%s", ca_dir(), name);
	return p[i];
}

static ASN1_INTEGER *nonce_int(const char *hex)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *n;

	if (BN_hex2bn(&bn, hex) == 0)
		exit(2);
	n = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return n;
}

static TS_MSG_IMPRINT *imprint(const uint8_t digest[TFA_SHA256_LEN])
{
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();

	X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL);
	TS_MSG_IMPRINT_set_algo(mi, alg);
	TS_MSG_IMPRINT_set_msg(mi, (unsigned char *)digest, TFA_SHA256_LEN);
	X509_ALGOR_free(alg);
	return mi;
}

/*
 * A token from `openssl ts -reply` for digest and nonce, signed by DIR/cert.
 * Returns the command's exit status; on success the response is in *out.
 */
static int mint_openssl(tfa_buf *out, const char *cert, const char *section,
			const uint8_t digest[TFA_SHA256_LEN], const char *nonce_hex)
{
	TS_REQ *req = TS_REQ_new();
	TS_MSG_IMPRINT *mi = imprint(digest);
	ASN1_INTEGER *n = nonce_int(nonce_hex);
	unsigned char *der = NULL;
	int len, st;
	char cmd[8192], *resp;
	size_t rlen;

	TS_REQ_set_version(req, 1);
	TS_REQ_set_msg_imprint(req, mi);
	TS_REQ_set_nonce(req, n);
	TS_REQ_set_cert_req(req, 1);
	len = i2d_TS_REQ(req, &der);
	if (len <= 0)
		exit(2);
	tfa_test_put_file(ca_dir(), "req.tsq", der, (size_t)len);
	OPENSSL_free(der);
	TS_REQ_free(req);
	TS_MSG_IMPRINT_free(mi);
	ASN1_INTEGER_free(n);
	unlink(in_ca("resp.tsr"));
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && openssl ts -reply -config tsa.cnf -section %s -queryfile req.tsq "
		 "-signer %s.pem -inkey %s.key -out resp.tsr >/dev/null 2>&1",
		 ca_dir(), section, cert, cert);
	st = system(cmd);
	if (st != 0)
		return st;
	resp = tfa_test_get_file(ca_dir(), "resp.tsr", &rlen);
	tfa_buf_clear(out);
	if (tfa_buf_append(out, resp, rlen) != TFA_OK)
		exit(2);
	free(resp);
	return 0;
}

static X509 *load_cert(const char *name)
{
	char file[256];
	FILE *f;
	X509 *x;

	snprintf(file, sizeof(file), "%s.pem", name);
	f = fopen(in_ca(file), "r");
	x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (x == NULL)
		exit(2);
	return x;
}

static EVP_PKEY *load_key(const char *name)
{
	char file[256];
	FILE *f;
	EVP_PKEY *k;

	snprintf(file, sizeof(file), "%s.key", name);
	f = fopen(in_ca(file), "r");
	k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (k == NULL)
		exit(2);
	return k;
}

static void put_der_len(tfa_buf *b, size_t n)
{
	uint8_t l[3] = {0x82, (uint8_t)(n >> 8), (uint8_t)n};

	if (n < 0x80) {
		l[0] = (uint8_t)n;
		if (tfa_buf_append(b, l, 1) != TFA_OK)
			exit(2);
	} else if (tfa_buf_append(b, l, 3) != TFA_OK) {
		exit(2);
	}
}

typedef struct mint_opts {
	const char *signer;  /* DIR/signer.pem and .key sign */
	const char *ess_for; /* the ESS signingCertificateV2 attribute names this; NULL: none */
	time_t gen;
	const uint8_t *digest;
	const char *nonce_hex;
	int imprint_nid;      /* 0: SHA-256 */
	int no_certs;	      /* leave the signer certificate out of the token */
	const char *tsa_name; /* the tsa field: this certificate's subject; NULL: absent */
} mint_opts;

/*
 * A granted TimeStampResp made without the openssl CLI: TSTInfo for the
 * digest and nonce at gen, signed (CMS, SHA-256) as o says.
 */
static void mint_cms_ex(tfa_buf *out, const mint_opts *o)
{
	X509 *cert = load_cert(o->signer);
	EVP_PKEY *key = load_key(o->signer);
	TS_TST_INFO *tst = TS_TST_INFO_new();
	TS_MSG_IMPRINT *mi = imprint(o->digest);
	ASN1_OBJECT *pol = OBJ_txt2obj(POLICY, 1);
	ASN1_INTEGER *serial = ASN1_INTEGER_new(), *n = nonce_int(o->nonce_hex);
	ASN1_GENERALIZEDTIME *gt = ASN1_GENERALIZEDTIME_set(NULL, o->gen);
	unsigned char *tst_der = NULL, *ess_der = NULL, *ci = NULL;
	int tst_len, ess_len = 0, ci_len;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	BIO *in;
	static const uint8_t granted[] = {0x30, 0x03, 0x02, 0x01, 0x00};

	if (o->imprint_nid != 0) {
		X509_ALGOR *alg = X509_ALGOR_new();

		X509_ALGOR_set0(alg, OBJ_nid2obj(o->imprint_nid), V_ASN1_UNDEF, NULL);
		TS_MSG_IMPRINT_set_algo(mi, alg);
		X509_ALGOR_free(alg);
	}
	if (o->tsa_name != NULL) {
		X509 *named = load_cert(o->tsa_name);
		GENERAL_NAME *gn = GENERAL_NAME_new();

		gn->type = GEN_DIRNAME;
		gn->d.directoryName = X509_NAME_dup(X509_get_subject_name(named));
		if (!TS_TST_INFO_set_tsa(tst, gn))
			exit(2);
		GENERAL_NAME_free(gn);
		X509_free(named);
	}
	if (o->ess_for != NULL) {
		X509 *ess_cert = load_cert(o->ess_for);
		ESS_SIGNING_CERT_V2 *ess =
		    OSSL_ESS_signing_cert_v2_new_init(EVP_sha256(), ess_cert, NULL, 0);

		if (ess == NULL || (ess_len = i2d_ESS_SIGNING_CERT_V2(ess, &ess_der)) <= 0)
			exit(2);
		ESS_SIGNING_CERT_V2_free(ess);
		X509_free(ess_cert);
	}
	ASN1_INTEGER_set(serial, 42);
	if (!TS_TST_INFO_set_version(tst, 1) || !TS_TST_INFO_set_policy_id(tst, pol) ||
	    !TS_TST_INFO_set_msg_imprint(tst, mi) || !TS_TST_INFO_set_serial(tst, serial) ||
	    !TS_TST_INFO_set_time(tst, gt) || !TS_TST_INFO_set_nonce(tst, n))
		exit(2);
	tst_len = i2d_TS_TST_INFO(tst, &tst_der);
	cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY);
	if (tst_len <= 0 || cms == NULL ||
	    !CMS_set1_eContentType(cms, OBJ_nid2obj(NID_id_smime_ct_TSTInfo)))
		exit(2);
	si = CMS_add1_signer(cms, cert, key, EVP_sha256(),
			     CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP |
				 (o->no_certs ? CMS_NOCERTS : 0));
	if (si == NULL || (ess_der != NULL &&
			   !CMS_signed_add1_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2,
							V_ASN1_SEQUENCE, ess_der, ess_len)))
		exit(2);
	in = BIO_new_mem_buf(tst_der, tst_len);
	if (in == NULL || !CMS_final(cms, in, NULL, CMS_BINARY) ||
	    (ci_len = i2d_CMS_ContentInfo(cms, &ci)) <= 0)
		exit(2);

	tfa_buf_clear(out);
	if (tfa_buf_putc(out, 0x30) != TFA_OK)
		exit(2);
	put_der_len(out, sizeof(granted) + (size_t)ci_len);
	if (tfa_buf_append(out, granted, sizeof(granted)) != TFA_OK ||
	    tfa_buf_append(out, ci, (size_t)ci_len) != TFA_OK)
		exit(2);

	BIO_free(in);
	OPENSSL_free(ci);
	CMS_ContentInfo_free(cms);
	OPENSSL_free(ess_der);
	OPENSSL_free(tst_der);
	ASN1_GENERALIZEDTIME_free(gt);
	ASN1_INTEGER_free(n);
	ASN1_INTEGER_free(serial);
	ASN1_OBJECT_free(pol);
	TS_MSG_IMPRINT_free(mi);
	TS_TST_INFO_free(tst);
	EVP_PKEY_free(key);
	X509_free(cert);
}

static void mint_cms(tfa_buf *out, const char *signer, const char *ess_for, time_t gen,
		     const uint8_t digest[TFA_SHA256_LEN], const char *nonce_hex)
{
	mint_opts o = {signer, ess_for, gen, digest, nonce_hex, 0, 0, NULL};

	mint_cms_ex(out, &o);
}

static tfa_err verify(const tfa_buf *resp, const uint8_t *digest, const char *nonce, const char *ca)
{
	tfa_tsa_info info;

	return tfa_tsa_verify(&info, resp->data, resp->len, digest, nonce, in_ca(ca));
}

/* The current error message contains s. */
static void expect_msg(const char *s, int line)
{
	if (strstr(tfa_error_last()->message, s) == NULL) {
		fprintf(stderr, "test_tsa.c:%d: %s: message \"%s\" lacks \"%s\"\n", line,
			tfa_test_current, tfa_error_last()->message, s);
		tfa_test_failures++;
	}
}
#define EXPECT_MSG(s) expect_msg((s), __LINE__)

/* 2018-06-01T00:00:00Z, 2014-06-01T00:00:00Z: inside and before tsa-expired's validity. */
#define T_2018 ((time_t)1527811200)
#define T_2014 ((time_t)1401580800)

/* ---- verification --------------------------------------------------------------------------- */

static void test_good(void)
{
	tfa_buf r = TFA_BUF_INIT;
	tfa_tsa_info info;
	int64_t now = (int64_t)time(NULL);

	CHECK(mint_openssl(&r, "tsa", "tsa_sha256", DIGEST, NONCE) == 0);
	memset(&info, 0, sizeof(info));
	CHECK_OK(tfa_tsa_verify(&info, r.data, r.len, DIGEST, NONCE, in_ca("ca.pem")));
	CHECK(info.gen_time > now - 600 && info.gen_time < now + 600);
	CHECK_STREQ(info.policy_oid, POLICY);
	CHECK(strstr(info.tsa_subject, "CN=tfattest test TSA") != NULL);
	CHECK(info.serial_hex[0] != '\0' &&
	      strspn(info.serial_hex, "0123456789abcdef") == strlen(info.serial_hex));
	tfa_buf_free(&r);
}

static void test_good_ess_v1_with_chain(void)
{
	tfa_buf r = TFA_BUF_INIT;

	/* ESS signingCertificate (v1, SHA-1 cert id); the token also carries the CA certificate. */
	CHECK(mint_openssl(&r, "tsa", "tsa_sha1", DIGEST, NONCE) == 0);
	CHECK_OK(verify(&r, DIGEST, NONCE, "ca.pem"));
	/* The CA certificate travelling in the token is not trusted for that. */
	CHECK_RC(verify(&r, DIGEST, NONCE, "other-ca.pem"), TFA_EVERIFY);
	tfa_buf_free(&r);
}

static void test_fractional_gentime(void)
{
	tfa_buf r = TFA_BUF_INIT;
	tfa_tsa_info info;
	int64_t before = (int64_t)time(NULL);

	/* genTime with milliseconds: the fraction is dropped, never rounded up. */
	CHECK(mint_openssl(&r, "tsa", "tsa_frac", DIGEST, NONCE) == 0);
	CHECK_OK(tfa_tsa_verify(&info, r.data, r.len, DIGEST, NONCE, in_ca("ca.pem")));
	CHECK(info.gen_time >= before && info.gen_time <= (int64_t)time(NULL));
	tfa_buf_free(&r);
}

static void test_minter_control(void)
{
	tfa_buf r = TFA_BUF_INIT;
	tfa_tsa_info info;

	mint_cms(&r, "tsa", "tsa", T_2018, DIGEST, NONCE);
	CHECK_OK(tfa_tsa_verify(&info, r.data, r.len, DIGEST, NONCE, in_ca("ca.pem")));
	CHECK(info.gen_time == (int64_t)T_2018);
	CHECK_STREQ(info.serial_hex, "2a");
	tfa_buf_free(&r);
}

/* Replaces the only occurrence of old (n bytes) in b with new. */
static void replace_once(tfa_buf *b, const uint8_t *old, const uint8_t *new, size_t n)
{
	uint8_t *p = NULL;

	for (size_t i = 0; i + n <= b->len; i++) {
		if (memcmp(b->data + i, old, n) == 0) {
			CHECK(p == NULL);
			p = b->data + i;
		}
	}
	CHECK(p != NULL);
	if (p != NULL)
		memcpy(p, new, n);
}

static void test_tampered(void)
{
	tfa_buf r = TFA_BUF_INIT;
	uint8_t d2[TFA_SHA256_LEN];
	uint8_t n1[8], n2[8];

	CHECK(mint_openssl(&r, "tsa", "tsa_sha256", DIGEST, NONCE) == 0);
	/* The last byte belongs to the signature value. */
	r.data[r.len - 1] ^= 0x01;
	CHECK_RC(verify(&r, DIGEST, NONCE, "ca.pem"), TFA_EVERIFY);
	EXPECT_MSG("signature");

	/* Another digest put into the signed TSTInfo, and asked for. */
	CHECK(mint_openssl(&r, "tsa", "tsa_sha256", DIGEST, NONCE) == 0);
	tfa_sha256(d2, "another checkpoint", 18);
	replace_once(&r, DIGEST, d2, sizeof(d2));
	CHECK_RC(verify(&r, d2, NONCE, "ca.pem"), TFA_EVERIFY);
	EXPECT_MSG("signature");

	/* Another nonce, likewise. */
	CHECK(mint_openssl(&r, "tsa", "tsa_sha256", DIGEST, NONCE) == 0);
	CHECK_OK(tfa_hex_decode(n1, 8, NONCE, 16));
	CHECK_OK(tfa_hex_decode(n2, 8, "0123456789abcdee", 16));
	replace_once(&r, n1, n2, sizeof(n1));
	CHECK_RC(verify(&r, DIGEST, "0123456789abcdee", "ca.pem"), TFA_EVERIFY);
	EXPECT_MSG("signature");
	tfa_buf_free(&r);
}

static void test_wrong_digest(void)
{
	tfa_buf r = TFA_BUF_INIT;
	uint8_t d2[TFA_SHA256_LEN];

	memcpy(d2, DIGEST, sizeof(d2));
	d2[31] ^= 0x80;
	CHECK(mint_openssl(&r, "tsa", "tsa_sha256", DIGEST, NONCE) == 0);
	CHECK_RC(verify(&r, d2, NONCE, "ca.pem"), TFA_EVERIFY);
	EXPECT_MSG("imprint");
	tfa_buf_free(&r);
}

static void test_wrong_nonce(void)
{
	tfa_buf r = TFA_BUF_INIT;

	CHECK(mint_openssl(&r, "tsa", "tsa_sha256", DIGEST, NONCE) == 0);
	CHECK_RC(verify(&r, DIGEST, "0123456789abcdee", "ca.pem"), TFA_EVERIFY);
	EXPECT_MSG("nonce");
	/* A leading zero is the same integer: the hex form is fixed-width. */
	CHECK(mint_openssl(&r, "tsa", "tsa_sha256", DIGEST, "00000000000000ff") == 0);
	CHECK_OK(verify(&r, DIGEST, "00000000000000ff", "ca.pem"));
	CHECK_RC(verify(&r, DIGEST, "0000000000000fff", "ca.pem"), TFA_EVERIFY);
	tfa_buf_free(&r);
}

static void test_wrong_ca(void)
{
	tfa_buf r = TFA_BUF_INIT;

	CHECK(mint_openssl(&r, "tsa", "tsa_sha256", DIGEST, NONCE) == 0);
	CHECK_RC(verify(&r, DIGEST, NONCE, "other-ca.pem"), TFA_EVERIFY);
	EXPECT_MSG("chain");
	CHECK(mint_openssl(&r, "tsa-other", "tsa_sha256", DIGEST, NONCE) == 0);
	CHECK_RC(verify(&r, DIGEST, NONCE, "ca.pem"), TFA_EVERIFY);
	EXPECT_MSG("chain");
	CHECK_OK(verify(&r, DIGEST, NONCE, "other-ca.pem"));
	/* Only a root is an anchor: the TSA's own certificate in the CA file is not enough. */
	CHECK(mint_openssl(&r, "tsa", "tsa_sha256", DIGEST, NONCE) == 0);
	CHECK_RC(verify(&r, DIGEST, NONCE, "tsa.pem"), TFA_EVERIFY);
	CHECK(mint_openssl(&r, "tsa-other", "tsa_sha256", DIGEST, NONCE) == 0);
	/* A CA file may hold several anchors. */
	{
		size_t a, b;
		char *ca = tfa_test_get_file(ca_dir(), "ca.pem", &a);
		char *other = tfa_test_get_file(ca_dir(), "other-ca.pem", &b);
		tfa_buf both = TFA_BUF_INIT;

		CHECK_OK(tfa_buf_append(&both, ca, a));
		CHECK_OK(tfa_buf_append(&both, other, b));
		tfa_test_put_file(ca_dir(), "both.pem", both.data, both.len);
		CHECK_OK(verify(&r, DIGEST, NONCE, "both.pem"));
		tfa_buf_free(&both);
		free(ca);
		free(other);
	}
	tfa_buf_free(&r);
}

static void test_eku_not_critical(void)
{
	tfa_buf r = TFA_BUF_INIT;

	/* openssl ts -reply will not sign with it; a careless TSA might. */
	CHECK(mint_openssl(&r, "tsa-noncrit", "tsa_sha256", DIGEST, NONCE) != 0);
	mint_cms(&r, "tsa-noncrit", "tsa-noncrit", T_2018, DIGEST, NONCE);
	CHECK_RC(verify(&r, DIGEST, NONCE, "ca.pem"), TFA_EVERIFY);
	EXPECT_MSG("not critical");
	tfa_buf_free(&r);
}

static void test_eku_missing(void)
{
	tfa_buf r = TFA_BUF_INIT;

	CHECK(mint_openssl(&r, "tsa-noeku", "tsa_sha256", DIGEST, NONCE) != 0);
	mint_cms(&r, "tsa-noeku", "tsa-noeku", T_2018, DIGEST, NONCE);
	CHECK_RC(verify(&r, DIGEST, NONCE, "ca.pem"), TFA_EVERIFY);
	EXPECT_MSG("no extended key usage");
	tfa_buf_free(&r);
}

static void test_expiry_at_gentime(void)
{
	tfa_buf r = TFA_BUF_INIT;

	/* Stamped now by a certificate that expired in 2020. */
	CHECK(mint_openssl(&r, "tsa-expired", "tsa_sha256", DIGEST, NONCE) == 0);
	CHECK_RC(verify(&r, DIGEST, NONCE, "ca.pem"), TFA_EVERIFY);
	EXPECT_MSG("not valid at genTime");
	CHECK(strstr(tfa_error_last()->detail, "expired") != NULL);
	/* Stamped in 2018, while it was valid: still good today. */
	mint_cms(&r, "tsa-expired", "tsa-expired", T_2018, DIGEST, NONCE);
	CHECK_OK(verify(&r, DIGEST, NONCE, "ca.pem"));
	/* Stamped in 2014, before it was valid. */
	mint_cms(&r, "tsa-expired", "tsa-expired", T_2014, DIGEST, NONCE);
	CHECK_RC(verify(&r, DIGEST, NONCE, "ca.pem"), TFA_EVERIFY);
	EXPECT_MSG("not valid at genTime");
	tfa_buf_free(&r);
}

static void test_ess_mismatch(void)
{
	tfa_buf r = TFA_BUF_INIT;

	/* Signed by tsa, but the signing-certificate attribute names tsa-other. */
	mint_cms(&r, "tsa", "tsa-other", T_2018, DIGEST, NONCE);
	CHECK_RC(verify(&r, DIGEST, NONCE, "ca.pem"), TFA_EVERIFY);
	EXPECT_MSG("ESS");
	tfa_buf_free(&r);
}

static void test_eku_extra_purpose(void)
{
	tfa_buf r = TFA_BUF_INIT;

	/* Critical, but timeStamping is not its only purpose. */
	CHECK(mint_openssl(&r, "tsa-multieku", "tsa_sha256", DIGEST, NONCE) != 0);
	mint_cms(&r, "tsa-multieku", "tsa-multieku", T_2018, DIGEST, NONCE);
	CHECK_RC(verify(&r, DIGEST, NONCE, "ca.pem"), TFA_EVERIFY);
	EXPECT_MSG("not timeStamping alone");
	tfa_buf_free(&r);
}

static void test_ess_missing(void)
{
	tfa_buf r = TFA_BUF_INIT;

	mint_cms(&r, "tsa", NULL, T_2018, DIGEST, NONCE);
	CHECK_RC(verify(&r, DIGEST, NONCE, "ca.pem"), TFA_EVERIFY);
	EXPECT_MSG("ESS");
	tfa_buf_free(&r);
}

static void test_imprint_not_sha256(void)
{
	tfa_buf r = TFA_BUF_INIT;
	mint_opts o = {"tsa", "tsa", T_2018, NULL, NONCE, NID_sha3_256, 0, NULL};

	/* The same 32 bytes, labelled as another hash. */
	o.digest = DIGEST;
	mint_cms_ex(&r, &o);
	CHECK_RC(verify(&r, DIGEST, NONCE, "ca.pem"), TFA_EVERIFY);
	EXPECT_MSG("not SHA-256");
	tfa_buf_free(&r);
}

static void test_signer_cert_absent(void)
{
	tfa_buf r = TFA_BUF_INIT;
	mint_opts o = {"tsa", "tsa", T_2018, NULL, NONCE, 0, 1, NULL};

	o.digest = DIGEST;
	mint_cms_ex(&r, &o);
	CHECK_RC(verify(&r, DIGEST, NONCE, "ca.pem"), TFA_EVERIFY);
	EXPECT_MSG("signer's certificate");
	tfa_buf_free(&r);
}

static void test_tsa_name(void)
{
	tfa_buf r = TFA_BUF_INIT;
	mint_opts o = {"tsa", "tsa", T_2018, NULL, NONCE, 0, 0, "tsa"};

	o.digest = DIGEST;
	mint_cms_ex(&r, &o);
	CHECK_OK(verify(&r, DIGEST, NONCE, "ca.pem"));
	/* The token claims to come from another TSA than its signer. */
	o.tsa_name = "tsa-other";
	mint_cms_ex(&r, &o);
	CHECK_RC(verify(&r, DIGEST, NONCE, "ca.pem"), TFA_EVERIFY);
	EXPECT_MSG("TSA name");
	tfa_buf_free(&r);
}

static void test_not_granted(void)
{
	/* TimeStampResp { { rejection, "no" } } and { { waiting } }. */
	static const uint8_t rejection[] = {0x30, 0x0b, 0x30, 0x09, 0x02, 0x01, 0x02,
					    0x30, 0x04, 0x0c, 0x02, 'n',  'o'};
	static const uint8_t waiting[] = {0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x03};
	tfa_tsa_info info;

	CHECK_RC(
	    tfa_tsa_verify(&info, rejection, sizeof(rejection), DIGEST, NONCE, in_ca("ca.pem")),
	    TFA_EVERIFY);
	EXPECT_MSG("rejection");
	CHECK_STREQ(tfa_error_last()->detail, "no");
	CHECK_RC(tfa_tsa_verify(&info, waiting, sizeof(waiting), DIGEST, NONCE, in_ca("ca.pem")),
		 TFA_EVERIFY);
	EXPECT_MSG("waiting");
}

static void test_malformed(void)
{
	tfa_buf r = TFA_BUF_INIT, big = TFA_BUF_INIT;
	tfa_tsa_info info;
	static const uint8_t garbage[] = "\x30\x82\xff\xffnot a TimeStampResp";
	/* granted, but no token */
	static const uint8_t no_token[] = {0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00};
	int bad = 0;

	CHECK(mint_openssl(&r, "tsa", "tsa_sha256", DIGEST, NONCE) == 0);
	/* Every strict prefix, including the empty one. */
	for (size_t n = 0; n < r.len; n++)
		if (tfa_tsa_verify(&info, r.data, n, DIGEST, NONCE, in_ca("ca.pem")) != TFA_EFORMAT)
			bad++;
	CHECK(bad == 0);
	CHECK_RC(
	    tfa_tsa_verify(&info, garbage, sizeof(garbage) - 1, DIGEST, NONCE, in_ca("ca.pem")),
	    TFA_EFORMAT);
	CHECK_RC(tfa_tsa_verify(&info, no_token, sizeof(no_token), DIGEST, NONCE, in_ca("ca.pem")),
		 TFA_EFORMAT);
	/* Trailing bytes after the response. */
	CHECK_OK(tfa_buf_putc(&r, 0));
	CHECK_RC(verify(&r, DIGEST, NONCE, "ca.pem"), TFA_EFORMAT);
	/* Over the size cap, whatever it holds. */
	CHECK_OK(tfa_buf_reserve(&big, TFA_TSA_RESP_MAX + 1));
	memset(big.data, 0x30, TFA_TSA_RESP_MAX + 1);
	CHECK_RC(
	    tfa_tsa_verify(&info, big.data, TFA_TSA_RESP_MAX + 1, DIGEST, NONCE, in_ca("ca.pem")),
	    TFA_EFORMAT);
	tfa_buf_free(&big);
	tfa_buf_free(&r);
}

static void test_bad_arguments(void)
{
	tfa_buf r = TFA_BUF_INIT;
	tfa_tsa_info info;

	CHECK(mint_openssl(&r, "tsa", "tsa_sha256", DIGEST, NONCE) == 0);
	memset(&info, 0x5a, sizeof(info));
	/* The nonce is exactly 16 lowercase hex digits. */
	CHECK_RC(verify(&r, DIGEST, "0123456789ABCDEF", "ca.pem"), TFA_EFORMAT);
	CHECK_RC(verify(&r, DIGEST, "123456789abcdef", "ca.pem"), TFA_EFORMAT);
	CHECK_RC(verify(&r, DIGEST, "0123456789abcdef0", "ca.pem"), TFA_EFORMAT);
	/* The CA file: absent, or without a certificate. */
	CHECK_RC(verify(&r, DIGEST, NONCE, "no-such.pem"), TFA_ENOTFOUND);
	CHECK_RC(verify(&r, DIGEST, NONCE, "tsa.key"), TFA_EUSAGE);
	CHECK_RC(verify(&r, DIGEST, NONCE, "newcerts"), TFA_EUSAGE);
	CHECK_RC(tfa_tsa_verify(NULL, r.data, r.len, DIGEST, NONCE, in_ca("ca.pem")), TFA_EUSAGE);
	CHECK_RC(tfa_tsa_verify(&info, r.data, r.len, DIGEST, NONCE, NULL), TFA_EUSAGE);
	/* Nothing is written on failure. */
	CHECK((unsigned char)info.serial_hex[0] == 0x5a && info.gen_time != 0);
	tfa_buf_free(&r);
}

/* ---- the request, and the check of a reply ------------------------------------------------- */

static void test_request_der(void)
{
	uint8_t *der = NULL;
	size_t len = 0;
	const unsigned char *p;
	TS_REQ *req;
	TS_MSG_IMPRINT *mi;
	ASN1_OCTET_STRING *md;
	ASN1_INTEGER *want = nonce_int(NONCE);

	CHECK_OK(tfa_tsa_request_der(&der, &len, DIGEST, NONCE));
	p = der;
	req = d2i_TS_REQ(NULL, &p, (long)len);
	CHECK(req != NULL && p == der + len);
	if (req != NULL) {
		CHECK(TS_REQ_get_version(req) == 1);
		CHECK(TS_REQ_get_cert_req(req) == 1);
		CHECK(ASN1_INTEGER_cmp(TS_REQ_get_nonce(req), want) == 0);
		mi = TS_REQ_get_msg_imprint(req);
		md = TS_MSG_IMPRINT_get_msg(mi);
		CHECK(OBJ_obj2nid(TS_MSG_IMPRINT_get_algo(mi)->algorithm) == NID_sha256);
		CHECK(ASN1_STRING_length(md) == TFA_SHA256_LEN &&
		      memcmp(ASN1_STRING_get0_data(md), DIGEST, TFA_SHA256_LEN) == 0);
	}
	TS_REQ_free(req);
	ASN1_INTEGER_free(want);
	OPENSSL_free(der);
	/* The nonce is exactly 16 lowercase hex digits; nothing is returned otherwise. */
	der = (uint8_t *)"x";
	CHECK_RC(tfa_tsa_request_der(&der, &len, DIGEST, "0123456789ABCDEF"), TFA_EFORMAT);
	CHECK(der == NULL && len == 0);
	CHECK_RC(tfa_tsa_request_der(&der, &len, DIGEST, "0123"), TFA_EFORMAT);
	CHECK_RC(tfa_tsa_request_der(&der, &len, NULL, NONCE), TFA_EUSAGE);
}

static void test_check_reply(void)
{
	static const uint8_t rejection[] = {0x30, 0x0b, 0x30, 0x09, 0x02, 0x01, 0x02,
					    0x30, 0x04, 0x0c, 0x02, 'n',  'o'};
	static const uint8_t no_token[] = {0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00};
	tfa_buf r = TFA_BUF_INIT;
	uint8_t other[TFA_SHA256_LEN];

	CHECK(mint_openssl(&r, "tsa", "tsa_sha256", DIGEST, NONCE) == 0);
	CHECK_OK(tfa_tsa_check_reply(r.data, r.len, DIGEST, NONCE));
	/* An answer to another request. */
	CHECK_RC(tfa_tsa_check_reply(r.data, r.len, DIGEST, "0123456789abcdee"), TFA_EVERIFY);
	EXPECT_MSG("nonce does not match");
	memcpy(other, DIGEST, sizeof(other));
	other[0] ^= 1;
	CHECK_RC(tfa_tsa_check_reply(r.data, r.len, other, NONCE), TFA_EVERIFY);
	EXPECT_MSG("imprint does not match");
	/* Refused, empty-handed, truncated, padded. */
	CHECK_RC(tfa_tsa_check_reply(rejection, sizeof(rejection), DIGEST, NONCE), TFA_EVERIFY);
	EXPECT_MSG("TSA refused");
	CHECK_STREQ(tfa_error_last()->detail, "no");
	CHECK_RC(tfa_tsa_check_reply(no_token, sizeof(no_token), DIGEST, NONCE), TFA_EFORMAT);
	CHECK_RC(tfa_tsa_check_reply(r.data, r.len - 1, DIGEST, NONCE), TFA_EFORMAT);
	CHECK_OK(tfa_buf_putc(&r, 0));
	CHECK_RC(tfa_tsa_check_reply(r.data, r.len, DIGEST, NONCE), TFA_EFORMAT);
	CHECK_RC(tfa_tsa_check_reply(r.data, 0, DIGEST, NONCE), TFA_EFORMAT);
	tfa_buf_free(&r);
}

#if !TFATTEST_VERIFIER_ONLY
/* ---- fetching from tests/tsa/tsa_server.py -------------------------------------------------- */

#include "record/tsa_request.h"

static pid_t g_server;
static int g_port;

static void stop_server(void)
{
	if (g_server > 0) {
		kill(g_server, SIGTERM);
		waitpid(g_server, NULL, 0);
		g_server = 0;
	}
}

static int server_port(void)
{
	char script[4096], *pf;
	const char *src = getenv("TFA_SOURCE_DIR");

	if (g_server > 0)
		return g_port;
	snprintf(script, sizeof(script), "%s/tests/tsa/tsa_server.py", src ? src : ".");
	pf = tfa_test_path(ca_dir(), "port");
	unlink(pf);
	g_server = fork();
	if (g_server < 0)
		exit(2);
	if (g_server == 0) {
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(127);
		execl("/usr/bin/python3", "python3", script, "--dir", ca_dir(), "--port-file", pf,
		      (char *)NULL);
		_exit(127);
	}
	atexit(stop_server);
	for (int i = 0; i < 200 && g_port == 0; i++) {
		FILE *f = fopen(pf, "r");

		if (f != NULL) {
			if (fscanf(f, "%d", &g_port) != 1)
				g_port = 0;
			fclose(f);
		}
		if (g_port == 0)
			usleep(50 * 1000);
	}
	free(pf);
	if (g_port == 0) {
		fprintf(stderr, "tsa_server.py did not start\n");
		exit(2);
	}
	return g_port;
}

static tfa_err fetch(tfa_buf *r, char nonce[TFA_TSA_NONCE_HEX], const char *path)
{
	char url[256];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", server_port(), path);
	return tfa_tsa_fetch(r, nonce, url, DIGEST);
}

static void test_fetch_ok(void)
{
	tfa_buf r = TFA_BUF_INIT;
	char n1[TFA_TSA_NONCE_HEX], n2[TFA_TSA_NONCE_HEX];
	tfa_tsa_info info;

	tfa_buf_init(&r, TFA_TSA_RESP_MAX);
	CHECK_OK(fetch(&r, n1, "/"));
	CHECK(strlen(n1) == 16 && strspn(n1, "0123456789abcdef") == 16);
	CHECK_OK(tfa_tsa_verify(&info, r.data, r.len, DIGEST, n1, in_ca("ca.pem")));
	/* A fresh nonce each time; the response is appended. */
	{
		size_t first = r.len;

		CHECK_OK(fetch(&r, n2, "/"));
		CHECK(strcmp(n1, n2) != 0);
		CHECK(r.len > first);
		CHECK_OK(tfa_tsa_verify(&info, r.data + first, r.len - first, DIGEST, n2,
					in_ca("ca.pem")));
	}
	tfa_buf_free(&r);
}

static void test_fetch_http_error(void)
{
	tfa_buf r = TFA_BUF_INIT;
	char n[TFA_TSA_NONCE_HEX];

	CHECK_RC(fetch(&r, n, "/error/500"), TFA_EIO);
	EXPECT_MSG("HTTP status 500");
	CHECK_STREQ(tfa_error_last()->detail, "HTTP 500");
	CHECK(r.len == 0);
	tfa_buf_free(&r);
}

static void test_fetch_rejected(void)
{
	tfa_buf r = TFA_BUF_INIT;
	char n[TFA_TSA_NONCE_HEX];

	CHECK_RC(fetch(&r, n, "/reject"), TFA_EVERIFY);
	EXPECT_MSG("rejection");
	CHECK_STREQ(tfa_error_last()->detail, "test rejection");
	CHECK_RC(fetch(&r, n, "/garbage"), TFA_EFORMAT);
	/* A token for another request is not kept. */
	CHECK_RC(fetch(&r, n, "/otherdigest"), TFA_EVERIFY);
	EXPECT_MSG("imprint does not match");
	CHECK_RC(fetch(&r, n, "/othernonce"), TFA_EVERIFY);
	EXPECT_MSG("nonce does not match");
	CHECK(n[0] == '\0');
	CHECK(r.len == 0);
	tfa_buf_free(&r);
}

static void test_fetch_unreachable(void)
{
	tfa_buf r = TFA_BUF_INIT;
	char n[TFA_TSA_NONCE_HEX], url[128];
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	/* A port that was free a moment ago and has no listener. */
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	      getsockname(s, (struct sockaddr *)&a, &al) == 0);
	close(s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(a.sin_port));
	CHECK_RC(tfa_tsa_fetch(&r, n, url, DIGEST), TFA_EIO);
	CHECK(strncmp(tfa_error_last()->detail, "curl: ", 6) == 0);
	{
		char host[64];

		snprintf(host, sizeof(host), "(host 127.0.0.1:%d, curl 7)", ntohs(a.sin_port));
		EXPECT_MSG(host);
	}
	/* Only http and https. */
	CHECK_RC(tfa_tsa_fetch(&r, n, "file:///etc/passwd", DIGEST), TFA_EIO);
	CHECK(r.len == 0);
	tfa_buf_free(&r);
}
#endif

TFA_TEST_MAIN(T(test_good), T(test_good_ess_v1_with_chain), T(test_fractional_gentime),
	      T(test_minter_control), T(test_tampered), T(test_wrong_digest), T(test_wrong_nonce),
	      T(test_wrong_ca), T(test_eku_not_critical), T(test_eku_missing),
	      T(test_expiry_at_gentime), T(test_ess_mismatch), T(test_eku_extra_purpose),
	      T(test_ess_missing), T(test_imprint_not_sha256), T(test_signer_cert_absent),
	      T(test_tsa_name), T(test_not_granted), T(test_malformed), T(test_bad_arguments),
	      T(test_request_der), T(test_check_reply)
#if !TFATTEST_VERIFIER_ONLY
				       ,
	      T(test_fetch_ok), T(test_fetch_http_error), T(test_fetch_rejected),
	      T(test_fetch_unreachable)
#endif
)
