/*
 * The attestation service's client (tfattest/service_client.h): the record
 * request built from a capture, the reply checked before it is believed,
 * the two ways of saying who we are (a CI ID token, or SigV4 for a Lambda
 * Function URL with AWS_IAM auth), retries with one idempotency key, and
 * the spool of requests that could not be delivered.
 *
 * Tokens, AWS secrets and signatures travel in request headers only: they
 * are never printed, never written to an error message, and wiped after use.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/random.h>

#include "tfattest/common.h"

#include "capture/oidc.h"
#include "format/b64.h"
#include "format/hex.h"
#include "format/jfield.h"
#include "net/http.h"
#include "record/spool_int.h"
#include "tfattest/artifact.h"
#include "tfattest/capture.h"
#include "tfattest/jcs.h"
#include "tfattest/service_client.h"
#include "tfattest/spool.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"
#if TFATTEST_WITH_AWS
#include "aws/creds.h"
#include "aws/sigv4.h"
#include "aws/transport.h"
#endif

#define REPLY_MAX	   ((size_t)16 << 20)
#define URL_MAX		   2048
#define DEFAULT_ATTEMPTS   4u
#define DEFAULT_MAX_WAIT_S 30L
#define SPOOL_SUFFIX	   ".request"

struct tfa_service_client {
	char *url;
	char *ca_file;
	char *audience;
	char *id_token_file;
	char chain_id[TFA_CHAIN_ID_MAX + 1];
	char expect_fpr[TFA_FPR_STRLEN];
	char key[TFA_IDEMPOTENCY_KEY_MAX + 1];
	tfa_service_auth auth;
	unsigned max_attempts;
	long max_wait_s;
	tfa_buf spki; /* the pinned key, when given */
	char scheme[8];
	char host[TFA_NET_HOST_MAX]; /* the Host header value: host[:port] */
	const char *path;	     /* into url: "/..." ("/" when the URL has none) */
	bool prepared;
	tfa_buf token; /* oidc: the ID token; wiped */
#if TFATTEST_WITH_AWS
	char region[64];
	tfa_aws_creds creds;
#endif
	tfa_net_client *net;
};

/* ---- keys and options ---------------------------------------------------------------- */

/* TFA_EUSAGE for a key given by the caller that is not one. */
static tfa_err key_check(const char *s)
{
	if (s == NULL || tfa_idempotency_key_check(s, strlen(s)) != TFA_OK)
		return tfa_error_set(TFA_EUSAGE,
				     "an idempotency key is %d to %d characters from "
				     "[A-Za-z0-9._-]",
				     TFA_IDEMPOTENCY_KEY_MIN, TFA_IDEMPOTENCY_KEY_MAX);
	return TFA_OK;
}

/* A fresh key: 32 lowercase hex digits from the operating system's random source. */
static tfa_err key_new(char out[33])
{
	uint8_t rnd[16];
	size_t got = 0;

	if (out == NULL)
		return tfa_error_set(TFA_EUSAGE, "missing argument: out");
	while (got < sizeof(rnd)) {
		ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return tfa_error_set(TFA_ECRYPTO,
					     "no random bytes for an idempotency key: %s",
					     strerror(errno));
		got += (size_t)n;
	}
	tfa_hex_encode(out, rnd, sizeof(rnd));
	return TFA_OK;
}

tfa_err tfa_service_auth_from_name(tfa_service_auth *out, const char *name)
{
	if (out == NULL || name == NULL)
		return tfa_error_set(TFA_EUSAGE, "missing argument");
	if (strcmp(name, "oidc") == 0)
		*out = TFA_SERVICE_AUTH_OIDC;
	else if (strcmp(name, "aws") == 0)
		*out = TFA_SERVICE_AUTH_AWS;
	else
		return tfa_error_set(TFA_EUSAGE, "--service-auth takes oidc or aws");
	return TFA_OK;
}

/* ---- the request --------------------------------------------------------------------- */

/* Moves member `key` of `from` to `to`, when it is there. */
static tfa_err move_member(cJSON *to, cJSON *from, const char *key)
{
	cJSON *m = cJSON_DetachItemFromObjectCaseSensitive(from, key);

	if (m == NULL)
		return TFA_OK;
	if (!cJSON_AddItemToObject(to, key, m)) {
		cJSON_Delete(m);
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	}
	return TFA_OK;
}

static tfa_err canon_of(tfa_buf *out, const cJSON *v)
{
	tfa_err rc = TFA_OK;
	char *text = cJSON_PrintUnformatted(v);

	TFA_ENSURE(text != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_jcs_canonicalize(out, (const uint8_t *)text, strlen(text)));
out:
	cJSON_free(text);
	return rc;
}

tfa_err tfa_service_request_build(tfa_buf *out, const tfa_capture *c, const char *chain_id,
				  const char *idempotency_key)
{
	/* What the service takes of an event: nothing else (no spool mark) leaves. */
	static const char *const event_members[] = {"type", "status", "exit_code", "rollback_to",
						    NULL};
	tfa_err rc = TFA_OK;
	tfa_buf ser;
	cJSON *cap = NULL, *root = NULL, *ev, *sent_ev;

	tfa_buf_init(&ser, TFA_ARTIFACT_MAX);
	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(chain_id);
	TFA_GUARD(tfa_chain_id_check(chain_id, strlen(chain_id)));
	TFA_GUARD(key_check(idempotency_key));
	/* The capture's own serialised form: its event, terraform and context, no more. */
	TFA_GUARD(tfa_capture_serialize(&ser, c));
	cap = cJSON_ParseWithLength((const char *)ser.data, ser.len);
	TFA_ENSURE(cap != NULL, TFA_EINTERNAL, "the capture could not be read back");
	ev = cJSON_GetObjectItemCaseSensitive(cap, "event");
	TFA_ENSURE(cJSON_IsObject(ev) &&
		       cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(cap, "terraform")) &&
		       cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(cap, "context")),
		   TFA_EINTERNAL, "the capture lacks its event, terraform or context");
	root = cJSON_CreateObject();
	TFA_ENSURE(root != NULL, TFA_EINTERNAL, "out of memory");
	TFA_ENSURE(cJSON_AddStringToObject(root, "type", TFA_SERVICE_REQUEST_TYPE) &&
		       cJSON_AddStringToObject(root, "chain_id", chain_id) &&
		       cJSON_AddStringToObject(root, "idempotency_key", idempotency_key),
		   TFA_EINTERNAL, "out of memory");
	sent_ev = cJSON_AddObjectToObject(root, "event");
	TFA_ENSURE(sent_ev != NULL, TFA_EINTERNAL, "out of memory");
	for (const char *const *k = event_members; *k; k++)
		TFA_GUARD(move_member(sent_ev, ev, *k));
	TFA_GUARD(move_member(root, cap, "terraform"));
	TFA_GUARD(move_member(root, cap, "context"));
	TFA_GUARD(canon_of(out, root));
	TFA_ENSURE(out->len <= TFA_SERVICE_CLIENT_REQUEST_MAX, TFA_EFORMAT,
		   "the record request would be %zu bytes, more than the service takes (%u): "
		   "too many resource changes",
		   out->len, TFA_SERVICE_CLIENT_REQUEST_MAX);
