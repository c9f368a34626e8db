/*
 * The service's policy file (docs/SERVICE.md, "Policy"): the issuers whose
 * ID tokens the service trusts, and the allow rules that say which verified
 * identities may append which events to which chains.
 *
 * The file is configuration written by an operator, but a mistake in it
 * widens who may sign: it is parsed as strictly as any input (unknown members
 * refused, every size bounded), and a rule that could never match (an issuer
 * the file does not list) is an error, not a silent no-op.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/jfield.h"
#include "service/policy_int.h"
#include "tfattest/artifact.h"
#include "tfattest/jcs.h"
#include "tfattest/service.h"
#include "tfattest/sys/guard.h"

#define POLICY_FILE_MAX	   (1u << 20)
#define POLICY_ISSUERS_MAX 64
#define POLICY_RULES_MAX   1024
#define POLICY_LIST_MAX	   64
#define POLICY_CLAIMS_MAX  32
#define POLICY_STR_MAX	   1024
#define POLICY_TTL_MAX	   86400
#define POLICY_SKEW_MAX	   600

typedef struct policy_claim {
	char *name;
	char *glob;
} policy_claim;

typedef struct policy_rule {
	char *issuer;
	char *subject; /* a glob */
	char **chains;
	size_t nchains;
	char **events;
	size_t nevents;
	policy_claim *claims;
	size_t nclaims;
} policy_rule;

struct tfa_policy {
	tfa_policy_issuer *issuers;
	size_t nissuers;
	policy_rule *rules;
	size_t nrules;
};

static void rule_free(policy_rule *r)
{
	free(r->issuer);
	free(r->subject);
	for (size_t i = 0; i < r->nchains; i++)
		free(r->chains[i]);
	free(r->chains);
	for (size_t i = 0; i < r->nevents; i++)
		free(r->events[i]);
	free(r->events);
	for (size_t i = 0; i < r->nclaims; i++) {
		free(r->claims[i].name);
		free(r->claims[i].glob);
	}
	free(r->claims);
}

void tfa_policy_free(tfa_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nissuers; i++) {
		free((char *)p->issuers[i].issuer);
		free((char *)p->issuers[i].audience);
		free((char *)p->issuers[i].jwks_file);
		free((char *)p->issuers[i].jwks_uri);
	}
	free(p->issuers);
	for (size_t i = 0; i < p->nrules; i++)
		rule_free(&p->rules[i]);
	free(p->rules);
	free(p);
}

bool tfa_glob_match(const char *glob, const char *s)
{
	/* '*' matches any run of bytes (including '/' and ':'); nothing else is special. The
	 * classic backtrack to the last star is linear in practice and O(n*m) at worst. */
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*glob == '*') {
			star = glob++;
			resume = s;
		} else if (*glob == *s) {
			glob++;
			s++;
		} else if (star) {
			glob = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*glob == '*')
		glob++;
	return *glob == '\0';
}

/* A string member of 1..POLICY_STR_MAX bytes, copied. */
static tfa_err dup_str(char **out, const tfa_json_value *obj, const char *key, const char *what)
{
	tfa_err rc = TFA_OK;
	const char *s;
	size_t n;

	TFA_GUARD(tfa_jf_str(&s, &n, obj, key, POLICY_STR_MAX, what));
	*out = strndup(s, n);
	TFA_ENSURE(*out != NULL, TFA_EINTERNAL, "out of memory");
out:
	return rc;
}

/* An optional integer member in [min, max], def when absent. */
static tfa_err opt_int(int64_t *out, const tfa_json_value *obj, const char *key, int64_t min,
		       int64_t max, int64_t def, const char *what)
{
	if (tfa_json_get(obj, key) == NULL) {
		*out = def;
		return TFA_OK;
	}
	return tfa_jf_int(out, obj, key, min, max, what);
}

static bool url_ok(const char *u)
{
	static const char *const loopback[] = {"http://127.0.0.1:",
					       "http://127.0.0.1/",
					       "http://localhost:",
					       "http://localhost/",
					       "http://[::1]:",
					       "http://[::1]/",
					       NULL};

	if (strncmp(u, "https://", 8) == 0 && u[8] != '\0')
		return true;
	/* Plain HTTP only to this host (tests, a local proxy): never across a network. */
	for (const char *const *p = loopback; *p; p++)
		if (strncmp(u, *p, strlen(*p)) == 0)
			return true;
	return false;
}

