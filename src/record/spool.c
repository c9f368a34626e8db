#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "record/spool_int.h"
#include "tfattest/capture.h"
#include "tfattest/chain.h"
#include "tfattest/spool.h"
#include "tfattest/sys/guard.h"
#include "verify/crypto.h"

/* Clock slack when looking for an interrupted flush's record. */
#define SPOOL_SLACK_S  3600
#define SPOOL_SCAN_MAX 100000

tfa_err tfa_spool_dir(char **out)
{
	tfa_err rc = TFA_OK;
	const char *e = getenv("TFATTEST_SPOOL");
	char buf[4096];
	int n;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	if (e && *e)
		n = snprintf(buf, sizeof(buf), "%s", e);
	else if ((e = getenv("XDG_STATE_HOME")) && *e == '/')
		n = snprintf(buf, sizeof(buf), "%s/tfattest/spool", e);
	else if ((e = getenv("HOME")) && *e)
		n = snprintf(buf, sizeof(buf), "%s/.local/state/tfattest/spool", e);
	else
		TFA_BAIL(TFA_EUSAGE, "no spool directory: set TFATTEST_SPOOL or HOME");
	TFA_ENSURE(n > 0 && (size_t)n < sizeof(buf), TFA_EUSAGE, "spool directory path too long");
	*out = strdup(buf);
	TFA_ENSURE(*out != NULL, TFA_EINTERNAL, "out of memory");
out:
	return rc;
}

/*
 * Who may own a spool directory: the caller, or root (who can write anywhere
 * anyway). Nobody else may be able to write to it: another user who could
 * plant a well-named capture there would have it signed into the chain.
 */
static tfa_err check_dir(const struct stat *st, const char *path)
{
	uid_t me = geteuid();

	if (!S_ISDIR(st->st_mode))
		return tfa_error_set(TFA_EUSAGE, "spool directory %s is not a directory", path);
	if (st->st_uid != me && st->st_uid != 0)
		return tfa_error_set(
		    TFA_EUSAGE,
		    "spool directory %s is owned by uid %lu, not by the caller "
		    "(uid %lu) or root: use a directory of your own (TFATTEST_SPOOL)",
		    path, (unsigned long)st->st_uid, (unsigned long)me);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return tfa_error_set(
		    TFA_EUSAGE,
		    "spool directory %s is writable by group or others (mode %04o): "
		    "chmod go-w %s",
		    path, (unsigned)(st->st_mode & 07777), path);
	return TFA_OK;
}

/*
 * mkdir -p with mode 0700 for what it creates. Every directory from the first
 * one it creates down is checked as the spool directory is: one that appears
 * meanwhile was made by someone else, who could swap what lies below it.
 */
static tfa_err mkdirs(const char *dir)
{
	tfa_err rc = TFA_OK;
	char *p = strdup(dir);
	int creating = 0;
	struct stat st;

	TFA_ENSURE(p != NULL, TFA_EINTERNAL, "out of memory");
	for (char *s = p + 1;; s++) {
		int last = *s == '\0';
		if (!last && *s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) == 0)
			creating = 1;
		else if (errno != EEXIST)
			TFA_BAIL(TFA_EIO, "cannot create %s: %s", p, strerror(errno));
		if (creating) {
			if (lstat(p, &st) != 0)
				TFA_BAIL(TFA_EIO, "cannot stat %s: %s", p, strerror(errno));
			TFA_GUARD(check_dir(&st, p));
		}
		if (last)
			break;
		*s = '/';
	}
out:
	free(p);
	return rc;
}

tfa_err tfa_spool_open_dir(int *fd, const char *dir)
{
	tfa_err rc = TFA_OK;
	struct stat st;

	*fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOCTTY | O_CLOEXEC);
	if (*fd < 0)
		return tfa_error_set(errno == ENOENT ? TFA_ENOTFOUND : TFA_EIO,
				     "cannot open spool directory %s: %s", dir, strerror(errno));
	if (fstat(*fd, &st) != 0)
		TFA_BAIL(TFA_EIO, "cannot stat spool directory %s: %s", dir, strerror(errno));
	TFA_GUARD(check_dir(&st, dir));
