/*
 * The export's parts: the embedded recipe, VERIFY.md around it, the archive
 * kind of a path, the cap on the files a manifest lists.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "record/export_int.h"
#include "tfa_test.h"

/* The recipe is verify_recipe.sh byte for byte, NUL-terminated, its length without the NUL. */
static void test_recipe_embedded(void)
{
	const char *src = getenv("TFA_SOURCE_DIR");
	char *want;
	size_t len;

	CHECK(src != NULL);
	if (src == NULL)
		return;
	want = tfa_test_get_file(src, "src/record/verify_recipe.sh", &len);
	CHECK(tfa_export_recipe_len == len);
	CHECK(memcmp(tfa_export_recipe, want, len) == 0);
	CHECK(tfa_export_recipe[tfa_export_recipe_len] == '\0');
	CHECK(memcmp(tfa_export_recipe, "set -e\n", 7) == 0);
	CHECK(tfa_export_recipe[tfa_export_recipe_len - 1] == '\n');
	free(want);
}

/* VERIFY.md: the five values, then the recipe whole, then the closing fence. */
static void test_readme(void)
{
	static const char anchor[] =
	    "sha256:0000000000000000000000000000000000000000000000000000000000000001";
	static const char base[] =
	    "sha256:0000000000000000000000000000000000000000000000000000000000000002";
	static const char vars[] =
	    "```sh\nANCHOR=sha256:"
	    "0000000000000000000000000000000000000000000000000000000000000001\n"
	    "CHAIN=prod\nFROM=3\nTO=9\n"
	    "BASE=sha256:0000000000000000000000000000000000000000000000000000000000000002\n";
	tfa_buf b;
	const char *at;

	tfa_buf_init(&b, 0);
	CHECK_OK(tfa_export_write_readme(&b, "prod", 3, 9, base, anchor, false));
	CHECK(b.len > tfa_export_recipe_len);
	CHECK(b.len >= 24 && memcmp(b.data, "# Verifying this bundle\n", 24) == 0);
	at = b.len ? strstr((const char *)b.data, vars) : NULL;
	CHECK(at != NULL);
	if (at != NULL) {
		at += strlen(vars);
		CHECK(memcmp(at, tfa_export_recipe, tfa_export_recipe_len) == 0);
		CHECK(strncmp(at + tfa_export_recipe_len, "```\n", 4) == 0);
	}
	CHECK(strstr((const char *)b.data, "run from 3 to 9 without a gap") != NULL);
	tfa_buf_free(&b);
}

static void test_archive_kind(void)
{
	CHECK(tfa_export_archive_kind("b.tar.gz") == TFA_EXPORT_ARC_TGZ);
	CHECK(tfa_export_archive_kind("out/b.tgz") == TFA_EXPORT_ARC_TGZ);
	CHECK(tfa_export_archive_kind("b.zip") == TFA_EXPORT_ARC_ZIP);
	/* The suffix alone is no name, and case counts. */
	CHECK(tfa_export_archive_kind(".zip") == TFA_EXPORT_ARC_NONE);
	CHECK(tfa_export_archive_kind(".tar.gz") == TFA_EXPORT_ARC_NONE);
	CHECK(tfa_export_archive_kind("b.ZIP") == TFA_EXPORT_ARC_NONE);
	CHECK(tfa_export_archive_kind("b.gz") == TFA_EXPORT_ARC_NONE);
	CHECK(tfa_export_archive_kind("b.tar") == TFA_EXPORT_ARC_NONE);
	CHECK(tfa_export_archive_kind("bundle") == TFA_EXPORT_ARC_NONE);
}

/* A file past the manifest's cap on listed files is refused before it is written. */
static void test_put_file_cap(void)
{
	char *dir = tfa_test_tmpdir();
	char *man = tfa_test_path(dir, "manifest.json");
	char *b = tfa_test_path(dir, "b");
	tfa_export_ctx ex = TFA_EXPORT_CTX_INIT;

	ex.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ex.manfd = open(man, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ex.md = EVP_MD_CTX_new();
	CHECK(ex.dirfd >= 0 && ex.manfd >= 0 && ex.md != NULL &&
	      EVP_DigestInit_ex(ex.md, EVP_sha256(), NULL) == 1);
	ex.nfiles = TFA_MANIFEST_MAX_FILES - 1;
	CHECK_OK(tfa_export_put_file(&ex, ex.dirfd, "", "a", (const uint8_t *)"x", 1));
	CHECK(ex.nfiles == TFA_MANIFEST_MAX_FILES);
	tfa_error_clear();
	CHECK_RC(tfa_export_put_file(&ex, ex.dirfd, "", "b", (const uint8_t *)"y", 1), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message,
		     "the manifest would list more than 16000000 files") != NULL);
	CHECK(ex.nfiles == TFA_MANIFEST_MAX_FILES && access(b, F_OK) != 0);
	tfa_export_ctx_release(&ex);
	close(ex.dirfd);
	tfa_test_rmtree(dir);
	free(b);
	free(man);
	free(dir);
}

TFA_TEST_MAIN(T(test_recipe_embedded), T(test_readme), T(test_archive_kind), T(test_put_file_cap))
