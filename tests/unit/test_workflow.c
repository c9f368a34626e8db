/*
 * Tests for the workflow parts of the library: captures from memory, rollback
 * targets, spooled captures (serialisation, spool files, flush), the history
 * reader, ID-token payloads, and the apply workflow (tfattest/workflow.h)
 * driving the Terraform stand-in: recorded, failed, not run, spooled, flushed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "capture/oidc.h"
#include "tfa_test.h"
#include "tfattest/artifact.h"
#include "tfattest/capture.h"
#include "tfattest/chain.h"
#include "tfattest/history.h"
#include "tfattest/jcs.h"
#include "tfattest/spool.h"
#include "tfattest/store.h"
#include "tfattest/workflow.h"
#include "verify/crypto.h"

#define PREV "sha256:850605eae77a64ecfb10b753f0b003d9e0d33876bb0d093309f15fb16f5d03da"
#define NOW  1709210096 /* 2024-02-29T12:34:56Z */
#define ID   "0123456789abcdef0123456789abcdef"

static char *tmp;
static tfa_signer *signer;

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

static tfa_signer *key(void)
{
	if (signer == NULL)
		signer = tfa_test_new_file_signer(scratch(), "key.pem");
	return signer;
}

static int contains(const tfa_buf *b, const char *s)
{
	return b->len > 0 && strstr((const char *)b->data, s) != NULL;
}

static uint8_t *plan_bytes(const char *name, size_t *len)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "terraform/plans/%s", name);
	return (uint8_t *)tfa_test_read_fixture(rel, len);
}

static void build(tfa_buf *out, const tfa_capture *c, uint64_t seq)
{
	tfa_artifact_head h = {"wf", seq, PREV, NOW, NULL, TFA_ALG_ECDSA_SHA_256};

	h.signer = key();
	tfa_buf_init(out, 0);
	CHECK_OK(tfa_artifact_build(out, c, &h));
}

/* A fresh store with chain "wf" under the scratch directory. */
static tfa_store *new_store(const char *name)
{
	char *p = tfa_test_path(scratch(), name);
	tfa_store *st = NULL;

	CHECK_OK(tfa_store_open(&st, p));
	CHECK_OK(tfa_chain_init(st, "wf", key()));
	free(p);
	return st;
}

static void append_plan(tfa_store *st, const char *plan, const char *type, uint64_t rollback_to)
{
	tfa_event ev = {type, NULL, 0};
	tfa_capture *c = NULL;
	size_t n;
	uint8_t *p = plan_bytes(plan, &n);
	char h[TFA_FPR_STRLEN];

	CHECK_OK(tfa_capture_new_mem(&c, &ev, p, n, NULL, 0));
	if (rollback_to) {
		CHECK_OK(tfa_chain_record_hash(h, st, key(), rollback_to));
		CHECK_OK(tfa_capture_set_rollback(c, rollback_to, h));
	}
	CHECK_OK(tfa_chain_append(NULL, st, key(), TFA_ALG_NONE, c));
	tfa_capture_free(c);
	free(p);
}

/* ---- captures from memory ------------------------------------------------------------------- */

static void test_capture_mem(void)
{
	tfa_event ev = {NULL, "failed", 143};
	tfa_capture *c = NULL;
	tfa_buf out;
	size_t n, sn;
	uint8_t *p = plan_bytes("show-basic-create.json", &n);
	char *state = tfa_test_read_fixture("terraform/states/show-basic-delete.tfstate", &sn);
	tfa_artifact a;

	/* No saved plan: no plan facts, the state is still read. */
	CHECK_OK(tfa_capture_new_mem(&c, &ev, NULL, 0, (const uint8_t *)state, sn));
	build(&out, c, 2);
	CHECK(!contains(&out, "plan_sha256"));
	CHECK(!contains(&out, "\"counts\""));
	CHECK(contains(&out, "\"serial\":7"));
	CHECK(contains(&out,
		       "\"event\":{\"exit_code\":143,\"status\":\"failed\",\"type\":\"apply\"}"));
	CHECK_OK(tfa_artifact_parse(&a, out.data, out.len));
	CHECK(a.exit_code == 143 && !a.spooled && a.rollback_to == 0);
	tfa_buf_free(&out);
	tfa_capture_free(c);
	c = NULL;
	/* With a plan: the same facts as from a file. */
	CHECK_OK(tfa_capture_new_mem(&c, &ev, p, n, NULL, 0));
	build(&out, c, 2);
	CHECK(contains(&out, "\"counts\":{\"create\":3,"));
	tfa_buf_free(&out);
	tfa_capture_free(c);
	c = NULL;
	/* Bad inputs. */
	CHECK_RC(tfa_capture_new_mem(&c, &ev, (const uint8_t *)"nope", 4, NULL, 0), TFA_EFORMAT);
	CHECK(c == NULL);
	CHECK_RC(tfa_capture_new_mem(&c, &ev, p, n, (const uint8_t *)"{}", 2), TFA_EFORMAT);
	CHECK_RC(tfa_capture_new_mem(NULL, &ev, p, n, NULL, 0), TFA_EUSAGE);
	CHECK_RC(tfa_capture_new_mem(&c, NULL, p, n, NULL, 0), TFA_EUSAGE);
	ev.type = "deploy";
	CHECK_RC(tfa_capture_new_mem(&c, &ev, p, n, NULL, 0), TFA_EUSAGE);
	free(p);
	free(state);
}

/* ---- state before, plan source, drift, errored and binary plans --------------------------------
 */

