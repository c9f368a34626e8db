#!/usr/bin/env bash
# Idempotency keys on the S3 store with the DynamoDB sequencer, against the
# emulators behind tests/aws/store_proxy.py: when every answer to the claim is
# lost, `record` says the outcome is unknown and names the key; the claim
# landed, and a retry with that key finds the record (rolled forward) and
# appends nothing. The chain verifies with each deployment recorded once.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../aws/emulators.sh"
RET=3
aws_emulators_start tfa-store tfa-seq $RET
rc=$?
[ $rc -eq 0 ] || exit $rc
cd "$W" || exit 2
export TFATTEST_AWS_TIMEOUT_MS=1500 TFATTEST_AWS_CONNECT_TIMEOUT_MS=1000 TFATTEST_AWS_MAX_ATTEMPTS=3
unset TFATTEST_STORE TFATTEST_SEQUENCER TFATTEST_KEY TFATTEST_TEST_CRASH_AT TFATTEST_IDEMPOTENCY_KEY
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL
Q="dynamodb://tfa-seq?endpoint=$DDB_ENDPOINT"
S="s3://tfa-store/idem?endpoint=$S3_ENDPOINT&retention-days=$RET"
new_ec_key k.pem
K=file:k.pem
R=(record --store "$S" --sequencer "$Q" --key $K --plan "$PLANS/show-basic-create.json")
lost='["lost_response:0", "lost_response:0", "lost_response:0", "lost_response:0", "lost_response:0"]'

expect_exit 0 "init" "$T" init --store "$S" --sequencer "$Q" --chain idem --key $K
expect_exit 0 "record 1" "$T" "${R[@]}"
# Every answer to the claim lost: the claim landed, the writer cannot know.
aws_fault "$DDB_CTL" "{\"faults\": $lost, \"targets\": [\"UpdateItem\"]}"
expect_exit 2 "every claim answer lost" "$T" "${R[@]}" --idempotency-key ci-run-42.attempt-1 &&
	expect_output "outcome is unknown" "says the outcome is unknown" &&
	expect_output "--idempotency-key ci-run-42.attempt-1" "names the key to retry with" &&
	expect_output "TFATTEST_IDEMPOTENCY_KEY=ci-run-42.attempt-1" "names the environment variable"
aws_fault "$DDB_CTL" '{"faults": [], "targets": []}'
# The retry finds the landed record instead of appending it twice.
expect_exit 0 "retry with the same key" "$T" "${R[@]}" --idempotency-key ci-run-42.attempt-1 &&
	expect_output "^already recorded as seq 2 " "the retry finds seq 2"
expect_exit 0 "the next deployment" "$T" "${R[@]}" && expect_output "^recorded seq 3 " "next is seq 3"
rm -rf "$W/b"
expect_exit 0 "export" "$T" export --store "$S" --sequencer "$Q" --key $K --out "$W/b" &&
	expect_exit 0 "verify" "$T" verify "$W/b" --require-genesis &&
	expect_output "Hash chain valid \\(3 artifacts\\)" "three records: the lost deployment recorded once"
TESTS_RUN=$((TESTS_RUN + 1))
if /usr/bin/python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); sys.exit(a["event"]["idempotency_key"] != "ci-run-42.attempt-1")' \
	"$W/b/artifacts/000000000002.json"; then pass "seq 2 carries the key"; else fail "seq 2 does not carry the key"; fi
finish
