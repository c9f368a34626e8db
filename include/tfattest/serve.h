/*
 * `tfattest serve`: the attestation service over HTTPS (docs/SERVICE.md).
 *
 *   POST /v1/records     a record request (service.h), authenticated by an
 *                        OIDC ID token (Authorization: Bearer) and, with a
 *                        client CA, a client certificate
 *   GET  /v1/health      200 with the chain id and head seq; 503 when the
 *                        store cannot be read or the last append found the
 *                        store or key unavailable
 *   GET  /v1/checkpoint  the latest checkpoint the service made (a
 *                        checkpoint file, checkpoint.h)
 *
 * Requests are read by one network thread and handled by a bounded pool of
 * workers behind a bounded queue; a full queue answers 503 with Retry-After.
 */
#ifndef TFATTEST_SERVE_H
#define TFATTEST_SERVE_H

#include <stdbool.h>

#include "common.h"
#include "error.h"
#include "sigalg.h"

#if !TFATTEST_VERIFIER_ONLY

/* Caps on what a configuration may ask for. */
#define TFA_SERVE_WORKERS_MAX 256u
#define TFA_SERVE_QUEUE_MAX   4096u

/* What the service runs with. Strings are borrowed for the call. */
typedef struct tfa_serve_config {
	const char *listen;	      /* HOST:PORT (IPv6 as [ADDR]:PORT); port 0 picks a free one */
	const char *store;	      /* the store URI */
	const char *sequencer;	      /* the sequencer URI, or NULL */
	const char *key;	      /* the signer URI */
	tfa_sig_alg alg;	      /* TFA_ALG_NONE: the key's default */
	const char *policy;	      /* the policy file */
	const char *tls_cert;	      /* PEM certificate chain; NULL only with plain_http */
	const char *tls_key;	      /* its PEM private key */
	const char *client_ca;	      /* PEM: require client certificates it issued, or NULL */
	bool plain_http;	      /* no TLS: refused unless every listen address is loopback */
	unsigned workers;	      /* worker threads (default 4) */
	unsigned queue;		      /* requests waiting for a worker before 503 (default 64) */
	unsigned checkpoint_every;    /* a checkpoint after this many new records; 0: never */
	unsigned checkpoint_interval; /* minutes: a checkpoint when records came since the last;
					 0: never */
	const char *access_log;	      /* a file (appended to), "-" for stdout, or NULL for none */
	unsigned request_timeout;     /* seconds a request may take to arrive whole, and a
					 connection may stay idle (default 15) */
	unsigned per_ip_connections;  /* open connections per client address (default 32) */
	unsigned max_connections;     /* open connections in all (default 512) */
	const char *ready_file;	      /* written with "HOST:PORT\n" once listening, or NULL */
} tfa_serve_config;

/* Fills in the defaults; every string NULL. */
void tfa_serve_config_init(tfa_serve_config *cfg);

/*
 * Opens the service, listens, and serves until SIGTERM or SIGINT: it then
 * stops accepting, lets the requests in progress finish (at most
 * request_timeout seconds more), and returns TFA_OK. The calling thread
 * blocks SIGTERM, SIGINT and SIGPIPE for the life of the call (the threads it
 * starts inherit the mask) and waits for the signals itself.
 * TFA_EUSAGE for a configuration it refuses (plain HTTP on a non-loopback
 * address, a missing certificate), with a message that says why.
 */
TFA_WUR tfa_err tfa_serve_run(const tfa_serve_config *cfg);

#endif /* !TFATTEST_VERIFIER_ONLY */
#endif
