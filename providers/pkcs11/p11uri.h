/*
 * RFC 7512 PKCS #11 URIs: a strict parser and an encoder.
 *
 *   pkcs11:token=LABEL;object=LABEL;id=%01;type=private
 *         ?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/path
 *
 * Path attributes: token, manufacturer, serial, model, library-manufacturer,
 * library-description, library-version, slot-description, slot-manufacturer,
 * slot-id, object, id, type. Query attributes: pin-source, pin-value,
 * module-name, module-path. Anything else is refused, as are duplicate
 * attributes, bad percent-escapes, characters RFC 7512 does not allow
 * unescaped, values longer than the PKCS#11 field they match, and a URI with
 * both pin-value and pin-source.
 *
 * Error messages never quote a query value or any part of the query, so a
 * PIN (or a fragment of one) cannot end up in a message.
 *
 * Private to the pkcs11 backend; its tests and fuzz target include it too.
 */
#ifndef TFA_P11URI_H
#define TFA_P11URI_H

#include "tfattest/buffer.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

/* Caps, in bytes. Values longer than the PKCS#11 field they match never match. */
#define TFA_P11URI_MAX	     8192 /* the whole URI */
#define TFA_P11URI_LABEL_MAX 256  /* object (CKA_LABEL) */
#define TFA_P11URI_ID_MAX    128  /* id (CKA_ID) */
#define TFA_P11URI_PATH_MAX  4096 /* module-path, pin-source */
#define TFA_P11URI_NAME_MAX  256  /* module-name */
#define TFA_P11URI_PIN_MAX   256  /* pin-value, and a PIN read from a file */

typedef enum tfa_p11_objtype {
	TFA_P11_TYPE_ANY = 0, /* no type= */
	TFA_P11_TYPE_PUBLIC,
	TFA_P11_TYPE_PRIVATE,
	TFA_P11_TYPE_CERT,
	TFA_P11_TYPE_SECRET_KEY,
	TFA_P11_TYPE_DATA
} tfa_p11_objtype;

/*
 * A parsed URI. Every string is percent-decoded and NUL-terminated, NULL when
 * the attribute is absent. String values never contain a NUL byte; id may.
 */
typedef struct tfa_p11uri {
	/* path */
	char *token;
	char *manufacturer;
	char *serial;
	char *model;
	char *lib_manufacturer;
	char *lib_description;
	int has_lib_version;
	unsigned lib_version_major, lib_version_minor;
	char *slot_description;
	char *slot_manufacturer;
	int has_slot_id;
	unsigned long slot_id;
	char *object;
	int has_id;
	uint8_t *id;
	size_t id_len;
	tfa_p11_objtype type;
	/* query */
	char *pin_source;
	char *pin_value; /* secret: wiped by tfa_p11uri_wipe_pin() and tfa_p11uri_free() */
	char *module_name;
	char *module_path;
} tfa_p11uri;

/*
 * Parses len bytes (no NUL needed; a NUL byte inside is refused). On success
 * *out owns a new tfa_p11uri. TFA_EUSAGE for a malformed URI.
 */
TFA_WUR tfa_err tfa_p11uri_parse(tfa_p11uri **out, const char *uri, size_t len);

/* Wipes and releases the pin-value, if any. */
void tfa_p11uri_wipe_pin(tfa_p11uri *u);

/* Accepts NULL. Wipes the pin-value. */
void tfa_p11uri_free(tfa_p11uri *u);

/* Where an encoded value goes: each allows a different set of bytes unescaped. */
typedef enum tfa_p11uri_part {
	TFA_P11URI_PART_PATH,  /* path attribute value */
	TFA_P11URI_PART_QUERY, /* query attribute value ("/" and ":" stay as they are) */
	TFA_P11URI_PART_ID     /* every byte escaped, as RFC 7512 recommends for id */
} tfa_p11uri_part;

/* Appends v percent-encoded for the given part of a URI. */
TFA_WUR tfa_err tfa_p11uri_encode(tfa_buf *out, const void *v, size_t len, tfa_p11uri_part part);

/*
 * Appends the URI in canonical form (attributes in a fixed order, values
 * re-encoded). pin-value is never written; pin-source is.
 */
TFA_WUR tfa_err tfa_p11uri_format(tfa_buf *out, const tfa_p11uri *u);

/* "private" etc.; NULL for TFA_P11_TYPE_ANY. */
const char *tfa_p11_objtype_name(tfa_p11_objtype t);

#endif
