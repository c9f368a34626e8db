/*
 * Opening a bundle, a directory or an archive, as the source the verifier
 * reads it through: no symlink is followed and no archive is extracted to
 * disk. There is deliberately no way to read a bundle's files apart from a
 * verification: what is shown as verified is what the verifier read
 * (tfa_verify_opts.on_artifact).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/pathsafe.h"
#include "tfattest/sys/guard.h"
#include "tfattest/verify.h"
#include "verify/bsrc.h"
#if TFATTEST_WITH_ARCHIVE
#include "verify/archive/bundle_archive.h"
#endif

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
	TFA_ENSURE(fstat(fd, &st) == 0, TFA_EIO, "cannot stat bundle %s: %s", path,
		   strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		s->ops = &tfa_bsrc_dir_ops;
		s->rootfd = fd;
		fd = -1;
	} else if (S_ISREG(st.st_mode)) {
#if TFATTEST_WITH_ARCHIVE
		TFA_GUARD(tfa_archive_open_fd(&s->ar, fd, path, NULL));
		s->ops = &tfa_bsrc_archive_ops;
#else
		TFA_BAIL(TFA_EUSAGE, "%s is a file: this build reads bundle directories only",
			 path);
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
#if TFATTEST_WITH_ARCHIVE
	tfa_archive_free(s->ar);
#endif
	s->ar = NULL;
}
