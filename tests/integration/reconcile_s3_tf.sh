#!/usr/bin/env bash
# tfattest reconcile --state-s3 against the state versions real Terraform writes
# through its S3 backend (use_lockfile, checksums, conditional writes) into a
# versioned bucket (tests/aws/s3_versions_double.py). Stack A: applies through
# `tfattest apply` are attested; an apply and a `state rm` run directly are the
# only unattested versions, each with its serial and lineage, exit 1; a lock held
# by someone else stops Terraform (412 on the lock object) and adds no version.
# Stack B, every write through the wrapper (a `state rm` too): exit 0; its
# workspace dev (the object env:/dev/KEY) shows the version `terraform workspace
# new` writes as unattested. Nothing leaves 127.0.0.1: no provider is
# downloaded and any other address is refused.
. "$(dirname "$0")/../lib/common.sh"
TF=${TFA_TERRAFORM:-/usr/local/bin/terraform}
PY=/usr/bin/python3
[ -x "$TF" ] || { echo "skip: no terraform at $TF"; exit 77; }
[ -x "$PY" ] || { echo "skip: no /usr/bin/python3"; exit 77; }
"$T" reconcile --state-s3 s3://b/k?region=us-east-1 --store /nonexistent --public-key /dev/null 2>&1 |
	grep -q 'no AWS support' && { echo "skip: built without AWS"; exit 77; }
DOUBLE=$(realpath "$(dirname "$0")/../aws/s3_versions_double.py")
cd "$W" || exit 2
"$PY" "$DOUBLE" --port-file port --page-size 4 --log "$W/s3.log" &
dpid=$!
# On a failure the double's last requests (method, path, status, headers of note) help.
trap '[ "$TESTS_FAILED" -eq 0 ] || { echo "last S3 requests:"; tail -30 "$W/s3.log"; } >&2
	kill $dpid 2>/dev/null; chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
[ -s port ] || { echo "the S3 double did not start"; exit 2; }
PORT=$(cat port)
EP=http://127.0.0.1:$PORT

# Offline: providers only from an empty mirror (terraform_data is built in), no
# checkpoint, and every HTTP(S) address but the double's goes to a closed port.
mkdir mirror
cat > tf.rc << EOF2
provider_installation {
  filesystem_mirror {
    path    = "$W/mirror"
    include = ["*/*/*"]
  }
}
EOF2
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL TF_DATA_DIR TF_WORKSPACE
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_DEFAULT_REGION
export TF_IN_AUTOMATION=1 TF_CLI_CONFIG_FILE=$W/tf.rc CHECKPOINT_DISABLE=1 TF_PLUGIN_CACHE_DIR=
export HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1
export http_proxy=$HTTP_PROXY https_proxy=$HTTPS_PROXY no_proxy=$NO_PROXY
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
export AWS_REGION=us-east-1 TFATTEST_AWS_MAX_ATTEMPTS=1 TFATTEST_SPOOL=$W/spool
# Terraform writes with the writer's key; reconcile reads with the read-only one.
export AWS_ACCESS_KEY_ID=AKIDWRITER AWS_SECRET_ACCESS_KEY=writer-secret-00000000000000000000000000
RO=(env AWS_ACCESS_KEY_ID=AKIDREADONLY AWS_SECRET_ACCESS_KEY=readonly-secret-0000000000000000000000)

