/*
 * Tests for capture and artifact building: what is taken from a plan, a state
 * and the environment, and what never is (attribute values, credentials).
 */
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
#include "tfattest/artifact.h"
#include "tfattest/capture.h"
#include "tfattest/jcs.h"
#include "tfattest/signer.h"
#include "verify/crypto.h"

#define PREV "sha256:850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03da"
#define NOW  1709210096 /* 2024-02-29T12:34:56Z */

static const char zero_counts[] =
    "{\"create\":0,\"delete\":0,\"forget\":0,\"no-op\":0,\"other\":0,\"read\":0,\"replace\":0,"
    "\"update\":0}";

/* ---- helpers ------------------------------------------------------------------------------ */

static char *tmp;	   /* this process's scratch directory */
static tfa_signer *signer; /* an EC key, made once */

static void cleanup(void)
{
	tfa_signer_free(signer);
	if (tmp) {
		tfa_test_rmtree(tmp);
		free(tmp);
	}
}

static const char *scratch(void)
{
	if (tmp == NULL) {
		tmp = tfa_test_tmpdir();
		atexit(cleanup);
	}
	return tmp;
}

/* Writes text to a scratch file and returns its path (malloc'd). */
static char *scratch_file(const char *name, const char *text)
{
	char *p = tfa_test_path(scratch(), name);
	FILE *f = fopen(p, "wb");

	if (f == NULL || fputs(text, f) < 0) {
		fprintf(stderr, "cannot write %s\n", p);
		exit(2);
	}
	fclose(f);
	return p;
}

static char *fixture(const char *rel)
{
	char *p = malloc(4096);

	snprintf(p, 4096, "%s/terraform/%s", tfa_test_fixtures(), rel);
	return p;
}

static tfa_signer *key(void)
{
	if (signer == NULL)
		signer = tfa_test_new_file_signer(scratch(), "key.pem");
	return signer;
}

/* Captures plan (+ state) with the event and builds the artifact bytes into out. */
static tfa_err capture_and_build(tfa_buf *out, const tfa_event *ev, const char *plan,
				 const char *state)
{
	static const tfa_event dflt = {NULL, NULL, 0};
	tfa_capture *c = NULL;
	tfa_artifact_head h = {"cap", 3, PREV, NOW, NULL, TFA_ALG_ECDSA_SHA_256};
	tfa_err rc;

	h.signer = key();
	tfa_buf_init(out, 0);
	rc = tfa_capture_new(&c, ev ? ev : &dflt, plan, state);
	if (rc == TFA_OK) {
		rc = tfa_artifact_build(out, c, &h);
		tfa_capture_free(c);
	}
	return rc;
}

/* Builds from a fixture plan (and state); fails the test on error. */
static void build_fixture(tfa_buf *out, const char *plan, const char *state)
{
	char *pp = fixture(plan), *sp = state ? fixture(state) : NULL;

	CHECK_OK(capture_and_build(out, NULL, pp, sp));
	free(pp);
	free(sp);
}

/*
 * The canonical JSON of a member of the artifact, by path (up to three keys;
 * NULL ends the path), malloc'd, or NULL when absent.
 */
static char *member(const tfa_buf *art, const char *k1, const char *k2, const char *k3)
{
	tfa_json *doc = NULL;
	const tfa_json_value *v;
	const char *keys[3] = {k1, k2, k3};
	tfa_buf b;
	char *s = NULL;

	if (tfa_json_parse(&doc, art->data, art->len) != TFA_OK)
		return NULL;
	v = tfa_json_root(doc);
	for (int i = 0; i < 3 && keys[i] && v; i++)
		v = tfa_json_get(v, keys[i]);
	if (v) {
		tfa_buf_init(&b, 0);
		if (tfa_jcs_write(&b, v) == TFA_OK)
			s = (char *)tfa_buf_detach(&b, NULL);
		tfa_buf_free(&b);
	}
	tfa_json_free(doc);
	return s;
}

static void expect_member(const tfa_buf *art, const char *k1, const char *k2, const char *k3,
			  const char *want, int line)
{
	char *got = member(art, k1, k2, k3);

	if ((want == NULL) != (got == NULL) || (want && strcmp(got, want) != 0)) {
		fprintf(stderr, "line %d: %s.%s.%s is %s, wanted %s\n", line, k1, k2 ? k2 : "",
			k3 ? k3 : "", got ? got : "(absent)", want ? want : "(absent)");
		tfa_test_failures++;
	}
	free(got);
}

#define EXPECT(art, k1, k2, k3, want) expect_member((art), (k1), (k2), (k3), (want), __LINE__)

static int contains(const tfa_buf *b, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= b->len; i++)
		if (memcmp(b->data + i, needle, n) == 0)
			return 1;
	return 0;
}

static void expect_capture_fails(const char *plan, const char *state, tfa_err want, const char *msg,
				 int line)
{
	tfa_buf out;
	tfa_err rc;

	tfa_error_clear();
	rc = capture_and_build(&out, NULL, plan, state);
	if (rc != want || strstr(tfa_error_last()->message, msg) == NULL) {
		fprintf(stderr, "line %d: got %s (%s), wanted %s with \"%s\"\n", line,
			tfa_err_name(rc), tfa_error_last()->message, tfa_err_name(want), msg);
		tfa_test_failures++;
	}
	tfa_buf_free(&out);
}

/* A plan whose resource_changes array is `rcs`. */
static char *plan_with(const char *name, const char *rcs)
{
	size_t n = strlen(rcs) + 64;
	char *text = malloc(n), *p;

	snprintf(text, n, "{\"format_version\":\"1.2\",\"resource_changes\":%s}", rcs);
	p = scratch_file(name, text);
	free(text);
	return p;
}

/* ---- arguments and inputs ----------------------------------------------------------------- */

