/*
 * The S3 Object Lock store: s3://BUCKET/PREFIX?region=R&endpoint=URL&retention-days=N
 *
 *   PREFIX/chain.json                  chain metadata (as in the fs store)
 *   PREFIX/records/NNNNNNNNNNNN.rec    one record per seq (12 digits): the
 *                                      artifact's canonical bytes, "\n", the
 *                                      signature in lowercase hex, "\n"
 *   PREFIX/checkpoints/NNNNNNNNNNNN.ckpt
 *                                      the checkpoint file of head seq N
 *
 * Every PutObject carries Object Lock in COMPLIANCE mode with a retain-until
 * date of now + retention-days, x-amz-checksum-sha256 and Content-MD5 (S3
 * requires an integrity header with Object Lock and rejects a body that does
 * not match), and If-None-Match: * so that S3 itself refuses to replace an
 * object. A service that does not check those headers may store a body
 * altered on the way: after each PUT the object is confirmed to hold the
 * bytes sent, by its ETag when that is the body's MD5, else by reading it
 * back, so that no write is reported done that stored other bytes. The
 * store sequences nothing: store.c claims each seq in a sequencer
 * first, so the only object ever written twice under one key is the same
 * record again (a roll-forward racing its own writer), which is TFA_OK.
 * Checkpoints go through no sequencer: each states a head that already
 * exists, and If-None-Match: * keeps the first one written for a seq.
 *
 * Path-style addressing (ENDPOINT/BUCKET/KEY) when an endpoint is given
 * (endpoint= in the URI, else AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL),
 * virtual-hosted (https://BUCKET.s3.REGION.amazonaws.com/KEY) otherwise.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "aws/aws.h"
#include "aws/awsuri.h"
#include "aws/s3list.h"
#include "format/b64.h"
#include "format/pct.h"
#include "format/timefmt.h"
#include "record/record.h"
#include "tfattest/sys/guard.h"
#include "tfattest/sys/store.h"
#include "verify/crypto.h"

#define SEQ_DIGITS TFA_S3LIST_SEQ_DIGITS
#define SEQ_MAX	   TFA_S3LIST_SEQ_MAX
/* A ListObjectsV2 page holds at most 1000 keys; this bounds the response. */
#define LIST_PAGE_MAX (4u << 20)
/* At most this many pages per listing: 10 million keys. */
#define LIST_PAGES_MAX 10000u

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

static tfa_err s3_writable(void *vctx)
{
	const s3_ctx *ctx = vctx;

	if (ctx->retention_days <= 0)
		return tfa_error_set(TFA_EUSAGE,
				     "the s3 store needs retention-days=N in its URI to write");
	return TFA_OK;
}

/* The ETag of a single-part PUT without SSE-KMS: the body's MD5, quoted. */
static bool etag_is_md5(const char *etag, const uint8_t md5[16])
{
	char hex[33];

	tfa_hex_encode(hex, md5, 16);
	return strlen(etag) == 34 && etag[0] == '"' && etag[33] == '"' &&
	       strncmp(etag + 1, hex, 32) == 0;
}

/*
 * After a PUT S3 answered with success: TFA_OK when the object holds exactly
 * body, else TFA_ECONFLICT saying that it was stored altered. An ETag equal
 * to the body's MD5 settles it; any other ETag (SSE-KMS, multipart, a service
 * of its own kind) is no evidence either way, and the object is read back.
 */
static tfa_err confirm_put(s3_ctx *ctx, const char *name, const uint8_t *body, size_t len,
			   const char *etag, const uint8_t *md5)
{
	tfa_err rc = TFA_OK;
	tfa_buf got;
	uint8_t got_sha[TFA_SHA256_LEN];
	char got_hex[2 * TFA_SHA256_LEN + 1];

	tfa_buf_init(&got, len + 65536);
	if (md5 != NULL && etag_is_md5(etag, md5))
		goto out;
	rc = get_object(ctx, name, &got, len + 65536);
	if (rc == TFA_ENOTFOUND)
		TFA_BAIL(TFA_EBACKEND, "s3 PutObject %s succeeded, yet the object is absent", name);
	TFA_GUARD(rc);
	if (got.len == len && CRYPTO_memcmp(got.data, body, len) == 0)
		goto out;
	tfa_sha256(got_sha, got.data, got.len);
	tfa_hex_encode(got_hex, got_sha, sizeof(got_sha));
	TFA_BAIL(TFA_ECONFLICT,
		 "s3 object %s holds other bytes than were sent (sha256 %s): altered on the way or "
		 "by the service",
		 name, got_hex);
out:
	tfa_buf_free(&got);
	return rc;
}

/*
 * Writes `name` once with Object Lock. TFA_OK when it is written, or when the
 * object already holds exactly these bytes; TFA_ECONFLICT when it holds
 * others, `altered` (may be NULL) set when they are the bytes of this very
 * PUT, altered on their way.
 */
