#include <string.h>

#include "format/b64.h"
#include "format/jfield.h"
#include "format/timefmt.h"
#include "tfattest/artifact.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

tfa_err tfa_chain_id_check(const char *s, size_t len)
{
	if (len == 0 || len > TFA_CHAIN_ID_MAX)
		return tfa_error_set(TFA_EFORMAT, "chain id must be 1 to %d characters",
				     TFA_CHAIN_ID_MAX);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return tfa_error_set(
			    TFA_EFORMAT,
			    "chain id may hold only letters, digits, '.', '_' and '-'");
	}
	return TFA_OK;
}

tfa_err tfa_idempotency_key_check(const char *s, size_t len)
{
	if (s == NULL || len < TFA_IDEMPOTENCY_KEY_MIN || len > TFA_IDEMPOTENCY_KEY_MAX)
		return tfa_error_set(TFA_EFORMAT, "an idempotency key is %d to %d characters",
				     TFA_IDEMPOTENCY_KEY_MIN, TFA_IDEMPOTENCY_KEY_MAX);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return tfa_error_set(
			    TFA_EFORMAT,
			    "an idempotency key may hold only letters, digits, '.', '_' and '-'");
	}
	return TFA_OK;
}

static const char *const top_members[] = {
    "chain_id", "context", "event",	"identity", "prev_hash", "rotation", "schema_version",
    "seq",	"signer",  "terraform", "time",	    "type",	 NULL};

static int one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* The rotation member of a rotation record (schema 2, event "rotate"). */
static tfa_err parse_rotation(tfa_artifact *out, const tfa_json_value *root)
{
	tfa_err rc = TFA_OK;
	const tfa_json_value *ro;
	const char *s;
	size_t n;
	char alg[40], fpr[TFA_FPR_STRLEN];
	uint8_t tmp[TFA_SHA256_LEN];

	TFA_GUARD(tfa_jf_obj(&ro, root, "rotation", "artifact"));
	TFA_GUARD(tfa_jf_hash(tmp, ro, "new_key_fingerprint", "artifact rotation"));
	TFA_GUARD(tfa_jf_strcpy(out->rot.new_fpr, sizeof(out->rot.new_fpr), ro,
				"new_key_fingerprint", "artifact rotation"));
	TFA_GUARD(tfa_jf_strcpy(alg, sizeof(alg), ro, "new_algorithm", "artifact rotation"));
	TFA_GUARD(tfa_sig_alg_from_name(&out->rot.new_alg, alg));
	TFA_GUARD(tfa_jf_str(&s, &n, ro, "new_public_key", (TFA_SPKI_MAX + 2) / 3 * 4,
			     "artifact rotation"));
	if (tfa_b64_decode(out->rot.spki, sizeof(out->rot.spki), &out->rot.spki_len, s, n) !=
	    TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "artifact rotation: new_public_key: %s",
			 tfa_error_last()->message);
	TFA_GUARD(tfa_jf_str(&s, &n, ro, "pop_signature", (TFA_SIG_MAX + 2) / 3 * 4,
			     "artifact rotation"));
	if (tfa_b64_decode(out->rot.pop, sizeof(out->rot.pop), &out->rot.pop_len, s, n) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "artifact rotation: pop_signature: %s",
			 tfa_error_last()->message);
	TFA_GUARD(tfa_jf_str(&s, &n, ro, "old_public_key", (TFA_SPKI_MAX + 2) / 3 * 4,
			     "artifact rotation"));
	if (tfa_b64_decode(out->rot.old_spki, sizeof(out->rot.old_spki), &out->rot.old_spki_len, s,
			   n) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "artifact rotation: old_public_key: %s",
			 tfa_error_last()->message);
	tfa_spki_fingerprint(fpr, out->rot.old_spki, out->rot.old_spki_len);
	TFA_ENSURE(strcmp(fpr, out->key_fpr) == 0, TFA_EFORMAT,
		   "artifact rotation: old_public_key does not have the fingerprint "
		   "signer.key_fingerprint");
	tfa_spki_fingerprint(fpr, out->rot.spki, out->rot.spki_len);
	TFA_ENSURE(
	    strcmp(fpr, out->rot.new_fpr) == 0, TFA_EFORMAT,
	    "artifact rotation: new_public_key does not have the fingerprint new_key_fingerprint");
	TFA_ENSURE(strcmp(out->rot.new_fpr, out->key_fpr) != 0, TFA_EFORMAT,
		   "artifact rotation: the new key is the key that signs the rotation");
	out->is_rotation = true;
out:
	return rc;
}

