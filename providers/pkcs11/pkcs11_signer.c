/*
 * pkcs11: — keys on a PKCS#11 token (HSM, smart card, TPM, SoftHSM2), named
 * by an RFC 7512 URI.
 *
 * The token only ever sees a SHA-256 digest computed on the host, so tokens
 * without combined hash-and-sign mechanisms (SoftHSM2 has no CKM_ECDSA_SHA256)
 * work too:
 *   RSASSA_PSS_SHA_256         CKM_RSA_PKCS_PSS, SHA-256, MGF1-SHA-256, salt 32
 *   RSASSA_PKCS1_V1_5_SHA_256  CKM_RSA_PKCS over the DER DigestInfo
 *   ECDSA_SHA_256              CKM_ECDSA; raw r||s is converted to DER
 * Raw RSA (CKM_RSA_X_509) is never used.
 *
 * The PIN is used for one C_Login and wiped at once, with every copy this
 * process made of it (the URI's pin-value, the buffer of a pin-source file).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "p11core.h"
#include "p11uri.h"
#include "tfattest/sys/guard.h"
#include "tfattest/sys/signer.h"
#include "verify/crypto.h"

/* RSA-4096 signatures are 512 bytes; P-256 raw r||s is 64. */
#define SIG_MAX 512

enum { PROV_N = 6 };

typedef struct p11_ctx {
	p11_module *mod;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session;
	int have_session;
	CK_OBJECT_HANDLE key;
	CK_KEY_TYPE key_type;
	size_t rsa_len; /* modulus size in bytes */
	unsigned mech_checked;
	pthread_mutex_t lock; /* one operation at a time on the session */
	tfa_buf spki;
	char token_label[33];
	char token_serial[17];
	char token_manufacturer[33];
	char token_model[17];
	char *key_label;
	char *key_id_hex;
	tfa_kv prov[PROV_N];
} p11_ctx;

/* SHA-256 DigestInfo prefix (RFC 8017 section 9.2, note 1). */
static const uint8_t sha256_digest_info[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
					     0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
					     0x01, 0x05, 0x00, 0x04, 0x20};

static void p11_close(void *vctx)
{
	p11_ctx *ctx = vctx;

	if (ctx == NULL)
		return;
	if (ctx->have_session)
		ctx->mod->fl->C_CloseSession(ctx->session);
	p11_module_release(ctx->mod);
	pthread_mutex_destroy(&ctx->lock);
	tfa_buf_free(&ctx->spki);
	free(ctx->key_label);
	free(ctx->key_id_hex);
	free(ctx);
}

static char *hex_dup(const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);

	if (s != NULL)
		tfa_hex_encode(s, p, n);
	return s;
}

/* "label" id HEX, for messages. */
static tfa_err describe_key(tfa_buf *b, const PKCS11_KEY *k)
{
	tfa_err rc = TFA_OK;
	char hex[2 * 32 + 1];
	size_t n = k->id_len > 32 ? 32 : k->id_len;

	TFA_GUARD(p11_put_quoted(b, k->label ? k->label : ""));
	tfa_hex_encode(hex, k->id, n);
	TFA_GUARD(tfa_buf_printf(b, " id %s%s", n ? hex : "(none)", k->id_len > 32 ? "..." : ""));
out:
	return rc;
}

static int key_matches(const PKCS11_KEY *k, const tfa_p11uri *u)
{
	if (u->object != NULL && (k->label == NULL || strcmp(k->label, u->object) != 0))
		return 0;
	if (u->has_id && (k->id_len != u->id_len || (u->id_len && memcmp(k->id, u->id, u->id_len))))
		return 0;
	return 1;
}

/* What the URI asked for, for messages: object="x" id=01. */
static tfa_err describe_query(tfa_buf *b, const tfa_p11uri *u)
{
	tfa_err rc = TFA_OK;
	char hex[2 * 32 + 1];

	if (u->object != NULL) {
		TFA_GUARD(tfa_buf_puts(b, "object="));
		TFA_GUARD(p11_put_quoted(b, u->object));
	}
	if (u->has_id) {
		size_t n = u->id_len > 32 ? 32 : u->id_len;
		tfa_hex_encode(hex, u->id, n);
		TFA_GUARD(tfa_buf_printf(b, "%sid=%s", u->object ? " " : "", n ? hex : "(empty)"));
	}
	if (u->object == NULL && !u->has_id)
		TFA_GUARD(tfa_buf_puts(b, "any key"));
out:
	return rc;
}

