#!/usr/bin/env bash
# The S3 Object Lock store with the DynamoDB sequencer, against s3rver and
# dynalite on 127.0.0.1, each behind tests/aws/store_proxy.py, which checks
# every request's SigV4 with botocore, asserts the Object Lock and checksum
# headers of every PutObject against its body, and injects faults.
#
#  1. init, record, export and verify end to end (and read-only export by listing)
#  2. usage errors
#  3. 4 concurrent writers x 25 records: a contiguous chain 1..100 that verifies
#  4. faults on either service: retried, or one clean error line and exit 2;
#     never a fork or a half-written record; the next record succeeds
#  5. kill -9 between the DynamoDB claim and the S3 write, rolled forward
#  6. a record too large for a DynamoDB item is refused before anything is written
#  7. with the KMS test double: S3 + DynamoDB + awskms:// end to end
#  8. a record body altered on its way to a service that checks no checksum:
#     record fails, and every later command names the S3 copy as the wrong one
#
# Each part works on chains of its own, so the parts are units (see `unit` in
# tests/lib/common.sh): with TFA_SHARD=I/N a run starts its own emulators and
# does its shard's parts.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../aws/emulators.sh"
# Declared in this order on every run: the longest first, dealt round-robin.
unit retried
unit exhausted
unit conc
unit crash
unit e2e
unit kms
unit alter
# PutObject requests the wire check must find at least (so that it checks something).
PUTS_MIN=0
RET=3
aws_emulators_start tfa-store tfa-seq $RET
rc=$?
[ $rc -eq 0 ] || exit $rc
cd "$W" || exit 2
# Fail fast on injected stalls: 1.5 s per attempt, 3 attempts.
export TFATTEST_AWS_TIMEOUT_MS=1500 TFATTEST_AWS_CONNECT_TIMEOUT_MS=1000 TFATTEST_AWS_MAX_ATTEMPTS=3
unset TFATTEST_STORE TFATTEST_SEQUENCER TFATTEST_KEY TFATTEST_TEST_CRASH_AT

Q="dynamodb://tfa-seq?endpoint=$DDB_ENDPOINT"
store() { echo "s3://tfa-store/$1?endpoint=$S3_ENDPOINT&retention-days=$RET"; }
PLAN=$PLANS/show-basic-create.json
new_ec_key k.pem
K=file:k.pem

# objects CHAIN: the record seqs s3rver holds for a chain, one per line.
objects() {
	ls "$W/s3data/tfa-store/$1/records" 2> /dev/null | sed -n 's/^\([0-9]\{12\}\)\.rec\._S3rver_object$/\1/p' | sed 's/^0*//'
}
# ddb_head CHAIN: the sequencer's head for a chain.
ddb_head() {
	"$AWS_PY" - "$DDB_ENDPOINT" "s3://tfa-store/$1" <<-'EOF'
	import os, sys, botocore.session
	c = botocore.session.get_session().create_client("dynamodb", endpoint_url=sys.argv[1],
	                                                  region_name=os.environ["AWS_REGION"])
	r = c.get_item(TableName="tfa-seq", Key={"chain": {"S": sys.argv[2]}}, ConsistentRead=True)
	print(r["Item"]["seq"]["N"])
	EOF
}
# check_chain CHAIN N DESC: the export (which rolls forward a claimed head)
# verifies with records 1..N, and S3 then holds exactly records 1..N.
check_chain() {
	local want got
	rm -rf "$W/b"
	expect_exit 0 "$3: export" "$T" export --store "$(store "$1")" --sequencer "$Q" --key $K --out "$W/b" &&
		expect_exit 0 "$3: verify" "$T" verify "$W/b" --require-genesis &&
		expect_output "Hash chain valid \\($2 artifacts\\)" "$3: chain of $2"
	want=$(seq 1 "$2" | tr '\n' ' ')
	got=$(objects "$1" | sort -n | tr '\n' ' ')
	TESTS_RUN=$((TESTS_RUN + 1))
	[ "$want" = "$got" ] && pass "$3: S3 holds records 1..$2" || fail "$3: S3 holds [$got], wanted 1..$2"
}
# one_error_line DESC: the last command printed exactly one line, an error, on stderr.
one_error_line() {
	TESTS_RUN=$((TESTS_RUN + 1))
	if [ "$(wc -l < "$W/last.err")" -eq 1 ] && grep -q '^tfattest: error: ' "$W/last.err"; then
		pass "$1: one error line"
	else
		fail "$1: stderr is not one error line"
		sed 's/^/    /' "$W/last.err" >&2
	fi
}

