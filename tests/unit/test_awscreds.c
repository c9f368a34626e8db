/*
 * The credential chain: each source (environment, shared files and
 * profiles, web identity through a fake STS, ECS, IMDSv2), their order,
 * malformed files, expired credentials, region resolution, and no secret in
 * any message.
 */
#include <stdlib.h>

#include "aws/aws.h"
#include "aws_fake.h"
#include "tfa_test.h"

/* Distinct secrets per source, so a message that quotes one is caught. */
#define ENV_SECRET    "envSecretValue0000000000000000000000000A"
#define FILE_SECRET   "fileSecretValue000000000000000000000000B"
#define CFG_SECRET    "cfgSecretValue0000000000000000000000000C"
#define REMOTE_SECRET "remoteSecretValue00000000000000000000D"
#define REMOTE_TOKEN  "remoteSessionToken/+=00000000000000000E"
#define WEB_TOKEN     "eyJhbGciOiJSUzI1NiJ9.webIdentityToken.sig000F"
#define ECS_TOKEN     "ecsAuthorizationToken00000000000000000G"

static aws_fake fake;
static char *dir;
static char ecs_url[128];

static void check_no_secret(void)
{
	static const char *const secrets[] = {ENV_SECRET,   FILE_SECRET, CFG_SECRET, REMOTE_SECRET,
					      REMOTE_TOKEN, WEB_TOKEN,	 ECS_TOKEN};
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		if (strstr(tfa_error_last()->message, secrets[i]) != NULL ||
		    strstr(tfa_error_last()->detail, secrets[i]) != NULL) {
			fprintf(stderr, "  secret in message: %s\n", tfa_error_last()->message);
			CHECK(0);
		}
	}
}

/* No source at all, except what a test sets. */
static void clean_env(void)
{
	static const char *const vars[] = {
	    "AWS_ACCESS_KEY_ID",
	    "AWS_SECRET_ACCESS_KEY",
	    "AWS_SESSION_TOKEN",
	    "AWS_PROFILE",
	    "AWS_DEFAULT_PROFILE",
	    "AWS_ROLE_ARN",
	    "AWS_WEB_IDENTITY_TOKEN_FILE",
	    "AWS_ROLE_SESSION_NAME",
	    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	    "AWS_REGION",
	    "AWS_DEFAULT_REGION",
	    "AWS_ENDPOINT_URL",
	    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
	};
	char *p;

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	p = tfa_test_path(dir, "none");
	setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
	setenv("AWS_CONFIG_FILE", p, 1);
	free(p);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_ENDPOINT_URL_STS", fake.base, 1);
}

static void set_file(const char *env, const char *name, const char *text)
{
	char *p = tfa_test_path(dir, name);

	tfa_test_put_file(dir, name, text, strlen(text));
	setenv(env, p, 1);
	free(p);
}

static void expect_source(const char *want_source, const char *want_akid, bool token)
{
	tfa_aws_creds c;

	memset(&c, 0, sizeof(c));
	CHECK_OK(tfa_aws_creds_resolve(&c, "eu-west-1"));
	CHECK_STREQ(c.source, want_source);
	CHECK_STREQ(c.access_key_id, want_akid);
	CHECK(token == (c.session_token != NULL));
	tfa_aws_creds_clear(&c);
	CHECK(c.access_key_id == NULL && c.secret_access_key == NULL && c.session_token == NULL);
}

static void expect_fail(tfa_err want, const char *msg_part)
{
	tfa_aws_creds c;

	memset(&c, 0, sizeof(c));
	CHECK_RC(tfa_aws_creds_resolve(&c, "eu-west-1"), want);
	CHECK(c.access_key_id == NULL && c.secret_access_key == NULL);
	if (msg_part != NULL && strstr(tfa_error_last()->message, msg_part) == NULL) {
		fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", tfa_error_last()->message,
			msg_part);
		CHECK(0);
	}
	check_no_secret();
}

