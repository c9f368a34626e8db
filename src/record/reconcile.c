/*
 * Reconcile: state versions from files, directories, an S3 object's version
 * history or a command's output, matched by (lineage, serial, sha256) against
 * the after-states of the chain's records.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "capture/statefacts.h"
#include "format/hex.h"
#include "format/utf8.h"
#include "record/reconcile_int.h"
#include "sys/spawn.h"
#include "tfattest/artifact.h"
#include "tfattest/jcs.h"
#include "tfattest/reconcile.h"
#include "tfattest/sys/guard.h"

/* Caps on what --record carries. */
#define SUMMARY_GAPS_MAX    256
#define SUMMARY_SOURCES_MAX 32
#define SUMMARY_NAME_MAX    1024
/* The largest output taken from a command. */
#define COMMAND_OUT_MAX TFA_STATE_BODY_MAX

void tfa_reconcile_free(tfa_reconcile *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nlin; i++)
		free(r->lin[i]);
	free(r->lin);
	free(r->recs);
	for (size_t i = 0; i < r->nver; i++) {
		free(r->vers[i].name);
		free(r->vers[i].why);
	}
	free(r->vers);
	for (size_t i = 0; i < r->nsrc; i++)
		free(r->srcs[i].name);
	free(r->srcs);
	free(r->gaps);
	free(r->linchg);
	free(r->chain_id);
	free(r);
}

tfa_err tfa_reconcile_new(tfa_reconcile **out)
{
	tfa_err rc = TFA_OK;

	TFA_ENSURE_ARG(out);
	*out = calloc(1, sizeof(**out));
	TFA_ENSURE(*out != NULL, TFA_EINTERNAL, "out of memory");
out:
	return rc;
}

uint64_t tfa_reconcile_bodies_read(const tfa_reconcile *r)
{
	return r ? r->bodies_read : 0;
}

/* A copy of s with each byte that does not begin valid UTF-8 (and each control) as '?'. */
char *tfa_rc_clean(const char *s, size_t len)
{
	char *c = malloc(len + 1);
	size_t i = 0, w = 0;

	if (c == NULL)
		return NULL;
	while (i < len) {
		size_t n = tfa_utf8_seq_len((const uint8_t *)s + i, len - i);
		if (n == 0 || (unsigned char)s[i] < 0x20 || s[i] == 0x7f ||
		    tfa_utf8_is_nonchar((const uint8_t *)s + i, n)) {
			c[w++] = '?';
			i += n ? n : 1;
			continue;
		}
		memcpy(c + w, s + i, n);
		w += n;
		i += n;
	}
	c[w] = '\0';
	return c;
}

/* The index of lineage s (interned). */
static tfa_err lineage_id(tfa_reconcile *r, const char *s, size_t len, uint32_t *out)
{
	tfa_err rc = TFA_OK;
	char *c = NULL;

	if (r->last_lin < r->nlin && strlen(r->lin[r->last_lin]) == len &&
	    memcmp(r->lin[r->last_lin], s, len) == 0) {
		*out = (uint32_t)r->last_lin;
		return TFA_OK;
	}
	for (size_t i = 0; i < r->nlin; i++) {
		if (strlen(r->lin[i]) == len && memcmp(r->lin[i], s, len) == 0) {
			r->last_lin = i;
			*out = (uint32_t)i;
			return TFA_OK;
		}
	}
	TFA_ENSURE(r->nlin < UINT32_MAX, TFA_EINTERNAL, "too many lineages");
	if (r->nlin == r->caplin) {
		size_t n = r->caplin ? r->caplin * 2 : 8;
		char **p = realloc(r->lin, n * sizeof(*p));
		TFA_ENSURE(p != NULL, TFA_EINTERNAL, "out of memory");
		r->lin = p;
		r->caplin = n;
	}
	c = malloc(len + 1);
	TFA_ENSURE(c != NULL, TFA_EINTERNAL, "out of memory");
	memcpy(c, s, len);
	c[len] = '\0';
	r->lin[r->nlin] = c;
	*out = (uint32_t)r->nlin;
	r->last_lin = r->nlin++;
out:
	return rc;
}

/* ---- the chain ------------------------------------------------------------------------------ */

/* A record's state object (terraform.state or .state_before), when it has a usable shape. */
static tfa_err state_of(tfa_reconcile *r, const tfa_json_value *o, tfa_rc_state *st, bool *has)
{
	const tfa_json_value *lin, *ser, *sha;
	const char *s;
	size_t n;
	double d;

	*has = false;
	if (o == NULL || tfa_json_type_of(o) != TFA_JSON_OBJECT)
		return TFA_OK;
	lin = tfa_json_get(o, "lineage");
	ser = tfa_json_get(o, "serial");
	sha = tfa_json_get(o, "sha256");
	s = lin ? tfa_json_string(lin, &n) : NULL;
	if (s == NULL || n == 0 || n > TFA_STATE_LINEAGE_MAX ||
	    tfa_json_type_of(ser) != TFA_JSON_NUMBER)
		return TFA_OK;
	d = tfa_json_number(ser);
	if (d < 0 || d > 9007199254740992.0 || d != (double)(int64_t)d)
		return TFA_OK;
	st->serial = (int64_t)d;
	st->has_sha = false;
	if (sha != NULL) {
		size_t hn = 0;
		const char *h = tfa_json_string(sha, &hn);
		if (h != NULL && hn == 7 + 2 * TFA_SHA256_LEN && memcmp(h, "sha256:", 7) == 0 &&
		    tfa_hex_decode(st->sha, TFA_SHA256_LEN, h + 7, 2 * TFA_SHA256_LEN) == TFA_OK)
			st->has_sha = true;
	}
	if (memchr(s, 0, n) != NULL)
		return TFA_OK;
	*has = true;
	return lineage_id(r, s, n, &st->lin);
}

