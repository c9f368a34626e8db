/*
 * Signature Version 4: the AWS SigV4 test suite (tests/fixtures/sigv4, header
 * signing), the S3 documentation example, and refusals.
 *
 * Every case directory of the suite is run; each must match the expected
 * canonical request, string to sign and Authorization header byte for byte.
 * Left out, for every case: the query-* files (presigned URLs), because
 * tfattest only signs with the Authorization header.
 * Suite options and how they map here:
 *   normalize: true  -> TFA_SIGV4_NORMALIZE | TFA_SIGV4_ENCODE_PATH (every service but S3)
 *   normalize: false -> TFA_SIGV4_ENCODE_PATH (dot segments kept)
 *   sign_body: true  -> the caller adds X-Amz-Content-Sha256, as the S3 store does
 *   omit_session_token: true -> the token is added after signing, so the request is
 *                               signed with credentials that carry none
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <strings.h>
#include <unistd.h>

#include "aws/sigv4_int.h"
#include "tfa_test.h"
#include "verify/crypto.h"

#define SUITE_CASES 38

static const char *const expected_cases[SUITE_CASES] = {
    "get-header-key-duplicate",
    "get-header-value-multiline",
    "get-header-value-order",
    "get-header-value-trim",
    "get-relative-normalized",
    "get-relative-relative-normalized",
    "get-relative-relative-unnormalized",
    "get-relative-unnormalized",
    "get-slash-dot-slash-normalized",
    "get-slash-dot-slash-unnormalized",
    "get-slash-normalized",
    "get-slash-pointless-dot-normalized",
    "get-slash-pointless-dot-unnormalized",
    "get-slash-unnormalized",
    "get-slashes-normalized",
    "get-slashes-unnormalized",
    "get-space-normalized",
    "get-space-unnormalized",
    "get-unreserved",
    "get-utf8",
    "get-vanilla",
    "get-vanilla-empty-query-key",
    "get-vanilla-query",
    "get-vanilla-query-order-encoded",
    "get-vanilla-query-order-key-case",
    "get-vanilla-query-unreserved",
    "get-vanilla-utf8-query",
    "get-vanilla-with-session-token",
    "post-header-key-case",
    "post-header-key-sort",
    "post-header-value-case",
    "post-sts-header-after",
    "post-sts-header-before",
    "post-vanilla",
    "post-vanilla-empty-query-value",
    "post-vanilla-query",
    "post-x-www-form-urlencoded",
    "post-x-www-form-urlencoded-parameters",
};

#define MAXH 16

typedef struct parsed {
	char method[16];
	char *path;  /* heap */
	char *query; /* heap */
	char *host;  /* heap */
	tfa_aws_header h[MAXH];
	char *hv[MAXH]; /* heap names and values */
	char *hn[MAXH];
	size_t nh;
	const char *body;
	size_t body_len;
} parsed;

