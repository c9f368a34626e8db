#!/usr/bin/env bash
# The demo: four real deployments recorded, exported, verified offline, then
# one artifact tampered with and caught.
#
# The signing key lives in a SoftHSM2 token created for this run (the same
# PKCS#11 path an HSM takes); DEMO_SIGNER=file uses a PEM key instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build -j"$(nproc)" --target tfattest_cli > /dev/null

T=$root/build/tfattest
PLANS=$root/tests/fixtures/terraform/plans
STATES=$root/tests/fixtures/terraform/states
demo=$root/.demo
chmod -R u+w "$demo" 2>/dev/null || true
rm -rf "$demo"
mkdir -p "$demo"

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

signer=${DEMO_SIGNER:-pkcs11}
if [ "$signer" = pkcs11 ]; then
	echo "Creating a SoftHSM2 token in $demo/token with an RSA-3072 key..."
	eval "$(bash softhsm/init-token.sh "$demo/token" | grep -E '^(export SOFTHSM2_CONF|TFATTEST_RSA_URI)=')"
	export SOFTHSM2_CONF
	export TFATTEST_KEY=$TFATTEST_RSA_URI
else
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$demo/key.pem" 2>/dev/null
	export TFATTEST_KEY=file:$demo/key.pem
fi
export TFATTEST_STORE=$demo/store
echo "TFATTEST_KEY=$TFATTEST_KEY"
echo "TFATTEST_STORE=$TFATTEST_STORE"

run "$T" pubkey
fpr=$("$T" pubkey | tail -1)

run "$T" init --chain production
run "$T" record --plan "$PLANS/show-basic-create.json" --event apply
run "$T" record --plan "$PLANS/show-drift.json" --event apply --state "$STATES/show-basic-delete.tfstate"
run "$T" record --plan "$PLANS/show-basic-delete.json" --event destroy
run "$T" record --plan "$PLANS/show-requires-replace.json" --event rollback --status failed --exit-code 1

run "$T" export --out "$demo/bundle"
run ls "$demo/bundle" "$demo/bundle/artifacts"
run "$T" verify "$demo/bundle" --expect-key-fingerprint "$fpr"

say "# An insider edits record 2 after the fact..."
cp "$demo/bundle/artifacts/000000000002.json" "$demo/original.json"
chmod u+w "$demo/bundle/artifacts/000000000002.json"
sed -i 's/"status":"succeeded"/"status":"failed"/' "$demo/bundle/artifacts/000000000002.json"
say "$T verify $demo/bundle --expect-key-fingerprint $fpr"
if "$T" verify "$demo/bundle" --expect-key-fingerprint "$fpr"; then
	echo "tampering was NOT detected" >&2
	exit 1
fi
echo "(exit status 1: tampering detected)"

say "# ...and the original is restored."
cp "$demo/original.json" "$demo/bundle/artifacts/000000000002.json"
run "$T" verify "$demo/bundle" --expect-key-fingerprint "$fpr"
echo
echo "Demo complete. The bundle is in $demo/bundle; VERIFY.md in it checks it by hand with openssl."
