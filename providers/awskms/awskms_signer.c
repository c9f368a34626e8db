/*
 * awskms:// — an asymmetric AWS KMS key (RSA 2048-4096 or ECC_NIST_P256).
 *
 * Open calls GetPublicKey once per key and process (cached), which also
 * gives the key's ARN. Sign sends the SHA-256 digest (MessageType DIGEST)
 * to the key ARN, not the alias, so that an alias moved to another key
 * between the two calls cannot yield a signature under a key other than
 * the one whose public key was returned. Every signature is checked against
 * that public key before it is handed back.
 *
 * GetPublicKey's answer must describe a signing key: KeyUsage SIGN_VERIFY,
 * a KeySpec of RSA_2048/3072/4096 or ECC_NIST_P256 that the public key
 * matches, and SigningAlgorithms that include the algorithm before any Sign
 * uses it (a KMS-compatible service may hand out the public key of an
 * encryption key).
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "format/b64.h"
#include "kmsuri.h"
#include "tfattest/sys/guard.h"
#include "tfattest/sys/signer.h"
#include "verify/crypto.h"

#define SPKI_MAX    4096
#define SIG_MAX	    1024
#define CACHE_SLOTS 8

/* The algorithms a key's SigningAlgorithms allow, as bits (1u << tfa_sig_alg). */
typedef unsigned alg_set;

typedef struct kms_ctx {
	tfa_kmsuri uri;
	char region[64];
	char key_arn[TFA_KMSURI_MAX];
	char spec[16]; /* the KeySpec GetPublicKey named */
	alg_set algs;
	tfa_buf spki;
	EVP_PKEY *pkey;
	tfa_aws_client *client;
	tfa_kv prov[2];
} kms_ctx;

/* ---- the per-process public key cache ------------------------------------------ */

typedef struct cache_entry {
	char *key; /* endpoint \n region \n key id */
	char *arn;
	uint8_t *spki;
	size_t spki_len;
	char spec[16];
	alg_set algs;
} cache_entry;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cache_entry cache[CACHE_SLOTS];
static unsigned cache_next;

static bool cache_get(const char *key, tfa_buf *spki, char *arn, size_t arn_size, char spec[16],
		      alg_set *algs)
{
	bool hit = false;

	pthread_mutex_lock(&cache_lock);
	for (unsigned i = 0; i < CACHE_SLOTS; i++) {
		if (cache[i].key != NULL && strcmp(cache[i].key, key) == 0) {
			if (tfa_buf_append(spki, cache[i].spki, cache[i].spki_len) == TFA_OK) {
				snprintf(arn, arn_size, "%s", cache[i].arn);
				memcpy(spec, cache[i].spec, 16);
				*algs = cache[i].algs;
				hit = true;
			}
			break;
		}
	}
	pthread_mutex_unlock(&cache_lock);
	return hit;
}

static void cache_put(const char *key, const uint8_t *spki, size_t len, const char *arn,
		      const char spec[16], alg_set algs)
{
	cache_entry e = {strdup(key), strdup(arn), malloc(len), len, {0}, algs};
	cache_entry *slot;

	if (e.key == NULL || e.arn == NULL || e.spki == NULL) {
		free(e.key);
		free(e.arn);
		free(e.spki);
		return;
	}
	memcpy(e.spki, spki, len);
	memcpy(e.spec, spec, sizeof(e.spec));
	pthread_mutex_lock(&cache_lock);
	slot = &cache[cache_next++ % CACHE_SLOTS];
	free(slot->key);
	free(slot->arn);
	free(slot->spki);
	*slot = e;
	pthread_mutex_unlock(&cache_lock);
}

/* ---- helpers ------------------------------------------------------------------------- */

static const char *kms_alg_name(tfa_sig_alg alg)
{
	switch (alg) {
	case TFA_ALG_RSASSA_PSS_SHA_256: return "RSASSA_PSS_SHA_256";
	case TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256: return "RSASSA_PKCS1_V1_5_SHA_256";
	case TFA_ALG_ECDSA_SHA_256: return "ECDSA_SHA_256";
	default: return NULL;
	}
}

/* The KeySpecs a signer takes: bits of an RSA modulus, or 0 for ECC_NIST_P256. */
static bool spec_known(const char *spec, int *rsa_bits)
{
	static const struct {
		const char *name;
		int bits;
	} specs[] = {
	    {"RSA_2048", 2048}, {"RSA_3072", 3072}, {"RSA_4096", 4096}, {"ECC_NIST_P256", 0}};

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		if (strcmp(spec, specs[i].name) == 0) {
			*rsa_bits = specs[i].bits;
			return true;
		}
	}
	return false;
}

