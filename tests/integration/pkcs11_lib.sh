# Shared by the pkcs11_*.sh integration tests: sources tests/lib/common.sh
# and adds make_token, which creates a SoftHSM2 token in the work directory
# with softhsm/init-token.sh and sets SOFTHSM2_CONF, TFATTEST_RSA_URI,
# TFATTEST_EC_URI, TFATTEST_PIN_FILE and TFATTEST_PKCS11_MODULE.
. "$(dirname "$0")/../lib/common.sh"
SRC=$(realpath "${TFA_SOURCE_DIR:?TFA_SOURCE_DIR must name the source tree}")

for tool in softhsm2-util pkcs11-tool openssl; do
	if ! command -v "$tool" > /dev/null 2>&1; then
		echo "FAIL: $tool is not installed (packages softhsm2, opensc, openssl)" >&2
		exit 2
	fi
done

# make_token NAME [init-token.sh options...]
make_token() {
	local name=$1 out
	shift
	out=$(sh "$SRC/softhsm/init-token.sh" "$W/$name" "$@") || {
		echo "FAIL: init-token.sh $* failed" >&2
		exit 2
	}
	eval "$out"
	export SOFTHSM2_CONF
}

# The user PIN of the last token made.
token_pin() {
	cat "$TFATTEST_PIN_FILE"
}
