/*
 * The store front end. A store backend either sequences itself (fs) or is
 * composed here with a sequencer (s3 + dynamodb). In the composed case the
 * append protocol is (docs/AWS-STORE.md):
 *
 *   head:   read the sequencer's state (head h, record bytes R_h); when the
 *           store lacks record h, write R_h to it (roll forward).
 *   append: claim seq n = h+1 in the sequencer with the record's bytes
 *           (conditional on the head still being h), then write the record
 *           to the store.
 *
 * Every record below the sequencer's head is in the store, because a writer
 * claims n+1 only after it saw record n in the store (or put it there), and
 * the store never loses a record. Only the head record can be missing, and
 * the sequencer holds its bytes: the next writer stores it exactly as signed.
 *
 * The sequencer's copy of the head record (checked against its SHA-256 in
 * the sequencer) is also the reference for the store's: every read of the
 * head compares the two, so that an object altered on its way to a service
 * that does not check the PUT's checksum is named as such, not met later as
 * an unreadable record.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "record/record.h"
#include "tfattest/sys/guard.h"
#include "tfattest/sys/sequencer.h"
#include "tfattest/sys/store.h"
#include "verify/crypto.h"

struct tfa_store {
	const tfa_store_backend *backend;
	void *ctx;
	const tfa_sequencer_backend *seqb; /* NULL: the backend sequences itself */
	void *seqctx;
};

/*
 * Test hook: TFATTEST_TEST_CRASH_AT=after-claim kills the process with
 * SIGKILL right after the sequencer accepted a claim and before the store
 * holds the record, the one point where a crash leaves work for the next
 * writer. Unset in production; any other value is ignored.
 */
static void test_crash_point(const char *where)
{
	const char *v = getenv("TFATTEST_TEST_CRASH_AT");

	if (v != NULL && strcmp(v, where) == 0)
		raise(SIGKILL);
}

static const tfa_store_backend *find_store_backend(const char *uri)
{
	for (const tfa_store_backend *const *p = tfa_store_backends; *p; p++) {
		size_t n = strlen((*p)->scheme);
		if (n == 0 || strncmp(uri, (*p)->scheme, n) == 0)
			return *p;
	}
	return NULL;
}

static const tfa_sequencer_backend *find_sequencer_backend(const char *uri)
{
	for (const tfa_sequencer_backend *const *p = tfa_sequencer_backends; *p; p++) {
		size_t n = strlen((*p)->scheme);
		if (n > 0 && strncmp(uri, (*p)->scheme, n) == 0)
			return *p;
	}
	return NULL;
}

/* The chain's name in the sequencer: the store URI without its query. */
static tfa_err scope_of(char *out, size_t outsz, const char *uri)
{
	size_t n = strcspn(uri, "?#");

	while (n > 0 && uri[n - 1] == '/')
		n--;
	if (n == 0 || n >= outsz || n > TFA_SEQUENCER_SCOPE_MAX)
		return tfa_error_set(TFA_EUSAGE, "store URI is empty or too long");
	memcpy(out, uri, n);
	out[n] = '\0';
	return TFA_OK;
}

tfa_err tfa_store_open_seq(tfa_store **out, const char *uri, const char *sequencer_uri)
{
	tfa_err rc = TFA_OK;
	tfa_store *st = NULL;
	const tfa_store_backend *b = NULL;
	const tfa_sequencer_backend *sb = NULL;
	char scope[TFA_SEQUENCER_SCOPE_MAX + 1];

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE(uri != NULL && *uri, TFA_EUSAGE, "no store given (--store or TFATTEST_STORE)");
	b = find_store_backend(uri);
	TFA_ENSURE(b != NULL, TFA_EUSAGE, "unsupported store URI");
	TFA_ENSURE(b->abi == TFA_STORE_ABI, TFA_EINTERNAL, "store backend %s has ABI %u", b->name,
		   b->abi);
	if (sequencer_uri != NULL && *sequencer_uri) {
		TFA_ENSURE(b->caps & TFA_STORE_CAP_SEQUENCED, TFA_EUSAGE,
			   "the %s store is its own sequencer and takes no --sequencer", b->name);
		sb = find_sequencer_backend(sequencer_uri);
		TFA_ENSURE(sb != NULL, TFA_EUSAGE, "unsupported sequencer URI");
		TFA_ENSURE(sb->abi == TFA_SEQUENCER_ABI, TFA_EINTERNAL,
			   "sequencer backend %s has ABI %u", sb->name, sb->abi);
		TFA_GUARD(scope_of(scope, sizeof(scope), uri));
	}
	st = calloc(1, sizeof(*st));
	TFA_ENSURE(st != NULL, TFA_EINTERNAL, "out of memory");
	st->backend = b;
	TFA_GUARD(b->open(&st->ctx, uri));
	if (sb != NULL) {
		st->seqb = sb;
		TFA_GUARD(sb->open(&st->seqctx, sequencer_uri, scope));
	}
	*out = st;
	st = NULL;
out:
	tfa_store_free(st);
	return rc;
}

