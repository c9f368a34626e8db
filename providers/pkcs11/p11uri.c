/*
 * RFC 7512 PKCS #11 URI parser. libp11 0.4.12's own parser refuses
 * module-path and slot-id, so the backend brings its own.
 *
 * The grammar (RFC 7512 section 2.3), in short:
 *   pk11-URI  = "pkcs11:" pk11-path [ "?" pk11-query ]
 *   pk11-path = [ pk11-pattr *(";" pk11-pattr) ]
 *   pk11-query = [ pk11-qattr *("&" pk11-qattr) ]
 *   pk11-pchar = unreserved / pk11-res-avail / "&" / pct-encoded
 *   pk11-qchar = unreserved / pk11-res-avail / "/" / "?" / "|" / pct-encoded
 *   pk11-res-avail = ":" / "[" / "]" / "@" / "!" / "$" / "'" / "(" / ")" /
 *                    "*" / "+" / "," / "="
 *
 * Secrets: the pin-value is decoded straight into a buffer of its final size
 * (no growing buffer leaves copies behind) and is wiped before it is freed.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "format/hex.h"
#include "format/pct.h"
#include "p11uri.h"
#include "tfattest/sys/guard.h"

#define SCHEME	   "pkcs11:"
#define SCHEME_LEN 7

enum where { IN_PATH = 1, IN_QUERY = 2 };
enum kind { K_STR, K_ID, K_TYPE, K_SLOT_ID, K_LIB_VERSION };

typedef struct attr_def {
	const char *name;
	enum where where;
	enum kind kind;
	size_t max;   /* decoded bytes */
	size_t off;   /* offset of the char * field, for K_STR */
	int nonempty; /* refuse an empty value */
} attr_def;

#define STR_FIELD(f) offsetof(tfa_p11uri, f)

/* The field sizes are those of CK_TOKEN_INFO, CK_SLOT_INFO and CK_INFO. */
static const attr_def attrs[] = {
    {"token", IN_PATH, K_STR, 32, STR_FIELD(token), 0},
    {"manufacturer", IN_PATH, K_STR, 32, STR_FIELD(manufacturer), 0},
    {"serial", IN_PATH, K_STR, 16, STR_FIELD(serial), 0},
    {"model", IN_PATH, K_STR, 16, STR_FIELD(model), 0},
    {"library-manufacturer", IN_PATH, K_STR, 32, STR_FIELD(lib_manufacturer), 0},
    {"library-description", IN_PATH, K_STR, 32, STR_FIELD(lib_description), 0},
    {"library-version", IN_PATH, K_LIB_VERSION, 7, 0, 1},
    {"slot-description", IN_PATH, K_STR, 64, STR_FIELD(slot_description), 0},
    {"slot-manufacturer", IN_PATH, K_STR, 32, STR_FIELD(slot_manufacturer), 0},
    {"slot-id", IN_PATH, K_SLOT_ID, 20, 0, 1},
    {"object", IN_PATH, K_STR, TFA_P11URI_LABEL_MAX, STR_FIELD(object), 0},
    {"id", IN_PATH, K_ID, TFA_P11URI_ID_MAX, 0, 0},
    {"type", IN_PATH, K_TYPE, 10, 0, 1},
    {"pin-source", IN_QUERY, K_STR, TFA_P11URI_PATH_MAX, STR_FIELD(pin_source), 1},
    {"pin-value", IN_QUERY, K_STR, TFA_P11URI_PIN_MAX, STR_FIELD(pin_value), 1},
    {"module-name", IN_QUERY, K_STR, TFA_P11URI_NAME_MAX, STR_FIELD(module_name), 1},
    {"module-path", IN_QUERY, K_STR, TFA_P11URI_PATH_MAX, STR_FIELD(module_path), 1},
};
#define N_ATTRS (sizeof(attrs) / sizeof(attrs[0]))

static const char *const type_names[] = {
    [TFA_P11_TYPE_ANY] = NULL,
    [TFA_P11_TYPE_PUBLIC] = "public",
    [TFA_P11_TYPE_PRIVATE] = "private",
    [TFA_P11_TYPE_CERT] = "cert",
    [TFA_P11_TYPE_SECRET_KEY] = "secret-key",
    [TFA_P11_TYPE_DATA] = "data",
};