# chain_start CHAIN: a chain of one record for the fault parts; sets S, C and n.
chain_start() {
	C=$1
	S=$(store "$C")
	n=1
	expect_exit 0 "$C: init" "$T" init --store "$S" --sequencer "$Q" --chain "$C" --key $K
	expect_exit 0 "$C: record 1" "$T" record --store "$S" --sequencer "$Q" --key $K --plan "$PLAN"
	PUTS_MIN=$((PUTS_MIN + 1))
}

# ---- 1. end to end ---------------------------------------------------------
if mine e2e; then
PUTS_MIN=$((PUTS_MIN + 5))
S=$(store main)
expect_exit 0 "init" "$T" init --store "$S" --sequencer "$Q" --chain main --key $K
expect_exit 2 "second init refused" "$T" init --store "$S" --sequencer "$Q" --chain main --key $K &&
	expect_output "s3://tfa-store/main already holds a chain" "second init: reason"
for i in 1 2 3; do
	expect_exit 0 "record $i" "$T" record --store "$S" --sequencer "$Q" --key $K --plan "$PLAN"
	expect_output "recorded seq $i " "record $i: seq"
done
# The environment variables work as the options do.
expect_exit 0 "record 4 through TFATTEST_STORE / TFATTEST_SEQUENCER" \
	env TFATTEST_STORE="$S" TFATTEST_SEQUENCER="$Q" TFATTEST_KEY=$K "$T" record --plan "$PLAN"
# Endpoints from AWS_ENDPOINT_URL_S3 / _DYNAMODB: the same chain (its scope is the URI
# without the query).
expect_exit 0 "record 5 with the endpoints from the environment" \
	env AWS_ENDPOINT_URL_S3="$S3_ENDPOINT" AWS_ENDPOINT_URL_DYNAMODB="$DDB_ENDPOINT" \
	"$T" record --store "s3://tfa-store/main?retention-days=$RET" --sequencer dynamodb://tfa-seq \
	--key $K --plan "$PLAN" && expect_output "recorded seq 5 " "endpoints from the environment: seq 5"
check_chain main 5 "end to end"
# The objects hold the fs store's record format: artifact line, hex signature line.
TESTS_RUN=$((TESTS_RUN + 1))
obj=$W/s3data/tfa-store/main/records/000000000002.rec._S3rver_object
if [ "$(wc -l < "$obj")" -eq 2 ] && sed -n 2p "$obj" | grep -Eq '^([0-9a-f]{2})+$' &&
	cmp -s <(sed -n 1p "$obj" | tr -d '\n') "$W/b/artifacts/000000000002.json"; then
	pass "S3 object is the artifact line and the hex signature line"
else
	fail "S3 object 2 is not in the record format"
fi
# Read-only export without a sequencer: the head comes from ListObjectsV2, in
# pages of 2 keys so that continuation tokens are followed.
aws_fault "$S3_CTL" '{"list_max_keys": 2}'
rm -rf "$W/ro"
expect_exit 0 "read-only export by listing" "$T" export --store "$S" --key $K --out "$W/ro" &&
	expect_exit 0 "read-only export verifies" "$T" verify "$W/ro" &&
	expect_output "Hash chain valid \\(5 artifacts\\)" "read-only export: all 5 records"
aws_fault "$S3_CTL" '{"list_max_keys": null}'
TESTS_RUN=$((TESTS_RUN + 1))
pages=$(grep -c '"op": "ListObjectsV2"' "$S3_LOG")
[ "$pages" -ge 2 ] && pass "listing followed continuation tokens ($pages pages)" || fail "listing took $pages pages"

# ---- 2. usage errors -------------------------------------------------------
expect_exit 2 "s3 store without a sequencer cannot write" "$T" record --store "$S" --key $K --plan "$PLAN" &&
	expect_output "needs a sequencer" "no sequencer: reason" && one_error_line "no sequencer"
expect_exit 2 "fs store refuses a sequencer" "$T" init --store fsdir --sequencer "$Q" --chain x --key $K &&
	expect_output "its own sequencer" "fs + sequencer: reason"
