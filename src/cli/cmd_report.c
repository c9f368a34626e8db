/*
 * tfattest report BUNDLE --html FILE [trust inputs of verify]: the verifier's
 * result, whether the bundle is shown complete, and the bundle's records as
 * one self-contained HTML page for auditors. The page has inline CSS and an
 * inline SVG chart only: no script, no image, no link, no reference to
 * anything outside itself. Every string taken from the bundle is HTML-escaped.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "esc.h"
#include "opts.h"
#include "report_facts.h"
#include "tfattest/artifact.h"
#include "tfattest/buffer.h"
#include "tfattest/verify.h"

#define PATH_CAP 4096

/*
 * Labels and values wrap inside their own grid column (a long label such as
 * signer.provenance.token_label never runs into its value), and the page
 * prints: no background is lost, no record or row is split across pages.
 */
static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;"
    "max-width:1100px;color:#1b1f24;padding:0 1em}"
    "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}"
    "code,.mono{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:12.5px;"
    "word-break:break-all;overflow-wrap:anywhere}"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;"
    "border-bottom:1px solid #e3e3e3;vertical-align:top}th{background:#f4f5f7}"
    "table.kv th{width:16em}#keys td:nth-child(2){width:24%}"
    ".ok{color:#0a6b2d;font-weight:600}.bad{color:#b3001b;font-weight:600}"
    ".warn{color:#8a5a00;font-weight:600}.na{color:#666}"
    ".banner{padding:.8em 1em;border-radius:6px;margin:1em 0}"
    ".banner.ok{background:#e6f4ea}.banner.bad{background:#fde7ea}"
    ".banner.warn{background:#fff3dc}"
    "#completeness{font-weight:400;color:#1b1f24}"
    "#completeness.ok strong{color:#0a6b2d}#completeness.bad strong{color:#b3001b}"
    "#completeness.warn strong{color:#8a5a00}"
    ".badge{display:inline-block;padding:0 6px;border-radius:8px;background:#eef;font-size:12px;"
    "margin-left:4px}"
    "section.rec{border:1px solid #ddd;border-radius:6px;padding:.5em 1em;margin:1em 0}"
    "dl{display:grid;grid-template-columns:minmax(8em,16em) minmax(0,1fr);gap:2px 12px}"
    "dt{color:#555;min-width:0;overflow-wrap:anywhere}"
    "dd{margin:0;min-width:0;overflow-wrap:anywhere}"
    "svg#chart{display:block;max-width:100%;height:auto}.note{color:#555;font-size:12.5px}"
    "@media print{@page{margin:14mm}"
    "body{margin:0;max-width:none;padding:0;font-size:10.5pt}"
    "*{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    "h2,h3{break-after:avoid;page-break-after:avoid}"
    "section.rec,tr,svg,.banner{break-inside:avoid;page-break-inside:avoid}"
    "thead{display:table-header-group}}";

static int jint(const cJSON *o, const char *a, const char *b, const char *c)
{
	const cJSON *v = tfa_cli_json_at(o, a, b, c);
	return cJSON_IsNumber(v) ? v->valueint : 0;
}

/* One <dt>/<dd> pair per string or number member of an object. */
static void dl_members(FILE *f, const cJSON *o, const char *prefix)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, o)
	{
		if (cJSON_IsObject(m)) {
			char p[256];
			snprintf(p, sizeof(p), "%s%s.", prefix, m->string);
			dl_members(f, m, p);
			continue;
		}
		fputs("<dt>", f);
		report_esc(f, prefix);
		report_esc(f, m->string);
		fputs("</dt><dd class=\"mono\">", f);
		if (cJSON_IsString(m))
			report_esc(f, m->valuestring);
		else if (cJSON_IsNumber(m))
			fprintf(f, "%.0f", m->valuedouble);
		else if (cJSON_IsBool(m))
			fputs(cJSON_IsTrue(m) ? "true" : "false", f);
		else if (cJSON_IsArray(m))
			fprintf(f, "(%d items)", cJSON_GetArraySize(m));
		fputs("</dd>", f);
	}
}

static const char *layer_label(int l)
{
	static const char *const n[] = {"",	      "Manifest signature",  "File hashes",
					"Hash chain", "Artifact signatures", "Checkpoints"};
	return l >= 1 && l <= 5 ? n[l] : "";
}

