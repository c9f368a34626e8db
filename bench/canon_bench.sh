#!/usr/bin/env bash
# Benchmark: `tfattest canon FILE` against the npm `canonicalize` package
# (RFC 8785 reference in JavaScript) on the same generated Terraform-plan-shaped
# documents, one per shape:
#   plan   ~20 MB plan (bench/gen_plan.mjs's default shape)
#   dense  ~22 MB plan dense in small objects, about one key in twenty
#          non-ASCII, some keys ordered differently by UTF-16 than by UTF-8
#
# Usage: bench/canon_bench.sh [TFATTEST_BINARY]
#        bench/canon_bench.sh --driver
#   TFATTEST_BINARY  defaults to build/tfattest; it is run as `BINARY canon FILE`.
#   --driver         build bench/canon_driver.c (the library's canonicalizer
#                    behind the same `canon FILE` interface) and time that
#                    instead, for trees where the CLI command is not built.
# Environment: SEED (default 20261127), SIZE_MB (20), REPS (5), SHAPES ("plan
# dense"), BASELINE (another `canon FILE` binary, e.g. an older build, timed in
# the same runs and reported beside it), KEEP=1 keeps the work directory.
# Needs node and `npm ci` run at the project root (for node_modules/canonicalize).
#
# Prints for each shape the exact commands, the document's size, sha256 and
# counts (objects, keys, non-ASCII keys), each run's wall time, the medians,
# the ratio, and whether the outputs are byte-identical (cmp). Exits non-zero
# when a command fails or the outputs differ.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
seed=${SEED:-20261127}
size_mb=${SIZE_MB:-20}
reps=${REPS:-5}
shapes=${SHAPES:-plan dense}
baseline=${BASELINE:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/tfa-canon-bench.XXXXXX")
cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

if [ "${1:-}" = "--driver" ]; then
	bin="$work/canon_driver"
	# The driver is built without CMake: it stands in for the generated features.h.
	mkdir -p "$work/include/tfattest"
	printf '%s\n' '#define TFATTEST_VERIFIER_ONLY 1' '#define TFATTEST_WITH_ARCHIVE 0' \
		'#define TFATTEST_WITH_PKCS11 0' '#define TFATTEST_WITH_AWS 0' > "$work/include/tfattest/features.h"
	cc_cmd=(cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I"$work/include" -I"$root/include" -I"$root/src"
		-o "$bin" "$here/canon_driver.c" "$root/src/format/jcs.c" "$root/src/format/jlex.c" "$root/src/format/utf8.c" "$root/src/format/hex.c"
		"$root/src/format/jcs_number.c"
		"$root/src/format/error.c" "$root/src/format/buffer.c" -lcrypto -lm)
	echo "building driver: ${cc_cmd[*]}"
	"${cc_cmd[@]}"
else
	bin=${1:-$root/build/tfattest}
fi
if [ ! -x "$bin" ]; then
	echo "error: $bin is not an executable (build the project, pass the binary, or use --driver)" >&2
	exit 2
fi
if [ ! -f "$root/node_modules/canonicalize/package.json" ]; then
	echo "error: node_modules/canonicalize is missing: run 'npm ci' in $root" >&2
	exit 2
fi
node_ver=$(node --version)
canon_ver=$(node -p "require('$root/node_modules/canonicalize/package.json').version")

# A binary must speak `canon FILE`.
printf '{"b":1,"a":[2.50,"\\u0041"]}' >"$work/probe.json"
check_binary() {
	local probe
	if ! probe=$("$1" canon "$work/probe.json" 2>&1) || [ "${probe%$'\n'}" != '{"a":[2.5,"A"],"b":1}' ]; then
		echo "error: '$1 canon FILE' does not canonicalize (got: $probe); try --driver" >&2
		exit 2
	fi
}
check_binary "$bin"
if [ -n "$baseline" ]; then
	[ -x "$baseline" ] || { echo "error: BASELINE $baseline is not an executable" >&2; exit 2; }
	check_binary "$baseline"
fi

# Wall time of one run, in seconds, output to $1. The previous run's output
# is removed before the clock starts: truncating it in the redirection would
# count the release of its ~20 MB of page cache (and any wait for its
# writeback) against the command timed.
timed() {
	local out=$1 t0 t1
	shift
	rm -f "$out"
	t0=$EPOCHREALTIME
	"$@" >"$out"
	t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2];
		else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "node $node_ver, canonicalize@$canon_ver; load: $(uptime | sed 's/.*load average/load average/')"
status=0
summary=()
for shape in $shapes; do
	echo
	echo "== shape $shape"
	doc="$work/$shape.json"
	gen_cmd=(node "$here/gen_plan.mjs" "$seed" "$((size_mb * 1024 * 1024))" "$shape")
	echo "generating: ${gen_cmd[*]} > $doc"
	"${gen_cmd[@]}" >"$doc"
	echo "document: $(wc -c <"$doc") bytes, sha256 $(sha256sum "$doc" | cut -d' ' -f1)"
	echo "counts: $(node "$here/doc_stats.mjs" "$doc")"

	tfa_cmd=("$bin" canon "$doc")
	node_cmd=(node "$here/canon_node.mjs" "$doc")
	echo "tfattest:  ${tfa_cmd[*]} > $work/tfattest.out"
	[ -z "$baseline" ] || echo "baseline:  $baseline canon $doc > $work/baseline.out"
	echo "reference: ${node_cmd[*]} > $work/node.out   (node $node_ver, canonicalize@$canon_ver)"

	tfa_times=()
	node_times=()
	base_times=()
	for ((i = 1; i <= reps; i++)); do
		# Alternate which one goes first.
		if ((i % 2)); then
			t=$(timed "$work/tfattest.out" "${tfa_cmd[@]}")
			n=$(timed "$work/node.out" "${node_cmd[@]}")
			[ -z "$baseline" ] || b=$(timed "$work/baseline.out" "$baseline" canon "$doc")
		else
			[ -z "$baseline" ] || b=$(timed "$work/baseline.out" "$baseline" canon "$doc")
			n=$(timed "$work/node.out" "${node_cmd[@]}")
			t=$(timed "$work/tfattest.out" "${tfa_cmd[@]}")
		fi
		tfa_times+=("$t")
		node_times+=("$n")
		if [ -n "$baseline" ]; then
			base_times+=("$b")
			echo "run $i: tfattest ${t} s, node canonicalize ${n} s, baseline ${b} s"
		else
			echo "run $i: tfattest ${t} s, node canonicalize ${n} s"
		fi
		if ((i == 1)); then
			cp "$work/tfattest.out" "$work/tfattest.first"
		elif ! cmp -s "$work/tfattest.out" "$work/tfattest.first"; then
			echo "error: tfattest output differs between runs" >&2
			exit 1
		fi
	done

	tm=$(printf '%s\n' "${tfa_times[@]}" | median)
	nm=$(printf '%s\n' "${node_times[@]}" | median)
	ratio=$(awk -v t="$tm" -v n="$nm" 'BEGIN { if (t > 0) printf "%.2f", n / t; else print "inf" }')
	echo "median over $reps runs: tfattest $tm s, node canonicalize $nm s"
	echo "ratio (node / tfattest): ${ratio}x (goal: at least 10x)"
	line="$shape: tfattest $tm s, node $nm s, ${ratio}x"
	if [ -n "$baseline" ]; then
		bm=$(printf '%s\n' "${base_times[@]}" | median)
		bratio=$(awk -v t="$bm" -v n="$nm" 'BEGIN { if (t > 0) printf "%.2f", n / t; else print "inf" }')
		echo "baseline median $bm s, ratio (node / baseline): ${bratio}x"
		line="$line; baseline $bm s, ${bratio}x"
	fi
	if cmp "$work/tfattest.out" "$work/node.out"; then
		echo "outputs identical: yes ($(wc -c <"$work/tfattest.out") bytes, sha256 $(sha256sum "$work/tfattest.out" | cut -d' ' -f1))"
		line="$line, identical"
	else
		echo "outputs identical: no"
		line="$line, OUTPUTS DIFFER"
		status=1
	fi
	if [ -n "$baseline" ] && ! cmp -s "$work/baseline.out" "$work/node.out"; then
		echo "baseline output identical: no"
	fi
	summary+=("$line")
done
echo
echo "summary (load: $(uptime | sed 's/.*load average/load average/')):"
printf '  %s\n' "${summary[@]}"
exit "$status"
