/*
 * The report's view of a verified bundle: what its records add up to
 * (summary, keys, resources, deployments over time), gathered record by
 * record from the bytes the verifier checked, and written as HTML. Every
 * string taken from a record is HTML-escaped.
 */
#ifndef TFA_CLI_REPORT_FACTS_H
#define TFA_CLI_REPORT_FACTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tfattest/artifact.h"
#include "tfattest/verify.h"

struct cJSON;

/* One record, as the summary and the chart count it. */
typedef struct report_rec {
	uint64_t seq;
	int64_t time;
	char event[16];
	bool failed;
	bool spooled;
} report_rec;

/* A resource address a record touched, and how. */
typedef struct report_touch {
	char *address;
	char *action;
	uint64_t seq;
} report_touch;

/* What a rotation record brought in (rotation.*, as verified). */
typedef struct report_rot {
	uint64_t seq;
	char *new_fpr, *new_alg, *pop, *old_fpr;
} report_rot;

typedef struct report_strs {
	char **v;
	size_t n, cap;
} report_strs;

typedef struct report_facts {
	report_rec *recs;
	size_t nrecs, caprecs;
	report_touch *touch;
	size_t ntouch, captouch;
	report_rot *rots;
	size_t nrots, caprots;
	report_strs actors; /* the context's claimed actor of each record */
	uint64_t noactor;   /* records (rotations aside) whose context claims none */
	report_strs
	    identities; /* "<length of subject>:<subject><issuer>" of each verified identity */
} report_facts;

/* Writes s with &, <, >, " and ' escaped (NULL writes nothing). */
void report_esc(FILE *f, const char *s);

/* Who a record says ran it: the CI actor or user, the job, or the host; "unknown". */
const char *report_who(const struct cJSON *doc);

/* Formats t as YYYY-MM-DDTHH:MM:SSZ. */
void report_time(char out[32], int64_t t);

/* Takes one verified record; -1 when out of memory. */
int report_facts_add(report_facts *f, uint64_t seq, const tfa_artifact *a, const struct cJSON *doc);

void report_facts_free(report_facts *f);

/* The sections, in the page's order. They sort what they list. */
void report_write_summary(FILE *out, report_facts *f, const tfa_verify_report *r);
void report_write_chart(FILE *out, const report_facts *f);
void report_write_keys(FILE *out, const report_facts *f, const tfa_verify_report *r);
void report_write_resources(FILE *out, report_facts *f);

/* The key in force at seq, from the verifier's key history; NULL if none. */
const tfa_verify_key *report_key_at(const tfa_verify_report *r, uint64_t seq);

/* Whether an event type counts as a deployment: all but rotate, drift-check and reconcile. */
bool report_is_deployment(const char *event);

#endif