static void test_capture_rejects_bad_arguments(void)
{
	tfa_capture *c = (tfa_capture *)1;
	tfa_event ev = {NULL, NULL, 0};
	char *plan = fixture("plans/show-basic-create.json");

	CHECK_RC(tfa_capture_new(NULL, &ev, plan, NULL), TFA_EUSAGE);
	CHECK_RC(tfa_capture_new(&c, NULL, plan, NULL), TFA_EUSAGE);
	CHECK(c == NULL);
	CHECK_RC(tfa_capture_new(&c, &ev, NULL, NULL), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "no plan given") != NULL);
	ev.type = "deploy";
	CHECK_RC(tfa_capture_new(&c, &ev, plan, NULL), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "--event must be") != NULL);
	ev.type = "Apply";
	CHECK_RC(tfa_capture_new(&c, &ev, plan, NULL), TFA_EUSAGE);
	ev.type = "apply";
	ev.status = "ok";
	CHECK_RC(tfa_capture_new(&c, &ev, plan, NULL), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "--status must be") != NULL);
	CHECK(c == NULL);
	tfa_capture_free(NULL);
	free(plan);
}

static void test_capture_rejects_bad_plans(void)
{
	char *p;

	/* Unreadable and non-JSON plans: in test_rewrapped_read_errors. */
	p = scratch_file("state-not-plan.json", "{\"version\":4,\"serial\":1}");
	expect_capture_fails(p, NULL, TFA_EFORMAT, "is not `terraform show -json` plan output",
			     __LINE__);
	free(p);
	p = scratch_file("array.json", "[{\"format_version\":\"1.0\"}]");
	expect_capture_fails(p, NULL, TFA_EFORMAT, "is not `terraform show -json` plan output",
			     __LINE__);
	free(p);
	p = scratch_file("fv.json", "{\"format_version\":1}");
	expect_capture_fails(p, NULL, TFA_EFORMAT, "\"format_version\" is not a string", __LINE__);
	free(p);
	p = scratch_file("tv.json", "{\"format_version\":\"1.0\",\"terraform_version\":[]}");
	expect_capture_fails(p, NULL, TFA_EFORMAT, "\"terraform_version\" is not a string",
			     __LINE__);
	free(p);
	p = scratch_file("err.json", "{\"errored\":\"no\",\"format_version\":\"1.0\"}");
	expect_capture_fails(p, NULL, TFA_EFORMAT, "\"errored\" is not a boolean", __LINE__);
	free(p);
	p = plan_with("rc-obj.json", "{}");
	expect_capture_fails(p, NULL, TFA_EFORMAT, "\"resource_changes\" is not an array",
			     __LINE__);
	free(p);
	p = plan_with("rc-nochange.json", "[{\"address\":\"a.b\"}]");
	expect_capture_fails(p, NULL, TFA_EFORMAT, "plan resource change has no \"change\"",
			     __LINE__);
	free(p);
	p = plan_with("rc-noactions.json", "[{\"address\":\"a.b\",\"change\":{}}]");
	expect_capture_fails(p, NULL, TFA_EFORMAT, "plan resource change has no \"actions\"",
			     __LINE__);
	free(p);
	p = plan_with("rc-actstr.json",
		      "[{\"address\":\"a.b\",\"change\":{\"actions\":\"create\"}}]");
	expect_capture_fails(p, NULL, TFA_EFORMAT, "\"actions\" is not an array", __LINE__);
	free(p);
	p = plan_with("rc-noaddr.json", "[{\"change\":{\"actions\":[\"create\"]}}]");
	expect_capture_fails(p, NULL, TFA_EFORMAT, "plan resource change has no \"address\"",
			     __LINE__);
	free(p);
	p = plan_with("rc-addrnum.json", "[{\"address\":5,\"change\":{\"actions\":[\"create\"]}}]");
	expect_capture_fails(p, NULL, TFA_EFORMAT, "\"address\" is not a string", __LINE__);
	free(p);
	p = plan_with("rc-notobj.json", "[\"a.b\"]");
	expect_capture_fails(p, NULL, TFA_EFORMAT, "plan resource change is not a JSON object",
			     __LINE__);
	free(p);
	{
		/* An address longer than 4096 bytes. */
		size_t n = 4097;
		char *rcs = malloc(n + 100), *name;
		int off = snprintf(rcs, n + 100, "[{\"address\":\"");
		memset(rcs + off, 'a', n);
		snprintf(rcs + off + n, 100, "\",\"change\":{\"actions\":[\"create\"]}}]");
		name = plan_with("rc-longaddr.json", rcs);
		expect_capture_fails(name, NULL, TFA_EFORMAT, "\"address\" is empty, too long",
				     __LINE__);
		free(name);
		free(rcs);
	}
}

static void test_capture_rejects_bad_states(void)
{
	char *plan = fixture("plans/show-basic-delete.json"), *s;

	/* Unreadable and non-JSON states: in test_rewrapped_read_errors. */
	/* `terraform show -json` of a state is not a state file: it has no serial. */
	s = fixture("states/eq-basic_list.state.json");
	expect_capture_fails(plan, s, TFA_EFORMAT, "state has no \"serial\"", __LINE__);
	free(s);
	s = scratch_file("neg.tfstate", "{\"lineage\":\"l\",\"serial\":-1}");
	expect_capture_fails(plan, s, TFA_EFORMAT, "\"serial\" is not an integer in range",
			     __LINE__);
	free(s);
	s = scratch_file("frac.tfstate", "{\"lineage\":\"l\",\"serial\":1.5}");
	expect_capture_fails(plan, s, TFA_EFORMAT, "\"serial\" is not an integer in range",
			     __LINE__);
	free(s);
	s = scratch_file("nolineage.tfstate", "{\"serial\":3}");
	expect_capture_fails(plan, s, TFA_EFORMAT, "state has no \"lineage\"", __LINE__);
	free(s);
	s = scratch_file("arr.tfstate", "[]");
	expect_capture_fails(plan, s, TFA_EFORMAT, "state is not a JSON object", __LINE__);
	free(s);
	free(plan);
}