static void test_capture_completeness(void)
{
	tfa_event ev = {"drift-check", "succeeded", 2};
	tfa_capture *c = NULL;
	tfa_buf out;
	size_t n, sn, en;
	uint8_t *drift = plan_bytes("show-drift.json", &n);
	uint8_t *errored = plan_bytes("show-plan-error.json", &en);
	char *state = tfa_test_read_fixture("terraform/states/show-basic-delete.tfstate", &sn);
	static const char outputs[] =
	    "{\"format_version\":\"1.2\",\"output_changes\":{"
	    "\"same\":{\"actions\":[\"no-op\"],\"before\":\"S1\",\"after\":\"S1\"},"
	    "\"moved\":{\"actions\":[\"update\"],\"before\":\"SECRET-B\",\"after\":\"SECRET-A\"}}}";
	static const uint8_t zip[] = {'P', 'K', 3, 4, 20, 0, 0, 0};
	static const char bad_addr[] =
	    "{\"format_version\":\"1\",\"resource_drift\":[{\"address\":1,\"change\":{"
	    "\"actions\":[\"update\"]}}]}";
	static const char bad_oc[] = "{\"format_version\":\"1\",\"output_changes\":[]}";
	tfa_artifact a;

	CHECK_OK(tfa_capture_new_mem(&c, &ev, NULL, 0, (const uint8_t *)state, sn));
	CHECK_OK(tfa_capture_set_state_before(c, (const uint8_t *)state, sn));
	CHECK_OK(tfa_capture_set_plan_source(c, "plan-first"));
	CHECK_RC(tfa_capture_set_plan_source(c, "guessed"), TFA_EUSAGE);
	CHECK_OK(tfa_capture_set_drift(c, drift, n));
	CHECK(!tfa_capture_plan_errored(c));
	build(&out, c, 2);
	CHECK(contains(&out, "\"state_before\":{\"lineage\":\"configuredUnchanged\",\"serial\":7,"
			     "\"sha256\":\"sha256:"));
	CHECK(contains(&out, "\"plan_source\":\"plan-first\""));
	CHECK(contains(&out, "\"drift\":{\"addresses\":[\"test_instance.should_refresh\"],"
			     "\"drifted\":true}"));
	CHECK_OK(tfa_artifact_parse(&a, out.data, out.len));
	tfa_buf_free(&out);
	/* Output changes name the output; no-op ones and every value are left out. */
	CHECK_OK(tfa_capture_set_drift(c, (const uint8_t *)outputs, strlen(outputs)));
	build(&out, c, 2);
	CHECK(contains(&out, "\"drift\":{\"addresses\":[\"output.moved\"],\"drifted\":true}"));
	CHECK(!contains(&out, "SECRET") && !contains(&out, "S1") && !contains(&out, "same"));
	tfa_buf_free(&out);
	/* Bad drift inputs. */
	CHECK_RC(tfa_capture_set_drift(c, (const uint8_t *)"{}", 2), TFA_EFORMAT);
	CHECK_RC(tfa_capture_set_drift(c, (const uint8_t *)bad_addr, strlen(bad_addr)),
		 TFA_EFORMAT);
	CHECK_RC(tfa_capture_set_drift(c, (const uint8_t *)bad_oc, strlen(bad_oc)), TFA_EFORMAT);
	CHECK_RC(tfa_capture_set_drift(c, zip, sizeof(zip)), TFA_EUSAGE);
	CHECK_RC(tfa_capture_set_state_before(c, (const uint8_t *)"{}", 2), TFA_EFORMAT);
	tfa_capture_free(c);
	c = NULL;
	/* An errored plan is captured and says so; a binary plan is a usage error that says what to
	 * do. */
	CHECK_OK(tfa_capture_new_mem(&c, &ev, errored, en, NULL, 0));
	CHECK(tfa_capture_plan_errored(c));
	tfa_capture_free(c);
	c = NULL;
	CHECK_RC(tfa_capture_new_mem(&c, &ev, zip, sizeof(zip), NULL, 0), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "terraform show -json") != NULL);
	CHECK_RC(tfa_capture_new_mem(&c, &ev, (const uint8_t *)"{\"a\0", 4, NULL, 0), TFA_EUSAGE);
	CHECK(c == NULL);
	free(drift);
	free(errored);
	free(state);
}

