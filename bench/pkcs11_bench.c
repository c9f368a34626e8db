/*
 * pkcs11 signer benchmark, on one token in one run:
 *   1. the module's raw C_SignInit + C_Sign rate on a logged-in session
 *      (RSA PKCS#1 v1.5, RSA-PSS, ECDSA), the floor for any caller;
 *   2. tfa_signer_sign() through one open pkcs11: signer (the library adds
 *      the DigestInfo/PSS parameters, DER conversion for ECDSA, and a
 *      verification of every signature against the public key);
 *   3. optionally, whole `tfattest record` processes (--cli).
 *
 * usage: pkcs11_bench --rsa URI --ec URI [-n N] [--cli TFATTEST --plan PLAN --dir DIR [--records
 * N]] The module path and PIN are taken from the URIs (module-path=, pin-source=file:). Run through
 * bench/pkcs11_bench.sh, which makes a SoftHSM2 token for it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "tfattest/signer.h"

extern char **environ;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *msg)
{
	fprintf(stderr, "pkcs11_bench: %s\n", msg);
	exit(2);
}

/* The decoded value of a query or path attribute (values here have no escapes but %XX ids). */
static int uri_attr(const char *uri, const char *name, char *out, size_t outsz)
{
	size_t n = strlen(name);
	const char *p = uri;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == uri || p[-1] == ';' || p[-1] == '?' || p[-1] == '&' || p[-1] == ':') &&
		    p[n] == '=') {
			const char *v = p + n + 1;
			size_t len = strcspn(v, ";?&");
			if (len >= outsz)
				return 0;
			memcpy(out, v, len);
			out[len] = '\0';
			return 1;
		}
		p += n;
	}
	return 0;
}

static void read_pin(char *pin, size_t n, const char *uri)
{
	char src[4096];
	const char *path;
	int fd;
	ssize_t got;

	if (!uri_attr(uri, "pin-source", src, sizeof(src)))
		die("the URI needs pin-source=file:...");
	path = strncmp(src, "file:", 5) == 0 ? src + 5 : src;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("cannot open the PIN file");
	got = read(fd, pin, n - 1);
	close(fd);
	if (got <= 0)
		die("cannot read the PIN file");
	while (got > 0 && (pin[got - 1] == '\n' || pin[got - 1] == '\r'))
		got--;
	pin[got] = '\0';
}

typedef struct raw {
	void *dl;
	CK_FUNCTION_LIST_PTR fl;
	CK_SESSION_HANDLE s;
} raw;

static void raw_open(raw *r, const char *uri)
{
	char module[4096], token[64], pin[300];
	CK_C_GetFunctionList getfl;
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;
	CK_RV rv;

	if (!uri_attr(uri, "module-path", module, sizeof(module)) ||
	    !uri_attr(uri, "token", token, sizeof(token)))
		die("the URI needs module-path= and token=");
	r->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (r->dl == NULL)
		die("cannot load the module");
	getfl = (CK_C_GetFunctionList)dlsym(r->dl, "C_GetFunctionList");
	/* The library has the module initialized and logged in already: same instance. */
	if (getfl == NULL || getfl(&r->fl) != CKR_OK)
		die("cannot load the module");
	rv = r->fl->C_Initialize(NULL);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		die("cannot initialize the module");
	if (r->fl->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		die("C_GetSlotList failed");
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		size_t tl = strlen(token);
		if (r->fl->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (memcmp(ti.label, token, tl) == 0 && (tl == 32 || ti.label[tl] == ' ')) {
			if (r->fl->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &r->s) !=
			    CKR_OK)
				die("C_OpenSession failed");
			read_pin(pin, sizeof(pin), uri);
			rv = r->fl->C_Login(r->s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
			OPENSSL_cleanse(pin, sizeof(pin));
			if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
				die("C_Login failed");
			return;
		}
	}
	die("token not found");
}

static CK_OBJECT_HANDLE raw_key(raw *r, const char *uri)
{
	char label[256];
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[2] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, label, 0}};
	CK_OBJECT_HANDLE h;
	CK_ULONG got = 0;

	if (!uri_attr(uri, "object", label, sizeof(label)))
		die("the URI needs object=");
	t[1].ulValueLen = strlen(label);
	if (r->fl->C_FindObjectsInit(r->s, t, 2) != CKR_OK ||
	    r->fl->C_FindObjects(r->s, &h, 1, &got) != CKR_OK)
		die("C_FindObjects failed");
	r->fl->C_FindObjectsFinal(r->s);
	if (got != 1)
		die("key not found");
	return h;
}

/* Seconds for n C_SignInit + C_Sign over `data`. */
static double raw_time(raw *r, CK_OBJECT_HANDLE key, CK_MECHANISM *m, const uint8_t *data,
		       size_t len, int n)
{
	uint8_t sig[1024];
	double t0 = now();

	for (int i = 0; i < n; i++) {
		CK_ULONG sl = sizeof(sig);
		if (r->fl->C_SignInit(r->s, m, key) != CKR_OK ||
		    r->fl->C_Sign(r->s, (CK_BYTE_PTR)data, len, sig, &sl) != CKR_OK)
			die("raw signing failed");
	}
	return now() - t0;
}

