/*
 * `tfattest serve`: the attestation service over HTTPS, on libmicrohttpd.
 * This is the only file that includes microhttpd.h.
 *
 * Threads:
 *   - MHD's one network thread reads requests (TLS included) and writes
 *     replies. It never signs, appends or checks a token: a whole record
 *     request becomes a job on a bounded queue, and its connection is
 *     suspended until a worker has answered it. A full queue answers 503
 *     with Retry-After at once.
 *   - The workers check the ID token, build the identity, and call
 *     tfa_service_record(), whose chain lock orders the appends. Health
 *     checks read the store, so they are workers' jobs too.
 *   - A watchdog cuts off connections whose request has not arrived whole
 *     within request_timeout seconds: MHD's own timeout counts idle time
 *     only, which a client sending one byte a second never reaches.
 *   - The checkpointer signs a checkpoint every N records or T minutes.
 *   - The calling thread waits for SIGTERM or SIGINT, then drains.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "capture/oidc.h"
#include "format/b64.h"
#include "service/jwt.h"
#include "tfattest/buffer.h"
#include "tfattest/checkpoint.h"
#include "tfattest/serve.h"
#include "tfattest/service.h"
#include "tfattest/signer.h"
#include "tfattest/store.h"
#include "tfattest/sys/guard.h"

#define PATH_RECORDS	"/v1/records"
#define PATH_HEALTH	"/v1/health"
#define PATH_CHECKPOINT "/v1/checkpoint"

/* What a request's headers may take in all (MHD answers 431 beyond it). */
#define HEADER_MEMORY (32u * 1024u)
/* Access-log fields taken from the request are cut to this. */
#define LOG_FIELD_MAX 200
/* TLS 1.2 and 1.3 only. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

typedef struct serve serve;

/* One open connection, for the watchdog. */
typedef struct conn {
	int fd;
	_Atomic int64_t deadline; /* monotonic ms by which the request must have arrived; 0: none */
	char remote[INET6_ADDRSTRLEN + 8];
	struct conn *prev, *next;
} conn;

/* One request handed to a worker. */
typedef struct job {
	serve *s;
	struct MHD_Connection *mc;
	bool health; /* GET /v1/health: the store is read here, not in the network thread */
	char *token;
	size_t token_len;
	char *client_dn; /* mTLS subject DN, or NULL */
	const uint8_t *body;
	size_t body_len;
	/* The answer, filled by the worker. */
	int status;
	char *reply;
	size_t reply_len;
	char outcome[24];
	char subject[LOG_FIELD_MAX + 1];
	bool has_seq;
	uint64_t seq;
} job;

enum route { R_NONE, R_RECORDS, R_HEALTH, R_CHECKPOINT };

/* One HTTP request, from its headers to the end of its reply. */
typedef struct req {
	int64_t start; /* monotonic ms */
	enum route route;
	char method[16];
	char path[LOG_FIELD_MAX + 1];
	char remote[INET6_ADDRSTRLEN + 8];
	conn *c;
	tfa_buf body;
	bool answered;	/* a reply is queued */
	bool queued;	/* handed to a worker */
	bool too_large; /* the body passed TFA_SERVICE_REQUEST_MAX: dropped */
	job *j;
	/* For the access log. */
	int status;
	char outcome[24];
	char subject[LOG_FIELD_MAX + 1];
	bool has_seq;
	uint64_t seq;
} req;

struct serve {
	const tfa_serve_config *cfg;
	char host[256];
	unsigned port;
	tfa_policy *policy;
	char **policy_claims; /* claim names the allow rules test */
	size_t npolicy_claims;
	tfa_jwks_cache **caches; /* one per policy issuer */
	size_t ncaches;
	tfa_service *svc;
	char chain_id[TFA_CHAIN_ID_MAX + 1];
	/* The service's own handles for health and checkpoints. */
	pthread_mutex_t st_lock;
	tfa_store *st;
	tfa_signer *signer;
	atomic_bool unavailable; /* the last append found the store or key unavailable */
	struct MHD_Daemon *d;
	tfa_buf tls_cert, tls_key, client_ca;
	/* The queue and the workers. */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;	  /* a job is waiting, or the workers must stop */
	pthread_cond_t idle_cond; /* inflight fell */
	job **ring;
	unsigned qcap, qhead, qlen;
	bool workers_stop;
	pthread_t *workers;
	unsigned nworkers;
	unsigned inflight; /* requests between their headers and the end of their reply */
	atomic_bool draining;
	/* The watchdog. */
	pthread_mutex_t wlock;
	pthread_cond_t wcond;
	conn *conns;
	bool wd_stop, wd_started;
	pthread_t wd;
	/* Checkpoints. */
	pthread_mutex_t cplock;
	pthread_cond_t cpcond;
	unsigned since_cp; /* records since the last checkpoint */
	bool cp_stop, cp_started;
	pthread_t cp;
	tfa_buf cp_file; /* the latest checkpoint file; empty when none */
	uint64_t cp_seq;
	/* The access log. */
	pthread_mutex_t loglock;
	FILE *log;
	bool log_close;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void copy_field(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- Replies ---- */

/* A JSON body {"type": "tfattest.error", "error": msg}, malloc'd. */
static char *error_body(const char *msg, size_t *len)
{
	cJSON *o = cJSON_CreateObject();
	char *out = NULL;

	if (o && cJSON_AddStringToObject(o, "type", "tfattest.error") &&
	    cJSON_AddStringToObject(o, "error", msg))
		out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	*len = out ? strlen(out) : 0;
	return out;
}

static enum MHD_Result send_body(struct MHD_Connection *mc, req *r, int status, const char *ctype,
				 const void *body, size_t len)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (status == MHD_HTTP_UNAUTHORIZED)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					      "Bearer realm=\"tfattest\"");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					      r->route == R_RECORDS ? "POST" : "GET, HEAD");
	if (r->route == R_RECORDS && status != MHD_HTTP_OK && !r->queued)
		/* Refused before its body was read: the rest of it is not worth reading. */
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(mc, (unsigned)status, resp);
	MHD_destroy_response(resp);
	r->answered = true;
	r->status = status;
	if (r->c) /* answered: no deadline until the reply is sent */
		atomic_store(&r->c->deadline, 0);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *mc, req *r, int status,
				  const char *outcome, const char *msg)
{
	size_t len;
	char *body = error_body(msg, &len);
	enum MHD_Result ret;

	copy_field(r->outcome, sizeof(r->outcome), outcome);
	if (body == NULL)
		return MHD_NO;
	ret = send_body(mc, r, status, "application/json", body, len);
	free(body);
	return ret;
}

