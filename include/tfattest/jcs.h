/*
 * Strict JSON parsing and RFC 8785 (JCS) canonical serialization.
 *
 * The parser accepts exactly RFC 8259 JSON that is also I-JSON (RFC 7493):
 *   - the input must be valid UTF-8, with no byte-order mark;
 *   - escaped strings must not contain lone surrogates;
 *   - object keys must be unique within an object (compared after unescaping);
 *   - numbers must fit a finite IEEE-754 double (1e400 is rejected);
 *   - nothing but white space may follow the document;
 *   - arrays and objects nest at most TFA_JSON_MAX_DEPTH levels.
 * Every rejection is TFA_EFORMAT with a one-line message naming the byte offset.
 *
 * Strings may contain U+0000; string accessors therefore return a length.
 */
#ifndef TFATTEST_JCS_H
#define TFATTEST_JCS_H

#include <stdbool.h>

#include "buffer.h"
#include "common.h"
#include "error.h"

#define TFA_JSON_MAX_DEPTH 128

typedef enum tfa_json_type {
	TFA_JSON_NULL = 0,
	TFA_JSON_FALSE,
	TFA_JSON_TRUE,
	TFA_JSON_NUMBER,
	TFA_JSON_STRING,
	TFA_JSON_ARRAY,
	TFA_JSON_OBJECT
} tfa_json_type;

/* A parsed document. It owns every value in it. */
typedef struct tfa_json tfa_json;
/* A value inside a document; valid until the document is freed. */
typedef struct tfa_json_value tfa_json_value;

/* Parses `len` bytes. On success *out must be released with tfa_json_free(). */
TFA_WUR tfa_err tfa_json_parse(tfa_json **out, const uint8_t *in, size_t len);

/* Accepts NULL. */
void tfa_json_free(tfa_json *doc);

const tfa_json_value *tfa_json_root(const tfa_json *doc);

tfa_json_type tfa_json_type_of(const tfa_json_value *v);

/* Number of elements of an array or members of an object; 0 for other types. */
size_t tfa_json_count(const tfa_json_value *v);

/* Array element i, or NULL when v is not an array or i is out of range. */
const tfa_json_value *tfa_json_at(const tfa_json_value *v, size_t i);

/* Object member i in document order: key (with its length) and value. */
const char *tfa_json_key_at(const tfa_json_value *v, size_t i, size_t *keylen);
const tfa_json_value *tfa_json_value_at(const tfa_json_value *v, size_t i);

/* Member named `key` (a NUL-terminated UTF-8 string), or NULL. */
const tfa_json_value *tfa_json_get(const tfa_json_value *obj, const char *key);

/* The unescaped UTF-8 bytes of a string value (NUL-terminated for convenience,
 * but may contain NUL), or NULL when v is not a string. */
const char *tfa_json_string(const tfa_json_value *v, size_t *len);

/* The value of a number; 0 when v is not a number. */
double tfa_json_number(const tfa_json_value *v);

/*
 * Writes the RFC 8785 canonical form of a value to `out`:
 * members ordered by their keys' UTF-16 code units, numbers in ES6
 * Number.prototype.toString form, strings escaped as the RFC says.
 */
TFA_WUR tfa_err tfa_jcs_write(tfa_buf *out, const tfa_json_value *v);

/* Parses `in` strictly and writes its canonical form to `out` (appending). */
TFA_WUR tfa_err tfa_jcs_canonicalize(tfa_buf *out, const uint8_t *in, size_t len);

/*
 * Reads a document from in_fd to its end (at most `max` bytes) and writes its
 * canonical form to out_fd as it is produced; the names (a path, "standard
 * input") are for messages. Nothing is written unless the whole document
 * parses. TFA_EFORMAT for invalid JSON or input over `max`, TFA_EIO when
 * reading or writing fails (the output may then be partial). Neither
 * descriptor is closed.
 */
TFA_WUR tfa_err tfa_jcs_canonicalize_fd(int out_fd, const char *out_name, int in_fd,
					const char *in_name, size_t max);

/*
 * TFA_OK when `in` is valid JSON already in canonical form, byte for byte;
 * TFA_EFORMAT otherwise (invalid JSON, or valid but not canonical).
 */
TFA_WUR tfa_err tfa_jcs_check_canonical(const uint8_t *in, size_t len);

/*
 * The ES6 Number.prototype.toString form of a finite double (what
 * JavaScript's String(x) gives), NUL-terminated, into out (at least 32 bytes).
 * Returns the length, or 0 when d is not finite.
 */
size_t tfa_jcs_format_number(char out[32], double d);

#endif
