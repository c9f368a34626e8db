#!/usr/bin/env bash
# A .zip holds at most 65,534 files, so at most 32,765 records: export --archive
# of a longer range as .zip is refused before anything is staged, with the
# counts in the message; the longest range that fits exports, holds exactly
# 65,534 entries (counted by python3's zipfile) and verifies. And, on the same
# chain: an export stopped by ^C or SIGTERM while it writes removes what it
# staged (the directory, the archive's .part file) and exits 130 or 143.
. "$(dirname "$0")/../lib/common.sh"
build=$(dirname "$T")
[ -x "$build/bench/bench_gen" ] || { echo "SKIP: bench/bench_gen not built"; exit 77; }
# The store and bundles on tmpfs when there is one: 32,766 records are 130 MB of files.
cd "$W" || exit 2
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	cache=$(mktemp -d /dev/shm/tfa-zip.XXXXXX)
	trap 'chmod -R u+w "$W" "$cache" 2>/dev/null; rm -rf "$W" "$cache"' EXIT
	cd "$cache" || exit 2
fi

new_ec_key k.pem
expect_exit 0 "32,766 records" "$build/bench/bench_gen" s file:k.pem \
	"$PLANS/show-basic-create.json" 32766 ECDSA_SHA_256 c1

expect_exit 2 "export 32,766 records as .zip: refused" "$T" export --store s --key file:k.pem --archive all.zip
expect_output "range 1\.\.32766 holds 32766 records and a \.zip at most 32765 \(65534 files" \
	"the message gives the counts"
expect_output "export it as \.tar\.gz, or a shorter range" "the message says what to do"
TESTS_RUN=$((TESTS_RUN + 1))
if ls -d all.zip* 2>/dev/null; then fail "something was written for the refused .zip"; else
	pass "nothing written for the refused .zip"; fi

expect_exit 0 "export records 2..32766 as .zip" "$T" export --store s --key file:k.pem --from 2 --archive max.zip
expect_output "^exported records 2\.\.32766 \(65532 files and the signed manifest\) to max\.zip$" \
	"the export message"
expect_exit 0 "the count of zip entries" python3 -c '
import sys, zipfile
n = len(zipfile.ZipFile(sys.argv[1]).infolist())
print(n)
sys.exit(0 if n == 65534 else 1)' max.zip
expect_output "^65534$" "65,534 entries, the most a .zip without zip64 holds"
expect_exit 0 "verify max.zip" "$T" verify max.zip
expect_output "All verification checks passed" "max.zip verifies"
# stopped SIG WANT DESC PATTERN ARGS...: export ARGS in the background with SIG
# at its default disposition, sent SIG once PATTERN (a staging path) exists;
# then the exit status is WANT and nothing is left under the output's name.
stopped() {
	local sig=$1 want=$2 desc=$3 pat=$4 pid st i
	shift 4
	env --default-signal="$sig" "$T" export --store s --key file:k.pem "$@" > stop.out 2> stop.err &
	pid=$!
	for i in $(seq 1 2400); do
		compgen -G "$pat" > /dev/null && break
		sleep 0.025
	done
	kill -s "$sig" "$pid"
	wait "$pid"
	st=$?
	TESTS_RUN=$((TESTS_RUN + 1))
	if [ "$st" -eq "$want" ] && grep -q "interrupted: the export was stopped and nothing was written" stop.err; then
		pass "$desc: exit $want, and says so"
	else
		fail "$desc: exit $st, stderr: $(head -c 300 stop.err)"
	fi
	TESTS_RUN=$((TESTS_RUN + 1))
	if ls -d stopped* 2> /dev/null; then fail "$desc: left behind the above"; else
		pass "$desc: nothing left behind"; fi
}
stopped INT 130 "^C while records are staged" 'stopped.tmp-*/artifacts/000000001000.json' --out stopped
stopped TERM 143 "SIGTERM while the archive is written" 'stopped.tar.gz.part-*' --archive stopped.tar.gz

TESTS_RUN=$((TESTS_RUN + 1))
if ls -d ./*.tmp-* ./*.part-* 2>/dev/null; then fail "a temporary file or directory was left behind"; else
	pass "no temporary file or directory left behind"; fi
finish