/* ---- The access log ---- */

static void log_line(serve *s, const req *r, const char *remote)
{
	cJSON *o;
	char *line = NULL, ts[32];
	struct tm tm;
	time_t t = time(NULL);

	if (s->log == NULL)
		return;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = cJSON_CreateObject();
	if (o == NULL)
		return;
	/* Every field is escaped by cJSON; none holds a token or a header. */
	cJSON_AddStringToObject(o, "time", ts);
	cJSON_AddStringToObject(o, "remote", remote);
	if (r) {
		cJSON_AddStringToObject(o, "method", r->method);
		cJSON_AddStringToObject(o, "path", r->path);
		if (r->subject[0])
			cJSON_AddStringToObject(o, "subject", r->subject);
		else
			cJSON_AddNullToObject(o, "subject");
		if (r->route == R_RECORDS)
			cJSON_AddStringToObject(o, "chain", s->chain_id);
		else
			cJSON_AddNullToObject(o, "chain");
		if (r->has_seq)
			cJSON_AddNumberToObject(o, "seq", (double)r->seq);
		else
			cJSON_AddNullToObject(o, "seq");
		cJSON_AddStringToObject(o, "outcome", r->outcome[0] ? r->outcome : "aborted");
		cJSON_AddNumberToObject(o, "status", r->status);
		cJSON_AddNumberToObject(o, "latency_ms", (double)(now_ms() - r->start));
	} else {
		/* A connection cut off before it made a whole request. */
		cJSON_AddNullToObject(o, "method");
		cJSON_AddNullToObject(o, "path");
		cJSON_AddNullToObject(o, "subject");
		cJSON_AddNullToObject(o, "chain");
		cJSON_AddNullToObject(o, "seq");
		cJSON_AddStringToObject(o, "outcome", "timeout");
		cJSON_AddNullToObject(o, "status");
		cJSON_AddNullToObject(o, "latency_ms");
	}
	line = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (line == NULL)
		return;
	pthread_mutex_lock(&s->loglock);
	fputs(line, s->log);
	fputc('\n', s->log);
	fflush(s->log);
	pthread_mutex_unlock(&s->loglock);
	free(line);
}

/* ---- Tokens and identities (worker side) ---- */

/*
 * The token's iss, read without checking anything, only to pick the policy
 * issuer whose keys and rules then check the whole token. NULL when the
 * token is not even shaped like a JWT.
 */
static char *peek_issuer(const char *tok, size_t len)
{
	const char *p1 = memchr(tok, '.', len), *p2;
	uint8_t *payload = NULL;
	size_t plen = 0, n;
	cJSON *j = NULL;
	const cJSON *iss;
	char *out = NULL;

	if (p1 == NULL)
		return NULL;
	p2 = memchr(p1 + 1, '.', len - (size_t)(p1 + 1 - tok));
	if (p2 == NULL)
		return NULL;
	n = (size_t)(p2 - p1 - 1);
	payload = malloc(n * 3 / 4 + 1);
	if (payload == NULL ||
	    tfa_b64url_decode(payload, n * 3 / 4 + 1, &plen, p1 + 1, n) != TFA_OK)
		goto out;
	j = cJSON_ParseWithLength((const char *)payload, plen);
	iss = cJSON_GetObjectItemCaseSensitive(j, "iss");
	if (cJSON_IsString(iss) && iss->valuestring)
		out = strdup(iss->valuestring);
out:
	cJSON_Delete(j);
	free(payload);
	tfa_error_clear();
	return out;
}

static void job_error(job *j, int status, const char *outcome, const char *fmt, ...)
    TFA_PRINTF(4, 5);

static void job_error(job *j, int status, const char *outcome, const char *fmt, ...)
{
	char msg[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	j->status = status;
	copy_field(j->outcome, sizeof(j->outcome), outcome);
	free(j->reply);
	j->reply = error_body(msg, &j->reply_len);
}

/* The time checks of the policy issuer of this token, or NULL. */
static size_t find_issuer(const serve *s, const char *iss)
{
	size_t i;

	for (i = 0; iss && i < tfa_policy_issuer_count(s->policy); i++)
		if (strcmp(tfa_policy_issuer_at(s->policy, i)->issuer, iss) == 0)
			return i;
	return SIZE_MAX;
}

/*
 * Whether the identity carries claim `name`: one FORMAT.md keeps, or one an
 * allow rule of the policy names (the policy check needs it). Nothing else of
 * the token reaches the write-once record.
 */
static bool claim_kept(const serve *s, const char *name)
{
	size_t i;

	if (tfa_oidc_claim_kept(name))
		return true;
	for (i = 0; i < s->npolicy_claims; i++)
		if (strcmp(s->policy_claims[i], name) == 0)
			return true;
	return false;
}

/* The claim names the policy's allow rules test, read from the file tfa_policy_load accepted. */
static tfa_err load_policy_claims(serve *s)
{
	tfa_buf file;
	cJSON *root = NULL;
	const cJSON *rule, *cl, *c;
	tfa_err rc = TFA_OK;
	char **grown;

	tfa_buf_init(&file, 1u << 20);
	TFA_GUARD(tfa_buf_read_file(&file, s->cfg->policy, 1u << 20));
	root = cJSON_ParseWithLength((const char *)file.data, file.len);
	TFA_ENSURE(root, TFA_EFORMAT, "the policy %s is not JSON", s->cfg->policy);
	cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(root, "allow"))
	{
		cl = cJSON_GetObjectItemCaseSensitive(rule, "claims");
		cJSON_ArrayForEach(c, cl)
		{
			if (c->string == NULL || claim_kept(s, c->string))
				continue;
			grown = realloc(s->policy_claims,
					(s->npolicy_claims + 1) * sizeof(*s->policy_claims));
			TFA_ENSURE(grown, TFA_EINTERNAL, "out of memory");
			s->policy_claims = grown;
			s->policy_claims[s->npolicy_claims] = strdup(c->string);
			TFA_ENSURE(s->policy_claims[s->npolicy_claims], TFA_EINTERNAL,
				   "out of memory");
			s->npolicy_claims++;
		}
	}
out:
	cJSON_Delete(root);
	tfa_buf_free(&file);
	return rc;
}