/*
 * The reason of a failed read or parse is re-raised with
 * tfa_error_last()->message as an argument: tfa_error_set must format it
 * before it overwrites the buffer (it once formatted the buffer into itself,
 * giving "cannot read plan: cannot read plan: ..." and a valgrind error).
 */
static void test_rewrapped_read_errors(void)
{
	tfa_buf out;
	char *p, *plan = fixture("plans/show-basic-delete.json");

	CHECK_RC(capture_and_build(&out, NULL, "/nonexistent/plan.json", NULL), TFA_EUSAGE);
	tfa_test_expect_wrapped("cannot read plan", "cannot open /nonexistent/plan.json", __LINE__);
	tfa_buf_free(&out);
	CHECK_RC(capture_and_build(&out, NULL, scratch(), NULL), TFA_EFORMAT);
	tfa_test_expect_wrapped("cannot read plan", "is not a regular file", __LINE__);
	tfa_buf_free(&out);
	p = scratch_file("notjson.json", "terraform plan output\n");
	CHECK_RC(capture_and_build(&out, NULL, p, NULL), TFA_EFORMAT);
	tfa_test_expect_wrapped("is not valid JSON", "json: invalid literal at byte 0", __LINE__);
	tfa_buf_free(&out);
	free(p);
	p = scratch_file("dup.json", "{\"format_version\":\"1.0\",\"format_version\":\"1.0\"}");
	CHECK_RC(capture_and_build(&out, NULL, p, NULL), TFA_EFORMAT);
	tfa_test_expect_wrapped("is not valid JSON", "duplicate object key", __LINE__);
	tfa_buf_free(&out);
	free(p);
	CHECK_RC(capture_and_build(&out, NULL, plan, "/nonexistent/terraform.tfstate"), TFA_EUSAGE);
	tfa_test_expect_wrapped("cannot read state", "cannot open /nonexistent/terraform.tfstate",
				__LINE__);
	tfa_buf_free(&out);
	p = scratch_file("bad.tfstate", "{");
	CHECK_RC(capture_and_build(&out, NULL, plan, p), TFA_EFORMAT);
	tfa_test_expect_wrapped("is not valid JSON", "json: unexpected end of input", __LINE__);
	tfa_buf_free(&out);
	free(p);
	free(plan);
}

/* ---- plan facts --------------------------------------------------------------------------- */

static void test_actions_from_fixtures(void)
{
	tfa_buf a;

	build_fixture(&a, "plans/show-requires-replace.json", NULL);
	EXPECT(&a, "terraform", "changes", NULL,
	       "[{\"action\":\"replace\",\"address\":\"test_instance.test\","
	       "\"reason\":\"replace_because_cannot_update\"}]");
	EXPECT(&a, "terraform", "counts", "replace", "1");
	EXPECT(&a, "terraform", "counts", "create", "0");
	EXPECT(&a, "terraform", "counts", "delete", "0");
	tfa_buf_free(&a);

	build_fixture(&a, "plans/eq-replace_within_set.json", NULL);
	EXPECT(&a, "terraform", "changes", NULL,
	       "[{\"action\":\"replace\",\"address\":\"tfcoremock_set.set\","
	       "\"reason\":\"replace_because_cannot_update\"}]");
	tfa_buf_free(&a);

	build_fixture(&a, "plans/eq-data_read.json", NULL);
	EXPECT(&a, "terraform", "changes", NULL,
	       "[{\"action\":\"read\",\"address\":\"data.tfcoremock_simple_resource.read\","
	       "\"reason\":\"read_because_config_unknown\"},"
	       "{\"action\":\"create\",\"address\":\"tfcoremock_simple_resource.create\"},"
	       "{\"action\":\"create\",\"address\":\"module.create.local_file.data_file\"},"
	       "{\"action\":\"create\",\"address\":\"module.create.random_integer.random\"}]");
	EXPECT(&a, "terraform", "counts", NULL,
	       "{\"create\":3,\"delete\":0,\"forget\":0,\"no-op\":0,\"other\":0,\"read\":1,"
	       "\"replace\":0,\"update\":0}");
	tfa_buf_free(&a);

	/* no-op is counted but not listed. */
	build_fixture(&a, "plans/show-basic-update.json", NULL);
	EXPECT(&a, "terraform", "changes", NULL, "[]");
	EXPECT(&a, "terraform", "counts", "no-op", "1");
	tfa_buf_free(&a);

	build_fixture(&a, "plans/show-basic-delete.json", NULL);
	EXPECT(&a, "terraform", "changes", NULL,
	       "[{\"action\":\"update\",\"address\":\"test_instance.test\"},"
	       "{\"action\":\"delete\",\"address\":\"test_instance.test-delete\","
	       "\"reason\":\"delete_because_no_resource_config\"}]");
	EXPECT(&a, "terraform", "counts", NULL,
	       "{\"create\":0,\"delete\":1,\"forget\":0,\"no-op\":0,\"other\":0,\"read\":0,"
	       "\"replace\":0,\"update\":1}");
	tfa_buf_free(&a);

	build_fixture(&a, "plans/show-modules.json", NULL);
	EXPECT(&a, "terraform", "counts", "create", "4");
	tfa_buf_free(&a);

	/* No resource_changes at all: an empty list and zero counts. */
	build_fixture(&a, "plans/eq-variables_and_outputs.json", NULL);
	EXPECT(&a, "terraform", "changes", NULL, "[]");
	EXPECT(&a, "terraform", "counts", NULL, zero_counts);
	tfa_buf_free(&a);
}

