/*
 * The S3 Object Lock store: s3://BUCKET/PREFIX?region=R&endpoint=URL&retention-days=N
 *
 *   PREFIX/chain.json                  chain metadata (as in the fs store)
 *   PREFIX/records/NNNNNNNNNNNN.rec    one record per seq (12 digits): the
 *                                      artifact's canonical bytes, "\n", the
 *                                      signature in lowercase hex, "\n"
 *
 * Every PutObject carries Object Lock in COMPLIANCE mode with a retain-until
 * date of now + retention-days, x-amz-checksum-sha256 and Content-MD5 (S3
 * requires an integrity header with Object Lock and rejects a body that does
 * not match), and If-None-Match: * so that S3 itself refuses to replace an
 * object. The store sequences nothing: store.c claims each seq in a sequencer
 * first, so the only object ever written twice under one key is the same
 * record again (a roll-forward racing its own writer), which is TFA_OK.
 *
 * Path-style addressing (ENDPOINT/BUCKET/KEY) when an endpoint is given
 * (endpoint= in the URI, else AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL),
 * virtual-hosted (https://BUCKET.s3.REGION.amazonaws.com/KEY) otherwise.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "aws/aws.h"
#include "awsuri.h"
#include "crypto.h"
#include "record.h"
#include "tfattest/sys/guard.h"
#include "tfattest/sys/store.h"
#include "timefmt.h"

#define SEQ_DIGITS 12
#define SEQ_MAX	   UINT64_C(999999999999)
/* A ListObjectsV2 page holds at most 1000 keys; this bounds the response. */
#define LIST_PAGE_MAX (4u << 20)

typedef struct s3_ctx {
	tfa_aws_client *client;
	char bucket[256];
	char prefix[1024];  /* "" or "a/b/" with the trailing slash */
	char pathbase[260]; /* "/BUCKET" (path style) or "" (virtual-hosted) */
	long retention_days;
} s3_ctx;

static void s3_close(void *vctx)
{
	s3_ctx *ctx = vctx;

	if (ctx == NULL)
		return;
	tfa_aws_client_free(ctx->client);
	free(ctx);
}

/* AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, as the SDKs read them; NULL when unset. */
static const char *env_endpoint(void)
{
	const char *v = getenv("AWS_ENDPOINT_URL_S3");

	if (v == NULL || *v == '\0')
		v = getenv("AWS_ENDPOINT_URL");
	return v != NULL && *v != '\0' ? v : NULL;
}

static tfa_err s3_open(void **out, const char *uri)
{
	tfa_err rc = TFA_OK;
	s3_ctx *ctx = NULL;
	tfa_awsuri u;
	tfa_aws_client_opts o;
	char endpoint[384];

	*out = NULL;
	TFA_GUARD(tfa_awsuri_parse(&u, uri, TFA_AWSURI_S3));
	ctx = calloc(1, sizeof(*ctx));
	TFA_ENSURE(ctx != NULL, TFA_EINTERNAL, "out of memory");
	snprintf(ctx->bucket, sizeof(ctx->bucket), "%s", u.name);
	if (u.prefix[0])
		TFA_ENSURE((size_t)snprintf(ctx->prefix, sizeof(ctx->prefix), "%s/", u.prefix) <
			       sizeof(ctx->prefix),
			   TFA_EUSAGE, "s3 store URI: prefix is too long");
	ctx->retention_days = u.retention_days;
	memset(&o, 0, sizeof(o));
	o.service = "s3";
	o.region = u.region;
	if (u.endpoint[0] || env_endpoint() != NULL) {
		/* An S3-compatible endpoint, from the URI or else from the
		 * environment (which the client reads itself): path style. */
		snprintf(ctx->pathbase, sizeof(ctx->pathbase), "/%s", u.name);
		o.endpoint = u.endpoint[0] ? u.endpoint : NULL;
	} else {
		snprintf(endpoint, sizeof(endpoint), "https://%s.s3.%s.amazonaws.com", u.name,
			 u.region);
		o.endpoint = endpoint;
	}
	TFA_GUARD(tfa_aws_client_new(&ctx->client, &o));
	*out = ctx;
	ctx = NULL;
out:
	s3_close(ctx);
	return rc;
}