/* The algorithms of ours that fit a KeySpec. */
static alg_set spec_algs(int rsa_bits)
{
	if (rsa_bits == 0)
		return 1u << TFA_ALG_ECDSA_SHA_256;
	return (1u << TFA_ALG_RSASSA_PSS_SHA_256) | (1u << TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256);
}

/* Our algorithms named in a SigningAlgorithms array (others are ignored). */
static alg_set parse_algs(const cJSON *arr)
{
	static const tfa_sig_alg ours[] = {
	    TFA_ALG_RSASSA_PSS_SHA_256, TFA_ALG_RSASSA_PKCS1_V1_5_SHA_256, TFA_ALG_ECDSA_SHA_256};
	const cJSON *it;
	alg_set set = 0;

	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it) || it->valuestring == NULL)
			continue;
		for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
			if (strcmp(it->valuestring, kms_alg_name(ours[i])) == 0)
				set |= 1u << ours[i];
	}
	return set;
}

/*
 * Decodes the canonical base64 of at most max bytes into out. KMS writes that
 * form; anything else (white space, unused bits set, padding inside) is refused,
 * so a value has one encoding whoever serves the API.
 */
static tfa_err b64_decode(tfa_buf *out, const char *s, size_t max, const char *what)
{
	tfa_err rc = TFA_OK;
	size_t n = strlen(s), got = 0;
	char why[sizeof(tfa_error_last()->message)];

	TFA_ENSURE(n > 0 && n <= TFA_B64_LEN(max), TFA_EFORMAT,
		   "kms: %s is not base64 of a plausible size", what);
	TFA_GUARD(tfa_buf_reserve(out, n / 4 * 3));
	if (tfa_b64_decode(out->data + out->len, n / 4 * 3, &got, s, n) != TFA_OK) {
		snprintf(why, sizeof(why), "%s", tfa_error_last()->message);
		rc = tfa_error_set(TFA_EFORMAT, "kms: %s is not canonical base64", what);
		tfa_error_detail("%s", why);
		goto out;
	}
	out->len += got;
	out->data[out->len] = '\0';
	TFA_ENSURE(out->len <= max, TFA_EFORMAT, "kms: %s is too large", what);
out:
	return rc;
}

static const cJSON *json_str(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);

	return cJSON_IsString(v) && v->valuestring != NULL ? v : NULL;
}

/* The body of a KMS request: {"KeyId": ...} plus optional members, as compact JSON. */
static tfa_err kms_call(tfa_aws_response *resp, kms_ctx *ctx, const char *op, cJSON *req)
{
	tfa_err rc = TFA_OK;
	char target[64];
	char *json = cJSON_PrintUnformatted(req);

	TFA_ENSURE(json != NULL, TFA_EINTERNAL, "out of memory");
	snprintf(target, sizeof(target), "TrentService.%s", op);
	rc = tfa_aws_json_call(resp, ctx->client, target, "1.1", json, strlen(json));
out:
	free(json);
	return rc;
}

/* ---- the backend ----------------------------------------------------------------------- */

static void kms_close(void *vctx)
{
	kms_ctx *ctx = vctx;

	if (ctx == NULL)
		return;
	tfa_aws_client_free(ctx->client);
	EVP_PKEY_free(ctx->pkey);
	tfa_buf_free(&ctx->spki);
	free(ctx);
}

