#!/usr/bin/env bash
# Exports by someone who may read the chain but not sign for it: the manifest
# signed by the exporter's own key (--manifest-key), the store left untouched,
# and verify, the JSON output and the manual recipe saying which kind of
# manifest they checked.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2

run_recipe() { # bundle [VAR=value...]
	local b=$1
	shift
	sed -n '/^```sh$/,/^```$/p' "$b/VERIFY.md" | sed '1d;$d' > recipe.sh
	(cd "$b" && env "$@" sh "$W/recipe.sh")
}
fpr_of() { echo "sha256:$(openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1)"; }

new_rsa_key chain.pem 2048
new_ec_key auditor.pem
openssl pkey -in chain.pem -pubout -out chain.pub 2> /dev/null
openssl pkey -in auditor.pem -pubout -out auditor.pub 2> /dev/null
ANCHOR=$(fpr_of chain.pub)
AUD=$(fpr_of auditor.pub)
"$T" init --store s --chain ro --key file:chain.pem > /dev/null || exit 2
for p in show-basic-create show-basic-update show-basic-delete; do
	"$T" record --store s --key file:chain.pem --plan "$PLANS/$p.json" > /dev/null || exit 2
done
"$T" checkpoint --store s --key file:chain.pem --out "$W/cp3.ckpt" > /dev/null || exit 2

# The store as an auditor sees it: nothing in it may be written (unless we are
# root, whom permissions do not stop; the listing below still shows nothing changed).
find s -exec stat -c '%n %s %Y' {} + | sort > before.txt
chmod -R a-w s

# Without the chain's public key the export cannot write public_key.pem: the
# store holds only the anchor's fingerprint when the chain never rotated.
expect_exit 2 "exporter-signed export needs the chain's key when it never rotated" \
	"$T" export --store s --manifest-key file:auditor.pem --out b0
expect_output "never rotated.*--public-key" "the error says which option gives it"
[ ! -e b0 ] && pass "nothing written under the output name" || fail "b0 exists"

expect_exit 0 "export with --manifest-key and --public-key, read-only store" \
	"$T" export --store s --manifest-key file:auditor.pem --public-key chain.pub \
	--expect-key-fingerprint "$ANCHOR" --out b1
find s -exec stat -c '%n %s %Y' {} + | sort > after.txt
cmp -s before.txt after.txt && pass "the store is unchanged" || fail "the export changed the store"
grep -q '"kind":"exporter-signed"' b1/manifest.json && grep -q '"schema_version":2' b1/manifest.json &&
	pass "the manifest is of schema 2, exporter-signed" || fail "manifest kind"
[ "$(fpr_of b1/exporter_key.pem)" = "$AUD" ] && [ "$(fpr_of b1/public_key.pem)" = "$ANCHOR" ] &&
	pass "exporter_key.pem is the auditor's key, public_key.pem the chain's" || fail "bundle keys"

expect_exit 0 "verify accepts it, pinned" "$T" verify b1 --expect-key-fingerprint "$ANCHOR"
expect_output "\[WARN\] Manifest signed by the exporter's key $AUD, not by the chain's key" \
	"verify says the manifest is the exporter's"
expect_output "complete rests only on --checkpoint and --require-genesis" \
	"verify says what completeness rests on"
expect_exit 0 "verify --json" "$T" verify b1 --expect-key-fingerprint "$ANCHOR" --json
/usr/bin/python3 - "$W/last.out" "$AUD" <<'PY' && pass "--json names the exporter's key" || fail "--json manifest member"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["result"] == "verified" and d["manifest"] == {"signed_by": "exporter", "key_fingerprint": sys.argv[2]}, d
PY
expect_exit 1 "--require-chain-manifest refuses it" "$T" verify b1 --require-chain-manifest
expect_output "not by the chain's key \(--require-chain-manifest\)" "and says why"
expect_exit 0 "a trusted checkpoint at the head holds" "$T" verify b1 --expect-key-fingerprint "$ANCHOR" \
	--checkpoint "$W/cp3.ckpt" --require-genesis

# A chain-signed export of the same store: no manifest member in --json, no warning.
chmod -R u+w s
"$T" export --store s --key file:chain.pem --out bc > /dev/null || exit 2
expect_exit 0 "chain-signed bundle verifies" "$T" verify bc --expect-key-fingerprint "$ANCHOR" --json
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "manifest" not in d, d' \
	"$W/last.out" && pass "no manifest member for a chain-signed manifest" || fail "manifest member present"
expect_exit 0 "chain-signed bundle passes --require-chain-manifest" "$T" verify bc --require-chain-manifest