/* Seconds for n tfa_signer_sign(). */
static double lib_time(tfa_signer *s, tfa_sig_alg alg, int n)
{
	uint8_t digest[32];
	tfa_buf sig;
	double t0;

	tfa_buf_init(&sig, 4096);
	RAND_bytes(digest, sizeof(digest));
	t0 = now();
	for (int i = 0; i < n; i++) {
		tfa_buf_clear(&sig);
		if (tfa_signer_sign(&sig, s, alg, digest) != TFA_OK) {
			fprintf(stderr, "pkcs11_bench: %s\n", tfa_error_last()->message);
			exit(2);
		}
	}
	t0 = now() - t0;
	tfa_buf_free(&sig);
	return t0;
}

/* Seconds for n OpenSSL verifications of one fresh signature: the check tfa_signer_sign adds. */
static double verify_time(tfa_signer *s, tfa_sig_alg alg, int n)
{
	uint8_t digest[32];
	tfa_buf sig;
	size_t len;
	const uint8_t *der = tfa_signer_spki(s, &len);
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &der, (long)len);
	double t0;

	tfa_buf_init(&sig, 4096);
	RAND_bytes(digest, sizeof(digest));
	if (pk == NULL || tfa_signer_sign(&sig, s, alg, digest) != TFA_OK)
		die("cannot make a signature to verify");
	t0 = now();
	for (int i = 0; i < n; i++) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
		int ok = c != NULL && EVP_PKEY_verify_init(c) > 0 &&
			 EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) > 0;
		if (ok && alg == TFA_ALG_RSASSA_PSS_SHA_256)
			ok = EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PSS_PADDING) > 0 &&
			     EVP_PKEY_CTX_set_rsa_pss_saltlen(c, 32) > 0;
		if (!ok || EVP_PKEY_verify(c, sig.data, sig.len, digest, 32) != 1)
			die("verification failed");
		EVP_PKEY_CTX_free(c);
	}
	t0 = now() - t0;
	EVP_PKEY_free(pk);
	tfa_buf_free(&sig);
	return t0;
}

/* A count in 1..1000000. */
static int count_arg(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 1000000)
		die("counts must be 1..1000000");
	return (int)v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Runs argv to completion, returns its wall time in seconds (exits on failure). */
static double run_timed(char *const argv[])
{
	pid_t pid;
	int st;
	double t0 = now();

	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		die("cannot start the CLI");
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "pkcs11_bench: %s %s failed\n", argv[0], argv[1]);
		exit(2);
	}
	return now() - t0;
}

static void bench_records(const char *cli, const char *uri, const char *plan, const char *dir,
			  int n)
{
	char store[4096];
	double *t = calloc((size_t)n, sizeof(double)), sum = 0;
	char *init[] = {(char *)cli, "init",  "--store",   store, "--chain",
			"bench",     "--key", (char *)uri, NULL};
	char *rec[] = {(char *)cli, "record", "--store",    store, "--key",
		       (char *)uri, "--plan", (char *)plan, NULL};
	int devnull = open("/dev/null", O_WRONLY);

	if (t == NULL)
		die("out of memory");
	snprintf(store, sizeof(store), "%s/bench-store", dir);
	/* The CLI's own stdout lines are not part of the measurement's output. */
	fflush(stdout);
	int saved = dup(1);
	dup2(devnull, 1);
	run_timed(init);
	for (int i = 0; i < n; i++) {
		t[i] = run_timed(rec);
		sum += t[i];
	}
	dup2(saved, 1);
	close(saved);
	close(devnull);
	qsort(t, (size_t)n, sizeof(double), cmp_double);
	printf("  tfattest record, one process each (%d runs, RSA-PSS on the token):\n", n);
	printf("    mean %.1f ms, median %.1f ms, p95 %.1f ms, min %.1f ms, max %.1f ms  (goal < "
	       "50 ms)\n",
	       1e3 * sum / n, 1e3 * t[n / 2], 1e3 * t[(n * 95) / 100 < n ? (n * 95) / 100 : n - 1],
	       1e3 * t[0], 1e3 * t[n - 1]);
	free(t);
}

#define ROUNDS 5

static void row(const char *name, int n, double raw_s, double lib_s, double verify_s)
{
	printf("  %-36s %12.1f %12.1f %8.1f%% %14.1f\n", name, n / raw_s, n / lib_s,
	       100.0 * (lib_s / raw_s - 1.0), 1e6 * verify_s / n);
}

