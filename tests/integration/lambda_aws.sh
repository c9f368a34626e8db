#!/usr/bin/env bash
# `tfattest lambda` with the AWS backends: the KMS test double (tests/aws/kms_double.py)
# signs, s3rver and dynalite behind tests/aws/store_proxy.py (which checks every SigV4 and
# Object Lock header) store and sequence, and the Runtime API double feeds Function URL
# events. Credentials come from the environment, as in Lambda. The records verify and name
# the IAM principal; a refused caller appends nothing.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../aws/emulators.sh"
RET=3
aws_emulators_start tfa-lambda tfa-lambda-seq $RET
rc=$?
[ $rc -eq 0 ] || exit $rc
cd "$W" || exit 2
SRC=$(realpath "${TFA_SOURCE_DIR:?TFA_SOURCE_DIR must name the source tree}")
PY=/usr/bin/python3
export TFATTEST_AWS_TIMEOUT_MS=3000 TFATTEST_AWS_CONNECT_TIMEOUT_MS=1000 TFATTEST_AWS_MAX_ATTEMPTS=3
unset TFATTEST_STORE TFATTEST_SEQUENCER TFATTEST_KEY
check() {
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}

# The KMS double accepts the emulators' credentials.
umask 077
$PY -c 'import json, os, sys
json.dump([{"access_key": os.environ["AWS_ACCESS_KEY_ID"],
            "secret_key": os.environ["AWS_SECRET_ACCESS_KEY"]}], open(sys.argv[1], "w"))' creds.json
$PY "$SRC/tests/aws/kms_double.py" --port-file kms.port --ca-out ca.pem --credentials-file creds.json \
	--region "$AWS_REGION" --keys-out keys.json --log kms.jsonl > kms.out 2> kms.err &
KMS_PID=$!
AWS_PIDS+=("$KMS_PID")
for _ in $(seq 300); do [ -s kms.port ] && break; kill -0 $KMS_PID 2> /dev/null || break; sleep 0.1; done
[ -s kms.port ] || { echo "FAIL: the KMS test double did not start" >&2; cat kms.err >&2; exit 1; }
export AWS_CA_BUNDLE=$W/ca.pem
KEY=awskms://127.0.0.1:$(cat kms.port)/alias/tfattest-ec
Q="dynamodb://tfa-lambda-seq?endpoint=$DDB_ENDPOINT"
S="s3://tfa-lambda/chain?endpoint=$S3_ENDPOINT&retention-days=$RET"
"$T" init --store "$S" --sequencer "$Q" --chain prod --key "$KEY" > /dev/null || { fail "init"; exit 1; }

CI=arn:aws:sts::111122223333:assumed-role/tfattest-ci/GitHubActions
POLICY='{"allow": [{"issuer": "aws-iam", "subject": "arn:aws:sts::111122223333:assumed-role/tfattest-ci/*", "chains": ["prod"], "events": ["apply"]}]}'
body() {
	printf '{\\"type\\":\\"tfattest.record-request\\",\\"chain_id\\":\\"prod\\",\\"idempotency_key\\":\\"%s\\",\\"event\\":{\\"type\\":\\"apply\\",\\"status\\":\\"succeeded\\",\\"exit_code\\":0},\\"terraform\\":{\\"version\\":\\"1.11.4\\"}}' "$1"
}
cat > plan.json << EOF
{"events": [
 {"name": "first", "arn": "$CI", "body": "$(body lambda-aws-key-0001)", "expect": {"status": 200, "reply_type": "tfattest.record-reply"}},
 {"name": "second", "arn": "$CI", "body": "$(body lambda-aws-key-0002)", "expect": {"status": 200, "reply_type": "tfattest.record-reply"}},
 {"name": "refused", "arn": "arn:aws:iam::111122223333:user/mallory", "body": "$(body lambda-aws-key-0003)", "expect": {"status": 403}}]}
EOF
$PY "$SRC/tests/service/lambda_runtime_double.py" --port-file rt.port --plan plan.json --result result.json \
	--timeout 90 &
dpid=$!
for _ in $(seq 200); do [ -s rt.port ] && break; sleep 0.05; done
env AWS_LAMBDA_RUNTIME_API="127.0.0.1:$(cat rt.port)" TFATTEST_KEY="$KEY" TFATTEST_STORE="$S" \
	TFATTEST_SEQUENCER="$Q" TFATTEST_POLICY="$POLICY" "$T" lambda > lambda.out 2> lambda.err
wait $dpid
drc=$?
check "KMS, S3 and DynamoDB doubles: every invocation answered as expected" [ "$drc" = 0 ]
[ "$drc" = 0 ] || sed 's/^/    /' result.json lambda.err >&2
check "the KMS double signed, for SigV4-verified requests with the function's credentials" $PY -c "
import json
log = [json.loads(l) for l in open('kms.jsonl')]
signs = [e for e in log if str(e.get('target', '')).endswith('.Sign') and e.get('status') == 200]
assert len(signs) >= 2, [e.get('target') for e in log]
assert all(e.get('sigv4') == 'verified' for e in signs), signs"
expect_exit 0 "the records export" "$T" export --store "$S" --sequencer "$Q" --key "$KEY" --out bundle
expect_exit 0 "and verify, pinned to the KMS key" "$T" verify bundle \
	--expect-key-fingerprint "$("$T" pubkey --key "$KEY" | tail -1)"
check "two records, both for the IAM principal" $PY -c "
import json, glob
arts = sorted(glob.glob('bundle/artifacts/*.json'))
assert len(arts) == 2, arts
for f in arts:
    i = json.load(open(f))['identity']
    assert i['method'] == 'aws-iam' and i['subject'] == '$CI' and i['verified_by'] == 'lambda', i"
finish
