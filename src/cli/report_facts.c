#include "report_facts.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"

void report_esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* The actor a record's context claims, or NULL. */
static const char *claimed_actor(const cJSON *doc)
{
	const char *s;

	if ((s = tfa_cli_json_str(doc, "context", "ci", "actor")) ||
	    (s = tfa_cli_json_str(doc, "context", "ci", "user")) ||
	    (s = tfa_cli_json_str(doc, "context", "ci", "job_name")) ||
	    (s = tfa_cli_json_str(doc, "context", "host", NULL)))
		return s;
	return NULL;
}

const char *report_who(const cJSON *doc)
{
	const char *s = claimed_actor(doc);

	return s ? s : "unknown";
}

void report_time(char out[32], int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "?");
}

bool report_is_deployment(const char *event)
{
	return strcmp(event, "rotate") != 0 && strcmp(event, "drift-check") != 0 &&
	       strcmp(event, "reconcile") != 0;
}

/* Makes room for one more element of size sz in *v; -1 when out of memory. */
static int grow(void **v, size_t *cap, size_t n, size_t sz)
{
	void *nv;
	size_t nc;

	if (n < *cap)
		return 0;
	nc = *cap ? 2 * *cap : 16;
	nv = realloc(*v, nc * sz);
	if (nv == NULL)
		return -1;
	*v = nv;
	*cap = nc;
	return 0;
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static int strs_push(report_strs *s, char *owned)
{
	if (owned == NULL || grow((void **)&s->v, &s->cap, s->n, sizeof(*s->v)) != 0) {
		free(owned);
		return -1;
	}
	s->v[s->n++] = owned;
	return 0;
}

static int add_touches(report_facts *f, uint64_t seq, const cJSON *doc)
{
	const cJSON *it, *c = tfa_cli_json_at(doc, "terraform", "changes", NULL);

	cJSON_ArrayForEach(it, c)
	{
		const char *addr = tfa_cli_json_str(it, "address", NULL, NULL);
		report_touch *t;

		if (addr == NULL)
			continue;
		if (grow((void **)&f->touch, &f->captouch, f->ntouch, sizeof(*f->touch)) != 0)
			return -1;
		t = &f->touch[f->ntouch];
		t->seq = seq;
		t->address = strdup(addr);
		t->action = dup_or_empty(tfa_cli_json_str(it, "action", NULL, NULL));
		if (t->address == NULL || t->action == NULL) {
			free(t->address);
			free(t->action);
			return -1;
		}
		f->ntouch++;
	}
	return 0;
}

static int add_rotation(report_facts *f, uint64_t seq, const cJSON *doc)
{
	report_rot *r;

	if (grow((void **)&f->rots, &f->caprots, f->nrots, sizeof(*f->rots)) != 0)
		return -1;
	r = &f->rots[f->nrots];
	r->seq = seq;
	r->new_fpr = dup_or_empty(tfa_cli_json_str(doc, "rotation", "new_key_fingerprint", NULL));
	r->new_alg = dup_or_empty(tfa_cli_json_str(doc, "rotation", "new_algorithm", NULL));
	r->pop = dup_or_empty(tfa_cli_json_str(doc, "rotation", "pop_signature", NULL));
	r->old_fpr = dup_or_empty(tfa_cli_json_str(doc, "signer", "key_fingerprint", NULL));
	f->nrots++; /* counted now, so that report_facts_free releases what was made */
	if (!r->new_fpr || !r->new_alg || !r->pop || !r->old_fpr)
		return -1;
	return 0;
}

int report_facts_add(report_facts *f, uint64_t seq, const tfa_artifact *a, const cJSON *doc)
{
	report_rec *r;

	if (grow((void **)&f->recs, &f->caprecs, f->nrecs, sizeof(*f->recs)) != 0)
		return -1;
	r = &f->recs[f->nrecs++];
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->time = a->time;
	snprintf(r->event, sizeof(r->event), "%s", a->event);
	r->failed = strcmp(a->status, "succeeded") != 0;
	r->spooled = a->spooled;
	if (a->is_rotation)
		return add_rotation(f, seq, doc);
	if (claimed_actor(doc) == NULL)
		f->noactor++;
	else if (strs_push(&f->actors, strdup(claimed_actor(doc))) != 0)
		return -1;
	if (a->has_identity) {
		const char *sub = tfa_cli_json_str(doc, "identity", "subject", NULL);
		const char *iss = tfa_cli_json_str(doc, "identity", "issuer", NULL);
		size_t ls = strlen(sub ? sub : ""), n = ls + strlen(iss ? iss : "") + 24;
		char *s = malloc(n);

		/* The subject's length first: no character of either can blur the pair. */
		if (s)
			snprintf(s, n, "%zu:%s%s", ls, sub ? sub : "", iss ? iss : "");
		if (strs_push(&f->identities, s) != 0)
			return -1;
	}
	return add_touches(f, seq, doc);
}

static void strs_free(report_strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

void report_facts_free(report_facts *f)
{
	for (size_t i = 0; i < f->ntouch; i++) {
		free(f->touch[i].address);
		free(f->touch[i].action);
	}
	free(f->touch);
	for (size_t i = 0; i < f->nrots; i++) {
		free(f->rots[i].new_fpr);
		free(f->rots[i].new_alg);
		free(f->rots[i].pop);
		free(f->rots[i].old_fpr);
	}
	free(f->rots);
	free(f->recs);
	strs_free(&f->actors);
	strs_free(&f->identities);
	memset(f, 0, sizeof(*f));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Identities ("<n>:<subject><issuer>") by subject, then issuer. */
static int cmp_ident(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t lx = (size_t)strtoull(x, NULL, 10), ly = (size_t)strtoull(y, NULL, 10);
	const char *sx = strchr(x, ':') + 1, *sy = strchr(y, ':') + 1;
	int c = memcmp(sx, sy, lx < ly ? lx : ly);

	if (c == 0 && lx != ly)
		return lx < ly ? -1 : 1;
	return c ? c : strcmp(sx + lx, sy + ly);
}

/* Sorts s by cmp and drops repeats; returns the number left. */
static size_t strs_unique(report_strs *s, int (*cmp)(const void *, const void *))
{
	size_t k = 0;

	if (s->n == 0)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), cmp);
	for (size_t i = 1; i < s->n; i++) {
		if (cmp(&s->v[i], &s->v[k]) == 0)
			free(s->v[i]);
		else
			s->v[++k] = s->v[i];
	}
	s->n = k + 1;
	return s->n;
}

static void row_start(FILE *out, const char *id, const char *label, unsigned long long n)
{
	fprintf(out, "<tr id=\"%s\"><th>%s</th><td><span class=\"n\">%llu</span>", id, label, n);
}

void report_write_summary(FILE *out, report_facts *f, const tfa_verify_report *r)
{
	unsigned long long dep = 0, dep_failed = 0, failed = 0, rollbacks = 0, drift = 0,
			   reconciles = 0, rotations = 0, spooled = 0;
	int64_t tmin = 0, tmax = 0;
	char a[32], b[32];
	size_t nact, nid;

	for (size_t i = 0; i < f->nrecs; i++) {
		const report_rec *x = &f->recs[i];
		if (i == 0 || x->time < tmin)
			tmin = x->time;
		if (i == 0 || x->time > tmax)
			tmax = x->time;
		failed += x->failed;
		spooled += x->spooled;
		if (report_is_deployment(x->event)) {
			dep++;
			dep_failed += x->failed;
		}
		rollbacks += strcmp(x->event, "rollback") == 0;
		drift += strcmp(x->event, "drift-check") == 0;
		reconciles += strcmp(x->event, "reconcile") == 0;
		rotations += strcmp(x->event, "rotate") == 0;
	}
	nact = strs_unique(&f->actors, cmp_str);
	nid = strs_unique(&f->identities, cmp_ident);
	report_time(a, tmin);
	report_time(b, tmax);
	fputs("<h2 id=\"h-summary\">Summary</h2>\n<table id=\"summary\" class=\"kv\">\n", out);
	fprintf(
	    out,
	    "<tr id=\"sum-period\"><th>Period covered</th><td><span class=\"n\">%s</span> to "
	    "<span class=\"n2\">%s</span> (records as timed by their writer's clock)</td></tr>\n",
	    a, b);
	row_start(out, "sum-records", "Records", (unsigned long long)f->nrecs);
	fprintf(out, " (seq %llu to %llu)</td></tr>\n", (unsigned long long)r->from_seq,
		(unsigned long long)r->to_seq);
	row_start(out, "sum-deployments", "Deployments", dep);
	fprintf(out,
		": %llu succeeded, %llu failed (every record but drift checks, reconciles and "
		"key rotations)</td></tr>\n",
		dep - dep_failed, dep_failed);
	row_start(out, "sum-failures", "Failures", failed);
	fputs(" (records whose outcome is not <code>succeeded</code>)</td></tr>\n", out);
	row_start(out, "sum-rollbacks", "Rollbacks", rollbacks);
	fputs("</td></tr>\n", out);
	if (drift) {
		row_start(out, "sum-drift", "Drift checks", drift);
		fputs("</td></tr>\n", out);
	}
	if (reconciles) {
		row_start(out, "sum-reconciles", "Reconciles", reconciles);
		fputs("</td></tr>\n", out);
	}
	if (spooled) {
		row_start(out, "sum-spooled", "Appended from a spool", spooled);
		fputs("</td></tr>\n", out);
	}
	row_start(out, "sum-actors", "Distinct actors (claimed)", (unsigned long long)nact);
	for (size_t i = 0; i < nact; i++) {
		fputs(i ? ", " : ": ", out);
		fputs("<span class=\"actor\">", out);
		report_esc(out, f->actors.v[i]);
		fputs("</span>", out);
	}
	if (f->noactor)
		fprintf(out, " (%llu record%s claim%s none)", (unsigned long long)f->noactor,
			f->noactor == 1 ? "" : "s", f->noactor == 1 ? "s" : "");
	fputs("</td></tr>\n", out);
	row_start(out, "sum-identities", "Distinct verified identities", (unsigned long long)nid);
	for (size_t i = 0; i < nid; i++) {
		char *v = f->identities.v[i], *sub = strchr(v, ':') + 1;
		size_t ls = (size_t)strtoull(v, NULL, 10);
		char keep = sub[ls];

		fputs(i ? ", " : ": ", out);
		fputs("<span class=\"identity\">", out);
		sub[ls] = '\0';
		report_esc(out, sub);
		sub[ls] = keep;
		fputs(" (issuer ", out);
		report_esc(out, sub + ls);
		fputs(")</span>", out);
	}
	if (nid)
		fputs(" (verified by the attestation service that signed the record)", out);
	fputs("</td></tr>\n", out);
	row_start(out, "sum-keys", "Keys", (unsigned long long)r->nkeys);
	fprintf(out, ", %llu rotation%s in this range</td></tr>\n</table>\n", rotations,
		rotations == 1 ? "" : "s");
}

const tfa_verify_key *report_key_at(const tfa_verify_report *r, uint64_t seq)
{
	for (size_t i = 0; i < r->nkeys; i++)
		if (r->keys[i].from_seq <= seq &&
		    (r->keys[i].to_seq == 0 || seq <= r->keys[i].to_seq))
			return &r->keys[i];
	return NULL;
}

void report_write_keys(FILE *out, const report_facts *f, const tfa_verify_report *r)
{
	fputs("<h2 id=\"h-keys\">Keys</h2>\n<table id=\"keys\"><thead><tr><th>#</th><th>Key "
	      "fingerprint</th><th>Signs</th><th>Brought in by</th></tr></thead>\n",
	      out);
	for (size_t i = 0; i < r->nkeys; i++) {
		const tfa_verify_key *k = &r->keys[i];
		const report_rot *rot = NULL;

		fprintf(out, "<tr class=\"key\" id=\"key-%zu\"><td>%zu</td><td class=\"mono\">",
			i + 1, i + 1);
		report_esc(out, k->fpr);
		if (k->to_seq)
			fprintf(out, "</td><td class=\"range\">seq %llu to %llu</td><td>",
				(unsigned long long)k->from_seq, (unsigned long long)k->to_seq);
		else
			fprintf(out,
				"</td><td class=\"range\">seq %llu onward (in force at "
				"export)</td><td>",
				(unsigned long long)k->from_seq);
		if (i == 0) {
			fputs(r->key_pinned ? "the chain's anchor, <span class=\"ok\">pinned</span>"
					    : "the chain's anchor, <span class=\"warn\">not "
					      "pinned</span> (taken from the bundle)",
			      out);
			fputs("</td></tr>\n", out);
			continue;
		}
		for (size_t j = 0; j < f->nrots; j++)
			if (f->rots[j].seq + 1 == k->from_seq)
				rot = &f->rots[j];
		if (rot == NULL) {
			fprintf(
			    out,
			    "rotation record %llu (under <code>keys/</code>, outside this "
			    "bundle's records): its proof of possession was verified</td></tr>\n",
			    (unsigned long long)(k->from_seq - 1));
			continue;
		}
		fprintf(out,
			"<span class=\"rot\">rotation record %llu</span>, signed by the key "
			"it replaces <code>",
			(unsigned long long)rot->seq);
		report_esc(out, rot->old_fpr);
		fputs("</code>; new key <code class=\"newkey\">", out);
		report_esc(out, rot->new_fpr);
		fputs("</code> (", out);
		report_esc(out, rot->new_alg);
		fputs("); proof of possession <span class=\"ok\">verified</span>: signature <code "
		      "class=\"pop\">",
		      out);
		report_esc(out, rot->pop);
		fputs("</code> by the new key over the chain, the seq, the previous hash and both "
		      "keys</td></tr>\n",
		      out);
	}
	fputs("</table>\n", out);
}

static int cmp_touch(const void *a, const void *b)
{
	const report_touch *x = a, *y = b;
	int c = strcmp(x->address, y->address);

	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void report_write_resources(FILE *out, report_facts *f)
{
	size_t naddr = 0;

	qsort(f->touch, f->ntouch, sizeof(*f->touch), cmp_touch);
	for (size_t i = 0; i < f->ntouch; i++)
		naddr += i == 0 || strcmp(f->touch[i].address, f->touch[i - 1].address) != 0;
	fprintf(out,
		"<h2 id=\"h-resources\">Resources</h2>\n<p>%zu resource address%s, each with every "
		"record that planned a change to it and the action.</p>\n",
		naddr, naddr == 1 ? "" : "es");
	if (naddr == 0)
		return;
	fputs("<table id=\"resources\"><thead><tr><th>Resource address</th><th>Records "
	      "(seq: action)</th></tr></thead>\n",
	      out);
	for (size_t i = 0; i < f->ntouch; i++) {
		const report_touch *t = &f->touch[i];
		bool first = i == 0 || strcmp(t->address, f->touch[i - 1].address) != 0;

		if (first) {
			if (i)
				fputs("</td></tr>\n", out);
			fputs("<tr class=\"res\"><td class=\"mono addr\">", out);
			report_esc(out, t->address);
			fputs("</td><td class=\"touches\">", out);
		} else {
			fputs(", ", out);
		}
		fprintf(out, "<span class=\"touch\">%llu: ", (unsigned long long)t->seq);
		report_esc(out, t->action);
		fputs("</span>", out);
	}
	fputs("</td></tr>\n</table>\n", out);
}

/* Bin widths for the chart, smallest first: the first that needs at most CHART_BINS bins. */
#define CHART_BINS 48
static const int64_t bin_widths[] = {60,    300,       900,	   3600,       6 * 3600,
				     86400, 7 * 86400, 30 * 86400, 365 * 86400};
static const char *const bin_names[] = {"minute", "5 minutes", "15 minutes", "hour",	"6 hours",
					"day",	  "week",      "30 days",    "365 days"};

void report_write_chart(FILE *out, const report_facts *f)
{
	const int W = 860, H = 240, L = 44, R = 12, T = 16, B = 46;
	int64_t tmin = 0, tmax = 0, width = bin_widths[0], start;
	const char *wname = bin_names[0];
	size_t nd = 0, nbins, maxc = 0;
	unsigned(*bins)[2] = NULL;
	char a[32], b[32];

	for (size_t i = 0; i < f->nrecs; i++) {
		const report_rec *x = &f->recs[i];
		if (!report_is_deployment(x->event))
			continue;
		if (nd == 0 || x->time < tmin)
			tmin = x->time;
		if (nd == 0 || x->time > tmax)
			tmax = x->time;
		nd++;
	}
	fputs("<h2 id=\"h-chart\">Deployments over time</h2>\n", out);
	if (nd == 0) {
		fputs("<p id=\"chart-none\">No deployments in this range.</p>\n", out);
		return;
	}
	for (size_t i = 0; i < sizeof(bin_widths) / sizeof(bin_widths[0]); i++) {
		width = bin_widths[i];
		wname = bin_names[i];
		if ((tmax / width - tmin / width) + 1 <= CHART_BINS)
			break;
	}
	start = tmin / width * width;
	nbins = (size_t)((tmax - start) / width) + 1;
	bins = calloc(nbins, sizeof(*bins));
	if (bins == NULL) {
		fputs("<p>(chart left out: out of memory)</p>\n", out);
		return;
	}
	for (size_t i = 0; i < f->nrecs; i++) {
		const report_rec *x = &f->recs[i];
		size_t k;
		if (!report_is_deployment(x->event))
			continue;
		k = (size_t)((x->time - start) / width);
		if (k >= nbins)
			k = nbins - 1;
		bins[k][x->failed]++;
	}
	for (size_t k = 0; k < nbins; k++)
		if (bins[k][0] + bins[k][1] > maxc)
			maxc = bins[k][0] + bins[k][1];
	fprintf(out,
		"<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
		"width=\"100%%\" role=\"img\" aria-labelledby=\"chart-title\">"
		"<title id=\"chart-title\">Deployments per %s, succeeded and failed</title>\n",
		W, H, wname);
	/* Axes and the y scale: 0 and the largest bin. */
	fprintf(out,
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>"
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>"
		"<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"11\">0</text>"
		"<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"11\">%zu</text>\n",
		L, H - B, W - R, H - B, L, T, L, H - B, L - 6, H - B + 4, L - 6, T + 4, maxc);
	{
		double bw = (double)(W - L - R) / (double)nbins;
		double plot_h = (double)(H - T - B);
		for (size_t k = 0; k < nbins; k++) {
			unsigned s = bins[k][0], fl = bins[k][1];
			/* At most 80 wide, centred in its slot: a few bins do not read as a wall.
			 */
			double w = bw > 82 ? 80.0 : bw > 6 ? bw - 2.0 : bw;
			double x = L + bw * (double)k + (bw - w) / 2.0;
			double hs = plot_h * s / (double)maxc, hf = plot_h * fl / (double)maxc;
			char from[32], to[32];

			if (s + fl == 0)
				continue;
			report_time(from, start + (int64_t)k * width);
			report_time(to, start + (int64_t)(k + 1) * width);
			fprintf(
			    out,
			    "<g class=\"bin\" data-from=\"%s\" data-succeeded=\"%u\" "
			    "data-failed=\"%u\"><title>%s to %s: %u succeeded, %u failed</title>",
			    from, s, fl, from, to, s, fl);
			if (s)
				fprintf(
				    out,
				    "<rect class=\"ok-bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				    "height=\"%.1f\" fill=\"#2e8b57\"/>",
				    x, (double)(H - B) - hs, w, hs);
			if (fl)
				fprintf(
				    out,
				    "<rect class=\"bad-bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				    "height=\"%.1f\" fill=\"#c0392b\"/>",
				    x, (double)(H - B) - hs - hf, w, hf);
			fputs("</g>\n", out);
		}
	}
	report_time(a, start);
	report_time(b, start + (int64_t)nbins * width);
	fprintf(out,
		"<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>"
		"<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"11\">%s</text>\n"
		"<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"#2e8b57\"/>"
		"<text x=\"%d\" y=\"%d\" font-size=\"11\">succeeded</text>"
		"<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"#c0392b\"/>"
		"<text x=\"%d\" y=\"%d\" font-size=\"11\">failed</text></svg>\n",
		L, H - B + 16, a, W - R, H - B + 16, b, L, H - 16, L + 14, H - 7, L + 90, H - 16,
		L + 104, H - 7);
	fprintf(
	    out,
	    "<p class=\"note\" id=\"chart-note\">%zu deployment%s, counted per %s (UTC) from %s; "
	    "bars are stacked: succeeded below, failed above.</p>\n",
	    nd, nd == 1 ? "" : "s", wname, a);
	free(bins);
}
