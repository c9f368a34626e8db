#!/usr/bin/env bash
# The shell the CI integration runs, run here: the steps of action.yml and the jobs' scripts
# of templates/tfattest.yml, taken from the YAML as they are, with the inputs a workflow
# would give (as the environment GitHub and GitLab set for them) and the Terraform stand-in.
#   - through the service (`tfattest serve` on loopback TLS, an ID token from the test
#     issuer in TFATTEST_OIDC_TOKEN as GitLab's id_tokens set it): recorded with the
#     token's identity, the seq and idempotency key as outputs;
#   - with a key and a store on the runner: the seq and the record's hash as outputs, and
#     the export, verified and reported;
#   - a failed Terraform apply is recorded and fails the step with Terraform's code; a
#     service that refuses fails it with no seq.
. "$(dirname "$0")/serve_lib.sh"
cd "$W" || exit 2
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN
unset TFATTEST_OIDC_TOKEN TFATTEST_ID_TOKEN TFATTEST_STORE TFATTEST_KEY TFATTEST_SEQUENCER TFATTEST_CHAIN
export TFATTEST_SPOOL=$W/spool TFATTEST_SERVICE_RETRY_BASE_S=0 TFATTEST_SERVICE_MAX_ATTEMPTS=1

# The runner's PATH: tfattest and terraform (the stand-in).
mkdir bin
ln -s "$T" bin/tfattest
ln -s "$SRC/tests/integration/standin/terraform" bin/terraform
export PATH=$W/bin:$PATH

# The scripts, from the YAML: action-ID.sh for the action's steps, gitlab-NAME.sh for the
# component's jobs (NAME: plan, apply).
"$PY" - "$SRC" << 'PY' || { fail "cannot take the scripts from the YAML"; finish; exit 1; }
import re, sys, yaml
src = sys.argv[1]
action = yaml.safe_load(open(src + "/action.yml"))
for step in action["runs"]["steps"]:
    if "id" in step and "run" in step:
        open("action-%s.sh" % step["id"], "w").write(step["run"])
jobs = list(yaml.safe_load_all(open(src + "/templates/tfattest.yml")))[1]
for name, job in jobs.items():
    if name.endswith("-plan") or name.endswith("-apply"):
        # What GitLab interpolates into a script, the environment gives here: $INPUT_NAME.
        script = re.sub(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]",
                        lambda m: "${INPUT_" + m.group(1).upper().replace("-", "_") + "}",
                        "\n".join(job["script"]))
        open("gitlab-%s.sh" % name.rsplit("-", 1)[1], "w").write(script)
PY

new_ec_key k.pem
K=file:$W/k.pem
"$T" pubkey --key "$K" > pub.out || exit 2
head -n -1 pub.out > pub.pem
FPR=$(tail -1 pub.out)
"$T" init --store s --chain prod --key "$K" > /dev/null || exit 2
make_tls tls
make_issuer iss
serve_start srv --listen 127.0.0.1:0 --store s --key "$K" --policy iss/policy.json \
	--tls-cert tls/tls.crt --tls-key tls/tls.key
URL="https://$ADDR/v1/records"
token iss repo:acme/infra:ref:refs/heads/main repository=acme/infra > tok
token iss repo:evil/infra:ref:refs/heads/main > evil-tok
mkdir tf

# action STEP VAR=VALUE...: runs the action's step as GitHub would: every input of the
# step's env set (empty unless given), GITHUB_OUTPUT a fresh file, under bash -e.
action() {
	local step=$1 v
	shift
	local envs=(RUNNER_TEMP="$W" GITHUB_RUN_ID=7 GITHUB_OUTPUT="$W/out")
	for v in COMMAND INSTALL PACKAGES TERRAFORM WORKDIR TERRAFORM_ARGS PLAN_FILE STORE SEQUENCER KEY \
		SERVICE SERVICE_AUDIENCE SERVICE_AUTH SERVICE_CA CHAIN PUBLIC_KEY FINGERPRINT IDEMPOTENCY_KEY \
		EXPORT_PATH SINCE MANIFEST_KEY REPORT; do
		envs+=("TFA_IN_$v=")
	done
	: > "$W/out"
	env "${envs[@]}" TFA_IN_TERRAFORM=terraform TFA_IN_WORKDIR=tf "$@" \
		bash --noprofile --norc -e -o pipefail "action-$step.sh"
}
output() { sed -n "s/^$1=//p" "$W/out"; }
SVC=(TFA_IN_SERVICE="$URL" TFA_IN_SERVICE_AUDIENCE=tfattest TFA_IN_SERVICE_CA="$W/tls/ca.crt"
	TFA_IN_CHAIN=prod TFA_IN_PUBLIC_KEY="$W/pub.pem" TFA_IN_FINGERPRINT="$FPR")

