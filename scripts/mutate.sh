#!/usr/bin/env bash
# Mutation check: each mutant in tests/mutants.txt is one deliberate bug in a
# security check of the verifier or the recorder. For each, this script applies
# it, rebuilds what the covering tests run, runs those tests, and restores the
# file. A mutant the tests do not catch has "survived": some check can break
# with every test still green.
#
#   scripts/mutate.sh [--list FILE] [--keep] [--no-baseline] [ID...]
#   scripts/mutate.sh --check [--list FILE]
#
# The working tree is copied to a temporary directory and only the copy is
# mutated and built (one build directory, configured once). IDs limit the run
# to those mutants. --no-baseline skips the first step, which runs every
# covering test on the unmutated copy (a test that fails there would "kill"
# every mutant). --keep leaves the temporary directory. --check only reads the
# list and checks that it is well formed and that no mutant is stale, in the
# working tree itself, building nothing (ctest's mutants_list runs it, so that a
# change to a checked line updates its mutant in the same commit).
#
# Exit status: 0 when every mutant is killed; 1 when a mutant survives, does
# not build, or a covering test fails on the unmutated code; 2 when the list is
# malformed or a mutant is stale (its ORIGINAL snippet does not occur exactly
# once in its file): a stale mutant is an error, never skipped.
#
# A full run of the 54 mutants took 25 minutes on two busy cores (about 90 s for
# each mutant that tests/integration/verify_tamper.sh covers, 10-30 s for the
# others), so it is not part of scripts/test.sh: run it after changing a check,
# or a test that covers one. See "Mutation check" in README.md.
#
# The list format (tests/mutants.txt):
#   === ID
#   file: PATH                  the file to mutate, relative to the root
#   tests: REGEX                the ctest -R regex of the tests that cover it
#   why: TEXT                   the check the mutant breaks (one line)
#   --- original
#   LINES                       verbatim; must occur exactly once in PATH
#   +++ replacement
#   LINES                       verbatim
#   ===
# Lines outside a block that start with '#' are comments.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
list=$root/tests/mutants.txt
keep=0
baseline=1
check_only=0
ids=()
while [ $# -gt 0 ]; do
	case $1 in
	--list) list=$(realpath "$2"); shift 2 ;;
	--keep) keep=1; shift ;;
	--no-baseline) baseline=0; shift ;;
	--check) check_only=1; shift ;;
	-h | --help) sed -n '2,40p' "$0"; exit 0 ;;
	-*) echo "mutate.sh: unknown option $1" >&2; exit 2 ;;
	*) ids+=("$1"); shift ;;
	esac
done
PY=/usr/bin/python3
jobs=$(nproc)
start=$(date +%s)

