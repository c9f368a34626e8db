#!/usr/bin/env bash
# tfattest apply and drift with real Terraform (terraform_data, local backend,
# offline): the state before and after each write, hashed as the backend stores
# it; an apply without a saved plan planned first; every state-writing command
# with its event type; a drift check that names what drifted; every record
# verifies. Skips (77) where Terraform is not installed.
. "$(dirname "$0")/../lib/common.sh"
TFBIN=${TFA_TERRAFORM:-/usr/local/bin/terraform}
if ! [ -x "$TFBIN" ]; then
	echo "SKIP: $TFBIN is not installed"
	exit 77
fi
cd "$W" || exit 2
export TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
export TFATTEST_SPOOL=$W/spool TMPDIR=$W/tmp
mkdir tmp
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL
check() { # desc, condition...
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}
nrec() { ls "$W/s/records" | wc -l; }
rec() { head -1 "$W/s/records/$(printf %012d "$1").rec"; }
# jq-like: the value at a dotted path of record N's artifact, as JSON.
at() { rec "$1" | /usr/bin/python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print(json.dumps(v, sort_keys=True))' "$2"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
serial() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["serial"])' "$1"; }

new_ec_key k.pem
"$T" init --store s --chain prod --key file:k.pem > /dev/null || exit 2
export TFATTEST_STORE=$W/s TFATTEST_KEY=file:$W/k.pem
mkdir work && cd work || exit 2
cat > main.tf <<'TF'
resource "terraform_data" "a" {
  input = "one"
}
resource "terraform_data" "b" {
  input = "two"
}
output "o" {
  value = terraform_data.a.output
}
TF
"$TFBIN" init -input=false > /dev/null || { echo "terraform init failed" >&2; exit 1; }

# An apply without a saved plan: planned first, the plan's changes recorded, that plan applied.
expect_exit 0 "apply, planned first" "$T" apply -- "$TFBIN" apply -auto-approve -input=false
expect_output 'recorded seq 1 \(apply, succeeded, exit 0\)' "recorded"
check "plan-first: two creates recorded" [ "$(at 1 terraform.counts.create)" = 2 ]
check "plan-first: the addresses" [ "$(at 1 terraform.changes)" = '[{"action": "create", "address": "terraform_data.a"}, {"action": "create", "address": "terraform_data.b"}]' ]
check "plan-first: plan_source" [ "$(at 1 terraform.plan_source)" = '"plan-first"' ]
check "plan-first: no plan file left" [ -z "$(ls "$W/tmp")" ]
check "first apply: no state before" [ "$(at 1 terraform.state_before)" = null ]
check "state after: hash of the state file as stored" [ "$(at 1 terraform.state.sha256)" = "\"sha256:$(sha terraform.tfstate)\"" ]
check "state after: serial" [ "$(at 1 terraform.state.serial)" = "$(serial terraform.tfstate)" ]
lineage=$(/usr/bin/python3 -c 'import json; print(json.load(open("terraform.tfstate"))["lineage"])')
check "state after: lineage" [ "$(at 1 terraform.state.lineage)" = "\"$lineage\"" ]
h1=$(sha terraform.tfstate)
s1=$(serial terraform.tfstate)

# A change: the state before is the previous state, byte for byte.
sed -i 's/"two"/"three"/' main.tf
expect_exit 0 "apply a change" "$T" apply -- "$TFBIN" apply -auto-approve -input=false
check "change: update recorded" [ "$(at 2 terraform.changes)" = '[{"action": "update", "address": "terraform_data.b"}]' ]
check "change: state_before is the previous state" [ "$(at 2 terraform.state_before.sha256)" = "\"sha256:$h1\"" ]
check "change: state_before serial" [ "$(at 2 terraform.state_before.serial)" = "$s1" ]
check "change: state after" [ "$(at 2 terraform.state.sha256)" = "\"sha256:$(sha terraform.tfstate)\"" ]
check "change: serial went up" [ "$(serial terraform.tfstate)" -gt "$s1" ]

# A saved plan: its facts, plan_source saved-plan.
sed -i 's/"three"/"four"/' main.tf
"$TFBIN" plan -input=false -out=saved.tfplan > /dev/null
expect_exit 0 "apply a saved plan" "$T" apply -- "$TFBIN" apply -input=false saved.tfplan
check "saved plan: plan_source" [ "$(at 3 terraform.plan_source)" = '"saved-plan"' ]
check "saved plan: its change" grep -q '"address":"terraform_data.b"' <(rec 3)

