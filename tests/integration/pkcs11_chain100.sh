#!/usr/bin/env bash
# A chain of 100 records signed on a SoftHSM2 token with RSASSA-PSS, on a slot
# where raw RSA (CKM_RSA_X_509) is disabled as on production HSMs, exports
# and verifies; one artifact is also checked by hand with openssl.
. "$(dirname "$0")/pkcs11_lib.sh"
cd "$W" || exit 2
N=${TFA_P11_CHAIN_N:-100}

make_token tok --no-rsa-x509
KEY=$TFATTEST_RSA_URI
plans=(show-basic-create.json show-basic-update.json show-basic-delete.json show-modules.json show-drift.json)
events=(apply apply destroy apply import)

expect_exit 0 "init on the token" "$T" init --store s --chain p11 --key "$KEY"
TESTS_RUN=$((TESTS_RUN + 1))
failed=0
for i in $(seq 1 "$N"); do
	k=$((i % ${#plans[@]}))
	if ! "$T" record --store s --key "$KEY" --plan "$PLANS/${plans[$k]}" \
		--event "${events[$k]}" --algorithm RSASSA_PSS_SHA_256 > /dev/null 2> rec.err; then
		failed=$((failed + 1))
		sed 's/^/    /' rec.err >&2
	fi
done
[ "$failed" -eq 0 ] && pass "$N records signed on the token" || fail "$failed of $N records failed"

expect_exit 0 "pubkey" "$T" pubkey --key "$KEY"
fpr=$(grep '^sha256:' "$W/last.out")
sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p' "$W/last.out" > pub.pem
expect_exit 0 "export" "$T" export --store s --key "$KEY" --out b
expect_exit 0 "verify with the pinned fingerprint" "$T" verify b --expect-key-fingerprint "$fpr"
expect_output "Hash chain valid \\($N artifacts\\)" "chain of $N"
expect_output "All $N artifact signatures valid" "$N signatures"
expect_output "\\[SUCCESS\\] All verification checks passed" "all checks passed"

# The artifacts say how and where they were signed.
art=$(ls b/artifacts/*.json | head -1)
sig=${art%.json}.sig
TESTS_RUN=$((TESTS_RUN + 1))
if grep -q '"algorithm":"RSASSA_PSS_SHA_256","backend":"pkcs11"' "$art" &&
	grep -q '"key_id":"01","key_label":"tfattest-rsa","token_label":"tfattest"' "$art" &&
	grep -q '"token_model":"SoftHSM v2"' "$art"; then
	pass "artifact records the algorithm and the token's provenance"
else
	fail "artifact lacks the signer provenance: $(head -c 600 "$art")"
fi

# The auditor's recipe: openssl alone, PSS with SHA-256, MGF1-SHA-256, salt 32.
expect_exit 0 "openssl verifies a record's PSS signature" \
	openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
	-sigopt rsa_mgf1_md:sha256 -verify pub.pem -signature "$sig" "$art"
finish
