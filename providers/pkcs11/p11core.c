/*
 * Module loading, token selection, login, key lookup and public keys for the
 * pkcs11 backend. See p11core.h for why libp11 and the raw function list are
 * both used.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "p11core.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

/* Largest attribute we read (an RSA-16384 modulus is 2 KiB; a certificate more). */
#define ATTR_MAX (64u << 10)

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_libp11_lock = PTHREAD_MUTEX_INITIALIZER;
static p11_module *g_modules;

int p11_open_lock(const char *module_path)
{
	struct timespec pause = {0, 5 * 1000 * 1000};
	int fd = open(module_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -1; /* the module's own load reports the error */
	/* Bounded: a process that holds the lock forever must not hang us. */
	for (int i = 0; i < 2000; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR)
			break;
		nanosleep(&pause, NULL);
	}
	close(fd);
	return -1;
}

void p11_open_unlock(int fd)
{
	if (fd >= 0) {
		flock(fd, LOCK_UN);
		close(fd);
	}
}

void p11_lock(void)
{
	pthread_mutex_lock(&g_libp11_lock);
}

void p11_unlock(void)
{
	pthread_mutex_unlock(&g_libp11_lock);
}

#define N(x)                                                                                       \
	{                                                                                          \
		x, #x                                                                              \
	}
