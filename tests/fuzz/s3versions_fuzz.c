/*
 * libFuzzer target for ListObjectVersions pages. Besides memory errors it
 * checks what the parser promises: version ids of 1 to 1024 printable ASCII
 * bytes, at most TFA_S3VER_PAGE_MAX entries, and markers only on a truncated
 * page, both non-empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/s3versions.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_s3ver_page pg;
	tfa_err rc;

	if (size > (1u << 20))
		return 0;
	rc = tfa_s3ver_parse(&pg, data, size, "env/terraform.tfstate");
	if (rc == TFA_OK) {
		if (pg.n > TFA_S3VER_PAGE_MAX || (pg.n > 0 && pg.entries == NULL))
			abort();
		for (size_t i = 0; i < pg.n; i++) {
			size_t n = strlen(pg.entries[i].version_id);
			if (n == 0 || n > TFA_S3VER_ID_MAX)
				abort();
			for (size_t k = 0; k < n; k++)
				if (pg.entries[i].version_id[k] <= ' ' ||
				    pg.entries[i].version_id[k] >= 0x7f)
					abort();
		}
		if (pg.truncated && (pg.next_key[0] == '\0' || pg.next_version_id[0] == '\0'))
			abort();
		if (!pg.truncated && (pg.next_key[0] != '\0' || pg.next_version_id[0] != '\0'))
			abort();
	} else if (rc != TFA_EFORMAT && rc != TFA_EINTERNAL) {
		abort();
	}
	tfa_s3ver_page_free(&pg);
	return 0;
}
