/*
 * The attestation service's core (include/tfattest/service.h): one chain, one
 * key, one policy; requests validated, checked against the policy, made into
 * captures with the verified identity, and appended one at a time.
 *
 * Idempotency (docs/SERVICE.md, "Requests"): the store is the truth. The
 * service remembers which seq holds which key for the records it has seen
 * (those it appended, and those it read from the store), and before every
 * append it reads whatever other writers appended since it last looked, so a
 * retry finds its first record after a restart, on another instance, or when
 * the answer to the first append was lost. A key seen earlier than the window
 * (the last SERVICE_WINDOW records, none older than SERVICE_WINDOW_AGE) is
 * not looked for.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "format/b64.h"
#include "format/hex.h"
#include "service/request.h"
#include "tfattest/capture.h"
#include "tfattest/chain.h"
#include "tfattest/service.h"
#include "tfattest/signer.h"
#include "tfattest/store.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

/* How far back a retried key is looked for. */
#define SERVICE_WINDOW	   1024
#define SERVICE_WINDOW_AGE (7 * 86400)
/* Keys remembered in memory (a ring; the store answers for the rest of the window). */
#define SERVICE_KEYS 4096

typedef struct known_key {
	char key[TFA_IDEMPOTENCY_KEY_MAX + 1];
	uint64_t seq;
} known_key;

struct tfa_service {
	tfa_store *st;
	tfa_signer *signer;
	tfa_sig_alg alg;
	const tfa_policy *policy;
	char front_end[16];
	tfa_chain_info info;
	pthread_mutex_t lock; /* one append at a time; guards everything below */
	known_key *keys;      /* SERVICE_KEYS entries */
	size_t nkeys;	      /* entries written so far (the ring wraps) */
	uint64_t seen;	      /* every record up to this seq has been read for its key */
};

static void remember(tfa_service *s, const char *key, uint64_t seq)
{
	known_key *k = &s->keys[s->nkeys++ % SERVICE_KEYS];

	snprintf(k->key, sizeof(k->key), "%s", key);
	k->seq = seq;
}

static uint64_t recall(const tfa_service *s, const char *key)
{
	size_t n = s->nkeys < SERVICE_KEYS ? s->nkeys : SERVICE_KEYS;

	/* Newest first: a key is unique in practice, and the newest is the one to answer. */
	for (size_t i = 0; i < n; i++) {
		const known_key *k = &s->keys[(s->nkeys - 1 - i) % SERVICE_KEYS];
		if (strcmp(k->key, key) == 0)
			return k->seq;
	}
	return 0;
}

/* Reads the keys of the records appended since s->seen (at most the window's worth). */
static tfa_err catch_up(tfa_service *s)
{
	tfa_err rc = TFA_OK;
	tfa_buf bytes, sig;
	tfa_artifact *art = NULL;
	uint64_t head = 0, from;
	int64_t not_before = (int64_t)time(NULL) - SERVICE_WINDOW_AGE;

	tfa_buf_init(&bytes, TFA_ARTIFACT_MAX);
	tfa_buf_init(&sig, 0);
	art = calloc(1, sizeof(*art));
	TFA_ENSURE(art != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_store_head(s->st, &head));
	from = s->seen + 1;
	if (head >= SERVICE_WINDOW && from <= head - SERVICE_WINDOW)
		from = head - SERVICE_WINDOW + 1;
	for (uint64_t seq = from; seq <= head; seq++) {
		tfa_buf_clear(&bytes);
		tfa_buf_clear(&sig);
		TFA_GUARD(tfa_store_get(s->st, seq, &bytes, &sig));
		if (tfa_artifact_parse(art, bytes.data, bytes.len) != TFA_OK)
			TFA_BAIL(TFA_EVERIFY, "record %llu is invalid: %s", (unsigned long long)seq,
				 tfa_error_last()->message);
		if (art->idempotency_key[0] && art->time >= not_before)
			remember(s, art->idempotency_key, seq);
	}
	if (head > s->seen)
		s->seen = head;
out:
	free(art);
	tfa_buf_free(&bytes);
	tfa_buf_free(&sig);
	return rc;
}