/* How a checkpoint's timestamp stands, as a phrase. */
static void write_ts(FILE *f, const tfa_verify_checkpoint *c)
{
	char when[32];

	switch (c->ts) {
	case TFA_TS_VALID:
		report_time(when, c->ts_gen_time);
		fprintf(f,
			"timestamped at <span class=\"ts-time\">%s</span> by <span class=\"tsa\">",
			when);
		report_esc(f, c->ts_subject);
		fputs("</span> (RFC 3161, <span class=\"ok\">verified</span> against --tsa-ca)", f);
		break;
	case TFA_TS_UNCHECKED:
		fputs(
		    "<span class=\"warn\">its timestamp was not checked</span> (no --tsa-ca given)",
		    f);
		break;
	default: fputs("not timestamped", f); break;
	}
}

/*
 * The completeness statement: whether the bundle reaches a trusted
 * checkpoint, which, signed when and by which key, timestamped by whom; and
 * where it starts.
 */
static void write_completeness(FILE *f, tfa_err rc, const tfa_verify_report *r,
			       const tfa_verify_opts *o)
{
	const tfa_verify_checkpoint *best = NULL, *own = NULL;
	char when[32];

	for (size_t i = 0; i < r->ncheckpoints; i++) {
		const tfa_verify_checkpoint *c = &r->checkpoints[i];
		if (!c->trusted)
			own = c;
		else if (best == NULL || c->seq > best->seq)
			best = c;
	}
	fputs("<h2 id=\"h-completeness\">Completeness</h2>\n", f);
	if (rc != TFA_OK) {
		if (rc == TFA_EVERIFY && r->failed_layer == TFA_LAYER_CHECKPOINTS) {
			fputs("<div id=\"completeness\" class=\"banner bad\"><strong>NOT COMPLETE"
			      "</strong>: the bundle does not check out against a trusted "
			      "checkpoint: ",
			      f);
			report_esc(f, r->message);
			fputs(
			    ". Records may have been withheld, or this is an older export.</div>\n",
			    f);
		} else {
			fputs(
			    "<div id=\"completeness\" class=\"banner bad\"><strong>NOT "
			    "ESTABLISHED</strong>: the bundle did not verify, so nothing about its "
			    "completeness holds.</div>\n",
			    f);
		}
		return;
	}
	if (best) {
		const tfa_verify_key *k = report_key_at(r, best->seq + 1);
		fprintf(
		    f,
		    "<div id=\"completeness\" class=\"banner ok\"><strong>COMPLETE through seq "
		    "<span "
		    "class=\"n\">%llu</span></strong>: the bundle reaches the trusted checkpoint "
		    "<code class=\"ckpt-file\">",
		    (unsigned long long)best->seq);
		report_esc(f, best->file);
		report_time(when, best->time);
		fprintf(f, "</code> (head seq %llu, head hash <code>",
			(unsigned long long)best->seq);
		report_esc(f, best->head_hash);
		fprintf(
		    f,
		    "</code>), signed at <span class=\"ckpt-time\">%s</span> by the chain's key "
		    "<code>",
		    when);
		report_esc(f, k ? k->fpr : "(unknown)");
		fputs("</code>, ", f);
		write_ts(f, best);
		fputs(".", f);
		if (r->to_seq == best->seq + 1)
			fprintf(f,
				" <span class=\"warn\">Record %llu comes after it</span>: nothing "
				"shows that no record after it was withheld.",
				(unsigned long long)r->to_seq);
		else if (r->to_seq > best->seq)
			fprintf(f,
				" <span class=\"warn\">Records %llu to %llu come after it</span>: "
				"nothing shows that no record after them was withheld.",
				(unsigned long long)best->seq + 1, (unsigned long long)r->to_seq);
		else
			fputs(" The bundle ends at the checkpoint's head.", f);
		fputs("</div>\n", f);
	} else {
		fputs("<div id=\"completeness\" class=\"banner warn\"><strong>NOT SHOWN "
		      "COMPLETE</strong>: no trusted checkpoint was given (--checkpoint). The "
		      "records present are consistent, but records could have been withheld from "
		      "the end, or this could be an older export.",
		      f);
		if (own)
			fprintf(f,
				" The bundle's own checkpoint (seq %llu) is consistent but proves "
				"nothing: whoever made the bundle chose it.",
				(unsigned long long)own->seq);
		fputs("</div>\n", f);
	}
	if (r->from_seq == 1)
		fprintf(f, "<p id=\"start\">It starts at the chain's first record%s.</p>\n",
			o->require_genesis ? " (required with --require-genesis)" : "");
	else
		fprintf(f,
			"<p id=\"start\" class=\"warn\">It starts at seq %llu: records 1 to %llu "
			"are not in this bundle.</p>\n",
			(unsigned long long)r->from_seq, (unsigned long long)r->from_seq - 1);
	if (r->ncheckpoints) {
		fputs("<table "
		      "id=\"checkpoints\"><thead><tr><th>Checkpoint</th><th>Trust</th><th>Head "
		      "seq</th><th>Signed</th><th>Timestamp</th></tr></thead>\n",
		      f);
		for (size_t i = 0; i < r->ncheckpoints; i++) {
			const tfa_verify_checkpoint *c = &r->checkpoints[i];
			report_time(when, c->time);
			fputs("<tr><td class=\"mono\">", f);
			report_esc(f, c->file);
			fprintf(f, "</td><td>%s</td><td>%llu</td><td>%s</td><td>",
				c->trusted ? "<span class=\"ok\">trusted</span> (given)"
					   : "the bundle's own (untrusted)",
				(unsigned long long)c->seq, when);
			write_ts(f, c);
			fputs("</td></tr>\n", f);
		}
		fputs("</table>\n", f);
	}
}