static void test_action_words(void)
{
	static const struct {
		const char *actions, *word;
	} cases[] = {
	    {"[\"create\"]", "create"},
	    {"[\"update\"]", "update"},
	    {"[\"delete\"]", "delete"},
	    {"[\"read\"]", "read"},
	    {"[\"forget\"]", "forget"},
	    {"[\"delete\",\"create\"]", "replace"},
	    {"[\"create\",\"delete\"]", "replace"}, /* create_before_destroy */
	    {"[\"create\",\"create\"]", "other"},
	    {"[\"delete\",\"create\",\"update\"]", "other"},
	    {"[]", "other"},
	    {"[\"bogus\"]", "other"},
	    {"[\"CREATE\"]", "other"},
	    {"[1]", "other"},
	    {"[null,\"create\"]", "other"},
	    {"[\"update\",\"update\"]", "other"},
	};
	char rcs[8192], want[256];
	size_t off = 0;
	tfa_buf a;
	char *plan;

	off += (size_t)snprintf(rcs + off, sizeof(rcs) - off, "[");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		off += (size_t)snprintf(rcs + off, sizeof(rcs) - off,
					"%s{\"address\":\"r.n%zu\",\"change\":{\"actions\":%s}}",
					i ? "," : "", i, cases[i].actions);
	snprintf(rcs + off, sizeof(rcs) - off, "]");
	plan = plan_with("actions.json", rcs);
	CHECK_OK(capture_and_build(&a, NULL, plan, NULL));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *item;
		tfa_json *doc = NULL;
		const tfa_json_value *ch;

		CHECK_OK(tfa_json_parse(&doc, a.data, a.len));
		ch = tfa_json_get(tfa_json_get(tfa_json_root(doc), "terraform"), "changes");
		item = NULL;
		if (tfa_json_at(ch, i)) {
			tfa_buf b;
			tfa_buf_init(&b, 0);
			CHECK_OK(tfa_jcs_write(&b, tfa_json_at(ch, i)));
			item = (char *)tfa_buf_detach(&b, NULL);
		}
		snprintf(want, sizeof(want), "{\"action\":\"%s\",\"address\":\"r.n%zu\"}",
			 cases[i].word, i);
		if (item == NULL || strcmp(item, want) != 0) {
			fprintf(stderr, "actions %s: got %s, wanted %s\n", cases[i].actions,
				item ? item : "(none)", want);
			tfa_test_failures++;
		}
		free(item);
		tfa_json_free(doc);
	}
	EXPECT(&a, "terraform", "counts", NULL,
	       "{\"create\":1,\"delete\":1,\"forget\":1,\"no-op\":0,\"other\":8,\"read\":1,"
	       "\"replace\":2,\"update\":1}");
	tfa_buf_free(&a);
	free(plan);
}

static void test_plan_facts(void)
{
	tfa_buf a;
	char *plan, *raw, want[80];
	size_t len;
	uint8_t d[TFA_SHA256_LEN];

	/* plan_sha256 is the hash of the file as given. */
	build_fixture(&a, "plans/show-basic-create.json", NULL);
	raw = tfa_test_read_fixture("terraform/plans/show-basic-create.json", &len);
	tfa_sha256(d, raw, len);
	{
		char h[TFA_FPR_STRLEN];
		tfa_hash_str(h, d);
		snprintf(want, sizeof(want), "\"%s\"", h);
	}
	EXPECT(&a, "terraform", "plan_sha256", NULL, want);
	EXPECT(&a, "terraform", "plan_format_version", NULL, "\"1.0\"");
	EXPECT(&a, "terraform", "plan_errored", NULL, NULL);
	EXPECT(&a, "terraform", "version", NULL, NULL);
	EXPECT(&a, "terraform", "state", NULL, NULL);
	free(raw);
	tfa_buf_free(&a);

	build_fixture(&a, "plans/show-plan-error.json", NULL);
	EXPECT(&a, "terraform", "plan_errored", NULL, "true");
	EXPECT(&a, "terraform", "plan_format_version", NULL, "\"1.2\"");
	EXPECT(&a, "terraform", "changes", NULL, "[]");
	tfa_buf_free(&a);

	build_fixture(&a, "plans/eq-basic_json_string_update.json", NULL);
	EXPECT(&a, "terraform", "plan_errored", NULL, "false");
	tfa_buf_free(&a);

	plan = scratch_file(
	    "tv-plan.json",
	    "{\"format_version\":\"1.2\",\"terraform_version\":\"1.9.8\","
	    "\"resource_changes\":[{\"action_reason\":\"replace_by_request\","
	    "\"address\":\"x.y[\\\"k\\\"]\",\"change\":{\"actions\":[\"delete\",\"create\"]}},"
	    "{\"action_reason\":7,\"address\":\"x.z\",\"change\":{\"actions\":[\"update\"]}}]}");
	CHECK_OK(capture_and_build(&a, NULL, plan, NULL));
	EXPECT(&a, "terraform", "version", NULL, "\"1.9.8\"");
	/* A reason that is not a string is left out rather than failing the capture. */
	EXPECT(&a, "terraform", "changes", NULL,
	       "[{\"action\":\"replace\",\"address\":\"x.y[\\\"k\\\"]\",\"reason\":\"replace_by_"
	       "request\"},"
	       "{\"action\":\"update\",\"address\":\"x.z\"}]");
	tfa_buf_free(&a);
	free(plan);
}