# Trimmed and re-signed by anyone: still verifies as an exporter-signed bundle of
# fewer records, which only a trusted checkpoint catches.
expect_exit 0 "range 1..2, exporter-signed" "$T" export --store s --manifest-key file:auditor.pem \
	--public-key chain.pub --to 2 --out b12
expect_exit 1 "the head checkpoint shows records were left out" "$T" verify b12 --checkpoint "$W/cp3.ckpt"
expect_output "Checkpoint|checkpoint" "the failure names the checkpoint"

# Refusals.
expect_exit 2 "--manifest-key that is the chain's key" "$T" export --store s --manifest-key file:chain.pem \
	--public-key chain.pub --out bx
expect_output "is a key of chain ro" "the error says the key is the chain's"
new_ec_key other.pem
openssl pkey -in other.pem -pubout -out other.pub 2> /dev/null
expect_exit 1 "--public-key that is no key of the chain" "$T" export --store s --manifest-key \
	file:auditor.pem --public-key other.pub --out bx
expect_output "neither the anchor .* nor the current key" "the error names both"
expect_exit 1 "a pin the store's chain does not start from" "$T" export --store s --manifest-key \
	file:auditor.pem --public-key chain.pub --expect-key-fingerprint "$(fpr_of other.pub)" --out bx
expect_output "not from the pinned" "the error names the pin"
expect_exit 2 "--public-key without --manifest-key" "$T" export --store s --key file:chain.pem \
	--public-key chain.pub --out bx
[ ! -e bx ] && pass "no refused export left a bundle" || fail "bx exists"

# The manual recipe: verifies the exporter-signed bundle with the exporter's key,
# and says so; refuses an exporter key that is the chain's.
expect_exit 0 "recipe verifies the exporter-signed bundle" run_recipe b1 CKPT="$W/cp3.ckpt"
expect_output "manifest signed by the exporter's key $AUD, not by the chain's key" "recipe names the kind"
expect_output "bundle verified" "recipe completes"
grep -q "exporter-signed" b1/VERIFY.md && grep -q "nothing more" b1/VERIFY.md &&
	pass "VERIFY.md says what the exporter's signature proves" || fail "VERIFY.md text"
cp -r b1 t1 && chmod -R u+w t1
cp chain.pub t1/exporter_key.pem
/usr/bin/python3 - t1 "$ANCHOR" <<'PY' || exit 2
import hashlib, json, os, subprocess, sys
b, fpr = sys.argv[1:3]
m = json.load(open(b + "/manifest.json"))
for f in m["files"]:
    data = open(os.path.join(b, f["path"]), "rb").read()
    f["sha256"], f["size"] = hashlib.sha256(data).hexdigest(), len(data)
m["signer"] = {"algorithm": "RSASSA_PKCS1_V1_5_SHA_256", "key_fingerprint": fpr}
raw = json.dumps(m, sort_keys=True, separators=(",", ":")).encode()
open(b + "/manifest.json", "wb").write(raw)
open(b + "/manifest.sig", "wb").write(subprocess.run(["openssl", "dgst", "-sha256", "-sign", "chain.pem"],
    input=raw, capture_output=True, check=True).stdout)
PY
expect_exit 1 "recipe: the chain's key as the exporter's" run_recipe t1
expect_output "the exporter's key is a key of the chain" "recipe says why"
expect_exit 1 "verify: the chain's key as the exporter's" "$T" verify t1
expect_output "is the chain's anchor key" "verify says why"

# A chain that rotated: the store holds the key in force, so no public key is needed.
new_ec_key next.pem
"$T" rotate --store s --key file:chain.pem --new-key file:next.pem > /dev/null || exit 2
"$T" record --store s --key file:next.pem --plan "$PLANS/show-basic-update.json" > /dev/null || exit 2
chmod -R a-w s
expect_exit 0 "rotated chain: exporter-signed export without a public key" "$T" export --store s \
	--manifest-key file:auditor.pem --out b2
expect_exit 0 "it verifies from the pinned anchor" "$T" verify b2 --expect-key-fingerprint "$ANCHOR"
expect_exit 0 "recipe follows the rotation" run_recipe b2
expect_output "rotation at seq 4: .* replaces" "recipe reports the rotation"
expect_exit 2 "--manifest-key that is the rotated-in key" "$T" export --store s \
	--manifest-key file:next.pem --out bx
expect_exit 2 "--manifest-key that is the retired anchor" "$T" export --store s \
	--manifest-key file:chain.pem --out bx
expect_output "is a key of chain ro" "the error says the key is the chain's"
[ ! -e bx ] && pass "nothing left under the refused name" || fail "bx exists"
finish
