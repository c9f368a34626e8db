#!/usr/bin/env bash
# After a key rotation, the commands that read the chain back (log, show,
# diff, a rollback's target) check each record against the key in force at
# its seq, accept any of the chain's keys as the caller's, and refuse a store
# whose rotation record was tampered with.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2

new_ec_key a.pem
new_rsa_key b.pem
new_ec_key stranger.pem
rec() { "$T" record --store s --key "file:$1" --plan "$PLANS/show-basic-create.json" "${@:2}" > /dev/null; }

"$T" init --store s --chain prod --key file:a.pem > /dev/null
rec a.pem
rec a.pem --event destroy
expect_exit 0 "rotate a -> b" "$T" rotate --store s --key file:a.pem --new-key file:b.pem
expect_exit 0 "a rollback to a record signed by the retired key" \
	"$T" record --store s --key file:b.pem --plan "$PLANS/show-basic-create.json" --event rollback --rollback-to 1
expect_exit 0 "apply-style rollback through the wrapper's check too" \
	"$T" record --store s --key file:b.pem --plan "$PLANS/show-basic-create.json" --event rollback --rollback-to 2

for k in a.pem b.pem; do
	expect_exit 0 "log with $k" "$T" log --store s --key "file:$k"
	TESTS_RUN=$((TESTS_RUN + 1))
	[ "$(grep -c . "$W/last.out")" -ge 5 ] && pass "log with $k lists all 5 records" ||
		fail "log with $k does not list 5 records"
done
expect_exit 0 "show a record signed by the retired key, given the new key" "$T" show --store s --key file:b.pem 1
expect_exit 0 "show the rotation record" "$T" show --store s --key file:a.pem 3
expect_exit 0 "diff across the rotation" "$T" diff --store s --key file:b.pem 1 4
expect_exit 1 "a key that is not the chain's is refused" "$T" log --store s --key file:stranger.pem
expect_output "not one of the keys of chain prod" "refusal names the chain"

# Tamper with the rotation record's proof of possession in the store.
chmod u+w s/records/000000000003.rec
/usr/bin/python3 - s/records/000000000003.rec <<'PY'
import sys
p = sys.argv[1]
lines = open(p, "rb").read().split(b"\n")
art = lines[0]
i = art.index(b'"pop_signature":"') + len(b'"pop_signature":"')
c = art[i:i + 1]
art = art[:i] + (b"A" if c != b"A" else b"B") + art[i + 1:]
lines[0] = art
open(p, "wb").write(b"\n".join(lines))
PY
expect_exit 1 "log refuses a store whose rotation record was altered" "$T" log --store s --key file:b.pem
expect_exit 1 "so does a rollback to a record before it" \
	"$T" record --store s --key file:b.pem --plan "$PLANS/show-basic-create.json" --event rollback --rollback-to 1

finish
