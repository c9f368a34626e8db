/* Builds against an installed libtfattest through pkg-config and verifies a bundle. */
#include <stdio.h>

#include <tfattest/verify.h>

int main(int argc, char **argv)
{
	tfa_verify_report r;
	tfa_err rc;

	if (argc != 2)
		return 2;
	rc = tfa_verify_bundle(&r, argv[1], NULL);
	printf("%s %s\n", tfa_err_name(rc), rc == TFA_OK ? "verified" : r.message);
	return tfa_err_exit_status(rc);
}
