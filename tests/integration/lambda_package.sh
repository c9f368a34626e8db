#!/usr/bin/env bash
# scripts/package-lambda.sh: the zip holds bootstrap, the binary and every library it
# loads but glibc's; unzipped into an empty directory it runs from an empty environment
# (env -i, only the variables Lambda sets and the function's own) against the Runtime
# API double, and the record it makes verifies. The zip is reproducible.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2
SRC=$(realpath "${TFA_SOURCE_DIR:?TFA_SOURCE_DIR must name the source tree}")
PY=/usr/bin/python3
for t in zip unzip ldd objdump; do
	command -v "$t" > /dev/null || { echo "skip: $t is not installed"; exit 77; }
done
check() {
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}
CI=arn:aws:sts::111122223333:assumed-role/tfattest-ci/GitHubActions

new_ec_key k.pem
"$T" init --store s --chain prod --key file:k.pem > /dev/null || exit 2
echo '{"allow": [{"issuer": "aws-iam", "subject": "arn:aws:sts::111122223333:assumed-role/tfattest-ci/*",
  "chains": ["prod"], "events": ["apply"]}]}' > policy.json

expect_exit 0 "the package is built" bash "$SRC/scripts/package-lambda.sh" --binary "$T" --policy policy.json fn.zip
expect_exit 0 "built again" bash "$SRC/scripts/package-lambda.sh" --binary "$T" --policy policy.json fn2.zip
check "the zip is reproducible" cmp -s fn.zip fn2.zip
expect_exit 2 "a policy that is not JSON is refused" bash "$SRC/scripts/package-lambda.sh" --binary "$T" \
	--policy k.pem bad.zip
expect_exit 2 "OUT must be a .zip" bash "$SRC/scripts/package-lambda.sh" --binary "$T" fn.tar

mkdir pkg
unzip -q fn.zip -d pkg
check "bootstrap is at the top and executable" [ -x pkg/bootstrap ]
check "the binary is in bin/" [ -x pkg/bin/tfattest ]
check "the policy is in the package" cmp -s policy.json pkg/policy.json
check "libcurl, libcrypto and libcjson are bundled" [ -f pkg/lib/libcurl.so.4 ] && [ -f pkg/lib/libcrypto.so.3 ] \
	&& [ -f pkg/lib/libcjson.so.1 ]
check "glibc is not bundled" sh -c '! ls pkg/lib | grep -Eq "^(libc|libm|libpthread|libdl|ld-linux.*)\.so"'
# Every library the binary loads from the package's lib/ resolves there, or is glibc's.
env -i LD_LIBRARY_PATH="$W/pkg/lib" ldd pkg/bin/tfattest > ldd.out 2>&1
check "every library but glibc's resolves to the package" $PY -c "
import re, sys
bad = []
for line in open('ldd.out'):
    m = re.match(r'\s*(\S+) => (\S+)', line)
    if not m:
        continue
    name, path = m.groups()
    if re.match(r'(libc|libm|libdl|libpthread|librt|libresolv|libutil|libnsl)\.so', name):
        continue
    if path == 'not' or not path.startswith('$W/pkg/lib/'):
        bad.append(line.strip())
assert not bad, bad"

# The run: empty environment, the variables Lambda sets, the function's configuration.
echo '{"events": [
 {"name": "recorded", "arn": "'$CI'", "body": "{\"type\":\"tfattest.record-request\",\"chain_id\":\"prod\",\"idempotency_key\":\"package-test-0001\",\"event\":{\"type\":\"apply\",\"status\":\"succeeded\",\"exit_code\":0},\"terraform\":{\"version\":\"1.11.4\"}}",
  "expect": {"status": 200, "reply_type": "tfattest.record-reply"}},
 {"name": "refused", "arn": "arn:aws:iam::111122223333:user/mallory", "body": "{\"type\":\"tfattest.record-request\",\"chain_id\":\"prod\",\"idempotency_key\":\"package-test-0002\",\"event\":{\"type\":\"apply\",\"status\":\"succeeded\",\"exit_code\":0}}",
  "expect": {"status": 403}}]}' > plan.json
$PY "$SRC/tests/service/lambda_runtime_double.py" --port-file port --plan plan.json --result result.json \
	--timeout 60 &
dpid=$!
for _ in $(seq 200); do [ -s port ] && break; sleep 0.05; done
(cd pkg && env -i AWS_LAMBDA_RUNTIME_API="127.0.0.1:$(cat ../port)" LAMBDA_TASK_ROOT="$W/pkg" \
	AWS_REGION=eu-west-1 AWS_LAMBDA_FUNCTION_NAME=tfattest-service _HANDLER=bootstrap \
	TFATTEST_KEY="file:$W/k.pem" TFATTEST_STORE="$W/s" TFATTEST_POLICY=policy.json \
	./bootstrap > ../run.out 2> ../run.err)
echo "$?" > run.rc
wait $dpid
drc=$?
check "from an empty environment, every invocation was answered as expected" [ "$drc" = 0 ]
[ "$drc" = 0 ] || sed 's/^/    /' result.json run.err >&2
check "the runtime exits when the Runtime API goes away" [ "$(cat run.rc)" = 2 ]
check "one record was appended" [ "$(ls s/records | grep -c '\.rec$')" = 1 ]
expect_exit 0 "it verifies" "$T" export --store s --key file:k.pem --out bundle
expect_exit 0 "and verifies" "$T" verify bundle
check "for the IAM principal" $PY -c "
import json, glob
a = json.load(open(sorted(glob.glob('bundle/artifacts/*.json'))[0]))
assert a['identity']['subject'] == '$CI', a['identity']"
finish
