/*
 * The local-directory store, which is also its own sequencer.
 *
 *   DIR/chain.json                 chain metadata, written once, mode 0444
 *   DIR/records/NNNNNNNNNNNN.rec   one record per seq (12 digits), mode 0444:
 *                                  line 1 the artifact's canonical bytes,
 *                                  line 2 the signature in lowercase hex
 *   DIR/HEAD                       a hint: the last seq known to exist
 *   DIR/checkpoints/NNNNNNNNNNNN.ckpt  a signed checkpoint of head seq N, mode
 *                                  0444, written once like a record
 *   DIR/tmp/                       files being written
 *
 * Appending seq n is a create-if-absent: the record is written in full to a
 * temp file created mode 0444, fsynced, then link()ed to its final name,
 * which fails with EEXIST if another writer got there first; then the
 * records directory is fsynced. A record therefore either exists complete or
 * not at all, whenever the writer is killed.
 *
 * HEAD is only a hint (rename()d into place, not fsynced): the head is found
 * by probing forward from it, so a stale or lost hint costs a few stat()s,
 * never correctness. Leftover temp files of dead writers are removed.
 *
 * Whoever can write to the store can replace its records, so the store
 * directory, records/, tmp/, checkpoints/, chain.json and HEAD must be owned
 * by the caller (or root) and not writable by group or others, checked on
 * the open descriptor at init and on every open: writers that share a store
 * run as one user.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record/record.h"
#include "tfattest/sys/guard.h"
#include "tfattest/sys/store.h"
#include "verify/crypto.h"

#define SEQ_DIGITS 12
#define SEQ_MAX	   UINT64_C(999999999999)

typedef struct fs_ctx {
	char *root;
	int rootfd;
	int recfd; /* DIR/records, -1 until the chain exists */
	int tmpfd; /* DIR/tmp */
	char host[64];
} fs_ctx;

/* Temp names are unique per process by pid, and within it by this counter. */
static atomic_uint tmp_counter;

static void fs_close(void *vctx)
{
	fs_ctx *ctx = vctx;

	if (ctx == NULL)
		return;
	if (ctx->rootfd >= 0)
		close(ctx->rootfd);
	if (ctx->recfd >= 0)
		close(ctx->recfd);
	if (ctx->tmpfd >= 0)
		close(ctx->tmpfd);
	free(ctx->root);
	free(ctx);
}

/*
 * The store's part `sub` ("" for the store directory) open on fd: a
 * directory (or, for files, a regular file) of the caller or root that group
 * and others cannot write. TFA_EUSAGE saying what is wrong and what fixes it.
 */
static tfa_err check_owned(fs_ctx *ctx, int fd, const char *sub, int dir)
{
	struct stat st;
	uid_t me = geteuid();
	char path[PATH_MAX];
	const char *what = dir ? "store directory" : "store file";

	snprintf(path, sizeof(path), "%s%s%s", ctx->root, *sub ? "/" : "", sub);
	if (fstat(fd, &st) != 0)
		return tfa_error_set(TFA_EIO, "cannot stat %s: %s", path, strerror(errno));
	if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		return tfa_error_set(TFA_EUSAGE, "%s %s is not a %s", what, path,
				     dir ? "directory" : "regular file");
	if (st.st_uid != me && st.st_uid != 0)
		return tfa_error_set(TFA_EUSAGE,
				     "%s %s is owned by uid %lu, not by the caller (uid %lu) or "
				     "root: run tfattest as the store's owner, or chown -R %lu %s",
				     what, path, (unsigned long)st.st_uid, (unsigned long)me,
				     (unsigned long)me, ctx->root);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return tfa_error_set(
		    TFA_EUSAGE, "%s %s is writable by group or others (mode %04o): chmod go-w %s",
		    what, path, (unsigned)(st.st_mode & 07777), path);
	return TFA_OK;
}

