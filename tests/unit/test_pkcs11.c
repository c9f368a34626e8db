/*
 * The pkcs11: signer against real SoftHSM2 tokens, through the public API.
 *
 * Each token lives in its own temporary directory, made by
 * softhsm/init-token.sh (found through $TFA_SOURCE_DIR). Signatures are
 * checked with OpenSSL against tfa_signer_spki(), independently of the
 * library's own check. Every error message is checked for the PIN.
 */
#define _GNU_SOURCE 1 /* dladdr */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "tfa_test.h"
#include "tfattest/pkcs11.h"
#include "tfattest/signer.h"

/* PINs are kept masked so that a scan of this process's memory finds only unmasked copies. */
#define PIN_MASK 0x5a

typedef struct token {
	char dir[4096];
	char conf[4200];
	char module[4096];
	char pin_file[4200];
	char rsa_uri[8192];
	char ec_uri[8192];
	char alwaysauth_uri[8192];
	char certkey_uri[8192];
	uint8_t pin_masked[64];
	size_t pin_len;
	int ok;
} token;

static token main_tok;

/* Reads NAME='value' lines printed by init-token.sh. */
static void take_line(token *t, const char *line)
{
	static const struct {
		const char *name;
		size_t off, size;
	} vars[] = {
	    {"export SOFTHSM2_CONF=", offsetof(token, conf), sizeof(((token *)0)->conf)},
	    {"TFATTEST_PKCS11_MODULE=", offsetof(token, module), sizeof(((token *)0)->module)},
	    {"TFATTEST_PIN_FILE=", offsetof(token, pin_file), sizeof(((token *)0)->pin_file)},
	    {"TFATTEST_RSA_URI=", offsetof(token, rsa_uri), sizeof(((token *)0)->rsa_uri)},
	    {"TFATTEST_EC_URI=", offsetof(token, ec_uri), sizeof(((token *)0)->ec_uri)},
	    {"TFATTEST_ALWAYSAUTH_URI=", offsetof(token, alwaysauth_uri),
	     sizeof(((token *)0)->alwaysauth_uri)},
	    {"TFATTEST_CERTKEY_URI=", offsetof(token, certkey_uri),
	     sizeof(((token *)0)->certkey_uri)},
	};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		size_t n = strlen(vars[i].name);
		if (strncmp(line, vars[i].name, n) == 0) {
			const char *v = line + n;
			size_t len = strlen(v);
			char *dst = (char *)t + vars[i].off;
			while (len > 0 && (v[len - 1] == '\n' || v[len - 1] == '\r'))
				len--;
			if (len >= 2 && v[0] == '\'' && v[len - 1] == '\'') {
				v++;
				len -= 2;
			}
			if (len >= vars[i].size)
				len = vars[i].size - 1;
			memcpy(dst, v, len);
			dst[len] = '\0';
		}
	}
}

/* The PIN file's content, masked, without ever holding it in the clear in a heap buffer. */
static void load_pin(token *t)
{
	char buf[128];
	ssize_t n;
	int fd = open(t->pin_file, O_RDONLY);

	t->pin_len = 0;
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	for (ssize_t i = 0; i < n && (size_t)i < sizeof(t->pin_masked); i++)
		t->pin_masked[i] = (uint8_t)(buf[i] ^ PIN_MASK);
	t->pin_len = n > 0 ? (size_t)n : 0;
	OPENSSL_cleanse(buf, sizeof(buf));
}

/* The PIN in the clear, into out (caller wipes). */
static void pin_clear(const token *t, char *out, size_t outsz)
{
	size_t n = t->pin_len < outsz - 1 ? t->pin_len : outsz - 1;

	for (size_t i = 0; i < n; i++)
		out[i] = (char)(t->pin_masked[i] ^ PIN_MASK);
	out[n] = '\0';
}

/* 1 when s holds the token's PIN. */
static int has_pin(const token *t, const char *s, size_t len)
{
	if (t->pin_len == 0)
		return 0;
	for (size_t i = 0; i + t->pin_len <= len; i++) {
		size_t j = 0;
		while (j < t->pin_len && (uint8_t)(s[i + j] ^ PIN_MASK) == t->pin_masked[j])
			j++;
		if (j == t->pin_len)
			return 1;
	}
	return 0;
}

static void check_no_pin_in_error(const token *t)
{
	const tfa_error *e = tfa_error_last();

	if (has_pin(t, e->message, strlen(e->message)) ||
	    has_pin(t, e->detail, strlen(e->detail))) {
		fprintf(stderr, "%s: the PIN appears in an error message\n", tfa_test_current);
		tfa_test_failures++;
	}
}

static const char *source_dir(void)
{
	const char *d = getenv("TFA_SOURCE_DIR");
	return d ? d : ".";
}

/* Makes a token with init-token.sh ARGS in a new temporary directory and points SoftHSM2 at it. */
static int make_token(token *t, const char *args)
{
	char cmd[9000], line[9000];
	char *tmp = tfa_test_tmpdir();
	FILE *p;
	int status;

	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "%s", tmp);
	free(tmp);
	snprintf(cmd, sizeof(cmd), "sh '%s/softhsm/init-token.sh' '%s/tok' %s", source_dir(),
		 t->dir, args);
	p = popen(cmd, "r");
	if (p == NULL) {
		perror("popen");
		return 0;
	}
	while (fgets(line, sizeof(line), p) != NULL)
		take_line(t, line);
	status = pclose(p);
	if (status != 0 || t->conf[0] == '\0') {
		fprintf(stderr, "init-token.sh %s failed (status %d)\n", args, status);
		return 0;
	}
	setenv("SOFTHSM2_CONF", t->conf, 1);
	unsetenv("TFATTEST_PKCS11_PIN");
	unsetenv("TFATTEST_PKCS11_MODULE");
	load_pin(t);
	t->ok = t->pin_len > 0;
	return t->ok;
}

