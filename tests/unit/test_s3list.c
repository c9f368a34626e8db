/* ListObjectsV2 pages: keys read as seqs, foreign keys, truncation, malformed pages. */
#include <stdio.h>
#include <stdlib.h>

#include "aws/s3list.h"
#include "tfa_test.h"

#define P      "chains/prod/checkpoints/"
#define HEAD   "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>b01</Name>"
#define KEY(k) "<Contents><Key>" k "</Key><Size>9</Size></Contents>"

static tfa_err parse(tfa_s3list_page *pg, const char *doc, uint64_t lo, uint64_t hi)
{
	return tfa_s3list_parse(pg, (const uint8_t *)doc, strlen(doc), P, ".ckpt", lo, hi);
}

static void test_keys(void)
{
	tfa_s3list_page pg;
	const char *doc =
	    HEAD "<Prefix>" P "</Prefix>" KEY(P "000000000003.ckpt") KEY(P "000000000007.ckpt")
		KEY(P "000000000012.ckpt") "<IsTruncated>false</IsTruncated></ListBucketResult>";

	CHECK_OK(parse(&pg, doc, 1, 10));
	CHECK(pg.nkeys == 3 && pg.nforeign == 0);
	CHECK(pg.first == 3 && pg.last == 12 && pg.best == 7);
	CHECK(pg.ordered && !pg.truncated);
	CHECK_OK(parse(&pg, doc, 12, 12));
	CHECK(pg.best == 12);
	CHECK_OK(parse(&pg, doc, 8, 11));
	CHECK(pg.best == 0 && pg.nkeys == 3);
	CHECK_OK(parse(&pg, doc, 1, 2));
	CHECK(pg.best == 0);
	/* An empty listing. */
	CHECK_OK(parse(&pg,
		       HEAD "<KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
			    "</ListBucketResult>",
		       1, 10));
	CHECK(pg.nkeys == 0 && pg.first == 0 && pg.last == 0 && pg.best == 0 && pg.ordered);
}

static void test_foreign(void)
{
	tfa_s3list_page pg;
	/* Each is counted as foreign and never taken as a seq. */
	const char *doc = HEAD KEY(P "000000000000.ckpt")   /* seq 0 */
	    KEY(P "00000000005.ckpt")			    /* 11 digits */
	    KEY(P "0000000000005.ckpt")			    /* 13 digits */
	    KEY(P "00000000000x.ckpt")			    /* not a digit */
	    KEY(P "-00000000005.ckpt")			    /* a sign */
	    KEY(P " 00000000005.ckpt")			    /* a space */
	    KEY(P "000000000009.rec")			    /* other suffix */
	    KEY(P "000000000009.ckpt.tmp")		    /* trailing text */
	    KEY(P "000000000009.ckp")			    /* short suffix */
	    KEY("chains/prod/records/000000000009.ckpt")    /* other prefix */
	    KEY("chains/prod/checkpoints000000000009.ckpt") /* no slash */
	    KEY(P "sub/000000000009.ckpt")		    /* deeper */
	    KEY(P "000000000009&amp;.ckpt")		    /* escaped */
	    KEY("")					    /* empty */
	    KEY(P "000000000004.ckpt") "<IsTruncated>false</IsTruncated></ListBucketResult>";

	CHECK_OK(parse(&pg, doc, 1, UINT64_C(999999999999)));
	CHECK(pg.nkeys == 1 && pg.nforeign == 14);
	CHECK(pg.best == 4 && pg.first == 4 && pg.last == 4);
}

static void test_order(void)
{
	tfa_s3list_page pg;

	CHECK_OK(parse(
	    &pg, HEAD KEY(P "000000000005.ckpt") KEY(P "000000000004.ckpt") "</ListBucketResult>",
	    1, 10));
	CHECK(!pg.ordered && pg.best == 5 && pg.first == 5 && pg.last == 5);
	CHECK_OK(parse(
	    &pg, HEAD KEY(P "000000000005.ckpt") KEY(P "000000000005.ckpt") "</ListBucketResult>",
	    1, 10));
	CHECK(!pg.ordered && pg.nkeys == 2);
	/* The highest seq, 999999999999. */
	CHECK_OK(parse(&pg, HEAD KEY(P "999999999999.ckpt") "</ListBucketResult>", 1, UINT64_MAX));
	CHECK(pg.best == UINT64_C(999999999999));
}

