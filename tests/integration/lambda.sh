#!/usr/bin/env bash
# `tfattest lambda` driven by a Runtime API double (tests/service/lambda_runtime_double.py)
# with Function URL events: records made for the IAM principal verify, and their identity
# section names it; refusals (policy, malformed, oversized, no IAM context, an ID token)
# are Function URL responses with nothing appended; bad configuration is an init error.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2
SRC=$(realpath "${TFA_SOURCE_DIR:?TFA_SOURCE_DIR must name the source tree}")
DOUBLE=$SRC/tests/service/lambda_runtime_double.py
PY=/usr/bin/python3
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL TFATTEST_SEQUENCER
check() {
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}

CI=arn:aws:sts::111122223333:assumed-role/tfattest-ci/GitHubActions
OTHER=arn:aws:sts::111122223333:assumed-role/developer/alice
new_ec_key k.pem
new_ec_key other.pem
"$T" init --store s --chain prod --key file:k.pem > /dev/null || exit 2
# An issuer of CI ID tokens (keys in a file): a token adds its claims to the IAM identity,
# and a rule may require them (imports only from acme/infra's main branch).
ISS=https://token.example
$PY "$SRC/tests/service/oidc_issuer.py" keys --dir oidc > /dev/null || exit 2
cp oidc/jwks.json jwks.json
mint() { $PY "$SRC/tests/service/oidc_issuer.py" mint --dir oidc --iss "$ISS" "$@"; }
GOOD=$(mint --claims '{"repository": "acme/infra", "ref": "refs/heads/main", "aws_account_id": "999999999999", "email": "dev@example.com"}')
EXPIRED=$(mint --ttl -600 --claims '{"repository": "acme/infra"}')
NONE=$(mint --alg none --claims '{"repository": "acme/infra"}')
STRANGER=$(mint --iss https://elsewhere.example --claims '{"repository": "acme/infra"}')
cat > policy.json << EOF
{"issuers": [{"issuer": "$ISS", "jwks_file": "jwks.json", "audience": "tfattest"}],
 "allow": [{"issuer": "aws-iam", "subject": "arn:aws:sts::111122223333:assumed-role/tfattest-ci/*",
            "chains": ["prod"], "events": ["apply", "destroy"]},
           {"issuer": "aws-iam", "subject": "arn:aws:sts::111122223333:assumed-role/tfattest-ci/*",
            "claims": {"repository": "acme/infra", "ref": "refs/heads/main"},
            "chains": ["prod"], "events": ["import"]}]}
EOF

# Writes the double's plan: $1 file, then the events as Python expressions.
PLAN_PY=$(cat << 'EOF'
import json, sys
out, CI, OTHER = sys.argv[1:4]
def req(key, event="apply", chain="prod", extra=None):
    r = {"type": "tfattest.record-request", "chain_id": chain, "idempotency_key": key,
         "event": {"type": event, "status": "succeeded", "exit_code": 0},
         "terraform": {"version": "1.11.4", "counts": {"create": 1, "update": 0, "delete": 0},
                       "changes": [{"address": "aws_s3_bucket.logs", "action": "create"}]},
         "context": {"ci": {"provider": "github-actions", "repository": "acme/infra",
                            "run_id": "42"}}}
    if extra: r["terraform"].update(extra)
    return json.dumps(r)
steps = json.load(sys.stdin)
events = []
for s in steps:
    if "req" in s:
        s["body"] = req(*s.pop("req"))
    if "req_extra" in s:
        s["body"] = req(s.pop("key"), extra=s.pop("req_extra"))
    events.append(s)
json.dump({"events": events}, open(out, "w"))
EOF
)
plan() {
	$PY -c "$PLAN_PY" "$1" "$CI" "$OTHER"
}

# Runs `tfattest lambda` against the double until the double ends; $1 the plan,
# $2 extra double options, the rest `env` arguments for tfattest.
run_lambda() {
	local p=$1 opts=$2
	shift 2
	rm -f port result.json
	$PY "$DOUBLE" --port-file port --plan "$p" --result result.json --timeout 60 $opts &
	local dpid=$!
	for _ in $(seq 200); do [ -s port ] && break; sleep 0.05; done
	[ -s port ] || { fail "the Runtime API double did not start"; return 1; }
	env AWS_LAMBDA_RUNTIME_API="127.0.0.1:$(cat port)" "$@" "$T" lambda > lambda.out 2> lambda.err
	echo $? > lambda.rc
	wait $dpid
	echo $? > double.rc
}

# ---- the main run: a file policy, a file key, an fs store ------------------------------
echo '[
 {"name": "recorded", "arn": "'$CI'", "req": ["lambda-test-key-0001"],
  "expect": {"status": 200, "reply_type": "tfattest.record-reply"}},
 {"name": "recorded, base64 body, /v1/records", "arn": "'$CI'", "req": ["lambda-test-key-0002", "destroy"],
  "base64": true, "path": "/v1/records", "expect": {"status": 200, "reply_type": "tfattest.record-reply"}},
 {"name": "retry with the same key", "arn": "'$CI'", "req": ["lambda-test-key-0001"],
  "expect": {"status": 200, "reply_type": "tfattest.record-reply"}},
 {"name": "a principal the policy does not allow", "arn": "'$OTHER'", "req": ["lambda-test-key-0003"],
  "expect": {"status": 403, "error_has": "subject"}},
 {"name": "an event the policy does not allow", "arn": "'$CI'", "req": ["lambda-test-key-0004", "import"],
  "expect": {"status": 403}},
 {"name": "malformed body", "arn": "'$CI'", "body": "{\"type\": ",
  "expect": {"status": 400}},
 {"name": "an attribute value smuggled in", "arn": "'$CI'", "key": "lambda-test-key-0005",
  "req_extra": {"changes": [{"address": "aws_db_instance.db", "action": "create", "after": {"password": "hunter2-smuggled"}}]},
  "expect": {"status": 400}},
 {"name": "oversized body", "arn": "'$CI'", "body_size": 262145,
  "expect": {"status": 413}},
 {"name": "no IAM context", "arn": null, "req": ["lambda-test-key-0006"],
  "expect": {"status": 403, "error_has": "AWS_IAM"}},
 {"name": "a token the policy trusts: its claims allow an import", "arn": "'$CI'",
  "req": ["lambda-test-key-0007", "import"], "headers": {"x-tfattest-id-token": "'$GOOD'"},
  "expect": {"status": 200, "reply_type": "tfattest.record-reply"}},
 {"name": "an expired token", "arn": "'$CI'", "req": ["lambda-test-key-0008", "import"],
  "headers": {"x-tfattest-id-token": "'$EXPIRED'"}, "expect": {"status": 401}},
 {"name": "alg none", "arn": "'$CI'", "req": ["lambda-test-key-0009", "import"],
  "headers": {"x-tfattest-id-token": "'$NONE'"}, "expect": {"status": 401}},
 {"name": "a token from an issuer the policy does not list", "arn": "'$CI'",
  "req": ["lambda-test-key-0011", "import"], "headers": {"x-tfattest-id-token": "'$STRANGER'"},
  "expect": {"status": 401, "error_has": "not one the policy trusts"}},
 {"name": "not a Function URL event", "raw": "{\"hello\": 1}",
  "expect": {"kind": "error", "error_type": "tfattest.InvalidEvent"}}
]' | plan main.json
run_lambda main.json "" TFATTEST_KEY=file:k.pem TFATTEST_STORE="$W/s" TFATTEST_POLICY="$W/policy.json"
check "the double saw every invocation answered as expected" [ "$(cat double.rc)" = 0 ]
[ "$(cat double.rc)" = 0 ] || sed 's/^/    /' result.json lambda.err >&2
check "the runtime exits 2 when the Runtime API goes away" [ "$(cat lambda.rc)" = 2 ]
check "the retry returned the first record, replayed" $PY -c "
import json
a = json.load(open('result.json'))['answers']
first, retry = a[0]['reply'], a[2]['reply']
assert first['seq'] == 1 and first['replayed'] is False, first
assert retry['seq'] == 1 and retry['replayed'] is True and retry['hash'] == first['hash'], retry
assert a[1]['reply']['seq'] == 2"
check "exactly three records were appended" [ "$(ls s/records | grep -c '\.rec$')" = 3 ]
check "nothing smuggled reached the store" sh -c '! grep -rq hunter2 s'
check "one JSON access-log line per invocation, naming the subject" $PY -c "
import json
lines = [json.loads(l) for l in open('lambda.err') if l.startswith('{')]
access = [l for l in lines if 'request_id' in l]
assert len(access) == 14, len(access)
assert access[0]['subject'] == '$CI' and access[0]['status'] == 200 and access[0]['outcome'] == 'recorded'
assert access[3]['status'] == 403 and access[7]['status'] == 413
assert [x['status'] for x in access[9:12]] == [200, 401, 401], access[9:12]
assert access[13]['outcome'] == 'invalid-event'"
check "no token in the logs" sh -c "! grep -qF -e '${GOOD##*.}' -e '${EXPIRED##*.}' lambda.err lambda.out"

