/*
 * Reconcile: the state-facts reader (good and hostile bodies) and the
 * matching of state versions to a chain's records, with records that carry
 * terraform.state_before (gaps between records, writes during a run).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "capture/capture_int.h"
#include "capture/statefacts.h"
#include "format/hex.h"
#include "tfa_test.h"
#include "tfattest/chain.h"
#include "tfattest/history.h"
#include "tfattest/reconcile.h"
#include "tfattest/store.h"
#include "verify/crypto.h"

#define LIN_A "3a2b8c40-0000-4000-8000-00000000000a"
#define LIN_B "3a2b8c40-0000-4000-8000-00000000000b"

static tfa_err facts(tfa_state_facts *f, const char *body)
{
	return tfa_state_facts_parse(f, (const uint8_t *)body, strlen(body), "s");
}

static void test_facts_good(void)
{
	tfa_state_facts f;
	const char *body = "{\n  \"version\": 4,\n  \"terraform_version\": \"1.11.4\",\n"
			   "  \"serial\": 12,\n  \"lineage\": \"" LIN_A "\",\n"
			   "  \"outputs\": {\"secret\": {\"value\": \"hunter2\"}},\n"
			   "  \"resources\": []\n}\n";
	uint8_t d[TFA_SHA256_LEN];
	char path[] = "/tmp/tfa-facts.XXXXXX";
	int fd;

	CHECK_OK(facts(&f, body));
	CHECK_STREQ(f.lineage, LIN_A);
	CHECK(f.serial == 12);
	CHECK_STREQ(f.tf_version, "1.11.4");
	tfa_sha256(d, body, strlen(body));
	CHECK(memcmp(d, f.sha256, sizeof(d)) == 0);
	CHECK(f.size == strlen(body));
	/* The same from a file descriptor, hashed as it is read. */
	fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, body, strlen(body)) == (ssize_t)strlen(body));
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	memset(&f, 0xff, sizeof(f));
	CHECK_OK(tfa_state_facts_read_fd(&f, fd, path));
	CHECK(memcmp(d, f.sha256, sizeof(d)) == 0 && f.serial == 12);
	CHECK_STREQ(f.lineage, LIN_A);
	close(fd);
	unlink(path);
	/* No terraform_version, or an odd one: left out. */
	CHECK_OK(facts(&f, "{\"serial\":0,\"lineage\":\"x\"}"));
	CHECK(f.serial == 0 && f.tf_version[0] == '\0');
	CHECK_OK(facts(&f, "{\"serial\":1,\"lineage\":\"x\",\"terraform_version\":7}"));
	CHECK(f.tf_version[0] == '\0');
}

static void test_facts_bad(void)
{
	static const char *const bad[] = {
	    "",
	    "not json",
	    "[1,2]",
	    "\"str\"",
	    "{}",
	    "{\"serial\":1}",
	    "{\"lineage\":\"x\"}",
	    "{\"serial\":\"1\",\"lineage\":\"x\"}",
	    "{\"serial\":-1,\"lineage\":\"x\"}",
	    "{\"serial\":1.5,\"lineage\":\"x\"}",
	    "{\"serial\":1e300,\"lineage\":\"x\"}",
	    "{\"serial\":1,\"lineage\":\"\"}",
	    "{\"serial\":1,\"lineage\":7}",
	    "{\"serial\":1,\"lineage\":\"a\\u0000b\"}",
	    "{\"serial\":1,\"lineage\":\"x\",\"serial\":2}",
	    "{\"serial\":1,\"lineage\":\"x\"",
	    "{\"serial\":1,\"lineage\":\"x\"} trailing",
	    "\xef\xbb\xbf{\"serial\":1,\"lineage\":\"x\"}",
	    "{\"serial\":1,\"lineage\":\"\xff\"}",
	};
	tfa_state_facts f;
	char longlin[400];
	uint8_t d[TFA_SHA256_LEN];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tfa_err rc = facts(&f, bad[i]);
		if (rc != TFA_EFORMAT)
			fprintf(stderr, "case %zu accepted\n", i);
		CHECK_RC(rc, TFA_EFORMAT);
		/* Still named by its hash. */
		tfa_sha256(d, bad[i], strlen(bad[i]));
		CHECK(memcmp(d, f.sha256, sizeof(d)) == 0);
	}
	/* The message names the body. */
	CHECK_RC(tfa_state_facts_parse(&f, (const uint8_t *)"x", 1, "snap-7.tfstate"), TFA_EFORMAT);
	CHECK(strstr(tfa_error_last()->message, "snap-7.tfstate") != NULL);
	snprintf(longlin, sizeof(longlin), "{\"serial\":1,\"lineage\":\"%0300d\"}", 0);
	CHECK_RC(facts(&f, longlin), TFA_EFORMAT);
	CHECK_RC(tfa_state_facts_read_fd(&f, -1, "x"), TFA_EIO);
}

