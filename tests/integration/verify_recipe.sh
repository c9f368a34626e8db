#!/usr/bin/env bash
# The manual recipe in a bundle's VERIFY.md works with stock tools, for each
# algorithm, and catches tampering.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2

run_recipe() { # bundle [VAR=value...]
	local b=$1
	shift
	sed -n '/^```sh$/,/^```$/p' "$b/VERIFY.md" | sed '1d;$d' > recipe.sh
	(cd "$b" && env "$@" sh "$W/recipe.sh")
}

new_rsa_key rsa.pem 3072
new_ec_key ec.pem
for alg in RSASSA_PSS_SHA_256 RSASSA_PKCS1_V1_5_SHA_256 ECDSA_SHA_256; do
	key=file:rsa.pem
	[ $alg = ECDSA_SHA_256 ] && key=file:ec.pem
	"$T" init --store s-$alg --chain recipe --key $key > /dev/null
	for p in show-basic-create show-basic-update show-basic-delete; do
		"$T" record --store s-$alg --key $key --algorithm $alg --plan "$PLANS/$p.json" > /dev/null
	done
	"$T" export --store s-$alg --key $key --algorithm $alg --out b-$alg > /dev/null
	expect_exit 0 "recipe verifies ($alg)" run_recipe b-$alg
	expect_output 'bundle verified' "recipe completes ($alg)"
done

# Tampering caught by the recipe at each step.
cp -r b-RSASSA_PSS_SHA_256 t1 && chmod -R u+w t1 && printf x >> t1/manifest.json
expect_exit 1 "recipe: tampered manifest" run_recipe t1
cp -r b-RSASSA_PSS_SHA_256 t2 && chmod -R u+w t2 && sed -i 's/"seq":2/"seq":7/' t2/artifacts/000000000002.json
expect_exit 1 "recipe: tampered artifact" run_recipe t2
cp -r b-RSASSA_PSS_SHA_256 t3 && chmod -R u+w t3 && echo extra > t3/artifacts/extra.json
expect_exit 1 "recipe: unlisted file" run_recipe t3
# A chain that rotated twice (RSA -> EC -> RSA PKCS#1), with checkpoints.
new_rsa_key r3.pem 2048
"$T" init --store rs --chain rot --key file:rsa.pem > /dev/null
rrec() { "$T" record --store rs --key "$1" --plan "$PLANS/show-basic-update.json" > /dev/null || exit 2; }
rrec file:rsa.pem
rrec file:rsa.pem
"$T" rotate --store rs --key file:rsa.pem --new-key file:ec.pem > /dev/null || exit 2
rrec file:ec.pem
"$T" checkpoint --store rs --key file:ec.pem --out "$W/cp4.ckpt" > /dev/null || exit 2
"$T" rotate --store rs --key file:ec.pem --new-key file:r3.pem --new-algorithm RSASSA_PKCS1_V1_5_SHA_256 > /dev/null || exit 2
rrec file:r3.pem
"$T" checkpoint --store rs --key file:r3.pem --out "$W/cp6.ckpt" > /dev/null || exit 2
"$T" export --store rs --key file:r3.pem --out rb > /dev/null || exit 2
"$T" export --store rs --key file:r3.pem --out rb45 --from 4 --to 5 > /dev/null || exit 2
expect_exit 0 "recipe follows two rotations" run_recipe rb
expect_output "rotation at seq 3: .* replaces" "recipe reports the first rotation"
expect_output "rotation at seq 5: .* replaces" "recipe reports the second rotation"
expect_output "checkpoint checkpoint.ckpt \\(seq 6\\) reached" "recipe checks the bundle's checkpoint"
expect_exit 0 "recipe on a range, with a trusted checkpoint" run_recipe rb45 CKPT="$W/cp4.ckpt"
expect_output "checkpoint $W/cp4.ckpt \\(seq 4\\) reached" "recipe reaches the trusted checkpoint"
expect_exit 1 "recipe: a range that ends before the checkpoint" run_recipe rb45 CKPT="$W/cp6.ckpt"
expect_output "does not reach" "recipe names the shortfall"
cp -r rb t4 && chmod -R u+w t4
for f in t4/keys/000000000003.json t4/artifacts/000000000003.json; do
	sed -i 's/"new_algorithm":"ECDSA_SHA_256"/"new_algorithm":"ECDSA_SHA_256","x":1/' "$f"