static void test_command_events(void)
{
	static const struct {
		const char *cmd;
		bool drift;
		const char *event; /* NULL: refused */
	} cases[] = {
	    {"terraform apply", false, "apply"},
	    {"terraform -chdir=x apply -auto-approve plan.bin", false, "apply"},
	    {"terraform apply -destroy", false, "destroy"},
	    {"terraform apply -destroy=false", false, "apply"},
	    {"terraform destroy -auto-approve", false, "destroy"},
	    {"terraform apply -refresh-only -auto-approve", false, "refresh"},
	    {"terraform apply -refresh-only=true", false, "refresh"},
	    {"terraform import -var x=1 a.b id", false, "import"},
	    {"terraform state rm a.b", false, "state-rm"},
	    {"terraform state mv -state-out=o.tfstate a.b a.c", false, "state-mv"},
	    {"terraform state push -force x.tfstate", false, "state-push"},
	    {"tofu -chdir=y state push -", false, "state-push"},
	    {"terraform state rm -dry-run a.b", false, NULL},
	    {"terraform state list", false, NULL},
	    {"terraform state pull", false, NULL},
	    {"terraform state", false, NULL},
	    {"terraform plan", false, NULL},
	    {"terraform plan -refresh-only", false, NULL},
	    {"terraform -chdir=x", false, NULL},
	    {"terraform refresh", false, NULL},
	    {"terraform plan -refresh-only -detailed-exitcode", true, "drift-check"},
	    {"terraform -chdir=x plan -var-file f -refresh-only", true, "drift-check"},
	    {"terraform plan -detailed-exitcode", true, NULL},
	    {"terraform plan -var -refresh-only", true, NULL}, /* -refresh-only is -var's value */
	    {"terraform apply -refresh-only", true, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[256], *argv[16], *save = NULL;
		int argc = 0;
		const char *ev = NULL;
		tfa_err rc;

		snprintf(buf, sizeof(buf), "%s", cases[i].cmd);
		for (char *t = strtok_r(buf, " ", &save); t && argc < 15;
		     t = strtok_r(NULL, " ", &save))
			argv[argc++] = t;
		argv[argc] = NULL;
		rc = tfa_workflow_command_event(&ev, cases[i].drift, argc, argv);
		if (cases[i].event ? rc != TFA_OK || strcmp(ev, cases[i].event) != 0
				   : rc != TFA_EUSAGE) {
			fprintf(stderr, "case %zu (%s): rc %d, event %s\n", i, cases[i].cmd, rc,
				rc == TFA_OK ? ev : "-");
			CHECK(0);
		}
		if (!cases[i].drift) {
			bool destroy = true;
			CHECK_RC(tfa_workflow_check_command(&destroy, argc, argv),
				 cases[i].event ? TFA_OK : TFA_EUSAGE);
			if (cases[i].event)
				CHECK(destroy == (strcmp(cases[i].event, "destroy") == 0));
		}
	}
	CHECK_RC(tfa_workflow_command_event(NULL, false, 0, NULL), TFA_EUSAGE);
}

/* ---- rollback and spool members ---------------------------------------------------------------
 */

static void test_rollback_member(void)
{
	tfa_event ev = {"rollback", NULL, 0}, ap = {"apply", NULL, 0};
	tfa_capture *c = NULL;
	tfa_buf out;
	tfa_artifact a;

	CHECK_OK(tfa_capture_new_mem(&c, &ap, NULL, 0, NULL, 0));
	CHECK_RC(tfa_capture_set_rollback(c, 1, PREV), TFA_EUSAGE); /* not a rollback */
	tfa_capture_free(c);
	c = NULL;
	CHECK_OK(tfa_capture_new_mem(&c, &ev, NULL, 0, NULL, 0));
	CHECK_RC(tfa_capture_set_rollback(c, 0, PREV), TFA_EUSAGE);
	CHECK_RC(tfa_capture_set_rollback(c, 1, "sha256:00"), TFA_EFORMAT);
	CHECK_OK(tfa_capture_set_rollback(c, 1, PREV));
	CHECK_OK(tfa_capture_set_rollback(c, 2, PREV)); /* replaces, never duplicates */
	build(&out, c, 3);
	CHECK(contains(&out, "\"rollback_to\":{\"hash\":\"" PREV "\",\"seq\":2}"));
	CHECK_OK(tfa_artifact_parse(&a, out.data, out.len));
	CHECK(a.rollback_to == 2);
	tfa_buf_free(&out);
	/* The target must be earlier than the record itself. */
	build(&out, c, 2);
	CHECK_RC(tfa_artifact_parse(&a, out.data, out.len), TFA_EFORMAT);
	CHECK(strstr(tfa_error_last()->message, "not earlier") != NULL);
	tfa_buf_free(&out);
	tfa_capture_free(c);
}

/* Artifact bytes with one member of event replaced by raw JSON. */
static void artifact_with_event(tfa_buf *out, const char *member_json)
{
	tfa_event ev = {"rollback", NULL, 0};
	tfa_capture *c = NULL;
	tfa_buf b;
	char *text, *at;
	cJSON *doc;

	CHECK_OK(tfa_capture_new_mem(&c, &ev, NULL, 0, NULL, 0));
	build(&b, c, 5);
	doc = cJSON_ParseWithLength((const char *)b.data, b.len);
	cJSON_AddItemToObject(cJSON_GetObjectItem(doc, "event"), "x", cJSON_CreateNull());
	text = cJSON_PrintUnformatted(doc);
	at = strstr(text, "\"x\":null");
	tfa_buf_init(out, 0);
	CHECK_OK(tfa_buf_append(out, text, (size_t)(at - text)));
	CHECK_OK(tfa_buf_puts(out, member_json));
	CHECK_OK(tfa_buf_puts(out, at + strlen("\"x\":null")));
	{
		tfa_buf canon;
		tfa_buf_init(&canon, 0);
		if (tfa_jcs_canonicalize(&canon, out->data, out->len) == TFA_OK) {
			tfa_buf_clear(out);
			CHECK_OK(tfa_buf_append(out, canon.data, canon.len));
		}
		tfa_buf_free(&canon);
	}
	cJSON_free(text);
	cJSON_Delete(doc);
	tfa_buf_free(&b);
	tfa_capture_free(c);
}

static void test_artifact_new_members(void)
{
	static const struct {
		const char *json;
		tfa_err want;
	} cases[] = {
	    {"\"spool\":{\"deployed_at\":\"2024-02-29T12:00:00Z\",\"id\":\"" ID
	     "\",\"spooled_at\":\"2024-02-29T12:00:01Z\"}",
	     TFA_OK},
	    {"\"spool\":{\"deployed_at\":\"2024-02-29T12:00:00Z\",\"id\":\"" ID
	     "\",\"spooled_at\":\"yesterday\"}",
	     TFA_EFORMAT},
	    {"\"spool\":{\"deployed_at\":\"2024-02-29T12:00:00Z\",\"id\":\"0123\","
	     "\"spooled_at\":\"2024-02-29T12:00:01Z\"}",
	     TFA_EFORMAT},
	    {"\"spool\":{\"deployed_at\":\"2024-02-29T12:00:00Z\",\"id\":"
	     "\"0123456789ABCDEF0123456789abcdef\","
	     "\"spooled_at\":\"2024-02-29T12:00:01Z\"}",
	     TFA_EFORMAT},
	    {"\"spool\":{\"id\":\"" ID "\",\"spooled_at\":\"2024-02-29T12:00:01Z\"}", TFA_EFORMAT},
	    {"\"spool\":true", TFA_EFORMAT},
	    {"\"rollback_to\":{\"hash\":\"" PREV "\",\"seq\":4}", TFA_OK},
	    {"\"rollback_to\":{\"hash\":\"" PREV "\",\"seq\":5}", TFA_EFORMAT},
	    {"\"rollback_to\":{\"hash\":\"" PREV "\",\"seq\":0}", TFA_EFORMAT},
	    {"\"rollback_to\":{\"hash\":\"sha256:xyz\",\"seq\":1}", TFA_EFORMAT},
	    {"\"rollback_to\":{\"seq\":1}", TFA_EFORMAT},
	    {"\"rollback_to\":1", TFA_EFORMAT},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tfa_buf b;
		tfa_artifact a;
		artifact_with_event(&b, cases[i].json);
		if (tfa_artifact_parse(&a, b.data, b.len) != cases[i].want) {
			fprintf(stderr, "case %zu: %s\n", i, tfa_error_last()->message);
			CHECK(0);
		}
		if (cases[i].want == TFA_OK && i == 0) {
			CHECK(a.spooled);
			CHECK_STREQ(a.spool_id, ID);
			CHECK(a.deployed_at == 1709208000 && a.spooled_at == 1709208001);
		}
		tfa_buf_free(&b);
	}
}

/* ---- serialised captures ----------------------------------------------------------------------
 */

static void test_serialize_roundtrip(void)
{
	tfa_event ev = {"rollback", "failed", 1};
	tfa_capture *c = NULL, *d = NULL;
	tfa_buf s, a1, a2;
	size_t n;
	uint8_t *p = plan_bytes("show-requires-replace.json", &n);

	tfa_buf_init(&s, 0);
	CHECK_OK(tfa_capture_new_mem(&c, &ev, p, n, NULL, 0));
	CHECK_OK(tfa_capture_set_rollback(c, 1, PREV));
	CHECK_OK(tfa_capture_set_spool(c, ID, NOW - 10, NOW));
	CHECK_STREQ(tfa_capture_spool_id(c), ID);
	CHECK(tfa_capture_spooled_at(c) == NOW);
	CHECK_OK(tfa_capture_serialize(&s, c));
	CHECK(contains(&s, "\"type\":\"tfattest.capture\""));
	CHECK_OK(tfa_capture_deserialize(&d, s.data, s.len));
	build(&a1, c, 7);
	build(&a2, d, 7);
	CHECK(a1.len == a2.len && memcmp(a1.data, a2.data, a1.len) == 0);
	CHECK(contains(&a2, "\"spool\":{\"deployed_at\":\"2024-02-29T12:34:46Z\",\"id\":\"" ID
			    "\",\"spooled_at\":\"2024-02-29T12:34:56Z\"}"));
	CHECK_STREQ(tfa_capture_event_type(d), "rollback");
	CHECK_RC(tfa_capture_set_spool(c, "XYZ", 0, 0), TFA_EUSAGE);
	CHECK(tfa_capture_spool_id(NULL) == NULL);
	tfa_buf_free(&a1);
	tfa_buf_free(&a2);
	tfa_buf_free(&s);
	tfa_capture_free(c);
	tfa_capture_free(d);
	free(p);
}

static void test_deserialize_rejects(void)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{}",
	    "{\"context\":{},\"event\":{\"exit_code\":0,\"status\":\"succeeded\",\"type\":"
	    "\"apply\"},"
	    "\"schema_version\":1,\"terraform\":{},\"type\":\"tfattest.artifact\"}",
	    "{\"context\":{},\"event\":{\"exit_code\":0,\"status\":\"succeeded\",\"type\":"
	    "\"apply\"},"
	    "\"schema_version\":2,\"terraform\":{},\"type\":\"tfattest.capture\"}",
	    "{\"context\":{},\"event\":{\"exit_code\":0,\"status\":\"done\",\"type\":\"apply\"},"
	    "\"schema_version\":1,\"terraform\":{},\"type\":\"tfattest.capture\"}",
	    "{\"context\":{},\"event\":{\"exit_code\":0.5,\"status\":\"succeeded\",\"type\":"
	    "\"apply\"},"
	    "\"schema_version\":1,\"terraform\":{},\"type\":\"tfattest.capture\"}",
	    "{\"event\":{\"exit_code\":0,\"status\":\"succeeded\",\"type\":\"apply\"},"
	    "\"schema_version\":1,\"terraform\":{},\"type\":\"tfattest.capture\"}",
	    "{\"context\":[],\"event\":{\"exit_code\":0,\"status\":\"succeeded\",\"type\":"
	    "\"apply\"},"
	    "\"schema_version\":1,\"terraform\":{},\"type\":\"tfattest.capture\"}",
	    "{\"context\":{},\"event\":{\"exit_code\":0,\"status\":\"succeeded\",\"type\":"
	    "\"apply\"},"
	    "\"extra\":1,\"schema_version\":1,\"terraform\":{},\"type\":\"tfattest.capture\"}",
	    "{\"type\":\"tfattest.capture\",\"type\":\"tfattest.capture\"}",
	};
	static const char good[] =
	    "{\"context\":{},\"event\":{\"exit_code\":0,\"status\":\"succeeded\",\"type\":"
	    "\"apply\"},"
	    "\"schema_version\":1,\"terraform\":{},\"type\":\"tfattest.capture\"}";
	tfa_capture *c = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tfa_capture_deserialize(&c, (const uint8_t *)bad[i], strlen(bad[i])) ==
		    TFA_OK) {
			fprintf(stderr, "accepted: %s\n", bad[i]);
			CHECK(0);
		}
		CHECK(c == NULL);
	}
	CHECK_OK(tfa_capture_deserialize(&c, (const uint8_t *)good, strlen(good)));
	tfa_capture_free(c);
	CHECK_RC(tfa_capture_deserialize(&c, NULL, 0), TFA_EFORMAT);
}