expect_exit 0 "the records export" "$T" export --store s --key file:k.pem --out bundle
expect_exit 0 "and verify" "$T" verify bundle --expect-key-fingerprint "$("$T" pubkey --key file:k.pem | tail -1)"
check "their identity section names the IAM principal, verified by the lambda front end" $PY -c "
import json, glob
arts = sorted(glob.glob('bundle/artifacts/*.json'))
assert len(arts) == 3, arts
for f in arts:
    a = json.load(open(f))
    i = a['identity']
    assert i['method'] == 'aws-iam' and i['issuer'] == 'aws-iam' and i['subject'] == '$CI', i
    assert i['claims']['aws_account_id'] == '111122223333', i
    assert 'lambda' in json.dumps(i), i
    assert a['context'].get('claimed_by') == 'client', a['context']
i = json.load(open(arts[2]))['identity']
assert i['claims']['oidc_issuer'] == '$ISS' and i['claims']['repository'] == 'acme/infra', i
assert i['claims']['aws_account_id'] == '111122223333', i
assert 'email' not in i['claims'], i
assert i['audience'] == 'tfattest' and 'expires_at' in i, i"

# ---- the policy inline, as the Terraform module passes it ------------------------------
echo '[{"name": "recorded with an inline policy", "arn": "'$CI'", "req": ["lambda-test-key-0010"],
        "expect": {"status": 200, "reply_type": "tfattest.record-reply"}}]' | plan inline.json