static void handle_job(job *j)
{
	serve *s = j->s;
	const tfa_policy_issuer *pi;
	tfa_jwt *jwt = NULL;
	tfa_jwt_rules rules;
	tfa_identity who;
	tfa_identity_claim *claims = NULL;
	tfa_service_reply reply;
	char *iss;
	size_t i, k, n = 0;
	tfa_err rc;

	memset(&reply, 0, sizeof(reply));
	iss = peek_issuer(j->token, j->token_len);
	k = find_issuer(s, iss);
	free(iss);
	if (k == SIZE_MAX) {
		job_error(j, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
			  "the ID token was refused: it is not a JWT from an issuer the policy "
			  "trusts");
		return;
	}
	pi = tfa_policy_issuer_at(s->policy, k);
	rules.issuer = pi->issuer;
	rules.audience = pi->audience;
	rules.now = (int64_t)time(NULL);
	rules.max_skew = pi->max_skew;
	rc = tfa_jwks_cache_verify(s->caches[k], &jwt, j->token, j->token_len, &rules);
	if (rc == TFA_EIO || rc == TFA_EBACKEND) {
		job_error(j, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
			  "the issuer's keys could not be fetched: %s", tfa_error_last()->message);
		return;
	}
	if (rc != TFA_OK) {
		job_error(
		    j, rc == TFA_EINTERNAL ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_UNAUTHORIZED,
		    rc == TFA_EINTERNAL ? "failed" : "unauthenticated",
		    "the ID token was refused: %s", tfa_error_last()->message);
		return;
	}
	copy_field(j->subject, sizeof(j->subject), jwt->subject);
	claims = calloc(jwt->nclaims ? jwt->nclaims : 1, sizeof(*claims));
	if (claims == NULL) {
		job_error(j, MHD_HTTP_INTERNAL_SERVER_ERROR, "failed", "out of memory");
		goto out;
	}
	for (i = 0; i < jwt->nclaims; i++) {
		if (!claim_kept(s, jwt->names[i]))
			continue;
		claims[n].name = jwt->names[i];
		claims[n].value = jwt->values[i];
		n++;
	}
	memset(&who, 0, sizeof(who));
	who.method = "oidc";
	who.issuer = jwt->issuer;
	who.subject = jwt->subject;
	who.audience = jwt->audience;
	who.issued_at = jwt->iat;
	who.expires_at = jwt->exp;
	who.claims = claims;
	who.nclaims = n;
	who.client_cert = j->client_dn;
	rc = tfa_service_record(s->svc, &who, j->body, j->body_len, &reply);
	if (rc != TFA_OK) {
		job_error(j, MHD_HTTP_INTERNAL_SERVER_ERROR, "failed", "out of memory");
		goto out;
	}
	j->status = reply.status;
	copy_field(j->outcome, sizeof(j->outcome), reply.outcome);
	j->has_seq = reply.status == MHD_HTTP_OK;
	j->seq = reply.seq;
	free(j->reply);
	j->reply = malloc(reply.body.len ? reply.body.len : 1);
	if (j->reply == NULL) {
		job_error(j, MHD_HTTP_INTERNAL_SERVER_ERROR, "failed", "out of memory");
		goto out;
	}
	if (reply.body.len)
		memcpy(j->reply, reply.body.data, reply.body.len);
	j->reply_len = reply.body.len;
	if (reply.status == MHD_HTTP_SERVICE_UNAVAILABLE) {
		atomic_store(&s->unavailable, true);
	} else if (reply.status == MHD_HTTP_OK) {
		atomic_store(&s->unavailable, false);
		if (!reply.replayed) {
			pthread_mutex_lock(&s->cplock);
			s->since_cp++;
			if (s->cfg->checkpoint_every && s->since_cp >= s->cfg->checkpoint_every)
				pthread_cond_signal(&s->cpcond);
			pthread_mutex_unlock(&s->cplock);
		}
	}
out:
	tfa_service_reply_free(&reply);
	free(claims);
	tfa_jwt_free(jwt);
}

/* GET /v1/health, in a worker: reading the head may be a network call (s3). */
static void health_job(job *j)
{
	serve *s = j->s;
	uint64_t head = 0;
	tfa_err rc;
	cJSON *o;

	pthread_mutex_lock(&s->st_lock);
	rc = tfa_store_head(s->st, &head);
	pthread_mutex_unlock(&s->st_lock);
	j->status = MHD_HTTP_OK;
	o = cJSON_CreateObject();
	if (o == NULL)
		return;
	cJSON_AddStringToObject(o, "type", "tfattest.health");
	cJSON_AddStringToObject(o, "chain_id", s->chain_id);
	if (rc != TFA_OK) {
		j->status = MHD_HTTP_SERVICE_UNAVAILABLE;
		cJSON_AddStringToObject(o, "status", "unavailable");
		cJSON_AddStringToObject(o, "error", tfa_error_last()->message);
	} else {
		cJSON_AddNumberToObject(o, "head_seq", (double)head);
		if (atomic_load(&s->unavailable)) {
			j->status = MHD_HTTP_SERVICE_UNAVAILABLE;
			cJSON_AddStringToObject(o, "status", "unavailable");
			cJSON_AddStringToObject(o, "error",
						"the last append found the store or "
						"the key unavailable");
		} else {
			cJSON_AddStringToObject(o, "status", "ok");
		}
	}
	free(j->reply);
	j->reply = cJSON_PrintUnformatted(o);
	j->reply_len = j->reply ? strlen(j->reply) : 0;
	cJSON_Delete(o);
	copy_field(j->outcome, sizeof(j->outcome), j->status == MHD_HTTP_OK ? "ok" : "unavailable");
}