out:
	if (rc != TFA_OK) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

/* Read from the descriptor that was checked. */
tfa_err tfa_spool_read(tfa_buf *out, int dfd, const char *name, const char *path, size_t max)
{
	tfa_err rc = TFA_OK;
	struct stat st;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0 && errno == ELOOP)
		TFA_BAIL(TFA_EUSAGE,
			 "spool file %s is a symbolic link: the spool holds only files "
			 "it wrote; remove it",
			 path);
	if (fd < 0)
		TFA_BAIL(TFA_EIO, "cannot open spool file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0)
		TFA_BAIL(TFA_EIO, "cannot stat spool file %s: %s", path, strerror(errno));
	TFA_ENSURE(S_ISREG(st.st_mode), TFA_EUSAGE,
		   "spool file %s is not a regular file: remove it", path);
	TFA_ENSURE(st.st_uid == geteuid(), TFA_EUSAGE,
		   "spool file %s is owned by uid %lu, not by the caller (uid %lu): it was not "
		   "spooled by this user; remove it",
		   path, (unsigned long)st.st_uid, (unsigned long)geteuid());
	TFA_ENSURE((st.st_mode & 07777) == 0600, TFA_EUSAGE,
		   "spool file %s has mode %04o, not 0600 as spooled captures have: check where it "
		   "came from, then chmod 600 it or remove it",
		   path, (unsigned)(st.st_mode & 07777));
	TFA_ENSURE(st.st_nlink == 1, TFA_EUSAGE,
		   "spool file %s has %lu links, not 1: it is linked from elsewhere; remove it",
		   path, (unsigned long)st.st_nlink);
	TFA_GUARD(tfa_buf_read_fd(out, fd, path, max));
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static tfa_err write_all(int fd, const uint8_t *p, size_t n, const char *name)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return tfa_error_set(TFA_EIO, "cannot write %s: %s", name, strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	return TFA_OK;
}

tfa_err tfa_spool_put(char **path_out, const char *dir, const char *name, const uint8_t *bytes,
		      size_t len)
{
	tfa_err rc = TFA_OK;
	char tmp[4200], final[4200];
	const char *tmpname = NULL, *finalname = NULL;
	int fd = -1, dfd = -1, tmp_made = 0;

	if (path_out)
		*path_out = NULL;
	TFA_ENSURE_ARG(dir);
	TFA_ENSURE_ARG(name);
	TFA_ENSURE_ARG(bytes);
	TFA_ENSURE(name[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL, TFA_EUSAGE,
		   "invalid spool file name");
	TFA_GUARD(mkdirs(dir));
	TFA_GUARD(tfa_spool_open_dir(&dfd, dir));
	TFA_ENSURE(snprintf(final, sizeof(final), "%s/%s", dir, name) < (int)sizeof(final) &&
		       snprintf(tmp, sizeof(tmp), "%s/.tmp-%s", dir, name) < (int)sizeof(tmp),
		   TFA_EUSAGE, "spool path too long");
	tmpname = tmp + strlen(dir) + 1;
	finalname = final + strlen(dir) + 1;
	fd = openat(dfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW,
		    0600);
	if (fd < 0)
		TFA_BAIL(TFA_EIO, "cannot create %s: %s", tmp, strerror(errno));
	tmp_made = 1;
	TFA_GUARD(write_all(fd, bytes, len, tmp));
	if (fsync(fd) != 0)
		TFA_BAIL(TFA_EIO, "cannot fsync %s: %s", tmp, strerror(errno));
	if (close(fd) != 0) {
		fd = -1;
		TFA_BAIL(TFA_EIO, "cannot write %s: %s", tmp, strerror(errno));
	}
	fd = -1;
	if (renameat(dfd, tmpname, dfd, finalname) != 0)
		TFA_BAIL(TFA_EIO, "cannot rename %s: %s", tmp, strerror(errno));
	tmp_made = 0;
	if (fsync(dfd) != 0)
		TFA_BAIL(TFA_EIO, "cannot fsync spool directory %s: %s", dir, strerror(errno));
	if (path_out) {
		*path_out = strdup(final);
		TFA_ENSURE(*path_out != NULL, TFA_EINTERNAL, "out of memory");
	}
out:
	if (fd >= 0)
		close(fd);
	if (tmp_made)
		unlinkat(dfd, tmpname, 0);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

tfa_err tfa_spool_write(char **path_out, const char *dir, tfa_capture *c, const char *chain_id,
			int64_t deployed_at_ns)
{
	tfa_err rc = TFA_OK;
	uint8_t rnd[16];
	char id[33], name[200];
	tfa_buf bytes;

	tfa_buf_init(&bytes, TFA_ARTIFACT_MAX);
	if (path_out)
		*path_out = NULL;
	TFA_ENSURE_ARG(dir);
	TFA_ENSURE_ARG(c);
	TFA_ENSURE_ARG(chain_id);
	TFA_GUARD(tfa_chain_id_check(chain_id, strlen(chain_id)));
	TFA_ENSURE(RAND_bytes(rnd, sizeof(rnd)) == 1, TFA_ECRYPTO,
		   "no random bytes for a spool id");
	tfa_hex_encode(id, rnd, sizeof(rnd));
	TFA_GUARD(tfa_capture_set_spool(c, id, deployed_at_ns / 1000000000, (int64_t)time(NULL)));
	TFA_GUARD(tfa_capture_serialize(&bytes, c));
	snprintf(name, sizeof(name), "%020lld-%s-%s.json", (long long)deployed_at_ns, chain_id, id);
	TFA_GUARD(tfa_spool_put(path_out, dir, name, bytes.data, bytes.len));
out:
	tfa_buf_free(&bytes);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

tfa_err tfa_spool_list(char ***names, size_t *n, int dfd, const char *dir,
		       int (*keep)(void *ud, const char *name), void *ud, const char *what)
{
	tfa_err rc = TFA_OK;
	DIR *d = NULL;
	struct dirent *e;
	size_t cap = 0;
	int fd;

	*names = NULL;
	*n = 0;
	fd = dup(dfd);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		TFA_BAIL(TFA_EIO, "cannot list spool directory %s: %s", dir, strerror(err));
	}
	while ((e = readdir(d)) != NULL) {
		if (!keep(ud, e->d_name))
			continue;
		TFA_ENSURE(*n < TFA_SPOOL_FILES_MAX, TFA_EUSAGE, "more than %d %s",
			   TFA_SPOOL_FILES_MAX, what);
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **nn = realloc(*names, nc * sizeof(*nn));
			TFA_ENSURE(nn != NULL, TFA_EINTERNAL, "out of memory");
			*names = nn;
			cap = nc;
		}
		(*names)[*n] = strdup(e->d_name);
		TFA_ENSURE((*names)[*n] != NULL, TFA_EINTERNAL, "out of memory");
		(*n)++;
	}
	if (*n > 1)
		qsort(*names, *n, sizeof(**names), by_name);
out:
	if (d)
		closedir(d); /* closes the duplicate, not dfd */
	return rc;
}

void tfa_spool_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Names of spool files: 20 digits, '-', chain id, '-', 32 hex, ".json". */
static int spool_name(const char *n, char chain[TFA_CHAIN_ID_MAX + 1], char id[33])
{
	size_t len = strlen(n);

	if (len < 20 + 1 + 1 + 1 + 32 + 5 || strspn(n, "0123456789") != 20 || n[20] != '-' ||
	    strcmp(n + len - 5, ".json") != 0 || n[len - 5 - 32 - 1] != '-')
		return 0;
	if (strspn(n + len - 5 - 32, "0123456789abcdef") < 32)
		return 0;
	memcpy(id, n + len - 5 - 32, 32);
	id[32] = '\0';
	len = len - 5 - 32 - 1 - 21;
	if (len == 0 || len > TFA_CHAIN_ID_MAX)
		return 0;
	memcpy(chain, n + 21, len);
	chain[len] = '\0';
	return tfa_chain_id_check(chain, len) == TFA_OK;
}

/* Which spool files a flush takes: captures of its chain; it counts the others. */
typedef struct flush_filter {
	const char *chain_id;
	tfa_spool_result *res;
} flush_filter;

static int keep_capture(void *ud, const char *name)
{
	flush_filter *f = ud;
	char chain[TFA_CHAIN_ID_MAX + 1], id[33];

	if (!spool_name(name, chain, id))
		return 0;
	if (strcmp(chain, f->chain_id) != 0) {
		f->res->other++;
		return 0;
	}
	return 1;
}

tfa_err tfa_spool_flush(tfa_spool_result *res, const char *dir, tfa_store *st, tfa_signer *signer,
			tfa_sig_alg alg, void (*line)(void *ud, const char *text), void *ud)
{
	tfa_err rc = TFA_OK;
	tfa_chain_info info;
	char **names = NULL;
	size_t n = 0;
	tfa_buf raw;
	tfa_capture *c = NULL;
	int dfd = -1;

	tfa_buf_init(&raw, TFA_ARTIFACT_MAX);
	TFA_ENSURE_ARG(res);
	memset(res, 0, sizeof(*res));
	TFA_ENSURE_ARG(dir);
	TFA_ENSURE_ARG(st);
	TFA_ENSURE_ARG(signer);
	TFA_GUARD(tfa_chain_info_read(&info, st));
	rc = tfa_spool_open_dir(&dfd, dir);
	if (rc == TFA_ENOTFOUND) {
		tfa_error_clear(); /* nothing was ever spooled */
		rc = TFA_OK;
		goto out;
	}
	TFA_GUARD(rc);
	{
		flush_filter f = {info.chain_id, res};
		TFA_GUARD(
		    tfa_spool_list(&names, &n, dfd, dir, keep_capture, &f, "spooled captures"));
	}
	for (size_t i = 0; i < n; i++) {
		char chain[TFA_CHAIN_ID_MAX + 1], id[33], path[4400], msg[600];
		const char *cid;
		uint64_t found = 0, seq = 0;
		int64_t spooled_at;
		(void)spool_name(names[i], chain, id);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		tfa_buf_clear(&raw);
		TFA_GUARD(tfa_spool_read(&raw, dfd, names[i], path, TFA_ARTIFACT_MAX));
		tfa_capture_free(c);
		c = NULL;
		rc = tfa_capture_deserialize(&c, raw.data, raw.len);
		if (rc != TFA_OK)
			TFA_BAIL(rc, "spooled capture %s is invalid: %s", path,
				 tfa_error_last()->message);
		cid = tfa_capture_spool_id(c);
		TFA_ENSURE(cid != NULL && strcmp(cid, id) == 0, TFA_EFORMAT,
			   "spooled capture %s does not carry the id in its name", path);
		spooled_at = tfa_capture_spooled_at(c);
		TFA_GUARD(tfa_chain_find_spool_id(&found, st, id, spooled_at - SPOOL_SLACK_S,
						  SPOOL_SCAN_MAX));
		/* An append whose answer was lost may have landed without a spool id: its
		 * idempotency key (FORMAT.md §3.1) names it. */
		if (!found && tfa_capture_idempotency_key(c) != NULL)
			TFA_GUARD(tfa_chain_find_idempotency_key(
			    &found, st, tfa_capture_idempotency_key(c), spooled_at - SPOOL_SLACK_S,
			    SPOOL_SCAN_MAX));
		if (found) {
			res->already++;
			snprintf(msg, sizeof(msg), "spooled capture %s is already record %llu", id,
				 (unsigned long long)found);
		} else {
			TFA_GUARD(tfa_chain_append(&seq, st, signer, alg, c));
			res->appended++;
			snprintf(msg, sizeof(msg), "appended spooled capture %s as seq %llu", id,
				 (unsigned long long)seq);
		}
		if (unlinkat(dfd, names[i], 0) != 0)
			TFA_BAIL(TFA_EIO, "cannot remove %s: %s", path, strerror(errno));
		if (fsync(dfd) != 0)
			TFA_BAIL(TFA_EIO, "cannot fsync %s: %s", dir, strerror(errno));
		if (line)
			line(ud, msg);
	}
out:
	tfa_spool_names_free(names, n);
	if (dfd >= 0)
		close(dfd);
	tfa_capture_free(c);
	tfa_buf_free(&raw);
	return rc;
}
