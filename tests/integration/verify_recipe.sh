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
finish