static tfa_err join_path(char **out, const char *base_dir, const char *file)
{
	size_t n;

	if (file[0] == '/' || base_dir == NULL || base_dir[0] == '\0') {
		*out = strdup(file);
	} else {
		n = strlen(base_dir) + 1 + strlen(file) + 1;
		*out = malloc(n);
		if (*out)
			snprintf(*out, n, "%s/%s", base_dir, file);
	}
	return *out ? TFA_OK : tfa_error_set(TFA_EINTERNAL, "out of memory");
}

static tfa_err parse_issuer(tfa_policy_issuer *is, const tfa_json_value *o, const char *base_dir,
			    size_t idx)
{
	static const char *const members[] = {"audience", "issuer", "jwks_file", "jwks_uri",
					      "skew",	  "ttl",    NULL};
	tfa_err rc = TFA_OK;
	char what[64];
	char *s = NULL, *file = NULL, *uri = NULL, *iss = NULL, *aud = NULL;

	snprintf(what, sizeof(what), "policy issuers[%zu]", idx);
	TFA_ENSURE(tfa_json_type_of(o) == TFA_JSON_OBJECT, TFA_EFORMAT, "%s is not an object",
		   what);
	TFA_GUARD(tfa_jf_only(o, members, what));
	TFA_GUARD(dup_str(&iss, o, "issuer", what));
	TFA_ENSURE(url_ok(iss), TFA_EFORMAT,
		   "%s: issuer must be an https:// URL (http:// only on loopback)", what);
	TFA_GUARD(dup_str(&aud, o, "audience", what));
	TFA_ENSURE(tfa_json_get(o, "jwks_file") == NULL || tfa_json_get(o, "jwks_uri") == NULL,
		   TFA_EFORMAT, "%s: jwks_file and jwks_uri exclude each other", what);
	if (tfa_json_get(o, "jwks_file")) {
		TFA_GUARD(dup_str(&s, o, "jwks_file", what));
		TFA_GUARD(join_path(&file, base_dir, s));
	}
	if (tfa_json_get(o, "jwks_uri")) {
		TFA_GUARD(dup_str(&uri, o, "jwks_uri", what));
		TFA_ENSURE(url_ok(uri), TFA_EFORMAT,
			   "%s: jwks_uri must be an https:// URL (http:// only on loopback)", what);
	}
	TFA_GUARD(opt_int(&is->jwks_ttl, o, "ttl", 1, POLICY_TTL_MAX, 300, what));
	TFA_GUARD(opt_int(&is->max_skew, o, "skew", 0, POLICY_SKEW_MAX, 60, what));
	is->issuer = iss;
	is->audience = aud;
	is->jwks_file = file;
	is->jwks_uri = uri;
	iss = aud = file = uri = NULL;
out:
	free(s);
	free(iss);
	free(aud);
	free(file);
	free(uri);
	return rc;
}

/* A non-empty array of at most POLICY_LIST_MAX strings, each checked by ok. */
static tfa_err parse_list(char ***out, size_t *n, const tfa_json_value *o, const char *key,
			  bool (*ok)(const char *), const char *bad, const char *what)
{
	tfa_err rc = TFA_OK;
	const tfa_json_value *a, *v;
	const char *s;
	size_t len, cnt;

	TFA_GUARD(tfa_jf_arr(&a, o, key, what));
	cnt = tfa_json_count(a);
	TFA_ENSURE(cnt >= 1 && cnt <= POLICY_LIST_MAX, TFA_EFORMAT,
		   "%s: %s must hold 1 to %d entries", what, key, POLICY_LIST_MAX);
	*out = calloc(cnt, sizeof(**out));
	TFA_ENSURE(*out != NULL, TFA_EINTERNAL, "out of memory");
	for (size_t i = 0; i < cnt; i++) {
		v = tfa_json_at(a, i);
		s = tfa_json_string(v, &len);
		TFA_ENSURE(s != NULL && len >= 1 && len <= POLICY_STR_MAX && strlen(s) == len,
			   TFA_EFORMAT, "%s: %s[%zu] is not a string of 1 to %d bytes", what, key,
			   i, POLICY_STR_MAX);
		TFA_ENSURE(ok(s), TFA_EFORMAT, "%s: %s[%zu] %s", what, key, i, bad);
		(*out)[i] = strdup(s);
		TFA_ENSURE((*out)[i] != NULL, TFA_EINTERNAL, "out of memory");
		(*n)++;
	}
out:
	return rc;
}

static bool chain_ok(const char *s)
{
	return tfa_chain_id_check(s, strlen(s)) == TFA_OK;
}

static bool event_ok(const char *s)
{
	return tfa_event_type_known(s);
}

