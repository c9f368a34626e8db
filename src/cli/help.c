#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "cli.h"
#include "help.h"
#include "tfattest/features.h"

/* One command: its usage after "tfattest NAME", a one-line summary, and more. */
typedef struct cmd_doc {
	const char *name;
	const char *usage;
	const char *summary;
	const char *text; /* lines of more explanation, or NULL */
} cmd_doc;

static const cmd_doc commands[] = {
#if !TFATTEST_VERIFIER_ONLY
    {"init", "--store S [--sequencer Q] --chain NAME --key K",
     "create a chain in a store and pin its first key", NULL},
    {"record",
     "--store S [--sequencer Q] --key K --plan PLAN.json [--state F] [options]\n"
     "       tfattest record --flush-spool --store S [--sequencer Q] --key K\n"
     "       tfattest record --service URL --chain ID --expect-key-fingerprint FPR "
     "--public-key PEM [options] --plan PLAN.json\n"
     "       tfattest record --flush-spool --service URL --chain ID --expect-key-fingerprint FPR "
     "--public-key PEM",
     "append one signed record of a deployment, or the spooled ones",
     "PLAN.json is `terraform show -json PLAN` output; no attribute value from it is recorded."},
    {"apply",
     "[--store S] [--sequencer Q] [--key K] [options] -- terraform|tofu [-chdir=DIR] apply|destroy "
     "[ARGS...]\n"
     "       tfattest apply [options] -- terraform|tofu [-chdir=DIR] import|state rm|state "
     "mv|state "
     "push [ARGS...]\n"
     "       tfattest apply --service URL --chain ID --expect-key-fingerprint FPR --public-key PEM "
     "[options] -- terraform|tofu [-chdir=DIR] apply|destroy [ARGS...]",
     "run a Terraform deployment or state write and record what it did",
     "Everything after -- is the Terraform command, run as given. Its outcome is recorded\n"
     "whether it succeeds or fails, with the state before and after; an apply without a saved\n"
     "plan is planned first (terraform plan -out) and exactly that plan is applied. When the\n"
     "store cannot be reached the record is spooled and appended by `tfattest record\n"
     "--flush-spool`. With --service the record is made by the attestation service, and\n"
     "the runner needs no key and no store (docs/SERVICE.md)."},
    {"drift",
     "[--store S] [--sequencer Q] [--key K] [--algorithm ALG] -- terraform|tofu [-chdir=DIR] plan "
     "-refresh-only -detailed-exitcode [ARGS...]",
     "run a refresh-only plan and record a drift check: drifted or not, and where",
     "The record lists the drifted resource addresses (the plan's resource_drift) and changed\n"
     "root outputs (output.NAME), never values.\n"
     "It exits with Terraform's code: 0 no drift, 2 drift (with -detailed-exitcode)."},
    {"log",
     "--store S [--sequencer Q] (--key K | --public-key PEM) [--since T] [--until T] [--json]",
     "list the chain's records, each signature checked", NULL},
    {"show", "--store S [--sequencer Q] (--key K | --public-key PEM) SEQ [--json]",
     "print one record, its signature checked", NULL},
    {"diff", "--store S [--sequencer Q] (--key K | --public-key PEM) SEQ1 SEQ2",
     "compare the Terraform facts of two records", NULL},
    {"reconcile",
     "--store S [--sequencer Q] (--key K | --public-key PEM) [--state FILE]... "
     "[--state-dir DIR]...\n"
     "       [--state-s3 s3://BUCKET/KEY[?region=R&endpoint=URL]]... [--json] [--record]\n"
     "       [-- terraform state pull]",
     "match every version of the Terraform state to the chain's records",
     "Each state version (lineage, serial, sha256) is attested when a record's after-state is\n"
     "it, unattested otherwise (a write that bypassed the pipeline), reported with its serial,\n"
     "time and the records around it. Exit 0 when every version is accounted for, else 1.\n"
     "It sees state writes, not changes that never touch the state (docs/WORKFLOW.md)."},
    {"export",
     "--store S [--sequencer Q] (--key K | --manifest-key K2 [--key K | --public-key PEM] "
     "[--expect-key-fingerprint FPR|FILE]) (--out DIR | --archive FILE) [--from N] [--to N] "
     "[--since T] [--until T]",
     "write a signed bundle of the chain for an auditor",
     "With --key K the manifest is signed by the chain's current key. With --manifest-key K2\n"
     "it is signed by K2, the exporter's own key, which must be no key of the chain: for an\n"
     "auditor who may read the chain but not sign for it. --key K then only names the\n"
     "chain's current key (a KMS key is asked for its public key, never to sign). The\n"
     "bundle says which kind of manifest it holds; `verify` reports it. ^C or SIGTERM\n"
     "stops it at the next record or file, removing what it staged (exit 130 or 143)."},
    {"checkpoint", "--store S [--sequencer Q] --key K [--out FILE] [--tsa URL] [--algorithm ALG]",
     "sign the chain's head (timestamped with --tsa) and store it", NULL},
    {"rotate",
     "--store S [--sequencer Q] --key OLD --new-key NEW [--algorithm ALG] "
     "[--new-algorithm ALG]",
     "hand the chain to a new key (a rotation record signed by the old one)", NULL},
    {"pubkey", "--key K", "print a key's public key (PEM) and fingerprint", NULL},
    {"serve",
     "--listen HOST:PORT --store S [--sequencer Q] --key K --policy FILE\n"
     "       --tls-cert F --tls-key F [--client-ca F] [options]",
     "run the attestation service over HTTPS: record for CI jobs the policy allows",
     "Callers authenticate with an OIDC ID token (Authorization: Bearer); the key and the\n"
     "store stay with the service. SIGTERM or SIGINT finishes the requests in progress and\n"
     "exits 0. docs/SERVICE.md describes the endpoints, the policy and the access log."},
    {"lambda", "(inside AWS Lambda; no options)",
     "serve record requests as an AWS Lambda custom runtime (the attestation service)",
     "Configured by AWS_LAMBDA_RUNTIME_API, TFATTEST_KEY, TFATTEST_STORE, TFATTEST_SEQUENCER\n"
     "and TFATTEST_POLICY (a file path, or the policy's JSON); the caller is the IAM principal\n"
     "Lambda verified for a Function URL with AWS_IAM auth. docs/LAMBDA.md."},
#ifdef TFATTEST_CLI_PKCS11
    {"pkcs11 list", "[--module PATH] [--token LABEL] [--pin-source FILE]",
     "list PKCS#11 tokens and their keys, each with a pkcs11: URI for --key",
     "Without a PIN (--pin-source or TFATTEST_PKCS11_PIN) only public keys are listed."},
#endif
#endif
    {"verify",
     "BUNDLE [--expect-key-fingerprint FPR|FILE] [--checkpoint FILE]... [--tsa-ca FILE] "
     "[--require-genesis] [--require-chain-manifest] [--threads N] [--json]",
     "verify a bundle offline, layer by layer",
#if TFATTEST_WITH_ARCHIVE
     "BUNDLE is a bundle directory or a .tar.gz/.zip bundle archive.\n"
#else
     "BUNDLE is a bundle directory (this build reads no archives: extract one first).\n"
#endif
     "Without --expect-key-fingerprint the key is taken from the bundle itself, which proves\n"
     "only that the bundle is consistent: pin the chain's key to prove who signed it."},
    {"report",
     "BUNDLE --html FILE [--expect-key-fingerprint FPR|FILE] [--checkpoint FILE]... "
     "[--tsa-ca FILE] [--require-genesis] [--require-chain-manifest]",
     "verify a bundle and write a self-contained HTML report",
     "Verifies as `verify` does, with the same trust inputs, and writes one page with no\n"
     "script and no network reference: the verdict, whether the bundle reaches a trusted\n"
     "checkpoint (complete) or not, a summary, a chart of deployments over time, the keys\n"
     "and rotations, a per-resource index, the timeline and every record. Exit status as\n"
     "`verify`."},
    {"canon", "[FILE]", "print the RFC 8785 canonical form of a JSON document",
     "Reads FILE, or standard input when FILE is absent or -."},
};

