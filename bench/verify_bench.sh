#!/usr/bin/env bash
# Verify benchmark: bundles of 2,000 and 20,000 artifacts (about 1 KiB each)
# signed with RSA-3072 RSASSA-PKCS1-v1_5, verified by `tfattest verify`,
# side by side with the machine's RSA-3072 verify limit measured in the same
# run by `openssl speed -seconds 2 -multi 2 rsa3072`. Reports artifacts per
# second, the ratio to the limit, and peak RSS.
#
# Reading is not free: a directory bundle is two files per artifact, and each
# round also times bench/read_floor, which only opens, reads and closes those
# files on 2 threads. A verifier that did nothing but read the files and check
# the signatures would take (1/limit + floor/N) per artifact, so the round
# prints that ceiling as a ratio too, and how much of it the verifier reaches.
#
# usage: bench/verify_bench.sh [BUILD_DIR]      (TFATTEST=BINARY times another build's tfattest)
# The bundles are cached in BUILD_DIR/verify-bench/ (building the 20,000 one
# takes about a minute of signing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
T=${TFATTEST:-$build/tfattest}
cache=$build/verify-bench
plan=$root/tests/fixtures/terraform/plans/show-modules.json
reps=${REPS:-3}
mkdir -p "$cache"
[ -f "$cache/k.pem" ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$cache/k.pem" 2>/dev/null

make_bundle() { # N
	local n=$1 s=/dev/shm/tfa-verify-bench-store-$1-$$
	[ -d "$cache/b$n" ] && return
	echo "building a bundle of $n artifacts (2 writers on one store)..."
	rm -rf "$s"
	"$build/bench/bench_gen" "$s" "file:$cache/k.pem" "$plan" 1 RSASSA_PKCS1_V1_5_SHA_256 bench
	"$build/bench/bench_gen" "$s" "file:$cache/k.pem" "$plan" $(((n - 1) / 2)) RSASSA_PKCS1_V1_5_SHA_256 &
	"$build/bench/bench_gen" "$s" "file:$cache/k.pem" "$plan" $((n - 1 - (n - 1) / 2)) RSASSA_PKCS1_V1_5_SHA_256
	wait
	"$T" export --store "$s" --key "file:$cache/k.pem" --algorithm RSASSA_PKCS1_V1_5_SHA_256 --out "$cache/b$n" > /dev/null
	chmod -R u+w "$s"
	rm -rf "$s"
}

make_bundle 2000
make_bundle 20000
echo "artifact size: $(stat -c %s "$cache/b20000/artifacts/000000000002.json") bytes"
echo "machine: $(nproc) cores; $(openssl version)"
echo

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# These machines are noisy: each round measures the limit and then the verifier
# right after it, and the figures reported are medians over the rounds.
rounds=${ROUNDS:-5}
echo "\$ openssl speed -seconds 2 -multi 2 rsa3072      (the limit: RSA-3072 verifies/s on 2 processes)"
echo "\$ $build/bench/read_floor BUNDLE 2      (x3 per round: only open, read and close the 2N artifact files, 2 threads)"
for n in 2000 20000; do
	echo "\$ $T verify $cache/b$n      (x$reps per round, /usr/bin/time -f '%e %M')"
	: > "$cache/ratios"
	: > "$cache/rates"
	: > "$cache/limits"
	: > "$cache/ceilings"
	rss_max=0
	for round in $(seq "$rounds"); do
		limit=$(openssl speed -seconds 2 -multi 2 rsa3072 2>/dev/null | awk '/^rsa 3072/ {print $NF}')
		floor=$(for r in 1 2 3; do "$build/bench/read_floor" "$cache/b$n" 2 | awk '{print $5}'; done | median)
		ceil=$(awk -v n="$n" -v l="$limit" -v f="$floor" 'BEGIN { print (1 / (1 / l + f / n)) / l }')
		echo "$ceil" >> "$cache/ceilings"
		: > "$cache/times"
		for r in $(seq "$reps"); do
			/usr/bin/time -f '%e %M' -o "$cache/t1" "$T" verify "$cache/b$n" > "$cache/out" || { cat "$cache/out"; exit 1; }
			grep -q 'All verification checks passed' "$cache/out"
			cat "$cache/t1" >> "$cache/times"
		done
		wall=$(cut -d' ' -f1 "$cache/times" | median)
		rss=$(cut -d' ' -f2 "$cache/times" | sort -n | tail -1)
		[ "$rss" -gt "$rss_max" ] && rss_max=$rss
		awk -v n="$n" -v w="$wall" -v l="$limit" -v f="$floor" -v c="$ceil" 'BEGIN { printf "  round: limit %.0f/s, read floor %.3f s, verify median %.3f s = %.0f artifacts/s, ratio %.2f (ceiling %.2f: %.0f%% of it)\n", l, f, w, n / w, n / w / l, c, 100 * n / w / l / c }'
		awk -v n="$n" -v w="$wall" -v l="$limit" 'BEGIN { print n / w / l }' >> "$cache/ratios"
		awk -v n="$n" -v w="$wall" 'BEGIN { print n / w }' >> "$cache/rates"
		echo "$limit" >> "$cache/limits"
	done
	awk -v n="$n" -v r="$(median < "$cache/ratios")" -v a="$(median < "$cache/rates")" \
		-v l="$(median < "$cache/limits")" -v rss="$rss_max" -v c="$(median < "$cache/ceilings")" 'BEGIN {
		printf "%d artifacts: median %.0f artifacts/s, limit %.0f/s, median ratio %.2f, read+RSA ceiling %.2f, peak RSS %.1f MiB\n",
			n, a, l, r, c, rss / 1024 }'
	echo
done