static void test_state_facts(void)
{
	tfa_buf a;
	char *raw, want[200];
	size_t len;
	uint8_t d[TFA_SHA256_LEN];
	char h[TFA_FPR_STRLEN];

	build_fixture(&a, "plans/show-basic-delete.json", "states/show-basic-delete.tfstate");
	raw = tfa_test_read_fixture("terraform/states/show-basic-delete.tfstate", &len);
	tfa_sha256(d, raw, len);
	tfa_hash_str(h, d);
	snprintf(want, sizeof(want),
		 "{\"lineage\":\"configuredUnchanged\",\"serial\":7,\"sha256\":\"%s\","
		 "\"terraform_version\":\"0.12.0\"}",
		 h);
	EXPECT(&a, "terraform", "state", NULL, want);
	/* Attribute values of the state never appear. */
	CHECK(!contains(&a, "placeholder"));
	CHECK(!contains(&a, "\"foo\""));
	free(raw);
	tfa_buf_free(&a);
}

static void test_event(void)
{
	tfa_buf a;
	tfa_event ev = {"destroy", "failed", -1};
	char *plan = fixture("plans/show-basic-create.json");

	CHECK_OK(capture_and_build(&a, &ev, plan, NULL));
	EXPECT(&a, "event", NULL, NULL,
	       "{\"exit_code\":-1,\"status\":\"failed\",\"type\":\"destroy\"}");
	tfa_buf_free(&a);
	ev.type = "rollback";
	ev.status = NULL;
	ev.exit_code = 2147483647;
	CHECK_OK(capture_and_build(&a, &ev, plan, NULL));
	EXPECT(&a, "event", NULL, NULL,
	       "{\"exit_code\":2147483647,\"status\":\"succeeded\",\"type\":\"rollback\"}");
	tfa_buf_free(&a);
	CHECK_OK(capture_and_build(&a, NULL, plan, NULL));
	EXPECT(&a, "event", NULL, NULL,
	       "{\"exit_code\":0,\"status\":\"succeeded\",\"type\":\"apply\"}");
	tfa_buf_free(&a);
	ev.type = "import";
	ev.exit_code = -2147483647 - 1;
	CHECK_OK(capture_and_build(&a, &ev, plan, NULL));
	EXPECT(&a, "event", "exit_code", NULL, "-2147483648");
	tfa_buf_free(&a);
	free(plan);
}

/* ---- what is never copied ----------------------------------------------------------------- */

static void test_secret_values_never_copied(void)
{
	tfa_buf a;
	char *plan, *state;

	build_fixture(&a, "plans/show-sensitive-values.json", NULL);
	CHECK(!contains(&a, "boop"));
	EXPECT(&a, "terraform", "changes", NULL,
	       "[{\"action\":\"create\",\"address\":\"test_instance.test\"}]");
	tfa_buf_free(&a);

	/* Every place a plan or state file carries values. */
	plan = scratch_file(
	    "secret-plan.json",
	    "{\"format_version\":\"1.2\",\"terraform_version\":\"1.9.0\","
	    "\"variables\":{\"db_password\":{\"value\":\"S3CRET-variable\"}},"
	    "\"planned_values\":{\"outputs\":{\"pw\":{\"sensitive\":true,\"value\":\"S3CRET-"
	    "planned-output\"}},"
	    "\"root_module\":{\"resources\":[{\"address\":\"db.main\",\"values\":{\"password\":"
	    "\"S3CRET-planned\"},"
	    "\"sensitive_values\":{\"password\":true}}]}},"
	    "\"resource_changes\":[{\"address\":\"db.main\",\"mode\":\"managed\",\"type\":\"db\","
	    "\"name\":\"main\","
	    "\"change\":{\"actions\":[\"update\"],\"before\":{\"password\":\"S3CRET-before\"},"
	    "\"after\":{\"password\":\"S3CRET-after\",\"list\":[\"S3CRET-list\"]},"
	    "\"after_unknown\":{},\"before_sensitive\":{\"password\":true},\"after_sensitive\":{"
	    "\"password\":true},"
	    "\"replace_paths\":[[\"S3CRET-path\"]],\"importing\":{\"id\":\"S3CRET-import\"}}}],"
	    "\"resource_drift\":[{\"address\":\"db.main\",\"change\":{\"actions\":[\"update\"],"
	    "\"before\":{\"password\":\"S3CRET-drift\"}}}],"
	    "\"output_changes\":{\"pw\":{\"actions\":[\"create\"],\"before\":null,\"after\":"
	    "\"S3CRET-output\"}},"
	    "\"prior_state\":{\"values\":{\"outputs\":{\"pw\":{\"value\":\"S3CRET-prior\"}}}},"
	    "\"configuration\":{\"root_module\":{\"resources\":[{\"expressions\":{\"password\":"
	    "{\"constant_value\":\"S3CRET-config\"}}}]}},"
	    "\"checks\":[{\"instances\":[{\"problems\":[{\"message\":\"S3CRET-check\"}]}]}]}");
	state = scratch_file(
	    "secret.tfstate",
	    "{\"version\":4,\"terraform_version\":\"1.9.0\",\"serial\":42,\"lineage\":\"abc-123\","
	    "\"outputs\":{\"pw\":{\"value\":\"S3CRET-state-output\",\"type\":\"string\","
	    "\"sensitive\":true}},"
	    "\"resources\":[{\"mode\":\"managed\",\"type\":\"db\",\"name\":\"main\",\"instances\":["
	    "{"
	    "\"attributes\":{\"password\":\"S3CRET-state-attr\",\"id\":\"db-1\"},"
	    "\"sensitive_attributes\":[[{\"type\":\"get_attr\",\"value\":\"password\"}]],"
	    "\"private\":\"UzNDUkVULXByaXZhdGU=\"}]}],\"check_results\":null}");
	CHECK_OK(capture_and_build(&a, NULL, plan, state));
	CHECK(!contains(&a, "S3CRET"));
	CHECK(!contains(&a, "UzNDUkVU"));
	CHECK(!contains(&a, "password"));
	CHECK(!contains(&a, "db-1"));
	/* What is there: names and hashes. */
	CHECK(contains(&a, "\"address\":\"db.main\""));
	CHECK(contains(&a, "\"lineage\":\"abc-123\""));
	CHECK(contains(&a, "\"serial\":42"));
	tfa_buf_free(&a);
	free(plan);
	free(state);
}

