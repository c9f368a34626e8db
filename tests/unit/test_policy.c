/*
 * The service's policy file: parsing (strict, bounded), defaults, globs, and
 * what tfa_policy_check allows and how it says why it refused.
 */
#include <string.h>

#include "service/policy_int.h"
#include "tfa_test.h"
#include "tfattest/service.h"

#define ISS "https://token.example"

static const char good[] =
    "{\"issuers\":[{\"issuer\":\"" ISS "\",\"jwks_file\":\"jwks.json\",\"audience\":\"tfattest\"},"
    "{\"issuer\":\"https://gitlab.example\",\"audience\":\"aud2\",\"jwks_uri\":"
    "\"https://gitlab.example/oauth/discovery/keys\",\"ttl\":600,\"skew\":5},"
    "{\"issuer\":\"http://127.0.0.1:8443/issuer\",\"audience\":\"t\"}],"
    "\"allow\":[{\"issuer\":\"" ISS "\",\"subject\":\"repo:acme/infra:ref:refs/heads/*\","
    "\"chains\":[\"prod\"],\"events\":[\"apply\",\"destroy\",\"rollback\",\"import\"]},"
    "{\"issuer\":\"" ISS "\",\"subject\":\"repo:acme/*\",\"chains\":[\"staging\"],"
    "\"events\":[\"apply\"],\"claims\":{\"environment\":\"staging\",\"ref\":\"refs/heads/*\"}},"
    "{\"issuer\":\"aws-iam\",\"subject\":\"arn:aws:sts::123456789012:assumed-role/ci-*\","
    "\"chains\":[\"prod\"],\"events\":[\"apply\"]}]}";

static tfa_policy *parse(const char *json)
{
	tfa_policy *p = NULL;

	CHECK_OK(tfa_policy_parse(&p, (const uint8_t *)json, strlen(json), "/etc/tfattest"));
	return p;
}

static void test_parse_good(void)
{
	tfa_policy *p = parse(good);
	const tfa_policy_issuer *is;

	if (p == NULL)
		return;
	CHECK(tfa_policy_issuer_count(p) == 3);
	is = tfa_policy_issuer_at(p, 0);
	CHECK_STREQ(is->issuer, ISS);
	CHECK_STREQ(is->audience, "tfattest");
	CHECK_STREQ(is->jwks_file, "/etc/tfattest/jwks.json");
	CHECK(is->jwks_uri == NULL);
	CHECK(is->jwks_ttl == 300 && is->max_skew == 60);
	is = tfa_policy_issuer_at(p, 1);
	CHECK(is->jwks_file == NULL);
	CHECK_STREQ(is->jwks_uri, "https://gitlab.example/oauth/discovery/keys");
	CHECK(is->jwks_ttl == 600 && is->max_skew == 5);
	is = tfa_policy_issuer_at(p, 2);
	CHECK(is->jwks_file == NULL && is->jwks_uri == NULL);
	CHECK(tfa_policy_issuer_at(p, 3) == NULL);
	tfa_policy_free(p);
}

static void test_absolute_jwks_file(void)
{
	const char *j = "{\"issuers\":[{\"issuer\":\"" ISS "\",\"audience\":\"a\",\"jwks_file\":"
			"\"/abs/k.json\"}],\"allow\":[{\"issuer\":\"" ISS "\",\"subject\":\"x\","
			"\"chains\":[\"c\"],\"events\":[\"apply\"]}]}";
	tfa_policy *p = parse(j);

	if (p)
		CHECK_STREQ(tfa_policy_issuer_at(p, 0)->jwks_file, "/abs/k.json");
	tfa_policy_free(p);
}