static tfa_err add_record(tfa_reconcile *r, const tfa_artifact *m, const tfa_buf *art)
{
	tfa_err rc = TFA_OK;
	tfa_json *doc = NULL;
	const tfa_json_value *tf;
	tfa_rc_rec *rec;

	if (r->nrec == r->caprec) {
		size_t n = r->caprec ? r->caprec * 2 : 64;
		tfa_rc_rec *p = realloc(r->recs, n * sizeof(*p));
		TFA_ENSURE(p != NULL, TFA_EINTERNAL, "out of memory");
		r->recs = p;
		r->caprec = n;
	}
	rec = &r->recs[r->nrec];
	memset(rec, 0, sizeof(*rec));
	rec->seq = m->seq;
	rec->time = m->time;
	snprintf(rec->event, sizeof(rec->event), "%s", m->event);
	r->nrec++;
	if (m->is_rotation)
		goto out;
	/* The record was checked as canonical JSON: this parse cannot fail but on memory. */
	TFA_GUARD(tfa_json_parse(&doc, art->data, art->len));
	tf = tfa_json_get(tfa_json_root(doc), "terraform");
	if (tf == NULL)
		goto out;
	TFA_GUARD(state_of(r, tfa_json_get(tf, "state"), &rec->after, &rec->has_after));
	TFA_GUARD(state_of(r, tfa_json_get(tf, "state_before"), &rec->before, &rec->has_before));
	if (rec->has_after)
		r->nrec_state++;
out:
	tfa_json_free(doc);
	return rc;
}

void tfa_reconcile_set_progress(tfa_reconcile *r, tfa_progress_fn fn, void *ud)
{
	if (r == NULL)
		return;
	r->progress = fn;
	r->progress_ud = ud;
}

tfa_err tfa_reconcile_read_chain(tfa_reconcile *r, tfa_history *h)
{
	tfa_err rc = TFA_OK;
	tfa_buf art;
	tfa_artifact *m = NULL;

	tfa_buf_init(&art, TFA_ARTIFACT_MAX);
	TFA_ENSURE_ARG(r);
	TFA_ENSURE_ARG(h);
	TFA_ENSURE(r->chain_id == NULL, TFA_EUSAGE, "reconcile: the chain was read already");
	m = malloc(sizeof(*m));
	TFA_ENSURE(m != NULL, TFA_EINTERNAL, "out of memory");
	r->chain_id = strdup(tfa_history_chain_id(h));
	TFA_ENSURE(r->chain_id != NULL, TFA_EINTERNAL, "out of memory");
	for (;;) {
		rc = tfa_history_next(h, &art, m, NULL);
		if (rc == TFA_ENOTFOUND) {
			rc = TFA_OK;
			break;
		}
		TFA_GUARD(rc);
		TFA_GUARD(add_record(r, m, &art));
		r->head = m->seq;
		if (r->progress)
			r->progress(r->progress_ud, "read", m->seq, tfa_history_head(h));
	}
	r->analysed = false;
out:
	free(m);
	tfa_buf_free(&art);
	return rc;
}

/* ---- sources -------------------------------------------------------------------------------- */

tfa_err tfa_rc_add_source(tfa_reconcile *r, const char *kind, const char *name, size_t *idx)
{
	tfa_err rc = TFA_OK;
	tfa_rc_src *s;

	if (r->nsrc == r->capsrc) {
		size_t n = r->capsrc ? r->capsrc * 2 : 8;
		tfa_rc_src *p = realloc(r->srcs, n * sizeof(*p));
		TFA_ENSURE(p != NULL, TFA_EINTERNAL, "out of memory");
		r->srcs = p;
		r->capsrc = n;
	}
	s = &r->srcs[r->nsrc];
	memset(s, 0, sizeof(*s));
	snprintf(s->kind, sizeof(s->kind), "%s", kind);
	s->name = tfa_rc_clean(name, strlen(name));
	TFA_ENSURE(s->name != NULL, TFA_EINTERNAL, "out of memory");
	*idx = r->nsrc++;
	r->analysed = false;
out:
	return rc;
}

static tfa_err new_version(tfa_rc_ver **out, tfa_reconcile *r, size_t src, const char *name,
			   int time_kind, int64_t time)
{
	tfa_err rc = TFA_OK;
	tfa_rc_ver *v = NULL;

	if (r->nver == r->capver) {
		size_t n = r->capver ? r->capver * 2 : 64;
		tfa_rc_ver *p = realloc(r->vers, n * sizeof(*p));
		TFA_ENSURE(p != NULL, TFA_EINTERNAL, "out of memory");
		r->vers = p;
		r->capver = n;
	}
	v = &r->vers[r->nver];
	memset(v, 0, sizeof(*v));
	v->src = src;
	v->order = r->nver + 1;
	v->time_kind = time_kind;
	v->time = time;
	v->name = tfa_rc_clean(name, strlen(name));
	TFA_ENSURE(v->name != NULL, TFA_EINTERNAL, "out of memory");
	r->srcs[src].versions++;
	r->nver++;
	r->analysed = false;
	*out = v;
out:
	return rc;
}

