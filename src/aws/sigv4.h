/* AWS Signature Version 4: the Authorization value for a request as it will be sent. */
#ifndef TFA_AWS_SIGV4_H
#define TFA_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/creds.h"
#include "net/http.h"
#include "tfattest/buffer.h"
#include "tfattest/common.h"
#include "tfattest/error.h"

/* A header as it is signed and sent. */
typedef tfa_net_header tfa_aws_header;

/* An HTTP request as it will be sent. */
typedef struct tfa_sigv4_request {
	const char *method; /* "POST" */
	const char *host;   /* Host header value: "kms.eu-west-1.amazonaws.com", "127.0.0.1:4569" */
	const char *path;   /* the request path as sent (already percent-encoded), e.g. "/" */
	const char *query;  /* the raw query string without '?', "" for none */
	const tfa_aws_header
	    *headers; /* other headers that are sent and signed (not Host / X-Amz-Date) */
	size_t nheaders;
	const uint8_t *body;
	size_t body_len;
	const char *payload_hash; /* lowercase hex SHA-256 of the body, or NULL to compute it */
	bool s3;		  /* S3 rules: no path normalisation or double encoding */
} tfa_sigv4_request;

/*
 * Signs req for service/region at amz_date ("YYYYMMDDTHHMMSSZ"). Appends the
 * Authorization header value to `authorization`. The caller sends Host,
 * X-Amz-Date = amz_date, X-Amz-Security-Token when the credentials carry a
 * session token (it is signed), and x-amz-content-sha256 for S3.
 * The canonical request and string to sign are appended to the optional
 * debug buffers, for tests. The canonical request carries the session token
 * when there is one: never log it.
 */
TFA_WUR tfa_err tfa_sigv4_sign(tfa_buf *authorization, const tfa_sigv4_request *req,
			       const char *service, const char *region, const char *amz_date,
			       const tfa_aws_creds *creds, tfa_buf *canonical_request,
			       tfa_buf *string_to_sign);

#endif
