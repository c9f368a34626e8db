/* s3:// store, s3:// object and dynamodb:// sequencer URIs: accepted forms and refusals. */
#include <stdlib.h>

#include "aws/awsuri.h"
#include "tfa_test.h"

static void s3_ok(const char *s, const char *bucket, const char *prefix, const char *region,
		  const char *endpoint, long days)
{
	tfa_awsuri u;

	CHECK_OK(tfa_awsuri_parse(&u, s, TFA_AWSURI_S3));
	CHECK_STREQ(u.name, bucket);
	CHECK_STREQ(u.prefix, prefix);
	CHECK_STREQ(u.region, region);
	CHECK_STREQ(u.endpoint, endpoint);
	CHECK(u.retention_days == days);
}

static void bad(const char *s, tfa_awsuri_kind kind, const char *want)
{
	tfa_awsuri u;
	tfa_err rc = tfa_awsuri_parse(&u, s, kind);

	if (rc != TFA_EUSAGE)
		fprintf(stderr, "  accepted or wrong code (%s): %s\n", tfa_err_name(rc), s);
	CHECK(rc == TFA_EUSAGE);
	if (want != NULL && strstr(tfa_error_last()->message, want) == NULL) {
		fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", tfa_error_last()->message, want);
		CHECK(0);
	}
}

static void test_s3_forms(void)
{
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	s3_ok("s3://my-bucket?region=eu-west-1", "my-bucket", "", "eu-west-1", "", 0);
	s3_ok("s3://my-bucket/?region=eu-west-1", "my-bucket", "", "eu-west-1", "", 0);
	s3_ok("s3://b01/chains/prod/?region=us-east-1&retention-days=2555", "b01", "chains/prod",
	      "us-east-1", "", 2555);
	s3_ok("s3://b01/a.b_c-d?retention-days=1&endpoint=http://127.0.0.1:4569&region=x-1", "b01",
	      "a.b_c-d", "x-1", "http://127.0.0.1:4569", 1);
	s3_ok("s3://b01/p?region=eu-west-1&endpoint=https%3A%2F%2Fminio.example%3A9000", "b01", "p",
	      "eu-west-1", "https://minio.example:9000", 0);
	s3_ok("s3://b01/p?region=eu-west-1&retention-days=36500", "b01", "p", "eu-west-1", "",
	      36500);
	/* The region from the environment, AWS_REGION first. */
	setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
	s3_ok("s3://b01/p", "b01", "p", "ap-south-1", "", 0);
	setenv("AWS_REGION", "eu-north-1", 1);
	s3_ok("s3://b01/p", "b01", "p", "eu-north-1", "", 0);
	s3_ok("s3://b01/p?region=us-west-2", "b01", "p", "us-west-2", "", 0);
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
}

static void test_dynamodb_forms(void)
{
	tfa_awsuri u;

	CHECK_OK(
	    tfa_awsuri_parse(&u, "dynamodb://tfattest-seq?region=eu-west-1", TFA_AWSURI_DYNAMODB));
	CHECK_STREQ(u.name, "tfattest-seq");
	CHECK_STREQ(u.region, "eu-west-1");
	CHECK_STREQ(u.endpoint, "");
	CHECK_OK(tfa_awsuri_parse(&u, "dynamodb://T_a.b-1/?endpoint=http://localhost:8000&region=r",
				  TFA_AWSURI_DYNAMODB));
	CHECK_STREQ(u.name, "T_a.b-1");
	CHECK_STREQ(u.endpoint, "http://localhost:8000");
}