static void write_top(FILE *f, const char *bundle, tfa_err rc, const tfa_verify_report *r,
		      const tfa_verify_opts *o)
{
	fputs("<h1>Deployment attestation report</h1>\n<p>Bundle <code>", f);
	report_esc(f, bundle);
	fputs("</code>, chain <code>", f);
	report_esc(f, r->chain_id);
	fprintf(f, "</code>, records %llu to %llu.</p>\n", (unsigned long long)r->from_seq,
		(unsigned long long)r->to_seq);
	if (rc == TFA_OK)
		fputs(
		    "<div class=\"banner ok\" id=\"result\">VERIFIED: every layer passed.</div>\n",
		    f);
	else {
		fputs("<div class=\"banner bad\" id=\"result\">NOT VERIFIED: ", f);
		report_esc(f, r->message);
		fputs(". Nothing in this bundle should be relied on.</div>\n", f);
	}
	write_completeness(f, rc, r, o);
}

static void write_verification(FILE *f, tfa_err rc, const tfa_verify_report *r)
{
	fputs("<h2 id=\"h-verification\">Verification</h2>\n<table id=\"layers\"><thead><tr><th>"
	      "Layer</th><th>Result</th></tr></thead>\n",
	      f);
	for (int l = 1; l <= 5; l++) {
		const char *cls, *txt;
		/* As verify --json says it: a layer whose [SUCCESS] line was given passed. */
		if (rc == TFA_EVERIFY && (int)r->failed_layer == l)
			cls = "bad", txt = "FAILED";
		else if (rc == TFA_OK || (int)r->passed_layer >= l)
			cls = "ok", txt = "passed";
		else
			cls = "na", txt = "not checked";
		fprintf(f, "<tr><td>%d. %s</td><td class=\"%s\">%s", l, layer_label(l), cls, txt);
		if (rc == TFA_OK && l == 2)
			fprintf(f, " (%llu files)", (unsigned long long)r->files);
		if (rc == TFA_OK && (l == 3 || l == 4))
			fprintf(f, " (%llu artifacts)", (unsigned long long)r->artifacts);
		if (rc == TFA_OK && l == 5) {
			size_t n = 0;
			for (size_t i = 0; i < r->ncheckpoints; i++)
				n += r->checkpoints[i].trusted;
			fprintf(f, " (%zu trusted checkpoint%s)", n, n == 1 ? "" : "s");
		}
		if (rc == TFA_EVERIFY && (int)r->failed_layer == l) {
			fputs(": ", f);
			report_esc(f, r->message);
		}
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n<h2 id=\"h-trust\">Trusted key</h2>\n<p>Anchor fingerprint <code>", f);
	report_esc(f, r->trusted_fpr[0] ? r->trusted_fpr : "(none)");
	fputs("</code>: ", f);
	if (r->key_pinned)
		fputs("<span class=\"ok\">pinned</span> (matches the fingerprint given with "
		      "--expect-key-fingerprint).</p>\n",
		      f);
	else
		fputs("<span class=\"warn\">NOT pinned</span>: the key was taken from the bundle "
		      "itself; "
		      "a bundle re-signed end to end with another key would verify too. Obtain the "
		      "fingerprint independently and pass it with --expect-key-fingerprint.</p>\n",
		      f);
	if (r->exporter_signed) {
		fputs(
		    "<p>Manifest: <span class=\"warn\">signed by the exporter's key</span> <code>",
		    f);
		report_esc(f, r->exporter_fpr);
		fputs(
		    "</code>, not by the chain's key. It shows who assembled this bundle, not that "
		    "the chain's key holder exported this range; every record is still checked "
		    "against the chain's keys, and that the range is complete rests only on "
		    "--checkpoint and --require-genesis.</p>\n",
		    f);
	}
	if (r->writer_name[0]) {
		fputs("<p>Written by <code>", f);
		report_esc(f, r->writer_name);
		fputs(" ", f);
		report_esc(f, r->writer_version);
		fputs("</code>, as the manifest says: the writing program's own claim, signed with "
		      "the manifest but not evidence of which program wrote it.</p>\n",
		      f);
	}
}

