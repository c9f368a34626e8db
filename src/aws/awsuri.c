#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/awsuri.h"
#include "format/pct.h"
#include "tfattest/sys/guard.h"

/*
 * Percent-decodes s[0..n) into out (size outsz, NUL-terminated); -1 on error,
 * and for a value holding a space, a control character or a non-ASCII byte.
 */
static int pct_decode(char *out, size_t outsz, const char *s, size_t n)
{
	size_t o = 0;

	if (tfa_pct_decode((uint8_t *)out, outsz, &o, s, n, 0) != TFA_OK)
		return -1;
	for (size_t i = 0; i < o; i++)
		if ((unsigned char)out[i] <= 0x20 || (unsigned char)out[i] >= 0x7f)
			return -1;
	return 0;
}

static int all_in(const char *s, const char *set)
{
	return s[strspn(s, set)] == '\0';
}

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"
#define ALNUM	     "ABCDEFGHIJKLMNOPQRSTUVWXYZ" LOWER_DIGITS

/* Bucket names per S3's rules for new buckets (no dots: TLS and path style). */
static int bucket_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 3 && n <= 63 && all_in(s, LOWER_DIGITS "-") && s[0] != '-' && s[n - 1] != '-';
}

static int table_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 3 && n <= 255 && all_in(s, ALNUM "_.-");
}

/* Key prefix: components of [A-Za-z0-9._-] (and of `extra`), none empty or starting with '.'. */
static int prefix_ok(const char *s, const char *extra)
{
	const char *p = s;
	char set[80];

	if (*s == '\0')
		return 1;
	snprintf(set, sizeof(set), "%s._-/%s", ALNUM, extra);
	if (!all_in(s, set))
		return 0;
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 0 || p[0] == '.')
			return 0;
		p += n;
		if (*p == '/') {
			p++;
			if (*p == '\0')
				return 0;
		}
	}
	return 1;
}

static int endpoint_ok(const char *s)
{
	const char *h;

	if (strncmp(s, "http://", 7) == 0)
		h = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		h = s + 8;
	else
		return 0;
	/* host[:port] only: the store builds the path. */
	return *h && all_in(h, ALNUM ".-:[]");
}

