/* Tests for the strict JSON parser and the RFC 8785 canonicalizer. */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tfa_test.h"
#include "tfattest/buffer.h"
#include "tfattest/jcs.h"

/* ---- helpers ------------------------------------------------------------------------------ */

/*
 * Runs tfa_jcs_canonicalize_fd() on len bytes of `in` (from a temporary file,
 * or from a pipe when `pipe_in`), appending what it wrote to `out`.
 */
static tfa_err canon_fd(const char *in, size_t len, bool pipe_in, size_t max, tfa_buf *out)
{
	FILE *fin = NULL, *fout = tmpfile();
	int pfd[2] = {-1, -1}, in_fd;
	tfa_err rc;
	uint8_t chunk[4096];
	size_t n;

	if (fout == NULL) {
		perror("tmpfile");
		abort();
	}
	if (pipe_in) {
		/* The writer side is filled by a child so that any size fits. */
		pid_t pid;

		if (pipe(pfd) != 0) {
			perror("pipe");
			abort();
		}
		pid = fork();
		if (pid < 0) {
			perror("fork");
			abort();
		}
		if (pid == 0) {
			size_t off = 0;

			close(pfd[0]);
			while (off < len) {
				ssize_t k = write(pfd[1], in + off, len - off);

				if (k <= 0)
					_exit(1);
				off += (size_t)k;
			}
			_exit(0);
		}
		close(pfd[1]);
		in_fd = pfd[0];
	} else {
		fin = tmpfile();
		if (fin == NULL || fwrite(in, 1, len, fin) != len || fflush(fin) != 0) {
			perror("tmpfile");
			abort();
		}
		rewind(fin);
		in_fd = fileno(fin);
	}
	rc = tfa_jcs_canonicalize_fd(fileno(fout), "output", in_fd, "input", max);
	if (pipe_in) {
		close(pfd[0]);
		while (wait(NULL) > 0)
			;
	}
	rewind(fout);
	while ((n = fread(chunk, 1, sizeof(chunk), fout)) > 0)
		if (tfa_buf_append(out, chunk, n) != TFA_OK)
			abort();
	if (fin)
		fclose(fin);
	fclose(fout);
	return rc;
}

/* Canonicalizes `in` (len bytes) and checks the result against `want`. */
static void expect_canon_n(const char *in, size_t len, const char *want, int line)
{
	tfa_buf b;
	tfa_err rc;

	tfa_buf_init(&b, 0);
	rc = tfa_jcs_canonicalize(&b, (const uint8_t *)in, len);
	if (rc != TFA_OK) {
		fprintf(stderr, "line %d: canonicalize failed: %s (%s)\n", line, tfa_err_name(rc),
			tfa_error_last()->message);
		tfa_test_failures++;
	} else if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0) {
		fprintf(stderr, "line %d: got %s, wanted %s\n", line, (const char *)b.data, want);
		tfa_test_failures++;
	} else if (tfa_jcs_check_canonical(b.data, b.len) != TFA_OK) {
		fprintf(stderr, "line %d: output not accepted as canonical: %s\n", line,
			tfa_error_last()->message);
		tfa_test_failures++;
	}
	/* The descriptor-to-descriptor path writes the same bytes. */
	tfa_buf_clear(&b);
	rc = canon_fd(in, len, false, (size_t)1 << 20, &b);
	if (rc != TFA_OK) {
		fprintf(stderr, "line %d: canonicalize_fd failed: %s (%s)\n", line,
			tfa_err_name(rc), tfa_error_last()->message);
		tfa_test_failures++;
	} else if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0) {
		fprintf(stderr, "line %d: canonicalize_fd wrote %.*s, wanted %s\n", line,
			(int)b.len, (const char *)b.data, want);
		tfa_test_failures++;
	}
	tfa_buf_free(&b);
}

#define EXPECT_CANON(in, want)	 expect_canon_n((in), strlen(in), (want), __LINE__)
#define EXPECT_CANON_N(in, want) expect_canon_n((in), sizeof(in) - 1, (want), __LINE__)

/* Parses `in` and checks that it is rejected with TFA_EFORMAT and a one-line
 * message that names a byte offset. */
static void expect_reject_n(const char *in, size_t len, int line)
{
	tfa_json *doc = NULL;
	tfa_err rc;
	const char *msg;

	tfa_error_clear();
	rc = tfa_json_parse(&doc, (const uint8_t *)in, len);
	msg = tfa_error_last()->message;
	if (rc != TFA_EFORMAT) {
		fprintf(stderr, "line %d: parse gave %s, wanted EFORMAT\n", line, tfa_err_name(rc));
		tfa_test_failures++;
	} else if (msg[0] == '\0' || strchr(msg, '\n') != NULL || strstr(msg, "byte") == NULL) {
		fprintf(stderr, "line %d: bad message \"%s\"\n", line, msg);
		tfa_test_failures++;
	}
	if (doc != NULL) {
		fprintf(stderr, "line %d: document returned on failure\n", line);
		tfa_test_failures++;
	}
	tfa_json_free(doc);
	/* The other entry points must reject it too, the descriptor one writing nothing. */
	CHECK_RC(tfa_jcs_check_canonical((const uint8_t *)in, len), TFA_EFORMAT);
	{
		tfa_buf b;

		tfa_buf_init(&b, 0);
		if (canon_fd(in, len, false, (size_t)1 << 20, &b) != TFA_EFORMAT || b.len != 0) {
			fprintf(stderr, "line %d: canonicalize_fd did not reject it cleanly\n",
				line);
			tfa_test_failures++;
		}
		tfa_buf_free(&b);
	}
}

#define REJECT(in)   expect_reject_n((in), strlen(in), __LINE__)
#define REJECT_N(in) expect_reject_n((in), sizeof(in) - 1, __LINE__)

