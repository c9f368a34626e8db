#!/usr/bin/env bash
# The store's key walk (log, show, diff, rollback targets) holds rotations to
# the same rules as the bundle verifier: a rotation that brings a retired key
# back, in any encoding, is refused. A key has one encoding and one
# fingerprint: a signer whose key file holds a compressed P-256 point reports
# the canonical key, and a non-canonical --public-key file is refused.
. "$(dirname "$0")/../lib/common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON_CRYPTOGRAPHY:-/usr/bin/python3}
"$PY" -c 'import cryptography' 2> /dev/null || { echo "skip: $PY has no cryptography module"; exit 77; }
cd "$W" || exit 2

new_ec_key a.pem
new_rsa_key b.pem
"$T" init --store s --chain prod --key file:a.pem > /dev/null || exit 2
"$T" record --store s --key file:a.pem --plan "$PLANS/show-basic-create.json" > /dev/null || exit 2
"$T" rotate --store s --key file:a.pem --new-key file:b.pem > /dev/null || exit 2
expect_exit 0 "log of the rotated chain" "$T" log --store s --key file:b.pem

# b hands the chain back to the retired a: as it is, and in its compressed encoding.
for c in store_retired_back store_retired_back_compressed; do
	"$PY" "$HERE/forge.py" "$c" s "$c" b.pem a.pem || { fail "$c: forge.py failed"; continue; }
	expect_exit 1 "log refuses $c" "$T" log --store "$c" --key file:b.pem
	case $c in
	*compressed) msg="rotation record 3 in the store: the new key is unusable: public key is not in canonical form \(compressed or hybrid EC point\)" ;;
	*) msg="rotation record 3 in the store: brings back the retired key sha256:[0-9a-f]{64}" ;;
	esac
	expect_output "$msg" "$c: log names the rule"
	expect_exit 1 "show refuses $c" "$T" show --store "$c" --key file:b.pem 1
	expect_output "$msg" "$c: show names the rule"
	expect_exit 1 "diff refuses $c" "$T" diff --store "$c" --key file:b.pem 1 2
	# Signed by a, the key the forged rotation put in force.
	expect_exit 1 "a rollback in $c is refused" \
		"$T" record --store "$c" --key file:a.pem --plan "$PLANS/show-basic-create.json" --event rollback --rollback-to 1
	[ "$c" = store_retired_back ] && expect_output "$msg" "$c: the rollback names the rule"
done

# A key file with a compressed point: the signer reports the canonical key.
openssl ec -in a.pem -conv_form compressed -out ac.pem 2> /dev/null || exit 2
openssl pkey -in ac.pem -pubout -outform DER 2> /dev/null | head -c 30 | od -An -tx1 | grep -q '03 22 00 0[23]' ||
	fail "openssl did not write a compressed point"
FPR=$("$T" pubkey --key file:a.pem | tail -1)
expect_exit 0 "pubkey of a compressed-point key file" "$T" pubkey --key file:ac.pem
expect_output "^$FPR\$" "it is the canonical fingerprint"
expect_exit 0 "the compressed-point key file signs for the chain's anchor" "$T" log --store s --key file:ac.pem
# A compressed --public-key file is refused; the canonical one is accepted.
openssl ec -in a.pem -pubout -conv_form compressed -out apub-c.pem 2> /dev/null || exit 2
openssl pkey -in a.pem -pubout -out apub.pem
expect_exit 0 "log with the canonical --public-key" "$T" log --store s --public-key apub.pem
expect_exit 1 "log with a compressed --public-key is refused" "$T" log --store s --public-key apub-c.pem
expect_output "public key is not in canonical form \(compressed or hybrid EC point\)" "the refusal names the rule"

finish