/* One row of the timeline. */
static void write_row(FILE *f, uint64_t seq, const tfa_artifact *a, const cJSON *doc)
{
	char when[32];
	const char *s;

	report_time(when, a->time);
	fprintf(f, "<tr class=\"tl\" id=\"tl-%llu\"><td>%llu</td><td>%s</td><td>",
		(unsigned long long)seq, (unsigned long long)seq, when);
	report_esc(f, a->event);
	if (a->rollback_to)
		fprintf(f, " <span class=\"badge\">to %llu</span>",
			(unsigned long long)a->rollback_to);
	fprintf(f, "</td><td class=\"%s\">", strcmp(a->status, "succeeded") == 0 ? "ok" : "bad");
	report_esc(f, a->status);
	fprintf(f, " (exit %d)", (int)a->exit_code);
	if (a->spooled)
		fputs(" <span class=\"badge\">spooled</span>", f);
	fputs("</td><td>", f);
	if (a->is_rotation) {
		/* Signed by the key it retires; the new key proved possession (checked). */
		fputs("the holder of <code>", f);
		report_esc(f, a->key_fpr);
		fputs("</code></td><td>new key <code class=\"newkey\">", f);
		report_esc(f, a->rot.new_fpr);
		fputs("</code> (", f);
		report_esc(f, tfa_cli_json_str(doc, "rotation", "new_algorithm", NULL));
		fputs("), proof of possession <span class=\"ok\">verified</span></td></tr>\n", f);
		return;
	}
	if (a->has_identity) {
		/* The verified identity first; the context's actor is only a claim. */
		fputs("<span class=\"badge\">verified</span> ", f);
		report_esc(f, tfa_cli_json_str(doc, "identity", "subject", NULL));
		fputs("<br>claimed: ", f);
	}
	report_esc(f, report_who(doc));
	if ((s = tfa_cli_json_str(doc, "context", "ci", "repository")) ||
	    (s = tfa_cli_json_str(doc, "context", "ci", "project"))) {
		fputs("<br><span class=\"mono\">", f);
		report_esc(f, s);
		fputs("</span>", f);
	}
	fprintf(f, "</td><td>+%d ~%d -%d &plusmn;%d", jint(doc, "terraform", "counts", "create"),
		jint(doc, "terraform", "counts", "update"),
		jint(doc, "terraform", "counts", "delete"),
		jint(doc, "terraform", "counts", "replace"));
	if (!tfa_cli_json_at(doc, "terraform", "plan_sha256", NULL))
		fputs(" <span class=\"badge\">no saved plan</span>", f);
	fputs("</td></tr>\n", f);
}