/* Returns a malloc'd string: `n` copies of `open`, `middle`, `n` copies of `close`. */
static char *nest(size_t n, const char *open, const char *middle, const char *close)
{
	size_t lo = strlen(open), lm = strlen(middle), lc = strlen(close);
	char *s = malloc(n * (lo + lc) + lm + 1), *p = s;

	for (size_t i = 0; i < n; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, middle, lm);
	p += lm;
	for (size_t i = 0; i < n; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

static uint64_t rng_state = UINT64_C(0x9E3779B97F4A7C15);

static uint64_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(0x2545F4914F6CDD1D);
}

static double bits_to_double(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

/* ---- RFC 8785 vectors --------------------------------------------------------------------- */

static void test_rfc8785_vectors(void)
{
	static const char *const names[] = {"arrays",  "french", "structures",
					    "unicode", "values", "weird"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[128];
		size_t inlen, outlen, hexlen, j, k;
		char *in, *want, *hex;
		tfa_buf b;

		snprintf(path, sizeof(path), "jcs/input/%s.json", names[i]);
		in = tfa_test_read_fixture(path, &inlen);
		snprintf(path, sizeof(path), "jcs/output/%s.json", names[i]);
		want = tfa_test_read_fixture(path, &outlen);
		snprintf(path, sizeof(path), "jcs/outhex/%s.txt", names[i]);
		hex = tfa_test_read_fixture(path, &hexlen);

		tfa_buf_init(&b, 0);
		CHECK_OK(tfa_jcs_canonicalize(&b, (const uint8_t *)in, inlen));
		if (b.len != outlen || memcmp(b.data, want, outlen) != 0) {
			fprintf(stderr, "%s: got %s\n", names[i], (const char *)b.data);
			tfa_test_failures++;
		}
		/* outhex holds the same bytes as hex pairs separated by white space. */
		for (j = 0, k = 0; j + 1 < hexlen; j++) {
			unsigned v;

			if (hex[j] == ' ' || hex[j] == '\n' || hex[j] == '\r')
				continue;
			CHECK(sscanf(hex + j, "%2x", &v) == 1);
			CHECK(k < b.len && b.data[k] == (uint8_t)v);
			k++;
			j++;
		}
		CHECK(k == b.len);
		CHECK_OK(tfa_jcs_check_canonical((const uint8_t *)want, outlen));
		CHECK_RC(tfa_jcs_check_canonical((const uint8_t *)in, inlen), TFA_EFORMAT);
		tfa_buf_free(&b);
		free(in);
		free(want);
		free(hex);
	}
}

/* ---- numbers ------------------------------------------------------------------------------ */

static uint64_t parse_hex64(const char *s, const char **end)
{
	uint64_t v = 0;

	for (; *s; s++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		v = v << 4 | (uint64_t)d;
	}
	*end = s;
	return v;
}

/* Every line of the V8 oracle through tfa_jcs_format_number, and through the
 * whole parse-and-write path (as %.17g text and as the expected text). */
static void test_es6_number_oracle(void)
{
	size_t len, lines = 0, bad = 0;
	char *data = tfa_test_read_fixture("jcs/es6-numbers-20k.txt", &len);
	char *line = data;
	tfa_buf b;

	tfa_buf_init(&b, 0);
	while (line < data + len) {
		char *nl = memchr(line, '\n', (size_t)(data + len - line));
		const char *p;
		char got[32], want[40], in[48];
		double d;
		size_t n;

		if (nl == NULL)
			nl = data + len;
		*nl = '\0';
		d = bits_to_double(parse_hex64(line, &p));
		CHECK(*p == ',');
		snprintf(want, sizeof(want), "%s", p + 1);
		n = tfa_jcs_format_number(got, d);
		if (n != strlen(want) || strcmp(got, want) != 0) {
			if (bad++ < 20)
				fprintf(stderr, "%s: got %s\n", line, got);
		}
		/* The canonicalizer path: a 17-digit rendering and the expected text itself. */
		snprintf(in, sizeof(in), "[%.17g]", d);
		tfa_buf_clear(&b);
		CHECK_OK(tfa_jcs_canonicalize(&b, (const uint8_t *)in, strlen(in)));
		if (b.len != strlen(want) + 2 || memcmp(b.data + 1, want, b.len - 2) != 0) {
			if (bad++ < 20)
				fprintf(stderr, "%s: canonicalized %s to %s\n", line, in, b.data);
		}
		tfa_buf_clear(&b);
		CHECK_OK(tfa_jcs_canonicalize(&b, (const uint8_t *)want, strlen(want)));
		if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0) {
			if (bad++ < 20)
				fprintf(stderr, "%s: canonicalized %s to %s\n", line, want, b.data);
		}
		lines++;
		line = nl + 1;
	}
	CHECK(lines == 20000);
	CHECK(bad == 0);
	if (bad)
		fprintf(stderr, "%zu mismatches\n", bad);
	tfa_buf_free(&b);
	free(data);
}

/*
 * A slow, literal reading of the ES6 rule: for k = 1..17, the k-digit decimals
 * next to x (the correctly rounded one and its neighbours one unit away) that
 * round-trip; the first k with any wins, and of those the one closest to x.
 * Returns the digits and n (value = 0.DIGITS * 10^n), and false when two
 * candidates round-trip but long double cannot tell which is closer (under
 * valgrind, which computes x87 long double at double precision).
 */
static bool long_double_is_extended(void)
{
	volatile long double a = 1.0L, b = a + LDBL_EPSILON;

	return LDBL_MANT_DIG > DBL_MANT_DIG && b != a && (double)(b - a) < DBL_EPSILON;
}

static bool reference_digits(double x, char *digits, int *n_out)
{
	const bool extended = long_double_is_extended();

	for (int k = 1; k <= 17; k++) {
		char tmp[64], cand[3][24];
		int exps[3], found = -1;
		long double best = 0;
		char *e;
		int exp10;

		snprintf(tmp, sizeof(tmp), "%.*e", k - 1, x);
		e = strchr(tmp, 'e');
		exp10 = (int)strtol(e + 1, NULL, 10);
		{
			char *q = cand[0];

			for (char *s = tmp; s < e; s++)
				if (*s >= '0' && *s <= '9')
					*q++ = *s;
			*q = '\0';
		}
		exps[0] = exp10;
		/* up */
		{
			unsigned long long v = strtoull(cand[0], NULL, 10) + 1;
			int len = snprintf(cand[1], sizeof(cand[1]), "%llu", v);

			exps[1] = exp10;
			if (len > k) {
				cand[1][k] = '\0';
				exps[1] = exp10 + 1;
			}
		}
		/* down */
		{
			unsigned long long v = strtoull(cand[0], NULL, 10) - 1;
			int len = snprintf(cand[2], sizeof(cand[2]), "%llu", v);

			exps[2] = exp10;
			if (v == 0 || len < k) {
				memset(cand[2], '9', (size_t)k);
				cand[2][k] = '\0';
				exps[2] = exp10 - 1;
			}
		}
		for (int c = 0; c < 3; c++) {
			char s[64];
			long double diff;

			snprintf(s, sizeof(s), "%c.%se%d", cand[c][0], cand[c] + 1, exps[c]);
			if (strtod(s, NULL) != x)
				continue;
			if (found >= 0 && !extended)
				return false;
			diff = fabsl(strtold(s, NULL) - (long double)x);
			if (found < 0 || diff < best) {
				found = c;
				best = diff;
			}
		}
		if (found >= 0) {
			size_t l = strlen(cand[found]);

			while (l > 1 && cand[found][l - 1] == '0')
				cand[found][--l] = '\0';
			memcpy(digits, cand[found], l + 1);
			*n_out = exps[found] + 1;
			return true;
		}
	}
	digits[0] = '\0';
	*n_out = 0;
	return true;
}

/* Lays out digits the way ES6 does, for comparison with the library. */
static bool reference_format(char *out, size_t cap, double x)
{
	static const char zeros[] = "000000000000000000000000";
	char dig[24];
	int n, k;

	if (x == 0) {
		snprintf(out, cap, "0");
		return true;
	}
	if (x < 0) {
		*out++ = '-';
		cap--;
		x = -x;
	}
	if (!reference_digits(x, dig, &n))
		return false;
	k = (int)strlen(dig);
	if (k <= n && n <= 21)
		snprintf(out, cap, "%s%.*s", dig, n - k, zeros);
	else if (0 < n && n <= 21)
		snprintf(out, cap, "%.*s.%s", n, dig, dig + n);
	else if (-6 < n && n <= 0)
		snprintf(out, cap, "0.%.*s%s", -n, zeros, dig);
	else
		snprintf(out, cap, "%c%s%se%c%d", dig[0], k > 1 ? "." : "", dig + 1,
			 n - 1 < 0 ? '-' : '+', abs(n - 1));
	return true;
}

static size_t reference_skipped;

static void check_against_reference(double d, size_t *bad)
{
	char got[32], want[48];

	tfa_jcs_format_number(got, d);
	if (!reference_format(want, sizeof(want), d)) {
		reference_skipped++;
		return;
	}
	if (strcmp(got, want) != 0 && (*bad)++ < 20) {
		uint64_t u;

		memcpy(&u, &d, sizeof(u));
		fprintf(stderr, "%016llx: got %s, reference %s\n", (unsigned long long)u, got,
			want);
	}
}

/* The fast paths against the slow reference on many generated doubles. */
static void test_number_reference(void)
{
	size_t bad = 0, count = 20000;
	const char *env = getenv("TFA_JCS_RANDOM");

	if (env)
		count = (size_t)strtoul(env, NULL, 10);
	/* Random bit patterns (mostly 16-17 digit values, all exponents). */
	for (size_t i = 0; i < count; i++) {
		double d = bits_to_double(rng());

		if (isfinite(d))
			check_against_reference(d, &bad);
	}
	/* Short decimals: m / 10^k and m * 10^k, the usual content of documents. */
	for (size_t i = 0; i < count; i++) {
		double m = (double)(rng() % 100000000u);
		int k = (int)(rng() % 40) - 20;
		double d = k < 0 ? m / pow(10, -k) : m * pow(10, k);
		char s[64];

		check_against_reference(d, &bad);
		snprintf(s, sizeof(s), "%.0fe%d", m, k);
		check_against_reference(strtod(s, NULL), &bad);
	}
	/* Powers of two and their neighbours (asymmetric rounding intervals). */
	for (int e = -1074; e <= 1023; e++) {
		double d = ldexp(1.0, e);

		check_against_reference(d, &bad);
		check_against_reference(nextafter(d, 0), &bad);
		check_against_reference(nextafter(d, INFINITY), &bad);
	}
	/* Powers of ten and their neighbours. */
	for (int e = -323; e <= 308; e++) {
		char s[32];
		double d;

		snprintf(s, sizeof(s), "1e%d", e);
		d = strtod(s, NULL);
		check_against_reference(d, &bad);
		check_against_reference(nextafter(d, 0), &bad);
		check_against_reference(nextafter(d, INFINITY), &bad);
	}
	/* Subnormals. */
	for (size_t i = 0; i < 2000; i++) {
		double d = bits_to_double(rng() & UINT64_C(0x000FFFFFFFFFFFFF));

		check_against_reference(d, &bad);
		check_against_reference(bits_to_double(i), &bad);
	}
	CHECK(bad == 0);
	if (reference_skipped)
		printf("# %zu values skipped: long double is not extended here\n",
		       reference_skipped);
}

static void test_number_format_cases(void)
{
	static const struct {
		double d;
		const char *want;
	} cases[] = {
	    {0.0, "0"},
	    {-0.0, "0"},
	    {1.0, "1"},
	    {-1.0, "-1"},
	    {0.5, "0.5"},
	    {1e21, "1e+21"},
	    {1e20, "100000000000000000000"},
	    {123456789012345680000.0, "123456789012345680000"},
	    {1.5e-7, "1.5e-7"},
	    {0.000001, "0.000001"},
	    {1e-7, "1e-7"},
	    {5e-324, "5e-324"},
	    {-5e-324, "-5e-324"},
	    {1.7976931348623157e308, "1.7976931348623157e+308"},
	    {2.2250738585072014e-308, "2.2250738585072014e-308"},
	    {9007199254740992.0, "9007199254740992"},
	    {9007199254740994.0, "9007199254740994"},
	    {0.1, "0.1"},
	    {0.30000000000000004, "0.30000000000000004"},
	    {333333333.3333333, "333333333.3333333"},
	    {1e30, "1e+30"},
	    {4.5, "4.5"},
	    {0.002, "0.002"},
	    {1e-27, "1e-27"},
	    {-123.456, "-123.456"},
	    {1e23, "1e+23"},
	    {9.999999999999997e-7, "9.999999999999997e-7"},
	    {999999999999999900000.0, "999999999999999900000"},
	};
	char out[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = tfa_jcs_format_number(out, cases[i].d);

		CHECK_STREQ(out, cases[i].want);
		CHECK(n == strlen(cases[i].want));
	}
	CHECK(tfa_jcs_format_number(out, NAN) == 0 && out[0] == '\0');
	CHECK(tfa_jcs_format_number(out, INFINITY) == 0);
	CHECK(tfa_jcs_format_number(out, -INFINITY) == 0);
}

/* Number parsing and formatting do not depend on LC_NUMERIC. Runs when a
 * locale with a decimal comma is installed (LOCPATH may point to one);
 * scripts/deps.sh installs de_DE.UTF-8, and under CI=true its absence fails. */
static void test_locale_independence(void)
{
	static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8",
					    "fr_FR.utf8",  "de_DE",	 "fr_FR"};
	const char *used = NULL;
	size_t bad = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !used; i++)
		if (setlocale(LC_ALL, names[i]) != NULL &&
		    strcmp(localeconv()->decimal_point, ",") == 0)
			used = names[i];
	if (used == NULL) {
		const char *ci = getenv("CI");

		setlocale(LC_ALL, "C");
		if (ci != NULL && strcmp(ci, "true") == 0) {
			fprintf(stderr,
				"test_locale_independence: no decimal-comma locale installed "
				"(scripts/deps.sh generates de_DE.UTF-8)\n");
			CHECK(used != NULL);
			return;
		}
		printf("# test_locale_independence: skipped, no decimal-comma locale installed\n");
		return;
	}
	EXPECT_CANON("[1.5,2.5e-7,123456789.123456789,1E21,5e-324,-0.000001,"
		     "0.1000000000000000055511151231257827021181583404541015625,"
		     "1.7976931348623157e308,12345678901234567890123]",
		     "[1.5,2.5e-7,123456789.12345679,1e+21,5e-324,-0.000001,0.1,"
		     "1.7976931348623157e+308,1.2345678901234568e+22]");
	for (int i = 0; i < 2000; i++) {
		double d = bits_to_double(rng());
		char got[32], back[32];

		if (!isfinite(d))
			continue;
		tfa_jcs_format_number(got, d);
		setlocale(LC_ALL, "C");
		tfa_jcs_format_number(back, d);
		if (strcmp(got, back) != 0 && bad++ < 10)
			fprintf(stderr, "%s: %s vs %s\n", used, got, back);
		setlocale(LC_ALL, used);
	}
	CHECK(bad == 0);
	setlocale(LC_ALL, "C");
	printf("# test_locale_independence: ran under %s\n", used);
}