expect_exit 2 "writing needs retention-days" "$T" record --store "s3://tfa-store/main?endpoint=$S3_ENDPOINT" \
	--sequencer "$Q" --key $K --plan "$PLAN" && expect_output "retention-days" "retention-days: reason"
expect_exit 2 "unknown store URI parameter" "$T" record --store "$S&colour=blue" --sequencer "$Q" --key $K --plan "$PLAN" &&
	expect_output "unknown parameter 'colour'" "unknown parameter: reason"
expect_exit 2 "unsupported sequencer" "$T" record --store "$S" --sequencer "etcd://x" --key $K --plan "$PLAN"
expect_exit 2 "no region" env -u AWS_REGION "$T" record --store "$S" --sequencer "$Q" --key $K --plan "$PLAN" &&
	expect_output "no region" "no region: reason"
check_chain main 5 "after usage errors"
fi

# ---- 3. concurrent writers -------------------------------------------------
if mine conc; then
PUTS_MIN=$((PUTS_MIN + 100))
SC=$(store conc)
"$T" init --store "$SC" --sequencer "$Q" --chain conc --key $K > /dev/null || fail "init conc"
writers=()
for p in 1 2 3 4; do
	(
		for i in $(seq 1 25); do
			"$T" record --store "$SC" --sequencer "$Q" --key $K --plan "$PLAN" \
				> /dev/null 2>> "err.$p" || echo "record failed in writer $p" >> "err.$p"
		done
	) &
	writers+=($!)
done
wait "${writers[@]}" # not a bare wait: the emulators run in the background too
TESTS_RUN=$((TESTS_RUN + 1))
if cat err.* | grep -q .; then fail "a writer failed: $(head -3 err.*)"; else pass "4 writers x 25 records succeeded"; fi
TESTS_RUN=$((TESTS_RUN + 1))
[ "$(ddb_head conc)" = 100 ] && pass "sequencer head is 100" || fail "sequencer head is $(ddb_head conc)"
check_chain conc 100 "concurrent writers"
fi

# ---- 4. faults ---------------------------------------------------------------
# fault CTL TARGET FAULTS WANT_EXIT ADVANCE DESC: one record under the faults on
# chain C (store S, n records); then the chain (advanced by ADVANCE records)
# verifies and the next record succeeds.
fault() {
	local ctl=$1 target=$2 faults=$3 want=$4 adv=$5 desc=$6
	aws_fault "$ctl" "{\"faults\": $faults, \"targets\": [\"$target\"]}"
	expect_exit "$want" "$desc" "$T" record --store "$S" --sequencer "$Q" --key $K --plan "$PLAN"
	[ "$want" -ne 0 ] && one_error_line "$desc"
	aws_fault "$ctl" '{"faults": [], "targets": []}'
	n=$((n + adv))
	expect_exit 0 "$desc: next record" "$T" record --store "$S" --sequencer "$Q" --key $K --plan "$PLAN"
	n=$((n + 1))
	expect_output "recorded seq $n " "$desc: next record is seq $n"
	check_chain "$C" $n "$desc"
	PUTS_MIN=$((PUTS_MIN + 1))
}
many() { # FAULT: enough to exhaust every retry
	printf '['; for i in $(seq 1 20); do printf '"%s"%s' "$1" "$([ "$i" -lt 20 ] && echo ,)"; done; printf ']'
}
if mine retried; then
chain_start retry
fault "$S3_CTL" PutObject '["throttle", "throttle"]' 0 1 "S3 PutObject throttled twice: retried"
fault "$S3_CTL" PutObject '["internal", "unavailable"]' 0 1 "S3 PutObject HTTP 500 then 503: retried"
fault "$S3_CTL" GetObject '["internal"]' 0 1 "S3 GetObject HTTP 500: retried"
fault "$S3_CTL" PutObject '["stall:3"]' 0 1 "S3 PutObject timeout: retried"
fault "$S3_CTL" PutObject '["lost_response:2"]' 0 1 "S3 PutObject answer lost: the retry finds the same bytes"
fault "$DDB_CTL" UpdateItem '["throttle", "throttle"]' 0 1 "DynamoDB UpdateItem throttled twice: retried"
fault "$DDB_CTL" UpdateItem '["internal"]' 0 1 "DynamoDB UpdateItem HTTP 500: retried"
fault "$DDB_CTL" GetItem '["stall:3"]' 0 1 "DynamoDB GetItem timeout: retried"
fault "$DDB_CTL" UpdateItem '["lost_response:2"]' 0 1 "DynamoDB UpdateItem answer lost: the claim is recognised, no duplicate"
fi
if mine exhausted; then
chain_start exhaust
fault "$DDB_CTL" GetItem "$(many throttle)" 2 0 "DynamoDB throttled past every retry"
fault "$DDB_CTL" UpdateItem "$(many access_denied)" 2 0 "DynamoDB UpdateItem AccessDenied"
fault "$DDB_CTL" GetItem "$(many expired_token)" 2 0 "DynamoDB expired credentials"
fault "$S3_CTL" GetObject "$(many access_denied)" 2 0 "S3 GetObject AccessDenied"
# A failure after the claim: the record is sequenced, the caller is told so,
# and the next writer stores it exactly as signed before appending its own.
fault "$S3_CTL" PutObject "$(many access_denied)" 2 1 "S3 PutObject AccessDenied after the claim"
fault "$S3_CTL" PutObject "$(many expired_token)" 2 1 "S3 PutObject expired credentials after the claim"
fault "$S3_CTL" PutObject "$(many internal)" 2 1 "S3 PutObject HTTP 500 past every retry"
aws_fault "$S3_CTL" "{\"faults\": $(many access_denied), \"targets\": [\"PutObject\"]}"
expect_exit 2 "post-claim failure message" "$T" record --store "$S" --sequencer "$Q" --key $K --plan "$PLAN" &&
	expect_output "record $((n + 1)) is sequenced but not yet stored .*AccessDenied" "post-claim failure: names the record and the cause"