done
expect_exit 1 "recipe: a changed rotation record" run_recipe t4
# Re-lists every file of bundle $1 in its manifest and re-signs the manifest with key $2,
# as an exporter holding the chain's current key could.
resign_manifest() {
	/usr/bin/python3 - "$1" "$2" <<'PY' || exit 2
import hashlib, json, os, subprocess, sys
b, key = sys.argv[1:3]
m = json.load(open(b + "/manifest.json"))
for f in m["files"]:
    data = open(os.path.join(b, f["path"]), "rb").read()
    f["sha256"], f["size"] = hashlib.sha256(data).hexdigest(), len(data)
raw = json.dumps(m, sort_keys=True, separators=(",", ":")).encode()
opts = []
if m["signer"]["algorithm"] == "RSASSA_PSS_SHA_256":
    opts = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"]
open(b + "/manifest.json", "wb").write(raw)
open(b + "/manifest.sig", "wb").write(subprocess.run(["openssl", "dgst", "-sha256", "-sign", key] + opts,
    input=raw, capture_output=True, check=True).stdout)
PY
}

# An RSA-PSS signature whose first byte is zero, with that byte removed: stock openssl
# accepts the shorter signature, so the recipe checks the length itself.
cp -r b-RSASSA_PSS_SHA_256 t5 && chmod -R u+w t5
/usr/bin/python3 - t5/artifacts/000000000001 rsa.pem <<'PY' || exit 2
import sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
a, keyfile = sys.argv[1:3]
key = serialization.load_pem_private_key(open(keyfile, "rb").read(), None)
data = open(a + ".json", "rb").read()
pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
for _ in range(20000):
    sig = key.sign(data, pss, hashes.SHA256())
    if sig[0] == 0:
        break
else:
    sys.exit("no signature with a leading zero byte")
open(a + ".sig", "wb").write(sig[1:])
PY
resign_manifest t5 rsa.pem
expect_exit 0 "openssl accepts the shortened PSS signature" \
	openssl dgst -sha256 -verify b-RSASSA_PSS_SHA_256/public_key.pem -sigopt rsa_padding_mode:pss \
	-sigopt rsa_pss_saltlen:32 -signature t5/artifacts/000000000001.sig t5/artifacts/000000000001.json
expect_exit 1 "recipe: an RSA signature shorter than the modulus" run_recipe t5
expect_output "000000000001.sig is not 384 bytes long" "recipe names the short signature"

# A range from one fork with the rotation record before it from another fork of the same
# chain, signed by the same keys: each record is valid alone; only the links tie them.
"$T" init --store rs2 --chain rot --key file:rsa.pem > /dev/null
for i in 1 2; do
	"$T" record --store rs2 --key file:rsa.pem --plan "$PLANS/show-basic-create.json" > /dev/null || exit 2
done
"$T" rotate --store rs2 --key file:rsa.pem --new-key file:ec.pem > /dev/null || exit 2
"$T" export --store rs2 --key file:ec.pem --out rb2 > /dev/null || exit 2
cp -r rb45 t6 && chmod -R u+w t6
cp rb2/keys/000000000003.json rb2/keys/000000000003.sig t6/keys/
resign_manifest t6 r3.pem
expect_exit 1 "recipe: keys/ from another fork of the chain" run_recipe t6
expect_output "artifacts/000000000004.json does not link to seq 3" "recipe names the broken link"
# A bad artifact signature in a chain that never rotated (no keys/ directory), with
# the manifest re-signed: step 4 must still check every artifact.
cp -r b-RSASSA_PKCS1_V1_5_SHA_256 t7 && chmod -R u+w t7
/usr/bin/python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[50] ^= 1; open(p, "wb").write(b)' \
	t7/artifacts/000000000002.sig
resign_manifest t7 rsa.pem
expect_exit 1 "recipe: a bad artifact signature in a chain without keys/" run_recipe t7
expect_output "bad signature: artifacts/000000000002.json" "recipe names the bad signature"
finish