tfa_err tfa_service_open(tfa_service **out, const tfa_service_config *cfg)
{
	tfa_err rc = TFA_OK;
	tfa_service *s = NULL;
	uint64_t head = 0;
	char head_hash[TFA_FPR_STRLEN], key_fpr[TFA_FPR_STRLEN];

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(cfg);
	TFA_ENSURE(cfg->store && cfg->key, TFA_EUSAGE, "the service needs a store and a key");
	TFA_ENSURE(cfg->policy != NULL, TFA_EUSAGE, "the service needs a policy");
	TFA_ENSURE(cfg->front_end && (strcmp(cfg->front_end, "serve") == 0 ||
				      strcmp(cfg->front_end, "lambda") == 0),
		   TFA_EUSAGE, "the service's front end is serve or lambda");
	s = calloc(1, sizeof(*s));
	TFA_ENSURE(s != NULL, TFA_EINTERNAL, "out of memory");
	s->keys = calloc(SERVICE_KEYS, sizeof(*s->keys));
	TFA_ENSURE(s->keys != NULL, TFA_EINTERNAL, "out of memory");
	TFA_ENSURE(pthread_mutex_init(&s->lock, NULL) == 0, TFA_EINTERNAL,
		   "cannot create the service's lock");
	s->alg = cfg->alg;
	s->policy = cfg->policy;
	snprintf(s->front_end, sizeof(s->front_end), "%s", cfg->front_end);
	TFA_GUARD(tfa_signer_open(&s->signer, cfg->key));
	if (s->alg == TFA_ALG_NONE)
		s->alg = tfa_signer_default_alg(s->signer);
	TFA_GUARD(tfa_signer_check_alg(s->signer, s->alg));
	TFA_GUARD(tfa_store_open_seq(&s->st, cfg->store, cfg->sequencer));
	TFA_GUARD(tfa_chain_info_read(&s->info, s->st));
	TFA_GUARD(tfa_chain_head(s->st, &s->info, &head, head_hash, key_fpr));
	TFA_ENSURE(strcmp(key_fpr, tfa_signer_fingerprint(s->signer)) == 0, TFA_EVERIFY,
		   "key %s is not the current key of chain %s (%s)",
		   tfa_signer_fingerprint(s->signer), s->info.chain_id, key_fpr);
	TFA_GUARD(catch_up(s));
	*out = s;
	s = NULL;
out:
	tfa_service_close(s);
	return rc;
}

void tfa_service_close(tfa_service *s)
{
	if (s == NULL)
		return;
	if (s->keys)
		pthread_mutex_destroy(&s->lock);
	tfa_store_free(s->st);
	tfa_signer_free(s->signer);
	free(s->keys);
	free(s);
}

const char *tfa_service_chain_id(const tfa_service *s)
{
	return s ? s->info.chain_id : NULL;
}

void tfa_service_reply_free(tfa_service_reply *reply)
{
	if (reply == NULL)
		return;
	tfa_buf_free(&reply->body);
}

/* An error reply: {"type":"tfattest.error","error":"..."} with status and outcome. */
static tfa_err reply_error(tfa_service_reply *r, int status, const char *outcome,
			   const char *message)
{
	tfa_err rc = TFA_OK;
	cJSON *o = NULL;
	char *text = NULL;

	r->status = status;
	r->replayed = false;
	r->seq = 0;
	snprintf(r->outcome, sizeof(r->outcome), "%s", outcome);
	tfa_buf_clear(&r->body);
	o = cJSON_CreateObject();
	TFA_ENSURE(o && cJSON_AddStringToObject(o, "type", "tfattest.error") &&
		       cJSON_AddStringToObject(o, "error", message),
		   TFA_EINTERNAL, "out of memory");
	text = cJSON_PrintUnformatted(o);
	TFA_ENSURE(text != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_buf_puts(&r->body, text));
out:
	cJSON_free(text);
	cJSON_Delete(o);
	return rc;
}

