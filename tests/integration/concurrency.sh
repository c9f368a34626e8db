#!/usr/bin/env bash
# Concurrent writers never fork the chain: 4 processes x 50 records give
# seq 1..200, contiguous, and the exported chain verifies.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2
PROCS=${TFA_CONC_PROCS:-4}
EACH=${TFA_CONC_EACH:-50}

new_ec_key k.pem
"$T" init --store s --chain conc --key file:k.pem > /dev/null || exit 2
for p in $(seq 1 "$PROCS"); do
	(
		for i in $(seq 1 "$EACH"); do
			"$T" record --store s --key file:k.pem --plan "$PLANS/show-basic-create.json" \
				> /dev/null 2>> "err.$p" || echo "record failed in writer $p" >> "err.$p"
		done
	) &
done
wait
TESTS_RUN=$((TESTS_RUN + 1))
if cat err.* | grep -q .; then fail "a writer failed: $(head -3 err.*)"; else pass "all writers succeeded"; fi
total=$((PROCS * EACH))
TESTS_RUN=$((TESTS_RUN + 1))
n=$(ls s/records | wc -l)
[ "$n" -eq "$total" ] && pass "$n records" || fail "expected $total records, found $n"
TESTS_RUN=$((TESTS_RUN + 1))
expected=$(seq -f '%012g.rec' 1 "$total" | tr '\n' ' ')
actual=$(ls s/records | sort | tr '\n' ' ')
[ "$expected" = "$actual" ] && pass "seq 1..$total contiguous" || fail "sequence numbers are not 1..$total"
TESTS_RUN=$((TESTS_RUN + 1))
[ -z "$(ls s/tmp)" ] && pass "no temp files left" || fail "temp files left: $(ls s/tmp | head -3)"
expect_exit 0 "export" "$T" export --store s --key file:k.pem --out b
expect_exit 0 "verify" "$T" verify b
expect_output "Hash chain valid \\($total artifacts\\)" "chain length"
finish
