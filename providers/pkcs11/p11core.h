/*
 * Shared plumbing of the pkcs11 backend: loading modules, choosing tokens,
 * logging in, finding keys and reading their public halves.
 *
 * libp11 loads the module, enumerates slots and tokens and lists the keys
 * and certificates on a token. The raw PKCS#11 function list (from the same
 * loaded module) is used where libp11 0.4.12 falls short:
 *   - C_Login, because libp11 keeps a private copy of the PIN (for re-login
 *     after fork) until its slots are released, and the PIN must be wiped
 *     right after login;
 *   - C_SignInit/C_Sign with explicit mechanisms, because libp11 signs
 *     RSA-PSS through raw RSA (CKM_RSA_X_509), which production HSMs refuse;
 *   - attribute reads (CKA_SIGN, CKA_KEY_TYPE, the public key attributes).
 *
 * Private to providers/pkcs11.
 */
#ifndef TFA_P11CORE_H
#define TFA_P11CORE_H

#include <p11-kit/pkcs11.h>

#include <libp11.h>

#include "p11uri.h"
#include "tfattest/buffer.h"
#include "tfattest/error.h"

/* One loaded module, shared by every signer of the process that names it. */
typedef struct p11_module p11_module;

struct p11_module {
	p11_module *next;
	char *path;
	void *dl;		 /* our own dlopen reference */
	CK_FUNCTION_LIST_PTR fl; /* the module's function list */
	PKCS11_CTX *ctx;	 /* libp11's context on the same module */
	PKCS11_SLOT *slots;	 /* kept for the module's lifetime: releasing */
	unsigned nslots;	 /* them closes every session on each slot */
	unsigned refs;
};

/*
 * Loads (or shares) the module at an absolute path. TFA_EUSAGE when the file
 * is missing or is not a PKCS#11 module; TFA_EBACKEND (with the CKR_* name)
 * when it fails to initialize.
 */
TFA_WUR tfa_err p11_module_acquire(p11_module **out, const char *path);

/* Drops a reference; the last one finalizes and unloads the module. Accepts NULL. */
void p11_module_release(p11_module *m);

/*
 * Serializes the open phase (module initialization, token and key lookup,
 * login) across tfattest processes that use the same module: an exclusive
 * flock on the module file, waited for up to 10 s. SoftHSM2 rewrites its
 * token file on every login, truncating it before it takes its own lock, so
 * a process that reads the token meanwhile can see it corrupt (the token then
 * vanishes, or the login fails). Signing reads no token file and runs in
 * parallel. Returns the fd to pass to p11_open_unlock(), or -1 (no lock).
 */
int p11_open_lock(const char *module_path);
void p11_open_unlock(int fd);

/* Serializes libp11 calls on shared slot lists. */
void p11_lock(void);
void p11_unlock(void);

/* "CKR_PIN_INCORRECT", or "CKR_0x..." for codes without a name. */
const char *p11_ckr_name(CK_RV rv, char buf[24]);

/*
 * What to add to "token not found" for the module at path: with SoftHSM2
 * and SOFTHSM2_CONF unset, SoftHSM2 reads its system configuration and its
 * token directory, not the caller's: a hint naming SOFTHSM2_CONF, " (...)"; else "".
 */
const char *p11_conf_hint(const char *path);

/* Records an error whose backend detail is the CKR_* name of rv. */
tfa_err p11_error(tfa_err code, CK_RV rv, const char *fmt, ...) TFA_PRINTF(3, 4);

/* Copies a blank-padded PKCS#11 text field into a NUL-terminated string. */
void p11_field(char *out, size_t outsz, const unsigned char *field, size_t len);

/*
 * The token (slot) the URI names. Refuses a URI that matches no token (the
 * message lists the tokens seen) or several. Call under p11_lock().
 */
TFA_WUR tfa_err p11_select_token(PKCS11_SLOT **out, p11_module *m, const tfa_p11uri *u);

/*
 * Logs the user in on `session` with pin (may be NULL when the token has a
 * protected authentication path). CKR_USER_ALREADY_LOGGED_IN counts as
 * success. The caller wipes pin.
 */
TFA_WUR tfa_err p11_login(p11_module *m, CK_SESSION_HANDLE session, CK_SLOT_ID slot,
			  const char *pin);

/* Finds the one object of class cls with this CKA_ID and/or CKA_LABEL. 0 found: *out = 0. */
TFA_WUR tfa_err p11_find_object(CK_OBJECT_HANDLE *out, size_t *count, p11_module *m,
				CK_SESSION_HANDLE session, CK_OBJECT_CLASS cls, const uint8_t *id,
				size_t id_len, int match_id, const char *label);

/* Reads one attribute into buf (appended). TFA_ENOTFOUND when the object lacks it. */
TFA_WUR tfa_err p11_get_attr(tfa_buf *buf, p11_module *m, CK_SESSION_HANDLE session,
			     CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type);

/* Reads a CK_ULONG or CK_BBOOL attribute. */
TFA_WUR tfa_err p11_get_ulong(CK_ULONG *out, p11_module *m, CK_SESSION_HANDLE session,
			      CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type);
TFA_WUR tfa_err p11_get_bool(int *out, p11_module *m, CK_SESSION_HANDLE session,
			     CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type);

/*
 * DER SubjectPublicKeyInfo from the attributes of a public key object (or an
 * RSA private key that carries CKA_MODULUS and CKA_PUBLIC_EXPONENT).
 */
TFA_WUR tfa_err p11_spki_from_object(tfa_buf *spki, p11_module *m, CK_SESSION_HANDLE session,
				     CK_OBJECT_HANDLE obj);

/* 1 when the DER OID in params names P-256. */
int p11_ec_params_are_p256(const uint8_t *params, size_t len);

/* Appends "label" text safely quoted for one-line output: "..." with \" and \\. */
TFA_WUR tfa_err p11_put_quoted(tfa_buf *out, const char *s);

/*
 * Reads a PIN for a URI: pin-value, else pin-source (file:), else
 * $TFATTEST_PKCS11_PIN. A pin-value is moved out of the URI, not copied.
 * *pin is NULL when none is given. The caller wipes
 * and frees *pin with p11_pin_free().
 */
TFA_WUR tfa_err p11_pin_resolve(char **pin, tfa_p11uri *u);

/* Reads a PIN from a file:, file:/// or absolute-path pin-source. */
TFA_WUR tfa_err p11_pin_read_source(char **pin, const char *source);

void p11_pin_free(char *pin);

/* The module path for a URI: module-path, else $TFATTEST_PKCS11_MODULE. */
TFA_WUR tfa_err p11_module_path(const char **out, const tfa_p11uri *u);

#endif