static void use_token(const token *t)
{
	setenv("SOFTHSM2_CONF", t->conf, 1);
	unsetenv("TFATTEST_PKCS11_PIN");
	unsetenv("TFATTEST_PKCS11_MODULE");
}

/*
 * Adds a key with CKA_SIGN false. pkcs11-tool cannot make one (SoftHSM2
 * defaults CKA_SIGN to true), so this drives the module directly. Only
 * while no signer is open: it initializes and finalizes the module.
 */
static int add_nosign_key(const token *t)
{
	void *dl = dlopen(t->module, RTLD_NOW | RTLD_LOCAL);
	CK_C_GetFunctionList getfl;
	CK_FUNCTION_LIST_PTR fl = NULL;
	CK_SLOT_ID slots[16];
	CK_ULONG nslots = 16;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE pub, priv;
	CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = 2048;
	CK_BYTE e[] = {1, 0, 1}, id[] = {3};
	char label[] = "tfattest-nosign", pin[128];
	CK_ATTRIBUTE pt[] = {
	    {CKA_TOKEN, &yes, 1},
	    {CKA_LABEL, label, sizeof(label) - 1},
	    {CKA_ID, id, 1},
	    {CKA_MODULUS_BITS, &bits, sizeof(bits)},
	    {CKA_PUBLIC_EXPONENT, e, 3},
	    {CKA_VERIFY, &no, 1},
	    {CKA_ENCRYPT, &yes, 1},
	};
	CK_ATTRIBUTE vt[] = {
	    {CKA_TOKEN, &yes, 1},     {CKA_PRIVATE, &yes, 1},
	    {CKA_SENSITIVE, &yes, 1}, {CKA_LABEL, label, sizeof(label) - 1},
	    {CKA_ID, id, 1},	      {CKA_SIGN, &no, 1},
	    {CKA_DECRYPT, &yes, 1},
	};
	int ok = 0;

	if (dl == NULL)
		return 0;
	getfl = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	if (getfl == NULL || getfl(&fl) != CKR_OK || fl->C_Initialize(NULL) != CKR_OK)
		goto out;
	if (fl->C_GetSlotList(CK_TRUE, slots, &nslots) == CKR_OK && nslots > 0 &&
	    fl->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) ==
		CKR_OK) {
		pin_clear(t, pin, sizeof(pin));
		if (fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) == CKR_OK) {
			ok = fl->C_GenerateKeyPair(s, &mech, pt, 7, vt, 7, &pub, &priv) == CKR_OK;
			fl->C_Logout(s);
		}
		OPENSSL_cleanse(pin, sizeof(pin));
		fl->C_CloseSession(s);
	}
	fl->C_Finalize(NULL);
out:
	dlclose(dl);
	return ok;
}

static void remove_main(void)
{
	if (main_tok.dir[0] != '\0')
		tfa_test_rmtree(main_tok.dir);
}

static const token *get_main(void)
{
	static int tried;

	if (!tried) {
		tried = 1;
		atexit(remove_main);
		if (make_token(&main_tok, "--extra-keys") && !add_nosign_key(&main_tok)) {
			fprintf(stderr, "cannot add the CKA_SIGN=false key\n");
			main_tok.ok = 0;
		}
	}
	if (!main_tok.ok) {
		fprintf(stderr, "%s: no SoftHSM2 token\n", tfa_test_current);
		tfa_test_failures++;
		return NULL;
	}
	use_token(&main_tok);
	return &main_tok;
}

/* "pkcs11:<path>?module-path=M&pin-source=file:P" for the token. */
static void uri_for(char *out, size_t n, const token *t, const char *path, int with_pin)
{
	snprintf(out, n, "pkcs11:%s?module-path=%s%s%s", path, t->module,
		 with_pin ? "&pin-source=file:" : "", with_pin ? t->pin_file : "");
}

/* Independent check with OpenSSL of a signature over digest. */
static int openssl_verifies(const tfa_signer *s, tfa_sig_alg alg, const uint8_t *digest,
			    const uint8_t *sig, size_t siglen)
{
	size_t len;
	const uint8_t *der = tfa_signer_spki(s, &len);
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &der, (long)len);
	EVP_PKEY_CTX *ctx = pk ? EVP_PKEY_CTX_new(pk, NULL) : NULL;
	int ok = 0;

	if (ctx == NULL || EVP_PKEY_verify_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0)
		goto out;
	if (alg == TFA_ALG_RSASSA_PSS_SHA_256 &&
	    (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) <= 0 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32) <= 0))
		goto out;
	if (alg == TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0)
		goto out;
	ok = EVP_PKEY_verify(ctx, sig, siglen, digest, 32) == 1;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return ok;
}

static void sign_and_check(tfa_signer *s, tfa_sig_alg alg, size_t want_len)
{
	uint8_t digest[32];
	tfa_buf sig;

	tfa_buf_init(&sig, 4096);
	RAND_bytes(digest, sizeof(digest));
	CHECK_OK(tfa_signer_sign(&sig, s, alg, digest));
	if (want_len)
		CHECK(sig.len == want_len);
	CHECK(sig.len > 0 && openssl_verifies(s, alg, digest, sig.data, sig.len));
	/* A flipped digest bit must not verify. */
	digest[0] ^= 1;
	CHECK(!openssl_verifies(s, alg, digest, sig.data, sig.len));
	tfa_buf_free(&sig);
}

static tfa_signer *open_ok(const char *uri)
{
	tfa_signer *s = NULL;

	CHECK_OK(tfa_signer_open(&s, uri));
	return s;
}

