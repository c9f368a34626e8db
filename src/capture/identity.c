/*
 * What the attestation service adds to a capture: the idempotency key, the
 * verified identity section (FORMAT.md §3.6), a capture built from a record
 * request, and the digest that says whether two deployments are the same
 * request (docs/SERVICE.md).
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "capture/capture_int.h"
#include "format/hex.h"
#include "format/timefmt.h"
#include "tfattest/artifact.h"
#include "tfattest/capture.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

tfa_err tfa_capture_set_idempotency_key(tfa_capture *c, const char *key)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(key);
	if (tfa_idempotency_key_check(key, strlen(key)) != TFA_OK)
		TFA_BAIL(TFA_EUSAGE, "idempotency key: %s", tfa_error_last()->message);
	cJSON_DeleteItemFromObjectCaseSensitive(c->event, "idempotency_key");
	TFA_ENSURE(cJSON_AddStringToObject(c->event, "idempotency_key", key) != NULL, TFA_EINTERNAL,
		   "out of memory");
out:
	return rc;
}

const char *tfa_capture_idempotency_key(const tfa_capture *c)
{
	const cJSON *k = c ? cJSON_GetObjectItemCaseSensitive(c->event, "idempotency_key") : NULL;

	return cJSON_IsString(k) ? k->valuestring : NULL;
}

tfa_err tfa_idempotency_key_new(char out[TFA_IDEMPOTENCY_KEY_MAX + 1])
{
	uint8_t rnd[16];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return tfa_error_openssl(TFA_ECRYPTO, "no random bytes for an idempotency key");
	tfa_hex_encode(out, rnd, sizeof(rnd));
	return TFA_OK;
}

static int str_ok(const char *s, size_t min, size_t max)
{
	size_t n;

	if (s == NULL)
		return min == 0;
	n = strlen(s);
	return n >= min && n <= max;
}

static tfa_err add_time(cJSON *o, const char *key, int64_t t)
{
	char when[TFA_TIME_STRLEN];

	tfa_time_format(when, t);
	return cJSON_AddStringToObject(o, key, when)
		   ? TFA_OK
		   : tfa_error_set(TFA_EINTERNAL, "out of memory");
}

static tfa_err add_string(cJSON *o, const char *key, const char *v)
{
	return cJSON_AddStringToObject(o, key, v) ? TFA_OK
						  : tfa_error_set(TFA_EINTERNAL, "out of memory");
}

tfa_err tfa_capture_set_identity(tfa_capture *c, const tfa_capture_identity *id)
{
	tfa_err rc = TFA_OK;
	cJSON *o = NULL, *cl;
	char when[TFA_TIME_STRLEN];

	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(id);
	TFA_ENSURE(id->method &&
		       (strcmp(id->method, "oidc") == 0 || strcmp(id->method, "aws-iam") == 0),
		   TFA_EUSAGE, "identity: method is oidc or aws-iam");
	TFA_ENSURE(id->verified_by && (strcmp(id->verified_by, "serve") == 0 ||
				       strcmp(id->verified_by, "lambda") == 0),
		   TFA_EUSAGE, "identity: verified_by is serve or lambda");
	TFA_ENSURE(
	    str_ok(id->issuer, 1, 1024) && str_ok(id->subject, 1, 1024) &&
		(id->audience == NULL || str_ok(id->audience, 1, 1024)) &&
		(id->client_cert == NULL || str_ok(id->client_cert, 1, 1024)),
	    TFA_EUSAGE,
	    "identity: issuer, subject, audience and client certificate are 1 to 1024 bytes");
	/* Times must be representable (§1.4); tfa_time_format would clamp otherwise. */
	for (int i = 0; i < 3; i++) {
		int64_t t = i == 0   ? id->issued_at
			    : i == 1 ? id->expires_at
				     : id->verified_at,
			back = 0;
		if (t == 0 && i < 2)
			continue;
		tfa_time_format(when, t);
		TFA_ENSURE(tfa_time_parse(&back, when, strlen(when)) == TFA_OK && back == t,
			   TFA_EUSAGE, "identity: a time is out of range");
	}
	o = cJSON_CreateObject();
	TFA_ENSURE(o != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(add_string(o, "method", id->method));
	TFA_GUARD(add_string(o, "issuer", id->issuer));
	TFA_GUARD(add_string(o, "subject", id->subject));
	if (id->audience)
		TFA_GUARD(add_string(o, "audience", id->audience));
	if (id->issued_at)
		TFA_GUARD(add_time(o, "issued_at", id->issued_at));
	if (id->expires_at)
		TFA_GUARD(add_time(o, "expires_at", id->expires_at));
	if (id->client_cert)
		TFA_GUARD(add_string(o, "client_cert", id->client_cert));
	if (id->nclaims) {
		cl = cJSON_AddObjectToObject(o, "claims");
		TFA_ENSURE(cl != NULL, TFA_EINTERNAL, "out of memory");
		for (size_t i = 0; i < id->nclaims; i++) {
			const tfa_kv *kv = &id->claims[i];
			TFA_ENSURE(str_ok(kv->name, 1, 64) && str_ok(kv->value, 0, 1024),
				   TFA_EUSAGE,
				   "identity: a claim name is 1 to 64 bytes, its value at most "
				   "1024");
			TFA_ENSURE(cJSON_GetObjectItemCaseSensitive(cl, kv->name) == NULL,
				   TFA_EUSAGE, "identity: a claim is given twice");
			TFA_GUARD(add_string(cl, kv->name, kv->value));
		}
	}
	TFA_GUARD(add_string(o, "verified_by", id->verified_by));
	TFA_GUARD(add_time(o, "verified_at", id->verified_at));
	cJSON_Delete(c->identity);
	c->identity = o;
	o = NULL;
out:
	cJSON_Delete(o);
	return rc;
}

