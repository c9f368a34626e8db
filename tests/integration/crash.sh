#!/usr/bin/env bash
# A writer killed at any point leaves a chain that verifies, and the next
# record repairs what is left with no manual step.
#
# Deterministic points: strace kills `record` with SIGKILL on entry to the
# Nth call of each system call the append path makes (the temp file's
# creation, its write, its fsync, the link into place, the directory fsync,
# the hint's rename, the temp file's removal). Then random points: kill -9
# after a random delay, many times.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2
command -v strace > /dev/null || { echo "strace not installed"; exit 77; }

new_ec_key k.pem
"$T" init --store s --chain crash --key file:k.pem > /dev/null || exit 2
"$T" record --store s --key file:k.pem --plan "$PLANS/show-basic-create.json" > /dev/null || exit 2

check_store() { # desc
	local before after
	before=$(ls s/records | wc -l)
	expect_exit 0 "$1: next record succeeds" "$T" record --store s --key file:k.pem --plan "$PLANS/show-basic-update.json" || return
	after=$(ls s/records | wc -l)
	TESTS_RUN=$((TESTS_RUN + 1))
	[ "$after" -eq $((before + 1)) ] || fail "$1: record count $before -> $after"
	TESTS_RUN=$((TESTS_RUN + 1))
	[ -z "$(ls s/tmp)" ] || fail "$1: temp files not cleaned: $(ls s/tmp)"
	rm -rf b
	expect_exit 0 "$1: export" "$T" export --store s --key file:k.pem --out b &&
		expect_exit 0 "$1: verify" "$T" verify b
}

for sc in openat write fsync linkat renameat unlinkat; do
	# The nth call of sc inside the append path; count the calls first.
	# strace counts calls per process: count the main process's only (git runs as children).
	strace -f -qq -e trace=$sc -o trace.$sc "$T" record --store s --key file:k.pem \
		--plan "$PLANS/show-basic-create.json" > /dev/null 2>&1
	# strace pads the pid column to five characters, so split on runs of blanks.
	main=$(awk 'NR == 1 {print $1}' trace.$sc)
	calls=$(awk -v p="$main" -v s="$sc(" '$1 == p && index($2, s) == 1' trace.$sc | wc -l)
	# Only the last few calls of each kind are in the append path; kill at each.
	start=$((calls > 4 ? calls - 3 : 1))
	killed=0
	for n in $(seq "$start" "$calls"); do
		(strace -f -qq -o /dev/null -e trace=$sc -e inject=$sc:signal=SIGKILL:when=$n \
			"$T" record --store s --key file:k.pem --plan "$PLANS/show-basic-create.json") > /dev/null 2>&1 &
		wait $! 2> /dev/null
		[ $? -ge 128 ] && killed=$((killed + 1))
		check_store "kill at $sc #$n"
	done
	TESTS_RUN=$((TESTS_RUN + 1))
	[ $killed -gt 0 ] && pass "$sc: $killed injected kills landed" || fail "$sc: no injected kill landed"
done

# Random kill points.
for i in $(seq 1 "${TFA_CRASH_RANDOM:-40}"); do
	"$T" record --store s --key file:k.pem --plan "$PLANS/show-basic-create.json" > /dev/null 2>&1 &
	pid=$!
	sleep "0.00$((RANDOM % 9))$((RANDOM % 10))"
	kill -9 $pid 2> /dev/null
	wait $pid 2> /dev/null
done
check_store "after random kills"

# A lost or corrupt HEAD hint is repaired.
chmod u+w s
rm -f s/HEAD
check_store "HEAD removed"
echo garbage > s/HEAD
check_store "HEAD corrupt"
echo 999 > s/HEAD
check_store "HEAD ahead of the records"
echo 1 > s/HEAD
check_store "HEAD far behind"

finish
