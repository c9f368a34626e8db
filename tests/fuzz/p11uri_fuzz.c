/*
 * libFuzzer target for the RFC 7512 PKCS#11 URI parser.
 *
 * Besides memory errors it checks two properties: a parsed URI re-encoded by
 * tfa_p11uri_format() parses again to the same attributes, and no error
 * message quotes the query (where a PIN may sit) when the query holds a
 * pin-value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../providers/pkcs11/p11uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void check_same(const tfa_p11uri *a, const tfa_p11uri *b)
{
	if (!same_str(a->token, b->token) || !same_str(a->manufacturer, b->manufacturer) ||
	    !same_str(a->serial, b->serial) || !same_str(a->model, b->model) ||
	    !same_str(a->lib_manufacturer, b->lib_manufacturer) ||
	    !same_str(a->lib_description, b->lib_description) ||
	    a->has_lib_version != b->has_lib_version ||
	    a->lib_version_major != b->lib_version_major ||
	    a->lib_version_minor != b->lib_version_minor ||
	    !same_str(a->slot_description, b->slot_description) ||
	    !same_str(a->slot_manufacturer, b->slot_manufacturer) ||
	    a->has_slot_id != b->has_slot_id || a->slot_id != b->slot_id ||
	    !same_str(a->object, b->object) || a->has_id != b->has_id || a->id_len != b->id_len ||
	    (a->id_len && memcmp(a->id, b->id, a->id_len) != 0) || a->type != b->type ||
	    !same_str(a->pin_source, b->pin_source) || !same_str(a->module_name, b->module_name) ||
	    !same_str(a->module_path, b->module_path) || b->pin_value != NULL)
		abort();
}

/*
 * A needle of 6+ bytes made only of characters a value may hold unescaped,
 * with a letter and a digit, cannot come from the fixed text of a message:
 * if the message holds it, the message quoted the query.
 */
static void check_not_quoted(const char *s, size_t size, const char *q)
{
	const char *pv = NULL, *end = s + size;
	char needle[65];
	size_t n = 0;
	int alpha = 0, digit = 0;

	for (const char *p = q; p + 10 <= end; p++)
		if (memcmp(p, "pin-value=", 10) == 0) {
			pv = p + 10;
			break;
		}
	if (pv == NULL)
		return;
	while (pv + n < end && pv[n] != '&' && n < 64) {
		char c = pv[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("-._~:[]@!$'()*+,=/?|", c) != NULL) ||
		    c == '\0')
			return;
		alpha |= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		digit |= c >= '0' && c <= '9';
		n++;
	}
	if (n < 6 || !alpha || !digit)
		return;
	memcpy(needle, pv, n);
	needle[n] = '\0';
	/* Path attribute names are quoted on purpose; the path holds no PIN. */
	for (const char *p = s; p + n <= q; p++)
		if (memcmp(p, needle, n) == 0)
			return;
	if (strstr(tfa_error_last()->message, needle) != NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_p11uri *u = NULL, *v = NULL;
	tfa_buf b;
	const char *s = (const char *)data;
	const char *q;

	tfa_buf_init(&b, 0);
	if (tfa_p11uri_parse(&u, s, size) != TFA_OK) {
		/* The message must not quote a pin-value (the scheme error names "pkcs11:"). */
		q = memchr(s, '?', size);
		if (q != NULL && size >= 7 && strncasecmp(s, "pkcs11:", 7) == 0)
			check_not_quoted(s, size, q);
		return 0;
	}
	if (tfa_p11uri_format(&b, u) != TFA_OK)
		abort();
	/* Escaping can make the canonical form longer than the input cap. */
	if (b.len <= TFA_P11URI_MAX) {
		if (tfa_p11uri_parse(&v, (const char *)b.data, b.len) != TFA_OK)
			abort();
		check_same(u, v);
	}
	tfa_p11uri_wipe_pin(u);
	if (u->pin_value != NULL)
		abort();
	tfa_p11uri_free(u);
	tfa_p11uri_free(v);
	tfa_buf_free(&b);
	return 0;
}