static tfa_err get_public_key(kms_ctx *ctx)
{
	tfa_err rc = TFA_OK;
	tfa_aws_response resp;
	cJSON *req = NULL, *res = NULL;
	const cJSON *pk, *arn, *usage, *spec, *algs;
	int rsa_bits = 0;

	memset(&resp, 0, sizeof(resp));
	req = cJSON_CreateObject();
	TFA_ENSURE(req != NULL && cJSON_AddStringToObject(req, "KeyId", ctx->uri.key_id) != NULL,
		   TFA_EINTERNAL, "out of memory");
	TFA_GUARD(kms_call(&resp, ctx, "GetPublicKey", req));
	res = cJSON_ParseWithLength((const char *)resp.body.data, resp.body.len);
	TFA_ENSURE(cJSON_IsObject(res), TFA_EBACKEND,
		   "kms GetPublicKey: the response is not a JSON object (request id %s)",
		   resp.request_id[0] ? resp.request_id : "none");
	pk = json_str(res, "PublicKey");
	arn = json_str(res, "KeyId");
	usage = json_str(res, "KeyUsage");
	spec = json_str(res, "KeySpec");
	TFA_ENSURE(pk != NULL && arn != NULL, TFA_EBACKEND,
		   "kms GetPublicKey: the response lacks PublicKey or KeyId (request id %s)",
		   resp.request_id[0] ? resp.request_id : "none");
	TFA_ENSURE(usage != NULL, TFA_EUSAGE,
		   "kms key %s: GetPublicKey names no KeyUsage; a signing key is SIGN_VERIFY",
		   ctx->uri.key_id);
	TFA_ENSURE(strcmp(usage->valuestring, "SIGN_VERIFY") == 0, TFA_EUSAGE,
		   "kms key %s is not a signing key (KeyUsage %.32s, not SIGN_VERIFY)",
		   ctx->uri.key_id, usage->valuestring);
	if (spec == NULL)
		spec = json_str(res, "CustomerMasterKeySpec");
	TFA_ENSURE(spec != NULL, TFA_EUSAGE, "kms key %s: GetPublicKey names no KeySpec",
		   ctx->uri.key_id);
	TFA_ENSURE(spec_known(spec->valuestring, &rsa_bits), TFA_EUSAGE,
		   "kms key %s has KeySpec %.32s; a signer needs RSA_2048, RSA_3072, RSA_4096 or "
		   "ECC_NIST_P256",
		   ctx->uri.key_id, spec->valuestring);
	snprintf(ctx->spec, sizeof(ctx->spec), "%s", spec->valuestring);
	algs = cJSON_GetObjectItemCaseSensitive(res, "SigningAlgorithms");
	TFA_ENSURE(cJSON_IsArray(algs), TFA_EUSAGE,
		   "kms key %s: GetPublicKey names no SigningAlgorithms", ctx->uri.key_id);
	ctx->algs = parse_algs(algs) & spec_algs(rsa_bits);
	TFA_ENSURE(strncmp(arn->valuestring, "arn:", 4) == 0 &&
		       strlen(arn->valuestring) < sizeof(ctx->key_arn) &&
		       strpbrk(arn->valuestring, "\r\n\"") == NULL,
		   TFA_EBACKEND, "kms GetPublicKey: the KeyId in the response is not an ARN");
	snprintf(ctx->key_arn, sizeof(ctx->key_arn), "%s", arn->valuestring);
	TFA_GUARD(b64_decode(&ctx->spki, pk->valuestring, SPKI_MAX, "the public key"));
out:
	cJSON_Delete(req);
	cJSON_Delete(res);
	tfa_aws_response_free(&resp);
	return rc;
}

static tfa_err kms_open(void **out, const char *uri)
{
	tfa_err rc = TFA_OK;
	kms_ctx *ctx = NULL;
	tfa_buf cache_key = TFA_BUF_INIT;
	tfa_aws_client_opts o;
	bool cached = true;
	int rsa_bits = 0;

	*out = NULL;
	ctx = calloc(1, sizeof(*ctx));
	TFA_ENSURE(ctx != NULL, TFA_EINTERNAL, "out of memory");
	tfa_buf_init(&ctx->spki, SPKI_MAX);
	TFA_GUARD(tfa_kmsuri_parse(&ctx->uri, uri, strlen(uri)));
	if (ctx->uri.region[0] != '\0')
		snprintf(ctx->region, sizeof(ctx->region), "%s", ctx->uri.region);
	else
		TFA_GUARD(tfa_aws_region_resolve(ctx->region, sizeof(ctx->region)));
	memset(&o, 0, sizeof(o));
	o.service = "kms";
	o.region = ctx->region;
	o.endpoint = ctx->uri.endpoint[0] ? ctx->uri.endpoint : NULL;
	TFA_GUARD(tfa_aws_client_new(&ctx->client, &o));
	TFA_GUARD(tfa_buf_printf(&cache_key, "%s\n%s\n%s", ctx->uri.endpoint, ctx->region,
				 ctx->uri.key_id));
	if (!cache_get((const char *)cache_key.data, &ctx->spki, ctx->key_arn, sizeof(ctx->key_arn),
		       ctx->spec, &ctx->algs)) {
		TFA_GUARD(get_public_key(ctx));
		cached = false;
	}
	rc = tfa_pkey_from_spki(&ctx->pkey, ctx->spki.data, ctx->spki.len);
	TFA_ENSURE(rc == TFA_OK, TFA_EBACKEND, "kms key %s: the public key cannot be used: %s",
		   ctx->uri.key_id, tfa_error_last()->message);
	TFA_ENSURE(tfa_pkey_default_alg(ctx->pkey) != TFA_ALG_NONE, TFA_EUSAGE,
		   "kms key %s: unsupported key type, need RSA 2048-4096 or ECC_NIST_P256",
		   ctx->uri.key_id);
	(void)spec_known(ctx->spec, &rsa_bits);
	TFA_ENSURE(rsa_bits == 0 ? EVP_PKEY_base_id(ctx->pkey) == EVP_PKEY_EC
				 : EVP_PKEY_base_id(ctx->pkey) == EVP_PKEY_RSA &&
				       EVP_PKEY_get_bits(ctx->pkey) == rsa_bits,
		   TFA_EUSAGE, "kms key %s: its public key is not the %s key its KeySpec says",
		   ctx->uri.key_id, ctx->spec);
	TFA_ENSURE(ctx->algs != 0, TFA_EUSAGE,
		   "kms key %s (%s) allows none of the signing algorithms that fit it "
		   "(RSASSA_PSS_SHA_256, RSASSA_PKCS1_V1_5_SHA_256, ECDSA_SHA_256)",
		   ctx->uri.key_id, ctx->spec);
	if (!cached)
		cache_put((const char *)cache_key.data, ctx->spki.data, ctx->spki.len, ctx->key_arn,
			  ctx->spec, ctx->algs);
	ctx->prov[0] = (tfa_kv){"key_arn", ctx->key_arn};
	ctx->prov[1] = (tfa_kv){"region", ctx->region};
	*out = ctx;
	ctx = NULL;
out:
	tfa_buf_free(&cache_key);
	kms_close(ctx);
	return rc;
}

