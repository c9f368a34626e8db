#!/usr/bin/env bash
# Memory that does not grow with the chain: bench/memory_bench.sh at 1,000 and
# 10,000 ECDSA records. Each command checked peaks under 32 MiB at both sizes,
# and at 10,000 records within 4 MiB of its peak at 1,000.
. "$(dirname "$0")/../lib/common.sh"
SRC=$(realpath "${TFA_SOURCE_DIR:?TFA_SOURCE_DIR must name the source tree}")
build=$(dirname "$T")
[ -x "$build/bench/bench_gen" ] || { echo "SKIP: bench/bench_gen not built"; exit 77; }
[ -x /usr/bin/time ] || { echo "SKIP: /usr/bin/time missing"; exit 77; }
# The stores and bundles on tmpfs when there is one: the sizes, not the disk, are measured.
cache=$W
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	cache=$(mktemp -d /dev/shm/tfa-mem.XXXXXX)
	trap 'chmod -R u+w "$W" "$cache" 2>/dev/null; rm -rf "$W" "$cache"' EXIT
fi
CHECK="export-dir export-tgz verify-dir verify-tgz verify-zip log" CACHE=$cache LIMIT_MIB=32 FLAT_MIB=4 \
	expect_exit 0 "memory_bench.sh 1000 10000: under 32 MiB and flat" \
	bash "$SRC/bench/memory_bench.sh" "$build" 1000 10000
cat "$W/last.out" "$W/last.err"
for c in export-dir export-tgz verify-dir verify-tgz verify-zip log; do
	expect_output "ok: $c under 32 MiB" "$c checked"
done
finish
