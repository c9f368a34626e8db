#!/usr/bin/env bash
# The attestation service's client: `record --service` and `apply --service`
# against tests/service/fake_service.py over loopback TLS. A record is
# reported only when its reply checks out; 503 + Retry-After and a reply lost
# after the append are retried with the same idempotency key and append
# once; forged replies (another key, a bad signature, altered facts, another
# idempotency key) are refused and spooled, and `record --flush-spool
# --service` sends the spooled request with its same key. The ID token is
# never printed. The aws path is checked by a double that recomputes the
# SigV4 signature with botocore.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2
PY=/usr/bin/python3
$PY -c 'import cryptography, botocore' 2> /dev/null && command -v curl > /dev/null || {
	echo "skip: python3-cryptography, python3-botocore or curl missing"
	exit 77
}
FAKE=$(realpath "$(dirname "$0")/../service/fake_service.py")
TF=$(realpath "$(dirname "$0")/standin/terraform")
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN
unset TFATTEST_OIDC_TOKEN TFATTEST_ID_TOKEN TFATTEST_STORE TFATTEST_KEY AWS_PROFILE
export TFATTEST_SPOOL=$W/spool TFATTEST_SERVICE_RETRY_BASE_S=0 STANDIN_LOG=$W/tf.log
check() {
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}

new_ec_key sk.pem
new_ec_key other.pem
"$T" pubkey --key file:sk.pem > pub.out || exit 2
head -n -1 pub.out > pub.pem
FPR=$(tail -1 pub.out)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.crt \
	-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2> /dev/null || exit 2
TOKEN="eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJNQVJLJHRva2VuIn0.TOKENSIG$RANDOM$RANDOM"
echo "$TOKEN" > token
cp "$PLANS/show-basic-create.json" plan.json

PIDS=""
trap 'for p in $PIDS; do kill $p 2> /dev/null; done; chmod -R u+w "$W" 2> /dev/null; rm -rf "$W"' EXIT
# The AWS credentials the aws cases sign with, and the double checks against (test values).
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
export AWS_REGION=us-east-1 AWS_SESSION_TOKEN="SESSION$RANDOM"
export AWS_CONFIG_FILE=$W/none AWS_SHARED_CREDENTIALS_FILE=$W/none AWS_EC2_METADATA_DISABLED=true
# One double for the whole test; `use SETTINGS` resets it (no records, an empty log) and
# sets its faults (fake_service.py, POST /control).
$PY "$FAKE" --cert "$W/srv.crt" --key "$W/srv.key" --signing-key "$W/sk.pem" \
	--other-key "$W/other.pem" --chain prod --port-file "$W/port" --log "$W/service.log" \
	2> "$W/service.err" &
PIDS="$PIDS $!"
for _ in $(seq 400); do [ -s "$W/port" ] && break; sleep 0.05; done
[ -s "$W/port" ] || {
	echo "the double did not start"
	cat "$W/service.err"
	exit 2
}
URL="https://127.0.0.1:$(cat "$W/port")/v1/records"
LOG=$W/service.log
use() {
	curl -sS --cacert "$W/srv.crt" -o /dev/null -X POST --data-binary \
		"{\"reset\":true,\"busy\":0,\"drop\":0,\"forge\":null,\"bearer\":null,\"sigv4\":null${1:+,$1}}" \
		"https://127.0.0.1:$(cat "$W/port")/control" || {
		echo "cannot reach the double"
		exit 2
	}
}
SVC=(--chain prod --expect-key-fingerprint "$FPR" --public-key pub.pem --service-ca srv.crt)
appends() { wc -l < "$1" | tr -d ' '; }
nspool() { ls "$W/spool" 2> /dev/null | grep -c '\.request$'; }
no_token() { ! grep -q "TOKENSIG" "$W/last.out" "$W/last.err"; }

# A record made through the service, with the token from --id-token.
use "\"bearer\":\"$TOKEN\""
expect_exit 0 "record --service" "$T" record --service "$URL" "${SVC[@]}" --id-token token --plan plan.json
expect_output '^recorded seq 1 in https://127.0.0.1' "recorded message"
expect_output 'idempotency key [0-9a-f]{32} ' "the run's idempotency key is printed"
check "one append" [ "$(appends "$LOG")" = 1 ]
check "the token is never printed" no_token
K1=$(grep -oE 'idempotency key [0-9a-f]{32}' "$W/last.err" | head -1 | cut -d' ' -f3)
check "the record carries the printed key" grep -q "\"$K1\"" "$LOG"

