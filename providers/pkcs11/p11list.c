/*
 * tfa_pkcs11_list(): the tokens of a module and the keys on them, each with
 * a ready-made pkcs11: URI (like `cosign pkcs11-tool list-keys-uris`).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "p11core.h"
#include "p11uri.h"
#include "tfattest/pkcs11.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

static tfa_err put_path_attr(tfa_buf *out, int *first, const char *name, const char *v)
{
	tfa_err rc = TFA_OK;

	if (v == NULL || *v == '\0')
		return TFA_OK;
	TFA_GUARD(tfa_buf_puts(out, *first ? "" : ";"));
	*first = 0;
	TFA_GUARD(tfa_buf_printf(out, "%s=", name));
	TFA_GUARD(tfa_p11uri_encode(out, v, strlen(v), TFA_P11URI_PART_PATH));
out:
	return rc;
}

static tfa_err put_module(tfa_buf *out, const char *path)
{
	tfa_err rc = TFA_OK;

	TFA_GUARD(tfa_buf_puts(out, "?module-path="));
	TFA_GUARD(tfa_p11uri_encode(out, path, strlen(path), TFA_P11URI_PART_QUERY));
out:
	return rc;
}

/* alg=... sign=yes|no for a key object. */
static tfa_err put_key_facts(tfa_buf *out, p11_module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
			     int is_private)
{
	tfa_err rc = TFA_OK;
	CK_ULONG kt = 0, bits = 0;
	tfa_buf a;
	int sign = 0;

	tfa_buf_init(&a, 65536);
	if (h == CK_INVALID_HANDLE || p11_get_ulong(&kt, m, s, h, CKA_KEY_TYPE) != TFA_OK) {
		TFA_GUARD(tfa_buf_puts(out, " alg=unknown"));
	} else if (kt == CKK_RSA) {
		if (p11_get_ulong(&bits, m, s, h, CKA_MODULUS_BITS) != TFA_OK &&
		    p11_get_attr(&a, m, s, h, CKA_MODULUS) == TFA_OK)
			bits = (CK_ULONG)a.len * 8;
		TFA_GUARD(tfa_buf_printf(out, " alg=RSA-%lu", (unsigned long)bits));
	} else if (kt == CKK_EC) {
		int p256 = p11_get_attr(&a, m, s, h, CKA_EC_PARAMS) == TFA_OK &&
			   p11_ec_params_are_p256(a.data, a.len);
		TFA_GUARD(tfa_buf_puts(out, p256 ? " alg=EC-P256" : " alg=EC"));
	} else {
		TFA_GUARD(tfa_buf_printf(out, " alg=CKK-0x%lx", (unsigned long)kt));
	}
	if (is_private && h != CK_INVALID_HANDLE) {
		if (p11_get_bool(&sign, m, s, h, CKA_SIGN) != TFA_OK)
			sign = 0;
		TFA_GUARD(tfa_buf_puts(out, sign ? " sign=yes" : " sign=no"));
	}
out:
	tfa_error_clear();
	tfa_buf_free(&a);
	return rc;
}

