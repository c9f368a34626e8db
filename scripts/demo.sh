#!/usr/bin/env bash
# The demo: deployments recorded through the apply wrapper (one of them
# failed), a key rotation, a signed checkpoint, a bundle exported as an archive
# and verified offline against the pinned anchor and the checkpoint, an HTML
# report, then one artifact tampered with and caught, and an older export
# caught against the checkpoint.
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
	echo "Creating a SoftHSM2 token in $demo/token with an RSA-3072 and an EC P-256 key..."
	eval "$(bash softhsm/init-token.sh "$demo/token" | grep -E '^(export SOFTHSM2_CONF|TFATTEST_RSA_URI|TFATTEST_EC_URI)=')"
	export SOFTHSM2_CONF
	KEY1=$TFATTEST_RSA_URI
	KEY2=$TFATTEST_EC_URI
else
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$demo/key1.pem" 2>/dev/null
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$demo/key2.pem" 2>/dev/null
	KEY1=file:$demo/key1.pem
	KEY2=file:$demo/key2.pem
fi
export TFATTEST_KEY=$KEY1
export TFATTEST_STORE=$demo/store
export TFATTEST_SPOOL=$demo/spool
echo "TFATTEST_KEY=$TFATTEST_KEY"
echo "TFATTEST_STORE=$TFATTEST_STORE"

run "$T" pubkey
anchor=$("$T" pubkey | tail -1)
echo "$anchor" > "$demo/anchor.fingerprint"
run "$T" init --chain production

# Terraform itself is not run here: a stand-in replays real OpenTofu plans
# (`show -json`) and writes a real state file; nothing outside $demo is touched.
terraform=$root/tests/integration/standin/terraform
export TFA_FIXTURES=$root/tests/fixtures
mkdir -p "$demo/work"
cd "$demo/work"
say "# Three deployments through the apply wrapper (the second one fails)"
echo show-basic-create.json > plan.bin
run "$T" apply -- "$terraform" apply plan.bin
echo show-drift.json > plan.bin
say "$T apply -- terraform apply plan.bin    (this apply fails)"
STANDIN_MODE=fail "$T" apply -- "$terraform" apply plan.bin || echo "(exit status $?: terraform's own, and the failure is recorded)"
run "$T" apply -- "$terraform" apply plan.bin

say "# The HSM key is replaced: the chain is handed to a new key, with a proof of possession"
run "$T" rotate --new-key "$KEY2"
export TFATTEST_KEY=$KEY2
echo show-basic-delete.json > plan.bin
run "$T" apply -- "$terraform" destroy plan.bin
echo show-basic-create.json > plan.bin
run "$T" apply --event rollback --rollback-to 1 -- "$terraform" apply plan.bin
cd "$root"

run "$T" checkpoint --out "$demo/head.ckpt"
run "$T" log
run "$T" diff 1 6

run "$T" export --archive "$demo/bundle.tar.gz"
run "$T" verify "$demo/bundle.tar.gz" --expect-key-fingerprint "$demo/anchor.fingerprint" --checkpoint "$demo/head.ckpt"
run "$T" report "$demo/bundle.tar.gz" --html "$demo/report.html" --expect-key-fingerprint "$demo/anchor.fingerprint"

run "$T" export --out "$demo/bundle"
run ls "$demo/bundle" "$demo/bundle/artifacts" "$demo/bundle/keys"
run "$T" verify "$demo/bundle" --expect-key-fingerprint "$demo/anchor.fingerprint"

say "# An insider edits record 2 after the fact..."
cp "$demo/bundle/artifacts/000000000002.json" "$demo/original.json"
chmod u+w "$demo/bundle/artifacts/000000000002.json"
sed -i 's/"status":"failed"/"status":"succeeded"/' "$demo/bundle/artifacts/000000000002.json"
say "$T verify $demo/bundle --expect-key-fingerprint $demo/anchor.fingerprint"
if "$T" verify "$demo/bundle" --expect-key-fingerprint "$demo/anchor.fingerprint"; then
	echo "tampering was NOT detected" >&2
	exit 1
fi
echo "(exit status 1: tampering detected)"

say "# ...and the original is restored."
cp "$demo/original.json" "$demo/bundle/artifacts/000000000002.json"
run "$T" verify "$demo/bundle" --expect-key-fingerprint "$demo/anchor.fingerprint"

say "# An older export, passed off as current, fails against the published checkpoint"
run "$T" export --to 4 --out "$demo/old-bundle" --key "$KEY2"
if "$T" verify "$demo/old-bundle" --expect-key-fingerprint "$demo/anchor.fingerprint" --checkpoint "$demo/head.ckpt"; then
	echo "the rollback was NOT detected" >&2
	exit 1
fi
echo "(exit status 1: the bundle stops short of the checkpoint)"
echo
echo "Demo complete. In $demo: bundle.tar.gz and bundle/ (VERIFY.md in each checks it by hand"
echo "with openssl), report.html for auditors, head.ckpt and anchor.fingerprint to publish."
