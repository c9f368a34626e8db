#!/usr/bin/env bash
# Key rotation across backends: file: -> pkcs11: (SoftHSM2) -> file:, with
# record, export and verify at each step, every bundle pinned to the anchor.
. "$(dirname "$0")/pkcs11_lib.sh"
cd "$W" || exit 2
make_token tok
new_rsa_key anchor.pem 2048
new_ec_key last.pem
HSM=$TFATTEST_EC_URI
A=file:anchor.pem
L=file:last.pem
FPR=$("$T" pubkey --key "$A" | tail -1)
HFPR=$("$T" pubkey --key "$HSM" | tail -1)
LFPR=$("$T" pubkey --key "$L" | tail -1)

rec() { "$T" record --store s --key "$1" --plan "$PLANS/show-basic-update.json"; }

expect_exit 0 "init with a file key" "$T" init --store s --chain prod --key "$A"
expect_exit 0 "record 1 (file)" rec "$A"
expect_exit 0 "export 1..1" "$T" export --store s --key "$A" --out b1
expect_exit 0 "verify b1, pinned to the anchor" "$T" verify b1 --expect-key-fingerprint "$FPR"

# file -> pkcs11
expect_exit 0 "rotate file -> pkcs11" "$T" rotate --store s --key "$A" --new-key "$HSM"
expect_output "rotated at seq 2 .* key $HFPR replaces $FPR" "rotation names both keys"
expect_exit 1 "the old file key can no longer record" rec "$A"
expect_output "is not the current key of chain prod \\($HFPR\\)" "refusal names the key in force"
expect_exit 1 "nor export" "$T" export --store s --key "$A" --out nope
expect_exit 0 "record 3 (pkcs11)" rec "$HSM"
expect_exit 0 "export 1..3 with the HSM key" "$T" export --store s --key "$HSM" --out b2
expect_exit 0 "verify b2 pinned to the anchor" "$T" verify b2 --expect-key-fingerprint "$FPR"
expect_output "Rotation at seq 2: key $HFPR replaces $FPR \\(proof of possession valid\\)" "rotation followed"
expect_output "Key $FPR in force for seq 1\\.\\.2 \\(anchor\\)" "anchor range reported"
expect_output "Key $HFPR in force from seq 3" "HSM key range reported"
expect_exit 1 "pinning the HSM key instead fails" "$T" verify b2 --expect-key-fingerprint "$HFPR"
expect_output "^\\[ERROR\\] Key fingerprint mismatch: bundle anchor key is $FPR" "pin is on the anchor"

# pkcs11 -> file
expect_exit 0 "rotate pkcs11 -> file" "$T" rotate --store s --key "$HSM" --new-key "$L"
expect_exit 1 "the HSM key can no longer record" rec "$HSM"
expect_exit 2 "a retired key cannot return" "$T" rotate --store s --key "$L" --new-key "$A"
expect_exit 0 "record 5 (file)" rec "$L"
expect_exit 0 "record 6 (file)" rec "$L"
expect_exit 0 "export all" "$T" export --store s --key "$L" --out b3
expect_exit 0 "verify b3 pinned to the anchor" "$T" verify b3 --expect-key-fingerprint "$FPR" --json
flat=$(tr -d ' \t\n' < "$W/last.out")
TESTS_RUN=$((TESTS_RUN + 1))
case $flat in
*"\"keys\":[{\"fingerprint\":\"$FPR\",\"from_seq\":1,\"to_seq\":2},{\"fingerprint\":\"$HFPR\",\"from_seq\":3,\"to_seq\":4},{\"fingerprint\":\"$LFPR\",\"from_seq\":5,\"to_seq\":null}]"*)
	pass "json lists each key with its seq range" ;;
*) fail "json keys: $flat" ;;
esac
# A range after both rotations still verifies from the anchor: keys/ carries them.
expect_exit 0 "export 5..6" "$T" export --store s --key "$L" --out b4 --from 5 --to 6
expect_exit 0 "verify 5..6 from the anchor" "$T" verify b4 --expect-key-fingerprint "$FPR"
TESTS_RUN=$((TESTS_RUN + 1))
if [ -f b4/keys/000000000002.json ] && [ -f b4/keys/000000000004.json ] &&
	[ -f "b4/keys/${FPR#sha256:}.pem" ] && [ -f "b4/keys/${HFPR#sha256:}.pem" ]; then
	pass "range bundle carries both rotations and the keys"
else
	fail "range bundle lacks keys/: $(ls b4/keys 2>&1)"
fi
# A range before the last rotation: the manifest key is reached through keys/.
expect_exit 0 "export 1..1 after both rotations" "$T" export --store s --key "$L" --out b5 --to 1
expect_exit 0 "verify 1..1 from the anchor" "$T" verify b5 --expect-key-fingerprint "$FPR"
# The manual recipe's key files are what they say.
for f in b3/keys/*.pem; do
	TESTS_RUN=$((TESTS_RUN + 1))
	got=$(openssl pkey -pubin -in "$f" -outform DER | sha256sum | cut -d' ' -f1)
	[ "keys/$got.pem" = "${f#b3/}" ] && pass "$f is named by its fingerprint" || fail "$f holds $got"
done
finish
