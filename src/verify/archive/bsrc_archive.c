/* Bundle source: an archive already read into memory and checked (bundle_archive.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tfattest/bundle.h"
#include "tfattest/sys/guard.h"
#include "verify/archive/bundle_archive.h"
#include "verify/bsrc.h"

static tfa_err ar_open(const tfa_bsrc *s, int hint, const char *path, tfa_bfile *f)
{
	const tfa_archive_entry *e = tfa_archive_find(s->ar, path);

	(void)hint;
	f->fd = -1;
	f->mem = NULL;
	f->len = f->off = 0;
	if (e == NULL)
		return tfa_error_set(TFA_ENOTFOUND, "%s is missing", path);
	f->mem = e->data;
	f->len = e->size;
	return TFA_OK;
}

static ssize_t ar_read(tfa_bfile *f, void *buf, size_t n)
{
	size_t left = f->len - f->off;

	if (n > left)
		n = left;
	if (n > 0)
		memcpy(buf, f->mem + f->off, n);
	f->off += n;
	return (ssize_t)n;
}

static tfa_err ar_read_all(tfa_bfile *f, tfa_buf *b, const char *name, size_t max)
{
	if (f->len - f->off > max)
		return tfa_error_set(TFA_EFORMAT, "%s is larger than the limit of %zu bytes", name,
				     max);
	f->off = f->len;
	return tfa_buf_append(b, f->mem, f->len);
}

static void ar_close(tfa_bfile *f)
{
	f->mem = NULL;
}

static tfa_err ar_walk(const tfa_bsrc *s, uint64_t *count, const tfa_manifest *index, char *bad,
		       size_t badlen)
{
	const tfa_archive *a = s->ar;

	for (size_t i = 0; i < a->n; i++) {
		const tfa_archive_entry *e = &a->e[i];

		if (strcmp(e->path, TFA_BUNDLE_MANIFEST) == 0 ||
		    strcmp(e->path, TFA_BUNDLE_MANIFEST_SIG) == 0)
			continue;
		if (index && tfa_manifest_find(index, e->path) < 0) {
			snprintf(bad, badlen, "%s", e->path);
			return tfa_error_set(TFA_EVERIFY, "File not listed in manifest: %s",
					     e->path);
		}
		(*count)++;
	}
	return TFA_OK;
}

const tfa_bsrc_ops tfa_bsrc_archive_ops = {
    .kind = "archive",
    .open = ar_open,
    .read = ar_read,
    .read_all = ar_read_all,
    .close = ar_close,
    .hint_open = NULL,
    .hint_close = NULL,
    .walk = ar_walk,
};