int main(int argc, char **argv)
{
	const char *rsa_uri = NULL, *ec_uri = NULL, *cli = NULL, *plan = NULL, *dir = NULL;
	int n = 500, records = 50;
	raw r;
	CK_OBJECT_HANDLE rk, ek;
	CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
	CK_MECHANISM m_pkcs1 = {CKM_RSA_PKCS, NULL, 0},
		     m_pss = {CKM_RSA_PKCS_PSS, &pss, sizeof(pss)}, m_ecdsa = {CKM_ECDSA, NULL, 0};
	static const uint8_t di[19] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				       0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
	uint8_t digest[32], pkcs1_in[51];
	double raw_pkcs1 = 0, raw_pss = 0, raw_ec = 0, lib_pkcs1 = 0, lib_pss = 0, lib_ec = 0;
	double v_rsa, v_ec;
	int total = 0;
	tfa_signer *rs = NULL, *es = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--rsa") == 0 && i + 1 < argc)
			rsa_uri = argv[++i];
		else if (strcmp(argv[i], "--ec") == 0 && i + 1 < argc)
			ec_uri = argv[++i];
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			n = count_arg(argv[++i]);
		else if (strcmp(argv[i], "--cli") == 0 && i + 1 < argc)
			cli = argv[++i];
		else if (strcmp(argv[i], "--plan") == 0 && i + 1 < argc)
			plan = argv[++i];
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--records") == 0 && i + 1 < argc)
			records = count_arg(argv[++i]);
		else
			die("usage: pkcs11_bench --rsa URI --ec URI [-n N] [--cli TFATTEST --plan "
			    "PLAN "
			    "--dir DIR [--records N]]");
	}
	if (rsa_uri == NULL || ec_uri == NULL)
		die("--rsa and --ec are required");
	RAND_bytes(digest, sizeof(digest));
	memcpy(pkcs1_in, di, sizeof(di));
	memcpy(pkcs1_in + sizeof(di), digest, 32);

	/*
	 * The library's signers open first; the raw session then shares the same
	 * module instance and login. Raw and library blocks alternate in
	 * rounds, so that load from other processes hits both alike.
	 */
	if (tfa_signer_open(&rs, rsa_uri) != TFA_OK || tfa_signer_open(&es, ec_uri) != TFA_OK) {
		fprintf(stderr, "pkcs11_bench: %s\n", tfa_error_last()->message);
		return 2;
	}
	raw_open(&r, rsa_uri);
	rk = raw_key(&r, rsa_uri);
	ek = raw_key(&r, ec_uri);
	raw_time(&r, rk, &m_pss, digest, 32, 10); /* warm-up */
	lib_time(rs, TFA_ALG_RSASSA_PSS_SHA_256, 10);
	for (int round = 0; round < ROUNDS; round++) {
		int k = n / ROUNDS > 0 ? n / ROUNDS : 1;
		raw_pkcs1 += raw_time(&r, rk, &m_pkcs1, pkcs1_in, sizeof(pkcs1_in), k);
		lib_pkcs1 += lib_time(rs, TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256, k);
		raw_pss += raw_time(&r, rk, &m_pss, digest, 32, k);
		lib_pss += lib_time(rs, TFA_ALG_RSASSA_PSS_SHA_256, k);
		raw_ec += raw_time(&r, ek, &m_ecdsa, digest, 32, 4 * k);
		lib_ec += lib_time(es, TFA_ALG_ECDSA_SHA_256, 4 * k);
		total += k;
	}
	r.fl->C_CloseSession(r.s);
	dlclose(r.dl);
	v_rsa = verify_time(rs, TFA_ALG_RSASSA_PSS_SHA_256, total);
	v_ec = verify_time(es, TFA_ALG_ECDSA_SHA_256, 4 * total);
	tfa_signer_free(rs);
	tfa_signer_free(es);

	printf("pkcs11 signing, one token, one run (%d RSA / %d ECDSA signatures per column, "
	       "%d alternating rounds):\n",
	       total, 4 * total, ROUNDS);
	printf("  %-36s %12s %12s %9s %14s\n", "", "raw C_Sign/s", "library/s", "overhead",
	       "verify us/sig");
	row("RSA-3072 PKCS#1 v1.5 (CKM_RSA_PKCS)", total, raw_pkcs1, lib_pkcs1, v_rsa);
	row("RSA-3072 PSS (CKM_RSA_PKCS_PSS)", total, raw_pss, lib_pss, v_rsa);
	row("ECDSA P-256 (CKM_ECDSA)", 4 * total, raw_ec, lib_ec, v_ec);
	printf(
	    "  overhead = library time per signature / raw C_SignInit+C_Sign time - 1 (goal for\n"
	    "  RSA-3072: < 10%%). tfa_signer_sign verifies every signature against the public key\n"
	    "  before returning it; \"verify us/sig\" is that check alone, timed with OpenSSL.\n");

	/* 3. Records through the whole CLI pipeline. */
	if (cli != NULL) {
		if (plan == NULL || dir == NULL)
			die("--cli needs --plan and --dir");
		bench_records(cli, rsa_uri, plan, dir, records);
	} else {
		printf("  (record-level figures: pass --cli PATH --plan PLAN --dir DIR)\n");
	}
	return 0;
}
