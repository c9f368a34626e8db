#!/usr/bin/env bash
# The PIN never appears in any output: every stdout and stderr of a run with
# a PKCS#11 key (successes and failures, including wrong PINs and malformed
# URIs that carry a pin-value) is searched for the PIN, and so are the store
# and the exported bundle.
. "$(dirname "$0")/pkcs11_lib.sh"
cd "$W" || exit 2
make_token tok
PIN=$(token_pin)
WRONG=Wr0ngP1nX7
M=$TFATTEST_PKCS11_MODULE
KEY=$TFATTEST_RSA_URI
KEY_PV="pkcs11:token=tfattest;object=tfattest-rsa;id=%01?module-path=$M&pin-value=$PIN"
KEY_BARE="pkcs11:token=tfattest;object=tfattest-ec;id=%02?module-path=$M"
mkdir -p out
n=0
# run WANT DESC CMD... : runs CMD, keeps its output, checks the exit status
# (WANT "nz": any failure).
run() {
	local want=$1 desc=$2 got
	shift 2
	n=$((n + 1))
	TESTS_RUN=$((TESTS_RUN + 1))
	"$@" > "out/$n.out" 2> "out/$n.err"
	got=$?
	if [ "$got" = "$want" ] || { [ "$want" = nz ] && [ "$got" -ne 0 ]; }; then
		pass "$desc (exit $got)"
	else
		fail "$desc: exit $got, wanted $want"
		sed 's/^/    /' "out/$n.out" "out/$n.err" >&2
	fi
}

P=$PLANS/show-basic-create.json
run 0 "init, pin-source" "$T" init --store s --chain pins --key "$KEY"
run 0 "record, pin-source" "$T" record --store s --key "$KEY" --plan "$P"
run 0 "record, pin-value" "$T" record --store s --key "$KEY_PV" --plan "$P"
run 0 "record, TFATTEST_PKCS11_PIN" env TFATTEST_PKCS11_PIN="$PIN" \
	"$T" record --store s --key "pkcs11:token=tfattest;object=tfattest-rsa?module-path=$M" --plan "$P"
run 0 "record, TFATTEST_KEY and both env fallbacks" env TFATTEST_PKCS11_PIN="$PIN" \
	TFATTEST_PKCS11_MODULE="$M" TFATTEST_KEY="pkcs11:object=tfattest-rsa" \
	"$T" record --store s --plan "$P"
run 0 "pubkey, pin-value" "$T" pubkey --key "$KEY_PV"
run 0 "export, pin-value" "$T" export --store s --key "$KEY_PV" --out b
run 0 "verify" "$T" verify b
# Failures, each with a PIN somewhere in the key URI or the environment.
run 2 "wrong PIN" "$T" pubkey --key "$KEY_BARE&pin-value=$WRONG"
run 2 "wrong PIN in the environment" env TFATTEST_PKCS11_PIN="$WRONG" "$T" pubkey --key "$KEY_BARE"
run 2 "wrong PIN on record" "$T" record --store s --key "$KEY_BARE&pin-value=$WRONG" --plan "$P"
run 2 "key not found" "$T" pubkey --key "pkcs11:object=nope?module-path=$M&pin-value=$PIN"
run 2 "token not found" "$T" pubkey --key "pkcs11:token=nope?module-path=$M&pin-value=$PIN"
run 2 "pin-value with pin-source" "$T" pubkey --key "$KEY_PV&pin-source=file:$TFATTEST_PIN_FILE"
run 2 "bad escape after the PIN" "$T" pubkey --key "$KEY_PV%zz"
run 2 "PIN split by a stray &" "$T" pubkey --key "$KEY_BARE&pin-value=${PIN:0:4}&${PIN:4}"
run 2 "PIN as an attribute name" "$T" pubkey --key "$KEY_BARE&$PIN=1"
run 2 "duplicate pin-value" "$T" pubkey --key "$KEY_PV&pin-value=$PIN"
run 2 "missing module" "$T" pubkey --key "pkcs11:object=x?module-path=/nonexistent.so&pin-value=$PIN"
run 2 "record with a missing plan" "$T" record --store s --key "$KEY_PV" --plan /nonexistent/plan.json
run 2 "record with a bad option" "$T" record --store s --key "$KEY_PV" --plan "$P" --event bogus
run nz "the wrong chain key" "$T" record --store s --key "pkcs11:object=tfattest-ec?module-path=$M&pin-value=$PIN" --plan "$P"
if "$T" pkcs11 --help > /dev/null 2>&1; then
	printf '%s\n' "$PIN" > pinfile
	run 0 "pkcs11 list, pin-source" "$T" pkcs11 list --module "$M" --pin-source pinfile
	run 0 "pkcs11 list, TFATTEST_PKCS11_PIN" env TFATTEST_PKCS11_PIN="$PIN" "$T" pkcs11 list --module "$M"
	run 2 "pkcs11 list, wrong PIN" env TFATTEST_PKCS11_PIN="$WRONG" "$T" pkcs11 list --module "$M"
	rm -f pinfile
fi

TESTS_RUN=$((TESTS_RUN + 1))
if grep -rlF -- "$PIN" out s b; then
	fail "the PIN appears in the files above"
else
	pass "the PIN appears in none of $n runs' stdout/stderr, the store or the bundle"
fi
TESTS_RUN=$((TESTS_RUN + 1))
if grep -rlF -- "$WRONG" out s b; then
	fail "the wrong PIN appears in the files above"
else
	pass "the wrong PIN appears nowhere either"
fi
# The failures name the cause.
TESTS_RUN=$((TESTS_RUN + 1))
if grep -q "CKR_PIN_INCORRECT" out/9.err; then pass "wrong PIN names CKR_PIN_INCORRECT"; else fail "no CKR_PIN_INCORRECT: $(cat out/9.err)"; fi
finish
