#!/usr/bin/env bash
# Every C file of the project matches .clang-format: clang-format --dry-run --Werror
# over src/, providers/, include/, tests/ and bench/. Prints the files that differ;
# `clang-format -i FILE` fixes one. Exits 77 when clang-format is not installed.
set -euo pipefail
root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$root"
command -v clang-format > /dev/null || { echo "check-format: clang-format is not installed"; exit 77; }
bad=()
n=0
while IFS= read -r -d '' f; do
	n=$((n + 1))
	clang-format --dry-run --Werror "$f" > /dev/null 2>&1 || bad+=("$f")
done < <(find src providers include tests bench -name '*.[ch]' -print0 | sort -z)
if [ ${#bad[@]} -gt 0 ]; then
	printf 'check-format: %s differs from .clang-format\n' "${bad[@]}"
	echo "check-format: ${#bad[@]} of $n files differ ($(clang-format --version))"
	exit 1
fi
echo "check-format: $n files match .clang-format ($(clang-format --version))"