tfa_err tfa_rc_add_deleted(tfa_reconcile *r, size_t src, const char *name, int64_t time)
{
	tfa_rc_ver *v = NULL;
	tfa_err rc = new_version(&v, r, src, name, TFA_RC_TIME_S3, time);

	if (rc == TFA_OK)
		v->kind = TFA_RC_DELETED;
	return rc;
}

tfa_err tfa_rc_add_version(tfa_reconcile *r, size_t src, const char *name, tfa_err parsed,
			   const tfa_state_facts *f, int time_kind, int64_t time)
{
	tfa_err rc = TFA_OK;
	tfa_rc_ver *v = NULL;

	TFA_GUARD(new_version(&v, r, src, name, time_kind, time));
	v->size = f ? f->size : 0;
	if (f != NULL) {
		memcpy(v->st.sha, f->sha256, TFA_SHA256_LEN);
		v->st.has_sha = true;
	}
	if (parsed == TFA_OK) {
		v->kind = TFA_RC_STATE;
		v->st.serial = f->serial;
		snprintf(v->tfver, sizeof(v->tfver), "%s", f->tf_version);
		TFA_GUARD(lineage_id(r, f->lineage, strlen(f->lineage), &v->st.lin));
	} else {
		v->kind = TFA_RC_UNREADABLE;
		v->why = tfa_rc_clean(tfa_error_last()->message, strlen(tfa_error_last()->message));
		TFA_ENSURE(v->why != NULL, TFA_EINTERNAL, "out of memory");
	}
out:
	return rc;
}

/* One file: opened once, read once (hashed as it is read), its facts kept. */
static tfa_err add_path(tfa_reconcile *r, size_t src, int dirfd, const char *name,
			const char *shown)
{
	tfa_err rc = TFA_OK, prc;
	tfa_state_facts f;
	struct stat sb;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	TFA_ENSURE(fd >= 0, TFA_EIO, "open %s: %s", shown, strerror(errno));
	TFA_ENSURE(fstat(fd, &sb) == 0, TFA_EIO, "stat %s: %s", shown, strerror(errno));
	TFA_ENSURE(S_ISREG(sb.st_mode), TFA_EUSAGE, "%s is not a regular file", shown);
	r->bodies_read++;
	prc = tfa_state_facts_read_fd(&f, fd, shown);
	if (prc == TFA_EIO || prc == TFA_EINTERNAL)
		TFA_GUARD(prc);
	/* A file's mtime is no evidence of when the state was written: it is shown as such. */
	TFA_GUARD(
	    tfa_rc_add_version(r, src, shown, prc, &f, TFA_RC_TIME_MTIME, (int64_t)sb.st_mtime));
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

tfa_err tfa_reconcile_add_file(tfa_reconcile *r, const char *path)
{
	tfa_err rc = TFA_OK;
	size_t src = 0;

	TFA_ENSURE_ARG(r);
	TFA_ENSURE_ARG(path);
	TFA_GUARD(tfa_rc_add_source(r, "file", path, &src));
	TFA_GUARD(add_path(r, src, AT_FDCWD, path, path));
out:
	return rc;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

tfa_err tfa_reconcile_add_dir(tfa_reconcile *r, const char *dir)
{
	tfa_err rc = TFA_OK;
	DIR *d = NULL;
	struct dirent *e;
	char **names = NULL, *shown = NULL;
	size_t n = 0, cap = 0, src;

	TFA_ENSURE_ARG(r);
	TFA_ENSURE_ARG(dir);
	d = opendir(dir);
	TFA_ENSURE(d != NULL, TFA_EIO, "open directory %s: %s", dir, strerror(errno));
	TFA_GUARD(tfa_rc_add_source(r, "dir", dir, &src));
	while ((e = readdir(d)) != NULL) {
		struct stat sb;
		if (e->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), e->d_name, &sb, 0) != 0 || !S_ISREG(sb.st_mode))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			char **p = realloc(names, nc * sizeof(*p));
			TFA_ENSURE(p != NULL, TFA_EINTERNAL, "out of memory");
			names = p;
			cap = nc;
		}
		names[n] = strdup(e->d_name);
		TFA_ENSURE(names[n] != NULL, TFA_EINTERNAL, "out of memory");
		n++;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(dir) + strlen(names[i]) + 2;
		free(shown);
		shown = malloc(len);
		TFA_ENSURE(shown != NULL, TFA_EINTERNAL, "out of memory");
		snprintf(shown, len, "%s/%s", dir, names[i]);
		TFA_GUARD(add_path(r, src, dirfd(d), names[i], shown));
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(shown);
	if (d)
		closedir(d);
	return rc;
}

