/*
 * The DynamoDB sequencer: dynamodb://TABLE?region=R&endpoint=URL
 *
 * The table has a string partition key named `chain` and no sort key. Each
 * chain is one item, keyed by its scope (the store URI without its query):
 *
 *   chain       S  the scope, e.g. "s3://bucket/prefix"
 *   seq         N  the head seq (0 for an empty chain)
 *   meta        B  the chain's metadata document (chain.json)
 *   rec         B  the head record's stored form (absent at seq 0)
 *   rec_sha256  S  lowercase hex SHA-256 of rec (absent at seq 0)
 *
 * create is a PutItem conditional on attribute_not_exists(chain); claim of
 * seq n is an UpdateItem conditional on seq = n-1, so exactly one writer
 * moves the head to n. state is a strongly consistent GetItem: the head is
 * read without a scan, whatever the chain's length.
 *
 * DynamoDB items are at most 400 KB; the record must fit beside the
 * metadata, so records are capped at DYNAMODB_RECORD_MAX bytes.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "aws/aws.h"
#include "aws/awsuri.h"
#include "format/b64.h"
#include "tfattest/sys/guard.h"
#include "tfattest/sys/sequencer.h"
#include "tfattest/sys/store.h"
#include "verify/crypto.h"

/* 400 KB item limit = 409600 bytes, less 64 KiB of metadata and names. */
#define DYNAMODB_RECORD_MAX 300000u

typedef struct ddb_ctx {
	tfa_aws_client *client;
	char table[256];
	char *scope;
} ddb_ctx;

static void ddb_close(void *vctx)
{
	ddb_ctx *ctx = vctx;

	if (ctx == NULL)
		return;
	tfa_aws_client_free(ctx->client);
	free(ctx->scope);
	free(ctx);
}

static tfa_err ddb_open(void **out, const char *uri, const char *scope)
{
	tfa_err rc = TFA_OK;
	ddb_ctx *ctx = NULL;
	tfa_awsuri u;
	tfa_aws_client_opts o;

	*out = NULL;
	TFA_GUARD(tfa_awsuri_parse(&u, uri, TFA_AWSURI_DYNAMODB));
	ctx = calloc(1, sizeof(*ctx));
	TFA_ENSURE(ctx != NULL, TFA_EINTERNAL, "out of memory");
	memcpy(ctx->table, u.name, sizeof(ctx->table));
	ctx->scope = strdup(scope);
	TFA_ENSURE(ctx->scope != NULL, TFA_EINTERNAL, "out of memory");
	memset(&o, 0, sizeof(o));
	o.service = "dynamodb";
	o.region = u.region;
	o.endpoint = u.endpoint[0] ? u.endpoint : NULL;
	TFA_GUARD(tfa_aws_client_new(&ctx->client, &o));
	*out = ctx;
	ctx = NULL;
out:
	ddb_close(ctx);
	return rc;
}

/* Adds {"B": base64(data)} as `name` to obj. */
static int add_binary(cJSON *obj, const char *name, const uint8_t *data, size_t len)
{
	cJSON *v = cJSON_CreateObject();
	char *b64;
	int ok;

	if (v == NULL || len > (size_t)INT32_MAX / 2 ||
	    (b64 = malloc(TFA_B64_LEN(len) + 1)) == NULL) {
		cJSON_Delete(v);
		return 0;
	}
	ok = tfa_b64_encode_str(b64, TFA_B64_LEN(len) + 1, data, len) == TFA_OK &&
	     cJSON_AddStringToObject(v, "B", b64) != NULL;
	free(b64);
	if (!ok || !cJSON_AddItemToObject(obj, name, v)) {
		if (ok)
			cJSON_Delete(v);
		return 0;
	}
	return 1;
}

static int add_typed(cJSON *obj, const char *name, const char *type, const char *value)
{
	cJSON *v = cJSON_CreateObject();

	if (v == NULL || cJSON_AddStringToObject(v, type, value) == NULL ||
	    !cJSON_AddItemToObject(obj, name, v)) {
		cJSON_Delete(v);
		return 0;
	}
	return 1;
}

