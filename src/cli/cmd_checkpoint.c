#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "session.h"
#include "tfattest/checkpoint.h"
#include "tfattest/signer.h"
#include "tfattest/store.h"

/* Writes data to path atomically: a temp file beside it, fsynced, renamed over it. */
static int write_atomic(const char *path, const uint8_t *data, size_t len)
{
	char *tmp = NULL, *dircopy = NULL;
	int fd = -1, dfd = -1, ok = 0;
	size_t off = 0, tlen = strlen(path) + sizeof(".tmp.XXXXXX");

	tmp = malloc(tlen);
	if (tmp == NULL)
		goto out;
	snprintf(tmp, tlen, "%s.tmp.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		goto out;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	if (fchmod(fd, 0644) != 0 || fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	free(tmp);
	tmp = NULL;
	dircopy = strdup(path);
	if (dircopy && (dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
		(void)fsync(dfd);
	ok = 1;
out:
	if (!ok)
		fprintf(stderr, "tfattest: error: cannot write %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	if (dfd >= 0)
		close(dfd);
	free(dircopy);
	return ok ? 0 : -1;
}

int tfa_cli_checkpoint(int argc, char **argv)
{
	static const struct option own[] = {
	    {"out", required_argument, NULL, 'o'},
	    {"tsa", required_argument, NULL, 't'},
	    {NULL, 0, NULL, 0},
	};
	static const char use[] = "tfattest checkpoint --store S [--sequencer Q] --key K [--out "
				  "FILE] [--tsa URL] [--algorithm ALG]";
	const char *outp = NULL;
	tfa_cli_opts co;
	tfa_cli_session ss;
	tfa_checkpoint_opts o;
	tfa_checkpoint_file cf;
	tfa_buf file;
	bool existed = false;
	tfa_err rc;
	int c, status = 0;

	memset(&o, 0, sizeof(o));
	tfa_cli_opts_init(&co, TFA_CLI_CHAIN | TFA_CLI_ALGORITHM, use);
	co.alg_error = "unknown --algorithm";
	while ((c = tfa_cli_getopt(&co, argc, argv, own)) > 0) {
		if (c == 'o')
			outp = optarg;
		else
			o.tsa_url = optarg;
	}
	if (c < 0)
		return 2;
	if (optind != argc)
		return tfa_cli_usage("%s", use);
	o.alg = co.alg;
	tfa_checkpoint_file_init(&cf);
	tfa_buf_init(&file, TFA_CHECKPOINT_FILE_MAX);
	tfa_cli_chain_init(&ss);
	rc = tfa_cli_chain_open(&ss, &co);
	if (rc == TFA_OK)
		rc = tfa_checkpoint_create(&cf, &existed, ss.store, ss.signer, &o);
	if (rc == TFA_OK && outp)
		rc = tfa_checkpoint_file_write(&file, &cf);
	if (rc != TFA_OK) {
		status = tfa_cli_fail(rc);
		goto out;
	}
	if (outp && write_atomic(outp, file.data, file.len) != 0) {
		status = 2;
		goto out;
	}
	printf("%s checkpoint of chain %s at seq %llu%s%s%s\n",
	       existed ? "the head already has a" : "stored a", cf.cp.chain_id,
	       (unsigned long long)cf.cp.seq, cf.has_tsa ? " (timestamped)" : "",
	       outp ? ", written to " : "", outp ? outp : "");
	if (existed && o.tsa_url && !cf.has_tsa)
		fprintf(stderr, "tfattest: warning: the stored checkpoint has no timestamp; it was "
				"not replaced\n");
out:
	tfa_checkpoint_file_clear(&cf);
	tfa_buf_free(&file);
	tfa_cli_chain_close(&ss);
	return status;
}