static const struct {
	CK_RV rv;
	const char *name;
} ckr_names[] = {
    N(CKR_OK),
    N(CKR_CANCEL),
    N(CKR_HOST_MEMORY),
    N(CKR_SLOT_ID_INVALID),
    N(CKR_GENERAL_ERROR),
    N(CKR_FUNCTION_FAILED),
    N(CKR_ARGUMENTS_BAD),
    N(CKR_NO_EVENT),
    N(CKR_NEED_TO_CREATE_THREADS),
    N(CKR_CANT_LOCK),
    N(CKR_ATTRIBUTE_READ_ONLY),
    N(CKR_ATTRIBUTE_SENSITIVE),
    N(CKR_ATTRIBUTE_TYPE_INVALID),
    N(CKR_ATTRIBUTE_VALUE_INVALID),
    N(CKR_ACTION_PROHIBITED),
    N(CKR_DATA_INVALID),
    N(CKR_DATA_LEN_RANGE),
    N(CKR_DEVICE_ERROR),
    N(CKR_DEVICE_MEMORY),
    N(CKR_DEVICE_REMOVED),
    N(CKR_ENCRYPTED_DATA_INVALID),
    N(CKR_ENCRYPTED_DATA_LEN_RANGE),
    N(CKR_FUNCTION_CANCELED),
    N(CKR_FUNCTION_NOT_PARALLEL),
    N(CKR_FUNCTION_NOT_SUPPORTED),
    N(CKR_KEY_HANDLE_INVALID),
    N(CKR_KEY_SIZE_RANGE),
    N(CKR_KEY_TYPE_INCONSISTENT),
    N(CKR_KEY_NOT_NEEDED),
    N(CKR_KEY_CHANGED),
    N(CKR_KEY_NEEDED),
    N(CKR_KEY_INDIGESTIBLE),
    N(CKR_KEY_FUNCTION_NOT_PERMITTED),
    N(CKR_KEY_NOT_WRAPPABLE),
    N(CKR_KEY_UNEXTRACTABLE),
    N(CKR_MECHANISM_INVALID),
    N(CKR_MECHANISM_PARAM_INVALID),
    N(CKR_OBJECT_HANDLE_INVALID),
    N(CKR_OPERATION_ACTIVE),
    N(CKR_OPERATION_NOT_INITIALIZED),
    N(CKR_PIN_INCORRECT),
    N(CKR_PIN_INVALID),
    N(CKR_PIN_LEN_RANGE),
    N(CKR_PIN_EXPIRED),
    N(CKR_PIN_LOCKED),
    N(CKR_SESSION_CLOSED),
    N(CKR_SESSION_COUNT),
    N(CKR_SESSION_HANDLE_INVALID),
    N(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    N(CKR_SESSION_READ_ONLY),
    N(CKR_SESSION_EXISTS),
    N(CKR_SESSION_READ_ONLY_EXISTS),
    N(CKR_SESSION_READ_WRITE_SO_EXISTS),
    N(CKR_SIGNATURE_INVALID),
    N(CKR_SIGNATURE_LEN_RANGE),
    N(CKR_TEMPLATE_INCOMPLETE),
    N(CKR_TEMPLATE_INCONSISTENT),
    N(CKR_TOKEN_NOT_PRESENT),
    N(CKR_TOKEN_NOT_RECOGNIZED),
    N(CKR_TOKEN_WRITE_PROTECTED),
    N(CKR_UNWRAPPING_KEY_SIZE_RANGE),
    N(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT),
    N(CKR_USER_ALREADY_LOGGED_IN),
    N(CKR_USER_NOT_LOGGED_IN),
    N(CKR_USER_PIN_NOT_INITIALIZED),
    N(CKR_USER_TYPE_INVALID),
    N(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    N(CKR_USER_TOO_MANY_TYPES),
    N(CKR_WRAPPED_KEY_INVALID),
    N(CKR_WRAPPED_KEY_LEN_RANGE),
    N(CKR_WRAPPING_KEY_HANDLE_INVALID),
    N(CKR_WRAPPING_KEY_SIZE_RANGE),
    N(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
    N(CKR_RANDOM_SEED_NOT_SUPPORTED),
    N(CKR_RANDOM_NO_RNG),
    N(CKR_DOMAIN_PARAMS_INVALID),
    N(CKR_CURVE_NOT_SUPPORTED),
    N(CKR_BUFFER_TOO_SMALL),
    N(CKR_SAVED_STATE_INVALID),
    N(CKR_INFORMATION_SENSITIVE),
    N(CKR_STATE_UNSAVEABLE),
    N(CKR_CRYPTOKI_NOT_INITIALIZED),
    N(CKR_CRYPTOKI_ALREADY_INITIALIZED),
    N(CKR_MUTEX_BAD),
    N(CKR_MUTEX_NOT_LOCKED),
    N(CKR_NEW_PIN_MODE),
    N(CKR_NEXT_OTP),
    N(CKR_EXCEEDED_MAX_ITERATIONS),
    N(CKR_FIPS_SELF_TEST_FAILED),
    N(CKR_LIBRARY_LOAD_FAILED),
    N(CKR_PIN_TOO_WEAK),
    N(CKR_PUBLIC_KEY_INVALID),
    N(CKR_FUNCTION_REJECTED),
};
#undef N

const char *p11_ckr_name(CK_RV rv, char buf[24])
{
	for (size_t i = 0; i < sizeof(ckr_names) / sizeof(ckr_names[0]); i++)
		if (ckr_names[i].rv == rv)
			return ckr_names[i].name;
	snprintf(buf, 24, "CKR_0x%08lX", (unsigned long)rv);
	return buf;
}

tfa_err p11_error(tfa_err code, CK_RV rv, const char *fmt, ...)
{
	char msg[512], nb[24];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tfa_error_set(code, "%s", msg);
	tfa_error_detail("%s", p11_ckr_name(rv, nb));
	return code;
}

void p11_field(char *out, size_t outsz, const unsigned char *field, size_t len)
{
	size_t n = len < outsz - 1 ? len : outsz - 1;

	memcpy(out, field, n);
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\0'))
		n--;
	out[n] = '\0';
}

/* The CKR code libp11 left in the OpenSSL error queue, or CKR_GENERAL_ERROR. The queue is drained.
 */
static CK_RV libp11_ckr(void)
{
	int lib = ERR_get_CKR_code();
	unsigned long e;
	CK_RV rv = 0;

	while ((e = ERR_get_error()) != 0)
		if (rv == 0 && lib != 0 && ERR_GET_LIB(e) == lib)
			rv = (CK_RV)ERR_GET_REASON(e);
	return rv ? rv : CKR_GENERAL_ERROR;
}

static void module_free(p11_module *m)
{
	if (m == NULL)
		return;
	if (m->ctx != NULL) {
		if (m->slots != NULL)
			PKCS11_release_all_slots(m->ctx, m->slots, m->nslots);
		if (m->fl != NULL)
			PKCS11_CTX_unload(m->ctx);
		PKCS11_CTX_free(m->ctx);
	}
	if (m->dl != NULL)
		dlclose(m->dl);
	free(m->path);
	free(m);
	ERR_clear_error();
}

tfa_err p11_module_acquire(p11_module **out, const char *path)
{
	tfa_err rc = TFA_OK;
	p11_module *m = NULL;
	CK_C_GetFunctionList getfl;
	struct stat st;
	CK_RV rv;

	*out = NULL;
	pthread_mutex_lock(&g_lock);
	for (m = g_modules; m != NULL; m = m->next) {
		if (strcmp(m->path, path) == 0) {
			m->refs++;
			*out = m;
			m = NULL;
			goto out;
		}
	}
	if (path[0] != '/')
		TFA_BAIL(TFA_EUSAGE, "the PKCS#11 module path must be absolute");
	if (stat(path, &st) != 0)
		TFA_BAIL(TFA_EUSAGE, "PKCS#11 module not found: %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		TFA_BAIL(TFA_EUSAGE, "PKCS#11 module %s is not a regular file", path);
	m = calloc(1, sizeof(*m));
	TFA_ENSURE(m != NULL, TFA_EINTERNAL, "out of memory");
	m->path = strdup(path);
	TFA_ENSURE(m->path != NULL, TFA_EINTERNAL, "out of memory");
	/*
	 * Our own reference to the same loaded object libp11 uses: dlopen of the
	 * same file returns the same instance, so both share one library state.
	 * RTLD_NODELETE keeps the module mapped after it is finalized: modules
	 * with exit handlers or threads crash when unmapped under them, and leak
	 * reports can still name the module's frames.
	 */
	m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (m->dl == NULL) {
		const char *e = dlerror();
		TFA_BAIL(TFA_EUSAGE, "cannot load the PKCS#11 module: %s", e ? e : "dlopen failed");
	}
	getfl = (CK_C_GetFunctionList)dlsym(m->dl, "C_GetFunctionList");
	if (getfl == NULL)
		TFA_BAIL(TFA_EUSAGE, "%s is not a PKCS#11 module (it has no C_GetFunctionList)",
			 path);
	rv = getfl(&m->fl);
	if (rv != CKR_OK || m->fl == NULL) {
		m->fl = NULL;
		rc = p11_error(TFA_EBACKEND, rv, "PKCS#11 module %s: C_GetFunctionList failed",
			       path);
		goto out;
	}
	if (m->fl->version.major < 2) {
		unsigned major = m->fl->version.major, minor = m->fl->version.minor;
		m->fl = NULL;
		TFA_BAIL(TFA_EUSAGE,
			 "PKCS#11 module %s implements Cryptoki %u.%u, need 2.x or later", path,
			 major, minor);
	}
	m->ctx = PKCS11_CTX_new();
	TFA_ENSURE(m->ctx != NULL, TFA_EINTERNAL, "out of memory");
	if (PKCS11_CTX_load(m->ctx, path) != 0) {
		rv = libp11_ckr();
		m->fl = NULL; /* not initialized: no C_Finalize */
		rc =
		    p11_error(TFA_EBACKEND, rv,
			      "cannot initialize the PKCS#11 module %s: C_Initialize failed (%s)%s",
			      path, p11_ckr_name(rv, (char[24]){0}), p11_conf_hint(path));
		goto out;
	}
	if (PKCS11_enumerate_slots(m->ctx, &m->slots, &m->nslots) != 0) {
		rv = libp11_ckr();
		m->slots = NULL;
		rc = p11_error(TFA_EBACKEND, rv, "cannot list the slots of PKCS#11 module %s (%s)",
			       path, p11_ckr_name(rv, (char[24]){0}));
		goto out;
	}
	m->refs = 1;
	m->next = g_modules;
	g_modules = m;
	*out = m;
	m = NULL;
out:
	module_free(m);
	pthread_mutex_unlock(&g_lock);
	return rc;
}

void p11_module_release(p11_module *m)
{
	p11_module **pp;

	if (m == NULL)
		return;
	pthread_mutex_lock(&g_lock);
	if (--m->refs == 0) {
		for (pp = &g_modules; *pp != NULL; pp = &(*pp)->next) {
			if (*pp == m) {
				*pp = m->next;
				break;
			}
		}
		p11_lock();
		module_free(m);
		p11_unlock();
	}
	pthread_mutex_unlock(&g_lock);
}

static int str_eq(const char *want, const char *have)
{
	return want == NULL || (have != NULL && strcmp(want, have) == 0);
}

static tfa_err describe_token(tfa_buf *b, PKCS11_SLOT *s)
{
	tfa_err rc = TFA_OK;

	TFA_GUARD(p11_put_quoted(b, s->token->label));
	TFA_GUARD(tfa_buf_printf(b, " (serial %s, slot-id %lu)",
				 s->token->serialnr ? s->token->serialnr : "",
				 PKCS11_get_slotid_from_slot(s)));
out:
	return rc;
}

const char *p11_conf_hint(const char *path)
{
	const char *base, *conf = getenv("SOFTHSM2_CONF");

	if (path == NULL || (conf != NULL && conf[0] != '\0'))
		return "";
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strstr(base, "softhsm") == NULL && strstr(base, "SoftHSM") == NULL)
		return "";
	return " (SOFTHSM2_CONF is not set: SoftHSM2 reads its system configuration, "
	       "/etc/softhsm/softhsm2.conf; set SOFTHSM2_CONF to the softhsm2.conf that names the "
	       "token's directory)";
}

tfa_err p11_select_token(PKCS11_SLOT **out, p11_module *m, const tfa_p11uri *u)
{
	tfa_err rc = TFA_OK;
	PKCS11_SLOT *found = NULL;
	unsigned nfound = 0, ntokens = 0;
	CK_INFO info;
	char lib_manuf[33], lib_desc[33];
	tfa_buf seen;
	CK_RV rv;

	tfa_buf_init(&seen, 4096);
	*out = NULL;
	if (u->lib_manufacturer || u->lib_description || u->has_lib_version) {
		rv = m->fl->C_GetInfo(&info);
		if (rv != CKR_OK) {
			rc = p11_error(TFA_EBACKEND, rv, "PKCS#11 C_GetInfo failed (%s)",
				       p11_ckr_name(rv, (char[24]){0}));
			goto out;
		}
		p11_field(lib_manuf, sizeof(lib_manuf), info.manufacturerID,
			  sizeof(info.manufacturerID));
		p11_field(lib_desc, sizeof(lib_desc), info.libraryDescription,
			  sizeof(info.libraryDescription));
		if (!str_eq(u->lib_manufacturer, lib_manuf) ||
		    !str_eq(u->lib_description, lib_desc) ||
		    (u->has_lib_version && (info.libraryVersion.major != u->lib_version_major ||
					    info.libraryVersion.minor != u->lib_version_minor)))
			TFA_BAIL(TFA_EUSAGE,
				 "PKCS#11 token not found: the module's library-manufacturer, "
				 "library-description or library-version does not match the URI");
	}
	for (unsigned i = 0; i < m->nslots; i++) {
		PKCS11_SLOT *s = &m->slots[i];
		PKCS11_TOKEN *t = s->token;

		if (t == NULL || !t->initialized)
			continue;
		if (ntokens < 8) {
			TFA_GUARD(tfa_buf_puts(&seen, ntokens ? ", " : ""));
			TFA_GUARD(describe_token(&seen, s));
		} else if (ntokens == 8) {
			TFA_GUARD(tfa_buf_puts(&seen, ", ..."));
		}
		ntokens++;
		if (!str_eq(u->token, t->label) || !str_eq(u->manufacturer, t->manufacturer) ||
		    !str_eq(u->serial, t->serialnr) || !str_eq(u->model, t->model) ||
		    !str_eq(u->slot_description, s->description) ||
		    !str_eq(u->slot_manufacturer, s->manufacturer) ||
		    (u->has_slot_id && PKCS11_get_slotid_from_slot(s) != u->slot_id))
			continue;
		found = s;
		nfound++;
	}
	if (ntokens == 0)
		TFA_BAIL(TFA_EUSAGE,
			 "PKCS#11 token not found: the module has no initialized token%s",
			 p11_conf_hint(m->path));
	if (nfound == 0)
		TFA_BAIL(TFA_EUSAGE,
			 "PKCS#11 token not found: no token matches the URI%s; tokens seen: %s",
			 p11_conf_hint(m->path), (const char *)seen.data);
	if (nfound > 1)
		TFA_BAIL(TFA_EUSAGE,
			 "the PKCS#11 URI matches %u tokens; name one with token=, serial= or "
			 "slot-id= (tokens seen: %s)",
			 nfound, (const char *)seen.data);
	*out = found;
out:
	tfa_buf_free(&seen);
	return rc;
}

tfa_err p11_login(p11_module *m, CK_SESSION_HANDLE session, CK_SLOT_ID slot, const char *pin)
{
	tfa_err rc = TFA_OK;
	CK_TOKEN_INFO ti;
	CK_RV rv;
	char nb[24];
	const char *hint = "";

	rv = m->fl->C_GetTokenInfo(slot, &ti);
	if (rv != CKR_OK) {
		rc = p11_error(TFA_EBACKEND, rv, "PKCS#11 C_GetTokenInfo failed (%s)",
			       p11_ckr_name(rv, nb));
		goto out;
	}
	/* A locked PIN is reported without spending a try. */
	if (ti.flags & CKF_USER_PIN_LOCKED) {
		rc = p11_error(TFA_EUSAGE, CKR_PIN_LOCKED,
			       "PKCS#11 login refused: the token reports its user PIN locked "
			       "(CKF_USER_PIN_LOCKED, CKR_PIN_LOCKED); the security officer must "
			       "reset it");
		goto out;
	}
	rv = m->fl->C_Login(session, CKU_USER, (CK_UTF8CHAR_PTR)(uintptr_t)pin,
			    pin ? (CK_ULONG)strlen(pin) : 0);
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
		goto out;
	if (rv == CKR_PIN_INCORRECT && m->fl->C_GetTokenInfo(slot, &ti) == CKR_OK) {
		if (ti.flags & CKF_USER_PIN_LOCKED)
			hint = "; the user PIN is now locked";
		else if (ti.flags & CKF_USER_PIN_FINAL_TRY)
			hint = "; one more wrong PIN locks it";
		else if (ti.flags & CKF_USER_PIN_COUNT_LOW)
			hint = "; the token reports few tries left";
	}
	switch (rv) {
	case CKR_PIN_INCORRECT:
		rc = p11_error(TFA_EUSAGE, rv, "PKCS#11 login failed: wrong PIN (%s)%s",
			       p11_ckr_name(rv, nb), hint);
		break;
	case CKR_PIN_LOCKED:
		rc = p11_error(TFA_EUSAGE, rv,
			       "PKCS#11 login failed: the user PIN is locked (%s); the security "
			       "officer must reset it",
			       p11_ckr_name(rv, nb));
		break;
	case CKR_PIN_LEN_RANGE:
	case CKR_PIN_INVALID:
	case CKR_PIN_EXPIRED:
	case CKR_USER_PIN_NOT_INITIALIZED:
	case CKR_USER_ANOTHER_ALREADY_LOGGED_IN:
		rc = p11_error(TFA_EUSAGE, rv, "PKCS#11 login failed (%s)", p11_ckr_name(rv, nb));
		break;
	default:
		rc = p11_error(TFA_EBACKEND, rv, "PKCS#11 login failed (%s)", p11_ckr_name(rv, nb));
		break;
	}
out:
	return rc;
}

tfa_err p11_find_object(CK_OBJECT_HANDLE *out, size_t *count, p11_module *m,
			CK_SESSION_HANDLE session, CK_OBJECT_CLASS cls, const uint8_t *id,
			size_t id_len, int match_id, const char *label)
{
	tfa_err rc = TFA_OK;
	CK_ATTRIBUTE tmpl[3];
	CK_ULONG n = 0, got = 0;
	CK_OBJECT_HANDLE objs[2];
	CK_RV rv;
	char nb[24];
	int active = 0;

	*out = CK_INVALID_HANDLE;
	*count = 0;
	tmpl[n].type = CKA_CLASS;
	tmpl[n].pValue = &cls;
	tmpl[n++].ulValueLen = sizeof(cls);
	if (match_id) {
		tmpl[n].type = CKA_ID;
		tmpl[n].pValue = (void *)(uintptr_t)id;
		tmpl[n++].ulValueLen = id_len;
	}
	if (label != NULL) {
		tmpl[n].type = CKA_LABEL;
		tmpl[n].pValue = (void *)(uintptr_t)label;
		tmpl[n++].ulValueLen = strlen(label);
	}
	rv = m->fl->C_FindObjectsInit(session, tmpl, n);
	if (rv != CKR_OK) {
		rc = p11_error(TFA_EBACKEND, rv, "PKCS#11 C_FindObjectsInit failed (%s)",
			       p11_ckr_name(rv, nb));
		goto out;
	}
	active = 1;
	rv = m->fl->C_FindObjects(session, objs, 2, &got);
	if (rv != CKR_OK) {
		rc = p11_error(TFA_EBACKEND, rv, "PKCS#11 C_FindObjects failed (%s)",
			       p11_ckr_name(rv, nb));
		goto out;
	}
	*count = got;
	if (got >= 1)
		*out = objs[0];
out:
	if (active)
		m->fl->C_FindObjectsFinal(session);
	return rc;
}

tfa_err p11_get_attr(tfa_buf *buf, p11_module *m, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE obj,
		     CK_ATTRIBUTE_TYPE type)
{
	tfa_err rc = TFA_OK;
	CK_ATTRIBUTE a = {type, NULL, 0};
	CK_RV rv;
	char nb[24];

	rv = m->fl->C_GetAttributeValue(session, obj, &a, 1);
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE ||
	    (rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION))
		return TFA_ENOTFOUND; /* quietly: callers decide whether it matters */
	if (rv != CKR_OK) {
		rc = p11_error(TFA_EBACKEND, rv, "PKCS#11 C_GetAttributeValue failed (%s)",
			       p11_ckr_name(rv, nb));
		goto out;
	}
	if (a.ulValueLen > ATTR_MAX)
		TFA_BAIL(TFA_EBACKEND, "PKCS#11 attribute is larger than %u bytes", ATTR_MAX);
	TFA_GUARD(tfa_buf_reserve(buf, a.ulValueLen));
	a.pValue = buf->data + buf->len;
	rv = m->fl->C_GetAttributeValue(session, obj, &a, 1);
	if (rv != CKR_OK) {
		rc = p11_error(TFA_EBACKEND, rv, "PKCS#11 C_GetAttributeValue failed (%s)",
			       p11_ckr_name(rv, nb));
		goto out;
	}
	buf->len += a.ulValueLen;
	buf->data[buf->len] = '\0';
out:
	return rc;
}

/* Reads a fixed-size attribute; TFA_ENOTFOUND when the object has none (or hides it). */
static tfa_err get_fixed(p11_module *m, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE obj,
			 CK_ATTRIBUTE_TYPE type, void *val, CK_ULONG size)
{
	CK_ATTRIBUTE a = {type, val, size};
	CK_RV rv;
	char nb[24];

	rv = m->fl->C_GetAttributeValue(session, obj, &a, 1);
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE)
		return TFA_ENOTFOUND;
	if (rv != CKR_OK)
		return p11_error(TFA_EBACKEND, rv, "PKCS#11 C_GetAttributeValue failed (%s)",
				 p11_ckr_name(rv, nb));
	if (a.ulValueLen != size)
		return tfa_error_set(TFA_EBACKEND, "PKCS#11 attribute has an unexpected size");
	return TFA_OK;
}

tfa_err p11_get_ulong(CK_ULONG *out, p11_module *m, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE obj,
		      CK_ATTRIBUTE_TYPE type)
{
	return get_fixed(m, session, obj, type, out, sizeof(*out));
}

tfa_err p11_get_bool(int *out, p11_module *m, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE obj,
		     CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL b = CK_FALSE;
	tfa_err rc = get_fixed(m, session, obj, type, &b, sizeof(b));

	if (rc == TFA_OK)
		*out = b != CK_FALSE;
	return rc;
}

/* DER of OID 1.2.840.10045.3.1.7 (prime256v1). */
static const uint8_t p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

int p11_ec_params_are_p256(const uint8_t *params, size_t len)
{
	return len == sizeof(p256_oid) && memcmp(params, p256_oid, len) == 0;
}

/* Builds a public key of `type` ("RSA" or "EC") from OSSL params and writes its DER SPKI. */
static tfa_err spki_from_params(tfa_buf *spki, const char *type, OSSL_PARAM *params)
{
	tfa_err rc = TFA_OK;
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) <= 0 ||
	    EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		rc = tfa_error_openssl(TFA_EBACKEND, "the token's %s public key is not usable",
				       type);
		goto out;
	}
	TFA_GUARD(tfa_pkey_to_spki(spki, pkey));
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(pctx);
	return rc;
}