/* The request path of an object: PATHBASE/PREFIX/name. Names need no escaping. */
static void object_path(char out[1400], const s3_ctx *ctx, const char *name)
{
	snprintf(out, 1400, "%s/%s%s", ctx->pathbase, ctx->prefix, name);
}

static void record_name(char out[40], uint64_t seq)
{
	snprintf(out, 40, "records/%0*" PRIu64 ".rec", SEQ_DIGITS, seq);
}

static void resp_init(tfa_aws_response *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	tfa_buf_init(&r->body, max);
}

/* GET an object into body. TFA_ENOTFOUND when absent. */
static tfa_err get_object(s3_ctx *ctx, const char *name, tfa_buf *body, size_t max)
{
	tfa_err rc = TFA_OK;
	tfa_aws_response resp;
	char path[1400];

	resp_init(&resp, max);
	object_path(path, ctx, name);
	rc = tfa_aws_call(&resp, ctx->client, "s3 GetObject", "GET", path, "", NULL, 0, NULL, 0);
	if (rc == TFA_OK) {
		TFA_ENSURE(resp.body.len <= max, TFA_EFORMAT, "s3 object %s is too large", name);
		TFA_GUARD(tfa_buf_append(body, resp.body.data, resp.body.len));
	}
out:
	tfa_aws_response_free(&resp);
	return rc;
}

static void base64(char *out, const uint8_t *in, size_t len)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

static tfa_err s3_writable(void *vctx)
{
	const s3_ctx *ctx = vctx;

	if (ctx->retention_days <= 0)
		return tfa_error_set(TFA_EUSAGE,
				     "the s3 store needs retention-days=N in its URI to write");
	return TFA_OK;
}

/*
 * Writes `name` once with Object Lock. TFA_OK when it is written, or when the
 * object already holds exactly these bytes; TFA_ECONFLICT when it holds
 * others.
 */
static tfa_err put_once(s3_ctx *ctx, const char *name, const uint8_t *body, size_t len)
{
	tfa_err rc = TFA_OK;
	tfa_aws_response resp;
	tfa_buf existing;
	char path[1400], sha_b64[64], md5_b64[32];
	char until[TFA_TIME_STRLEN], clen[24];
	uint8_t sha[TFA_SHA256_LEN], md5[16];
	unsigned int md5len = 0;
	tfa_aws_header h[8];
	size_t nh = 0;

	resp_init(&resp, 64u << 10);
	tfa_buf_init(&existing, TFA_RECORD_MAX * 2 + 4);
	TFA_GUARD(s3_writable(ctx));
	tfa_sha256(sha, body, len);
	base64(sha_b64, sha, sizeof(sha));
	tfa_time_format(until, (int64_t)time(NULL) + (int64_t)ctx->retention_days * 86400);
	snprintf(clen, sizeof(clen), "%zu", len);
	h[nh++] = (tfa_aws_header){"Content-Type", "application/octet-stream"};
	h[nh++] = (tfa_aws_header){"If-None-Match", "*"};
	h[nh++] = (tfa_aws_header){"x-amz-checksum-sha256", sha_b64};
	h[nh++] = (tfa_aws_header){"x-amz-object-lock-mode", "COMPLIANCE"};
	h[nh++] = (tfa_aws_header){"x-amz-object-lock-retain-until-date", until};
	/* MD5 is only what older S3-compatible services require; skip it where
	 * the crypto provider has none (FIPS): the SHA-256 checksum suffices. */
	if (EVP_Digest(body, len, md5, &md5len, EVP_md5(), NULL) == 1 && md5len == sizeof(md5)) {
		base64(md5_b64, md5, sizeof(md5));
		h[nh++] = (tfa_aws_header){"Content-MD5", md5_b64};
	}
	object_path(path, ctx, name);
	rc = tfa_aws_call(&resp, ctx->client, "s3 PutObject", "PUT", path, "", h, nh, body, len);
	if (rc == TFA_OK)
		goto out;
	if (resp.status != 412 && resp.status != 409)
		goto out;
	/* S3 refused to replace an existing object: is it this one? */
	tfa_error_clear();
	rc = get_object(ctx, name, &existing, TFA_RECORD_MAX * 2 + 4);
	if (rc == TFA_ENOTFOUND)
		TFA_BAIL(TFA_EBACKEND,
			 "s3 PutObject %s: refused with HTTP %ld, yet the object is absent", name,
			 resp.status);
	TFA_GUARD(rc);
	if (existing.len != len || CRYPTO_memcmp(existing.data, body, len) != 0)
		TFA_BAIL(TFA_ECONFLICT, "s3 object %s exists with other contents", name);
out:
	tfa_aws_response_free(&resp);
	tfa_buf_free(&existing);
	return rc;
}