static tfa_err list_keys(tfa_buf *out, p11_module *m, CK_SESSION_HANDLE s, PKCS11_SLOT *slot,
			 int is_private, int add_serial, const char *path)
{
	tfa_err rc = TFA_OK;
	PKCS11_TOKEN *tok = slot->token;
	PKCS11_KEY *keys = NULL;
	unsigned n = 0;
	int r;

	r = is_private ? PKCS11_enumerate_keys(tok, &keys, &n)
		       : PKCS11_enumerate_public_keys(tok, &keys, &n);
	if (r != 0) {
		ERR_clear_error();
		TFA_BAIL(TFA_EBACKEND, "cannot list the keys on PKCS#11 token \"%s\"", tok->label);
	}
	for (unsigned i = 0; i < n; i++) {
		const PKCS11_KEY *k = &keys[i];
		CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
		size_t count = 0;
		char hex[2 * TFA_P11URI_ID_MAX + 1];
		size_t idn = k->id_len > TFA_P11URI_ID_MAX ? TFA_P11URI_ID_MAX : k->id_len;
		int first = 1;

		if (p11_find_object(&h, &count, m, s, is_private ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY,
				    k->id, k->id_len, 1, k->label) != TFA_OK ||
		    count != 1)
			h = CK_INVALID_HANDLE;
		tfa_error_clear();
		tfa_hex_encode(hex, k->id, idn);
		TFA_GUARD(tfa_buf_puts(out, "key token="));
		TFA_GUARD(p11_put_quoted(out, tok->label));
		TFA_GUARD(tfa_buf_puts(out, " label="));
		TFA_GUARD(p11_put_quoted(out, k->label ? k->label : ""));
		TFA_GUARD(tfa_buf_printf(out, " id=%s class=%s", idn ? hex : "-",
					 is_private ? "private" : "public"));
		TFA_GUARD(put_key_facts(out, m, s, h, is_private));
		/* The URI always names the private half: that is what signs. */
		TFA_GUARD(tfa_buf_puts(out, " uri=pkcs11:"));
		TFA_GUARD(put_path_attr(out, &first, "token", tok->label));
		if (add_serial)
			TFA_GUARD(put_path_attr(out, &first, "serial", tok->serialnr));
		TFA_GUARD(put_path_attr(out, &first, "object", k->label));
		if (k->id_len > 0 && k->id_len <= TFA_P11URI_ID_MAX) {
			TFA_GUARD(tfa_buf_puts(out, first ? "id=" : ";id="));
			first = 0;
			TFA_GUARD(tfa_p11uri_encode(out, k->id, k->id_len, TFA_P11URI_PART_ID));
		}
		TFA_GUARD(tfa_buf_puts(out, first ? "type=private" : ";type=private"));
		TFA_GUARD(put_module(out, path));
		TFA_GUARD(tfa_buf_putc(out, '\n'));
	}
out:
	return rc;
}

static int label_shared(p11_module *m, const PKCS11_SLOT *slot)
{
	for (unsigned i = 0; i < m->nslots; i++) {
		const PKCS11_SLOT *o = &m->slots[i];
		if (o != slot && o->token && o->token->initialized && o->token->label &&
		    slot->token->label && strcmp(o->token->label, slot->token->label) == 0)
			return 1;
	}
	return 0;
}

static tfa_err list_token(tfa_buf *out, p11_module *m, PKCS11_SLOT *slot, const char *pin,
			  const char *path)
{
	tfa_err rc = TFA_OK;
	PKCS11_TOKEN *t = slot->token;
	CK_SLOT_ID id = PKCS11_get_slotid_from_slot(slot);
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	int have_session = 0, first = 1, logged_in = 0;
	CK_RV rv;
	char nb[24];
	int shared = label_shared(m, slot);

	TFA_GUARD(tfa_buf_printf(out, "token slot-id=%lu label=", (unsigned long)id));
	TFA_GUARD(p11_put_quoted(out, t->label));
	TFA_GUARD(tfa_buf_puts(out, " manufacturer="));
	TFA_GUARD(p11_put_quoted(out, t->manufacturer));
	TFA_GUARD(tfa_buf_puts(out, " model="));
	TFA_GUARD(p11_put_quoted(out, t->model));
	TFA_GUARD(tfa_buf_puts(out, " serial="));
	TFA_GUARD(p11_put_quoted(out, t->serialnr));
	TFA_GUARD(tfa_buf_puts(out, " uri=pkcs11:"));
	TFA_GUARD(put_path_attr(out, &first, "model", t->model));
	TFA_GUARD(put_path_attr(out, &first, "manufacturer", t->manufacturer));
	TFA_GUARD(put_path_attr(out, &first, "serial", t->serialnr));
	TFA_GUARD(put_path_attr(out, &first, "token", t->label));
	TFA_GUARD(put_module(out, path));
	TFA_GUARD(tfa_buf_putc(out, '\n'));

	rv = m->fl->C_OpenSession(id, CKF_SERIAL_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK) {
		rc = p11_error(TFA_EBACKEND, rv,
			       "cannot open a session on PKCS#11 token \"%s\" (%s)", t->label,
			       p11_ckr_name(rv, nb));
		goto out;
	}
	have_session = 1;
	if (pin != NULL) {
		TFA_GUARD(p11_login(m, s, id, pin));
		logged_in = 1;
	}
	if (logged_in)
		TFA_GUARD(list_keys(out, m, s, slot, 1, shared, path));
	else
		TFA_GUARD(list_keys(out, m, s, slot, 0, shared, path));
out:
	if (have_session)
		m->fl->C_CloseSession(s);
	return rc;
}

