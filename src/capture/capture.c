/*
 * Capture: the facts of one deployment, read from `terraform show -json`
 * output, the state file and the run's environment. This file holds the
 * capture object, its rollback and spool marks, and its serialised (spooled)
 * form; tfplan.c reads the plan and state, context.c the run's context,
 * capture_json.c adds their members to JSON, and artifact_write.c makes a
 * capture an artifact.
 *
 * Only names are copied, never values: resource addresses, action names,
 * versions, serials and hashes. Plans and states hold secrets, and a
 * write-once store can never delete what it was given.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "capture/capture_int.h"
#include "format/jfield.h"
#include "format/jlex.h"
#include "format/timefmt.h"
#include "tfattest/artifact.h"
#include "tfattest/capture.h"
#include "tfattest/jcs.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

void tfa_capture_free(tfa_capture *c)
{
	if (c == NULL)
		return;
	cJSON_Delete(c->event);
	cJSON_Delete(c->terraform);
	cJSON_Delete(c->context);
	cJSON_Delete(c->identity);
	free(c);
}

static tfa_err check_event(const char *type, const char *status)
{
	static const char *const statuses[] = {"succeeded", "failed", NULL};
	int ok = 0;

	if (!tfa_event_type_known(type))
		return tfa_error_set(TFA_EUSAGE,
				     "--event must be apply, destroy, rollback, import, refresh, "
				     "state-rm, state-mv, state-push, drift-check or reconcile");
	for (const char *const *p = statuses; *p; p++)
		ok |= strcmp(*p, status) == 0;
	if (!ok)
		return tfa_error_set(TFA_EUSAGE, "--status must be succeeded or failed");
	return TFA_OK;
}

static tfa_err capture_build(tfa_capture **out, const tfa_event *ev, const uint8_t *plan,
			     size_t plan_len, const char *plan_name, const uint8_t *state,
			     size_t state_len, const char *state_name)
{
	tfa_err rc = TFA_OK;
	tfa_capture *c = NULL;
	const char *type, *status;
	int ci = 0;

	type = ev->type ? ev->type : "apply";
	status = ev->status ? ev->status : "succeeded";
	TFA_GUARD(check_event(type, status));
	c = calloc(1, sizeof(*c));
	TFA_ENSURE(c != NULL, TFA_EINTERNAL, "out of memory");
	c->event = tfa_cap_new_obj(NULL, NULL);
	c->terraform = tfa_cap_new_obj(NULL, NULL);
	c->context = tfa_cap_new_obj(NULL, NULL);
	TFA_ENSURE(c->event && c->terraform && c->context, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_cap_add_str(c->event, "type", type));
	TFA_GUARD(tfa_cap_add_str(c->event, "status", status));
	TFA_GUARD(tfa_cap_add_num(c->event, "exit_code", ev->exit_code));
	if (plan)
		TFA_GUARD(tfa_cap_plan(c->terraform, plan, plan_len, plan_name));
	if (state)
		TFA_GUARD(tfa_cap_state(c->terraform, "state", state, state_len, state_name));
	TFA_GUARD(tfa_cap_git(c->context));
	TFA_GUARD(tfa_cap_ci(c->context, &ci));
	if (!ci)
		TFA_GUARD(tfa_cap_host(c->context));
	*out = c;
	c = NULL;
out:
	tfa_capture_free(c);
	return rc;
}

tfa_err tfa_capture_new(tfa_capture **out, const tfa_event *ev, const char *plan_path,
			const char *state_path)
{
	tfa_err rc = TFA_OK;
	tfa_buf plan, state;

	tfa_buf_init(&plan, PLAN_MAX);
	tfa_buf_init(&state, STATE_MAX);
	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(ev);
	TFA_ENSURE(plan_path != NULL, TFA_EUSAGE, "no plan given (--plan FILE)");
	TFA_GUARD(
	    check_event(ev->type ? ev->type : "apply", ev->status ? ev->status : "succeeded"));
	rc = tfa_buf_read_file(&plan, plan_path, PLAN_MAX);
	if (rc != TFA_OK)
		TFA_BAIL(rc == TFA_EFORMAT ? TFA_EFORMAT : TFA_EUSAGE, "cannot read plan: %s",
			 tfa_error_last()->message);
	if (state_path) {
		rc = tfa_buf_read_file(&state, state_path, STATE_MAX);
		if (rc != TFA_OK)
			TFA_BAIL(rc == TFA_EFORMAT ? TFA_EFORMAT : TFA_EUSAGE,
				 "cannot read state: %s", tfa_error_last()->message);
	}
	TFA_GUARD(capture_build(out, ev, plan.data, plan.len, plan_path,
				state_path ? state.data : NULL, state.len, state_path));
out:
	/* Plans and states hold secrets. */
	tfa_buf_wipe_free(&plan);
	tfa_buf_wipe_free(&state);
	return rc;
}

