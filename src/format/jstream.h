/*
 * Streaming pull reader for RFC 8785 canonical JSON.
 *
 * Reads a document through a read callback in fixed 64 KiB chunks and hands
 * out one token at a time, accepting exactly the bytes tfa_jcs_canonicalize()
 * would produce: a document is accepted only when
 * tfa_jcs_check_canonical(document) == TFA_OK, so a verifier can check a
 * manifest of any size without holding it. Memory is bounded by the nesting
 * depth, max_string and the chunk size, never by the document's size: only
 * the current string and, for each open object, its previous key are kept.
 *
 * Rules, checked as the bytes arrive (each violation is TFA_EFORMAT with a
 * one-line message naming the byte offset):
 *   - no white space anywhere, nothing after the document (not even "\n");
 *   - valid UTF-8; no raw control characters in strings; escapes exactly as
 *     RFC 8785 writes them (\b \t \n \f \r \" \\ and lowercase \u00xx for the
 *     other characters below U+0020, nothing else);
 *   - numbers exactly as tfa_jcs_format_number() prints them, finite;
 *   - object keys strictly increasing in UTF-16 code-unit order (so no
 *     duplicates);
 *   - nesting at most TFA_JSON_MAX_DEPTH, strings (after unescaping) at most
 *     max_string bytes, the document at most max_total bytes.
 * Once a call has failed the stream stays failed: later calls fail too.
 */
#ifndef TFA_JSTREAM_H
#define TFA_JSTREAM_H

#include <stdbool.h>
#include <sys/types.h>

#include "tfattest/common.h"
#include "tfattest/error.h"
#include "tfattest/jcs.h"

typedef struct tfa_jstream tfa_jstream;

typedef enum tfa_js_token {
	TFA_JS_BEGIN_OBJECT,
	TFA_JS_END_OBJECT,
	TFA_JS_BEGIN_ARRAY,
	TFA_JS_END_ARRAY,
	TFA_JS_KEY,
	TFA_JS_STRING,
	TFA_JS_NUMBER,
	TFA_JS_TRUE,
	TFA_JS_FALSE,
	TFA_JS_NULL,
	TFA_JS_END /* the document is complete and nothing follows it */
} tfa_js_token;

/*
 * Like read(2): fills buf with at most n bytes and returns how many, 0 at the
 * end of the input, -1 with errno set on failure (EINTR is retried).
 */
typedef ssize_t (*tfa_js_read_fn)(void *ud, void *buf, size_t n);

/* Receives every byte the stream consumes, in order (see tfa_jstream_on_bytes). */
typedef void (*tfa_js_bytes_fn)(void *ud, const uint8_t *p, size_t n);

/*
 * A stream reading through read_fn. Strings longer than max_string bytes
 * (after unescaping) and documents longer than max_total bytes are rejected.
 * On success *out must be released with tfa_jstream_free(). TFA_EUSAGE for a
 * missing argument, TFA_EINTERNAL when out of memory.
 */
TFA_WUR tfa_err tfa_jstream_new(tfa_jstream **out, tfa_js_read_fn read_fn, void *ud,
				size_t max_string, uint64_t max_total);

/* A stream reading from a file descriptor, which stays owned by the caller. */
TFA_WUR tfa_err tfa_jstream_new_fd(tfa_jstream **out, int fd, size_t max_string,
				   uint64_t max_total);

/*
 * The next token. After TFA_JS_END, returns TFA_JS_END again. TFA_EFORMAT when
 * the input is not canonical JSON or breaks a limit, TFA_EIO when the read
 * callback fails.
 */
TFA_WUR tfa_err tfa_jstream_next(tfa_jstream *js, tfa_js_token *tok);

/*
 * Consumes the next value whole, validating it exactly as tfa_jstream_next()
 * would: the member's value after TFA_JS_KEY, the root value before the first
 * token, or the next element inside an array. When an array's end comes next
 * there is no element: nothing is consumed and the result is TFA_ENOTFOUND
 * (tfa_jstream_next() then returns TFA_JS_END_ARRAY). Where a key, '}' or
 * nothing at all comes next it is TFA_EUSAGE.
 */
TFA_WUR tfa_err tfa_jstream_skip(tfa_jstream *js);

/*
 * For TFA_JS_KEY and TFA_JS_STRING: the unescaped UTF-8 bytes, NUL-terminated
 * (but they may contain NUL), owned by the stream and valid until the next
 * call that moves it. NULL (and *len 0) after any other token.
 */
const char *tfa_jstream_str(const tfa_jstream *js, size_t *len);

/* For TFA_JS_NUMBER: the value; 0 after any other token. */
double tfa_jstream_num(const tfa_jstream *js);

/* Containers open after the last token (1 just after the root's BEGIN token). */
size_t tfa_jstream_depth(const tfa_jstream *js);

/* Bytes of the document consumed so far. */
uint64_t tfa_jstream_offset(const tfa_jstream *js);

/*
 * Passes every byte consumed from now on to fn, in order, so the caller can
 * hash the document in the same pass. Bytes are handed over in batches as the
 * chunk holding them is used up, so fn lags the tokens; by the time
 * tfa_jstream_next() returns TFA_JS_END it has seen the whole document.
 * fn NULL removes the hook.
 */
void tfa_jstream_on_bytes(tfa_jstream *js, tfa_js_bytes_fn fn, void *ud);

/* Accepts NULL. */
void tfa_jstream_free(tfa_jstream *js);

#endif