/* A chain in a temporary fs store, with records whose terraform section is set directly. */
typedef struct fixture {
	char *dir;
	tfa_store *st;
	tfa_signer *key;
} fixture;

static void fx_open(fixture *f)
{
	char *root;

	f->dir = tfa_test_tmpdir();
	f->key = tfa_test_new_file_signer(f->dir, "k.pem");
	root = tfa_test_path(f->dir, "store");
	CHECK_OK(tfa_store_open(&f->st, root));
	CHECK_OK(tfa_chain_init(f->st, "prod", f->key));
	free(root);
	root = tfa_test_path(f->dir, "snaps");
	CHECK(mkdir(root, 0700) == 0);
	free(root);
}

static void fx_close(fixture *f)
{
	char cmd[4200];

	tfa_store_free(f->st);
	tfa_signer_free(f->key);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	CHECK(system(cmd) == 0);
	free(f->dir);
}

/* The body of a state, and its "sha256:..." hash. */
static void state_body(char *out, size_t cap, const char *lin, int serial, const char *tag)
{
	snprintf(
	    out, cap,
	    "{\n  \"version\": 4,\n  \"terraform_version\": \"1.11.4\",\n  \"serial\": %d,\n"
	    "  \"lineage\": \"%s\",\n  \"outputs\": {},\n  \"resources\": [{\"tag\": \"%s\"}]\n}\n",
	    serial, lin, tag);
}

static void hash_of(char out[TFA_FPR_STRLEN], const char *body)
{
	uint8_t d[TFA_SHA256_LEN];
	tfa_sha256(d, body, strlen(body));
	tfa_hash_str(out, d);
}

static cJSON *state_obj(const char *lin, int serial, const char *tag)
{
	char body[512], h[TFA_FPR_STRLEN];
	cJSON *o = cJSON_CreateObject();

	state_body(body, sizeof(body), lin, serial, tag);
	hash_of(h, body);
	cJSON_AddStringToObject(o, "lineage", lin);
	cJSON_AddNumberToObject(o, "serial", serial);
	cJSON_AddStringToObject(o, "sha256", h);
	return o;
}

/* Appends a record whose state goes from (blin, bserial) to (alin, aserial); bserial < 0: none. */
static void append(fixture *f, const char *blin, int bserial, const char *alin, int aserial)
{
	tfa_event ev = {.type = "apply", .status = "succeeded", .exit_code = 0};
	tfa_capture *c = NULL;
	uint64_t seq;

	CHECK_OK(tfa_capture_new_mem(&c, &ev, NULL, 0, NULL, 0));
	if (c == NULL)
		return;
	if (bserial >= 0)
		cJSON_AddItemToObject(c->terraform, "state_before", state_obj(blin, bserial, "t"));
	if (aserial >= 0)
		cJSON_AddItemToObject(c->terraform, "state", state_obj(alin, aserial, "t"));
	CHECK_OK(tfa_chain_append(&seq, f->st, f->key, TFA_ALG_NONE, c));
	tfa_capture_free(c);
}

static void put_state(fixture *f, const char *name, const char *lin, int serial, const char *tag)
{
	char body[512], rel[128];

	state_body(body, sizeof(body), lin, serial, tag);
	snprintf(rel, sizeof(rel), "snaps/%s", name);
	tfa_test_put_file(f->dir, rel, body, strlen(body));
}

/* Reconciles the snaps directory; returns the parsed report. */
static cJSON *run(fixture *f, bool *complete, uint64_t *bodies)
{
	tfa_reconcile *r = NULL;
	tfa_history *h = NULL;
	tfa_buf rep;
	const uint8_t *spki;
	size_t len;
	char *snaps = tfa_test_path(f->dir, "snaps");
	cJSON *doc = NULL;

	tfa_buf_init(&rep, 0);
	spki = tfa_signer_spki(f->key, &len);
	CHECK_OK(tfa_history_open(&h, f->st, spki, len));
	CHECK_OK(tfa_reconcile_new(&r));
	CHECK_OK(tfa_reconcile_read_chain(r, h));
	CHECK_OK(tfa_reconcile_add_dir(r, snaps));
	CHECK_OK(tfa_reconcile_report(&rep, r));
	*complete = tfa_reconcile_complete(r);
	*bodies = tfa_reconcile_bodies_read(r);
	doc = cJSON_ParseWithLength((const char *)rep.data, rep.len);
	CHECK(doc != NULL);
	tfa_buf_free(&rep);
	tfa_reconcile_free(r);
	tfa_history_free(h);
	free(snaps);
	return doc;
}

