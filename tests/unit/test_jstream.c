/* Tests for the streaming reader of canonical JSON (src/format/jstream.c). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "format/jstream.h"
#include "tfa_test.h"
#include "tfattest/buffer.h"
#include "tfattest/jcs.h"
#include "verify/crypto.h"

#define BIG ((size_t)1 << 30)

/* Chunk sizes the read callbacks hand out: boundaries fall everywhere. */
static const size_t chunks[] = {1, 7, 65536};
#define NCHUNKS (sizeof(chunks) / sizeof(chunks[0]))

/* ---- helpers ----------------------------------------------------------------------------- */

/* A document in memory, handed out at most `chunk` bytes per read. */
typedef struct memsrc {
	const uint8_t *p;
	size_t len, pos, chunk;
	unsigned reads;
} memsrc;

static ssize_t mem_read(void *ud, void *buf, size_t n)
{
	memsrc *m = ud;
	size_t k = m->len - m->pos;

	m->reads++;
	if (k > n)
		k = n;
	if (k > m->chunk)
		k = m->chunk;
	memcpy(buf, m->p + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}

static tfa_jstream *open_mem(memsrc *m, const void *doc, size_t len, size_t chunk,
			     size_t max_string, uint64_t max_total)
{
	tfa_jstream *js = NULL;

	m->p = doc;
	m->len = len;
	m->pos = 0;
	m->chunk = chunk;
	m->reads = 0;
	CHECK_OK(tfa_jstream_new(&js, mem_read, m, max_string, max_total));
	return js;
}

static const char *tok_name(tfa_js_token t)
{
	static const char *const names[] = {
	    "BEGIN_OBJECT", "END_OBJECT", "BEGIN_ARRAY", "END_ARRAY", "KEY", "STRING",
	    "NUMBER",	    "TRUE",	  "FALSE",	 "NULL",      "END"};

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

/* Reads one token and checks it is `want` at depth `depth`. */
static bool expect_tok(tfa_jstream *js, tfa_js_token want, size_t depth, const char *what)
{
	tfa_js_token t = TFA_JS_END;
	tfa_err rc = tfa_jstream_next(js, &t);

	if (rc != TFA_OK) {
		fprintf(stderr, "%s: %s: stream failed at byte %" PRIu64 ": %s\n", tfa_test_current,
			what, tfa_jstream_offset(js), tfa_error_last()->message);
		return false;
	}
	if (t != want || tfa_jstream_depth(js) != depth) {
		fprintf(stderr,
			"%s: %s: got %s at depth %zu, wanted %s at depth %zu (byte %" PRIu64 ")\n",
			tfa_test_current, what, tok_name(t), tfa_jstream_depth(js), tok_name(want),
			depth, tfa_jstream_offset(js));
		return false;
	}
	return true;
}

static bool same_bytes(const char *a, size_t al, const char *b, size_t bl)
{
	return a != NULL && b != NULL && al == bl && memcmp(a, b, al) == 0 && a[al] == '\0';
}

/* Pulls the tokens of v (at depth `depth`) from js, comparing each with the tree. */
static bool walk(tfa_jstream *js, const tfa_json_value *v, size_t depth, const char *what)
{
	size_t n, sl, tl;
	const char *s, *t;

	switch (tfa_json_type_of(v)) {
	case TFA_JSON_NULL: return expect_tok(js, TFA_JS_NULL, depth, what);
	case TFA_JSON_TRUE: return expect_tok(js, TFA_JS_TRUE, depth, what);
	case TFA_JSON_FALSE: return expect_tok(js, TFA_JS_FALSE, depth, what);
	case TFA_JSON_NUMBER: {
		double a, b;

		if (!expect_tok(js, TFA_JS_NUMBER, depth, what))
			return false;
		a = tfa_jstream_num(js);
		b = tfa_json_number(v);
		if (memcmp(&a, &b, sizeof(a)) != 0) {
			fprintf(stderr, "%s: %s: number %.17g != %.17g\n", tfa_test_current, what,
				a, b);
			return false;
		}
		return true;
	}
	case TFA_JSON_STRING:
		if (!expect_tok(js, TFA_JS_STRING, depth, what))
			return false;
		s = tfa_jstream_str(js, &sl);
		t = tfa_json_string(v, &tl);
		if (!same_bytes(s, sl, t, tl)) {
			fprintf(stderr, "%s: %s: string differs at byte %" PRIu64 "\n",
				tfa_test_current, what, tfa_jstream_offset(js));
			return false;
		}
		return true;
	case TFA_JSON_ARRAY:
		if (!expect_tok(js, TFA_JS_BEGIN_ARRAY, depth + 1, what))
			return false;
		n = tfa_json_count(v);
		for (size_t i = 0; i < n; i++)
			if (!walk(js, tfa_json_at(v, i), depth + 1, what))
				return false;
		return expect_tok(js, TFA_JS_END_ARRAY, depth, what);
	case TFA_JSON_OBJECT:
		if (!expect_tok(js, TFA_JS_BEGIN_OBJECT, depth + 1, what))
			return false;
		n = tfa_json_count(v);
		for (size_t i = 0; i < n; i++) {
			if (!expect_tok(js, TFA_JS_KEY, depth + 1, what))
				return false;
			s = tfa_jstream_str(js, &sl);
			t = tfa_json_key_at(v, i, &tl);
			if (!same_bytes(s, sl, t, tl)) {
				fprintf(stderr, "%s: %s: key differs at byte %" PRIu64 "\n",
					tfa_test_current, what, tfa_jstream_offset(js));
				return false;
			}
			if (!walk(js, tfa_json_value_at(v, i), depth + 1, what))
				return false;
		}
		return expect_tok(js, TFA_JS_END_OBJECT, depth, what);
	}
	return false;
}

/* Streams a canonical document with every chunk size, comparing with the tree. */
static void expect_same_n(const void *doc, size_t len, const char *what)
{
	tfa_json *tree = NULL;

	CHECK_OK(tfa_jcs_check_canonical(doc, len));
	CHECK_OK(tfa_json_parse(&tree, doc, len));
	if (tree == NULL)
		return;
	for (size_t c = 0; c < NCHUNKS; c++) {
		memsrc m;
		tfa_jstream *js = open_mem(&m, doc, len, chunks[c], BIG, BIG);
		bool ok = js != NULL && walk(js, tfa_json_root(tree), 0, what) &&
			  expect_tok(js, TFA_JS_END, 0, what) &&
			  expect_tok(js, TFA_JS_END, 0, what);

		if (!ok) {
			fprintf(stderr, "%s: %s: failed with %zu-byte reads\n", tfa_test_current,
				what, chunks[c]);
			tfa_test_failures++;
		} else {
			CHECK(tfa_jstream_offset(js) == len);
			CHECK(m.pos == len);
		}
		tfa_jstream_free(js);
	}
	tfa_json_free(tree);
}

#define EXPECT_SAME(doc) expect_same_n((doc), sizeof(doc) - 1, doc)

/* Pulls tokens until the end or a failure; returns the result. */
static tfa_err drain(tfa_jstream *js)
{
	tfa_js_token t = TFA_JS_NULL;
	tfa_err rc;

	do
		rc = tfa_jstream_next(js, &t);
	while (rc == TFA_OK && t != TFA_JS_END);
	return rc;
}

/*
 * Checks that the stream rejects the document with every chunk size, with
 * TFA_EFORMAT and a one-line message naming a byte offset; with `jcs_too`,
 * that tfa_jcs_check_canonical rejects it as well.
 */
static void expect_reject_lim(const void *doc, size_t len, size_t max_string, uint64_t max_total,
			      bool jcs_too, int line)
{
	for (size_t c = 0; c < NCHUNKS; c++) {
		memsrc m;
		tfa_jstream *js = open_mem(&m, doc, len, chunks[c], max_string, max_total);
		tfa_err rc;
		const char *msg;
		tfa_js_token t;

		if (js == NULL)
			return;
		tfa_error_clear();
		rc = drain(js);
		msg = tfa_error_last()->message;
		if (rc != TFA_EFORMAT) {
			fprintf(stderr,
				"line %d: stream gave %s with %zu-byte reads, wanted EFORMAT\n",
				line, tfa_err_name(rc), chunks[c]);
			tfa_test_failures++;
		} else if (msg[0] == '\0' || strchr(msg, '\n') != NULL ||
			   strstr(msg, "byte") == NULL) {
			fprintf(stderr, "line %d: bad message \"%s\"\n", line, msg);
			tfa_test_failures++;
		} else if (tfa_jstream_next(js, &t) != TFA_EFORMAT) {
			fprintf(stderr, "line %d: the failure did not stick\n", line);
			tfa_test_failures++;
		}
		tfa_jstream_free(js);
	}
	if (jcs_too && tfa_jcs_check_canonical(doc, len) != TFA_EFORMAT) {
		fprintf(stderr, "line %d: tfa_jcs_check_canonical accepts it\n", line);
		tfa_test_failures++;
	}
}

#define REJECT(s)   expect_reject_lim((s), strlen(s), BIG, BIG, true, __LINE__)
#define REJECT_N(s) expect_reject_lim((s), sizeof(s) - 1, BIG, BIG, true, __LINE__)

/* Accepts the document with the given limits (and with every chunk size). */
static void expect_accept_lim(const void *doc, size_t len, size_t max_string, uint64_t max_total,
			      int line)
{
	for (size_t c = 0; c < NCHUNKS; c++) {
		memsrc m;
		tfa_jstream *js = open_mem(&m, doc, len, chunks[c], max_string, max_total);
		tfa_err rc;

		if (js == NULL)
			return;
		rc = drain(js);
		if (rc != TFA_OK) {
			fprintf(stderr, "line %d: rejected with %zu-byte reads: %s\n", line,
				chunks[c], tfa_error_last()->message);
			tfa_test_failures++;
		}
		tfa_jstream_free(js);
	}
}

#define ACCEPT(s)   expect_accept_lim((s), strlen(s), BIG, BIG, __LINE__)
#define ACCEPT_N(s) expect_accept_lim((s), sizeof(s) - 1, BIG, BIG, __LINE__)

/* ---- generated manifest ------------------------------------------------------------------ */

/* An array of {"path":..,"sha256":..,"size":..} objects, produced on demand. */
typedef struct gen {
	uint64_t i, n;
	char rec[256];
	size_t rlen, rpos;
	int phase; /* 0 '[', 1 records, 2 ']', 3 done */
	uint64_t emitted;
} gen;

static uint64_t splitmix(uint64_t x)
{
	x += UINT64_C(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

static uint64_t gen_size(uint64_t i)
{
	return splitmix(i) % UINT64_C(10000000000);
}

static void gen_record(gen *g)
{
	static const char hex[] = "0123456789abcdef";
	char h[65];
	int n;

	for (int k = 0; k < 4; k++) {
		uint64_t r = splitmix(g->i * 4 + (uint64_t)k + 12345);

		for (int j = 0; j < 16; j++, r >>= 4)
			h[k * 16 + j] = hex[r & 15];
	}
	h[64] = '\0';
	n = snprintf(g->rec, sizeof(g->rec),
		     "%s{\"path\":\"modules/m%03" PRIu64 "/files/f%09" PRIu64
		     ".tf.json\",\"sha256\":\"sha256:%s\",\"size\":%" PRIu64 "}",
		     g->i ? "," : "", g->i / 1000, g->i, h, gen_size(g->i));
	g->rlen = (size_t)n;
	g->rpos = 0;
}

static ssize_t gen_read(void *ud, void *buf, size_t n)
{
	gen *g = ud;
	uint8_t *o = buf;
	size_t w = 0;

	while (w < n && g->phase != 3) {
		if (g->phase == 0) {
			o[w++] = '[';
			g->phase = 1;
			if (g->n > 0)
				gen_record(g);
			else
				g->phase = 2;
		} else if (g->phase == 1) {
			size_t k = g->rlen - g->rpos;

			if (k > n - w)
				k = n - w;
			memcpy(o + w, g->rec + g->rpos, k);
			w += k;
			g->rpos += k;
			if (g->rpos == g->rlen) {
				if (++g->i < g->n)
					gen_record(g);
				else
					g->phase = 2;
			}
		} else {
			o[w++] = ']';
			g->phase = 3;
		}
	}
	g->emitted += w;
	return (ssize_t)w;
}

/* Streams the generated manifest, checking every record; returns the records seen. */
static uint64_t stream_manifest(tfa_jstream *js)
{
	tfa_js_token t;
	uint64_t recs = 0;
	bool ok = true;

	ok = ok && expect_tok(js, TFA_JS_BEGIN_ARRAY, 1, "manifest");
	while (ok) {
		size_t len;
		const char *s;

		if (tfa_jstream_next(js, &t) != TFA_OK) {
			fprintf(stderr, "manifest: %s\n", tfa_error_last()->message);
			ok = false;
			break;
		}
		if (t == TFA_JS_END_ARRAY)
			break;
		ok = t == TFA_JS_BEGIN_OBJECT && expect_tok(js, TFA_JS_KEY, 2, "path key") &&
		     (s = tfa_jstream_str(js, &len)) != NULL && len == 4 &&
		     expect_tok(js, TFA_JS_STRING, 2, "path") &&
		     (s = tfa_jstream_str(js, &len)) != NULL && len == 37 &&
		     expect_tok(js, TFA_JS_KEY, 2, "sha256 key") &&
		     expect_tok(js, TFA_JS_STRING, 2, "sha256") &&
		     (s = tfa_jstream_str(js, &len)) != NULL && len == 71 &&
		     expect_tok(js, TFA_JS_KEY, 2, "size key") &&
		     expect_tok(js, TFA_JS_NUMBER, 2, "size") &&
		     tfa_jstream_num(js) == (double)gen_size(recs) &&
		     expect_tok(js, TFA_JS_END_OBJECT, 1, "record end");
		recs++;
	}
	ok = ok && expect_tok(js, TFA_JS_END, 0, "manifest end");
	CHECK(ok);
	return recs;
}

static long maxrss_kb(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return ru.ru_maxrss;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define MANIFEST_RECORDS 400000 /* about 55 MB */

/* Runs first, while the process is small: a leak would show in the peak. */
static void test_memory_flat(void)
{
	gen g;
	tfa_jstream *js = NULL;
	long before, after;
	uint64_t recs;
	double t0, t1;

	memset(&g, 0, sizeof(g));
	g.n = MANIFEST_RECORDS;
	before = maxrss_kb();
	CHECK_OK(tfa_jstream_new(&js, gen_read, &g, 4096, UINT64_MAX));
	if (js == NULL)
		return;
	t0 = now_s();
	recs = stream_manifest(js);
	t1 = now_s();
	after = maxrss_kb();
	CHECK(recs == MANIFEST_RECORDS);
	CHECK(g.emitted >= 50u * 1000 * 1000);
	CHECK(tfa_jstream_offset(js) == g.emitted);
	CHECK(before > 0 && after >= before);
	CHECK(after - before < 2048);
	printf("# streamed %" PRIu64 " bytes (%" PRIu64 " records) generated on the fly in %.3f s "
	       "(%.0f MB/s including generation); ru_maxrss %ld KiB -> %ld KiB\n",
	       g.emitted, recs, t1 - t0, (double)g.emitted / (t1 - t0) / 1e6, before, after);
	tfa_jstream_free(js);
}

/* ---- equivalence with the tree ----------------------------------------------------------- */

/* Streams every *.json file of a fixtures directory, canonicalized first when `canon`. */
static size_t stream_dir(const char *rel, bool canon)
{
	char dir[4096];
	struct dirent **names = NULL;
	size_t done = 0;
	int n;

	snprintf(dir, sizeof(dir), "%s/%s", tfa_test_fixtures(), rel);
	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0)
		return 0;
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t nl = strlen(name), len;
		char path[4096];
		char *data;

		if (nl > 5 && (strcmp(name + nl - 5, ".json") == 0 ||
			       (nl > 8 && strcmp(name + nl - 8, ".tfstate") == 0))) {
			snprintf(path, sizeof(path), "%s/%s", rel, name);
			data = tfa_test_read_fixture(path, &len);
			if (data != NULL) {
				if (canon) {
					tfa_buf b;

					tfa_buf_init(&b, 0);
					CHECK_OK(tfa_jcs_canonicalize(&b, (uint8_t *)data, len));
					/* Canonical output never equals pretty-printed input. */
					CHECK_RC(tfa_jcs_check_canonical((uint8_t *)data, len),
						 TFA_EFORMAT);
					expect_reject_lim(data, len, BIG, BIG, true, __LINE__);
					expect_same_n(b.data, b.len, name);
					tfa_buf_free(&b);
				} else {
					expect_same_n(data, len, name);
				}
				done++;
				free(data);
			}
		}
		free(names[i]);
	}
	free(names);
	return done;
}

static void test_fixture_equivalence(void)
{
	size_t jcs = stream_dir("jcs/output", false);
	size_t plans = stream_dir("terraform/plans", true);
	size_t states = stream_dir("terraform/states", true);

	printf("# %zu RFC 8785 outputs, %zu plans, %zu states\n", jcs, plans, states);
	CHECK(jcs >= 6);
	CHECK(plans >= 10);
	CHECK(states >= 1);
}

static void test_builtin_equivalence(void)
{
	EXPECT_SAME("{}");
	EXPECT_SAME("[]");
	EXPECT_SAME("0");
	EXPECT_SAME("-1");
	EXPECT_SAME("1.5");
	EXPECT_SAME("true");
	EXPECT_SAME("false");
	EXPECT_SAME("null");
	EXPECT_SAME("\"\"");
	EXPECT_SAME("\"a\"");
	EXPECT_SAME("[[],{},[[]],{\"\":{}}]");
	EXPECT_SAME("{\"\":0,\"a\":[1,2,3],\"aa\":{\"b\":null},\"b\":true}");
	/* Every escape RFC 8785 writes, and raw characters it leaves alone. */
	EXPECT_SAME("\"\\b\\t\\n\\f\\r\\\"\\\\\\u0000\\u0001\\u000b\\u000e\\u001f\"");
	EXPECT_SAME("\"/\x7f \xc2\x80\xe2\x80\xa8\xef\xbf\xbd\xf0\x9f\x98\x80\xf4\x8f\xbf\xbd\"");
	EXPECT_SAME("{\"\\u0000\":1,\"\\n\":2,\"\\\"\":3,\"\\\\\":4,\"\x7f\":5}");
	/* Characters above U+FFFF sort before U+E000 (UTF-16 order). */
	EXPECT_SAME(
	    "{\"\xd7\xbf\":0,\"\xf0\x9f\x98\x80\":1,\"\xee\x80\x80\":2,\"\xef\xbf\xbd\":3}");
	EXPECT_SAME("{\"a\":1,\"ab\":2,\"b\":{\"a\":1,\"b\":2},\"c\":{\"a\":3}}");
	EXPECT_SAME("[1e+21,1e-7,0.000001,100000000000000000000,-5e-324,1.7976931348623157e+308,"
		    "9007199254740992,123456789012345680000,0.1,-0.5,333333333.3333333]");
	EXPECT_SAME("[\"\xc3\xa9\xe2\x82\xac\",{\"x\":[true,false,null]}]");
}

/* ---- differential: the stream against the tree parser ------------------------------------ */

typedef struct diff_stats {
	size_t inputs, accepted, rejected, differ;
} diff_stats;

/* Pulls every token; the result of the first failing call, or TFA_OK at TFA_JS_END. */
static tfa_err drain_chunked(const uint8_t *d, size_t n, size_t chunk)
{
	memsrc m;
	tfa_jstream *js = open_mem(&m, d, n, chunk, BIG, UINT64_MAX);
	tfa_js_token t = TFA_JS_NULL;
	tfa_err rc;

	do
		rc = tfa_jstream_next(js, &t);
	while (rc == TFA_OK && t != TFA_JS_END);
	if (rc != TFA_OK) {
		const char *msg = tfa_error_last()->message;

		CHECK(rc == TFA_EFORMAT && strstr(msg, "byte") != NULL &&
		      strchr(msg, '\n') == NULL);
	}
	tfa_jstream_free(js);
	return rc;
}

/*
 * One input through both readers: the stream (whole and in small reads) must
 * accept exactly what tfa_jcs_check_canonical accepts, and whatever either
 * accepts must parse as a tree.
 */
static void diff_one(diff_stats *st, const uint8_t *d, size_t n, const char *what)
{
	tfa_err canon = tfa_jcs_check_canonical(d, n);
	tfa_err whole = drain_chunked(d, n, 65536);
	tfa_err small = n <= 4096 ? drain_chunked(d, n, 1 + st->inputs % 7) : whole;

	st->inputs++;
	if ((canon == TFA_OK) != (whole == TFA_OK) || (canon == TFA_OK) != (small == TFA_OK)) {
		if (st->differ++ < 5)
			fprintf(stderr, "%s: %s (%zu bytes): canon %s, stream %s / %s\n",
				tfa_test_current, what, n, tfa_err_name(canon), tfa_err_name(whole),
				tfa_err_name(small));
		return;
	}
	if (canon == TFA_OK) {
		tfa_json *doc = NULL;

		CHECK_OK(tfa_json_parse(&doc, d, n));
		tfa_json_free(doc);
		st->accepted++;
	} else {
		CHECK(canon == TFA_EFORMAT);
		st->rejected++;
	}
}

static uint64_t diff_rng = UINT64_C(0x9E3779B97F4A7C15);

static uint64_t diff_next(void)
{
	diff_rng ^= diff_rng << 13;
	diff_rng ^= diff_rng >> 7;
	diff_rng ^= diff_rng << 17;
	return diff_rng;
}

/* Bytes that matter to the lexer: quotes, escapes, hex, UTF-8 leads and trails, number parts. */
static const uint8_t diff_bytes[] = {
    '"',  '\\', 'u',  '0',  '1',  'D',	'd',  '8',  'C',  'e',	'E',  '.',  '-',  '+',	' ',
    '\n', 0,	0x1f, 0x7f, 0x80, 0xBF, 0xC0, 0xC2, 0xC3, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5,
    0xFF, 'n',	't',  'f',  '/',  ',',	':',  '[',  ']',  '{',	'}',  'b',  'a',  '9'};

/* The input, its canonical form, and `k` seeded mutations of each (replace, delete, insert, cut,
 * flip). */
static void diff_input(diff_stats *st, const uint8_t *d, size_t n, int k, const char *what)
{
	tfa_buf c;

	diff_one(st, d, n, what);
	tfa_buf_init(&c, 0);
	if (tfa_jcs_canonicalize(&c, d, n) == TFA_OK && (c.len != n || memcmp(c.data, d, n) != 0))
		diff_input(st, c.data, c.len, k, what);
	tfa_buf_free(&c);
	if (n > 4096)
		return;
	for (int j = 0; j < k; j++) {
		uint8_t m[4096 + 16];
		size_t len = n;
		int ops = 1 + (int)(diff_next() % 3);

		memcpy(m, d, n);
		for (int o = 0; o < ops; o++) {
			size_t at = (size_t)(diff_next() % (len + 1));
			uint8_t b = diff_bytes[diff_next() % sizeof(diff_bytes)];

			switch (diff_next() % 5) {
			case 0:
				if (at < len)
					m[at] = b;
				break;
			case 1:
				if (at < len) {
					memmove(m + at, m + at + 1, len - at - 1);
					len--;
				}
				break;
			case 2:
				if (len < n + 15) {
					memmove(m + at + 1, m + at, len - at);
					m[at] = b;
					len++;
				}
				break;
			case 3: len = at; break;
			default:
				if (at < len)
					m[at] ^= (uint8_t)(1u << (diff_next() % 8));
				break;
			}
		}
		diff_one(st, m, len, what);
	}
}

/* Every regular file under dir (recursively), at most 4 MiB each. */
static void diff_dir(diff_stats *st, const char *dir, int k)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		char path[4096];
		FILE *f;

		if (names[i]->d_name[0] == '.')
			goto next;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (names[i]->d_type == DT_DIR) {
			diff_dir(st, path, k);
			goto next;
		}
		f = fopen(path, "rb");
		if (f != NULL) {
			static uint8_t buf[(size_t)4 << 20];
			size_t len = fread(buf, 1, sizeof(buf), f);

			if (feof(f)) {
				diff_input(st, buf, len, k, names[i]->d_name);
				/* jstream corpus files start with a control byte. */
				if (len > 0)
					diff_input(st, buf + 1, len - 1, 0, names[i]->d_name);
			}
			fclose(f);
		}
	next:
		free(names[i]);
	}
	free(names);
}

static void test_differential(void)
{
	static const char *const corpora[] = {"jcs", "jstream", "manifest", "artifact",
					      "checkpoint"};
	diff_stats st = {0, 0, 0, 0};
	char dir[4096];

	diff_dir(&st, tfa_test_fixtures(), 3);
	for (size_t i = 0; i < sizeof(corpora) / sizeof(corpora[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/../fuzz/corpus/%s", tfa_test_fixtures(), corpora[i]);
		diff_dir(&st, dir, 8);
	}
	printf("# %zu inputs: %zu accepted by both, %zu rejected by both, %zu differ\n", st.inputs,
	       st.accepted, st.rejected, st.differ);
	CHECK(st.differ == 0);
	CHECK(st.accepted >= 1000);
	CHECK(st.rejected >= 10000);
}

/* Every string of the V8 number oracle, as an array and one by one. */
static void test_es6_numbers(void)
{
	size_t len, count = 0, bad = 0;
	char *data = tfa_test_read_fixture("jcs/es6-numbers-20k.txt", &len);
	tfa_buf doc;
	char *line;

	if (data == NULL) {
		tfa_test_failures++;
		return;
	}
	tfa_buf_init(&doc, 0);
	CHECK_OK(tfa_buf_putc(&doc, '['));
	for (line = data; line < data + len;) {
		char *nl = memchr(line, '\n', (size_t)(data + len - line));
		char *comma, alt[40];
		uint64_t bits;
		double d;
		memsrc m;
		tfa_jstream *js;
		tfa_js_token t;

		if (nl == NULL)
			nl = data + len;
		*nl = '\0';
		comma = strchr(line, ',');
		if (comma == NULL) {
			line = nl + 1;
			continue;
		}
		*comma = '\0';
		bits = strtoull(line, NULL, 16);
		memcpy(&d, &bits, sizeof(d));
		if (count)
			CHECK_OK(tfa_buf_putc(&doc, ','));
		CHECK_OK(tfa_buf_puts(&doc, comma + 1));
		/* Alone, with 7-byte reads; the number is the double (or +0 for -0). */
		js = open_mem(&m, comma + 1, strlen(comma + 1), 7, BIG, BIG);
		if (tfa_jstream_next(js, &t) != TFA_OK || t != TFA_JS_NUMBER ||
		    tfa_jstream_num(js) != d || drain(js) != TFA_OK)
			bad++;
		tfa_jstream_free(js);
		/* The %.17g spelling is accepted exactly when it is the same text. */
		snprintf(alt, sizeof(alt), "%.17g", d);
		js = open_mem(&m, alt, strlen(alt), 65536, BIG, BIG);
		if ((drain(js) == TFA_OK) != (strcmp(alt, comma + 1) == 0))
			bad++;
		tfa_jstream_free(js);
		count++;
		line = nl + 1;
	}
	CHECK_OK(tfa_buf_putc(&doc, ']'));
	CHECK(count == 20000);
	CHECK(bad == 0);
	expect_same_n(doc.data, doc.len, "es6 numbers");
	tfa_buf_free(&doc);
	free(data);
}

/* ---- rejections -------------------------------------------------------------------------- */

/* White space at every position outside a string, and trailing. */
static void test_reject_whitespace(void)
{
	static const char doc[] = "{\"a b\":[1,true,\"x\"],\"c\":{\"d\":null,\"e\":-1.5}}";
	static const char ws[] = " \t\n\r";
	size_t len = sizeof(doc) - 1, tried = 0;
	char buf[128];

	EXPECT_SAME(doc);
	for (size_t i = 0; i <= len; i++) {
		bool in_str = false;

		/* Inside a string a space is ordinary content. */
		for (size_t j = 0; j < i; j++)
			if (doc[j] == '"')
				in_str = !in_str;
		if (in_str)
			continue;
		for (size_t w = 0; w < 4; w++) {
			memcpy(buf, doc, i);
			buf[i] = ws[w];
			memcpy(buf + i + 1, doc + i, len - i);
			expect_reject_lim(buf, len + 1, BIG, BIG, true, __LINE__);
			tried++;
		}
	}
	CHECK(tried > 60);
	REJECT(" 1");
	REJECT("1 ");
	REJECT("1\n");
	REJECT("{}\n");
	REJECT("{}\r\n");
	REJECT("\"a\"\n");
	REJECT("[1, 2]");
	REJECT("{\"a\": 1}");
	REJECT("{\"a\" :1}");
}

static void test_reject_trailing_data(void)
{
	REJECT("{}x");
	REJECT("{}{}");
	REJECT("[]]");
	REJECT("1,");
	REJECT("nullx");
	REJECT("truefalse");
	REJECT("\"a\"\"b\"");
	REJECT_N("{}\0");
	REJECT("[]\xc3\xa9");
	REJECT("0x10");
}

static void test_reject_key_order(void)
{
	REJECT("{\"b\":1,\"a\":2}");
	REJECT("{\"a\":1,\"a\":2}"); /* duplicate */
	REJECT("{\"a\":1,\"b\":2,\"b\":3}");
	REJECT("{\"ab\":1,\"a\":2}");		      /* prefix sorts first */
	REJECT("{\"\":1,\"\":2}");		      /* duplicate empty key */
	REJECT("{\"a\":{\"x\":1,\"y\":2},\"a\":{}}"); /* duplicate after a nested object */
	REJECT("{\"x\":[{\"b\":1,\"a\":2}]}");	      /* inside an array */
	REJECT("{\"a\":{\"b\":1},\"B\":2}");
	REJECT("{\"a\\n\":1,\"a\\u0000\":2}"); /* compared after unescaping */
	/* UTF-16 order: U+1F600 (D83D DE00) before U+E000, although UTF-8 says otherwise. */
	ACCEPT("{\"\xf0\x9f\x98\x80\":1,\"\xee\x80\x80\":2}");
	REJECT("{\"\xee\x80\x80\":1,\"\xf0\x9f\x98\x80\":2}");
	ACCEPT("{\"\xf4\x8f\xbf\xbd\":1,\"\xef\xbf\xbd\":2}");
	REJECT("{\"\xef\xbf\xbd\":1,\"\xf4\x8f\xbf\xbd\":2}");
	/* Below U+E000, code point order and UTF-16 order agree. */
	ACCEPT("{\"\xed\x9f\xbf\":1,\"\xf0\x9f\x98\x80\":2}");
	REJECT("{\"\xf0\x9f\x98\x80\":1,\"\xed\x9f\xbf\":2}");
	/* Sibling objects each have their own order. */
	ACCEPT("{\"a\":{\"z\":1},\"b\":{\"a\":1},\"c\":[{\"b\":1},{\"a\":1}]}");
}

static void test_reject_escapes(void)
{
	REJECT("\"\\/\"");
	REJECT("\"\\u0041\"");
	REJECT("\"\\u00e9\"");
	REJECT("\"\\u00E9\"");
	REJECT("\"\\u001F\""); /* uppercase hex */
	REJECT("\"\\u001A\"");
	REJECT("\"\\u000a\""); /* has the form \n */
	REJECT("\"\\u0008\"");
	REJECT("\"\\u0009\"");
	REJECT("\"\\u000c\"");
	REJECT("\"\\u000d\"");
	REJECT("\"\\u0022\"");
	REJECT("\"\\u005c\"");
	REJECT("\"\\u007f\"");
	REJECT("\"\\u0020\"");
	REJECT("\"\\ud83d\\ude00\"");
	REJECT("\"\\ud800\"");
	REJECT("\"\\x\"");
	REJECT("\"\\'\"");
	REJECT("\"\\U0001\"");
	REJECT("\"\\u00\"");
	REJECT("\"\\u00g1\"");
	REJECT("\"\\");
	REJECT("{\"\\/\":1}");
	ACCEPT("\"\\u001f\\u001e\\u0010\\u000f\\u0000\"");
}

static void test_reject_control_chars(void)
{
	REJECT_N("\"\0\"");
	REJECT("\"\x01\"");
	REJECT("\"\x1f\"");
	REJECT("\"a\nb\"");
	REJECT("\"\t\"");
	REJECT("\"\r\"");
	REJECT("{\"\x1f\":1}");
	ACCEPT("\"\x7f\"");
}

static void test_reject_bad_utf8(void)
{
	REJECT("\"\x80\""); /* lone continuation */
	REJECT("\"\xbf\"");
	REJECT("\"\xc0\xaf\""); /* overlong */
	REJECT("\"\xc1\xbf\"");
	REJECT("\"\xe0\x80\xaf\"");
	REJECT("\"\xe0\x9f\xbf\"");
	REJECT("\"\xf0\x80\x80\xaf\"");
	REJECT("\"\xf0\x8f\xbf\xbf\"");
	REJECT("\"\xed\xa0\x80\"");		/* U+D800 */
	REJECT("\"\xed\xbf\xbf\"");		/* U+DFFF */
	REJECT("\"\xed\xa0\xbd\xed\xb8\x82\""); /* CESU-8 */
	REJECT("\"\xf4\x90\x80\x80\"");		/* U+110000 */
	REJECT("\"\xf5\x80\x80\x80\"");
	REJECT("\"\xf8\x88\x80\x80\x80\"");
	REJECT("\"\xfe\"");
	REJECT("\"\xff\"");
	REJECT("\"\xc3\""); /* truncated before the quote */
	REJECT("\"\xe2\x82\"");
	REJECT("\"\xf0\x9f\x98\"");
	REJECT("\"\xe2\x82");	/* truncated at the end of input */
	REJECT("\"\xc3\x28\""); /* bad continuation */
	REJECT("\"\xe2\x28\xa1\"");
	REJECT("{\"\xc3\x28\":1}");
	REJECT("\xef\xbb\xbf{}"); /* byte-order mark */
	REJECT("\xc3\xa9");	  /* outside a string */
	ACCEPT("\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80\xf4\x8f\xbf"
	       "\xbd\"");
}

/*
 * I-JSON forbids Unicode noncharacters: the streaming reader and the
 * canonicalizer reject the same strings (REJECT runs both), and accept their
 * neighbours alike.
 */
static void test_reject_noncharacters(void)
{
	static const char *const bad[] = {
	    "\xef\xb7\x90",	/* U+FDD0 */
	    "\xef\xb7\x9f",	/* U+FDDF */
	    "\xef\xb7\xaf",	/* U+FDEF */
	    "\xef\xbf\xbe",	/* U+FFFE */
	    "\xef\xbf\xbf",	/* U+FFFF */
	    "\xf0\x9f\xbf\xbe", /* U+1FFFE */
	    "\xf0\x9f\xbf\xbf", /* U+1FFFF */
	    "\xf1\xbf\xbf\xbe", /* U+7FFFE */
	    "\xf3\xbf\xbf\xbf", /* U+FFFFF */
	    "\xf4\x8f\xbf\xbe", /* U+10FFFE */
	    "\xf4\x8f\xbf\xbf", /* U+10FFFF */
	    NULL,
	};
	static const char *const good[] = {
	    "\"\xef\xb7\x8f\"",	    /* U+FDCF */
	    "\"\xef\xb7\xb0\"",	    /* U+FDF0 */
	    "\"\xef\xbf\xbd\"",	    /* U+FFFD */
	    "\"\xf0\x9f\xbf\xbd\"", /* U+1FFFD */
	    "\"\xf0\xaf\xbf\xbe\"", /* U+2FFFE is one: must be rejected (below) */
	    NULL,
	};
	char doc[64];

	for (const char *const *b = bad; *b; b++) {
		/* The noncharacter alone, inside a string, as a key, in an array. */
		const char *pre[] = {"\"", "\"ab", "{\"", "[\"x\",\""};
		const char *post[] = {"\"", "cd\"", "\":1}", "\"]"};

		for (size_t f = 0; f < sizeof(pre) / sizeof(pre[0]); f++) {
			snprintf(doc, sizeof(doc), "%s%s%s", pre[f], *b, post[f]);
			REJECT(doc);
			tfa_error_clear();
			CHECK_RC(tfa_jcs_check_canonical((const uint8_t *)doc, strlen(doc)),
				 TFA_EFORMAT);
			CHECK(strstr(tfa_error_last()->message, "noncharacter") != NULL);
		}
	}
	for (const char *const *g = good; *g; g++) {
		if (strcmp(*g + 1, "\xf0\xaf\xbf\xbe\"") == 0) {
			REJECT(*g);
			continue;
		}
		expect_same_n(*g, strlen(*g), *g);
	}
}

static void test_reject_numbers(void)
{
	static const char *const bad[] = {
	    "1.0",
	    "1e2",
	    "-0",
	    "01",
	    ".5",
	    "1e400",
	    "-1e400",
	    "1E+21",
	    "1e21",
	    "+1",
	    "1.",
	    "-",
	    "0.10",
	    "1e-400",
	    "0.0",
	    "-0.0",
	    "0e0",
	    "1e+2",
	    "1e-2",
	    "10e20",
	    "1.5E3",
	    "00",
	    "-01",
	    "9007199254740993",
	    "NaN",
	    "Infinity",
	    "-Infinity",
	    "0x10",
	    "1_000",
	    "1e",
	    "1e+",
	    "1.e3",
	    "12345678901234567890123456789012345",
	    "0.000000000000000000000000000000001",
	    "1e0000000000000000000000000000001",
	    "100000000000000000000000",
	    "1.00000000000000000000000000000000001",
	    "4.94065645841246544e-324",
	    "1234567890123456789",
	    "0.0000001",
	};
	char doc[96];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_reject_lim(bad[i], strlen(bad[i]), BIG, BIG, true, __LINE__);
		snprintf(doc, sizeof(doc), "[%s]", bad[i]);
		expect_reject_lim(doc, strlen(doc), BIG, BIG, true, __LINE__);
		snprintf(doc, sizeof(doc), "{\"a\":%s}", bad[i]);
		expect_reject_lim(doc, strlen(doc), BIG, BIG, true, __LINE__);
	}
	ACCEPT("[0,-1,1e+21,1e-7,1.5,-0.5,5e-324,1234567890123456800,999999999999999,"
	       "-999999999999999,1000000000000000,9007199254740992,1.7976931348623157e+308]");
}

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

static void test_reject_limits(void)
{
	char *s;

	/* Depth: TFA_JSON_MAX_DEPTH levels are fine, one more is not. */
	s = nest(TFA_JSON_MAX_DEPTH, "[", "", "]");
	ACCEPT(s);
	CHECK_OK(tfa_jcs_check_canonical((uint8_t *)s, strlen(s)));
	free(s);
	s = nest(TFA_JSON_MAX_DEPTH + 1, "[", "", "]");
	REJECT(s);
	free(s);
	s = nest(TFA_JSON_MAX_DEPTH, "{\"a\":", "1", "}");
	ACCEPT(s);
	free(s);
	s = nest(TFA_JSON_MAX_DEPTH + 1, "{\"a\":", "1", "}");
	REJECT(s);
	free(s);
	s = nest(TFA_JSON_MAX_DEPTH + 1, "[", "", "");
	REJECT(s);
	free(s);

	/* Strings: counted after unescaping, keys too. */
	expect_accept_lim("\"abcd\"", 6, 4, BIG, __LINE__);
	expect_reject_lim("\"abcde\"", 7, 4, BIG, false, __LINE__);
	expect_accept_lim("\"\\n\\n\\n\\n\"", 10, 4, BIG, __LINE__);
	expect_reject_lim("\"\\n\\n\\n\\n\\n\"", 12, 4, BIG, false, __LINE__);
	expect_accept_lim("\"\xf0\x9f\x98\x80\"", 6, 4, BIG, __LINE__);
	expect_reject_lim("\"a\xf0\x9f\x98\x80\"", 7, 4, BIG, false, __LINE__);
	expect_reject_lim("{\"abcde\":1}", 11, 4, BIG, false, __LINE__);
	expect_accept_lim("{\"abcd\":\"\"}", 11, 4, BIG, __LINE__);
	expect_accept_lim("\"\"", 2, 0, BIG, __LINE__);
	expect_reject_lim("\"a\"", 3, 0, BIG, false, __LINE__);
	/* A long string across many chunks, exactly at the limit and one past it. */
	{
		size_t n = 200000;
		char *big = malloc(n + 3);

		big[0] = '"';
		for (size_t i = 0; i < n; i++)
			big[i + 1] = (char)('a' + i % 26);
		big[n + 1] = '"';
		big[n + 2] = '\0';
		expect_accept_lim(big, n + 2, n, BIG, __LINE__);
		expect_reject_lim(big, n + 2, n - 1, BIG, false, __LINE__);
		free(big);
	}

	/* Total size: exactly the cap is fine, one byte less is not. */
	expect_accept_lim("[1,2,3]", 7, BIG, 7, __LINE__);
	expect_reject_lim("[1,2,3]", 7, BIG, 6, false, __LINE__);
	expect_reject_lim("[1,2,3]", 7, BIG, 0, false, __LINE__);
	/* Trailing bytes past the cap are still reported. */
	expect_reject_lim("[1,2,3]\n", 8, BIG, 7, false, __LINE__);
}

/* Every proper prefix of a document is incomplete. */
static void test_reject_truncated(void)
{
	static const char doc[] = "{\"a\":[1,-2.5,\"x\\n\\u0001\xc3\xa9\xf0\x9f\x98\x80\"],"
				  "\"b\":{\"c\":true,\"d\":false,\"e\":null},\"f\":12345}";
	size_t len = sizeof(doc) - 1;

	EXPECT_SAME(doc);
	for (size_t i = 0; i < len; i++)
		expect_reject_lim(doc, i, BIG, BIG, true, __LINE__);
}

static void test_reject_syntax(void)
{
	REJECT("");
	REJECT("{");
	REJECT("[");
	REJECT("]");
	REJECT("}");
	REJECT("[1,]");
	REJECT("[,1]");
	REJECT("[1,,2]");
	REJECT("{\"a\":1,}");
	REJECT("{,}");
	REJECT("{\"a\"}");
	REJECT("{\"a\":}");
	REJECT("{\"a\"1}");
	REJECT("{a:1}");
	REJECT("{1:1}");
	REJECT("{\"a\":1:2}");
	REJECT("[1:2]");
	REJECT("[1}");
	REJECT("{\"a\":1]");
	REJECT("tru");
	REJECT("nul");
	REJECT("fals");
	REJECT("True");
	REJECT("nulL");
	REJECT("'a'");
	REJECT("\"abc");
	REJECT("\"abc\\");
	REJECT("[\"a\",]");
	REJECT("/*c*/1");
	REJECT("[1 2]");
}

/* ---- the hook, skip, errors -------------------------------------------------------------- */

typedef struct hashsink {
	EVP_MD_CTX *ctx;
	uint64_t bytes;
	unsigned calls;
} hashsink;

static void sink_bytes(void *ud, const uint8_t *p, size_t n)
{
	hashsink *h = ud;

	h->calls++;
	h->bytes += n;
	if (EVP_DigestUpdate(h->ctx, p, n) != 1)
		tfa_test_failures++;
}

static void test_on_bytes_hash(void)
{
	tfa_buf doc;
	uint8_t tmp[4096];
	ssize_t n;
	gen g;

	/* A generated manifest of several chunks. */
	memset(&g, 0, sizeof(g));
	g.n = 2000;
	tfa_buf_init(&doc, 0);
	while ((n = gen_read(&g, tmp, sizeof(tmp))) > 0)
		CHECK_OK(tfa_buf_append(&doc, tmp, (size_t)n));
	CHECK(doc.len > 4 * 65536);
	for (size_t c = 0; c < NCHUNKS; c++) {
		uint8_t want[TFA_SHA256_LEN], got[TFA_SHA256_LEN];
		hashsink h = {EVP_MD_CTX_new(), 0, 0};
		memsrc m;
		tfa_jstream *js = open_mem(&m, doc.data, doc.len, chunks[c], BIG, BIG);

		CHECK(h.ctx != NULL && EVP_DigestInit_ex(h.ctx, EVP_sha256(), NULL) == 1);
		tfa_jstream_on_bytes(js, sink_bytes, &h);
		CHECK_OK(drain(js));
		CHECK(h.bytes == doc.len);
		CHECK(EVP_DigestFinal_ex(h.ctx, got, NULL) == 1);
		tfa_sha256(want, doc.data, doc.len);
		CHECK(memcmp(want, got, sizeof(want)) == 0);
		/* Nothing more is delivered after END. */
		CHECK(expect_tok(js, TFA_JS_END, 0, "again"));
		CHECK(h.bytes == doc.len);
		EVP_MD_CTX_free(h.ctx);
		tfa_jstream_free(js);
	}
	/* A hook set after the first token sees the rest only; removing it stops it. */
	{
		hashsink h = {EVP_MD_CTX_new(), 0, 0};
		memsrc m;
		tfa_jstream *js = open_mem(&m, "[\"abc\",1]", 9, 65536, BIG, BIG);
		tfa_js_token t;

		CHECK(EVP_DigestInit_ex(h.ctx, EVP_sha256(), NULL) == 1);
		CHECK_OK(tfa_jstream_next(js, &t));
		tfa_jstream_on_bytes(js, sink_bytes, &h);
		CHECK_OK(tfa_jstream_next(js, &t));
		tfa_jstream_on_bytes(js, NULL, NULL);
		CHECK(h.bytes == 5);
		CHECK_OK(drain(js));
		CHECK(h.bytes == 5);
		EVP_MD_CTX_free(h.ctx);
		tfa_jstream_free(js);
	}
	tfa_buf_free(&doc);
}

static void test_skip(void)
{
	static const char doc[] = "{\"a\":{\"x\":[1,{\"y\":\"z\"}]},\"b\":[10,[20,21],{},30],"
				  "\"c\":\"s\"}";
	memsrc m;
	tfa_jstream *js;
	tfa_js_token t;
	size_t len;
	const char *s;

	for (size_t c = 0; c < NCHUNKS; c++) {
		js = open_mem(&m, doc, sizeof(doc) - 1, chunks[c], BIG, BIG);
		CHECK_RC(tfa_jstream_skip(js), TFA_OK); /* the root */
		CHECK(expect_tok(js, TFA_JS_END, 0, "after root skip"));
		CHECK(tfa_jstream_offset(js) == sizeof(doc) - 1);
		tfa_jstream_free(js);
	}
	js = open_mem(&m, doc, sizeof(doc) - 1, 7, BIG, BIG);
	CHECK(expect_tok(js, TFA_JS_BEGIN_OBJECT, 1, "root"));
	CHECK_RC(tfa_jstream_skip(js), TFA_EUSAGE); /* a key comes next */
	CHECK(expect_tok(js, TFA_JS_KEY, 1, "a"));
	CHECK_OK(tfa_jstream_skip(js));
	CHECK(tfa_jstream_depth(js) == 1);
	CHECK(expect_tok(js, TFA_JS_KEY, 1, "b"));
	s = tfa_jstream_str(js, &len);
	CHECK(s != NULL && len == 1 && s[0] == 'b');
	CHECK(expect_tok(js, TFA_JS_BEGIN_ARRAY, 2, "b value"));
	CHECK_OK(tfa_jstream_skip(js)); /* 10 */
	CHECK_OK(tfa_jstream_skip(js)); /* [20,21] */
	CHECK(expect_tok(js, TFA_JS_BEGIN_OBJECT, 3, "{}"));
	CHECK(expect_tok(js, TFA_JS_END_OBJECT, 2, "{}"));
	CHECK_OK(tfa_jstream_skip(js)); /* 30 */
	CHECK_RC(tfa_jstream_skip(js), TFA_ENOTFOUND);
	CHECK_RC(tfa_jstream_skip(js), TFA_ENOTFOUND);
	CHECK(expect_tok(js, TFA_JS_END_ARRAY, 1, "b end"));
	CHECK_RC(tfa_jstream_skip(js), TFA_EUSAGE); /* ',' then a key */
	CHECK(expect_tok(js, TFA_JS_KEY, 1, "c"));
	CHECK(expect_tok(js, TFA_JS_STRING, 1, "c value"));
	s = tfa_jstream_str(js, &len);
	CHECK(s != NULL && len == 1 && s[0] == 's');
	CHECK_RC(tfa_jstream_skip(js), TFA_EUSAGE); /* '}' comes next */
	CHECK(expect_tok(js, TFA_JS_END_OBJECT, 0, "root end"));
	CHECK_RC(tfa_jstream_skip(js), TFA_EUSAGE);
	CHECK(expect_tok(js, TFA_JS_END, 0, "end"));
	CHECK_RC(tfa_jstream_skip(js), TFA_EUSAGE);
	tfa_jstream_free(js);

	/* An empty array: nothing to skip. */
	js = open_mem(&m, "[]", 2, 1, BIG, BIG);
	CHECK(expect_tok(js, TFA_JS_BEGIN_ARRAY, 1, "["));
	CHECK_RC(tfa_jstream_skip(js), TFA_ENOTFOUND);
	CHECK(expect_tok(js, TFA_JS_END_ARRAY, 0, "]"));
	tfa_jstream_free(js);

	/* Skipping still validates: order, escapes, numbers, limits, truncation. */
	{
		static const char *const bad[] = {
		    "{\"a\":{\"c\":1,\"b\":2},\"z\":1}",
		    "{\"a\":[\"\\/\"],\"z\":1}",
		    "{\"a\":[1.0],\"z\":1}",
		    "{\"a\":[1, 2],\"z\":1}",
		    "{\"a\":[[[[",
		    "{\"a\":\"\xc3\x28\",\"z\":1}",
		    "{\"a\":[1,]}",
		    "{\"a\":{\"b\":1,\"b\":1}}",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			js = open_mem(&m, bad[i], strlen(bad[i]), 7, BIG, BIG);
			CHECK(expect_tok(js, TFA_JS_BEGIN_OBJECT, 1, bad[i]));
			CHECK(expect_tok(js, TFA_JS_KEY, 1, bad[i]));
			CHECK_RC(tfa_jstream_skip(js), TFA_EFORMAT);
			CHECK_RC(tfa_jstream_next(js, &t), TFA_EFORMAT);
			tfa_jstream_free(js);
		}
		js = open_mem(&m, "{\"a\":[\"abcde\"]}", 15, 7, 4, BIG);
		CHECK(expect_tok(js, TFA_JS_BEGIN_OBJECT, 1, "limit"));
		CHECK(expect_tok(js, TFA_JS_KEY, 1, "limit"));
		CHECK_RC(tfa_jstream_skip(js), TFA_EFORMAT);
		tfa_jstream_free(js);
	}
}

static void test_end_and_accessors(void)
{
	memsrc m;
	tfa_jstream *js = open_mem(&m, "{\"k\":[\"v\",2.5,true]}", 20, 3, BIG, BIG);
	tfa_js_token t;
	size_t len = 99;

	CHECK(tfa_jstream_depth(js) == 0 && tfa_jstream_offset(js) == 0);
	CHECK(tfa_jstream_str(js, &len) == NULL && len == 0);
	CHECK(expect_tok(js, TFA_JS_BEGIN_OBJECT, 1, "{"));
	CHECK(tfa_jstream_offset(js) == 1);
	CHECK(tfa_jstream_str(js, &len) == NULL && len == 0);
	CHECK(expect_tok(js, TFA_JS_KEY, 1, "k"));
	CHECK(tfa_jstream_offset(js) == 5); /* the ':' is consumed with the key */
	CHECK(expect_tok(js, TFA_JS_BEGIN_ARRAY, 2, "["));
	CHECK(expect_tok(js, TFA_JS_STRING, 2, "v"));
	CHECK_STREQ(tfa_jstream_str(js, NULL), "v");
	CHECK(tfa_jstream_num(js) == 0);
	CHECK(expect_tok(js, TFA_JS_NUMBER, 2, "2.5"));
	CHECK(tfa_jstream_num(js) == 2.5);
	CHECK(tfa_jstream_str(js, NULL) == NULL);
	CHECK(expect_tok(js, TFA_JS_TRUE, 2, "true"));
	CHECK(tfa_jstream_num(js) == 0);
	CHECK(expect_tok(js, TFA_JS_END_ARRAY, 1, "]"));
	CHECK(expect_tok(js, TFA_JS_END_OBJECT, 0, "}"));
	CHECK(tfa_jstream_offset(js) == 20);
	for (int i = 0; i < 3; i++)
		CHECK(expect_tok(js, TFA_JS_END, 0, "END"));
	CHECK(tfa_jstream_offset(js) == 20);
	tfa_jstream_free(js);

	/* NULL-safe accessors and argument checks. */
	tfa_jstream_free(NULL);
	CHECK(tfa_jstream_depth(NULL) == 0 && tfa_jstream_offset(NULL) == 0);
	CHECK(tfa_jstream_num(NULL) == 0);
	CHECK(tfa_jstream_str(NULL, NULL) == NULL);
	CHECK_RC(tfa_jstream_new(NULL, mem_read, &m, 1, 1), TFA_EUSAGE);
	js = (tfa_jstream *)&m;
	CHECK_RC(tfa_jstream_new(&js, NULL, &m, 1, 1), TFA_EUSAGE);
	CHECK(js == NULL);
	CHECK_RC(tfa_jstream_next(NULL, &t), TFA_EUSAGE);
	CHECK_RC(tfa_jstream_new_fd(&js, -1, 1, 1), TFA_EUSAGE);
}

/* A callback that fails, or is interrupted, at a given read. */
typedef struct failsrc {
	memsrc m;
	unsigned fail_at;
	int err;
} failsrc;

static ssize_t fail_read(void *ud, void *buf, size_t n)
{
	failsrc *f = ud;

	if (f->m.reads + 1 == f->fail_at) {
		f->m.reads++;
		errno = f->err;
		return -1;
	}
	return mem_read(&f->m, buf, n);
}

static void test_read_errors(void)
{
	static const char doc[] = "[\"hello\",{\"a\":1}]";
	tfa_jstream *js = NULL;
	failsrc f;

	memset(&f, 0, sizeof(f));
	f.m.p = (const uint8_t *)doc;
	f.m.len = sizeof(doc) - 1;
	f.m.chunk = 4;
	f.fail_at = 3;
	f.err = EIO;
	CHECK_OK(tfa_jstream_new(&js, fail_read, &f, BIG, BIG));
	CHECK_RC(drain(js), TFA_EIO);
	CHECK(strstr(tfa_error_last()->message, "byte 8") != NULL);
	tfa_jstream_free(js);

	/* EINTR is retried. */
	memset(&f, 0, sizeof(f));
	f.m.p = (const uint8_t *)doc;
	f.m.len = sizeof(doc) - 1;
	f.m.chunk = 4;
	f.fail_at = 2;
	f.err = EINTR;
	CHECK_OK(tfa_jstream_new(&js, fail_read, &f, BIG, BIG));
	CHECK_OK(drain(js));
	tfa_jstream_free(js);
}

static void test_fd(void)
{
	static const char doc[] = "{\"files\":[{\"path\":\"a\",\"size\":1}]}";
	char tmpl[] = "/tmp/tfa_jstream_XXXXXX";
	int fd = mkstemp(tmpl);
	tfa_jstream *js = NULL;
	char want[32];

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	unlink(tmpl);
	CHECK(write(fd, doc, sizeof(doc) - 1) == (ssize_t)(sizeof(doc) - 1));
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	CHECK_OK(tfa_jstream_new_fd(&js, fd, 64, 1024));
	CHECK_OK(drain(js));
	CHECK(tfa_jstream_offset(js) == sizeof(doc) - 1);
	tfa_jstream_free(js);
	/* Appending a newline makes it non-canonical. */
	CHECK(write(fd, "\n", 1) == 1);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	CHECK_OK(tfa_jstream_new_fd(&js, fd, 64, 1024));
	CHECK_RC(drain(js), TFA_EFORMAT);
	snprintf(want, sizeof(want), "byte %zu", sizeof(doc) - 1);
	CHECK(strstr(tfa_error_last()->message, want) != NULL);
	tfa_jstream_free(js);
	close(fd);
}

/* Error messages name the offending byte. */
static void test_error_offsets(void)
{
	static const struct {
		const char *doc;
		const char *want;
	} cases[] = {
	    {"[1, 2]", "byte 3"},  {"{\"b\":1,\"a\":2}", "byte 7"}, {"[\"ab\\/\"]", "byte 4"},
	    {"[1,1.0]", "byte 3"}, {"[\"\x01\"]", "byte 2"},	    {"[\"a\xff\"]", "byte 3"},
	    {"{}\n", "byte 2"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t c = 0; c < NCHUNKS; c++) {
			memsrc m;
			tfa_jstream *js =
			    open_mem(&m, cases[i].doc, strlen(cases[i].doc), chunks[c], BIG, BIG);

			CHECK_RC(drain(js), TFA_EFORMAT);
			if (strstr(tfa_error_last()->message, cases[i].want) == NULL) {
				fprintf(stderr, "%s: \"%s\" lacks \"%s\"\n", cases[i].doc,
					tfa_error_last()->message, cases[i].want);
				tfa_test_failures++;
			}
			tfa_jstream_free(js);
		}
	}
}

/* Informational: throughput from memory, compared with the one-shot check. */
static void test_throughput(void)
{
	gen g;
	tfa_buf doc;
	tfa_jstream *js = NULL;
	memsrc m;
	double t0, t1, t2;
	uint8_t tmp[65536];
	ssize_t n;

	memset(&g, 0, sizeof(g));
	g.n = MANIFEST_RECORDS;
	tfa_buf_init(&doc, 0);
	while ((n = gen_read(&g, tmp, sizeof(tmp))) > 0)
		CHECK_OK(tfa_buf_append(&doc, tmp, (size_t)n));
	js = open_mem(&m, doc.data, doc.len, 65536, 4096, UINT64_MAX);
	t0 = now_s();
	CHECK(stream_manifest(js) == MANIFEST_RECORDS);
	t1 = now_s();
	CHECK_OK(tfa_jcs_check_canonical(doc.data, doc.len));
	t2 = now_s();
	printf(
	    "# %zu bytes: stream %.3f s (%.0f MB/s); tfa_jcs_check_canonical %.3f s (%.0f MB/s)\n",
	    doc.len, t1 - t0, (double)doc.len / (t1 - t0) / 1e6, t2 - t1,
	    (double)doc.len / (t2 - t1) / 1e6);
	tfa_jstream_free(js);
	tfa_buf_free(&doc);
}

TFA_TEST_MAIN(T(test_reject_noncharacters), T(test_differential), T(test_memory_flat),
	      T(test_fixture_equivalence), T(test_builtin_equivalence), T(test_es6_numbers),
	      T(test_reject_whitespace), T(test_reject_trailing_data), T(test_reject_key_order),
	      T(test_reject_escapes), T(test_reject_control_chars), T(test_reject_bad_utf8),
	      T(test_reject_numbers), T(test_reject_limits), T(test_reject_truncated),
	      T(test_reject_syntax), T(test_on_bytes_hash), T(test_skip), T(test_end_and_accessors),
	      T(test_read_errors), T(test_fd), T(test_error_offsets), T(test_throughput))
