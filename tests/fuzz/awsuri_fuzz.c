/*
 * libFuzzer target for the s3:// and dynamodb:// URI parser (the first byte
 * picks which: bit 0 dynamodb, else bit 1 an s3 object, else an s3 store). Besides memory errors it
 * checks that an accepted URI has a valid name, a region, an http(s) endpoint or none, and a
 * retention within bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/awsuri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfa_awsuri u;
	tfa_awsuri_kind kind;
	char *s;

	if (size < 1 || size > TFA_AWSURI_MAX + 8)
		return 0;
	kind = (data[0] & 1)   ? TFA_AWSURI_DYNAMODB
	       : (data[0] & 2) ? TFA_AWSURI_S3_OBJECT
			       : TFA_AWSURI_S3;
	s = malloc(size);
	if (s == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (tfa_awsuri_parse(&u, s, kind) == TFA_OK) {
		if (strlen(u.name) < 3 || u.region[0] == '\0')
			abort();
		if (u.endpoint[0] && strncmp(u.endpoint, "http://", 7) != 0 &&
		    strncmp(u.endpoint, "https://", 8) != 0)
			abort();
		if (u.retention_days < 0 || u.retention_days > TFA_RETENTION_DAYS_MAX)
			abort();
		if (kind == TFA_AWSURI_DYNAMODB && (u.prefix[0] || u.retention_days))
			abort();
		/* The documented rule: '/'-separated names, none empty or starting with '.'
		 * (so no "." or ".." component); dots inside a name are fine. */
		if (u.prefix[0] && (u.prefix[0] == '/' || u.prefix[0] == '.' ||
				    u.prefix[strlen(u.prefix) - 1] == '/' ||
				    strstr(u.prefix, "//") || strstr(u.prefix, "/.")))
			abort();
		/* ':' only in an object's key (Terraform's env: workspace prefix). */
		if (strchr(u.prefix, ':') && kind != TFA_AWSURI_S3_OBJECT)
			abort();
		if (u.prefix[strspn(u.prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					      "0123456789._-/:")] != '\0')
			abort();
	}
	free(s);
	return 0;
}
