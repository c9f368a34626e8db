#!/usr/bin/env bash
# Checkpoints end to end: stored write-once, published with --out, carried in
# bundles, and held against bundles with --checkpoint; RFC 3161 timestamps from
# the test TSA (tests/tsa/) verified offline with --tsa-ca; and the file
# checked by hand with stock openssl.
. "$(dirname "$0")/../lib/common.sh"
SRC=$(realpath "${TFA_SOURCE_DIR:?}")
cd "$W" || exit 2
PYS=/usr/bin/python3

new_rsa_key k.pem 2048
new_ec_key other.pem
K=file:k.pem
FPR=$("$T" pubkey --key "$K" | tail -1)
rec() { "$T" record --store s --key "$K" --plan "$PLANS/show-basic-create.json" > /dev/null; }

# The test TSA.
sh "$SRC/tests/tsa/make-ca.sh" tsa > /dev/null 2>&1 || { echo "FAIL: make-ca.sh" >&2; exit 2; }
"$PYS" "$SRC/tests/tsa/tsa_server.py" --dir tsa --port-file tsa/port > tsa.log 2>&1 &
TSA_PID=$!
trap 'kill $TSA_PID 2>/dev/null; chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 100); do [ -s tsa/port ] && break; sleep 0.1; done
[ -s tsa/port ] || { echo "FAIL: the test TSA did not start" >&2; cat tsa.log >&2; exit 2; }
URL=http://127.0.0.1:$(cat tsa/port)/

"$T" init --store s --chain prod --key "$K" > /dev/null
expect_exit 2 "no checkpoint of an empty chain" "$T" checkpoint --store s --key "$K"
rec; rec; rec
expect_exit 0 "checkpoint seq 3" "$T" checkpoint --store s --key "$K" --out cp3.ckpt
expect_output "stored a checkpoint of chain prod at seq 3, written to cp3.ckpt" "checkpoint reported"
TESTS_RUN=$((TESTS_RUN + 1))
[ "$(stat -c %a s/checkpoints/000000000003.ckpt)" = 444 ] && cmp -s s/checkpoints/000000000003.ckpt cp3.ckpt &&
	pass "stored read-only, same bytes as --out" || fail "stored checkpoint differs or is writable"
expect_exit 0 "a second checkpoint of the same head keeps the first" "$T" checkpoint --store s --key "$K" --out again.ckpt
expect_output "the head already has a checkpoint" "existing checkpoint reported"
TESTS_RUN=$((TESTS_RUN + 1))
cmp -s again.ckpt cp3.ckpt && pass "--out gives the stored one" || fail "--out differs from the stored checkpoint"
expect_exit 1 "another key cannot checkpoint" "$T" checkpoint --store s --key file:other.pem
expect_output "is not the current key of chain prod" "refusal message"
expect_exit 0 "export 1..3" "$T" export --store s --key "$K" --out b3
TESTS_RUN=$((TESTS_RUN + 1))
cmp -s b3/checkpoint.ckpt cp3.ckpt && pass "the bundle carries the checkpoint" || fail "no checkpoint.ckpt in the bundle"
expect_exit 0 "b3 reaches cp3" "$T" verify b3 --expect-key-fingerprint "$FPR" --checkpoint cp3.ckpt
expect_output "^\\[SUCCESS\\] Bundle reaches trusted checkpoint cp3.ckpt \\(seq 3" "trusted checkpoint reported"
expect_output "^\\[INFO\\] Bundle's own checkpoint \\(seq 3\\) is consistent, but untrusted" "own checkpoint untrusted"
expect_exit 0 "without --checkpoint" "$T" verify b3 --expect-key-fingerprint "$FPR"
expect_output "^\\[INFO\\] No trusted checkpoint given" "warns that completeness is unproven"

# Later records, a timestamped checkpoint.
rec; rec
# An older, validly signed checkpoint planted in the head's slot is not handed on as the head's.
cp s/checkpoints/000000000003.ckpt s/checkpoints/000000000005.ckpt
expect_exit 1 "a planted older checkpoint is refused" "$T" checkpoint --store s --key "$K" --out planted.ckpt
expect_output "does not state the chain's head" "refusal message"
TESTS_RUN=$((TESTS_RUN + 1))
[ ! -e planted.ckpt ] && pass "nothing written with --out" || fail "--out written from a planted checkpoint"
rm -f s/checkpoints/000000000005.ckpt
# A TSA whose token is over another digest (with the right nonce): refused when the
# checkpoint is made, and nothing is stored.
expect_exit 1 "a timestamp over another digest is refused" \
	"$T" checkpoint --store s --key "$K" --out other.ckpt --tsa "${URL}otherdigest"
expect_output "message imprint does not match" "imprint refusal message"
TESTS_RUN=$((TESTS_RUN + 1))
[ ! -e other.ckpt ] && [ ! -e s/checkpoints/000000000005.ckpt ] && pass "nothing stored or written" ||
	fail "a checkpoint was kept with a timestamp over another digest"
expect_exit 1 "a timestamp with another nonce is refused" \
	"$T" checkpoint --store s --key "$K" --out other.ckpt --tsa "${URL}othernonce"
expect_output "nonce does not match" "nonce refusal message"
TESTS_RUN=$((TESTS_RUN + 1))
[ ! -e other.ckpt ] && [ ! -e s/checkpoints/000000000005.ckpt ] && pass "nothing stored or written" ||
	fail "a checkpoint was kept with a timestamp with another nonce"