static void test_env(void)
{
	clean_env();
	expect_fail(TFA_EUSAGE, "no AWS credentials");
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	expect_fail(TFA_EUSAGE, "AWS_SECRET_ACCESS_KEY is not");
	setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET, 1);
	expect_source("env", "AKIDENV", false);
	setenv("AWS_SESSION_TOKEN", REMOTE_TOKEN, 1);
	expect_source("env", "AKIDENV", true);
	setenv("AWS_SECRET_ACCESS_KEY", "bad\001secret", 1);
	expect_fail(TFA_EFORMAT, "control character");
}

static const char *const creds_file = "# shared credentials\n"
				      "[default]\n"
				      "aws_access_key_id = AKIDFILEDEFAULT\n"
				      "aws_secret_access_key = " FILE_SECRET "\n"
				      "\n"
				      "[dev]\n"
				      "aws_access_key_id=AKIDFILEDEV\n"
				      "aws_secret_access_key=" FILE_SECRET "\n"
				      "aws_session_token=" REMOTE_TOKEN "\n"
				      "[both]\n"
				      "aws_access_key_id = AKIDFILEBOTH\n"
				      "aws_secret_access_key = " FILE_SECRET "\n";

static const char *const config_file = "[default]\n"
				       "region = us-east-2\n"
				       "[profile cfgonly]\n"
				       "region = ap-south-1\n"
				       "aws_access_key_id = AKIDCFGONLY\n"
				       "aws_secret_access_key = " CFG_SECRET "\n"
				       "s3 =\n"
				       "  max_concurrent_requests = 4\n"
				       "[profile both]\n"
				       "aws_access_key_id = AKIDCFGBOTH\n"
				       "aws_secret_access_key = " CFG_SECRET "\n"
				       "[profile sso]\n"
				       "sso_start_url = https://example.awsapps.com/start\n"
				       "[profile regiononly]\n"
				       "region = eu-north-1\n"
				       "[cfgonly]\n"
				       "aws_access_key_id = AKIDNOTAPROFILE\n"
				       "aws_secret_access_key = " CFG_SECRET "\n";

static void test_profiles(void)
{
	char region[64];

	clean_env();
	set_file("AWS_SHARED_CREDENTIALS_FILE", "credentials", creds_file);
	set_file("AWS_CONFIG_FILE", "config", config_file);
	expect_source("profile:default", "AKIDFILEDEFAULT", false);
	setenv("AWS_PROFILE", "dev", 1);
	expect_source("profile:dev", "AKIDFILEDEV", true);
	/* In the config file the section is [profile NAME]; [NAME] there is not the profile. */
	setenv("AWS_PROFILE", "cfgonly", 1);
	expect_source("profile:cfgonly", "AKIDCFGONLY", false);
	/* The credentials file wins over the config file. */
	setenv("AWS_PROFILE", "both", 1);
	expect_source("profile:both", "AKIDFILEBOTH", false);
	setenv("AWS_PROFILE", "missing", 1);
	expect_fail(TFA_EUSAGE, "AWS profile missing is in neither");
	setenv("AWS_PROFILE", "sso", 1);
	expect_fail(TFA_EUSAGE, "uses sso_start_url, which is not supported");
	/* A profile with a region only: on to the next source. */
	setenv("AWS_PROFILE", "regiononly", 1);
	expect_fail(TFA_EUSAGE, "no AWS credentials");
	CHECK_OK(tfa_aws_region_resolve(region, sizeof(region)));
	CHECK_STREQ(region, "eu-north-1");
	unsetenv("AWS_PROFILE");
	setenv("AWS_DEFAULT_PROFILE", "dev", 1);
	expect_source("profile:dev", "AKIDFILEDEV", true);
	unsetenv("AWS_DEFAULT_PROFILE");
	/* Region: AWS_REGION, AWS_DEFAULT_REGION, then the profile. */
	CHECK_OK(tfa_aws_region_resolve(region, sizeof(region)));
	CHECK_STREQ(region, "us-east-2");
	setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
	CHECK_OK(tfa_aws_region_resolve(region, sizeof(region)));
	CHECK_STREQ(region, "eu-west-3");
	setenv("AWS_REGION", "ca-central-1", 1);
	CHECK_OK(tfa_aws_region_resolve(region, sizeof(region)));
	CHECK_STREQ(region, "ca-central-1");
	setenv("AWS_REGION", "Not A Region", 1);
	CHECK_RC(tfa_aws_region_resolve(region, sizeof(region)), TFA_EUSAGE);
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	/* The environment wins over the files. */
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET, 1);
	expect_source("env", "AKIDENV", false);
}