/* A request with TableName and Key filled in; NULL when out of memory. */
static cJSON *new_request(const ddb_ctx *ctx, const char *keyname)
{
	cJSON *req = cJSON_CreateObject(), *key;

	if (req == NULL || cJSON_AddStringToObject(req, "TableName", ctx->table) == NULL ||
	    (key = cJSON_AddObjectToObject(req, keyname)) == NULL ||
	    !add_typed(key, "chain", "S", ctx->scope)) {
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

static tfa_err call(tfa_aws_response *resp, ddb_ctx *ctx, const char *op, cJSON *req)
{
	char target[64];
	char *text = cJSON_PrintUnformatted(req);
	tfa_err rc;

	if (text == NULL)
		return tfa_error_set(TFA_EINTERNAL, "out of memory");
	snprintf(target, sizeof(target), "DynamoDB_20120810.%s", op);
	rc = tfa_aws_json_call(resp, ctx->client, target, "1.0", text, strlen(text));
	cJSON_free(text);
	return rc;
}

static tfa_err ddb_create(void *vctx, const uint8_t *meta, size_t len)
{
	ddb_ctx *ctx = vctx;
	tfa_err rc = TFA_OK;
	tfa_aws_response resp;
	cJSON *req = new_request(ctx, "Item"), *item;

	memset(&resp, 0, sizeof(resp));
	tfa_buf_init(&resp.body, 0);
	TFA_ENSURE(
	    req != NULL && (item = cJSON_GetObjectItemCaseSensitive(req, "Item")) != NULL &&
		add_typed(item, "seq", "N", "0") && add_binary(item, "meta", meta, len) &&
		cJSON_AddStringToObject(req, "ConditionExpression", "attribute_not_exists(#c)") &&
		cJSON_AddObjectToObject(req, "ExpressionAttributeNames") &&
		cJSON_AddStringToObject(
		    cJSON_GetObjectItemCaseSensitive(req, "ExpressionAttributeNames"), "#c",
		    "chain"),
	    TFA_EINTERNAL, "out of memory");
	rc = call(&resp, ctx, "PutItem", req);
	if (rc == TFA_ECONFLICT)
		rc = tfa_error_set(TFA_ECONFLICT, "%s already holds a chain", ctx->scope);
out:
	cJSON_Delete(req);
	tfa_aws_response_free(&resp);
	return rc;
}

/* Decodes the base64 in item.<name>.B and appends it to out. */
static tfa_err get_binary(tfa_buf *out, const cJSON *item, const char *name)
{
	tfa_err rc = TFA_OK;
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(item, name);
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(a, "B");
	size_t n, got = 0;

	TFA_ENSURE(cJSON_IsString(b) && b->valuestring != NULL, TFA_EFORMAT,
		   "sequencer item has no binary %s", name);
	n = strlen(b->valuestring);
	TFA_ENSURE(n % 4 == 0, TFA_EFORMAT, "sequencer item's %s is not base64", name);
	TFA_ENSURE(n <= (size_t)INT32_MAX, TFA_EFORMAT, "sequencer item's %s is too large", name);
	TFA_GUARD(tfa_buf_reserve(out, n / 4 * 3));
	/* DynamoDB returns the canonical form; the empty value is no bytes. */
	if (n > 0 &&
	    tfa_b64_decode(out->data + out->len, n / 4 * 3, &got, b->valuestring, n) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "sequencer item's %s is not base64", name);
	out->len += got;
	out->data[out->len] = '\0';
out:
	return rc;
}

static tfa_err parse_seq(uint64_t *out, const cJSON *item)
{
	const cJSON *n =
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(item, "seq"), "N");
	const char *s;
	uint64_t v = 0;

	if (!cJSON_IsString(n) || (s = n->valuestring) == NULL || *s == '\0' || strlen(s) > 12)
		return tfa_error_set(TFA_EFORMAT, "sequencer item has no valid seq");
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return tfa_error_set(TFA_EFORMAT, "sequencer item has no valid seq");
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return TFA_OK;
}

static tfa_err ddb_state(void *vctx, uint64_t *head, tfa_buf *rec, tfa_buf *meta)
{
	ddb_ctx *ctx = vctx;
	tfa_err rc = TFA_OK;
	tfa_aws_response resp;
	cJSON *req = new_request(ctx, "Key"), *doc = NULL;
	const cJSON *item;

	memset(&resp, 0, sizeof(resp));
	tfa_buf_init(&resp.body, 0);
	TFA_ENSURE(req != NULL && cJSON_AddTrueToObject(req, "ConsistentRead"), TFA_EINTERNAL,
		   "out of memory");
	TFA_GUARD(call(&resp, ctx, "GetItem", req));
	doc = cJSON_ParseWithLength((const char *)resp.body.data, resp.body.len);
	TFA_ENSURE(doc != NULL, TFA_EFORMAT, "dynamodb GetItem: the response is not JSON");
	item = cJSON_GetObjectItemCaseSensitive(doc, "Item");
	if (item == NULL)
		TFA_BAIL(TFA_ENOTFOUND, "%s holds no chain: check the table and the chain name",
			 ctx->scope);
	TFA_ENSURE(cJSON_IsObject(item), TFA_EFORMAT, "dynamodb GetItem: Item is not an object");
	TFA_GUARD(parse_seq(head, item));
	TFA_GUARD(get_binary(meta, item, "meta"));
	if (*head > 0) {
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(item, "rec_sha256"), "S");
		uint8_t want[TFA_SHA256_LEN], got[TFA_SHA256_LEN];
		size_t start = rec->len;

		TFA_GUARD(get_binary(rec, item, "rec"));
		TFA_ENSURE(cJSON_IsString(h) && h->valuestring != NULL &&
			       strlen(h->valuestring) == 2 * TFA_SHA256_LEN &&
			       tfa_hex_decode(want, TFA_SHA256_LEN, h->valuestring,
					      2 * TFA_SHA256_LEN) == TFA_OK,
			   TFA_EFORMAT, "sequencer item has no valid rec_sha256");
		tfa_sha256(got, rec->data + start, rec->len - start);
		TFA_ENSURE(
		    CRYPTO_memcmp(want, got, sizeof(got)) == 0, TFA_EFORMAT,
		    "the dynamodb sequencer's copy of record %" PRIu64
		    " does not match its rec_sha256: the sequencer item was altered or damaged",
		    *head);
	}
out:
	cJSON_Delete(req);
	cJSON_Delete(doc);
	tfa_aws_response_free(&resp);
	return rc;
}