/* The private key the URI names, through libp11's key list. Under p11_lock. */
static tfa_err select_key(PKCS11_KEY **out, PKCS11_TOKEN *tok, const tfa_p11uri *u, int logged_in)
{
	tfa_err rc = TFA_OK;
	PKCS11_KEY *keys = NULL, *found = NULL;
	unsigned nkeys = 0, nfound = 0, nseen = 0;
	tfa_buf seen, want;

	tfa_buf_init(&seen, 2048);
	tfa_buf_init(&want, 512);
	*out = NULL;
	if (PKCS11_enumerate_keys(tok, &keys, &nkeys) != 0) {
		ERR_clear_error();
		TFA_BAIL(TFA_EBACKEND, "cannot list the private keys on PKCS#11 token %s",
			 tok->label);
	}
	for (unsigned i = 0; i < nkeys; i++) {
		if (nseen < 12) {
			TFA_GUARD(tfa_buf_puts(&seen, nseen ? ", " : ""));
			TFA_GUARD(describe_key(&seen, &keys[i]));
		} else if (nseen == 12) {
			TFA_GUARD(tfa_buf_puts(&seen, ", ..."));
		}
		nseen++;
		if (key_matches(&keys[i], u)) {
			found = &keys[i];
			nfound++;
		}
	}
	TFA_GUARD(describe_query(&want, u));
	if (nfound == 0 && nkeys == 0 && !logged_in)
		TFA_BAIL(TFA_EUSAGE,
			 "PKCS#11 key not found: no private key matches %s on token \"%s\"; no PIN "
			 "was given (pin-source=, pin-value= or TFATTEST_PKCS11_PIN) and private "
			 "keys stay hidden until login",
			 (const char *)want.data, tok->label);
	if (nfound == 0)
		TFA_BAIL(TFA_EUSAGE,
			 "PKCS#11 key not found: no private key matches %s on token \"%s\"; keys "
			 "seen: %s",
			 (const char *)want.data, tok->label,
			 nkeys ? (const char *)seen.data : "none");
	if (nfound > 1)
		TFA_BAIL(TFA_EUSAGE,
			 "the PKCS#11 URI matches %u private keys on token \"%s\"; name one with "
			 "object= and id= (keys seen: %s)",
			 nfound, tok->label, (const char *)seen.data);
	*out = found;
out:
	tfa_buf_free(&seen);
	tfa_buf_free(&want);
	return rc;
}

/* The SPKI of the key's certificate, if the token holds one with the same id (or label). */
static tfa_err cert_spki(tfa_buf *spki, int *have, PKCS11_TOKEN *tok, const PKCS11_KEY *k)
{
	tfa_err rc = TFA_OK;
	PKCS11_CERT *certs = NULL;
	unsigned n = 0;

	*have = 0;
	if (PKCS11_enumerate_certs(tok, &certs, &n) != 0) {
		ERR_clear_error();
		return TFA_OK; /* no certificates to consult */
	}
	for (unsigned i = 0; i < n; i++) {
		const PKCS11_CERT *c = &certs[i];
		EVP_PKEY *pk;
		int same = k->id_len
			       ? (c->id_len == k->id_len && memcmp(c->id, k->id, k->id_len) == 0)
			       : (c->label && k->label && strcmp(c->label, k->label) == 0);

		if (!same || c->x509 == NULL)
			continue;
		pk = X509_get0_pubkey(c->x509);
		if (pk == NULL)
			continue;
		TFA_GUARD(tfa_pkey_to_spki(spki, pk));
		*have = 1;
		break;
	}
out:
	return rc;
}

/*
 * The public key: the public key object with the key's id, else its
 * certificate, else the private key's own public attributes (RSA). When both
 * a public key object and a certificate exist they must agree.
 */
