#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "esc.h"
#include "tfattest/buffer.h"
#ifndef TFATTEST_VERIFIER_ONLY
#include "tfattest/store.h"
#endif

int tfa_cli_fail(tfa_err rc)
{
	const tfa_error *e = tfa_error_last();

	if (e->detail[0] && strstr(e->message, e->detail) == NULL)
		fprintf(stderr, "tfattest: error: %s (%s)\n", tfa_cli_tty(e->message), tfa_cli_tty(e->detail));
	else
		fprintf(stderr, "tfattest: error: %s\n", e->message[0] ? tfa_cli_tty(e->message) : tfa_err_name(rc));
	return tfa_err_exit_status(rc);
}

int tfa_cli_usage(const char *fmt, ...)
{
	va_list ap;

	char msg[1024];

	/* The arguments may be the user's (an option, a path): escaped like all output. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tfattest: usage error: %s\n", tfa_cli_tty(msg));
	return 2;
}

const char *tfa_cli_opt_env(const char *opt, const char *env)
{
	if (opt && *opt)
		return opt;
	opt = getenv(env);
	return opt && *opt ? opt : NULL;
}

int tfa_cli_parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* --expect-key-fingerprint takes the value itself, or a file holding it. */
int tfa_cli_load_fpr(char out[TFA_FPR_STRLEN], const char *arg)
{
	tfa_buf b;
	size_t n;

	if (strncmp(arg, "sha256:", 7) == 0) {
		if (strlen(arg) >= TFA_FPR_STRLEN)
			return -1;
		snprintf(out, TFA_FPR_STRLEN, "%s", arg);
		return 0;
	}
	tfa_buf_init(&b, 4096);
	if (tfa_buf_read_file(&b, arg, 4096) != TFA_OK) {
		tfa_buf_free(&b);
		return -1;
	}
	n = b.len;
	while (n > 0 && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r' || b.data[n - 1] == ' '))
		n--;
	if (n >= TFA_FPR_STRLEN || strncmp((char *)b.data, "sha256:", 7) != 0) {
		tfa_buf_free(&b);
		return -1;
	}
	memcpy(out, b.data, n);
	out[n] = '\0';
	tfa_buf_free(&b);
	return 0;
}
#ifndef TFATTEST_VERIFIER_ONLY
tfa_err tfa_cli_open_store(tfa_store **out, const char *store_opt, const char *sequencer_opt)
{
	return tfa_store_open_seq(out, tfa_cli_opt_env(store_opt, "TFATTEST_STORE"),
				  tfa_cli_opt_env(sequencer_opt, "TFATTEST_SEQUENCER"));
}
#endif

const cJSON *tfa_cli_json_at(const cJSON *o, const char *a, const char *b, const char *c)
{
	o = cJSON_GetObjectItemCaseSensitive(o, a);
	if (b)
		o = cJSON_GetObjectItemCaseSensitive(o, b);
	if (c)
		o = cJSON_GetObjectItemCaseSensitive(o, c);
	return o;
}

const char *tfa_cli_json_str(const cJSON *o, const char *a, const char *b, const char *c)
{
	const cJSON *v = tfa_cli_json_at(o, a, b, c);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/*
 * Length of the valid UTF-8 sequence at p (at most n bytes), or 0 when p
 * does not start one: no overlong forms, no surrogates, nothing above
 * U+10FFFF. *cp gets the code point.
 */
static size_t utf8_seq(const unsigned char *p, size_t n, unsigned long *cp)
{
	unsigned long c;
	size_t len;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/*
 * The escaper. Calls put for each piece of output; returns false as soon as
 * put does (the output is full).
 */
typedef bool (*esc_put)(void *ud, const char *p, size_t n);

static void escape_with(const char *s, size_t n, tfa_esc_mode mode, esc_put put, void *ud)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned long cp = 0;
		size_t len = utf8_seq(p + i, n - i, &cp);
		char e[8];
		bool ok;

		if (len == 0) {
			snprintf(e, sizeof(e), "\\x%02x", p[i]);
			ok = put(ud, e, 4);
			len = 1;
		} else if (mode != TFA_ESC_JSON && (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) &&
			   !(mode == TFA_ESC_BLOCK && (cp == '\n' || cp == '\t'))) {
			snprintf(e, sizeof(e), "\\u%04lx", cp);
			ok = put(ud, e, 6);
		} else {
			ok = put(ud, (const char *)p + i, len);
		}
		if (!ok)
			return;
		i += len;
	}
}

typedef struct esc_buf {
	char *out;
	size_t cap, len;
	bool cut;
} esc_buf;

static bool put_buf(void *ud, const char *p, size_t n)
{
	esc_buf *b = ud;

	/* Room for the piece, "..." and the NUL; a piece is never split. */
	if (b->len + n + 4 > b->cap) {
		b->cut = true;
		return false;
	}
	memcpy(b->out + b->len, p, n);
	b->len += n;
	return true;
}

const char *tfa_cli_escape(char *out, size_t cap, const char *s, tfa_esc_mode mode)
{
	esc_buf b = { out, cap, 0, false };

	if (cap == 0)
		return out;
	if (cap < 4) {
		out[0] = '\0';
		return out;
	}
	if (s)
		escape_with(s, strlen(s), mode, put_buf, &b);
	if (b.cut) {
		memcpy(out + b.len, "...", 3);
		b.len += 3;
	}
	out[b.len] = '\0';
	return out;
}

static bool put_file(void *ud, const char *p, size_t n)
{
	return fwrite(p, 1, n, (FILE *)ud) == n;
}

void tfa_cli_escape_write(FILE *f, const char *s, size_t n, tfa_esc_mode mode)
{
	if (s)
		escape_with(s, n, mode, put_file, f);
}

const char *tfa_cli_tty(const char *s)
{
	static char ring[8][16384];
	static unsigned next;

	return tfa_cli_escape(ring[next++ % 8], sizeof(ring[0]), s, TFA_ESC_TERM);
}

bool tfa_cli_json_add_str(cJSON *o, const char *key, const char *val)
{
	size_t n = strlen(val ? val : "");
	char *e = malloc(4 * n + 8);
	bool ok;

	if (e == NULL)
		return false;
	ok = cJSON_AddStringToObject(o, key, tfa_cli_escape(e, 4 * n + 8, val, TFA_ESC_JSON)) != NULL;
	free(e);
	return ok;
}