out:
	cJSON_Delete(cap);
	cJSON_Delete(root);
	tfa_buf_free(&ser);
	return rc;
}

/* ---- the reply ----------------------------------------------------------------------- */

/* The canonical bytes of member `key` of obj (after removing `drop` from it, when given). */
static tfa_err member_canon(tfa_buf *out, cJSON *obj, const char *key, const char *drop,
			    const char *what)
{
	tfa_err rc = TFA_OK;
	cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);

	TFA_ENSURE(cJSON_IsObject(m), TFA_EVERIFY, "%s has no \"%s\" object", what, key);
	if (drop)
		cJSON_DeleteItemFromObjectCaseSensitive(m, drop);
	TFA_GUARD(canon_of(out, m));
out:
	return rc;
}

/* The string member key of obj, or NULL. */
static const char *str_member(const cJSON *obj, const char *key)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* Decodes base64 member `key` of the reply into out (at most cap bytes). */
static tfa_err reply_b64(tfa_buf *out, const tfa_json_value *root, const char *key, size_t cap)
{
	tfa_err rc = TFA_OK;
	const tfa_json_value *v = tfa_json_get(root, key);
	const char *s;
	size_t n = 0, got = 0;

	TFA_ENSURE(v != NULL && tfa_json_type_of(v) == TFA_JSON_STRING, TFA_EFORMAT,
		   "the service's reply has no \"%s\" string", key);
	s = tfa_json_string(v, &n);
	TFA_ENSURE(n > 0 && n <= TFA_B64_LEN(cap), TFA_EFORMAT,
		   "the service's reply: \"%s\" is empty or too long", key);
	TFA_GUARD(tfa_buf_reserve(out, n));
	rc = tfa_b64_decode(out->data, n, &got, s, n);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "the service's reply: \"%s\" is not base64", key);
	out->len = got;
out:
	return rc;
}

/* Compares the event and terraform members of the request and of the artifact. */
static tfa_err same_facts(const uint8_t *request, size_t request_len, const uint8_t *art,
			  size_t art_len, tfa_service_receipt *r)
{
	tfa_err rc = TFA_OK;
	cJSON *req = NULL, *a = NULL;
	tfa_buf x, y;
	const char *s, *key;

	tfa_buf_init(&x, TFA_ARTIFACT_MAX);
	tfa_buf_init(&y, TFA_ARTIFACT_MAX);
	req = cJSON_ParseWithLength((const char *)request, request_len);
	a = cJSON_ParseWithLength((const char *)art, art_len);
	TFA_ENSURE(req != NULL, TFA_EUSAGE, "the record request is not JSON");
	TFA_ENSURE(a != NULL, TFA_EFORMAT, "the service's artifact is not JSON");
	s = str_member(req, "chain_id");
	key = str_member(req, "idempotency_key");
	TFA_ENSURE(s != NULL && key != NULL, TFA_EUSAGE,
		   "the record request has no chain_id or idempotency_key");
	snprintf(r->chain_id, sizeof(r->chain_id), "%s", s);
	snprintf(r->idempotency_key, sizeof(r->idempotency_key), "%s", key);
	TFA_ENSURE(strcmp(s, str_member(a, "chain_id") ? str_member(a, "chain_id") : "") == 0,
		   TFA_EVERIFY, "the service recorded into chain %s, not %s",
		   str_member(a, "chain_id") ? str_member(a, "chain_id") : "?", s);
	s = str_member(cJSON_GetObjectItemCaseSensitive(a, "event"), "idempotency_key");
	TFA_ENSURE(s != NULL, TFA_EVERIFY,
		   "the service's record carries no idempotency key: it is not the answer to "
		   "this request");
	TFA_ENSURE(strcmp(s, key) == 0, TFA_EVERIFY,
		   "the service's record carries idempotency key %s, not ours (%s): it is not the "
		   "answer to this request",
		   s, key);
	TFA_GUARD(member_canon(&x, req, "event", NULL, "the record request"));
	TFA_GUARD(member_canon(&y, a, "event", "idempotency_key", "the service's record"));
	TFA_ENSURE(x.len == y.len && memcmp(x.data, y.data, x.len) == 0, TFA_EVERIFY,
		   "the service's record states another event than was sent");
	tfa_buf_clear(&x);
	tfa_buf_clear(&y);
	TFA_GUARD(member_canon(&x, req, "terraform", NULL, "the record request"));
	TFA_GUARD(member_canon(&y, a, "terraform", NULL, "the service's record"));
	TFA_ENSURE(x.len == y.len && memcmp(x.data, y.data, x.len) == 0, TFA_EVERIFY,
		   "the service's record states other Terraform facts than were sent");
out:
	cJSON_Delete(req);
	cJSON_Delete(a);
	tfa_buf_free(&x);
	tfa_buf_free(&y);
	return rc;
}

