#include <math.h>
#include <string.h>

#include "format/hex.h"
#include "format/jfield.h"
#include "tfattest/sys/guard.h"

static const tfa_json_value *member(const tfa_json_value *obj, const char *key, const char *what,
				    tfa_err *rc)
{
	const tfa_json_value *v;

	if (tfa_json_type_of(obj) != TFA_JSON_OBJECT) {
		*rc = tfa_error_set(TFA_EFORMAT, "%s is not a JSON object", what);
		return NULL;
	}
	v = tfa_json_get(obj, key);
	if (v == NULL)
		*rc = tfa_error_set(TFA_EFORMAT, "%s has no \"%s\"", what, key);
	return v;
}

tfa_err tfa_jf_obj(const tfa_json_value **out, const tfa_json_value *obj, const char *key,
		   const char *what)
{
	tfa_err rc = TFA_OK;
	const tfa_json_value *v = member(obj, key, what, &rc);

	if (v == NULL)
		return rc;
	if (tfa_json_type_of(v) != TFA_JSON_OBJECT)
		return tfa_error_set(TFA_EFORMAT, "%s: \"%s\" is not an object", what, key);
	*out = v;
	return TFA_OK;
}

tfa_err tfa_jf_arr(const tfa_json_value **out, const tfa_json_value *obj, const char *key,
		   const char *what)
{
	tfa_err rc = TFA_OK;
	const tfa_json_value *v = member(obj, key, what, &rc);

	if (v == NULL)
		return rc;
	if (tfa_json_type_of(v) != TFA_JSON_ARRAY)
		return tfa_error_set(TFA_EFORMAT, "%s: \"%s\" is not an array", what, key);
	*out = v;
	return TFA_OK;
}

tfa_err tfa_jf_str(const char **out, size_t *len, const tfa_json_value *obj, const char *key,
		   size_t max, const char *what)
{
	tfa_err rc = TFA_OK;
	const tfa_json_value *v = member(obj, key, what, &rc);
	const char *s;
	size_t n = 0;

	if (v == NULL)
		return rc;
	s = tfa_json_string(v, &n);
	if (s == NULL)
		return tfa_error_set(TFA_EFORMAT, "%s: \"%s\" is not a string", what, key);
	if (n == 0 || n > max || memchr(s, '\0', n) != NULL)
		return tfa_error_set(TFA_EFORMAT, "%s: \"%s\" is empty, too long or holds NUL",
				     what, key);
	*out = s;
	if (len)
		*len = n;
	return TFA_OK;
}

tfa_err tfa_jf_strcpy(char *dst, size_t cap, const tfa_json_value *obj, const char *key,
		      const char *what)
{
	const char *s = NULL;
	size_t n = 0;
	tfa_err rc = tfa_jf_str(&s, &n, obj, key, cap - 1, what);

	if (rc != TFA_OK)
		return rc;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return TFA_OK;
}

tfa_err tfa_jf_int(int64_t *out, const tfa_json_value *obj, const char *key, int64_t min,
		   int64_t max, const char *what)
{
	tfa_err rc = TFA_OK;
	const tfa_json_value *v = member(obj, key, what, &rc);
	double d;

	if (v == NULL)
		return rc;
	if (tfa_json_type_of(v) != TFA_JSON_NUMBER)
		return tfa_error_set(TFA_EFORMAT, "%s: \"%s\" is not a number", what, key);
	d = tfa_json_number(v);
	if (d != floor(d) || d < (double)min || d > (double)max)
		return tfa_error_set(TFA_EFORMAT, "%s: \"%s\" is not an integer in range", what,
				     key);
	*out = (int64_t)d;
	return TFA_OK;
}

tfa_err tfa_jf_hash(uint8_t out[TFA_SHA256_LEN], const tfa_json_value *obj, const char *key,
		    const char *what)
{
	const char *s = NULL;
	size_t n = 0;
	tfa_err rc = tfa_jf_str(&s, &n, obj, key, 128, what);

	if (rc != TFA_OK)
		return rc;
	if (tfa_hash_parse(out, s, n) != TFA_OK)
		return tfa_error_set(TFA_EFORMAT, "%s: \"%s\" is not sha256:<64 lowercase hex>",
				     what, key);
	return TFA_OK;
}

tfa_err tfa_jf_only(const tfa_json_value *obj, const char *const *allowed, const char *what)
{
	size_t n = tfa_json_count(obj);

	for (size_t i = 0; i < n; i++) {
		size_t klen;
		const char *k = tfa_json_key_at(obj, i, &klen);
		int ok = 0;
		for (const char *const *a = allowed; *a; a++)
			if (strlen(*a) == klen && memcmp(*a, k, klen) == 0)
				ok = 1;
		if (!ok)
			return tfa_error_set(TFA_EFORMAT, "%s has an unknown member \"%.*s\"", what,
					     (int)(klen > 64 ? 64 : klen), k);
	}
	return TFA_OK;
}