/* ---- rejections --------------------------------------------------------------------------- */

static void test_reject_invalid_json(void)
{
	REJECT("");
	REJECT("   ");
	REJECT("{");
	REJECT("[");
	REJECT("[1,]");
	REJECT("[,1]");
	REJECT("{\"a\":1,}");
	REJECT("{\"a\" 1}");
	REJECT("{\"a\":}");
	REJECT("{a:1}");
	REJECT("{1:1}");
	REJECT("[1 2]");
	REJECT("tru");
	REJECT("nul");
	REJECT("True");
	REJECT("'a'");
	REJECT("\"abc");
	REJECT("\"abc\\");
	REJECT("\"\\x\"");
	REJECT("\"\\u12G4\"");
	REJECT("\"\\u12\"");
	REJECT("}");
	REJECT("[1]]");
	REJECT("/* comment */ 1");
	REJECT_N("\x00");
}

static void test_reject_trailing_data(void)
{
	REJECT("{} x");
	REJECT("1 2");
	REJECT("{}{}");
	REJECT("\"a\"\"b\"");
	REJECT("null,");
	REJECT_N("{}\x00");
	REJECT("[] \xC3\xA9");
}

static void test_reject_bad_utf8(void)
{
	REJECT("\"\xC0\xAF\"");			/* overlong '/' */
	REJECT("\"\xC1\xBF\"");			/* overlong */
	REJECT("\"\xE0\x80\xAF\"");		/* overlong, 3 bytes */
	REJECT("\"\xE0\x9F\xBF\"");		/* overlong, 3 bytes */
	REJECT("\"\xF0\x80\x80\xAF\"");		/* overlong, 4 bytes */
	REJECT("\"\xF0\x8F\xBF\xBF\"");		/* overlong, 4 bytes */
	REJECT("\"\xED\xA0\x80\"");		/* U+D800 encoded */
	REJECT("\"\xED\xBF\xBF\"");		/* U+DFFF encoded */
	REJECT("\"\xED\xA0\xBD\xED\xB8\x82\""); /* CESU-8 pair */
	REJECT("\"\xF4\x90\x80\x80\"");		/* U+110000 */
	REJECT("\"\xF5\x80\x80\x80\"");
	REJECT("\"\xFF\"");
	REJECT("\"\xFE\"");
	REJECT("\"\x80\"");	    /* lone continuation */
	REJECT("\"\xE2\x82\"");	    /* truncated, then quote */
	REJECT("\"\xE2\x82");	    /* truncated at end of input */
	REJECT("\"\xF0\x9F\x98\""); /* truncated 4-byte */
	REJECT("\"\xC3\"");
	REJECT("{\"\xC3\x28\":1}"); /* bad key */
	REJECT("\xC3\xA9");	    /* non-ASCII outside strings */
}

