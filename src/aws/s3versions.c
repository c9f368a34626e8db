/*
 * ListObjectVersions pages. Only what reconcile needs is read: each
 * <Version> and <DeleteMarker> with its Key, VersionId, LastModified and
 * Size, and <IsTruncated>, <NextKeyMarker>, <NextVersionIdMarker>. Keys are
 * compared after the five XML entities are decoded; any other '&' makes the
 * key foreign.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/s3versions.h"
#include "tfattest/artifact.h"
#include "tfattest/sys/guard.h"

static const char *find(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);

	for (; (size_t)(end - p) >= n; p++)
		if (*p == *needle && memcmp(p, needle, n) == 0)
			return p;
	return NULL;
}

/* The text of the first <tag>...</tag> in [pos, end): 1 found, 0 none, -1 unterminated. */
static int element(const char *pos, const char *end, const char *tag, const char **val,
		   size_t *vlen, const char **after)
{
	char open[40], close[40];
	const char *a, *b;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = find(pos, end, open);
	if (a == NULL)
		return 0;
	a += strlen(open);
	b = find(a, end, close);
	if (b == NULL)
		return -1;
	*val = a;
	*vlen = (size_t)(b - a);
	if (after)
		*after = b + strlen(close);
	return 1;
}

/* Decodes &amp; &lt; &gt; &quot; &apos; into out (cap bytes); false for anything else. */
static bool xml_text(char *out, size_t cap, const char *s, size_t n)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {
	    {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	size_t w = 0;

	for (size_t i = 0; i < n;) {
		char c = s[i];
		if (c == '&') {
			size_t k;
			for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
				size_t el = strlen(ents[k].ent);
				if (n - i >= el && memcmp(s + i, ents[k].ent, el) == 0) {
					c = ents[k].c;
					i += el;
					break;
				}
			}
			if (k == sizeof(ents) / sizeof(ents[0]))
				return false;
		} else {
			i++;
		}
		if (c == '\0' || w + 1 >= cap)
			return false;
		out[w++] = c;
	}
	out[w] = '\0';
	return true;
}

static bool printable_id(char *out, size_t cap, const char *s, size_t n)
{
	if (n == 0 || n >= cap)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f)
			return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

/* YYYY-MM-DDTHH:MM:SS, an optional fraction of 1 to 9 digits, Z. */
static bool s3_time(int64_t *out, const char *s, size_t n)
{
	char t[21];
	size_t i = 19;

	if (n < 20 || s[n - 1] != 'Z')
		return false;
	if (n > 20) {
		if (s[19] != '.' || n - 21 < 1 || n - 21 > 9)
			return false;
		for (i = 20; i < n - 1; i++)
			if (s[i] < '0' || s[i] > '9')
				return false;
	}
	memcpy(t, s, 19);
	t[19] = 'Z';
	t[20] = '\0';
	return tfa_time_parse(out, t, 20) == TFA_OK;
}