/* ---- chain helpers, history -------------------------------------------------------------------
 */

static void test_record_hash_and_history(void)
{
	tfa_store *st = new_store("hist");
	tfa_history *h = NULL;
	tfa_buf art, rec, sig;
	tfa_artifact m;
	char hash[TFA_FPR_STRLEN], h1[TFA_FPR_STRLEN];
	const uint8_t *der;
	size_t dlen;
	uint64_t n = 0;
	uint8_t d[TFA_SHA256_LEN];

	tfa_buf_init(&art, 0);
	tfa_buf_init(&rec, 0);
	tfa_buf_init(&sig, 0);
	CHECK_RC(tfa_chain_record_hash(h1, st, key(), 1), TFA_ENOTFOUND);
	append_plan(st, "show-basic-create.json", "apply", 0);
	append_plan(st, "show-basic-delete.json", "apply", 0);
	append_plan(st, "show-basic-create.json", "rollback", 1);
	CHECK_OK(tfa_chain_record_hash(h1, st, key(), 1));
	CHECK_OK(tfa_store_get(st, 1, &rec, &sig));
	tfa_sha256(d, rec.data, rec.len);
	tfa_hash_str(hash, d);
	CHECK_STREQ(h1, hash);

	der = tfa_signer_spki(key(), &dlen);
	CHECK_OK(tfa_history_open(&h, st, der, dlen));
	CHECK_STREQ(tfa_history_chain_id(h), "wf");
	CHECK(tfa_history_head(h) == 3);
	for (;;) {
		tfa_err rc = tfa_history_next(h, &art, &m, hash);
		if (rc == TFA_ENOTFOUND)
			break;
		CHECK_OK(rc);
		n++;
		CHECK(m.seq == n);
		if (n == 1)
			CHECK_STREQ(hash, h1);
		if (n == 3) {
			CHECK(m.rollback_to == 1);
			CHECK(tfa_hash_parse(d, h1, strlen(h1)) == TFA_OK &&
			      memcmp(d, m.rollback_hash, TFA_SHA256_LEN) == 0);
		}
	}
	CHECK(n == 3);
	CHECK_OK(tfa_history_get(h, 2, &art, &m, hash));
	CHECK(m.seq == 2);
	CHECK_RC(tfa_history_get(h, 4, &art, &m, hash), TFA_ENOTFOUND);
	CHECK_RC(tfa_history_get(h, 0, &art, &m, hash), TFA_EUSAGE);
	tfa_history_free(h);
	h = NULL;
	/* PEM works too; another key is refused. */
	{
		tfa_buf pem;
		EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		uint8_t *o = NULL;
		int ol;
		tfa_buf_init(&pem, 0);
		CHECK_OK(tfa_spki_to_pem(&pem, der, dlen));
		CHECK_OK(tfa_history_open(&h, st, pem.data, pem.len));
		tfa_history_free(h);
		h = NULL;
		ol = i2d_PUBKEY(k, &o);
		CHECK(ol > 0);
		CHECK_RC(tfa_history_open(&h, st, o, (size_t)ol), TFA_EVERIFY);
		CHECK(h == NULL);
		CHECK_RC(tfa_history_open(&h, st, (const uint8_t *)"junk", 4), TFA_EFORMAT);
		OPENSSL_free(o);
		EVP_PKEY_free(k);
		tfa_buf_free(&pem);
	}
	CHECK_RC(tfa_chain_record_hash(h1, st, key(), 9), TFA_ENOTFOUND);
	tfa_buf_free(&art);
	tfa_buf_free(&rec);
	tfa_buf_free(&sig);
	tfa_store_free(st);
}

