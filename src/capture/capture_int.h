/*
 * What the capture files share: the capture object, the helpers that add a
 * member to a JSON object (strings sanitised to I-JSON), and the readers of
 * the plan, the state and the run's context. Private to src/capture.
 */
#ifndef TFATTEST_CAPTURE_INT_H
#define TFATTEST_CAPTURE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "tfattest/capture.h"
#include "tfattest/error.h"

/* Plans of large estates run to hundreds of megabytes. */
#define PLAN_MAX  ((size_t)512 << 20)
#define STATE_MAX ((size_t)512 << 20)
/* The largest terraform.reconcile summary a record takes. */
#define RECONCILE_MAX ((size_t)256 << 10)
/* Longest string copied from the environment or git. */
#define CTX_STR_MAX 1024

struct tfa_capture {
	cJSON *event;
	cJSON *terraform;
	cJSON *context;
	cJSON *identity; /* the verified identity section, or NULL */
};

/*
 * Adds a string, at most CTX_STR_MAX bytes of it, replacing bytes that are not
 * valid UTF-8 or are NUL with '?', and each Unicode noncharacter with one '?'.
 */
TFA_WUR tfa_err tfa_cap_add_text(cJSON *obj, const char *key, const char *s, size_t len);
/* The same for a NUL-terminated string. */
TFA_WUR tfa_err tfa_cap_add_str(cJSON *obj, const char *key, const char *s);
TFA_WUR tfa_err tfa_cap_add_num(cJSON *obj, const char *key, double v);
/* Adds "sha256:<hex>" of data. */
TFA_WUR tfa_err tfa_cap_add_hash(cJSON *obj, const char *key, const uint8_t *data, size_t len);
/* A new object, added to parent under key when parent is not NULL. NULL when out of memory. */
cJSON *tfa_cap_new_obj(cJSON *parent, const char *key);

/* The plan's facts (tfplan.c): its hash, versions, changes and counts. path is for messages. */
TFA_WUR tfa_err tfa_cap_plan(cJSON *tf, const uint8_t *data, size_t len, const char *path);
/*
 * The state's facts (tfplan.c): its hash, serial, lineage and version, as
 * tf.<member> ("state" or "state_before").
 */
TFA_WUR tfa_err tfa_cap_state(cJSON *tf, const char *member, const uint8_t *data, size_t len,
			      const char *path);
/*
 * TFA_EUSAGE, with a message saying to run `terraform show -json` first, when
 * data is a saved (binary, zip) plan file or another binary file.
 */
TFA_WUR tfa_err tfa_cap_check_plan_json(const uint8_t *data, size_t len, const char *path);
/* tf.drift (tfplan.c): the addresses in a refresh-only plan's resource_drift, never values. */
TFA_WUR tfa_err tfa_cap_drift(cJSON *tf, const uint8_t *data, size_t len, const char *path);

/* The run's context (context.c): ctx.git, when in a git work tree. */
TFA_WUR tfa_err tfa_cap_git(cJSON *ctxobj);
/* ctx.ci and its OIDC claims; *found is 1 when a CI system was recognised. */
TFA_WUR tfa_err tfa_cap_ci(cJSON *ctxobj, int *found);
/* ctx.host: user@host. */
TFA_WUR tfa_err tfa_cap_host(cJSON *ctxobj);

#endif
