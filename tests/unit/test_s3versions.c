/* ListObjectVersions pages: versions and delete markers of one key, markers, malformed pages. */
#include <stdio.h>
#include <stdlib.h>

#include "aws/s3versions.h"
#include "tfa_test.h"
#include "tfattest/buffer.h"

#define K    "env/terraform.tfstate"
#define HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListVersionsResult><Name>b</Name>"
#define VER(k, id, t)                                                                              \
	"<Version><Key>" k "</Key><VersionId>" id "</VersionId><IsLatest>false</IsLatest>"         \
	"<LastModified>" t "</LastModified><ETag>\"e\"</ETag><Size>181</Size></Version>"
#define DEL(k, id, t)                                                                              \
	"<DeleteMarker><Key>" k "</Key><VersionId>" id "</VersionId><IsLatest>true</IsLatest>"     \
	"<LastModified>" t "</LastModified></DeleteMarker>"
#define TAIL "</ListVersionsResult>"

static tfa_err parse(tfa_s3ver_page *pg, const char *doc)
{
	return tfa_s3ver_parse(pg, (const uint8_t *)doc, strlen(doc), K);
}

static void test_page(void)
{
	tfa_s3ver_page pg;
	const char *doc =
	    HEAD "<IsTruncated>false</IsTruncated>" DEL(K, "dm1", "2026-01-01T00:03:00.000Z")
		VER(K, "v2", "2026-01-01T00:02:00.123Z")
		    VER(K ".backup", "x", "2026-01-01T00:02:00Z")
			VER(K, "v1", "2026-01-01T00:01:00Z") TAIL;

	CHECK_OK(parse(&pg, doc));
	CHECK(pg.n == 3 && pg.nforeign == 1 && !pg.truncated);
	CHECK(pg.entries[0].deleted && !pg.entries[1].deleted && !pg.entries[2].deleted);
	CHECK_STREQ(pg.entries[0].version_id, "dm1");
	CHECK_STREQ(pg.entries[1].version_id, "v2");
	CHECK_STREQ(pg.entries[2].version_id, "v1");
	CHECK(pg.entries[1].last_modified == 1767225720 && pg.entries[1].size == 181);
	CHECK(pg.entries[2].last_modified == 1767225660);
	CHECK(pg.next_key[0] == '\0' && pg.next_version_id[0] == '\0');
	tfa_s3ver_page_free(&pg);
	/* Truncated: the markers are taken, entities decoded. */
	CHECK_OK(parse(&pg,
		       HEAD "<IsTruncated>true</IsTruncated><NextKeyMarker>a&amp;b</NextKeyMarker>"
			    "<NextVersionIdMarker>v9</NextVersionIdMarker>" TAIL));
	CHECK(pg.truncated && pg.n == 0);
	CHECK_STREQ(pg.next_key, "a&b");
	CHECK_STREQ(pg.next_version_id, "v9");
	tfa_s3ver_page_free(&pg);
	/* A key with an entity is compared decoded. */
	CHECK_RC(tfa_s3ver_parse(
		     &pg, (const uint8_t *)(HEAD VER("a&amp;b", "v1", "2026-01-01T00:01:00Z") TAIL),
		     strlen(HEAD VER("a&amp;b", "v1", "2026-01-01T00:01:00Z") TAIL), "a&b"),
		 TFA_OK);
	CHECK(pg.n == 1 && pg.nforeign == 0);
	tfa_s3ver_page_free(&pg);
	/* An empty listing. */
	CHECK_OK(parse(&pg, HEAD "<IsTruncated>false</IsTruncated>" TAIL));
	CHECK(pg.n == 0 && pg.entries == NULL);
	tfa_s3ver_page_free(&pg);
	tfa_s3ver_page_free(NULL);
}

