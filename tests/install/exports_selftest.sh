#!/usr/bin/env bash
# Proves scripts/check-exports.sh fails on a shared library that exports a
# symbol outside tfa_*, and passes one built with src/tfattest.map.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'int tfa_thing(void);\nint helper(void);\nint helper(void) { return 1; }\nint tfa_thing(void) { return helper(); }\n' \
	> "$tmp/lib.c"
"$cc" -shared -fPIC -o "$tmp/leaky.so" "$tmp/lib.c"
"$cc" -shared -fPIC -Wl,--version-script="$src/src/tfattest.map" -o "$tmp/tight.so" "$tmp/lib.c"
if bash "$src/scripts/check-exports.sh" "$tmp/leaky.so" > "$tmp/out" 2>&1; then
	echo "FAIL: a library exporting helper passed"; cat "$tmp/out"; exit 1
fi
grep -q 'T helper' "$tmp/out" || { echo "FAIL: helper not named"; cat "$tmp/out"; exit 1; }
echo "ok: a library exporting helper fails"
bash "$src/scripts/check-exports.sh" "$tmp/tight.so" || { echo "FAIL: the version script's library failed"; exit 1; }
echo "ok: the version script exports tfa_thing alone"
