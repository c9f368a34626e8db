/* awskms:// key URIs: the forms cosign accepts, and refusals. */
#include "../../providers/awskms/kmsuri.h"
#include "tfa_test.h"

static void ok(const char *s, tfa_kmsuri_kind kind, const char *endpoint, const char *key_id,
	       const char *region)
{
	tfa_kmsuri u;

	CHECK_OK(tfa_kmsuri_parse(&u, s, strlen(s)));
	if (u.kind != kind)
		fprintf(stderr, "  kind %d for %s\n", (int)u.kind, s);
	CHECK(u.kind == kind);
	CHECK_STREQ(u.endpoint, endpoint);
	CHECK_STREQ(u.key_id, key_id);
	CHECK_STREQ(u.region, region);
}

static void bad(const char *s, size_t len, const char *want)
{
	tfa_kmsuri u;
	tfa_err rc = tfa_kmsuri_parse(&u, s, len);

	if (rc != TFA_EUSAGE)
		fprintf(stderr, "  accepted or wrong code (%s): %.*s\n", tfa_err_name(rc), (int)len,
			s);
	CHECK(rc == TFA_EUSAGE);
	CHECK(u.kind == 0 && u.key_id[0] == '\0');
	if (want != NULL && strstr(tfa_error_last()->message, want) == NULL) {
		fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", tfa_error_last()->message, want);
		CHECK(0);
	}
}

#define BAD(s, want) bad((s), strlen(s), (want))

static void test_forms(void)
{
	ok("awskms:///1234abcd-12ab-34cd-56ef-1234567890ab", TFA_KMS_KEY_ID, "",
	   "1234abcd-12ab-34cd-56ef-1234567890ab", "");
	ok("awskms:///mrk-1234abcd12ab34cd56ef1234567890ab", TFA_KMS_KEY_ID, "",
	   "mrk-1234abcd12ab34cd56ef1234567890ab", "");
	ok("awskms:///arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	   TFA_KMS_KEY_ARN, "",
	   "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	   "eu-west-1");
	ok("awskms:///alias/tfattest/prod_signer-1", TFA_KMS_ALIAS, "",
	   "alias/tfattest/prod_signer-1", "");
	ok("awskms:///arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/signer",
	   TFA_KMS_ALIAS_ARN, "", "arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/signer",
	   "us-gov-west-1");
	ok("awskms:///arn:aws-cn:kms:cn-north-1:111122223333:key/abc", TFA_KMS_KEY_ARN, "",
	   "arn:aws-cn:kms:cn-north-1:111122223333:key/abc", "cn-north-1");
	ok("awskms://localhost:4566/alias/x", TFA_KMS_ALIAS, "https://localhost:4566", "alias/x",
	   "");
	ok("awskms://127.0.0.1:8443/abc", TFA_KMS_KEY_ID, "https://127.0.0.1:8443", "abc", "");
	ok("awskms://kms-fips.us-east-1.amazonaws.com/abc", TFA_KMS_KEY_ID,
	   "https://kms-fips.us-east-1.amazonaws.com", "abc", "");
	ok("awskms://[::1]:443/alias/a", TFA_KMS_ALIAS, "https://[::1]:443", "alias/a", "");
}

static void test_refusals(void)
{
	char big[TFA_KMSURI_MAX + 16];

	BAD("", "must start with awskms://");
	BAD("awskms:", "must start with awskms://");
	BAD("awskms:/alias/x", "must start with awskms://");
	BAD("AWSKMS:///alias/x", "must start with awskms://");
	BAD("gcpkms://projects/p", "must start with awskms://");
	BAD("awskms://", "no key");
	BAD("awskms:///", "no key");
	BAD("awskms://host", "no key");
	BAD("awskms://host/", "no key");
	BAD("awskms:///alias/", "invalid alias name");
	BAD("awskms:///alias//x", NULL);
	BAD("awskms:///alias/x/", "invalid alias name");
	BAD("awskms:///alias/a b", "invalid alias name");
	BAD("awskms:///alias/a%20b", "invalid alias name");
	BAD("awskms:///key id", "invalid key id");
	BAD("awskms:///abc?x=1", "invalid key id");
	BAD("awskms:///abc#frag", "invalid key id");
	BAD("awskms:///../etc/passwd", "invalid key id");
	BAD("awskms:////abc", "invalid key id");
	BAD("awskms:///arn:aws:kms:eu-west-1:111122223333:key/", "invalid key id in the ARN");
	BAD("awskms:///arn:aws:kms:eu-west-1:111122223333:secret/x",
	    "must name key/ID or alias/NAME");
	BAD("awskms:///arn:aws:s3:eu-west-1:111122223333:key/x", "not a KMS ARN");
	BAD("awskms:///arn:evil:kms:eu-west-1:111122223333:key/x", "partition");
	BAD("awskms:///arn:aws:kms:EU-WEST-1:111122223333:key/x", "region");
	BAD("awskms:///arn:aws:kms::111122223333:key/x", "region");
	BAD("awskms:///arn:aws:kms:eu-west-1:11112222333:key/x", "12 digits");
	BAD("awskms:///arn:aws:kms:eu-west-1:1111222233334:key/x", "12 digits");
	BAD("awskms:///arn:aws:kms:eu-west-1:11112222333a:key/x", "12 digits");
	BAD("awskms:///arn:aws:kms:eu-west-1", "malformed key ARN");
	BAD("awskms:///arn:aws:kms:eu-west-1:111122223333:alias/", "invalid alias name in the ARN");
	BAD("awskms://user@host/abc", "HOST or HOST:PORT");
	BAD("awskms://host:0/abc", "HOST or HOST:PORT");
	BAD("awskms://host:65536/abc", "HOST or HOST:PORT");
	BAD("awskms://host:/abc", "HOST or HOST:PORT");
	BAD("awskms://host:443x/abc", "HOST or HOST:PORT");
	BAD("awskms://-host/abc", "HOST or HOST:PORT");
	BAD("awskms://[::1/abc", "HOST or HOST:PORT");
	BAD("awskms://[]/abc", "HOST or HOST:PORT");
	BAD("awskms://[::1]x/abc", "HOST or HOST:PORT");
	BAD("awskms://ho_st/abc", "HOST or HOST:PORT");
	bad("awskms:///ab\0c", 13, "NUL");
	memset(big, 'a', sizeof(big));
	memcpy(big, "awskms:///", 10);
	bad(big, sizeof(big), "longer than");
}

TFA_TEST_MAIN(T(test_forms), T(test_refusals))