static void *worker_main(void *arg)
{
	serve *s = arg;
	job *j;

	for (;;) {
		pthread_mutex_lock(&s->qlock);
		while (s->qlen == 0 && !s->workers_stop)
			pthread_cond_wait(&s->qcond, &s->qlock);
		if (s->qlen == 0) {
			pthread_mutex_unlock(&s->qlock);
			break;
		}
		j = s->ring[s->qhead];
		s->qhead = (s->qhead + 1) % s->qcap;
		s->qlen--;
		pthread_mutex_unlock(&s->qlock);
		if (j->health)
			health_job(j);
		else
			handle_job(j);
		if (j->token)
			OPENSSL_cleanse(j->token, j->token_len);
		tfa_error_clear();
		/* The network thread takes the answer from here. */
		MHD_resume_connection(j->mc);
	}
	return NULL;
}

/* Queues a job; false when the queue is full. */
static bool enqueue(serve *s, job *j)
{
	bool ok = false;

	pthread_mutex_lock(&s->qlock);
	if (s->qlen < s->qcap) {
		s->ring[(s->qhead + s->qlen) % s->qcap] = j;
		s->qlen++;
		pthread_cond_signal(&s->qcond);
		ok = true;
	}
	pthread_mutex_unlock(&s->qlock);
	return ok;
}

static void job_free(job *j)
{
	if (j == NULL)
		return;
	if (j->token) {
		OPENSSL_cleanse(j->token, j->token_len);
		free(j->token);
	}
	free(j->client_dn);
	free(j->reply);
	free(j);
}

/* ---- The network thread ---- */

/*
 * With --client-ca: the client certificate's subject DN when the client sent
 * one that chains to the CA and is valid now; NULL otherwise (*why says why).
 */
static char *client_cert_dn(struct MHD_Connection *mc, const char **why)
{
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t tls;
	const gnutls_datum_t *certs;
	unsigned int n = 0, status = 0;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t dn = {NULL, 0};
	char *out = NULL;

	*why = "a client certificate is required";
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return NULL;
	tls = (gnutls_session_t)ci->tls_session;
	certs = gnutls_certificate_get_peers(tls, &n);
	if (certs == NULL || n == 0)
		return NULL;
	*why = "the client certificate was not issued by the configured client CA, or is not "
	       "valid now";
	if (gnutls_certificate_verify_peers2(tls, &status) != GNUTLS_E_SUCCESS || status != 0)
		return NULL;
	*why = "the client certificate's subject could not be read";
	if (gnutls_x509_crt_init(&crt) != GNUTLS_E_SUCCESS)
		return NULL;
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == GNUTLS_E_SUCCESS &&
	    gnutls_x509_crt_get_dn3(crt, &dn, 0) == GNUTLS_E_SUCCESS && dn.data) {
		out = strndup((const char *)dn.data, dn.size);
		gnutls_free(dn.data);
	}
	gnutls_x509_crt_deinit(crt);
	return out;
}

static enum MHD_Result answer_checkpoint(struct MHD_Connection *mc, req *r, serve *s)
{
	tfa_buf copy;
	enum MHD_Result ret;

	tfa_buf_init(&copy, TFA_CHECKPOINT_FILE_MAX);
	pthread_mutex_lock(&s->cplock);
	if (s->cp_file.len && tfa_buf_append(&copy, s->cp_file.data, s->cp_file.len) != TFA_OK)
		tfa_buf_clear(&copy);
	r->has_seq = s->cp_file.len != 0;
	r->seq = s->cp_seq;
	pthread_mutex_unlock(&s->cplock);
	if (copy.len == 0) {
		r->has_seq = false;
		return send_error(mc, r, MHD_HTTP_NOT_FOUND, "not-found",
				  "the service has made no checkpoint yet");
	}
	copy_field(r->outcome, sizeof(r->outcome), "ok");
	ret = send_body(mc, r, MHD_HTTP_OK, "text/plain; charset=utf-8", copy.data, copy.len);
	tfa_buf_free(&copy);
	return ret;
}

static void remote_of(struct MHD_Connection *mc, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	socklen_t sl;

	copy_field(out, cap, "unknown");
	if (sa == NULL)
		return;
	sl = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (getnameinfo(sa, sl, out, (socklen_t)cap, NULL, 0, NI_NUMERICHOST) != 0)
		copy_field(out, cap, "unknown");
}

/* The first call for a request: its headers are in. */
static enum MHD_Result begin(serve *s, struct MHD_Connection *mc, req *r, const char *method)
{
	const char *v, *why;
	unsigned long long cl;
	char *end;
	job *j;

	if (atomic_load(&s->draining))
		return send_error(mc, r, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting-down",
				  "the service is shutting down");
	if (r->route == R_NONE)
		return send_error(mc, r, MHD_HTTP_NOT_FOUND, "not-found", "no such resource");
	if (r->route != R_RECORDS) {
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
			return send_error(mc, r, MHD_HTTP_METHOD_NOT_ALLOWED, "bad-method",
					  "method not allowed");
		if (r->route == R_CHECKPOINT)
			return answer_checkpoint(mc, r, s);
		j = calloc(1, sizeof(*j));
		if (j == NULL)
			return MHD_NO;
		j->s = s;
		j->mc = mc;
		j->health = true;
		r->j = j;
		if (!enqueue(s, j))
			return send_error(mc, r, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
					  "the service is busy: retry later");
		r->queued = true;
		if (r->c)
			atomic_store(&r->c->deadline, 0);
		MHD_suspend_connection(mc);
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
		return send_error(mc, r, MHD_HTTP_METHOD_NOT_ALLOWED, "bad-method",
				  "method not allowed: records are made with POST");
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return MHD_NO;
	j->s = s;
	j->mc = mc;
	r->j = j;
	if (s->cfg->client_ca) {
		j->client_dn = client_cert_dn(mc, &why);
		if (j->client_dn == NULL)
			return send_error(mc, r, MHD_HTTP_FORBIDDEN, "unauthenticated", why);
	}
	v = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0 || v[7] == '\0')
		return send_error(mc, r, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
				  "an OIDC ID token is required: Authorization: Bearer <token>");
	v += 7;
	while (*v == ' ')
		v++;
	j->token_len = strlen(v);
	if (j->token_len == 0 || j->token_len > TFA_JWT_MAX)
		return send_error(mc, r, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
				  "the ID token was refused: empty or larger than the limit");
	j->token = strndup(v, j->token_len);
	if (j->token == NULL)
		return MHD_NO;
	v = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (v == NULL || strncasecmp(v, "application/json", 16) != 0 ||
	    (v[16] != '\0' && v[16] != ';' && v[16] != ' '))
		return send_error(mc, r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "malformed",
				  "a record request is application/json");
	v = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (v) {
		errno = 0;
		cl = strtoull(v, &end, 10);
		/*
		 * Not answered here: a reply sent while the client is still sending, and
		 * the close after it, can reach the client as a reset before it reads the
		 * 413. The body is read and dropped as a chunked one is (the watchdog
		 * bounds how long), and 413 follows it.
		 */
		if (errno == 0 && *end == '\0' && cl > TFA_SERVICE_REQUEST_MAX)
			r->too_large = true;
	}
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	serve *s = cls;
	req *r = *con_cls;
	const union MHD_ConnectionInfo *ci;