run_lambda inline.json "" TFATTEST_KEY=file:k.pem TFATTEST_STORE="$W/s" TFATTEST_POLICY="$(cat policy.json)"
check "an inline JSON policy works" [ "$(cat double.rc)" = 0 ]
check "the chain has four records" [ "$(ls s/records | grep -c '\.rec$')" = 4 ]

# ---- init errors: reported to /runtime/init/error, exit 2 --------------------------------
# init_error DESC MESSAGE EXIT ENV...: EXIT as the CLI's contract has it (1 input rejected, 2 configuration).
init_error() {
	local desc=$1 want=$2 code=$3
	shift 3
	echo '[]' | plan none.json
	run_lambda none.json --expect-init-error "$@"
	check "init error, $desc: reported to the Runtime API" [ "$(cat double.rc)" = 0 ]
	check "init error, $desc: the runtime exits $code" [ "$(cat lambda.rc)" = "$code" ]
	check "init error, $desc: the message names it" $PY -c "
import json, sys
e = json.load(open('result.json'))['init_error']
assert e['type_header'] == 'tfattest.InitError' and e['doc']['errorType'] == 'tfattest.InitError', e
assert sys.argv[1] in e['doc']['errorMessage'], e" "$want"
}
init_error "no key" "TFATTEST_KEY is not set" 2 TFATTEST_STORE="$W/s" TFATTEST_POLICY="$W/policy.json"
init_error "no store" "TFATTEST_STORE is not set" 2 TFATTEST_KEY=file:k.pem TFATTEST_POLICY="$W/policy.json"
init_error "no policy" "TFATTEST_POLICY is not set" 2 TFATTEST_KEY=file:k.pem TFATTEST_STORE="$W/s"
init_error "a policy that is not JSON" "TFATTEST_POLICY" 1 TFATTEST_KEY=file:k.pem TFATTEST_STORE="$W/s" \
	TFATTEST_POLICY='{"allow": ['
init_error "a policy file that is missing" "TFATTEST_POLICY" 2 TFATTEST_KEY=file:k.pem TFATTEST_STORE="$W/s" \
	TFATTEST_POLICY="$W/nope.json"
init_error "a key that is not the chain's" "is not the current key" 1 TFATTEST_KEY=file:other.pem \
	TFATTEST_STORE="$W/s" TFATTEST_POLICY="$W/policy.json"
check "nothing was appended by the failed starts" [ "$(ls s/records | grep -c '\.rec$')" = 4 ]

expect_exit 2 "without AWS_LAMBDA_RUNTIME_API" env -u AWS_LAMBDA_RUNTIME_API "$T" lambda
expect_output "AWS_LAMBDA_RUNTIME_API is not set" "it says it runs inside Lambda"
expect_exit 2 "arguments are refused" "$T" lambda --store s
finish