static bool claim_name_ok(const char *s)
{
	size_t n = strlen(s);

	/* Claim names are identifiers; the standard claims are not matched this way. */
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return strcmp(s, "iss") != 0 && strcmp(s, "sub") != 0 && strcmp(s, "aud") != 0;
}

static tfa_err parse_rule(policy_rule *r, const tfa_json_value *o, const tfa_policy *p, size_t idx)
{
	static const char *const members[] = {"chains", "claims",  "events",
					      "issuer", "subject", NULL};
	tfa_err rc = TFA_OK;
	char what[64];
	const tfa_json_value *cl;
	bool known;

	snprintf(what, sizeof(what), "policy allow[%zu]", idx);
	TFA_ENSURE(tfa_json_type_of(o) == TFA_JSON_OBJECT, TFA_EFORMAT, "%s is not an object",
		   what);
	TFA_GUARD(tfa_jf_only(o, members, what));
	TFA_GUARD(dup_str(&r->issuer, o, "issuer", what));
	known = strcmp(r->issuer, TFA_POLICY_AWS_IAM) == 0;
	for (size_t i = 0; i < p->nissuers && !known; i++)
		known = strcmp(p->issuers[i].issuer, r->issuer) == 0;
	TFA_ENSURE(known, TFA_EFORMAT,
		   "%s: issuer is neither one of the policy's issuers nor \"" TFA_POLICY_AWS_IAM
		   "\"",
		   what);
	TFA_GUARD(dup_str(&r->subject, o, "subject", what));
	TFA_GUARD(
	    parse_list(&r->chains, &r->nchains, o, "chains", chain_ok, "is not a chain id", what));
	TFA_GUARD(parse_list(&r->events, &r->nevents, o, "events", event_ok, "is not an event type",
			     what));
	if (tfa_json_get(o, "claims")) {
		TFA_GUARD(tfa_jf_obj(&cl, o, "claims", what));
		r->nclaims = 0;
		TFA_ENSURE(tfa_json_count(cl) >= 1 && tfa_json_count(cl) <= POLICY_CLAIMS_MAX,
			   TFA_EFORMAT, "%s: claims must hold 1 to %d entries", what,
			   POLICY_CLAIMS_MAX);
		r->claims = calloc(tfa_json_count(cl), sizeof(*r->claims));
		TFA_ENSURE(r->claims != NULL, TFA_EINTERNAL, "out of memory");
		for (size_t i = 0; i < tfa_json_count(cl); i++) {
			size_t kl;
			const char *k = tfa_json_key_at(cl, i, &kl);
			TFA_ENSURE(strlen(k) == kl && claim_name_ok(k), TFA_EFORMAT,
				   "%s: claims: a claim name is 1 to 64 of [A-Za-z0-9_] and not "
				   "iss, sub or aud",
				   what);
			r->claims[i].name = strdup(k);
			TFA_ENSURE(r->claims[i].name != NULL, TFA_EINTERNAL, "out of memory");
			r->nclaims++;
			TFA_GUARD(dup_str(&r->claims[i].glob, cl, k, what));
		}
	}
out:
	return rc;
}

tfa_err tfa_policy_parse(tfa_policy **out, const uint8_t *json, size_t len, const char *base_dir)
{
	static const char *const members[] = {"allow", "issuers", NULL};
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	const tfa_json_value *root, *a;
	tfa_policy *p = NULL;
	size_t n;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(json);
	TFA_ENSURE(len <= POLICY_FILE_MAX, TFA_EFORMAT, "policy is larger than %u bytes",
		   POLICY_FILE_MAX);
	if (tfa_json_parse(&doc, json, len) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "policy is not valid JSON: %s", tfa_error_last()->message);
	root = tfa_json_root(doc);
	TFA_ENSURE(tfa_json_type_of(root) == TFA_JSON_OBJECT, TFA_EFORMAT,
		   "policy is not a JSON object");
	TFA_GUARD(tfa_jf_only(root, members, "policy"));
	p = calloc(1, sizeof(*p));
	TFA_ENSURE(p != NULL, TFA_EINTERNAL, "out of memory");
	if (tfa_json_get(root, "issuers")) {
		TFA_GUARD(tfa_jf_arr(&a, root, "issuers", "policy"));
		n = tfa_json_count(a);
		TFA_ENSURE(n <= POLICY_ISSUERS_MAX, TFA_EFORMAT,
			   "policy lists more than %d issuers", POLICY_ISSUERS_MAX);
		p->issuers = calloc(n ? n : 1, sizeof(*p->issuers));
		TFA_ENSURE(p->issuers != NULL, TFA_EINTERNAL, "out of memory");
		for (size_t i = 0; i < n; i++) {
			TFA_GUARD(parse_issuer(&p->issuers[i], tfa_json_at(a, i), base_dir, i));
			p->nissuers++;
			for (size_t j = 0; j < i; j++)
				TFA_ENSURE(strcmp(p->issuers[j].issuer, p->issuers[i].issuer) != 0,
					   TFA_EFORMAT, "policy issuers[%zu] repeats an issuer", i);
		}
	}
	TFA_GUARD(tfa_jf_arr(&a, root, "allow", "policy"));
	n = tfa_json_count(a);
	TFA_ENSURE(n >= 1 && n <= POLICY_RULES_MAX, TFA_EFORMAT,
		   "policy allow must hold 1 to %d rules", POLICY_RULES_MAX);
	p->rules = calloc(n, sizeof(*p->rules));
	TFA_ENSURE(p->rules != NULL, TFA_EINTERNAL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		p->nrules++;
		TFA_GUARD(parse_rule(&p->rules[i], tfa_json_at(a, i), p, i));
	}
	*out = p;
	p = NULL;
out:
	tfa_policy_free(p);
	tfa_json_free(doc);
	return rc;
}

