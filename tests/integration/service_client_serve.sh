#!/usr/bin/env bash
# The service client against a real `tfattest serve` on loopback TLS, with
# tokens from the test issuer: `record --service` and `apply --service` make
# records that verify offline and carry the token's verified identity; a
# retry with the run's idempotency key is the first record, appended once; a
# refused request is spooled and `record --flush-spool --service` sends it
# later with its same key.
. "$(dirname "$0")/serve_lib.sh"
cd "$W" || exit 2
TF=$SRC/tests/integration/standin/terraform
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN
unset TFATTEST_OIDC_TOKEN TFATTEST_ID_TOKEN TFATTEST_STORE TFATTEST_KEY
export TFATTEST_SPOOL=$W/spool TFATTEST_SERVICE_RETRY_BASE_S=0 STANDIN_LOG=$W/tf.log

new_ec_key k.pem
K=file:$W/k.pem
"$T" pubkey --key "$K" > pub.out || exit 2
head -n -1 pub.out > pub.pem
FPR=$(tail -1 pub.out)
"$T" init --store s --chain prod --key "$K" > /dev/null || exit 2
make_tls tls
make_issuer iss
serve_start srv --listen 127.0.0.1:0 --store s --key "$K" --policy iss/policy.json \
	--tls-cert tls/tls.crt --tls-key tls/tls.key --access-log access.log
URL="https://$ADDR/v1/records"
token iss repo:acme/infra:ref:refs/heads/main repository=acme/infra > tok
token iss repo:evil/infra:ref:refs/heads/main > evil-tok
cp "$PLANS/show-basic-create.json" plan.json
SVC=(--service "$URL" --chain prod --expect-key-fingerprint "$FPR" --public-key "$W/pub.pem"
	--service-ca "$W/tls/ca.crt")
no_token() { ! grep -qF "$(cut -d. -f3 tok)" "$W/last.out" "$W/last.err" access.log; }

expect_exit 0 "record --service" "$T" record "${SVC[@]}" --id-token tok --plan plan.json
expect_output '^recorded seq 1 in https://' "recorded as seq 1"
check "the token is never printed or logged" no_token
KEY=$(grep -oE 'idempotency key [0-9a-f]{32}' "$W/last.err" | head -1 | cut -d' ' -f3)
expect_exit 0 "the same run retried" "$T" record "${SVC[@]}" --id-token tok --idempotency-key "$KEY" \
	--plan plan.json
expect_output 'recorded seq 1 .*already' "the retry is the first record"
check "appended once" [ "$(head_seq s)" = 1 ]

mkdir work && cd work || exit 2
echo show-basic-create.json > plan.bin
expect_exit 0 "apply --service" "$T" apply "${SVC[@]}" --id-token ../tok -- "$TF" apply -auto-approve plan.bin
expect_output 'recorded seq 2 \(apply, succeeded, exit 0\) in https://' "apply: recorded as seq 2"
# The runner cannot read the store: the hash it prints is the chain's, as the reply was checked.
expect_output "the service's record seq 2 has hash sha256:[0-9a-f]{64}$" "apply: the record's hash is printed"
H=$(sed -n "s/.*record seq 2 has hash \(sha256:[0-9a-f]*\)$/\1/p" "$W/last.err")
CHAIN_H=$("$T" log --store "$W/s" --key "$K" --json 2> /dev/null |
	sed -n 's/^{"seq":2,.*"hash":"\(sha256:[0-9a-f]*\)".*/\1/p')
check "the hash printed is the chain's hash of seq 2" [ "${H:-no hash}" = "${CHAIN_H:-no chain hash}" ]
cd "$W" || exit 2

# A subject the policy does not allow: refused, spooled; sent later with a token that may.
expect_exit 2 "a subject the policy refuses" "$T" record "${SVC[@]}" --id-token evil-tok --plan plan.json
expect_output 'refused the record \(HTTP 403' "the refusal is named"
expect_output 'spooled to' "the refused request is spooled"
KEY3=$(grep -oE 'idempotency key [0-9a-f]{32}' "$W/last.err" | head -1 | cut -d' ' -f3)
check "nothing appended" [ "$(head_seq s)" = 2 ]
expect_exit 0 "flush-spool --service" "$T" record --flush-spool "${SVC[@]}" --id-token tok
expect_output '1 recorded, 0 already recorded' "the spooled request is recorded"
check "appended as seq 3" [ "$(head_seq s)" = 3 ]

expect_exit 0 "export" "$T" export --store s --key "$K" --out bundle
expect_exit 0 "the records verify" "$T" verify bundle --expect-key-fingerprint "$FPR"
check "identities and keys as sent" "$PY" - bundle "$KEY" "$KEY3" << 'PYEOF'
import json, sys
d, k1, k3 = sys.argv[1:]
arts = [json.load(open("%s/artifacts/%012d.json" % (d, n))) for n in (1, 2, 3)]
ok = all(a["identity"]["subject"] == "repo:acme/infra:ref:refs/heads/main" and
         a["identity"]["verified_by"] == "serve" and a["context"].get("claimed_by") == "client"
         for a in arts)
ok = ok and arts[0]["event"]["idempotency_key"] == k1 and arts[2]["event"]["idempotency_key"] == k3
ok = ok and arts[0]["terraform"]["changes"] and arts[1]["event"]["type"] == "apply"
sys.exit(0 if ok else 1)
PYEOF

serve_stop || fail "the service did not exit cleanly"
finish