/* One section per record. */
static void write_section(FILE *f, uint64_t seq, const tfa_artifact *a, const cJSON *doc)
{
	const cJSON *c;
	const char *ph = tfa_cli_json_str(doc, "prev_hash", NULL, NULL);
	char when[32];

	report_time(when, a->time);
	fprintf(f, "<section class=\"rec\" id=\"rec-%llu\"><h3>Record %llu</h3><dl>",
		(unsigned long long)seq, (unsigned long long)seq);
	fprintf(f, "<dt>recorded</dt><dd>%s</dd>", when);
	if (a->spooled) {
		char dep[32], spo[32];
		report_time(dep, a->deployed_at);
		report_time(spo, a->spooled_at);
		fprintf(f, "<dt>spooled</dt><dd>deployed %s, spooled %s, appended later</dd>", dep,
			spo);
	}
	fputs("<dt>prev_hash</dt><dd class=\"mono\">", f);
	report_esc(f, ph);
	fputs("</dd>", f);
	dl_members(f, tfa_cli_json_at(doc, "event", NULL, NULL), "event.");
	dl_members(f, tfa_cli_json_at(doc, "signer", NULL, NULL), "signer.");
	dl_members(f, tfa_cli_json_at(doc, "terraform", NULL, NULL), "terraform.");
	dl_members(f, tfa_cli_json_at(doc, "rotation", NULL, NULL), "rotation.");
	if (a->has_identity)
		dl_members(f, tfa_cli_json_at(doc, "identity", NULL, NULL),
			   "identity (verified by the service, vouched for by the signer).");
	dl_members(f, tfa_cli_json_at(doc, "context", NULL, NULL),
		   a->has_identity ? "context (claimed by the client)." : "context.");
	fputs("</dl>", f);
	c = tfa_cli_json_at(doc, "terraform", "changes", NULL);
	if (cJSON_GetArraySize(c) > 0) {
		const cJSON *it;
		fputs("<table><tr><th>Resource</th><th>Action</th></tr>", f);
		cJSON_ArrayForEach(it, c)
		{
			fputs("<tr><td class=\"mono\">", f);
			report_esc(f, tfa_cli_json_str(it, "address", NULL, NULL));
			fputs("</td><td>", f);
			report_esc(f, tfa_cli_json_str(it, "action", NULL, NULL));
			fputs("</td></tr>", f);
		}
		fputs("</table>", f);
	}
	fputs("</section>\n", f);
}

/*
 * The page's timeline and record sections, built while the verifier reads
 * the bundle, from the very bytes it checks (never from a second read of the
 * path), into two unnamed temporary files. Kept only when every layer passed.
 */
typedef struct page_parts {
	FILE *timeline, *records;
	report_facts facts; /* what the summary, keys, resources and chart count */
	char why[128];	    /* why building stopped */
} page_parts;

static tfa_err on_artifact(void *ud, uint64_t seq, const uint8_t *json, size_t len,
			   const uint8_t *sig, size_t siglen)
{
	page_parts *p = ud;
	tfa_artifact a;
	cJSON *doc;

	(void)sig;
	(void)siglen;
	if (tfa_artifact_parse(&a, json, len) != TFA_OK) {
		snprintf(p->why, sizeof(p->why), "verified artifact %llu does not parse",
			 (unsigned long long)seq);
		return TFA_EINTERNAL;
	}
	doc = cJSON_ParseWithLength((const char *)json, len);
	if (doc == NULL) {
		snprintf(p->why, sizeof(p->why), "out of memory");
		return TFA_EINTERNAL;
	}
	write_row(p->timeline, seq, &a, doc);
	write_section(p->records, seq, &a, doc);
	if (report_facts_add(&p->facts, seq, &a, doc) != 0) {
		cJSON_Delete(doc);
		snprintf(p->why, sizeof(p->why), "out of memory");
		return TFA_EINTERNAL;
	}
	cJSON_Delete(doc);
	if (ferror(p->timeline) || ferror(p->records)) {
		snprintf(p->why, sizeof(p->why), "cannot write a temporary file for the report");
		return TFA_EIO;
	}
	return TFA_OK;
}

/* Appends a temporary part to the page; 0 on success. */
static int copy_part(FILE *to, FILE *from)
{
	char buf[65536];
	size_t n;

	if (fflush(from) != 0 || fseek(from, 0, SEEK_SET) != 0)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), from)) > 0)
		if (fwrite(buf, 1, n, to) != n)
			return -1;
	return ferror(from) ? -1 : 0;
}

static int write_records(FILE *f, page_parts *p)
{
	fputs("<h2 id=\"h-timeline\">Timeline</h2>\n<table id=\"timeline\"><thead><tr><th>Seq</th>"
	      "<th>Recorded</th><th>Event</th><th>Outcome</th><th>Who</th><th>What</th></tr>"
	      "</thead>\n",
	      f);
	if (copy_part(f, p->timeline) != 0)
		return -1;
	fputs("</table>\n<h2 id=\"h-records\">Records</h2>\n", f);
	return copy_part(f, p->records);
}

