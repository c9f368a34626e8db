#!/usr/bin/env bash
# Checkpoints and key rotation on the S3 Object Lock store with the DynamoDB
# sequencer, against s3rver and dynalite behind tests/aws/store_proxy.py (which
# checks SigV4 and the Object Lock headers of every PutObject).
#
#  1. checkpoint --out: stored write-once under PREFIX/checkpoints/ with Object
#     Lock; a second checkpoint of the head gives the stored one back
#  2. two writers checkpointing one head at once: one object, both get it
#  3. export carries the latest checkpoint in range (listing in pages, foreign
#     keys ignored); verify --checkpoint passes; an older export fails against
#     a newer checkpoint
#  4. a store URI without retention-days cannot write a checkpoint
#  5. rotation on the S3 store: the new key records, the old one is refused,
#     the export verifies pinned to the first key
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../aws/emulators.sh"
RET=3
aws_emulators_start tfa-store tfa-seq $RET
rc=$?
[ $rc -eq 0 ] || exit $rc
cd "$W" || exit 2
export TFATTEST_AWS_TIMEOUT_MS=1500 TFATTEST_AWS_CONNECT_TIMEOUT_MS=1000 TFATTEST_AWS_MAX_ATTEMPTS=3
unset TFATTEST_STORE TFATTEST_SEQUENCER TFATTEST_KEY TFATTEST_TEST_CRASH_AT

Q="dynamodb://tfa-seq?endpoint=$DDB_ENDPOINT"
S="s3://tfa-store/trust?endpoint=$S3_ENDPOINT&retention-days=$RET"
PLAN=$PLANS/show-basic-create.json
new_ec_key a.pem
new_ec_key b.pem
A=file:a.pem B=file:b.pem
FA=$("$T" pubkey --key $A | tail -1)
rec() { "$T" record --store "$S" --sequencer "$Q" --key "$1" --plan "$PLAN" > /dev/null; }
ckpt() { "$T" checkpoint --store "$S" --sequencer "$Q" --key "$@"; }
# stored SEQ: s3rver's file for the checkpoint of SEQ.
stored() { printf '%s/s3data/tfa-store/trust/checkpoints/%012d.ckpt._S3rver_object' "$W" "$1"; }
nlists() { grep -c '"op": "ListObjectsV2"' "$S3_LOG" 2> /dev/null || echo 0; }

# ---- 1. checkpoint --out ------------------------------------------------------
expect_exit 0 "init" "$T" init --store "$S" --sequencer "$Q" --chain trust --key $A
rec $A; rec $A; rec $A
expect_exit 0 "checkpoint seq 3" ckpt $A --out cp3.ckpt
expect_output "stored a checkpoint of chain trust at seq 3, written to cp3.ckpt" "checkpoint reported"
TESTS_RUN=$((TESTS_RUN + 1))
cmp -s "$(stored 3)" cp3.ckpt && pass "S3 holds checkpoints/000000000003.ckpt, the bytes of --out" ||
	fail "no stored checkpoint 3, or other bytes"
expect_exit 0 "a second checkpoint of the same head" ckpt $A --out again.ckpt
expect_output "the head already has a checkpoint" "existing checkpoint reported"
TESTS_RUN=$((TESTS_RUN + 1))
cmp -s again.ckpt cp3.ckpt && pass "--out gives the stored one" || fail "--out differs from the stored checkpoint"
expect_exit 1 "another key cannot checkpoint" ckpt $B
expect_output "is not the current key of chain trust" "another key: reason"

# ---- 2. two writers checkpoint one head ----------------------------------------
# The first writer's PUT is stalled past its timeout, so the second lists no
# checkpoint either and both PUT; If-None-Match: * keeps one, and the writer
# whose PUT is refused finds other bytes and takes the stored checkpoint.
rec $A
before=$(nlists)
aws_fault "$S3_CTL" '{"faults": ["stall:2"], "targets": ["PutObject"]}'
ckpt $A --out race1.ckpt > race1.out 2>&1 &
pid=$!
for _ in $(seq 1 50); do [ "$(nlists)" -gt "$before" ] && break; sleep 0.1; done
expect_exit 0 "second writer while the first is stalled" ckpt $A --out race2.ckpt
wait $pid
r1=$?
aws_fault "$S3_CTL" '{"faults": [], "targets": []}'
TESTS_RUN=$((TESTS_RUN + 1))
if [ $r1 -eq 0 ] && cmp -s race1.ckpt race2.ckpt && cmp -s race1.ckpt "$(stored 4)" &&
	[ "$(cat race1.out last.out | grep -c 'the head already has a checkpoint')" -eq 1 ]; then
	pass "one checkpoint of seq 4 stored; both writers got it, one was told it existed"
else
	fail "race: exit $r1, $(cat race1.out last.out | tr '\n' ' ')"
	tail -n 12 "$S3_LOG" >&2
fi
TESTS_RUN=$((TESTS_RUN + 1))
n=$(grep '"op": "PutObject"' "$S3_LOG" | grep -c '/checkpoints/000000000004.ckpt".*"status": 412')
[ "$n" -eq 1 ] && pass "the second PUT of seq 4 was refused with 412" || fail "$n PUTs of seq 4 refused with 412"