	(void)version;
	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		*con_cls = r;
		r->start = now_ms();
		copy_field(r->method, sizeof(r->method), method);
		copy_field(r->path, sizeof(r->path), url);
		remote_of(mc, r->remote, sizeof(r->remote));
		tfa_buf_init(&r->body, TFA_SERVICE_REQUEST_MAX);
		ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		r->c = ci ? ci->socket_context : NULL;
		r->route = strcmp(url, PATH_RECORDS) == 0      ? R_RECORDS
			   : strcmp(url, PATH_HEALTH) == 0     ? R_HEALTH
			   : strcmp(url, PATH_CHECKPOINT) == 0 ? R_CHECKPOINT
							       : R_NONE;
		pthread_mutex_lock(&s->qlock);
		s->inflight++;
		pthread_mutex_unlock(&s->qlock);
		return begin(s, mc, r, method);
	}
	if (r->answered) {
		/* Refused early: whatever body follows is dropped unread. */
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		/*
		 * MHD takes no reply in the middle of a body: past the cap the rest is
		 * read and dropped (the watchdog bounds how long that may take), and
		 * 413 follows.
		 */
		if (r->too_large || r->body.len + *upload_size > TFA_SERVICE_REQUEST_MAX)
			r->too_large = true;
		else if (tfa_buf_append(&r->body, upload, *upload_size) != TFA_OK)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_large)
		return send_error(mc, r, MHD_HTTP_CONTENT_TOO_LARGE, "too-large",
				  "the request is larger than the service takes");
	if (!r->queued) {
		/* The whole body is in: hand it to a worker. */
		r->j->body = r->body.data ? r->body.data : (const uint8_t *)"";
		r->j->body_len = r->body.len;
		if (r->c)
			atomic_store(&r->c->deadline, 0);
		if (!enqueue(s, r->j))
			return send_error(mc, r, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
					  "the service is busy: retry later");
		r->queued = true;
		MHD_suspend_connection(mc);
		return MHD_YES;
	}
	/* Resumed: the worker has answered. */
	copy_field(r->subject, sizeof(r->subject), r->j->subject);
	r->has_seq = r->j->has_seq;
	r->seq = r->j->seq;
	copy_field(r->outcome, sizeof(r->outcome), r->j->outcome);
	if (r->j->reply == NULL)
		return MHD_NO;
	return send_body(mc, r, r->j->status, "application/json", r->j->reply, r->j->reply_len);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	serve *s = cls;
	req *r = *con_cls;

	(void)mc;
	if (r == NULL)
		return;
	if (!r->answered)
		copy_field(r->outcome, sizeof(r->outcome),
			   toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout" : "aborted");
	log_line(s, r, r->remote);
	if (r->c)
		atomic_store(&r->c->deadline, now_ms() + (int64_t)s->cfg->request_timeout * 1000);
	pthread_mutex_lock(&s->qlock);
	s->inflight--;
	pthread_cond_broadcast(&s->idle_cond);
	pthread_mutex_unlock(&s->qlock);
	job_free(r->j);
	tfa_buf_free(&r->body);
	free(r);
	*con_cls = NULL;
}

/* ---- The watchdog ---- */

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	serve *s = cls;
	conn *c = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		c = calloc(1, sizeof(*c));
		if (c == NULL)
			return;
		ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		c->fd = ci ? ci->connect_fd : -1;
		atomic_store(&c->deadline, now_ms() + (int64_t)s->cfg->request_timeout * 1000);
		remote_of(mc, c->remote, sizeof(c->remote));
		pthread_mutex_lock(&s->wlock);
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		pthread_mutex_unlock(&s->wlock);
		*socket_context = c;
		return;
	}
	if (c == NULL)
		return;
	/* Closed: MHD calls this from its one network thread before it closes the socket. */
	pthread_mutex_lock(&s->wlock);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&s->wlock);
	free(c);
	*socket_context = NULL;
}

static void *watchdog_main(void *arg)
{
	serve *s = arg;
	struct timespec ts;
	conn *c;
	int64_t now, d;

	pthread_mutex_lock(&s->wlock);
	while (!s->wd_stop) {
		now = now_ms();
		for (c = s->conns; c; c = c->next) {
			d = atomic_load(&c->deadline);
			if (d == 0 || now < d || c->fd < 0)
				continue;
			/* MHD sees the connection end and closes it in its own thread. */
			(void)shutdown(c->fd, SHUT_RDWR);
			atomic_store(&c->deadline, 0);
			log_line(s, NULL, c->remote);
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&s->wcond, &s->wlock, &ts);
	}
	pthread_mutex_unlock(&s->wlock);
	return NULL;
}

/* ---- Checkpoints ---- */

