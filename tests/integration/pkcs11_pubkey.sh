#!/usr/bin/env bash
# `tfattest pubkey --key pkcs11:...` prints the token's public key as PEM and
# the same fingerprint as `openssl pkey -pubin -outform DER | sha256sum`, and
# that key is the one pkcs11-tool reads from the token.
. "$(dirname "$0")/pkcs11_lib.sh"
cd "$W" || exit 2
make_token tok

for k in rsa:01:"$TFATTEST_RSA_URI" ec:02:"$TFATTEST_EC_URI"; do
	name=${k%%:*}
	rest=${k#*:}
	id=${rest%%:*}
	uri=${rest#*:}
	expect_exit 0 "$name: pubkey" "$T" pubkey --key "$uri" || continue
	sed -n '/-----BEGIN PUBLIC KEY-----/,/-----END PUBLIC KEY-----/p' "$W/last.out" > "$name.pem"
	printed=$(grep -E '^sha256:[0-9a-f]{64}$' "$W/last.out")
	computed=sha256:$(openssl pkey -pubin -in "$name.pem" -outform DER | sha256sum | cut -d' ' -f1)
	TESTS_RUN=$((TESTS_RUN + 1))
	if [ -n "$printed" ] && [ "$printed" = "$computed" ]; then
		pass "$name: fingerprint $printed matches openssl | sha256sum"
	else
		fail "$name: printed '$printed', openssl gives '$computed'"
	fi
	pkcs11-tool --module "$TFATTEST_PKCS11_MODULE" --read-object --type pubkey --id "$id" \
		-o "$name.token.der" > /dev/null 2>&1
	token=sha256:$(openssl pkey -pubin -inform DER -in "$name.token.der" -outform DER | sha256sum | cut -d' ' -f1)
	TESTS_RUN=$((TESTS_RUN + 1))
	[ "$token" = "$computed" ] && pass "$name: it is the key pkcs11-tool reads from the token" ||
		fail "$name: pkcs11-tool reads $token from the token"
done
# The key may also come from TFATTEST_KEY.
expect_exit 0 "pubkey from TFATTEST_KEY" env TFATTEST_KEY="$TFATTEST_EC_URI" "$T" pubkey
expect_output "$(openssl pkey -pubin -in ec.pem -outform DER | sha256sum | cut -d' ' -f1)" "same EC fingerprint"
# A usage error for a key that is not on the token, naming what was seen.
expect_exit 2 "missing key" "$T" pubkey --key "pkcs11:object=nope?module-path=$TFATTEST_PKCS11_MODULE&pin-source=file:$TFATTEST_PIN_FILE"
expect_output "keys seen: .*tfattest-rsa" "the error lists the keys seen"
# SoftHSM2 without SOFTHSM2_CONF reads the system's configuration, not the token's: the hint says so.
expect_exit 2 "SOFTHSM2_CONF unset: token not found" env -u SOFTHSM2_CONF "$T" pubkey --key "$TFATTEST_EC_URI"
expect_output 'SOFTHSM2_CONF is not set: SoftHSM2 reads its system configuration' "SOFTHSM2_CONF unset: the hint names it"
expect_exit 2 "pkcs11 list, SOFTHSM2_CONF unset" env -u SOFTHSM2_CONF "$T" pkcs11 list --module "$TFATTEST_PKCS11_MODULE" --token tfattest
expect_output 'SOFTHSM2_CONF is not set: SoftHSM2 reads its system configuration' "pkcs11 list: the hint names it"
expect_exit 2 "SOFTHSM2_CONF set: token not found" "$T" pubkey --key "pkcs11:token=nope?module-path=$TFATTEST_PKCS11_MODULE&pin-source=file:$TFATTEST_PIN_FILE"
check_no_hint() { ! grep -q SOFTHSM2_CONF "$W/last.err"; }
TESTS_RUN=$((TESTS_RUN + 1))
check_no_hint && pass "SOFTHSM2_CONF set: no hint" || fail "SOFTHSM2_CONF set: the hint is given anyway"
finish
