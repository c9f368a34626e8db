/*
 * The service core: requests validated strictly (each refusal a 400 naming
 * the member, nothing appended), the policy applied, records made with the
 * verified identity and the claimed context, idempotency keys answered from
 * memory and from the store, and appends from many threads kept in order.
 * A file key and a local store.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "format/b64.h"
#include "service/request.h"
#include "tfa_test.h"
#include "tfattest/artifact.h"
#include "tfattest/chain.h"
#include "tfattest/service.h"
#include "tfattest/store.h"

#define ISS "https://token.example"
#define SUB "repo:acme/infra:ref:refs/heads/main"

static const char policy_json[] =
    "{\"issuers\":[{\"issuer\":\"" ISS "\",\"jwks_file\":\"jwks.json\",\"audience\":\"tfattest\"}],"
    "\"allow\":[{\"issuer\":\"" ISS "\",\"subject\":\"repo:acme/infra:ref:refs/heads/*\","
    "\"chains\":[\"prod\"],\"events\":[\"apply\",\"destroy\",\"rollback\",\"import\"]}]}";

typedef struct fixture {
	char *dir, *root;
	char key_uri[4200];
	tfa_policy *policy;
	tfa_service *svc;
} fixture;

static void fx_open_service(fixture *f)
{
	tfa_service_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.store = f->root;
	cfg.key = f->key_uri;
	cfg.policy = f->policy;
	cfg.front_end = "serve";
	f->svc = NULL;
	CHECK_OK(tfa_service_open(&f->svc, &cfg));
}

static void fx_init(fixture *f)
{
	tfa_signer *sg;
	tfa_store *st = NULL;
	char *kp;

	memset(f, 0, sizeof(*f));
	f->dir = tfa_test_tmpdir();
	f->root = tfa_test_path(f->dir, "store");
	sg = tfa_test_new_file_signer(f->dir, "key.pem");
	kp = tfa_test_path(f->dir, "key.pem");
	snprintf(f->key_uri, sizeof(f->key_uri), "file:%s", kp);
	free(kp);
	CHECK_OK(tfa_store_open(&st, f->root));
	CHECK_OK(tfa_chain_init(st, "prod", sg));
	tfa_store_free(st);
	tfa_signer_free(sg);
	CHECK_OK(tfa_policy_parse(&f->policy, (const uint8_t *)policy_json, strlen(policy_json),
				  f->dir));
	fx_open_service(f);
}

static void fx_free(fixture *f)
{
	tfa_service_close(f->svc);
	tfa_policy_free(f->policy);
	tfa_test_rmtree(f->dir);
	free(f->root);
	free(f->dir);
}

static uint64_t head_of(fixture *f)
{
	tfa_store *st = NULL;
	uint64_t head = 0;

	CHECK_OK(tfa_store_open(&st, f->root));
	CHECK_OK(tfa_store_head(st, &head));
	tfa_store_free(st);
	return head;
}

static tfa_identity who_default(void)
{
	static const tfa_identity_claim claims[] = {{"repository", "acme/infra"},
						    {"ref", "refs/heads/main"}};
	tfa_identity w;

	memset(&w, 0, sizeof(w));
	w.method = "oidc";
	w.issuer = ISS;
	w.subject = SUB;
	w.audience = "tfattest";
	w.issued_at = 1764000000;
	w.expires_at = 1764000300;
	w.claims = claims;
	w.nclaims = 2;
	return w;
}

#define KEY1 "key-0000000000000001"

static const char req_good[] =
    "{\"type\":\"tfattest.record-request\",\"chain_id\":\"prod\","
    "\"idempotency_key\":\"" KEY1 "\","
    "\"event\":{\"type\":\"apply\",\"status\":\"succeeded\",\"exit_code\":0},"
    "\"terraform\":{\"plan_sha256\":\"sha256:"
    "0000000000000000000000000000000000000000000000000000000000000001\","
    "\"plan_format_version\":\"1.2\",\"version\":\"1.11.4\",\"plan_errored\":false,"
    "\"changes\":[{\"address\":\"terraform_data.a\",\"action\":\"create\"},"
    "{\"address\":\"terraform_data.b[\\\"x\\\"]\",\"action\":\"replace\","
    "\"reason\":\"replace_because_tainted\"}],"
    "\"counts\":{\"create\":1,\"update\":0,\"delete\":0,\"replace\":1,\"read\":0,\"no-op\":3,"
    "\"forget\":0,\"other\":0},"
    "\"state\":{\"sha256\":\"sha256:"
    "00000000000000000000000000000000000000000000000000000000000000ff\",\"serial\":4,"
    "\"lineage\":\"3f1a\",\"terraform_version\":\"1.11.4\"},"
    "\"state_before\":{\"sha256\":\"sha256:"
    "00000000000000000000000000000000000000000000000000000000000000fe\",\"serial\":3},"
    "\"plan_source\":\"saved-plan\",\"drift\":{\"drifted\":false,\"addresses\":[]},"
    "\"reconcile\":{\"checked\":3,\"clean\":true,\"drifted\":[\"terraform_data.a\"]}},"
    "\"context\":{\"git\":{\"commit\":\"0123456789abcdef0123456789abcdef01234567\","
    "\"ref\":\"refs/heads/main\",\"remote\":\"https://git.example/acme/infra\"},"
    "\"ci\":{\"provider\":\"github-actions\",\"repository\":\"acme/infra\",\"run_id\":\"7\","
    "\"oidc\":{\"source\":\"github-actions\",\"signature\":\"not-verified\","
    "\"claims\":{\"repository\":\"acme/infra\"}}}}}";

static tfa_service_reply record(fixture *f, const tfa_identity *w, const char *req)
{
	tfa_service_reply r;

	CHECK_OK(tfa_service_record(f->svc, w, (const uint8_t *)req, strlen(req), &r));
	return r;
}

/* The reply body parsed, for its members. */
static cJSON *body_of(const tfa_service_reply *r)
{
	cJSON *o = cJSON_ParseWithLength((const char *)r->body.data, r->body.len);

	CHECK(o != NULL);
	return o;
}

