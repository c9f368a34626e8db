#!/usr/bin/env bash
# tfattest apply: one record per run, for success, failure and a signal;
# nothing recorded when Terraform cannot be found or the preflight fails;
# a record that cannot be made is spooled, and --flush-spool appends it once.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2
TF=$(realpath "$(dirname "$0")/standin/terraform")
export TFATTEST_SPOOL=$W/spool STANDIN_LOG=$W/tf.log
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL

new_ec_key k.pem
new_ec_key other.pem
"$T" init --store s --chain prod --key file:k.pem > /dev/null || exit 2
export TFATTEST_STORE=$W/s TFATTEST_KEY=file:$W/k.pem
mkdir work && cd work || exit 2
echo show-basic-create.json > plan.bin
nrec() { ls "$W/s/records" | wc -l; }
rec() { cat "$W/s/records/$(printf %012d "$1").rec" | head -1; }
check() { # desc, condition...
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}

# Success: output passes through, one record with the plan's hash and the state.
expect_exit 0 "apply succeeds" "$T" apply -- "$TF" apply -auto-approve plan.bin
expect_output '^Apply complete! Resources: 3 added' "terraform's stdout passes through"
expect_output 'recorded seq 1 \(apply, succeeded, exit 0\)' "recorded message"
want=$(sha256sum "$PLANS/show-basic-create.json" | cut -d' ' -f1)
check "one record" [ "$(nrec)" -eq 1 ]
check "plan hash is that of show -json output" grep -q "\"plan_sha256\":\"sha256:$want\"" <(rec 1)
check "state serial and lineage recorded" grep -q '"lineage":"configuredUnchanged","serial":7' <(rec 1)
check "event succeeded" grep -Eq '"event":\{"exit_code":0,"idempotency_key":"[0-9a-f]{32}","status":"succeeded","type":"apply"\}' <(rec 1)
check "show -json ran before apply" bash -c "grep -n '' '$STANDIN_LOG' | tr '\n' ' ' | grep -q '1:show -json plan.bin 2:apply -auto-approve plan.bin'"

# Failure: Terraform's exit code, status failed.
expect_exit 1 "apply that fails exits 1" env STANDIN_MODE=fail "$T" apply -- "$TF" apply plan.bin
expect_output 'simulated failure' "terraform's stderr passes through"
check "failed run recorded" grep -Eq '"event":\{"exit_code":1,"idempotency_key":"[0-9a-f]{32}","status":"failed","type":"apply"\}' <(rec 2)

# destroy is recorded as such; -chdir is honoured for the plan and the state.
mkdir -p ../other && echo show-basic-delete.json > ../other/p.bin && rm -f ../other/terraform.tfstate
expect_exit 0 "destroy with -chdir" "$T" apply -- "$TF" -chdir=../other apply -destroy p.bin
check "destroy event" grep -q '"status":"succeeded","type":"destroy"' <(rec 3)
check "delete action from the plan in -chdir" grep -q '"action":"delete"' <(rec 3)

# Without a saved plan: no plan facts, but the state is recorded.
expect_exit 0 "apply without a saved plan" "$T" apply -- "$TF" apply -auto-approve
check "no plan hash without a saved plan" bash -c "! grep -q plan_sha256 <(head -1 '$W/s/records/000000000004.rec')"
check "state recorded without a saved plan" grep -q '"serial":7' <(rec 4)

# Terraform not found: exit 2, nothing recorded.
n=$(nrec)
expect_exit 2 "terraform not found (path)" "$T" apply -- /nonexistent/terraform apply plan.bin
expect_output 'command not found; nothing was deployed or recorded' "not-found message"
expect_exit 2 "terraform not found (PATH)" env PATH=/nonexistent "$T" apply -- tofu apply plan.bin
check "nothing recorded when terraform is missing" [ "$(nrec)" -eq "$n" ]

# Preflight: a key that is not the chain's key, or a missing rollback target: terraform never runs.
: > "$STANDIN_LOG"
expect_exit 1 "wrong key refused before terraform runs" "$T" apply --key file:$W/other.pem -- "$TF" apply plan.bin
expect_exit 2 "missing rollback target refused" "$T" apply --event rollback --rollback-to 99 -- "$TF" apply plan.bin
expect_output 'has no record 99' "rollback target message"
check "terraform was not run on preflight failure" [ ! -s "$STANDIN_LOG" ]
expect_exit 2 "not an apply command" "$T" apply -- "$TF" plan
expect_exit 2 "no -- separator" "$T" apply "$TF" apply

