#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. the normal build and every test (unit, integration, fuzz corpora, lint)
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer, no recovery,
#      with LeakSanitizer: every unit test and fuzz corpus, and the integration
#      tests but for the few listed in ASAN_SKIP below (each with its reason)
#   3. the verifier-only build (Release), checked to link neither libcurl nor libp11
#   4. builds a user may choose, with warnings as errors, each with its unit
#      tests: gcc Release, gcc MinSizeRel, clang Release
#   5. the Debian packages (scripts/package.sh), from the Release and
#      verifier-only builds: their versions held to the project's, the
#      commands' and a fresh bundle's (tests/install/version_agree.sh);
#      installed with apt-get, used, purged
# Each stage's wall time is printed when it ends, and all of them at the end.
# A test that exits 77 is skipped (a component it needs is absent): skips are
# reported as skips, and with CI=true any skip fails the run unless the test is
# listed in ALLOWED_SKIPS below with the reason it cannot run on a CI machine.
#
# The run must stay under 10 minutes on a quiet 2-core machine without ccache.
# What each stage costs, and why it is shaped so, is said where it starts.
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

# ctest runs more tests at once than there are cores: most integration tests
# spend their time waiting (on the S3/DynamoDB/KMS emulators, on Python test
# servers, on sleeps of crash and timeout cases, on Chromium), not computing.
# Each test has its own mktemp work directory and takes free ports (port 0 or
# aws_free_port), so they are independent. The longest ones start first (COST
# in tests/CMakeLists.txt).
ctest_jobs=$((jobs * 2))

step "normal build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTFATTEST_WERROR=ON > /dev/null
cmake --build build -j"$jobs"
# Every test but the valgrind_* entries. Valgrind is not run: LeakSanitizer in
# the ASan stage checks every unit test binary (and every other test there)
# for leaks, and ASan finds the heap overflows and uses after free valgrind
# finds, and stack and global overflows, which valgrind does not. What only
# valgrind reports, a branch on uninitialised memory, cost 167 s of a
# 1330-second run (valgrind over every unit test binary, both cores busy) and
# is given up; gcc's -Wmaybe-uninitialized at four optimisation levels and
# clang's -Wsometimes-uninitialized, as errors, remain.
# The valgrind_* entries remain for a developer: ctest --test-dir build -L valgrind
run_ctest normal --test-dir build -j"$ctest_jobs" --output-on-failure -LE valgrind
# (That includes install_consumer: the build installed, and programs built against it
# with pkg-config, shared and static, verifying the example bundle; and exports.)

