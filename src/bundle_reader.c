/*
 * Reading single files of a bundle, a directory or an archive, through the
 * same sources the verifier reads it with: no symlink is followed and no
 * archive is extracted to disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bsrc.h"
#include "pathsafe.h"
#include "tfattest/sys/guard.h"
#include "tfattest/verify.h"
#ifdef TFATTEST_WITH_ARCHIVE
#include "bundle_archive.h"
#endif

struct tfa_bundle_reader {
	tfa_bsrc src;
};

tfa_err tfa_bsrc_open(tfa_bsrc *s, const char *path)
{
	tfa_err rc = TFA_OK;
	struct stat st;
	int fd;

	memset(s, 0, sizeof(*s));
	s->rootfd = -1;
	s->path = path;
	/* Non-blocking, so that a FIFO given by mistake is rejected instead of waited on. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		TFA_BAIL(errno == ENOENT ? TFA_EUSAGE : TFA_EIO, "cannot open bundle %s: %s", path,
			 strerror(errno));
	TFA_ENSURE(fstat(fd, &st) == 0, TFA_EIO, "cannot stat bundle %s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		s->ops = &tfa_bsrc_dir_ops;
		s->rootfd = fd;
		fd = -1;
	} else if (S_ISREG(st.st_mode)) {
#ifdef TFATTEST_WITH_ARCHIVE
		TFA_GUARD(tfa_archive_load_fd(&s->ar, fd, path, NULL));
		s->ops = &tfa_bsrc_archive_ops;
#else
		TFA_BAIL(TFA_EUSAGE, "%s is a file: this build reads bundle directories only", path);
#endif
	} else {
		TFA_BAIL(TFA_EUSAGE, "%s is neither a bundle directory nor a bundle archive", path);
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

void tfa_bsrc_close(tfa_bsrc *s)
{
	if (s == NULL)
		return;
	if (s->rootfd >= 0)
		close(s->rootfd);
	s->rootfd = -1;
#ifdef TFATTEST_WITH_ARCHIVE
	tfa_archive_free(s->ar);
#endif
	s->ar = NULL;
}

void tfa_bundle_reader_free(tfa_bundle_reader *r)
{
	if (r == NULL)
		return;
	tfa_bsrc_close(&r->src);
	free(r);
}

tfa_err tfa_bundle_reader_open(tfa_bundle_reader **out, const char *path)
{
	tfa_err rc = TFA_OK;
	tfa_bundle_reader *r = NULL;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(path);
	r = calloc(1, sizeof(*r));
	TFA_ENSURE(r != NULL, TFA_EINTERNAL, "out of memory");
	rc = tfa_bsrc_open(&r->src, path);
	if (rc != TFA_OK) {
		tfa_bsrc_close(&r->src);
		goto out;
	}
	*out = r;
	r = NULL;
out:
	free(r);
	return rc;
}

tfa_err tfa_bundle_reader_read(tfa_buf *out, tfa_bundle_reader *r, const char *relpath, size_t max)
{
	tfa_err rc = TFA_OK;
	tfa_bfile f;
	bool opened = false;

	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(r);
	TFA_ENSURE_ARG(relpath);
	TFA_GUARD(tfa_path_check(relpath, strlen(relpath)));
	memset(&f, 0, sizeof(f));
	f.fd = -1;
	TFA_GUARD(r->src.ops->open(&r->src, -1, relpath, &f));
	opened = true;
	TFA_GUARD(r->src.ops->read_all(&f, out, relpath, max));
out:
	if (opened)
		r->src.ops->close(&f);
	return rc;
}