static tfa_err kms_sign(void *vctx, tfa_sig_alg alg, const uint8_t digest[TFA_SHA256_LEN],
			tfa_buf *sig)
{
	tfa_err rc = TFA_OK;
	kms_ctx *ctx = vctx;
	tfa_aws_response resp;
	cJSON *req = NULL, *res = NULL;
	const cJSON *s, *kid, *salg;
	const char *name = kms_alg_name(alg);
	char b64[TFA_B64_LEN(TFA_SHA256_LEN) + 1];
	tfa_buf der;
	const char *rid;

	memset(&resp, 0, sizeof(resp));
	tfa_buf_init(&der, SIG_MAX);
	TFA_ENSURE(name != NULL, TFA_EUSAGE, "kms: unsupported signing algorithm");
	TFA_ENSURE(ctx->algs & (1u << alg), TFA_EUSAGE,
		   "kms key %s (%s) does not allow %s: it is not in its SigningAlgorithms",
		   ctx->key_arn, ctx->spec, name);
	TFA_GUARD(tfa_b64_encode_str(b64, sizeof(b64), digest, TFA_SHA256_LEN));
	req = cJSON_CreateObject();
	TFA_ENSURE(req != NULL && cJSON_AddStringToObject(req, "KeyId", ctx->key_arn) != NULL &&
		       cJSON_AddStringToObject(req, "Message", b64) != NULL &&
		       cJSON_AddStringToObject(req, "MessageType", "DIGEST") != NULL &&
		       cJSON_AddStringToObject(req, "SigningAlgorithm", name) != NULL,
		   TFA_EINTERNAL, "out of memory");
	TFA_GUARD(kms_call(&resp, ctx, "Sign", req));
	rid = resp.request_id[0] ? resp.request_id : "none";
	res = cJSON_ParseWithLength((const char *)resp.body.data, resp.body.len);
	s = json_str(res, "Signature");
	kid = json_str(res, "KeyId");
	salg = json_str(res, "SigningAlgorithm");
	TFA_ENSURE(s != NULL, TFA_EBACKEND,
		   "kms Sign: the response holds no Signature (request id %s)", rid);
	TFA_ENSURE(kid == NULL || strcmp(kid->valuestring, ctx->key_arn) == 0, TFA_EBACKEND,
		   "kms Sign: the response names another key (request id %s)", rid);
	TFA_ENSURE(salg == NULL || strcmp(salg->valuestring, name) == 0, TFA_EBACKEND,
		   "kms Sign: the response names another algorithm (request id %s)", rid);
	TFA_GUARD(b64_decode(&der, s->valuestring, SIG_MAX, "the signature"));
	/* A wrong answer from KMS must never reach the chain. */
	if (tfa_verify_digest(ctx->pkey, alg, digest, der.data, der.len) != TFA_OK)
		TFA_BAIL(TFA_EBACKEND,
			 "kms Sign: the signature does not verify under key %s (request id %s)",
			 ctx->key_arn, rid);
	TFA_GUARD(tfa_buf_append(sig, der.data, der.len));
out:
	cJSON_Delete(req);
	cJSON_Delete(res);
	tfa_buf_free(&der);
	tfa_aws_response_free(&resp);
	return rc;
}

static tfa_err kms_public_key(void *vctx, tfa_buf *spki)
{
	kms_ctx *ctx = vctx;

	return tfa_buf_append(spki, ctx->spki.data, ctx->spki.len);
}

static const tfa_kv *kms_provenance(void *vctx, size_t *n)
{
	kms_ctx *ctx = vctx;

	*n = 2;
	return ctx->prov;
}

const tfa_signer_backend tfa_signer_backend_awskms = {
    .abi = TFA_SIGNER_ABI,
    .name = "awskms",
    .scheme = "awskms:",
    .caps = TFA_SIGNER_CAP_RSA | TFA_SIGNER_CAP_EC_P256,
    .open = kms_open,
    .sign = kms_sign,
    .public_key = kms_public_key,
    .provenance = kms_provenance,
    .close = kms_close,
};
