/*
 * The members a capture adds to its JSON objects: strings sanitised to I-JSON,
 * numbers, hashes and sub-objects. Shared by every capture file, and calling
 * none of them.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "capture/capture_int.h"
#include "format/jlex.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

/*
 * Adds a string, replacing bytes that are not valid UTF-8 or are NUL with '?',
 * and each Unicode noncharacter (which I-JSON forbids) with one '?'.
 */
tfa_err tfa_cap_add_text(cJSON *obj, const char *key, const char *s, size_t len)
{
	char *copy;
	size_t i = 0, w = 0;
	cJSON *item;

	if (len > CTX_STR_MAX)
		len = CTX_STR_MAX;
	copy = malloc(len + 1);
	if (copy == NULL)
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	memcpy(copy, s, len);
	copy[len] = '\0';
	while (i < len) {
		size_t n = tfa_utf8_seq_len((const uint8_t *)copy + i, len - i);

		if (n == 0 || copy[i] == 0 || tfa_utf8_is_nonchar((const uint8_t *)copy + i, n)) {
			copy[w++] = '?';
			i += n ? n : 1;
			continue;
		}
		memmove(copy + w, copy + i, n);
		w += n;
		i += n;
	}
	copy[w] = '\0';
	item = cJSON_CreateString(copy);
	free(copy);
	if (item == NULL || !cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	}
	return TFA_OK;
}

tfa_err tfa_cap_add_str(cJSON *obj, const char *key, const char *s)
{
	return tfa_cap_add_text(obj, key, s, strlen(s));
}

tfa_err tfa_cap_add_num(cJSON *obj, const char *key, double v)
{
	return cJSON_AddNumberToObject(obj, key, v) ? TFA_OK
						    : tfa_error_set(TFA_EINTERNAL, "out of memory");
}

tfa_err tfa_cap_add_hash(cJSON *obj, const char *key, const uint8_t *data, size_t len)
{
	uint8_t d[TFA_SHA256_LEN];
	char s[TFA_FPR_STRLEN];

	tfa_sha256(d, data, len);
	tfa_hash_str(s, d);
	return tfa_cap_add_str(obj, key, s);
}

cJSON *tfa_cap_new_obj(cJSON *parent, const char *key)
{
	cJSON *o = cJSON_CreateObject();

	if (o && parent && !cJSON_AddItemToObject(parent, key, o)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
