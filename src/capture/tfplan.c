/*
 * Terraform facts: the summary of a plan (`terraform show -json` output) and
 * of a state file. Only names, counts, versions, serials and hashes are
 * copied, never an attribute value.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "capture/capture_int.h"
#include "format/jfield.h"
#include "format/jlex.h"
#include "tfattest/sys/guard.h"

/* The one word for a change's action list, as the plan renderer shows it. */
static const char *action_word(const tfa_json_value *actions)
{
	size_t n = tfa_json_count(actions);
	const char *a0 = n > 0 ? tfa_json_string(tfa_json_at(actions, 0), NULL) : NULL;
	const char *a1 = n > 1 ? tfa_json_string(tfa_json_at(actions, 1), NULL) : NULL;
	static const char *const single[] = {"create", "update", "delete",
					     "read",   "no-op",	 "forget"};

	if (n == 1 && a0) {
		for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++)
			if (strcmp(a0, single[i]) == 0)
				return single[i];
	}
	if (n == 2 && a0 && a1 &&
	    ((strcmp(a0, "delete") == 0 && strcmp(a1, "create") == 0) ||
	     (strcmp(a0, "create") == 0 && strcmp(a1, "delete") == 0)))
		return "replace";
	return "other";
}

static const char *const count_keys[] = {"create", "update", "delete", "replace",
					 "read",   "no-op",  "forget", "other"};

tfa_err tfa_cap_plan(cJSON *tf, const uint8_t *data, size_t len, const char *path)
{
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	const tfa_json_value *root, *rcs, *v;
	cJSON *changes, *counts;
	double count[sizeof(count_keys) / sizeof(count_keys[0])] = {0};
	const char *s;
	size_t n;

	TFA_ENSURE(len <= PLAN_MAX, TFA_EFORMAT, "plan %s is larger than %zu bytes", path,
		   PLAN_MAX);
	TFA_GUARD(tfa_cap_check_plan_json(data, len, path));
	TFA_GUARD(tfa_cap_add_hash(tf, "plan_sha256", data, len));
	rc = tfa_json_parse(&doc, data, len);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "plan %s is not valid JSON: %s", path,
			 tfa_error_last()->message);
	root = tfa_json_root(doc);
	TFA_ENSURE(tfa_json_type_of(root) == TFA_JSON_OBJECT &&
		       tfa_json_get(root, "format_version") != NULL,
		   TFA_EFORMAT, "%s is not `terraform show -json` plan output", path);
	TFA_GUARD(tfa_jf_str(&s, &n, root, "format_version", 32, "plan"));
	TFA_GUARD(tfa_cap_add_text(tf, "plan_format_version", s, n));
	if (tfa_json_get(root, "terraform_version")) {
		TFA_GUARD(tfa_jf_str(&s, &n, root, "terraform_version", 64, "plan"));
		TFA_GUARD(tfa_cap_add_text(tf, "version", s, n));
	}
	if ((v = tfa_json_get(root, "errored")) != NULL) {
		TFA_ENSURE(tfa_json_type_of(v) == TFA_JSON_TRUE ||
			       tfa_json_type_of(v) == TFA_JSON_FALSE,
			   TFA_EFORMAT, "plan: \"errored\" is not a boolean");
		TFA_ENSURE(
		    cJSON_AddBoolToObject(tf, "plan_errored", tfa_json_type_of(v) == TFA_JSON_TRUE),
		    TFA_EINTERNAL, "out of memory");
	}
	changes = cJSON_AddArrayToObject(tf, "changes");
	TFA_ENSURE(changes != NULL, TFA_EINTERNAL, "out of memory");
	if (tfa_json_get(root, "resource_changes")) {
		TFA_GUARD(tfa_jf_arr(&rcs, root, "resource_changes", "plan"));
		for (size_t i = 0; i < tfa_json_count(rcs); i++) {
			const tfa_json_value *rch = tfa_json_at(rcs, i), *chg, *acts;
			const char *word;
			cJSON *item;

			TFA_GUARD(tfa_jf_obj(&chg, rch, "change", "plan resource change"));
			TFA_GUARD(tfa_jf_arr(&acts, chg, "actions", "plan resource change"));
			word = action_word(acts);
			for (size_t k = 0; k < sizeof(count_keys) / sizeof(count_keys[0]); k++)
				if (strcmp(word, count_keys[k]) == 0)
					count[k]++;
			if (strcmp(word, "no-op") == 0)
				continue;
			item = tfa_cap_new_obj(NULL, NULL);
			TFA_ENSURE(item && cJSON_AddItemToArray(changes, item), TFA_EINTERNAL,
				   "out of memory");
			TFA_GUARD(tfa_jf_str(&s, &n, rch, "address", 4096, "plan resource change"));
			TFA_GUARD(tfa_cap_add_text(item, "address", s, n));
			TFA_GUARD(tfa_cap_add_str(item, "action", word));
			if (tfa_json_get(rch, "action_reason") &&
			    tfa_jf_str(&s, &n, rch, "action_reason", 128, "plan") == TFA_OK)
				TFA_GUARD(tfa_cap_add_text(item, "reason", s, n));
		}
	}
	counts = tfa_cap_new_obj(tf, "counts");
	TFA_ENSURE(counts != NULL, TFA_EINTERNAL, "out of memory");
	for (size_t k = 0; k < sizeof(count_keys) / sizeof(count_keys[0]); k++)
		TFA_GUARD(tfa_cap_add_num(counts, count_keys[k], count[k]));
