#include <stdlib.h>
#include <string.h>

#include "tfattest/sys/guard.h"
#include "tfattest/sys/store.h"

struct tfa_store {
	const tfa_store_backend *backend;
	void *ctx;
};

tfa_err tfa_store_open(tfa_store **out, const char *uri)
{
	tfa_err rc = TFA_OK;
	tfa_store *st = NULL;
	const tfa_store_backend *b = NULL;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE(uri != NULL && *uri, TFA_EUSAGE, "no store given (--store or TFATTEST_STORE)");
	for (const tfa_store_backend *const *p = tfa_store_backends; *p; p++) {
		size_t n = strlen((*p)->scheme);
		if (n == 0 || strncmp(uri, (*p)->scheme, n) == 0) {
			b = *p;
			break;
		}
	}
	TFA_ENSURE(b != NULL, TFA_EUSAGE, "unsupported store URI");
	TFA_ENSURE(b->abi == TFA_STORE_ABI, TFA_EINTERNAL, "store backend %s has ABI %u", b->name,
		   b->abi);
	st = calloc(1, sizeof(*st));
	TFA_ENSURE(st != NULL, TFA_EINTERNAL, "out of memory");
	st->backend = b;
	TFA_GUARD(b->open(&st->ctx, uri));
	*out = st;
	st = NULL;
out:
	tfa_store_free(st);
	return rc;
}

tfa_err tfa_store_create_chain(tfa_store *st, const uint8_t *meta, size_t len)
{
	if (len > TFA_CHAIN_META_MAX)
		return tfa_error_set(TFA_EUSAGE, "chain metadata is too large");
	return st->backend->create_chain(st->ctx, meta, len);
}

tfa_err tfa_store_read_chain(tfa_store *st, tfa_buf *meta)
{
	return st->backend->read_chain(st->ctx, meta);
}

tfa_err tfa_store_head(tfa_store *st, uint64_t *seq)
{
	return st->backend->head(st->ctx, seq);
}

tfa_err tfa_store_get(tfa_store *st, uint64_t seq, tfa_buf *artifact, tfa_buf *sig)
{
	if (seq == 0)
		return tfa_error_set(TFA_EUSAGE, "sequence numbers start at 1");
	return st->backend->get(st->ctx, seq, artifact, sig);
}

tfa_err tfa_store_append(tfa_store *st, uint64_t seq, const uint8_t *artifact,
			 size_t artifact_len, const uint8_t *sig, size_t sig_len)
{
	if (seq == 0)
		return tfa_error_set(TFA_EUSAGE, "sequence numbers start at 1");
	if (artifact_len == 0 || sig_len == 0 || artifact_len + sig_len > TFA_RECORD_MAX)
		return tfa_error_set(TFA_EUSAGE, "record has an invalid size");
	return st->backend->append(st->ctx, seq, artifact, artifact_len, sig, sig_len);
}

tfa_err tfa_store_put_checkpoint(tfa_store *st, uint64_t seq, const uint8_t *data, size_t len)
{
	if (st->backend->put_checkpoint == NULL)
		return tfa_error_set(TFA_EUSAGE, "the %s store keeps no checkpoints", st->backend->name);
	if (seq == 0)
		return tfa_error_set(TFA_EUSAGE, "sequence numbers start at 1");
	if (len == 0 || len > TFA_STORE_CHECKPOINT_MAX)
		return tfa_error_set(TFA_EUSAGE, "checkpoint has an invalid size");
	return st->backend->put_checkpoint(st->ctx, seq, data, len);
}

tfa_err tfa_store_latest_checkpoint(tfa_store *st, uint64_t min_seq, uint64_t max_seq,
				    uint64_t *seq, tfa_buf *data)
{
	if (st->backend->latest_checkpoint == NULL)
		return tfa_error_set(TFA_ENOTFOUND, "the %s store keeps no checkpoints", st->backend->name);
	if (min_seq == 0 || min_seq > max_seq)
		return tfa_error_set(TFA_EUSAGE, "invalid checkpoint range");
	return st->backend->latest_checkpoint(st->ctx, min_seq, max_seq, seq, data);
}

const char *tfa_store_backend_name(const tfa_store *st)
{
	return st->backend->name;
}

void tfa_store_free(tfa_store *st)
{
	if (st == NULL)
		return;
	if (st->ctx)
		st->backend->close(st->ctx);
	free(st);
}