static void test_open_checks_key(void)
{
	fixture f;
	tfa_service_config cfg;
	tfa_service *s = (tfa_service *)1;
	tfa_signer *other = NULL;
	char uri[4200], *p;

	fx_init(&f);
	CHECK_STREQ(tfa_service_chain_id(f.svc), "prod");
	other = tfa_test_new_file_signer(f.dir, "other.pem");
	p = tfa_test_path(f.dir, "other.pem");
	snprintf(uri, sizeof(uri), "file:%s", p);
	memset(&cfg, 0, sizeof(cfg));
	cfg.store = f.root;
	cfg.key = uri;
	cfg.policy = f.policy;
	cfg.front_end = "serve";
	CHECK_RC(tfa_service_open(&s, &cfg), TFA_EVERIFY);
	CHECK(s == NULL);
	CHECK(strstr(tfa_error_last()->message, "not the current key") != NULL);
	cfg.key = f.key_uri;
	cfg.front_end = "cli";
	CHECK_RC(tfa_service_open(&s, &cfg), TFA_EUSAGE);
	cfg.front_end = "lambda";
	cfg.policy = NULL;
	CHECK_RC(tfa_service_open(&s, &cfg), TFA_EUSAGE);
	free(p);
	tfa_signer_free(other);
	fx_free(&f);
}

/* A string at a path of object members ("identity.claims.ref"), or NULL. */
static const char *str_at(const cJSON *o, const char *path)
{
	char buf[128], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save))
		o = cJSON_GetObjectItemCaseSensitive(o, tok);
	return cJSON_IsString(o) ? o->valuestring : NULL;
}

/* The artifact of a 200 reply, decoded and checked to parse. */
static cJSON *artifact_of(const tfa_service_reply *r, tfa_artifact *a)
{
	cJSON *b = body_of(r), *art = NULL;
	const char *s64 = str_at(b, "artifact");
	uint8_t *raw = malloc(TFA_SERVICE_REQUEST_MAX * 2);
	size_t n = 0;

	CHECK(s64 != NULL && raw != NULL);
	if (s64 && raw) {
		CHECK_OK(tfa_b64_decode(raw, TFA_SERVICE_REQUEST_MAX * 2, &n, s64, strlen(s64)));
		CHECK_OK(tfa_artifact_parse(a, raw, n));
		art = cJSON_ParseWithLength((const char *)raw, n);
	}
	free(raw);
	cJSON_Delete(b);
	return art;
}