# The same run again with its key: the service's first record, nothing appended.
expect_exit 0 "a retry with the same key" "$T" record --service "$URL" "${SVC[@]}" --id-token token \
	--idempotency-key "$K1" --plan plan.json
expect_output 'recorded seq 1 .*already' "the retry is the first record"
check "still one append" [ "$(appends "$LOG")" = 1 ]

# The token from the environment (GitLab's id_tokens: variable, named by TFATTEST_ID_TOKEN).
expect_exit 0 "token from GitLab's variable" env TFATTEST_ID_TOKEN=MY_ID_TOKEN MY_ID_TOKEN="$TOKEN" \
	"$T" record --service "$URL" "${SVC[@]}" --plan plan.json
check "two appends" [ "$(appends "$LOG")" = 2 ]

# A wrong token: refused (401), not retried, spooled.
echo "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.d3Jvbmc" > bad-token
expect_exit 2 "a wrong token is refused" "$T" record --service "$URL" "${SVC[@]}" --id-token bad-token \
	--plan plan.json
expect_output 'refused the record \(HTTP 401: no valid ID token\)' "the service's refusal is named"
expect_output 'NOT attested' "the failure is clear"
check "refused: spooled" [ "$(nspool)" = 1 ]
rm -rf "$W/spool"

# No token at all: a usage error before anything is sent.
expect_exit 2 "no token" "$T" record --service "$URL" "${SVC[@]}" --plan plan.json
expect_output 'no ID token for the service' "no token: named"

# Options: the pinned key is required, and must be the key of --public-key.
expect_exit 2 "--expect-key-fingerprint is required" "$T" record --service "$URL" --chain prod \
	--public-key pub.pem --id-token token --plan plan.json
expect_exit 2 "--public-key of another key" "$T" record --service "$URL" --chain prod \
	--expect-key-fingerprint "sha256:$(printf '%064d' 0)" --public-key pub.pem --id-token token --plan plan.json
expect_output 'not the pinned key' "a key mismatch is named"

# 503 with Retry-After: retried with the same key, one append.
use '"busy":2'
expect_exit 0 "503 + Retry-After is retried" "$T" record --service "$URL" "${SVC[@]}" --id-token token \
	--plan plan.json
expect_output 'retrying with the same idempotency key in 1 s' "Retry-After is honoured"
check "busy: one append" [ "$(appends "$LOG")" = 1 ]

# The reply lost after the append: the retry finds the record, nothing is appended twice.
use '"drop":1'
expect_exit 0 "a dropped reply is retried" "$T" record --service "$URL" "${SVC[@]}" --id-token token \
	--plan plan.json
expect_output 'already' "the retry is answered with the first record"
check "dropped: exactly one append" [ "$(appends "$LOG")" = 1 ]

# Forged replies: refused, spooled with the run's key; a flush sends it with that key.
for mode in key sig facts idem; do
	rm -rf "$W/spool"
	use "\"forge\":\"$mode\""
	expect_exit 1 "forged reply ($mode) is refused" "$T" record --service "$URL" "${SVC[@]}" \
		--id-token token --plan plan.json
	expect_output 'NOT attested' "forged ($mode): not attested"
	expect_output 'spooled to .*\.request; send it with `tfattest record --flush-spool --service' \
		"forged ($mode): spooled"
	check "forged ($mode): one spooled request" [ "$(nspool)" = 1 ]
done
K=$(grep -oE 'idempotency key [0-9a-f]{32}' "$W/last.err" | head -1 | cut -d' ' -f3)
use "\"bearer\":\"$TOKEN\""
expect_exit 0 "flush-spool --service" "$T" record --flush-spool --service "$URL" "${SVC[@]}" --id-token token
expect_output '1 recorded, 0 already recorded' "the spooled request is recorded"
check "flushed with the run's own key" grep -q "\"$K\"" "$LOG"
check "flushed: spool empty" [ "$(nspool)" = 0 ]

# No service at all: bounded retries, then spooled; the flush later appends it once.
rm -rf "$W/spool"
DEAD="https://127.0.0.1:1/v1/records"
expect_exit 2 "an unreachable service" env TFATTEST_SERVICE_MAX_ATTEMPTS=2 "$T" record --service "$DEAD" \
	"${SVC[@]}" --id-token token --plan plan.json