/* Opens uri expecting failure with code and every needle in the message. */
static void open_fails(const token *t, const char *uri, tfa_err code, const char *const *needles)
{
	tfa_signer *s = NULL;
	tfa_err rc = tfa_signer_open(&s, uri);

	CHECK(s == NULL);
	if (rc != code) {
		fprintf(stderr, "%s: open gave %s (%s), wanted %s\n", tfa_test_current,
			tfa_err_name(rc), tfa_error_last()->message, tfa_err_name(code));
		tfa_test_failures++;
	}
	for (; needles && *needles; needles++) {
		if (strstr(tfa_error_last()->message, *needles) == NULL) {
			fprintf(stderr, "%s: message \"%s\" lacks \"%s\"\n", tfa_test_current,
				tfa_error_last()->message, *needles);
			tfa_test_failures++;
		}
	}
	/* Exit status 2: a usage, configuration or environment error. */
	CHECK(tfa_err_exit_status(rc) == 2);
	if (t != NULL)
		check_no_pin_in_error(t);
	tfa_signer_free(s);
}

static void test_rsa_pss(void)
{
	const token *t = get_main();
	tfa_signer *s;

	if (t == NULL || (s = open_ok(t->rsa_uri)) == NULL)
		return;
	CHECK_STREQ(tfa_signer_backend_name(s), "pkcs11");
	CHECK(tfa_signer_default_alg(s) == TFA_ALG_RSASSA_PSS_SHA_256);
	sign_and_check(s, TFA_ALG_RSASSA_PSS_SHA_256, 384);
	sign_and_check(s, TFA_ALG_RSASSA_PSS_SHA_256, 384);
	CHECK_RC(tfa_signer_check_alg(s, TFA_ALG_ECDSA_SHA_256), TFA_EUSAGE);
	tfa_signer_free(s);
}

static void test_rsa_pkcs1(void)
{
	const token *t = get_main();
	tfa_signer *s;

	if (t == NULL || (s = open_ok(t->rsa_uri)) == NULL)
		return;
	sign_and_check(s, TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256, 384);
	tfa_signer_free(s);
}

static void test_ecdsa(void)
{
	const token *t = get_main();
	tfa_signer *s;
	uint8_t digest[32] = {1};
	tfa_buf sig;
	const unsigned char *p;
	ECDSA_SIG *es;

	if (t == NULL || (s = open_ok(t->ec_uri)) == NULL)
		return;
	CHECK(tfa_signer_default_alg(s) == TFA_ALG_ECDSA_SHA_256);
	sign_and_check(s, TFA_ALG_ECDSA_SHA_256, 0);
	/* The signature is DER (ECDSA-Sig-Value), not raw r||s. */
	tfa_buf_init(&sig, 4096);
	CHECK_OK(tfa_signer_sign(&sig, s, TFA_ALG_ECDSA_SHA_256, digest));
	p = sig.data;
	es = d2i_ECDSA_SIG(NULL, &p, (long)sig.len);
	CHECK(es != NULL && p == sig.data + sig.len);
	ECDSA_SIG_free(es);
	CHECK_RC(tfa_signer_sign(&sig, s, TFA_ALG_RSASSA_PSS_SHA_256, digest), TFA_EUSAGE);
	tfa_buf_free(&sig);
	tfa_signer_free(s);
}

static const char *prov(const tfa_signer *s, const char *name)
{
	size_t n;
	const tfa_kv *kv = tfa_signer_provenance(s, &n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].name, name) == 0)
			return kv[i].value;
	return NULL;
}

static void test_provenance(void)
{
	const token *t = get_main();
	tfa_signer *s;
	size_t n;
	const tfa_kv *kv;

	if (t == NULL || (s = open_ok(t->ec_uri)) == NULL)
		return;
	CHECK_STREQ(prov(s, "token_label"), "tfattest");
	CHECK_STREQ(prov(s, "token_manufacturer"), "SoftHSM project");
	CHECK_STREQ(prov(s, "token_model"), "SoftHSM v2");
	CHECK(prov(s, "token_serial") != NULL && strlen(prov(s, "token_serial")) == 16);
	CHECK_STREQ(prov(s, "key_label"), "tfattest-ec");
	CHECK_STREQ(prov(s, "key_id"), "02");
	kv = tfa_signer_provenance(s, &n);
	CHECK(n == 6);
	for (size_t i = 0; i < n; i++)
		CHECK(!has_pin(t, kv[i].value, strlen(kv[i].value)));
	tfa_signer_free(s);
}

/* The public key is read from the token, so it matches what pkcs11-tool exports. */
static void test_spki_matches_token(void)
{
	const token *t = get_main();
	tfa_signer *s;
	char cmd[9000], path[4300];
	size_t len;
	const uint8_t *spki;
	EVP_PKEY *pk = NULL;
	FILE *f;

	if (t == NULL || (s = open_ok(t->rsa_uri)) == NULL)
		return;
	snprintf(path, sizeof(path), "%s/rsa-pub.der", t->dir);
	snprintf(
	    cmd, sizeof(cmd),
	    "pkcs11-tool --module '%s' --read-object --type pubkey --id 01 -o '%s' >/dev/null 2>&1",
	    t->module, path);
	CHECK(system(cmd) == 0);
	f = fopen(path, "rb");
	if (f != NULL) {
		pk = d2i_PUBKEY_fp(f, NULL);
		fclose(f);
	}
	CHECK(pk != NULL);
	if (pk != NULL) {
		unsigned char *p = NULL;
		int n = i2d_PUBKEY(pk, &p);
		spki = tfa_signer_spki(s, &len);
		CHECK(n > 0 && (size_t)n == len && memcmp(p, spki, len) == 0);
		OPENSSL_free(p);
	}
	EVP_PKEY_free(pk);
	tfa_signer_free(s);
}