out:
	tfa_json_free(doc);
	return rc;
}

tfa_err tfa_cap_state(cJSON *tf, const char *member, const uint8_t *data, size_t len,
		      const char *path)
{
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	const tfa_json_value *root;
	cJSON *st;
	const char *s;
	size_t n;
	int64_t serial;

	TFA_ENSURE(len <= STATE_MAX, TFA_EFORMAT, "state %s is larger than %zu bytes", path,
		   STATE_MAX);
	rc = tfa_json_parse(&doc, data, len);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "state %s is not valid JSON: %s", path,
			 tfa_error_last()->message);
	root = tfa_json_root(doc);
	st = tfa_cap_new_obj(tf, member);
	TFA_ENSURE(st != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_cap_add_hash(st, "sha256", data, len));
	TFA_GUARD(tfa_jf_int(&serial, root, "serial", 0, (int64_t)1 << 53, "state"));
	TFA_GUARD(tfa_cap_add_num(st, "serial", (double)serial));
	TFA_GUARD(tfa_jf_str(&s, &n, root, "lineage", 256, "state"));
	TFA_GUARD(tfa_cap_add_text(st, "lineage", s, n));
	if (tfa_json_get(root, "terraform_version") &&
	    tfa_jf_str(&s, &n, root, "terraform_version", 64, "state") == TFA_OK)
		TFA_GUARD(tfa_cap_add_text(st, "terraform_version", s, n));
out:
	tfa_json_free(doc);
	return rc;
}

tfa_err tfa_cap_check_plan_json(const uint8_t *data, size_t len, const char *path)
{
	/* A saved plan is a zip archive: "PK\3\4" (or "PK\5\6" when empty). */
	if (len >= 4 && data[0] == 'P' && data[1] == 'K' && (data[2] == 3 || data[2] == 5))
		return tfa_error_set(TFA_EUSAGE,
				     "%s is a saved plan file (a zip archive), not its JSON: run "
				     "`terraform show -json %s > plan.json` and give plan.json",
				     path, path);
	for (size_t i = 0; i < len && i < 512; i++)
		if (data[i] == 0)
			return tfa_error_set(TFA_EUSAGE,
					     "%s is a binary file, not `terraform show -json` "
					     "output: run `terraform show -json PLAN` first",
					     path);
	return TFA_OK;
}

