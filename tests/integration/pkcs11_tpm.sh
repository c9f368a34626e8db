#!/usr/bin/env bash
# A second PKCS#11 implementation: a TPM 2.0 (swtpm, a software TPM) behind
# tpm2-pkcs11, entirely in user space in the work directory:
#   swtpm (TCP) <- tpm2-abrmd on a private D-Bus session bus <- tpm2-pkcs11
# tpm2_ptool creates the token and an RSA-3072 and an EC P-256 key; then
# chains are recorded, exported and verified through the CLI, as with SoftHSM2.
#
# tpm2_ptool runs out of TPM object memory (TPM_RC_OBJECT_MEMORY) when it
# talks to swtpm directly, because nothing flushes the transient objects the
# tools leave loaded; tpm2-abrmd is the resource manager that does.
#
# Skips (exit 77) only when the packages are absent: swtpm, tpm2-abrmd,
# libtpm2-pkcs11-1, libtpm2-pkcs11-tools (tpm2_ptool), tpm2-tools, dbus.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2

missing=
for tool in swtpm tpm2_ptool tpm2-abrmd tpm2_getcap dbus-daemon; do
	command -v "$tool" > /dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing="$missing $tool"
done
MODULE=
for m in ${TFATTEST_TPM2_PKCS11_MODULE:-} \
	/usr/lib/"$(gcc -print-multiarch 2> /dev/null)"/pkcs11/libtpm2_pkcs11.so \
	/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so /usr/lib/aarch64-linux-gnu/pkcs11/libtpm2_pkcs11.so \
	/usr/lib64/pkcs11/libtpm2_pkcs11.so /usr/lib/pkcs11/libtpm2_pkcs11.so; do
	if [ -f "$m" ]; then
		MODULE=$m
		break
	fi
done
[ -n "$MODULE" ] || missing="$missing libtpm2_pkcs11.so"
if [ -n "$missing" ]; then
	echo "SKIP: not installed:$missing (Debian: swtpm tpm2-abrmd libtpm2-pkcs11-1 libtpm2-pkcs11-tools tpm2-tools dbus)"
	exit 77
fi
ABRMD=$(command -v tpm2-abrmd || echo /usr/sbin/tpm2-abrmd)

# Under -DTFATTEST_SANITIZE=ON: tpm2-pkcs11 leaks inside C_SignInit (see the
# suppressions file); the slow unwinder is needed to see the module's frames.
SRC=$(realpath "${TFA_SOURCE_DIR:?TFA_SOURCE_DIR must name the source tree}")
export LSAN_OPTIONS="suppressions=$SRC/tests/lsan-softhsm.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

SWTPM_PID=
DBUS_PID=
ABRMD_PID=
tpm_cleanup() {
	[ -n "$ABRMD_PID" ] && kill "$ABRMD_PID" 2> /dev/null
	[ -n "$SWTPM_PID" ] && kill "$SWTPM_PID" 2> /dev/null
	[ -n "$DBUS_PID" ] && kill "$DBUS_PID" 2> /dev/null
	wait 2> /dev/null
}
trap 'tpm_cleanup; chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT

# swtpm on a free pair of ports.
mkdir -p tpmstate store
for try in 1 2 3 4 5 6 7 8; do
	port=$((20000 + (RANDOM % 20000) * 2))
	swtpm socket --tpm2 --tpmstate dir="$W/tpmstate" \
		--server type=tcp,port=$port,bindaddr=127.0.0.1 \
		--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
		--flags not-need-init,startup-clear --log file="$W/swtpm.log" &
	SWTPM_PID=$!
	sleep 0.5
	kill -0 "$SWTPM_PID" 2> /dev/null && break
	SWTPM_PID=
done
[ -n "$SWTPM_PID" ] || { echo "FAIL: swtpm did not start: $(tail -3 swtpm.log)" >&2; exit 2; }

# A private session bus for tpm2-abrmd: no system bus or system service needed.
dbus-daemon --session --fork --print-address=1 --print-pid=1 --address="unix:path=$W/bus" > dbus.info ||
	{ echo "FAIL: dbus-daemon did not start" >&2; exit 2; }
DBUS_SESSION_BUS_ADDRESS=$(sed -n 1p dbus.info)
DBUS_PID=$(sed -n 2p dbus.info)
export DBUS_SESSION_BUS_ADDRESS
root_flag=
[ "$(id -u)" -eq 0 ] && root_flag=--allow-root
"$ABRMD" --session $root_flag --tcti="swtpm:host=127.0.0.1,port=$port" > abrmd.log 2>&1 &
ABRMD_PID=$!
export TPM2TOOLS_TCTI="tabrmd:bus_type=session"
export TPM2_PKCS11_TCTI="tabrmd:bus_type=session"
export TPM2_PKCS11_STORE="$W/store"
ready=0
for i in $(seq 1 50); do
	if tpm2_getcap properties-fixed > /dev/null 2>&1; then
		ready=1
		break
	fi
	sleep 0.2