# The helper: parses the list, checks, applies and restores mutants.
tool() {
	"$PY" - "$@" <<'PY'
import os, re, sys

def parse(path):
    muts, cur, sect = [], None, None
    for n, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
        if cur is None:
            if line.startswith("=== "):
                cur = {"id": line[4:].strip(), "line": n, "original": [], "replacement": []}
                sect = "head"
            elif line.strip() and not line.startswith("#"):
                sys.exit("%s:%d: text outside a mutant block" % (path, n))
            continue
        if line == "===":
            for k in ("file", "tests", "why"):
                if k not in cur:
                    sys.exit("%s:%d: mutant %s has no %s:" % (path, cur["line"], cur["id"], k))
            if not cur["original"]:
                sys.exit("%s:%d: mutant %s has no original" % (path, cur["line"], cur["id"]))
            cur["original"] = "\n".join(cur["original"])
            cur["replacement"] = "\n".join(cur["replacement"])
            if cur["original"] == cur["replacement"]:
                sys.exit("%s:%d: mutant %s changes nothing" % (path, cur["line"], cur["id"]))
            muts.append(cur)
            cur = None
        elif line == "--- original":
            sect = "original"
        elif line == "+++ replacement":
            sect = "replacement"
        elif sect == "head":
            m = re.match(r"^(file|tests|why): (.+)$", line)
            if not m:
                sys.exit("%s:%d: expected file:, tests:, why: or --- original" % (path, n))
            cur[m.group(1)] = m.group(2).strip()
        else:
            cur[sect].append(line)
    if cur is not None:
        sys.exit("%s: mutant %s is not closed with ===" % (path, cur["id"]))
    seen = set()
    for m in muts:
        if not re.match(r"^[a-z0-9_]+$", m["id"]) or m["id"] in seen:
            sys.exit("%s:%d: mutant id %r is not unique [a-z0-9_]+" % (path, m["line"], m["id"]))
        seen.add(m["id"])
    return muts

cmd, path, tree = sys.argv[1:4]
muts = parse(path)
if cmd == "list":
    # id TAB file TAB tests, for the shell
    for m in muts:
        print("%s\t%s\t%s" % (m["id"], m["file"], m["tests"]))
elif cmd == "check":
    # Every ORIGINAL occurs exactly once in its file.
    bad = 0
    for m in muts:
        f = os.path.join(tree, m["file"])
        n = open(f, encoding="utf-8").read().count(m["original"]) if os.path.isfile(f) else -1
        if n != 1:
            bad += 1
            print("STALE %s: its original occurs %s in %s" %
                  (m["id"], "no file" if n < 0 else "%d times" % n, m["file"]))
    sys.exit(2 if bad else 0)
elif cmd == "apply":
    m = next(x for x in muts if x["id"] == sys.argv[4])
    f = os.path.join(tree, m["file"])
    s = open(f, encoding="utf-8").read()
    if s.count(m["original"]) != 1:
        sys.exit("STALE " + m["id"])
    open(f, "w", encoding="utf-8").write(s.replace(m["original"], m["replacement"]))
elif cmd == "why":
    print(next(x for x in muts if x["id"] == sys.argv[4])["why"])
PY
}

[ -f "$list" ] || { echo "mutate.sh: no list $list" >&2; exit 2; }
if [ $check_only -eq 1 ]; then
	tool list "$list" "$root" > /dev/null || exit 2
	if ! tool check "$list" "$root"; then
		echo "mutate.sh: stale mutants: update ${list#"$root"/} to the current code" >&2
		exit 2
	fi
	echo "ok - $(tool list "$list" "$root" | wc -l) mutants in ${list#"$root"/}, none stale"
	exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tfa-mutate.XXXXXX")
cleanup() { [ $keep -eq 1 ] && echo "kept $tmp" || rm -rf "$tmp"; }
trap cleanup EXIT
src=$tmp/src
mkdir "$src"
# The working tree as it is (tracked and untracked files, not ignored ones).
(cd "$root" && git ls-files -z -co --exclude-standard) |
	while IFS= read -r -d '' f; do [ -e "$root/$f" ] || [ -L "$root/$f" ] && printf '%s\0' "$f"; done |
	(cd "$root" && tar --null -T - -cf -) | tar -xf - -C "$src"
# node_modules (ignored) holds test emulators: link it, never copy or mutate it.
[ -e "$root/node_modules" ] && ln -sfn "$(realpath "$root/node_modules")" "$src/node_modules"