aws_fault "$S3_CTL" '{"faults": [], "targets": []}'
n=$((n + 1))
TESTS_RUN=$((TESTS_RUN + 1))
[ "$(ddb_head "$C")" = $n ] && [ "$(objects "$C" | sort -n | tail -1)" = $((n - 1)) ] &&
	pass "seq $n is claimed in DynamoDB and not yet in S3" || fail "after the post-claim failure: head $(ddb_head "$C")"
# An export through a store URI that cannot write (no retention-days) ends
# before it; an export that can write rolls it forward, as the next record would.
rm -rf "$W/nr"
expect_exit 0 "export without retention-days" "$T" export --store "s3://tfa-store/$C?endpoint=$S3_ENDPOINT" \
	--sequencer "$Q" --key $K --out "$W/nr" && expect_output "records 1\.\.$((n - 1)) " "export without retention-days: ends at $((n - 1))"
check_chain "$C" $n "roll-forward by export"
expect_exit 0 "record after the roll-forward" "$T" record --store "$S" --sequencer "$Q" --key $K --plan "$PLAN"
n=$((n + 1))
check_chain "$C" $n "after the roll-forward"
fi

# ---- 5. kill -9 between the DynamoDB claim and the S3 write ------------------
if mine crash; then
chain_start crash
PUTS_MIN=$((PUTS_MIN + 3))
expect_exit 137 "killed after the claim (TFATTEST_TEST_CRASH_AT=after-claim)" \
	env TFATTEST_TEST_CRASH_AT=after-claim "$T" record --store "$S" --sequencer "$Q" --key $K --plan "$PLAN"
n=$((n + 1))
TESTS_RUN=$((TESTS_RUN + 1))
[ "$(ddb_head "$C")" = $n ] && ! objects "$C" | grep -qx $n && pass "claimed seq $n is in DynamoDB, not in S3" ||
	fail "after the crash: head $(ddb_head "$C"), S3 has $n: $(objects "$C" | grep -cx $n)"
expect_exit 0 "next writer after the crash" "$T" record --store "$S" --sequencer "$Q" --key $K --plan "$PLAN"
n=$((n + 1))
expect_output "recorded seq $n " "next writer appends after the rolled-forward record"
check_chain "$C" $n "crash after the claim"
# The same with a real kill -9 while the S3 PUT is stalled in the proxy.
aws_fault "$S3_CTL" '{"faults": ["stall:20"], "targets": ["PutObject"]}'
TFATTEST_AWS_TIMEOUT_MS=30000 "$T" record --store "$S" --sequencer "$Q" --key $K --plan "$PLAN" > /dev/null 2>&1 &
pid=$!
for i in $(seq 1 50); do grep -q '"op": "PutObject".*"fault": "stall' "$S3_LOG" 2> /dev/null && break
	[ "$(ddb_head "$C")" = $((n + 1)) ] && break; sleep 0.1; done