/* The reply for record seq, read back from the store. */
static tfa_err reply_record(tfa_service_reply *r, tfa_service *s, uint64_t seq, bool replayed)
{
	tfa_err rc = TFA_OK;
	tfa_buf bytes, sig, a64, s64;
	tfa_artifact *art = NULL;
	uint8_t d[TFA_SHA256_LEN];
	char hash[TFA_FPR_STRLEN];

	tfa_buf_init(&bytes, TFA_ARTIFACT_MAX);
	tfa_buf_init(&sig, 0);
	tfa_buf_init(&a64, 0);
	tfa_buf_init(&s64, 0);
	art = calloc(1, sizeof(*art));
	TFA_ENSURE(art != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_store_get(s->st, seq, &bytes, &sig));
	TFA_GUARD(tfa_artifact_parse(art, bytes.data, bytes.len));
	tfa_sha256(d, bytes.data, bytes.len);
	tfa_hash_str(hash, d);
	TFA_GUARD(tfa_b64_encode(&a64, bytes.data, bytes.len));
	TFA_GUARD(tfa_b64_encode(&s64, sig.data, sig.len));
	r->status = 200;
	r->replayed = replayed;
	r->seq = seq;
	snprintf(r->outcome, sizeof(r->outcome), "%s", replayed ? "replayed" : "recorded");
	tfa_buf_clear(&r->body);
	/* Every value is from a restricted alphabet: this is already canonical JSON. */
	TFA_GUARD(tfa_buf_printf(&r->body, "{\"artifact\":\"%.*s\",\"hash\":\"%s\",", (int)a64.len,
				 (const char *)a64.data, hash));
	TFA_GUARD(tfa_buf_printf(&r->body,
				 "\"key_fingerprint\":\"%s\",\"replayed\":%s,\"seq\":%llu,"
				 "\"signature\":\"%.*s\",\"type\":\"tfattest.record-reply\"}",
				 art->key_fpr, replayed ? "true" : "false", (unsigned long long)seq,
				 (int)s64.len, (const char *)s64.data));
out:
	free(art);
	tfa_buf_free(&bytes);
	tfa_buf_free(&sig);
	tfa_buf_free(&a64);
	tfa_buf_free(&s64);
	return rc;
}

/* Whether the record at seq records the same request as c (tfa_capture_digest()). */
static tfa_err same_request(bool *same, tfa_service *s, uint64_t seq, const tfa_capture *c)
{
	tfa_err rc = TFA_OK;
	tfa_buf bytes, sig;
	uint8_t a[TFA_SHA256_LEN], b[TFA_SHA256_LEN];

	tfa_buf_init(&bytes, TFA_ARTIFACT_MAX);
	tfa_buf_init(&sig, 0);
	TFA_GUARD(tfa_store_get(s->st, seq, &bytes, &sig));
	TFA_GUARD(tfa_artifact_capture_digest(a, bytes.data, bytes.len));
	TFA_GUARD(tfa_capture_digest(b, c));
	*same = CRYPTO_memcmp(a, b, sizeof(a)) == 0;
out:
	tfa_buf_free(&bytes);
	tfa_buf_free(&sig);
	return rc;
}

/* The status for a failure of the store or the key. */
static int failure_status(tfa_err rc)
{
	switch (rc) {
	case TFA_EIO:
	case TFA_EBACKEND:
	case TFA_ECONFLICT:
	case TFA_ECRYPTO:
	case TFA_EVERIFY: return 503;
	default: return 500;
	}
}

/* Under the lock: find the key or append. */
static tfa_err record_locked(tfa_service *s, const tfa_svc_request *rq, const tfa_capture *c,
			     tfa_service_reply *reply)
{
	tfa_err rc = TFA_OK;
	uint64_t seq = 0;
	bool same = false;
	char msg[600];

	if ((rc = catch_up(s)) != TFA_OK)
		goto failed;
	seq = recall(s, rq->idempotency_key);
	if (seq != 0) {
		if ((rc = same_request(&same, s, seq, c)) != TFA_OK)
			goto failed;
		if (!same)
			return reply_error(reply, 409, "conflict",
					   "idempotency_key names an earlier record of another "
					   "request: draw a new key for a new deployment");
		if ((rc = reply_record(reply, s, seq, true)) != TFA_OK)
			goto failed;
		return TFA_OK;
	}
	rc = tfa_chain_append(&seq, s->st, s->signer, s->alg, c);
	if (rc != TFA_OK)
		goto failed;
	remember(s, rq->idempotency_key, seq);
	if ((rc = reply_record(reply, s, seq, false)) != TFA_OK)
		goto failed;
	return TFA_OK;
failed:
	if (rc == TFA_EINTERNAL)
		return rc;
	snprintf(msg, sizeof(msg), "%s", tfa_error_last()->message);
	return reply_error(reply, failure_status(rc),
			   failure_status(rc) == 503 ? "unavailable" : "failed", msg);
}

