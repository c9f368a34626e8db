#!/usr/bin/env bash
# Memory benchmark: peak RSS (/usr/bin/time -v "Maximum resident set size") of
# `tfattest export` (directory, .tar.gz, .zip), `tfattest verify` (directory,
# .tar.gz, .zip) and `tfattest log`, on chains of ECDSA P-256 records (file
# key) built by bench_gen, for each N given (default 2000 20000 200000). A zip
# holds at most 65,534 files: past 32,766 records the zip columns read n/a.
#
# usage: bench/memory_bench.sh [BUILD_DIR] [N...]
# Environment:
#   LIMIT_MIB=32     the limit each peak is compared with (printed as a ratio)
#   CHECK="cmd ..."  commands (export-dir export-tgz export-zip verify-dir
#                    verify-tgz verify-zip log) that must stay under LIMIT_MIB
#                    at every N, and at the largest N within FLAT_MIB of the
#                    smallest N's peak; exit 1 otherwise
#   FLAT_MIB=4       the margin for that flatness check
#   CACHE=DIR        where the stores are kept between runs (default
#                    BUILD_DIR/memory-bench; building 200,000 records takes
#                    about two minutes)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(2000 20000 200000)
T=$build/tfattest
G=$build/bench/bench_gen
limit=${LIMIT_MIB:-32}
flat=${FLAT_MIB:-4}
cache=${CACHE:-$build/memory-bench}
plan=$root/tests/fixtures/terraform/plans/show-modules.json
[ -x "$G" ] || { echo "memory_bench: $G not built (TFATTEST_BUILD_BENCH=ON)" >&2; exit 2; }
mkdir -p "$cache"
[ -f "$cache/k.pem" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$cache/k.pem" 2> /dev/null
key=file:$cache/k.pem
work=$(mktemp -d "$cache/run.XXXXXX")
trap 'chmod -R u+w "$work" 2> /dev/null; rm -rf "$work"' EXIT

make_store() { # N
	local n=$1 s=$cache/s$1
	[ -f "$s.done" ] && return
	echo "building a chain of $n records (2 writers on one store)..."
	chmod -R u+w "$s" 2> /dev/null || true
	rm -rf "$s"
	"$G" "$s" "$key" "$plan" 1 ECDSA_SHA_256 bench > /dev/null
	if [ "$n" -gt 1 ]; then
		"$G" "$s" "$key" "$plan" $(((n - 1) / 2)) ECDSA_SHA_256 > /dev/null &
		"$G" "$s" "$key" "$plan" $((n - 1 - (n - 1) / 2)) ECDSA_SHA_256 > /dev/null
		wait
	fi
	touch "$s.done"
}

# Runs a command under /usr/bin/time -v; prints its peak RSS in KiB.
peak() { # OUT_FILE cmd...
	local out=$1
	shift
	if ! /usr/bin/time -v -o "$work/time" "$@" > "$out" 2>&1; then
		echo "memory_bench: failed: $*" >&2
		cat "$out" >&2
		exit 1
	fi
	awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time"
}

cmds=(export-dir export-tgz export-zip verify-dir verify-tgz verify-zip log)
declare -A kib
echo "machine: $(nproc) cores; $(openssl version); limit ${limit} MiB"
for n in "${sizes[@]}"; do
	make_store "$n"
	s=$cache/s$n
	d=$work/b$n
	echo
	echo "N = $n records"
	kib[export-dir,$n]=$(peak "$work/out" "$T" export --store "$s" --key "$key" --out "$d")
	echo "\$ $T export --store $s --key $key --out $d"
	kib[export-tgz,$n]=$(peak "$work/out" "$T" export --store "$s" --key "$key" --archive "$d.tar.gz")
	echo "\$ $T export --store $s --key $key --archive $d.tar.gz"
	if [ $((2 * n + 5)) -le 65534 ]; then
		kib[export-zip,$n]=$(peak "$work/out" "$T" export --store "$s" --key "$key" --archive "$d.zip")
		echo "\$ $T export --store $s --key $key --archive $d.zip"
	fi
	for f in dir tgz zip; do
		case $f in dir) b=$d ;; tgz) b=$d.tar.gz ;; zip) b=$d.zip ;; esac
		[ -e "$b" ] || continue
		kib[verify-$f,$n]=$(peak "$work/out" "$T" verify "$b")
		grep -q 'All verification checks passed' "$work/out" || { cat "$work/out"; exit 1; }
		echo "\$ $T verify $b"
	done
	kib[log,$n]=$(peak "$work/out" "$T" log --store "$s" --key "$key")
	echo "\$ $T log --store $s --key $key > /dev/null"
	printf '%-12s %10s %8s\n' command "peak MiB" "/limit"
	for c in "${cmds[@]}"; do
		v=${kib[$c,$n]:-}
		if [ -z "$v" ]; then
			printf '%-12s %10s %8s\n' "$c" n/a -
		else
			awk -v c="$c" -v k="$v" -v l="$limit" 'BEGIN {printf "%-12s %10.1f %8.2f\n", c, k / 1024, k / 1024 / l}'
		fi
	done
	chmod -R u+w "$work"
	rm -rf "$d" "$d.tar.gz" "$d.zip"
done

[ -n "${CHECK:-}" ] || exit 0
echo
fail=0
lo=${sizes[0]}
hi=${sizes[${#sizes[@]} - 1]}
for c in $CHECK; do
	for n in "${sizes[@]}"; do
		v=${kib[$c,$n]:-}
		[ -n "$v" ] || continue
		if [ "$v" -ge $((limit * 1024)) ]; then
			echo "FAIL: $c at $n records peaks at $((v / 1024)) MiB, the limit is $limit MiB"
			fail=1
		fi
	done
	a=${kib[$c,$lo]:-}
	b=${kib[$c,$hi]:-}
	if [ -n "$a" ] && [ -n "$b" ]; then
		if [ "$b" -gt $((a + flat * 1024)) ]; then
			echo "FAIL: $c grows with the chain: $((a / 1024)) MiB at $lo records, $((b / 1024)) MiB at $hi"
			fail=1
		else
			echo "ok: $c under $limit MiB at ${sizes[*]} records, $((b / 1024)) MiB at $hi within $flat MiB of $((a / 1024)) MiB at $lo"
		fi
	fi
done
exit $fail