/* A key with a certificate and no public key object: the key comes from the certificate. */
static void test_public_key_from_certificate(void)
{
	const token *t = get_main();
	tfa_signer *s;
	char path[4300];
	FILE *f;
	X509 *x = NULL;
	size_t len;
	const uint8_t *spki;

	if (t == NULL || (s = open_ok(t->certkey_uri)) == NULL)
		return;
	snprintf(path, sizeof(path), "%s/tok/certkey/cert.pem", t->dir);
	f = fopen(path, "r");
	if (f != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	CHECK(x != NULL);
	if (x != NULL) {
		unsigned char *p = NULL;
		int n = i2d_PUBKEY(X509_get0_pubkey(x), &p);
		spki = tfa_signer_spki(s, &len);
		CHECK(n > 0 && (size_t)n == len && memcmp(p, spki, len) == 0);
		OPENSSL_free(p);
	}
	X509_free(x);
	sign_and_check(s, TFA_ALG_ECDSA_SHA_256, 0);
	tfa_signer_free(s);
}

/* Both keys of one token open at once; closing one leaves the other logged in. */
static void test_two_signers_one_token(void)
{
	const token *t = get_main();
	tfa_signer *a, *b;

	if (t == NULL || (a = open_ok(t->rsa_uri)) == NULL)
		return;
	b = open_ok(t->ec_uri);
	if (b != NULL) {
		sign_and_check(a, TFA_ALG_RSASSA_PSS_SHA_256, 384);
		sign_and_check(b, TFA_ALG_ECDSA_SHA_256, 0);
		tfa_signer_free(a);
		a = NULL;
		sign_and_check(b, TFA_ALG_ECDSA_SHA_256, 0);
	}
	tfa_signer_free(a);
	tfa_signer_free(b);
}

/* Module and PIN from TFATTEST_PKCS11_MODULE and TFATTEST_PKCS11_PIN. */
static void test_env_fallbacks(void)
{
	const token *t = get_main();
	tfa_signer *s;
	char pin[128];

	if (t == NULL)
		return;
	setenv("TFATTEST_PKCS11_MODULE", t->module, 1);
	pin_clear(t, pin, sizeof(pin));
	setenv("TFATTEST_PKCS11_PIN", pin, 1);
	OPENSSL_cleanse(pin, sizeof(pin));
	s = open_ok("pkcs11:token=tfattest;object=tfattest-rsa");
	if (s != NULL)
		sign_and_check(s, TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256, 384);
	tfa_signer_free(s);
	/* The URI wins over the environment. */
	setenv("TFATTEST_PKCS11_MODULE", "/nonexistent/module.so", 1);
	setenv("TFATTEST_PKCS11_PIN", "0000", 1);
	s = open_ok(t->ec_uri);
	tfa_signer_free(s);
	use_token(t);
}

static void test_pin_source_forms(void)
{
	const token *t = get_main();
	char uri[9000], path[4300], pin[128];
	const char *forms[] = {"file:", "file://", ""};
	tfa_signer *s;
	FILE *f;

	if (t == NULL)
		return;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		char src[4400];
		snprintf(src, sizeof(src), "%s%s", forms[i], t->pin_file);
		snprintf(uri, sizeof(uri),
			 "pkcs11:token=tfattest;object=tfattest-ec?module-path=%s&pin-source=%s",
			 t->module, src);
		s = open_ok(uri);
		tfa_signer_free(s);
	}
	/* CRLF line end */
	snprintf(path, sizeof(path), "%s/pin-crlf", t->dir);
	pin_clear(t, pin, sizeof(pin));
	f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "%s\r\n", pin);
		fclose(f);
	}
	OPENSSL_cleanse(pin, sizeof(pin));
	snprintf(uri, sizeof(uri), "pkcs11:object=tfattest-ec?module-path=%s&pin-source=file:%s",
		 t->module, path);
	s = open_ok(uri);
	tfa_signer_free(s);
	/* two lines, empty, missing, a directory */
	f = fopen(path, "w");
	if (f != NULL) {
		fputs("1234\n5678\n", f);
		fclose(f);
	}
	open_fails(t, uri, TFA_EUSAGE, (const char *const[]){"more than one line", NULL});
	f = fopen(path, "w");
	if (f != NULL)
		fclose(f);
	open_fails(t, uri, TFA_EUSAGE, (const char *const[]){"empty", NULL});
	unlink(path);
	open_fails(t, uri, TFA_EUSAGE, (const char *const[]){"cannot open the PIN file", NULL});
	snprintf(uri, sizeof(uri), "pkcs11:object=tfattest-ec?module-path=%s&pin-source=file:%s",
		 t->module, t->dir);
	open_fails(t, uri, TFA_EUSAGE, (const char *const[]){"not a regular file", NULL});
	snprintf(uri, sizeof(uri), "pkcs11:object=tfattest-ec?module-path=%s&pin-source=env:PIN",
		 t->module);
	open_fails(t, uri, TFA_EUSAGE, (const char *const[]){"pin-source", NULL});
}

static void test_pin_value(void)
{
	const token *t = get_main();
	char uri[9000], pin[128];
	tfa_signer *s;

	if (t == NULL)
		return;
	pin_clear(t, pin, sizeof(pin));
	snprintf(uri, sizeof(uri), "pkcs11:object=tfattest-ec?module-path=%s&pin-value=%s",
		 t->module, pin);
	OPENSSL_cleanse(pin, sizeof(pin));
	s = open_ok(uri);
	tfa_signer_free(s);
	/* RFC 7512: pin-value and pin-source together are refused. */
	strncat(uri, "&pin-source=file:/nonexistent", sizeof(uri) - strlen(uri) - 1);
	open_fails(t, uri, TFA_EUSAGE, (const char *const[]){"exclusive", NULL});
	OPENSSL_cleanse(uri, sizeof(uri));
}