# Rollback through apply: the target's seq and hash.
expect_exit 0 "rollback apply" "$T" apply --event rollback --rollback-to 1 -- "$TF" apply plan.bin
h1=$(head -1 "$W/s/records/000000000001.rec" | tr -d '\n' | sha256sum | cut -d' ' -f1)
check "rollback_to names seq 1 and its hash" grep -q "\"rollback_to\":{\"hash\":\"sha256:$h1\",\"seq\":1}" <(rec 5)

# A signal: SIGTERM to the wrapper reaches Terraform; the record says failed.
rm -f mark
STANDIN_MODE=slow STANDIN_MARK=$PWD/mark "$T" apply -- "$TF" apply plan.bin > sig.out 2>&1 &
wp=$!
for _ in $(seq 600); do [ -e mark ] && break; sleep 0.1; done  # up to 60 s on a loaded machine
check "terraform started before the signal" [ -e mark ]
kill -TERM $wp
wait $wp
st=$?
check "wrapper exits 128+SIGTERM" [ "$st" -eq 143 ]
check "signalled run recorded as failed" grep -Eq '"event":\{"exit_code":143,"idempotency_key":"[0-9a-f]{32}","status":"failed","type":"apply"\}' <(rec 6)
check "no stand-in left running" bash -c "! pgrep -f 'sleep 30' -P $wp > /dev/null"

# SIGINT sent to the wrapper reaches Terraform once; it stops gracefully and exits 1.
rm -f mark
STANDIN_MODE=graceful STANDIN_MARK=$PWD/mark "$T" apply -- "$TF" apply plan.bin > int.out 2>&1 &
wp=$!
for _ in $(seq 600); do [ -e mark ] && break; sleep 0.1; done  # up to 60 s on a loaded machine
check "terraform started before the signal" [ -e mark ]
kill -INT $wp
wait $wp
st=$?
check "SIGINT: wrapper exits with terraform's 1" [ "$st" -eq 1 ]
check "SIGINT reached terraform" grep -q 'Interrupt received. Gracefully shutting down' int.out
check "interrupted run recorded as failed" grep -Eq '"event":\{"exit_code":1,"idempotency_key":"[0-9a-f]{32}","status":"failed","type":"apply"\}' <(rec 7)

