/* The strict awskms:// URI parser (see kmsuri.h). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kmsuri.h"
#include "tfattest/sys/guard.h"

#define FORMS                                                                                      \
	"expected awskms:///KEYID, awskms:///alias/NAME, "                                         \
	"awskms:///arn:aws:kms:REGION:ACCOUNT:key/ID "                                             \
	"or :alias/NAME, optionally with HOST[:PORT] after awskms://"

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool all_of(const char *s, size_t n, const char *extra)
{
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && (s[i] == '\0' || strchr(extra, s[i]) == NULL))
			return false;
	return true;
}

/* A key id: a UUID, or a multi-Region "mrk-" id; letters, digits and '-'. */
static bool key_id_ok(const char *s, size_t n)
{
	return n > 0 && n <= 128 && all_of(s, n, "-");
}

/* An alias name after "alias/": letters, digits, '/', '_', '-'; 1-250 bytes. */
static bool alias_ok(const char *s, size_t n)
{
	return n > 0 && n <= 250 && all_of(s, n, "/_-") && s[0] != '/' && s[n - 1] != '/';
}

/* HOST[:PORT]: a DNS name or IPv4 address, or [IPv6], with a port 1-65535. */
static bool host_ok(const char *s, size_t n)
{
	const char *colon = NULL, *hend = s + n;

	if (n == 0 || n > 255)
		return false;
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (rb == NULL || rb == s + 1 || !all_of(s + 1, (size_t)(rb - s - 1), ":."))
			return false;
		if (rb + 1 != s + n && rb[1] != ':')
			return false;
		colon = rb + 1 != s + n ? rb + 1 : NULL;
		hend = rb + 1;
	} else {
		colon = memchr(s, ':', n);
		hend = colon ? colon : s + n;
		if (hend == s || !all_of(s, (size_t)(hend - s), ".-") || s[0] == '.' || s[0] == '-')
			return false;
	}
	(void)hend;
	if (colon != NULL) {
		size_t pl = (size_t)(s + n - colon - 1);
		long port = 0;

		if (pl == 0 || pl > 5)
			return false;
		for (size_t i = 1; i <= pl; i++) {
			if (colon[i] < '0' || colon[i] > '9')
				return false;
			port = port * 10 + (colon[i] - '0');
		}
		if (port < 1 || port > 65535)
			return false;
	}
	return true;
}

/* arn:PARTITION:kms:REGION:ACCOUNT:key/ID or :alias/NAME */
static tfa_err parse_arn(tfa_kmsuri *u, const char *s, size_t n)
{
	tfa_err rc = TFA_OK;
	const char *f[6];
	size_t fl[6];
	size_t k = 0;
	const char *p = s, *end = s + n;

	while (k < 5) {
		const char *c = memchr(p, ':', (size_t)(end - p));

		TFA_ENSURE(c != NULL, TFA_EUSAGE, "awskms: malformed key ARN; " FORMS);
		f[k] = p;
		fl[k] = (size_t)(c - p);
		k++;
		p = c + 1;
	}
	f[5] = p;
	fl[5] = (size_t)(end - p);
	TFA_ENSURE(fl[0] == 3 && memcmp(f[0], "arn", 3) == 0, TFA_EUSAGE,
		   "awskms: malformed key ARN; " FORMS);
	TFA_ENSURE((fl[1] == 3 && memcmp(f[1], "aws", 3) == 0) ||
		       (fl[1] == 6 && memcmp(f[1], "aws-cn", 6) == 0) ||
		       (fl[1] == 10 && memcmp(f[1], "aws-us-gov", 10) == 0),
		   TFA_EUSAGE, "awskms: the ARN partition must be aws, aws-cn or aws-us-gov");
	TFA_ENSURE(fl[2] == 3 && memcmp(f[2], "kms", 3) == 0, TFA_EUSAGE,
		   "awskms: the ARN is not a KMS ARN");
	TFA_ENSURE(fl[3] > 0 && fl[3] < sizeof(u->region) && all_of(f[3], fl[3], "-") &&
		       strspn(f[3], "abcdefghijklmnopqrstuvwxyz0123456789-") >= fl[3],
		   TFA_EUSAGE, "awskms: the ARN region is not a region name");
	TFA_ENSURE(fl[4] == 12 && strspn(f[4], "0123456789") >= 12, TFA_EUSAGE,
		   "awskms: the ARN account must be 12 digits");
	if (fl[5] >= 4 && memcmp(f[5], "key/", 4) == 0) {
		TFA_ENSURE(key_id_ok(f[5] + 4, fl[5] - 4), TFA_EUSAGE,
			   "awskms: invalid key id in the ARN");
		u->kind = TFA_KMS_KEY_ARN;
	} else if (fl[5] >= 6 && memcmp(f[5], "alias/", 6) == 0) {
		TFA_ENSURE(alias_ok(f[5] + 6, fl[5] - 6), TFA_EUSAGE,
			   "awskms: invalid alias name in the ARN");
		u->kind = TFA_KMS_ALIAS_ARN;
	} else {
		TFA_BAIL(TFA_EUSAGE, "awskms: the ARN must name key/ID or alias/NAME");
	}
	memcpy(u->region, f[3], fl[3]);
	u->region[fl[3]] = '\0';
	memcpy(u->account, f[4], 12);
	u->account[12] = '\0';
out:
	return rc;
}