static bool decimal(uint64_t *out, const char *s, size_t n)
{
	uint64_t v = 0;

	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* One <Version> or <DeleteMarker> body [a, b). */
static tfa_err entry(tfa_s3ver_page *out, const char *a, const char *b, bool deleted,
		     const char *key)
{
	tfa_err rc = TFA_OK;
	const char *v;
	size_t vlen;
	char k[TFA_S3VER_KEY_MAX + 1];
	tfa_s3ver_entry *e;
	int r;

	r = element(a, b, "Key", &v, &vlen, NULL);
	TFA_ENSURE(r == 1, TFA_EFORMAT, "s3 ListObjectVersions: an entry without a Key");
	if (!xml_text(k, sizeof(k), v, vlen) || strcmp(k, key) != 0) {
		out->nforeign++;
		goto out;
	}
	TFA_ENSURE(out->n < TFA_S3VER_PAGE_MAX, TFA_EFORMAT,
		   "s3 ListObjectVersions: more than %d entries in a page", TFA_S3VER_PAGE_MAX);
	if (out->n % 64 == 0) {
		tfa_s3ver_entry *p = realloc(out->entries, (out->n + 64) * sizeof(*p));
		TFA_ENSURE(p != NULL, TFA_EINTERNAL, "out of memory");
		out->entries = p;
	}
	e = &out->entries[out->n];
	memset(e, 0, sizeof(*e));
	e->deleted = deleted;
	r = element(a, b, "VersionId", &v, &vlen, NULL);
	TFA_ENSURE(r == 1 && printable_id(e->version_id, sizeof(e->version_id), v, vlen),
		   TFA_EFORMAT, "s3 ListObjectVersions: an entry without a usable VersionId");
	r = element(a, b, "LastModified", &v, &vlen, NULL);
	TFA_ENSURE(r == 1 && s3_time(&e->last_modified, v, vlen), TFA_EFORMAT,
		   "s3 ListObjectVersions: an entry without a usable LastModified");
	if (!deleted) {
		r = element(a, b, "Size", &v, &vlen, NULL);
		TFA_ENSURE(r >= 0 && (r == 0 || decimal(&e->size, v, vlen)), TFA_EFORMAT,
			   "s3 ListObjectVersions: an entry with a malformed Size");
	}
	out->n++;
out:
	return rc;
}

tfa_err tfa_s3ver_parse(tfa_s3ver_page *out, const uint8_t *doc, size_t len, const char *key)
{
	tfa_err rc = TFA_OK;
	const char *p = (const char *)doc, *end, *v, *pos, *ver, *del;
	size_t vlen;
	int r;

	TFA_ENSURE_ARG(out);
	memset(out, 0, sizeof(*out));
	TFA_ENSURE_ARG(doc);
	TFA_ENSURE_ARG(key);
	end = p + len;
	TFA_ENSURE(len > 0 && find(p, end, "<ListVersionsResult") != NULL, TFA_EFORMAT,
		   "s3 ListObjectVersions: the response is not a version listing");
	pos = p;
	/* The next of each kind, searched again only once passed: linear in the page. */
	ver = find(pos, end, "<Version>");
	del = find(pos, end, "<DeleteMarker>");
	for (;;) {
		const char *a, *b;
		bool deleted;

		if (ver != NULL && ver < pos)
			ver = find(pos, end, "<Version>");
		if (del != NULL && del < pos)
			del = find(pos, end, "<DeleteMarker>");

		if (ver == NULL && del == NULL)
			break;
		deleted = ver == NULL || (del != NULL && del < ver);
		a = deleted ? del + strlen("<DeleteMarker>") : ver + strlen("<Version>");
		b = find(a, end, deleted ? "</DeleteMarker>" : "</Version>");
		TFA_ENSURE(b != NULL, TFA_EFORMAT, "s3 ListObjectVersions: an unterminated %s",
			   deleted ? "DeleteMarker" : "Version");
		/* An entry holds no other entry. */
		TFA_ENSURE(find(a, b, "<Version>") == NULL && find(a, b, "<DeleteMarker>") == NULL,
			   TFA_EFORMAT, "s3 ListObjectVersions: an entry inside another");
		TFA_GUARD(entry(out, a, b, deleted, key));
		pos = b;
	}
	r = element(p, end, "IsTruncated", &v, &vlen, NULL);
	TFA_ENSURE(r >= 0, TFA_EFORMAT, "s3 ListObjectVersions: an unterminated IsTruncated");
	out->truncated = r == 1 && vlen == 4 && memcmp(v, "true", 4) == 0;
	if (!out->truncated)
		goto out;
	r = element(p, end, "NextKeyMarker", &v, &vlen, NULL);
	TFA_ENSURE(r == 1 && xml_text(out->next_key, sizeof(out->next_key), v, vlen) &&
		       out->next_key[0] != '\0',
		   TFA_EFORMAT,
		   "s3 ListObjectVersions: a truncated listing without a NextKeyMarker");
	r = element(p, end, "NextVersionIdMarker", &v, &vlen, NULL);
	TFA_ENSURE(r == 1 &&
		       printable_id(out->next_version_id, sizeof(out->next_version_id), v, vlen),
		   TFA_EFORMAT,
		   "s3 ListObjectVersions: a truncated listing without a NextVersionIdMarker");
out:
	return rc;
}

void tfa_s3ver_page_free(tfa_s3ver_page *p)
{
	if (p == NULL)
		return;
	free(p->entries);
	p->entries = NULL;
	p->n = 0;
}