# ---- 3. export, verify, rollback ----------------------------------------------
# Objects under checkpoints/ that are not NNNNNNNNNNNN.ckpt are not checkpoints,
# even with a seq in range.
for f in 000000000009.ckpt.tmp 00000000009.ckpt old/000000000009.ckpt 000000000009.CKPT; do
	mkdir -p "$(dirname "$W/s3data/tfa-store/trust/checkpoints/$f")"
	cp "$(stored 4)" "$W/s3data/tfa-store/trust/checkpoints/$f._S3rver_object"
	cp "${W}/s3data/tfa-store/trust/checkpoints/000000000004.ckpt._S3rver_metadata.json" \
		"$W/s3data/tfa-store/trust/checkpoints/$f._S3rver_metadata.json"
done
rm -rf b4
before=$(nlists)
aws_fault "$S3_CTL" '{"list_max_keys": 1}'
expect_exit 0 "export 1..4 (listing in pages of one key)" "$T" export --store "$S" --sequencer "$Q" --key $A --out b4
aws_fault "$S3_CTL" '{"list_max_keys": null}'
TESTS_RUN=$((TESTS_RUN + 1))
[ $(($(nlists) - before)) -ge 3 ] && pass "the checkpoint listing followed continuation tokens" ||
	fail "the checkpoint listing took $(($(nlists) - before)) pages"
TESTS_RUN=$((TESTS_RUN + 1))
cmp -s b4/checkpoint.ckpt race1.ckpt && pass "the bundle carries checkpoint 4, not a foreign key" ||
	fail "b4/checkpoint.ckpt is not the checkpoint of seq 4"
expect_exit 0 "b4 reaches its checkpoint" "$T" verify b4 --expect-key-fingerprint "$FA" --checkpoint race1.ckpt
expect_output "Bundle reaches trusted checkpoint race1.ckpt \\(seq 4" "trusted checkpoint reached"
rm -rf b13
expect_exit 0 "export --to 3" "$T" export --store "$S" --sequencer "$Q" --key $A --to 3 --out b13
TESTS_RUN=$((TESTS_RUN + 1))
cmp -s b13/checkpoint.ckpt cp3.ckpt && pass "a range to 3 carries checkpoint 3" || fail "b13 lacks checkpoint 3"
expect_exit 0 "b13 reaches cp3" "$T" verify b13 --expect-key-fingerprint "$FA" --checkpoint cp3.ckpt
expect_exit 1 "b13 (older export) against the checkpoint of seq 4" "$T" verify b13 --checkpoint race1.ckpt
expect_output "Bundle ends at seq 3, before checkpoint race1.ckpt \\(seq 4\\)" "rollback named"

# ---- 4. no retention-days: read-only -------------------------------------------
rec $A
expect_exit 2 "checkpoint through a store URI without retention-days" \
	"$T" checkpoint --store "s3://tfa-store/trust?endpoint=$S3_ENDPOINT" --sequencer "$Q" --key $A
expect_output "retention-days" "no retention-days: reason"
TESTS_RUN=$((TESTS_RUN + 1))
[ ! -e "$(stored 5)" ] && pass "nothing written" || fail "a checkpoint of seq 5 was written"

# ---- 5. rotation -----------------------------------------------------------------
expect_exit 0 "rotate a -> b" "$T" rotate --store "$S" --sequencer "$Q" --key $A --new-key $B
expect_exit 0 "b records" rec $B
expect_exit 0 "b records again" rec $B
expect_exit 1 "a is refused after the rotation" rec $A
expect_exit 0 "b checkpoints the head" ckpt $B --out cpb.ckpt
rm -rf ball
expect_exit 0 "export after the rotation" "$T" export --store "$S" --sequencer "$Q" --key $B --out ball
expect_exit 0 "verify pinned to a, held to b's checkpoint" \
	"$T" verify ball --expect-key-fingerprint "$FA" --checkpoint cpb.ckpt --require-genesis
expect_output "Bundle reaches trusted checkpoint cpb.ckpt" "b's checkpoint reached"
expect_exit 1 "pinning b as the anchor fails" \
	"$T" verify ball --expect-key-fingerprint "$("$T" pubkey --key $B | tail -1)"

# ---- every checkpoint PUT on the wire ---------------------------------------------
TESTS_RUN=$((TESTS_RUN + 1))
"$AWS_PY" - "$S3_LOG" <<-'EOF' && pass "every checkpoint PutObject carried Object Lock COMPLIANCE, retain-until, SHA-256, MD5 and If-None-Match" || fail "checkpoint wire checks"
import json, sys
puts = bad = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["op"] == "PutObject" and "/checkpoints/" in e["path"]:
        puts += 1
        if e["sigv4"] != "verified" or e["put_checks"]:
            bad += 1
            print("bad checkpoint PutObject:", e, file=sys.stderr)
print(f"{puts} checkpoint PutObject requests checked", file=sys.stderr)
sys.exit(0 if puts >= 4 and bad == 0 else 1)
EOF
finish