tfa_err tfa_kmsuri_parse(tfa_kmsuri *out, const char *s, size_t len)
{
	tfa_err rc = TFA_OK;
	tfa_kmsuri u;
	const char *p, *end, *slash;

	memset(&u, 0, sizeof(u));
	TFA_ENSURE_ARG(out);
	memset(out, 0, sizeof(*out));
	TFA_ENSURE_ARG(s);
	TFA_ENSURE(len <= TFA_KMSURI_MAX, TFA_EUSAGE, "awskms: the key URI is longer than %d bytes",
		   TFA_KMSURI_MAX);
	TFA_ENSURE(memchr(s, '\0', len) == NULL, TFA_EUSAGE, "awskms: NUL byte in the key URI");
	TFA_ENSURE(len >= 9 && memcmp(s, "awskms://", 9) == 0, TFA_EUSAGE,
		   "awskms: the key URI must start with awskms://");
	p = s + 9;
	end = s + len;
	slash = memchr(p, '/', (size_t)(end - p));
	TFA_ENSURE(slash != NULL, TFA_EUSAGE, "awskms: no key in the URI; " FORMS);
	if (slash > p) {
		TFA_ENSURE(host_ok(p, (size_t)(slash - p)), TFA_EUSAGE,
			   "awskms: the endpoint must be HOST or HOST:PORT");
		snprintf(u.endpoint, sizeof(u.endpoint), "https://%.*s", (int)(slash - p), p);
	}
	p = slash + 1;
	TFA_ENSURE(p < end, TFA_EUSAGE, "awskms: no key in the URI; " FORMS);
	if (end - p > 4 && memcmp(p, "arn:", 4) == 0) {
		TFA_GUARD(parse_arn(&u, p, (size_t)(end - p)));
	} else if (end - p >= 6 && memcmp(p, "alias/", 6) == 0) {
		TFA_ENSURE(alias_ok(p + 6, (size_t)(end - p - 6)), TFA_EUSAGE,
			   "awskms: invalid alias name; " FORMS);
		u.kind = TFA_KMS_ALIAS;
	} else {
		TFA_ENSURE(key_id_ok(p, (size_t)(end - p)), TFA_EUSAGE,
			   "awskms: invalid key id; " FORMS);
		u.kind = TFA_KMS_KEY_ID;
	}
	memcpy(u.key_id, p, (size_t)(end - p));
	u.key_id[end - p] = '\0';
	*out = u;
out:
	return rc;
}