tfa_err tfa_store_open(tfa_store **out, const char *uri)
{
	return tfa_store_open_seq(out, uri, NULL);
}

/* A store that needs a sequencer and has none is read-only. */
static tfa_err check_writable(const tfa_store *st)
{
	if ((st->backend->caps & TFA_STORE_CAP_SEQUENCED) && st->seqb == NULL)
		return tfa_error_set(TFA_EUSAGE,
				     "the %s store needs a sequencer to write (--sequencer or "
				     "TFATTEST_SEQUENCER)",
				     st->backend->name);
	if (st->backend->writable != NULL)
		return st->backend->writable(st->ctx);
	return TFA_OK;
}

tfa_err tfa_store_create_chain(tfa_store *st, const uint8_t *meta, size_t len)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE(len <= TFA_CHAIN_META_MAX, TFA_EUSAGE, "chain metadata is too large");
	TFA_GUARD(check_writable(st));
	if (st->seqb != NULL) {
		/* The sequencer decides which init wins; the store then holds its copy. */
		TFA_GUARD(st->seqb->create(st->seqctx, meta, len));
		test_crash_point("after-create");
	}
	rc = st->backend->create_chain(st->ctx, meta, len);
out:
	return rc;
}

tfa_err tfa_store_read_chain(tfa_store *st, tfa_buf *meta)
{
	tfa_err rc = TFA_OK;
	tfa_buf rec, smeta;
	uint64_t head = 0;

	tfa_buf_init(&rec, st->seqb ? st->seqb->record_max : 1);
	tfa_buf_init(&smeta, TFA_CHAIN_META_MAX);
	rc = st->backend->read_chain(st->ctx, meta);
	if (rc != TFA_ENOTFOUND || st->seqb == NULL)
		goto out;
	/* An init that died after the sequencer's create: finish it. */
	rc = st->seqb->state(st->seqctx, &head, &rec, &smeta);
	if (rc == TFA_ENOTFOUND)
		TFA_BAIL(TFA_ENOTFOUND,
			 "the store holds no chain: check the store and the sequencer");
	TFA_GUARD(rc);
	rc = st->backend->create_chain(st->ctx, smeta.data, smeta.len);
	if (rc != TFA_OK && rc != TFA_ECONFLICT)
		goto out;
	tfa_buf_clear(meta);
	rc = st->backend->read_chain(st->ctx, meta);
out:
	tfa_buf_free(&rec);
	tfa_buf_free(&smeta);
	return rc;
}

/*
 * TFA_EBACKEND: the store's copy of record seq is not the sequencer's `rec`.
 * `why` says how it differs.
 */
static tfa_err copies_differ(tfa_store *st, uint64_t seq, const uint8_t *rec, size_t len,
			     const char *why)
{
	uint8_t d[TFA_SHA256_LEN];
	char hex[2 * TFA_SHA256_LEN + 1];

	tfa_sha256(d, rec, len);
	tfa_hex_encode(hex, d, sizeof(d));
	return tfa_error_set(TFA_EBACKEND,
			     "record %" PRIu64 " in the %s store differs from the %s sequencer's "
			     "copy (sha256 %s): the %s object was altered or damaged (%s)",
			     seq, st->backend->name, st->seqb->name, hex, st->backend->name, why);
}

