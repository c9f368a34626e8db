#!/usr/bin/env bash
# tfattest reconcile with real Terraform (terraform_data, local backend): applies
# through `tfattest apply` are attested; an apply and a `state rm` run directly
# are caught with their serials; --record puts a reconcile event in the chain
# that export and verify accept; each state body is read once.
. "$(dirname "$0")/../lib/common.sh"
TF=${TFA_TERRAFORM:-/usr/local/bin/terraform}
[ -x "$TF" ] || { echo "skip: no terraform at $TF"; exit 77; }
cd "$W" || exit 2
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL
export TF_IN_AUTOMATION=1 TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1
export TFATTEST_SPOOL=$W/spool

new_ec_key k.pem
"$T" init --store s --chain prod --key file:k.pem > /dev/null || exit 2
"$T" pubkey --key file:k.pem | sed -n '/BEGIN/,/END/p' > k.pub
export TFATTEST_STORE=$W/s TFATTEST_KEY=file:$W/k.pem
mkdir tf snaps wrapped && cd tf || exit 2
cat > main.tf << 'EOF'
variable "v" {
  default = "1"
}
resource "terraform_data" "a" {
  input = var.v
}
resource "terraform_data" "b" {
  input = "fixed"
}
EOF
"$TF" init -input=false > /dev/null 2>&1 || { echo "terraform init failed"; exit 2; }
check() { # desc, condition...
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}
serial() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["serial"])' "$1"; }
snap() { # NAME [also into wrapped/]: a copy of the state, and of its backup when there is one
	cp terraform.tfstate "../snaps/$1.tfstate"
	[ ! -e terraform.tfstate.backup ] || cp terraform.tfstate.backup "../snaps/$1.backup"
	[ -z "${2:-}" ] || cp terraform.tfstate "../wrapped/$1.tfstate"
}
jq_() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$W/last.out"; }

# Two applies through the wrapper: every version attested.
expect_exit 0 "wrapped apply 1" "$T" apply -- "$TF" apply -auto-approve -input=false
snap w1 wrapped
expect_exit 0 "wrapped apply 2" "$T" apply -- "$TF" apply -auto-approve -input=false -var v=2
snap w2 wrapped
expect_exit 0 "only wrapped writes: exit 0" "$T" reconcile --state-dir ../snaps
expect_output 'every state version is accounted for' "accounted-for message"
check "no unattested line" bash -c "! grep -q UNATTESTED '$W/last.out'"

# A direct apply (the bypass), then another wrapped one.
"$TF" apply -auto-approve -input=false -var v=3 > /dev/null 2>&1 || fail "direct apply"
bypass=$(serial terraform.tfstate)
snap bypass
expect_exit 0 "wrapped apply 3" "$T" apply -- "$TF" apply -auto-approve -input=false -var v=4
snap w3 wrapped
expect_exit 1 "the bypassing apply is reported: exit 1" "$T" reconcile --state-dir ../snaps
expect_output "UNATTESTED  lineage [0-9a-f-]+ serial $bypass .*between seq 2 and seq 3" \
	"the bypass's serial, between the records around it"
expect_output 'time unknown \(file mtime' "a file's time is labelled as its mtime, not evidence"
expect_exit 1 "--json exits 1 too" "$T" reconcile --state-dir ../snaps --json --public-key ../k.pub
check "json: one unattested version, with its serial" \
	[ "$(jq_ '[v["serial"] for v in d["versions"] if v["status"]=="unattested"]')" = "[$bypass]" ]
check "json: seq before and after" \
	[ "$(jq_ '[(v["seq_before"],v["seq_after"]) for v in d["versions"] if v["status"]=="unattested"]')" = "[(2, 3)]" ]
n=$(ls ../snaps | wc -l)
check "json: each state body read once ($n files)" [ "$(jq_ 'd["stats"]["state_bodies_read"]')" = "$n" ]
check "json: a .backup that repeats a snapshot is listed once" \
	[ "$(jq_ 'len(d["versions"])')" -lt "$n" ]
expect_exit 0 "only the wrapped snapshots: exit 0" "$T" reconcile --state-dir ../wrapped

