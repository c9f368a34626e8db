/*
 * Bundle source: an archive checked by bundle_archive.c. Its files are held
 * in memory, or, streamed, read again from the file through cursors: one
 * per scanning thread (the hint), a fresh one for any other read.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tfattest/bundle.h"
#include "tfattest/sys/guard.h"
#include "verify/archive/bundle_archive.h"
#include "verify/bsrc.h"

static tfa_err ar_open(const tfa_bsrc *s, int hint, const char *path, tfa_bfile *f)
{
	tfa_err rc = TFA_OK;
	const tfa_archive_entry *e = tfa_archive_find(s->ar, path);
	uint64_t size;

	f->fd = -1;
	f->mem = NULL;
	f->len = f->off = 0;
	f->cur = NULL;
	f->own_cur = false;
	if (e != NULL && e->data != NULL) {
		f->mem = e->data;
		f->len = e->size;
		return TFA_OK;
	}
	if (!s->ar->streamed || (e == NULL && !tfa_archive_has_artifact(s->ar, path)))
		return tfa_error_set(TFA_ENOTFOUND, "%s is missing", path);
	f->cur = tfa_archive_cursor_at(s->ar, hint);
	if (f->cur == NULL) {
		TFA_GUARD(tfa_archive_cursor_new(&f->cur, s->ar));
		f->own_cur = true;
	}
	TFA_GUARD(tfa_archive_cursor_seek(f->cur, path, &size));
	f->len = (size_t)size;
out:
	if (rc != TFA_OK && f->own_cur) {
		tfa_archive_cursor_free(f->cur);
		f->cur = NULL;
		f->own_cur = false;
	}
	return rc;
}

static ssize_t ar_read(tfa_bfile *f, void *buf, size_t n)
{
	size_t left = f->len - f->off, done = 0;

	if (n > left)
		n = left;
	if (f->cur == NULL) {
		if (n > 0)
			memcpy(buf, f->mem + f->off, n);
		f->off += n;
		return (ssize_t)n;
	}
	/* Whole, as a regular file reads: short only at the end. */
	while (done < n) {
		ssize_t r = tfa_archive_cursor_read(f->cur, (uint8_t *)buf + done, n - done);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	f->off += done;
	return (ssize_t)done;
}

static tfa_err ar_read_all(tfa_bfile *f, tfa_buf *b, const char *name, size_t max)
{
	tfa_err rc = TFA_OK;
	size_t n = f->len - f->off;
	ssize_t r;

	if (n > max)
		return tfa_error_set(TFA_EFORMAT, "%s is larger than the limit of %zu bytes", name,
				     max);
	if (f->cur == NULL) {
		f->off = f->len;
		return tfa_buf_append(b, f->mem, f->len);
	}
	TFA_GUARD(tfa_buf_reserve(b, n));
	r = ar_read(f, b->data + b->len, n);
	TFA_ENSURE(r == (ssize_t)n, TFA_EVERIFY, "Archive damaged: %s changed while it was read",
		   name);
	b->len += n;
out:
	return rc;
}

static void ar_close(tfa_bfile *f)
{
	if (f->own_cur)
		tfa_archive_cursor_free(f->cur);
	f->cur = NULL;
	f->own_cur = false;
	f->mem = NULL;
}

static int ar_hint_open(const tfa_bsrc *s)
{
	int hint = -1;

	if (!s->ar->streamed || tfa_archive_cursor_hint(s->ar, &hint) != TFA_OK) {
		tfa_error_clear();
		return -1;
	}
	return hint;
}

/* The archive's cursors go with it. */
static void ar_hint_close(int hint)
{
	(void)hint;
}

static tfa_err listed(const char *path, const tfa_manifest *index, char *bad, size_t badlen)
{
	if (index && tfa_manifest_find(index, path) < 0) {
		snprintf(bad, badlen, "%s", path);
		return tfa_error_set(TFA_EVERIFY, "File not listed in manifest: %s", path);
	}
	return TFA_OK;
}

static tfa_err ar_walk(const tfa_bsrc *s, uint64_t *count, const tfa_manifest *index, char *bad,
		       size_t badlen)
{
	tfa_err rc = TFA_OK;
	const tfa_archive *a = s->ar;

	for (size_t i = 0; i < a->n; i++) {
		const tfa_archive_entry *e = &a->e[i];

		if (strcmp(e->path, TFA_BUNDLE_MANIFEST) == 0 ||
		    strcmp(e->path, TFA_BUNDLE_MANIFEST_SIG) == 0)
			continue;
		TFA_GUARD(listed(e->path, index, bad, badlen));
		(*count)++;
	}
	if (!a->streamed)
		goto out;
	*count += a->nart;
	for (int k = 0; k < 2 && index != NULL; k++)
		for (size_t i = 0; i < a->nruns[k]; i++)
			for (uint64_t q = a->runs[k][i].lo;; q++) {
				char path[48];
				snprintf(path, sizeof(path), "artifacts/%012llu.%s",
					 (unsigned long long)q, k ? "sig" : "json");
				TFA_GUARD(listed(path, index, bad, badlen));
				if (q == a->runs[k][i].hi)
					break;
			}
out:
	return rc;
}

const tfa_bsrc_ops tfa_bsrc_archive_ops = {
    .kind = "archive",
    .open = ar_open,
    .read = ar_read,
    .read_all = ar_read_all,
    .close = ar_close,
    .hint_open = ar_hint_open,
    .hint_close = ar_hint_close,
    .walk = ar_walk,
};