tfa_err tfa_reconcile_add_command(tfa_reconcile *r, int argc, char *const argv[])
{
	tfa_err rc = TFA_OK, prc;
	tfa_buf out, label;
	tfa_spawn_exit how;
	tfa_state_facts f;
	char **args = NULL;
	size_t src = 0;
	int e;

	tfa_buf_init(&out, COMMAND_OUT_MAX);
	tfa_buf_init(&label, 4096);
	TFA_ENSURE_ARG(r);
	TFA_ENSURE(argc >= 1 && argv != NULL && argv[0] != NULL, TFA_EUSAGE, "no command given");
	for (int i = 0; i < argc; i++)
		TFA_GUARD(tfa_buf_printf(&label, "%s%s", i ? " " : "", argv[i]));
	TFA_GUARD(tfa_buf_putc(&label, '\0'));
	args = calloc((size_t)argc + 1, sizeof(*args));
	TFA_ENSURE(args != NULL, TFA_EINTERNAL, "out of memory");
	for (int i = 0; i < argc; i++)
		args[i] = argv[i];
	TFA_GUARD(tfa_rc_add_source(r, "command", (const char *)label.data, &src));
	e = tfa_spawn_read(&how, &out, args, 0);
	TFA_ENSURE(e == 0, TFA_EIO, "could not run %s: %s", argv[0], strerror(e));
	TFA_ENSURE(how.code == 0, TFA_EIO, "%s exited with status %d", (const char *)label.data,
		   how.code);
	r->bodies_read++;
	/*
	 * `terraform state pull` prints the state as Terraform serialises it to a backend (which
	 * ends in a newline) and one newline of its own: that one is not the state's, and is not
	 * hashed, so that the hash is the stored state's.
	 */
	if (out.len >= 2 && out.data[out.len - 1] == '\n' && out.data[out.len - 2] == '\n')
		out.len--;
	prc = tfa_state_facts_parse(&f, out.data, out.len, (const char *)label.data);
	if (prc == TFA_EINTERNAL)
		TFA_GUARD(prc);
	/* The time of the pull is when the state was seen, not when it was written. */
	TFA_GUARD(tfa_rc_add_version(r, src, (const char *)label.data, prc, &f, TFA_RC_TIME_SEEN,
				     (int64_t)time(NULL)));
out:
	free(args);
	tfa_buf_free(&out);
	tfa_buf_free(&label);
	return rc;
}

/* ---- matching ------------------------------------------------------------------------------- */

static int st_cmp(const tfa_rc_state *a, const tfa_rc_state *b)
{
	if (a->lin != b->lin)
		return a->lin < b->lin ? -1 : 1;
	if (a->serial != b->serial)
		return a->serial < b->serial ? -1 : 1;
	if (a->has_sha != b->has_sha)
		return a->has_sha ? 1 : -1;
	return a->has_sha ? memcmp(a->sha, b->sha, TFA_SHA256_LEN) : 0;
}