/* Writes record `seq` from its stored form, unless the store holds it already. */
static tfa_err store_record(tfa_store *st, uint64_t seq, const uint8_t *rec, size_t len)
{
	tfa_err rc = TFA_OK;
	tfa_buf art, sig;
	char why[600];

	tfa_buf_init(&art, TFA_RECORD_MAX);
	tfa_buf_init(&sig, TFA_RECORD_MAX);
	rc = tfa_record_decode(rec, len, &art, &sig);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "the sequencer's record %" PRIu64 " is malformed: %s", seq,
			 tfa_error_last()->message);
	rc = st->backend->append(st->ctx, seq, art.data, art.len, sig.data, sig.len);
	if (rc == TFA_ECONFLICT) {
		snprintf(why, sizeof(why), "%s", tfa_error_last()->message);
		rc = copies_differ(st, seq, rec, len, why);
	}
out:
	tfa_buf_free(&art);
	tfa_buf_free(&sig);
	return rc;
}

/* Compares the store's record `seq` with the sequencer's copy `rec`. */
static tfa_err check_head_copy(tfa_store *st, uint64_t seq, const tfa_buf *rec, tfa_err got,
			       const tfa_buf *art, const tfa_buf *sig)
{
	tfa_err rc = TFA_OK;
	tfa_buf mine;
	uint8_t d[TFA_SHA256_LEN];
	char hex[2 * TFA_SHA256_LEN + 1], why[600];

	tfa_buf_init(&mine, TFA_RECORD_MAX * 2 + 4);
	if (got == TFA_EFORMAT) {
		snprintf(why, sizeof(why), "%s", tfa_error_last()->message);
		rc = copies_differ(st, seq, rec->data, rec->len, why);
		goto out;
	}
	TFA_GUARD(got);
	TFA_GUARD(tfa_record_encode(&mine, art->data, art->len, sig->data, sig->len));
	if (mine.len != rec->len || CRYPTO_memcmp(mine.data, rec->data, rec->len) != 0) {
		tfa_sha256(d, mine.data, mine.len);
		tfa_hex_encode(hex, d, sizeof(d));
		snprintf(why, sizeof(why), "the store's copy has sha256 %s", hex);
		rc = copies_differ(st, seq, rec->data, rec->len, why);
		goto out;
	}
out:
	tfa_buf_free(&mine);
	return rc;
}

tfa_err tfa_store_head(tfa_store *st, uint64_t *seq)
{
	tfa_err rc = TFA_OK;
	tfa_buf rec, meta, a, s;
	uint64_t head = 0;

	tfa_buf_init(&rec, st->seqb ? st->seqb->record_max : 1);
	tfa_buf_init(&meta, TFA_CHAIN_META_MAX);
	tfa_buf_init(&a, TFA_RECORD_MAX);
	tfa_buf_init(&s, TFA_RECORD_MAX);
	TFA_ENSURE_ARG(seq);
	if (st->seqb == NULL) {
		TFA_GUARD(st->backend->head(st->ctx, seq));
		goto out;
	}
	rc = st->seqb->state(st->seqctx, &head, &rec, &meta);
	if (rc == TFA_ENOTFOUND)
		TFA_BAIL(TFA_ENOTFOUND,
			 "the store holds no chain: check the store and the sequencer");
	TFA_GUARD(rc);
	if (head > 0) {
		rc = st->backend->get(st->ctx, head, &a, &s);
		if (rc == TFA_ENOTFOUND) {
			/* Its writer died between the claim and the store write. A
			 * store opened only to read (no retention for new objects)
			 * leaves it to the next writer: its head is the one before. */
			tfa_error_clear();
			if (check_writable(st) != TFA_OK) {
				tfa_error_clear();
				head--;
				rc = TFA_OK;
			} else {
				rc = store_record(st, head, rec.data, rec.len);
			}
		} else {
			rc = check_head_copy(st, head, &rec, rc, &a, &s);
		}
		TFA_GUARD(rc);
	}
	*seq = head;
out:
	tfa_buf_free(&rec);
	tfa_buf_free(&meta);
	tfa_buf_free(&a);
	tfa_buf_free(&s);
	return rc;
}

tfa_err tfa_store_get(tfa_store *st, uint64_t seq, tfa_buf *artifact, tfa_buf *sig)
{
	if (seq == 0)
		return tfa_error_set(TFA_EUSAGE, "sequence numbers start at 1");
	return st->backend->get(st->ctx, seq, artifact, sig);
}

