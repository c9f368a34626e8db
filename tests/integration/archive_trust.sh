#!/usr/bin/env bash
# Bundle archives carry what the trust extensions need: keys/ with the
# rotation records and keys, and checkpoint.ckpt. An archive verifies exactly
# as the same bundle as a directory does, pinned to the anchor and held to a
# trusted checkpoint, and an older export in archive form fails against a
# newer checkpoint.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2

new_ec_key a.pem
new_ec_key b.pem
ANCHOR=$("$T" pubkey --key file:a.pem | tail -1)
rec() { "$T" record --store s --key "file:$1" --plan "$PLANS/show-basic-create.json" > /dev/null; }

"$T" init --store s --chain prod --key file:a.pem > /dev/null
rec a.pem; rec a.pem; rec a.pem
expect_exit 0 "older export as tar.gz" "$T" export --store s --key file:a.pem --archive old.tar.gz
expect_exit 0 "rotate a -> b" "$T" rotate --store s --key file:a.pem --new-key file:b.pem
rec b.pem; rec b.pem
expect_exit 0 "checkpoint at seq 6" "$T" checkpoint --store s --key file:b.pem --out cp6.ckpt

for ext in tar.gz zip; do
	expect_exit 0 "export all as $ext" "$T" export --store s --key file:b.pem --archive "all.$ext"
	expect_exit 0 "$ext: pinned to the anchor, held to the checkpoint" \
		"$T" verify "all.$ext" --expect-key-fingerprint "$ANCHOR" --checkpoint cp6.ckpt
	expect_output "Bundle reaches trusted checkpoint cp6.ckpt \\(seq 6" "$ext: checkpoint reached"
	expect_output "^\\[SUCCESS\\] All 6 artifact signatures valid" "$ext: every artifact checked"
	expect_exit 0 "range 5..6 as $ext" "$T" export --store s --key file:b.pem --from 5 --archive "range.$ext"
	expect_exit 0 "$ext: the range verifies from the anchor through keys/" \
		"$T" verify "range.$ext" --expect-key-fingerprint "$ANCHOR" --checkpoint cp6.ckpt
	expect_exit 1 "$ext: pinning the new key as the anchor fails" \
		"$T" verify "range.$ext" --expect-key-fingerprint "$("$T" pubkey --key file:b.pem | tail -1)"
done

TESTS_RUN=$((TESTS_RUN + 1))
tar -tzf all.tar.gz | grep -q '^keys/' && tar -tzf all.tar.gz | grep -qx 'checkpoint.ckpt' &&
	pass "the archive holds keys/ and checkpoint.ckpt" || fail "keys/ or checkpoint.ckpt missing from the archive"

expect_exit 0 "report on an archive bundle" \
	"$T" report all.tar.gz --html report.html --expect-key-fingerprint "$ANCHOR"
TESTS_RUN=$((TESTS_RUN + 1))
[ "$(grep -o 'id="tl-[0-9]*"' report.html | sort -u | wc -l)" -eq 6 ] &&
	pass "the report's timeline shows all 6 records of the archive" || fail "report timeline incomplete"

expect_exit 1 "an older export fails against the newer checkpoint" \
	"$T" verify old.tar.gz --expect-key-fingerprint "$ANCHOR" --checkpoint cp6.ckpt
expect_output "Bundle ends at seq 3, before checkpoint cp6.ckpt" "rollback named"

finish
