#!/usr/bin/env bash
# Two processes recording on the same SoftHSM2 token at once (2 x 25 by
# default) give a contiguous chain that verifies. SoftHSM2's file object
# store locks the token files, so both can log in and sign concurrently.
. "$(dirname "$0")/pkcs11_lib.sh"
cd "$W" || exit 2
PROCS=${TFA_P11_PROCS:-2}
EACH=${TFA_P11_EACH:-25}

make_token tok
TESTS_RUN=$((TESTS_RUN + 1))
grep -q '^objectstore.backend = file' "$SOFTHSM2_CONF" && pass "file object store" ||
	fail "the token does not use the file object store"

KEY=$TFATTEST_RSA_URI
expect_exit 0 "init" "$T" init --store s --chain conc --key "$KEY"
for p in $(seq 1 "$PROCS"); do
	(
		for i in $(seq 1 "$EACH"); do
			"$T" record --store s --key "$KEY" --plan "$PLANS/show-basic-create.json" \
				> /dev/null 2>> "err.$p" || echo "record $i failed in writer $p" >> "err.$p"
		done
	) &
done
wait
TESTS_RUN=$((TESTS_RUN + 1))
if cat err.* 2> /dev/null | grep -q .; then
	fail "a writer failed: $(head -5 err.*)"
else
	pass "all $PROCS writers succeeded"
fi
total=$((PROCS * EACH))
TESTS_RUN=$((TESTS_RUN + 1))
n=$(ls s/records | grep -c '\.rec$')
[ "$n" -eq "$total" ] && pass "$n records" || fail "expected $total records, found $n"
TESTS_RUN=$((TESTS_RUN + 1))
expected=$(seq -f '%012g.rec' 1 "$total" | tr '\n' ' ')
actual=$(ls s/records | grep '\.rec$' | sort | tr '\n' ' ')
[ "$expected" = "$actual" ] && pass "seq 1..$total contiguous" || fail "sequence numbers are not 1..$total"
expect_exit 0 "export" "$T" export --store s --key "$KEY" --out b
expect_exit 0 "verify" "$T" verify b
expect_output "Hash chain valid \\($total artifacts\\)" "chain of $total"
expect_output "\\[SUCCESS\\] All verification checks passed" "all checks passed"
finish
