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
check "show -json ran before apply" bash -c "grep -v '^state pull' '$STANDIN_LOG' | grep -n '' | tr '\n' ' ' | grep -q '1:show -json plan.bin 2:apply -auto-approve plan.bin'"
check "state pulled before and after" bash -c "grep -n '' '$STANDIN_LOG' | tr '\n' ' ' | grep -q '1:show -json plan.bin 2:state pull 3:apply -auto-approve plan.bin 4:state pull'"
check "saved plan: plan_source saved-plan" grep -q '"plan_source":"saved-plan"' <(rec 1)
check "no state before on a first apply" bash -c "! grep -q state_before <(head -1 '$W/s/records/000000000001.rec')"

# Failure: Terraform's exit code, status failed.
expect_exit 1 "apply that fails exits 1" env STANDIN_MODE=fail "$T" apply -- "$TF" apply plan.bin
expect_output 'simulated failure' "terraform's stderr passes through"
check "failed run recorded" grep -Eq '"event":\{"exit_code":1,"idempotency_key":"[0-9a-f]{32}","status":"failed","type":"apply"\}' <(rec 2)
check "state before recorded" grep -q '"state_before":{"lineage":"configuredUnchanged","serial":7,"sha256":"sha256:'"$(sha256sum terraform.tfstate | cut -d' ' -f1)"'"' <(rec 2)

# destroy is recorded as such; -chdir is honoured for the plan and the state.
mkdir -p ../other && echo show-basic-delete.json > ../other/p.bin && rm -f ../other/terraform.tfstate
expect_exit 0 "destroy with -chdir" "$T" apply -- "$TF" -chdir=../other apply -destroy p.bin
check "destroy event" grep -q '"status":"succeeded","type":"destroy"' <(rec 3)
check "delete action from the plan in -chdir" grep -q '"action":"delete"' <(rec 3)

# Without a saved plan: planned first, and exactly that plan applied and recorded.
: > "$STANDIN_LOG"
expect_exit 0 "apply without a saved plan" env STANDIN_PLAN_MODE_OUT=$W/planmode "$T" apply -- "$TF" apply -auto-approve -var x=1 -target=a.b -backup=bk -lock=false
check "plan-first: plan hash of the plan made" grep -q "\"plan_sha256\":\"sha256:$want\"" <(rec 4)
check "plan-first: plan_source" grep -q '"plan_source":"plan-first"' <(rec 4)
check "plan-first: counts recorded" grep -q '"counts":{"create":3,' <(rec 4)
check "state recorded without a saved plan" grep -q '"serial":7' <(rec 4)
tmpplan=$(sed -n 's/^plan -out=\([^ ]*\) .*/\1/p' "$STANDIN_LOG")
check "plan-first: plan shaped by the user's options" grep -q "^plan -out=$tmpplan -var x=1 -target=a.b -lock=false\$" "$STANDIN_LOG"
check "plan-first: that plan file shown and applied" bash -c "grep -v '^state pull' '$STANDIN_LOG' | tr '\n' ' ' | grep -q 'show -json $tmpplan apply -auto-approve -backup=bk -lock=false $tmpplan'"
check "plan-first: plan file was 0600" [ "$(cat "$W/planmode")" = 600 ]
check "plan-first: plan file removed" [ ! -e "$tmpplan" ]
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
expect_output '`--` is missing' "no -- separator: said so"
# A store on a filesystem that is not mounted (an empty mount point, or no directory):
# what to check, never `init` (a new chain the spool would later flush into).
: > "$STANDIN_LOG"
mv "$W/s" "$W/s.away" && mkdir "$W/s"
expect_exit 2 "store on an unmounted mount point" "$T" apply -- "$TF" apply plan.bin
expect_output 'holds no chain: check the store path, and that its filesystem is mounted' "unmounted store: what to check"
expect_output 'was not run: nothing was deployed, recorded or spooled' "unmounted store: nothing run or spooled"
check "unmounted store: init is not suggested" bash -c "! grep -q 'tfattest init' '$W/last.err'"
expect_exit 2 "flush-spool to an unmounted store" "$T" record --flush-spool
expect_output 'holds no chain: check the store path, and that its filesystem is mounted' "flush-spool: what to check"
check "flush-spool: init is not suggested" bash -c "! grep -q 'tfattest init' '$W/last.err'"
rmdir "$W/s"
expect_exit 2 "store directory missing" "$T" apply -- "$TF" apply plan.bin
expect_output 'holds no chain \(no such directory\): check the store path' "missing store: what to check"
check "missing store: init is not suggested" bash -c "! grep -q 'tfattest init' '$W/last.err'"
check "missing store: terraform was not run" [ ! -s "$STANDIN_LOG" ]
mv "$W/s.away" "$W/s"

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
expect_output "check that $W/s is mounted and reachable\), append it with .tfattest record --flush-spool --store $W/s --key K." "unreachable store: what to check, and the flush"
check "unreachable store: init is not suggested" bash -c "! grep -q 'tfattest init' '$W/last.err'"
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