/* Appends a string (sanitised as tfa_cap_add_text() does) to an array. */
static tfa_err add_array_text(cJSON *arr, const char *s, size_t n)
{
	tfa_err rc = TFA_OK;
	cJSON *tmp = tfa_cap_new_obj(NULL, NULL), *v;

	TFA_ENSURE(tmp != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_cap_add_text(tmp, "v", s, n));
	v = cJSON_DetachItemFromObjectCaseSensitive(tmp, "v");
	if (!cJSON_AddItemToArray(arr, v)) {
		cJSON_Delete(v);
		TFA_BAIL(TFA_EINTERNAL, "out of memory");
	}
out:
	cJSON_Delete(tmp);
	return rc;
}

tfa_err tfa_cap_drift(cJSON *tf, const uint8_t *data, size_t len, const char *path)
{
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	const tfa_json_value *root, *rd, *oc;
	cJSON *drift, *addrs;
	const char *s;
	size_t n;
	char name[4096 + 8];

	TFA_ENSURE(len <= PLAN_MAX, TFA_EFORMAT, "plan %s is larger than %zu bytes", path,
		   PLAN_MAX);
	TFA_GUARD(tfa_cap_check_plan_json(data, len, path));
	rc = tfa_json_parse(&doc, data, len);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "plan %s is not valid JSON: %s", path,
			 tfa_error_last()->message);
	root = tfa_json_root(doc);
	TFA_ENSURE(tfa_json_type_of(root) == TFA_JSON_OBJECT &&
		       tfa_json_get(root, "format_version") != NULL,
		   TFA_EFORMAT, "%s is not `terraform show -json` plan output", path);
	cJSON_DeleteItemFromObjectCaseSensitive(tf, "drift");
	drift = tfa_cap_new_obj(tf, "drift");
	TFA_ENSURE(drift != NULL, TFA_EINTERNAL, "out of memory");
	addrs = cJSON_AddArrayToObject(drift, "addresses");
	TFA_ENSURE(addrs != NULL, TFA_EINTERNAL, "out of memory");
	/* Only the addresses of what drifted: never a value, before or after. */
	if (tfa_json_get(root, "resource_drift")) {
		TFA_GUARD(tfa_jf_arr(&rd, root, "resource_drift", "plan"));
		for (size_t i = 0; i < tfa_json_count(rd); i++) {
			const tfa_json_value *rch = tfa_json_at(rd, i), *chg, *acts;

			TFA_GUARD(tfa_jf_obj(&chg, rch, "change", "plan resource drift"));
			TFA_GUARD(tfa_jf_arr(&acts, chg, "actions", "plan resource drift"));
			if (strcmp(action_word(acts), "no-op") == 0)
				continue;
			TFA_GUARD(tfa_jf_str(&s, &n, rch, "address", 4096, "plan resource drift"));
			TFA_GUARD(add_array_text(addrs, s, n));
		}
	}
	/*
	 * A refresh-only plan's root output changes: the outputs in the state
	 * differ from what the refreshed resources give, so the state was
	 * changed outside Terraform. Named output.NAME.
	 */
	if ((oc = tfa_json_get(root, "output_changes")) != NULL) {
		TFA_ENSURE(tfa_json_type_of(oc) == TFA_JSON_OBJECT, TFA_EFORMAT,
			   "plan: \"output_changes\" is not an object");
		for (size_t i = 0; i < tfa_json_count(oc); i++) {
			const tfa_json_value *chg = tfa_json_value_at(oc, i), *acts;
			const char *key = tfa_json_key_at(oc, i, &n);

			TFA_ENSURE(tfa_json_type_of(chg) == TFA_JSON_OBJECT, TFA_EFORMAT,
				   "plan: an output change is not an object");
			TFA_GUARD(tfa_jf_arr(&acts, chg, "actions", "plan output change"));
			if (strcmp(action_word(acts), "no-op") == 0)
				continue;
			TFA_ENSURE(n <= 4096, TFA_EFORMAT, "plan: an output name is too long");
			memcpy(name, "output.", 7);
			memcpy(name + 7, key, n);
			TFA_GUARD(add_array_text(addrs, name, n + 7));
		}
	}
	TFA_ENSURE(cJSON_AddBoolToObject(drift, "drifted", cJSON_GetArraySize(addrs) > 0),
		   TFA_EINTERNAL, "out of memory");
out:
	tfa_json_free(doc);
	return rc;
}