/* One option: for one command, or (cmd NULL) for every command that takes it. */
typedef struct opt_doc {
	const char *cmd;
	const char *name;
	const char *arg; /* NULL: takes no argument */
	const char *help;
} opt_doc;

static const opt_doc options[] = {
    /* The common options (opts.c). */
    {NULL, "store", "S",
     "the store: a directory, or s3://BUCKET/PREFIX?region=R (else TFATTEST_STORE)"},
    {NULL, "sequencer", "Q",
     "the sequencer an s3:// store needs: dynamodb://TABLE?region=R (else TFATTEST_SEQUENCER)"},
    {NULL, "key", "K",
     "the chain's signing key: pkcs11:URI, awskms:///ARN or file:PATH (else TFATTEST_KEY)"},
    {"rotate", "key", "OLD", "the chain's current key (else TFATTEST_KEY)"},
    {NULL, "public-key", "PEM", "check the records with this public key (a PEM file), not --key"},
    {NULL, "algorithm", "ALG",
     "RSASSA_PSS_SHA_256, RSASSA_PKCS1_V1_5_SHA_256 or ECDSA_SHA_256 (default: the key's)"},
    {NULL, "json", NULL, "print JSON instead of text"},
    {"show", "json", NULL,
     "print the record itself: the canonical JSON whose signature was checked"},
    {NULL, "expect-key-fingerprint", "FPR|FILE",
     "the chain's first key must have this fingerprint (sha256:<hex>, or a file holding it)"},
    /* init */
    {"init", "chain", "NAME", "the chain id: 1 to 64 of A-Z a-z 0-9 . _ -"},
    /* record, apply */
    {"record", "plan", "PLAN.json", "`terraform show -json PLAN` output: the planned changes"},
    {"record", "state", "F", "the state file after the deployment: its serial, lineage, hash"},
    {NULL, "event", "E",
     "apply (default), destroy, rollback, import, refresh, state-rm, state-mv, state-push, "
     "drift-check or reconcile"},
    {"record", "status", "S", "succeeded (default) or failed"},
    {NULL, "allow-errored-plan", NULL,
     "record a plan Terraform marked errored (refused otherwise)"},
    {"apply", "no-plan-first", NULL,
     "apply without a saved plan as given, unplanned (the record says so)"},
    {"record", "exit-code", "N", "the deployment command's exit code (default 0)"},
    {NULL, "rollback-to", "SEQ", "with --event rollback: the earlier record this reverts to"},
    {"record", "flush-spool", NULL, "append the captures spooled when the store was unreachable"},
    {NULL, "idempotency-key", "K",
     "16 to 64 of A-Z a-z 0-9 . _ -; a retry with the same K finds the first record instead of "
     "appending again (default: drawn for this run, and printed)"},
    /* record and apply through the attestation service (docs/SERVICE.md, "The client") */
    {NULL, "service", "URL",
     "have the attestation service at URL record it (https://HOST:PORT/v1/records, or a Lambda "
     "Function URL): no key or store here"},
    {NULL, "service-ca", "F", "PEM trust anchors for the service's TLS certificate"},
    {NULL, "service-auth", "oidc|aws",
     "a CI ID token as bearer, or SigV4 for a Function URL (default: aws for *.on.aws)"},
    {NULL, "service-audience", "A", "the audience of the ID token asked for (default tfattest)"},
    {NULL, "id-token", "FILE", "the CI ID token the service checks, from a file"},
    {"record", "chain", "ID", "with --service: the chain to record into (else TFATTEST_CHAIN)"},
    {"apply", "chain", "ID", "with --service: the chain to record into (else TFATTEST_CHAIN)"},
    {"record", "expect-key-fingerprint", "FPR|FILE",
     "with --service: the chain key the returned record must be signed by"},
    {"apply", "expect-key-fingerprint", "FPR|FILE",
     "with --service: the chain key the returned record must be signed by"},
    {"record", "public-key", "PEM", "with --service: that key's PEM, to check the signature"},
    {"apply", "public-key", "PEM", "with --service: that key's PEM, to check the signature"},
    /* log, show, diff, export */
    {NULL, "since", "T", "only records made at or after T (YYYY-MM-DDTHH:MM:SSZ)"},
    {NULL, "until", "T", "only records made at or before T (YYYY-MM-DDTHH:MM:SSZ)"},
    {"export", "out", "DIR", "write the bundle into this new directory"},
    {"export", "archive", "FILE",
     "write the bundle as one archive instead: FILE.tar.gz, FILE.tgz or FILE.zip"},
    {"export", "manifest-key", "K2",
     "sign the manifest with this key of the exporter's own, not the chain's (read-only access)"},
    {"export", "key", "K", "the chain's key: signs the manifest, unless --manifest-key is given"},
    {"export", "public-key", "PEM",
     "with --manifest-key: the chain's anchor or current public key (a PEM file), not --key"},
    {"export", "expect-key-fingerprint", "FPR|FILE",
     "with --manifest-key: the store's chain must start from the key with this fingerprint"},
    {"export", "from", "N", "the first record to include (default 1)"},
    {"export", "to", "N", "the last record to include (default: the head)"},
    /* reconcile */
    {"reconcile", "state", "FILE",
     "a state version: terraform.tfstate, its .backup, a snapshot (repeatable)"},
    {"reconcile", "state-dir", "DIR", "every file in DIR not starting with '.' (repeatable)"},
    {"reconcile", "state-s3", "URI",
     "every version of the S3 backend's state object (s3://BUCKET/KEY?region=R), read only"},
    {"reconcile", "record", NULL, "append a signed reconcile record of what was found (--key)"},
    /* checkpoint, rotate */
    {"checkpoint", "out", "FILE", "also write the checkpoint file here, for the auditor"},
    {"checkpoint", "tsa", "URL", "have the checkpoint timestamped by this RFC 3161 authority"},
    {"rotate", "new-key", "NEW", "the key that takes the chain over"},
    {"rotate", "new-algorithm", "ALG", "the new key's algorithm (default: the key's)"},
    /* serve */
    {"serve", "listen", "HOST:PORT", "the address to listen on ([::1]:PORT for IPv6; port 0: any)"},
    {"serve", "policy", "FILE", "the trusted ID-token issuers and who may append what"},
    {"serve", "tls-cert", "F", "the server's certificate chain (PEM); TLS 1.2 and 1.3 only"},
    {"serve", "tls-key", "F", "the server certificate's private key (PEM)"},
    {"serve", "client-ca", "F",
     "require client certificates issued by this CA (PEM); their subject goes in the record"},
    {"serve", "workers", "N", "threads that check tokens, sign and append (default 4)"},
    {"serve", "queue", "N", "requests that may wait for a worker before 503 (default 64)"},
    {"serve", "checkpoint-every", "N",
     "sign a checkpoint after N new records (default 100; 0: off)"},
    {"serve", "checkpoint-interval", "MIN",
     "and every MIN minutes when records came (default 60; 0: off)"},
    {"serve", "access-log", "FILE|-", "append one JSON line per request to FILE, or stdout"},
    {"serve", "insecure-plain-http", NULL, "no TLS: for a loopback address only"},
    {"serve", "request-timeout", "S",
     "seconds a request may take to arrive whole; idle connections close after it (default 15)"},
    {"serve", "max-connections-per-ip", "N", "open connections per client address (default 32)"},
    {"serve", "ready-file", "F", "write HOST:PORT to F once listening"},
    /* pkcs11 list */
    {"pkcs11 list", "module", "PATH", "the PKCS#11 module (else TFATTEST_PKCS11_MODULE)"},
    {"pkcs11 list", "token", "LABEL", "only the token with this label"},
    {"pkcs11 list", "pin-source", "FILE",
     "read the PIN from FILE (never from the command line), to list private keys"},
    /* verify, report */
    {"verify", "require-genesis", NULL, "the bundle must start at the chain's first record"},
    {"verify", "require-chain-manifest", NULL,
     "refuse a manifest signed by the exporter's own key instead of the chain's"},
    {"verify", "threads", "N",
     "check with N threads, 1 to 64, at most 16 of them running (default: the CPUs online)"},
    {"verify", "checkpoint", "FILE",
     "a trusted checkpoint the bundle must reach (repeatable): proves it is complete"},
    {"verify", "tsa-ca", "FILE",
     "the CA certificates (PEM) a checkpoint's timestamp must chain to"},
    {"report", "html", "FILE", "where to write the page (replaced atomically)"},
    {"report", "checkpoint", "FILE",
     "a trusted checkpoint the bundle must reach (repeatable): the page says it is complete"},
    {"report", "tsa-ca", "FILE",
     "the CA certificates (PEM) a checkpoint's timestamp must chain to"},
    {"report", "require-genesis", NULL, "the bundle must start at the chain's first record"},
    {"report", "require-chain-manifest", NULL,
     "refuse a manifest signed by the exporter's own key instead of the chain's"},
    {NULL, "help", NULL, "print this help and exit"},
};