static tfa_err rsa_spki(tfa_buf *spki, const tfa_buf *n, const tfa_buf *e)
{
	tfa_err rc = TFA_OK;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	BIGNUM *bn = NULL, *be = NULL;

	bn = BN_bin2bn(n->data, (int)n->len, NULL);
	be = BN_bin2bn(e->data, (int)e->len, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (bn == NULL || be == NULL || bld == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		TFA_BAIL(TFA_EINTERNAL, "out of memory");
	TFA_GUARD(spki_from_params(spki, "RSA", params));
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return rc;
}

static tfa_err ec_spki(tfa_buf *spki, const tfa_buf *params, const tfa_buf *point)
{
	tfa_err rc = TFA_OK;
	OSSL_PARAM p[3];
	const uint8_t *q = point->data;
	size_t qlen = point->len;

	if (!p11_ec_params_are_p256(params->data, params->len))
		TFA_BAIL(TFA_EUSAGE,
			 "the token's EC key is not on P-256 (only P-256 is supported)");
	/* CKA_EC_POINT is a DER OCTET STRING; some modules return the bare point. */
	if (qlen == 67 && q[0] == 0x04 && q[1] == 0x41) {
		q += 2;
		qlen -= 2;
	}
	if (qlen != 65 || q[0] != 0x04)
		TFA_BAIL(TFA_EBACKEND,
			 "the token's CKA_EC_POINT is not an uncompressed P-256 point");
	p[0] =
	    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
	p[1] =
	    OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)(uintptr_t)q, qlen);
	p[2] = OSSL_PARAM_construct_end();
	TFA_GUARD(spki_from_params(spki, "EC", p));
out:
	return rc;
}