tfa_err tfa_capture_new_mem(tfa_capture **out, const tfa_event *ev, const uint8_t *plan,
			    size_t plan_len, const uint8_t *state, size_t state_len)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(ev);
	TFA_GUARD(capture_build(out, ev, plan, plan_len, "(plan)", state, state_len, "(state)"));
out:
	return rc;
}

tfa_err tfa_capture_set_rollback(tfa_capture *c, uint64_t seq, const char *hash)
{
	tfa_err rc = TFA_OK;
	uint8_t d[TFA_SHA256_LEN];
	const cJSON *t;
	cJSON *o;

	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(hash);
	t = cJSON_GetObjectItemCaseSensitive(c->event, "type");
	TFA_ENSURE(cJSON_IsString(t) && strcmp(t->valuestring, "rollback") == 0, TFA_EUSAGE,
		   "--rollback-to needs --event rollback");
	TFA_ENSURE(seq >= 1 && seq <= TFA_SEQ_MAX, TFA_EUSAGE, "--rollback-to takes a seq");
	TFA_GUARD(tfa_hash_parse(d, hash, strlen(hash)));
	cJSON_DeleteItemFromObjectCaseSensitive(c->event, "rollback_to");
	o = tfa_cap_new_obj(c->event, "rollback_to");
	TFA_ENSURE(o != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_cap_add_num(o, "seq", (double)seq));
	TFA_GUARD(tfa_cap_add_str(o, "hash", hash));
out:
	return rc;
}

tfa_err tfa_capture_set_reconcile(tfa_capture *c, const uint8_t *summary, size_t len)
{
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	const cJSON *t;
	cJSON *o = NULL;

	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(summary);
	t = cJSON_GetObjectItemCaseSensitive(c->event, "type");
	TFA_ENSURE(cJSON_IsString(t) && strcmp(t->valuestring, "reconcile") == 0, TFA_EUSAGE,
		   "a reconcile summary belongs to a reconcile event");
	TFA_ENSURE(len <= RECONCILE_MAX, TFA_EUSAGE,
		   "the reconcile summary is larger than %zu bytes", RECONCILE_MAX);
	/* The project's strict parser first: I-JSON, valid UTF-8, no duplicate keys. */
	rc = tfa_json_parse(&doc, summary, len);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EUSAGE, "the reconcile summary is not JSON: %s",
			 tfa_error_last()->message);
	TFA_ENSURE(tfa_json_type_of(tfa_json_root(doc)) == TFA_JSON_OBJECT, TFA_EUSAGE,
		   "the reconcile summary is not a JSON object");
	o = cJSON_ParseWithLength((const char *)summary, len);
	TFA_ENSURE(o != NULL, TFA_EINTERNAL, "out of memory");
	cJSON_DeleteItemFromObjectCaseSensitive(c->terraform, "reconcile");
	TFA_ENSURE(cJSON_AddItemToObject(c->terraform, "reconcile", o), TFA_EINTERNAL,
		   "out of memory");
	o = NULL;
