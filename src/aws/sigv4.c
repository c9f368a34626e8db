/*
 * AWS Signature Version 4 (header signing), written against the published
 * algorithm and proven by the AWS SigV4 test suite and by botocore:
 *
 *   CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n
 *                      CanonicalHeaders \n SignedHeaders \n PayloadHash
 *   StringToSign     = "AWS4-HMAC-SHA256" \n AmzDate \n Scope \n hex(SHA256(CanonicalRequest))
 *   SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region), service), "aws4_request")
 *
 * The derived keys are secret material and are wiped after use.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4_int.h"
#include "format/hex.h"
#include "format/pct.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

#define CREQ_MAX ((size_t)1 << 20)

typedef struct hdr {
	char *name;   /* lowercase, heap */
	char *value;  /* trimmed, inner whitespace runs collapsed, heap */
	size_t order; /* position in the request, to keep duplicates in order */
} hdr;

static bool is_tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static tfa_err uri_encode(tfa_buf *out, const char *s, size_t len, bool keep_slash)
{
	return tfa_pct_encode(out, s, len, TFA_PCT_UNRESERVED, keep_slash ? "/" : NULL);
}

/*
 * Percent-decodes s[0..len) into out; a malformed escape is TFA_EUSAGE. %00 is
 * a byte like any other here: it is encoded again, never used as a string.
 */
static tfa_err uri_decode(tfa_buf *out, const char *s, size_t len)
{
	tfa_err rc = TFA_OK;
	size_t n = 0;

	TFA_GUARD(tfa_buf_reserve(out, len));
	if (tfa_pct_decode(out->data + out->len, len + 1, &n, s, len, TFA_PCT_BINARY) != TFA_OK)
		TFA_BAIL(TFA_EUSAGE, "sigv4: malformed percent escape in the query");
	out->len += n;
out:
	return rc;
}

tfa_err tfa_sigv4_canonical_path(tfa_buf *out, const char *path, unsigned flags)
{
	tfa_err rc = TFA_OK;
	tfa_buf norm = TFA_BUF_INIT;
	size_t len, *segs = NULL, nseg = 0;
	const char *p;

	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(path);
	len = strnlen(path, TFA_SIGV4_MAX_FIELD + 1);
	TFA_ENSURE(len > 0 && len <= TFA_SIGV4_MAX_FIELD && path[0] == '/', TFA_EUSAGE,
		   "sigv4: the request path must start with '/' and be at most %d bytes",
		   TFA_SIGV4_MAX_FIELD);
	for (size_t i = 0; i < len; i++)
		TFA_ENSURE((unsigned char)path[i] > 0x20 || path[i] == ' ', TFA_EUSAGE,
			   "sigv4: control character in the request path");
	if (!(flags & TFA_SIGV4_NORMALIZE)) {
		if (flags & TFA_SIGV4_ENCODE_PATH)
			rc = uri_encode(out, path, len, true);
		else
			rc = tfa_buf_append(out, path, len);
		goto out;
	}
	/*
	 * RFC 3986 dot-segment removal, with empty segments dropped as well
	 * ("//a//" is "/a/"); a trailing slash stays.
	 */
	segs = calloc(len + 1, sizeof(*segs));
	TFA_ENSURE(segs != NULL, TFA_EINTERNAL, "out of memory");
	tfa_buf_init(&norm, 0);
	p = path;
	while (p < path + len) {
		const char *s = p + 1, *e = s;

		while (e < path + len && *e != '/')
			e++;
		if (e == s || (e - s == 1 && s[0] == '.')) {
			/* empty or "." */
		} else if (e - s == 2 && s[0] == '.' && s[1] == '.') {
			if (nseg > 0)
				norm.len = segs[--nseg];
		} else {
			segs[nseg++] = norm.len;
			TFA_GUARD(tfa_buf_putc(&norm, '/'));
			TFA_GUARD(tfa_buf_append(&norm, s, (size_t)(e - s)));
		}
		p = e;
	}
	if (norm.len == 0 || path[len - 1] == '/')
		TFA_GUARD(tfa_buf_putc(&norm, '/'));
	if (flags & TFA_SIGV4_ENCODE_PATH)
		rc = uri_encode(out, (const char *)norm.data, norm.len, true);
	else
		rc = tfa_buf_append(out, norm.data, norm.len);
out:
	free(segs);
	tfa_buf_free(&norm);
	return rc;
}

typedef struct qparam {
	char *key;
	char *val;
} qparam;

static int qparam_cmp(const void *a, const void *b)
{
	const qparam *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : strcmp(x->val, y->val);
}

