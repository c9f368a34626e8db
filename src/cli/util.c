#include <ctype.h>
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

int tfa_cli_fail(tfa_err rc)
{
	const tfa_error *e = tfa_error_last();

	if (e->detail[0] && strstr(e->message, e->detail) == NULL)
		fprintf(stderr, "%s: error: %s (%s)\n", TFA_CLI_PROGRAM, tfa_cli_tty(e->message),
			tfa_cli_tty(e->detail));
	else
		fprintf(stderr, "%s: error: %s\n", TFA_CLI_PROGRAM,
			e->message[0] ? tfa_cli_tty(e->message) : tfa_err_name(rc));
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
	fprintf(stderr, "%s: usage error: %s\n", TFA_CLI_PROGRAM, tfa_cli_tty(msg));
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

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool tfa_cli_pubkey_is_fpr(const char *path)
{
	tfa_buf b;
	size_t i = 0, n, hex = 0;
	bool fpr = false;

	tfa_buf_init(&b, 4096);
	if (tfa_buf_read_file(&b, path, 4096) != TFA_OK) {
		tfa_error_clear();
		goto out;
	}
	n = b.len;
	while (i < n && is_space(b.data[i]))
		i++;
	while (n > i && is_space(b.data[n - 1]))
		n--;
	if (n - i > 7 && memcmp(b.data + i, "sha256:", 7) == 0)
		i += 7;
	while (i + hex < n && isxdigit(b.data[i + hex]))
		hex++;
	fpr = hex == 64 && i + hex == n;
out:
	tfa_buf_free(&b);
	return fpr;
}

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

static int put_file(void *ud, const char *p, size_t n)
{
	return fwrite(p, 1, n, (FILE *)ud) == n;
}

void tfa_cli_escape_write(FILE *f, const char *s, size_t n, tfa_escape_mode mode)
{
	tfa_escape_each(s, n, mode, put_file, f);
}

const char *tfa_cli_tty(const char *s)
{
	static char ring[8][16384];
	static unsigned next;

	return tfa_escape(ring[next++ % 8], sizeof(ring[0]), s, TFA_ESCAPE_TERM);
}

bool tfa_cli_json_add_str(cJSON *o, const char *key, const char *val)
{
	size_t n = strlen(val ? val : "");
	char *e = malloc(4 * n + 8);
	bool ok;

	if (e == NULL)
		return false;
	tfa_escape(e, 4 * n + 8, val, TFA_ESCAPE_UTF8);
	ok = cJSON_AddStringToObject(o, key, e) != NULL;
	free(e);
	return ok;
}