static void test_record_and_replay(void)
{
	fixture f;
	tfa_identity w = who_default();
	tfa_service_reply r, r2;
	cJSON *art, *b1, *b2;
	tfa_artifact a;

	fx_init(&f);
	r = record(&f, &w, req_good);
	CHECK(r.status == 200 && !r.replayed && r.seq == 1);
	CHECK_STREQ(r.outcome, "recorded");
	art = artifact_of(&r, &a);
	CHECK(a.seq == 1 && a.has_identity);
	CHECK_STREQ(a.identity_method, "oidc");
	CHECK_STREQ(a.identity_verifier, "serve");
	CHECK_STREQ(a.idempotency_key, KEY1);
	CHECK_STREQ(str_at(art, "identity.issuer"), ISS);
	CHECK_STREQ(str_at(art, "identity.subject"), SUB);
	CHECK_STREQ(str_at(art, "identity.audience"), "tfattest");
	CHECK_STREQ(str_at(art, "identity.issued_at"), "2025-11-24T16:00:00Z");
	CHECK_STREQ(str_at(art, "identity.expires_at"), "2025-11-24T16:05:00Z");
	CHECK_STREQ(str_at(art, "identity.claims.repository"), "acme/infra");
	CHECK_STREQ(str_at(art, "identity.claims.ref"), "refs/heads/main");
	CHECK_STREQ(str_at(art, "identity.verified_by"), "serve");
	CHECK_STREQ(str_at(art, "context.claimed_by"), "client");
	CHECK_STREQ(str_at(art, "context.ci.repository"), "acme/infra");
	CHECK_STREQ(str_at(art, "terraform.state.lineage"), "3f1a");
	CHECK_STREQ(str_at(art, "event.idempotency_key"), KEY1);
	cJSON_Delete(art);

	/* The same request again: the first record, nothing appended. */
	w.issued_at += 60; /* a retry carries a fresh token */
	w.expires_at += 60;
	r2 = record(&f, &w, req_good);
	CHECK(r2.status == 200 && r2.replayed && r2.seq == 1);
	CHECK_STREQ(r2.outcome, "replayed");
	CHECK(head_of(&f) == 1);
	b1 = body_of(&r);
	b2 = body_of(&r2);
	CHECK_STREQ(str_at(b1, "artifact"), str_at(b2, "artifact"));
	CHECK_STREQ(str_at(b1, "signature"), str_at(b2, "signature"));
	CHECK_STREQ(str_at(b1, "hash"), str_at(b2, "hash"));
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b2, "replayed")));
	cJSON_Delete(b1);
	cJSON_Delete(b2);
	tfa_service_reply_free(&r);
	tfa_service_reply_free(&r2);
	fx_free(&f);
}

/* req_good with one substring replaced. */
static char *req_with(const char *from, const char *to)
{
	const char *at = strstr(req_good, from);
	size_t n = strlen(req_good) - strlen(from) + strlen(to) + 1;
	char *out = malloc(n);

	CHECK(at != NULL && out != NULL);
	if (at == NULL || out == NULL) {
		free(out);
		return strdup(req_good);
	}
	snprintf(out, n, "%.*s%s%s", (int)(at - req_good), req_good, to, at + strlen(from));
	return out;
}

static void test_same_key_other_request_conflicts(void)
{
	fixture f;
	tfa_identity w = who_default();
	tfa_service_reply r;
	char *other = req_with("\"exit_code\":0", "\"exit_code\":1");

	fx_init(&f);
	r = record(&f, &w, req_good);
	CHECK(r.status == 200);
	tfa_service_reply_free(&r);
	r = record(&f, &w, other);
	CHECK(r.status == 409);
	CHECK_STREQ(r.outcome, "conflict");
	CHECK(strstr((const char *)r.body.data, "idempotency_key") != NULL);
	tfa_service_reply_free(&r);
	/* Another subject with the same key and body is another request too. */
	w.subject = "repo:acme/infra:ref:refs/heads/other";
	r = record(&f, &w, req_good);
	CHECK(r.status == 409);
	tfa_service_reply_free(&r);
	CHECK(head_of(&f) == 1);
	free(other);
	fx_free(&f);
}

