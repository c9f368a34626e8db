/*
 * Reconcile's S3 source: every version of the Terraform S3 backend's state
 * object, listed with ListObjectVersions and read with GetObject by version
 * id, through the SigV4 client and its credential chain. Both calls are
 * reads: s3:ListBucketVersions and s3:GetObjectVersion suffice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/reconcile_int.h"
#include "tfattest/sys/guard.h"

#if TFATTEST_WITH_AWS

#include "aws/aws.h"
#include "aws/awsuri.h"
#include "aws/s3versions.h"
#include "format/pct.h"

/* S3's own page size; a smaller one only from the environment (tests). */
#define LIST_MAX_KEYS	1000
#define LIST_PAGE_BYTES ((size_t)16 << 20)
/* A listing of more pages than this is refused rather than followed for ever. */
#define LIST_PAGES_MAX 100000

static tfa_err page_size(long *out)
{
	const char *e = getenv("TFATTEST_S3_LIST_MAX_KEYS");
	char *end;
	long v;

	*out = LIST_MAX_KEYS;
	if (e == NULL || *e == '\0')
		return TFA_OK;
	v = strtol(e, &end, 10);
	if (*end != '\0' || v < 1 || v > LIST_MAX_KEYS)
		return tfa_error_set(TFA_EUSAGE, "TFATTEST_S3_LIST_MAX_KEYS must be 1 to %d",
				     LIST_MAX_KEYS);
	*out = v;
	return TFA_OK;
}

static tfa_err put_encoded(tfa_buf *b, const char *s, const char *keep)
{
	return tfa_pct_encode(b, s, strlen(s), TFA_PCT_UNRESERVED, keep);
}

static void resp_init(tfa_aws_response *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	tfa_buf_init(&r->body, max);
}

/* GetObject of one version: its body read once, hashed and its facts taken. */
static tfa_err get_version(tfa_reconcile *r, size_t src, tfa_aws_client *c, const char *objpath,
			   const char *shown, const tfa_s3ver_entry *e)
{
	tfa_err rc = TFA_OK, prc;
	tfa_aws_response resp;
	tfa_buf query;
	tfa_state_facts f;
	char name[TFA_S3VER_ID_MAX + 1500];

	resp_init(&resp, TFA_AWS_BODY_MAX);
	tfa_buf_init(&query, 0);
	snprintf(name, sizeof(name), "%s?versionId=%s", shown, e->version_id);
	TFA_GUARD(tfa_buf_puts(&query, "versionId="));
	TFA_GUARD(put_encoded(&query, e->version_id, NULL));
	TFA_GUARD(tfa_buf_putc(&query, '\0'));
	TFA_GUARD(tfa_aws_call(&resp, c, "s3 GetObject", "GET", objpath, (const char *)query.data,
			       NULL, 0, NULL, 0));
	r->bodies_read++;
	prc = tfa_state_facts_parse(&f, resp.body.data, resp.body.len, name);
	if (prc == TFA_EINTERNAL)
		TFA_GUARD(prc);
	TFA_GUARD(tfa_rc_add_version(r, src, name, prc, &f, TFA_RC_TIME_S3, e->last_modified));
out:
	tfa_aws_response_free(&resp);
	tfa_buf_free(&query);
	return rc;
}