int tfa_cli_report(int argc, char **argv)
{
	static const struct option own[] = {
	    {"html", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	static const char use[] = TFA_CLI_PROGRAM
	    " report BUNDLE --html FILE [--expect-key-fingerprint FPR|FILE] "
	    "[--checkpoint FILE]... [--tsa-ca FILE] [--require-genesis] [--require-chain-manifest]";
	const char *out = NULL, *bundle;
	char tmp[PATH_CAP + 32];
	tfa_cli_opts co;
	tfa_verify_opts o;
	tfa_verify_report rep;
	tfa_err rc;
	FILE *f = NULL;
	int c, fd = -1, status;
	page_parts parts;

	memset(&o, 0, sizeof(o));
	memset(&parts, 0, sizeof(parts));
	/* The trust inputs are verify's, read by the same code. */
	tfa_cli_opts_init(&co, TFA_CLI_EXPECT_FPR | TFA_CLI_TRUST, use);
	while ((c = tfa_cli_getopt(&co, argc, argv, own)) > 0) {
		switch (c) {
		case 'o': out = optarg; break;
		default: return tfa_cli_usage("%s", use);
		}
	}
	if (c < 0)
		return 2;
	if (optind != argc - 1 || out == NULL)
		return tfa_cli_usage("%s", use);
	bundle = argv[optind];
	tfa_cli_trust_opts(&co, &o);
	if (strlen(out) > PATH_CAP)
		return tfa_cli_usage("--html path too long");
	parts.timeline = tmpfile();
	parts.records = tmpfile();
	if (parts.timeline == NULL || parts.records == NULL) {
		fprintf(stderr, TFA_CLI_PROGRAM ": error: cannot create a temporary file: %s\n",
			strerror(errno));
		status = 2;
		goto out;
	}
	o.on_artifact = on_artifact;
	o.artifact_ud = &parts;
	rc = tfa_verify_bundle(&rep, bundle, &o);
	if (rc != TFA_OK && rc != TFA_EVERIFY) {
		status = tfa_cli_fail(rc);
		if (parts.why[0])
			fprintf(stderr, TFA_CLI_PROGRAM ": error: %s\n", parts.why);
		goto out;
	}
	status = rc == TFA_OK ? 0 : 1;

	snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", out);
	fd = mkstemp(tmp);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, TFA_CLI_PROGRAM ": error: cannot create %s: %s\n", tfa_cli_tty(tmp),
			strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		status = 2;
		goto out;
	}
	(void)fchmod(fd, 0644); /* a report is for reading */
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'\">"
	      "<title>tfattest report: ",
	      f);
	report_esc(f, rep.chain_id);
	fprintf(f, "</title><style>%s</style></head><body>\n", css);
	write_top(f, bundle, rc, &rep, &o);
	/* What the records show only under a verdict that every layer passed: what was built
	 * otherwise is dropped. */
	if (rc == TFA_OK) {
		report_write_summary(f, &parts.facts, &rep);
		report_write_chart(f, &parts.facts);
	}
	write_verification(f, rc, &rep);
	if (rc == TFA_OK) {
		report_write_keys(f, &parts.facts, &rep);
		report_write_resources(f, &parts.facts);
	}
	if (rc == TFA_OK && write_records(f, &parts) != 0) {
		fclose(f);
		unlink(tmp);
		fprintf(stderr, TFA_CLI_PROGRAM ": error: cannot write %s: %s\n", tfa_cli_tty(tmp),
			strerror(errno));
		status = 2;
		goto out;
	}
	fputs(
	    "<h2 id=\"h-about\">About this report</h2><p>Made by tfattest from the bundle and the "
	    "trust inputs given (key fingerprint, checkpoints, TSA CA), offline. The verifier "
	    "checked, in order: the manifest's signature, every file's SHA-256, the hash chain, "
	    "every artifact's signature (and each rotation's proof of possession), and the "
	    "checkpoints. Times are the writer's clock. Claims from CI ID tokens in a record's "
	    "context are recorded as received; their signatures were not checked offline. An "
	    "identity section was verified by the attestation service whose key signed the "
	    "record.</p>\n"
	    "</body></html>\n",
	    f);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0) {
		fprintf(stderr, TFA_CLI_PROGRAM ": error: cannot write %s: %s\n", tfa_cli_tty(tmp),
			strerror(errno));
		unlink(tmp);
		status = 2;
		goto out;
	}
	if (rename(tmp, out) != 0) {
		fprintf(stderr, TFA_CLI_PROGRAM ": error: cannot rename %s to %s: %s\n",
			tfa_cli_tty(tmp), tfa_cli_tty(out), strerror(errno));
		unlink(tmp);
		status = 2;
		goto out;
	}
	printf("%s: %s, report written to %s\n", tfa_cli_tty(bundle),
	       rc == TFA_OK ? "verified" : "NOT verified", tfa_cli_tty(out));
out:
	if (parts.timeline)
		fclose(parts.timeline);
	if (parts.records)
		fclose(parts.records);
	report_facts_free(&parts.facts);
	return status;
}
