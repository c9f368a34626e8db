/*
 * The file-reading floor of a directory bundle: reads every file under
 * BUNDLE/artifacts/ as the verifier does (openat relative to the directory,
 * one read, close), on THREADS threads sharing the list, and nothing else: no
 * hashing, parsing or signature. Prints the files read, the wall time and the
 * files per second, so a verify figure can be set against what reading alone
 * costs on the same machine in the same run.
 *
 * usage: read_floor BUNDLE_DIR THREADS
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char **names;
static size_t nnames;
static int dirfd_art;
static atomic_size_t next;
static atomic_size_t bytes;

static void *reader(void *arg)
{
	static __thread char buf[1 << 16];
	size_t got = 0;

	(void)arg;
	for (;;) {
		size_t i = atomic_fetch_add(&next, 1);
		int fd;
		ssize_t n;

		if (i >= nnames)
			break;
		fd = openat(dirfd_art, names[i], O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			perror(names[i]);
			exit(1);
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			perror(names[i]);
			exit(1);
		}
		got += (size_t)n;
		close(fd);
	}
	atomic_fetch_add(&bytes, got);
	return NULL;
}

int main(int argc, char **argv)
{
	char path[4096];
	struct timespec t0, t1;
	pthread_t tids[64];
	DIR *d;
	struct dirent *de;
	size_t cap = 0;
	int nt;
	double s;

	if (argc != 3 || (nt = atoi(argv[2])) < 1 || nt > 64) {
		fprintf(stderr, "usage: read_floor BUNDLE_DIR THREADS(1-64)\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/artifacts", argv[1]);
	if ((d = opendir(path)) == NULL) {
		perror(path);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (nnames == cap) {
			cap = cap ? 2 * cap : 1024;
			names = realloc(names, cap * sizeof(*names));
			if (names == NULL)
				return 1;
		}
		if ((names[nnames++] = strdup(de->d_name)) == NULL)
			return 1;
	}
	dirfd_art = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd_art < 0) {
		perror(path);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int t = 0; t < nt; t++)
		if (pthread_create(&tids[t], NULL, reader, NULL) != 0)
			return 1;
	for (int t = 0; t < nt; t++)
		pthread_join(tids[t], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%zu files, %zu bytes, %.4f s, %.0f files/s\n", nnames, (size_t)atomic_load(&bytes),
	       s, (double)nnames / s);
	closedir(d);
	close(dirfd_art);
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	return 0;
}