tfa_err tfa_reconcile_add_s3(tfa_reconcile *r, const char *uri)
{
	tfa_err rc = TFA_OK;
	tfa_awsuri u;
	tfa_aws_client_opts o;
	tfa_aws_client *c = NULL;
	tfa_aws_response resp;
	tfa_s3ver_page page;
	tfa_buf query, objpath;
	char pathbase[300], endpoint[400], listpath[302], shown[1400];
	long max_keys;
	char prev_key[TFA_S3VER_KEY_MAX + 1] = "", prev_vid[TFA_S3VER_ID_MAX + 1] = "";
	unsigned pages = 0;
	size_t src;

	memset(&page, 0, sizeof(page));
	resp_init(&resp, LIST_PAGE_BYTES);
	tfa_buf_init(&query, 0);
	tfa_buf_init(&objpath, 0);
	TFA_ENSURE_ARG(r);
	TFA_ENSURE_ARG(uri);
	TFA_GUARD(page_size(&max_keys));
	rc = tfa_awsuri_parse(&u, uri, TFA_AWSURI_S3_OBJECT);
	if (rc != TFA_OK)
		TFA_BAIL(TFA_EUSAGE, "--state-s3 %s", tfa_error_last()->message);
	TFA_ENSURE(u.prefix[0] != '\0', TFA_EUSAGE,
		   "--state-s3 takes s3://BUCKET/KEY: the state object's key is missing");
	TFA_ENSURE(u.retention_days == 0, TFA_EUSAGE,
		   "--state-s3 takes no retention-days: it only reads");
	memset(&o, 0, sizeof(o));
	o.service = "s3";
	o.region = u.region;
	if (u.endpoint[0] || getenv("AWS_ENDPOINT_URL_S3") || getenv("AWS_ENDPOINT_URL")) {
		/* An S3-compatible endpoint: path style, as the s3 store does. */
		snprintf(pathbase, sizeof(pathbase), "/%s", u.name);
		o.endpoint = u.endpoint[0] ? u.endpoint : NULL;
	} else {
		pathbase[0] = '\0';
		snprintf(endpoint, sizeof(endpoint), "https://%s.s3.%s.amazonaws.com", u.name,
			 u.region);
		o.endpoint = endpoint;
	}
	snprintf(shown, sizeof(shown), "s3://%s/%s", u.name, u.prefix);
	TFA_GUARD(tfa_rc_add_source(r, "s3", shown, &src));
	TFA_GUARD(tfa_aws_client_new(&c, &o));
	snprintf(listpath, sizeof(listpath), "%s/", pathbase);
	TFA_GUARD(tfa_buf_printf(&objpath, "%s/", pathbase));
	TFA_GUARD(put_encoded(&objpath, u.prefix, "/"));
	TFA_GUARD(tfa_buf_putc(&objpath, '\0'));
	for (;;) {

		TFA_ENSURE(++pages <= LIST_PAGES_MAX, TFA_EBACKEND,
			   "s3 ListObjectVersions: more than %u pages for %s", LIST_PAGES_MAX,
			   shown);
		tfa_buf_clear(&query);
		tfa_aws_response_free(&resp);
		resp_init(&resp, LIST_PAGE_BYTES);
		/* Parameters in byte order, as SigV4's canonical query has them. */
		if (pages > 1) {
			TFA_GUARD(tfa_buf_puts(&query, "key-marker="));
			TFA_GUARD(put_encoded(&query, page.next_key, NULL));
			TFA_GUARD(tfa_buf_putc(&query, '&'));
		}
		TFA_GUARD(tfa_buf_printf(&query, "max-keys=%ld&prefix=", max_keys));
		TFA_GUARD(put_encoded(&query, u.prefix, NULL));
		if (pages > 1) {
			TFA_GUARD(tfa_buf_puts(&query, "&version-id-marker="));
			TFA_GUARD(put_encoded(&query, page.next_version_id, NULL));
		}
		TFA_GUARD(tfa_buf_puts(&query, "&versions="));
		TFA_GUARD(tfa_buf_putc(&query, '\0'));
		TFA_GUARD(tfa_aws_call(&resp, c, "s3 ListObjectVersions", "GET", listpath,
				       (const char *)query.data, NULL, 0, NULL, 0));
		tfa_s3ver_page_free(&page);
		TFA_GUARD(tfa_s3ver_parse(&page, resp.body.data, resp.body.len, u.prefix));
		/* Listed versions are read before the next page is asked for: memory stays
		 * one page and one body. */
		for (size_t i = 0; i < page.n; i++) {
			if (page.entries[i].deleted) {
				char name[TFA_S3VER_ID_MAX + 1500];
				snprintf(name, sizeof(name), "%s?versionId=%s", shown,
					 page.entries[i].version_id);
				TFA_GUARD(tfa_rc_add_deleted(r, src, name,
							     page.entries[i].last_modified));
			} else {
				TFA_GUARD(get_version(r, src, c, (const char *)objpath.data, shown,
						      &page.entries[i]));
			}
		}
		/*
		 * S3 lists keys in byte order, and KEY sorts before every other key it
		 * prefixes (KEY.tflock, the lock object use_lockfile writes with a version
		 * and a delete marker a run): once the page ends on another key, KEY's
		 * versions are all listed and the rest need not be read.
		 */
		if (!page.truncated || strcmp(page.next_key, u.prefix) != 0)
			break;
		/* The markers must move on, or the listing would never end. */
		TFA_ENSURE(pages == 1 || strcmp(prev_key, page.next_key) != 0 ||
			       strcmp(prev_vid, page.next_version_id) != 0,
			   TFA_EBACKEND,
			   "s3 ListObjectVersions: the listing of %s does not advance", shown);
		snprintf(prev_key, sizeof(prev_key), "%s", page.next_key);
		snprintf(prev_vid, sizeof(prev_vid), "%s", page.next_version_id);
	}
out:
	tfa_s3ver_page_free(&page);
	tfa_aws_response_free(&resp);
	tfa_buf_free(&query);
	tfa_buf_free(&objpath);
	tfa_aws_client_free(c);
	return rc;
}

#else

tfa_err tfa_reconcile_add_s3(tfa_reconcile *r, const char *uri)
{
	(void)r;
	(void)uri;
	return tfa_error_set(TFA_EUSAGE, "--state-s3: this build has no AWS support");
}

#endif