const char *tfa_p11_objtype_name(tfa_p11_objtype t)
{
	if ((unsigned)t >= sizeof(type_names) / sizeof(type_names[0]))
		return NULL;
	return type_names[t];
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_res_avail(int c)
{
	return c != '\0' && strchr(":[]@!$'()*+,=", c) != NULL;
}

/* A byte allowed unescaped in a value of the given part. */
static int value_char_ok(int c, enum where w)
{
	if (tfa_pct_unreserved(c) || is_res_avail(c))
		return 1;
	if (w == IN_PATH)
		return c == '&';
	return c == '/' || c == '?' || c == '|';
}

static char **str_field(tfa_p11uri *u, const attr_def *a)
{
	return (char **)(void *)((char *)u + a->off);
}

static const char *str_value(const tfa_p11uri *u, const attr_def *a)
{
	return *(char *const *)(const void *)((const char *)u + a->off);
}

void tfa_p11uri_wipe_pin(tfa_p11uri *u)
{
	if (u == NULL || u->pin_value == NULL)
		return;
	OPENSSL_cleanse(u->pin_value, strlen(u->pin_value));
	free(u->pin_value);
	u->pin_value = NULL;
}

void tfa_p11uri_free(tfa_p11uri *u)
{
	if (u == NULL)
		return;
	tfa_p11uri_wipe_pin(u);
	for (size_t i = 0; i < N_ATTRS; i++)
		if (attrs[i].kind == K_STR)
			free(*str_field(u, &attrs[i]));
	free(u->id);
	free(u);
}

/*
 * Checks the characters of a raw value and decodes it into a new buffer of
 * exactly the decoded size (+1 for a NUL). `base` is the value's offset in
 * the URI, for messages.
 */
static tfa_err decode_value(uint8_t **out, size_t *outlen, const char *v, size_t n, enum where w,
			    const attr_def *a, size_t base)
{
	tfa_err rc = TFA_OK;
	size_t dlen = 0, got = 0;
	uint8_t *buf = NULL;

	*out = NULL;
	*outlen = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)v[i];
		if (c == '%') {
			if (n - i < 3 || tfa_hexval(v[i + 1]) < 0 || tfa_hexval(v[i + 2]) < 0)
				TFA_BAIL(
				    TFA_EUSAGE,
				    "invalid PKCS#11 URI: bad percent-escape in '%s' at offset %zu",
				    a->name, base + i);
			i += 2;
		} else if (!value_char_ok(c, w)) {
			TFA_BAIL(TFA_EUSAGE,
				 "invalid PKCS#11 URI: character at offset %zu in '%s' must be "
				 "percent-encoded",
				 base + i, a->name);
		}
		dlen++;
	}
	if (dlen > a->max)
		TFA_BAIL(TFA_EUSAGE, "invalid PKCS#11 URI: '%s' is longer than %zu bytes", a->name,
			 a->max);
	if (dlen == 0 && a->nonempty)
		TFA_BAIL(TFA_EUSAGE, "invalid PKCS#11 URI: '%s' is empty", a->name);
	buf = malloc(dlen + 1);
	TFA_ENSURE(buf != NULL, TFA_EINTERNAL, "out of memory");
	/* The grammar is checked above; the bytes, NUL included, are judged below. */
	TFA_GUARD(tfa_pct_decode(buf, dlen + 1, &got, v, n, TFA_PCT_BINARY));
	dlen = got;
	if (a->kind != K_ID && memchr(buf, '\0', dlen) != NULL)
		TFA_BAIL(TFA_EUSAGE, "invalid PKCS#11 URI: '%s' contains a NUL byte", a->name);
	*out = buf;
	*outlen = dlen;
	buf = NULL;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, dlen);
		free(buf);
	}
	return rc;
}