static void make_checkpoint(serve *s)
{
	tfa_checkpoint_file cf;
	tfa_checkpoint_opts o;
	tfa_buf file;
	bool existed = false;
	tfa_err rc;

	memset(&o, 0, sizeof(o));
	o.alg = s->cfg->alg;
	tfa_checkpoint_file_init(&cf);
	tfa_buf_init(&file, TFA_CHECKPOINT_FILE_MAX);
	pthread_mutex_lock(&s->st_lock);
	rc = tfa_checkpoint_create(&cf, &existed, s->st, s->signer, &o);
	pthread_mutex_unlock(&s->st_lock);
	if (rc == TFA_OK)
		rc = tfa_checkpoint_file_write(&file, &cf);
	if (rc == TFA_OK) {
		pthread_mutex_lock(&s->cplock);
		tfa_buf_clear(&s->cp_file);
		if (tfa_buf_append(&s->cp_file, file.data, file.len) == TFA_OK)
			s->cp_seq = cf.cp.seq;
		pthread_mutex_unlock(&s->cplock);
	} else {
		fprintf(stderr, "tfattest serve: warning: checkpoint not made: %s\n",
			tfa_error_last()->message);
		tfa_error_clear();
	}
	tfa_checkpoint_file_clear(&cf);
	tfa_buf_free(&file);
}

static void *checkpointer_main(void *arg)
{
	serve *s = arg;
	const tfa_serve_config *cfg = s->cfg;
	struct timespec next;
	bool due;

	clock_gettime(CLOCK_REALTIME, &next);
	next.tv_sec += (time_t)cfg->checkpoint_interval * 60;
	pthread_mutex_lock(&s->cplock);
	while (!s->cp_stop) {
		due = cfg->checkpoint_every && s->since_cp >= cfg->checkpoint_every;
		if (!due && cfg->checkpoint_interval) {
			struct timespec now;
			clock_gettime(CLOCK_REALTIME, &now);
			if (now.tv_sec >= next.tv_sec) {
				next.tv_sec = now.tv_sec + (time_t)cfg->checkpoint_interval * 60;
				due = s->since_cp > 0;
			}
		}
		if (due) {
			s->since_cp = 0;
			pthread_mutex_unlock(&s->cplock);
			make_checkpoint(s);
			pthread_mutex_lock(&s->cplock);
			continue;
		}
		if (cfg->checkpoint_interval)
			(void)pthread_cond_timedwait(&s->cpcond, &s->cplock, &next);
		else
			pthread_cond_wait(&s->cpcond, &s->cplock);
	}
	pthread_mutex_unlock(&s->cplock);
	return NULL;
}

/* ---- Setting up ---- */

static void mhd_log(void *cls, const char *fmt, va_list ap) TFA_PRINTF(2, 0);

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	fprintf(stderr, "tfattest serve: http: %s\n", msg);
}

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >>
			24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
	return false;
}

/* Resolves HOST:PORT ([V6]:PORT) to the first address; checks loopback for plain HTTP. */
static tfa_err resolve_listen(serve *s, struct sockaddr_storage *ss, socklen_t *sl)
{
	const tfa_serve_config *cfg = s->cfg;
	const char *colon, *hs, *he;
	char port[8];
	struct addrinfo hints, *res = NULL, *ai;
	unsigned long p;
	char *end;
	tfa_err rc = TFA_OK;
	int e;

	TFA_ENSURE(cfg->listen, TFA_EUSAGE, "--listen HOST:PORT is required");
	colon = strrchr(cfg->listen, ':');
	TFA_ENSURE(colon && colon != cfg->listen, TFA_EUSAGE, "--listen %s: expected HOST:PORT",
		   cfg->listen);
	hs = cfg->listen;
	he = colon;
	if (*hs == '[') {
		TFA_ENSURE(he[-1] == ']' && he - hs > 2, TFA_EUSAGE,
			   "--listen %s: expected [IPV6]:PORT", cfg->listen);
		hs++;
		he--;
	}
	TFA_ENSURE((size_t)(he - hs) < sizeof(s->host), TFA_EUSAGE, "--listen: host too long");
	memcpy(s->host, hs, (size_t)(he - hs));
	s->host[he - hs] = '\0';
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	TFA_ENSURE(colon[1] && *end == '\0' && errno == 0 && p <= 65535, TFA_EUSAGE,
		   "--listen %s: the port must be a number from 0 to 65535", cfg->listen);
	snprintf(port, sizeof(port), "%lu", p);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	e = getaddrinfo(s->host, port, &hints, &res);
	TFA_ENSURE(e == 0 && res, TFA_EUSAGE, "--listen %s: cannot resolve %s: %s", cfg->listen,
		   s->host, gai_strerror(e));
	for (ai = res; cfg->plain_http && ai; ai = ai->ai_next)
		TFA_ENSURE(is_loopback(ai->ai_addr), TFA_EUSAGE,
			   "plain HTTP is refused on %s: --insecure-plain-http is for a loopback "
			   "address only (127.0.0.0/8 or ::1); give --tls-cert and --tls-key",
			   s->host);
	TFA_ENSURE(res->ai_addrlen <= sizeof(*ss), TFA_EUSAGE, "--listen: unusable address");
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
out:
	if (res)
		freeaddrinfo(res);
	return rc;
}

static tfa_err read_pem(tfa_buf *b, const char *path, const char *what)
{
	tfa_err rc = tfa_buf_read_file(b, path, 1u << 20);

	if (rc == TFA_OK)
		rc = tfa_buf_putc(b, '\0');
	if (rc != TFA_OK)
		return tfa_error_set(rc, "cannot read the %s %s: %s", what, path,
				     tfa_error_last()->message);
	return TFA_OK;
}

static tfa_err write_ready(const serve *s)
{
	char tmp[4096], line[300];
	FILE *f;
	int n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", s->cfg->ready_file);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return tfa_error_set(TFA_EUSAGE, "the ready file's name is too long");
	snprintf(line, sizeof(line), strchr(s->host, ':') ? "[%s]:%u\n" : "%s:%u\n", s->host,
		 s->port);
	f = fopen(tmp, "w");
	if (f == NULL || fputs(line, f) == EOF || fclose(f) != 0 ||
	    rename(tmp, s->cfg->ready_file) != 0)
		return tfa_error_set(TFA_EIO, "cannot write %s: %s", s->cfg->ready_file,
				     strerror(errno));
	return TFA_OK;
}

void tfa_serve_config_init(tfa_serve_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->alg = TFA_ALG_NONE;
	cfg->workers = 4;
	cfg->queue = 64;
	cfg->checkpoint_every = 100;
	cfg->checkpoint_interval = 60;
	cfg->request_timeout = 15;
	cfg->per_ip_connections = 32;
	cfg->max_connections = 512;
}

