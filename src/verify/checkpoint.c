/* Checkpoint documents and files: parsing and writing (verifier build). */
#include <string.h>

#include "format/b64.h"
#include "format/hex.h"
#include "format/jfield.h"
#include "tfattest/checkpoint.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

tfa_err tfa_checkpoint_parse(tfa_checkpoint *out, const uint8_t *doc, size_t len)
{
	static const char *const members[] = {"chain_id", "head_hash", "schema_version", "seq",
					      "signer",	  "time",      "type",		 NULL};
	static const char *const signer_members[] = {"algorithm", "key_fingerprint", NULL};
	tfa_err rc = TFA_OK;
	tfa_json *js = NULL;
	const tfa_json_value *root, *sg;
	const char *s;
	size_t n;
	int64_t v;
	char alg[40];
	uint8_t tmp[TFA_SHA256_LEN];
	tfa_buf canon;

	memset(out, 0, sizeof(*out));
	tfa_buf_init(&canon, TFA_CHECKPOINT_DOC_MAX + 64);
	TFA_ENSURE(len <= TFA_CHECKPOINT_DOC_MAX, TFA_EFORMAT, "checkpoint is larger than %u bytes",
		   TFA_CHECKPOINT_DOC_MAX);
	TFA_GUARD(tfa_json_parse(&js, doc, len));
	root = tfa_json_root(js);
	TFA_ENSURE(tfa_json_type_of(root) == TFA_JSON_OBJECT, TFA_EFORMAT,
		   "checkpoint is not a JSON object");
	TFA_GUARD(tfa_jf_only(root, members, "checkpoint"));
	TFA_GUARD(tfa_jf_str(&s, &n, root, "type", 64, "checkpoint"));
	TFA_ENSURE(n == strlen(TFA_CHECKPOINT_TYPE) && memcmp(s, TFA_CHECKPOINT_TYPE, n) == 0,
		   TFA_EFORMAT, "checkpoint type is not %s", TFA_CHECKPOINT_TYPE);
	TFA_GUARD(tfa_jf_int(&v, root, "schema_version", 0, 1000, "checkpoint"));
	TFA_ENSURE(v == TFA_CHECKPOINT_SCHEMA, TFA_EFORMAT,
		   "unsupported checkpoint schema version %lld", (long long)v);
	TFA_GUARD(tfa_jf_str(&s, &n, root, "chain_id", TFA_CHAIN_ID_MAX, "checkpoint"));
	TFA_GUARD(tfa_chain_id_check(s, n));
	memcpy(out->chain_id, s, n);
	TFA_GUARD(tfa_jf_int(&v, root, "seq", 1, (int64_t)TFA_SEQ_MAX, "checkpoint"));
	out->seq = (uint64_t)v;
	TFA_GUARD(tfa_jf_hash(out->head_hash, root, "head_hash", "checkpoint"));
	TFA_GUARD(tfa_jf_str(&s, &n, root, "time", 32, "checkpoint"));
	TFA_GUARD(tfa_time_parse(&out->time, s, n));
	TFA_GUARD(tfa_jf_obj(&sg, root, "signer", "checkpoint"));
	TFA_GUARD(tfa_jf_only(sg, signer_members, "checkpoint signer"));
	TFA_GUARD(tfa_jf_hash(tmp, sg, "key_fingerprint", "checkpoint signer"));
	TFA_GUARD(tfa_jf_strcpy(out->key_fpr, sizeof(out->key_fpr), sg, "key_fingerprint",
				"checkpoint signer"));
	TFA_GUARD(tfa_jf_strcpy(alg, sizeof(alg), sg, "algorithm", "checkpoint signer"));
	TFA_GUARD(tfa_sig_alg_from_name(&out->alg, alg));
	if (tfa_jcs_write(&canon, root) != TFA_OK || canon.len != len ||
	    memcmp(canon.data, doc, len) != 0)
		TFA_BAIL(TFA_EFORMAT, "checkpoint bytes are not in RFC 8785 canonical form");
out:
	tfa_buf_free(&canon);
	tfa_json_free(js);
	return rc;
}

void tfa_checkpoint_file_init(tfa_checkpoint_file *f)
{
	memset(f, 0, sizeof(*f));
	tfa_buf_init(&f->doc, TFA_CHECKPOINT_DOC_MAX);
	tfa_buf_init(&f->sig, TFA_SIG_MAX);
	tfa_buf_init(&f->tsr, TFA_CHECKPOINT_TSR_MAX);
}

void tfa_checkpoint_file_clear(tfa_checkpoint_file *f)
{
	if (f == NULL)
		return;
	tfa_buf_free(&f->doc);
	tfa_buf_free(&f->sig);
	tfa_buf_free(&f->tsr);
}

