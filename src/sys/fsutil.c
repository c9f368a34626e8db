#define _GNU_SOURCE /* syncfs */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sys/fsutil.h"
#include "tfattest/sys/guard.h"

tfa_err tfa_fs_write_new(int dirfd, const char *name, const void *data, size_t len, unsigned mode,
			 bool sync)
{
	tfa_err rc = TFA_OK;
	const unsigned char *p = data;
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0)
		return tfa_error_set(TFA_EIO, "cannot create %s: %s", name, strerror(errno));
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			TFA_BAIL(TFA_EIO, "cannot write %s: %s", name, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	if (sync && fsync(fd) != 0)
		TFA_BAIL(TFA_EIO, "cannot fsync %s: %s", name, strerror(errno));
out:
	if (close(fd) != 0 && rc == TFA_OK)
		rc = tfa_error_set(TFA_EIO, "cannot close %s: %s", name, strerror(errno));
	return rc;
}

tfa_err tfa_fs_mkdtemp_beside(char **out, const char *path)
{
	size_t n = strlen(path);
	char *t;

	while (n > 1 && path[n - 1] == '/')
		n--;
	t = malloc(n + 16);
	if (t == NULL)
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	memcpy(t, path, n);
	memcpy(t + n, ".tmp-XXXXXX", 12);
	if (mkdtemp(t) == NULL) {
		tfa_err rc = tfa_error_set(TFA_EIO, "cannot create a directory beside %s: %s", path,
					   strerror(errno));
		free(t);
		return rc;
	}
	*out = t;
	return TFA_OK;
}

tfa_err tfa_fs_rename_noreplace(const char *from, const char *to)
{
#if defined(__linux__) && defined(SYS_renameat2)
	/* RENAME_NOREPLACE is 1; called directly so older C libraries work too. */
	if (syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, 1u) == 0)
		return TFA_OK;
	if (errno == EEXIST)
		return tfa_error_set(TFA_EUSAGE, "%s already exists: choose a new output path", to);
	if (errno != EINVAL && errno != ENOSYS)
		return tfa_error_set(TFA_EIO, "cannot move %s to %s: %s", from, to,
				     strerror(errno));
#endif
	{
		struct stat st;
		/* Without renameat2 a narrow race remains between this check and the rename. */
		if (lstat(to, &st) == 0)
			return tfa_error_set(TFA_EUSAGE,
					     "%s already exists: choose a new output path", to);
		if (rename(from, to) != 0)
			return tfa_error_set(TFA_EIO, "cannot move %s to %s: %s", from, to,
					     strerror(errno));
	}
	return TFA_OK;
}

tfa_err tfa_fs_sync_tree(int dirfd)
{
#ifdef __linux__
	if (syncfs(dirfd) != 0)
		return tfa_error_set(TFA_EIO, "syncfs failed: %s", strerror(errno));
#else
	(void)dirfd;
	sync();
#endif
	return TFA_OK;
}

void tfa_fs_sync_parent(const char *path)
{
	char buf[PATH_MAX];
	char *slash;
	int fd;

	snprintf(buf, sizeof(buf), "%s", path);
	slash = strrchr(buf, '/');
	if (slash == NULL)
		snprintf(buf, sizeof(buf), ".");
	else if (slash == buf)
		buf[1] = '\0';
	else
		*slash = '\0';
	fd = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

void tfa_fs_rmtree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (lstat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	d = opendir(path);
	if (d) {
		while ((de = readdir(d)) != NULL) {
			char sub[PATH_MAX];
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) <
			    (int)sizeof(sub))
				tfa_fs_rmtree(sub);
		}
		closedir(d);
	}
	rmdir(path);
}