static void test_malformed_files(void)
{
	clean_env();
	set_file("AWS_SHARED_CREDENTIALS_FILE", "bad1",
		 "[default]\naws_access_key_id = AKID\n" FILE_SECRET "\n");
	expect_fail(TFA_EFORMAT, "line 3: expected key = value");
	set_file("AWS_SHARED_CREDENTIALS_FILE", "bad2", "[default\naws_access_key_id = AKID\n");
	expect_fail(TFA_EFORMAT, "line 1: malformed section header");
	set_file("AWS_SHARED_CREDENTIALS_FILE", "bad3", "[ ]\n");
	expect_fail(TFA_EFORMAT, "empty section name");
	set_file("AWS_SHARED_CREDENTIALS_FILE", "bad4", "[default]\n= " FILE_SECRET "\n");
	expect_fail(TFA_EFORMAT, "line 2: empty key");
	set_file("AWS_SHARED_CREDENTIALS_FILE", "bad5", "[default]\naws_access_key_id = AKID\n");
	expect_fail(TFA_EUSAGE, "sets only one of");
	set_file("AWS_SHARED_CREDENTIALS_FILE", "bad6", "[default]\r\naws_access_key_id = A\0B\n");
	/* (put_file wrote up to the NUL: that is a profile with one key) */
	expect_fail(TFA_EUSAGE, "sets only one of");
	{
		char *p = tfa_test_path(dir, "bad7");
		FILE *f = fopen(p, "wb");
		fwrite("[default]\naws_access_key_id = A\0B\n", 1, 35, f);
		fclose(f);
		setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
		free(p);
		expect_fail(TFA_EFORMAT, "NUL byte");
	}
	/* A directory where a file should be. */
	setenv("AWS_SHARED_CREDENTIALS_FILE", dir, 1);
	expect_fail(TFA_EFORMAT, "not a regular file");
}

static void test_web_identity(void)
{
	tfa_aws_creds c;
	char *log;

	clean_env();
	aws_fake_reset(&fake);
	aws_fake_write_creds(&fake, "ASIAWEBIDENTITY", REMOTE_SECRET, REMOTE_TOKEN,
			     "2099-01-01T00:00:00Z");
	set_file("AWS_WEB_IDENTITY_TOKEN_FILE", "web.token", WEB_TOKEN "\n");
	tfa_test_put_file(fake.dir, "web.token", WEB_TOKEN, strlen(WEB_TOKEN));
	/* The role alone, or the token file alone, is not this source. */
	expect_fail(TFA_EUSAGE, "no AWS credentials");
	setenv("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/ci", 1);
	setenv("AWS_ROLE_SESSION_NAME", "run-42", 1);
	memset(&c, 0, sizeof(c));
	CHECK_OK(tfa_aws_creds_resolve(&c, "eu-west-1"));
	CHECK_STREQ(c.source, "web-identity");
	CHECK_STREQ(c.access_key_id, "ASIAWEBIDENTITY");
	CHECK_STREQ(c.secret_access_key, REMOTE_SECRET);
	CHECK_STREQ(c.session_token, REMOTE_TOKEN);
	CHECK(c.expiration == 4070908800);
	tfa_aws_creds_clear(&c);
	log = aws_fake_log(&fake);
	CHECK(
	    strstr(log,
		   "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3A"
		   "iam%3A%3A111122223333%3Arole%2Fci&RoleSessionName=run-42&WebIdentityToken=") !=
	    NULL);
	/* Unsigned: no Authorization header. */
	CHECK(strstr(log, "\"authorization\"") == NULL);
	free(log);
	/* STS refuses the token. */
	tfa_test_put_file(fake.dir, "web.token", "other", 5);
	expect_fail(TFA_EBACKEND, "sts AssumeRoleWithWebIdentity: InvalidIdentityToken: Incorrect "
				  "token audience (HTTP 400, request id sts-req-1)");
	tfa_test_put_file(fake.dir, "web.token", WEB_TOKEN, strlen(WEB_TOKEN));
	/* Expired credentials from STS. */
	aws_fake_write_creds(&fake, "ASIAWEBIDENTITY", REMOTE_SECRET, REMOTE_TOKEN,
			     "2001-01-01T00:00:00Z");
	expect_fail(TFA_EBACKEND, "AWS credentials from web-identity have expired");
	/* A malformed answer. */
	aws_fake_script(&fake,
			"[{\"status\":200,\"body\":\"<AssumeRoleWithWebIdentityResponse/>\"}]");
	expect_fail(TFA_EFORMAT, "the response holds no Credentials");
	aws_fake_script(&fake,
			"[{\"status\":200,\"body\":\"<Credentials><AccessKeyId>A</AccessKeyId>"
			"</Credentials>\"}]");
	expect_fail(TFA_EFORMAT, "the response lacks SecretAccessKey");
	/* The token never goes in clear text to a host other than loopback. */
	setenv("AWS_ENDPOINT_URL_STS", "http://sts.example.com:8080", 1);
	expect_fail(TFA_EUSAGE, "the STS endpoint must be https");
	setenv("AWS_ENDPOINT_URL_STS", fake.base, 1);
	/* Missing token file. */
	set_file("AWS_WEB_IDENTITY_TOKEN_FILE", "web.token", "");
	expect_fail(TFA_EUSAGE, "is empty");
	unsetenv("AWS_ROLE_SESSION_NAME");
}

