/*
 * Stand-in for `tfattest canon FILE` while the CLI command is not built:
 * reads FILE, writes its RFC 8785 canonical form to standard output.
 * Used by canon_bench.sh --driver only.
 */
#include <stdio.h>
#include <string.h>

#include "tfattest/buffer.h"
#include "tfattest/jcs.h"

int main(int argc, char **argv)
{
	tfa_buf in, out;
	int status = 0;

	if (argc != 3 || strcmp(argv[1], "canon") != 0) {
		fprintf(stderr, "usage: %s canon FILE\n", argv[0]);
		return 2;
	}
	tfa_buf_init(&in, 0);
	tfa_buf_init(&out, 0);
	if (tfa_buf_read_file(&in, argv[2], TFA_BUF_DEFAULT_MAX) != TFA_OK ||
	    tfa_jcs_canonicalize(&out, in.data, in.len) != TFA_OK) {
		fprintf(stderr, "canon_driver: %s\n", tfa_error_last()->message);
		status = 1;
	} else if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
		perror("canon_driver: write");
		status = 2;
	}
	tfa_buf_free(&in);
	tfa_buf_free(&out);
	return status;
}
