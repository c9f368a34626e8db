#!/usr/bin/env bash
# tfattest reconcile --state-s3: every version of a state object in a versioned
# bucket (tests/aws/s3_versions_double.py), over more listing pages than one,
# with read-only credentials; each version fetched once; a version no record
# made is reported with its S3 time; a delete marker is reported; bad
# credentials and a malformed URI are environment and usage errors.
. "$(dirname "$0")/../lib/common.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "skip: no /usr/bin/python3"; exit 77; }
"$T" reconcile --state-s3 s3://b/k?region=us-east-1 --store /nonexistent --public-key /dev/null 2>&1 |
	grep -q 'no AWS support' && { echo "skip: built without AWS"; exit 77; }
DOUBLE=$(realpath "$(dirname "$0")/../aws/s3_versions_double.py")
cd "$W" || exit 2
"$PY" "$DOUBLE" --port-file port --page-size 3 &
dpid=$!
trap 'kill $dpid 2>/dev/null; chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
[ -s port ] || { echo "the S3 double did not start"; exit 2; }
EP=http://127.0.0.1:$(cat port)
export AWS_ACCESS_KEY_ID=AKIDREADONLY AWS_SECRET_ACCESS_KEY=readonly-secret-0000000000000000000000
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 GITHUB_ACTIONS GITLAB_CI JENKINS_URL
export TFATTEST_AWS_MAX_ATTEMPTS=1
LIN=5d0c3a94-1b7e-4f8a-9c1d-2e3f4a5b6c7d
check() {
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}
state() { # SERIAL [LINEAGE]: a state body
	printf '{\n  "version": 4,\n  "terraform_version": "1.11.4",\n  "serial": %d,\n  "lineage": "%s",\n  "outputs": {},\n  "resources": []\n}\n' "$1" "${2:-$LIN}"
}
put() { # KEY SERIAL: a new version of KEY in bucket tfstate
	state "$2" > body && curl -sf -X POST --data-binary @body "$EP/__admin/put?bucket=tfstate&key=$1" > /dev/null
}
stats() { curl -sf "$EP/__admin/stats"; }

new_ec_key k.pem
"$T" init --store s --chain prod --key file:k.pem > /dev/null || exit 2
export TFATTEST_STORE=$W/s TFATTEST_KEY=file:$W/k.pem
# Records for serials 1..9 but 5 (that one is written out of band), and nine versions in S3,
# plus versions of a key that shares the prefix.
for i in 1 2 3 4 5 6 7 8 9; do
	put env/terraform.tfstate $i
	put env/terraform.tfstate.old $((100 + i))
	[ $i -eq 5 ] && continue
	state $i > s.json
	"$T" record --plan "$PLANS/show-basic-create.json" --state s.json > /dev/null || fail "record $i"
done
URI="s3://tfstate/env/terraform.tfstate?region=us-east-1&endpoint=$EP"

expect_exit 1 "the out-of-band version is reported: exit 1" "$T" reconcile --state-s3 "$URI"
expect_output "UNATTESTED  lineage $LIN serial 5  2026-01-01T00:09:00Z .*between seq 4 and seq 5" \
	"its serial, its S3 time and the records around it"
expect_output '9 state versions: 8 attested, 1 unattested' "all nine versions, over several pages"
s=$(stats)
# The key's nine versions fill three pages of 3; the fourth reaches the other key and ends
# the listing (that key's other five pages are not read).
check "listing took the key's pages of at most 3, and stopped at the other key" "$PY" -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d['list'] == 4 else 1)" "$s"
check "the client asks for 1000 a page" "$PY" -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d['max_keys']=='1000' else 1)" "$s"
check "each version of the state fetched once, the other key's never" "$PY" -c "
import json,sys
g=json.loads(sys.argv[1])['get']
sys.exit(0 if len(g)==9 and set(g.values())=={1} else 1)" "$s"
expect_exit 1 "--json" "$T" reconcile --state-s3 "$URI" --json
check "json: state bodies read 9" grep -q '"state_bodies_read":9,' "$W/last.out"
check "json: the time's source is S3" grep -q '"time_source":"s3-last-modified"' "$W/last.out"