/* Records with an after-state, by (lineage, serial, sha, seq). */
static int rec_cmp(const void *pa, const void *pb)
{
	const tfa_rc_rec *a = *(const tfa_rc_rec *const *)pa, *b = *(const tfa_rc_rec *const *)pb;
	int c = st_cmp(&a->after, &b->after);
	if (c)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int before_cmp(const void *pa, const void *pb)
{
	const tfa_rc_rec *a = *(const tfa_rc_rec *const *)pa, *b = *(const tfa_rc_rec *const *)pb;
	int c = st_cmp(&a->before, &b->before);
	if (c)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Versions: states first by (lineage, serial, sha), then the rest in the order read. */
static int ver_cmp(const void *pa, const void *pb)
{
	const tfa_rc_ver *a = pa, *b = pb;
	int c;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->kind == TFA_RC_STATE && (c = st_cmp(&a->st, &b->st)) != 0)
		return c;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* First index in the sorted records whose (lineage, serial) is >= (lin, serial). */
static size_t rec_lower(tfa_rc_rec **v, size_t n, uint32_t lin, int64_t serial)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const tfa_rc_state *s = &v[mid]->after;
		if (s->lin < lin || (s->lin == lin && s->serial < serial))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static tfa_err push_gap(tfa_reconcile *r, const tfa_rc_gap *g)
{
	tfa_err rc = TFA_OK;
	if (r->ngap == r->capgap) {
		size_t n = r->capgap ? r->capgap * 2 : 16;
		tfa_rc_gap *p = realloc(r->gaps, n * sizeof(*p));
		TFA_ENSURE(p != NULL, TFA_EINTERNAL, "out of memory");
		r->gaps = p;
		r->capgap = n;
	}
	r->gaps[r->ngap++] = *g;
out:
	return rc;
}

static tfa_err push_linchg(tfa_reconcile *r, uint64_t seq, uint32_t from, uint32_t to)
{
	tfa_err rc = TFA_OK;
	if (r->nlinchg == r->caplinchg) {
		size_t n = r->caplinchg ? r->caplinchg * 2 : 16;
		tfa_rc_linchg *p = realloc(r->linchg, n * sizeof(*p));
		TFA_ENSURE(p != NULL, TFA_EINTERNAL, "out of memory");
		r->linchg = p;
		r->caplinchg = n;
	}
	r->linchg[r->nlinchg].seq = seq;
	r->linchg[r->nlinchg].from = from;
	r->linchg[r->nlinchg].to = to;
	r->nlinchg++;
out:
	return rc;
}

static tfa_err analyse(tfa_reconcile *r)
{
	tfa_err rc = TFA_OK;
	tfa_rc_rec **by_after = NULL, **by_before = NULL;
	size_t na = 0, nb = 0;
	/* Per lineage: the last record's after-state (gaps) and the sources' serial range. */
	tfa_rc_rec **last = NULL;
	int64_t *smin = NULL, *smax = NULL;
	bool *seen = NULL;
	const tfa_rc_rec *prev = NULL;

	if (r->analysed)
		return TFA_OK;
	r->ngap = r->nlinchg = 0;
	r->n_att = r->n_unatt = r->n_bad = r->n_del = r->n_distinct = r->n_missing =
	    r->n_uncovered = 0;
	for (size_t i = 0; i < r->nver; i++) {
		r->vers[i].dup = false;
		r->vers[i].dups = 0;
	}
	if (r->nver > 1)
		qsort(r->vers, r->nver, sizeof(*r->vers), ver_cmp);
	by_after = calloc(r->nrec + 1, sizeof(*by_after));
	by_before = calloc(r->nrec + 1, sizeof(*by_before));
	last = calloc(r->nlin + 1, sizeof(*last));
	smin = calloc(r->nlin + 1, sizeof(*smin));
	smax = calloc(r->nlin + 1, sizeof(*smax));
	seen = calloc(r->nlin + 1, sizeof(*seen));
	TFA_ENSURE(by_after && by_before && last && smin && smax && seen, TFA_EINTERNAL,
		   "out of memory");
	for (size_t i = 0; i < r->nrec; i++) {
		tfa_rc_rec *rec = &r->recs[i];
		rec->found = false;
		if (rec->has_after)
			by_after[na++] = rec;
		if (rec->has_before)
			by_before[nb++] = rec;
		/* What the records themselves show: a state_before that is not the previous
		 * after-state of its lineage is a write between the two. */
		if (rec->has_before && last[rec->before.lin] != NULL &&
		    st_cmp(&last[rec->before.lin]->after, &rec->before) != 0) {
			tfa_rc_gap g = {.seq_prev = last[rec->before.lin]->seq,
					.seq_next = rec->seq,
					.lin = rec->before.lin,
					.serial_prev = last[rec->before.lin]->after.serial,
					.serial_next = rec->before.serial};
			TFA_GUARD(push_gap(r, &g));
		}
		if (rec->has_after) {
			if (prev != NULL && prev->after.lin != rec->after.lin)
				TFA_GUARD(
				    push_linchg(r, rec->seq, prev->after.lin, rec->after.lin));
			last[rec->after.lin] = rec;
			prev = rec;
		}
	}
	if (na > 1)
		qsort(by_after, na, sizeof(*by_after), rec_cmp);
	if (nb > 1)
		qsort(by_before, nb, sizeof(*by_before), before_cmp);
	for (size_t i = 0; i < r->nver; i++) {
		tfa_rc_ver *v = &r->vers[i];
		size_t lo, k;

		if (v->kind == TFA_RC_UNREADABLE) {
			r->n_bad++;
			continue;
		}
		if (v->kind == TFA_RC_DELETED) {
			r->n_del++;
			continue;
		}
		if (i > 0 && r->vers[i - 1].kind == TFA_RC_STATE &&
		    st_cmp(&r->vers[i - 1].st, &v->st) == 0) {
			/* The same state from another source (a snapshot and its .backup). */
			size_t j = i - 1;
			while (r->vers[j].dup)
				j--;
			r->vers[j].dups++;
			v->dup = true;
			continue;
		}
		r->n_distinct++;
		if (!seen[v->st.lin]) {
			seen[v->st.lin] = true;
			smin[v->st.lin] = smax[v->st.lin] = v->st.serial;
		}
		if (v->st.serial < smin[v->st.lin])
			smin[v->st.lin] = v->st.serial;
		if (v->st.serial > smax[v->st.lin])
			smax[v->st.lin] = v->st.serial;
		v->attested = v->intermediate = false;
		v->seq = v->seq_prev = v->seq_next = v->seq_mismatch = v->seq_before_of = 0;
		lo = rec_lower(by_after, na, v->st.lin, v->st.serial);
		for (k = lo; k < na && by_after[k]->after.lin == v->st.lin &&
			     by_after[k]->after.serial == v->st.serial;
		     k++) {
			const tfa_rc_state *a = &by_after[k]->after;
			bool same =
			    !a->has_sha || CRYPTO_memcmp(a->sha, v->st.sha, TFA_SHA256_LEN) == 0;
			if (same && !v->attested) {
				v->attested = true;
				v->seq = by_after[k]->seq;
				v->sha_unknown = !a->has_sha;
			}
			if (same)
				by_after[k]->found = true;
			else if (v->seq_mismatch == 0)
				v->seq_mismatch = by_after[k]->seq;
		}
		if (!v->attested && v->seq_mismatch == 0) {
			/*
			 * Terraform persists state during a long apply: a version whose serial
			 * lies strictly between a record's state_before and its after-state (same
			 * lineage) was written by that run. Its content cannot be checked.
			 */
			size_t blo = 0, bhi = nb;
			while (blo < bhi) {
				size_t mid = blo + (bhi - blo) / 2;
				const tfa_rc_state *b = &by_before[mid]->before;
				if (b->lin < v->st.lin ||
				    (b->lin == v->st.lin && b->serial < v->st.serial))
					blo = mid + 1;
				else
					bhi = mid;
			}
			if (blo > 0) {
				const tfa_rc_rec *c = by_before[blo - 1];
				if (c->before.lin == v->st.lin && c->has_after &&
				    c->after.lin == v->st.lin && c->after.serial > v->st.serial) {
					v->attested = true;
					v->intermediate = true;
					v->seq = c->seq;
				}
			}
		}
		if (v->attested) {
			r->n_att++;
			continue;
		}
		r->n_unatt++;
		if (lo > 0 && by_after[lo - 1]->after.lin == v->st.lin)
			v->seq_prev = by_after[lo - 1]->seq;
		if (k < na && by_after[k]->after.lin == v->st.lin)
			v->seq_next = by_after[k]->seq;
		{
			/* The state a record found before it ran, though no record made it. */
			size_t blo = 0, bhi = nb;
			while (blo < bhi) {
				size_t mid = blo + (bhi - blo) / 2;
				if (st_cmp(&by_before[mid]->before, &v->st) < 0)
					blo = mid + 1;
				else
					bhi = mid;
			}
			if (blo < nb && st_cmp(&by_before[blo]->before, &v->st) == 0)
				v->seq_before_of = by_before[blo]->seq;
		}
	}
	for (size_t i = 0; i < na; i++) {
		tfa_rc_rec *rec = by_after[i];
		uint32_t l = rec->after.lin;
		rec->missing = false;
		if (rec->found)
			continue;
		if (seen[l] && rec->after.serial >= smin[l] && rec->after.serial <= smax[l]) {
			rec->missing = true;
			r->n_missing++;
		} else {
			r->n_uncovered++;
		}
	}
	r->analysed = true;
out:
	free(by_after);
	free(by_before);
	free(last);
	free(smin);
	free(smax);
	free(seen);
	return rc;
}

bool tfa_reconcile_complete(tfa_reconcile *r)
{
	if (r == NULL || analyse(r) != TFA_OK)
		return false;
	return r->n_distinct > 0 && r->n_unatt == 0 && r->n_bad == 0 && r->n_del == 0 &&
	       r->ngap == 0;
}

/* ---- reports -------------------------------------------------------------------------------- */

static cJSON *add_time(cJSON *o, const char *key, int64_t t)
{
	char s[32];
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL)
		return NULL;
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return cJSON_AddStringToObject(o, key, s);
}

static const char *time_kind_name(int k)
{
	switch (k) {
	case TFA_RC_TIME_S3: return "s3-last-modified";
	case TFA_RC_TIME_MTIME: return "file-mtime";
	case TFA_RC_TIME_SEEN: return "seen";
	default: return "unknown";
	}
}

static void add_sha(cJSON *o, const tfa_rc_state *s)
{
	char h[TFA_FPR_STRLEN];
	if (!s->has_sha)
		return;
	tfa_hash_str(h, s->sha);
	cJSON_AddStringToObject(o, "sha256", h);
}

static cJSON *version_json(const tfa_reconcile *r, const tfa_rc_ver *v)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "source", r->srcs[v->src].name);
	cJSON_AddStringToObject(o, "name", v->name);
	if (v->kind == TFA_RC_UNREADABLE) {
		cJSON_AddStringToObject(o, "status", "unreadable");
		cJSON_AddStringToObject(o, "error", v->why ? v->why : "");
	} else if (v->kind == TFA_RC_DELETED) {
		cJSON_AddStringToObject(o, "status", "deleted");
	} else {
		cJSON_AddStringToObject(o, "status", v->attested ? "attested" : "unattested");
		cJSON_AddStringToObject(o, "lineage", r->lin[v->st.lin]);
		cJSON_AddNumberToObject(o, "serial", (double)v->st.serial);
		if (v->tfver[0])
			cJSON_AddStringToObject(o, "terraform_version", v->tfver);
	}
	if (v->kind != TFA_RC_DELETED)
		add_sha(o, &v->st);
	if (v->time_kind != TFA_RC_TIME_NONE)
		add_time(o, "time", v->time);
	cJSON_AddStringToObject(o, "time_source", time_kind_name(v->time_kind));
	if (v->kind != TFA_RC_STATE)
		return o;
	if (v->dups)
		cJSON_AddNumberToObject(o, "also_in", (double)v->dups);
	if (v->attested) {
		cJSON_AddNumberToObject(o, "seq", (double)v->seq);
		if (v->intermediate)
			cJSON_AddBoolToObject(o, "intermediate", 1);
		if (v->sha_unknown)
			cJSON_AddBoolToObject(o, "record_sha256_unknown", 1);
		return o;
	}
	cJSON_AddStringToObject(o, "reason", v->seq_mismatch ? "content-differs" : "no-record");
	if (v->seq_mismatch)
		cJSON_AddNumberToObject(o, "record_same_serial", (double)v->seq_mismatch);
	if (v->seq_prev)
		cJSON_AddNumberToObject(o, "seq_before", (double)v->seq_prev);
	if (v->seq_next)
		cJSON_AddNumberToObject(o, "seq_after", (double)v->seq_next);
	if (v->seq_before_of)
		cJSON_AddNumberToObject(o, "state_before_of", (double)v->seq_before_of);
	return o;
}

