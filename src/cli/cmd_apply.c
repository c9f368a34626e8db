/*
 * tfattest apply [record options] -- terraform apply [args...]
 *
 * Runs Terraform (or OpenTofu) and records exactly one attestation of what it
 * did, for success or failure. What cannot be recorded is spooled, never lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "tfattest/artifact.h"
#include "tfattest/buffer.h"
#include "tfattest/chain.h"
#include "tfattest/signer.h"
#include "tfattest/spool.h"
#include "tfattest/store.h"

extern char **environ;

#define JSON_MAX ((size_t)512 << 20)
#define PATH_CAP 4096

static volatile sig_atomic_t child_pid;
static volatile sig_atomic_t got_signal;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got_signal = sig;
	/*
	 * A terminal's ^C already reached Terraform, which shares our process
	 * group: a second SIGINT would make it abandon its graceful stop.
	 */
	if (sig == SIGINT && si && si->si_code == SI_KERNEL)
		return;
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

static int install_forwarders(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGINT, &sa, NULL) == 0 && sigaction(SIGTERM, &sa, NULL) == 0 ? 0 : -1;
}

/* What the Terraform command line says. */
typedef struct tf_args {
	const char *chdir;     /* -chdir=DIR, or NULL */
	const char *subcmd;    /* apply or destroy */
	const char *plan;      /* a saved plan file, or NULL */
	const char *state;     /* -state-out= or -state=, or NULL */
	int destroy;           /* destroy, or apply -destroy */
	int global_end;        /* index of the subcommand in argv */
} tf_args;

static int takes_value(const char *opt)
{
	static const char *const v[] = { "var", "var-file", "target", "replace", "exclude", "state",
					 "state-out", "backup", "lock-timeout", "parallelism", NULL };
	for (const char *const *p = v; *p; p++)
		if (strcmp(opt, *p) == 0)
			return 1;
	return 0;
}

static int parse_tf_args(tf_args *a, int argc, char **argv)
{
	int i = 1;

	memset(a, 0, sizeof(*a));
	for (; i < argc && argv[i][0] == '-'; i++)
		if (strncmp(argv[i], "-chdir=", 7) == 0)
			a->chdir = argv[i] + 7;
	if (i >= argc)
		return -1;
	a->subcmd = argv[i];
	a->global_end = i;
	if (strcmp(a->subcmd, "apply") != 0 && strcmp(a->subcmd, "destroy") != 0)
		return -1;
	a->destroy = strcmp(a->subcmd, "destroy") == 0;
	for (i++; i < argc; i++) {
		const char *s = argv[i];
		if (s[0] == '-') {
			const char *name = s + (s[1] == '-' ? 2 : 1);
			const char *eq = strchr(name, '=');
			char key[32];
			size_t n = eq ? (size_t)(eq - name) : strlen(name);
			if (n >= sizeof(key))
				continue;
			memcpy(key, name, n);
			key[n] = '\0';
			if (strcmp(key, "destroy") == 0 && (!eq || strcmp(eq, "=true") == 0))
				a->destroy = 1;
			if ((strcmp(key, "state-out") == 0 || (strcmp(key, "state") == 0 && !a->state)) &&
			    (eq || i + 1 < argc))
				a->state = eq ? eq + 1 : argv[i + 1];
			if (!eq && takes_value(key))
				i++;
			continue;
		}
		a->plan = s;
	}
	return 0;
}

/* Joins dir and path unless path is absolute. */
static void in_dir(char *out, size_t cap, const char *dir, const char *path)
{
	if (dir == NULL || path[0] == '/')
		snprintf(out, cap, "%s", path);
	else
		snprintf(out, cap, "%s/%s", dir, path);
}

/*
 * Runs argv with stdout into `out` (capped), stdin from /dev/null, stderr
 * passed through. Returns the exit status, or -1 when it could not run.
 */