static void test_module_missing(void)
{
	const token *t = get_main();

	if (t == NULL)
		return;
	open_fails(
	    t, "pkcs11:object=tfattest-rsa?module-path=/nonexistent/libmissing.so", TFA_EUSAGE,
	    (const char *const[]){"PKCS#11 module not found", "/nonexistent/libmissing.so", NULL});
	open_fails(t, "pkcs11:object=tfattest-rsa?module-path=relative/lib.so", TFA_EUSAGE,
		   (const char *const[]){"absolute", NULL});
	open_fails(t, "pkcs11:object=tfattest-rsa", TFA_EUSAGE,
		   (const char *const[]){"no PKCS#11 module", "TFATTEST_PKCS11_MODULE", NULL});
	open_fails(t, "pkcs11:object=tfattest-rsa?module-name=softhsm2", TFA_EUSAGE,
		   (const char *const[]){"module-name is not supported", NULL});
}

static void test_module_not_pkcs11(void)
{
	const token *t = get_main();
	Dl_info info;
	char uri[9000], path[4300];
	FILE *f;

	if (t == NULL)
		return;
	/* A real shared library without C_GetFunctionList: libcrypto itself. */
	CHECK(dladdr((void *)(uintptr_t)EVP_sha256, &info) != 0 && info.dli_fname != NULL);
	if (info.dli_fname != NULL && info.dli_fname[0] == '/') {
		snprintf(uri, sizeof(uri), "pkcs11:object=x?module-path=%s", info.dli_fname);
		open_fails(
		    t, uri, TFA_EUSAGE,
		    (const char *const[]){"is not a PKCS#11 module", "C_GetFunctionList", NULL});
	}
	/* Not a shared library at all. */
	snprintf(path, sizeof(path), "%s/notalib.so", t->dir);
	f = fopen(path, "w");
	if (f != NULL) {
		fputs("not an ELF file\n", f);
		fclose(f);
	}
	snprintf(uri, sizeof(uri), "pkcs11:object=x?module-path=%s", path);
	open_fails(t, uri, TFA_EUSAGE,
		   (const char *const[]){"cannot load the PKCS#11 module", NULL});
}

/* The module loads but C_Initialize fails: SoftHSM2 without a readable configuration. */
static void test_module_init_fails(void)
{
	const token *t = get_main();

	if (t == NULL)
		return;
	setenv("SOFTHSM2_CONF", "/nonexistent/softhsm2.conf", 1);
	open_fails(t, t->rsa_uri, TFA_EBACKEND,
		   (const char *const[]){"C_Initialize failed", "CKR_GENERAL_ERROR", NULL});
	CHECK_STREQ(tfa_error_last()->detail, "CKR_GENERAL_ERROR");
	use_token(t);
}

static void test_token_not_found(void)
{
	const token *t = get_main();
	char uri[9000];

	if (t == NULL)
		return;
	uri_for(uri, sizeof(uri), t, "token=no-such-token;object=tfattest-rsa", 1);
	open_fails(t, uri, TFA_EUSAGE,
		   (const char *const[]){"token not found", "tokens seen", "\"tfattest\"", NULL});
	uri_for(uri, sizeof(uri), t, "serial=0000000000000000", 1);
	open_fails(t, uri, TFA_EUSAGE, (const char *const[]){"token not found", NULL});
	uri_for(uri, sizeof(uri), t, "slot-id=1;object=tfattest-rsa", 1);
	open_fails(t, uri, TFA_EUSAGE, (const char *const[]){"token not found", NULL});
	uri_for(uri, sizeof(uri), t, "library-manufacturer=Nobody;object=tfattest-rsa", 1);
	open_fails(t, uri, TFA_EUSAGE, (const char *const[]){"library-manufacturer", NULL});
}

/* Every token attribute of the URI takes part in the match. */
static void test_token_attributes_match(void)
{
	const token *t = get_main();
	tfa_signer *s;
	char uri[9000], path[512];

	if (t == NULL || (s = open_ok(t->ec_uri)) == NULL)
		return;
	snprintf(path, sizeof(path),
		 "token=tfattest;manufacturer=SoftHSM%%20project;model=SoftHSM%%20v2;serial=%s;"
		 "library-manufacturer=SoftHSM;object=tfattest-ec;id=%%02;type=private",
		 prov(s, "token_serial"));
	tfa_signer_free(s);
	uri_for(uri, sizeof(uri), t, path, 1);
	s = open_ok(uri);
	CHECK(s == NULL || strcmp(prov(s, "key_label"), "tfattest-ec") == 0);
	tfa_signer_free(s);
}

static void test_key_not_found(void)
{
	const token *t = get_main();
	char uri[9000];

	if (t == NULL)
		return;
	uri_for(uri, sizeof(uri), t, "token=tfattest;object=no-such-key", 1);
	open_fails(t, uri, TFA_EUSAGE,
		   (const char *const[]){"key not found", "keys seen", "\"tfattest-rsa\" id 01",
					 "\"tfattest-ec\" id 02", NULL});
	uri_for(uri, sizeof(uri), t, "token=tfattest;object=tfattest-rsa;id=%02", 1);
	open_fails(t, uri, TFA_EUSAGE, (const char *const[]){"key not found", "id=02", NULL});
	/* Without a PIN the private keys stay hidden, and the message says so. */
	uri_for(uri, sizeof(uri), t, "token=tfattest;object=tfattest-rsa", 0);
	open_fails(t, uri, TFA_EUSAGE, (const char *const[]){"key not found", "no PIN", NULL});
	uri_for(uri, sizeof(uri), t, "object=tfattest-dup", 1);
	open_fails(t, uri, TFA_EUSAGE, (const char *const[]){"matches 2 private keys", NULL});
	uri_for(uri, sizeof(uri), t, "object=tfattest-rsa;type=public", 1);
	open_fails(t, uri, TFA_EUSAGE, (const char *const[]){"type=public", NULL});
	/* With one of the two same-label keys named by id, it opens. */
	uri_for(uri, sizeof(uri), t, "object=tfattest-dup;id=%07", 1);
	tfa_signer_free(open_ok(uri));
}

