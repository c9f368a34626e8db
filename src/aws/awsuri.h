/*
 * URIs of the AWS store and sequencer, and of an S3 object that is read:
 *   s3://BUCKET[/PREFIX]?region=R&endpoint=URL&retention-days=N
 *   dynamodb://TABLE?region=R&endpoint=URL
 * TFA_AWSURI_S3_OBJECT parses the s3:// form for an object someone else named
 * (Terraform's state): its key's names may also hold ':', which Terraform's
 * default workspace prefix `env:` brings.
 * Query values may be percent-encoded. Private to the library.
 */
#ifndef TFA_AWSURI_H
#define TFA_AWSURI_H

#include "tfattest/common.h"
#include "tfattest/error.h"

#define TFA_AWSURI_MAX 2048
/* The longest Object Lock retention accepted, in days (100 years). */
#define TFA_RETENTION_DAYS_MAX 36500

typedef enum { TFA_AWSURI_S3, TFA_AWSURI_DYNAMODB, TFA_AWSURI_S3_OBJECT } tfa_awsuri_kind;

typedef struct tfa_awsuri {
	char name[256];	     /* bucket or table */
	char prefix[1024];   /* s3: key prefix without leading or trailing '/', may be "" */
	char region[64];     /* from the URI, else AWS_REGION, else AWS_DEFAULT_REGION */
	char endpoint[256];  /* "" for the public AWS endpoint */
	long retention_days; /* s3: 0 when absent */
} tfa_awsuri;

/*
 * Parses uri as `kind`. TFA_EUSAGE with a one-line reason when the URI is
 * malformed, names an unknown parameter, or no region can be found.
 */
TFA_WUR tfa_err tfa_awsuri_parse(tfa_awsuri *out, const char *uri, tfa_awsuri_kind kind);

#endif
