#!/usr/bin/env bash
# Rebuilds examples/demo, the committed example bundle, and examples/demo.fingerprint:
# four records (two applies, a destroy and a failed rollback to seq 1) signed on a fresh SoftHSM2 token
# with its RSA-3072 key, exported as a directory bundle.
#
#   scripts/example-bundle.sh [BUILD_DIR]     (default: build)
#
# Run it when the bundle format or its VERIFY.md recipe changes; the token is thrown away,
# so the fingerprint changes each time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
T=$(realpath "${1:-$root/build}/tfattest")
plans=$root/tests/fixtures/terraform/plans
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

eval "$(sh "$root/softhsm/init-token.sh" "$work/token")"
key=$TFATTEST_RSA_URI
store=$work/store
"$T" init --store "$store" --chain production --key "$key" > /dev/null
"$T" record --store "$store" --key "$key" --plan "$plans/show-basic-create.json" > /dev/null
"$T" record --store "$store" --key "$key" --plan "$plans/show-drift.json" > /dev/null
"$T" record --store "$store" --key "$key" --plan "$plans/show-basic-delete.json" --event destroy > /dev/null
"$T" record --store "$store" --key "$key" --plan "$plans/show-requires-replace.json" --event rollback \
	--rollback-to 1 --status failed --exit-code 1 > /dev/null
"$T" export --store "$store" --key "$key" --out "$work/bundle" > /dev/null
"$T" pubkey --key "$key" | grep '^sha256:' > "$work/fingerprint"
"$T" verify "$work/bundle" --expect-key-fingerprint "$work/fingerprint" > /dev/null

chmod -R u+w "$root/examples/demo" 2>/dev/null || true
rm -rf "$root/examples/demo"
cp -r "$work/bundle" "$root/examples/demo"
chmod -R u+w,go-w "$root/examples/demo"
cp "$work/fingerprint" "$root/examples/demo.fingerprint"
echo "examples/demo rebuilt; anchor $(cat "$root/examples/demo.fingerprint")"