/* 1*DIGIT into an unsigned long, refusing overflow. */
static int parse_ulong(unsigned long *out, const char *s, size_t n)
{
	unsigned long v = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d;
		if (!is_digit(s[i]))
			return 0;
		d = (unsigned)(s[i] - '0');
		if (v > (~0UL - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*out = v;
	return 1;
}

static tfa_err set_attr(tfa_p11uri *u, const attr_def *a, const char *v, size_t n, size_t base)
{
	tfa_err rc = TFA_OK;
	uint8_t *dec = NULL;
	size_t dlen = 0;

	switch (a->kind) {
	case K_STR:
		TFA_GUARD(decode_value(&dec, &dlen, v, n, a->where, a, base));
		*str_field(u, a) = (char *)dec;
		dec = NULL;
		break;
	case K_ID:
		TFA_GUARD(decode_value(&dec, &dlen, v, n, a->where, a, base));
		u->id = dec;
		u->id_len = dlen;
		u->has_id = 1;
		dec = NULL;
		break;
	case K_TYPE:
		for (unsigned t = TFA_P11_TYPE_PUBLIC; t <= TFA_P11_TYPE_DATA; t++) {
			if (strlen(type_names[t]) == n && memcmp(type_names[t], v, n) == 0) {
				u->type = (tfa_p11_objtype)t;
				goto out;
			}
		}
		TFA_BAIL(
		    TFA_EUSAGE,
		    "invalid PKCS#11 URI: type must be public, private, cert, secret-key or data");
	case K_SLOT_ID:
		if (n > a->max || !parse_ulong(&u->slot_id, v, n))
			TFA_BAIL(TFA_EUSAGE,
				 "invalid PKCS#11 URI: slot-id must be a decimal number");
		u->has_slot_id = 1;
		break;
	case K_LIB_VERSION: {
		const char *dot = memchr(v, '.', n);
		size_t mlen = dot ? (size_t)(dot - v) : n;
		unsigned long major = 0, minor = 0;

		/* CK_VERSION holds each part in one byte. */
		if (n > a->max || !parse_ulong(&major, v, mlen) || major > 255 ||
		    (dot != NULL && (!parse_ulong(&minor, dot + 1, n - mlen - 1) || minor > 255)))
			TFA_BAIL(TFA_EUSAGE, "invalid PKCS#11 URI: library-version must be "
					     "MAJOR[.MINOR], each 0-255");
		u->lib_version_major = (unsigned)major;
		u->lib_version_minor = (unsigned)minor;
		u->has_lib_version = 1;
		break;
	}
	}
out:
	free(dec);
	return rc;
}

static int name_char_ok(int c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '_';
}

/* One "name=value" attribute of the path or the query. */
static tfa_err parse_attr(tfa_p11uri *u, unsigned *seen, const char *uri, size_t start, size_t end,
			  enum where w)
{
	tfa_err rc = TFA_OK;
	const char *s = uri + start;
	size_t n = end - start, nlen;
	const char *eq;
	const attr_def *a = NULL;

	if (n == 0)
		TFA_BAIL(TFA_EUSAGE, "invalid PKCS#11 URI: empty attribute at offset %zu", start);
	eq = memchr(s, '=', n);
	if (eq == NULL)
		TFA_BAIL(TFA_EUSAGE, "invalid PKCS#11 URI: attribute at offset %zu has no '='",
			 start);
	nlen = (size_t)(eq - s);
	if (nlen == 0)
		TFA_BAIL(TFA_EUSAGE, "invalid PKCS#11 URI: attribute at offset %zu has no name",
			 start);
	for (size_t i = 0; i < nlen; i++)
		if (!name_char_ok((unsigned char)s[i]))
			TFA_BAIL(TFA_EUSAGE,
				 "invalid PKCS#11 URI: malformed attribute name at offset %zu",
				 start);
	for (size_t i = 0; i < N_ATTRS; i++) {
		if (strlen(attrs[i].name) == nlen && memcmp(attrs[i].name, s, nlen) == 0) {
			a = &attrs[i];
			if ((*seen >> i) & 1u)
				TFA_BAIL(TFA_EUSAGE,
					 "invalid PKCS#11 URI: '%s' appears more than once",
					 a->name);
			*seen |= 1u << i;
			break;
		}
	}
	if (a == NULL) {
		/* Query names are not echoed: a mistyped PIN could sit there. */
		if (w == IN_PATH && nlen <= 32)
			TFA_BAIL(TFA_EUSAGE, "invalid PKCS#11 URI: unsupported attribute '%.*s'",
				 (int)nlen, s);
		TFA_BAIL(TFA_EUSAGE, "invalid PKCS#11 URI: unsupported %s attribute at offset %zu",
			 w == IN_PATH ? "path" : "query", start);
	}
	if (a->where != w)
		TFA_BAIL(TFA_EUSAGE, "invalid PKCS#11 URI: '%s' belongs in the %s", a->name,
			 a->where == IN_PATH ? "path (before '?')" : "query (after '?')");
	TFA_GUARD(set_attr(u, a, eq + 1, n - nlen - 1, start + nlen + 1));
out:
	return rc;
}

/* Splits [start, end) on sep and parses each attribute. */
static tfa_err parse_part(tfa_p11uri *u, unsigned *seen, const char *uri, size_t start, size_t end,
			  char sep, enum where w)
{
	tfa_err rc = TFA_OK;
	size_t i = start;

	if (start == end)
		return TFA_OK; /* an empty path or query is allowed */
	for (;;) {
		size_t j = i;
		while (j < end && uri[j] != sep)
			j++;
		TFA_GUARD(parse_attr(u, seen, uri, i, j, w));
		if (j == end)
			break;
		i = j + 1;
		if (i == end)
			TFA_BAIL(TFA_EUSAGE, "invalid PKCS#11 URI: empty attribute at offset %zu",
				 i);
	}
out:
	return rc;
}

tfa_err tfa_p11uri_parse(tfa_p11uri **out, const char *uri, size_t len)
{
	tfa_err rc = TFA_OK;
	tfa_p11uri *u = NULL;
	unsigned seen = 0;
	size_t q;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(uri);
	if (len > TFA_P11URI_MAX)
		TFA_BAIL(TFA_EUSAGE, "invalid PKCS#11 URI: longer than %d bytes", TFA_P11URI_MAX);
	if (memchr(uri, '\0', len) != NULL)
		TFA_BAIL(TFA_EUSAGE, "invalid PKCS#11 URI: contains a NUL byte");
	/* URI schemes are case-insensitive (RFC 3986 section 3.1). */
	if (len < SCHEME_LEN || OPENSSL_strncasecmp(uri, SCHEME, SCHEME_LEN) != 0)
		TFA_BAIL(TFA_EUSAGE, "invalid PKCS#11 URI: must start with \"pkcs11:\"");
	u = calloc(1, sizeof(*u));
	TFA_ENSURE(u != NULL, TFA_EINTERNAL, "out of memory");
	/* '?' may not appear unescaped in the path, so the first one ends it. */
	for (q = SCHEME_LEN; q < len && uri[q] != '?'; q++)
		;
	TFA_GUARD(parse_part(u, &seen, uri, SCHEME_LEN, q, ';', IN_PATH));
	if (q < len)
		TFA_GUARD(parse_part(u, &seen, uri, q + 1, len, '&', IN_QUERY));
	/* RFC 7512 section 2.3: a URI with both SHOULD be refused. */
	if (u->pin_value != NULL && u->pin_source != NULL)
		TFA_BAIL(TFA_EUSAGE, "invalid PKCS#11 URI: pin-value and pin-source are exclusive");
	*out = u;
	u = NULL;
out:
	tfa_p11uri_free(u);
	return rc;
}

tfa_err tfa_p11uri_encode(tfa_buf *out, const void *v, size_t len, tfa_p11uri_part part)
{
	if (part == TFA_P11URI_PART_ID)
		return tfa_pct_encode(out, v, len, 0, NULL);
	return tfa_pct_encode(out, v, len, TFA_PCT_UNRESERVED,
			      part == TFA_P11URI_PART_QUERY ? "/:" : NULL);
}

static tfa_err put_attr(tfa_buf *out, int *first, char sep, const char *name, const void *v,
			size_t len, tfa_p11uri_part part)
{
	tfa_err rc = TFA_OK;

	if (!*first)
		TFA_GUARD(tfa_buf_putc(out, sep));
	*first = 0;
	TFA_GUARD(tfa_buf_puts(out, name));
	TFA_GUARD(tfa_buf_putc(out, '='));
	TFA_GUARD(tfa_p11uri_encode(out, v, len, part));
out:
	return rc;
}

tfa_err tfa_p11uri_format(tfa_buf *out, const tfa_p11uri *u)
{
	tfa_err rc = TFA_OK;
	int first = 1;
	char num[48];

	TFA_GUARD(tfa_buf_puts(out, SCHEME));
	for (size_t i = 0; i < N_ATTRS; i++) {
		const attr_def *a = &attrs[i];
		const char *s;

		if (a->where != IN_PATH)
			continue;
		switch (a->kind) {
		case K_STR:
			s = str_value(u, a);
			if (s != NULL)
				TFA_GUARD(put_attr(out, &first, ';', a->name, s, strlen(s),
						   TFA_P11URI_PART_PATH));
			break;
		case K_ID:
			if (u->has_id)
				TFA_GUARD(put_attr(out, &first, ';', a->name, u->id, u->id_len,
						   TFA_P11URI_PART_ID));
			break;
		case K_TYPE:
			s = tfa_p11_objtype_name(u->type);
			if (s != NULL)
				TFA_GUARD(put_attr(out, &first, ';', a->name, s, strlen(s),
						   TFA_P11URI_PART_PATH));
			break;
		case K_SLOT_ID:
			if (u->has_slot_id) {
				snprintf(num, sizeof(num), "%lu", u->slot_id);
				TFA_GUARD(put_attr(out, &first, ';', a->name, num, strlen(num),
						   TFA_P11URI_PART_PATH));
			}
			break;
		case K_LIB_VERSION:
			if (u->has_lib_version) {
				snprintf(num, sizeof(num), "%u.%u", u->lib_version_major,
					 u->lib_version_minor);
				TFA_GUARD(put_attr(out, &first, ';', a->name, num, strlen(num),
						   TFA_P11URI_PART_PATH));
			}
			break;
		}
	}
	first = 1;
	for (size_t i = 0; i < N_ATTRS; i++) {
		const attr_def *a = &attrs[i];
		const char *s;

		if (a->where != IN_QUERY || a->off == STR_FIELD(pin_value))
			continue;
		s = str_value(u, a);
		if (s == NULL)
			continue;
		if (first)
			TFA_GUARD(tfa_buf_putc(out, '?'));
		TFA_GUARD(put_attr(out, &first, '&', a->name, s, strlen(s), TFA_P11URI_PART_QUERY));
	}
out:
	return rc;
}