/* I-JSON forbids Unicode noncharacters, raw or escaped. */
static void test_reject_noncharacters(void)
{
	static const char *const bad[] = {
	    "\"\xEF\xB7\x90\"",
	    "\"\xEF\xB7\xAF\"",
	    "\"\xEF\xBF\xBE\"",
	    "\"\xEF\xBF\xBF\"",
	    "\"\xF0\x9F\xBF\xBF\"",
	    "\"\xF4\x8F\xBF\xBE\"",
	    "\"\\uFDD0\"",
	    "\"\\ufdef\"",
	    "\"\\uFFFE\"",
	    "\"\\uffff\"",
	    "\"\\uD83F\\uDFFE\"",
	    "\"\\uDBFF\\uDFFF\"",
	    "{\"\\uFFFF\":1}",
	    "[1,\"a\xEF\xBF\xBF"
	    "b\"]",
	    NULL,
	};
	tfa_buf out;

	for (const char *const *b = bad; *b; b++) {
		REJECT(*b);
		tfa_buf_init(&out, 0);
		tfa_error_clear();
		CHECK_RC(tfa_jcs_canonicalize(&out, (const uint8_t *)*b, strlen(*b)), TFA_EFORMAT);
		CHECK(strstr(tfa_error_last()->message, "noncharacter") != NULL);
		tfa_buf_free(&out);
	}
	/* The neighbours are characters. */
	EXPECT_CANON("\"\\uFDCF\\uFDF0\\uFFFD\\uD83F\\uDFFD\"",
		     "\"\xEF\xB7\x8F\xEF\xB7\xB0\xEF\xBF\xBD\xF0\x9F\xBF\xBD\"");
}

static void test_reject_lone_surrogates(void)
{
	REJECT("\"\\uD800\"");
	REJECT("\"\\uDBFF\"");
	REJECT("\"\\uD800x\"");
	REJECT("\"\\uD800\\u0041\"");
	REJECT("\"\\uD800\\uD800\"");
	REJECT("\"\\uD800\\n\"");
	REJECT("\"\\uDC00\"");
	REJECT("\"\\uDFFF\\uD800\"");
	REJECT("\"\\ud83d\"");
	REJECT("{\"\\uDE02\":1}");
	REJECT("\"\\uD800\\u");
}

