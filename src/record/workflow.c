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
	const char *chdir;  /* -chdir=DIR, or NULL */
	const char *subcmd; /* apply or destroy */
	const char *plan;   /* a saved plan file, or NULL */
	const char *state;  /* -state-out= or -state=, or NULL */
	int destroy;	    /* destroy, or apply -destroy */
} tf_args;

static int takes_value(const char *opt)
{
	static const char *const v[] = {"var",		"var-file",    "target",    "replace",
					"exclude",	"state",       "state-out", "backup",
					"lock-timeout", "parallelism", NULL};
	for (const char *const *p = v; *p; p++)
		if (strcmp(opt, *p) == 0)
			return 1;
	return 0;
}

static int parse_tf_args(tf_args *a, int argc, char *const *argv)
{
	int i = 1;

	memset(a, 0, sizeof(*a));
	for (; i < argc && argv[i][0] == '-'; i++)
		if (strncmp(argv[i], "-chdir=", 7) == 0)
			a->chdir = argv[i] + 7;
	if (i >= argc)
		return -1;
	a->subcmd = argv[i];
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
			if ((strcmp(key, "state-out") == 0 ||
			     (strcmp(key, "state") == 0 && !a->state)) &&
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

tfa_err tfa_workflow_check_command(bool *destroy, int argc, char *const argv[])
{
	tf_args a;

	if (argv == NULL || argc < 1 || argv[0] == NULL || parse_tf_args(&a, argc, argv) != 0)
		return tfa_error_set(TFA_EUSAGE,
				     "the command must be `%s apply ...` or `%s destroy ...`",
				     argv && argc >= 1 && argv[0] ? argv[0] : "terraform",
				     argv && argc >= 1 && argv[0] ? argv[0] : "terraform");
	if (destroy)
		*destroy = a.destroy;
	return TFA_OK;
}

/* Joins dir and path unless path is absolute. */
static void in_dir(char *out, size_t cap, const char *dir, const char *path)
{
	if (dir == NULL || path[0] == '/')
		snprintf(out, cap, "%s", path);
	else
		snprintf(out, cap, "%s/%s", dir, path);
}

/* Runs argv with stdout into `out`; 0 when it ran and exited 0. */
static int run_capture(tfa_buf *out, char *const argv[])
{
	tfa_spawn_exit how;

	if (tfa_spawn_read(&how, out, argv, 0) != 0)
		return -1;
	return how.code;
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
 * After the preflight: runs Terraform, captures, appends or spools. r has
 * the result so far; st, s and info are open.
 */
static tfa_err run_and_record(tfa_workflow_result *r, const tfa_workflow_opts *o, tf_args *ta,
			      tfa_store *st, tfa_signer *s, const tfa_chain_info *info,
			      const char *rollback_hash, tfa_buf *plan)
{
	tfa_err rc = TFA_OK;
	tfa_event ev = {r->event, NULL, 0};
	tfa_capture *cap = NULL;
	tfa_buf state;
	tfa_spawn_exit how;
	char *dir = NULL;
	int64_t deployed;
	int err;

	tfa_buf_init(&state, JSON_MAX);
	if (o->forward_signals && install_forwarders() != 0) {
		r->outcome = TFA_WF_SIGNALS_FAILED;
		r->exit_status = 2;
		goto out;
	}
	err = tfa_spawn_run(&how, o->argv, o->forward_signals ? &child_pid : NULL);
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
	ev.status = how.code == 0 ? "succeeded" : "failed";
	ev.exit_code = how.code;
	read_state(&state, r->program, ta);
	rc = tfa_capture_new_mem(&cap, &ev, ta->plan ? plan->data : NULL, plan->len,
				 state.len ? state.data : NULL, state.len);
	if (rc != TFA_OK && state.len) {
		/* A state that cannot be read must not cost the record. */
		r->state_dropped = true;
		keep_error(&r->state_error, rc);
		rc = tfa_capture_new_mem(&cap, &ev, ta->plan ? plan->data : NULL, plan->len, NULL,
					 0);
	}
	if (rc == TFA_OK && o->rollback_to)
		rc = tfa_capture_set_rollback(cap, o->rollback_to, rollback_hash);
	if (rc == TFA_OK)
		rc = tfa_capture_set_idempotency_key(cap, r->idempotency_key);
	if (rc != TFA_OK) {
		keep_error(&r->error, rc);
		r->outcome = TFA_WF_UNCAPTURED;
		r->exit_status = how.code ? how.code : 2;
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
		r->exit_status = how.code ? how.code : 2;
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
	r->exit_status = how.code ? how.code : 2;
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
	tfa_capture *cap = NULL;
	tfa_chain_info info;
	tfa_buf plan;
	tf_args ta;
	char rollback_hash[TFA_FPR_STRLEN] = "", head_hash[TFA_FPR_STRLEN];
	char plan_path[PATH_CAP];
	uint64_t head = 0;
	bool destroy = false;

	tfa_buf_init(&plan, JSON_MAX);
	TFA_ENSURE_ARG(out);
	*out = NULL;
	TFA_ENSURE_ARG(o);
	TFA_GUARD(tfa_workflow_check_command(&destroy, o->argc, o->argv));
	TFA_ENSURE(o->rollback_to == 0 || (o->event && strcmp(o->event, "rollback") == 0),
		   TFA_EUSAGE, "a rollback target needs event rollback");
	TFA_ENSURE(o->sink == NULL || (o->sink->record != NULL && o->rollback_to == 0), TFA_EUSAGE,
		   "a rollback target needs the chain's store: not through a service");
	if (parse_tf_args(&ta, o->argc, o->argv) != 0)
		TFA_BAIL(TFA_EINTERNAL, "the command could not be read");
	r = calloc(1, sizeof(*r));
	TFA_ENSURE(r != NULL, TFA_EINTERNAL, "out of memory");
	TFA_GUARD(dup_str(&r->program, o->argv[0]));
	TFA_GUARD(dup_str(&r->store, o->sink ? o->sink->where : o->store));
	if (o->sink)
		TFA_GUARD(dup_str(&r->flush_hint, o->sink->flush_hint));
	TFA_GUARD(dup_str(&r->event, o->event ? o->event : destroy ? "destroy" : "apply"));
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
	if (ta.plan) {
		TFA_GUARD(dup_str(&r->plan, ta.plan));
		if (show_plan(&plan, r->program, &ta) != 0) {
			r->outcome = TFA_WF_PLAN_UNREADABLE;
			goto done;
		}
		/* A plan that cannot be summarised is refused before anything is deployed. */
		rc = tfa_capture_new_mem(&cap, &(tfa_event){r->event, NULL, 0}, plan.data, plan.len,
					 NULL, 0);
		tfa_capture_free(cap);
		cap = NULL;
		if (rc != TFA_OK)
			goto refused;
	}
	TFA_GUARD(run_and_record(r, o, &ta, st, s, &info, rollback_hash, &plan));
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
	tfa_workflow_result_free(r);
	tfa_buf_wipe_free(&plan);
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
		say(line, ud, "tfattest: %s was not run", bin);
		break;
	case TFA_WF_PLAN_UNREADABLE:
		say(line, ud, "tfattest: error: `%s show -json %s` failed; %s was not run", bin,
		    r->plan ? r->plan : "", bin);
		break;
	case TFA_WF_SIGNALS_FAILED:
		say(line, ud, "tfattest: error: cannot install signal handlers");
		break;
	case TFA_WF_START_FAILED:
		say(line, ud,
		    "tfattest: error: cannot run %s: %s; nothing was deployed or recorded", bin,
		    strerror(r->start_errno));
		break;
	case TFA_WF_RECORDED:
		if (r->replayed) {
			say(line, ud,
			    "tfattest: already recorded as seq %llu in %s (idempotency key %s): "
			    "not run again, nothing appended",
			    (unsigned long long)r->seq, r->store ? r->store : "",
			    r->idempotency_key);
			break;
		}
		say(line, ud, "tfattest: recorded seq %llu (%s, %s, exit %d) in %s",
		    (unsigned long long)r->seq, r->event ? r->event : "",
		    r->tf_exit == 0 ? "succeeded" : "failed", r->tf_exit, r->store ? r->store : "");
		break;
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
		if (r->outcome == TFA_WF_SPOOLED)
			say(line, ud,
			    "tfattest: its capture was spooled to %s; append it with `%s`",
			    r->spool_path ? r->spool_path : "",
			    r->flush_hint ? r->flush_hint
					  : "tfattest record --flush-spool --store S --key K");
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
