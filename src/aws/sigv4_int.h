/*
 * Signature Version 4 internals, exposed for the unit tests: the canonical
 * path and query string, and a signing entry point whose path rules are
 * chosen by flags rather than by the `s3` member of the request.
 */
#ifndef TFA_SIGV4_INT_H
#define TFA_SIGV4_INT_H

#include "aws/sigv4.h"

/* Remove empty and dot segments from the path (every service but S3). */
#define TFA_SIGV4_NORMALIZE 0x1u
/* URI-encode the path once more (every service but S3). */
#define TFA_SIGV4_ENCODE_PATH 0x2u

/* Caps on what the signer accepts, so a request cannot grow the buffers without bound. */
#define TFA_SIGV4_MAX_HEADERS 64
#define TFA_SIGV4_MAX_FIELD   8192 /* path, query, one header value */

TFA_WUR tfa_err tfa_sigv4_canonical_path(tfa_buf *out, const char *path, unsigned flags);
TFA_WUR tfa_err tfa_sigv4_canonical_query(tfa_buf *out, const char *query);

TFA_WUR tfa_err tfa_sigv4_sign_flags(tfa_buf *authorization, const tfa_sigv4_request *req,
				     unsigned flags, const char *service, const char *region,
				     const char *amz_date, const tfa_aws_creds *creds,
				     tfa_buf *canonical_request, tfa_buf *string_to_sign);

#endif