tfa_err tfa_service_record(tfa_service *s, const tfa_identity *who, const uint8_t *req, size_t len,
			   tfa_service_reply *reply)
{
	tfa_err rc = TFA_OK;
	tfa_svc_request rq;
	tfa_capture *c = NULL;
	tfa_kv *kv = NULL;
	tfa_capture_identity id;
	char msg[600];
	bool locked = false;

	memset(&rq, 0, sizeof(rq));
	if (reply == NULL)
		return tfa_error_set(TFA_EUSAGE, "missing argument: reply");
	memset(reply, 0, sizeof(*reply));
	tfa_buf_init(&reply->body, 0);
	if (s == NULL || who == NULL || (req == NULL && len > 0)) {
		rc = reply_error(reply, 500, "failed", "the service was called without a request");
		goto out;
	}
	if (len > TFA_SERVICE_REQUEST_MAX) {
		snprintf(msg, sizeof(msg), "the request is larger than %u bytes",
			 TFA_SERVICE_REQUEST_MAX);
		rc = reply_error(reply, 413, "too-large", msg);
		goto out;
	}
	if (tfa_svc_request_parse(&rq, req ? req : (const uint8_t *)"", len) != TFA_OK) {
		snprintf(msg, sizeof(msg), "%s", tfa_error_last()->message);
		rc = reply_error(reply, 400, "malformed", msg);
		goto out;
	}
	if (strcmp(rq.chain_id, s->info.chain_id) != 0) {
		snprintf(msg, sizeof(msg), "this service appends to chain %s, not %s",
			 s->info.chain_id, rq.chain_id);
		rc = reply_error(reply, 403, "refused", msg);
		goto out;
	}
	if (tfa_policy_check(s->policy, who, s->info.chain_id, rq.event) != TFA_OK) {
		snprintf(msg, sizeof(msg), "%s", tfa_error_last()->message);
		rc = reply_error(reply, 403, "refused", msg);
		goto out;
	}
	rc = tfa_capture_from_request(&c, req, len);
	if (rc == TFA_OK) {
		memset(&id, 0, sizeof(id));
		if (who->nclaims) {
			kv = calloc(who->nclaims, sizeof(*kv));
			if (kv == NULL) {
				rc = tfa_error_set(TFA_EINTERNAL, "out of memory");
				goto out;
			}
			for (size_t i = 0; i < who->nclaims; i++) {
				kv[i].name = who->claims[i].name;
				kv[i].value = who->claims[i].value;
			}
		}
		id.method = who->method;
		id.issuer = who->issuer;
		id.subject = who->subject;
		id.audience = who->audience;
		id.issued_at = who->issued_at;
		id.expires_at = who->expires_at;
		id.claims = kv;
		id.nclaims = who->nclaims;
		id.client_cert = who->client_cert;
		id.verified_by = s->front_end;
		id.verified_at = (int64_t)time(NULL);
		rc = tfa_capture_set_identity(c, &id);
	}
	if (rc == TFA_EINTERNAL)
		goto out;
	if (rc != TFA_OK) {
		snprintf(msg, sizeof(msg), "%s", tfa_error_last()->message);
		rc = reply_error(reply, 400, "malformed", msg);
		goto out;
	}
	pthread_mutex_lock(&s->lock);
	locked = true;
	rc = record_locked(s, &rq, c, reply);
out:
	if (locked)
		pthread_mutex_unlock(&s->lock);
	free(kv);
	tfa_capture_free(c);
	tfa_svc_request_free(&rq);
	if (rc != TFA_OK)
		tfa_buf_free(&reply->body);
	return rc;
}