static void test_wrong_pin(void)
{
	const token *t = get_main();
	char uri[9000];
	tfa_signer *s;

	if (t == NULL)
		return;
	snprintf(uri, sizeof(uri), "pkcs11:object=tfattest-rsa?module-path=%s&pin-value=00000000",
		 t->module);
	open_fails(t, uri, TFA_EUSAGE,
		   (const char *const[]){"wrong PIN", "CKR_PIN_INCORRECT", NULL});
	CHECK_STREQ(tfa_error_last()->detail, "CKR_PIN_INCORRECT");
	CHECK(strstr(tfa_error_last()->message, "00000000") == NULL);
	/*
	 * SoftHSM2 2.6.1 never locks the user PIN: after any number of wrong
	 * tries it still says CKR_PIN_INCORRECT and the right PIN still works.
	 */
	for (int i = 0; i < 12; i++)
		open_fails(t, uri, TFA_EUSAGE, (const char *const[]){"CKR_PIN_INCORRECT", NULL});
	s = open_ok(t->rsa_uri);
	tfa_signer_free(s);
}

/* SoftHSM2 keeps the token flags in token.object: a ulong attribute 0x8000534B. */
static int set_token_flag(const token *t, unsigned long flag)
{
	char cmd[4400], path[4400];
	FILE *p, *f;
	uint8_t buf[65536];
	size_t n;
	int done = 0;

	snprintf(cmd, sizeof(cmd), "ls -d '%s'/tok/tokens/*/token.object", t->dir);
	p = popen(cmd, "r");
	if (p == NULL || fgets(path, sizeof(path), p) == NULL) {
		if (p)
			pclose(p);
		return 0;
	}
	pclose(p);
	path[strcspn(path, "\n")] = '\0';
	f = fopen(path, "r+b");
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf), f);
	/* type (u64 BE) 0x8000534B, kind (u64 BE) 2 = unsigned long, value (u64 BE) */
	for (size_t i = 0; i + 24 <= n; i++) {
		static const uint8_t pat[16] = {0, 0, 0, 0, 0x80, 0x00, 0x53, 0x4b,
						0, 0, 0, 0, 0,	  0,	0,    2};
		if (memcmp(buf + i, pat, 16) == 0) {
			uint64_t v = 0;
			for (int j = 0; j < 8; j++)
				v = v << 8 | buf[i + 16 + j];
			v |= flag;
			for (int j = 7; j >= 0; j--) {
				buf[i + 16 + j] = (uint8_t)(v & 0xff);
				v >>= 8;
			}
			done = fseek(f, (long)(i + 16), SEEK_SET) == 0 &&
			       fwrite(buf + i + 16, 1, 8, f) == 8;
			break;
		}
	}
	fclose(f);
	return done;
}

/*
 * SoftHSM2 cannot be made to return CKR_PIN_LOCKED from C_Login. What can
 * be tested for real: a token whose C_GetTokenInfo reports
 * CKF_USER_PIN_LOCKED is refused before any PIN is spent, naming the code.
 */
static void test_pin_locked(void)
{
	token t;
	char uri[9000];

	if (!make_token(&t, "--no-keys")) {
		tfa_test_failures++;
		return;
	}
	CHECK(set_token_flag(&t, CKF_USER_PIN_LOCKED));
	uri_for(uri, sizeof(uri), &t, "token=tfattest", 1);
	open_fails(&t, uri, TFA_EUSAGE,
		   (const char *const[]){"CKF_USER_PIN_LOCKED", "CKR_PIN_LOCKED", NULL});
	CHECK_STREQ(tfa_error_last()->detail, "CKR_PIN_LOCKED");
	tfa_test_rmtree(t.dir);
}

static void test_key_may_not_sign(void)
{
	const token *t = get_main();
	char uri[9000];

	if (t == NULL)
		return;
	uri_for(uri, sizeof(uri), t, "token=tfattest;object=tfattest-nosign;id=%03", 1);
	open_fails(t, uri, TFA_EUSAGE,
		   (const char *const[]){"may not sign", "CKA_SIGN",
					 "CKR_KEY_FUNCTION_NOT_PERMITTED", NULL});
	CHECK_STREQ(tfa_error_last()->detail, "CKR_KEY_FUNCTION_NOT_PERMITTED");
	open_fails(t, t->alwaysauth_uri, TFA_EUSAGE,
		   (const char *const[]){"CKA_ALWAYS_AUTHENTICATE", NULL});
}

/*
 * Asks the module directly (no signer open): is mech in the slot's mechanism
 * list, and what does C_SignInit say when the RSA key is used with it?
 * SoftHSM2's slots.mechanisms filters C_GetMechanismList and the *Init
 * calls, not C_GetMechanismInfo.
 */