static tfa_err ddb_claim(void *vctx, uint64_t seq, const uint8_t *rec, size_t len)
{
	ddb_ctx *ctx = vctx;
	tfa_err rc = TFA_OK;
	tfa_aws_response resp;
	cJSON *req = new_request(ctx, "Key"), *names = NULL, *vals = NULL;
	char n[24], p[24], hex[2 * TFA_SHA256_LEN + 1];
	uint8_t d[TFA_SHA256_LEN];

	memset(&resp, 0, sizeof(resp));
	tfa_buf_init(&resp.body, 0);
	TFA_ENSURE(seq >= 1 && len <= DYNAMODB_RECORD_MAX, TFA_EUSAGE, "invalid claim");
	snprintf(n, sizeof(n), "%" PRIu64, seq);
	snprintf(p, sizeof(p), "%" PRIu64, seq - 1);
	tfa_sha256(d, rec, len);
	tfa_hex_encode(hex, d, sizeof(d));
	TFA_ENSURE(
	    req != NULL &&
		cJSON_AddStringToObject(req, "UpdateExpression", "SET #s = :n, #r = :r, #h = :h") &&
		cJSON_AddStringToObject(req, "ConditionExpression",
					"attribute_exists(#c) AND #s = :p") &&
		(names = cJSON_AddObjectToObject(req, "ExpressionAttributeNames")) &&
		cJSON_AddStringToObject(names, "#c", "chain") &&
		cJSON_AddStringToObject(names, "#s", "seq") &&
		cJSON_AddStringToObject(names, "#r", "rec") &&
		cJSON_AddStringToObject(names, "#h", "rec_sha256") &&
		(vals = cJSON_AddObjectToObject(req, "ExpressionAttributeValues")) &&
		add_typed(vals, ":n", "N", n) && add_typed(vals, ":p", "N", p) &&
		add_typed(vals, ":h", "S", hex) && add_binary(vals, ":r", rec, len),
	    TFA_EINTERNAL, "out of memory");
	rc = call(&resp, ctx, "UpdateItem", req);
	if (rc == TFA_ECONFLICT)
		rc = tfa_error_set(TFA_ECONFLICT, "seq %" PRIu64 " is taken", seq);
out:
	cJSON_Delete(req);
	tfa_aws_response_free(&resp);
	return rc;
}

const tfa_sequencer_backend tfa_sequencer_backend_dynamodb = {
    .abi = TFA_SEQUENCER_ABI,
    .name = "dynamodb",
    .scheme = "dynamodb:",
    .caps = 0,
    .record_max = DYNAMODB_RECORD_MAX,
    .open = ddb_open,
    .create = ddb_create,
    .state = ddb_state,
    .claim = ddb_claim,
    .close = ddb_close,
};
