#!/usr/bin/env bash
# Reconcile benchmark: 10,000 state versions (about 2 KiB each, one lineage,
# serials 1..10,000) against a 10,000-record chain whose records hold them as
# after-states (ECDSA P-256 file key), by `tfattest reconcile --state-dir`.
# Reports wall time and peak RSS (/usr/bin/time -v), and the state bodies
# read, which must equal the versions: no body is read twice. Compared, in the
# same run, with what reconcile cannot do without: walking and checking the
# chain (`tfattest log`, every record's signature and link) plus reading and
# hashing every state body once (`sha256sum` of each file). The machine may be
# shared: CPU time (user + system) is printed beside wall time.
#
# usage: bench/reconcile_bench.sh [BUILD_DIR] [N]
# The inputs are cached in /dev/shm/tfa-reconcile-bench-N (built in one
# process by bench_reconcile_gen, a few seconds).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
n=${2:-10000}
T=$build/tfattest
cache=/dev/shm/tfa-reconcile-bench-$n
reps=${REPS:-3}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time)"; exit 2; }
if [ ! -f "$cache/done" ]; then
	echo "building $n state versions and a $n-record chain (one writer)..."
	rm -rf "$cache" && mkdir -p "$cache/states"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$cache/k.pem" 2>/dev/null
	"$build/bench/bench_reconcile_gen" "$cache/s" "file:$cache/k.pem" "$n" "$cache/states" bench
	"$T" pubkey --key "file:$cache/k.pem" | sed -n '/BEGIN/,/END/p' > "$cache/pub.pem"
	touch "$cache/done"
fi
cd "$cache"
bytes=$(cat states/* | wc -c)
echo "inputs: $n state versions ($bytes bytes), $(ls s/records | wc -l) records; machine: $(nproc) cores"
echo

best() { # VAR LABEL CMD...: the best wall time of $reps runs (into VAR_t), and that run's peak RSS
	local var=$1 label=$2 t c rss bt=999999 bc=0 brss=0
	shift 2
	for _ in $(seq "$reps"); do
		/usr/bin/time -v -o time.out "$@" > out.json 2> err.txt || [ $? -eq 1 ]
		t=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' time.out)
		c=$(awk -F': ' '/User time|System time/ {s+=$2} END {print s}' time.out)
		rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' time.out)
		if awk -v a="$t" -v b="$bt" 'BEGIN{exit !(a<b)}'; then bt=$t; bc=$c; brss=$rss; fi
	done
	printf '%-28s %8.3f s wall %8.3f s CPU  peak RSS %7d KiB\n' "$label" "$bt" "$bc" "$brss"
	eval "${var}_t=$bt ${var}_c=$bc"
}

cmd=("$T" reconcile --store s --public-key pub.pem --state-dir states --json)
echo "command: ${cmd[*]}"
best reconcile "reconcile ($n vs $n)" "${cmd[@]}"
read_count=$(python3 -c 'import json; d=json.load(open("out.json")); print(d["stats"]["state_bodies_read"], d["summary"]["attested"], d["summary"]["complete"])')
echo "state bodies read, attested, complete: $read_count"
set -- $read_count
[ "$1" -eq "$n" ] || { echo "FAIL: $1 state bodies read for $n versions"; exit 1; }
[ "$2" -eq "$n" ] || { echo "FAIL: $2 of $n attested"; exit 1; }
best log "log (chain walk)" "$T" log --store s --public-key pub.pem --json
best sum "sha256sum (every body)" sh -c 'sha256sum states/* > /dev/null'
floor=$(awk -v a="$log_t" -v b="$sum_t" 'BEGIN{print a+b}')
floor_c=$(awk -v a="$log_c" -v b="$sum_c" 'BEGIN{print a+b}')
echo
printf 'compared with: chain walk + reading and hashing every body once = %.3f s wall, %.3f s CPU\n' "$floor" "$floor_c"
printf 'ratio reconcile / that floor: %.2f wall, %.2f CPU (load average: %s)\n' \
	"$(awk -v r="$reconcile_t" -v f="$floor" 'BEGIN{print r/f}')" \
	"$(awk -v r="$reconcile_c" -v f="$floor_c" 'BEGIN{print r/f}')" "$(cut -d' ' -f1-3 /proc/loadavg)"
