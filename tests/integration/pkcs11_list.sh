#!/usr/bin/env bash
# `tfattest pkcs11 list` prints the token and its keys with ready-made URIs,
# never the PIN, and each listed key URI (plus a pin-source) signs.
. "$(dirname "$0")/pkcs11_lib.sh"
cd "$W" || exit 2
if ! "$T" pkcs11 --help > /dev/null 2>&1; then
	echo "SKIP: this tfattest has no 'pkcs11' command"
	exit 77
fi
make_token tok
M=$TFATTEST_PKCS11_MODULE
PIN=$(token_pin)

expect_exit 0 "list with --pin-source" "$T" pkcs11 list --module "$M" --pin-source "$TFATTEST_PIN_FILE"
cp "$W/last.out" listed
expect_output '^token slot-id=[0-9]+ label="tfattest" manufacturer="SoftHSM project" model="SoftHSM v2" serial="[0-9a-f]{16}" uri=pkcs11:' "token line"
expect_output 'label="tfattest-rsa" id=01 class=private alg=RSA-3072 sign=yes uri=pkcs11:token=tfattest;object=tfattest-rsa;id=%01;type=private\?module-path=' "RSA key line"
expect_output 'label="tfattest-ec" id=02 class=private alg=EC-P256 sign=yes' "EC key line"
n=0
for uri in $(grep '^key ' listed | sed 's/.* uri=//'); do
	n=$((n + 1))
	expect_exit 0 "listed URI $n signs" "$T" pubkey --key "$uri&pin-source=file:$TFATTEST_PIN_FILE"
done
TESTS_RUN=$((TESTS_RUN + 1))
[ "$n" -eq 2 ] && pass "2 keys listed" || fail "$n keys listed"

expect_exit 0 "list from the environment, no PIN" env TFATTEST_PKCS11_MODULE="$M" "$T" pkcs11 list
expect_output 'label="tfattest-rsa" id=01 class=public alg=RSA-3072' "public keys without a PIN"
expect_exit 2 "wrong PIN" env TFATTEST_PKCS11_PIN=00000000 "$T" pkcs11 list --module "$M"
expect_output "CKR_PIN_INCORRECT" "wrong PIN named"
expect_exit 2 "unknown token" "$T" pkcs11 list --module "$M" --token nope
expect_output 'tokens seen: "tfattest"' "tokens seen"
expect_exit 2 "missing module" "$T" pkcs11 list --module /nonexistent.so
expect_exit 2 "no module" env -u TFATTEST_PKCS11_MODULE "$T" pkcs11 list
TESTS_RUN=$((TESTS_RUN + 1))
if cat "$W"/last.* listed | grep -qF -- "$PIN"; then fail "the PIN was printed"; else pass "no PIN printed"; fi
finish