static tfa_err start_daemon(serve *s, const struct sockaddr *sa)
{
	const tfa_serve_config *cfg = s->cfg;
	struct MHD_OptionItem opts[24];
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	size_t n = 0;
	const union MHD_DaemonInfo *di;
	tfa_err rc = TFA_OK;

#define OPT(o, v, p) opts[n++] = (struct MHD_OptionItem){(o), (intptr_t)(v), (p)}
	OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)(void (*)(void))mhd_log, NULL);
	if (sa->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (!cfg->plain_http) {
		flags |= MHD_USE_TLS;
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert.data);
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key.data);
		OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)(uintptr_t)TLS_PRIORITIES);
		if (cfg->client_ca)
			OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, s->client_ca.data);
	}
	OPT(MHD_OPTION_SOCK_ADDR, 0, (void *)(uintptr_t)sa);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, cfg->request_timeout, NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, NULL);
	OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->per_ip_connections, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_MEMORY, NULL);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)(void (*)(void))on_completed, s);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)(void (*)(void))on_connection, s);
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts,
				MHD_OPTION_END);
	TFA_ENSURE(s->d, TFA_EIO,
		   "cannot listen on %s: the address is taken or not ours, or the TLS "
		   "certificate and key do not load (see the message above)",
		   cfg->listen);
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : 0;
out:
	return rc;
}

/* ---- Running ---- */

static tfa_err check_config(const tfa_serve_config *cfg)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE(cfg->store && cfg->key, TFA_EUSAGE, "--store and --key are required");
	TFA_ENSURE(cfg->policy, TFA_EUSAGE, "--policy FILE is required");
	if (cfg->plain_http) {
		TFA_ENSURE(!cfg->tls_cert && !cfg->tls_key && !cfg->client_ca, TFA_EUSAGE,
			   "--insecure-plain-http takes no --tls-cert, --tls-key or --client-ca");
	} else {
		TFA_ENSURE(cfg->tls_cert && cfg->tls_key, TFA_EUSAGE,
			   "--tls-cert and --tls-key are required (plain HTTP only with "
			   "--insecure-plain-http, on a loopback address)");
	}
	TFA_ENSURE(cfg->workers >= 1 && cfg->workers <= TFA_SERVE_WORKERS_MAX, TFA_EUSAGE,
		   "--workers must be from 1 to %u", TFA_SERVE_WORKERS_MAX);
	TFA_ENSURE(cfg->queue >= 1 && cfg->queue <= TFA_SERVE_QUEUE_MAX, TFA_EUSAGE,
		   "--queue must be from 1 to %u", TFA_SERVE_QUEUE_MAX);
	TFA_ENSURE(cfg->request_timeout >= 1 && cfg->request_timeout <= 3600, TFA_EUSAGE,
		   "the request timeout must be from 1 to 3600 seconds");
	TFA_ENSURE(cfg->per_ip_connections >= 1 && cfg->max_connections >= 1, TFA_EUSAGE,
		   "the connection limits must be at least 1");
out:
	return rc;
}

static tfa_err open_chain(serve *s)
{
	const tfa_serve_config *cfg = s->cfg;
	tfa_service_config sc;
	tfa_buf latest;
	uint64_t seq = 0;
	size_t i;
	tfa_err rc = TFA_OK;

	tfa_buf_init(&latest, TFA_CHECKPOINT_FILE_MAX);
	TFA_GUARD(tfa_policy_load(&s->policy, cfg->policy));
	TFA_GUARD(load_policy_claims(s));
	s->ncaches = tfa_policy_issuer_count(s->policy);
	s->caches = calloc(s->ncaches ? s->ncaches : 1, sizeof(*s->caches));
	TFA_ENSURE(s->caches, TFA_EINTERNAL, "out of memory");
	for (i = 0; i < s->ncaches; i++) {
		const tfa_policy_issuer *pi = tfa_policy_issuer_at(s->policy, i);
		TFA_GUARD(tfa_jwks_cache_new(&s->caches[i], pi->issuer, pi->jwks_file, pi->jwks_uri,
					     pi->jwks_ttl));
	}
	memset(&sc, 0, sizeof(sc));
	sc.store = cfg->store;
	sc.sequencer = cfg->sequencer;
	sc.key = cfg->key;
	sc.alg = cfg->alg;
	sc.policy = s->policy;
	sc.front_end = "serve";
	TFA_GUARD(tfa_service_open(&s->svc, &sc));
	copy_field(s->chain_id, sizeof(s->chain_id), tfa_service_chain_id(s->svc));
	/* Health and checkpoints read the chain through handles of their own. */
	TFA_GUARD(tfa_store_open_seq(&s->st, cfg->store, cfg->sequencer));
	TFA_GUARD(tfa_signer_open(&s->signer, cfg->key));
	if (tfa_store_latest_checkpoint(s->st, 0, UINT64_MAX, &seq, &latest) == TFA_OK) {
		TFA_GUARD(tfa_buf_append(&s->cp_file, latest.data, latest.len));
		s->cp_seq = seq;
	}
	tfa_error_clear();
out:
	tfa_buf_free(&latest);
	return rc;
}

static tfa_err open_log(serve *s)
{
	const char *p = s->cfg->access_log;
	int fd;

	if (p == NULL)
		return TFA_OK;
	if (strcmp(p, "-") == 0) {
		s->log = stdout;
		return TFA_OK;
	}
	fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0 || (s->log = fdopen(fd, "a")) == NULL) {
		if (fd >= 0)
			close(fd);
		return tfa_error_set(TFA_EIO, "cannot open the access log %s: %s", p,
				     strerror(errno));
	}
	s->log_close = true;
	return TFA_OK;
}

/* Stops accepting, waits for the requests in progress (at most `grace` ms). */
static void drain(serve *s, int64_t grace)
{
	MHD_socket lfd = MHD_quiesce_daemon(s->d);
	struct timespec ts;
	int64_t end = now_ms() + grace;

	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
	atomic_store(&s->draining, true);
	pthread_mutex_lock(&s->qlock);
	while ((s->inflight > 0 || s->qlen > 0) && now_ms() < end) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&s->idle_cond, &s->qlock, &ts);
	}
	if (s->inflight > 0)
		fprintf(stderr, "tfattest serve: %u request(s) still open at exit\n", s->inflight);
	pthread_mutex_unlock(&s->qlock);
}

