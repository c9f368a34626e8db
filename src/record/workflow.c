/*
 * The apply workflow (tfattest/workflow.h): preflight, run Terraform,
 * capture, append, and the spool when the append fails. What cannot be
 * recorded is spooled, never lost.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sys/spawn.h"
#include "tfattest/artifact.h"
#include "tfattest/buffer.h"
#include "tfattest/capture.h"
#include "tfattest/chain.h"
#include "tfattest/signer.h"
#include "tfattest/spool.h"
#include "tfattest/store.h"
#include "tfattest/sys/guard.h"
#include "tfattest/workflow.h"

#define JSON_MAX ((size_t)512 << 20)
#define PATH_CAP 4096

static volatile sig_atomic_t child_pid;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
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
	int sub;	       /* argv index of the subcommand */
	const char *subcmd;    /* apply, destroy, import, state or (a drift check) plan */
	const char *event;     /* the event type the command is */
	const char *plan;      /* a saved plan file, or NULL */
	const char *state;     /* -state= (the state read), or NULL */
	const char *state_out; /* -state-out= (the state written), or NULL */
	const char *out;       /* plan -out=, or NULL */
	int destroy;	       /* destroy, or apply -destroy */
	int refresh_only;      /* -refresh-only */
	int dry_run;	       /* state rm|mv -dry-run */
} tf_args;

/* Options whose value may be the next argument (Terraform's flags accept both forms). */
static int takes_value(const char *opt)
{
	static const char *const v[] = {
	    "var",	    "var-file",	   "target", "replace",	   "exclude",
	    "state",	    "state-out",   "backup", "backup-out", "config",
	    "lock-timeout", "parallelism", "out",    "provider",   NULL};
	for (const char *const *p = v; *p; p++)
		if (strcmp(opt, *p) == 0)
			return 1;
	return 0;
}

/* The option's name without its dashes and value, in key (cap bytes); 0 when too long. */
static int opt_name(char *key, size_t cap, const char *s, const char **eq)
{
	const char *name = s + (s[1] == '-' ? 2 : 1);
	size_t n;

	*eq = strchr(name, '=');
	n = *eq ? (size_t)(*eq - name) : strlen(name);
	if (n >= cap)
		return 0;
	memcpy(key, name, n);
	key[n] = '\0';
	return 1;
}

static int is_true(const char *eq)
{
	return !eq || strcmp(eq, "=true") == 0;
}

/*
 * Reads `PROGRAM [global options] SUBCOMMAND [args]`. drift: the command must
 * be `plan -refresh-only`; otherwise a state-writing command.
 */
static int parse_tf_args(tf_args *a, int argc, char *const *argv, bool drift)
{
	int i = 1, npos = 0;

	memset(a, 0, sizeof(*a));
	for (; i < argc && argv[i][0] == '-'; i++)
		if (strncmp(argv[i], "-chdir=", 7) == 0)
			a->chdir = argv[i] + 7;
	if (i >= argc)
		return -1;
	a->sub = i;
	a->subcmd = argv[i];
	if (drift) {
		if (strcmp(a->subcmd, "plan") != 0)
			return -1;
		a->event = "drift-check";
	} else if (strcmp(a->subcmd, "apply") == 0) {
		a->event = "apply";
	} else if (strcmp(a->subcmd, "destroy") == 0) {
		a->event = "destroy";
		a->destroy = 1;
	} else if (strcmp(a->subcmd, "import") == 0) {
		a->event = "import";
	} else if (strcmp(a->subcmd, "state") == 0 && i + 1 < argc) {
		const char *sc = argv[++i];
		if (strcmp(sc, "rm") == 0)
			a->event = "state-rm";
		else if (strcmp(sc, "mv") == 0)
			a->event = "state-mv";
		else if (strcmp(sc, "push") == 0)
			a->event = "state-push";
		else
			return -1;
	} else {
		return -1;
	}
	for (i++; i < argc; i++) {
		const char *s = argv[i], *eq;
		char key[32];

		if (s[0] != '-' || s[1] == '\0') {
			/* apply's one operand is a saved plan; others' are addresses or a path. */
			if (npos++ == 0 && strcmp(a->subcmd, "apply") == 0)
				a->plan = s;
			continue;
		}
		if (!opt_name(key, sizeof(key), s, &eq))
			continue;
		if (strcmp(key, "destroy") == 0 && is_true(eq))
			a->destroy = 1;
		if (strcmp(key, "refresh-only") == 0 && is_true(eq))
			a->refresh_only = 1;
		if (strcmp(key, "dry-run") == 0 && is_true(eq))
			a->dry_run = 1;
		if (eq || i + 1 < argc) {
			const char *v = eq ? eq + 1 : argv[i + 1];
			if (strcmp(key, "state-out") == 0)
				a->state_out = v;
			else if (strcmp(key, "state") == 0)
				a->state = v;
			else if (strcmp(key, "out") == 0)
				a->out = v;
		}
		if (!eq && takes_value(key))
			i++;
	}
	if (drift && !a->refresh_only)
		return -1;
	if (drift)
		return 0;
	if (strcmp(a->subcmd, "apply") == 0 && a->destroy)
		a->event = "destroy";
	if (strcmp(a->subcmd, "apply") == 0 && a->refresh_only)
		a->event = a->destroy ? "destroy" : "refresh";
	return 0;
}