tfa_err tfa_pkcs11_list(tfa_buf *out, const char *module_path, const char *token, const char *pin)
{
	tfa_err rc = TFA_OK;
	p11_module *m = NULL;
	const char *path = module_path;
	unsigned nsel = 0, ntok = 0;
	int locked = 0, lock_fd = -1;
	tfa_buf seen;

	tfa_buf_init(&seen, 4096);
	TFA_ENSURE_ARG(out);
	if (path == NULL || *path == '\0')
		path = getenv("TFATTEST_PKCS11_MODULE");
	if (path == NULL || *path == '\0')
		TFA_BAIL(TFA_EUSAGE, "no PKCS#11 module: give --module PATH or set "
				     "TFATTEST_PKCS11_MODULE");
	if (pin != NULL && strlen(pin) > TFA_P11URI_PIN_MAX)
		TFA_BAIL(TFA_EUSAGE, "the PIN is longer than %d bytes", TFA_P11URI_PIN_MAX);
	lock_fd = p11_open_lock(path);
	TFA_GUARD(p11_module_acquire(&m, path));
	p11_lock();
	locked = 1;
	for (unsigned i = 0; i < m->nslots; i++) {
		PKCS11_TOKEN *t = m->slots[i].token;
		if (t == NULL || !t->initialized)
			continue;
		if (ntok++ < 8) {
			TFA_GUARD(tfa_buf_puts(&seen, ntok > 1 ? ", " : ""));
			TFA_GUARD(p11_put_quoted(&seen, t->label));
		}
		if (token == NULL || (t->label && strcmp(t->label, token) == 0))
			nsel++;
	}
	if (token != NULL && nsel == 0)
		TFA_BAIL(TFA_EUSAGE, "PKCS#11 token not found: %s%s; tokens seen: %s", token,
			 p11_conf_hint(path), ntok ? (const char *)seen.data : "none");
	/* A wrong PIN tried on every token would count against each one's retry limit. */
	if (pin != NULL && nsel > 1)
		TFA_BAIL(TFA_EUSAGE,
			 "a PIN is tried on one token only: the module has %u tokens "
			 "(%s); name one with --token",
			 nsel, (const char *)seen.data);
	for (unsigned i = 0; i < m->nslots; i++) {
		PKCS11_SLOT *s = &m->slots[i];
		if (s->token == NULL || !s->token->initialized)
			continue;
		if (token != NULL &&
		    (s->token->label == NULL || strcmp(s->token->label, token) != 0))
			continue;
		TFA_GUARD(list_token(out, m, s, pin, path));
	}
out:
	if (locked)
		p11_unlock();
	ERR_clear_error();
	tfa_buf_free(&seen);
	p11_module_release(m);
	p11_open_unlock(lock_fd);
	return rc;
}

tfa_err tfa_pkcs11_pin_read(char **pin, const char *pin_source)
{
	if (pin == NULL || pin_source == NULL)
		return tfa_error_set(TFA_EUSAGE, "missing argument: pin_source");
	return p11_pin_read_source(pin, pin_source);
}

void tfa_pkcs11_pin_free(char *pin)
{
	p11_pin_free(pin);
}
