/*
 * Bundle source: a directory, opened once and read below its descriptor
 * without following any symlink.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/pathsafe.h"
#include "tfattest/bundle.h"
#include "tfattest/sys/guard.h"
#include "verify/bsrc.h"

#define WALK_MAX_DEPTH 8

static tfa_err dir_open(const tfa_bsrc *s, int hint, const char *path, tfa_bfile *f)
{
	const char *leaf;

	f->fd = -1;
	f->mem = NULL;
	if (hint >= 0 && (leaf = strrchr(path, '/')) != NULL) {
		/* One lookup per file. No stat: the walk saw a regular file here, and a
		 * caller reads at most the listed size + 1 bytes whatever it has become. */
		f->fd = openat(hint, leaf + 1,
			       O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (f->fd < 0)
			return tfa_error_set(errno == ENOENT ? TFA_ENOTFOUND : TFA_EVERIFY,
					     "cannot open %s: %s", path, strerror(errno));
		return TFA_OK;
	}
	return tfa_path_open(&f->fd, s->rootfd, path);
}

static ssize_t dir_read(tfa_bfile *f, void *buf, size_t n)
{
	ssize_t r;

	do
		r = read(f->fd, buf, n);
	while (r < 0 && errno == EINTR);
	return r;
}

static tfa_err dir_read_all(tfa_bfile *f, tfa_buf *b, const char *name, size_t max)
{
	return tfa_buf_read_fd(b, f->fd, name, max);
}

static void dir_close(tfa_bfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

static int dir_hint_open(const tfa_bsrc *s)
{
	return openat(s->rootfd, "artifacts", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static void dir_hint_close(int hint)
{
	if (hint >= 0)
		close(hint);
}

static tfa_err bad_entry(char *bad, size_t badlen, const char *rel, const char *what)
{
	snprintf(bad, badlen, "%s", rel);
	return tfa_error_set(TFA_EVERIFY, "%s: %s", what, rel);
}

/*
 * No symlinks or special files anywhere; counts regular files other than the
 * manifest and its signature. With `index`, also checks each one is listed
 * (the slow path, to name an unlisted file).
 */
static tfa_err walk(const tfa_bsrc *s, int dirfd, const char *prefix, int depth, uint64_t *count,
		    const tfa_manifest *index, char *bad, size_t badlen)
{
	tfa_err rc = TFA_OK;
	DIR *d = NULL;
	struct dirent *de;
	int fd = dup(dirfd);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return tfa_error_set(TFA_EIO, "cannot list %s: %s", s->path, strerror(errno));
	}
	/* The duplicate shares its offset with dirfd, which an earlier walk may have moved. */
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		char rel[TFA_PATH_MAX_LEN * 2];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(rel, sizeof(rel), "%s%s", prefix, de->d_name) >= sizeof(rel)) {
			/* No bundle path is this long: the entry is foreign whatever it is. */
			rc = bad_entry(bad, badlen, rel, "Path too long in bundle");
			goto out;
		}
		if (depth == 0 && (strcmp(rel, TFA_BUNDLE_MANIFEST) == 0 ||
				   strcmp(rel, TFA_BUNDLE_MANIFEST_SIG) == 0))
			continue;
		/* The entry type from readdir saves a stat per file where the file system gives it.
		 */
		if (de->d_type == DT_REG)
			st.st_mode = S_IFREG;
		else if (de->d_type == DT_DIR)
			st.st_mode = S_IFDIR;
		else if (de->d_type == DT_LNK)
			st.st_mode = S_IFLNK;
		else if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			TFA_BAIL(TFA_EIO, "cannot stat %s: %s", rel, strerror(errno));
		if (S_ISLNK(st.st_mode)) {
			rc = bad_entry(bad, badlen, rel, "Symlink in bundle");
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub;
			char p2[TFA_PATH_MAX_LEN * 2 + 2];
			if (depth >= WALK_MAX_DEPTH) {
				rc = bad_entry(bad, badlen, rel, "Directory nested too deeply");
				goto out;
			}
			sub = openat(dirfd, de->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			TFA_ENSURE(sub >= 0, TFA_EIO, "cannot open %s: %s", rel, strerror(errno));
			snprintf(p2, sizeof(p2), "%s/", rel);
			uint64_t before = *count;
			rc = walk(s, sub, p2, depth + 1, count, index, bad, badlen);
			close(sub);
			if (rc != TFA_OK)
				goto out;
			/* A directory the manifest cannot account for is as foreign as a file. */
			if (*count == before) {
				rc = bad_entry(bad, badlen, rel, "Empty directory in bundle");
				goto out;
			}
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			rc = bad_entry(bad, badlen, rel, "Not a regular file");
			goto out;
		}
		if (index && tfa_manifest_find(index, rel) < 0) {
			rc = bad_entry(bad, badlen, rel, "File not listed in manifest");
			goto out;
		}
		(*count)++;
	}
out:
	closedir(d);
	return rc;
}

static tfa_err dir_walk(const tfa_bsrc *s, uint64_t *count, const tfa_manifest *index, char *bad,
			size_t badlen)
{
	return walk(s, s->rootfd, "", 0, count, index, bad, badlen);
}

const tfa_bsrc_ops tfa_bsrc_dir_ops = {
    .kind = "directory",
    .open = dir_open,
    .read = dir_read,
    .read_all = dir_read_all,
    .close = dir_close,
    .hint_open = dir_hint_open,
    .hint_close = dir_hint_close,
    .walk = dir_walk,
};