step "ASan + UBSan build"
# Every unit test and fuzz corpus runs under ASan + UBSan + LeakSanitizer (no
# recovery: the first report fails the test), and so does every integration
# test that runs tfattest, with these exceptions, which cost most of this
# stage's time (under ASan a test runs 2 to 30 times slower) while the C they
# reach runs here already through other tests. (The times are each test's in one
# ASan run of every test at -j2 on a loaded 2-core machine: 716 s of tests.)
ASAN_SKIP=(
	# These run no program of this build (lint reads the sources; the KMS test
	# double's self-test, the Terraform module's HCL checks and the workflow
	# YAML checks are Python, node and openssl): the normal stage ran them.
	format check_layers check_layers_selftest exports_selftest mutants_list
	it_aws_kms_double it_terraform_module it_examples_yaml
	# 207 s: the TPM's PKCS#11 module with slow unwinding (fast_unwind_on_malloc=0,
	# for its leak suppression). The pkcs11: signer runs here against SoftHSM2
	# in unit_pkcs11 (24 cases) and it_pkcs11_list, it_pkcs11_pubkey,
	# it_pkcs11_rotation, it_pkcs11_pin_grep.
	it_pkcs11_tpm
	# 147 s (its three shards, and the check that they ran every part once),
	# mostly the Python emulators and fault stalls. The s3 store, the
	# dynamodb sequencer and their parsers run here in unit_record, unit_awsuri,
	# unit_s3list, unit_sigv4, unit_awshttp, unit_awscreds, and end to end in
	# it_aws_trust, it_aws_auditor, it_aws_idempotency, it_lambda_aws.
	'it_aws_store_.*'
	# 57 s: the same signing path 100 times through SoftHSM2 (see above).
	it_pkcs11_chain100
	# 19 s and 30 s: concurrent writers, whose point is locking (which ASan does
	# not check); the record path they repeat runs here in it_pipeline and it_apply.
	it_pkcs11_concurrent it_concurrency
	# 29 s: kill -9 at each system call of the append path, under strace; the
	# repair of what a killed writer leaves runs here in unit_store and unit_chain.
	it_crash
	# 26 s: the VERIFY.md recipe, which is shell and openssl; tfattest only exports
	# the bundles, as in it_pipeline.
	it_verify_recipe
)
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTFATTEST_SANITIZE=ON -DTFATTEST_BUILD_BENCH=OFF -DTFATTEST_WERROR=ON > /dev/null
cmake --build build-asan -j"$jobs"
asan_skip="^($(printf '%s|' "${ASAN_SKIP[@]}" | sed 's/|$//'))\$"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS="suppressions=$root/tests/lsan-softhsm.supp:print_suppressions=0" \
	run_ctest asan --test-dir build-asan -j"$ctest_jobs" --output-on-failure -E "$asan_skip"

step "verifier-only build"
# Its tests but the lint ones that read the sources, not the build (format,
# layers, the exports check's self-test), which ran in the normal stage; the
# exports check of this build's own shared library runs.
cmake -S . -B build-verifier -DTFATTEST_VERIFIER_ONLY=ON -DCMAKE_BUILD_TYPE=Release -DTFATTEST_WERROR=ON > /dev/null
cmake --build build-verifier -j"$jobs"
run_ctest verifier-only --test-dir build-verifier -j"$ctest_jobs" --output-on-failure \
	-E '^(format|check_layers|check_layers_selftest|exports_selftest)$'
for f in build-verifier/tfattest build-verifier/libtfattest.so; do
	[ -e "$f" ] || continue
	if ldd "$f" | grep -E 'libcurl|libp11|libarchive|libz\.'; then
		echo "verifier-only $f links libcurl, libp11, libarchive or zlib"; exit 1
	fi
done
echo "verifier-only binary links: $(ldd build-verifier/tfattest | awk '{print $1}' | tr '\n' ' ')"
build-verifier/tfattest verify examples/demo | tail -1
printf '{"b":2,"a":1}' | build-verifier/tfattest canon; echo

# build_unit NAME DIR CMAKE-ARGS...: configures, builds the library, the CLI and
# the unit tests with warnings as errors, and runs the unit tests. These builds
# are there for what a compiler or an optimisation level says about the code
# (warnings, and code that behaves differently when optimised), so they leave
# out what the normal stage already built and ran: the benchmarks, the fuzz
# replay programs and the integration tests.
build_unit() {
	local name=$1 dir=$2
	shift 2
	cmake -S . -B "$dir" "$@" -DTFATTEST_BUILD_BENCH=OFF -DTFATTEST_WERROR=ON > /dev/null
	cmake --build "$dir" -j"$jobs" --target tfattest_cli tfa_unit_tests
	run_ctest "$name" --test-dir "$dir" -j"$ctest_jobs" --output-on-failure -L unit -LE valgrind
}

step "gcc Release build and unit tests"
build_unit release build-release -DCMAKE_BUILD_TYPE=Release

step "gcc MinSizeRel build and unit tests"
build_unit minsizerel build-minsizerel -DCMAKE_BUILD_TYPE=MinSizeRel

step "clang Release build and unit tests"
CC=clang build_unit clang build-clang -DCMAKE_BUILD_TYPE=Release

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