static tfa_err s3_create_chain(void *vctx, const uint8_t *meta, size_t len)
{
	s3_ctx *ctx = vctx;
	tfa_err rc = put_once(ctx, "chain.json", meta, len);

	if (rc == TFA_ECONFLICT)
		rc = tfa_error_set(TFA_ECONFLICT, "s3://%s/%s already holds a chain", ctx->bucket,
				   ctx->prefix);
	return rc;
}

static tfa_err s3_read_chain(void *vctx, tfa_buf *meta)
{
	s3_ctx *ctx = vctx;
	tfa_err rc = get_object(ctx, "chain.json", meta, TFA_CHAIN_META_MAX);

	if (rc == TFA_ENOTFOUND)
		rc = tfa_error_set(TFA_ENOTFOUND, "s3://%s/%s holds no chain (run tfattest init)",
				   ctx->bucket, ctx->prefix);
	return rc;
}

static tfa_err s3_get(void *vctx, uint64_t seq, tfa_buf *artifact, tfa_buf *sig)
{
	s3_ctx *ctx = vctx;
	tfa_err rc = TFA_OK;
	tfa_buf raw;
	char name[40];

	tfa_buf_init(&raw, TFA_RECORD_MAX * 2 + 4);
	TFA_ENSURE(seq <= SEQ_MAX, TFA_ENOTFOUND, "no record %" PRIu64, seq);
	record_name(name, seq);
	rc = get_object(ctx, name, &raw, TFA_RECORD_MAX * 2 + 4);
	if (rc == TFA_ENOTFOUND)
		TFA_BAIL(TFA_ENOTFOUND, "no record %" PRIu64, seq);
	TFA_GUARD(rc);
	if (tfa_record_decode(raw.data, raw.len, artifact, sig) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "%s (seq %" PRIu64 ")", tfa_error_last()->message, seq);
out:
	tfa_buf_free(&raw);
	return rc;
}

static tfa_err s3_append(void *vctx, uint64_t seq, const uint8_t *artifact, size_t artifact_len,
			 const uint8_t *sig, size_t sig_len)
{
	s3_ctx *ctx = vctx;
	tfa_err rc = TFA_OK;
	tfa_buf rec;
	char name[40];

	tfa_buf_init(&rec, TFA_RECORD_MAX * 2 + 4);
	TFA_ENSURE(seq <= SEQ_MAX, TFA_EUSAGE, "sequence number out of range");
	TFA_GUARD(tfa_record_encode(&rec, artifact, artifact_len, sig, sig_len));
	record_name(name, seq);
	rc = put_once(ctx, name, rec.data, rec.len);
out:
	tfa_buf_free(&rec);
	return rc;
}

/* Appends s percent-encoded as SigV4 wants query values (RFC 3986 unreserved kept). */
static tfa_err put_encoded(tfa_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	tfa_err rc = TFA_OK;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			TFA_GUARD(tfa_buf_putc(b, (char)c));
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			TFA_GUARD(tfa_buf_append(b, e, 3));
		}
	}
out:
	return rc;
}

/* The text of the first <tag>...</tag> at or after *pos, advancing *pos. */
static int xml_next(const char *doc, const char **pos, const char *tag, const char **val,
		    size_t *len)
{
	char open[48], close[48];
	const char *a, *b;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	(void)doc;
	a = strstr(*pos, open);
	if (a == NULL)
		return 0;
	a += strlen(open);
	b = strstr(a, close);
	if (b == NULL)
		return 0;
	*val = a;
	*len = (size_t)(b - a);
	*pos = b + strlen(close);
	return 1;
}

/*
 * Read-only head, without a sequencer: lists PREFIX/records/ with
 * ListObjectsV2 (every page) and requires the records to be exactly 1..N.
 */