/* ---- the run's context -------------------------------------------------------------------- */

static void clear_ci_env(void)
{
	static const char *const vars[] = {"GITHUB_ACTIONS",	  "GITHUB_REPOSITORY",
					   "GITHUB_WORKFLOW_REF", "GITHUB_RUN_ID",
					   "GITHUB_RUN_ATTEMPT",  "GITHUB_ACTOR",
					   "GITHUB_SHA",	  "GITHUB_REF",
					   "GITHUB_SERVER_URL",	  "GITHUB_EVENT_NAME",
					   "GITLAB_CI",		  "CI_PROJECT_PATH",
					   "CI_PIPELINE_ID",	  "CI_JOB_ID",
					   "CI_JOB_URL",	  "GITLAB_USER_LOGIN",
					   "CI_COMMIT_SHA",	  "CI_COMMIT_REF_NAME",
					   "CI_SERVER_URL",	  "GIT_DIR",
					   "GIT_WORK_TREE",	  NULL};

	for (const char *const *v = vars; *v; v++)
		unsetenv(*v);
}

/* Runs a shell command in dir; fails the test on a non-zero status. */
static void sh_in(const char *dir, const char *cmd)
{
	char line[8192];

	snprintf(line, sizeof(line), "cd '%s' && %s >/dev/null 2>&1", dir, cmd);
	if (system(line) != 0) {
		fprintf(stderr, "command failed: %s\n", line);
		tfa_test_failures++;
	}
}

/* Builds from show-basic-create.json with the working directory set to dir. */
static void build_in(tfa_buf *a, const char *dir)
{
	int here = open(".", O_RDONLY | O_DIRECTORY);
	char *plan = fixture("plans/show-basic-create.json");

	if (here < 0 || chdir(dir) != 0) {
		fprintf(stderr, "cannot chdir to %s\n", dir);
		exit(2);
	}
	CHECK_OK(capture_and_build(a, NULL, plan, NULL));
	if (fchdir(here) != 0)
		exit(2);
	close(here);
	free(plan);
}

/* git is a dependency (scripts/deps.sh): under CI=true its absence fails the test. */
static int have_git(void)
{
	const char *ci = getenv("CI");
	int ok = system("git --version >/dev/null 2>&1") == 0;

	if (!ok && ci != NULL && strcmp(ci, "true") == 0) {
		fprintf(stderr, "git not found (scripts/deps.sh installs it)\n");
		tfa_test_failures++;
	}
	return ok;
}

static void expect_remote(const char *repo, const char *url, const char *want, int line)
{
	char cmd[2048], w[1024];
	tfa_buf a;

	snprintf(cmd, sizeof(cmd), "git remote set-url origin '%s'", url);
	sh_in(repo, cmd);
	build_in(&a, repo);
	snprintf(w, sizeof(w), "\"%s\"", want);
	expect_member(&a, "context", "git", "remote", w, line);
	tfa_buf_free(&a);
}

static void test_git_context_strips_credentials(void)
{
	char *repo = tfa_test_path(scratch(), "repo"), head[64] = "";
	tfa_buf a;
	FILE *f;
	char cmd[4200];

	if (!have_git()) {
		printf("# git not found: skipped\n");
		free(repo);
		return;
	}
	clear_ci_env();
	CHECK(mkdir(repo, 0755) == 0);
	sh_in(repo, "git init -q -b main .");
	sh_in(repo, "git remote add origin 'https://user:tok3n@example.com/r.git?x=1'");
	sh_in(repo, "git -c user.name=t -c user.email=t@example.com commit -q --allow-empty -m m");
	snprintf(cmd, sizeof(cmd), "cd '%s' && git rev-parse HEAD", repo);
	f = popen(cmd, "r");
	CHECK(f != NULL && fgets(head, sizeof(head), f) != NULL);
	if (f)
		pclose(f);
	head[strcspn(head, "\n")] = '\0';
	CHECK(strlen(head) == 40);

	build_in(&a, repo);
	EXPECT(&a, "context", "git", "remote", "\"https://example.com/r.git\"");
	EXPECT(&a, "context", "git", "ref", "\"refs/heads/main\"");
	{
		char w[sizeof(head) + 3];
		snprintf(w, sizeof(w), "\"%s\"", head);
		EXPECT(&a, "context", "git", "commit", w);
	}
	CHECK(!contains(&a, "tok3n"));
	CHECK(!contains(&a, "user:"));
	CHECK(!contains(&a, "x=1"));
	CHECK_OK(tfa_artifact_parse(&(tfa_artifact){0}, a.data, a.len));
	tfa_buf_free(&a);

	expect_remote(repo, "https://tok3n@example.com/r.git", "https://example.com/r.git",
		      __LINE__);
	expect_remote(repo, "ssh://git:tok3n@example.com:2222/r.git",
		      "ssh://example.com:2222/r.git", __LINE__);
	expect_remote(repo, "https://example.com/r.git?private_token=tok3n",
		      "https://example.com/r.git", __LINE__);
	expect_remote(repo, "https://u:tok3n@example.com:8443/group/r.git?a=b&c=d",
		      "https://example.com:8443/group/r.git", __LINE__);
	/* No userinfo: unchanged, including an '@' after the host. */
	expect_remote(repo, "https://example.com/org/r@v2.git", "https://example.com/org/r@v2.git",
		      __LINE__);
	/* Credentials so long that the line is cut before their '@': no remote at all. */
	{
		char url[1300];
		size_t n;
		snprintf(url, sizeof(url), "https://user:");
		n = strlen(url);
		memset(url + n, 'Q', 1100);
		snprintf(url + n + 1100, sizeof(url) - n - 1100, "@example.com/r.git");
		snprintf(cmd, sizeof(cmd), "git remote set-url origin '%s'", url);
		sh_in(repo, cmd);
		build_in(&a, repo);
		CHECK(!contains(&a, "QQQQQQQQ"));
		CHECK(!contains(&a, "\"remote\""));
		tfa_buf_free(&a);
	}
	/* scp-like syntax carries a user name only. */
	expect_remote(repo, "git@github.com:org/r.git", "git@github.com:org/r.git", __LINE__);

	/* A detached HEAD has a commit but no ref. */
	sh_in(repo, "git checkout -q --detach");
	build_in(&a, repo);
	EXPECT(&a, "context", "git", "ref", NULL);
	CHECK(contains(&a, head));
	tfa_buf_free(&a);

	/* Not a work tree: no git member at all. */
	{
		char *plain = tfa_test_path(scratch(), "plain");
		CHECK(mkdir(plain, 0755) == 0);
		build_in(&a, plain);
		EXPECT(&a, "context", "git", NULL, NULL);
		{
			char *h = member(&a, "context", "host", NULL);
			CHECK(h != NULL);
			free(h);
		}
		tfa_buf_free(&a);
		free(plain);
	}
	free(repo);
}