out:
	cJSON_Delete(o);
	tfa_json_free(doc);
	return rc;
}

tfa_err tfa_capture_set_spool(tfa_capture *c, const char *id, int64_t deployed_at,
			      int64_t spooled_at)
{
	tfa_err rc = TFA_OK;
	char when[TFA_TIME_STRLEN];
	cJSON *o;

	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(id);
	TFA_ENSURE(strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32, TFA_EUSAGE,
		   "a spool id is 32 lowercase hex digits");
	cJSON_DeleteItemFromObjectCaseSensitive(c->event, "spool");
	o = tfa_cap_new_obj(c->event, "spool");
	TFA_ENSURE(o != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_cap_add_str(o, "id", id));
	tfa_time_format(when, deployed_at);
	TFA_GUARD(tfa_cap_add_str(o, "deployed_at", when));
	tfa_time_format(when, spooled_at);
	TFA_GUARD(tfa_cap_add_str(o, "spooled_at", when));
out:
	return rc;
}

const char *tfa_capture_spool_id(const tfa_capture *c)
{
	const cJSON *o, *id;

	if (c == NULL)
		return NULL;
	o = cJSON_GetObjectItemCaseSensitive(c->event, "spool");
	id = cJSON_GetObjectItemCaseSensitive(o, "id");
	return cJSON_IsString(id) ? id->valuestring : NULL;
}

int64_t tfa_capture_spooled_at(const tfa_capture *c)
{
	const cJSON *o, *t;
	int64_t v = 0;

	if (c == NULL)
		return 0;
	o = cJSON_GetObjectItemCaseSensitive(c->event, "spool");
	t = cJSON_GetObjectItemCaseSensitive(o, "spooled_at");
	if (!cJSON_IsString(t) ||
	    tfa_time_parse(&v, t->valuestring, strlen(t->valuestring)) != TFA_OK)
		return 0;
	return v;
}

tfa_err tfa_capture_set_state_before(tfa_capture *c, const uint8_t *state, size_t len)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(state);
	cJSON_DeleteItemFromObjectCaseSensitive(c->terraform, "state_before");
	TFA_GUARD(tfa_cap_state(c->terraform, "state_before", state, len, "(state before)"));
out:
	return rc;
}

tfa_err tfa_capture_set_plan_source(tfa_capture *c, const char *source)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(source);
	TFA_ENSURE(strcmp(source, "saved-plan") == 0 || strcmp(source, "plan-first") == 0 ||
		       strcmp(source, "none") == 0,
		   TFA_EUSAGE, "a plan source is saved-plan, plan-first or none");
	cJSON_DeleteItemFromObjectCaseSensitive(c->terraform, "plan_source");
	TFA_GUARD(tfa_cap_add_str(c->terraform, "plan_source", source));
out:
	return rc;
}

tfa_err tfa_capture_set_drift(tfa_capture *c, const uint8_t *plan, size_t len)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(plan);
	TFA_GUARD(tfa_cap_drift(c->terraform, plan, len, "(refresh-only plan)"));
out:
	return rc;
}

bool tfa_capture_plan_errored(const tfa_capture *c)
{
	return c != NULL &&
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c->terraform, "plan_errored"));
}

const char *tfa_capture_event_type(const tfa_capture *c)
{
	const cJSON *t = c ? cJSON_GetObjectItemCaseSensitive(c->event, "type") : NULL;

	return cJSON_IsString(t) ? t->valuestring : "apply";
}