static tfa_err s3_head(void *vctx, uint64_t *seq)
{
	s3_ctx *ctx = vctx;
	tfa_err rc = TFA_OK;
	tfa_aws_response resp;
	tfa_buf query, prefix;
	char token[1024] = "", path[300], want_prefix[1100];
	uint64_t count = 0, max = 0;
	int more = 1;

	resp_init(&resp, LIST_PAGE_MAX);
	tfa_buf_init(&query, 0);
	tfa_buf_init(&prefix, 0);
	snprintf(path, sizeof(path), "%s/", ctx->pathbase);
	snprintf(want_prefix, sizeof(want_prefix), "%srecords/", ctx->prefix);
	while (more) {
		const char *doc, *pos, *v;
		size_t vlen;

		tfa_buf_clear(&query);
		tfa_aws_response_free(&resp);
		resp_init(&resp, LIST_PAGE_MAX);
		/* Parameters in byte order, as SigV4's canonical query has them. */
		if (token[0]) {
			TFA_GUARD(tfa_buf_puts(&query, "continuation-token="));
			TFA_GUARD(put_encoded(&query, token));
			TFA_GUARD(tfa_buf_putc(&query, '&'));
		}
		TFA_GUARD(tfa_buf_puts(&query, "list-type=2&prefix="));
		TFA_GUARD(put_encoded(&query, want_prefix));
		TFA_GUARD(tfa_aws_call(&resp, ctx->client, "s3 ListObjectsV2", "GET", path,
				       (const char *)query.data, NULL, 0, NULL, 0));
		doc = (const char *)resp.body.data;
		TFA_ENSURE(doc != NULL && strstr(doc, "<ListBucketResult") != NULL, TFA_EFORMAT,
			   "s3 ListObjectsV2: the response is not a listing");
		pos = doc;
		while (xml_next(doc, &pos, "Key", &v, &vlen)) {
			size_t pl = strlen(want_prefix);
			uint64_t s = 0;
			size_t i;

			if (vlen != pl + SEQ_DIGITS + 4 || memcmp(v, want_prefix, pl) != 0 ||
			    memcmp(v + pl + SEQ_DIGITS, ".rec", 4) != 0)
				TFA_BAIL(TFA_EFORMAT,
					 "s3 store holds an unexpected object under %s",
					 want_prefix);
			for (i = 0; i < SEQ_DIGITS; i++) {
				char c = v[pl + i];
				if (c < '0' || c > '9')
					TFA_BAIL(TFA_EFORMAT,
						 "s3 store holds an unexpected object under %s",
						 want_prefix);
				s = s * 10 + (uint64_t)(c - '0');
			}
			TFA_ENSURE(s > 0 && s > max, TFA_EFORMAT,
				   "s3 ListObjectsV2: keys out of order or record 0");
			max = s;
			count++;
		}
		pos = doc;
		more = xml_next(doc, &pos, "IsTruncated", &v, &vlen) && vlen == 4 &&
		       memcmp(v, "true", 4) == 0;
		if (more) {
			pos = doc;
			TFA_ENSURE(xml_next(doc, &pos, "NextContinuationToken", &v, &vlen) &&
				       vlen > 0 && vlen < sizeof(token),
				   TFA_EFORMAT,
				   "s3 ListObjectsV2: truncated listing without a token");
			memcpy(token, v, vlen);
			token[vlen] = '\0';
		}
	}
	TFA_ENSURE(count == max, TFA_EFORMAT,
		   "the s3 store's records are not 1..%" PRIu64 " without a gap (%" PRIu64
		   " found)",
		   max, count);
	*seq = max;
out:
	tfa_aws_response_free(&resp);
	tfa_buf_free(&query);
	tfa_buf_free(&prefix);
	return rc;
}

const tfa_store_backend tfa_store_backend_s3 = {
    .abi = TFA_STORE_ABI,
    .name = "s3",
    .scheme = "s3:",
    .caps = TFA_STORE_CAP_SEQUENCED,
    .open = s3_open,
    .create_chain = s3_create_chain,
    .read_chain = s3_read_chain,
    .head = s3_head,
    .get = s3_get,
    .append = s3_append,
    .close = s3_close,
    .writable = s3_writable,
};