# GitHub: plan, then apply through the service.
expect_exit 0 "action: plan" action plan TFA_IN_TERRAFORM_ARGS=-input=false TFA_IN_PLAN_FILE=tfplan.bin
check "action: the plan is written and named" eval '[ -s tf/tfplan.bin ] && [ "$(output plan-file)" = tfplan.bin ]'
expect_exit 0 "action: apply through the service" action apply "${SVC[@]}" \
	TFA_IN_TERRAFORM_ARGS="-input=false tfplan.bin" TFATTEST_OIDC_TOKEN="$(cat tok)"
expect_output 'recorded seq 1 \(apply, succeeded, exit 0\) in https://' "action: recorded by the service"
check "action: seq output 1" [ "$(output seq)" = 1 ]
chain_hash() { "$T" log --store "$1" --key "$K" --json 2> /dev/null | sed -n "s/^{\"seq\":$2,.*\"hash\":\"\(sha256:[0-9a-f]*\)\".*/\1/p"; }
H1=$(chain_hash s 1)
check "action: hash output is the chain's hash of seq 1" [ "$(output hash)" = "${H1:-no chain hash}" ]
check "action: the idempotency key output" grep -qE '^idempotency-key=[0-9a-f]{32}$' out
check "action: the service appended it" [ "$(head_seq s)" = 1 ]
expect_exit 2 "action: a subject the service refuses fails the step" action apply "${SVC[@]}" \
	TFA_IN_TERRAFORM_ARGS="-input=false tfplan.bin" TFATTEST_OIDC_TOKEN="$(cat evil-tok)"
check "action: no seq for a refused record" [ -z "$(output seq)" ]
check "action: nothing appended" [ "$(head_seq s)" = 1 ]
rm -rf spool

# GitLab: the component's jobs through the service, the token as id_tokens sets it.
gitlab() {
	local job=$1
	shift
	(cd "$W" && env TFA_TERRAFORM=terraform TFA_WORKDIR=tf TFA_PLAN_ARGS=-input=false \
		TFA_APPLY_ARGS=-input=false TFA_STORE= TFA_SEQUENCER= TFA_KEY= TFA_SERVICE= \
		TFA_SERVICE_AUTH= TFA_SERVICE_CA= TFA_CHAIN= TFA_PUBLIC_KEY= TFA_FINGERPRINT= INPUT_EXPORT=false \
		TFA_EXPORT_PATH=tfattest-bundle TFA_SINCE= TFA_MANIFEST_KEY= "$@" \
		bash --noprofile --norc -e -o pipefail "gitlab-$job.sh")
}
GSVC=(TFA_SERVICE="$URL" TFA_SERVICE_AUTH=oidc TFA_SERVICE_CA="$W/tls/ca.crt" TFA_CHAIN=prod TFA_PUBLIC_KEY="$W/pub.pem"
	TFA_FINGERPRINT="$FPR")
rm -f tf/tfplan.bin
expect_exit 0 "component: plan job" gitlab plan
check "component: the plan is written" [ -s tf/tfplan.bin ]
expect_exit 0 "component: apply job through the service" gitlab apply "${GSVC[@]}" \
	TFATTEST_OIDC_TOKEN="$(cat tok)"
