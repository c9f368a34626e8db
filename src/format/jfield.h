/* Typed, validated access to members of parsed JSON objects. */
#ifndef TFA_JFIELD_H
#define TFA_JFIELD_H

#include <stdbool.h>

#include "tfattest/jcs.h"

/*
 * Each getter fails with TFA_EFORMAT naming `what` (e.g. "artifact") and the
 * member when the member is missing (unless optional) or has the wrong type.
 * An optional member that is absent leaves *out untouched and returns TFA_OK
 * with *present (when given) set to false.
 */
TFA_WUR tfa_err tfa_jf_obj(const tfa_json_value **out, const tfa_json_value *obj, const char *key,
			   const char *what);
TFA_WUR tfa_err tfa_jf_arr(const tfa_json_value **out, const tfa_json_value *obj, const char *key,
			   const char *what);
/* A string of 1..max bytes with no NUL. */
TFA_WUR tfa_err tfa_jf_str(const char **out, size_t *len, const tfa_json_value *obj,
			   const char *key, size_t max, const char *what);
/* Copies a string of 1..cap-1 bytes into a fixed buffer. */
TFA_WUR tfa_err tfa_jf_strcpy(char *dst, size_t cap, const tfa_json_value *obj, const char *key,
			      const char *what);
/* An integer in [min, max] (both within +-2^53). */
TFA_WUR tfa_err tfa_jf_int(int64_t *out, const tfa_json_value *obj, const char *key, int64_t min,
			   int64_t max, const char *what);
/* A "sha256:<hex>" string. */
TFA_WUR tfa_err tfa_jf_hash(uint8_t out[TFA_SHA256_LEN], const tfa_json_value *obj, const char *key,
			    const char *what);
/* Fails when obj has a member whose name is not in the NULL-terminated list. */
TFA_WUR tfa_err tfa_jf_only(const tfa_json_value *obj, const char *const *allowed,
			    const char *what);

#endif