tfa_err tfa_awsuri_parse(tfa_awsuri *out, const char *uri, tfa_awsuri_kind kind)
{
	tfa_err rc = TFA_OK;
	const bool s3 = kind != TFA_AWSURI_DYNAMODB;
	const char *scheme = s3 ? "s3://" : "dynamodb://";
	const char *what = kind == TFA_AWSURI_S3	  ? "s3 store URI"
			   : kind == TFA_AWSURI_S3_OBJECT ? "s3 object URI"
							  : "dynamodb sequencer URI";
	const char *p, *q, *slash, *env;
	size_t n;

	memset(out, 0, sizeof(*out));
	TFA_ENSURE(uri != NULL && strlen(uri) < TFA_AWSURI_MAX, TFA_EUSAGE,
		   "%s is missing or too long", what);
	n = strlen(scheme);
	TFA_ENSURE(strncmp(uri, scheme, n) == 0, TFA_EUSAGE, "%s must start with %s", what, scheme);
	p = uri + n;
	q = strchr(p, '?');
	if (q == NULL)
		q = p + strlen(p);
	slash = memchr(p, '/', (size_t)(q - p));
	n = (size_t)((slash ? slash : q) - p);
	TFA_ENSURE(n > 0 && n < sizeof(out->name), TFA_EUSAGE, "%s names no %s", what,
		   s3 ? "bucket" : "table");
	memcpy(out->name, p, n);
	out->name[n] = '\0';
	if (s3) {
		TFA_ENSURE(bucket_ok(out->name), TFA_EUSAGE,
			   "%s: bucket name must be 3-63 characters of a-z, 0-9 and '-'", what);
		if (slash) {
			const char *b = slash + 1, *e = q;
			while (e > b && e[-1] == '/')
				e--;
			TFA_ENSURE((size_t)(e - b) < sizeof(out->prefix), TFA_EUSAGE,
				   "%s: prefix is too long", what);
			memcpy(out->prefix, b, (size_t)(e - b));
			out->prefix[e - b] = '\0';
			if (kind == TFA_AWSURI_S3_OBJECT)
				TFA_ENSURE(prefix_ok(out->prefix, ":"), TFA_EUSAGE,
					   "%s: key must be '/'-separated names of A-Z, a-z, 0-9, "
					   "'.', '_', '-' and ':'",
					   what);
			else
				TFA_ENSURE(prefix_ok(out->prefix, ""), TFA_EUSAGE,
					   "%s: prefix must be '/'-separated names of A-Z, a-z, "
					   "0-9, '.', '_' and '-'",
					   what);
		}
	} else {
		TFA_ENSURE(
		    table_ok(out->name), TFA_EUSAGE,
		    "%s: table name must be 3-255 characters of A-Z, a-z, 0-9, '_', '.', '-'",
		    what);
		TFA_ENSURE(slash == NULL || slash + 1 == q, TFA_EUSAGE, "%s takes no path", what);
	}
	p = *q ? q + 1 : q;
	while (*p) {
		const char *amp = strchr(p, '&'), *eq;
		char val[256];
		size_t klen;

		if (amp == NULL)
			amp = p + strlen(p);
		eq = memchr(p, '=', (size_t)(amp - p));
		TFA_ENSURE(eq != NULL, TFA_EUSAGE, "%s: parameter without a value", what);
		klen = (size_t)(eq - p);
		TFA_ENSURE(pct_decode(val, sizeof(val), eq + 1, (size_t)(amp - eq - 1)) == 0 &&
			       val[0],
			   TFA_EUSAGE, "%s: malformed parameter value", what);
		if (klen == 6 && memcmp(p, "region", 6) == 0) {
			TFA_ENSURE(strlen(val) < sizeof(out->region) &&
				       all_in(val, LOWER_DIGITS "-"),
				   TFA_EUSAGE, "%s: malformed region", what);
			memcpy(out->region, val, strlen(val) + 1);
		} else if (klen == 8 && memcmp(p, "endpoint", 8) == 0) {
			TFA_ENSURE(strlen(val) < sizeof(out->endpoint) && endpoint_ok(val),
				   TFA_EUSAGE, "%s: endpoint must be http(s)://host[:port]", what);
			memcpy(out->endpoint, val, strlen(val) + 1);
		} else if (s3 && klen == 14 && memcmp(p, "retention-days", 14) == 0) {
			char *end;
			long v = strtol(val, &end, 10);
			TFA_ENSURE(*end == '\0' && val[0] != '-' && val[0] != '+' && v >= 1 &&
				       v <= TFA_RETENTION_DAYS_MAX,
				   TFA_EUSAGE, "%s: retention-days must be 1 to %d", what,
				   TFA_RETENTION_DAYS_MAX);
			out->retention_days = v;
		} else {
			TFA_BAIL(TFA_EUSAGE, "%s: unknown parameter '%.*s'", what,
				 (int)(klen < 32 ? klen : 32), p);
		}
		p = *amp ? amp + 1 : amp;
	}
	if (out->region[0] == '\0') {
		env = getenv("AWS_REGION");
		if (env == NULL || *env == '\0')
			env = getenv("AWS_DEFAULT_REGION");
		TFA_ENSURE(env != NULL && *env != '\0', TFA_EUSAGE,
			   "%s: no region (region=, AWS_REGION or AWS_DEFAULT_REGION)", what);
		TFA_ENSURE(strlen(env) < sizeof(out->region) && all_in(env, LOWER_DIGITS "-"),
			   TFA_EUSAGE, "malformed AWS_REGION");
		memcpy(out->region, env, strlen(env) + 1);
	}
out:
	return rc;
}
