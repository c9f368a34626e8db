/*
 * State identities for reconcile: lineage, serial and terraform_version from
 * the top level of a state, and the hash of its bytes, from one read.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "capture/statefacts.h"
#include "format/jfield.h"
#include "tfattest/buffer.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

/* The facts of body, whose hash the caller has set. */
static tfa_err facts_of(tfa_state_facts *out, const uint8_t *body, size_t len, const char *name)
{
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	const tfa_json_value *root, *v;
	const char *s;
	size_t n;

	rc = tfa_json_parse(&doc, body, len);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "%s is not JSON: %s", name, tfa_error_last()->message);
	root = tfa_json_root(doc);
	TFA_ENSURE(tfa_json_type_of(root) == TFA_JSON_OBJECT, TFA_EFORMAT,
		   "%s is not a Terraform state (not a JSON object)", name);
	TFA_ENSURE(tfa_json_get(root, "lineage") != NULL && tfa_json_get(root, "serial") != NULL,
		   TFA_EFORMAT, "%s is not a Terraform state (no lineage or serial)", name);
	TFA_GUARD(tfa_jf_str(&s, &n, root, "lineage", TFA_STATE_LINEAGE_MAX, name));
	memcpy(out->lineage, s, n);
	out->lineage[n] = '\0';
	TFA_GUARD(tfa_jf_int(&out->serial, root, "serial", 0, (int64_t)1 << 53, name));
	v = tfa_json_get(root, "terraform_version");
	s = v ? tfa_json_string(v, &n) : NULL;
	if (s != NULL && n <= TFA_STATE_TFVER_MAX && memchr(s, 0, n) == NULL) {
		memcpy(out->tf_version, s, n);
		out->tf_version[n] = '\0';
	}
out:
	tfa_json_free(doc);
	if (rc != TFA_OK && rc != TFA_EINTERNAL)
		rc = tfa_error_set(TFA_EFORMAT, "%s", tfa_error_last()->message);
	return rc;
}

tfa_err tfa_state_facts_parse(tfa_state_facts *out, const uint8_t *body, size_t len,
			      const char *name)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE_ARG(out);
	memset(out, 0, sizeof(*out));
	TFA_ENSURE(body != NULL || len == 0, TFA_EUSAGE, "missing argument: body");
	if (name == NULL)
		name = "state";
	tfa_sha256(out->sha256, body ? body : (const uint8_t *)"", len);
	out->size = len;
	TFA_ENSURE(len <= TFA_STATE_BODY_MAX, TFA_EFORMAT, "%s is larger than %zu bytes", name,
		   TFA_STATE_BODY_MAX);
	TFA_ENSURE(len > 0, TFA_EFORMAT, "%s is empty", name);
	rc = facts_of(out, body, len, name);
out:
	return rc;
}

tfa_err tfa_state_facts_read_fd(tfa_state_facts *out, int fd, const char *name)
{
	tfa_err rc = TFA_OK;
	EVP_MD_CTX *md = NULL;
	tfa_buf b;
	unsigned dlen = 0;
	uint8_t d[TFA_SHA256_LEN];
	bool too_big = false;
	uint64_t total = 0;

	tfa_buf_init(&b, TFA_STATE_BODY_MAX);
	TFA_ENSURE_ARG(out);
	memset(out, 0, sizeof(*out));
	if (name == NULL)
		name = "state";
	md = EVP_MD_CTX_new();
	TFA_ENSURE(md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1, TFA_EINTERNAL,
		   "sha256: could not start a digest");
	for (;;) {
		uint8_t chunk[65536];
		ssize_t k = read(fd, chunk, sizeof(chunk));

		if (k < 0 && errno == EINTR)
			continue;
		TFA_ENSURE(k >= 0, TFA_EIO, "read %s: %s", name, strerror(errno));
		if (k == 0)
			break;
		total += (uint64_t)k;
		TFA_ENSURE(EVP_DigestUpdate(md, chunk, (size_t)k) == 1, TFA_EINTERNAL,
			   "sha256: digest update failed");
		/* Past the cap the rest is only hashed, so the body is still named by its hash. */
		if (!too_big && b.len + (size_t)k > TFA_STATE_BODY_MAX) {
			too_big = true;
			tfa_buf_free(&b);
			tfa_buf_init(&b, TFA_STATE_BODY_MAX);
		}
		if (!too_big)
			TFA_GUARD(tfa_buf_append(&b, chunk, (size_t)k));
	}
	TFA_ENSURE(EVP_DigestFinal_ex(md, d, &dlen) == 1 && dlen == TFA_SHA256_LEN, TFA_EINTERNAL,
		   "sha256: digest failed");
	memcpy(out->sha256, d, sizeof(d));
	out->size = total;
	TFA_ENSURE(!too_big, TFA_EFORMAT, "%s is larger than %zu bytes", name, TFA_STATE_BODY_MAX);
	TFA_ENSURE(total > 0, TFA_EFORMAT, "%s is empty", name);
	rc = facts_of(out, b.data, b.len, name);
out:
	EVP_MD_CTX_free(md);
	tfa_buf_free(&b);
	return rc;
}