/* A string member of 1 to 1024 bytes (FORMAT.md §3.6). */
static tfa_err identity_str(const tfa_json_value *o, const char *key, bool required)
{
	const char *s;
	size_t n;

	if (!required && tfa_json_get(o, key) == NULL)
		return TFA_OK;
	return tfa_jf_str(&s, &n, o, key, 1024, "artifact identity");
}

static tfa_err identity_time(int64_t *t, const tfa_json_value *o, const char *key, bool required)
{
	tfa_err rc = TFA_OK;
	const char *s;
	size_t n;

	if (!required && tfa_json_get(o, key) == NULL)
		return TFA_OK;
	TFA_GUARD(tfa_jf_str(&s, &n, o, key, 32, "artifact identity"));
	if (tfa_time_parse(t, s, n) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "artifact identity: %s: %s", key, tfa_error_last()->message);
out:
	return rc;
}

/* The identity section (FORMAT.md §3.6): a caller identity a front end verified. */
static tfa_err parse_identity(tfa_artifact *out, const tfa_json_value *root)
{
	static const char *const methods[] = {"oidc", "aws-iam", NULL};
	static const char *const verifiers[] = {"serve", "lambda", NULL};
	tfa_err rc = TFA_OK;
	const tfa_json_value *id, *cl;
	int64_t t = 0;

	TFA_GUARD(tfa_jf_obj(&id, root, "identity", "artifact"));
	TFA_ENSURE(!out->is_rotation, TFA_EFORMAT,
		   "artifact: a rotation record has no identity section");
	TFA_GUARD(tfa_jf_strcpy(out->identity_method, sizeof(out->identity_method), id, "method",
				"artifact identity"));
	TFA_ENSURE(one_of(out->identity_method, methods), TFA_EFORMAT,
		   "artifact identity: method is not oidc or aws-iam");
	TFA_GUARD(identity_str(id, "issuer", true));
	TFA_GUARD(identity_str(id, "subject", true));
	TFA_GUARD(identity_str(id, "audience", false));
	TFA_GUARD(identity_str(id, "client_cert", false));
	TFA_GUARD(identity_time(&t, id, "issued_at", false));
	TFA_GUARD(identity_time(&t, id, "expires_at", false));
	if (tfa_json_get(id, "claims") != NULL) {
		TFA_GUARD(tfa_jf_obj(&cl, id, "claims", "artifact identity"));
		for (size_t i = 0; i < tfa_json_count(cl); i++) {
			size_t kl, n;
			const char *s = tfa_json_string(tfa_json_value_at(cl, i), &n);
			(void)tfa_json_key_at(cl, i, &kl);
			TFA_ENSURE(
			    kl >= 1 && kl <= 64 && s != NULL && n <= 1024 &&
				memchr(s, 0, n) == NULL,
			    TFA_EFORMAT,
			    "artifact identity: claims holds a member that is not a name of 1 "
			    "to 64 bytes with a string of at most 1024 bytes");
		}
	}
	TFA_GUARD(tfa_jf_strcpy(out->identity_verifier, sizeof(out->identity_verifier), id,
				"verified_by", "artifact identity"));
	TFA_ENSURE(one_of(out->identity_verifier, verifiers), TFA_EFORMAT,
		   "artifact identity: verified_by is not serve or lambda");
	TFA_GUARD(identity_time(&out->identity_verified_at, id, "verified_at", true));
	out->has_identity = true;
out:
	return rc;
}

const char *tfa_artifact_key_after(const tfa_artifact *a)
{
	return a->is_rotation ? a->rot.new_fpr : a->key_fpr;
}

tfa_err tfa_rotation_pop_bytes(tfa_buf *out, const tfa_artifact *a)
{
	char prev[TFA_FPR_STRLEN];

	if (!a->is_rotation)
		return tfa_error_set(TFA_EINTERNAL, "not a rotation record");
	tfa_hash_str(prev, a->prev_hash);
	/* Every value is from a restricted alphabet, so this is the canonical form. */
	return tfa_buf_printf(
	    out,
	    "{\"chain_id\":\"%s\",\"new_algorithm\":\"%s\",\"new_key_fingerprint\":\"%s\","
	    "\"old_key_fingerprint\":\"%s\",\"prev_hash\":\"%s\",\"seq\":%llu,"
	    "\"type\":\"" TFA_ROTATION_POP_TYPE "\"}",
	    a->chain_id, tfa_sig_alg_name(a->rot.new_alg), a->rot.new_fpr, a->key_fpr, prev,
	    (unsigned long long)a->seq);
}

/* The event types of §3.1 other than rotate, in the order FORMAT.md lists them. */
static const char *const event_types[] = {"apply",	 "destroy",   "rollback", "import",
					  "refresh",	 "state-rm",  "state-mv", "state-push",
					  "drift-check", "reconcile", NULL};

const char *const *tfa_event_types(void)
{
	return event_types;
}