/* A password may hold '@': the credentials end at the authority's last '@'. */
static void test_git_remote_password_with_at(void)
{
	char *repo = tfa_test_path(scratch(), "repo-at");
	tfa_buf a;

	if (!have_git()) {
		printf("# git not found: skipped\n");
		free(repo);
		return;
	}
	clear_ci_env();
	CHECK(mkdir(repo, 0755) == 0);
	sh_in(repo, "git init -q -b main .");
	sh_in(repo, "git remote add origin 'https://user:p@ss@w0rd@example.com/r.git'");
	sh_in(repo, "git -c user.name=t -c user.email=t@example.com commit -q --allow-empty -m m");
	build_in(&a, repo);
	EXPECT(&a, "context", "git", "remote", "\"https://example.com/r.git\"");
	CHECK(!contains(&a, "w0rd"));
	CHECK(!contains(&a, "ss@"));
	tfa_buf_free(&a);
	expect_remote(repo, "https://@@tok3n@example.com:8443/r.git",
		      "https://example.com:8443/r.git", __LINE__);
	expect_remote(repo, "ssh://git:a@b@example.com/r.git?x=@y", "ssh://example.com/r.git",
		      __LINE__);
	/* An '@' in the path is not userinfo, even after credentials. */
	expect_remote(repo, "https://u:p@w@example.com/org/r@v2.git",
		      "https://example.com/org/r@v2.git", __LINE__);
	free(repo);
}

static void test_host_context(void)
{
	tfa_buf a;
	char *plan = fixture("plans/show-basic-create.json"), *h;
	char host[256];

	clear_ci_env();
	CHECK_OK(capture_and_build(&a, NULL, plan, NULL));
	h = member(&a, "context", "host", NULL);
	CHECK(h != NULL);
	if (h && gethostname(host, sizeof(host) - 1) == 0) {
		char *at = strchr(h, '@');
		host[sizeof(host) - 1] = '\0';
		CHECK(at != NULL && at > h + 1);
		CHECK(at && strncmp(at + 1, host, strlen(host)) == 0);
	}
	EXPECT(&a, "context", "ci", NULL, NULL);
	free(h);
	tfa_buf_free(&a);
	free(plan);
}

static void test_ci_context(void)
{
	tfa_buf a;
	char *plan = fixture("plans/show-basic-create.json");
	char long_repo[1100];

	clear_ci_env();
	setenv("GITHUB_ACTIONS", "true", 1);
	setenv("GITHUB_REPOSITORY", "org/infra", 1);
	setenv("GITHUB_RUN_ID", "12345", 1);
	setenv("GITHUB_ACTOR", "", 1); /* empty: left out */
	CHECK_OK(capture_and_build(&a, NULL, plan, NULL));
	EXPECT(
	    &a, "context", "ci", NULL,
	    "{\"provider\":\"github-actions\",\"repository\":\"org/infra\",\"run_id\":\"12345\"}");
	EXPECT(&a, "context", "host", NULL, NULL);
	tfa_buf_free(&a);

	/* Bytes that are not UTF-8 become '?', so the artifact stays valid JSON. */
	setenv("GITHUB_ACTOR",
	       "a\xff"
	       "b\xc0\xaf"
	       "c\xed\xa0\x80"
	       "d\xf4\x90\x80\x80"
	       "e\xc3\xa9",
	       1);
	CHECK_OK(capture_and_build(&a, NULL, plan, NULL));
	EXPECT(&a, "context", "ci", "actor", "\"a?b??c???d????e\xc3\xa9\"");
	CHECK_OK(tfa_artifact_parse(&(tfa_artifact){0}, a.data, a.len));
	tfa_buf_free(&a);

	/* Unicode noncharacters, valid UTF-8 that I-JSON forbids, become one '?' each. */
	setenv("GITHUB_ACTOR",
	       "a\xef\xbf\xbf"
	       "b\xef\xb7\x90"
	       "c\xf4\x8f\xbf\xbe"
	       "d\xef\xbf\xbd"
	       "e\xef\xb7\xb0",
	       1);
	CHECK_OK(capture_and_build(&a, NULL, plan, NULL));
	EXPECT(&a, "context", "ci", "actor",
	       "\"a?b?c?d\xef\xbf\xbd"
	       "e\xef\xb7\xb0\"");
	CHECK_OK(tfa_artifact_parse(&(tfa_artifact){0}, a.data, a.len));
	tfa_buf_free(&a);

	/* Long values are cut at 1024 bytes, never inside a character. */
	memset(long_repo, 'r', 1023);
	memcpy(long_repo + 1023, "\xc3\xa9tail", 7);
	setenv("GITHUB_REPOSITORY", long_repo, 1);
	CHECK_OK(capture_and_build(&a, NULL, plan, NULL));
	{
		char *v = member(&a, "context", "ci", "repository");
		CHECK(v != NULL && strlen(v) == 1024 + 2 && v[1024] == '?' && v[1023] == 'r');
		free(v);
	}
	tfa_buf_free(&a);

	/* GitLab, when GitHub is not set. */
	clear_ci_env();
	setenv("GITLAB_CI", "true", 1);
	setenv("CI_PROJECT_PATH", "group/proj", 1);
	setenv("CI_JOB_ID", "9", 1);
	CHECK_OK(capture_and_build(&a, NULL, plan, NULL));
	EXPECT(&a, "context", "ci", NULL,
	       "{\"job_id\":\"9\",\"project\":\"group/proj\",\"provider\":\"gitlab-ci\"}");
	tfa_buf_free(&a);
	/* "GITLAB_CI=1" is not "true". */
	setenv("GITLAB_CI", "1", 1);
	CHECK_OK(capture_and_build(&a, NULL, plan, NULL));
	EXPECT(&a, "context", "ci", NULL, NULL);
	tfa_buf_free(&a);
	clear_ci_env();
	free(plan);
}

