/*
 * One issuer's key set, kept: read from a file or fetched over HTTPS (the
 * jwks_uri, else the one the issuer's discovery document names), kept for a
 * TTL, and refetched at most once per REFETCH_MIN seconds when a token names
 * a kid the set lacks (the issuer rotated its keys).
 *
 * Thread-safe: `lock` guards the current set, which is reference-counted so
 * that tokens are checked outside the lock; `fetch_lock` lets one thread
 * fetch at a time (the net client serves one thread) while the others go on
 * with the set they hold. A failed refresh keeps the old set and is retried
 * no sooner than REFETCH_MIN seconds later: keys are public, and an issuer
 * that is briefly unreachable should not stop every deployment.
 *
 * Fetches need https://, except from an http://127.0.0.1, http://[::1] or
 * http://localhost issuer (a test issuer on this host), whose jwks_uri may then
 * be loopback http too. CURL_CA_BUNDLE, when set, names the CA certificates to
 * trust, as for the CI token request.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/http.h"
#include "service/jwk_int.h"
#include "service/jwt.h"
#include "tfattest/buffer.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"

#define REFETCH_MIN   30
#define TTL_MAX	      (7 * 24 * 3600)
#define URL_MAX	      2048
#define DOC_MAX	      ((size_t)256 << 10)
#define DISCOVERY_MAX ((size_t)64 << 10)
#define FETCH_MS      10000L

/* A key set shared between the cache and the threads using it. */
typedef struct shared_set {
	tfa_jwks *set;
	unsigned refs;
} shared_set;

struct tfa_jwks_cache {
	char *issuer;
	char *jwks_file;
	char *jwks_uri; /* NULL: from discovery */
	int64_t ttl;
	pthread_mutex_t lock; /* cur, fetched, attempted, kid_refetch */
	pthread_mutex_t fetch_lock;
	shared_set *cur;
	int64_t fetched;     /* mono_ms() when the current set was read */
	int64_t attempted;   /* of the last refresh attempt, successful or not */
	int64_t kid_refetch; /* of the last refresh an unknown kid caused; 0 never */
	uint64_t generation; /* counts successful refreshes */
	tfa_net_client *net;
};

/* Milliseconds on the monotonic clock, from 1 (0 means "never" below). */
static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}

static bool loopback_http(const char *url)
{
	static const char *const hosts[] = {"http://127.0.0.1", "http://[::1]", "http://localhost"};

	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		size_t n = strlen(hosts[i]);

		if (strncmp(url, hosts[i], n) == 0 &&
		    (url[n] == ':' || url[n] == '/' || url[n] == '\0'))
			return true;
	}
	return false;
}

/* https://, or loopback http:// when the issuer is itself loopback http. */
static tfa_err url_allowed(const char *url, const char *issuer, const char *what)
{
	if (strncmp(url, "https://", 8) == 0 && url[8] != '\0')
		return TFA_OK;
	if (loopback_http(url) && loopback_http(issuer))
		return TFA_OK;
	return tfa_error_set(TFA_EUSAGE, "JWKS: the %s is not an https:// URL", what);
}

static tfa_err get(tfa_jwks_cache *c, tfa_net_response *resp, const char *url, size_t max,
		   const char *what)
{
	tfa_err rc = TFA_OK;
	const tfa_net_header h[] = {{"Accept", "application/json"}};
	tfa_net_request req = {
	    .what = what,
	    .method = "GET",
	    .url = url,
	    .headers = h,
	    .nheaders = 1,
	    .connect_timeout_ms = FETCH_MS,
	    .timeout_ms = FETCH_MS,
	    .max_response = max,
	    .https_only = !loopback_http(url),
	    .ca_file = getenv("CURL_CA_BUNDLE"),
	};

	TFA_GUARD(tfa_net_send(resp, c->net, &req));
	TFA_ENSURE(resp->status == 200, TFA_EBACKEND, "%s: HTTP %ld (host %s)", what, resp->status,
		   resp->host);
out:
	return rc;
}

