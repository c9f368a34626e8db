/*
 * libFuzzer target for ListObjectsV2 pages. Besides memory errors it checks
 * that the page's figures agree: best within range and at most last (at least
 * first when ordered), a token only on a truncated page, and keys that read
 * back as their seq.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/s3list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_s3list_page pg;
	uint64_t lo = 3, hi = 1000, s;
	char key[40];

	if (size > (1u << 20))
		return 0;
	if (tfa_s3list_parse(&pg, data, size, "p/checkpoints/", ".ckpt", lo, hi) != TFA_OK)
		return 0;
	if (pg.nkeys == 0 && (pg.first || pg.last || pg.best))
		abort();
	if (pg.nkeys > 0 && (pg.first == 0 || pg.last < pg.first || pg.last > TFA_S3LIST_SEQ_MAX))
		abort();
	if (pg.best && (pg.best < lo || pg.best > hi || pg.best > pg.last))
		abort();
	if (pg.ordered && pg.best && pg.best < pg.first)
		abort();
	if (pg.nkeys == 1 && (!pg.ordered || pg.first != pg.last))
		abort();
	if (pg.truncated ? pg.token[0] == '\0' : pg.token[0] != '\0')
		abort();
	if (strlen(pg.token) > TFA_S3LIST_TOKEN_MAX)
		abort();
	if (pg.nkeys > 0) {
		snprintf(key, sizeof(key), "p/checkpoints/%012llu.ckpt",
			 (unsigned long long)pg.last);
		if (!tfa_s3list_key_seq(key, strlen(key), "p/checkpoints/", ".ckpt", &s) ||
		    s != pg.last)
			abort();
	}
	return 0;
}
