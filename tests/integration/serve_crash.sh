#!/usr/bin/env bash
# `kill -9` of `tfattest serve` mid-append: the chain verifies, and the
# client's retry with the same idempotency key appends exactly once.
#
# Deterministic points (strace kills the service with SIGKILL on entry to a
# system call of the append): before the record is linked into place (the
# retry makes it), and after it is linked but before the reply (the retry
# finds it: replayed, nothing appended). Then random points: requests in a
# loop, the service killed after a random delay, every request retried.
. "$(dirname "$0")/serve_lib.sh"
cd "$W" || exit 2
command -v strace > /dev/null || { echo "SKIP: strace not installed"; exit 77; }

new_ec_key k.pem
K=file:$W/k.pem
FPR=$("$T" pubkey --key "$K" | tail -1)
make_tls tls
make_issuer iss
GOOD=$(token iss)
ARGS=(--listen 127.0.0.1:0 --policy iss/policy.json --tls-cert tls/tls.crt --tls-key tls/tls.key
	--key "$K" --checkpoint-every 0 --checkpoint-interval 0)

verifies() { # STORE DESC
	rm -rf "$W/b"
	expect_exit 0 "$2: export" "$T" export --store "$1" --key "$K" --out "$W/b" &&
		expect_exit 0 "$2: verify" "$T" verify "$W/b" --expect-key-fingerprint "$FPR"
}

# crash_case NAME SYSCALL WHEN HEAD_AFTER_KILL REPLAYED
crash_case() {
	local name=$1 call=$2 when=$3 want_head=$4 want_replayed=$5 st=$W/s-$1 rc=0 c
	"$T" init --store "$st" --chain prod --key "$K" > /dev/null
	SERVE_WRAP="strace -f -qq -o /dev/null -e trace=$call -e inject=$call:signal=SIGKILL:when=$when" \
		serve_start "$name" "${ARGS[@]}" --store "$st"
	c=$(post "$GOOD" "$(body "crash-$name-0000001")")
	wait "$SERVE_PID" || rc=$?
	SERVE_PID=
	check "$name: the service was killed (exit $rc, reply $c)" [ "$rc" -ne 0 ] && [ "$c" = 000 ]
	check "$name: after the kill the head is $want_head" [ "$(head_seq "$st")" = "$want_head" ]
	[ "$want_head" = 0 ] || verifies "$st" "$name: after the kill"
	serve_start "$name-again" "${ARGS[@]}" --store "$st"
	expect_status 200 "$name: the retry" "$(post "$GOOD" "$(body "crash-$name-0000001")")"
	check "$name: the retry's reply: seq 1, replayed $want_replayed" \
		grep -q "\"replayed\":$want_replayed,\"seq\":1," "$W/reply"
	check "$name: exactly one record" [ "$(head_seq "$st")" = 1 ]
	serve_stop || fail "$name: the service did not exit 0"
	verifies "$st" "$name: after the retry"
}

# The append: temp file written and fsynced, linked into place, the directory fsynced.
crash_case before-link linkat 1 0 false
crash_case after-link fsync 2 1 true

# Random points.
st=$W/s-random
"$T" init --store "$st" --chain prod --key "$K" > /dev/null
N=15
for round in 1 2; do
	serve_start "random-$round" "${ARGS[@]}" --store "$st"
	(for i in $(seq 1 $N); do post "$GOOD" "$(body "random-$round-$(printf %08d "$i")")" > /dev/null 2>&1; done) &
	LOOP=$!
	sleep "0.$((RANDOM % 5 + 1))"
	kill -9 "$SERVE_PID"
	wait "$SERVE_PID" 2> /dev/null
	SERVE_PID=
	wait "$LOOP"
	[ "$(head_seq "$st")" = 0 ] || verifies "$st" "round $round: after kill -9 at $(head_seq "$st") records"
	serve_start "random-$round-retry" "${ARGS[@]}" --store "$st"
	bad=0
	for i in $(seq 1 $N); do
		[ "$(post "$GOOD" "$(body "random-$round-$(printf %08d "$i")")")" = 200 ] || bad=$((bad + 1))
	done
	check "round $round: every retry answered 200 ($bad not)" [ "$bad" = 0 ]
	check "round $round: each request recorded exactly once" [ "$(head_seq "$st")" = $((round * N)) ]
	serve_stop || fail "round $round: the service did not exit 0"
done
verifies "$st" "after the random rounds"
finish