static const cmd_doc *find_cmd(const char *cmd)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, cmd) == 0)
			return &commands[i];
	return NULL;
}

static const opt_doc *find_opt(const char *cmd, const char *name)
{
	const opt_doc *any = NULL;

	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		if (strcmp(options[i].name, name) != 0)
			continue;
		if (options[i].cmd == NULL)
			any = &options[i];
		else if (strcmp(options[i].cmd, cmd) == 0)
			return &options[i];
	}
	return any;
}

int tfa_cli_is_command(const char *cmd)
{
	return find_cmd(cmd) != NULL;
}

void tfa_cli_help_main(FILE *f)
{
	fprintf(f,
		"usage: %s <command> [options]\n"
		"       %s <command> --help     that command's options\n"
		"       %s --version\n\nCommands:\n",
		TFA_CLI_PROGRAM, TFA_CLI_PROGRAM, TFA_CLI_PROGRAM);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nExit status: 0 ok, 1 verification failed or input rejected, "
		   "2 usage or environment error.\n");
}

static void opt_line(FILE *f, const char *name, const char *arg, const char *help)
{
	char lhs[64];

	snprintf(lhs, sizeof(lhs), "--%s%s%s", name, arg ? " " : "", arg ? arg : "");
	if (strlen(lhs) <= 26)
		fprintf(f, "  %-26s %s\n", lhs, help);
	else
		fprintf(f, "  %s\n  %-26s %s\n", lhs, "", help);
}