/* ---- spool ------------------------------------------------------------------------------------
 */

static void count_line(void *ud, const char *text)
{
	(void)text;
	(*(int *)ud)++;
}

static void test_spool_write_flush(void)
{
	tfa_store *st = new_store("spst");
	char *dir = tfa_test_path(scratch(), "spool/nested"), *path = NULL, *path2 = NULL;
	tfa_event ev = {NULL, NULL, 0};
	tfa_capture *c = NULL;
	tfa_spool_result r;
	struct stat sb;
	uint64_t head = 0, found = 0;
	int lines = 0;
	char first_id[33];

	CHECK_OK(tfa_capture_new_mem(&c, &ev, NULL, 0, NULL, 0));
	CHECK_OK(tfa_spool_write(&path, dir, c, "wf", (int64_t)NOW * 1000000000));
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	CHECK(strstr(path, "/01709210096000000000-wf-") != NULL);
	CHECK(tfa_capture_spool_id(c) != NULL);
	snprintf(first_id, sizeof(first_id), "%s", tfa_capture_spool_id(c));
	CHECK_OK(tfa_spool_write(&path2, dir, c, "other", (int64_t)NOW * 1000000000 + 1));
	CHECK_RC(tfa_spool_write(NULL, dir, c, "bad/chain", 0), TFA_EFORMAT);
	/* An append whose unlink never happened: the flush finds it and does not repeat it. */
	{
		tfa_buf raw;
		tfa_capture *d = NULL;
		tfa_buf_init(&raw, 0);
		CHECK_OK(tfa_buf_read_file(&raw, path, 1 << 20));
		CHECK_OK(tfa_capture_deserialize(&d, raw.data, raw.len));
		CHECK_OK(tfa_chain_append(NULL, st, key(), TFA_ALG_NONE, d));
		tfa_capture_free(d);
		tfa_buf_free(&raw);
	}
	CHECK_OK(tfa_spool_flush(&r, dir, st, key(), TFA_ALG_NONE, count_line, &lines));
	CHECK(r.appended == 0 && r.already == 1 && r.other == 1 && lines == 1);
	CHECK(access(path, F_OK) != 0);
	CHECK(access(path2, F_OK) == 0);
	CHECK_OK(tfa_store_head(st, &head));
	CHECK(head == 1);
	CHECK_OK(tfa_chain_find_spool_id(&found, st, first_id, 0, 10));
	CHECK(found == 1);
	CHECK_OK(tfa_chain_find_spool_id(&found, st, ID, 0, 10));
	CHECK(found == 0);
	/* A fresh spool file is appended once. */
	free(path);
	path = NULL;
	CHECK_OK(tfa_spool_write(&path, dir, c, "wf", (int64_t)NOW * 1000000000 + 2));
	CHECK_OK(tfa_spool_flush(&r, dir, st, key(), TFA_ALG_NONE, NULL, NULL));
	CHECK(r.appended == 1 && r.already == 0);
	CHECK_OK(tfa_spool_flush(&r, dir, st, key(), TFA_ALG_NONE, NULL, NULL));
	CHECK(r.appended == 0 && r.already == 0 && r.other == 1);
	CHECK_OK(tfa_store_head(st, &head));
	CHECK(head == 2);
	/* No spool directory at all is an empty spool. */
	{
		char *none = tfa_test_path(scratch(), "never");
		CHECK_OK(tfa_spool_flush(&r, none, st, key(), TFA_ALG_NONE, NULL, NULL));
		CHECK(r.appended == 0);
		free(none);
	}
	/* The directory from the environment. */
	{
		char *d = NULL;
		setenv("TFATTEST_SPOOL", "/x/y", 1);
		CHECK_OK(tfa_spool_dir(&d));
		CHECK_STREQ(d, "/x/y");
		free(d);
		unsetenv("TFATTEST_SPOOL");
		setenv("XDG_STATE_HOME", "/state", 1);
		CHECK_OK(tfa_spool_dir(&d));
		CHECK_STREQ(d, "/state/tfattest/spool");
		free(d);
		unsetenv("XDG_STATE_HOME");
		setenv("HOME", "/home/u", 1);
		CHECK_OK(tfa_spool_dir(&d));
		CHECK_STREQ(d, "/home/u/.local/state/tfattest/spool");
		free(d);
	}
	free(path);
	free(path2);
	free(dir);
	tfa_capture_free(c);
	tfa_store_free(st);
}