static tfa_err command_error(int argc, char *const argv[], bool drift)
{
	const char *bin = argv && argc >= 1 && argv[0] ? argv[0] : "terraform";

	if (drift)
		return tfa_error_set(TFA_EUSAGE, "the command must be `%s plan -refresh-only ...`",
				     bin);
	return tfa_error_set(TFA_EUSAGE,
			     "the command must be `%s apply|destroy|import ...` or `%s state "
			     "rm|mv|push ...`",
			     bin, bin);
}

tfa_err tfa_workflow_command_event(const char **event, bool drift, int argc, char *const argv[])
{
	tf_args a;

	if (argv == NULL || argc < 1 || argv[0] == NULL ||
	    parse_tf_args(&a, argc, argv, drift) != 0)
		return command_error(argc, argv, drift);
	if (a.dry_run)
		return tfa_error_set(TFA_EUSAGE,
				     "`%s state ... -dry-run` writes no state: there is nothing "
				     "to record",
				     argv[0]);
	if (event)
		*event = a.event;
	return TFA_OK;
}

tfa_err tfa_workflow_check_command(bool *destroy, int argc, char *const argv[])
{
	const char *ev = NULL;
	tfa_err rc = tfa_workflow_command_event(&ev, false, argc, argv);

	if (rc == TFA_OK && destroy)
		*destroy = strcmp(ev, "destroy") == 0;
	return rc;
}

/* Joins dir and path unless path is absolute. */
static void in_dir(char *out, size_t cap, const char *dir, const char *path)
{
	if (dir == NULL || path[0] == '/')
		snprintf(out, cap, "%s", path);
	else
		snprintf(out, cap, "%s/%s", dir, path);
}

/* The program, its global options (-chdir=...) and then the rest, NULL-terminated. */
typedef struct argvec {
	char **v;
	int n, cap;
} argvec;

static int av_add(argvec *a, const char *s)
{
	if (a->n + 2 > a->cap) {
		int cap = a->cap ? a->cap * 2 : 16;
		char **v = realloc(a->v, (size_t)cap * sizeof(*v));
		if (v == NULL)
			return -1;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = (char *)s;
	a->v[a->n] = NULL;
	return 0;
}

/* argv[0] and the global options before the subcommand. */
static int av_head(argvec *a, const tf_args *ta, char *const *argv)
{
	for (int i = 0; i < ta->sub; i++)
		if (av_add(a, argv[i]) != 0)
			return -1;
	return 0;
}

/* Runs argv with stdout into `out`; 0 when it ran and exited 0. */
static int run_capture(tfa_buf *out, char *const argv[], unsigned flags)
{
	tfa_spawn_exit how;

	if (tfa_spawn_read(&how, out, argv, flags) != 0)
		return -1;
	return how.code;
}

/* The plan as `terraform show -json PLAN` prints it. */
static int show_plan(tfa_buf *out, const char *bin, const tf_args *a, const char *plan)
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
	argv[n++] = (char *)plan;
	argv[n] = NULL;
	return run_capture(out, argv, 0);
}

/*
 * The state, before (after == false) or after the command: the file the
 * command names (-state=, or -state-out= after), else what `terraform state
 * pull` prints, which works for every backend. `state pull` prints the state
 * as Terraform serialises it to its backend, followed by one newline of its
 * own: that newline is dropped, so that the hash recorded is that of the
 * bytes Terraform stores (docs/FORMAT.md, section 3.3). Empty when there is
 * no state, or none can be had.
 */
