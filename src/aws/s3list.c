/*
 * ListObjectsV2 pages. The response is XML, but only three things are read
 * from it: each <Key>, <IsTruncated> and <NextContinuationToken>. Keys are
 * taken verbatim: a key S3 had to escape (&amp; and the like) is not a
 * well-formed key anyway, so it counts as foreign.
 */
#include <stdio.h>
#include <string.h>

#include "aws/s3list.h"
#include "tfattest/sys/guard.h"

/* The first occurrence of needle in [p, end), or NULL. */
static const char *find(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);

	for (; (size_t)(end - p) >= n; p++)
		if (*p == *needle && memcmp(p, needle, n) == 0)
			return p;
	return NULL;
}

/*
 * The text of the next <tag>...</tag> at or after *pos: 1 found, 0 none,
 * -1 an opening tag without its closing one.
 */
static int element(const char **pos, const char *end, const char *tag, const char **val,
		   size_t *vlen)
{
	char open[32], close[32];
	const char *a, *b;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = find(*pos, end, open);
	if (a == NULL)
		return 0;
	a += strlen(open);
	b = find(a, end, close);
	if (b == NULL)
		return -1;
	*val = a;
	*vlen = (size_t)(b - a);
	*pos = b + strlen(close);
	return 1;
}

bool tfa_s3list_key_seq(const char *key, size_t klen, const char *prefix, const char *suffix,
			uint64_t *seq)
{
	size_t pl = strlen(prefix), sl = strlen(suffix), i;
	uint64_t s = 0;

	if (klen != pl + TFA_S3LIST_SEQ_DIGITS + sl || memcmp(key, prefix, pl) != 0 ||
	    memcmp(key + pl + TFA_S3LIST_SEQ_DIGITS, suffix, sl) != 0)
		return false;
	for (i = 0; i < TFA_S3LIST_SEQ_DIGITS; i++) {
		char c = key[pl + i];
		if (c < '0' || c > '9')
			return false;
		s = s * 10 + (uint64_t)(c - '0');
	}
	if (s == 0)
		return false;
	*seq = s;
	return true;
}

tfa_err tfa_s3list_parse(tfa_s3list_page *out, const uint8_t *doc, size_t len, const char *prefix,
			 const char *suffix, uint64_t min_seq, uint64_t max_seq)
{
	tfa_err rc = TFA_OK;
	const char *p = (const char *)doc, *end = p + len, *pos, *v;
	size_t vlen, i;
	int r;

	memset(out, 0, sizeof(*out));
	out->ordered = true;
	TFA_ENSURE_ARG(doc);
	TFA_ENSURE(len > 0 && find(p, end, "<ListBucketResult") != NULL, TFA_EFORMAT,
		   "s3 ListObjectsV2: the response is not a listing");
	pos = p;
	while ((r = element(&pos, end, "Key", &v, &vlen)) == 1) {
		uint64_t s;

		if (!tfa_s3list_key_seq(v, vlen, prefix, suffix, &s)) {
			out->nforeign++;
			continue;
		}
		if (out->nkeys == 0)
			out->first = s;
		else if (s <= out->last)
			out->ordered = false;
		if (s > out->last)
			out->last = s;
		if (s >= min_seq && s <= max_seq && s > out->best)
			out->best = s;
		out->nkeys++;
	}
	TFA_ENSURE(r == 0, TFA_EFORMAT, "s3 ListObjectsV2: an unterminated Key");
	pos = p;
	r = element(&pos, end, "IsTruncated", &v, &vlen);
	TFA_ENSURE(r >= 0, TFA_EFORMAT, "s3 ListObjectsV2: an unterminated IsTruncated");
	out->truncated = r == 1 && vlen == 4 && memcmp(v, "true", 4) == 0;
	if (!out->truncated)
		goto out;
	pos = p;
	r = element(&pos, end, "NextContinuationToken", &v, &vlen);
	TFA_ENSURE(r == 1 && vlen > 0 && vlen <= TFA_S3LIST_TOKEN_MAX, TFA_EFORMAT,
		   "s3 ListObjectsV2: a truncated listing without a usable token");
	for (i = 0; i < vlen; i++)
		TFA_ENSURE(v[i] > ' ' && v[i] < 0x7f, TFA_EFORMAT,
			   "s3 ListObjectsV2: a truncated listing without a usable token");
	memcpy(out->token, v, vlen);
	out->token[vlen] = '\0';
out:
	return rc;
}
