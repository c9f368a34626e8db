#!/usr/bin/env bash
# The manual recipe in a bundle's VERIFY.md works with stock tools, for each
# algorithm, and catches tampering.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2

run_recipe() { # bundle
	sed -n '/^```sh$/,/^```$/p' "$1/VERIFY.md" | sed '1d;$d' > recipe.sh
	(cd "$1" && bash "$W/recipe.sh")
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
finish