static void read_state(tfa_buf *out, const char *bin, const tf_args *a, bool after)
{
	char path[PATH_CAP], chdir_opt[PATH_CAP + 8];
	const char *file = after && a->state_out ? a->state_out : a->state;
	char *argv[5];
	int n = 0;

	tfa_buf_clear(out);
	if (file) {
		in_dir(path, sizeof(path), a->chdir, file);
		if (tfa_buf_read_file(out, path, JSON_MAX) != TFA_OK)
			tfa_buf_clear(out);
		return;
	}
	argv[n++] = (char *)bin;
	if (a->chdir) {
		snprintf(chdir_opt, sizeof(chdir_opt), "-chdir=%s", a->chdir);
		argv[n++] = chdir_opt;
	}
	argv[n++] = "state";
	argv[n++] = "pull";
	argv[n] = NULL;
	if (run_capture(out, argv, TFA_SPAWN_QUIET) != 0 || out->len == 0) {
		tfa_buf_clear(out);
		return;
	}
	if (out->len >= 2 && out->data[out->len - 1] == '\n' && out->data[out->len - 2] == '\n')
		out->len--;
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

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The last error, kept with the code the failing call returned. */
static void keep_error(tfa_error *e, tfa_err rc)
{
	*e = *tfa_error_last();
	e->code = rc;
}

static tfa_err dup_str(char **out, const char *s)
{
	*out = NULL;
	if (s == NULL)
		return TFA_OK;
	*out = strdup(s);
	return *out ? TFA_OK : tfa_error_set(TFA_EINTERNAL, "out of memory");
}

void tfa_workflow_result_free(tfa_workflow_result *r)
{
	if (r == NULL)
		return;
	free(r->program);
	free(r->plan);
	free(r->store);
	free(r->event);
	free(r->spool_path);
	free(r->flush_hint);
	free(r);
}

/*
 * A private file for the plan the wrapper makes: mkstemp (0600) in $TMPDIR
 * (when absolute) or /tmp. Its path, absolute because Terraform may run in
 * -chdir, is in path. 0, or -1 with errno.
 */
static int make_plan_file(char *path, size_t cap)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	if (dir == NULL || dir[0] != '/')
		dir = "/tmp";
	if ((size_t)snprintf(path, cap, "%s/tfattest-plan-XXXXXX", dir) >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* Whether an apply option shapes the plan (it goes to `plan`) rather than the apply of it. */
static int apply_only(const char *key)
{
	static const char *const v[] = {"auto-approve", "backup", "state-out", NULL};
	for (const char *const *p = v; *p; p++)
		if (strcmp(key, *p) == 0)
			return 1;
	return 0;
}

/* What both `plan` and `apply PLANFILE` take. */
static int both(const char *key)
{
	static const char *const v[] = {"lock",	    "lock-timeout", "input",
					"no-color", "state",	    "compact-warnings",
					"json",	    "parallelism",  NULL};
	for (const char *const *p = v; *p; p++)
		if (strcmp(key, *p) == 0)
			return 1;
	return 0;
}

/*
 * Splits `apply|destroy ARGS` into `plan -out=PLANFILE [-destroy] ARGS'` and
 * `apply ARGS'' PLANFILE`: what shapes the plan goes to plan, what applies
 * it to apply, the rest to both.
 */
static int split_for_plan_first(argvec *plan, argvec *apply, const tf_args *ta, int argc,
				char *const *argv, const char *out_opt, const char *planfile)
{
	if (av_head(plan, ta, argv) != 0 || av_head(apply, ta, argv) != 0 ||
	    av_add(plan, "plan") != 0 || av_add(plan, out_opt) != 0 || av_add(apply, "apply") != 0)
		return -1;
	if (strcmp(ta->subcmd, "destroy") == 0 && av_add(plan, "-destroy") != 0)
		return -1;
	for (int i = ta->sub + 1; i < argc; i++) {
		const char *s = argv[i], *eq;
		char key[32];
		int to_plan = 1, to_apply = 0, pair;

		if (s[0] == '-' && s[1] != '\0' && opt_name(key, sizeof(key), s, &eq)) {
			to_plan = !apply_only(key);
			to_apply = apply_only(key) || both(key);
			pair = !eq && takes_value(key) && i + 1 < argc;
		} else {
			pair = 0;
		}
		if ((to_plan && av_add(plan, s) != 0) || (to_apply && av_add(apply, s) != 0))
			return -1;
		if (pair) {
			i++;
			if ((to_plan && av_add(plan, argv[i]) != 0) ||
			    (to_apply && av_add(apply, argv[i]) != 0))
				return -1;
		}
	}
	return av_add(apply, planfile);
}

/* The parts of a run the workflow prepares: what runs, and what the record says of its plan. */
typedef struct run_spec {
	char *const *argv;	 /* the command that deploys (or checks drift) */
	char *const *plan_argv;	 /* plan-first: the `plan -out` to run before, else NULL */
	const char *planfile;	 /* plan-first or drift: the plan file written */
	const char *plan_source; /* saved-plan, plan-first, none; NULL for a drift check */
	bool drift;
	tfa_buf *before; /* the state before (may be empty) */
} run_spec;

/* A plan's capture is refused: it is not a plan, or errored without leave. */
static tfa_err check_plan(const tfa_workflow_opts *o, const char *event, const tfa_buf *plan)
{
	tfa_err rc;
	tfa_capture *cap = NULL;

	rc =
	    tfa_capture_new_mem(&cap, &(tfa_event){event, NULL, 0}, plan->data, plan->len, NULL, 0);
	if (rc == TFA_OK && tfa_capture_plan_errored(cap) && !o->allow_errored_plan)
		rc = tfa_error_set(TFA_EUSAGE,
				   "the plan is errored (Terraform stopped planning on an error); "
				   "--allow-errored-plan records it anyway");
	tfa_capture_free(cap);
	return rc;
}

/*
 * After the preflight: runs Terraform (the plan first, when the wrapper
 * makes it), captures, appends or spools. r has the result so far; st, s
 * and info are open.
 */
static tfa_err run_and_record(tfa_workflow_result *r, const tfa_workflow_opts *o, tf_args *ta,
			      tfa_store *st, tfa_signer *s, const tfa_chain_info *info,
			      const char *rollback_hash, tfa_buf *plan, const run_spec *rs)
{
	tfa_err rc = TFA_OK;
	tfa_event ev = {r->event, NULL, 0};
	tfa_capture *cap = NULL;
	tfa_buf state;
	tfa_spawn_exit how;
	char *dir = NULL;
	const uint8_t *plan_data = NULL;
	int64_t deployed;
	int err;

	tfa_buf_init(&state, JSON_MAX);
	if (o->forward_signals && install_forwarders() != 0) {
		r->outcome = TFA_WF_SIGNALS_FAILED;
		r->exit_status = 2;
		goto out;
	}
	if (rs->plan_argv) {
		err = tfa_spawn_run(&how, rs->plan_argv, o->forward_signals ? &child_pid : NULL);
		if (err != 0) {
			r->outcome = TFA_WF_START_FAILED;
			r->start_errno = err;
			r->exit_status = 2;
			goto out;
		}
		if (how.code != 0) {
			r->outcome = TFA_WF_PLAN_FAILED;
			r->tf_exit = how.code;
			r->tf_signal = how.signo;
			r->exit_status = how.code;
			goto out;
		}
		if (show_plan(plan, r->program, ta, rs->planfile) != 0) {
			r->outcome = TFA_WF_PLAN_UNREADABLE;
			goto out;
		}
		rc = check_plan(o, r->event, plan);
		if (rc != TFA_OK) {
			keep_error(&r->error, rc);
			r->outcome = TFA_WF_REFUSED;
			r->exit_status = tfa_err_exit_status(rc);
			rc = TFA_OK;
			goto out;
		}
	}
	err = tfa_spawn_run(&how, rs->argv, o->forward_signals ? &child_pid : NULL);
	if (err != 0) {
		r->outcome = TFA_WF_START_FAILED;
		r->start_errno = err;
		r->exit_status = 2;
		goto out;
	}
	deployed = now_ns();
	r->tf_exit = how.code;
	r->tf_signal = how.signo;
	r->exit_status = how.code;
	/* A drift check's plan exits 2 when it found drift: that is a check that succeeded. */
	ev.status = how.code == 0 || (rs->drift && how.code == 2) ? "succeeded" : "failed";
	ev.exit_code = how.code;
	if (rs->drift) {
		tfa_buf_clear(plan);
		if (strcmp(ev.status, "succeeded") == 0 &&
		    show_plan(plan, r->program, ta, rs->planfile) == 0)
			plan_data = plan->data;
	} else if (rs->plan_source && strcmp(rs->plan_source, "none") != 0) {
		plan_data = plan->data;
	}
	read_state(&state, r->program, ta, true);
	rc = tfa_capture_new_mem(&cap, &ev, plan_data, plan->len, state.len ? state.data : NULL,
				 state.len);
	if (rc != TFA_OK && state.len) {
		/* A state that cannot be read must not cost the record. */
		r->state_dropped = true;
		keep_error(&r->state_error, rc);
		rc = tfa_capture_new_mem(&cap, &ev, plan_data, plan->len, NULL, 0);
	}
	if (rc == TFA_OK && rs->before->len &&
	    tfa_capture_set_state_before(cap, rs->before->data, rs->before->len) != TFA_OK) {
		r->state_dropped = true;
		keep_error(&r->state_error, TFA_EFORMAT);
	}
	if (rc == TFA_OK && rs->plan_source)
		rc = tfa_capture_set_plan_source(cap, rs->plan_source);
	if (rc == TFA_OK && plan_data && rs->drift)
		rc = tfa_capture_set_drift(cap, plan->data, plan->len);
	if (rc == TFA_OK && o->rollback_to)
		rc = tfa_capture_set_rollback(cap, o->rollback_to, rollback_hash);
	if (rc == TFA_OK)
		rc = tfa_capture_set_idempotency_key(cap, r->idempotency_key);
	if (rc != TFA_OK) {
		keep_error(&r->error, rc);
		r->outcome = TFA_WF_UNCAPTURED;
		r->exit_status = rs->drift ? 1 : how.code ? how.code : 2;
		rc = TFA_OK;
		goto out;
	}
	if (o->sink) {
		rc = o->sink->record(o->sink->ud, cap, deployed, &r->seq, &r->spool_path,
				     &r->spool_error);
		if (rc == TFA_OK) {
			r->outcome = TFA_WF_RECORDED;
			goto out;
		}
		keep_error(&r->error, rc);
		r->exit_status = rs->drift ? 1 : how.code ? how.code : 2;
		r->outcome = r->spool_path ? TFA_WF_SPOOLED : TFA_WF_UNSPOOLED;
		rc = TFA_OK;
		goto out;
	}
	/* The preflight looked for a given key; a drawn one is new. */
	rc = tfa_chain_append_once(&r->seq, &r->replayed, st, s, o->alg, cap, false);
	if (rc == TFA_OK) {
		r->outcome = TFA_WF_RECORDED;
		goto out;
	}
	keep_error(&r->error, rc);
	/* A drift check's 0 and 2 say what it found: a check not recorded is an error. */
	r->exit_status = rs->drift ? 1 : how.code ? how.code : 2;
	rc = tfa_spool_dir(&dir);
	if (rc == TFA_OK)
		rc = tfa_spool_write(&r->spool_path, dir, cap, info->chain_id, deployed);
	if (rc == TFA_OK) {
		r->outcome = TFA_WF_SPOOLED;
	} else {
		keep_error(&r->spool_error, rc);
		r->outcome = TFA_WF_UNSPOOLED;
		rc = TFA_OK;
	}
out:
	free(dir);
	tfa_capture_free(cap);
	tfa_buf_wipe_free(&state);
	return rc;
}

tfa_err tfa_workflow_apply(tfa_workflow_result **out, const tfa_workflow_opts *o)
{
	tfa_err rc = TFA_OK;
	tfa_workflow_result *r = NULL;
	tfa_store *st = NULL;
	tfa_signer *s = NULL;
	tfa_chain_info info;
	tfa_buf plan, before;
	tf_args ta;
	argvec plan_av = {0}, run_av = {0};
	run_spec rs;
	char rollback_hash[TFA_FPR_STRLEN] = "", head_hash[TFA_FPR_STRLEN];
	char plan_path[PATH_CAP], tmp_plan[PATH_CAP] = "", out_opt[PATH_CAP + 8];
	const char *event = NULL;
	uint64_t head = 0;

	tfa_buf_init(&plan, JSON_MAX);
	tfa_buf_init(&before, JSON_MAX);
	memset(&rs, 0, sizeof(rs));
	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(o);
	TFA_GUARD(tfa_workflow_command_event(&event, o->drift, o->argc, o->argv));
	TFA_ENSURE(o->rollback_to == 0 || (o->event && strcmp(o->event, "rollback") == 0),
		   TFA_EUSAGE, "a rollback target needs event rollback");
	TFA_ENSURE(o->sink == NULL || (o->sink->record != NULL && o->rollback_to == 0), TFA_EUSAGE,
		   "a rollback target needs the chain's store: not through a service");
	TFA_ENSURE(!o->drift || o->event == NULL || strcmp(o->event, "drift-check") == 0,
		   TFA_EUSAGE, "a drift check is recorded as event drift-check");
	if (parse_tf_args(&ta, o->argc, o->argv, o->drift) != 0)
		TFA_BAIL(TFA_EINTERNAL, "the command could not be read");
	r = calloc(1, sizeof(*r));
	TFA_ENSURE(r != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(dup_str(&r->program, o->argv[0]));
	TFA_GUARD(dup_str(&r->store, o->sink ? o->sink->where : o->store));
	if (o->sink)
		TFA_GUARD(dup_str(&r->flush_hint, o->sink->flush_hint));
	TFA_GUARD(dup_str(&r->event, o->event ? o->event : event));
	r->exit_status = 2;

	if (!tfa_spawn_find(r->program)) {
		r->outcome = TFA_WF_NOT_FOUND;
		goto done;
	}
	if (o->sink) {
		/* Before deploying: what the service will want must be at hand. */
		rc = o->sink->prepare ? o->sink->prepare(o->sink->ud) : TFA_OK;
		if (rc == TFA_OK &&
		    (o->sink->idempotency_key == NULL ||
		     tfa_idempotency_key_check(o->sink->idempotency_key,
					       strlen(o->sink->idempotency_key)) != TFA_OK))
			rc =
			    tfa_error_set(TFA_EUSAGE, "the service's idempotency key is missing or "
						      "not one");
		if (rc == TFA_OK)
			snprintf(r->idempotency_key, sizeof(r->idempotency_key), "%s",
				 o->sink->idempotency_key);
		memset(&info, 0, sizeof(info));
		goto preflight_done;
	}
	/* Before deploying: the key and the store must be usable, or nothing runs. */
	rc = tfa_signer_open(&s, o->key);
	if (rc == TFA_OK) {
		snprintf(r->key_fpr, sizeof(r->key_fpr), "%s", tfa_signer_fingerprint(s));
		rc = tfa_store_open_seq(&st, o->store, o->sequencer);
	}
	if (rc == TFA_OK)
		rc = tfa_chain_info_read(&info, st);
	if (rc == TFA_OK) {
		snprintf(r->chain_id, sizeof(r->chain_id), "%s", info.chain_id);
		rc = tfa_chain_head(st, &info, &head, head_hash, r->head_key);
	}
	if (rc == TFA_OK && strcmp(r->head_key, r->key_fpr) != 0) {
		r->outcome = TFA_WF_WRONG_KEY;
		r->exit_status = 1;
		goto done;
	}
	if (rc == TFA_OK && o->rollback_to)
		rc = tfa_chain_record_hash(rollback_hash, st, s, o->rollback_to);
	if (rc == TFA_OK && o->idempotency_key) {
		/* A retry of a deployment already recorded is not deployed again. */
		uint64_t found = 0;
		if (tfa_idempotency_key_check(o->idempotency_key, strlen(o->idempotency_key)) !=
		    TFA_OK)
			rc = tfa_error_set(TFA_EUSAGE,
					   "the idempotency key is 16 to 64 of [A-Za-z0-9._-]");
		else
			rc = tfa_chain_find_idempotency_key(&found, st, o->idempotency_key,
							    (int64_t)time(NULL) -
								TFA_CHAIN_IDEMPOTENCY_WINDOW_AGE,
							    TFA_CHAIN_IDEMPOTENCY_WINDOW);
		snprintf(r->idempotency_key, sizeof(r->idempotency_key), "%s", o->idempotency_key);
		if (rc == TFA_OK && found) {
			r->outcome = TFA_WF_RECORDED;
			r->replayed = true;
			r->seq = found;
			r->exit_status = 0;
			goto done;
		}
	} else if (rc == TFA_OK) {
		rc = tfa_idempotency_key_new(r->idempotency_key);
	}
preflight_done:
	if (rc != TFA_OK)
		goto refused;
	scrub_secret_env();
	if (ta.plan) {
		struct stat sb;
		in_dir(plan_path, sizeof(plan_path), ta.chdir, ta.plan);
		if (stat(plan_path, &sb) != 0 || !S_ISREG(sb.st_mode))
			ta.plan =
			    NULL; /* a configuration directory (older Terraform), not a plan */
	}
	rs.argv = o->argv;
	rs.drift = o->drift;
	rs.before = &before;
	if (ta.plan) {
		TFA_GUARD(dup_str(&r->plan, ta.plan));
		if (show_plan(&plan, r->program, &ta, ta.plan) != 0) {
			r->outcome = TFA_WF_PLAN_UNREADABLE;
			goto done;
		}
		/* A plan that cannot be summarised is refused before anything is deployed. */
		rc = check_plan(o, r->event, &plan);
		if (rc != TFA_OK)
			goto refused;
		rs.plan_source = "saved-plan";
	} else if (o->drift ||
		   (!o->no_plan_first && !ta.refresh_only &&
		    (strcmp(ta.subcmd, "apply") == 0 || strcmp(ta.subcmd, "destroy") == 0))) {
		/* The plan the wrapper makes: private, and removed on every path below. */
		if (o->drift && ta.out) {
			rs.planfile = ta.out;
		} else {
			if (make_plan_file(tmp_plan, sizeof(tmp_plan)) != 0) {
				rc = tfa_error_set(TFA_EIO,
						   "cannot create a temporary plan file in %s: %s",
						   getenv("TMPDIR") && getenv("TMPDIR")[0] == '/'
						       ? getenv("TMPDIR")
						       : "/tmp",
						   strerror(errno));
				tmp_plan[0] = '\0';
				goto refused;
			}
			snprintf(out_opt, sizeof(out_opt), "-out=%s", tmp_plan);
			rs.planfile = tmp_plan;
		}
		TFA_GUARD(dup_str(&r->plan, rs.planfile));
		if (o->drift) {
			for (int i = 0; i < o->argc; i++)
				if (av_add(&run_av, o->argv[i]) != 0)
					TFA_BAIL(TFA_EINTERNAL, "out of memory");
			if (tmp_plan[0] && av_add(&run_av, out_opt) != 0)
				TFA_BAIL(TFA_EINTERNAL, "out of memory");
		} else {
			if (split_for_plan_first(&plan_av, &run_av, &ta, o->argc, o->argv, out_opt,
						 tmp_plan) != 0)
				TFA_BAIL(TFA_EINTERNAL, "out of memory");
			rs.plan_argv = plan_av.v;
			rs.plan_source = "plan-first";
		}
		rs.argv = run_av.v;
	} else {
		rs.plan_source = "none";
	}
	/* What the plan is made against, and what reconcile matches the write to. */
	if (!o->drift)
		read_state(&before, r->program, &ta, false);
	TFA_GUARD(run_and_record(r, o, &ta, st, s, &info, rollback_hash, &plan, &rs));
	goto done;
refused:
	keep_error(&r->error, rc);
	r->outcome = TFA_WF_REFUSED;
	r->exit_status = tfa_err_exit_status(rc);
done:
	rc = TFA_OK;
	*out = r;
	r = NULL;
out:
	if (tmp_plan[0])
		unlink(tmp_plan);
	free(plan_av.v);
	free(run_av.v);
	tfa_workflow_result_free(r);
	tfa_buf_wipe_free(&plan);
	tfa_buf_wipe_free(&before);
	tfa_store_free(st);
	tfa_signer_free(s);
	return rc;
}

/* Formats one line and hands it over; a line too long for memory is cut. */
static void say(void (*line)(void *ud, const char *text), void *ud, const char *fmt, ...)
    TFA_PRINTF(3, 4);
static void say(void (*line)(void *ud, const char *text), void *ud, const char *fmt, ...)
{
	char small[1024], *big = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(small) && (big = malloc((size_t)n + 1)) != NULL) {
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	line(ud, big ? big : small);
	free(big);
}

/* "error: <message> (<detail>)", escaped for a terminal, as the CLI reports a failure. */
static void say_error(void (*line)(void *ud, const char *text), void *ud, const tfa_error *e)
{
	char m[16384], d[16384];

	if (e->detail[0] && strstr(e->message, e->detail) == NULL)
		say(line, ud, "tfattest: error: %s (%s)",
		    tfa_escape(m, sizeof(m), e->message, TFA_ESCAPE_TERM),
		    tfa_escape(d, sizeof(d), e->detail, TFA_ESCAPE_TERM));
	else
		say(line, ud, "tfattest: error: %s",
		    e->message[0] ? tfa_escape(m, sizeof(m), e->message, TFA_ESCAPE_TERM)
				  : tfa_err_name(e->code));
}

void tfa_workflow_report(const tfa_workflow_result *r, void (*line)(void *ud, const char *text),
			 void *ud)
{
	const char *bin;

	if (r == NULL || line == NULL)
		return;
	bin = r->program ? r->program : "";
	if (r->state_dropped)
		say(line, ud, "tfattest: warning: state not recorded: %s", r->state_error.message);
	switch (r->outcome) {
	case TFA_WF_NOT_FOUND:
		say(line, ud,
		    "tfattest: error: %s: command not found; nothing was deployed or recorded",
		    bin);
		break;
	case TFA_WF_WRONG_KEY:
		say(line, ud, "tfattest: error: key %s is not the current key of chain %s (%s)",
		    r->key_fpr, r->chain_id, r->head_key);
		say(line, ud, "tfattest: %s was not run", bin);
		break;
	case TFA_WF_REFUSED:
		say_error(line, ud, &r->error);
		say(line, ud, "tfattest: %s was not run: nothing was deployed, recorded or spooled",
		    bin);
		break;
	case TFA_WF_PLAN_UNREADABLE:
		say(line, ud, "tfattest: error: `%s show -json %s` failed; %s was not run", bin,
		    r->plan ? r->plan : "", bin);
		break;
	case TFA_WF_PLAN_FAILED:
		say(line, ud,
		    "tfattest: error: `%s plan` failed (exit %d); nothing was applied or recorded",
		    bin, r->tf_exit);
		break;
	case TFA_WF_SIGNALS_FAILED:
		say(line, ud, "tfattest: error: cannot install signal handlers");
		break;
	case TFA_WF_START_FAILED:
		say(line, ud,
		    "tfattest: error: cannot run %s: %s; nothing was deployed or recorded", bin,
		    strerror(r->start_errno));
		break;
	case TFA_WF_RECORDED: {
		/* A drift check's plan exits 2 when it found drift: the check succeeded. */
		bool drift = r->event && strcmp(r->event, "drift-check") == 0;
		bool ok = r->tf_exit == 0 || (drift && r->tf_exit == 2);

		if (r->replayed) {
			say(line, ud,
			    "tfattest: already recorded as seq %llu in %s (idempotency key %s): "
			    "not run again, nothing appended",
			    (unsigned long long)r->seq, r->store ? r->store : "",
			    r->idempotency_key);
			break;
		}

		say(line, ud,
		    "tfattest: recorded seq %llu (%s, %s, exit %d%s) in %s (idempotency key %s)",
		    (unsigned long long)r->seq, r->event ? r->event : "",
		    ok ? "succeeded" : "failed", r->tf_exit,
		    drift && r->tf_exit == 2   ? ": drift"
		    : drift && r->tf_exit == 0 ? ": no drift"
					       : "",
		    r->store ? r->store : "", r->idempotency_key);
		break;
	}
	case TFA_WF_UNCAPTURED:
		say_error(line, ud, &r->error);
		say(line, ud,
		    "tfattest: error: %s ran (exit %d) but the deployment is NOT attested: "
		    "its capture could not be made",
		    bin, r->tf_exit);
		break;
	case TFA_WF_SPOOLED:
	case TFA_WF_UNSPOOLED: {
		const tfa_error *e = &r->error;
		char reason[1024];

		snprintf(reason, sizeof(reason), "%s%s%s%s", e->message, e->detail[0] ? " (" : "",
			 e->detail, e->detail[0] ? ")" : "");
		say(line, ud,
		    "tfattest: error: %s ran (exit %d) but the deployment is NOT attested: %s", bin,
		    r->tf_exit, reason);
		/* A store that is gone may be back later (a mount, a network): what to check,
		 * and the flush, never a new chain, which would take the spool into another
		 * history. */
		if (r->outcome == TFA_WF_SPOOLED && r->flush_hint)
			say(line, ud,
			    "tfattest: its capture was spooled to %s; append it with `%s`",
			    r->spool_path ? r->spool_path : "", r->flush_hint);
		else if (r->outcome == TFA_WF_SPOOLED)
			say(line, ud,
			    "tfattest: its capture was spooled to %s; once the cause is fixed (a "
			    "store that is gone: check that %s is mounted and reachable), append "
			    "it "
			    "with `tfattest record --flush-spool --store %s --key K`",
			    r->spool_path ? r->spool_path : "", r->store ? r->store : "the store",
			    r->store ? r->store : "S");
		else
			say(line, ud, "tfattest: error: and its capture could not be spooled: %s",
			    r->spool_error.message);
		break;
	}
	}
}

tfa_err tfa_workflow_flush_spool(tfa_workflow_flush_result **out, const tfa_workflow_opts *o,
				 void (*line)(void *ud, const char *text), void *ud)
{
	tfa_err rc = TFA_OK;
	tfa_workflow_flush_result *r = NULL;
	tfa_store *st = NULL;
	tfa_signer *s = NULL;

	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(o);
	r = calloc(1, sizeof(*r));
	TFA_ENSURE(r != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(tfa_spool_dir(&r->spool_dir));
	TFA_GUARD(tfa_signer_open(&s, o->key));
	TFA_GUARD(tfa_store_open_seq(&st, o->store, o->sequencer));
	TFA_GUARD(tfa_spool_flush(&r->counts, r->spool_dir, st, s, o->alg, line, ud));
	*out = r;
	r = NULL;
out:
	tfa_workflow_flush_result_free(r);
	tfa_store_free(st);
	tfa_signer_free(s);
	return rc;
}

void tfa_workflow_flush_report(const tfa_workflow_flush_result *r,
			       void (*line)(void *ud, const char *text), void *ud)
{
	if (r == NULL || line == NULL)
		return;
	say(line, ud, "spool %s: %u appended, %u already recorded, %u for other chains left",
	    r->spool_dir, r->counts.appended, r->counts.already, r->counts.other);
}

void tfa_workflow_flush_result_free(tfa_workflow_flush_result *r)
{
	if (r == NULL)
		return;
	free(r->spool_dir);
	free(r);
}