tfa_err tfa_capture_serialize(tfa_buf *out, const tfa_capture *c)
{
	tfa_err rc = TFA_OK;
	cJSON *root = NULL;
	char *text = NULL;

	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(c);
	/* Only the service sets an identity, and it appends or answers, never spools. */
	TFA_ENSURE(c->identity == NULL, TFA_EUSAGE,
		   "a capture with a verified identity is not spooled");
	root = cJSON_CreateObject();
	TFA_ENSURE(root != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_cap_add_str(root, "type", TFA_CAPTURE_TYPE));
	TFA_GUARD(tfa_cap_add_num(root, "schema_version", 1));
	TFA_ENSURE(cJSON_AddItemReferenceToObject(root, "event", c->event) &&
		       cJSON_AddItemReferenceToObject(root, "terraform", c->terraform) &&
		       cJSON_AddItemReferenceToObject(root, "context", c->context),
		   TFA_EINTERNAL, "out of memory");
	text = cJSON_PrintUnformatted(root);
	TFA_ENSURE(text != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_jcs_canonicalize(out, (const uint8_t *)text, strlen(text)));
out:
	cJSON_free(text);
	cJSON_Delete(root);
	return rc;
}

tfa_err tfa_capture_deserialize(tfa_capture **out, const uint8_t *bytes, size_t len)
{
	static const char *const members[] = {"context",   "event", "schema_version",
					      "terraform", "type",  NULL};
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	const tfa_json_value *root, *ev;
	tfa_capture *c = NULL;
	cJSON *all = NULL;
	const char *s;
	size_t n;
	int64_t v;
	char type[16], status[16];

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE(bytes != NULL && len <= TFA_ARTIFACT_MAX, TFA_EFORMAT,
		   "a spooled capture is at most %u bytes", TFA_ARTIFACT_MAX);
	/* Validate strictly with the artifact parser's JSON reader first. */
	TFA_GUARD(tfa_json_parse(&doc, bytes, len));
	root = tfa_json_root(doc);
	TFA_ENSURE(tfa_json_type_of(root) == TFA_JSON_OBJECT, TFA_EFORMAT,
		   "spooled capture is not a JSON object");
	TFA_GUARD(tfa_jf_only(root, members, "spooled capture"));
	TFA_GUARD(tfa_jf_str(&s, &n, root, "type", 64, "spooled capture"));
	TFA_ENSURE(n == strlen(TFA_CAPTURE_TYPE) && memcmp(s, TFA_CAPTURE_TYPE, n) == 0,
		   TFA_EFORMAT, "spooled capture has the wrong type");
	TFA_GUARD(tfa_jf_int(&v, root, "schema_version", 1, 1, "spooled capture"));
	TFA_GUARD(tfa_jf_obj(&ev, root, "event", "spooled capture"));
	TFA_GUARD(tfa_jf_strcpy(type, sizeof(type), ev, "type", "spooled capture event"));
	TFA_GUARD(tfa_jf_strcpy(status, sizeof(status), ev, "status", "spooled capture event"));
	/* A bad file is malformed input, not a bad option: not check_event's EUSAGE and message. */
	if (check_event(type, status) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "spooled capture event type or status is unknown");
	TFA_GUARD(
	    tfa_jf_int(&v, ev, "exit_code", -2147483648LL, 2147483647LL, "spooled capture event"));
	{
		const tfa_json_value *tmp;
		TFA_GUARD(tfa_jf_obj(&tmp, root, "terraform", "spooled capture"));
		TFA_GUARD(tfa_jf_obj(&tmp, root, "context", "spooled capture"));
	}
	all = cJSON_ParseWithLength((const char *)bytes, len);
	TFA_ENSURE(all != NULL, TFA_EFORMAT, "spooled capture is not valid JSON");
	c = calloc(1, sizeof(*c));
	TFA_ENSURE(c != NULL, TFA_EINTERNAL, "out of memory");
	c->event = cJSON_DetachItemFromObjectCaseSensitive(all, "event");
	c->terraform = cJSON_DetachItemFromObjectCaseSensitive(all, "terraform");
	c->context = cJSON_DetachItemFromObjectCaseSensitive(all, "context");
	TFA_ENSURE(c->event && c->terraform && c->context, TFA_EFORMAT,
		   "spooled capture is incomplete");

	*out = c;
	c = NULL;
out:
	cJSON_Delete(all);
	tfa_json_free(doc);
	tfa_capture_free(c);
	return rc;
}