/* ---- ID-token payloads ------------------------------------------------------------------------
 */

static void test_jwt_payload(void)
{
	/* {"alg":"none"} . {"iss":"i","sub":"s","n":1} . sig */
	static const char good[] = "eyJhbGciOiJub25lIn0.eyJpc3MiOiJpIiwic3ViIjoicyIsIm4iOjF9.c2ln";
	static const char *const bad[] = {
	    "",
	    "abc",
	    "a.b",
	    "a.b.c.d",
	    "a..c",
	    "eyJhbGciOiJub25lIn0.!!!.c2ln",
	    "eyJhbGciOiJub25lIn0.W10.c2ln",		 /* [] */
	    "eyJhbGciOiJub25lIn0.eyJpc3MiOiJpIn0=.c2ln", /* padding */
	    "eyJhbGciOiJub25lIn0.eyJpc3MiOiJpIn1.c2ln",	 /* non-canonical trailing bits */
	    "eyJhbGciOiJub25lIn0.e.c2ln",		 /* impossible length */
	};
	cJSON *o = NULL;

	CHECK_OK(tfa_jwt_payload(&o, good, strlen(good)));
	CHECK_STREQ(cJSON_GetObjectItem(o, "iss")->valuestring, "i");
	CHECK_STREQ(cJSON_GetObjectItem(o, "sub")->valuestring, "s");
	cJSON_Delete(o);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = NULL;
		if (tfa_jwt_payload(&o, bad[i], strlen(bad[i])) != TFA_EFORMAT) {
			fprintf(stderr, "accepted: %s\n", bad[i]);
			CHECK(0);
		}
		CHECK(o == NULL);
	}
	{
		char *big = malloc(TFA_JWT_MAX + 2);
		memset(big, 'a', TFA_JWT_MAX + 1);
		big[1] = '.';
		big[5] = '.';
		big[TFA_JWT_MAX + 1] = '\0';
		CHECK_RC(tfa_jwt_payload(&o, big, TFA_JWT_MAX + 1), TFA_EFORMAT);
		free(big);
	}
}

static void test_oidc_fetch_refuses(void)
{
	tfa_buf tok;

	tfa_buf_init(&tok, 0);
	CHECK_RC(tfa_oidc_fetch(&tok, "http://127.0.0.1:1/token", "b", "tfattest"), TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "not https://") != NULL);
	CHECK_RC(tfa_oidc_fetch(&tok, "https://127.0.0.1:1/token", "b", "tfattest"), TFA_EIO);
	CHECK(tok.len == 0);
	CHECK_RC(tfa_oidc_fetch(&tok, NULL, "b", "tfattest"), TFA_EUSAGE);
	tfa_buf_free(&tok);
}

/* ---- the apply workflow (tfattest/workflow.h), with the Terraform stand-in ------------------ */

typedef struct lines {
	char text[8][4096];
	int n;
} lines;

static void keep_line(void *ud, const char *text)
{
	lines *l = ud;

	if (l->n < 8)
		snprintf(l->text[l->n], sizeof(l->text[0]), "%s", text);
	l->n++;
}

/* An apply workspace: a store with chain "wf", a saved plan, the stand-in, a spool. */
typedef struct apply_env {
	char *dir, *store, *keyuri, *spool, *tf, *cwd;
	char *argv[5];
	tfa_workflow_opts o;
} apply_env;

static void apply_env_open(apply_env *e)
{
	const char *src = getenv("TFA_SOURCE_DIR");
	tfa_store *st;
	size_t n;

	memset(e, 0, sizeof(*e));
	e->dir = tfa_test_path(scratch(), "apply");
	CHECK(mkdir(e->dir, 0700) == 0);
	e->store = tfa_test_path(e->dir, "store");
	e->spool = tfa_test_path(e->dir, "spool");
	e->keyuri = malloc(strlen(scratch()) + 32);
	sprintf(e->keyuri, "file:%s/key.pem", scratch());
	e->tf = tfa_test_path(src ? src : ".", "tests/integration/standin/terraform");
	e->cwd = getcwd(NULL, 0);
	CHECK_OK(tfa_store_open(&st, e->store));
	CHECK_OK(tfa_chain_init(st, "wf", key()));
	tfa_store_free(st);
	n = strlen("show-basic-create.json\n");
	tfa_test_put_file(e->dir, "plan.bin", "show-basic-create.json\n", n);
	CHECK(chdir(e->dir) == 0); /* the stand-in works in the current directory */
	setenv("TFATTEST_SPOOL", e->spool, 1);
	e->argv[0] = e->tf;
	e->argv[1] = "apply";
	e->argv[2] = "-auto-approve";
	e->argv[3] = "plan.bin";
	e->argv[4] = NULL;
	e->o.store = e->store;
	e->o.key = e->keyuri;
	e->o.argc = 4;
	e->o.argv = e->argv;
}

static void apply_env_close(apply_env *e)
{
	CHECK(chdir(e->cwd) == 0);
	unsetenv("TFATTEST_SPOOL");
	unsetenv("STANDIN_MODE");
	unsetenv("STANDIN_STORE");
	tfa_test_rmtree(e->dir);
	free(e->dir);
	free(e->store);
	free(e->spool);
	free(e->keyuri);
	free(e->tf);
	free(e->cwd);
}