sleep 0.5
kill -9 $pid 2> /dev/null
wait $pid 2> /dev/null
TESTS_RUN=$((TESTS_RUN + 1))
[ "$(ddb_head "$C")" = $((n + 1)) ] && pass "kill -9 during the S3 PUT: seq $((n + 1)) claimed" || fail "kill -9 during the S3 PUT: head $(ddb_head "$C")"
aws_fault "$S3_CTL" '{"faults": [], "targets": []}'
n=$((n + 2))
expect_exit 0 "next writer after kill -9" "$T" record --store "$S" --sequencer "$Q" --key $K --plan "$PLAN" &&
	expect_output "recorded seq $n " "next writer after kill -9: seq $n"
check_chain "$C" $n "kill -9 during the S3 PUT"
# An init killed between the sequencer's create and chain.json: the next
# writer writes chain.json from the sequencer.
SI=$(store initcrash)
expect_exit 137 "init killed after the create (TFATTEST_TEST_CRASH_AT=after-create)" \
	env TFATTEST_TEST_CRASH_AT=after-create "$T" init --store "$SI" --sequencer "$Q" --chain ic --key $K
expect_exit 0 "record after the killed init" "$T" record --store "$SI" --sequencer "$Q" --key $K --plan "$PLAN"
check_chain initcrash 1 "init killed"

# ---- 6. a record too large for a DynamoDB item ---------------------------------
"$AWS_PY" - "$PLAN" big.json <<-'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
rc = d["resource_changes"][0]
d["resource_changes"] = [dict(rc, address=f"test_instance.big_resource_name_to_fill_an_item[{i}]", index=i)
                         for i in range(6000)]
json.dump(d, open(sys.argv[2], "w"))
EOF
expect_exit 2 "a record over the item limit is refused" "$T" record --store "$S" --sequencer "$Q" --key $K --plan big.json &&
	expect_output "takes records up to 300000 bytes" "too large: reason" && one_error_line "too large"
check_chain "$C" $n "after the refused record"
fi

# ---- 7. S3 + DynamoDB + KMS (the KMS test double) ------------------------------
if mine kms && [ -f "$AWS_DIR/kms_double.py" ]; then
	PUTS_MIN=$((PUTS_MIN + 3))
	"$AWS_PY" "$AWS_DIR/kms_double.py" --port-file "$W/kms.port" --ca-out "$W/kms-ca.pem" \
		--keys-out "$W/keys.json" --region "$AWS_REGION" > /dev/null 2> "$W/kms.err" &
	AWS_PIDS+=($!)
	if aws_wait_port_file "$W/kms.port" $! 60; then
		KK="awskms://127.0.0.1:$(cat "$W/kms.port")/alias/tfattest-ec"
		SK=$(store kms)
		export AWS_CA_BUNDLE=$W/kms-ca.pem
		expect_exit 0 "kms: init" "$T" init --store "$SK" --sequencer "$Q" --chain kms --key "$KK"
		for i in 1 2 3; do
			expect_exit 0 "kms: record $i" "$T" record --store "$SK" --sequencer "$Q" --key "$KK" --plan "$PLAN"
		done
		rm -rf "$W/bk"
		expect_exit 0 "kms: export" "$T" export --store "$SK" --sequencer "$Q" --key "$KK" --out "$W/bk" &&
			expect_exit 0 "kms: verify pinned to the KMS key" "$T" verify "$W/bk" --require-genesis \
				--expect-key-fingerprint "$("$AWS_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tfattest-ec"]["fingerprint"])' "$W/keys.json")" &&
			expect_output "Hash chain valid \\(3 artifacts\\)" "kms: chain of 3"
		unset AWS_CA_BUNDLE
	else
		fail "the KMS test double did not start: $(head -3 "$W/kms.err")"
	fi
fi