static double sumnum(const cJSON *doc, const char *k)
{
	const cJSON *v =
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "summary"), k);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The version of serial s in lineage lin, or NULL. */
static const cJSON *version(const cJSON *doc, const char *lin, int s)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(doc, "versions"))
	{
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(v, "lineage");
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(v, "serial");
		if (cJSON_IsString(l) && strcmp(l->valuestring, lin) == 0 && cJSON_IsNumber(n) &&
		    n->valueint == s)
			return v;
	}
	return NULL;
}

static const char *vstr(const cJSON *v, const char *k)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(v, k);
	return cJSON_IsString(s) ? s->valuestring : "";
}

static int vnum(const cJSON *v, const char *k)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(v, k);
	return cJSON_IsNumber(s) ? s->valueint : -1;
}

static void test_match(void)
{
	fixture f;
	bool complete;
	uint64_t bodies;
	cJSON *doc;
	const cJSON *v;

	fx_open(&f);
	append(&f, NULL, -1, LIN_A, 1); /* seq 1: apply from nothing to A/1 */
	append(&f, LIN_A, 1, LIN_A, 4); /* seq 2: A/1 -> A/4 (A/2, A/3 written during it) */
	append(&f, LIN_A, 6, LIN_A, 7); /* seq 3: started from A/6: A/5..A/6 unrecorded */
	append(&f, NULL, -1, NULL, -1); /* seq 4: no state at all */
	append(&f, LIN_A, 7, LIN_B, 1); /* seq 5: a new lineage */
	put_state(&f, "a1", LIN_A, 1, "t");
	put_state(&f, "a1.copy", LIN_A, 1, "t"); /* the same state twice: listed once */
	put_state(&f, "a2", LIN_A, 2, "t");
	put_state(&f, "a4", LIN_A, 4, "t");
	put_state(&f, "a6", LIN_A, 6, "t");
	put_state(&f, "a7", LIN_A, 7, "other");	  /* same serial as seq 4, other content */
	put_state(&f, ".hidden", LIN_A, 99, "t"); /* skipped: a dot file */
	tfa_test_put_file(f.dir, "snaps/notes.txt", "hello", 5);
	doc = run(&f, &complete, &bodies);
	CHECK(!complete);
	CHECK(bodies == 7);
	CHECK(sumnum(doc, "records") == 5);
	CHECK(sumnum(doc, "records_with_state") == 4);
	CHECK(sumnum(doc, "versions") == 5);
	CHECK(sumnum(doc, "attested") == 3);
	CHECK(sumnum(doc, "unattested") == 2);
	CHECK(sumnum(doc, "unreadable") == 1);
	CHECK(sumnum(doc, "chain_gaps") == 1);
	CHECK(sumnum(doc, "lineage_changes") == 1);
	v = version(doc, LIN_A, 1);
	CHECK_STREQ(vstr(v, "status"), "attested");
	CHECK(vnum(v, "seq") == 1 && vnum(v, "also_in") == 1);
	v = version(doc, LIN_A, 2);
	CHECK_STREQ(vstr(v, "status"), "attested");
	CHECK(vnum(v, "seq") == 2 &&
	      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "intermediate")));
	v = version(doc, LIN_A, 6);
	CHECK_STREQ(vstr(v, "status"), "unattested");
	CHECK_STREQ(vstr(v, "reason"), "no-record");
	CHECK(vnum(v, "seq_before") == 2 && vnum(v, "seq_after") == 3);
	CHECK(vnum(v, "state_before_of") == 3);
	v = version(doc, LIN_A, 7);
	CHECK_STREQ(vstr(v, "status"), "unattested");
	CHECK_STREQ(vstr(v, "reason"), "content-differs");
	CHECK(vnum(v, "record_same_serial") == 3);
	CHECK(version(doc, LIN_A, 99) == NULL);
	v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "chain_gaps"), 0);
	CHECK(vnum(v, "seq_before") == 2 && vnum(v, "serial_after_it") == 4);
	CHECK(vnum(v, "seq_after") == 3 && vnum(v, "serial_before_it") == 6);
	v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "lineage_changes"), 0);
	CHECK(vnum(v, "seq") == 5);
	CHECK_STREQ(vstr(v, "from"), LIN_A);
	CHECK_STREQ(vstr(v, "to"), LIN_B);
	/* seq 3's after-state A/7 is within the sources' range but they hold other content. */
	v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "records_missing"), 0);
	CHECK(vnum(v, "seq") == 3 && vnum(v, "serial") == 7);
	cJSON_Delete(doc);
	fx_close(&f);
}