static void test_restart_finds_key_in_store(void)
{
	fixture f;
	tfa_identity w = who_default();
	tfa_service_reply r;
	char *second = req_with(KEY1, "key-0000000000000002");

	fx_init(&f);
	r = record(&f, &w, req_good);
	CHECK(r.status == 200 && r.seq == 1);
	tfa_service_reply_free(&r);
	r = record(&f, &w, second);
	CHECK(r.status == 200 && r.seq == 2 && !r.replayed);
	tfa_service_reply_free(&r);
	tfa_service_close(f.svc);
	fx_open_service(&f);
	r = record(&f, &w, req_good);
	CHECK(r.status == 200 && r.seq == 1 && r.replayed);
	tfa_service_reply_free(&r);
	CHECK(head_of(&f) == 2);
	free(second);
	fx_free(&f);
}

/* Another writer (a second instance) appends with a key; this service still finds it. */
static void test_key_from_another_writer(void)
{
	fixture f, g;
	tfa_identity w = who_default();
	tfa_service_reply r;

	fx_init(&f);
	g = f;
	g.svc = NULL;
	fx_open_service(&g);
	r = record(&g, &w, req_good);
	CHECK(r.status == 200 && r.seq == 1 && !r.replayed);
	tfa_service_reply_free(&r);
	r = record(&f, &w, req_good);
	CHECK(r.status == 200 && r.seq == 1 && r.replayed);
	tfa_service_reply_free(&r);
	tfa_service_close(g.svc);
	fx_free(&f);
}

static void test_policy_refusals(void)
{
	fixture f;
	tfa_identity w = who_default();
	tfa_service_reply r;
	char *destroy = req_with("\"type\":\"apply\"", "\"type\":\"state-rm\"");
	char *chain = req_with("\"chain_id\":\"prod\"", "\"chain_id\":\"staging\"");

	fx_init(&f);
	w.subject = "repo:acme/infra:pull_request";
	r = record(&f, &w, req_good);
	CHECK(r.status == 403);
	CHECK_STREQ(r.outcome, "refused");
	CHECK(strstr((const char *)r.body.data, "subject") != NULL);
	tfa_service_reply_free(&r);
	w = who_default();
	r = record(&f, &w, destroy);
	CHECK(r.status == 403 && strstr((const char *)r.body.data, "event") != NULL);
	tfa_service_reply_free(&r);
	r = record(&f, &w, chain);
	CHECK(r.status == 403 && strstr((const char *)r.body.data, "chain prod") != NULL);
	tfa_service_reply_free(&r);
	CHECK(head_of(&f) == 0);
	free(destroy);
	free(chain);
	fx_free(&f);
}