rm -f "$W"/spool/*
# destroy: planned with -destroy.
: > "$STANDIN_LOG"
n=$(nrec)
expect_exit 0 "destroy without a saved plan" env STANDIN_PLAN=show-basic-delete.json "$T" apply -- "$TF" destroy -auto-approve
check "destroy: plan -destroy" grep -q '^plan -out=[^ ]* -destroy$' "$STANDIN_LOG"
check "destroy: recorded as destroy with its plan" grep -q '"action":"delete"' <(rec $((n + 1)))
check "destroy: event" grep -q '"type":"destroy"' <(rec $((n + 1)))
# --no-plan-first: the old behaviour, and the record says so.
: > "$STANDIN_LOG"
expect_exit 0 "apply --no-plan-first" "$T" apply --no-plan-first -- "$TF" apply -auto-approve
n=$(nrec)
check "no-plan-first: no plan hash" bash -c "! grep -q plan_sha256 <(head -1 '$W/s/records/$(printf %012d $n).rec')"
check "no-plan-first: plan_source none" grep -q '"plan_source":"none"' <(rec $n)
check "no-plan-first: no plan run" bash -c "! grep -q '^plan' '$STANDIN_LOG'"
# A plan that fails: nothing applied, nothing recorded, terraform's code, no plan file left.
: > "$STANDIN_LOG"
expect_exit 1 "plan-first: failing plan" env STANDIN_PLAN_EXIT=1 "$T" apply -- "$TF" apply -auto-approve
expect_output 'plan` failed \(exit 1\); nothing was applied or recorded' "failing plan message"
check "failing plan: nothing recorded" [ "$(nrec)" -eq "$n" ]
check "failing plan: apply not run" bash -c "! grep -q '^apply' '$STANDIN_LOG'"
expect_exit 2 "plan-first: no temporary directory" env TMPDIR=/nonexistent "$T" apply -- "$TF" apply -auto-approve
expect_output 'cannot create a temporary plan file in /nonexistent' "no temporary directory: message"
check "no temporary directory: nothing run" bash -c "! grep -q '^apply' '$STANDIN_LOG'"
failplan=$(sed -n 's/^plan -out=\([^ ]*\).*/\1/p' "$STANDIN_LOG")
check "failing plan: a plan file was named" [ -n "$failplan" ]
check "failing plan: no plan file left" [ ! -e "$failplan" ]
# SIGTERM while the plan made first runs: it reaches the plan; nothing applied or recorded, no file left.
: > "$STANDIN_LOG"
rm -f mark
n=$(nrec)
STANDIN_MODE=slowplan STANDIN_MARK=$PWD/mark "$T" apply -- "$TF" apply -auto-approve > sigplan.out 2>&1 &
wp=$!
for _ in $(seq 600); do [ -e mark ] && break; sleep 0.1; done
check "plan started before the signal" [ -e mark ]
kill -TERM $wp
wait $wp
st=$?
check "signalled plan: wrapper exits 128+SIGTERM" [ "$st" -eq 143 ]
check "signalled plan: nothing recorded" [ "$(nrec)" -eq "$n" ]
check "signalled plan: apply not run" bash -c "! grep -q '^apply' '$STANDIN_LOG'"
sigplan=$(sed -n 's/^plan -out=\([^ ]*\).*/\1/p' "$STANDIN_LOG")
check "signalled plan: no plan file left" bash -c "[ -n '$sigplan' ] && [ ! -e '$sigplan' ]"

# An errored plan is refused (made first or saved), unless --allow-errored-plan.
: > "$STANDIN_LOG"
expect_exit 2 "plan-first: errored plan refused" env STANDIN_PLAN=show-plan-error.json "$T" apply -- "$TF" apply -auto-approve
expect_output 'plan is errored' "errored plan message"
check "errored plan: apply not run" bash -c "! grep -q '^apply' '$STANDIN_LOG'"
echo show-plan-error.json > err.bin
expect_exit 2 "saved errored plan refused" "$T" apply -- "$TF" apply err.bin
check "errored plan: nothing recorded" [ "$(nrec)" -eq "$n" ]
expect_exit 0 "saved errored plan allowed" "$T" apply --allow-errored-plan -- "$TF" apply err.bin
check "errored plan recorded as such" grep -q '"plan_errored":true' <(rec $((n + 1)))
expect_exit 0 "log" "$T" log
expect_output "^ +$((n + 1)) .*ERRORED PLAN" "log marks an errored plan"