tfa_err p11_spki_from_object(tfa_buf *spki, p11_module *m, CK_SESSION_HANDLE session,
			     CK_OBJECT_HANDLE obj)
{
	tfa_err rc = TFA_OK;
	CK_ULONG kt = 0;
	tfa_buf a, b;

	tfa_buf_init(&a, ATTR_MAX);
	tfa_buf_init(&b, ATTR_MAX);
	rc = p11_get_ulong(&kt, m, session, obj, CKA_KEY_TYPE);
	if (rc == TFA_ENOTFOUND)
		TFA_BAIL(TFA_EBACKEND, "the token's key has no CKA_KEY_TYPE");
	TFA_GUARD(rc);
	if (kt == CKK_RSA) {
		rc = p11_get_attr(&a, m, session, obj, CKA_MODULUS);
		if (rc == TFA_OK)
			rc = p11_get_attr(&b, m, session, obj, CKA_PUBLIC_EXPONENT);
		if (rc == TFA_ENOTFOUND)
			rc = tfa_error_set(TFA_ENOTFOUND, "RSA key without public attributes");
		TFA_GUARD(rc);
		TFA_GUARD(rsa_spki(spki, &a, &b));
	} else if (kt == CKK_EC) {
		rc = p11_get_attr(&a, m, session, obj, CKA_EC_PARAMS);
		if (rc == TFA_OK)
			rc = p11_get_attr(&b, m, session, obj, CKA_EC_POINT);
		if (rc == TFA_ENOTFOUND)
			rc = tfa_error_set(TFA_ENOTFOUND, "EC key without public attributes");
		TFA_GUARD(rc);
		TFA_GUARD(ec_spki(spki, &a, &b));
	} else {
		TFA_BAIL(TFA_EUSAGE,
			 "the token's key type (CKK 0x%lx) is not supported: need RSA "
			 "or EC P-256",
			 (unsigned long)kt);
	}
out:
	tfa_buf_free(&a);
	tfa_buf_free(&b);
	return rc;
}