tool list "$list" "$src" > "$tmp/mutants.tsv"
if [ ${#ids[@]} -gt 0 ]; then
	for id in "${ids[@]}"; do
		grep -q "^$id	" "$tmp/mutants.tsv" || { echo "mutate.sh: no mutant $id" >&2; exit 2; }
	done
	grep -F -f <(printf '%s\t\n' "${ids[@]}") "$tmp/mutants.tsv" > "$tmp/sel.tsv" || true
	mv "$tmp/sel.tsv" "$tmp/mutants.tsv"
fi
echo "== checking $(wc -l < "$tmp/mutants.tsv") mutants in ${list#"$root"/}"
if ! tool check "$list" "$src"; then
	echo "mutate.sh: stale mutants: update ${list#"$root"/} to the current code" >&2
	exit 2
fi

echo "== configuring and building the copy in $tmp/build"
b=$tmp/build
cmake -S "$src" -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$tmp/configure.log" 2>&1 ||
	{ cat "$tmp/configure.log"; exit 1; }
nice cmake --build "$b" -j"$jobs" > "$tmp/build.log" 2>&1 || { tail -50 "$tmp/build.log"; exit 1; }
export TFA_FAIL_FAST=1 # integration scripts stop at their first failed check

# names REGEX: the names of the tests that REGEX selects.
names() { ctest --test-dir "$b" -N -R "$1" | sed -n 's/^ *Test *#[0-9]*: //p'; }
# targets REGEX: the build targets the tests matching REGEX run.
targets() {
	local t
	echo tfattest_cli
	names "$1" | while read -r t; do
		case $t in
		unit_* | valgrind_*) echo "test_${t#*_}" ;;
		fuzz_replay_*) echo "fuzz_${t#fuzz_replay_}_replay" ;;
		esac
	done | sort -u
}
# run_tests REGEX LOG: runs the tests REGEX selects, the quick unit and fuzz-replay
# tests first; non-zero as soon as one fails.
run_tests() {
	local quick slow
	quick=$(names "$1" | { grep -E '^(unit|fuzz_replay)_' || true; } | paste -sd'|')
	slow=$(names "$1" | { grep -vE '^(unit|fuzz_replay)_' || true; } | paste -sd'|')
	: > "$2"
	if [ -n "$quick" ]; then
		ctest --test-dir "$b" -R "^($quick)\$" -j"$jobs" --stop-on-failure >> "$2" 2>&1 || return 1
	fi
	if [ -n "$slow" ]; then
		ctest --test-dir "$b" -R "^($slow)\$" -j"$jobs" --stop-on-failure >> "$2" 2>&1 || return 1
	fi
}
ntests() { ctest --test-dir "$b" -N -R "$1" | sed -n 's/^Total Tests: //p'; }

if [ $baseline -eq 1 ]; then
	# One regex of names: ctest's regex engine takes few groups.
	all="^($(cut -f3 "$tmp/mutants.tsv" | sort -u | while read -r r; do names "$r"; done | sort -u | paste -sd'|'))\$"
	echo "== baseline: the covering tests pass on the unmutated code ($(ntests "$all") tests)"
	if ! ctest --test-dir "$b" -R "$all" -j"$jobs" --output-on-failure > "$tmp/baseline.log" 2>&1; then
		tail -40 "$tmp/baseline.log"
		echo "mutate.sh: a covering test fails without any mutant" >&2
		exit 1
	fi
fi

killed=0
survived=0
broken=0
printf '== %-34s %-9s %5s  %s\n' mutant result secs "tests (file)"
while IFS=$'\t' read -r -u 3 id file regex; do
	t0=$(date +%s)
	cp -p "$src/$file" "$tmp/orig"
	tool apply "$list" "$src" "$id"
	n=$(ntests "$regex")
	# shellcheck disable=SC2046
	if [ "$n" = 0 ]; then
		result=NO-TESTS
		broken=$((broken + 1))
	elif ! nice cmake --build "$b" -j"$jobs" --target $(targets "$regex") > "$tmp/$id.build.log" 2>&1; then
		result=NO-BUILD
		broken=$((broken + 1))
	elif run_tests "$regex" "$tmp/$id.test.log"; then
		result=SURVIVED
		survived=$((survived + 1))
	else
		result=killed
		killed=$((killed + 1))
		cp "$b/Testing/Temporary/LastTest.log" "$tmp/$id.LastTest.log" 2> /dev/null || true
	fi
	# Restore the bytes, with a new mtime so that the next build recompiles it.
	cp "$tmp/orig" "$src/$file"
	touch "$src/$file"
	printf '   %-34s %-9s %5d  %s (%s)\n' "$id" "$result" $(($(date +%s) - t0)) "$regex" "$file"
	if [ "$result" = killed ]; then
		# The first check that failed: it should be the one that tests this mutant's check.
		sed -n 's/^\(FAIL[: -].*\)/      by: \1/p' "$tmp/$id.LastTest.log" 2> /dev/null | head -1 | cut -c1-160
	else
		echo "      why: $(tool why "$list" "$src" "$id")"
		[ "$result" = NO-BUILD ] && tail -15 "$tmp/$id.build.log" | sed 's/^/      /'
	fi
done 3< "$tmp/mutants.tsv" < /dev/null

total=$((killed + survived + broken))
echo "== $killed killed, $survived survived, $broken did not build or had no tests, of $total" \
	"($(($(date +%s) - start)) s)"
[ $survived -eq 0 ] && [ $broken -eq 0 ]
