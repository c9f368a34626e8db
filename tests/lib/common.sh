# Shared helpers for the integration tests. Source it; it sets:
#   T    the tfattest binary     FIX  tests/fixtures     W  a fresh work directory
#   PLANS, STATES                fixture directories
set -u
T=$(realpath "${TFA_CLI:?TFA_CLI must name the tfattest binary}")
FIX=$(realpath "${TFA_FIXTURES:?TFA_FIXTURES must name tests/fixtures}")
PLANS=$FIX/terraform/plans
STATES=$FIX/terraform/states
W=$(mktemp -d "${TMPDIR:-/tmp}/tfa-it.XXXXXX")
trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
TESTS_RUN=0
TESTS_FAILED=0

# With TFA_FAIL_FAST set (scripts/mutate.sh sets it) the first failed check ends the script.
fail() {
	echo "FAIL: $*" >&2
	TESTS_FAILED=$((TESTS_FAILED + 1))
	[ -z "${TFA_FAIL_FAST:-}" ] || exit 1
}

pass() {
	echo "ok - $*"
}

# expect_exit CODE DESC CMD... : runs CMD, checks its exit status.
expect_exit() {
	local want=$1 desc=$2 got
	shift 2
	TESTS_RUN=$((TESTS_RUN + 1))
	"$@" > "$W/last.out" 2> "$W/last.err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		fail "$desc: exit $got, wanted $want"
		sed 's/^/    /' "$W/last.out" "$W/last.err" >&2
		return 1
	fi
	pass "$desc"
}

# expect_output PATTERN DESC : the last command's stdout+stderr matches the extended regex.
expect_output() {
	TESTS_RUN=$((TESTS_RUN + 1))
	if ! cat "$W/last.out" "$W/last.err" | grep -Eq -- "$1"; then
		fail "$2: output does not match /$1/"
		sed 's/^/    /' "$W/last.out" "$W/last.err" >&2
		return 1
	fi
	pass "$2"
}

# new_rsa_key FILE [BITS]
new_rsa_key() {
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:"${2:-2048}" -out "$1" 2>/dev/null
}

new_ec_key() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

finish() {
	echo "$((TESTS_RUN - TESTS_FAILED)) passed, $TESTS_FAILED failed"
	[ "$TESTS_FAILED" -eq 0 ]
}