static tfa_err put_once(s3_ctx *ctx, const char *name, const uint8_t *body, size_t len,
			bool *altered)
{
	tfa_err rc = TFA_OK;
	tfa_aws_response resp;
	tfa_buf existing;
	char path[1400], sha_b64[TFA_B64_LEN(TFA_SHA256_LEN) + 1], md5_b64[TFA_B64_LEN(16) + 1];
	char until[TFA_TIME_STRLEN], clen[24];
	uint8_t sha[TFA_SHA256_LEN], md5[16];
	unsigned int md5len = 0;
	bool have_md5 = false;
	tfa_aws_header h[8];
	size_t nh = 0;

	if (altered)
		*altered = false;
	resp_init(&resp, 64u << 10);
	tfa_buf_init(&existing, TFA_RECORD_MAX * 2 + 4);
	TFA_GUARD(s3_writable(ctx));
	tfa_sha256(sha, body, len);
	TFA_GUARD(tfa_b64_encode_str(sha_b64, sizeof(sha_b64), sha, sizeof(sha)));
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
		TFA_GUARD(tfa_b64_encode_str(md5_b64, sizeof(md5_b64), md5, sizeof(md5)));
		h[nh++] = (tfa_aws_header){"Content-MD5", md5_b64};
		have_md5 = true;
	}
	object_path(path, ctx, name);
	rc = tfa_aws_call(&resp, ctx->client, "s3 PutObject", "PUT", path, "", h, nh, body, len);
	if (rc == TFA_OK) {
		rc = confirm_put(ctx, name, body, len, resp.etag, have_md5 ? md5 : NULL);
		if (rc == TFA_ECONFLICT && altered)
			*altered = true;
		goto out;
	}
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
	bool altered;
	tfa_err rc = put_once(ctx, "chain.json", meta, len, &altered);

	if (rc == TFA_ECONFLICT && !altered)
		rc = tfa_error_set(TFA_ECONFLICT, "s3://%s/%s already holds a chain", ctx->bucket,
				   ctx->prefix);
	return rc;
}