static void test_reject_duplicate_keys(void)
{
	tfa_buf b;

	REJECT("{\"a\":1,\"a\":2}");
	REJECT("{\"a\":1,\"b\":2,\"a\":3}");
	REJECT("{\"a\":1,\"\\u0061\":2}"); /* equal after unescaping */
	REJECT("{\"\\/\":1,\"/\":2}");
	REJECT("{\"x\":{\"b\":1,\"b\":1}}"); /* nested */
	REJECT("[{},{\"\":1,\"\":2}]");	     /* empty keys */
	REJECT_N("{\"a\\u0000\":1,\"a\\u0000\":2}");
	REJECT("{\"\\ud83d\\ude02\":1,\"\xF0\x9F\x98\x82\":2}");

	/* Thousands of keys with one duplicate, in shuffled order. */
	tfa_buf_init(&b, 0);
	for (int dup = 0; dup < 2; dup++) {
		enum { N = 20000 };
		static unsigned order[N];
		tfa_err rc;

		for (unsigned i = 0; i < N; i++)
			order[i] = i;
		for (unsigned i = N - 1; i > 0; i--) {
			unsigned j = (unsigned)(rng() % (i + 1)), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		tfa_buf_clear(&b);
		CHECK_OK(tfa_buf_putc(&b, '{'));
		for (unsigned i = 0; i < N; i++)
			CHECK_OK(tfa_buf_printf(&b, "%s\"key-%u\":%u", i ? "," : "",
						dup && i == N / 2 ? order[7] : order[i], i));
		CHECK_OK(tfa_buf_putc(&b, '}'));
		if (dup) {
			expect_reject_n((const char *)b.data, b.len, __LINE__);
		} else {
			tfa_buf out;

			tfa_buf_init(&out, 0);
			rc = tfa_jcs_canonicalize(&out, b.data, b.len);
			CHECK_OK(rc);
			/* Sorted as strings: key-0, key-1, key-10, key-100, ... */
			CHECK(out.len > 20 && memcmp(out.data, "{\"key-0\":", 9) == 0);
			CHECK(strstr((const char *)out.data, "\"key-1\":") <
			      strstr((const char *)out.data, "\"key-10\":"));
			CHECK_OK(tfa_jcs_check_canonical(out.data, out.len));
			tfa_buf_free(&out);
		}
	}
	tfa_buf_free(&b);
}

static void test_reject_number_overflow(void)
{
	char big[420];

	REJECT("1e400");
	REJECT("-1e400");
	REJECT("[1e309]");
	REJECT("1.8e308");
	REJECT("{\"a\":-1.8e308}");
	REJECT("1e99999999999999999999999");
	REJECT("0.0000000000000000000000000000001e340");
	memset(big, '9', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	REJECT(big);
}

static void test_reject_too_deep(void)
{
	char *s;

	s = nest(TFA_JSON_MAX_DEPTH + 1, "[", "", "]");
	REJECT(s);
	free(s);
	s = nest(TFA_JSON_MAX_DEPTH + 1, "{\"a\":", "1", "}");
	REJECT(s);
	free(s);
	s = nest(TFA_JSON_MAX_DEPTH / 2 + 1, "[{\"k\":", "0", "}]");
	REJECT(s);
	free(s);
	/* Far deeper than any stack would take if recursion were unbounded. */
	s = nest(1000000, "[", "", "]");
	REJECT(s);
	free(s);
}

static void test_reject_bom(void)
{
	REJECT("\xEF\xBB\xBF{}");
	REJECT("\xEF\xBB\xBF");
	REJECT(" \xEF\xBB\xBF{}");
}

static void test_reject_control_characters(void)
{
	REJECT("\"a\x01z\"");
	REJECT("\"\x1F\"");
	REJECT("\"\t\"");
	REJECT("\"line\nbreak\"");
	REJECT("\"\r\"");
	REJECT_N("\"a\x00z\"");
	REJECT("{\"\x02\":1}");
}

static void test_reject_bad_numbers(void)
{
	REJECT("01");
	REJECT("-01");
	REJECT("00");
	REJECT("[007]");
	REJECT("0123.5");
	REJECT("+1");
	REJECT("[+1]");
	REJECT(".5");
	REJECT("-.5");
	REJECT("1.");
	REJECT("1.e5");
	REJECT("1e");
	REJECT("1e+");
	REJECT("1E-");
	REJECT("-");
	REJECT("--1");
	REJECT("0x10");
	REJECT("1.5.3");
	REJECT("NaN");
	REJECT("-NaN");
	REJECT("Infinity");
	REJECT("-Infinity");
	REJECT("[nan]");
	REJECT("{\"a\":Infinity}");
	REJECT("1 000");
}

/* ---- positive edge cases ------------------------------------------------------------------ */

static void test_nul_in_strings_and_keys(void)
{
	static const char in[] = "{\"a\\u0000\":\"x\\u0000y\",\"a\":\"\\u0000\"}";
	tfa_json *doc = NULL;
	const tfa_json_value *root, *v;
	const char *s, *k;
	size_t len;

	CHECK_OK(tfa_json_parse(&doc, (const uint8_t *)in, sizeof(in) - 1));
	root = tfa_json_root(doc);
	CHECK(tfa_json_type_of(root) == TFA_JSON_OBJECT);
	CHECK(tfa_json_count(root) == 2);
	k = tfa_json_key_at(root, 0, &len);
	CHECK(k != NULL && len == 2 && memcmp(k, "a\0", 2) == 0 && k[2] == '\0');
	s = tfa_json_string(tfa_json_value_at(root, 0), &len);
	CHECK(s != NULL && len == 3 && memcmp(s, "x\0y", 4) == 0);
	v = tfa_json_get(root, "a");
	s = tfa_json_string(v, &len);
	CHECK(s != NULL && len == 1 && s[0] == '\0');
	tfa_json_free(doc);
	/* "a" sorts before "a\0"; NUL is written as \u0000. */
	EXPECT_CANON_N(in, "{\"a\":\"\\u0000\",\"a\\u0000\":\"x\\u0000y\"}");
}

static void test_utf16_key_order(void)
{
	tfa_json *doc = NULL;
	const tfa_json_value *root;
	static const char in[] = "{\"\\uFB33\":1,\"\\ud83d\\ude02\":2,\"\\uE000\":3,"
				 "\"\\uD800\\uDC00\":4,\"\\uFFFD\":5,\"\\uD7FF\":6,\"z\":7}";

	/* UTF-16: D7FF < D800 DC00 < D83D DE02 < E000 < FB33 < FFFD. */
	EXPECT_CANON(in, "{\"z\":7,\"\xED\x9F\xBF\":6,\"\xF0\x90\x80\x80\":4,"
			 "\"\xF0\x9F\x98\x82\":2,\"\xEE\x80\x80\":3,\"\xEF\xAC\xB3\":1,"
			 "\"\xEF\xBF\xBD\":5}");
	/* Keys that differ only in a character above the BMP. */
	EXPECT_CANON("{\"a\xF0\x9F\x98\x83\":1,\"a\xF0\x9F\x98\x82\":2,\"a\xEF\xBF\xBD\":3}",
		     "{\"a\xF0\x9F\x98\x82\":2,\"a\xF0\x9F\x98\x83\":1,\"a\xEF\xBF\xBD\":3}");
	/* Lookup follows the same order. */
	CHECK_OK(tfa_json_parse(&doc, (const uint8_t *)in, sizeof(in) - 1));
	root = tfa_json_root(doc);
	CHECK(tfa_json_number(tfa_json_get(root, "\xF0\x9F\x98\x82")) == 2);
	CHECK(tfa_json_number(tfa_json_get(root, "\xEE\x80\x80")) == 3);
	CHECK(tfa_json_number(tfa_json_get(root, "\xEF\xBF\xBD")) == 5);
	CHECK(tfa_json_number(tfa_json_get(root, "z")) == 7);
	CHECK(tfa_json_get(root, "y") == NULL);
	CHECK(tfa_json_get(root, "") == NULL);
	tfa_json_free(doc);
}

static void test_number_edge_cases(void)
{
	EXPECT_CANON("-0", "0");
	EXPECT_CANON("[-0.0,-0e10,0e-5,0.000]", "[0,0,0,0]");
	EXPECT_CANON("1e-400", "0");
	EXPECT_CANON("-1e-400", "0");
	EXPECT_CANON("4.9e-324", "5e-324");
	EXPECT_CANON("2e-324", "0");
	EXPECT_CANON("3e-324", "5e-324");
	EXPECT_CANON("1e308", "1e+308");
	EXPECT_CANON("1.7976931348623157e308", "1.7976931348623157e+308");
	EXPECT_CANON("1.7976931348623158e308", "1.7976931348623157e+308");
	EXPECT_CANON("-1.7976931348623157E+308", "-1.7976931348623157e+308");
	EXPECT_CANON("1E21", "1e+21");
	EXPECT_CANON("1e20", "100000000000000000000");
	EXPECT_CANON("100e-2", "1");
	EXPECT_CANON("0.000001", "0.000001");
	EXPECT_CANON("0.0000001", "1e-7");
	EXPECT_CANON("1e-0000000000000000000000000000000001", "0.1");
	EXPECT_CANON("123456789012345678901234567890", "1.2345678901234568e+29");
	EXPECT_CANON("9007199254740993", "9007199254740992");
	EXPECT_CANON("0.1000000000000000055511151231257827021181583404541015625", "0.1");
	EXPECT_CANON("56.0", "56");
	EXPECT_CANON("0.00000000000000000000000000000000000000000000000001e50", "1");
	EXPECT_CANON("1000000000000000000000000000000e-30", "1");
	/* Halfway between 1 and the next double: ties to even gives 1; anything
	 * above, however far down the digits, rounds up. */
	{
		static const char half[] =
		    "1.00000000000000011102230246251565404236316680908203125";
		char *s = malloc(sizeof(half) + 2000);

		memcpy(s, half, sizeof(half) - 1);
		memset(s + sizeof(half) - 1, '0', 1500);
		s[sizeof(half) - 1 + 1500] = '\0';
		EXPECT_CANON(s, "1");
		s[sizeof(half) - 1 + 1500] = '1';
		s[sizeof(half) - 1 + 1501] = '\0';
		EXPECT_CANON(s, "1.0000000000000002");
		free(s);
	}
}

static void test_depth_limit_exact(void)
{
	char *s;

	s = nest(TFA_JSON_MAX_DEPTH, "[", "", "]");
	EXPECT_CANON(s, s);
	free(s);
	s = nest(TFA_JSON_MAX_DEPTH, "[", "1", "]");
	EXPECT_CANON(s, s);
	free(s);
	s = nest(TFA_JSON_MAX_DEPTH, "{\"a\":", "{}", "}");
	REJECT(s); /* 129 levels: the innermost {} counts */
	free(s);
	s = nest(TFA_JSON_MAX_DEPTH - 1, "{\"a\":", "{}", "}");
	EXPECT_CANON(s, s);
	free(s);
	s = nest(TFA_JSON_MAX_DEPTH / 2, "[{\"k\":", "0", "}]");
	EXPECT_CANON(s, s);
	free(s);
}

static void test_empty_and_scalars(void)
{
	EXPECT_CANON("{}", "{}");
	EXPECT_CANON("[]", "[]");
	EXPECT_CANON(" { } ", "{}");
	EXPECT_CANON("[ ]", "[]");
	EXPECT_CANON("[{},[],\"\",{\"\":[]}]", "[{},[],\"\",{\"\":[]}]");
	EXPECT_CANON("1", "1");
	EXPECT_CANON("\t\r\n true \n", "true");
	EXPECT_CANON("false", "false");
	EXPECT_CANON("null", "null");
	EXPECT_CANON("\"\"", "\"\"");
	EXPECT_CANON("\"x\"", "\"x\"");
	EXPECT_CANON("-12.5e1", "-125");
}

static void test_string_escapes(void)
{
	/* Short forms, \u00xx lowercase for the other controls, everything else literal. */
	EXPECT_CANON("\"\\b\\t\\n\\f\\r\\\"\\\\\\/\"", "\"\\b\\t\\n\\f\\r\\\"\\\\/\"");
	EXPECT_CANON("\"\\u0000\\u0001\\u001F\\u000B\\u007F\\u0080\"",
		     "\"\\u0000\\u0001\\u001f\\u000b\x7f\xC2\x80\"");
	EXPECT_CANON("\"\\u2028\\u2029\"", "\"\xE2\x80\xA8\xE2\x80\xA9\"");
	EXPECT_CANON("\"\\u00e9\\u00E9\xC3\xA9\"", "\"\xC3\xA9\xC3\xA9\xC3\xA9\"");
	EXPECT_CANON("\"\\uD83D\\uDE02\"", "\"\xF0\x9F\x98\x82\"");
	EXPECT_CANON("\"\\uDBFF\\uDFFD\"", "\"\xF4\x8F\xBF\xBD\"");
	EXPECT_CANON("\"\\uFFFD\\uFFFC\"", "\"\xEF\xBF\xBD\xEF\xBF\xBC\"");
	EXPECT_CANON("\"</script>\"", "\"</script>\"");
	/* Every control character, in a long string to cross the 8-byte scans. */
	{
		char in[400], want[400];
		size_t a = 0, b = 0;
		static const char *const shortf = "btn fr";

		in[a++] = '"';
		want[b++] = '"';
		for (int c = 0; c < 0x20; c++) {
			a += (size_t)snprintf(in + a, sizeof(in) - a, "abc\\u%04X", c);
			memcpy(want + b, "abc", 3);
			b += 3;
			if (c >= 8 && c <= 13 && shortf[c - 8] != ' ')
				b += (size_t)snprintf(want + b, sizeof(want) - b, "\\%c",
						      shortf[c - 8]);
			else
				b += (size_t)snprintf(want + b, sizeof(want) - b, "\\u%04x", c);
		}
		in[a++] = '"';
		in[a] = '\0';
		want[b++] = '"';
		want[b] = '\0';
		EXPECT_CANON(in, want);
	}
}

static void test_accessors(void)
{
	static const char in[] = "{\"b\":[1,\"two\",true,false,null,{}],\"a\":-2.5,\"c\":\"s\"}";
	tfa_json *doc = NULL;
	const tfa_json_value *root, *arr;
	const char *k;
	size_t len;

	CHECK_OK(tfa_json_parse(&doc, (const uint8_t *)in, sizeof(in) - 1));
	root = tfa_json_root(doc);
	CHECK(tfa_json_count(root) == 3);
	k = tfa_json_key_at(root, 0, &len);
	CHECK(k && len == 1 && k[0] == 'b'); /* document order */
	k = tfa_json_key_at(root, 1, &len);
	CHECK(k && len == 1 && k[0] == 'a');
	CHECK(tfa_json_key_at(root, 3, &len) == NULL);
	CHECK(tfa_json_number(tfa_json_value_at(root, 1)) == -2.5);
	CHECK(tfa_json_value_at(root, 3) == NULL);
	arr = tfa_json_get(root, "b");
	CHECK(tfa_json_type_of(arr) == TFA_JSON_ARRAY);
	CHECK(tfa_json_count(arr) == 6);
	CHECK(tfa_json_number(tfa_json_at(arr, 0)) == 1);
	CHECK_STREQ(tfa_json_string(tfa_json_at(arr, 1), &len), "two");
	CHECK(len == 3);
	CHECK(tfa_json_type_of(tfa_json_at(arr, 2)) == TFA_JSON_TRUE);
	CHECK(tfa_json_type_of(tfa_json_at(arr, 3)) == TFA_JSON_FALSE);
	CHECK(tfa_json_type_of(tfa_json_at(arr, 4)) == TFA_JSON_NULL);
	CHECK(tfa_json_type_of(tfa_json_at(arr, 5)) == TFA_JSON_OBJECT);
	CHECK(tfa_json_count(tfa_json_at(arr, 5)) == 0);
	CHECK(tfa_json_at(arr, 6) == NULL);
	CHECK(tfa_json_at(root, 0) == NULL);
	CHECK(tfa_json_count(tfa_json_at(arr, 0)) == 0);
	CHECK(tfa_json_string(tfa_json_at(arr, 0), &len) == NULL && len == 0);
	CHECK(tfa_json_number(tfa_json_at(arr, 1)) == 0);
	CHECK_STREQ(tfa_json_string(tfa_json_get(root, "c"), NULL), "s");
	CHECK(tfa_json_get(arr, "c") == NULL);
	CHECK(tfa_json_root(NULL) == NULL);
	tfa_json_free(doc);
	tfa_json_free(NULL);
	CHECK_RC(tfa_json_parse(NULL, (const uint8_t *)"1", 1), TFA_EUSAGE);
}

static void test_write_appends(void)
{
	tfa_buf b;
	tfa_json *doc = NULL;

	tfa_buf_init(&b, 0);
	CHECK_OK(tfa_buf_puts(&b, "prefix:"));
	CHECK_OK(tfa_jcs_canonicalize(&b, (const uint8_t *)"{\"b\":1,\"a\":2}", 13));
	CHECK_STREQ((const char *)b.data, "prefix:{\"a\":2,\"b\":1}");
	/* A failure leaves the buffer as it was. */
	CHECK_RC(tfa_jcs_canonicalize(&b, (const uint8_t *)"[1,", 3), TFA_EFORMAT);
	CHECK_STREQ((const char *)b.data, "prefix:{\"a\":2,\"b\":1}");
	/* Write a sub-value. */
	{
		static const char in[] = "{\"x\":{\"d\":[0.50,1E2]}}";

		CHECK_OK(tfa_json_parse(&doc, (const uint8_t *)in, sizeof(in) - 1));
	}
	tfa_buf_clear(&b);
	CHECK_OK(tfa_jcs_write(&b, tfa_json_get(tfa_json_root(doc), "x")));
	CHECK_STREQ((const char *)b.data, "{\"d\":[0.5,100]}");
	tfa_json_free(doc);
	tfa_buf_free(&b);
	/* A size-capped buffer fails cleanly. */
	tfa_buf_init(&b, 8);
	CHECK_RC(tfa_jcs_canonicalize(&b, (const uint8_t *)"[1,2,3,4,5,6,7,8,9]", 19), TFA_EFORMAT);
	tfa_buf_free(&b);
}

/* ---- check_canonical ---------------------------------------------------------------------- */

static void test_check_canonical(void)
{
	static const char *const good[] = {
	    "{}",
	    "[]",
	    "1",
	    "\"\\u001f\"",
	    "{\"a\":1,\"b\":[true,null,\"x\"]}",
	    "{\"\":0,\"a\":{\"b\":{}}}",
	    "[1e+21,1e-7,0.5,-1]",
	    "\"\xE2\x80\xA8/\"",
	};
	static const char *const bad[] = {
	    "{ \"a\":1}", /* white space */
	    "{\"a\": 1}",
	    "[1,2] ",
	    " 1",
	    "{\"b\":1,\"a\":2}", /* unsorted */
	    "1.0",		 /* number forms */
	    "[1.0]",
	    "1E2",
	    "1e21",
	    "0.0000001",
	    "-0",
	    "\"\\/\"",	   /* escaped '/' */
	    "\"\\u001F\"", /* uppercase hex */
	    "\"\\u0041\"", /* needless escape */
	    "\"\\u000a\"", /* short form exists */
	    "\"\\u00e9\"",
	    "{\"a\":1", /* not JSON */
	    "",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK_OK(tfa_jcs_check_canonical((const uint8_t *)good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tfa_error_clear();
		CHECK_RC(tfa_jcs_check_canonical((const uint8_t *)bad[i], strlen(bad[i])),
			 TFA_EFORMAT);
		CHECK(tfa_error_last()->message[0] != '\0');
	}
	CHECK_OK(tfa_jcs_check_canonical((const uint8_t *)"\"a\\u0000\"", 9));
}

/* A large generated document: parse, write, and the output is canonical. */
static void test_large_document(void)
{
	tfa_buf in, out, again;

	tfa_buf_init(&in, 0);
	tfa_buf_init(&out, 0);
	tfa_buf_init(&again, 0);
	CHECK_OK(tfa_buf_puts(&in, "{\"resource_changes\":["));
	for (int i = 0; i < 3000; i++)
		CHECK_OK(tfa_buf_printf(&in,
					"%s{\"address\":\"aws_instance.web[%d]\",\"change\":{"
					"\"after\":{\"ami\":\"ami-%08x\",\"cpu\":%d.%d,\"tags\":{"
					"\"Name\":\"w\\u00e9b-%d\",\"z\":null,\"a\":[%d,true]}},"
					"\"actions\":[\"create\"]}}",
					i ? "," : "", i, i * 2654435761u, i % 7, i % 10, i, -i));
	CHECK_OK(tfa_buf_puts(&in, "]}"));
	CHECK_OK(tfa_jcs_canonicalize(&out, in.data, in.len));
	CHECK_OK(tfa_jcs_check_canonical(out.data, out.len));
	CHECK_OK(tfa_jcs_canonicalize(&again, out.data, out.len));
	CHECK(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);
	tfa_buf_free(&in);
	tfa_buf_free(&out);
	tfa_buf_free(&again);
}

/*
 * Strings without escapes are copied as they stand, in 16-byte pieces when
 * short: every length around those pieces, as keys and values, at the end of
 * the document (next to its padding), and beside escaped ones.
 */
static void test_unescaped_string_lengths(void)
{
	char in[512], want[512], str[80];

	for (size_t n = 0; n <= 70; n++) {
		for (size_t i = 0; i < n; i++)
			str[i] = (char)('a' + (i * 7 + n) % 26);
		str[n] = '\0';
		snprintf(in, sizeof(in), "{\"%s\":\"%s\",\"\\u0001%s\":\"\\\"%s\"}", str, str, str,
			 str);
		/* U+0001 sorts before the letters, after the empty key. */
		if (n == 0)
			snprintf(want, sizeof(want), "%s", in);
		else
			snprintf(want, sizeof(want), "{\"\\u0001%s\":\"\\\"%s\",\"%s\":\"%s\"}",
				 str, str, str, str);
		expect_canon_n(in, strlen(in), want, __LINE__);
		snprintf(in, sizeof(in), "[\"%s\"]", str);
		expect_canon_n(in, strlen(in), in, __LINE__);
		snprintf(in, sizeof(in), "\"%s\"", str);
		expect_canon_n(in, strlen(in), in, __LINE__);
	}
	EXPECT_CANON("{\"b\":\"x\",\"a\\\\\":\"\\n\",\"a\":\"0123456789abcdef0123\"}",
		     "{\"a\":\"0123456789abcdef0123\",\"a\\\\\":\"\\n\",\"b\":\"x\"}");
}

/* The UTF-16 code units of valid UTF-8 s (n bytes) into u; returns their count. */
static size_t to_utf16(const uint8_t *s, size_t n, uint16_t *u)
{
	size_t k = 0;

	for (size_t i = 0; i < n;) {
		uint32_t c = s[i];
		size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;

		if (len > 1)
			c &= 0x7Fu >> len;
		for (size_t j = 1; j < len; j++)
			c = c << 6 | (s[i + j] & 0x3Fu);
		i += len;
		if (c >= 0x10000) {
			u[k++] = (uint16_t)(0xD800 + ((c - 0x10000) >> 10));
			u[k++] = (uint16_t)(0xDC00 + ((c - 0x10000) & 0x3FF));
		} else {
			u[k++] = (uint16_t)c;
		}
	}
	return k;
}

/* The reference order: UTF-16 code units, a prefix first. */
static int utf16_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	uint16_t ua[128], ub[128];
	size_t na = to_utf16((const uint8_t *)a, al, ua), nb = to_utf16((const uint8_t *)b, bl, ub);

	for (size_t i = 0; i < na && i < nb; i++)
		if (ua[i] != ub[i])
			return ua[i] < ub[i] ? -1 : 1;
	return na < nb ? -1 : na > nb;
}

/*
 * Random objects of up to 40 keys made of characters whose UTF-8 order and
 * UTF-16 order disagree (or agree), long common prefixes (past the first
 * eight bytes too), U+0000 and keys that are prefixes of others: the members
 * of the canonical form are in strictly increasing UTF-16 order, and a key
 * given twice (after unescaping) is refused.
 */
static void test_random_key_order(void)
{
	static const char *const pieces[] = {
	    "a",       "b",	  "\\u0000",	    "\\u00e9",	      "\\ud7ff",
	    "\\ue000", "\\ufffd", "\\ud83d\\ude00", "\\ud800\\udc00", "\\ufb33",
	    "aaaaaaa", "\\u0101"};
	tfa_buf in, out;
	tfa_json *doc = NULL;
	size_t bad = 0, dups = 0;

	tfa_buf_init(&in, 0);
	tfa_buf_init(&out, 0);
	for (int round = 0; round < 3000; round++) {
		size_t n = 1 + rng() % 40;
		tfa_err rc;

		tfa_buf_clear(&in);
		tfa_buf_clear(&out);
		CHECK_OK(tfa_buf_puts(&in, "{"));
		for (size_t i = 0; i < n; i++) {
			size_t len = rng() % 6;

			CHECK_OK(tfa_buf_puts(&in, i ? ",\"" : "\""));
			for (size_t j = 0; j < len; j++)
				CHECK_OK(tfa_buf_puts(&in, pieces[rng() % 12]));
			CHECK_OK(tfa_buf_printf(&in, "\":%zu", i));
		}
		CHECK_OK(tfa_buf_puts(&in, "}"));
		rc = tfa_jcs_canonicalize(&out, in.data, in.len);
		if (rc == TFA_EFORMAT && strstr(tfa_error_last()->message, "duplicate")) {
			dups++;
			continue;
		}
		CHECK_OK(rc);
		CHECK_OK(tfa_json_parse(&doc, out.data, out.len));
		for (size_t i = 1; i < tfa_json_count(tfa_json_root(doc)); i++) {
			size_t al, bl;
			const char *a = tfa_json_key_at(tfa_json_root(doc), i - 1, &al);
			const char *b = tfa_json_key_at(tfa_json_root(doc), i, &bl);

			if (utf16_cmp(a, al, b, bl) >= 0)
				bad++;
		}
		tfa_json_free(doc);
		doc = NULL;
	}
	CHECK(bad == 0);
	/* Both outcomes happened. */
	CHECK(dups > 100 && dups < 2900);
	tfa_buf_free(&in);
	tfa_buf_free(&out);
}

/* ---- descriptor to descriptor ------------------------------------------------------------- */

static void test_canonicalize_fd(void)
{
	tfa_buf in, want, got;
	char *deep;

	tfa_buf_init(&in, 0);
	tfa_buf_init(&want, 0);
	tfa_buf_init(&got, 0);
	/* Output far larger than the window it goes through, from a file and a pipe. */
	CHECK_OK(tfa_buf_puts(&in, "["));
	for (int i = 0; i < 40000; i++)
		CHECK_OK(tfa_buf_printf(&in,
					"%s{\"z\":%d.50,\"\\u00e9\":\"a\\tb\",\"a\":[true,null]}",
					i ? "," : "", i));
	CHECK_OK(tfa_buf_puts(&in, "]"));
	CHECK_OK(tfa_jcs_canonicalize(&want, in.data, in.len));
	CHECK(want.len > 1000000);
	CHECK_OK(canon_fd((const char *)in.data, in.len, false, in.len, &got));
	CHECK(got.len == want.len && memcmp(got.data, want.data, want.len) == 0);
	tfa_buf_clear(&got);
	CHECK_OK(canon_fd((const char *)in.data, in.len, true, in.len, &got));
	CHECK(got.len == want.len && memcmp(got.data, want.data, want.len) == 0);

	/* One string longer than the window, every byte of it escaped. */
	tfa_buf_clear(&in);
	tfa_buf_clear(&want);
	tfa_buf_clear(&got);
	CHECK_OK(tfa_buf_puts(&in, "[\""));
	for (int i = 0; i < 100000; i++)
		CHECK_OK(tfa_buf_puts(&in, "\\u0001\\\""));
	CHECK_OK(tfa_buf_puts(&in, "\"]"));
	CHECK_OK(tfa_jcs_canonicalize(&want, in.data, in.len));
	CHECK_OK(canon_fd((const char *)in.data, in.len, true, in.len, &got));
	CHECK(got.len == want.len && memcmp(got.data, want.data, want.len) == 0);

	/* The limit: exactly max bytes are read, one more is refused and nothing written. */
	tfa_buf_clear(&got);
	CHECK_OK(canon_fd(" [1] ", 5, false, 5, &got));
	CHECK_STREQ((const char *)got.data, "[1]");
	tfa_buf_clear(&got);
	CHECK_RC(canon_fd(" [1] ", 5, false, 4, &got), TFA_EFORMAT);
	CHECK(got.len == 0);
	tfa_buf_clear(&got);
	CHECK_RC(canon_fd(" [1] ", 5, true, 4, &got), TFA_EFORMAT);
	CHECK(got.len == 0);

	/* Empty input, and a document nested as deep as allowed. */
	tfa_buf_clear(&got);
	CHECK_RC(canon_fd("", 0, true, 16, &got), TFA_EFORMAT);
	deep = nest(TFA_JSON_MAX_DEPTH, "[", "0", "]");
	tfa_buf_clear(&got);
	CHECK_OK(canon_fd(deep, strlen(deep), false, 1 << 20, &got));
	CHECK(got.len == strlen(deep) && memcmp(got.data, deep, got.len) == 0);
	free(deep);

	/* Descriptors that cannot be read or written. */
	{
		int p[2];

		CHECK(pipe(p) == 0);
		/* The write end as the input: the error is the read's. */
		CHECK_RC(tfa_jcs_canonicalize_fd(p[1], "output", p[1], "input", 16), TFA_EIO);
		CHECK(strstr(tfa_error_last()->message, "cannot read input") != NULL);
		close(p[1]);
		/* The read end as the output: the error is the write's. */
		{
			FILE *f = tmpfile();

			CHECK(f != NULL && fwrite("[1]", 1, 3, f) == 3 && fflush(f) == 0);
			rewind(f);
			CHECK_RC(tfa_jcs_canonicalize_fd(p[0], "output", fileno(f), "input", 16),
				 TFA_EIO);
			CHECK(strstr(tfa_error_last()->message, "cannot write output") != NULL);
			fclose(f);
		}
		close(p[0]);
		CHECK_RC(tfa_jcs_canonicalize_fd(-1, "output", 0, "input", 16), TFA_EUSAGE);
	}
	tfa_buf_free(&in);
	tfa_buf_free(&want);
	tfa_buf_free(&got);
}

TFA_TEST_MAIN(T(test_reject_noncharacters), T(test_rfc8785_vectors), T(test_es6_number_oracle),
	      T(test_number_reference), T(test_number_format_cases), T(test_locale_independence),
	      T(test_reject_invalid_json), T(test_reject_trailing_data), T(test_reject_bad_utf8),
	      T(test_reject_lone_surrogates), T(test_reject_duplicate_keys),
	      T(test_reject_number_overflow), T(test_reject_too_deep), T(test_reject_bom),
	      T(test_reject_control_characters), T(test_reject_bad_numbers),
	      T(test_nul_in_strings_and_keys), T(test_utf16_key_order), T(test_number_edge_cases),
	      T(test_depth_limit_exact), T(test_empty_and_scalars), T(test_string_escapes),
	      T(test_accessors), T(test_write_appends), T(test_check_canonical),
	      T(test_large_document), T(test_canonicalize_fd), T(test_unescaped_string_lengths),
	      T(test_random_key_order))