tfa_err tfa_serve_run(const tfa_serve_config *cfg)
{
	serve sv, *s = &sv;
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	sigset_t sigs, old;
	unsigned i, started = 0;
	int sig = 0;
	tfa_err rc = TFA_OK;

	TFA_ENSURE_ARG(cfg);
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	pthread_mutex_init(&s->st_lock, NULL);
	pthread_mutex_init(&s->qlock, NULL);
	pthread_cond_init(&s->qcond, NULL);
	pthread_cond_init(&s->idle_cond, NULL);
	pthread_mutex_init(&s->wlock, NULL);
	pthread_cond_init(&s->wcond, NULL);
	pthread_mutex_init(&s->cplock, NULL);
	pthread_cond_init(&s->cpcond, NULL);
	pthread_mutex_init(&s->loglock, NULL);
	tfa_buf_init(&s->tls_cert, 1u << 20);
	tfa_buf_init(&s->tls_key, 1u << 20);
	tfa_buf_init(&s->client_ca, 1u << 20);
	tfa_buf_init(&s->cp_file, TFA_CHECKPOINT_FILE_MAX);
	/* Signals go to sigwait below, in this thread only: every thread started inherits this. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);

	TFA_GUARD(check_config(cfg));
	TFA_GUARD(resolve_listen(s, &ss, &sl));
	if (!cfg->plain_http) {
		TFA_GUARD(read_pem(&s->tls_cert, cfg->tls_cert, "TLS certificate"));
		TFA_GUARD(read_pem(&s->tls_key, cfg->tls_key, "TLS key"));
		if (cfg->client_ca)
			TFA_GUARD(read_pem(&s->client_ca, cfg->client_ca, "client CA"));
	}
	TFA_GUARD(open_log(s));
	TFA_GUARD(open_chain(s));
	s->qcap = cfg->queue;
	s->ring = calloc(s->qcap, sizeof(*s->ring));
	s->workers = calloc(cfg->workers, sizeof(*s->workers));
	TFA_ENSURE(s->ring && s->workers, TFA_EINTERNAL, "out of memory");
	for (i = 0; i < cfg->workers; i++) {
		TFA_ENSURE(pthread_create(&s->workers[i], NULL, worker_main, s) == 0, TFA_EINTERNAL,
			   "cannot start a worker thread");
		started++;
	}
	TFA_ENSURE(pthread_create(&s->wd, NULL, watchdog_main, s) == 0, TFA_EINTERNAL,
		   "cannot start the watchdog thread");
	s->wd_started = true;
	if (cfg->checkpoint_every || cfg->checkpoint_interval) {
		TFA_ENSURE(pthread_create(&s->cp, NULL, checkpointer_main, s) == 0, TFA_EINTERNAL,
			   "cannot start the checkpoint thread");
		s->cp_started = true;
	}
	TFA_GUARD(start_daemon(s, (const struct sockaddr *)&ss));
	fprintf(stderr, "tfattest serve: chain %s, listening on %s://%s%s%s:%u%s\n", s->chain_id,
		cfg->plain_http ? "http" : "https", strchr(s->host, ':') ? "[" : "", s->host,
		strchr(s->host, ':') ? "]" : "", s->port,
		cfg->client_ca ? " (client certificates required)" : "");
	if (cfg->ready_file)
		TFA_GUARD(write_ready(s));
	(void)sl;

	sigdelset(&sigs, SIGPIPE);
	while (sigwait(&sigs, &sig) != 0 || (sig != SIGTERM && sig != SIGINT))
		;
	fprintf(stderr, "tfattest serve: %s: finishing the requests in progress\n",
		sig == SIGTERM ? "SIGTERM" : "SIGINT");
	drain(s, (int64_t)cfg->request_timeout * 1000 + 5000);
	fprintf(stderr, "tfattest serve: stopped\n");
out:
	/* The workers first: each resumes its connection, which must still exist. */
	pthread_mutex_lock(&s->qlock);
	s->workers_stop = true;
	pthread_cond_broadcast(&s->qcond);
	pthread_mutex_unlock(&s->qlock);
	for (i = 0; i < started; i++)
		pthread_join(s->workers[i], NULL);
	if (s->d)
		MHD_stop_daemon(s->d);
	if (s->wd_started) {
		pthread_mutex_lock(&s->wlock);
		s->wd_stop = true;
		pthread_cond_signal(&s->wcond);
		pthread_mutex_unlock(&s->wlock);
		pthread_join(s->wd, NULL);
	}
	if (s->cp_started) {
		pthread_mutex_lock(&s->cplock);
		s->cp_stop = true;
		pthread_cond_signal(&s->cpcond);
		pthread_mutex_unlock(&s->cplock);
		pthread_join(s->cp, NULL);
	}
	tfa_service_close(s->svc);
	for (i = 0; i < s->ncaches; i++)
		tfa_jwks_cache_free(s->caches[i]);
	free(s->caches);
	tfa_policy_free(s->policy);
	for (i = 0; i < s->npolicy_claims; i++)
		free(s->policy_claims[i]);
	free(s->policy_claims);
	tfa_signer_free(s->signer);
	tfa_store_free(s->st);
	free(s->ring);
	free(s->workers);
	if (s->log_close)
		fclose(s->log);
	else if (s->log)
		fflush(s->log);
	tfa_buf_free(&s->tls_cert);
	tfa_buf_wipe_free(&s->tls_key);
	tfa_buf_free(&s->client_ca);
	tfa_buf_free(&s->cp_file);
	pthread_mutex_destroy(&s->st_lock);
	pthread_mutex_destroy(&s->qlock);
	pthread_cond_destroy(&s->qcond);
	pthread_cond_destroy(&s->idle_cond);
	pthread_mutex_destroy(&s->wlock);
	pthread_cond_destroy(&s->wcond);
	pthread_mutex_destroy(&s->cplock);
	pthread_cond_destroy(&s->cpcond);
	pthread_mutex_destroy(&s->loglock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}
