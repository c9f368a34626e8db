#!/usr/bin/env bash
# The service core end to end (through tests/tools/service_record.c, with a
# file key and the local store): records made for a verified identity and a
# request verify after `tfattest export` + `tfattest verify`; their identity
# section is the identity given, their context is marked as claimed; a retry
# is answered with the first record; log, show and report tell the verified
# identity from the claimed context.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL TFATTEST_IDEMPOTENCY_KEY
SR=${TFA_SERVICE_RECORD:?TFA_SERVICE_RECORD must name the service_record test program}
check() {
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}
new_ec_key k.pem
"$T" init --store s --chain prod --key file:k.pem > /dev/null || exit 2
cat > policy.json << 'P'
{"issuers": [{"issuer": "https://token.example", "audience": "tfattest", "jwks_file": "jwks.json"}],
 "allow": [{"issuer": "https://token.example", "subject": "repo:acme/infra:ref:refs/heads/*",
            "chains": ["prod"], "events": ["apply", "destroy"]},
           {"issuer": "aws-iam", "subject": "arn:aws:sts::123456789012:assumed-role/ci/*",
            "chains": ["prod"], "events": ["apply"]}]}
P
request() { # KEY EVENT
	cat << R
{"type": "tfattest.record-request", "chain_id": "prod", "idempotency_key": "$1",
 "event": {"type": "$2", "status": "succeeded", "exit_code": 0},
 "terraform": {"plan_sha256": "sha256:0000000000000000000000000000000000000000000000000000000000000001",
               "changes": [{"address": "terraform_data.a", "action": "create"}],
               "counts": {"create": 1, "update": 0, "delete": 0, "replace": 0, "read": 0, "no-op": 0,
                          "forget": 0, "other": 0}},
 "context": {"ci": {"provider": "github-actions", "repository": "claimed/by-the-client"}}}
R
}
request service-run-0001.a apply > r1.json
request service-run-0002.a destroy > r2.json
request service-run-0003.a apply > r3.json
OIDC=(oidc https://token.example repo:acme/infra:ref:refs/heads/main tfattest 1764000000 1764000300
	repository=acme/infra ref=refs/heads/main)
expect_exit 0 "record 1 for an OIDC identity" "$SR" s file:k.pem policy.json r1.json "${OIDC[@]}" &&
	expect_output '"seq":1' "record 1 is seq 1"
expect_exit 0 "record 2 (destroy)" "$SR" s file:k.pem policy.json r2.json "${OIDC[@]}"
expect_exit 0 "record 3 for an IAM principal" "$SR" s file:k.pem policy.json r3.json \
	aws-iam aws-iam arn:aws:sts::123456789012:assumed-role/ci/job-7
expect_exit 0 "request 1 again" "$SR" s file:k.pem policy.json r1.json "${OIDC[@]}" &&
	expect_output '"replayed":true' "the retry is a replay" && expect_output '"seq":1' "of seq 1"
expect_exit 1 "a destroy for the IAM principal" "$SR" s file:k.pem policy.json r2.json \
	aws-iam aws-iam arn:aws:sts::123456789012:assumed-role/ci/job-7 && expect_output "^403$" "is refused: 403"
expect_exit 0 "export" "$T" export --store s --key file:k.pem --out b
expect_exit 0 "verify" "$T" verify b --require-genesis &&
	expect_output "Hash chain valid \\(3 artifacts\\)" "three records, the retry appended nothing"
check "identity sections are the identities given" /usr/bin/python3 -c '
import json
a = [json.load(open("b/artifacts/%012d.json" % i)) for i in (1, 2, 3)]
want = {"method": "oidc", "issuer": "https://token.example", "subject": "repo:acme/infra:ref:refs/heads/main",
        "audience": "tfattest", "issued_at": "2025-11-24T16:00:00Z", "expires_at": "2025-11-24T16:05:00Z",
        "claims": {"repository": "acme/infra", "ref": "refs/heads/main"}, "verified_by": "serve"}
for x in a[:2]:
    got = dict(x["identity"]); got.pop("verified_at")
    assert got == want, got
got = dict(a[2]["identity"]); got.pop("verified_at")
assert got == {"method": "aws-iam", "issuer": "aws-iam", "verified_by": "lambda",
               "subject": "arn:aws:sts::123456789012:assumed-role/ci/job-7"}, got
for x in a:
    assert x["context"]["claimed_by"] == "client"
    assert x["context"]["ci"]["repository"] == "claimed/by-the-client"
assert [x["event"]["idempotency_key"] for x in a] == ["service-run-0001.a", "service-run-0002.a", "service-run-0003.a"]
'
finish