static tfa_err s3_read_chain(void *vctx, tfa_buf *meta)
{
	s3_ctx *ctx = vctx;
	tfa_err rc = get_object(ctx, "chain.json", meta, TFA_CHAIN_META_MAX);

	if (rc == TFA_ENOTFOUND)
		rc = tfa_error_set(TFA_ENOTFOUND,
				   "s3://%s/%s holds no chain: check the bucket, the prefix "
				   "and the region",
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
	rc = put_once(ctx, name, rec.data, rec.len, NULL);
out:
	tfa_buf_free(&rec);
	return rc;
}

/* Appends s percent-encoded as SigV4 wants query values (RFC 3986 unreserved kept). */
static tfa_err put_encoded(tfa_buf *b, const char *s)
{
	return tfa_pct_encode(b, s, strlen(s), TFA_PCT_UNRESERVED, NULL);
}

/* What a listing of PREFIX/SUB/ holds, over every page. */
typedef struct s3_listing {
	uint64_t nkeys;	   /* well-formed keys */
	uint64_t nforeign; /* other keys */
	uint64_t last;	   /* highest well-formed seq, 0 when none */
	uint64_t best;	   /* highest well-formed seq in [min_seq, max_seq], 0 when none */
	bool ordered;	   /* the well-formed keys ascend strictly across pages */
} s3_listing;

/*
 * Lists PREFIX/SUB/ with ListObjectsV2, following continuation tokens, and
 * reads each key as PREFIX/SUB/NNNNNNNNNNNN.SUFFIX. start_after > 0 starts the
 * listing after the key of that seq.
 */
static tfa_err list_seqs(s3_listing *out, s3_ctx *ctx, const char *sub, const char *suffix,
			 uint64_t start_after, uint64_t min_seq, uint64_t max_seq)
{
	tfa_err rc = TFA_OK;
	tfa_aws_response resp;
	tfa_buf query;
	tfa_s3list_page *page = NULL;
	char path[300], want_prefix[1100], after[1200];
	unsigned pages = 0;

	memset(out, 0, sizeof(*out));
	out->ordered = true;
	resp_init(&resp, LIST_PAGE_MAX);
	tfa_buf_init(&query, 0);
	page = calloc(1, sizeof(*page));
	TFA_ENSURE(page != NULL, TFA_EINTERNAL, "out of memory");
	snprintf(path, sizeof(path), "%s/", ctx->pathbase);
	snprintf(want_prefix, sizeof(want_prefix), "%s%s/", ctx->prefix, sub);
	snprintf(after, sizeof(after), "%s%0*" PRIu64 "%s", want_prefix, SEQ_DIGITS, start_after,
		 suffix);
	do {
		TFA_ENSURE(++pages <= LIST_PAGES_MAX, TFA_EBACKEND,
			   "s3 ListObjectsV2: more than %u pages under %s", LIST_PAGES_MAX,
			   want_prefix);
		tfa_buf_clear(&query);
		tfa_aws_response_free(&resp);
		resp_init(&resp, LIST_PAGE_MAX);
		/* Parameters in byte order, as SigV4's canonical query has them. */
		if (page->truncated) {
			TFA_GUARD(tfa_buf_puts(&query, "continuation-token="));
			TFA_GUARD(put_encoded(&query, page->token));
			TFA_GUARD(tfa_buf_putc(&query, '&'));
		}
		TFA_GUARD(tfa_buf_puts(&query, "list-type=2&prefix="));
		TFA_GUARD(put_encoded(&query, want_prefix));
		if (start_after > 0) {
			TFA_GUARD(tfa_buf_puts(&query, "&start-after="));
			TFA_GUARD(put_encoded(&query, after));
		}
		TFA_GUARD(tfa_aws_call(&resp, ctx->client, "s3 ListObjectsV2", "GET", path,
				       (const char *)query.data, NULL, 0, NULL, 0));
		TFA_GUARD(tfa_s3list_parse(page, resp.body.data, resp.body.len, want_prefix, suffix,
					   min_seq, max_seq));
		if (page->nkeys > 0) {
			if (!page->ordered || (out->nkeys > 0 && page->first <= out->last))
				out->ordered = false;
			if (page->last > out->last)
				out->last = page->last;
		}
		if (page->best > out->best)
			out->best = page->best;
		out->nkeys += page->nkeys;
		out->nforeign += page->nforeign;
	} while (page->truncated);
out:
	tfa_aws_response_free(&resp);
	tfa_buf_free(&query);
	free(page);
	return rc;
}

/*
 * Read-only head, without a sequencer: lists PREFIX/records/ (every page)
 * and requires the records to be exactly 1..N and nothing else.
 */
static tfa_err s3_head(void *vctx, uint64_t *seq)
{
	s3_ctx *ctx = vctx;
	tfa_err rc = TFA_OK;
	s3_listing l;

	TFA_GUARD(list_seqs(&l, ctx, "records", ".rec", 0, 1, SEQ_MAX));
	TFA_ENSURE(l.nforeign == 0, TFA_EFORMAT,
		   "s3 store holds an unexpected object under %srecords/", ctx->prefix);
	TFA_ENSURE(l.ordered, TFA_EFORMAT, "s3 ListObjectsV2: keys out of order");
	TFA_ENSURE(l.nkeys == l.last, TFA_EFORMAT,
		   "the s3 store's records are not 1..%" PRIu64 " without a gap (%" PRIu64
		   " found)",
		   l.last, l.nkeys);
	*seq = l.last;
out:
	return rc;
}

static void checkpoint_name(char out[40], uint64_t seq)
{
	snprintf(out, 40, "checkpoints/%0*" PRIu64 ".ckpt", SEQ_DIGITS, seq);
}

/*
 * Write-once with Object Lock, like a record. Not sequenced: a checkpoint
 * states a head that the sequencer already gave out.
 */
static tfa_err s3_put_checkpoint(void *vctx, uint64_t seq, const uint8_t *data, size_t len)
{
	s3_ctx *ctx = vctx;
	tfa_err rc = TFA_OK;
	char name[40];
	bool altered = false;

	TFA_ENSURE(seq >= 1 && seq <= SEQ_MAX, TFA_EUSAGE, "sequence number out of range");
	TFA_ENSURE(len > 0 && len <= TFA_STORE_CHECKPOINT_MAX, TFA_EUSAGE,
		   "checkpoint has an invalid size");
	checkpoint_name(name, seq);
	rc = put_once(ctx, name, data, len, &altered);
	if (rc == TFA_ECONFLICT && !altered)
		rc = tfa_error_set(TFA_ECONFLICT, "seq %" PRIu64 " already has another checkpoint",
				   seq);
out:
	return rc;
}

/* Keys under PREFIX/checkpoints/ that are not NNNNNNNNNNNN.ckpt are ignored. */
static tfa_err s3_latest_checkpoint(void *vctx, uint64_t min_seq, uint64_t max_seq, uint64_t *seq,
				    tfa_buf *data)
{
	s3_ctx *ctx = vctx;
	tfa_err rc = TFA_OK;
	s3_listing l;
	char name[40];

	TFA_ENSURE(min_seq >= 1 && min_seq <= max_seq, TFA_EUSAGE, "invalid checkpoint range");
	if (max_seq > SEQ_MAX)
		max_seq = SEQ_MAX;
	TFA_ENSURE(min_seq <= max_seq, TFA_ENOTFOUND, "no checkpoint of seq %" PRIu64 "..",
		   min_seq);
	TFA_GUARD(list_seqs(&l, ctx, "checkpoints", ".ckpt", min_seq - 1, min_seq, max_seq));
	TFA_ENSURE(l.best != 0, TFA_ENOTFOUND, "no checkpoint of seq %" PRIu64 "..%" PRIu64,
		   min_seq, max_seq);
	checkpoint_name(name, l.best);
	rc = get_object(ctx, name, data, TFA_STORE_CHECKPOINT_MAX);
	if (rc == TFA_ENOTFOUND)
		TFA_BAIL(TFA_EBACKEND, "s3 checkpoint %s is listed but absent", name);
	TFA_GUARD(rc);
	*seq = l.best;
out:
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
    .put_checkpoint = s3_put_checkpoint,
    .latest_checkpoint = s3_latest_checkpoint,
};
