/*
 * Record benchmark: appends N records through the library with one open
 * signer and store, and separates the signature's cost from the rest.
 *
 * usage: bench_record STORE_DIR KEY_URI PLAN N
 *
 * For every record it measures the whole tfa_chain_append() call. The
 * signing cost is measured in the same run by timing tfa_signer_sign() alone
 * on the same key, interleaved (one bare signature after each record), so the
 * two see the same machine state. "Outside the signature" is append time
 * minus the median bare signature time. Reports the first ten records, the
 * last ten, and deciles, so that growth with chain length would show.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tfattest/artifact.h"
#include "tfattest/capture.h"
#include "tfattest/chain.h"
#include "tfattest/signer.h"
#include "tfattest/store.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(const double *v, size_t n)
{
	double *c = malloc(n * sizeof(*c));
	double m;

	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_double);
	m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
	free(c);
	return m;
}

/*
 * The disk's floor for the store's durable create-if-absent: create a temp
 * file, write 1.5 KiB, fsync, link, fsync the directory, unlink the temp.
 * Median ms per operation over n, in a directory next to the store.
 */
static double fsync_floor(const char *store, int n)
{
	char dir[4096];
	char buf[1536];
	double *t = calloc((size_t)n, sizeof(double)), m;
	int d;

	snprintf(dir, sizeof(dir), "%s.floor", store);
	mkdir(dir, 0755);
	d = open(dir, O_RDONLY | O_DIRECTORY);
	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < n && d >= 0; i++) {
		char tmp[64], name[64];
		double t0 = now_ms();
		snprintf(tmp, sizeof(tmp), "t%d", i);
		snprintf(name, sizeof(name), "r%d", i);
		int fd = openat(d, tmp, O_WRONLY | O_CREAT | O_EXCL, 0444);
		if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) ||
		    fsync(fd) != 0 || close(fd) != 0 || linkat(d, tmp, d, name, 0) != 0 ||
		    fsync(d) != 0 || unlinkat(d, tmp, 0) != 0)
			return -1;
		t[i] = now_ms() - t0;
	}
	m = median(t, (size_t)n);
	for (int i = 0; i < n && d >= 0; i++) {
		char name[64];
		snprintf(name, sizeof(name), "r%d", i);
		unlinkat(d, name, 0);
	}
	if (d >= 0)
		close(d);
	rmdir(dir);
	free(t);
	return m;
}

static int die(const char *what)
{
	fprintf(stderr, "bench_record: %s: %s\n", what, tfa_error_last()->message);
	return 2;
}

int main(int argc, char **argv)
{
	tfa_store *st = NULL;
	tfa_signer *s = NULL;
	tfa_capture *cap = NULL;
	tfa_event ev = {"apply", "succeeded", 0};
	uint8_t digest[32] = {1, 2, 3};
	tfa_buf sig = TFA_BUF_INIT;
	double *app, *sgn, sign_med;
	long n;

	if (argc != 5 || (n = strtol(argv[4], NULL, 10)) < 20) {
		fprintf(stderr, "usage: bench_record STORE_DIR KEY_URI PLAN N(>=20)\n");
		return 2;
	}
	app = calloc((size_t)n, sizeof(double));
	sgn = calloc((size_t)n, sizeof(double));
	if (tfa_signer_open(&s, argv[2]) != TFA_OK)
		return die("signer");
	if (tfa_store_open(&st, argv[1]) != TFA_OK || tfa_chain_init(st, "bench", s) != TFA_OK)
		return die("store");
	if (tfa_capture_new(&cap, &ev, argv[3], NULL) != TFA_OK)
		return die("capture");
	for (long i = 0; i < n; i++) {
		uint64_t seq;
		double t0 = now_ms();
		if (tfa_chain_append(&seq, st, s, TFA_ALG_NONE, cap) != TFA_OK)
			return die("append");
		double t1 = now_ms();
		tfa_buf_clear(&sig);
		digest[0] = (uint8_t)i;
		if (tfa_signer_sign(&sig, s, tfa_signer_default_alg(s), digest) != TFA_OK)
			return die("sign");
		double t2 = now_ms();
		app[i] = t1 - t0;
		sgn[i] = t2 - t1;
	}
	sign_med = median(sgn, (size_t)n);
	double floor_ms = fsync_floor(argv[1], 300);
	printf("records: %ld, key %s (%s), store %s\n", n, argv[2],
	       tfa_sig_alg_name(tfa_signer_default_alg(s)), argv[1]);
	printf("bare signature (tfa_signer_sign incl. its self-check), median: %.3f ms\n",
	       sign_med);
	printf("%-22s %12s %16s\n", "records", "append ms", "outside sig ms");
	printf("%-22s %12.3f %16.3f\n", "first 10 (1-10)", median(app, 10),
	       median(app, 10) - sign_med);
	for (int d = 1; d <= 9; d++) {
		long lo = n * d / 10;
		char label[64];
		snprintf(label, sizeof(label), "around %ld", lo + 1);
		printf("%-22s %12.3f %16.3f\n", label, median(app + lo, 10),
		       median(app + lo, 10) - sign_med);
	}
	{
		char label[64];
		snprintf(label, sizeof(label), "last 10 (%ld-%ld)", n - 9, n);
		printf("%-22s %12.3f %16.3f\n", label, median(app + n - 10, 10),
		       median(app + n - 10, 10) - sign_med);
	}
	printf("%-22s %12.3f %16.3f\n", "all", median(app, (size_t)n),
	       median(app, (size_t)n) - sign_med);
	printf("disk floor (create+write+fsync+link+fsync dir), median of 300: %.3f ms\n",
	       floor_ms);
	printf("outside the signature and the disk floor, all records: %.3f ms\n",
	       median(app, (size_t)n) - sign_med - floor_ms);
	tfa_buf_free(&sig);
	tfa_capture_free(cap);
	tfa_store_free(st);
	tfa_signer_free(s);
	free(app);
	free(sgn);
	return 0;
}