/* Decodes then re-encodes one key or value, so that "%E1%88%B4" and raw UTF-8 agree. */
static tfa_err reencode(char **out, const char *s, size_t len)
{
	tfa_err rc = TFA_OK;
	tfa_buf dec = TFA_BUF_INIT, enc = TFA_BUF_INIT;

	TFA_GUARD(uri_decode(&dec, s, len));
	TFA_GUARD(tfa_buf_putc(&enc, '\0'));
	enc.len = 0;
	TFA_GUARD(uri_encode(&enc, (const char *)dec.data, dec.len, false));
	*out = (char *)tfa_buf_detach(&enc, NULL);
out:
	tfa_buf_free(&dec);
	tfa_buf_free(&enc);
	return rc;
}

tfa_err tfa_sigv4_canonical_query(tfa_buf *out, const char *query)
{
	tfa_err rc = TFA_OK;
	qparam *qp = NULL;
	size_t n = 0, len, cap = 0;

	TFA_ENSURE_ARG(out);
	if (query == NULL || query[0] == '\0')
		return TFA_OK;
	len = strnlen(query, TFA_SIGV4_MAX_FIELD + 1);
	TFA_ENSURE(len <= TFA_SIGV4_MAX_FIELD, TFA_EUSAGE,
		   "sigv4: the query is longer than %d bytes", TFA_SIGV4_MAX_FIELD);
	cap = 1;
	for (size_t i = 0; i < len; i++)
		cap += query[i] == '&';
	qp = calloc(cap, sizeof(*qp));
	TFA_ENSURE(qp != NULL, TFA_EINTERNAL, "out of memory");
	for (const char *p = query; p <= query + len;) {
		const char *e = memchr(p, '&', (size_t)(query + len - p));
		const char *eq;

		if (e == NULL)
			e = query + len;
		if (e > p) {
			eq = memchr(p, '=', (size_t)(e - p));
			TFA_GUARD(reencode(&qp[n].key, p, (size_t)((eq ? eq : e) - p)));
			TFA_GUARD(
			    reencode(&qp[n].val, eq ? eq + 1 : e, eq ? (size_t)(e - eq - 1) : 0));
			n++;
		}
		p = e + 1;
	}
	qsort(qp, n, sizeof(*qp), qparam_cmp);
	for (size_t i = 0; i < n; i++) {
		TFA_GUARD(tfa_buf_printf(out, "%s%s=%s", i ? "&" : "", qp[i].key, qp[i].val));
	}
out:
	for (size_t i = 0; qp != NULL && i < cap; i++) {
		free(qp[i].key);
		free(qp[i].val);
	}
	free(qp);
	return rc;
}

static int hdr_cmp(const void *a, const void *b)
{
	const hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Lowercases a header name; refuses anything that is not an HTTP token. */
static tfa_err hdr_name(char **out, const char *name)
{
	tfa_err rc = TFA_OK;
	size_t len = name ? strnlen(name, 257) : 0;
	char *s = NULL;

	TFA_ENSURE(len > 0 && len <= 256, TFA_EUSAGE, "sigv4: empty or overlong header name");
	for (size_t i = 0; i < len; i++)
		TFA_ENSURE(is_tchar((unsigned char)name[i]), TFA_EUSAGE,
			   "sigv4: invalid character in a header name");
	s = malloc(len + 1);
	TFA_ENSURE(s != NULL, TFA_EINTERNAL, "out of memory");
	for (size_t i = 0; i < len; i++)
		s[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] - 'A' + 'a') : name[i];
	s[len] = '\0';
	*out = s;
	s = NULL;
out:
	free(s);
	return rc;
}

/*
 * Trims leading and trailing spaces and tabs and collapses inner runs to one
 * space. CR, LF and other controls cannot be sent in a header: refused.
 */
static tfa_err hdr_value(char **out, const char *value)
{
	tfa_err rc = TFA_OK;
	size_t len = value ? strnlen(value, TFA_SIGV4_MAX_FIELD + 1) : 0, n = 0;
	char *s = NULL;
	bool space = false;

	TFA_ENSURE(value != NULL && len <= TFA_SIGV4_MAX_FIELD, TFA_EUSAGE,
		   "sigv4: missing or overlong header value");
	s = malloc(len + 1);
	TFA_ENSURE(s != NULL, TFA_EINTERNAL, "out of memory");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		TFA_ENSURE(c >= 0x20 || c == '\t', TFA_EUSAGE,
			   "sigv4: control character in a header value");
		TFA_ENSURE(c != 0x7f, TFA_EUSAGE, "sigv4: control character in a header value");
		if (c == ' ' || c == '\t') {
			space = n > 0;
			continue;
		}
		if (space)
			s[n++] = ' ';
		space = false;
		s[n++] = (char)c;
	}
	s[n] = '\0';
	*out = s;
	s = NULL;
out:
	free(s);
	return rc;
}