expect_output 'attempt 1 of 2' "retried a bounded number of times"
expect_output 'spooled to' "unreachable: spooled"
K=$(grep -oE 'idempotency key [0-9a-f]{32}' "$W/last.err" | head -1 | cut -d' ' -f3)
use "\"bearer\":\"$TOKEN\""
expect_exit 0 "flush after the outage" "$T" record --flush-spool --service "$URL" "${SVC[@]}" --id-token token
check "the outage's record has its key" grep -q "\"$K\"" "$LOG"
expect_exit 0 "a second flush" "$T" record --flush-spool --service "$URL" "${SVC[@]}" --id-token token
expect_output '0 recorded, 0 already recorded' "nothing left to send"
check "appended once" [ "$(appends "$LOG")" = 1 ]

# apply --service: Terraform runs as usual, the record goes to the service.
mkdir work && cd work || exit 2
echo show-basic-create.json > plan.bin
use "\"bearer\":\"$TOKEN\""
expect_exit 0 "apply --service" "$T" apply --service "$URL" --chain prod --expect-key-fingerprint "$FPR" \
	--public-key ../pub.pem --service-ca ../srv.crt --id-token ../token -- "$TF" apply -auto-approve plan.bin
expect_output 'Apply complete!' "terraform ran"
expect_output 'recorded seq 1 \(apply, succeeded, exit 0\) in https://127.0.0.1' "apply: recorded"
check "apply: one append" [ "$(appends "$LOG")" = 1 ]
check "apply: the token is never printed" no_token
# No token: refused before Terraform runs.
rm -f "$W/tf.log"
expect_exit 2 "apply --service without a token" "$T" apply --service "$URL" --chain prod \
	--expect-key-fingerprint "$FPR" --public-key ../pub.pem --service-ca ../srv.crt \
	-- "$TF" apply -auto-approve plan.bin
expect_output 'was not run' "apply: terraform not run without a token"
check "apply: terraform did not run" [ ! -s "$W/tf.log" ]
# A service that forges: Terraform ran, the record is spooled with the flush command.
rm -rf "$W/spool"
use '"forge":"sig"'
expect_exit 2 "apply --service, forged reply" "$T" apply --service "$URL" --chain prod \
	--expect-key-fingerprint "$FPR" --public-key ../pub.pem --service-ca ../srv.crt --id-token ../token \
	-- "$TF" apply -auto-approve plan.bin
expect_output 'NOT attested: the signature on the service.s record does not verify' "apply: forged reply named"
expect_output 'append it with `tfattest record --flush-spool --service https' "apply: the flush command"
check "apply: spooled" [ "$(nspool)" = 1 ]
cd "$W" || exit 2

# aws: SigV4 for service lambda, checked with botocore.
if "$T" record --service https://x.lambda-url.us-east-1.on.aws/ --service-auth aws "${SVC[@]}" \
	--plan /nonexistent 2>&1 | grep -q 'no AWS support'; then
	echo "ok - aws: skipped (no AWS support in this build)"
else
	rm -rf "$W/spool"
	use '"sigv4":"us-east-1"'
	expect_exit 0 "aws: a SigV4-signed request" "$T" record --service "$URL" --service-auth aws "${SVC[@]}" \
		--plan plan.json
	check "aws: one append" [ "$(appends "$LOG")" = 1 ]
	no_secret() { ! grep -q "wJalrX\|SESSION" "$W/last.out" "$W/last.err"; }
	check "aws: the secret is never printed" no_secret
	expect_exit 2 "aws: a wrong secret is refused" env AWS_SECRET_ACCESS_KEY=wrong "$T" record --service "$URL" \
		--service-auth aws "${SVC[@]}" --plan plan.json
	expect_output 'HTTP 403: the SigV4 signature does not verify' "aws: the double checked the signature"
	# With the job's ID token for its claims, sent signed in x-tfattest-id-token.
	use "\"sigv4\":\"us-east-1\",\"bearer\":\"$TOKEN\""
	expect_exit 0 "aws: with an ID token" "$T" record --service "$URL" --service-auth aws "${SVC[@]}" \
		--id-token token --plan plan.json
	check "aws: with an ID token, one append" [ "$(appends "$LOG")" = 1 ]
	check "aws: the token is never printed" no_token
	expect_exit 2 "aws: without the token the double wants" "$T" record --service "$URL" \
		--service-auth aws "${SVC[@]}" --plan plan.json
	use '"sigv4":"us-east-1"'
	expect_exit 2 "aws: another region is refused" env AWS_REGION=eu-west-1 "$T" record --service "$URL" \
		--service-auth aws "${SVC[@]}" --plan plan.json
	check "aws: nothing appended" [ "$(appends "$LOG")" = 0 ]
fi

finish
