/*
 * The record request (include/tfattest/service.h, docs/SERVICE.md
 * "Requests"): its strict parser. Private to src/service.
 */
#ifndef TFA_SERVICE_REQUEST_H
#define TFA_SERVICE_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "tfattest/artifact.h"
#include "tfattest/error.h"
#include "tfattest/jcs.h"

#define TFA_REQUEST_TYPE "tfattest.record-request"

/* Strings a request may carry: at most this many bytes each (FORMAT.md §3.4's cut). */
#define TFA_REQUEST_STR_MAX 1024
/* Entries of terraform.changes, drift.addresses and a reconcile list. */
#define TFA_REQUEST_LIST_MAX 20000

typedef struct tfa_svc_request {
	tfa_json *doc; /* the parsed request, owned */
	char chain_id[TFA_CHAIN_ID_MAX + 1];
	char idempotency_key[65];
	char event[16];
} tfa_svc_request;

/*
 * Parses and validates a record request: the schema of docs/SERVICE.md,
 * exactly; no member that the schema does not list at any depth (so no
 * attribute value can ride along); every string and list bounded.
 * TFA_EFORMAT with a one-line message naming the member otherwise.
 */
TFA_WUR tfa_err tfa_svc_request_parse(tfa_svc_request *out, const uint8_t *req, size_t len);

/* Accepts a zeroed or freed request. */
void tfa_svc_request_free(tfa_svc_request *r);

#endif