static void parsed_free(parsed *p)
{
	free(p->path);
	free(p->query);
	free(p->host);
	for (size_t i = 0; i < p->nh; i++) {
		free(p->hn[i]);
		free(p->hv[i]);
	}
}

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d == NULL)
		abort();
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* Parses request.txt: request line, header lines with folded continuations, body. */
static int parse_request(parsed *p, const char *txt, size_t len)
{
	const char *end = txt + len, *line = txt, *eol, *sp, *http;
	char *target;
	const char *q;

	memset(p, 0, sizeof(*p));
	eol = memchr(line, '\n', (size_t)(end - line));
	sp = memchr(line, ' ', (size_t)(eol - line));
	if (eol == NULL || sp == NULL || (size_t)(sp - line) >= sizeof(p->method))
		return -1;
	memcpy(p->method, line, (size_t)(sp - line));
	/* The target runs to the last " HTTP/": it may hold spaces. */
	http = NULL;
	for (const char *s = sp; s + 6 <= eol; s++)
		if (memcmp(s, " HTTP/", 6) == 0)
			http = s;
	if (http == NULL)
		return -1;
	target = dupn(sp + 1, (size_t)(http - sp - 1));
	q = strchr(target, '?');
	p->path = q ? dupn(target, (size_t)(q - target)) : dupn(target, strlen(target));
	p->query = dupn(q ? q + 1 : "", q ? strlen(q + 1) : 0);
	free(target);
	line = eol + 1;
	while (line < end) {
		const char *colon;
		size_t n;

		eol = memchr(line, '\n', (size_t)(end - line));
		if (eol == NULL)
			eol = end;
		n = (size_t)(eol - line);
		if (n == 0) {
			line = eol + 1;
			break;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			/* obs-fold: the continuation joins the previous value after one space. */
			char *prev = p->nh ? p->hv[p->nh - 1] : NULL;
			char *j;

			if (prev == NULL)
				return -1;
			j = malloc(strlen(prev) + n + 2);
			if (j == NULL)
				abort();
			sprintf(j, "%s %.*s", prev, (int)n, line);
			free(prev);
			p->hv[p->nh - 1] = j;
		} else {
			colon = memchr(line, ':', n);
			if (colon == NULL || p->nh >= MAXH)
				return -1;
			p->hn[p->nh] = dupn(line, (size_t)(colon - line));
			p->hv[p->nh] = dupn(colon + 1, (size_t)(eol - colon - 1));
			p->nh++;
		}
		line = eol + 1;
	}
	p->body = line < end ? line : "";
	p->body_len = line < end ? (size_t)(end - line) : 0;
	/* Host travels on its own. */
	for (size_t i = 0; i < p->nh; i++) {
		if (strcasecmp(p->hn[i], "host") == 0) {
			p->host = p->hv[i];
			free(p->hn[i]);
			memmove(&p->hn[i], &p->hn[i + 1], (p->nh - i - 1) * sizeof(char *));
			memmove(&p->hv[i], &p->hv[i + 1], (p->nh - i - 1) * sizeof(char *));
			p->nh--;
			break;
		}
	}
	return p->host ? 0 : -1;
}

static char *fixture(const char *dir, const char *file, size_t *len)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "sigv4/%s/%s", dir, file);
	return tfa_test_read_fixture(rel, len);
}

static int g_cases_run;