static int run_capture(tfa_buf *out, char *const argv[])
{
	int pipefd[2], status = 0, rc = -1;
	pid_t pid;
	posix_spawn_file_actions_t fa;
	char buf[65536];

	if (pipe(pipefd) != 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_addclose(&fa, pipefd[0]);
	posix_spawn_file_actions_addclose(&fa, pipefd[1]);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	for (;;) {
		ssize_t n = read(pipefd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (tfa_buf_append(out, buf, (size_t)n) != TFA_OK) {
			kill(pid, SIGTERM);
			break;
		}
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		rc = WEXITSTATUS(status);
	return rc;
}

/* The plan as `terraform show -json PLAN` prints it. */
static int show_plan(tfa_buf *out, const char *bin, const tf_args *a)
{
	char chdir_opt[PATH_CAP + 8];
	char *argv[6];
	int n = 0;

	argv[n++] = (char *)bin;
	if (a->chdir) {
		snprintf(chdir_opt, sizeof(chdir_opt), "-chdir=%s", a->chdir);
		argv[n++] = chdir_opt;
	}
	argv[n++] = "show";
	argv[n++] = "-json";
	argv[n++] = (char *)a->plan;
	argv[n] = NULL;
	return run_capture(out, argv);
}

/*
 * The state after the apply: the -state-out/-state file, else the local
 * terraform.tfstate of the working directory, else `terraform state pull`
 * (remote backends). Empty when none can be had.
 */
static void read_state(tfa_buf *out, const char *bin, const tf_args *a)
{
	char path[PATH_CAP], chdir_opt[PATH_CAP + 8];
	char *argv[5];
	int n = 0;

	in_dir(path, sizeof(path), a->chdir, a->state ? a->state : "terraform.tfstate");
	if (tfa_buf_read_file(out, path, JSON_MAX) == TFA_OK)
		return;
	tfa_buf_clear(out);
	if (a->state)
		return;
	argv[n++] = (char *)bin;
	if (a->chdir) {
		snprintf(chdir_opt, sizeof(chdir_opt), "-chdir=%s", a->chdir);
		argv[n++] = chdir_opt;
	}
	argv[n++] = "state";
	argv[n++] = "pull";
	argv[n] = NULL;
	if (run_capture(out, argv) != 0 || out->len == 0)
		tfa_buf_clear(out);
}

/* Runs Terraform itself. Returns 0 and its exit code in *code, or errno when it could not start. */
static int run_terraform(int *code, int *signo, char **argv)
{
	posix_spawnattr_t at;
	sigset_t block, old, none;
	pid_t pid;
	int status = 0, err;

	*signo = 0;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &block, &old);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &old);
	posix_spawnattr_setsigdefault(&at, &block);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	err = posix_spawnp(&pid, argv[0], NULL, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	if (err == 0)
		child_pid = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (err != 0)
		return err;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = 0x7f00; /* unknown: treated as exit 127 */
			break;
		}
	}
	child_pid = 0;
	if (WIFEXITED(status)) {
		*code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		*signo = WTERMSIG(status);
		*code = 128 + *signo;
	} else {
		*code = 1;
	}
	return 0;
}

/*
 * Once the key is open, Terraform and everything it runs (providers,
 * provisioners, external data sources) must not inherit a PIN from us.
 */
static void scrub_secret_env(void)
{
	const char *k = getenv("TFATTEST_KEY");

	if (k != NULL && strstr(k, "pin-value") != NULL)
		unsetenv("TFATTEST_KEY");
	unsetenv("TFATTEST_PKCS11_PIN");
}