expect_exit 0 "checkpoint seq 5 with a timestamp" "$T" checkpoint --store s --key "$K" --out cp5.ckpt --tsa "$URL"
expect_output "at seq 5 \\(timestamped\\)" "timestamped"
expect_exit 0 "export 1..5" "$T" export --store s --key "$K" --out b5
expect_exit 0 "b5 reaches cp5 and cp3, timestamp checked" "$T" verify b5 --expect-key-fingerprint "$FPR" \
	--checkpoint cp5.ckpt --checkpoint cp3.ckpt --tsa-ca tsa/ca.pem
expect_output "^\\[SUCCESS\\] Checkpoint cp5.ckpt timestamped at [0-9T:-]+Z by " "genTime reported"
expect_output "Bundle reaches trusted checkpoint cp3.ckpt" "older checkpoint also reached"
expect_exit 0 "timestamp not checked without --tsa-ca" "$T" verify b5 --checkpoint cp5.ckpt
expect_output "^\\[WARN\\] Checkpoint cp5.ckpt carries an RFC 3161 timestamp, not checked" "unchecked timestamp reported"
expect_exit 0 "json report" "$T" verify b5 --checkpoint cp5.ckpt --tsa-ca tsa/ca.pem --json
flat=$(tr -d ' \t\n' < "$W/last.out")
TESTS_RUN=$((TESTS_RUN + 1))
case $flat in
*'"checkpoints":"passed"'*'"checkpoints":[{"file":"cp5.ckpt","trusted":true,"seq":5,'*'"timestamp":"valid","timestamp_time":'*'{"file":"checkpoint.ckpt","trusted":false,"seq":5'*)
	pass "json lists both checkpoints and the timestamp" ;;
*) fail "json: $flat" ;;
esac
expect_exit 1 "a timestamp from a TSA under another CA" "$T" verify b5 --checkpoint cp5.ckpt --tsa-ca tsa/other-ca.pem
expect_output "^\\[ERROR\\] Checkpoint cp5.ckpt \\(seq 5\\): timestamp invalid" "bad timestamp message"

# Truncation and rollback: an older export against a newer checkpoint.
expect_exit 1 "b3 (older export) against cp5" "$T" verify b3 --checkpoint cp5.ckpt
expect_output "^\\[ERROR\\] Bundle ends at seq 3, before checkpoint cp5.ckpt \\(seq 5\\)" "rollback message"
# A range that starts right after a checkpoint extends it; one that starts later cannot show it does.
expect_exit 0 "export 4..5" "$T" export --store s --key "$K" --out b45 --from 4
expect_exit 0 "4..5 extends cp3 through its base hash" "$T" verify b45 --checkpoint cp3.ckpt --expect-key-fingerprint "$FPR"
# A checkpoint at seq 3, validly signed by the chain's key, that names another head:
# the range 4..5 does not extend it (its base_hash is the real seq 3's hash).
"$PYS" "$SRC/tests/integration/tamper.py" ckptfile_fork cp3.ckpt fork3.ckpt k.pem other.pem "$W" ||
	fail "tamper.py ckptfile_fork failed"
expect_exit 1 "4..5 against a forked checkpoint at seq 3" "$T" verify b45 --checkpoint fork3.ckpt --expect-key-fingerprint "$FPR"
expect_output "^\\[ERROR\\] Checkpoint fork3.ckpt \\(seq 3\\) names head sha256:1212[0-9a-f]*, but the bundle's base_hash differs" \
	"forked base message"
expect_exit 0 "the whole chain holds the real seq 3 head" "$T" verify b5 --checkpoint cp3.ckpt
expect_exit 1 "the whole chain against the forked checkpoint at seq 3" "$T" verify b5 --checkpoint fork3.ckpt
expect_output "^\\[ERROR\\] Checkpoint fork3.ckpt \\(seq 3\\) names head sha256:1212.*artifacts/000000000003.json differs" \
	"forked head message"
expect_exit 0 "export 5..5" "$T" export --store s --key "$K" --out b55 --from 5
expect_exit 1 "5..5 cannot show it extends cp3" "$T" verify b55 --checkpoint cp3.ckpt
expect_output "^\\[ERROR\\] Bundle starts at seq 5, after checkpoint cp3.ckpt \\(seq 3\\)" "starts-after message"
expect_exit 2 "a checkpoint file that does not exist" "$T" verify b5 --checkpoint nope.ckpt
expect_exit 1 "not a checkpoint file" "$T" verify b5 --checkpoint k.pem
expect_output "^\\[ERROR\\] Checkpoint k.pem invalid: not a checkpoint file" "invalid checkpoint message"

# By hand, with stock tools, as VERIFY.md shows.
sed -n 2p cp5.ckpt | tr -d '\n' > cp.json
sed -n 's/^sig //p' cp5.ckpt | openssl base64 -d -A > cp.sig
sed -n 's/^tsa [0-9a-f]* //p' cp5.ckpt | openssl base64 -d -A > cp.tsr
openssl pkey -in k.pem -pubout -out pub.pem 2>/dev/null
expect_exit 0 "openssl verifies the checkpoint signature" openssl dgst -sha256 -verify pub.pem \
	-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -signature cp.sig cp.json
expect_exit 0 "openssl ts verifies the timestamp over the checkpoint" openssl ts -verify \
	-digest "$(sha256sum cp.json | cut -c1-64)" -in cp.tsr -CAfile tsa/ca.pem
TESTS_RUN=$((TESTS_RUN + 1))
head=$(grep -o '"head_hash":"sha256:[0-9a-f]*"' cp.json | cut -d: -f3 | tr -d '"')
[ "$head" = "$(sha256sum < b5/artifacts/000000000005.json | cut -c1-64)" ] &&
	pass "head_hash is sha256sum of artifact 5" || fail "head_hash $head"
finish