/* Each of these is a 400 whose message holds `why`, with nothing appended. */
static void test_malformed_requests(void)
{
	static const struct {
		const char *from, *to, *why;
	} bad[] = {
	    /* attribute values smuggled in, at every level */
	    {"\"action\":\"create\"}", "\"action\":\"create\",\"after\":{\"password\":\"x\"}}",
	     "terraform.changes[0]: member \"after\""},
	    {"\"action\":\"create\"}", "\"action\":\"create\",\"before\":null}", "\"before\""},
	    {"\"plan_errored\":false", "\"plan_errored\":false,\"values\":{}", "\"values\""},
	    {"\"serial\":4,", "\"serial\":4,\"sensitive\":true,", "terraform.state: member"},
	    {"\"exit_code\":0", "\"exit_code\":0,\"output\":\"secret\"", "event: member"},
	    {"\"run_id\":\"7\"", "\"run_id\":\"7\",\"env\":{}", "context.ci: member \"env\""},
	    {"\"signature\":\"not-verified\"", "\"signature\":\"not-verified\",\"token\":\"ey\"",
	     "\"token\""},
	    {"\"claims\":{\"repository\"", "\"claims\":{\"secret\":\"x\",\"repository\"", "claims"},
	    {"\"chain_id\":\"prod\"", "\"chain_id\":\"prod\",\"variables\":{}", "\"variables\""},
	    {"\"clean\":true", "\"clean\":{\"a\":1}", "terraform.reconcile.clean"},
	    {"\"drifted\":[", "\"Drifted\":[", "member names"},
	    {"\"addresses\":[]", "\"addresses\":[{\"a\":1}]", "addresses[0] is not a string"},
	    {"\"ref\":\"refs/heads/main\",\"remote\"", "\"ref\":{},\"remote\"",
	     "context.git.ref is not a string"},
	    /* types, domains, requirements */
	    {"\"tfattest.record-request\"", "\"tfattest.other\"", "type is not"},
	    {"\"chain_id\":\"prod\"", "\"chain_id\":\"a b\"", "chain_id"},
	    {KEY1, "short", "idempotency_key"},
	    {KEY1, "key with spaces 0000", "idempotency_key"},
	    {"\"type\":\"apply\"", "\"type\":\"rotate\"", "event.type"},
	    {"\"status\":\"succeeded\"", "\"status\":\"ok\"", "event.status"},
	    {"\"exit_code\":0", "\"exit_code\":2147483648", "event.exit_code"},
	    {"\"exit_code\":0", "\"exit_code\":0.5", "event.exit_code"},
	    {"\"exit_code\":0",
	     "\"exit_code\":0,\"rollback_to\":{\"seq\":1,\"hash\":\"sha256:"
	     "0000000000000000000000000000000000000000000000000000000000000001\"}",
	     "not a rollback"},
	    {"\"action\":\"create\"", "\"action\":\"explode\"", "changes[0].action"},
	    {"\"plan_sha256\":\"sha256:", "\"plan_sha256\":\"md5:", "plan_sha256"},
	    {"\"serial\":4", "\"serial\":-1", "serial"},
	    {"\"plan_source\":\"saved-plan\"", "\"plan_source\":\"guess\"", "plan_source"},
	    {"\"provider\":\"github-actions\"", "\"provider\":\"travis\"", "provider"},
	    {"\"event\":{\"type\":\"apply\",\"status\":\"succeeded\",\"exit_code\":0},", "",
	     "event is missing"},
	    {"\"idempotency_key\":\"" KEY1 "\",", "", "idempotency_key is missing"},
	    {"\"address\":\"terraform_data.a\",", "", "address is missing"},
	    {"\"context\":{", "\"context\":\"x\",\"y\":{", "context is not an object"},
	};
	fixture f;
	tfa_identity w = who_default();

	fx_init(&f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *req = req_with(bad[i].from, bad[i].to);
		tfa_service_reply r;

		cJSON *b;
		const char *err;
		int ok;

		r = record(&f, &w, req);
		b = body_of(&r);
		err = str_at(b, "error");
		ok = r.status == 400 && strcmp(r.outcome, "malformed") == 0 && err != NULL &&
		     strstr(err, bad[i].why) != NULL;
		cJSON_Delete(b);
		if (!ok) {
			fprintf(stderr, "bad request %zu: %d %.*s, wanted 400 saying \"%s\"\n", i,
				r.status, (int)r.body.len, (const char *)r.body.data, bad[i].why);
			tfa_test_failures++;
		}
		tfa_service_reply_free(&r);
		free(req);
	}
	CHECK(head_of(&f) == 0);
	fx_free(&f);
}

