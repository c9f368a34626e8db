/*
 * One page of an S3 ListObjectsV2 response (XML), read for the keys that
 * name a seq: PREFIX + 12 decimal digits + SUFFIX. Private to the library.
 */
#ifndef TFA_S3LIST_H
#define TFA_S3LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tfattest/common.h"
#include "tfattest/error.h"

#define TFA_S3LIST_SEQ_DIGITS 12
#define TFA_S3LIST_SEQ_MAX    UINT64_C(999999999999)
/* The longest continuation token taken from a response. */
#define TFA_S3LIST_TOKEN_MAX 1024

typedef struct tfa_s3list_page {
	uint64_t nkeys;	   /* well-formed keys (seq >= 1) */
	uint64_t nforeign; /* other keys: any other name, or seq 0 */
	uint64_t first;	   /* the first well-formed seq listed, 0 when none */
	uint64_t last;	   /* the highest well-formed seq, 0 when none */
	uint64_t best;	   /* highest well-formed seq in [min_seq, max_seq], 0 when none */
	bool ordered;	   /* the well-formed keys ascend strictly */
	bool truncated;	   /* IsTruncated is true; token holds NextContinuationToken */
	char token[TFA_S3LIST_TOKEN_MAX + 1];
} tfa_s3list_page;

/*
 * Parses one page of len bytes. TFA_EFORMAT when it is not a
 * ListBucketResult, a Key or IsTruncated element is unterminated, or a
 * truncated page has no usable continuation token (empty, too long, or
 * holding a character outside printable ASCII).
 */
TFA_WUR tfa_err tfa_s3list_parse(tfa_s3list_page *out, const uint8_t *doc, size_t len,
				 const char *prefix, const char *suffix, uint64_t min_seq,
				 uint64_t max_seq);

/* The seq named by key (klen bytes) when it is PREFIX + 12 digits + SUFFIX and not 0. */
bool tfa_s3list_key_seq(const char *key, size_t klen, const char *prefix, const char *suffix,
			uint64_t *seq);

#endif