# Store unreachable after the apply: spooled, exit 2, the message says NOT attested.
n=$(nrec)
expect_exit 2 "unreachable store after apply exits 2" env STANDIN_MODE=moveaway STANDIN_STORE=$W/s "$T" apply -- "$TF" apply plan.bin
expect_output 'ran \(exit 0\) but the deployment is NOT attested' "not-attested message"
expect_output 'spooled to .*/spool/' "spool path given"
mv "$W/s.away" "$W/s"
check "nothing appended" [ "$(nrec)" -eq "$n" ]
sp=$(ls "$W"/spool/*.json)
check "one spool file" [ "$(ls "$W"/spool | wc -l)" -eq 1 ]
check "spool file mode 0600" [ "$(stat -c %a $sp)" = 600 ]
check "spool dir mode 0700" [ "$(stat -c %a "$W/spool")" = 700 ]
expect_exit 1 "failed apply with unreachable store keeps terraform's code" env STANDIN_MODE=moveaway STANDIN_STORE=$W/s bash -c "'$T' apply -- '$TF' apply plan.bin; rc=\$?; mv '$W/s.away' '$W/s'; [ \$rc -eq 2 ] && exit 1; exit 9"
check "two spool files" [ "$(ls "$W"/spool | wc -l)" -eq 2 ]
expect_exit 0 "flush-spool" "$T" record --flush-spool
expect_output '2 appended, 0 already recorded' "flush summary"
check "spool emptied" [ -z "$(ls "$W"/spool)" ]
check "flushed records appended" [ "$(nrec)" -eq $((n + 2)) ]
check "spooled record carries event.spool" grep -q '"spool":{"deployed_at":"[0-9TZ:-]*","id":"[0-9a-f]\{32\}","spooled_at":' <(rec $((n + 1)))
expect_exit 0 "flush-spool with an empty spool" "$T" record --flush-spool
expect_output '0 appended' "empty flush"
rm -rf b && expect_exit 0 "export" "$T" export --out b
expect_exit 0 "verify after flush" "$T" verify b
expect_output "^\[INFO\] Record $((n + 1)) was appended from the spool: deployed " "verify names the spooled record"
expect_exit 0 "verify --json" "$T" verify b --json
check "verify --json lists spooled seqs" bash -c "/usr/bin/python3 -c 'import json,sys; d=json.load(open(\"$W/last.out\")); assert [s[\"seq\"] for s in d[\"spooled\"]] == [$((n + 1)), $((n + 2))], d[\"spooled\"]'"
expect_exit 0 "log" "$T" log
expect_output "^ +$((n + 1)) .* spooled \(deployed " "log marks spooled records"

# Flush killed between append and unlink: the next flush does not append it again.
if command -v strace > /dev/null; then
	env STANDIN_MODE=moveaway STANDIN_STORE=$W/s "$T" apply -- "$TF" apply plan.bin > /dev/null 2>&1
	mv "$W/s.away" "$W/s"
	sp=$(ls "$W"/spool/*.json)
	id=$(basename "$sp" .json | sed 's/.*-//')
	n=$(nrec)
	strace -f -qq -o /dev/null -P "$(basename "$sp")" -e trace=unlink,unlinkat -e inject=unlink,unlinkat:signal=KILL \
		"$T" record --flush-spool > /dev/null 2>&1
	check "killed flush appended the record" [ "$(nrec)" -eq $((n + 1)) ]
	check "killed flush left the spool file" [ -e "$sp" ]
	expect_exit 0 "flush again" "$T" record --flush-spool
	expect_output "spooled capture $id is already record $((n + 1))" "flush finds the earlier append"
	expect_output '0 appended, 1 already recorded' "nothing appended twice"
	check "no duplicate record" [ "$(nrec)" -eq $((n + 1)) ]
	check "spool file removed" [ ! -e "$sp" ]
	check "id appears in one record" [ "$(grep -l "$id" "$W"/s/records/*.rec | wc -l)" -eq 1 ]
	rm -rf b && expect_exit 0 "export after killed flush" "$T" export --out b
	expect_exit 0 "verify after killed flush" "$T" verify b
else
	fail "strace is needed (scripts/deps.sh installs it)"
fi

# A spool file for another chain is left alone; a corrupt one stops the flush.
printf '{}' > "$W/spool/00000000000000000001-otherchain-0123456789abcdef0123456789abcdef.json"
expect_exit 0 "flush leaves other chains' captures" "$T" record --flush-spool
expect_output '1 for other chains left' "other chain counted"
printf '{"type":"tfattest.capture"}' > "$W/spool/00000000000000000002-prod-0123456789abcdef0123456789abcdef.json"
chmod 600 "$W/spool/00000000000000000002-prod-0123456789abcdef0123456789abcdef.json"
expect_exit 1 "corrupt spool file is rejected" "$T" record --flush-spool
expect_output 'is invalid' "corrupt spool message"

# Terraform (show and apply, and what they run) inherits no PKCS#11 PIN from tfattest.
rm -f "$W/tf.env"
expect_exit 0 "apply with a PIN in the environment" env TFATTEST_PKCS11_PIN=pin-marker-4711 \
	STANDIN_ENV_OUT="$W/tf.env" "$T" apply -- "$TF" apply plan.bin
check "terraform ran and its environment was captured" grep -q '^STANDIN_ENV_OUT=' "$W/tf.env"
check "no PIN in terraform's environment" bash -c "! grep -q pin-marker-4711 '$W/tf.env'"

# An idempotency key given names a retry: a deployment already recorded is
# neither run nor recorded again; each run without a key draws its own.
n0=$(nrec)
: > "$STANDIN_LOG"
expect_exit 0 "apply with a key" "$T" apply --idempotency-key pipeline-77.deploy -- "$TF" apply -auto-approve plan.bin &&
	expect_output "recorded seq $((n0 + 1)) " "recorded with the key"
check "the record carries the key" grep -q '"idempotency_key":"pipeline-77.deploy"' <(rec $((n0 + 1)))
: > "$STANDIN_LOG"
expect_exit 0 "the same apply retried with the key" env TFATTEST_IDEMPOTENCY_KEY=pipeline-77.deploy \
	"$T" apply -- "$TF" apply -auto-approve plan.bin &&
	expect_output "already recorded as seq $((n0 + 1)) .*idempotency key pipeline-77.deploy.*not run again" "the retry is recognised"
check "terraform did not run for the retry" [ ! -s "$STANDIN_LOG" ]
check "nothing appended for the retry" [ "$(nrec)" -eq $((n0 + 1)) ]
expect_exit 2 "a malformed key is refused" "$T" apply --idempotency-key short -- "$TF" apply -auto-approve plan.bin
check "nothing run for a malformed key" [ ! -s "$STANDIN_LOG" ]
finish