static void test_load_resolves_against_folder(void)
{
	char *dir = tfa_test_tmpdir(), *path = tfa_test_path(dir, "policy.json");
	tfa_policy *p = NULL;
	char want[4200];

	tfa_test_put_file(dir, "policy.json", good, strlen(good));
	CHECK_OK(tfa_policy_load(&p, path));
	snprintf(want, sizeof(want), "%s/jwks.json", dir);
	if (p)
		CHECK_STREQ(tfa_policy_issuer_at(p, 0)->jwks_file, want);
	tfa_policy_free(p);
	p = (tfa_policy *)1;
	CHECK_RC(tfa_policy_load(&p, "/nonexistent/policy.json"), TFA_EUSAGE);
	CHECK(p == NULL);
	free(path);
	tfa_test_rmtree(dir);
	free(dir);
}

/* Each of these is refused with TFA_EFORMAT and a message holding `why`. */
static void test_parse_bad(void)
{
	static const struct {
		const char *json, *why;
	} bad[] = {
	    {"", "not valid JSON"},
	    {"[]", "not a JSON object"},
	    {"{\"allow\":[]}", "1 to"},
	    {"{}", "allow"},
	    {"{\"allow\":[],\"extra\":1}", "extra"},
	    {"{\"issuers\":[{\"issuer\":\"" ISS "\",\"audience\":\"a\",\"x\":1}],\"allow\":[]}",
	     "\"x\""},
	    {"{\"issuers\":[{\"issuer\":\"http://evil.example\",\"audience\":\"a\"}],"
	     "\"allow\":[]}",
	     "https://"},
	    {"{\"issuers\":[{\"issuer\":\"" ISS "\"}],\"allow\":[]}", "audience"},
	    {"{\"issuers\":[{\"issuer\":\"" ISS "\",\"audience\":\"a\",\"jwks_file\":\"f\","
	     "\"jwks_uri\":\"https://k\"}],\"allow\":[]}",
	     "exclude"},
	    {"{\"issuers\":[{\"issuer\":\"" ISS "\",\"audience\":\"a\",\"jwks_uri\":\"ftp://k\"}],"
	     "\"allow\":[]}",
	     "jwks_uri"},
	    {"{\"issuers\":[{\"issuer\":\"" ISS "\",\"audience\":\"a\",\"ttl\":0}],\"allow\":[]}",
	     "ttl"},
	    {"{\"issuers\":[{\"issuer\":\"" ISS "\",\"audience\":\"a\",\"skew\":601}],"
	     "\"allow\":[]}",
	     "skew"},
	    {"{\"issuers\":[{\"issuer\":\"" ISS "\",\"audience\":\"a\"},{\"issuer\":\"" ISS
	     "\",\"audience\":\"b\"}],\"allow\":[]}",
	     "repeats"},
	    {"{\"allow\":[{\"issuer\":\"" ISS "\",\"subject\":\"x\",\"chains\":[\"c\"],"
	     "\"events\":[\"apply\"]}]}",
	     "neither"},
	    {"{\"allow\":[{\"issuer\":\"aws-iam\",\"subject\":\"x\",\"chains\":[],"
	     "\"events\":[\"apply\"]}]}",
	     "chains must hold"},
	    {"{\"allow\":[{\"issuer\":\"aws-iam\",\"subject\":\"x\",\"chains\":[\"a b\"],"
	     "\"events\":[\"apply\"]}]}",
	     "not a chain id"},
	    {"{\"allow\":[{\"issuer\":\"aws-iam\",\"subject\":\"x\",\"chains\":[\"c\"],"
	     "\"events\":[\"rotate\"]}]}",
	     "not an event type"},
	    {"{\"allow\":[{\"issuer\":\"aws-iam\",\"subject\":\"x\",\"chains\":[\"c\"],"
	     "\"events\":[1]}]}",
	     "not a string"},
	    {"{\"allow\":[{\"issuer\":\"aws-iam\",\"chains\":[\"c\"],\"events\":[\"apply\"]}]}",
	     "subject"},
	    {"{\"allow\":[{\"issuer\":\"aws-iam\",\"subject\":\"x\",\"chains\":[\"c\"],"
	     "\"events\":[\"apply\"],\"claims\":{\"sub\":\"x\"}}]}",
	     "claim name"},
	    {"{\"allow\":[{\"issuer\":\"aws-iam\",\"subject\":\"x\",\"chains\":[\"c\"],"
	     "\"events\":[\"apply\"],\"claims\":{\"ref\":1}}]}",
	     "ref"},
	    {"{\"allow\":[{\"issuer\":\"aws-iam\",\"subject\":\"x\",\"chains\":[\"c\"],"
	     "\"events\":[\"apply\"],\"claims\":{}}]}",
	     "claims must hold"},
	    {"{\"allow\":[{\"issuer\":\"aws-iam\",\"subject\":\"x\",\"chains\":[\"c\"],"
	     "\"events\":[\"apply\"],\"subjects\":[]}]}",
	     "subjects"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tfa_policy *p = (tfa_policy *)1;
		tfa_err rc =
		    tfa_policy_parse(&p, (const uint8_t *)bad[i].json, strlen(bad[i].json), NULL);
		if (rc != TFA_EFORMAT || p != NULL ||
		    strstr(tfa_error_last()->message, bad[i].why) == NULL) {
			fprintf(stderr, "bad policy %zu: %s (%s), wanted \"%s\"\n", i,
				tfa_err_name(rc), tfa_error_last()->message, bad[i].why);
			tfa_test_failures++;
		}
	}
}

static void test_bounds(void)
{
	/* 65 chains in one rule, and a subject of 1025 bytes. */
	char buf[8192], *w = buf;
	tfa_policy *p = NULL;

	w += sprintf(w, "{\"allow\":[{\"issuer\":\"aws-iam\",\"subject\":\"x\",\"events\":"
			"[\"apply\"],\"chains\":[");
	for (int i = 0; i < 65; i++)
		w += sprintf(w, "%s\"c%d\"", i ? "," : "", i);
	sprintf(w, "]}]}");
	CHECK_RC(tfa_policy_parse(&p, (const uint8_t *)buf, strlen(buf), NULL), TFA_EFORMAT);
	w = buf + sprintf(buf, "{\"allow\":[{\"issuer\":\"aws-iam\",\"chains\":[\"c\"],\"events\":"
			       "[\"apply\"],\"subject\":\"");
	memset(w, 'a', 1025);
	strcpy(w + 1025, "\"}]}");
	CHECK_RC(tfa_policy_parse(&p, (const uint8_t *)buf, strlen(buf), NULL), TFA_EFORMAT);
	w[1024] = '"';
	strcpy(w + 1025, "}]}");
	CHECK_OK(tfa_policy_parse(&p, (const uint8_t *)buf, strlen(buf), NULL));
	tfa_policy_free(p);
}

static void test_glob(void)
{
	CHECK(tfa_glob_match("*", ""));
	CHECK(tfa_glob_match("*", "anything:at/all"));
	CHECK(tfa_glob_match("repo:acme/infra:ref:refs/heads/*",
			     "repo:acme/infra:ref:refs/heads/main"));
	CHECK(!tfa_glob_match("repo:acme/infra:ref:refs/heads/*",
			      "repo:acme/infra-evil:ref:refs/heads/main"));
	CHECK(!tfa_glob_match("repo:acme/infra", "repo:acme/infra2"));
	CHECK(!tfa_glob_match("repo:acme/infra2", "repo:acme/infra"));
	CHECK(tfa_glob_match("a*b*c", "aXXbYYc"));
	CHECK(!tfa_glob_match("a*b*c", "aXXbYY"));
	CHECK(tfa_glob_match("a**c", "ac"));
	CHECK(tfa_glob_match("*main", "refs/heads/main"));
	CHECK(!tfa_glob_match("*main", "refs/heads/main2"));
	/* Nothing but '*' is special. */
	CHECK(!tfa_glob_match("a?c", "abc"));
	CHECK(tfa_glob_match("a?c", "a?c"));
	CHECK(!tfa_glob_match("[a]", "a"));
}

static tfa_identity ident(const char *iss, const char *sub, const tfa_identity_claim *cl, size_t n)
{
	tfa_identity w;

	memset(&w, 0, sizeof(w));
	w.method = strcmp(iss, "aws-iam") == 0 ? "aws-iam" : "oidc";
	w.issuer = iss;
	w.subject = sub;
	w.claims = cl;
	w.nclaims = n;
	return w;
}

static void expect_refused(const tfa_policy *p, const tfa_identity *w, const char *chain,
			   const char *ev, const char *why, int line)
{
	tfa_err rc = tfa_policy_check(p, w, chain, ev);

	if (rc != TFA_EVERIFY || strstr(tfa_error_last()->message, why) == NULL) {
		fprintf(stderr, "line %d: %s (%s), wanted a refusal saying \"%s\"\n", line,
			tfa_err_name(rc), tfa_error_last()->message, why);
		tfa_test_failures++;
	}
}

static void test_check(void)
{
	tfa_policy *p = parse(good);
	tfa_identity_claim staging[] = {{"environment", "staging"}, {"ref", "refs/heads/dev"}};
	tfa_identity_claim prodenv[] = {{"environment", "production"}, {"ref", "refs/heads/dev"}};
	tfa_identity w;

	if (p == NULL)
		return;
	w = ident(ISS, "repo:acme/infra:ref:refs/heads/main", NULL, 0);
	CHECK_OK(tfa_policy_check(p, &w, "prod", "apply"));
	CHECK_OK(tfa_policy_check(p, &w, "prod", "rollback"));
	expect_refused(p, &w, "prod", "state-rm", "allows the event", __LINE__);
	expect_refused(p, &w, "other", "apply", "names the chain", __LINE__);
	w = ident(ISS, "repo:other/infra:ref:refs/heads/main", NULL, 0);
	expect_refused(p, &w, "prod", "apply", "matches the subject", __LINE__);
	w = ident("https://other.example", "repo:acme/infra:ref:refs/heads/main", NULL, 0);
	expect_refused(p, &w, "prod", "apply", "names the issuer", __LINE__);
	/* Claims: all must match, and a missing claim does not. */
	w = ident(ISS, "repo:acme/app", staging, 2);
	CHECK_OK(tfa_policy_check(p, &w, "staging", "apply"));
	w = ident(ISS, "repo:acme/app", prodenv, 2);
	expect_refused(p, &w, "staging", "apply", "matches the claims", __LINE__);
	w = ident(ISS, "repo:acme/app", staging, 1);
	expect_refused(p, &w, "staging", "apply", "matches the claims", __LINE__);
	/* AWS principals. */
	w = ident("aws-iam", "arn:aws:sts::123456789012:assumed-role/ci-deploy/session", NULL, 0);
	CHECK_OK(tfa_policy_check(p, &w, "prod", "apply"));
	expect_refused(p, &w, "prod", "destroy", "allows the event", __LINE__);
	w = ident("aws-iam", "arn:aws:sts::999999999999:assumed-role/ci-deploy/s", NULL, 0);
	expect_refused(p, &w, "prod", "apply", "subject", __LINE__);
	/* The same subject under another issuer is another identity. */
	w = ident("aws-iam", "repo:acme/infra:ref:refs/heads/main", NULL, 0);
	expect_refused(p, &w, "prod", "apply", "matches the subject", __LINE__);
	/* A pull request's subject matches the second rule's glob, but not its claims. */
	w = ident(ISS, "repo:acme/infra:pull_request", NULL, 0);
	expect_refused(p, &w, "prod", "apply", "matches the claims", __LINE__);
	CHECK_RC(tfa_policy_check(p, NULL, "prod", "apply"), TFA_EUSAGE);
	tfa_policy_free(p);
}

TFA_TEST_MAIN(T(test_parse_good), T(test_absolute_jwks_file), T(test_load_resolves_against_folder),
	      T(test_parse_bad), T(test_bounds), T(test_glob), T(test_check))