static uint64_t head_of(const char *store)
{
	tfa_store *st = NULL;
	uint64_t head = 0;

	CHECK_OK(tfa_store_open(&st, store));
	CHECK_OK(tfa_store_head(st, &head));
	tfa_store_free(st);
	return head;
}

static void test_apply_recorded_and_failed(void)
{
	apply_env e;
	tfa_workflow_result *r = NULL;
	lines l = {.n = 0};
	char want[8192];

	apply_env_open(&e);
	CHECK_OK(tfa_workflow_apply(&r, &e.o));
	CHECK(r && r->outcome == TFA_WF_RECORDED);
	if (r) {
		CHECK(r->seq == 1 && r->exit_status == 0 && r->tf_exit == 0 && r->tf_signal == 0);
		CHECK_STREQ(r->event, "apply");
		tfa_workflow_report(r, keep_line, &l);
		snprintf(want, sizeof(want),
			 "tfattest: recorded seq 1 (apply, succeeded, exit 0) in %s (idempotency "
			 "key %s)",
			 e.store, r->idempotency_key);
		CHECK(strlen(r->idempotency_key) == 32 &&
		      strspn(r->idempotency_key, "0123456789abcdef") == 32);
		CHECK(l.n == 1);
		CHECK_STREQ(l.text[0], want);
	}
	tfa_workflow_result_free(r);
	r = NULL;

	/* A failed Terraform run is recorded too, and its code is the exit status. */
	setenv("STANDIN_MODE", "fail", 1);
	CHECK_OK(tfa_workflow_apply(&r, &e.o));
	CHECK(r && r->outcome == TFA_WF_RECORDED);
	if (r) {
		CHECK(r->seq == 2 && r->exit_status == 1 && r->tf_exit == 1);
		l.n = 0;
		tfa_workflow_report(r, keep_line, &l);
		CHECK(l.n == 1 &&
		      strstr(l.text[0], "recorded seq 2 (apply, failed, exit 1)") != NULL);
	}
	tfa_workflow_result_free(r);
	CHECK(head_of(e.store) == 2);
	apply_env_close(&e);
}

static void test_apply_not_run(void)
{
	apply_env e;
	tfa_workflow_result *r = NULL;
	tfa_signer *other = NULL;
	char *otheruri;
	lines l = {.n = 0};
	char *plan_cmd[] = {"terraform", "plan", NULL};
	bool destroy = false;

	apply_env_open(&e);
	/* Not an apply: a usage error, and no result. */
	CHECK_RC(tfa_workflow_check_command(&destroy, 2, plan_cmd), TFA_EUSAGE);
	CHECK_OK(tfa_workflow_check_command(&destroy, 4, e.argv));
	CHECK(!destroy);
	e.o.rollback_to = 1;
	CHECK_RC(tfa_workflow_apply(&r, &e.o), TFA_EUSAGE);
	CHECK(r == NULL);
	e.o.rollback_to = 0;

	/* The program is not there. */
	e.argv[0] = "/nonexistent/terraform";
	CHECK_OK(tfa_workflow_apply(&r, &e.o));
	CHECK(r && r->outcome == TFA_WF_NOT_FOUND && r->exit_status == 2);
	tfa_workflow_report(r, keep_line, &l);
	CHECK(l.n == 1);
	CHECK_STREQ(l.text[0], "tfattest: error: /nonexistent/terraform: command not found; "
			       "nothing was deployed or recorded");
	tfa_workflow_result_free(r);
	e.argv[0] = e.tf;

	/* A key that is not the chain's. */
	other = tfa_test_new_file_signer(e.dir, "other.pem");
	otheruri = malloc(strlen(e.dir) + 32);
	sprintf(otheruri, "file:%s/other.pem", e.dir);
	e.o.key = otheruri;
	CHECK_OK(tfa_workflow_apply(&r, &e.o));
	CHECK(r && r->outcome == TFA_WF_WRONG_KEY && r->exit_status == 1);
	if (r) {
		CHECK_STREQ(r->key_fpr, tfa_signer_fingerprint(other));
		CHECK_STREQ(r->head_key, tfa_signer_fingerprint(key()));
		l.n = 0;
		tfa_workflow_report(r, keep_line, &l);
		CHECK(l.n == 2 && strstr(l.text[1], "was not run") != NULL);
	}
	tfa_workflow_result_free(r);
	e.o.key = e.keyuri;

	/* A rollback target that does not exist: refused with the error, exit 2. */
	e.o.event = "rollback";
	e.o.rollback_to = 99;
	CHECK_OK(tfa_workflow_apply(&r, &e.o));
	CHECK(r && r->outcome == TFA_WF_REFUSED && r->exit_status == 2);
	if (r) {
		CHECK(r->error.code == TFA_ENOTFOUND);
		l.n = 0;
		tfa_workflow_report(r, keep_line, &l);
		CHECK(l.n == 2);
		CHECK_STREQ(l.text[0], "tfattest: error: chain wf has no record 99");
	}
	tfa_workflow_result_free(r);
	CHECK(head_of(e.store) == 0);
	tfa_workflow_result_free(NULL);
	tfa_signer_free(other);
	free(otheruri);
	apply_env_close(&e);
}