tfa_err p11_put_quoted(tfa_buf *out, const char *s)
{
	tfa_err rc = TFA_OK;

	TFA_GUARD(tfa_buf_putc(out, '"'));
	for (; s != NULL && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			TFA_GUARD(tfa_buf_putc(out, '\\'));
		TFA_GUARD(tfa_buf_putc(out, c < 0x20 || c == 0x7f ? '?' : (char)c));
	}
	TFA_GUARD(tfa_buf_putc(out, '"'));
out:
	return rc;
}

void p11_pin_free(char *pin)
{
	if (pin == NULL)
		return;
	OPENSSL_cleanse(pin, strlen(pin));
	free(pin);
}

/* A copy of exactly len bytes plus NUL: no spare capacity to leave a PIN behind in. */
static char *pin_dup(const char *p, size_t len)
{
	char *s = malloc(len + 1);

	if (s != NULL) {
		memcpy(s, p, len);
		s[len] = '\0';
	}
	return s;
}

tfa_err p11_pin_read_source(char **pin, const char *source)
{
	tfa_err rc = TFA_OK;
	char buf[TFA_P11URI_PIN_MAX + 3];
	const char *path = source;
	size_t len = 0, line;
	struct stat st;
	int fd = -1;

	*pin = NULL;
	if (strncmp(path, "file://", 7) == 0) {
		path += 7; /* file:///abs/path: empty authority */
		if (path[0] != '/')
			TFA_BAIL(TFA_EUSAGE, "pin-source: only local file: URIs are supported");
	} else if (strncmp(path, "file:", 5) == 0) {
		path += 5;
	}
	if (path[0] != '/')
		TFA_BAIL(TFA_EUSAGE,
			 "pin-source must be a file: URI or an absolute path (e.g. file:/run/pin)");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		TFA_BAIL(TFA_EUSAGE, "cannot open the PIN file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		TFA_BAIL(TFA_EUSAGE, "the PIN file %s is not a regular file", path);
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			TFA_BAIL(TFA_EUSAGE, "cannot read the PIN file %s: %s", path,
				 strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf) - 1)
			TFA_BAIL(TFA_EUSAGE, "the PIN file %s is longer than %d bytes", path,
				 TFA_P11URI_PIN_MAX);
	}
	/* One line; a trailing LF or CRLF is not part of the PIN. */
	for (line = 0; line < len && buf[line] != '\n'; line++)
		;
	if (line < len && line + 1 != len)
		TFA_BAIL(TFA_EUSAGE, "the PIN file %s holds more than one line", path);
	if (line > 0 && buf[line - 1] == '\r')
		line--;
	if (line == 0)
		TFA_BAIL(TFA_EUSAGE, "the PIN file %s is empty", path);
	if (line > TFA_P11URI_PIN_MAX)
		TFA_BAIL(TFA_EUSAGE, "the PIN file %s is longer than %d bytes", path,
			 TFA_P11URI_PIN_MAX);
	if (memchr(buf, '\0', line) != NULL)
		TFA_BAIL(TFA_EUSAGE, "the PIN file %s contains a NUL byte", path);
	*pin = pin_dup(buf, line);
	TFA_ENSURE(*pin != NULL, TFA_EINTERNAL, "out of memory");
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return rc;
}

