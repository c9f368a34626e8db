#include <sys/stat.h>
#include <unistd.h>

#include "sys/fsutil.h"
#include "tfa_test.h"

/* An export never replaces what appeared at its output path, not even an empty directory. */
static void test_rename_noreplace(void)
{
	char *dir = tfa_test_tmpdir();
	char *a = tfa_test_path(dir, "a"), *b = tfa_test_path(dir, "b"),
	     *c = tfa_test_path(dir, "c");
	struct stat st;

	CHECK(mkdir(a, 0755) == 0);
	tfa_test_put_file(a, "f", "x", 1);
	CHECK(mkdir(b, 0755) == 0); /* empty: rename(2) would silently replace it */
	CHECK_RC(tfa_fs_rename_noreplace(a, b), TFA_EUSAGE);
	CHECK(stat(a, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(rmdir(b) == 0); /* still empty, still there */
	CHECK_OK(tfa_fs_rename_noreplace(a, c));
	CHECK(stat(a, &st) != 0);
	free(a);
	free(b);
	free(c);
	tfa_test_rmtree(dir);
	free(dir);
}

TFA_TEST_MAIN(T(test_rename_noreplace))
