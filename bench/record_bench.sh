#!/usr/bin/env bash
# Record benchmark: N appends through the library with one open file: signer
# (RSA-3072, the default PSS) on a store on the real disk, and the wall time
# of single `tfattest record` processes. Prints the commands it runs.
# usage: bench/record_bench.sh [BUILD_DIR] [N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
n=${2:-5000}
work=$(mktemp -d "$root/build/record-bench.XXXXXX")
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
plan=$root/tests/fixtures/terraform/plans/show-modules.json

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$work/k.pem" 2>/dev/null
echo "machine: $(nproc) cores, $(uname -r), store on $(df -T "$work" | awk 'NR==2{print $2}')"
echo "\$ openssl speed -seconds 3 rsa3072   (one core: the signing limit)"
openssl speed -seconds 3 rsa3072 2>/dev/null | grep '^rsa 3072'
echo
echo "\$ $build/bench/bench_record $work/s file:$work/k.pem $plan $n"
"$build/bench/bench_record" "$work/s" "file:$work/k.pem" "$plan" "$n"
echo
echo "the same on tmpfs, where fsync costs nothing: the library's own cost"
echo "\$ $build/bench/bench_record /dev/shm/tfa-record-bench-$$ file:$work/k.pem $plan $n"
rm -rf /dev/shm/tfa-record-bench-$$
"$build/bench/bench_record" "/dev/shm/tfa-record-bench-$$" "file:$work/k.pem" "$plan" "$n" | sed -n '2,4p;14,15p'
chmod -R u+w /dev/shm/tfa-record-bench-$$ && rm -rf /dev/shm/tfa-record-bench-$$
echo
echo "one process per record (module load, key load, capture, append):"
"$build/tfattest" init --store "$work/p" --chain p --key "file:$work/k.pem" > /dev/null
cmd="$build/tfattest record --store $work/p --key file:$work/k.pem --plan $plan"
echo "\$ hyperfine -N --warmup 3 --runs 50 '$cmd'"
if command -v hyperfine > /dev/null; then
	hyperfine -N --warmup 3 --runs 50 "$cmd" 2>/dev/null | sed -n '2,3p'
fi