static void raw_mechanism(const token *t, CK_MECHANISM_TYPE mech, int *listed, CK_RV *init_rv)
{
	void *dl = dlopen(t->module, RTLD_NOW | RTLD_LOCAL);
	CK_C_GetFunctionList getfl;
	CK_FUNCTION_LIST_PTR fl = NULL;
	CK_SLOT_ID slots[16];
	CK_ULONG nslots = 16, nmech = 256, got = 0;
	CK_MECHANISM_TYPE mechs[256];
	CK_SESSION_HANDLE s;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	char label[] = "tfattest-rsa", pin[128];
	CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, label, 12}};
	CK_OBJECT_HANDLE key;
	CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
	CK_MECHANISM m = {mech, NULL, 0};

	*listed = -1;
	*init_rv = CKR_GENERAL_ERROR;
	if (mech == CKM_RSA_PKCS_PSS) {
		m.pParameter = &pss;
		m.ulParameterLen = sizeof(pss);
	}
	if (dl == NULL)
		return;
	getfl = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	if (getfl == NULL || getfl(&fl) != CKR_OK || fl->C_Initialize(NULL) != CKR_OK)
		goto out;
	if (fl->C_GetSlotList(CK_TRUE, slots, &nslots) == CKR_OK && nslots > 0 &&
	    fl->C_GetMechanismList(slots[0], mechs, &nmech) == CKR_OK) {
		*listed = 0;
		for (CK_ULONG i = 0; i < nmech; i++)
			if (mechs[i] == mech)
				*listed = 1;
	}
	if (nslots > 0 &&
	    fl->C_OpenSession(slots[0], CKF_SERIAL_SESSION, NULL, NULL, &s) == CKR_OK) {
		pin_clear(t, pin, sizeof(pin));
		if (fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) == CKR_OK &&
		    fl->C_FindObjectsInit(s, tmpl, 2) == CKR_OK) {
			if (fl->C_FindObjects(s, &key, 1, &got) != CKR_OK)
				got = 0;
			fl->C_FindObjectsFinal(s);
			if (got == 1)
				*init_rv = fl->C_SignInit(s, &m, key);
			if (got == 1 && *init_rv == CKR_OK) {
				uint8_t in[384] = {0}, sig[512];
				CK_ULONG sl = sizeof(sig);
				fl->C_Sign(s, in, mech == CKM_RSA_X_509 ? 384 : 32, sig, &sl);
			}
		}
		OPENSSL_cleanse(pin, sizeof(pin));
		fl->C_CloseSession(s);
	}
	fl->C_Finalize(NULL);
out:
	dlclose(dl);
}

/* A slot without raw RSA (CKM_RSA_X_509), as production HSMs are: PSS and PKCS#1 still sign. */
static void test_no_raw_rsa_slot(void)
{
	token t;
	tfa_signer *s;
	int listed;
	CK_RV rv;

	if (!make_token(&t, "--no-rsa-x509")) {
		tfa_test_failures++;
		return;
	}
	/* Raw RSA is really off: not listed, and C_SignInit refuses it. */
	raw_mechanism(&t, CKM_RSA_X_509, &listed, &rv);
	CHECK(listed == 0 && rv == CKR_MECHANISM_INVALID);
	raw_mechanism(&t, CKM_RSA_PKCS_PSS, &listed, &rv);
	CHECK(listed == 1 && rv == CKR_OK);
	s = open_ok(t.rsa_uri);
	if (s != NULL) {
		sign_and_check(s, TFA_ALG_RSASSA_PSS_SHA_256, 384);
		sign_and_check(s, TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256, 384);
	}
	tfa_signer_free(s);
	s = open_ok(t.ec_uri);
	if (s != NULL)
		sign_and_check(s, TFA_ALG_ECDSA_SHA_256, 0);
	tfa_signer_free(s);
	tfa_test_rmtree(t.dir);
}

static void test_mechanism_unsupported(void)
{
	token t;
	tfa_signer *s;
	uint8_t digest[32] = {0};
	tfa_buf sig;

	if (!make_token(&t, "--disable-mech CKM_RSA_PKCS_PSS,CKM_ECDSA")) {
		tfa_test_failures++;
		return;
	}
	tfa_buf_init(&sig, 4096);
	s = open_ok(t.rsa_uri);
	if (s != NULL) {
		CHECK_RC(tfa_signer_sign(&sig, s, TFA_ALG_RSASSA_PSS_SHA_256, digest), TFA_EUSAGE);
		CHECK(strstr(tfa_error_last()->message, "CKM_RSA_PKCS_PSS") != NULL);
		CHECK(strstr(tfa_error_last()->message, "CKR_MECHANISM_INVALID") != NULL);
		CHECK_STREQ(tfa_error_last()->detail, "CKR_MECHANISM_INVALID");
		CHECK(sig.len == 0);
		check_no_pin_in_error(&t);
		/* PKCS#1 v1.5 is still there. */
		sign_and_check(s, TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256, 384);
	}
	tfa_signer_free(s);
	s = open_ok(t.ec_uri);
	if (s != NULL) {
		CHECK_RC(tfa_signer_sign(&sig, s, TFA_ALG_ECDSA_SHA_256, digest), TFA_EUSAGE);
		CHECK(strstr(tfa_error_last()->message, "CKM_ECDSA") != NULL);
		CHECK(strstr(tfa_error_last()->message, "CKR_MECHANISM_INVALID") != NULL);
	}
	tfa_signer_free(s);
	tfa_buf_free(&sig);
	tfa_test_rmtree(t.dir);
}

/* 1 when the n bytes at p contain needle. */
static int line_has(const char *p, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(p + i, needle, k) == 0)
			return 1;
	return 0;
}