static void test_malformed(void)
{
	static const char *const bad[] = {
	    "",
	    "<ListBucketResult></ListBucketResult>",
	    HEAD "<Version><Key>" K "</Key>",
	    HEAD "<Version><VersionId>v</VersionId></Version>" TAIL,
	    HEAD VER(K, "", "2026-01-01T00:01:00Z") TAIL,
	    HEAD VER(K, "a b", "2026-01-01T00:01:00Z") TAIL,
	    HEAD VER(K, "a\x01", "2026-01-01T00:01:00Z") TAIL,
	    HEAD VER(K, "v", "2026-01-01 00:01:00Z") TAIL,
	    HEAD VER(K, "v", "2026-02-30T00:01:00Z") TAIL,
	    HEAD VER(K, "v", "2026-01-01T00:01:00.Z") TAIL,
	    HEAD VER(K, "v", "2026-01-01T00:01:00.1234567890Z") TAIL,
	    HEAD VER(K, "v", "2026-01-01T00:01:00") TAIL,
	    HEAD "<Version><Key>" K "</Key><VersionId>v</VersionId></Version>" TAIL,
	    HEAD "<Version><Key>" K
		 "</Key><VersionId>v</VersionId><LastModified>2026-01-01T00:01:00Z"
		 "</LastModified><Size>-1</Size></Version>" TAIL,
	    HEAD "<Version><Key>" K
		 "</Key><VersionId>v</VersionId><LastModified>2026-01-01T00:01:00Z"
		 "</LastModified><Size>12" TAIL,
	    HEAD "<Version><Key>" K "<Version></Version></Key></Version>" TAIL,
	    HEAD "<IsTruncated>true</IsTruncated>" TAIL,
	    HEAD "<IsTruncated>true</IsTruncated><NextKeyMarker>k</NextKeyMarker>" TAIL,
	    HEAD "<IsTruncated>true</IsTruncated><NextKeyMarker></NextKeyMarker>"
		 "<NextVersionIdMarker>v</NextVersionIdMarker>" TAIL,
	    HEAD "<IsTruncated>true</IsTruncated><NextKeyMarker>k</NextKeyMarker>"
		 "<NextVersionIdMarker>v w</NextVersionIdMarker>" TAIL,
	    HEAD "<IsTruncated>true" TAIL,
	    HEAD "<DeleteMarker><Key>" K "</Key><VersionId>v</VersionId>" TAIL,
	};
	tfa_s3ver_page pg;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tfa_err rc = parse(&pg, bad[i]);
		if (rc != TFA_EFORMAT)
			fprintf(stderr, "malformed case %zu: %s\n", i, tfa_err_name(rc));
		CHECK_RC(rc, TFA_EFORMAT);
		tfa_s3ver_page_free(&pg);
	}
	/* A foreign key's malformed entry is still malformed only in what is read: its Key. */
	CHECK_OK(parse(&pg, HEAD VER("other", "a b", "bad") TAIL));
	CHECK(pg.n == 0 && pg.nforeign == 1);
	tfa_s3ver_page_free(&pg);
	CHECK_RC(tfa_s3ver_parse(&pg, NULL, 0, K), TFA_EUSAGE);
}

static void test_too_many(void)
{
	tfa_buf b;
	tfa_s3ver_page pg;

	tfa_buf_init(&b, 0);
	CHECK_OK(tfa_buf_puts(&b, HEAD));
	for (int i = 0; i <= TFA_S3VER_PAGE_MAX; i++)
		CHECK_OK(tfa_buf_printf(&b, VER(K, "v%d", "2026-01-01T00:01:00Z"), i));
	CHECK_OK(tfa_buf_puts(&b, TAIL));
	CHECK_RC(tfa_s3ver_parse(&pg, b.data, b.len, K), TFA_EFORMAT);
	tfa_s3ver_page_free(&pg);
	tfa_buf_free(&b);
}

int main(int argc, char **argv)
{
	static const tfa_test_case cases[] = {
	    {"page", test_page},
	    {"malformed", test_malformed},
	    {"too_many", test_too_many},
	    {NULL, NULL},
	};
	return tfa_test_run(cases, argc, argv);
}
