/*
 * Output escaping: the one place where text from a bundle, a plan, a store,
 * git, CI or the command line is made safe to print.
 *
 * For a terminal, C0 controls (newline included), DEL and C1 controls
 * (U+0080..U+009F; U+009B is an 8-bit CSI) are shown as \u00NN, and every
 * byte that is not part of valid UTF-8 as \xNN, so no input can move the
 * cursor, recolour the screen or start a line of its own. For JSON, only
 * bytes that are not valid UTF-8 are replaced (by the text \xNN): cJSON
 * escapes the controls itself, and the document stays valid UTF-8.
 */
#ifndef TFA_CLI_ESC_H
#define TFA_CLI_ESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum tfa_esc_mode {
	TFA_ESC_TERM = 0, /* one field of a line: every control escaped */
	TFA_ESC_BLOCK,	  /* text already laid out in lines (pretty JSON): \n and \t kept */
	TFA_ESC_JSON	  /* a JSON string value: invalid UTF-8 replaced, nothing else */
} tfa_esc_mode;

/*
 * Writes s escaped into out (cap bytes, NUL-terminated; cut at a character
 * boundary with "..." when it does not fit) and returns out. NULL is "".
 */
const char *tfa_cli_escape(char *out, size_t cap, const char *s, tfa_esc_mode mode);

/* Writes the first n bytes of s to f, escaped. */
void tfa_cli_escape_write(FILE *f, const char *s, size_t n, tfa_esc_mode mode);

/*
 * s escaped for a terminal, in one of a few rotating static buffers of 16
 * KiB: valid until eight more calls. For printf arguments on one thread.
 */
const char *tfa_cli_tty(const char *s);

struct cJSON;
/*
 * Adds the string member key: val to o with any invalid UTF-8 replaced, so
 * the document stays valid UTF-8 JSON whatever val holds. False when out of
 * memory.
 */
bool tfa_cli_json_add_str(struct cJSON *o, const char *key, const char *val);

#endif