# ---- 8. a body altered in transit, stored by a service that checks no checksum --
# The proxy replaces the body's first byte and drops x-amz-checksum-sha256 and
# Content-MD5 before s3rver, which stores what it gets.
if mine alter; then
PUTS_MIN=$((PUTS_MIN + 2))
WRONG="record 2 in the s3 store differs from the dynamodb sequencer's copy \(sha256 [0-9a-f]{64}\): the s3 object was altered or damaged"
SA=$(store alter)
expect_exit 0 "alter: init" "$T" init --store "$SA" --sequencer "$Q" --chain alter --key $K
expect_exit 0 "alter: record 1" "$T" record --store "$SA" --sequencer "$Q" --key $K --plan "$PLAN"
aws_fault "$S3_CTL" '{"faults": ["alter_body"], "targets": ["PutObject"]}'
expect_exit 2 "alter: a record S3 stored altered is not reported done" \
	"$T" record --store "$SA" --sequencer "$Q" --key $K --plan "$PLAN" &&
	expect_output "$WRONG \(s3 object records/000000000002.rec holds other bytes than were sent" \
		"alter: record names the S3 copy as the wrong one" && one_error_line "alter: record"
aws_fault "$S3_CTL" '{"faults": [], "targets": []}'
TESTS_RUN=$((TESTS_RUN + 1))
[ "$(head -c1 "$W/s3data/tfa-store/alter/records/000000000002.rec._S3rver_object")" = "#" ] &&
	pass "alter: S3 holds the altered object" || fail "alter: S3 does not hold the altered object"
expect_exit 2 "alter: the next record stops at the altered head" \
	"$T" record --store "$SA" --sequencer "$Q" --key $K --plan "$PLAN" &&
	expect_output "$WRONG \(the store's copy has sha256 [0-9a-f]{64}\)" "alter: next record names the wrong copy" &&
	one_error_line "alter: next record"
rm -rf "$W/ba"
expect_exit 2 "alter: export names the wrong copy" "$T" export --store "$SA" --sequencer "$Q" --key $K --out "$W/ba" &&
	expect_output "$WRONG" "alter: export's reason"
expect_exit 2 "alter: log names the wrong copy" "$T" log --store "$SA" --sequencer "$Q" --key $K &&
	expect_output "$WRONG" "alter: log's reason"
TESTS_RUN=$((TESTS_RUN + 1))
[ "$(ddb_head alter)" = 2 ] && pass "alter: nothing appended after the altered record" || fail "alter: head $(ddb_head alter)"
# The roll-forward of a claimed head checks its PUT the same way.
SR=$(store alterroll)
expect_exit 0 "alter roll-forward: init" "$T" init --store "$SR" --sequencer "$Q" --chain alterroll --key $K
expect_exit 137 "alter roll-forward: killed after the claim" \
	env TFATTEST_TEST_CRASH_AT=after-claim "$T" record --store "$SR" --sequencer "$Q" --key $K --plan "$PLAN"
aws_fault "$S3_CTL" '{"faults": ["alter_body"], "targets": ["PutObject"]}'
rm -rf "$W/br"
expect_exit 2 "alter roll-forward: an altered roll-forward is refused" \
	"$T" export --store "$SR" --sequencer "$Q" --key $K --out "$W/br" &&
	expect_output "record 1 in the s3 store differs from the dynamodb sequencer's copy \(sha256 [0-9a-f]{64}\): the s3 object was altered or damaged \(s3 object records/000000000001.rec holds other bytes" \
		"alter roll-forward: names the S3 copy"
aws_fault "$S3_CTL" '{"faults": [], "targets": []}'
expect_exit 2 "alter roll-forward: and so does the next read" "$T" log --store "$SR" --sequencer "$Q" --key $K &&
	expect_output "record 1 in the s3 store differs from the dynamodb sequencer's copy" "alter roll-forward: next read's reason"
fi

# ---- every PutObject on the wire -------------------------------------------------
TESTS_RUN=$((TESTS_RUN + 1))
"$AWS_PY" - "$PUTS_MIN" "$S3_LOG" "$DDB_LOG" <<-'EOF' && pass "every PutObject carried Object Lock COMPLIANCE, retain-until, matching SHA-256 and MD5, If-None-Match; every request's SigV4 verified" || fail "wire checks"
import json, sys
puts = bad = unsigned = 0
for path in sys.argv[2:]:
    for line in open(path):
        e = json.loads(line)
        if e["sigv4"] != "verified":
            unsigned += 1
            print("unsigned:", e, file=sys.stderr)
        if e["op"] == "PutObject":
            puts += 1
            if e["put_checks"]:
                bad += 1
                print("bad PutObject:", e, file=sys.stderr)
print(f"{puts} PutObject requests checked (at least {sys.argv[1]} wanted)", file=sys.stderr)
sys.exit(0 if puts >= int(sys.argv[1]) and bad == 0 and unsigned == 0 else 1)
EOF
units_done
finish