static void test_list(void)
{
	const token *t = get_main();
	tfa_buf out;
	char pin[128], line[9000];
	const char *p;
	int keys = 0, opened = 0;

	if (t == NULL)
		return;
	tfa_buf_init(&out, 0);
	pin_clear(t, pin, sizeof(pin));
	CHECK_OK(tfa_pkcs11_list(&out, t->module, NULL, pin));
	CHECK_RC(tfa_pkcs11_list(&out, t->module, "no-such-token", pin), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "tokens seen") != NULL);
	OPENSSL_cleanse(pin, sizeof(pin));
	CHECK(!has_pin(t, (const char *)out.data, out.len));
	CHECK(strstr((const char *)out.data, "token slot-id=") != NULL);
	CHECK(strstr((const char *)out.data,
		     "label=\"tfattest-nosign\" id=03 class=private alg=RSA-2048 sign=no") != NULL);
	CHECK(strstr((const char *)out.data,
		     "label=\"tfattest-ec\" id=02 class=private alg=EC-P256 sign=yes") != NULL);
	/* Every listed key URI opens (with a pin-source added), except the one that may not sign.
	 */
	for (p = (const char *)out.data; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		const char *u;
		if (n < sizeof(line) && strncmp(p, "key ", 4) == 0 && line_has(p, n, "sign=yes") &&
		    !line_has(p, n, "alwaysauth")) {
			memcpy(line, p, n);
			line[n] = '\0';
			u = strstr(line, " uri=");
			if (u != NULL) {
				char uri[9300];
				tfa_signer *s = NULL;
				snprintf(uri, sizeof(uri), "%s&pin-source=file:%s", u + 5,
					 t->pin_file);
				CHECK_OK(tfa_signer_open(&s, uri));
				opened += s != NULL;
				tfa_signer_free(s);
			}
			keys++;
		}
		p = nl ? nl + 1 : NULL;
	}
	CHECK(keys >= 5 && opened == keys);
	/* No PIN: public keys. A wrong PIN: the CKR name. */
	tfa_buf_clear(&out);
	CHECK_OK(tfa_pkcs11_list(&out, t->module, NULL, NULL));
	CHECK(strstr((const char *)out.data,
		     "label=\"tfattest-rsa\" id=01 class=public alg=RSA-3072") != NULL);
	CHECK_RC(tfa_pkcs11_list(&out, t->module, "tfattest", "00000000"), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "CKR_PIN_INCORRECT") != NULL);
	CHECK_RC(tfa_pkcs11_list(&out, "/nonexistent.so", NULL, NULL), TFA_EUSAGE);
	tfa_buf_free(&out);
}

/*
 * After open, no copy of the PIN is left in this process's writable memory:
 * not the pin-source file's buffer, not the URI's copy, not libp11.
 */
static void test_pin_wiped_from_memory(void)
{
	const token *t = get_main();
	tfa_signer *s;
	FILE *maps;
	char line[512];
	int fd, found = 0;

	if (t == NULL || (s = open_ok(t->rsa_uri)) == NULL)
		return;
	sign_and_check(s, TFA_ALG_RSASSA_PSS_SHA_256, 384);
	maps = fopen("/proc/self/maps", "r");
	fd = open("/proc/self/mem", O_RDONLY);
	CHECK(maps != NULL && fd >= 0);
	while (maps != NULL && fd >= 0 && fgets(line, sizeof(line), maps) != NULL) {
		unsigned long lo, hi;
		char perms[8];
		/* Skips huge reservations such as AddressSanitizer's shadow memory. */
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' ||
		    perms[1] != 'w' || hi - lo > (256ul << 20))
			continue;
		for (unsigned long a = lo; a < hi; a += 1 << 20) {
			static char chunk[(1 << 20) + 64];
			size_t want = hi - a < (1u << 20) + 64 ? hi - a : (1u << 20) + 64;
			ssize_t n = pread(fd, chunk, want, (off_t)a);
			if (n > 0 && has_pin(t, chunk, (size_t)n)) {
				fprintf(stderr, "  PIN found in %s", line);
				found = 1;
				break;
			}
		}
	}
	if (maps != NULL)
		fclose(maps);
	if (fd >= 0)
		close(fd);
	CHECK(!found);
	tfa_signer_free(s);
}

/* For valgrind: open, sign with each algorithm, free. */
static void test_open_sign_free(void)
{
	const token *t = get_main();
	tfa_signer *s;

	if (t == NULL)
		return;
	if ((s = open_ok(t->rsa_uri)) != NULL) {
		sign_and_check(s, TFA_ALG_RSASSA_PSS_SHA_256, 384);
		sign_and_check(s, TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256, 384);
	}
	tfa_signer_free(s);
	if ((s = open_ok(t->ec_uri)) != NULL)
		sign_and_check(s, TFA_ALG_ECDSA_SHA_256, 0);
	tfa_signer_free(s);
	open_fails(t, "pkcs11:object=nope?module-path=/nonexistent.so", TFA_EUSAGE, NULL);
}

/*
 * test_pin_wiped_from_memory runs before test_env_fallbacks: setenv() keeps
 * copies of TFATTEST_PKCS11_PIN that nothing can wipe.
 */
TFA_TEST_MAIN(T(test_rsa_pss), T(test_pin_wiped_from_memory), T(test_rsa_pkcs1), T(test_ecdsa),
	      T(test_provenance), T(test_spki_matches_token), T(test_public_key_from_certificate),
	      T(test_two_signers_one_token), T(test_env_fallbacks), T(test_pin_source_forms),
	      T(test_pin_value), T(test_module_missing), T(test_module_not_pkcs11),
	      T(test_module_init_fails), T(test_token_not_found), T(test_token_attributes_match),
	      T(test_key_not_found), T(test_wrong_pin), T(test_pin_locked),
	      T(test_key_may_not_sign), T(test_no_raw_rsa_slot), T(test_mechanism_unsupported),
	      T(test_list), T(test_open_sign_free))