/* Runs one case; returns 0 when everything matched. */
static int run_case(const char *name)
{
	size_t len;
	char *req_txt = fixture(name, "request.txt", &len);
	char *ctx_txt = fixture(name, "context.json", NULL);
	char *want_creq = fixture(name, "header-canonical-request.txt", NULL);
	char *want_sts = fixture(name, "header-string-to-sign.txt", NULL);
	char *want_signed = fixture(name, "header-signed-request.txt", NULL);
	char *want_sig = fixture(name, "header-signature.txt", NULL);
	cJSON *ctx = cJSON_Parse(ctx_txt);
	const cJSON *c, *ts;
	tfa_aws_creds creds;
	parsed p;
	tfa_buf auth = TFA_BUF_INIT, creq = TFA_BUF_INIT, sts = TFA_BUF_INIT;
	char amz_date[17], hash_hex[65], want_auth[512];
	uint8_t d[32];
	const char *a, *ae;
	unsigned flags = TFA_SIGV4_ENCODE_PATH;
	tfa_err rc;
	int bad = 0;

	memset(&creds, 0, sizeof(creds));
	if (ctx == NULL || parse_request(&p, req_txt, len) != 0) {
		fprintf(stderr, "  %s: cannot parse the case\n", name);
		bad = 1;
		goto out;
	}
	c = cJSON_GetObjectItemCaseSensitive(ctx, "credentials");
	creds.access_key_id = cJSON_GetObjectItemCaseSensitive(c, "access_key_id")->valuestring;
	creds.secret_access_key =
	    cJSON_GetObjectItemCaseSensitive(c, "secret_access_key")->valuestring;
	if (cJSON_GetObjectItemCaseSensitive(c, "token") != NULL &&
	    !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ctx, "omit_session_token")))
		creds.session_token = cJSON_GetObjectItemCaseSensitive(c, "token")->valuestring;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ctx, "normalize")))
		flags |= TFA_SIGV4_NORMALIZE;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ctx, "sign_body"))) {
		tfa_sha256(d, p.body, p.body_len);
		tfa_hex_encode(hash_hex, d, 32);
		p.hn[p.nh] = dupn("X-Amz-Content-Sha256", 20);
		p.hv[p.nh] = dupn(hash_hex, 64);
		p.nh++;
	}
	for (size_t i = 0; i < p.nh; i++) {
		p.h[i].name = p.hn[i];
		p.h[i].value = p.hv[i];
	}
	/* "2015-08-30T12:36:00Z" -> "20150830T123600Z" */
	ts = cJSON_GetObjectItemCaseSensitive(ctx, "timestamp");
	snprintf(amz_date, sizeof(amz_date), "%.4s%.2s%.2sT%.2s%.2s%.2sZ", ts->valuestring,
		 ts->valuestring + 5, ts->valuestring + 8, ts->valuestring + 11,
		 ts->valuestring + 14, ts->valuestring + 17);
	{
		tfa_sigv4_request r = {
		    .method = p.method,
		    .host = p.host,
		    .path = p.path,
		    .query = p.query,
		    .headers = p.h,
		    .nheaders = p.nh,
		    .body = (const uint8_t *)p.body,
		    .body_len = p.body_len,
		};
		rc = tfa_sigv4_sign_flags(
		    &auth, &r, flags, cJSON_GetObjectItemCaseSensitive(ctx, "service")->valuestring,
		    cJSON_GetObjectItemCaseSensitive(ctx, "region")->valuestring, amz_date, &creds,
		    &creq, &sts);
	}
	if (rc != TFA_OK) {
		fprintf(stderr, "  %s: sign failed: %s\n", name, tfa_error_last()->message);
		bad = 1;
		goto parsed_out;
	}
	if (strcmp((char *)creq.data, want_creq) != 0) {
		fprintf(stderr, "  %s: canonical request\n--- got\n%s\n--- want\n%s\n", name,
			(char *)creq.data, want_creq);
		bad = 1;
	}
	if (strcmp((char *)sts.data, want_sts) != 0) {
		fprintf(stderr, "  %s: string to sign\n--- got\n%s\n--- want\n%s\n", name,
			(char *)sts.data, want_sts);
		bad = 1;
	}
	a = strstr(want_signed, "\nAuthorization:");
	ae = a ? strchr(a + 1, '\n') : NULL;
	if (a == NULL || ae == NULL || (size_t)(ae - a - 15) >= sizeof(want_auth)) {
		fprintf(stderr, "  %s: no Authorization line in header-signed-request.txt\n", name);
		bad = 1;
	} else {
		snprintf(want_auth, sizeof(want_auth), "%.*s", (int)(ae - a - 15), a + 15);
		if (strcmp((char *)auth.data, want_auth) != 0 ||
		    strstr(want_auth, want_sig) == NULL) {
			fprintf(stderr, "  %s: Authorization\n  got  %s\n  want %s\n", name,
				(char *)auth.data, want_auth);
			bad = 1;
		}
	}
	g_cases_run++;
parsed_out:
	parsed_free(&p);
