#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. the normal build and every test (unit, integration, fuzz corpora)
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer, no recovery
#   3. the unit tests under valgrind (leaks and memory errors)
#   4. the verifier-only build (Release), checked to link neither libcurl nor libp11
#   5. builds a user may choose, with warnings as errors: gcc Release and
#      MinSizeRel (built, not run: the code is the same, the warnings differ),
#      and clang Release with its unit tests
#   6. the Debian packages (scripts/package.sh), from the Release and
#      verifier-only builds: their versions held to the project's, the
#      commands' and a fresh bundle's (tests/install/version_agree.sh);
#      installed with apt-get, used, purged
# Each stage's wall time is printed when it ends, and all of them at the end.
# A test that exits 77 is skipped (a component it needs is absent): skips are
# reported as skips, and with CI=true any skip fails the run unless the test is
# listed in ALLOWED_SKIPS below with the reason it cannot run on a CI machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)

bash scripts/deps.sh

# Tests that may skip even under CI=true: "ctest name=why it cannot run on a CI machine".
# Every test runs on a machine set up by scripts/deps.sh, so the list is empty.
ALLOWED_SKIPS=()

stage=""
stage_start=0
timings=()
# end_stage: prints the wall time of the stage that is running, and keeps it.
end_stage() {
	[ -n "$stage" ] || return 0
	local t=$((SECONDS - stage_start))
	timings+=("$(printf '%5ds  %s' "$t" "$stage")")
	printf -- '---- %s: %ds ----\n' "$stage" "$t"
	stage=""
}
step() {
	end_stage
	stage=$*
	stage_start=$SECONDS
	printf '\n==== %s ====\n' "$*"
}
total=0
skipped=0
skipped_names=()
# Runs ctest (which exits non-zero on any failure); adds the tests that ran to the
# total and the tests that skipped (exit 77) to the skips.
run_ctest() {
	local stage=$1 n s
	shift
	ctest "$@" 2>&1 | tee build/ctest-stage.log
	[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
	n=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' build/ctest-stage.log | tail -1)
	s=$(sed -n '/^The following tests did not run:/,/^$/s/^[[:space:]]*[0-9]* - \(.*\) (Skipped)$/\1/p' \
		build/ctest-stage.log)
	for t in $s; do skipped_names+=("$stage:$t"); done
	skipped=$((skipped + $(printf '%s' "$s" | grep -c . || true)))
	total=$((total + n - $(printf '%s' "$s" | grep -c . || true)))
}
# allowed_skip NAME: NAME is listed in ALLOWED_SKIPS.
allowed_skip() {
	local a
	for a in "${ALLOWED_SKIPS[@]}"; do [ "${a%%=*}" = "$1" ] && return 0; done
	return 1
}

step "normal build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTFATTEST_WERROR=ON > /dev/null
cmake --build build -j"$jobs"
run_ctest normal --test-dir build -j"$jobs" --output-on-failure -LE valgrind
# (That includes install_consumer: the build installed, and programs built against it
# with pkg-config, shared and static, verifying the example bundle; and exports.)

step "ASan + UBSan build"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTFATTEST_SANITIZE=ON -DTFATTEST_BUILD_BENCH=OFF -DTFATTEST_WERROR=ON > /dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS="suppressions=$root/tests/lsan-softhsm.supp:print_suppressions=0" \
	run_ctest asan --test-dir build-asan -j"$jobs" --output-on-failure

step "valgrind on the unit tests"
# Every unit test binary, $jobs at a time. (The valgrind_* ctest entries run a
# subset of these; the normal stage leaves them out, this stage covers them.)
vg_supp=""
for f in tests/valgrind*.supp; do [ -f "$f" ] && vg_supp="$vg_supp --suppressions=$root/$f"; done
export TFA_FIXTURES="$root/tests/fixtures" TFA_SOURCE_DIR="$root" TFA_CLI="$root/build/tfattest" vg_supp
vg_one() {
	local t=$1 log
	log="build/valgrind-$(basename "$t").log"
	# shellcheck disable=SC2086
	if valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=99 $vg_supp "$t" > "$log" 2>&1; then
		echo "valgrind: $(basename "$t") clean"
	else
		echo "valgrind: $(basename "$t") FAILED"
		cat "$log"
		return 1
	fi
}
export -f vg_one
vg_status=0
find build/tests -maxdepth 1 -name 'test_*' -type f -perm -u+x | sort |
	xargs -P "$jobs" -I{} bash -c 'vg_one "$1"' _ {} > build/valgrind-stage.log || vg_status=1
cat build/valgrind-stage.log
[ $vg_status -eq 0 ] || exit 1
total=$((total + $(grep -c ' clean$' build/valgrind-stage.log)))

step "verifier-only build"
cmake -S . -B build-verifier -DTFATTEST_VERIFIER_ONLY=ON -DCMAKE_BUILD_TYPE=Release -DTFATTEST_WERROR=ON > /dev/null
cmake --build build-verifier -j"$jobs"
run_ctest verifier-only --test-dir build-verifier -j"$jobs" --output-on-failure
for f in build-verifier/tfattest build-verifier/libtfattest.so; do
	[ -e "$f" ] || continue
	if ldd "$f" | grep -E 'libcurl|libp11|libarchive|libz\.'; then
		echo "verifier-only $f links libcurl, libp11, libarchive or zlib"; exit 1
	fi
done
echo "verifier-only binary links: $(ldd build-verifier/tfattest | awk '{print $1}' | tr '\n' ' ')"
build-verifier/tfattest verify examples/demo | tail -1
printf '{"b":2,"a":1}' | build-verifier/tfattest canon; echo

# build_only DIR CMAKE-ARGS...: configures and builds everything (library, CLI,
# tests, benchmarks), warnings as errors, and runs nothing.
build_only() {
	local dir=$1
	shift
	cmake -S . -B "$dir" "$@" -DTFATTEST_WERROR=ON > /dev/null
	cmake --build "$dir" -j"$jobs"
}

step "gcc Release build"
build_only build-release -DCMAKE_BUILD_TYPE=Release

step "gcc MinSizeRel build"
build_only build-minsizerel -DCMAKE_BUILD_TYPE=MinSizeRel

step "clang Release build and unit tests"
CC=clang build_only build-clang -DCMAKE_BUILD_TYPE=Release
run_ctest clang --test-dir build-clang -j"$jobs" --output-on-failure -L unit -LE valgrind

step "Debian packages: built, installed, used and purged"
FULL_BUILD=build-release VERIFY_BUILD=build-verifier bash scripts/package.sh build-release/dist
# One version: CMake's, both commands', a fresh bundle's writer and the three packages'.
bash tests/install/version_agree.sh --tfattest build-release/tfattest --verify build-verifier/tfattest \
	--debs build-release/dist
bash tests/install/packages.sh build-release/dist
total=$((total + 2))

step "done"
printf 'wall time per stage:\n'
printf '%s\n' "${timings[@]}"
if [ "$skipped" -gt 0 ]; then
	echo "skipped (exit 77): ${skipped_names[*]}"
	if [ "${CI:-}" = true ]; then
		bad=()
		for t in "${skipped_names[@]}"; do allowed_skip "${t#*:}" || bad+=("$t"); done
		if [ ${#bad[@]} -gt 0 ]; then
			echo "CI: these tests skipped but can run on this machine (run scripts/deps.sh): ${bad[*]}"
			echo "$total passed, 0 failed, $skipped skipped"
			exit 1
		fi
	fi
fi
echo "all test stages passed"
echo "$total passed, 0 failed, $skipped skipped"