/* Whether bin names an executable, as posix_spawnp() would find it. */
static int on_path(const char *bin)
{
	const char *p = getenv("PATH");
	char path[PATH_CAP];

	if (strchr(bin, '/'))
		return access(bin, X_OK) == 0;
	if (p == NULL || *p == '\0')
		p = "/bin:/usr/bin";
	while (*p) {
		size_t n = strcspn(p, ":");
		if (snprintf(path, sizeof(path), "%.*s%s%s", (int)n, p, n ? "/" : "", bin) <
			    (int)sizeof(path) &&
		    access(path, X_OK) == 0)
			return 1;
		p += n;
		if (*p == ':')
			p++;
	}
	return 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int tfa_cli_apply(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "sequencer", required_argument, NULL, 'Q' },
		{ "key", required_argument, NULL, 'k' },
		{ "event", required_argument, NULL, 'e' },
		{ "algorithm", required_argument, NULL, 'a' },
		{ "rollback-to", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	static const char use[] =
		"tfattest apply [--store S] [--sequencer Q] [--key K] [--event apply|destroy|rollback|import] "
		"[--rollback-to SEQ] [--algorithm ALG] -- terraform|tofu [-chdir=DIR] apply|destroy [ARGS...]";
	const char *store = NULL, *sequencer = NULL, *key = NULL, *bin;
	char rollback_hash[TFA_FPR_STRLEN] = "", head_hash[TFA_FPR_STRLEN], head_key[TFA_FPR_STRLEN];
	char plan_path[PATH_CAP];
	uint64_t rollback_to = 0, head = 0, seq = 0;
	tfa_event ev = { NULL, NULL, 0 };
	tfa_sig_alg alg = TFA_ALG_NONE;
	tfa_store *st = NULL;
	tfa_signer *s = NULL;
	tfa_capture *cap = NULL;
	tfa_chain_info info;
	tfa_buf plan, state;
	tf_args ta;
	char **tfargv;
	int tfargc, c, status = 2, code = 0, signo = 0, err;
	long long v;
	int64_t deployed;
	tfa_err rc;

	tfa_buf_init(&plan, JSON_MAX);
	tfa_buf_init(&state, JSON_MAX);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'Q': sequencer = optarg; break;
		case 'k': key = optarg; break;
		case 'e': ev.type = optarg; break;
		case 'a':
			if (tfa_sig_alg_from_name(&alg, optarg) != TFA_OK)
				return tfa_cli_usage("--algorithm takes RSASSA_PSS_SHA_256, "
						     "RSASSA_PKCS1_V1_5_SHA_256 or ECDSA_SHA_256");
			break;
		case 'r':
			if (tfa_cli_parse_int(optarg, 1, 999999999999LL, &v) != 0)
				return tfa_cli_usage("--rollback-to takes a seq");
			rollback_to = (uint64_t)v;
			break;
		default: return tfa_cli_usage("%s", use);
		}
	}
	if (optind < 2 || strcmp(argv[optind - 1], "--") != 0 || optind >= argc)
		return tfa_cli_usage("%s", use);
	tfargv = argv + optind;
	tfargc = argc - optind;
	bin = tfargv[0];
	if (parse_tf_args(&ta, tfargc, tfargv) != 0)
		return tfa_cli_usage("the command after -- must be `%s apply ...` or `%s destroy ...`",
				     bin, bin);
	if (ev.type == NULL)
		ev.type = ta.destroy ? "destroy" : "apply";
	if (rollback_to && strcmp(ev.type, "rollback") != 0)
		return tfa_cli_usage("--rollback-to needs --event rollback");
	store = tfa_cli_opt_env(store, "TFATTEST_STORE");
	key = tfa_cli_opt_env(key, "TFATTEST_KEY");

	if (!on_path(bin)) {
		fprintf(stderr, "tfattest: error: %s: command not found; nothing was deployed or recorded\n",
			bin);
		return 2;
	}
	/* Before deploying: the key and the store must be usable, or nothing runs. */
	rc = tfa_signer_open(&s, key);
	if (rc == TFA_OK)
		rc = tfa_cli_open_store(&st, store, sequencer);
	if (rc == TFA_OK)
		rc = tfa_chain_info_read(&info, st);
	if (rc == TFA_OK)
		rc = tfa_chain_head(st, &info, &head, head_hash, head_key);
	if (rc == TFA_OK && strcmp(head_key, tfa_signer_fingerprint(s)) != 0) {
		fprintf(stderr, "tfattest: error: key %s is not the current key of chain %s (%s)\n",
			tfa_signer_fingerprint(s), info.chain_id, head_key);
		fprintf(stderr, "tfattest: %s was not run\n", bin);
		status = 1;
		goto out;
	}
	if (rc == TFA_OK && rollback_to)
		rc = tfa_chain_record_hash(rollback_hash, st, s, rollback_to);
	if (rc != TFA_OK) {
		status = tfa_cli_fail(rc);
		fprintf(stderr, "tfattest: %s was not run\n", bin);
		goto out;
	}
	scrub_secret_env();
	if (ta.plan) {
		struct stat sb;
		in_dir(plan_path, sizeof(plan_path), ta.chdir, ta.plan);
		if (stat(plan_path, &sb) != 0 || !S_ISREG(sb.st_mode))
			ta.plan = NULL; /* a configuration directory (older Terraform), not a plan */
	}
	if (ta.plan) {
		int r = show_plan(&plan, bin, &ta);
		if (r != 0) {
			fprintf(stderr, "tfattest: error: `%s show -json %s` failed; %s was not run\n",
				bin, ta.plan, bin);
			status = 2;
			goto out;
		}
		/* A plan that cannot be summarised is refused before anything is deployed. */
		rc = tfa_capture_new_mem(&cap, &ev, plan.data, plan.len, NULL, 0);
		tfa_capture_free(cap);
		cap = NULL;
		if (rc != TFA_OK) {
			status = tfa_cli_fail(rc);
			fprintf(stderr, "tfattest: %s was not run\n", bin);
			goto out;
		}
	}

	if (install_forwarders() != 0) {
		fprintf(stderr, "tfattest: error: cannot install signal handlers\n");
		goto out;
	}
	err = run_terraform(&code, &signo, tfargv);
	if (err != 0) {
		fprintf(stderr, "tfattest: error: cannot run %s: %s; nothing was deployed or recorded\n",
			bin, strerror(err));
		status = 2;
		goto out;
	}
	deployed = now_ns();
	status = code;
	ev.status = code == 0 ? "succeeded" : "failed";
	ev.exit_code = code;
	read_state(&state, bin, &ta);
	rc = tfa_capture_new_mem(&cap, &ev, ta.plan ? plan.data : NULL, plan.len,
				 state.len ? state.data : NULL, state.len);
	if (rc != TFA_OK && state.len) {
		/* A state that cannot be read must not cost the record. */
		fprintf(stderr, "tfattest: warning: state not recorded: %s\n", tfa_error_last()->message);
		rc = tfa_capture_new_mem(&cap, &ev, ta.plan ? plan.data : NULL, plan.len, NULL, 0);
	}
	if (rc == TFA_OK && rollback_to)
		rc = tfa_capture_set_rollback(cap, rollback_to, rollback_hash);
	if (rc != TFA_OK) {
		tfa_cli_fail(rc);
		fprintf(stderr, "tfattest: error: %s ran (exit %d) but the deployment is NOT attested: "
				"its capture could not be made\n", bin, code);
		status = code ? code : 2;
		goto out;
	}
	rc = tfa_chain_append(&seq, st, s, alg, cap);
	if (rc == TFA_OK) {
		fprintf(stderr, "tfattest: recorded seq %llu (%s, %s, exit %d) in %s\n",
			(unsigned long long)seq, ev.type, ev.status, code, store);
		goto out;
	}
	{
		char reason[1024], *dir = NULL, *path = NULL;
		const tfa_error *e = tfa_error_last();
		tfa_err src;

		snprintf(reason, sizeof(reason), "%s%s%s%s", e->message, e->detail[0] ? " (" : "",
			 e->detail, e->detail[0] ? ")" : "");
		fprintf(stderr, "tfattest: error: %s ran (exit %d) but the deployment is NOT attested: %s\n",
			bin, code, reason);
		src = tfa_spool_dir(&dir);
		if (src == TFA_OK)
			src = tfa_spool_write(&path, dir, cap, info.chain_id, deployed);
		if (src == TFA_OK)
			fprintf(stderr, "tfattest: its capture was spooled to %s; append it with "
					"`tfattest record --flush-spool --store S --key K`\n", path);
		else
			fprintf(stderr, "tfattest: error: and its capture could not be spooled: %s\n",
				tfa_error_last()->message);
		free(dir);
		free(path);
		status = code ? code : 2;
	}
out:
	tfa_capture_free(cap);
	tfa_buf_wipe_free(&plan);
	tfa_buf_wipe_free(&state);
	tfa_store_free(st);
	tfa_signer_free(s);
	return status;
}
