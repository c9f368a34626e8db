#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "help.h"
#include "tfattest/buffer.h"
#include "tfattest/jcs.h"

/* Inputs larger than this are refused rather than exhausting memory. */
#define CANON_MAX ((size_t)1 << 30)

static tfa_err read_stdin(tfa_buf *b)
{
	for (;;) {
		ssize_t n;
		tfa_err rc = tfa_buf_reserve(b, 65536);
		if (rc != TFA_OK)
			return rc;
		n = read(0, b->data + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, TFA_CLI_PROGRAM ": error: cannot read standard input: %s\n",
				strerror(errno));
			return TFA_EIO;
		}
		if (n == 0)
			return TFA_OK;
		b->len += (size_t)n;
	}
}

int tfa_cli_canon(int argc, char **argv)
{
	tfa_buf in, out;
	tfa_err rc;
	int status = 0;

	tfa_buf_init(&in, CANON_MAX);
	tfa_buf_init(&out, CANON_MAX * 2);
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		tfa_cli_help_command(stdout, "canon", NULL);
		return fflush(stdout) == 0 ? 0 : 2;
	}
	if (argc > 2 || (argc == 2 && argv[1][0] == '-' && argv[1][1] != '\0'))
		return tfa_cli_usage(TFA_CLI_PROGRAM
				     " canon [FILE] (FILE - or none: standard input; a file "
				     "named like an option: ./%s)",
				     argc == 2 ? argv[1] : "FILE");
	if (argc == 2 && strcmp(argv[1], "-") != 0)
		rc = tfa_buf_read_file(&in, argv[1], CANON_MAX);
	else
		rc = read_stdin(&in);
	if (rc == TFA_ENOTFOUND)
		rc = TFA_EUSAGE;
	if (rc == TFA_OK)
		rc = tfa_jcs_canonicalize(&out, in.data, in.len);
	if (rc != TFA_OK) {
		status = tfa_cli_fail(rc);
		goto out;
	}
	if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
		fprintf(stderr, TFA_CLI_PROGRAM ": error: cannot write standard output\n");
		status = 2;
	}
out:
	tfa_buf_free(&in);
	tfa_buf_free(&out);
	return status;
}