static void test_complete(void)
{
	fixture f;
	bool complete;
	uint64_t bodies;
	cJSON *doc;
	tfa_reconcile *r = NULL;
	tfa_buf sum;

	fx_open(&f);
	append(&f, NULL, -1, LIN_A, 1);
	append(&f, LIN_A, 1, LIN_A, 3);
	put_state(&f, "a1", LIN_A, 1, "t");
	put_state(&f, "a2", LIN_A, 2, "t");
	put_state(&f, "a3", LIN_A, 3, "t");
	doc = run(&f, &complete, &bodies);
	CHECK(complete);
	CHECK(bodies == 3 && sumnum(doc, "attested") == 3 && sumnum(doc, "unattested") == 0);
	cJSON_Delete(doc);
	/* No source read: not complete. */
	CHECK_OK(tfa_reconcile_new(&r));
	CHECK(!tfa_reconcile_complete(r));
	tfa_buf_init(&sum, 0);
	CHECK_OK(tfa_reconcile_summary(&sum, r));
	CHECK(strstr((const char *)sum.data, "\"complete\":false") != NULL);
	tfa_buf_free(&sum);
	tfa_reconcile_free(r);
	fx_close(&f);
}

static void test_summary_bounded(void)
{
	fixture f;
	tfa_reconcile *r = NULL;
	tfa_history *h = NULL;
	tfa_buf sum;
	const uint8_t *spki;
	size_t len;
	char *snaps;
	cJSON *doc;

	fx_open(&f);
	append(&f, NULL, -1, LIN_A, 1);
	for (int i = 2; i < 2 + 300; i++) {
		char n[32];
		snprintf(n, sizeof(n), "s%04d", i);
		put_state(&f, n, LIN_A, i, "t");
	}
	snaps = tfa_test_path(f.dir, "snaps");
	spki = tfa_signer_spki(f.key, &len);
	tfa_buf_init(&sum, 0);
	CHECK_OK(tfa_history_open(&h, f.st, spki, len));
	CHECK_OK(tfa_reconcile_new(&r));
	CHECK_OK(tfa_reconcile_read_chain(r, h));
	CHECK_RC(tfa_reconcile_read_chain(r, h), TFA_EUSAGE);
	CHECK_OK(tfa_reconcile_add_dir(r, snaps));
	CHECK_OK(tfa_reconcile_summary(&sum, r));
	doc = cJSON_ParseWithLength((const char *)sum.data, sum.len);
	CHECK(doc != NULL);
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "gaps")) == 256);
	CHECK(cJSON_GetObjectItemCaseSensitive(doc, "gaps_omitted")->valueint == 44);
	CHECK(cJSON_GetObjectItemCaseSensitive(doc, "unattested")->valueint == 300);
	/* It fits a record. */
	{
		tfa_event ev = {.type = "reconcile", .status = "succeeded", .exit_code = 1};
		tfa_capture *c = NULL;
		uint64_t seq = 0;
		CHECK_OK(tfa_capture_new_mem(&c, &ev, NULL, 0, NULL, 0));
		CHECK_OK(tfa_capture_set_reconcile(c, sum.data, sum.len));
		CHECK_OK(tfa_chain_append(&seq, f.st, f.key, TFA_ALG_NONE, c));
		CHECK(seq == 2);
		CHECK_RC(tfa_capture_set_reconcile(c, (const uint8_t *)"[1]", 3), TFA_EUSAGE);
		CHECK_RC(tfa_capture_set_reconcile(c, (const uint8_t *)"{\"a\":1,\"a\":2}", 13),
			 TFA_EUSAGE);
		tfa_capture_free(c);
		ev.type = "apply";
		CHECK_OK(tfa_capture_new_mem(&c, &ev, NULL, 0, NULL, 0));
		CHECK_RC(tfa_capture_set_reconcile(c, sum.data, sum.len), TFA_EUSAGE);
		tfa_capture_free(c);
	}
	cJSON_Delete(doc);
	tfa_buf_free(&sum);
	tfa_reconcile_free(r);
	tfa_history_free(h);
	free(snaps);
	fx_close(&f);
}

int main(int argc, char **argv)
{
	static const tfa_test_case cases[] = {
	    {"facts_good", test_facts_good},
	    {"facts_bad", test_facts_bad},
	    {"match", test_match},
	    {"complete", test_complete},
	    {"summary_bounded", test_summary_bounded},
	    {NULL, NULL},
	};
	return tfa_test_run(cases, argc, argv);
}