bool tfa_event_type_known(const char *type)
{
	return type != NULL && one_of(type, event_types);
}

tfa_err tfa_artifact_parse(tfa_artifact *out, const uint8_t *bytes, size_t len)
{
	static const char *const statuses[] = {"succeeded", "failed", NULL};
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	const tfa_json_value *root, *ev, *sg, *o;
	const char *s;
	size_t n;
	int64_t i64;
	char alg[40];
	tfa_buf canon;
	int64_t schema;

	memset(out, 0, sizeof(*out));
	tfa_buf_init(&canon, len + 64);
	TFA_ENSURE(len <= TFA_ARTIFACT_MAX, TFA_EFORMAT, "artifact is larger than %u bytes",
		   TFA_ARTIFACT_MAX);
	TFA_GUARD(tfa_json_parse(&doc, bytes, len));
	root = tfa_json_root(doc);
	TFA_ENSURE(tfa_json_type_of(root) == TFA_JSON_OBJECT, TFA_EFORMAT,
		   "artifact is not a JSON object");
	TFA_GUARD(tfa_jf_only(root, top_members, "artifact"));
	TFA_GUARD(tfa_jf_str(&s, &n, root, "type", 64, "artifact"));
	TFA_ENSURE(n == strlen(TFA_ARTIFACT_TYPE) && memcmp(s, TFA_ARTIFACT_TYPE, n) == 0,
		   TFA_EFORMAT, "artifact type is not %s", TFA_ARTIFACT_TYPE);
	TFA_GUARD(tfa_jf_int(&i64, root, "schema_version", 0, 1000, "artifact"));
	schema = i64;
	TFA_ENSURE(i64 == TFA_ARTIFACT_SCHEMA || i64 == TFA_ARTIFACT_SCHEMA_ROTATION, TFA_EFORMAT,
		   "unsupported artifact schema version %lld", (long long)i64);
	TFA_GUARD(tfa_jf_str(&s, &n, root, "chain_id", TFA_CHAIN_ID_MAX, "artifact"));
	TFA_GUARD(tfa_chain_id_check(s, n));
	memcpy(out->chain_id, s, n);
	TFA_GUARD(tfa_jf_int(&i64, root, "seq", 1, (int64_t)TFA_SEQ_MAX, "artifact"));
	out->seq = (uint64_t)i64;
	TFA_GUARD(tfa_jf_hash(out->prev_hash, root, "prev_hash", "artifact"));
	{
		static const uint8_t genesis[TFA_SHA256_LEN];
		bool is_genesis = memcmp(out->prev_hash, genesis, TFA_SHA256_LEN) == 0;

		/* Seq 1, and only seq 1, follows genesis (another seq would need a SHA-256
		 * preimage): FORMAT.md R-3-5, for records under keys/ as under artifacts/. */
		TFA_ENSURE(out->seq != 1 || is_genesis, TFA_EFORMAT,
			   "artifact prev_hash is not the genesis value but seq is 1");
		TFA_ENSURE(out->seq == 1 || !is_genesis, TFA_EFORMAT,
			   "artifact prev_hash is the genesis value but seq is not 1");
	}
	TFA_GUARD(tfa_jf_str(&s, &n, root, "time", 32, "artifact"));
	TFA_GUARD(tfa_time_parse(&out->time, s, n));

	TFA_GUARD(tfa_jf_obj(&ev, root, "event", "artifact"));
	TFA_GUARD(tfa_jf_strcpy(out->event, sizeof(out->event), ev, "type", "artifact event"));
	TFA_ENSURE(tfa_event_type_known(out->event) || strcmp(out->event, "rotate") == 0,
		   TFA_EFORMAT, "artifact event type is unknown");
	TFA_ENSURE((strcmp(out->event, "rotate") == 0) == (schema == TFA_ARTIFACT_SCHEMA_ROTATION),
		   TFA_EFORMAT,
		   "artifact: event \"rotate\" goes with schema version %d and no other",
		   TFA_ARTIFACT_SCHEMA_ROTATION);
	TFA_GUARD(tfa_jf_strcpy(out->status, sizeof(out->status), ev, "status", "artifact event"));
	TFA_ENSURE(one_of(out->status, statuses), TFA_EFORMAT, "artifact event status is unknown");
	TFA_GUARD(tfa_jf_int(&i64, ev, "exit_code", -2147483648LL, 2147483647LL, "artifact event"));
	if (schema == TFA_ARTIFACT_SCHEMA_ROTATION)
		TFA_ENSURE(strcmp(out->status, "succeeded") == 0 && i64 == 0 &&
			       tfa_json_get(root, "terraform") == NULL,
			   TFA_EFORMAT,
			   "artifact: a rotation record has status succeeded, exit code 0 and no "
			   "terraform facts");
	TFA_ENSURE((tfa_json_get(root, "rotation") != NULL) ==
		       (schema == TFA_ARTIFACT_SCHEMA_ROTATION),
		   TFA_EFORMAT, "artifact: \"rotation\" is present exactly in rotation records");
	out->exit_code = (int32_t)i64;
	if ((o = tfa_json_get(ev, "rollback_to")) != NULL) {
		TFA_ENSURE(strcmp(out->event, "rollback") == 0, TFA_EFORMAT,
			   "artifact event: rollback_to on an event that is not a rollback");
		TFA_GUARD(tfa_jf_obj(&o, ev, "rollback_to", "artifact event"));
		TFA_GUARD(
		    tfa_jf_int(&i64, o, "seq", 1, (int64_t)TFA_SEQ_MAX, "artifact rollback_to"));
		out->rollback_to = (uint64_t)i64;
		TFA_ENSURE(out->rollback_to < out->seq, TFA_EFORMAT,
			   "artifact rollback_to names a seq that is not earlier than its own");
		TFA_GUARD(tfa_jf_hash(out->rollback_hash, o, "hash", "artifact rollback_to"));
	}
	if ((o = tfa_json_get(ev, "spool")) != NULL) {
		TFA_ENSURE(schema != TFA_ARTIFACT_SCHEMA_ROTATION, TFA_EFORMAT,
			   "artifact: a rotation record is never spooled");
		TFA_GUARD(tfa_jf_obj(&o, ev, "spool", "artifact event"));
		TFA_GUARD(tfa_jf_str(&s, &n, o, "id", 32, "artifact spool"));
		TFA_ENSURE(n == 32 && strspn(s, "0123456789abcdef") >= 32, TFA_EFORMAT,
			   "artifact spool: id is not 32 lowercase hex digits");
		memcpy(out->spool_id, s, 32);
		TFA_GUARD(tfa_jf_str(&s, &n, o, "deployed_at", 32, "artifact spool"));
		TFA_GUARD(tfa_time_parse(&out->deployed_at, s, n));
		TFA_GUARD(tfa_jf_str(&s, &n, o, "spooled_at", 32, "artifact spool"));
		TFA_GUARD(tfa_time_parse(&out->spooled_at, s, n));
		out->spooled = true;
	}

	if ((o = tfa_json_get(ev, "idempotency_key")) != NULL) {
		TFA_ENSURE(schema != TFA_ARTIFACT_SCHEMA_ROTATION, TFA_EFORMAT,
			   "artifact: a rotation record has no idempotency key");
		TFA_GUARD(tfa_jf_str(&s, &n, ev, "idempotency_key", TFA_IDEMPOTENCY_KEY_MAX,
				     "artifact event"));
		if (tfa_idempotency_key_check(s, n) != TFA_OK)
			TFA_BAIL(TFA_EFORMAT, "artifact event: idempotency_key: %s",
				 tfa_error_last()->message);
		memcpy(out->idempotency_key, s, n);
	}

	TFA_GUARD(tfa_jf_obj(&sg, root, "signer", "artifact"));
	TFA_GUARD(tfa_jf_strcpy(out->key_fpr, sizeof(out->key_fpr), sg, "key_fingerprint",
				"artifact signer"));
	{
		uint8_t tmp[TFA_SHA256_LEN];
		TFA_GUARD(tfa_jf_hash(tmp, sg, "key_fingerprint", "artifact signer"));
	}
	TFA_GUARD(tfa_jf_strcpy(alg, sizeof(alg), sg, "algorithm", "artifact signer"));
	TFA_GUARD(tfa_sig_alg_from_name(&out->alg, alg));
	if (schema == TFA_ARTIFACT_SCHEMA_ROTATION)
		TFA_GUARD(parse_rotation(out, root));

	if (tfa_json_get(root, "identity") != NULL)
		TFA_GUARD(parse_identity(out, root));

	for (const char *const *k = (const char *const[]){"terraform", "context", NULL}; *k; k++) {
		const tfa_json_value *m = tfa_json_get(root, *k);
		TFA_ENSURE(m == NULL || tfa_json_type_of(m) == TFA_JSON_OBJECT, TFA_EFORMAT,
			   "artifact: \"%s\" is not an object", *k);
	}

	/* The bytes hashed and signed must be exactly the canonical form. */
	if (tfa_jcs_write(&canon, root) != TFA_OK || canon.len != len ||
	    memcmp(canon.data, bytes, len) != 0)
		TFA_BAIL(TFA_EFORMAT, "artifact bytes are not in RFC 8785 canonical form");
out:
	tfa_buf_free(&canon);
	tfa_json_free(doc);
	return rc;
}