tfa_err tfa_policy_load(tfa_policy **out, const char *path)
{
	tfa_err rc = TFA_OK;
	tfa_buf b;
	char *dir = NULL, *slash;

	tfa_buf_init(&b, POLICY_FILE_MAX);
	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(path);
	if (tfa_buf_read_file(&b, path, POLICY_FILE_MAX) != TFA_OK)
		TFA_BAIL(TFA_EUSAGE, "cannot read the policy: %s", tfa_error_last()->message);
	dir = strdup(path);
	TFA_ENSURE(dir != NULL, TFA_EINTERNAL, "out of memory");
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	TFA_GUARD(tfa_policy_parse(out, b.data, b.len, dir));
out:
	free(dir);
	tfa_buf_free(&b);
	return rc;
}

size_t tfa_policy_issuer_count(const tfa_policy *p)
{
	return p ? p->nissuers : 0;
}

const tfa_policy_issuer *tfa_policy_issuer_at(const tfa_policy *p, size_t i)
{
	return p && i < p->nissuers ? &p->issuers[i] : NULL;
}

static const char *claim_of(const tfa_identity *who, const char *name)
{
	for (size_t i = 0; i < who->nclaims; i++)
		if (who->claims[i].name && strcmp(who->claims[i].name, name) == 0)
			return who->claims[i].value;
	return NULL;
}

static bool in_list(char **list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

tfa_err tfa_policy_check(const tfa_policy *p, const tfa_identity *who, const char *chain_id,
			 const char *event)
{
	tfa_err rc = TFA_OK;
	/* How far the best rule got: 0 issuer, 1 subject, 2 claims, 3 chain, 4 event. */
	int best = 0;
	const char *what;

	TFA_ENSURE_ARG(p);
	TFA_ENSURE_ARG(who);
	TFA_ENSURE_ARG(chain_id);
	TFA_ENSURE_ARG(event);
	TFA_ENSURE(who->issuer != NULL && who->subject != NULL, TFA_EVERIFY,
		   "policy: the identity has no issuer or subject");
	for (size_t i = 0; i < p->nrules; i++) {
		const policy_rule *r = &p->rules[i];
		int stage = 0;
		bool claims_ok = true;

		if (strcmp(r->issuer, who->issuer) != 0)
			continue;
		stage = 1;
		if (tfa_glob_match(r->subject, who->subject)) {
			stage = 2;
			for (size_t k = 0; k < r->nclaims && claims_ok; k++) {
				const char *v = claim_of(who, r->claims[k].name);
				claims_ok = v != NULL && tfa_glob_match(r->claims[k].glob, v);
			}
			if (claims_ok) {
				stage = 3;
				if (in_list(r->chains, r->nchains, chain_id)) {
					stage = 4;
					if (in_list(r->events, r->nevents, event))
						return TFA_OK;
				}
			}
		}
		if (stage > best)
			best = stage;
	}
	switch (best) {
	case 0: what = "names the issuer"; break;
	case 1: what = "for this issuer matches the subject"; break;
	case 2: what = "for this issuer and subject matches the claims"; break;
	case 3: what = "for this identity names the chain"; break;
	default: what = "for this identity and chain allows the event"; break;
	}
	TFA_BAIL(TFA_EVERIFY,
		 "policy: no allow rule %s (issuer \"%s\", subject \"%s\", chain %s, "
		 "event %s)",
		 what, who->issuer, who->subject, chain_id, event);
out:
	return rc;
}
