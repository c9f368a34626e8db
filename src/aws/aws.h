/*
 * AWS plumbing shared by the awskms signer, the s3 store and the dynamodb
 * sequencer: credentials (aws/creds.h), Signature Version 4 (aws/sigv4.h),
 * HTTPS exchanges with retries over the one HTTP client (aws/transport.h,
 * src/net) and signed calls (aws/call.h). Private to the library (not
 * installed).
 *
 * The headers include one another in that order only: credentials know
 * nothing of HTTP, the transport nothing of credentials, and the signed
 * calls use both.
 */
#ifndef TFA_AWS_H
#define TFA_AWS_H

#include "aws/call.h"
#include "aws/creds.h"
#include "aws/sigv4.h"
#include "aws/transport.h"

#endif