tfa_err p11_pin_resolve(char **pin, tfa_p11uri *u)
{
	const char *env;
	size_t len;

	*pin = NULL;
	if (u->pin_value != NULL) {
		/* Moved, not copied: the URI no longer holds it. */
		*pin = u->pin_value;
		u->pin_value = NULL;
		return TFA_OK;
	}
	if (u->pin_source != NULL)
		return p11_pin_read_source(pin, u->pin_source);
	env = getenv("TFATTEST_PKCS11_PIN");
	if (env == NULL || *env == '\0')
		return TFA_OK;
	len = strlen(env);
	if (len > TFA_P11URI_PIN_MAX)
		return tfa_error_set(TFA_EUSAGE, "TFATTEST_PKCS11_PIN is longer than %d bytes",
				     TFA_P11URI_PIN_MAX);
	*pin = pin_dup(env, len);
	if (*pin == NULL)
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	return TFA_OK;
}

tfa_err p11_module_path(const char **out, const tfa_p11uri *u)
{
	const char *p = u->module_path;

	*out = NULL;
	if (p == NULL) {
		p = getenv("TFATTEST_PKCS11_MODULE");
		if (p != NULL && *p == '\0')
			p = NULL;
	}
	if (p == NULL && u->module_name != NULL)
		return tfa_error_set(
		    TFA_EUSAGE, "module-name is not supported: give module-path= in the URI or "
				"set TFATTEST_PKCS11_MODULE");
	if (p == NULL)
		return tfa_error_set(TFA_EUSAGE, "no PKCS#11 module: give module-path= in the URI "
						 "or set TFATTEST_PKCS11_MODULE");
	if (p[0] != '/')
		return tfa_error_set(TFA_EUSAGE, "the PKCS#11 module path must be absolute");
	*out = p;
	return TFA_OK;
}