static tfa_err emit(tfa_buf *out, cJSON *root)
{
	tfa_err rc = TFA_OK;
	char *text = NULL;

	TFA_ENSURE(root != NULL, TFA_EINTERNAL, "out of memory");
	text = cJSON_PrintUnformatted(root);
	TFA_ENSURE(text != NULL, TFA_EINTERNAL, "out of memory");
	tfa_buf_clear(out);
	TFA_GUARD(tfa_buf_append(out, text, strlen(text)));
out:
	cJSON_free(text);
	cJSON_Delete(root);
	return rc;
}

static cJSON *counts_json(tfa_reconcile *r, cJSON *o)
{
	cJSON_AddBoolToObject(o, "complete", tfa_reconcile_complete(r));
	cJSON_AddNumberToObject(o, "records", (double)r->nrec);
	cJSON_AddNumberToObject(o, "records_with_state", (double)r->nrec_state);
	cJSON_AddNumberToObject(o, "head", (double)r->head);
	cJSON_AddNumberToObject(o, "versions", (double)r->n_distinct);
	cJSON_AddNumberToObject(o, "attested", (double)r->n_att);
	cJSON_AddNumberToObject(o, "unattested", (double)r->n_unatt);
	cJSON_AddNumberToObject(o, "unreadable", (double)r->n_bad);
	cJSON_AddNumberToObject(o, "deleted", (double)r->n_del);
	cJSON_AddNumberToObject(o, "records_missing", (double)r->n_missing);
	cJSON_AddNumberToObject(o, "chain_gaps", (double)r->ngap);
	cJSON_AddNumberToObject(o, "lineage_changes", (double)r->nlinchg);
	return o;
}