static tfa_err load_public_key(p11_ctx *ctx, PKCS11_TOKEN *tok, const PKCS11_KEY *k)
{
	tfa_err rc = TFA_OK;
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
	size_t count = 0;
	tfa_buf cert;
	int have_cert = 0;

	tfa_buf_init(&cert, 16384);
	if (k->id_len > 0) {
		TFA_GUARD(p11_find_object(&pub, &count, ctx->mod, ctx->session, CKO_PUBLIC_KEY,
					  k->id, k->id_len, 1, NULL));
		if (count > 1)
			TFA_GUARD(p11_find_object(&pub, &count, ctx->mod, ctx->session,
						  CKO_PUBLIC_KEY, k->id, k->id_len, 1, k->label));
	} else if (k->label != NULL) {
		TFA_GUARD(p11_find_object(&pub, &count, ctx->mod, ctx->session, CKO_PUBLIC_KEY,
					  NULL, 0, 0, k->label));
	}
	if (count == 1)
		TFA_GUARD(p11_spki_from_object(&ctx->spki, ctx->mod, ctx->session, pub));
	TFA_GUARD(cert_spki(&cert, &have_cert, tok, k));
	if (ctx->spki.len > 0 && have_cert &&
	    (cert.len != ctx->spki.len || memcmp(cert.data, ctx->spki.data, cert.len) != 0))
		TFA_BAIL(
		    TFA_EBACKEND,
		    "the PKCS#11 token's certificate and public key object for key \"%s\" hold "
		    "different keys",
		    k->label ? k->label : "");
	if (ctx->spki.len == 0 && have_cert)
		TFA_GUARD(tfa_buf_append(&ctx->spki, cert.data, cert.len));
	if (ctx->spki.len == 0) {
		rc = p11_spki_from_object(&ctx->spki, ctx->mod, ctx->session, ctx->key);
		if (rc == TFA_ENOTFOUND)
			TFA_BAIL(TFA_EUSAGE,
				 "no public key for PKCS#11 key \"%s\": the token holds no public "
				 "key object or certificate with its id",
				 k->label ? k->label : "");
		TFA_GUARD(rc);
	}
out:
	tfa_buf_free(&cert);
	return rc;
}

/* The private key's handle, type and flags, read through our own session. */
static tfa_err inspect_key(p11_ctx *ctx, const PKCS11_KEY *k)
{
	tfa_err rc = TFA_OK;
	size_t count = 0;
	int flag = 0;
	CK_ULONG kt = 0;

	TFA_GUARD(p11_find_object(&ctx->key, &count, ctx->mod, ctx->session, CKO_PRIVATE_KEY, k->id,
				  k->id_len, 1, k->label));
	if (count != 1)
		TFA_BAIL(TFA_EBACKEND,
			 "PKCS#11 private key \"%s\" cannot be told apart from others with the "
			 "same label and id",
			 k->label ? k->label : "");
	rc = p11_get_ulong(&kt, ctx->mod, ctx->session, ctx->key, CKA_KEY_TYPE);
	if (rc == TFA_ENOTFOUND)
		TFA_BAIL(TFA_EBACKEND, "PKCS#11 private key has no CKA_KEY_TYPE");
	TFA_GUARD(rc);
	if (kt != CKK_RSA && kt != CKK_EC)
		TFA_BAIL(TFA_EUSAGE,
			 "PKCS#11 key \"%s\" has an unsupported type (need RSA or EC P-256)",
			 k->label ? k->label : "");
	ctx->key_type = kt;
	rc = p11_get_bool(&flag, ctx->mod, ctx->session, ctx->key, CKA_SIGN);
	if (rc == TFA_ENOTFOUND)
		flag = 0;
	else
		TFA_GUARD(rc);
	if (!flag) {
		rc = p11_error(TFA_EUSAGE, CKR_KEY_FUNCTION_NOT_PERMITTED,
			       "PKCS#11 key \"%s\" (id %s) may not sign: its CKA_SIGN attribute is "
			       "false, so the token refuses with CKR_KEY_FUNCTION_NOT_PERMITTED",
			       k->label ? k->label : "", ctx->key_id_hex);
		goto out;
	}
	flag = 0;
	rc = p11_get_bool(&flag, ctx->mod, ctx->session, ctx->key, CKA_ALWAYS_AUTHENTICATE);
	if (rc != TFA_OK && rc != TFA_ENOTFOUND)
		goto out;
	rc = TFA_OK;
	if (flag)
		TFA_BAIL(TFA_EUSAGE,
			 "PKCS#11 key \"%s\" wants the PIN again for every signature "
			 "(CKA_ALWAYS_AUTHENTICATE), which is not supported",
			 k->label ? k->label : "");
out:
	return rc;
}