static bool valid_scope_part(const char *s, size_t max)
{
	size_t len = s ? strnlen(s, max + 1) : 0;

	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static bool valid_amz_date(const char *d)
{
	if (d == NULL || strnlen(d, 17) != 16 || d[8] != 'T' || d[15] != 'Z')
		return false;
	for (int i = 0; i < 15; i++)
		if (i != 8 && !(d[i] >= '0' && d[i] <= '9'))
			return false;
	return true;
}

static bool valid_payload_hash(const char *h)
{
	if (strnlen(h, 65) != 64 || !tfa_is_lowerhex(h, 64))
		return false;
	/* S3's literal "UNSIGNED-PAYLOAD" is not used: every body is hashed. */
	return true;
}

static tfa_err hmac(uint8_t out[32], const void *key, size_t keylen, const void *msg, size_t len)
{
	unsigned int outlen = 0;

	if (HMAC(EVP_sha256(), key, (int)keylen, msg, len, out, &outlen) == NULL || outlen != 32)
		return tfa_error_openssl(TFA_ECRYPTO, "sigv4: HMAC-SHA256 failed");
	return TFA_OK;
}

tfa_err tfa_sigv4_sign_flags(tfa_buf *authorization, const tfa_sigv4_request *req, unsigned flags,
			     const char *service, const char *region, const char *amz_date,
			     const tfa_aws_creds *creds, tfa_buf *canonical_request,
			     tfa_buf *string_to_sign)
{
	tfa_err rc = TFA_OK;
	hdr *h = NULL;
	size_t nh = 0, maxh;
	tfa_buf creq, sts, signed_names, kbuf;
	char payload[65], creq_hash[65], sig_hex[65];
	uint8_t digest[32], k1[32], k2[32], k3[32], k4[32], sig[32];
	size_t mlen, secret_len;

	tfa_buf_init(&creq, CREQ_MAX);
	tfa_buf_init(&sts, 4096);
	tfa_buf_init(&signed_names, 8192);
	tfa_buf_init(&kbuf, 4096);
	TFA_ENSURE_ARG(authorization);
	TFA_ENSURE_ARG(req);
	TFA_ENSURE_ARG(creds);
	TFA_ENSURE(creds->access_key_id != NULL && creds->secret_access_key != NULL, TFA_EUSAGE,
		   "sigv4: the credentials lack a key");
	TFA_ENSURE(valid_scope_part(service, 64) && valid_scope_part(region, 64), TFA_EUSAGE,
		   "sigv4: invalid service or region name");
	TFA_ENSURE(valid_amz_date(amz_date), TFA_EUSAGE,
		   "sigv4: the date must be YYYYMMDDTHHMMSSZ");
	mlen = req->method ? strnlen(req->method, 17) : 0;
	TFA_ENSURE(mlen > 0 && mlen <= 16, TFA_EUSAGE, "sigv4: missing or invalid method");
	for (size_t i = 0; i < mlen; i++)
		TFA_ENSURE(req->method[i] >= 'A' && req->method[i] <= 'Z', TFA_EUSAGE,
			   "sigv4: missing or invalid method");
	TFA_ENSURE(req->nheaders <= TFA_SIGV4_MAX_HEADERS, TFA_EUSAGE,
		   "sigv4: more than %d headers", TFA_SIGV4_MAX_HEADERS);
	TFA_ENSURE(req->nheaders == 0 || req->headers != NULL, TFA_EUSAGE,
		   "sigv4: missing headers");
	TFA_ENSURE(req->body_len == 0 || req->body != NULL, TFA_EUSAGE, "sigv4: missing body");

	/* Headers: the caller's, plus Host, X-Amz-Date and the session token. */
	maxh = req->nheaders + 3;
	h = calloc(maxh, sizeof(*h));
	TFA_ENSURE(h != NULL, TFA_EINTERNAL, "out of memory");
	for (size_t i = 0; i < req->nheaders; i++, nh++) {
		TFA_GUARD(hdr_name(&h[nh].name, req->headers[i].name));
		TFA_GUARD(hdr_value(&h[nh].value, req->headers[i].value));
		h[nh].order = nh;
		TFA_ENSURE(strcmp(h[nh].name, "host") != 0 &&
			       strcmp(h[nh].name, "x-amz-date") != 0 &&
			       strcmp(h[nh].name, "authorization") != 0 &&
			       (creds->session_token == NULL ||
				strcmp(h[nh].name, "x-amz-security-token") != 0),
			   TFA_EUSAGE, "sigv4: header %s is set by the signer", h[nh].name);
	}
	TFA_GUARD(hdr_name(&h[nh].name, "host"));
	TFA_GUARD(hdr_value(&h[nh].value, req->host));
	TFA_ENSURE(h[nh].value[0] != '\0', TFA_EUSAGE, "sigv4: missing host");
	h[nh].order = nh;
	nh++;
	TFA_GUARD(hdr_name(&h[nh].name, "x-amz-date"));
	TFA_GUARD(hdr_value(&h[nh].value, amz_date));
	h[nh].order = nh;
	nh++;
	if (creds->session_token != NULL) {
		TFA_GUARD(hdr_name(&h[nh].name, "x-amz-security-token"));
		TFA_GUARD(hdr_value(&h[nh].value, creds->session_token));
		h[nh].order = nh;
		nh++;
	}
	qsort(h, nh, sizeof(*h), hdr_cmp);

	if (req->payload_hash != NULL) {
		TFA_ENSURE(valid_payload_hash(req->payload_hash), TFA_EUSAGE,
			   "sigv4: the payload hash must be 64 lowercase hex digits");
		memcpy(payload, req->payload_hash, 65);
	} else {
		tfa_sha256(digest, req->body, req->body_len);
		tfa_hex_encode(payload, digest, 32);
	}

	/* The canonical request. */
	TFA_GUARD(tfa_buf_printf(&creq, "%s\n", req->method));
	TFA_GUARD(tfa_sigv4_canonical_path(&creq, req->path, flags));
	TFA_GUARD(tfa_buf_putc(&creq, '\n'));
	TFA_GUARD(tfa_sigv4_canonical_query(&creq, req->query));
	TFA_GUARD(tfa_buf_putc(&creq, '\n'));
	for (size_t i = 0; i < nh; i++) {
		if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
			/* Repeated header: values joined by commas, in request order. */
			creq.len--;
			TFA_GUARD(tfa_buf_printf(&creq, ",%s\n", h[i].value));
			continue;
		}
		TFA_GUARD(tfa_buf_printf(&creq, "%s:%s\n", h[i].name, h[i].value));
		TFA_GUARD(tfa_buf_printf(&signed_names, "%s%s", i ? ";" : "", h[i].name));
	}
	TFA_GUARD(tfa_buf_printf(&creq, "\n%s\n%s", (const char *)signed_names.data, payload));

	/* The string to sign. */
	tfa_sha256(digest, creq.data, creq.len);
	tfa_hex_encode(creq_hash, digest, 32);
	TFA_GUARD(tfa_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s",
				 amz_date, amz_date, region, service, creq_hash));

	/* The signing key. */
	secret_len = strnlen(creds->secret_access_key, 1025);
	TFA_ENSURE(secret_len > 0 && secret_len <= 1024, TFA_EUSAGE,
		   "sigv4: the secret access key is empty or too long");
	TFA_GUARD(tfa_buf_append(&kbuf, "AWS4", 4));
	TFA_GUARD(tfa_buf_append(&kbuf, creds->secret_access_key, secret_len));
	TFA_GUARD(hmac(k1, kbuf.data, kbuf.len, amz_date, 8));
	TFA_GUARD(hmac(k2, k1, 32, region, strlen(region)));
	TFA_GUARD(hmac(k3, k2, 32, service, strlen(service)));
	TFA_GUARD(hmac(k4, k3, 32, "aws4_request", 12));
	TFA_GUARD(hmac(sig, k4, 32, sts.data, sts.len));
	tfa_hex_encode(sig_hex, sig, 32);

	TFA_GUARD(tfa_buf_printf(authorization,
				 "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, "
				 "SignedHeaders=%s, Signature=%s",
				 creds->access_key_id, amz_date, region, service,
				 (const char *)signed_names.data, sig_hex));
	if (canonical_request != NULL)
		TFA_GUARD(tfa_buf_append(canonical_request, creq.data, creq.len));
	if (string_to_sign != NULL)
		TFA_GUARD(tfa_buf_append(string_to_sign, sts.data, sts.len));
out:
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	OPENSSL_cleanse(k3, sizeof(k3));
	OPENSSL_cleanse(k4, sizeof(k4));
	tfa_buf_wipe_free(&kbuf);
	/* The canonical request holds the session token. */
	tfa_buf_wipe_free(&creq);
	tfa_buf_free(&sts);
	tfa_buf_free(&signed_names);
	for (size_t i = 0; h != NULL && i < maxh; i++) {
		free(h[i].name);
		if (h[i].value != NULL)
			OPENSSL_cleanse(h[i].value, strlen(h[i].value));
		free(h[i].value);
	}
	free(h);
	return rc;
}

tfa_err tfa_sigv4_sign(tfa_buf *authorization, const tfa_sigv4_request *req, const char *service,
		       const char *region, const char *amz_date, const tfa_aws_creds *creds,
		       tfa_buf *canonical_request, tfa_buf *string_to_sign)
{
	unsigned flags = 0;

	if (req != NULL && !req->s3)
		flags = TFA_SIGV4_NORMALIZE | TFA_SIGV4_ENCODE_PATH;
	return tfa_sigv4_sign_flags(authorization, req, flags, service, region, amz_date, creds,
				    canonical_request, string_to_sign);
}