# Each file is opened once and read to its end once (strace counts the opens).
if command -v strace > /dev/null; then
	strace -f -e trace=openat -o "$W/trace" "$T" reconcile --state-dir ../snaps > /dev/null 2>&1
	for f in ../snaps/*; do
		b=$(basename "$f")
		TESTS_RUN=$((TESTS_RUN + 1))
		c=$(grep -c "\"$b\"" "$W/trace")
		[ "$c" -eq 1 ] && pass "strace: $b opened once" || fail "strace: $b opened $c times"
	done
fi

# `terraform state rm` outside the wrapper.
expect_exit 0 "state clean before state rm" "$T" reconcile --state terraform.tfstate
expect_exit 0 "the pulled state is the attested one (its hash too)" "$T" reconcile -- "$TF" state pull
expect_output "attested    lineage [0-9a-f-]+ serial $(serial terraform.tfstate)  seq 3  .*terraform state pull" \
	"the pulled state matched to seq 3"
"$TF" state rm terraform_data.b > /dev/null 2>&1 || fail "state rm"
rm_serial=$(serial terraform.tfstate)
expect_exit 1 "a state rm outside the wrapper is caught" "$T" reconcile --state terraform.tfstate \
	--state terraform.tfstate.backup
expect_output "UNATTESTED  lineage [0-9a-f-]+ serial $rm_serial .*after seq 3" "with its serial"
expect_exit 1 "the same through terraform state pull" "$T" reconcile -- "$TF" state pull
expect_output "serial $rm_serial .*terraform state pull" "the pulled state's serial"
expect_output 'time unknown \(seen ' "a pulled state's time is when it was seen"

# Same lineage and serial as a record, different content: not attested.
python3 - ../wrapped/w2.tfstate ../tampered.tfstate << 'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["resources"] = []
json.dump(d, open(sys.argv[2], "w"), indent=2)
EOF
expect_exit 1 "same serial, other content" "$T" reconcile --state ../tampered.tfstate
expect_output 'same serial as seq 2, different content' "content mismatch named"

# A file that is not a state is reported by name; the others are still read.
mkdir ../mixed && cp ../wrapped/* ../mixed/ && echo 'not json' > ../mixed/notes.txt
expect_exit 1 "an unreadable file: exit 1" "$T" reconcile --state-dir ../mixed
expect_output 'UNREADABLE  \.\./mixed/notes\.txt: ' "named as unreadable"
expect_output 'attested .*w3\.tfstate' "the other files are still matched"

# Usage and environment.
expect_exit 2 "no source" "$T" reconcile
expect_exit 2 "missing file" "$T" reconcile --state /nonexistent
expect_exit 2 "--record without a key" env -u TFATTEST_KEY "$T" reconcile --public-key ../k.pub \
	--record --state terraform.tfstate
expect_exit 2 "an empty directory" bash -c "mkdir -p ../empty && '$T' reconcile --state-dir ../empty"

# --record: a signed reconcile event with the summary; export and verify accept it.
expect_exit 1 "--record still exits 1 on a gap" "$T" reconcile --record --state-dir ../snaps \
	--state terraform.tfstate
expect_output 'recorded seq 4 \(reconcile, exit 1\)' "recorded message"
rec4=$(head -1 "$W/s/records/000000000004.rec")
check "event reconcile" grep -q '"event":{"exit_code":1,"status":"succeeded","type":"reconcile"}' <<< "$rec4"
check "summary: the gaps as lineage and serial" \
	grep -Eq "\"gaps\":\[\{\"lineage\":\"[0-9a-f-]+\",\"serial\":$bypass\},\{\"lineage\":\"[0-9a-f-]+\",\"serial\":$rm_serial\}\]" <<< "$rec4"
check "summary: counts" grep -q '"complete":false' <<< "$rec4"
expect_exit 0 "export with the reconcile record" "$T" export --out ../bundle
expect_exit 0 "verify accepts it" "$T" verify ../bundle
expect_exit 0 "log shows it" "$T" log
expect_output 'reconcile' "reconcile in the log"
# The reconcile record itself holds no state: the next run still reads the chain whole.
expect_exit 0 "after the reconcile record, wrapped snapshots still exit 0" "$T" reconcile \
	--state-dir ../wrapped

# A record changed in the store: the run stops at it, exit 1, and prints no verdict.
cp -r "$W/s" "$W/s2" && chmod -R u+w "$W/s2"
sed -i '1s/"status":"succeeded"/"status":"failed"/' "$W/s2/records/000000000001.rec"
expect_exit 1 "a tampered record: exit 1" "$T" reconcile --store "$W/s2" --state-dir ../wrapped
expect_output 'signature of record 1 is invalid' "the record is named"
check "no verdict printed" bash -c "! grep -q 'accounted for' '$W/last.out'"
finish
