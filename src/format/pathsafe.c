#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/pathsafe.h"
#include "tfattest/sys/guard.h"

tfa_err tfa_path_check(const char *path, size_t len)
{
	size_t start = 0;
	int depth = 0;

	if (len == 0 || len > TFA_PATH_MAX_LEN)
		return tfa_error_set(TFA_EVERIFY, "path is empty or longer than %d bytes",
				     TFA_PATH_MAX_LEN);
	if (path[0] == '/')
		return tfa_error_set(TFA_EVERIFY, "path %.*s is absolute", (int)len, path);
	for (size_t i = 0; i <= len; i++) {
		if (i == len || path[i] == '/') {
			if (i == start)
				return tfa_error_set(TFA_EVERIFY,
						     "path %.*s has an empty component", (int)len,
						     path);
			if (path[start] == '.')
				return tfa_error_set(TFA_EVERIFY,
						     "path %.*s has a component starting with '.'",
						     (int)len, path);
			if (++depth > TFA_PATH_MAX_DEPTH)
				return tfa_error_set(TFA_EVERIFY, "path %.*s is nested too deeply",
						     (int)len, path);
			start = i + 1;
			continue;
		}
		char c = path[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return tfa_error_set(TFA_EVERIFY,
					     "path %.*s has a character outside [A-Za-z0-9._-/]",
					     (int)len, path);
	}
	return TFA_OK;
}

tfa_err tfa_path_open(int *out, int rootfd, const char *path)
{
	tfa_err rc = TFA_OK;
	char comp[TFA_PATH_MAX_LEN + 1];
	const char *p = path, *slash;
	int dirfd = rootfd, fd = -1;
	struct stat st;

	*out = -1;
	while ((slash = strchr(p, '/')) != NULL) {
		size_t n = (size_t)(slash - p);
		int next;

		TFA_ENSURE(n < sizeof(comp), TFA_EVERIFY, "path %s is too long", path);
		memcpy(comp, p, n);
		comp[n] = '\0';
		next = openat(dirfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			if (errno == ENOENT)
				TFA_BAIL(TFA_ENOTFOUND, "%s is missing", path);
			TFA_BAIL(TFA_EVERIFY, "%s resolves through a symlink or a non-directory",
				 path);
		}
		if (dirfd != rootfd)
			close(dirfd);
		dirfd = next;
		p = slash + 1;
	}
	fd = openat(dirfd, p, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			TFA_BAIL(TFA_ENOTFOUND, "%s is missing", path);
		if (errno == ELOOP)
			TFA_BAIL(TFA_EVERIFY, "%s is a symlink", path);
		TFA_BAIL(TFA_EIO, "cannot open %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		TFA_BAIL(TFA_EVERIFY, "%s is not a regular file", path);
	*out = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	if (dirfd != rootfd)
		close(dirfd);
	return rc;
}
