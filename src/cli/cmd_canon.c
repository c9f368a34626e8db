#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "esc.h"
#include "help.h"
#include "tfattest/jcs.h"

/* Inputs larger than this are refused rather than exhausting memory. */
#define CANON_MAX ((size_t)1 << 30)

/*
 * Opens FILE, which must be a regular file (standard input may be anything).
 * On failure prints the error and returns the exit status; 0 on success.
 */
static int open_file(const char *path, int *fd)
{
	struct stat st;
	int status = 0;

	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (*fd < 0) {
		fprintf(stderr, TFA_CLI_PROGRAM ": error: cannot open %s: %s\n", tfa_cli_tty(path),
			strerror(errno));
		return 2;
	}
	if (fstat(*fd, &st) != 0) {
		fprintf(stderr, TFA_CLI_PROGRAM ": error: cannot stat %s: %s\n", tfa_cli_tty(path),
			strerror(errno));
		status = 2;
	} else if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, TFA_CLI_PROGRAM ": error: %s is not a regular file\n",
			tfa_cli_tty(path));
		status = 1;
	}
	return status;
}

int tfa_cli_canon(int argc, char **argv)
{
	tfa_err rc = TFA_OK;
	int fd = -1, status = 0;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		tfa_cli_help_command(stdout, "canon", NULL);
		return fflush(stdout) == 0 ? 0 : 2;
	}
	if (argc > 2 || (argc == 2 && argv[1][0] == '-' && argv[1][1] != '\0'))
		return tfa_cli_usage(TFA_CLI_PROGRAM
				     " canon [FILE] (FILE - or none: standard input; a file "
				     "named like an option: ./%s)",
				     argc == 2 ? argv[1] : "FILE");
	/* The output goes straight to the descriptor: nothing may wait in stdout's buffer. */
	if (fflush(stdout) != 0) {
		fprintf(stderr, TFA_CLI_PROGRAM ": error: cannot write standard output\n");
		return 2;
	}
	if (argc == 2 && strcmp(argv[1], "-") != 0) {
		status = open_file(argv[1], &fd);
		if (status == 0)
			rc = tfa_jcs_canonicalize_fd(1, "standard output", fd, argv[1], CANON_MAX);
	} else {
		rc = tfa_jcs_canonicalize_fd(1, "standard output", 0, "standard input", CANON_MAX);
	}
	if (fd >= 0)
		close(fd);
	if (status == 0 && rc != TFA_OK)
		status = tfa_cli_fail(rc);
	return status;
}