/* The public key must be of the private key's type. */
static tfa_err check_key_pair(p11_ctx *ctx)
{
	tfa_err rc = TFA_OK;
	EVP_PKEY *pk = NULL;
	tfa_sig_alg def;

	TFA_GUARD(tfa_pkey_from_spki(&pk, ctx->spki.data, ctx->spki.len));
	def = tfa_pkey_default_alg(pk);
	if ((ctx->key_type == CKK_RSA) != (def == TFA_ALG_RSASSA_PSS_SHA_256))
		TFA_BAIL(TFA_EBACKEND,
			 "the PKCS#11 public key and private key are of different types");
	if (ctx->key_type == CKK_RSA)
		ctx->rsa_len = (size_t)EVP_PKEY_get_size(pk);
out:
	if (rc == TFA_EFORMAT)
		rc = tfa_error_set(TFA_EUSAGE, "the PKCS#11 key is not usable: %s",
				   tfa_error_last()->message);
	EVP_PKEY_free(pk);
	return rc;
}

static tfa_err fill_provenance(p11_ctx *ctx, const PKCS11_TOKEN *tok, const PKCS11_KEY *k)
{
	snprintf(ctx->token_label, sizeof(ctx->token_label), "%s", tok->label ? tok->label : "");
	snprintf(ctx->token_serial, sizeof(ctx->token_serial), "%s",
		 tok->serialnr ? tok->serialnr : "");
	snprintf(ctx->token_manufacturer, sizeof(ctx->token_manufacturer), "%s",
		 tok->manufacturer ? tok->manufacturer : "");
	snprintf(ctx->token_model, sizeof(ctx->token_model), "%s", tok->model ? tok->model : "");
	ctx->key_label = strdup(k->label ? k->label : "");
	if (ctx->key_label == NULL)
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	ctx->prov[0] = (tfa_kv){"token_label", ctx->token_label};
	ctx->prov[1] = (tfa_kv){"token_serial", ctx->token_serial};
	ctx->prov[2] = (tfa_kv){"token_manufacturer", ctx->token_manufacturer};
	ctx->prov[3] = (tfa_kv){"token_model", ctx->token_model};
	ctx->prov[4] = (tfa_kv){"key_label", ctx->key_label};
	ctx->prov[5] = (tfa_kv){"key_id", ctx->key_id_hex};
	return TFA_OK;
}