tfa_err tfa_capture_from_request(tfa_capture **out, const uint8_t *req, size_t len)
{
	tfa_err rc = TFA_OK;
	cJSON *all = NULL, *key;
	tfa_capture *c = NULL;
	const cJSON *t, *st;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(req);
	all = cJSON_ParseWithLength((const char *)req, len);
	TFA_ENSURE(cJSON_IsObject(all), TFA_EFORMAT, "request is not a JSON object");
	c = calloc(1, sizeof(*c));
	TFA_ENSURE(c != NULL, TFA_EINTERNAL, "out of memory");
	c->event = cJSON_DetachItemFromObjectCaseSensitive(all, "event");
	c->terraform = cJSON_DetachItemFromObjectCaseSensitive(all, "terraform");
	c->context = cJSON_DetachItemFromObjectCaseSensitive(all, "context");
	TFA_ENSURE(cJSON_IsObject(c->event), TFA_EFORMAT, "request has no event");
	t = cJSON_GetObjectItemCaseSensitive(c->event, "type");
	st = cJSON_GetObjectItemCaseSensitive(c->event, "status");
	TFA_ENSURE(cJSON_IsString(t) && tfa_event_type_known(t->valuestring) &&
		       cJSON_IsString(st) &&
		       (strcmp(st->valuestring, "succeeded") == 0 ||
			strcmp(st->valuestring, "failed") == 0) &&
		       cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(c->event, "exit_code")),
		   TFA_EFORMAT, "request event is incomplete");
	/* The writer's own marks are never taken from a caller. */
	cJSON_DeleteItemFromObjectCaseSensitive(c->event, "spool");
	cJSON_DeleteItemFromObjectCaseSensitive(c->event, "idempotency_key");
	if (c->terraform == NULL)
		c->terraform = cJSON_CreateObject();
	if (c->context == NULL)
		c->context = cJSON_CreateObject();
	TFA_ENSURE(cJSON_IsObject(c->terraform) && cJSON_IsObject(c->context), TFA_EFORMAT,
		   "request terraform and context are objects");
	cJSON_DeleteItemFromObjectCaseSensitive(c->context, "claimed_by");
	TFA_GUARD(add_string(c->context, "claimed_by", "client"));
	key = cJSON_GetObjectItemCaseSensitive(all, "idempotency_key");
	if (key != NULL) {
		TFA_ENSURE(cJSON_IsString(key), TFA_EFORMAT, "request idempotency_key is a string");
		TFA_GUARD(tfa_capture_set_idempotency_key(c, key->valuestring));
	}
	*out = c;
	c = NULL;