/* The next line of [*p, end): its length without the '\n', which must be there. */
static tfa_err next_line(const uint8_t **line, size_t *n, const uint8_t **p, const uint8_t *end,
			 const char *what)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));

	if (nl == NULL)
		return tfa_error_set(TFA_EFORMAT, "checkpoint file: %s does not end with a newline",
				     what);
	*line = *p;
	*n = (size_t)(nl - *p);
	*p = nl + 1;
	return TFA_OK;
}

/* Decodes base64 into b (whose max caps it). */
static tfa_err b64_into(tfa_buf *b, const uint8_t *s, size_t n, const char *what)
{
	tfa_err rc = TFA_OK;
	size_t got;

	TFA_GUARD(tfa_buf_reserve(b, b->max));
	if (tfa_b64_decode(b->data, b->max, &got, (const char *)s, n) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "checkpoint file: %s: %s", what, tfa_error_last()->message);
	b->len = got;
out:
	return rc;
}

tfa_err tfa_checkpoint_file_parse(tfa_checkpoint_file *out, const uint8_t *bytes, size_t len)
{
	tfa_err rc = TFA_OK;
	const uint8_t *p = bytes, *end = bytes + len, *line = NULL;
	size_t n = 0;

	tfa_buf_clear(&out->doc);
	tfa_buf_clear(&out->sig);
	tfa_buf_clear(&out->tsr);
	out->has_tsa = false;
	out->nonce_hex[0] = '\0';
	TFA_ENSURE(len <= TFA_CHECKPOINT_FILE_MAX, TFA_EFORMAT,
		   "checkpoint file is larger than %u bytes", TFA_CHECKPOINT_FILE_MAX);
	TFA_GUARD(next_line(&line, &n, &p, end, "the first line"));
	TFA_ENSURE(n == strlen(TFA_CHECKPOINT_MAGIC) && memcmp(line, TFA_CHECKPOINT_MAGIC, n) == 0,
		   TFA_EFORMAT, "not a checkpoint file (the first line is not \"%s\")",
		   TFA_CHECKPOINT_MAGIC);
	TFA_GUARD(next_line(&line, &n, &p, end, "the checkpoint line"));
	TFA_ENSURE(n > 0 && n <= TFA_CHECKPOINT_DOC_MAX, TFA_EFORMAT,
		   "checkpoint file: the checkpoint line is empty or too long");
	TFA_GUARD(tfa_buf_append(&out->doc, line, n));
	TFA_GUARD(tfa_checkpoint_parse(&out->cp, out->doc.data, out->doc.len));
	TFA_GUARD(next_line(&line, &n, &p, end, "the signature line"));
	TFA_ENSURE(n > 4 && memcmp(line, "sig ", 4) == 0, TFA_EFORMAT,
		   "checkpoint file: the third line is not \"sig <base64>\"");
	TFA_GUARD(b64_into(&out->sig, line + 4, n - 4, "signature"));
	if (p < end) {
		TFA_GUARD(next_line(&line, &n, &p, end, "the timestamp line"));
		TFA_ENSURE(n > 4 + 16 + 1 && memcmp(line, "tsa ", 4) == 0 && line[4 + 16] == ' ',
			   TFA_EFORMAT,
			   "checkpoint file: the fourth line is not \"tsa <nonce> <base64>\"");
		TFA_ENSURE(tfa_is_lowerhex((const char *)line + 4, 16), TFA_EFORMAT,
			   "checkpoint file: the timestamp nonce is not 16 lowercase hex digits");
		memcpy(out->nonce_hex, line + 4, 16);
		out->nonce_hex[16] = '\0';
		TFA_GUARD(b64_into(&out->tsr, line + 21, n - 21, "timestamp"));
		out->has_tsa = true;
	}
	TFA_ENSURE(p == end, TFA_EFORMAT, "checkpoint file: unexpected data after the last line");
out:
	return rc;
}

tfa_err tfa_checkpoint_file_write(tfa_buf *out, const tfa_checkpoint_file *f)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE(f->doc.len > 0 && memchr(f->doc.data, '\n', f->doc.len) == NULL &&
		       f->sig.len > 0,
		   TFA_EINTERNAL, "incomplete checkpoint");
	TFA_GUARD(tfa_buf_printf(out, "%s\n", TFA_CHECKPOINT_MAGIC));
	TFA_GUARD(tfa_buf_append(out, f->doc.data, f->doc.len));
	TFA_GUARD(tfa_buf_append(out, "\nsig ", 5));
	TFA_GUARD(tfa_b64_encode(out, f->sig.data, f->sig.len));
	TFA_GUARD(tfa_buf_putc(out, '\n'));
	if (f->has_tsa) {
		TFA_ENSURE(strlen(f->nonce_hex) == 16 && f->tsr.len > 0, TFA_EINTERNAL,
			   "incomplete checkpoint timestamp");
		TFA_GUARD(tfa_buf_printf(out, "tsa %s ", f->nonce_hex));
		TFA_GUARD(tfa_b64_encode(out, f->tsr.data, f->tsr.len));
		TFA_GUARD(tfa_buf_putc(out, '\n'));
	}
out:
	return rc;
}
