/*
 * archive_extract ARCHIVE OUTDIR: loads ARCHIVE through the bundle archive
 * reader (tfa_archive_load_fd, default caps) and writes every entry it
 * accepted under OUTDIR (which must exist and be empty), creating the one
 * directory level a bundle path has. Exit 0 accepted, 1 rejected (the
 * reader's message on stderr), 2 usage or I/O.
 *
 * The archive tests compare what this writes with what GNU tar, bsdtar,
 * unzip and Python extract from the same archive.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tfattest/error.h"
#include "verify/archive/bundle_archive.h"

static int put(int dirfd, const tfa_archive_entry *e)
{
	const char *slash = strchr(e->path, '/');
	size_t done = 0;
	int fd;

	if (slash != NULL) {
		char d[64];
		size_t n = (size_t)(slash - e->path);
		if (n >= sizeof(d))
			return -1;
		memcpy(d, e->path, n);
		d[n] = '\0';
		if (mkdirat(dirfd, d, 0755) != 0 && errno != EEXIST)
			return -1;
	}
	fd = openat(dirfd, e->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	while (done < e->size) {
		ssize_t r = write(fd, e->data + done, e->size - done);
		if (r <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)r;
	}
	return close(fd);
}

int main(int argc, char **argv)
{
	tfa_archive *a = NULL;
	int fd, dirfd, rc = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: archive_extract ARCHIVE OUTDIR\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	dirfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || dirfd < 0) {
		fprintf(stderr, "archive_extract: cannot open %s\n", fd < 0 ? argv[1] : argv[2]);
		return 2;
	}
	if (tfa_archive_load_fd(&a, fd, argv[1], NULL) != TFA_OK) {
		fprintf(stderr, "%s\n", tfa_error_last()->message);
		close(fd);
		close(dirfd);
		return 1;
	}
	for (size_t i = 0; i < a->n && rc == 0; i++)
		if (put(dirfd, &a->e[i]) != 0) {
			fprintf(stderr, "archive_extract: cannot write %s: %s\n", a->e[i].path,
				strerror(errno));
			rc = 2;
		}
	printf("%zu entries\n", a->n);
	tfa_archive_free(a);
	close(fd);
	close(dirfd);
	return rc;
}