out:
	cJSON_Delete(ctx);
	free(req_txt);
	free(ctx_txt);
	free(want_creq);
	free(want_sts);
	free(want_signed);
	free(want_sig);
	tfa_buf_free(&auth);
	tfa_buf_free(&creq);
	tfa_buf_free(&sts);
	return bad;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_suite(void)
{
	char *dir = tfa_test_path(tfa_test_fixtures(), "sigv4");
	DIR *d = opendir(dir);
	struct dirent *de;
	char *names[64];
	size_t n = 0;
	int failed = 0;

	CHECK(d != NULL);
	if (d == NULL) {
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char *rel = tfa_test_path(dir, de->d_name);
		char *ctx = tfa_test_path(rel, "context.json");

		if (de->d_name[0] != '.' && access(ctx, R_OK) == 0 && n < 64)
			names[n++] = strdup(de->d_name);
		free(ctx);
		free(rel);
	}
	closedir(d);
	free(dir);
	qsort(names, n, sizeof(names[0]), cmp_str);
	/* The directory holds exactly the cases listed above: none missing, none unlisted. */
	CHECK(n == SUITE_CASES);
	for (size_t i = 0; i < n && i < SUITE_CASES; i++)
		CHECK_STREQ(names[i], expected_cases[i]);
	g_cases_run = 0;
	for (size_t i = 0; i < n; i++) {
		failed += run_case(names[i]);
		free(names[i]);
	}
	fprintf(stderr,
		"  sigv4 suite: %d cases matched, %d failed, %zu query-signing variants not used\n",
		g_cases_run - failed, failed, n);
	CHECK(failed == 0);
	CHECK(g_cases_run == SUITE_CASES);
}

