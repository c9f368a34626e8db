/*
 * awskms:// key URIs, in the forms cosign accepts:
 *
 *   awskms:///KEYID
 *   awskms:///arn:PARTITION:kms:REGION:ACCOUNT:key/KEYID
 *   awskms:///alias/NAME
 *   awskms:///arn:PARTITION:kms:REGION:ACCOUNT:alias/NAME
 *   awskms://HOST[:PORT]/<any of the above>   (a KMS endpoint reached over https)
 *
 * The parser is strict: anything else is TFA_EUSAGE, with a message that
 * names the form expected (the URI holds no secret).
 */
#ifndef TFA_KMSURI_H
#define TFA_KMSURI_H

#include <stdbool.h>

#include "tfattest/common.h"
#include "tfattest/error.h"

#define TFA_KMSURI_MAX 2048

typedef enum tfa_kmsuri_kind {
	TFA_KMS_KEY_ID = 1,
	TFA_KMS_KEY_ARN,
	TFA_KMS_ALIAS,
	TFA_KMS_ALIAS_ARN
} tfa_kmsuri_kind;

typedef struct tfa_kmsuri {
	tfa_kmsuri_kind kind;
	char endpoint[300];	     /* "https://HOST[:PORT]", or "" for the public endpoint */
	char key_id[TFA_KMSURI_MAX]; /* the KeyId sent to KMS: id, ARN, alias/NAME or alias ARN */
	char region[64];	     /* from an ARN, else "" */
	char account[16];	     /* from an ARN, else "" */
} tfa_kmsuri;

TFA_WUR tfa_err tfa_kmsuri_parse(tfa_kmsuri *out, const char *s, size_t len);

#endif