out:
	if (rc == TFA_EUSAGE)
		rc = TFA_EFORMAT;
	tfa_capture_free(c);
	cJSON_Delete(all);
	return rc;
}

/* The digest of {event (no spool), terraform, context, identity: {method, issuer, subject}}. */
static tfa_err digest_of(uint8_t out[TFA_SHA256_LEN], const cJSON *event, const cJSON *terraform,
			 const cJSON *context, const cJSON *identity)
{
	tfa_err rc = TFA_OK;
	cJSON *root = NULL, *ev = NULL, *id;
	char *text = NULL;
	tfa_buf canon;

	tfa_buf_init(&canon, 0);
	root = cJSON_CreateObject();
	TFA_ENSURE(root != NULL, TFA_EINTERNAL, "out of memory");
	if (event) {
		ev = cJSON_Duplicate(event, 1);
		TFA_ENSURE(ev != NULL, TFA_EINTERNAL, "out of memory");
		cJSON_DeleteItemFromObjectCaseSensitive(ev, "spool");
		cJSON_AddItemToObject(root, "event", ev);
	}
	if (terraform)
		TFA_ENSURE(cJSON_AddItemReferenceToObject(root, "terraform", (cJSON *)terraform),
			   TFA_EINTERNAL, "out of memory");
	if (context)
		TFA_ENSURE(cJSON_AddItemReferenceToObject(root, "context", (cJSON *)context),
			   TFA_EINTERNAL, "out of memory");
	if (identity) {
		id = cJSON_AddObjectToObject(root, "identity");
		TFA_ENSURE(id != NULL, TFA_EINTERNAL, "out of memory");
		for (const char *const *k =
			 (const char *const[]){"method", "issuer", "subject", NULL};
		     *k; k++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(identity, *k);
			if (v)
				TFA_ENSURE(cJSON_AddItemReferenceToObject(id, *k, (cJSON *)v),
					   TFA_EINTERNAL, "out of memory");
		}
	}
	text = cJSON_PrintUnformatted(root);
	TFA_ENSURE(text != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_jcs_canonicalize(&canon, (const uint8_t *)text, strlen(text)));
	tfa_sha256(out, canon.data, canon.len);
out:
	cJSON_free(text);
	cJSON_Delete(root);
	tfa_buf_free(&canon);
	return rc;
}

tfa_err tfa_capture_digest(uint8_t out[TFA_SHA256_LEN], const tfa_capture *c)
{
	if (out == NULL || c == NULL)
		return tfa_error_set(TFA_EUSAGE, "missing argument");
	return digest_of(out, c->event, c->terraform, c->context, c->identity);
}

tfa_err tfa_artifact_capture_digest(uint8_t out[TFA_SHA256_LEN], const uint8_t *artifact,
				    size_t len)
{
	tfa_err rc = TFA_OK;
	cJSON *all = NULL;

	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(artifact);
	all = cJSON_ParseWithLength((const char *)artifact, len);
	TFA_ENSURE(cJSON_IsObject(all), TFA_EFORMAT, "artifact is not a JSON object");
	TFA_GUARD(digest_of(out, cJSON_GetObjectItemCaseSensitive(all, "event"),
			    cJSON_GetObjectItemCaseSensitive(all, "terraform"),
			    cJSON_GetObjectItemCaseSensitive(all, "context"),
			    cJSON_GetObjectItemCaseSensitive(all, "identity")));
out:
	cJSON_Delete(all);
	return rc;
}