static void test_refusals(void)
{
	char big[TFA_AWSURI_MAX + 16];

	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	bad("s3://b01/p", TFA_AWSURI_S3, "no region");
	bad("s3:/b01?region=r", TFA_AWSURI_S3, "must start with s3://");
	bad("dynamodb://t01?region=r", TFA_AWSURI_S3, "must start with s3://");
	bad("s3://?region=r", TFA_AWSURI_S3, "names no bucket");
	bad("s3:///p?region=r", TFA_AWSURI_S3, "names no bucket");
	bad("s3://ab?region=r", TFA_AWSURI_S3, "bucket name");
	bad("s3://Bucket?region=r", TFA_AWSURI_S3, "bucket name");
	bad("s3://my.bucket?region=r", TFA_AWSURI_S3, "bucket name");
	bad("s3://-bucket?region=r", TFA_AWSURI_S3, "bucket name");
	bad("s3://b01/a//b?region=r", TFA_AWSURI_S3, "prefix");
	bad("s3://b01/.hidden?region=r", TFA_AWSURI_S3, "prefix");
	bad("s3://b01/a/../b?region=r", TFA_AWSURI_S3, "prefix");
	bad("s3://b01/a b?region=r", TFA_AWSURI_S3, "prefix");
	bad("s3://b01/a%2Fb?region=r", TFA_AWSURI_S3, "prefix");
	bad("s3://b01?region=r&colour=blue", TFA_AWSURI_S3, "unknown parameter 'colour'");
	bad("s3://b01?region", TFA_AWSURI_S3, "without a value");
	bad("s3://b01?region=", TFA_AWSURI_S3, "malformed parameter value");
	bad("s3://b01?region=EU", TFA_AWSURI_S3, "malformed region");
	bad("s3://b01?region=r&retention-days=0", TFA_AWSURI_S3, "retention-days");
	bad("s3://b01?region=r&retention-days=-1", TFA_AWSURI_S3, "retention-days");
	bad("s3://b01?region=r&retention-days=+5", TFA_AWSURI_S3, "retention-days");
	bad("s3://b01?region=r&retention-days=36501", TFA_AWSURI_S3, "retention-days");
	bad("s3://b01?region=r&retention-days=7d", TFA_AWSURI_S3, "retention-days");
	bad("s3://b01?region=r&retention-days=99999999999999999999", TFA_AWSURI_S3,
	    "retention-days");
	bad("s3://b01?region=r&endpoint=ftp://h", TFA_AWSURI_S3, "endpoint");
	bad("s3://b01?region=r&endpoint=http://", TFA_AWSURI_S3, "endpoint");
	bad("s3://b01?region=r&endpoint=http://h/path", TFA_AWSURI_S3, "endpoint");
	bad("s3://b01?region=r&endpoint=http://u@h", TFA_AWSURI_S3, "endpoint");
	bad("s3://b01?region=r&endpoint=http://h%", TFA_AWSURI_S3, "malformed parameter value");
	bad("s3://b01?region=r&endpoint=http://h%4", TFA_AWSURI_S3, "malformed parameter value");
	bad("s3://b01?region=r&endpoint=http://h%zz", TFA_AWSURI_S3, "malformed parameter value");
	bad("s3://b01?region=r&endpoint=http://h%20", TFA_AWSURI_S3, "malformed parameter value");
	bad("dynamodb://t01/extra?region=r", TFA_AWSURI_DYNAMODB, "takes no path");
	bad("dynamodb://t?region=r", TFA_AWSURI_DYNAMODB, "table name");
	bad("dynamodb://t01?region=r&retention-days=3", TFA_AWSURI_DYNAMODB, "unknown parameter");
	bad("dynamodb://t01", TFA_AWSURI_DYNAMODB, "no region");
	bad(NULL, TFA_AWSURI_S3, "missing");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "s3://", 5);
	bad(big, TFA_AWSURI_S3, "too long");
	setenv("AWS_REGION", "Not A Region", 1);
	bad("s3://b01", TFA_AWSURI_S3, "AWS_REGION");
	unsetenv("AWS_REGION");
}

/* An object read (reconcile's state object): Terraform's workspace keys, env:/WS/KEY. */
static void test_s3_object_forms(void)
{
	tfa_awsuri u;

	CHECK_OK(tfa_awsuri_parse(&u,
				  "s3://tfstate/env:/dev/app/terraform.tfstate?region=us-east-1",
				  TFA_AWSURI_S3_OBJECT));
	CHECK_STREQ(u.name, "tfstate");
	CHECK_STREQ(u.prefix, "env:/dev/app/terraform.tfstate");
	CHECK_OK(tfa_awsuri_parse(&u,
				  "s3://tfstate/app/terraform.tfstate?region=r&endpoint=http://h:9",
				  TFA_AWSURI_S3_OBJECT));
	CHECK_STREQ(u.prefix, "app/terraform.tfstate");
	CHECK_STREQ(u.endpoint, "http://h:9");
	/* A store's prefix keeps the stricter rule. */
	bad("s3://tfstate/env:/dev?region=r", TFA_AWSURI_S3, "prefix");
	/* Otherwise the same rules: no empty or dot-led names, no space, no bucket with dots. */
	bad("s3://tfstate/env:/dev//k?region=r", TFA_AWSURI_S3_OBJECT, "key must be");
	bad("s3://tfstate/env:/../k?region=r", TFA_AWSURI_S3_OBJECT, "key must be");
	bad("s3://tfstate/env: dev/k?region=r", TFA_AWSURI_S3_OBJECT, "key must be");
	bad("s3://tfstate/a=b/k?region=r", TFA_AWSURI_S3_OBJECT, "key must be");
	bad("s3://tf.state/k?region=r", TFA_AWSURI_S3_OBJECT, "bucket name");
	bad("s3://tfstate/k?region=r&colour=blue", TFA_AWSURI_S3_OBJECT, "unknown parameter");
}

TFA_TEST_MAIN(T(test_s3_forms), T(test_s3_object_forms), T(test_dynamodb_forms), T(test_refusals))
