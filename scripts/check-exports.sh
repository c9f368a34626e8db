#!/usr/bin/env bash
# Fails if a shared library exports any symbol not named tfa_*.
#
#   scripts/check-exports.sh LIB.so
#
# The version node itself (TFATTEST_0, an absolute symbol of value 0 that the
# version script src/tfattest.map defines) is not an export and is skipped.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 LIB.so" >&2; exit 2; }
lib=$1
[ -f "$lib" ] || { echo "check-exports: no such file: $lib" >&2; exit 2; }

syms=$(nm -D --defined-only "$lib") || { echo "check-exports: nm failed on $lib" >&2; exit 2; }
bad=$(printf '%s\n' "$syms" | awk 'NF >= 3 && !($2 == "A" && $1 ~ /^0+$/ && $3 ~ /^[A-Z][A-Z0-9_]*$/) && $3 !~ /^tfa_/ { print $2, $3 }')
n=$(printf '%s\n' "$syms" | awk 'NF >= 3 && $3 ~ /^tfa_/' | wc -l)
if [ -n "$bad" ]; then
	echo "check-exports: $lib exports symbols outside tfa_*:"
	printf '  %s\n' "$bad"
	exit 1
fi
if [ "$n" -eq 0 ]; then
	echo "check-exports: $lib exports no tfa_ symbol at all" >&2
	exit 1
fi
echo "check-exports: $lib exports $n symbols, every one tfa_*"