/* S3 versions of one source in the order they were written: by time, then listing order
 * reversed (a listing gives the newest first). */
static int s3_time_cmp(const void *pa, const void *pb)
{
	const tfa_rc_ver *a = *(const tfa_rc_ver *const *)pa, *b = *(const tfa_rc_ver *const *)pb;

	if (a->src != b->src)
		return a->src < b->src ? -1 : 1;
	if (a->time != b->time)
		return a->time < b->time ? -1 : 1;
	return a->order > b->order ? -1 : a->order < b->order;
}

/*
 * Lineage changes in a version history (S3 sources, whose times are the
 * store's): consecutive versions of one object with different lineages. A new
 * lineage is a new state put in place of the old one.
 */
static tfa_err source_lineage_changes(cJSON *a, const tfa_reconcile *r, size_t *count)
{
	tfa_err rc = TFA_OK;
	const tfa_rc_ver **v = NULL;
	size_t n = 0;

	*count = 0;
	v = calloc(r->nver + 1, sizeof(*v));
	TFA_ENSURE(v != NULL, TFA_EINTERNAL, "out of memory");
	for (size_t i = 0; i < r->nver; i++)
		if (r->vers[i].kind == TFA_RC_STATE && r->vers[i].time_kind == TFA_RC_TIME_S3)
			v[n++] = &r->vers[i];
	if (n > 1)
		qsort(v, n, sizeof(*v), s3_time_cmp);
	for (size_t i = 1; i < n; i++) {
		cJSON *o;
		if (v[i]->src != v[i - 1]->src || v[i]->st.lin == v[i - 1]->st.lin)
			continue;
		(*count)++;
		if (a == NULL)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddItemToArray(a, o);
		cJSON_AddStringToObject(o, "source", r->srcs[v[i]->src].name);
		cJSON_AddStringToObject(o, "name", v[i]->name);
		add_time(o, "time", v[i]->time);
		cJSON_AddStringToObject(o, "from", r->lin[v[i - 1]->st.lin]);
		cJSON_AddNumberToObject(o, "from_serial", (double)v[i - 1]->st.serial);
		cJSON_AddStringToObject(o, "to", r->lin[v[i]->st.lin]);
		cJSON_AddNumberToObject(o, "to_serial", (double)v[i]->st.serial);
	}
out:
	free(v);
	return rc;
}