/* The jwks_uri of the issuer's discovery document (OIDC Discovery 1.0 §4). */
static tfa_err discover(tfa_jwks_cache *c, char *uri, size_t cap)
{
	tfa_err rc = TFA_OK;
	tfa_net_response resp;
	tfa_json *doc = NULL;
	const tfa_json_value *root, *v;
	const char *s;
	size_t n, ilen = strlen(c->issuer);
	char url[URL_MAX];

	memset(&resp, 0, sizeof(resp));
	if (ilen > 0 && c->issuer[ilen - 1] == '/')
		ilen--;
	TFA_ENSURE(snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration", (int)ilen,
			    c->issuer) < (int)sizeof(url),
		   TFA_EUSAGE, "JWKS: the issuer URL is too long");
	TFA_GUARD(get(c, &resp, url, DISCOVERY_MAX, "OIDC discovery"));
	TFA_ENSURE(resp.body.len > 0, TFA_EFORMAT, "OIDC discovery: an empty document");
	if (tfa_json_parse(&doc, resp.body.data, resp.body.len) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "OIDC discovery: %s", tfa_error_last()->message);
	root = tfa_json_root(doc);
	v = tfa_json_get(root, "issuer");
	s = tfa_json_string(v, &n);
	TFA_ENSURE(s != NULL && n == strlen(c->issuer) && memcmp(s, c->issuer, n) == 0, TFA_EVERIFY,
		   "OIDC discovery: the document is for another issuer");
	s = tfa_json_string(tfa_json_get(root, "jwks_uri"), &n);
	TFA_ENSURE(s != NULL && n > 0 && n < cap && memchr(s, '\0', n) == NULL, TFA_EFORMAT,
		   "OIDC discovery: no usable jwks_uri");
	TFA_GUARD(url_allowed(s, c->issuer, "discovered jwks_uri"));
	memcpy(uri, s, n + 1);
out:
	tfa_json_free(doc);
	tfa_net_response_free(&resp);
	return rc;
}

/* Reads the key set from its source. Called with fetch_lock held. */
static tfa_err load(tfa_jwks_cache *c, tfa_jwks **out)
{
	tfa_err rc = TFA_OK;
	tfa_buf b;
	tfa_net_response resp;
	char uri[URL_MAX];

	memset(&resp, 0, sizeof(resp));
	tfa_buf_init(&b, DOC_MAX);
	if (c->jwks_file != NULL) {
		TFA_GUARD(tfa_buf_read_file(&b, c->jwks_file, DOC_MAX));
		TFA_GUARD(tfa_jwks_parse(out, b.data, b.len));
		goto out;
	}
	if (c->net == NULL)
		TFA_GUARD(tfa_net_client_new(&c->net));
	if (c->jwks_uri != NULL)
		snprintf(uri, sizeof(uri), "%s", c->jwks_uri);
	else
		TFA_GUARD(discover(c, uri, sizeof(uri)));
	TFA_GUARD(get(c, &resp, uri, DOC_MAX, "JWKS fetch"));
	TFA_GUARD(tfa_jwks_parse(out, resp.body.data, resp.body.len));
out:
	tfa_net_response_free(&resp);
	tfa_buf_free(&b);
	return rc;
}

static void release(tfa_jwks_cache *c, shared_set *s)
{
	bool last;

	if (s == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&c->lock);
	if (last) {
		tfa_jwks_free(s->set);
		free(s);
	}
}

/* Replaces the current set with a fresh one. */
static tfa_err install(tfa_jwks_cache *c, tfa_jwks *set, int64_t now)
{
	shared_set *s = calloc(1, sizeof(*s)), *old;

	if (s == NULL) {
		tfa_jwks_free(set);
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	}
	s->set = set;
	s->refs = 1;
	pthread_mutex_lock(&c->lock);
	old = c->cur;
	c->cur = s;
	c->fetched = now;
	c->generation++;
	pthread_mutex_unlock(&c->lock);
	release(c, old);
	return TFA_OK;
}

/*
 * Refreshes the set unless another thread did since `seen` (a generation).
 * by_kid (an unknown kid asks): at most once per REFETCH_MIN seconds. Else
 * (the TTL ran out): not within the TTL or REFETCH_MIN, the shorter, of the
 * last attempt, so that an unreachable issuer is not asked on every token.
 */
static tfa_err refresh(tfa_jwks_cache *c, uint64_t seen, bool by_kid)
{
	tfa_err rc = TFA_OK;
	tfa_jwks *set = NULL;
	int64_t now;
	bool go;

	pthread_mutex_lock(&c->fetch_lock);
	now = mono_ms();
	pthread_mutex_lock(&c->lock);
	if (by_kid)
		go = c->kid_refetch == 0 || now - c->kid_refetch >= REFETCH_MIN * 1000;
	else
		go = now - c->attempted >= (c->ttl < REFETCH_MIN ? c->ttl : REFETCH_MIN) * 1000;
	go = go && c->generation == seen;
	if (go) {
		c->attempted = now;
		if (by_kid)
			c->kid_refetch = now;
	}
	pthread_mutex_unlock(&c->lock);
	if (go) {
		rc = load(c, &set);
		if (rc == TFA_OK)
			rc = install(c, set, now);
	}
	pthread_mutex_unlock(&c->fetch_lock);
	return rc;
}