static void test_sizes_and_syntax(void)
{
	fixture f;
	tfa_identity w = who_default();
	tfa_service_reply r;
	size_t big = TFA_SERVICE_REQUEST_MAX + 1;
	char *huge = malloc(big + 1), *longstr;
	cJSON *b;

	fx_init(&f);
	memset(huge, ' ', big);
	huge[big] = '\0';
	r = record(&f, &w, huge);
	CHECK(r.status == 413);
	CHECK_STREQ(r.outcome, "too-large");
	tfa_service_reply_free(&r);
	r = record(&f, &w, "{\"type\":");
	CHECK(r.status == 400 && strstr((const char *)r.body.data, "not valid JSON") != NULL);
	b = body_of(&r);
	CHECK_STREQ(str_at(b, "type"), "tfattest.error");
	cJSON_Delete(b);
	tfa_service_reply_free(&r);
	r = record(&f, &w, "{\"a\":1,\"a\":2}");
	CHECK(r.status == 400);
	tfa_service_reply_free(&r);
	r = record(&f, &w, "");
	CHECK(r.status == 400);
	tfa_service_reply_free(&r);
	/* A string one byte over its bound. */
	longstr = malloc(1100);
	memcpy(longstr, "\"host\":\"", 8);
	memset(longstr + 8, 'h', 1025);
	strcpy(longstr + 8 + 1025, "\",\"git\"");
	{
		char *req = req_with("\"git\"", longstr);
		r = record(&f, &w, req);
		CHECK(r.status == 400 && strstr((const char *)r.body.data, "longer than") != NULL);
		tfa_service_reply_free(&r);
		free(req);
	}
	/* An identity the artifact cannot hold (a subject the policy's glob allows). */
	memset(longstr, 's', 1099);
	memcpy(longstr, SUB, strlen(SUB));
	longstr[1099] = '\0';
	w.subject = longstr;
	r = record(&f, &w, req_good);
	CHECK(r.status == 400 && strstr((const char *)r.body.data, "identity") != NULL);
	tfa_service_reply_free(&r);
	CHECK(head_of(&f) == 0);
	free(longstr);
	free(huge);
	fx_free(&f);
}

typedef struct worker {
	fixture *f;
	int id, n, ok;
} worker;

static void *work(void *ud)
{
	worker *wk = ud;
	tfa_identity w = who_default();

	for (int i = 0; i < wk->n; i++) {
		char key[40], *req;
		tfa_service_reply r;

		snprintf(key, sizeof(key), "key-thread%02d-%06d", wk->id, i);
		req = req_with(KEY1, key);
		if (tfa_service_record(wk->f->svc, &w, (const uint8_t *)req, strlen(req), &r) ==
			TFA_OK &&
		    r.status == 200 && !r.replayed)
			wk->ok++;
		tfa_service_reply_free(&r);
		free(req);
	}
	return NULL;
}

static void test_threads_append_in_order(void)
{
	fixture f;
	worker wk[4];
	pthread_t th[4];
	tfa_store *st = NULL;
	tfa_signer *sg = NULL;
	char hash[TFA_FPR_STRLEN];

	fx_init(&f);
	for (int i = 0; i < 4; i++) {
		wk[i] = (worker){&f, i, 8, 0};
		CHECK(pthread_create(&th[i], NULL, work, &wk[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK(wk[i].ok == 8);
	}
	CHECK(head_of(&f) == 32);
	/* Every record is linked and signed: the hash of each checks out against the key. */
	CHECK_OK(tfa_store_open(&st, f.root));
	CHECK_OK(tfa_signer_open(&sg, f.key_uri));
	for (uint64_t seq = 1; seq <= 32; seq++)
		CHECK_OK(tfa_chain_record_hash(hash, st, sg, seq));
	tfa_signer_free(sg);
	tfa_store_free(st);
	fx_free(&f);
}

static void test_bad_arguments(void)
{
	fixture f;
	tfa_service_reply r;

	fx_init(&f);
	CHECK_RC(tfa_service_record(f.svc, NULL, (const uint8_t *)"{}", 2, NULL), TFA_EUSAGE);
	CHECK_OK(tfa_service_record(f.svc, NULL, (const uint8_t *)"{}", 2, &r));
	CHECK(r.status == 500);
	tfa_service_reply_free(&r);
	tfa_service_close(NULL);
	tfa_service_reply_free(NULL);
	CHECK(tfa_service_chain_id(NULL) == NULL);
	fx_free(&f);
}

TFA_TEST_MAIN(T(test_open_checks_key), T(test_record_and_replay),
	      T(test_same_key_other_request_conflicts), T(test_restart_finds_key_in_store),
	      T(test_key_from_another_writer), T(test_policy_refusals), T(test_malformed_requests),
	      T(test_sizes_and_syntax), T(test_threads_append_in_order), T(test_bad_arguments))