# --no-plan-first: as before, and the record says so.
sed -i 's/"four"/"five"/' main.tf
expect_exit 0 "apply --no-plan-first" "$T" apply --no-plan-first -- "$TFBIN" apply -auto-approve -input=false
check "no-plan-first: plan_source none" [ "$(at 4 terraform.plan_source)" = '"none"' ]
check "no-plan-first: no counts" [ "$(at 4 terraform.counts)" = null ]

# A binary plan file given to record: told to run show -json first, a usage error.
expect_exit 2 "record --plan with a binary plan" "$T" record --plan saved.tfplan
expect_output 'terraform show -json' "binary plan message"

# Every state-writing command, with its event type and the state before and after.
prev=$(sha terraform.tfstate)
wrapped() { # seq event desc args...
	local seq=$1 ev=$2 d=$3
	shift 3
	expect_exit 0 "$d" "$T" apply -- "$TFBIN" "$@"
	check "$d: event $ev" [ "$(at "$seq" event.type)" = "\"$ev\"" ]
	check "$d: state_before is the state it started from" [ "$(at "$seq" terraform.state_before.sha256)" = "\"sha256:$prev\"" ]
	check "$d: state after is the state file" [ "$(at "$seq" terraform.state.sha256)" = "\"sha256:$(sha terraform.tfstate)\"" ]
	prev=$(sha terraform.tfstate)
}
wrapped 5 refresh "apply -refresh-only" apply -refresh-only -auto-approve -input=false
wrapped 6 state-mv "state mv" state mv terraform_data.b terraform_data.c
id_c=$(/usr/bin/python3 -c 'import json; d=json.load(open("terraform.tfstate")); print([r for r in d["resources"] if r["name"]=="c"][0]["instances"][0]["attributes"]["id"])')
wrapped 7 state-rm "state rm" state rm terraform_data.c
wrapped 8 import "import" import -input=false terraform_data.b "$id_c"
"$TFBIN" state pull > pushed.tfstate
/usr/bin/python3 - pushed.tfstate <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["serial"] += 1
json.dump(d, open(sys.argv[1], "w"), indent=2)
PY
wrapped 9 state-push "state push" state push pushed.tfstate
check "state push: serial of the pushed state" [ "$(at 9 terraform.state.serial)" = "$(serial pushed.tfstate)" ]
# Drift: none, then the state edited out of band (the output's value): terraform exits 2,
# the record names what drifted and holds no value.
n=$(nrec)
expect_exit 0 "drift check: no drift" "$T" drift -- "$TFBIN" plan -refresh-only -detailed-exitcode -input=false
check "no drift: recorded" [ "$(at $((n + 1)) terraform.drift)" = '{"addresses": [], "drifted": false}' ]
check "no drift: event" [ "$(at $((n + 1)) event.type)" = '"drift-check"' ]
/usr/bin/python3 - terraform.tfstate <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["outputs"]["o"]["value"] = "EDITED-OUT-OF-BAND-4711"
d["serial"] += 1
json.dump(d, open(sys.argv[1], "w"), indent=2)
PY
expect_exit 2 "drift check: drift" "$T" drift -- "$TFBIN" plan -refresh-only -detailed-exitcode -input=false
check "drift: recorded with its address" [ "$(at $((n + 2)) terraform.drift)" = '{"addresses": ["output.o"], "drifted": true}' ]
check "drift: exit code 2, succeeded" [ "$(at $((n + 2)) event)" = '{"exit_code": 2, "status": "succeeded", "type": "drift-check"}' ]
# The edited file is not as Terraform writes it: the hash is that of Terraform's serialisation.
"$TFBIN" state pull | head -c -1 > pulled.tfstate
check "drift: the state it checked, as Terraform serialises it" [ "$(at $((n + 2)) terraform.state.sha256)" = "\"sha256:$(sha pulled.tfstate)\"" ]
check "drift: the state it checked: serial" [ "$(at $((n + 2)) terraform.state.serial)" = "$(serial terraform.tfstate)" ]
check "drift: no value recorded" bash -c "! grep -rq -e EDITED-OUT-OF-BAND -e '\"one\"' '$W/s'"
check "no plan file left" [ -z "$(ls "$W/tmp")" ]

# destroy, planned first: the plan's deletes, from the state the drift check saw.
prev=$(sha pulled.tfstate)
wrapped $(($(nrec) + 1)) destroy "destroy, planned first" destroy -auto-approve -input=false
check "destroy: the plan's deletes" [ "$(at $(nrec) terraform.counts.delete)" = 2 ]
check "destroy: plan_source" [ "$(at $(nrec) terraform.plan_source)" = '"plan-first"' ]

# Every record verifies.
cd "$W" || exit 2
expect_exit 0 "export" "$T" export --out b
expect_exit 0 "verify" "$T" verify b
expect_output "Hash chain valid \($(nrec) artifacts\)" "all records verified"
finish