/* The current set (a reference the caller releases), refreshed first when stale. */
static shared_set *acquire(tfa_jwks_cache *c, uint64_t *gen)
{
	shared_set *s;
	bool stale;
	int64_t now = mono_ms();

	pthread_mutex_lock(&c->lock);
	stale = now - c->fetched >= c->ttl * 1000;
	*gen = c->generation;
	pthread_mutex_unlock(&c->lock);
	/* A failed refresh keeps the old set (see the top of this file). */
	if (stale && refresh(c, *gen, false) != TFA_OK)
		tfa_error_clear();
	pthread_mutex_lock(&c->lock);
	s = c->cur;
	s->refs++;
	*gen = c->generation;
	pthread_mutex_unlock(&c->lock);
	return s;
}

tfa_err tfa_jwks_cache_new(tfa_jwks_cache **out, const char *issuer, const char *jwks_file,
			   const char *jwks_uri, int64_t ttl)
{
	tfa_err rc = TFA_OK;
	tfa_jwks_cache *c = NULL;
	tfa_jwks *set = NULL;
	bool locks = false;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE(issuer != NULL && issuer[0] != '\0', TFA_EUSAGE, "JWKS: no issuer");
	TFA_ENSURE(!(jwks_file && jwks_uri), TFA_EUSAGE,
		   "JWKS: a key file and a jwks_uri are exclusive");
	TFA_ENSURE(ttl > 0 && ttl <= TTL_MAX, TFA_EUSAGE,
		   "JWKS: the cache TTL must be 1 to %d seconds", TTL_MAX);
	TFA_ENSURE(strlen(issuer) < URL_MAX - 64, TFA_EUSAGE, "JWKS: the issuer URL is too long");
	if (jwks_uri != NULL) {
		TFA_ENSURE(strlen(jwks_uri) < URL_MAX, TFA_EUSAGE,
			   "JWKS: the jwks_uri is too long");
		TFA_GUARD(url_allowed(jwks_uri, issuer, "jwks_uri"));
	} else if (jwks_file == NULL) {
		TFA_GUARD(url_allowed(issuer, issuer, "issuer (for discovery)"));
	}
	c = calloc(1, sizeof(*c));
	TFA_ENSURE(c != NULL, TFA_EINTERNAL, "out of memory");
	c->ttl = ttl;
	c->issuer = strdup(issuer);
	c->jwks_file = jwks_file ? strdup(jwks_file) : NULL;
	c->jwks_uri = jwks_uri ? strdup(jwks_uri) : NULL;
	TFA_ENSURE(c->issuer && (!jwks_file || c->jwks_file) && (!jwks_uri || c->jwks_uri),
		   TFA_EINTERNAL, "out of memory");
	TFA_ENSURE(pthread_mutex_init(&c->lock, NULL) == 0, TFA_EINTERNAL, "mutex");
	if (pthread_mutex_init(&c->fetch_lock, NULL) != 0) {
		pthread_mutex_destroy(&c->lock);
		TFA_BAIL(TFA_EINTERNAL, "mutex");
	}
	locks = true;
	/* The first read fails loudly: a service must not start with no keys. */
	c->attempted = mono_ms();
	TFA_GUARD(load(c, &set));
	TFA_GUARD(install(c, set, c->attempted));
	*out = c;
	c = NULL;
out:
	if (c != NULL) {
		if (!locks) {
			free(c->issuer);
			free(c->jwks_file);
			free(c->jwks_uri);
			free(c);
		} else {
			tfa_jwks_cache_free(c);
		}
	}
	return rc;
}

tfa_err tfa_jwks_cache_verify(tfa_jwks_cache *c, tfa_jwt **out, const char *token, size_t len,
			      const tfa_jwt_rules *rules)
{
	tfa_err rc = TFA_OK;
	shared_set *s = NULL;
	uint64_t gen;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(rules);
	TFA_ENSURE(rules->issuer && strcmp(rules->issuer, c->issuer) == 0, TFA_EUSAGE,
		   "ID token rules: the issuer is not this key set's");
	s = acquire(c, &gen);
	rc = tfa_jwt_verify(out, token, len, s->set, rules);
	if (rc != TFA_ENOTFOUND)
		goto out;
	/* An unknown kid: the issuer may have rotated its keys. */
	{
		tfa_error saved = *tfa_error_last();

		if (refresh(c, gen, true) != TFA_OK) {
			rc = tfa_error_set(saved.code, "%s (refreshing the key set failed: %s)",
					   saved.message, tfa_error_last()->message);
			goto out;
		}
		release(c, s);
		s = acquire(c, &gen);
		rc = tfa_jwt_verify(out, token, len, s->set, rules);
	}
out:
	release(c, s);
	return rc;
}

void tfa_jwks_cache_free(tfa_jwks_cache *c)
{
	if (c == NULL)
		return;
	release(c, c->cur);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->fetch_lock);
	tfa_net_client_free(c->net);
	free(c->issuer);
	free(c->jwks_file);
	free(c->jwks_uri);
	free(c);
}