check "component: dotenv TFATTEST_SEQ=2" grep -qx 'TFATTEST_SEQ=2' tfattest.env
H2=$(chain_hash s 2)
check "component: dotenv TFATTEST_HASH, the chain's hash of seq 2" grep -qx "TFATTEST_HASH=${H2:-no chain hash}" tfattest.env
check "component: dotenv idempotency key" grep -qE '^TFATTEST_IDEMPOTENCY_KEY=[0-9a-f]{32}$' tfattest.env
check "component: the service appended it" [ "$(head_seq s)" = 2 ]
expect_exit 1 "component: a failed terraform apply fails the job with its code" gitlab apply "${GSVC[@]}" \
	STANDIN_MODE=fail TFATTEST_OIDC_TOKEN="$(cat tok)"
check "component: the failed apply is recorded (seq 3)" grep -qx 'TFATTEST_SEQ=3' tfattest.env
check "component: the service appended it" [ "$(head_seq s)" = 3 ]

serve_stop || fail "the service did not exit cleanly"

# Who recorded: the token's verified identity, in every record the service made.
expect_exit 0 "export of the service's chain" "$T" export --store s --key "$K" --out svc-bundle
check "the records carry the token's identity" "$PY" - svc-bundle << 'PYEOF'
import json, sys
arts = [json.load(open("%s/artifacts/%012d.json" % (sys.argv[1], n))) for n in (1, 2, 3)]
sys.exit(0 if all(a["identity"]["subject"] == "repo:acme/infra:ref:refs/heads/main"
                  and a["identity"]["verified_by"] == "serve" for a in arts)
         and [a["event"]["status"] for a in arts] == ["succeeded", "succeeded", "failed"] else 1)
PYEOF

# A key and a store on the runner: the hash output, the export, verify and report.
"$T" init --store local --chain dev --key "$K" > /dev/null || exit 2
expect_exit 0 "action: apply with a key" action apply TFA_IN_STORE="$W/local" TFA_IN_KEY="$K" \
	TFA_IN_TERRAFORM_ARGS="-input=false tfplan.bin"
HASH=$(chain_hash local 1)
check "action: seq output 1" [ "$(output seq)" = 1 ]
check "action: hash output is the record's hash" eval '[ -n "$HASH" ] && [ "$(output hash)" = "$HASH" ]'
expect_exit 1 "action: a failed terraform apply fails the step with its code" action apply \
	TFA_IN_STORE="$W/local" TFA_IN_KEY="$K" TFA_IN_TERRAFORM_ARGS="-input=false tfplan.bin" STANDIN_MODE=fail
check "action: the failed apply is recorded (seq 2)" [ "$(output seq)" = 2 ]
expect_exit 0 "action: export" action export TFA_IN_STORE="$W/local" TFA_IN_KEY="$K" \
	TFA_IN_EXPORT_PATH=bundle.tar.gz TFA_IN_FINGERPRINT="$FPR" TFA_IN_REPORT=report.html
check "action: bundle and report outputs" eval '[ "$(output bundle)" = bundle.tar.gz ] && [ "$(output report)" = report.html ]'
expect_exit 0 "action: the exported archive verifies pinned" "$T" verify bundle.tar.gz --expect-key-fingerprint "$FPR"
check "action: the report says verified" grep -q 'id="result">VERIFIED: every layer passed' report.html
expect_exit 0 "component: apply job with a key, exporting" gitlab apply TFA_STORE="$W/local" TFA_KEY="$K" \
	TFA_FINGERPRINT="$FPR" INPUT_EXPORT=true TFA_EXPORT_PATH=gl-bundle
check "component: dotenv seq 3 and the bundle" eval "grep -qx TFATTEST_SEQ=3 tfattest.env && grep -qx TFATTEST_BUNDLE=gl-bundle tfattest.env"
H3=$(chain_hash local 3)
check "component: dotenv TFATTEST_HASH, the chain's hash of seq 3" grep -qx "TFATTEST_HASH=${H3:-no chain hash}" tfattest.env
expect_exit 0 "component: the exported bundle verifies pinned" "$T" verify gl-bundle --expect-key-fingerprint "$FPR"
check "component: the report is written" [ -s tfattest-report.html ]
finish