tfa_err tfa_service_reply_check(tfa_service_receipt *out, const uint8_t *request,
				size_t request_len, const uint8_t *reply, size_t reply_len,
				const char *expect_fpr, const uint8_t *spki, size_t spki_len)
{
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	const tfa_json_value *root, *v;
	tfa_buf art, sig, key;
	tfa_artifact a;
	tfa_service_receipt r;
	EVP_PKEY *pkey = NULL;
	uint8_t d[TFA_SHA256_LEN];
	char fpr[TFA_FPR_STRLEN], hash[TFA_FPR_STRLEN];
	const char *s;
	size_t n;
	int64_t seq;

	memset(&r, 0, sizeof(r));
	tfa_buf_init(&art, 0);
	tfa_buf_init(&sig, 0);
	tfa_buf_init(&key, 0);
	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(request);
	TFA_ENSURE_ARG(reply);
	TFA_ENSURE_ARG(expect_fpr);
	rc = tfa_json_parse(&doc, reply, reply_len);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "the service's reply is not valid JSON: %s",
			 tfa_error_last()->message);
	root = tfa_json_root(doc);
	TFA_ENSURE(tfa_json_type_of(root) == TFA_JSON_OBJECT, TFA_EFORMAT,
		   "the service's reply is not a JSON object");
	TFA_GUARD(tfa_jf_str(&s, &n, root, "type", 64, "the service's reply"));
	TFA_ENSURE(n == strlen(TFA_SERVICE_REPLY_TYPE) && memcmp(s, TFA_SERVICE_REPLY_TYPE, n) == 0,
		   TFA_EFORMAT, "the service's reply is not a record reply");
	TFA_GUARD(tfa_jf_strcpy(fpr, sizeof(fpr), root, "key_fingerprint", "the service's reply"));
	TFA_ENSURE(strcmp(fpr, expect_fpr) == 0, TFA_EVERIFY,
		   "the service signed with key %s, not the pinned key %s", fpr, expect_fpr);
	TFA_GUARD(tfa_jf_int(&seq, root, "seq", 1, (int64_t)TFA_SEQ_MAX, "the service's reply"));
	TFA_GUARD(tfa_jf_strcpy(hash, sizeof(hash), root, "hash", "the service's reply"));
	v = tfa_json_get(root, "replayed");
	TFA_ENSURE(v != NULL && (tfa_json_type_of(v) == TFA_JSON_TRUE ||
				 tfa_json_type_of(v) == TFA_JSON_FALSE),
		   TFA_EFORMAT, "the service's reply has no \"replayed\" boolean");
	r.replayed = tfa_json_type_of(v) == TFA_JSON_TRUE;
	r.seq = (uint64_t)seq;

	/* The key: the pinned one's PEM, or the reply's, which must be the pinned one. */
	if (spki == NULL) {
		TFA_ENSURE(tfa_json_get(root, "public_key") != NULL, TFA_EUSAGE,
			   "the service's reply does not carry its public key: give the pinned "
			   "key's PEM file (--public-key)");
		TFA_GUARD(reply_b64(&key, root, "public_key", TFA_SPKI_MAX));
		spki = key.data;
		spki_len = key.len;
	}
	rc = tfa_spki_canonical_check(spki, spki_len);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EVERIFY, "the service's public key is not a canonical key: %s",
			 tfa_error_last()->message);
	tfa_spki_fingerprint(fpr, spki, spki_len);
	TFA_ENSURE(strcmp(fpr, expect_fpr) == 0, TFA_EVERIFY,
		   "the public key at hand is %s, not the pinned key %s", fpr, expect_fpr);

	TFA_GUARD(reply_b64(&art, root, "artifact", TFA_ARTIFACT_MAX));
	TFA_GUARD(reply_b64(&sig, root, "signature", TFA_SIG_MAX));
	rc = tfa_artifact_parse(&a, art.data, art.len);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EVERIFY, "the service's record is not a valid artifact: %s",
			 tfa_error_last()->message);
	TFA_ENSURE(!a.is_rotation, TFA_EVERIFY, "the service answered with a rotation record");
	TFA_ENSURE(strcmp(a.key_fpr, expect_fpr) == 0, TFA_EVERIFY,
		   "the service's record names key %s, not the pinned key %s", a.key_fpr,
		   expect_fpr);
	TFA_GUARD(tfa_pkey_from_spki(&pkey, spki, spki_len));
	tfa_sha256(d, art.data, art.len);
	rc = tfa_verify_digest(pkey, a.alg, d, sig.data, sig.len);
	if (rc == TFA_EVERIFY)
		TFA_BAIL(TFA_EVERIFY,
			 "the signature on the service's record does not verify under the pinned "
			 "key %s",
			 expect_fpr);
	TFA_GUARD(rc);
	tfa_hash_str(r.hash, d);
	TFA_ENSURE(a.seq == r.seq, TFA_EVERIFY,
		   "the service's reply says seq %llu but its record is seq %llu",
		   (unsigned long long)r.seq, (unsigned long long)a.seq);
	TFA_ENSURE(strcmp(hash, r.hash) == 0, TFA_EVERIFY,
		   "the service's reply says hash %s but its record hashes to %s", hash, r.hash);
	TFA_GUARD(same_facts(request, request_len, art.data, art.len, &r));
	*out = r;
out:
	EVP_PKEY_free(pkey);
	tfa_json_free(doc);
	tfa_buf_free(&art);
	tfa_buf_free(&sig);
	tfa_buf_free(&key);
	return rc;
}

/* ---- the client ---------------------------------------------------------------------- */