/*
 * After a claim that reported a conflict: TFA_OK when the sequencer's head is
 * `seq` with exactly our bytes, i.e. an earlier attempt of this same claim
 * succeeded and only its answer was lost (a timeout, then a retry).
 */
static tfa_err claim_was_ours(tfa_store *st, uint64_t seq, const tfa_buf *ours)
{
	tfa_err rc = TFA_OK;
	tfa_buf rec, meta;
	uint64_t head = 0;

	tfa_buf_init(&rec, st->seqb->record_max);
	tfa_buf_init(&meta, TFA_CHAIN_META_MAX);
	TFA_GUARD(st->seqb->state(st->seqctx, &head, &rec, &meta));
	if (head != seq || rec.len != ours->len ||
	    CRYPTO_memcmp(rec.data, ours->data, rec.len) != 0)
		rc = TFA_ECONFLICT;
out:
	tfa_buf_free(&rec);
	tfa_buf_free(&meta);
	return rc;
}

static tfa_err append_sequenced(tfa_store *st, uint64_t seq, const uint8_t *artifact,
				size_t artifact_len, const uint8_t *sig, size_t sig_len)
{
	tfa_err rc = TFA_OK;
	tfa_buf rec;

	tfa_buf_init(&rec, TFA_RECORD_MAX * 2 + 4);
	TFA_GUARD(tfa_record_encode(&rec, artifact, artifact_len, sig, sig_len));
	TFA_ENSURE(rec.len <= st->seqb->record_max, TFA_EUSAGE,
		   "record %" PRIu64
		   " is %zu bytes; the %s sequencer takes records up to %zu bytes",
		   seq, rec.len, st->seqb->name, st->seqb->record_max);
	rc = st->seqb->claim(st->seqctx, seq, rec.data, rec.len);
	if (rc == TFA_ECONFLICT) {
		rc = claim_was_ours(st, seq, &rec);
		if (rc == TFA_ECONFLICT)
			TFA_BAIL(TFA_ECONFLICT, "seq %" PRIu64 " is taken", seq);
	}
	TFA_GUARD(rc);
	test_crash_point("after-claim");
	rc = st->backend->append(st->ctx, seq, artifact, artifact_len, sig, sig_len);
	if (rc == TFA_ECONFLICT) {
		char why[600];
		snprintf(why, sizeof(why), "%s", tfa_error_last()->message);
		rc = copies_differ(st, seq, rec.data, rec.len, why);
		goto out;
	}
	if (rc != TFA_OK)
		TFA_BAIL(rc,
			 "record %" PRIu64 " is sequenced but not yet stored (the next writer "
			 "stores it): %s",
			 seq, tfa_error_last()->message);
out:
	tfa_buf_free(&rec);
	return rc;
}

tfa_err tfa_store_append(tfa_store *st, uint64_t seq, const uint8_t *artifact, size_t artifact_len,
			 const uint8_t *sig, size_t sig_len)
{
	tfa_err rc;

	if (seq == 0)
		return tfa_error_set(TFA_EUSAGE, "sequence numbers start at 1");
	if (artifact_len == 0 || sig_len == 0 || artifact_len + sig_len > TFA_RECORD_MAX)
		return tfa_error_set(TFA_EUSAGE, "record has an invalid size");
	if ((rc = check_writable(st)) != TFA_OK)
		return rc;
	if (st->seqb != NULL)
		return append_sequenced(st, seq, artifact, artifact_len, sig, sig_len);
	return st->backend->append(st->ctx, seq, artifact, artifact_len, sig, sig_len);
}

tfa_err tfa_store_put_checkpoint(tfa_store *st, uint64_t seq, const uint8_t *data, size_t len)
{
	if (st->backend->put_checkpoint == NULL)
		return tfa_error_set(TFA_EUSAGE, "the %s store keeps no checkpoints",
				     st->backend->name);
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
		return tfa_error_set(TFA_ENOTFOUND, "the %s store keeps no checkpoints",
				     st->backend->name);
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
	if (st->seqctx)
		st->seqb->close(st->seqctx);
	if (st->ctx)
		st->backend->close(st->ctx);
	free(st);
}