check() { # desc, condition...
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}
stats() { curl -sf --noproxy '*' "$EP/__admin/stats"; }
versions() { curl -sf --noproxy '*' "$EP/__admin/versions?bucket=tfstate&key=$1"; }
# serial | lineage: of the state object's current version, as Terraform reads it
pulled() { "$TF" state pull | "$PY" -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
jq_() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$W/last.out"; }
stack() { # DIR KEY: a configuration with the S3 backend on the double, initialised
	mkdir "$W/$1" && cat > "$W/$1/main.tf" << EOF2
terraform {
  backend "s3" {
    bucket                      = "tfstate"
    key                         = "$2"
    region                      = "us-east-1"
    endpoints                   = { s3 = "$EP" }
    use_path_style              = true
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
    use_lockfile                = true
  }
}
variable "v" {
  default = "1"
}
resource "terraform_data" "a" {
  input = var.v
}
resource "terraform_data" "b" {
  input = "fixed"
}
EOF2
	(cd "$W/$1" && "$TF" init -input=false > "$W/init.out" 2>&1) ||
		{ cat "$W/init.out"; echo "terraform init failed"; exit 2; }
}
wrapped() { # DESC TERRAFORM-ARGS...: one write through the wrapper; its serial appended to $ws
	local d=$1
	shift
	expect_exit 0 "$d" "$T" apply -- "$TF" "$@" && ws="$ws $(pulled serial)"
}

new_ec_key k.pem
"$T" pubkey --key file:k.pem | sed -n '/BEGIN/,/END/p' > k.pub
"$T" init --store sa --chain a --key file:k.pem > /dev/null || exit 2
"$T" init --store sb --chain b --key file:k.pem > /dev/null || exit 2

# ---- Stack A: four wrapped writes, a direct apply and a direct state rm. ----
stack a app/terraform.tfstate
cd "$W/a" || exit 2
export TFATTEST_STORE=$W/sa TFATTEST_KEY=file:$W/k.pem
ws=""
wrapped "A: wrapped apply 1" apply -auto-approve -input=false
wrapped "A: wrapped apply 2" apply -auto-approve -input=false -var v=2
"$TF" apply -auto-approve -input=false -var v=3 > "$W/direct.out" 2>&1 || fail "A: direct apply"
b1=$(pulled serial)
wrapped "A: wrapped apply 3" apply -auto-approve -input=false -var v=4
"$TF" state rm terraform_data.b > "$W/direct.out" 2>&1 || fail "A: direct state rm"
b2=$(pulled serial)
wrapped "A: wrapped apply 4 (b again)" apply -auto-approve -input=false -var v=5
LIN=$(pulled lineage)
ws=${ws# }
echo "stack A: wrapped serials $ws, bypasses $b1 and $b2, lineage $LIN"
ascending() { # N...: strictly ascending
	local prev=-1 n
	for n in "$@"; do
		[ "$n" -gt "$prev" ] || return 1
		prev=$n
	done
}
check "A: six serials, in the order of the writes" ascending $(set -- $ws; echo "$1 $2 $b1 $3 $b2 $4")

# A lock held by another run: Terraform's conditional PutObject of the lock
# object fails (412), Terraform stops, and the state gets no new version.
nv=$(versions app/terraform.tfstate | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo '{"ID":"held-elsewhere","Operation":"OperationTypeApply"}' > lock.json
curl -sf --noproxy '*' -X POST --data-binary @lock.json \
	"$EP/__admin/put?bucket=tfstate&key=app/terraform.tfstate.tflock" > /dev/null || fail "admin put"
expect_exit 1 "A: an apply while the lock is held fails" "$TF" apply -auto-approve -input=false \
	-var v=6 -lock-timeout=0s
expect_output 'Error acquiring the state lock' "A: Terraform says the lock is held"
check "A: the lock's conditional write was refused with 412" grep -Eq \
	'^PUT /tfstate/app/terraform.tfstate.tflock\?x-id=PutObject -> 412 .*if-none-match=\*' "$W/s3.log"
check "A: no new version of the state" [ "$(versions app/terraform.tfstate |
	"$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')" = "$nv" ]
curl -sf --noproxy '*' -X POST "$EP/__admin/delete?bucket=tfstate&key=app/terraform.tfstate.tflock" \
	> /dev/null || fail "admin delete"

# What the double saw Terraform do (its log): the S3 calls reconcile's input comes from.
check "A: state written by PutObject with its SHA-256 checksum, checked" grep -Eq \
	'^PUT /tfstate/app/terraform.tfstate\?x-id=PutObject -> 200 \[.*checked sha256\]' "$W/s3.log"
check "A: lock taken with If-None-Match: *" grep -Eq \
	'^PUT /tfstate/app/terraform.tfstate.tflock\?x-id=PutObject -> 200 .*if-none-match=\*' "$W/s3.log"
check "A: lock released by DeleteObject" grep -Eq \
	'^DELETE /tfstate/app/terraform.tfstate.tflock\?x-id=DeleteObject -> 204' "$W/s3.log"
check "A: the lock object's history has delete markers beside the state's" "$PY" -c '
import json, sys
v = json.loads(sys.argv[1])
sys.exit(0 if sum(x["deleteMarker"] for x in v) >= 6 else 1)' "$(versions app/terraform.tfstate.tflock)"
check "A: the state object has exactly six versions, none a delete marker" "$PY" -c '
import json, sys
v = json.loads(sys.argv[1])
sys.exit(0 if len(v) == 6 and not any(x["deleteMarker"] for x in v) else 1)' "$(versions app/terraform.tfstate)"

URI="s3://tfstate/app/terraform.tfstate?endpoint=$EP&region=us-east-1"
before=$(stats)
expect_exit 1 "A: reconcile reports the bypasses: exit 1" "${RO[@]}" "$T" reconcile --store "$W/sa" \
	--public-key "$W/k.pub" --state-s3 "$URI"
expect_output '^6 state versions: 4 attested, 2 unattested, 0 unreadable, 0 deletions; 2 gaps between records; 0 records missing from the sources$' \
	"A: the counts"
expect_output "^  GAP         lineage $LIN: seq 2 left serial $(set -- $ws; echo $2), seq 3 started from serial $b1: " \
	"A: the records alone show the direct apply: seq 3 started from its state"
expect_output "^  GAP         lineage $LIN: seq 3 left serial $(set -- $ws; echo $3), seq 4 started from serial $b2: " \
	"A: and the direct state rm"
expect_output 'NOT every state version is accounted for' "A: the verdict"
check "A: exactly two UNATTESTED lines" [ "$(grep -c UNATTESTED "$W/last.out")" -eq 2 ]
expect_output "^  UNATTESTED  lineage $LIN serial $b1  2026-01-01T[0-9:]+Z  s3://tfstate/app/terraform.tfstate\?versionId=v[0-9a-f.]+  between seq 2 and seq 3" \
	"A: the direct apply: its lineage, serial, S3 time and the records around it"
expect_output "^  UNATTESTED  lineage $LIN serial $b2  2026-01-01T[0-9:]+Z  s3://tfstate/app/terraform.tfstate\?versionId=v[0-9a-f.]+  between seq 3 and seq 4" \
	"A: the direct state rm: the same"
check "A: attested are the four wrapped writes, seq 1 to 4" [ "$(sed -nE \
	's/^  attested    lineage [0-9a-f-]+ serial ([0-9]+)  seq ([0-9]+)  s3:.*/\1:\2/p' "$W/last.out" |
	tr '\n' ' ')" = "$(set -- $ws; echo "$1:1 $2:2 $3:3 $4:4 ")" ]
check "A: every attested line names the lineage" [ "$(grep -c "attested    lineage $LIN " "$W/last.out")" -eq 4 ]
after=$(stats)
check "A: each state version fetched once by version id, the lock object's never" "$PY" -c '
import json, sys
b, a = json.loads(sys.argv[1])["get"], json.loads(sys.argv[2])["get"]
v = [x["versionId"] for x in json.loads(sys.argv[3])]
d = {k: a[k] - b.get(k, 0) for k in a if a[k] != b.get(k, 0)}
sys.exit(0 if sorted(d) == sorted(v) and set(d.values()) == {1} else 1)' \
	"$before" "$after" "$(versions app/terraform.tfstate)"
# Six versions of KEY, then KEY.tflock's (a version and a delete marker a run, more than
# a dozen): two pages of 4, the second ending on the lock object, and the listing stops.
check "A: the listing read KEY's two pages of 4, not the lock object's many" "$PY" -c '
import json, sys
n = json.loads(sys.argv[2])["list"] - json.loads(sys.argv[1])["list"]
sys.exit(0 if n == 2 and len(json.loads(sys.argv[3])) >= 12 else 1)' \
	"$before" "$after" "$(versions app/terraform.tfstate.tflock)"
expect_exit 1 "A: --json" "${RO[@]}" "$T" reconcile --store "$W/sa" --public-key "$W/k.pub" \
	--state-s3 "$URI" --json
check "A: json: the unattested serials and lineage" \
	[ "$(jq_ '[(v["serial"], v["lineage"]) for v in d["versions"] if v["status"]=="unattested"]')" = \
	"[($b1, '$LIN'), ($b2, '$LIN')]" ]
check "A: json: the attested serials" \
	[ "$(jq_ '" ".join(str(v["serial"]) for v in d["versions"] if v["status"]=="attested")')" = "$ws" ]
check "A: json: six bodies read, the times from S3" \
	[ "$(jq_ 'd["stats"]["state_bodies_read"], d["versions"][0]["time_source"]')" = "6 s3-last-modified" ]

# ---- Stack B: every write through the wrapper, a state rm too. ----
stack b other/terraform.tfstate
cd "$W/b" || exit 2
export TFATTEST_STORE=$W/sb
ws=""
wrapped "B: wrapped apply 1" apply -auto-approve -input=false
wrapped "B: wrapped apply 2" apply -auto-approve -input=false -var v=2
wrapped "B: wrapped state rm" state rm terraform_data.b
wrapped "B: wrapped apply 3" apply -auto-approve -input=false -var v=3
ws=${ws# }
expect_exit 0 "B: log shows the wrapped state rm" "$T" log
expect_output 'state-rm|state rm' "B: the state rm has its own event"
expect_exit 0 "B: every write went through the wrapper: exit 0" "${RO[@]}" "$T" reconcile \
	--store "$W/sb" --public-key "$W/k.pub" --state-s3 "s3://tfstate/other/terraform.tfstate?endpoint=$EP&region=us-east-1"
expect_output '^4 state versions: 4 attested, 0 unattested, 0 unreadable, 0 deletions; 0 gaps between records; 0 records missing from the sources$' \
	"B: the counts"
expect_output 'every state version is accounted for' "B: the verdict"
check "B: attested are the four wrapped writes, seq 1 to 4" [ "$(sed -nE \
	's/^  attested    lineage [0-9a-f-]+ serial ([0-9]+)  seq ([0-9]+)  s3:.*/\1:\2/p' "$W/last.out" |
	tr '\n' ' ')" = "$(set -- $ws; echo "$1:1 $2:2 $3:3 $4:4 ")" ]
# A workspace: its state is the object env:/dev/KEY. `terraform workspace new`
# itself writes a first, empty state there, which no record has; the wrapped
# apply after it is attested and names it as the state it started from.
"$TF" workspace new dev > "$W/direct.out" 2>&1 || fail "B: workspace new dev"
wsnew=$(pulled serial)
ws=""
wrapped "B: wrapped apply in workspace dev" apply -auto-approve -input=false -var v=dev
check "B: the workspace's state is the object env:/dev/other/terraform.tfstate" grep -Eq \
	'^PUT /tfstate/env%3A/dev/other/terraform.tfstate\?x-id=PutObject -> 200' "$W/s3.log"
check "B: Terraform lists the workspaces with ListObjectsV2" bash -c \
	"'$TF' workspace list | grep -q dev"
expect_exit 1 "B: workspace dev: the state workspace new wrote is not attested: exit 1" "${RO[@]}" \
	"$T" reconcile --store "$W/sb" --public-key "$W/k.pub" \
	--state-s3 "s3://tfstate/env:/dev/other/terraform.tfstate?endpoint=$EP&region=us-east-1"
expect_output '^2 state versions: 1 attested, 1 unattested, 0 unreadable, 0 deletions; 0 gaps between records; 0 records missing from the sources$' \
	"B: workspace dev: the counts"
expect_output "^  UNATTESTED  lineage [0-9a-f-]+ serial $wsnew  .*s3://tfstate/env:/dev/other/terraform.tfstate\?versionId=.*\(the state seq 5 started from\)" \
	"B: workspace dev: workspace new's state, which seq 5 started from"
expect_output "^  attested    lineage [0-9a-f-]+ serial ${ws# }  seq 5  s3://tfstate/env:/dev/other/" \
	"B: workspace dev: the wrapped apply is seq 5"
"$TF" workspace select default > /dev/null 2>&1 || fail "B: workspace select default"
# Stack A's chain does not cover stack B: its versions have no record there.
expect_exit 1 "B against A's chain: exit 1" "${RO[@]}" "$T" reconcile --store "$W/sa" \
	--public-key "$W/k.pub" --state-s3 "s3://tfstate/other/terraform.tfstate?endpoint=$EP&region=us-east-1"
expect_output '4 state versions: 0 attested, 4 unattested' "B against A's chain: none attested"
finish