# A smaller page asked for by the client: the same result.
expect_exit 1 "max-keys 2" env TFATTEST_S3_LIST_MAX_KEYS=2 "$T" reconcile --state-s3 "$URI"
expect_output '9 state versions: 8 attested, 1 unattested' "the same versions with pages of 2"
expect_exit 2 "a bad page size" env TFATTEST_S3_LIST_MAX_KEYS=0 "$T" reconcile --state-s3 "$URI"

# An object whose every version has a record: exit 0. Then a delete marker: reported.
for i in 20 21 22 23; do
	put other/terraform.tfstate $i
	state $i > s.json
	"$T" record --plan "$PLANS/show-basic-create.json" --state s.json > /dev/null
done
O="s3://tfstate/other/terraform.tfstate?region=us-east-1&endpoint=$EP"
expect_exit 0 "every version attested: exit 0" "$T" reconcile --state-s3 "$O"
expect_output 'every state version is accounted for' "accounted for"
curl -sf -X POST "$EP/__admin/delete?bucket=tfstate&key=other/terraform.tfstate" > /dev/null
expect_exit 1 "a delete marker: exit 1" "$T" reconcile --state-s3 "$O"
expect_output 'DELETED .*the state object was deleted' "the deletion is reported"
# A version that is not a state is reported by name, and the rest still read.
printf 'garbage' > body && curl -sf -X POST --data-binary @body "$EP/__admin/put?bucket=tfstate&key=third" > /dev/null
put third 20
expect_exit 1 "an unreadable version" "$T" reconcile --state-s3 "s3://tfstate/third?region=us-east-1&endpoint=$EP"
expect_output 'UNREADABLE  s3://tfstate/third\?versionId=v[0-9]+' "named by its version id"
expect_output '1 state versions: 1 attested' "the other version is still matched"

# A new lineage put in place of the old one: reported with its S3 time.
put other/terraform.tfstate 1
state 1 9e9e9e9e-0000-4000-8000-000000000001 > body &&
	curl -sf -X POST --data-binary @body "$EP/__admin/put?bucket=tfstate&key=other/terraform.tfstate" > /dev/null
expect_exit 1 "a new lineage in the history" "$T" reconcile --state-s3 "$O"
expect_output "lineage     s3://tfstate/other/terraform.tfstate: at 2026-01-01T00:[0-9:]+Z the state's lineage changed from $LIN \\(serial 1\\) to 9e9e9e9e-0000-4000-8000-000000000001 \\(serial 1\\)" \
	"the change of lineage, with its time"

# --record with an S3 source; the record verifies.
expect_exit 1 "--record" "$T" reconcile --record --state-s3 "$URI"
rec=$(head -1 "$W/s/records/000000000013.rec")
check "the summary names the S3 source and the gap" grep -Eq "\"gaps\":\[\{\"lineage\":\"$LIN\",\"serial\":5\}\].*\"kind\":\"s3\",\"name\":\"s3://tfstate/env/terraform.tfstate\"" <<< "$rec"
expect_exit 0 "export" "$T" export --out b
expect_exit 0 "verify" "$T" verify b

# Credentials and URIs.
expect_exit 2 "a wrong secret" env AWS_SECRET_ACCESS_KEY=wrong "$T" reconcile --state-s3 "$URI"
expect_output 'SignatureDoesNotMatch' "the S3 error is named"
check "the secret is not printed" bash -c "! grep -q readonly-secret '$W/last.out' '$W/last.err'"
expect_exit 2 "no key in the URI" "$T" reconcile --state-s3 "s3://tfstate?region=us-east-1&endpoint=$EP"
expect_exit 2 "retention-days refused" "$T" reconcile --state-s3 "$URI&retention-days=3"
expect_exit 2 "not an s3 URI" "$T" reconcile --state-s3 "https://example.com/x"
finish
