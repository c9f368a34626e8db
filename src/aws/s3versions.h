/*
 * One page of an S3 ListObjectVersions response (XML), read for the versions
 * and delete markers of one key: their version ids, times and sizes, and the
 * markers of the next page. Private to the library.
 */
#ifndef TFA_S3VERSIONS_H
#define TFA_S3VERSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tfattest/common.h"
#include "tfattest/error.h"

/* S3 version ids are at most 1024 bytes of printable ASCII. */
#define TFA_S3VER_ID_MAX  1024
#define TFA_S3VER_KEY_MAX 1024
/* The most entries one page may hold (S3 sends at most 1000). */
#define TFA_S3VER_PAGE_MAX 10000

typedef struct tfa_s3ver_entry {
	bool deleted; /* a DeleteMarker, not a Version */
	char version_id[TFA_S3VER_ID_MAX + 1];
	int64_t last_modified; /* seconds since the epoch, UTC */
	uint64_t size;	       /* Version only */
} tfa_s3ver_entry;

typedef struct tfa_s3ver_page {
	tfa_s3ver_entry *entries; /* those of the key asked for, in document order */
	size_t n;
	size_t nforeign; /* entries of other keys under the same prefix */
	bool truncated;	 /* IsTruncated is true: next_key and next_version_id are set */
	char next_key[TFA_S3VER_KEY_MAX + 1];
	char next_version_id[TFA_S3VER_ID_MAX + 1];
} tfa_s3ver_page;

/*
 * Parses one page of len bytes for `key`. TFA_EFORMAT when it is not a
 * ListVersionsResult; when an entry has no Key, an unusable VersionId (empty,
 * longer than 1024 bytes, not printable ASCII) or LastModified
 * (YYYY-MM-DDTHH:MM:SS[.fraction]Z), or a Size that is not a decimal integer;
 * when an element is unterminated; when the page holds more than
 * TFA_S3VER_PAGE_MAX entries; or when a truncated page lacks a usable
 * NextKeyMarker or NextVersionIdMarker. Free the page with
 * tfa_s3ver_page_free() whatever the result.
 */
TFA_WUR tfa_err tfa_s3ver_parse(tfa_s3ver_page *out, const uint8_t *doc, size_t len,
				const char *key);

/* Accepts NULL and a page never parsed but zeroed. */
void tfa_s3ver_page_free(tfa_s3ver_page *p);

#endif