static tfa_err p11_open(void **out, const char *uri)
{
	tfa_err rc = TFA_OK;
	tfa_p11uri *u = NULL;
	p11_ctx *ctx = NULL;
	char *pin = NULL;
	const char *path;
	PKCS11_SLOT *slot = NULL;
	PKCS11_KEY *key = NULL;
	int locked = 0, logged_in = 0, lock_fd = -1;
	CK_RV rv;
	char nb[24];

	*out = NULL;
	TFA_GUARD(tfa_p11uri_parse(&u, uri, strlen(uri)));
	if (u->type != TFA_P11_TYPE_ANY && u->type != TFA_P11_TYPE_PRIVATE)
		TFA_BAIL(TFA_EUSAGE,
			 "type=%s names no signing key: use type=private or leave type= out",
			 tfa_p11_objtype_name(u->type));
	TFA_GUARD(p11_pin_resolve(&pin, u));
	TFA_GUARD(p11_module_path(&path, u));
	ctx = calloc(1, sizeof(*ctx));
	TFA_ENSURE(ctx != NULL, TFA_EINTERNAL, "out of memory");
	pthread_mutex_init(&ctx->lock, NULL);
	tfa_buf_init(&ctx->spki, 16384);
	lock_fd = p11_open_lock(path);
	TFA_GUARD(p11_module_acquire(&ctx->mod, path));

	p11_lock();
	locked = 1;
	TFA_GUARD(p11_select_token(&slot, ctx->mod, u));
	ctx->slot = PKCS11_get_slotid_from_slot(slot);
	rv = ctx->mod->fl->C_OpenSession(ctx->slot, CKF_SERIAL_SESSION, NULL, NULL, &ctx->session);
	if (rv != CKR_OK) {
		rc = p11_error(TFA_EBACKEND, rv,
			       "cannot open a session on PKCS#11 token \"%s\" (%s)",
			       slot->token->label, p11_ckr_name(rv, nb));
		goto out;
	}
	ctx->have_session = 1;
	if (pin != NULL || (slot->token->secureLogin && slot->token->loginRequired)) {
		rc = p11_login(ctx->mod, ctx->session, ctx->slot, pin);
		p11_pin_free(pin);
		pin = NULL;
		TFA_GUARD(rc);
		logged_in = 1;
	}
	TFA_GUARD(select_key(&key, slot->token, u, logged_in));
	ctx->key_id_hex = hex_dup(key->id, key->id_len);
	TFA_ENSURE(ctx->key_id_hex != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(inspect_key(ctx, key));
	TFA_GUARD(load_public_key(ctx, slot->token, key));
	TFA_GUARD(check_key_pair(ctx));
	TFA_GUARD(fill_provenance(ctx, slot->token, key));
	*out = ctx;
	ctx = NULL;
out:
	if (locked)
		p11_unlock();
	p11_open_unlock(lock_fd);
	ERR_clear_error();
	p11_pin_free(pin);
	tfa_p11uri_free(u);
	p11_close(ctx);
	return rc;
}

static const char *mech_name(CK_MECHANISM_TYPE m)
{
	switch (m) {
	case CKM_RSA_PKCS: return "CKM_RSA_PKCS";
	case CKM_RSA_PKCS_PSS: return "CKM_RSA_PKCS_PSS";
	case CKM_ECDSA: return "CKM_ECDSA";
	default: return "the mechanism";
	}
}

/* Asks the token once per algorithm whether it signs with the mechanism. */
static tfa_err check_mechanism(p11_ctx *ctx, tfa_sig_alg alg, CK_MECHANISM_TYPE mech)
{
	CK_MECHANISM_INFO info;
	CK_RV rv;
	char nb[24];

	if (ctx->mech_checked & (1u << alg))
		return TFA_OK;
	rv = ctx->mod->fl->C_GetMechanismInfo(ctx->slot, mech, &info);
	if (rv == CKR_MECHANISM_INVALID)
		return p11_error(TFA_EUSAGE, rv,
				 "the PKCS#11 token does not support %s, needed for %s (%s)",
				 mech_name(mech), tfa_sig_alg_name(alg), p11_ckr_name(rv, nb));
	if (rv != CKR_OK)
		return p11_error(TFA_EBACKEND, rv, "PKCS#11 C_GetMechanismInfo failed (%s)",
				 p11_ckr_name(rv, nb));
	if (!(info.flags & CKF_SIGN))
		return p11_error(TFA_EUSAGE, CKR_MECHANISM_INVALID,
				 "the PKCS#11 token does not sign with %s, needed for %s "
				 "(CKR_MECHANISM_INVALID)",
				 mech_name(mech), tfa_sig_alg_name(alg));
	ctx->mech_checked |= 1u << alg;
	return TFA_OK;
}

static tfa_err sign_error(CK_RV rv, const char *fn, CK_MECHANISM_TYPE mech, tfa_sig_alg alg)
{
	char nb[24];
	const char *name = p11_ckr_name(rv, nb);

	switch (rv) {
	case CKR_MECHANISM_INVALID:
		return p11_error(TFA_EUSAGE, rv,
				 "the PKCS#11 token does not support %s, needed for %s (%s)",
				 mech_name(mech), tfa_sig_alg_name(alg), name);
	case CKR_MECHANISM_PARAM_INVALID:
		return p11_error(TFA_EUSAGE, rv,
				 "the PKCS#11 token refused the %s parameters for %s (%s)",
				 mech_name(mech), tfa_sig_alg_name(alg), name);
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
		return p11_error(TFA_EUSAGE, rv, "the PKCS#11 key may not sign (%s)", name);
	case CKR_KEY_TYPE_INCONSISTENT:
		return p11_error(TFA_EUSAGE, rv, "%s does not fit this PKCS#11 key (%s)",
				 mech_name(mech), name);
	case CKR_USER_NOT_LOGGED_IN:
		return p11_error(TFA_EUSAGE, rv, "the PKCS#11 token wants a login first (%s)",
				 name);
	default: return p11_error(TFA_EBACKEND, rv, "PKCS#11 %s failed (%s)", fn, name);
	}
}

static tfa_err p11_sign(void *vctx, tfa_sig_alg alg, const uint8_t digest[TFA_SHA256_LEN],
			tfa_buf *sig)
{
	tfa_err rc = TFA_OK;
	p11_ctx *ctx = vctx;
	CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, TFA_SHA256_LEN};
	CK_MECHANISM mech = {0, NULL, 0};
	uint8_t data[sizeof(sha256_digest_info) + TFA_SHA256_LEN];
	size_t dlen = TFA_SHA256_LEN;
	uint8_t out[SIG_MAX];
	CK_ULONG olen = sizeof(out);
	CK_RV rv;
	int locked = 0;

	switch (alg) {
	case TFA_ALG_RSASSA_PSS_SHA_256:
		mech.mechanism = CKM_RSA_PKCS_PSS;
		mech.pParameter = &pss;
		mech.ulParameterLen = sizeof(pss);
		memcpy(data, digest, TFA_SHA256_LEN);
		break;
	case TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256:
		mech.mechanism = CKM_RSA_PKCS;
		memcpy(data, sha256_digest_info, sizeof(sha256_digest_info));
		memcpy(data + sizeof(sha256_digest_info), digest, TFA_SHA256_LEN);
		dlen = sizeof(data);
		break;
	case TFA_ALG_ECDSA_SHA_256:
		mech.mechanism = CKM_ECDSA;
		memcpy(data, digest, TFA_SHA256_LEN);
		break;
	default: TFA_BAIL(TFA_EUSAGE, "unsupported signature algorithm");
	}
	if ((ctx->key_type == CKK_EC) != (alg == TFA_ALG_ECDSA_SHA_256))
		TFA_BAIL(TFA_EUSAGE, "algorithm %s does not fit this PKCS#11 key",
			 tfa_sig_alg_name(alg));
	pthread_mutex_lock(&ctx->lock);
	locked = 1;
	TFA_GUARD(check_mechanism(ctx, alg, mech.mechanism));
	rv = ctx->mod->fl->C_SignInit(ctx->session, &mech, ctx->key);
	if (rv != CKR_OK) {
		rc = sign_error(rv, "C_SignInit", mech.mechanism, alg);
		goto out;
	}
	/* The buffer fits any supported key, so C_Sign always ends the operation. */
	rv = ctx->mod->fl->C_Sign(ctx->session, data, (CK_ULONG)dlen, out, &olen);
	if (rv != CKR_OK) {
		rc = sign_error(rv, "C_Sign", mech.mechanism, alg);
		goto out;
	}
	if (ctx->key_type == CKK_EC) {
		if (olen != 64)
			TFA_BAIL(TFA_EBACKEND,
				 "the PKCS#11 token returned a %lu-byte ECDSA "
				 "signature, expected 64",
				 (unsigned long)olen);
		TFA_GUARD(tfa_ecdsa_raw_to_der(sig, out, olen));
	} else {
		if (olen != ctx->rsa_len)
			TFA_BAIL(TFA_EBACKEND,
				 "the PKCS#11 token returned a %lu-byte RSA signature, "
				 "expected %zu",
				 (unsigned long)olen, ctx->rsa_len);
		TFA_GUARD(tfa_buf_append(sig, out, olen));
	}
out:
	if (locked)
		pthread_mutex_unlock(&ctx->lock);
	return rc;
}

static tfa_err p11_public_key(void *vctx, tfa_buf *spki)
{
	p11_ctx *ctx = vctx;

	return tfa_buf_append(spki, ctx->spki.data, ctx->spki.len);
}

static const tfa_kv *p11_provenance(void *vctx, size_t *n)
{
	p11_ctx *ctx = vctx;

	*n = PROV_N;
	return ctx->prov;
}

const tfa_signer_backend tfa_signer_backend_pkcs11 = {
    .abi = TFA_SIGNER_ABI,
    .name = "pkcs11",
    .scheme = "pkcs11:",
    .caps = TFA_SIGNER_CAP_RSA | TFA_SIGNER_CAP_EC_P256,
    .open = p11_open,
    .sign = p11_sign,
    .public_key = p11_public_key,
    .provenance = p11_provenance,
    .close = p11_close,
};