/* Opens directory `sub` of the store with O_NOFOLLOW and checks it. */
static tfa_err open_checked_dir(fs_ctx *ctx, const char *sub, int *fd)
{
	tfa_err rc;

	*fd = openat(ctx->rootfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0) {
		if (errno == ENOENT)
			return TFA_ENOTFOUND; /* the caller says what that means */
		if (errno == ELOOP || errno == ENOTDIR)
			return tfa_error_set(TFA_EUSAGE, "store directory %s/%s is not a directory",
					     ctx->root, sub);
		return tfa_error_set(TFA_EIO, "cannot open %s/%s: %s", ctx->root, sub,
				     strerror(errno));
	}
	rc = check_owned(ctx, *fd, sub, 1);
	if (rc != TFA_OK) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

/* Opens file `name` of the store directory with O_NOFOLLOW and checks it. */
static tfa_err open_checked_file(fs_ctx *ctx, const char *name, int *fd)
{
	tfa_err rc;

	*fd = openat(ctx->rootfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0) {
		if (errno == ENOENT)
			return TFA_ENOTFOUND;
		if (errno == ELOOP)
			return tfa_error_set(TFA_EUSAGE,
					     "store file %s/%s is a symbolic link: remove it",
					     ctx->root, name);
		return tfa_error_set(TFA_EIO, "cannot open %s/%s: %s", ctx->root, name,
				     strerror(errno));
	}
	rc = check_owned(ctx, *fd, name, 0);
	if (rc != TFA_OK) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

/*
 * The store holds no chain. The path may be a mount point whose filesystem
 * is not mounted (an empty directory, or none): the message says what to
 * check and never suggests starting a chain, which would fork the history.
 */
static tfa_err no_chain(const fs_ctx *ctx)
{
	return tfa_error_set(TFA_ENOTFOUND,
			     "%s holds no chain%s: check the store path, and that its "
			     "filesystem is mounted",
			     ctx->root, ctx->rootfd < 0 ? " (no such directory)" : "");
}

static tfa_err open_subdirs(fs_ctx *ctx)
{
	tfa_err rc;

	if (ctx->rootfd < 0)
		return no_chain(ctx);
	if (ctx->recfd < 0) {
		rc = open_checked_dir(ctx, "records", &ctx->recfd);
		if (rc == TFA_ENOTFOUND)
			return no_chain(ctx);
		if (rc != TFA_OK)
			return rc;
	}
	if (ctx->tmpfd < 0) {
		rc = open_checked_dir(ctx, "tmp", &ctx->tmpfd);
		if (rc == TFA_ENOTFOUND)
			return tfa_error_set(TFA_EIO, "cannot open %s/tmp: %s", ctx->root,
					     strerror(ENOENT));
		if (rc != TFA_OK)
			return rc;
	}
	return TFA_OK;
}

static tfa_err fs_open(void **out, const char *uri)
{
	tfa_err rc = TFA_OK;
	fs_ctx *ctx = NULL;
	const char *path = uri;

	*out = NULL;
	if (strncmp(path, "fs:", 3) == 0)
		path += 3;
	if (strncmp(path, "//", 2) == 0)
		path += 2;
	TFA_ENSURE(*path, TFA_EUSAGE, "store path is empty");
	TFA_ENSURE(strstr(path, "://") == NULL, TFA_EUSAGE, "unsupported store URI scheme");
	ctx = calloc(1, sizeof(*ctx));
	TFA_ENSURE(ctx != NULL, TFA_EINTERNAL, "out of memory");
	ctx->rootfd = ctx->recfd = ctx->tmpfd = -1;
	ctx->root = strdup(path);
	TFA_ENSURE(ctx->root != NULL, TFA_EINTERNAL, "out of memory");
	if (gethostname(ctx->host, sizeof(ctx->host) - 1) != 0)
		snprintf(ctx->host, sizeof(ctx->host), "localhost");
	for (char *p = ctx->host; *p; p++)
		if (*p == '/' || *p == '.')
			*p = '_';
	/* Only init creates the directory; the others find it or report no chain. */
	ctx->rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ctx->rootfd < 0 && errno != ENOENT)
		TFA_BAIL(TFA_EIO, "cannot open store directory %s: %s", path, strerror(errno));
	if (ctx->rootfd >= 0)
		TFA_GUARD(check_owned(ctx, ctx->rootfd, "", 1));
	*out = ctx;
	ctx = NULL;
out:
	fs_close(ctx);
	return rc;
}

static tfa_err write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return tfa_error_set(TFA_EIO, "write failed: %s", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return TFA_OK;
}

/*
 * Writes data to a new temp file in dirfd (mode 0444, fsynced) and links it
 * to `name` in destfd. TFA_ECONFLICT when `name` exists.
 */
static tfa_err create_once(fs_ctx *ctx, int destfd, const char *name, const uint8_t *a, size_t alen,
			   const uint8_t *b, size_t blen)
{
	tfa_err rc = TFA_OK;
	char tmp[160];
	int fd = -1, created = 0;

	snprintf(tmp, sizeof(tmp), "%s.%s.%ld.%u.tmp", name, ctx->host, (long)getpid(),
		 atomic_fetch_add(&tmp_counter, 1));
	fd = openat(ctx->tmpfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (fd < 0)
		TFA_BAIL(TFA_EIO, "cannot create a temp file in %s/tmp: %s", ctx->root,
			 strerror(errno));
	created = 1;
	TFA_GUARD(write_all(fd, a, alen));
	if (b)
		TFA_GUARD(write_all(fd, b, blen));
	if (fsync(fd) != 0)
		TFA_BAIL(TFA_EIO, "fsync failed: %s", strerror(errno));
	if (close(fd) != 0) {
		fd = -1;
		TFA_BAIL(TFA_EIO, "close failed: %s", strerror(errno));
	}
	fd = -1;
	if (linkat(ctx->tmpfd, tmp, destfd, name, 0) != 0) {
		if (errno == EEXIST)
			TFA_BAIL(TFA_ECONFLICT, "%s already exists", name);
		TFA_BAIL(TFA_EIO, "cannot link %s into place: %s", name, strerror(errno));
	}
	if (fsync(destfd) != 0)
		TFA_BAIL(TFA_EIO, "fsync of the store directory failed: %s", strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlinkat(ctx->tmpfd, tmp, 0);
	return rc;
}

static tfa_err fs_create_chain(void *vctx, const uint8_t *meta, size_t len)
{
	fs_ctx *ctx = vctx;
	tfa_err rc = TFA_OK;

	if (ctx->rootfd < 0) {
		if (mkdir(ctx->root, 0755) != 0 && errno != EEXIST)
			TFA_BAIL(TFA_EIO, "cannot create store directory %s: %s", ctx->root,
				 strerror(errno));
		ctx->rootfd = open(ctx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (ctx->rootfd < 0)
			TFA_BAIL(TFA_EIO, "cannot open store directory %s: %s", ctx->root,
				 strerror(errno));
		TFA_GUARD(check_owned(ctx, ctx->rootfd, "", 1));
	}
	if (mkdirat(ctx->rootfd, "tmp", 0755) != 0 && errno != EEXIST)
		TFA_BAIL(TFA_EIO, "cannot create %s/tmp: %s", ctx->root, strerror(errno));
	if (mkdirat(ctx->rootfd, "records", 0755) != 0 && errno != EEXIST)
		TFA_BAIL(TFA_EIO, "cannot create %s/records: %s", ctx->root, strerror(errno));
	TFA_GUARD(open_subdirs(ctx));
	rc = create_once(ctx, ctx->rootfd, "chain.json", meta, len, NULL, 0);
	if (rc == TFA_ECONFLICT)
		rc = tfa_error_set(TFA_ECONFLICT, "%s already holds a chain", ctx->root);
out:
	return rc;
}

/*
 * The store works on the directory it opened; the path must still name it,
 * else the store was moved away or swapped for another while in use.
 */
static tfa_err still_there(fs_ctx *ctx)
{
	struct stat a, b;
	int fd = open(ctx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int same;

	if (fd < 0)
		return tfa_error_set(TFA_EIO, "store directory %s is gone while in use: %s",
				     ctx->root, strerror(errno));
	same = fstat(fd, &a) == 0 && fstat(ctx->rootfd, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
	close(fd);
	if (!same)
		return tfa_error_set(TFA_EIO, "store directory %s was replaced while in use",
				     ctx->root);
	return TFA_OK;
}

static tfa_err fs_read_chain(void *vctx, tfa_buf *meta)
{
	fs_ctx *ctx = vctx;
	char path[PATH_MAX];
	tfa_err rc = TFA_OK;
	int fd = -1;

	if (ctx->rootfd < 0)
		return no_chain(ctx);
	TFA_GUARD(still_there(ctx));
	rc = open_checked_file(ctx, "chain.json", &fd);
	if (rc == TFA_ENOTFOUND)
		return no_chain(ctx);
	if (rc != TFA_OK)
		return rc;
	snprintf(path, sizeof(path), "%s/chain.json", ctx->root);
	rc = tfa_buf_read_fd(meta, fd, path, TFA_CHAIN_META_MAX);
	close(fd);
out:
	return rc;
}

static void record_name(char out[32], uint64_t seq)
{
	snprintf(out, 32, "%0*" PRIu64 ".rec", SEQ_DIGITS, seq);
}

static int record_exists(fs_ctx *ctx, uint64_t seq)
{
	char name[32];
	struct stat st;

	record_name(name, seq);
	return fstatat(ctx->recfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Parses a decimal seq of exactly SEQ_DIGITS digits followed by suffix. */
static int parse_seq_name(const char *name, const char *suffix, uint64_t *seq)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < SEQ_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (strcmp(name + i, suffix) != 0)
		return 0;
	*seq = v;
	return 1;
}

/* The slow path, for a lost hint: the highest record in the directory. */
static tfa_err scan_head(fs_ctx *ctx, uint64_t *head)
{
	DIR *d;
	struct dirent *de;
	int fd = dup(ctx->recfd);

	*head = 0;
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return tfa_error_set(TFA_EIO, "cannot list %s/records: %s", ctx->root,
				     strerror(errno));
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		uint64_t s;
		if (parse_seq_name(de->d_name, ".rec", &s) && s > *head)
			*head = s;
	}
	closedir(d);
	return TFA_OK;
}

/*
 * The pid in a temp file name NAME.HOST.PID.N.tmp when HOST is this host,
 * else 0. NAME may hold dots; HOST, PID and N do not.
 */
static long tmp_owner(const char *name, const char *host)
{
	char buf[256];
	char *dot[4];
	size_t len = strlen(name);
	long pid;
	char *end;

	if (len >= sizeof(buf) || len < 5 || strcmp(name + len - 4, ".tmp") != 0)
		return 0;
	memcpy(buf, name, len - 4);
	buf[len - 4] = '\0';
	for (int i = 0; i < 3; i++) { /* the dots before N, PID and HOST */
		dot[i] = strrchr(buf, '.');
		if (dot[i] == NULL)
			return 0;
		*dot[i] = '\0';
	}
	if (strcmp(dot[2] + 1, host) != 0)
		return 0;
	pid = strtol(dot[1] + 1, &end, 10);
	if (end == dot[1] + 1 || *end != '\0' || pid <= 0 || pid > INT_MAX)
		return 0;
	return pid;
}

/* Removes temp files left on this host by writers that no longer run. */
static void sweep_tmp(fs_ctx *ctx)
{
	DIR *d;
	struct dirent *de;
	int fd = dup(ctx->tmpfd);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	/* The duplicate shares its offset with tmpfd: start from the top every time. */
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		long pid = tmp_owner(de->d_name, ctx->host);
		if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
			unlinkat(ctx->tmpfd, de->d_name, 0);
	}
	closedir(d);
}

static void write_hint(fs_ctx *ctx, uint64_t seq)
{
	char tmp[160], text[32];
	int fd, n;

	snprintf(tmp, sizeof(tmp), "HEAD.%s.%ld.%u.tmp", ctx->host, (long)getpid(),
		 atomic_fetch_add(&tmp_counter, 1));
	n = snprintf(text, sizeof(text), "%" PRIu64 "\n", seq);
	fd = openat(ctx->tmpfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write_all(fd, text, (size_t)n) != TFA_OK || close(fd) != 0 ||
	    renameat(ctx->tmpfd, tmp, ctx->rootfd, "HEAD") != 0)
		unlinkat(ctx->tmpfd, tmp, 0);
	tfa_error_clear();
}

/* The hint, 0 when absent or unreadable; an error when HEAD fails its check. */
static tfa_err read_hint(fs_ctx *ctx, uint64_t *hint)
{
	char text[32];
	ssize_t n;
	uint64_t v = 0;
	int fd = -1;
	tfa_err rc = open_checked_file(ctx, "HEAD", &fd);

	*hint = 0;
	if (rc == TFA_ENOTFOUND || (rc == TFA_EIO && fd < 0)) {
		tfa_error_clear();
		return TFA_OK;
	}
	if (rc != TFA_OK)
		return rc;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 1 || text[n - 1] != '\n')
		return TFA_OK;
	for (ssize_t i = 0; i < n - 1; i++) {
		if (text[i] < '0' || text[i] > '9' || v > SEQ_MAX / 10)
			return TFA_OK;
		v = v * 10 + (uint64_t)(text[i] - '0');
	}
	*hint = v <= SEQ_MAX ? v : 0;
	return TFA_OK;
}

static tfa_err fs_head(void *vctx, uint64_t *seq)
{
	fs_ctx *ctx = vctx;
	tfa_err rc = TFA_OK;
	uint64_t hint, h;

	TFA_GUARD(open_subdirs(ctx));
	TFA_GUARD(read_hint(ctx, &hint));
	h = hint;
	if (h > 0 && !record_exists(ctx, h)) {
		/* The hint points past the records: it cannot be trusted. */
		TFA_GUARD(scan_head(ctx, &h));
	} else if (h == 0 && record_exists(ctx, 1)) {
		TFA_GUARD(scan_head(ctx, &h));
	}
	while (h < SEQ_MAX && record_exists(ctx, h + 1))
		h++;
	/* A writer killed mid-append leaves at most a temp file and a stale hint. */
	sweep_tmp(ctx);
	if (h != hint)
		write_hint(ctx, h);
	*seq = h;
out:
	return rc;
}

static tfa_err fs_get(void *vctx, uint64_t seq, tfa_buf *artifact, tfa_buf *sig)
{
	fs_ctx *ctx = vctx;
	tfa_err rc = TFA_OK;
	char name[32];
	tfa_buf raw;
	int fd = -1;
	struct stat st;

	tfa_buf_init(&raw, TFA_RECORD_MAX * 2 + 4);
	TFA_GUARD(open_subdirs(ctx));
	TFA_ENSURE(seq <= SEQ_MAX, TFA_ENOTFOUND, "no record %" PRIu64, seq);
	record_name(name, seq);
	fd = openat(ctx->recfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		TFA_BAIL(errno == ENOENT ? TFA_ENOTFOUND : TFA_EIO,
			 "cannot open record %" PRIu64 ": %s", seq, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > raw.max)
		TFA_BAIL(TFA_EFORMAT, "record %" PRIu64 " is not a regular file of a sane size",
			 seq);
	TFA_GUARD(tfa_buf_reserve(&raw, (size_t)st.st_size));
	while (raw.len < (size_t)st.st_size) {
		ssize_t n = read(fd, raw.data + raw.len, (size_t)st.st_size - raw.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			TFA_BAIL(TFA_EIO, "cannot read record %" PRIu64, seq);
		raw.len += (size_t)n;
	}
	if (tfa_record_decode(raw.data, raw.len, artifact, sig) != TFA_OK)
		TFA_BAIL(TFA_EFORMAT, "%s (seq %" PRIu64 ")", tfa_error_last()->message, seq);
out:
	if (fd >= 0)
		close(fd);
	tfa_buf_free(&raw);
	return rc;
}

static tfa_err fs_append(void *vctx, uint64_t seq, const uint8_t *artifact, size_t artifact_len,
			 const uint8_t *sig, size_t sig_len)
{
	fs_ctx *ctx = vctx;
	tfa_err rc = TFA_OK;
	char name[32];
	tfa_buf rec;

	tfa_buf_init(&rec, TFA_RECORD_MAX * 2 + 4);
	TFA_GUARD(open_subdirs(ctx));
	TFA_ENSURE(seq <= SEQ_MAX, TFA_EUSAGE, "sequence number out of range");
	TFA_GUARD(tfa_record_encode(&rec, artifact, artifact_len, sig, sig_len));
	record_name(name, seq);
	TFA_GUARD(create_once(ctx, ctx->recfd, name, rec.data, rec.len, NULL, 0));
	write_hint(ctx, seq);
out:
	tfa_buf_free(&rec);
	return rc;
}

/* DIR/checkpoints, created on first use. */
static tfa_err open_ckptdir(fs_ctx *ctx, int create, int *fd)
{
	tfa_err rc = open_subdirs(ctx);

	if (rc != TFA_OK)
		return rc;
	rc = open_checked_dir(ctx, "checkpoints", fd);
	if (rc == TFA_ENOTFOUND && create) {
		if (mkdirat(ctx->rootfd, "checkpoints", 0755) != 0 && errno != EEXIST)
			return tfa_error_set(TFA_EIO, "cannot create %s/checkpoints: %s", ctx->root,
					     strerror(errno));
		if (fsync(ctx->rootfd) != 0)
			return tfa_error_set(TFA_EIO, "fsync of %s failed: %s", ctx->root,
					     strerror(errno));
		rc = open_checked_dir(ctx, "checkpoints", fd);
	}
	if (rc == TFA_ENOTFOUND)
		return tfa_error_set(TFA_ENOTFOUND, "cannot open %s/checkpoints: %s", ctx->root,
				     strerror(ENOENT));
	return rc;
}

static tfa_err fs_put_checkpoint(void *vctx, uint64_t seq, const uint8_t *data, size_t len)
{
	fs_ctx *ctx = vctx;
	tfa_err rc = TFA_OK;
	char name[32];
	int fd = -1;

	TFA_ENSURE(seq >= 1 && seq <= SEQ_MAX, TFA_EUSAGE, "sequence number out of range");
	TFA_GUARD(open_ckptdir(ctx, 1, &fd));
	snprintf(name, sizeof(name), "%0*" PRIu64 ".ckpt", SEQ_DIGITS, seq);
	TFA_GUARD(create_once(ctx, fd, name, data, len, NULL, 0));
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static tfa_err fs_latest_checkpoint(void *vctx, uint64_t min_seq, uint64_t max_seq, uint64_t *seq,
				    tfa_buf *data)
{
	fs_ctx *ctx = vctx;
	tfa_err rc = TFA_OK;
	uint64_t best = 0;
	char name[32];
	int fd = -1, ffd = -1;
	DIR *d = NULL;
	struct dirent *de;

	rc = open_ckptdir(ctx, 0, &fd);
	if (rc != TFA_OK)
		goto out;
	d = fdopendir(fd);
	TFA_ENSURE(d != NULL, TFA_EIO, "cannot list %s/checkpoints: %s", ctx->root,
		   strerror(errno));
	fd = -1; /* owned by d */
	while ((de = readdir(d)) != NULL) {
		uint64_t s;
		if (parse_seq_name(de->d_name, ".ckpt", &s) && s >= min_seq && s <= max_seq &&
		    s > best)
			best = s;
	}
	TFA_ENSURE(best != 0, TFA_ENOTFOUND, "no checkpoint of seq %" PRIu64 "..%" PRIu64, min_seq,
		   max_seq);
	snprintf(name, sizeof(name), "%0*" PRIu64 ".ckpt", SEQ_DIGITS, best);
	ffd = openat(dirfd(d), name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	TFA_ENSURE(ffd >= 0, TFA_EIO, "cannot open checkpoint %s: %s", name, strerror(errno));
	TFA_GUARD(tfa_buf_read_fd(data, ffd, name, TFA_STORE_CHECKPOINT_MAX));
	*seq = best;
out:
	if (ffd >= 0)
		close(ffd);
	if (d)
		closedir(d);
	if (fd >= 0)
		close(fd);
	return rc;
}

const tfa_store_backend tfa_store_backend_fs = {
    .abi = TFA_STORE_ABI,
    .name = "fs",
    .scheme = "",
    .caps = 0,
    .open = fs_open,
    .create_chain = fs_create_chain,
    .read_chain = fs_read_chain,
    .head = fs_head,
    .get = fs_get,
    .append = fs_append,
    .close = fs_close,
    .put_checkpoint = fs_put_checkpoint,
    .latest_checkpoint = fs_latest_checkpoint,
};
