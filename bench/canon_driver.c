/*
 * Stand-in for `tfattest canon FILE` while the CLI command is not built:
 * reads FILE, writes its RFC 8785 canonical form to standard output, as the
 * command does (tfa_jcs_canonicalize_fd). Used by canon_bench.sh --driver only.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tfattest/jcs.h"

int main(int argc, char **argv)
{
	int fd, status = 0;

	if (argc != 3 || strcmp(argv[1], "canon") != 0) {
		fprintf(stderr, "usage: %s canon FILE\n", argv[0]);
		return 2;
	}
	fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror("canon_driver: open");
		return 2;
	}
	if (tfa_jcs_canonicalize_fd(1, "standard output", fd, argv[2], (size_t)1 << 30) != TFA_OK) {
		fprintf(stderr, "canon_driver: %s\n", tfa_error_last()->message);
		status = 1;
	}
	close(fd);
	return status;
}