static void test_ecs(void)
{
	clean_env();
	aws_fake_write_creds(&fake, "ASIAECS", REMOTE_SECRET, REMOTE_TOKEN, "2099-01-01T00:00:00Z");
	tfa_test_put_file(fake.dir, "ecs.token", ECS_TOKEN, strlen(ECS_TOKEN));
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs_url, 1);
	/* The fake wants the authorization token. */
	expect_fail(TFA_EBACKEND, "ecs credentials: HTTPError");
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", ECS_TOKEN, 1);
	expect_source("ecs", "ASIAECS", true);
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	set_file("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "ecs.token", ECS_TOKEN "\n");
	expect_source("ecs", "ASIAECS", true);
	/* Plain http only to loopback or the container credential addresses. */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.1.2.3/creds", 1);
	expect_fail(TFA_EUSAGE, "must be https, or http to a loopback");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1.evil.example/creds", 1);
	expect_fail(TFA_EUSAGE, "must be https, or http to a loopback");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.2.evil.example/creds", 1);
	expect_fail(TFA_EUSAGE, "must be https, or http to a loopback");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs_url, 1);
	aws_fake_script(&fake, "[{\"status\":200,\"body\":{\"AccessKeyId\":\"A\"}}]");
	expect_fail(TFA_EFORMAT, "AccessKeyId or SecretAccessKey is missing");
	aws_fake_script(&fake, "[{\"status\":200,\"body\":\"not json\"}]");
	expect_fail(TFA_EFORMAT, "not a JSON object");
	aws_fake_write_creds(&fake, "ASIAECS", REMOTE_SECRET, REMOTE_TOKEN, "yesterday");
	expect_fail(TFA_EFORMAT, "invalid Expiration");
	aws_fake_write_creds(&fake, "ASIAECS", REMOTE_SECRET, REMOTE_TOKEN, "2001-01-01T00:00:00Z");
	expect_fail(TFA_EBACKEND, "from ecs have expired");
	aws_fake_write_creds(&fake, "ASIAECS", REMOTE_SECRET, REMOTE_TOKEN,
			     "2099-01-01T00:00:00.000+00:00");
	expect_source("ecs", "ASIAECS", true);
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "no-slash", 1);
	expect_fail(TFA_EUSAGE, "RELATIVE_URI must be a path");
}