void tfa_cli_help_command(FILE *f, const char *cmd, const struct option *table)
{
	const cmd_doc *d = find_cmd(cmd);
	const opt_doc *o;

	fprintf(f, "usage: %s %s %s\n\n", TFA_CLI_PROGRAM, cmd, d ? d->usage : "[options]");
	if (d) {
		fprintf(f, "%c%s.\n", d->summary[0] - 'a' + 'A', d->summary + 1);
		if (d->text)
			fprintf(f, "%s\n", d->text);
	}
	fprintf(f, "\nOptions:\n");
	for (size_t i = 0; table && table[i].name; i++) {
		if (strcmp(table[i].name, "help") == 0)
			continue;
		o = find_opt(cmd, table[i].name);
		opt_line(f, table[i].name,
			 o ? o->arg : (table[i].has_arg == no_argument ? NULL : "VALUE"),
			 o ? o->help : "(no description)");
	}
	o = find_opt(cmd, "help");
	opt_line(f, "help", NULL, o->help);
}

/* The edit distance of a and b: insertions, deletions, substitutions and swaps of neighbours. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[32][32];

	if (la >= 32 || lb >= 32)
		return 99;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t best = d[i - 1][j] + 1, v;

			if ((v = d[i][j - 1] + 1) < best)
				best = v;
			if ((v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1])) < best)
				best = v;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    (v = d[i - 2][j - 2] + 1) < best)
				best = v;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *tfa_cli_nearest_command(const char *word)
{
	const char *best = NULL;
	size_t best_d = 3; /* at most two edits away */

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char name[32];
		size_t d;

		/* "pkcs11 list" is reached as "pkcs11" */
		snprintf(name, sizeof(name), "%s", commands[i].name);
		name[strcspn(name, " ")] = '\0';
		d = distance(word, name);
		if (d < best_d) {
			best_d = d;
			best = commands[i].name;
		}
	}
	if (best)
		return best;
	/* A prefix of exactly one command ("rec" for record). */
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (word[0] && strncmp(commands[i].name, word, strlen(word)) == 0) {
			if (best)
				return NULL;
			best = commands[i].name;
		}
	}
	return best;
}