/* ---- building ----------------------------------------------------------------------------- */

static void test_build_head_fields(void)
{
	tfa_buf a;
	tfa_artifact art;
	char *plan = fixture("plans/show-basic-create.json");
	uint8_t want[TFA_SHA256_LEN];
	char fpr[TFA_FPR_STRLEN + 2];

	CHECK_OK(capture_and_build(&a, NULL, plan, NULL));
	CHECK_OK(tfa_jcs_check_canonical(a.data, a.len));
	CHECK(memchr(a.data, '\n', a.len) == NULL);
	CHECK_OK(tfa_artifact_parse(&art, a.data, a.len));
	CHECK_STREQ(art.chain_id, "cap");
	CHECK(art.seq == 3);
	CHECK_OK(tfa_hash_parse(want, PREV, strlen(PREV)));
	CHECK(memcmp(art.prev_hash, want, sizeof(want)) == 0);
	CHECK(art.time == NOW);
	CHECK_STREQ(art.key_fpr, tfa_signer_fingerprint(key()));
	CHECK(art.alg == TFA_ALG_ECDSA_SHA_256);
	EXPECT(&a, "time", NULL, NULL, "\"2024-02-29T12:34:56Z\"");
	EXPECT(&a, "type", NULL, NULL, "\"tfattest.artifact\"");
	EXPECT(&a, "schema_version", NULL, NULL, "1");
	EXPECT(&a, "signer", "backend", NULL, "\"file\"");
	EXPECT(&a, "signer", "algorithm", NULL, "\"ECDSA_SHA_256\"");
	snprintf(fpr, sizeof(fpr), "\"%s\"", tfa_signer_fingerprint(key()));
	EXPECT(&a, "signer", "key_fingerprint", NULL, fpr);
	{
		char *p = member(&a, "signer", "provenance", "key_path");
		CHECK(p != NULL && strstr(p, "key.pem") != NULL);
		free(p);
	}
	tfa_buf_free(&a);
	free(plan);
}

static void test_build_rejects_bad_heads(void)
{
	tfa_capture *c = NULL;
	tfa_event ev = {NULL, NULL, 0};
	char *plan = fixture("plans/show-basic-create.json");
	tfa_artifact_head h = {"cap", 0, PREV, NOW, NULL, TFA_ALG_ECDSA_SHA_256};
	tfa_buf out;

	h.signer = key();
	tfa_buf_init(&out, 0);
	CHECK_OK(tfa_capture_new(&c, &ev, plan, NULL));
	CHECK_RC(tfa_artifact_build(&out, c, &h), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "sequence number out of range") != NULL);
	h.seq = TFA_SEQ_MAX + 1;
	CHECK_RC(tfa_artifact_build(&out, c, &h), TFA_EUSAGE);
	CHECK(out.len == 0);
	h.seq = TFA_SEQ_MAX;
	CHECK_OK(tfa_artifact_build(&out, c, &h));
	CHECK(contains(&out, "\"seq\":999999999999"));
	CHECK_RC(tfa_artifact_build(NULL, c, &h), TFA_EUSAGE);
	CHECK_RC(tfa_artifact_build(&out, NULL, &h), TFA_EUSAGE);
	CHECK_RC(tfa_artifact_build(&out, c, NULL), TFA_EUSAGE);
	/* The same capture builds the same bytes again. */
	{
		tfa_buf again;
		tfa_buf_init(&again, 0);
		CHECK_OK(tfa_artifact_build(&again, c, &h));
		CHECK(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);
		tfa_buf_free(&again);
	}
	tfa_buf_free(&out);
	tfa_capture_free(c);
	free(plan);
}

TFA_TEST_MAIN(T(test_capture_rejects_bad_arguments), T(test_capture_rejects_bad_plans),
	      T(test_capture_rejects_bad_states), T(test_actions_from_fixtures),
	      T(test_action_words), T(test_plan_facts), T(test_state_facts), T(test_event),
	      T(test_secret_values_never_copied), T(test_git_context_strips_credentials),
	      T(test_git_remote_password_with_at), T(test_host_context), T(test_ci_context),
	      T(test_build_head_fields), T(test_build_rejects_bad_heads),
	      T(test_rewrapped_read_errors))
