/*
 * Output escaping for the command line, on the library's one escaper
 * (tfa_escape(), tfattest/error.h): every string that came from a bundle, a
 * record, a plan, git, CI or the command line goes through one of these
 * before it is printed.
 */
#ifndef TFA_CLI_ESC_H
#define TFA_CLI_ESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "tfattest/error.h"

/* Writes the first n bytes of s to f, escaped. */
void tfa_cli_escape_write(FILE *f, const char *s, size_t n, tfa_escape_mode mode);

/*
 * s escaped for a terminal (TFA_ESCAPE_TERM), in one of a few rotating
 * static buffers of 16 KiB: valid until eight more calls. For printf
 * arguments, on one thread.
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