static void test_imds(void)
{
	char *log;

	clean_env();
	aws_fake_reset(&fake);
	aws_fake_write_creds(&fake, "ASIAIMDS", REMOTE_SECRET, REMOTE_TOKEN,
			     "2099-01-01T00:00:00Z");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", fake.base, 1);
	/* Disabled: not asked. */
	expect_fail(TFA_EUSAGE, "no AWS credentials");
	CHECK(aws_fake_count(&fake) == 0);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	expect_source("imds", "ASIAIMDS", true);
	log = aws_fake_log(&fake);
	/* PUT the token, then GET the role and its credentials with the token. */
	CHECK(strstr(log, "\"method\": \"PUT\", \"path\": \"/latest/api/token\"") != NULL);
	CHECK(strstr(log, "\"path\": \"/latest/meta-data/iam/security-credentials/test-role\"") !=
	      NULL);
	free(log);
	CHECK(aws_fake_count(&fake) == 3);
	/* An instance without a role: no credentials from here. */
	aws_fake_script(&fake, "[{\"status\":200,\"body\":\"tok\"},{\"status\":404}]");
	expect_fail(TFA_EUSAGE, "no AWS credentials");
	/* IMDS answers with an error code. */
	aws_fake_script(&fake, "[{\"status\":200,\"body\":\"tok\"},{\"status\":200,\"body\":\"r\"},"
			       "{\"status\":200,\"body\":{\"Code\":\"Failure\"}}]");
	expect_fail(TFA_EBACKEND, "did not report Success");
	/* Nothing listens: not an EC2 instance. */
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1", 1);
	expect_fail(TFA_EUSAGE, "no AWS credentials");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1/path", 1);
	expect_fail(TFA_EUSAGE, "no path");
}

/* env > profile > web identity > ECS > IMDS: remove them one by one. */
static void test_precedence(void)
{
	clean_env();
	aws_fake_reset(&fake);
	aws_fake_write_creds(&fake, "ASIAREMOTE", REMOTE_SECRET, REMOTE_TOKEN,
			     "2099-01-01T00:00:00Z");
	tfa_test_put_file(fake.dir, "web.token", WEB_TOKEN, strlen(WEB_TOKEN));
	tfa_test_put_file(fake.dir, "ecs.token", ECS_TOKEN, strlen(ECS_TOKEN));
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", fake.base, 1);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs_url, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", ECS_TOKEN, 1);
	set_file("AWS_WEB_IDENTITY_TOKEN_FILE", "web.token", WEB_TOKEN);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/ci", 1);
	set_file("AWS_SHARED_CREDENTIALS_FILE", "credentials", creds_file);
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET, 1);
	expect_source("env", "AKIDENV", false);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	expect_source("profile:default", "AKIDFILEDEFAULT", false);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", 1);
	expect_source("web-identity", "ASIAREMOTE", true);
	unsetenv("AWS_ROLE_ARN");
	expect_source("ecs", "ASIAREMOTE", true);
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	expect_source("imds", "ASIAREMOTE", true);
	/* The chain stopped at the first source each time: no STS call once env was set. */
	setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
	expect_fail(TFA_EUSAGE, "no AWS credentials");
}

static void test_start(void)
{
	dir = tfa_test_tmpdir();
	fake.dir = tfa_test_tmpdir();
	aws_fake_write_creds(&fake, "unused", "unused", "unused", "2099-01-01T00:00:00Z");
	tfa_test_put_file(fake.dir, "web.token", WEB_TOKEN, strlen(WEB_TOKEN));
	tfa_test_put_file(fake.dir, "ecs.token", ECS_TOKEN, strlen(ECS_TOKEN));
	aws_fake_start(&fake);
	snprintf(ecs_url, sizeof(ecs_url), "%s/ecs/creds", fake.base);
	setenv("TFATTEST_AWS_RETRY_BASE_MS", "5", 1);
	CHECK(fake.pid > 0);
}

static void test_stop(void)
{
	aws_fake_stop(&fake);
	tfa_test_rmtree(fake.dir);
	tfa_test_rmtree(dir);
	free(fake.dir);
	free(dir);
}

TFA_TEST_MAIN(T(test_start), T(test_env), T(test_profiles), T(test_malformed_files),
	      T(test_web_identity), T(test_ecs), T(test_imds), T(test_precedence), T(test_stop))