tfa_err tfa_reconcile_report(tfa_buf *out, tfa_reconcile *r)
{
	tfa_err rc = TFA_OK;
	cJSON *root = NULL, *a, *o;

	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(r);
	TFA_GUARD(analyse(r));
	root = cJSON_CreateObject();
	TFA_ENSURE(root != NULL, TFA_EINTERNAL, "out of memory");
	cJSON_AddStringToObject(root, "chain_id", r->chain_id ? r->chain_id : "");
	counts_json(r, cJSON_AddObjectToObject(root, "summary"));
	a = cJSON_AddArrayToObject(root, "sources");
	for (size_t i = 0; i < r->nsrc; i++) {
		o = cJSON_CreateObject();
		cJSON_AddItemToArray(a, o);
		cJSON_AddStringToObject(o, "kind", r->srcs[i].kind);
		cJSON_AddStringToObject(o, "name", r->srcs[i].name);
		cJSON_AddNumberToObject(o, "bodies", (double)r->srcs[i].versions);
	}
	a = cJSON_AddArrayToObject(root, "versions");
	for (size_t i = 0; i < r->nver; i++)
		if (!r->vers[i].dup)
			cJSON_AddItemToArray(a, version_json(r, &r->vers[i]));
	a = cJSON_AddArrayToObject(root, "records_missing");
	for (size_t i = 0; i < r->nrec; i++) {
		const tfa_rc_rec *rec = &r->recs[i];
		if (!rec->missing)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddItemToArray(a, o);
		cJSON_AddNumberToObject(o, "seq", (double)rec->seq);
		cJSON_AddStringToObject(o, "event", rec->event);
		cJSON_AddStringToObject(o, "lineage", r->lin[rec->after.lin]);
		cJSON_AddNumberToObject(o, "serial", (double)rec->after.serial);
		add_sha(o, &rec->after);
	}
	cJSON_AddNumberToObject(root, "records_outside_sources", (double)r->n_uncovered);
	a = cJSON_AddArrayToObject(root, "chain_gaps");
	for (size_t i = 0; i < r->ngap; i++) {
		o = cJSON_CreateObject();
		cJSON_AddItemToArray(a, o);
		cJSON_AddStringToObject(o, "lineage", r->lin[r->gaps[i].lin]);
		cJSON_AddNumberToObject(o, "seq_before", (double)r->gaps[i].seq_prev);
		cJSON_AddNumberToObject(o, "serial_after_it", (double)r->gaps[i].serial_prev);
		cJSON_AddNumberToObject(o, "seq_after", (double)r->gaps[i].seq_next);
		cJSON_AddNumberToObject(o, "serial_before_it", (double)r->gaps[i].serial_next);
	}
	a = cJSON_AddArrayToObject(root, "lineage_changes");
	for (size_t i = 0; i < r->nlinchg; i++) {
		o = cJSON_CreateObject();
		cJSON_AddItemToArray(a, o);
		cJSON_AddNumberToObject(o, "seq", (double)r->linchg[i].seq);
		cJSON_AddStringToObject(o, "from", r->lin[r->linchg[i].from]);
		cJSON_AddStringToObject(o, "to", r->lin[r->linchg[i].to]);
	}
	{
		size_t nsl;
		a = cJSON_AddArrayToObject(root, "source_lineage_changes");
		TFA_GUARD(source_lineage_changes(a, r, &nsl));
	}
	o = cJSON_AddObjectToObject(root, "stats");
	cJSON_AddNumberToObject(o, "state_bodies_read", (double)r->bodies_read);
	cJSON_AddNumberToObject(o, "state_versions_read", (double)r->nver);
	{
		double bytes = 0;
		for (size_t i = 0; i < r->nver; i++)
			bytes += (double)r->vers[i].size;
		cJSON_AddNumberToObject(o, "state_bytes_read", bytes);
	}
	TFA_GUARD(emit(out, root));
	root = NULL;
out:
	cJSON_Delete(root);
	return rc;
}

tfa_err tfa_reconcile_summary(tfa_buf *out, tfa_reconcile *r)
{
	tfa_err rc = TFA_OK;
	cJSON *root = NULL, *a, *o;
	size_t shown = 0;

	TFA_ENSURE_ARG(out);
	TFA_ENSURE_ARG(r);
	TFA_GUARD(analyse(r));
	root = counts_json(r, cJSON_CreateObject());
	TFA_ENSURE(root != NULL, TFA_EINTERNAL, "out of memory");
	a = cJSON_AddArrayToObject(root, "sources");
	for (size_t i = 0; i < r->nsrc && i < SUMMARY_SOURCES_MAX; i++) {
		o = cJSON_CreateObject();
		cJSON_AddItemToArray(a, o);
		cJSON_AddStringToObject(o, "kind", r->srcs[i].kind);
		if (strlen(r->srcs[i].name) > SUMMARY_NAME_MAX) {
			/* Cut, then cleaned again: a sequence the cut split becomes '?'. */
			char *cut = tfa_rc_clean(r->srcs[i].name, SUMMARY_NAME_MAX);
			TFA_ENSURE(cut != NULL, TFA_EINTERNAL, "out of memory");
			cJSON_AddStringToObject(o, "name", cut);
			free(cut);
		} else {
			cJSON_AddStringToObject(o, "name", r->srcs[i].name);
		}
	}
	if (r->nsrc > SUMMARY_SOURCES_MAX)
		cJSON_AddNumberToObject(root, "sources_omitted",
					(double)(r->nsrc - SUMMARY_SOURCES_MAX));
	a = cJSON_AddArrayToObject(root, "gaps");
	for (size_t i = 0; i < r->nver; i++) {
		const tfa_rc_ver *v = &r->vers[i];
		if (v->kind != TFA_RC_STATE || v->dup || v->attested)
			continue;
		if (shown++ >= SUMMARY_GAPS_MAX)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddItemToArray(a, o);
		cJSON_AddStringToObject(o, "lineage", r->lin[v->st.lin]);
		cJSON_AddNumberToObject(o, "serial", (double)v->st.serial);
	}
	if (shown > SUMMARY_GAPS_MAX)
		cJSON_AddNumberToObject(root, "gaps_omitted", (double)(shown - SUMMARY_GAPS_MAX));
	cJSON_AddNumberToObject(root, "state_bodies_read", (double)r->bodies_read);
	TFA_GUARD(emit(out, root));
	root = NULL;
out:
	cJSON_Delete(root);
	return rc;
}