/* The store goes away during the apply: the capture is spooled, and a flush appends it once. */
static void test_apply_spooled_and_flush(void)
{
	apply_env e;
	tfa_workflow_result *r = NULL;
	tfa_workflow_flush_result *f = NULL;
	lines l = {.n = 0};
	char *away;
	char want[8192];
	struct stat sb;

	apply_env_open(&e);
	away = malloc(strlen(e.store) + 8);
	sprintf(away, "%s.away", e.store);
	setenv("STANDIN_MODE", "moveaway", 1);
	setenv("STANDIN_STORE", e.store, 1);
	CHECK_OK(tfa_workflow_apply(&r, &e.o));
	CHECK(r && r->outcome == TFA_WF_SPOOLED);
	if (r) {
		CHECK(r->exit_status == 2 && r->tf_exit == 0 && r->error.code != TFA_OK);
		CHECK(r->spool_path && stat(r->spool_path, &sb) == 0 &&
		      (sb.st_mode & 0777) == 0600);
		tfa_workflow_report(r, keep_line, &l);
		CHECK(l.n == 2);
		CHECK(strstr(l.text[0], "ran (exit 0) but the deployment is NOT attested: ") !=
		      NULL);
		/* What to check and the flush into the same chain: never a new chain. */
		snprintf(want, sizeof(want),
			 "tfattest: its capture was spooled to %s; once the cause is fixed (a "
			 "store that is gone: check that %s is mounted and reachable), append it "
			 "with `tfattest record --flush-spool --store %s --key K`",
			 r->spool_path ? r->spool_path : "", e.store, e.store);
		CHECK_STREQ(l.text[1], want);
		CHECK(strstr(l.text[0], "tfattest init") == NULL &&
		      strstr(l.text[1], "tfattest init") == NULL);
	}
	tfa_workflow_result_free(r);
	r = NULL;
	CHECK(rename(away, e.store) == 0);

	/* Nowhere to spool either: said so, Terraform's code kept when it failed. */
	setenv("TFATTEST_SPOOL", "/proc/tfattest-no-spool", 1);
	CHECK_OK(tfa_workflow_apply(&r, &e.o));
	CHECK(r && r->outcome == TFA_WF_UNSPOOLED && r->exit_status == 2 && r->spool_path == NULL);
	if (r) {
		l.n = 0;
		tfa_workflow_report(r, keep_line, &l);
		CHECK(l.n == 2 &&
		      strstr(l.text[1], "error: and its capture could not be spooled: ") != NULL);
	}
	tfa_workflow_result_free(r);
	CHECK(rename(away, e.store) == 0);
	setenv("TFATTEST_SPOOL", e.spool, 1);
	CHECK(head_of(e.store) == 0);

	/* The flush appends the spooled capture, once. */
	l.n = 0;
	CHECK_OK(tfa_workflow_flush_spool(&f, &e.o, keep_line, &l));
	CHECK(f && f->counts.appended == 1 && f->counts.already == 0 && f->counts.other == 0);
	CHECK(l.n == 1 && strstr(l.text[0], "as seq 1") != NULL);
	if (f) {
		CHECK_STREQ(f->spool_dir, e.spool);
		l.n = 0;
		tfa_workflow_flush_report(f, keep_line, &l);
		snprintf(want, sizeof(want),
			 "spool %s: 1 appended, 0 already recorded, 0 for other chains left",
			 e.spool);
		CHECK(l.n == 1);
		CHECK_STREQ(l.text[0], want);
	}
	tfa_workflow_flush_result_free(f);
	f = NULL;
	CHECK(head_of(e.store) == 1);
	CHECK_OK(tfa_workflow_flush_spool(&f, &e.o, NULL, NULL));
	CHECK(f && f->counts.appended == 0);
	tfa_workflow_flush_result_free(f);
	f = NULL;
	/* A key that cannot be opened: an error, and no result. */
	e.o.key = "file:/nonexistent/key.pem";
	CHECK(tfa_workflow_flush_spool(&f, &e.o, NULL, NULL) != TFA_OK);
	CHECK(f == NULL);
	tfa_workflow_flush_result_free(NULL);
	free(away);
	apply_env_close(&e);
}

/*
 * A capture whose append landed though its answer was lost (so without a spool id), then
 * spooled: the flush recognises it by its idempotency key and does not append it again.
 */
static void test_spool_flush_finds_idempotency_key(void)
{
	tfa_store *st = new_store("spidem");
	char *dir = tfa_test_path(scratch(), "spool-idem"), *path = NULL;
	tfa_event ev = {NULL, NULL, 0};
	tfa_capture *c = NULL, *other = NULL;
	tfa_spool_result r;
	uint64_t head = 0, seq = 0;
	bool replayed = true;

	CHECK_OK(tfa_capture_new_mem(&c, &ev, NULL, 0, NULL, 0));
	CHECK_OK(tfa_capture_set_idempotency_key(c, "landed-0000000001"));
	CHECK_STREQ(tfa_capture_idempotency_key(c), "landed-0000000001");
	CHECK_OK(tfa_chain_append_once(&seq, &replayed, st, key(), TFA_ALG_NONE, c, true));
	CHECK(seq == 1 && !replayed);
	/* Appending the same key again, looking: found, nothing appended. */
	CHECK_OK(tfa_chain_append_once(&seq, &replayed, st, key(), TFA_ALG_NONE, c, true));
	CHECK(seq == 1 && replayed);
	/* Not looking (a key just drawn): appended. */
	CHECK_OK(tfa_capture_new_mem(&other, &ev, NULL, 0, NULL, 0));
	CHECK_OK(tfa_capture_set_idempotency_key(other, "fresh-00000000002"));
	CHECK_OK(tfa_chain_append_once(&seq, &replayed, st, key(), TFA_ALG_NONE, other, false));
	CHECK(seq == 2 && !replayed);
	CHECK_OK(tfa_spool_write(&path, dir, c, "wf", (int64_t)NOW * 1000000000));
	CHECK_OK(tfa_spool_flush(&r, dir, st, key(), TFA_ALG_NONE, NULL, NULL));
	CHECK(r.appended == 0 && r.already == 1);
	CHECK(access(path, F_OK) != 0);
	CHECK_OK(tfa_store_head(st, &head));
	CHECK(head == 2);
	CHECK_RC(tfa_capture_set_idempotency_key(c, "short"), TFA_EUSAGE);
	tfa_capture_free(c);
	tfa_capture_free(other);
	tfa_store_free(st);
	free(path);
	free(dir);
}

TFA_TEST_MAIN(T(test_capture_mem), T(test_capture_completeness), T(test_command_events),
	      T(test_rollback_member), T(test_artifact_new_members), T(test_serialize_roundtrip),
	      T(test_deserialize_rejects), T(test_record_hash_and_history),
	      T(test_spool_write_flush), T(test_spool_flush_finds_idempotency_key),
	      T(test_jwt_payload), T(test_oidc_fetch_refuses), T(test_apply_recorded_and_failed),
	      T(test_apply_not_run), T(test_apply_spooled_and_flush))