static tfa_err dup_opt(char **out, const char *s)
{
	*out = NULL;
	if (s == NULL || *s == '\0')
		return TFA_OK;
	*out = strdup(s);
	return *out ? TFA_OK : tfa_error_set(TFA_EINTERNAL, "out of memory");
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The host name of the Host value, without the port. */
static void host_name(char *out, size_t size, const char *host)
{
	const char *colon = host[0] == '[' ? strchr(host, ']') : strrchr(host, ':');
	size_t n = strlen(host);

	if (host[0] == '[' && colon)
		colon = strchr(colon, ':');
	if (colon)
		n = (size_t)(colon - host);
	snprintf(out, size, "%.*s", (int)n, host);
}

static bool loopback(const char *name)
{
	return strcmp(name, "localhost") == 0 || strcmp(name, "[::1]") == 0 ||
	       strncmp(name, "127.", 4) == 0;
}

/* Splits the URL: scheme, Host value (default port dropped), path. */
static tfa_err parse_url(tfa_service_client *c)
{
	tfa_err rc = TFA_OK;
	const char *u = c->url, *rest, *slash;
	char hostport[TFA_NET_HOST_MAX + 16], name[TFA_NET_HOST_MAX];
	size_t n;

	TFA_ENSURE(strlen(u) < URL_MAX, TFA_EUSAGE, "--service URL is too long");
	for (const char *p = u; *p; p++)
		TFA_ENSURE((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f, TFA_EUSAGE,
			   "--service URL holds a blank or a control character");
	if (strncmp(u, "https://", 8) == 0) {
		snprintf(c->scheme, sizeof(c->scheme), "https");
		rest = u + 8;
	} else if (strncmp(u, "http://", 7) == 0) {
		snprintf(c->scheme, sizeof(c->scheme), "http");
		rest = u + 7;
	} else {
		TFA_BAIL(TFA_EUSAGE, "--service takes an https:// URL");
	}
	slash = strchr(rest, '/');
	n = slash ? (size_t)(slash - rest) : strlen(rest);
	TFA_ENSURE(n > 0 && n < sizeof(hostport) - 1, TFA_EUSAGE, "--service URL has no host");
	TFA_ENSURE(memchr(rest, '@', n) == NULL && memchr(rest, '?', n) == NULL &&
		       memchr(rest, '#', n) == NULL,
		   TFA_EUSAGE,
		   "--service URL: no user information, query or fragment before the path");
	TFA_ENSURE(strchr(u, '#') == NULL, TFA_EUSAGE, "--service URL: no fragment");
	snprintf(hostport, sizeof(hostport), "%s://%.*s", c->scheme, (int)n, rest);
#if TFATTEST_WITH_AWS
	{
		bool https;
		if (tfa_aws_endpoint_parse(hostport, &https, c->host, sizeof(c->host)) != TFA_OK)
			TFA_BAIL(TFA_EUSAGE, "--service URL has an invalid host or port");
	}
#else
	snprintf(c->host, sizeof(c->host), "%.*s", (int)n, rest);
#endif
	c->path = slash ? slash : "/";
	host_name(name, sizeof(name), c->host);
	/* Tokens and records cross the network only under TLS, but on loopback. */
	TFA_ENSURE(strcmp(c->scheme, "https") == 0 || loopback(name), TFA_EUSAGE,
		   "--service takes an https:// URL (plain http only to a loopback address)");
out:
	return rc;
}

void tfa_service_client_free(tfa_service_client *c)
{
	if (c == NULL)
		return;
	free(c->url);
	free(c->ca_file);
	free(c->audience);
	free(c->id_token_file);
	tfa_buf_free(&c->spki);
	tfa_buf_wipe_free(&c->token);
#if TFATTEST_WITH_AWS
	tfa_aws_creds_clear(&c->creds);
#endif
	tfa_net_client_free(c->net);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

tfa_err tfa_service_client_new(tfa_service_client **out, const tfa_service_client_opts *o)
{
	tfa_err rc = TFA_OK;
	tfa_service_client *c = NULL;
	tfa_buf pem;
	uint8_t d[TFA_SHA256_LEN];
	const char *e;

	tfa_buf_init(&pem, 64 * 1024);
	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(o);
	TFA_ENSURE(o->url != NULL && *o->url, TFA_EUSAGE, "no service URL (--service URL)");
	TFA_ENSURE(o->chain_id != NULL && *o->chain_id, TFA_EUSAGE,
		   "--service needs the chain it records into (--chain ID)");
	TFA_GUARD(tfa_chain_id_check(o->chain_id, strlen(o->chain_id)));
	TFA_ENSURE(o->expect_fpr != NULL && *o->expect_fpr, TFA_EUSAGE,
		   "--service needs the chain key it trusts (--expect-key-fingerprint FPR)");
	TFA_ENSURE(strlen(o->expect_fpr) == TFA_FPR_STRLEN - 1 &&
		       tfa_hash_parse(d, o->expect_fpr, strlen(o->expect_fpr)) == TFA_OK,
		   TFA_EUSAGE, "--expect-key-fingerprint takes sha256:<64 lowercase hex digits>");
	c = calloc(1, sizeof(*c));
	TFA_ENSURE(c != NULL, TFA_EINTERNAL, "out of memory");
	tfa_buf_init(&c->spki, TFA_SPKI_MAX);
	tfa_buf_init(&c->token, TFA_JWT_MAX + 1);
	TFA_GUARD(dup_opt(&c->url, o->url));
	TFA_GUARD(dup_opt(&c->ca_file, o->ca_file));
	TFA_GUARD(dup_opt(&c->audience, o->audience ? o->audience : TFA_OIDC_AUDIENCE));
	TFA_GUARD(dup_opt(&c->id_token_file, o->id_token_file));
	snprintf(c->chain_id, sizeof(c->chain_id), "%s", o->chain_id);
	snprintf(c->expect_fpr, sizeof(c->expect_fpr), "%s", o->expect_fpr);
	TFA_GUARD(parse_url(c));
	c->auth = o->auth;
	if (c->auth == TFA_SERVICE_AUTH_DEFAULT) {
		char name[TFA_NET_HOST_MAX];
		host_name(name, sizeof(name), c->host);
		c->auth = ends_with(name, ".on.aws") ? TFA_SERVICE_AUTH_AWS : TFA_SERVICE_AUTH_OIDC;
	}
#if !TFATTEST_WITH_AWS
	TFA_ENSURE(c->auth != TFA_SERVICE_AUTH_AWS, TFA_EUSAGE,
		   "--service-auth aws: this build has no AWS support (TFATTEST_WITH_AWS)");
#endif
	if (o->idempotency_key) {
		TFA_GUARD(key_check(o->idempotency_key));
		snprintf(c->key, sizeof(c->key), "%s", o->idempotency_key);
	} else {
		TFA_GUARD(key_new(c->key));
	}
	c->max_attempts = o->max_attempts;
	if (c->max_attempts == 0 && (e = getenv("TFATTEST_SERVICE_MAX_ATTEMPTS")) && *e) {
		char *end;
		unsigned long v = strtoul(e, &end, 10);
		TFA_ENSURE(*end == '\0' && v >= 1 && v <= 100, TFA_EUSAGE,
			   "TFATTEST_SERVICE_MAX_ATTEMPTS takes 1 to 100");
		c->max_attempts = (unsigned)v;
	}
	if (c->max_attempts == 0)
		c->max_attempts = DEFAULT_ATTEMPTS;
	c->max_wait_s = o->max_wait_s > 0 ? o->max_wait_s : DEFAULT_MAX_WAIT_S;
	if (o->public_key_pem) {
		rc = tfa_buf_read_file(&pem, o->public_key_pem, 64 * 1024);
		if (rc != TFA_OK)
			TFA_BAIL(TFA_EUSAGE, "cannot read --public-key: %s",
				 tfa_error_last()->message);
		TFA_GUARD(tfa_spki_from_pem(&c->spki, pem.data, pem.len));
		{
			char fpr[TFA_FPR_STRLEN];
			tfa_spki_fingerprint(fpr, c->spki.data, c->spki.len);
			TFA_ENSURE(strcmp(fpr, c->expect_fpr) == 0, TFA_EUSAGE,
				   "--public-key %s is key %s, not the pinned key %s",
				   o->public_key_pem, fpr, c->expect_fpr);
		}
	}
	TFA_GUARD(tfa_net_client_new(&c->net));
	*out = c;
	c = NULL;
out:
	tfa_buf_free(&pem);
	tfa_service_client_free(c);
	return rc;
}

const char *tfa_service_client_key(const tfa_service_client *c)
{
	return c ? c->key : NULL;
}

const char *tfa_service_client_url(const tfa_service_client *c)
{
	return c ? c->url : NULL;
}

const char *tfa_service_client_auth_name(const tfa_service_client *c)
{
	return c && c->auth == TFA_SERVICE_AUTH_AWS ? "aws" : "oidc";
}

/* An ID token is three base64url parts: nothing that could end or split a header. */
static tfa_err check_token(const tfa_buf *t, const char *source)
{
	size_t dots = 0;

	if (t->len == 0)
		return tfa_error_set(TFA_EUSAGE, "the ID token from %s is empty", source);
	for (size_t i = 0; i < t->len; i++) {
		uint8_t ch = t->data[i];
		if (ch == '.')
			dots++;
		else if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			   (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return tfa_error_set(TFA_EFORMAT, "the ID token from %s is not a JWT",
					     source);
	}
	if (dots != 2)
		return tfa_error_set(TFA_EFORMAT, "the ID token from %s is not a JWT", source);
	return TFA_OK;
}

static tfa_err oidc_token(tfa_service_client *c)
{
	tfa_err rc = TFA_OK;
	const char *url = getenv("ACTIONS_ID_TOKEN_REQUEST_URL");
	const char *bearer = getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
	const char *name = getenv("TFATTEST_ID_TOKEN");
	const char *jwt = NULL, *source;

	tfa_buf_clear(&c->token);
	if (c->id_token_file) {
		source = "--id-token";
		rc = tfa_buf_read_file(&c->token, c->id_token_file, TFA_JWT_MAX);
		if (rc != TFA_OK)
			TFA_BAIL(TFA_EUSAGE, "cannot read the ID token file %s: %s",
				 c->id_token_file, tfa_error_last()->message);
		while (c->token.len > 0 && (c->token.data[c->token.len - 1] == '\n' ||
					    c->token.data[c->token.len - 1] == '\r' ||
					    c->token.data[c->token.len - 1] == ' '))
			c->token.len--;
	} else if (url && *url && bearer && *bearer) {
		source = "GitHub Actions";
		TFA_GUARD(tfa_oidc_fetch(&c->token, url, bearer, c->audience));
	} else {
		source = name && *name ? name : "TFATTEST_OIDC_TOKEN";
		jwt = getenv(source);
		TFA_ENSURE(
		    jwt != NULL && *jwt, TFA_EUSAGE,
		    "no ID token for the service: give --id-token FILE, run in GitHub "
		    "Actions with `permissions: id-token: write`, or set TFATTEST_OIDC_TOKEN "
		    "(or TFATTEST_ID_TOKEN to the name of GitLab's id_tokens variable)");
		TFA_ENSURE(strlen(jwt) <= TFA_JWT_MAX, TFA_EFORMAT,
			   "the ID token in %s is longer than %zu bytes", source, TFA_JWT_MAX);
		TFA_GUARD(tfa_buf_append(&c->token, jwt, strlen(jwt)));
	}
	TFA_GUARD(check_token(&c->token, source));
	TFA_GUARD(tfa_buf_putc(&c->token, '\0'));
	c->token.len--; /* NUL-terminated for the header, not counted */
out:
	if (rc != TFA_OK)
		tfa_buf_wipe_free(&c->token);
	return rc;
}

#if TFATTEST_WITH_AWS
/* The region: from a Function URL's host (<id>.lambda-url.<region>.on.aws), else AWS_REGION. */
static tfa_err aws_region(tfa_service_client *c)
{
	char name[TFA_NET_HOST_MAX];
	const char *p;

	host_name(name, sizeof(name), c->host);
	p = strstr(name, ".lambda-url.");
	if (p && ends_with(name, ".on.aws")) {
		p += strlen(".lambda-url.");
		size_t n = strlen(p) - strlen(".on.aws");
		if (n > 0 && n < sizeof(c->region)) {
			snprintf(c->region, sizeof(c->region), "%.*s", (int)n, p);
			return TFA_OK;
		}
	}
	return tfa_aws_region_resolve(c->region, sizeof(c->region));
}
#endif

tfa_err tfa_service_client_prepare(tfa_service_client *c)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE_ARG(c);
	if (c->prepared)
		goto out;
	if (c->auth == TFA_SERVICE_AUTH_OIDC) {
		TFA_GUARD(oidc_token(c));
	} else {
#if TFATTEST_WITH_AWS
		const char *gh = getenv("ACTIONS_ID_TOKEN_REQUEST_URL");
		const char *env = getenv("TFATTEST_ID_TOKEN");

		TFA_GUARD(aws_region(c));
		TFA_GUARD(tfa_aws_creds_resolve(&c->creds, c->region));
		/*
		 * The caller is the IAM principal; a CI ID token, when the job has one, adds
		 * its claims (x-tfattest-id-token). Asked for with --id-token, it must be had.
		 */
		if (c->id_token_file || (gh && *gh) || (env && *env) ||
		    ((env = getenv("TFATTEST_OIDC_TOKEN")) && *env)) {
			rc = oidc_token(c);
			if (rc != TFA_OK && c->id_token_file)
				goto out;
			if (rc != TFA_OK) {
				tfa_error_clear();
				rc = TFA_OK;
			}
		}
#else
		TFA_BAIL(TFA_EUSAGE, "this build has no AWS support");
#endif
	}
	c->prepared = true;
out:
	return rc;
}

/* The headers of one attempt. Values may be secrets: wiped by the caller. */
typedef struct attempt_headers {
	tfa_net_header h[8];
	char *owned[8];
	size_t n;
} attempt_headers;

static tfa_err hdr_add(attempt_headers *hs, const char *name, const char *value)
{
	char *v;

	if (hs->n >= sizeof(hs->h) / sizeof(hs->h[0]))
		return tfa_error_set(TFA_EINTERNAL, "too many headers");
	v = strdup(value);
	if (v == NULL)
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	hs->owned[hs->n] = v;
	hs->h[hs->n].name = name;
	hs->h[hs->n].value = v;
	hs->n++;
	return TFA_OK;
}

static void hdr_clear(attempt_headers *hs)
{
	for (size_t i = 0; i < hs->n; i++) {
		OPENSSL_cleanse(hs->owned[i], strlen(hs->owned[i]));
		free(hs->owned[i]);
	}
	hs->n = 0;
}

static tfa_err build_headers(attempt_headers *hs, tfa_service_client *c, const uint8_t *body,
			     size_t len)
{
	tfa_err rc = TFA_OK;

	TFA_GUARD(hdr_add(hs, "Content-Type", "application/json"));
	TFA_GUARD(hdr_add(hs, "Accept", "application/json"));
	if (c->auth == TFA_SERVICE_AUTH_OIDC) {
		tfa_buf v;
		tfa_buf_init(&v, 0);
		rc = tfa_buf_puts(&v, "Bearer ");
		if (rc == TFA_OK)
			rc = tfa_buf_append(&v, c->token.data, c->token.len + 1);
		if (rc == TFA_OK)
			rc = hdr_add(hs, "Authorization", (const char *)v.data);
		tfa_buf_wipe_free(&v);
		TFA_GUARD(rc);
	} else {
#if TFATTEST_WITH_AWS
		tfa_buf auth;
		uint8_t d[TFA_SHA256_LEN];
		char payload[65], date[17], path[URL_MAX];
		const char *q;
		time_t now = time(NULL);
		struct tm tm;

		tfa_buf_init(&auth, 0);
		tfa_sha256(d, body, len);
		tfa_hex_encode(payload, d, sizeof(d));
		if (gmtime_r(&now, &tm) == NULL ||
		    strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm) != 16)
			TFA_BAIL(TFA_EINTERNAL, "the clock cannot be read");
		snprintf(path, sizeof(path), "%s", c->path);
		q = strchr(path, '?');
		if (q)
			path[q - path] = '\0';
		q = strchr(c->path, '?');
		{
			const tfa_aws_header signed_hdrs[] = {
			    {"Content-Type", "application/json"},
			    {"x-amz-content-sha256", payload},
			    {"x-tfattest-id-token", (const char *)c->token.data},
			};
			tfa_sigv4_request r = {
			    .method = "POST",
			    .host = c->host,
			    .path = path,
			    .query = q ? q + 1 : "",
			    .headers = signed_hdrs,
			    .nheaders = c->token.len ? 3 : 2,
			    .body = body,
			    .body_len = len,
			    .payload_hash = payload,
			    .s3 = false,
			};
			/* Short-lived credentials are fetched again once they have expired. */
			if (c->creds.expiration != 0 && (int64_t)now + 60 >= c->creds.expiration) {
				tfa_aws_creds_clear(&c->creds);
				TFA_GUARD(tfa_aws_creds_resolve(&c->creds, c->region));
			}
			rc = tfa_sigv4_sign(&auth, &r, "lambda", c->region, date, &c->creds, NULL,
					    NULL);
		}
		if (rc == TFA_OK)
			rc = hdr_add(hs, "x-amz-content-sha256", payload);
		if (rc == TFA_OK && c->token.len)
			rc = hdr_add(hs, "x-tfattest-id-token", (const char *)c->token.data);
		if (rc == TFA_OK)
			rc = hdr_add(hs, "X-Amz-Date", date);
		if (rc == TFA_OK && c->creds.session_token)
			rc = hdr_add(hs, "X-Amz-Security-Token", c->creds.session_token);
		if (rc == TFA_OK)
			rc = hdr_add(hs, "Authorization", (const char *)auth.data);
		tfa_buf_wipe_free(&auth);
		TFA_GUARD(rc);
#else
		(void)body;
		(void)len;
		TFA_BAIL(TFA_EUSAGE, "this build has no AWS support");
#endif
	}
out:
	return rc;
}

/* Retry-After, in seconds (the delta form; an HTTP date is left to the backoff). */
static void on_header(void *ud, const char *name, size_t nlen, const char *value, size_t vlen)
{
	long *retry_after = ud;
	char buf[16];

	if (nlen != 11 || strncasecmp(name, "Retry-After", 11) != 0 || vlen == 0 ||
	    vlen >= sizeof(buf))
		return;
	memcpy(buf, value, vlen);
	buf[vlen] = '\0';
	if (strspn(buf, "0123456789") == vlen)
		*retry_after = strtol(buf, NULL, 10);
}

/* The service's own one-line error from an error reply, escaped, or "". */
static void service_error(char *out, size_t size, const tfa_buf *body)
{
	cJSON *j = cJSON_ParseWithLength((const char *)body->data, body->len);
	const char *e = str_member(j, "error");

	out[0] = '\0';
	if (e)
		tfa_escape(out, size, e, TFA_ESCAPE_TERM);
	cJSON_Delete(j);
}

static void sleep_s(long s)
{
	struct timespec ts = {s, 0};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static long backoff_s(unsigned attempt, long cap)
{
	long base = 1;
	const char *e = getenv("TFATTEST_SERVICE_RETRY_BASE_S");

	if (e && *e && strspn(e, "0123456789") == strlen(e) && strlen(e) < 4)
		base = strtol(e, NULL, 10);
	for (unsigned i = 1; i < attempt && base < cap; i++)
		base *= 2;
	return base < cap ? base : cap;
}

tfa_err tfa_service_client_send(tfa_service_receipt *out, tfa_service_client *c,
				const uint8_t *request, size_t len)
{
	tfa_err rc = TFA_OK;
	tfa_net_response resp;
	attempt_headers hs;
	char msg[600];

	memset(&resp, 0, sizeof(resp));
	memset(&hs, 0, sizeof(hs));
	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(request);
	TFA_ENSURE(len <= TFA_SERVICE_CLIENT_REQUEST_MAX, TFA_EUSAGE,
		   "the record request is larger than the service takes");
	TFA_GUARD(tfa_service_client_prepare(c));
	for (unsigned attempt = 1;; attempt++) {
		long retry_after = -1, wait;
		bool last = attempt >= c->max_attempts;
		tfa_net_request req = {
		    .what = "attestation service",
		    .method = "POST",
		    .url = c->url,
		    .body = request,
		    .body_len = len,
		    .timeout_ms = 60000,
		    .max_response = REPLY_MAX,
		    .https_only = strcmp(c->scheme, "https") == 0,
		    .ca_file = c->ca_file,
		    .on_header = on_header,
		    .header_ud = &retry_after,
		};

		hdr_clear(&hs);
		TFA_GUARD(build_headers(&hs, c, request, len));
		req.headers = hs.h;
		req.nheaders = hs.n;
		tfa_net_response_free(&resp);
		rc = tfa_net_send(&resp, c->net, &req);
		hdr_clear(&hs);
		if (rc == TFA_OK && resp.status == 200) {
			TFA_GUARD(tfa_service_reply_check(
			    out, request, len, resp.body.data, resp.body.len, c->expect_fpr,
			    c->spki.len ? c->spki.data : NULL, c->spki.len));
			break;
		}
		if (rc == TFA_OK) {
			service_error(msg, sizeof(msg), &resp.body);
			rc = tfa_error_set(TFA_EBACKEND, "the service %s the record (HTTP %ld%s%s)",
					   resp.status >= 500 ? "failed to make" : "refused",
					   resp.status, msg[0] ? ": " : "", msg);
			tfa_error_detail("host %s", resp.host);
			if (resp.status < 500 && resp.status != 429)
				goto out; /* the same request would be refused again */
		} else if (rc != TFA_EIO) {
			goto out;
		}
		if (last)
			goto out;
		wait = retry_after >= 0 ? retry_after : backoff_s(attempt, c->max_wait_s);
		if (wait > c->max_wait_s)
			wait = c->max_wait_s;
		fprintf(stderr,
			"tfattest: the service did not record it (attempt %u of %u); retrying with "
			"the same idempotency key in %ld s\n",
			attempt, c->max_attempts, wait);
		sleep_s(wait);
	}
out:
	hdr_clear(&hs);
	tfa_net_response_free(&resp);
	return rc;
}

/* ---- the spool ----------------------------------------------------------------------- */

/* <20 digits>-<32 hex>.request */
static bool request_name(const char *n)
{
	size_t len = strlen(n), sl = strlen(SPOOL_SUFFIX);

	return len == 20 + 1 + 32 + sl && strspn(n, "0123456789") == 20 && n[20] == '-' &&
	       strspn(n + 21, "0123456789abcdef") == 32 && strcmp(n + 53, SPOOL_SUFFIX) == 0;
}

static tfa_err spool_request(char **path, const char *dir, const uint8_t *req, size_t len,
			     const char *key, int64_t deployed_at_ns)
{
	uint8_t d[TFA_SHA256_LEN];
	char hex[65], name[128];

	tfa_sha256(d, key, strlen(key));
	tfa_hex_encode(hex, d, sizeof(d));
	snprintf(name, sizeof(name), "%020lld-%.32s%s", (long long)deployed_at_ns, hex,
		 SPOOL_SUFFIX);
	return tfa_spool_put(path, dir, name, req, len);
}

tfa_err tfa_service_client_record(tfa_service_receipt *out, tfa_service_client *c,
				  const tfa_capture *cap, int64_t deployed_at_ns, char **spool_path,
				  tfa_error *spool_error)
{
	tfa_err rc = TFA_OK, src;
	tfa_buf req;
	tfa_error failure;
	char *dir = NULL;

	tfa_buf_init(&req, TFA_SERVICE_CLIENT_REQUEST_MAX);
	if (spool_path)
		*spool_path = NULL;
	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(cap);
	TFA_GUARD(tfa_service_request_build(&req, cap, c->chain_id, c->key));
	rc = tfa_service_client_send(out, c, req.data, req.len);
	if (rc == TFA_OK)
		goto out;
	failure = *tfa_error_last();
	failure.code = rc;
	src = tfa_spool_dir(&dir);
	if (src == TFA_OK)
		src = spool_request(spool_path, dir, req.data, req.len, c->key, deployed_at_ns);
	if (src != TFA_OK && spool_error) {
		*spool_error = *tfa_error_last();
		spool_error->code = src;
	}
	/* The delivery's failure is the one returned. */
	tfa_error_set(failure.code, "%s", failure.message);
	if (failure.detail[0])
		tfa_error_detail("%s", failure.detail);
	rc = failure.code;
out:
	free(dir);
	tfa_buf_free(&req);
	return rc;
}

/* The chain and idempotency key of a spooled request, checked as the service would. */
static tfa_err spooled_request(char chain[TFA_CHAIN_ID_MAX + 1], const tfa_buf *b, const char *path)
{
	static const char *const members[] = {"chain_id",  "context", "event", "idempotency_key",
					      "terraform", "type",    NULL};
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	const tfa_json_value *root, *tmp;
	const char *s;
	size_t n;
	char key[TFA_IDEMPOTENCY_KEY_MAX + 1];

	rc = tfa_json_parse(&doc, b->data, b->len);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "spooled request %s is not JSON: %s", path,
			 tfa_error_last()->message);
	root = tfa_json_root(doc);
	TFA_ENSURE(tfa_json_type_of(root) == TFA_JSON_OBJECT, TFA_EFORMAT,
		   "spooled request %s is not a JSON object", path);
	rc = tfa_jf_only(root, members, "spooled request");
	if (rc == TFA_OK)
		rc = tfa_jf_str(&s, &n, root, "type", 64, "spooled request");
	if (rc == TFA_OK &&
	    !(n == strlen(TFA_SERVICE_REQUEST_TYPE) && memcmp(s, TFA_SERVICE_REQUEST_TYPE, n) == 0))
		rc = tfa_error_set(TFA_EFORMAT, "spooled request has the wrong type");
	if (rc == TFA_OK)
		rc =
		    tfa_jf_strcpy(chain, TFA_CHAIN_ID_MAX + 1, root, "chain_id", "spooled request");
	if (rc == TFA_OK)
		rc = tfa_chain_id_check(chain, strlen(chain));
	if (rc == TFA_OK)
		rc = tfa_jf_strcpy(key, sizeof(key), root, "idempotency_key", "spooled request");
	if (rc == TFA_OK)
		rc = tfa_idempotency_key_check(key, strlen(key));
	if (rc == TFA_OK)
		rc = tfa_jf_obj(&tmp, root, "event", "spooled request");
	if (rc == TFA_OK)
		rc = tfa_jf_obj(&tmp, root, "terraform", "spooled request");
	if (rc == TFA_OK)
		rc = tfa_jf_obj(&tmp, root, "context", "spooled request");
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "spooled request %s is invalid: %s", path,
			 tfa_error_last()->message);
out:
	tfa_json_free(doc);
	return rc;
}

/* tfa_spool_list's filter: the spooled requests. */
static int keep_request(void *ud, const char *name)
{
	(void)ud;
	return request_name(name);
}

tfa_err tfa_service_flush_spool(tfa_service_flush_counts *res, tfa_service_client *c,
				const char *dir, void (*line)(void *ud, const char *text), void *ud)
{
	tfa_err rc = TFA_OK;
	char **names = NULL;
	size_t n = 0;
	tfa_buf raw;
	int dfd = -1;

	tfa_buf_init(&raw, TFA_SERVICE_CLIENT_REQUEST_MAX);
	TFA_ENSURE_ARG(res);
	memset(res, 0, sizeof(*res));
	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(dir);
	rc = tfa_spool_open_dir(&dfd, dir);
	if (rc == TFA_ENOTFOUND) {
		tfa_error_clear(); /* nothing was ever spooled */
		rc = TFA_OK;
		goto out;
	}
	TFA_GUARD(rc);
	TFA_GUARD(tfa_spool_list(&names, &n, dfd, dir, keep_request, NULL, "spooled requests"));
	for (size_t i = 0; i < n; i++) {
		char chain[TFA_CHAIN_ID_MAX + 1], path[4400], msg[700];
		tfa_service_receipt r;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		tfa_buf_clear(&raw);
		TFA_GUARD(
		    tfa_spool_read(&raw, dfd, names[i], path, TFA_SERVICE_CLIENT_REQUEST_MAX));
		TFA_GUARD(spooled_request(chain, &raw, path));
		if (strcmp(chain, c->chain_id) != 0) {
			res->other++;
			continue;
		}
		rc = tfa_service_client_send(&r, c, raw.data, raw.len);
		if (rc != TFA_OK) {
			tfa_error why = *tfa_error_last();
			TFA_BAIL(rc, "spooled request %s: %s", path, why.message);
		}
		if (r.replayed)
			res->replayed++;
		else
			res->sent++;
		snprintf(msg, sizeof(msg), "%s spooled request %s (idempotency key %s) as seq %llu",
			 r.replayed ? "the service already had" : "recorded", names[i],
			 r.idempotency_key, (unsigned long long)r.seq);
		if (unlinkat(dfd, names[i], 0) != 0)
			TFA_BAIL(TFA_EIO, "cannot remove %s: %s", path, strerror(errno));
		if (fsync(dfd) != 0)
			TFA_BAIL(TFA_EIO, "cannot fsync %s: %s", dir, strerror(errno));
		if (line)
			line(ud, msg);
	}
out:
	tfa_spool_names_free(names, n);
	if (dfd >= 0)
		close(dfd);
	tfa_buf_free(&raw);
	return rc;
}
