#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tfa_test.h"

int tfa_test_failures;
const char *tfa_test_current = "";

int tfa_test_run(const tfa_test_case *cases, int argc, char **argv)
{
	int passed = 0, failed = 0;

	for (const tfa_test_case *c = cases; c->name; c++) {
		int before = tfa_test_failures;

		if (argc > 1) {
			int wanted = 0;
			for (int i = 1; i < argc; i++)
				if (strcmp(argv[i], c->name) == 0)
					wanted = 1;
			if (!wanted)
				continue;
		}
		tfa_test_current = c->name;
		c->fn();
		if (tfa_test_failures == before) {
			passed++;
			printf("ok - %s\n", c->name);
		} else {
			failed++;
			printf("FAIL - %s\n", c->name);
		}
		fflush(stdout);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

const char *tfa_test_fixtures(void)
{
	const char *d = getenv("TFA_FIXTURES");
	return d ? d : "tests/fixtures";
}

char *tfa_test_read_fixture(const char *rel, size_t *len)
{
	char path[4096];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", tfa_test_fixtures(), rel);
	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "cannot open fixture %s: %s\n", path, strerror(errno));
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "cannot read fixture %s\n", path);
		exit(2);
	}
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

char *tfa_test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char tmpl[4096];
	char *d;

	snprintf(tmpl, sizeof(tmpl), "%s/tfa-test-XXXXXX", base ? base : "/tmp");
	d = mkdtemp(tmpl);
	if (d == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	return strdup(d);
}

char *tfa_test_path(const char *dir, const char *rel)
{
	size_t n = strlen(dir) + strlen(rel) + 2;
	char *p = malloc(n);

	if (p == NULL)
		exit(2);
	snprintf(p, n, "%s/%s", dir, rel);
	return p;
}

void tfa_test_put_file(const char *dir, const char *rel, const void *data, size_t len)
{
	char *p = tfa_test_path(dir, rel);
	int fd;

	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len)) {
		fprintf(stderr, "cannot write %s: %s\n", p, strerror(errno));
		exit(2);
	}
	close(fd);
	free(p);
}

char *tfa_test_get_file(const char *dir, const char *rel, size_t *len)
{
	char *p = tfa_test_path(dir, rel);
	FILE *f = fopen(p, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "cannot read %s\n", p);
		exit(2);
	}
	fclose(f);
	free(p);
	buf[n] = '\0';
	if (len)
		*len = (size_t)n;
	return buf;
}

void tfa_test_expect_wrapped(const char *outer, const char *inner, int line)
{
	const char *m = tfa_error_last()->message, *first = strstr(m, outer);

	if (first == NULL || strstr(first + 1, outer) != NULL || strstr(m, inner) == NULL) {
		fprintf(stderr, "line %d: message \"%s\", wanted \"%s\" once and \"%s\"\n", line, m,
			outer, inner);
		tfa_test_failures++;
	}
}

void tfa_test_rmtree(const char *path)
{
	struct stat st;
	DIR *dir;
	struct dirent *de;

	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		chmod(path, 0700);
		dir = opendir(path);
		if (dir) {
			while ((de = readdir(dir)) != NULL) {
				char sub[4096];
				if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
					continue;
				snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
				tfa_test_rmtree(sub);
			}
			closedir(dir);
		}
		rmdir(path);
	} else {
		unlink(path);
	}
}

#if !TFATTEST_VERIFIER_ONLY
tfa_signer *tfa_test_new_file_signer(const char *dir, const char *name)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	char *p = tfa_test_path(dir, name), uri[4200];
	FILE *f = fopen(p, "wb");
	tfa_signer *s = NULL;

	if (k == NULL || f == NULL || !PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)) {
		fprintf(stderr, "cannot make a key\n");
		exit(2);
	}
	fclose(f);
	EVP_PKEY_free(k);
	snprintf(uri, sizeof(uri), "file:%s", p);
	free(p);
	if (tfa_signer_open(&s, uri) != TFA_OK) {
		fprintf(stderr, "cannot open the key: %s\n", tfa_error_last()->message);
		exit(2);
	}
	return s;
}
#endif