# Every state-writing command, with its event type and the state before and after.
for c in "import a.b id:import" "state rm a.b:state-rm" "state mv a.b a.c:state-mv" "state push x.tfstate:state-push" "apply -refresh-only -auto-approve:refresh" "apply -destroy -auto-approve:destroy"; do
	n=$(nrec)
	# shellcheck disable=SC2086
	expect_exit 0 "wrapped ${c%%:*}" "$T" apply -- "$TF" ${c%%:*}
	check "${c%%:*}: event ${c##*:}" grep -q "\"type\":\"${c##*:}\"" <(rec $((n + 1)))
	check "${c%%:*}: state before and after" grep -q '"state":{.*"serial":7.*"state_before":{.*"serial":7' <(rec $((n + 1)))
done
n=$(nrec)
expect_exit 1 "failed import recorded" env STANDIN_MODE=fail "$T" apply -- "$TF" import a.b id
check "failed import: status failed" grep -Eq '"event":\{"exit_code":1,"idempotency_key":"[0-9a-f]{32}","status":"failed","type":"import"\}' <(rec $((n + 1)))
expect_exit 2 "state list refused" "$T" apply -- "$TF" state list
expect_exit 2 "state rm -dry-run refused" "$T" apply -- "$TF" state rm -dry-run a.b
expect_output 'writes no state' "dry-run message"

# Drift on record: the drifted addresses, never values; terraform's exit code.
n=$(nrec)
: > "$STANDIN_LOG"
expect_exit 2 "drift found" env STANDIN_PLAN=show-drift.json STANDIN_PLAN_EXIT=2 "$T" drift -- "$TF" plan -refresh-only -detailed-exitcode
expect_output 'recorded seq [0-9]+ \(drift-check, succeeded, exit 2: drift\)' "drift: reported"
check "drift: event drift-check, succeeded" grep -Eq '"event":\{"exit_code":2,"idempotency_key":"[0-9a-f]{32}","status":"succeeded","type":"drift-check"\}' <(rec $((n + 1)))
check "drift: addresses" grep -q '"drift":{"addresses":\["test_instance.should_refresh"\],"drifted":true}' <(rec $((n + 1)))
check "drift: plan -out added" grep -q '^plan -refresh-only -detailed-exitcode -out=/' "$STANDIN_LOG"
expect_exit 0 "no drift" env STANDIN_PLAN=show-basic-update.json "$T" drift -- "$TF" plan -refresh-only -detailed-exitcode
check "no drift recorded" grep -q '"drift":{"addresses":\[\],"drifted":false}' <(rec $((n + 2)))
expect_exit 0 "log" "$T" log
expect_output "^ +$((n + 1)) .*DRIFT \(1\)" "log marks drift"
n2=$(nrec)
expect_exit 1 "drift check that fails" env STANDIN_PLAN_EXIT=1 "$T" drift -- "$TF" plan -refresh-only -detailed-exitcode
check "failed drift check recorded as failed" grep -Eq '"event":\{"exit_code":1,"idempotency_key":"[0-9a-f]{32}","status":"failed","type":"drift-check"\}' <(rec $((n2 + 1)))
check "failed drift check: no drift finding" bash -c "! grep -q '\"drift\"' <(head -1 '$W/s/records/$(printf %012d $((n2 + 1))).rec')"
expect_exit 2 "drift without -refresh-only refused" "$T" drift -- "$TF" plan
expect_exit 2 "drift of an apply refused" "$T" drift -- "$TF" apply
n2=$(nrec)
expect_exit 1 "drift check not recorded exits 1" env STANDIN_PLAN=show-drift.json STANDIN_PLAN_EXIT=2 "$T" drift --key file:$W/other.pem -- "$TF" plan -refresh-only -detailed-exitcode
check "nothing recorded with the wrong key" [ "$(nrec)" -eq "$n2" ]

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
	expect_output "recorded seq $((n0 + 1)) .* \\(idempotency key pipeline-77.deploy\\)$" "recorded with the key, printed"
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