done
[ "$ready" -eq 1 ] || { echo "FAIL: tpm2-abrmd did not come up: $(tail -3 abrmd.log)" >&2; exit 2; }

PIN=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
SOPIN=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
(umask 077 && printf '%s\n' "$PIN" > pin)
ptool() {
	tpm2_ptool "$@" --path "$W/store" >> ptool.log 2>&1 || {
		echo "FAIL: tpm2_ptool $1 failed: $(tail -3 ptool.log)" >&2
		exit 2
	}
}
ptool init
ptool addtoken --pid=1 --sopin="$SOPIN" --userpin="$PIN" --label=tfattest
ptool addkey --algorithm=rsa3072 --label=tfattest --userpin="$PIN" --key-label=tfattest-rsa
ptool addkey --algorithm=ecc256 --label=tfattest --userpin="$PIN" --key-label=tfattest-ec
pass "swtpm + tpm2-abrmd + tpm2-pkcs11 token with RSA-3072 and EC P-256 keys"

RSA="pkcs11:token=tfattest;object=tfattest-rsa;type=private?module-path=$MODULE&pin-source=file:$W/pin"
EC="pkcs11:token=tfattest;object=tfattest-ec;type=private?module-path=$MODULE&pin-source=file:$W/pin"

expect_exit 0 "pubkey from the TPM" "$T" pubkey --key "$RSA"
fpr=$(grep '^sha256:' "$W/last.out")
sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p' "$W/last.out" > rsa.pem
expect_exit 0 "init (RSA on the TPM)" "$T" init --store rs --chain tpm-rsa --key "$RSA"
for i in 1 2 3 4 5; do
	expect_exit 0 "record $i, RSASSA_PSS_SHA_256 on the TPM" "$T" record --store rs --key "$RSA" \
		--plan "$PLANS/show-basic-create.json" --algorithm RSASSA_PSS_SHA_256
done
expect_exit 0 "export" "$T" export --store rs --key "$RSA" --out rb
expect_exit 0 "verify" "$T" verify rb --expect-key-fingerprint "$fpr"
expect_output "Hash chain valid \\(5 artifacts\\)" "RSA chain of 5"
expect_output "\\[SUCCESS\\] All verification checks passed" "RSA chain verifies"
art=$(ls rb/artifacts/*.json | head -1)
TESTS_RUN=$((TESTS_RUN + 1))
grep -q '"backend":"pkcs11"' "$art" && grep -q '"token_label":"tfattest"' "$art" &&
	pass "artifact names the TPM token" || fail "artifact lacks the token provenance"
expect_exit 0 "openssl verifies the TPM's PSS signature" \
	openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
	-sigopt rsa_mgf1_md:sha256 -verify rsa.pem -signature "${art%.json}.sig" "$art"

expect_exit 0 "init (RSA PKCS#1 on the TPM)" "$T" init --store r1 --chain tpm-rsa1 --key "$RSA"
for i in 1 2; do
	expect_exit 0 "record $i, RSASSA_PKCS1_V1_5_SHA_256 on the TPM" "$T" record --store r1 \
		--key "$RSA" --plan "$PLANS/show-basic-delete.json" --algorithm RSASSA_PKCS1_V1_5_SHA_256
done
expect_exit 0 "export" "$T" export --store r1 --key "$RSA" --out r1b --algorithm RSASSA_PKCS1_V1_5_SHA_256
expect_exit 0 "verify" "$T" verify r1b
expect_output "\\[SUCCESS\\] All verification checks passed" "PKCS#1 chain verifies"

expect_exit 0 "init (EC on the TPM)" "$T" init --store es --chain tpm-ec --key "$EC"
for i in 1 2 3; do
	expect_exit 0 "record $i, ECDSA_SHA_256 on the TPM" "$T" record --store es --key "$EC" \
		--plan "$PLANS/show-basic-update.json"
done
expect_exit 0 "export" "$T" export --store es --key "$EC" --out eb
expect_exit 0 "verify" "$T" verify eb
expect_output "\\[SUCCESS\\] All verification checks passed" "EC chain verifies"

expect_exit 2 "wrong PIN on the TPM" "$T" pubkey \
	--key "pkcs11:token=tfattest;object=tfattest-ec?module-path=$MODULE&pin-value=00000000"
expect_output "CKR_PIN_INCORRECT" "the TPM's wrong-PIN error is named"
finish