/* The GET Object example of the S3 SigV4 documentation. */
static void test_s3_doc_get_object(void)
{
	tfa_aws_creds creds = {.access_key_id = "AKIAIOSFODNN7EXAMPLE",
			       .secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
	const tfa_aws_header h[] = {
	    {"Range", "bytes=0-9"},
	    {"x-amz-content-sha256",
	     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	};
	tfa_sigv4_request r = {
	    .method = "GET",
	    .host = "examplebucket.s3.amazonaws.com",
	    .path = "/test.txt",
	    .query = "",
	    .headers = h,
	    .nheaders = 2,
	    .payload_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    .s3 = true};
	tfa_buf auth = TFA_BUF_INIT;

	CHECK_OK(
	    tfa_sigv4_sign(&auth, &r, "s3", "us-east-1", "20130524T000000Z", &creds, NULL, NULL));
	CHECK_STREQ(
	    (char *)auth.data,
	    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
	    "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
	    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	tfa_buf_free(&auth);
}

static void test_s3_path_kept(void)
{
	tfa_buf b = TFA_BUF_INIT;

	CHECK_OK(tfa_sigv4_canonical_path(&b, "/bucket//a%20b/../c", 0));
	CHECK_STREQ((char *)b.data, "/bucket//a%20b/../c");
	tfa_buf_clear(&b);
	CHECK_OK(tfa_sigv4_canonical_path(&b, "/a%20b/./c/",
					  TFA_SIGV4_NORMALIZE | TFA_SIGV4_ENCODE_PATH));
	CHECK_STREQ((char *)b.data, "/a%2520b/c/");
	tfa_buf_clear(&b);
	CHECK_OK(tfa_sigv4_canonical_path(&b, "/../..", TFA_SIGV4_NORMALIZE));
	CHECK_STREQ((char *)b.data, "/");
	tfa_buf_free(&b);
}

static void test_query(void)
{
	tfa_buf b = TFA_BUF_INIT;

	CHECK_OK(tfa_sigv4_canonical_query(&b, "b=2&a=2&a=1&c&&d=x+y%2f"));
	CHECK_STREQ((char *)b.data, "a=1&a=2&b=2&c=&d=x%2By%2F");
	tfa_buf_clear(&b);
	CHECK_RC(tfa_sigv4_canonical_query(&b, "a=%4"), TFA_EUSAGE);
	CHECK_RC(tfa_sigv4_canonical_query(&b, "a=%zz"), TFA_EUSAGE);
	CHECK_RC(tfa_sigv4_canonical_query(&b, "%"), TFA_EUSAGE);
	tfa_buf_free(&b);
}

static tfa_err sign_simple(const tfa_sigv4_request *r, const char *date, const tfa_aws_creds *c)
{
	tfa_buf auth = TFA_BUF_INIT;
	tfa_err rc = tfa_sigv4_sign(&auth, r, "kms", "eu-west-1", date, c, NULL, NULL);

	tfa_buf_free(&auth);
	return rc;
}

static void test_refusals(void)
{
	tfa_aws_creds creds = {.access_key_id = "AKID", .secret_access_key = "SECRET"};
	tfa_aws_creds tok = {
	    .access_key_id = "AKID", .secret_access_key = "SECRET", .session_token = "TOKEN"};
	tfa_aws_header h[TFA_SIGV4_MAX_HEADERS + 1];
	tfa_sigv4_request r = {
	    .method = "POST", .host = "kms.eu-west-1.amazonaws.com", .path = "/", .query = ""};
	const char *date = "20260101T000000Z";

	for (size_t i = 0; i < TFA_SIGV4_MAX_HEADERS + 1; i++)
		h[i] = (tfa_aws_header){"X-A", "v"};
	CHECK_OK(sign_simple(&r, date, &creds));
	CHECK_RC(sign_simple(&r, "2026-01-01T00:00:00Z", &creds), TFA_EUSAGE);
	CHECK_RC(sign_simple(&r, "20260101X000000Z", &creds), TFA_EUSAGE);
	CHECK_RC(sign_simple(&r, NULL, &creds), TFA_EUSAGE);
	r.path = "relative";
	CHECK_RC(sign_simple(&r, date, &creds), TFA_EUSAGE);
	r.path = "/a\r\nb";
	CHECK_RC(sign_simple(&r, date, &creds), TFA_EUSAGE);
	r.path = "/";
	r.method = "post";
	CHECK_RC(sign_simple(&r, date, &creds), TFA_EUSAGE);
	r.method = "POST";
	r.host = "";
	CHECK_RC(sign_simple(&r, date, &creds), TFA_EUSAGE);
	r.host = "kms.eu-west-1.amazonaws.com";
	h[0] = (tfa_aws_header){"X-Bad", "a\r\nInjected: 1"};
	r.headers = h;
	r.nheaders = 1;
	CHECK_RC(sign_simple(&r, date, &creds), TFA_EUSAGE);
	h[0] = (tfa_aws_header){"Bad Name", "v"};
	CHECK_RC(sign_simple(&r, date, &creds), TFA_EUSAGE);
	h[0] = (tfa_aws_header){"Host", "evil"};
	CHECK_RC(sign_simple(&r, date, &creds), TFA_EUSAGE);
	h[0] = (tfa_aws_header){"X-Amz-Date", "20260101T000000Z"};
	CHECK_RC(sign_simple(&r, date, &creds), TFA_EUSAGE);
	h[0] = (tfa_aws_header){"X-Amz-Security-Token", "x"};
	CHECK_RC(sign_simple(&r, date, &tok), TFA_EUSAGE);
	h[0] = (tfa_aws_header){"X-A", "v"};
	r.nheaders = TFA_SIGV4_MAX_HEADERS;
	CHECK_OK(sign_simple(&r, date, &creds));
	r.nheaders = TFA_SIGV4_MAX_HEADERS + 1;
	CHECK_RC(sign_simple(&r, date, &creds), TFA_EUSAGE);
	r.nheaders = 0;
	r.payload_hash = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
	CHECK_RC(sign_simple(&r, date, &creds), TFA_EUSAGE);
	r.payload_hash = "UNSIGNED-PAYLOAD";
	CHECK_RC(sign_simple(&r, date, &creds), TFA_EUSAGE);
	r.payload_hash = NULL;
	creds.secret_access_key = NULL;
	CHECK_RC(sign_simple(&r, date, &creds), TFA_EUSAGE);
	creds.secret_access_key = "SECRET";
	{
		tfa_buf auth = TFA_BUF_INIT;
		CHECK_RC(tfa_sigv4_sign(&auth, &r, "KMS", "eu-west-1", date, &creds, NULL, NULL),
			 TFA_EUSAGE);
		CHECK_RC(tfa_sigv4_sign(&auth, &r, "kms", "eu/west", date, &creds, NULL, NULL),
			 TFA_EUSAGE);
		tfa_buf_free(&auth);
	}
}

/* Neither the secret nor anything derived from it shows in the error or the output. */
static void test_no_secret_in_output(void)
{
	tfa_aws_creds creds = {.access_key_id = "AKID",
			       .secret_access_key = "SECRETsecretSECRET",
			       .session_token = "TOKENtokenTOKEN"};
	tfa_sigv4_request r = {.method = "POST", .host = "h", .path = "/", .query = ""};
	tfa_buf auth = TFA_BUF_INIT;

	CHECK_OK(
	    tfa_sigv4_sign(&auth, &r, "kms", "eu-west-1", "20260101T000000Z", &creds, NULL, NULL));
	CHECK(strstr((char *)auth.data, "SECRET") == NULL &&
	      strstr((char *)auth.data, "TOKEN") == NULL);
	CHECK(strstr((char *)auth.data, "x-amz-security-token") != NULL);
	r.path = "bad";
	CHECK_RC(
	    tfa_sigv4_sign(&auth, &r, "kms", "eu-west-1", "20260101T000000Z", &creds, NULL, NULL),
	    TFA_EUSAGE);
	CHECK(strstr(tfa_error_last()->message, "SECRET") == NULL);
	CHECK(strstr(tfa_error_last()->message, "TOKEN") == NULL);
	tfa_buf_free(&auth);
}

/* ---- botocore as an independent signer ------------------------------------------------ */

typedef struct oracle_case {
	const char *name;
	const char *method;
	const char *host;
	const char *path;
	const char *query;
	const char *service;
	const char *region;
	tfa_aws_header headers[8];
	size_t nheaders;
	const char *body;
	bool s3;
} oracle_case;

static const oracle_case oracle_cases[] = {
    {"kms Sign",
     "POST",
     "kms.eu-west-1.amazonaws.com",
     "/",
     "",
     "kms",
     "eu-west-1",
     {{"Content-Type", "application/x-amz-json-1.1"}, {"X-Amz-Target", "TrentService.Sign"}},
     2,
     "{\"KeyId\":\"arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab\","
     "\"Message\":\"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\",\"MessageType\":\"DIGEST\","
     "\"SigningAlgorithm\":\"ECDSA_SHA_256\"}",
     false},
    {"kms GetPublicKey",
     "POST",
     "kms.eu-west-1.amazonaws.com",
     "/",
     "",
     "kms",
     "eu-west-1",
     {{"Content-Type", "application/x-amz-json-1.1"},
      {"X-Amz-Target", "TrentService.GetPublicKey"}},
     2,
     "{\"KeyId\":\"alias/tfattest-prod\"}",
     false},
    {"dynamodb PutItem",
     "POST",
     "dynamodb.us-east-2.amazonaws.com",
     "/",
     "",
     "dynamodb",
     "us-east-2",
     {{"Content-Type", "application/x-amz-json-1.0"},
      {"X-Amz-Target", "DynamoDB_20120810.PutItem"}},
     2,
     "{\"TableName\":\"tfattest\",\"Item\":{\"chain\":{\"S\":\"prod\"},\"seq\":{\"N\":\"7\"}},"
     "\"ConditionExpression\":\"attribute_not_exists(#s)\",\"ExpressionAttributeNames\":{\"#s\":"
     "\"seq\"}}",
     false},
    {"dynamodb GetItem",
     "POST",
     "dynamodb.us-east-2.amazonaws.com",
     "/",
     "",
     "dynamodb",
     "us-east-2",
     {{"Content-Type", "application/x-amz-json-1.0"},
      {"X-Amz-Target", "DynamoDB_20120810.GetItem"}},
     2,
     "{\"TableName\":\"tfattest\",\"Key\":{\"chain\":{\"S\":\"prod\"}},\"ConsistentRead\":true}",
     false},
    {"dynamodb UpdateItem",
     "POST",
     "dynamodb.us-east-2.amazonaws.com",
     "/",
     "",
     "dynamodb",
     "us-east-2",
     {{"Content-Type", "application/x-amz-json-1.0"},
      {"X-Amz-Target", "DynamoDB_20120810.UpdateItem"}},
     2,
     "{\"TableName\":\"tfattest\",\"Key\":{\"chain\":{\"S\":\"prod\"}},"
     "\"UpdateExpression\":\"SET head = :n\",\"ConditionExpression\":\"head = :p\","
     "\"ExpressionAttributeValues\":{\":n\":{\"N\":\"8\"},\":p\":{\"N\":\"7\"}}}",
     false},
    {"sts AssumeRoleWithWebIdentity",
     "POST",
     "sts.eu-central-1.amazonaws.com",
     "/",
     "",
     "sts",
     "eu-central-1",
     {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
     1,
     "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333"
     "%3Arole%2Fci&RoleSessionName=tfattest-1&WebIdentityToken=eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
     false},
    {"s3 PutObject with Object Lock",
     "PUT",
     "tfattest-evidence.s3.eu-west-1.amazonaws.com",
     "/chains/prod%20east/records/000000000001.rec",
     "",
     "s3",
     "eu-west-1",
     {{"Content-Type", "application/octet-stream"},
      {"Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="},
      {"x-amz-checksum-sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
      {"x-amz-object-lock-mode", "COMPLIANCE"},
      {"x-amz-object-lock-retain-until-date", "2033-01-01T00:00:00Z"},
      {"If-None-Match", "*"}},
     6,
     "{\"seq\":1}\n",
     true},
    {"s3 ListObjectsV2 (query)",
     "GET",
     "tfattest-evidence.s3.eu-west-1.amazonaws.com",
     "/",
     "list-type=2&prefix=chains%2Fprod%2F&max-keys=1000",
     "s3",
     "eu-west-1",
     {{NULL, NULL}},
     0,
     "",
     true},
};

/* Runs botocore_sign.py on a JSON description; returns its "authorization", malloc'd. */
static char *botocore_authorization(const char *json_in)
{
	char cmd[1024], tmpl[] = "/tmp/tfa-sigv4-XXXXXX";
	const char *src = getenv("TFA_SOURCE_DIR");
	int fd = mkstemp(tmpl);
	FILE *p;
	tfa_buf out = TFA_BUF_INIT;
	char chunk[4096];
	size_t n;
	cJSON *j;
	const cJSON *a;
	char *ret = NULL;

	if (fd < 0 || src == NULL)
		return NULL;
	if (write(fd, json_in, strlen(json_in)) != (ssize_t)strlen(json_in)) {
		close(fd);
		unlink(tmpl);
		return NULL;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/aws/botocore_sign.py < %s", src,
		 tmpl);
	p = popen(cmd, "r");
	while (p != NULL && (n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		if (tfa_buf_append(&out, chunk, n) != TFA_OK)
			break;
	if (p != NULL && pclose(p) != 0)
		fprintf(stderr, "  botocore_sign.py failed\n");
	unlink(tmpl);
	j = cJSON_ParseWithLength((const char *)out.data, out.len);
	a = cJSON_GetObjectItemCaseSensitive(j, "authorization");
	if (cJSON_IsString(a))
		ret = strdup(a->valuestring);
	cJSON_Delete(j);
	tfa_buf_free(&out);
	return ret;
}

static void test_botocore(void)
{
	/* Throwaway credentials made up for the test; the token is random-looking text. */
	const char *akid = "AKIAIOSFODNN7EXAMPLE",
		   *secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
	const char *token =
	    "IQoJb3JpZ2luX2VjEJr//////////wEaCWV1LXdlc3QtMSJHMEUCIQDtest+token/value==";
	const char *dates[] = {"20260101T000000Z", "20261127T235959Z"};
	int compared = 0;

	for (size_t i = 0; i < sizeof(oracle_cases) / sizeof(oracle_cases[0]); i++) {
		for (int with_token = 0; with_token < 2; with_token++) {
			const oracle_case *c = &oracle_cases[i];
			tfa_aws_creds creds = {.access_key_id = (char *)akid,
					       .secret_access_key = (char *)secret,
					       .session_token = with_token ? (char *)token : NULL};
			tfa_aws_header h[9];
			char hash[65], url[512];
			uint8_t d[32];
			size_t nh = c->nheaders;
			tfa_buf auth = TFA_BUF_INIT;
			cJSON *in = cJSON_CreateObject(),
			      *hl = cJSON_AddArrayToObject(in, "headers");
			char *in_txt, *want;
			const char *date = dates[(i + (size_t)with_token) % 2];

			memcpy(h, c->headers, nh * sizeof(h[0]));
			tfa_sha256(d, c->body, strlen(c->body));
			tfa_hex_encode(hash, d, 32);
			if (c->s3)
				h[nh++] = (tfa_aws_header){"x-amz-content-sha256", hash};
			{
				tfa_sigv4_request r = {.method = c->method,
						       .host = c->host,
						       .path = c->path,
						       .query = c->query,
						       .headers = h,
						       .nheaders = nh,
						       .body = (const uint8_t *)c->body,
						       .body_len = strlen(c->body),
						       .payload_hash = c->s3 ? hash : NULL,
						       .s3 = c->s3};
				CHECK_OK(tfa_sigv4_sign(&auth, &r, c->service, c->region, date,
							&creds, NULL, NULL));
			}
			/* botocore sets X-Amz-Content-SHA256 itself for S3. */
			for (size_t k = 0; k < c->nheaders; k++) {
				cJSON *pair = cJSON_CreateArray();
				cJSON_AddItemToArray(pair, cJSON_CreateString(c->headers[k].name));
				cJSON_AddItemToArray(pair, cJSON_CreateString(c->headers[k].value));
				cJSON_AddItemToArray(hl, pair);
			}
			snprintf(url, sizeof(url), "https://%s%s%s%s", c->host, c->path,
				 c->query[0] ? "?" : "", c->query);
			cJSON_AddStringToObject(in, "method", c->method);
			cJSON_AddStringToObject(in, "url", url);
			cJSON_AddStringToObject(in, "body", c->body);
			cJSON_AddStringToObject(in, "service", c->service);
			cJSON_AddStringToObject(in, "region", c->region);
			cJSON_AddStringToObject(in, "amz_date", date);
			cJSON_AddStringToObject(in, "access_key", akid);
			cJSON_AddStringToObject(in, "secret_key", secret);
			if (with_token)
				cJSON_AddStringToObject(in, "session_token", token);
			cJSON_AddBoolToObject(in, "s3", c->s3);
			in_txt = cJSON_PrintUnformatted(in);
			want = botocore_authorization(in_txt);
			if (want == NULL || auth.data == NULL ||
			    strcmp(want, (char *)auth.data) != 0) {
				fprintf(stderr,
					"  %s (%s token): differs from botocore\n  ours     %s\n  "
					"botocore %s\n",
					c->name, with_token ? "with" : "no",
					auth.data ? (char *)auth.data : "(none)",
					want ? want : "(none)");
				CHECK(0);
			} else {
				compared++;
			}
			free(want);
			free(in_txt);
			cJSON_Delete(in);
			tfa_buf_free(&auth);
		}
	}
	fprintf(stderr, "  botocore: %d of %zu requests signed byte for byte alike\n", compared,
		2 * sizeof(oracle_cases) / sizeof(oracle_cases[0]));
}

TFA_TEST_MAIN(T(test_suite), T(test_botocore), T(test_s3_doc_get_object), T(test_s3_path_kept),
	      T(test_query), T(test_refusals), T(test_no_secret_in_output))