static void test_truncated(void)
{
	tfa_s3list_page pg;
	char doc[4096], tok[TFA_S3LIST_TOKEN_MAX + 2];

	CHECK_OK(parse(
	    &pg,
	    HEAD KEY(
		P "000000000001.ckpt") "<IsTruncated>true</IsTruncated>"
				       "<NextContinuationToken>1Ue/+abc==</NextContinuationToken>"
				       "</ListBucketResult>",
	    1, 10));
	CHECK(pg.truncated && strcmp(pg.token, "1Ue/+abc==") == 0);
	memset(tok, 'A', TFA_S3LIST_TOKEN_MAX);
	tok[TFA_S3LIST_TOKEN_MAX] = '\0';
	snprintf(doc, sizeof(doc),
		 HEAD "<IsTruncated>true</IsTruncated><NextContinuationToken>%s"
		      "</NextContinuationToken></ListBucketResult>",
		 tok);
	CHECK_OK(parse(&pg, doc, 1, 10));
	CHECK(pg.truncated && strlen(pg.token) == TFA_S3LIST_TOKEN_MAX);
	/* One byte longer. */
	tok[TFA_S3LIST_TOKEN_MAX] = 'A';
	tok[TFA_S3LIST_TOKEN_MAX + 1] = '\0';
	snprintf(doc, sizeof(doc),
		 HEAD "<IsTruncated>true</IsTruncated><NextContinuationToken>%s"
		      "</NextContinuationToken></ListBucketResult>",
		 tok);
	CHECK_RC(parse(&pg, doc, 1, 10), TFA_EFORMAT);
	/* Anything but "true" is not truncated. */
	CHECK_OK(parse(&pg, HEAD "<IsTruncated>TRUE</IsTruncated></ListBucketResult>", 1, 10));
	CHECK(!pg.truncated);
}

static void test_malformed(void)
{
	tfa_s3list_page pg;
	static const char *const bad[] = {
	    "",
	    "<Error><Code>AccessDenied</Code></Error>",
	    "<ListBucketResul>" KEY(P "000000000001.ckpt"),
	    HEAD "<Contents><Key>" P "000000000001.ckpt",
	    HEAD KEY(P "000000000001.ckpt") "<Contents><Key>" P "0000",
	    HEAD "<IsTruncated>true",
	    HEAD "<IsTruncated>true</IsTruncated></ListBucketResult>",
	    HEAD "<IsTruncated>true</IsTruncated><NextContinuationToken></NextContinuationToken>",
	    HEAD
	    "<IsTruncated>true</IsTruncated><NextContinuationToken>a b</NextContinuationToken>",
	    HEAD
	    "<IsTruncated>true</IsTruncated><NextContinuationToken>a\x01</NextContinuationToken>",
	    HEAD "<IsTruncated>true</IsTruncated><NextContinuationToken>\xc3\xa9</"
		 "NextContinuationToken>",
	    HEAD "<IsTruncated>true</IsTruncated><NextContinuationToken>abc",
	};
	/* A NUL inside the page does not end it early, nor is it read past. */
	static const char nul[] = HEAD "\0" KEY(P "000000000002.ckpt") "</ListBucketResult>";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tfa_err rc = parse(&pg, bad[i], 1, 10);
		if (rc != TFA_EFORMAT)
			fprintf(stderr, "  case %zu: %s\n", i, tfa_err_name(rc));
		CHECK(rc == TFA_EFORMAT);
	}
	CHECK_OK(tfa_s3list_parse(&pg, (const uint8_t *)nul, sizeof(nul) - 1, P, ".ckpt", 1, 10));
	CHECK(pg.best == 2);
	/* The length bounds the page: cut inside "</Key>", the Key is unterminated. */
	CHECK_RC(tfa_s3list_parse(&pg, (const uint8_t *)nul,
				  sizeof(nul) - 1 -
				      strlen("y><Size>9</Size></Contents></ListBucketResult>"),
				  P, ".ckpt", 1, 10),
		 TFA_EFORMAT);
	CHECK_RC(tfa_s3list_parse(&pg, NULL, 0, P, ".ckpt", 1, 10), TFA_EUSAGE);
}

static void test_key_seq(void)
{
	uint64_t s = 77;

	CHECK(tfa_s3list_key_seq("r/000000000042.rec", 18, "r/", ".rec", &s) && s == 42);
	s = 77;
	CHECK(!tfa_s3list_key_seq("r/000000000000.rec", 18, "r/", ".rec", &s) && s == 77);
	CHECK(!tfa_s3list_key_seq("r/000000000042.rec", 17, "r/", ".rec", &s));
	CHECK(!tfa_s3list_key_seq("r/00000000004\xff.rec", 18, "r/", ".rec", &s));
	CHECK(!tfa_s3list_key_seq("", 0, "r/", ".rec", &s));
}

TFA_TEST_MAIN(T(test_keys), T(test_foreign), T(test_order), T(test_truncated), T(test_malformed),
	      T(test_key_seq))
