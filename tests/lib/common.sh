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

# ---- Shards: a long script split into independent ctest entries ----
# A script declares its units (a case, or a group of checks) with `unit NAME`, in
# the same order on every run. With TFA_SHARD=I/N the units are dealt round-robin
# to N shards and this run owns shard I's; without it, it owns them all. With
# TFA_SHARD_LOG set, each declared unit is logged as "run NAME" or "skip NAME", so
# that shards_cover.sh can check that the shards together run every unit once.
SHARD_I=1
SHARD_N=1
if [ -n "${TFA_SHARD:-}" ]; then
	SHARD_I=${TFA_SHARD%/*}
	SHARD_N=${TFA_SHARD#*/}
	case $SHARD_I/$SHARD_N in
	*[!0-9/]* | /* | */) echo "TFA_SHARD must be I/N, not $TFA_SHARD" >&2; exit 2 ;;
	esac
	[ "$SHARD_N" -ge 1 ] && [ "$SHARD_I" -ge 1 ] && [ "$SHARD_I" -le "$SHARD_N" ] ||
		{ echo "TFA_SHARD must be I/N with 1 <= I <= N, not $TFA_SHARD" >&2; exit 2; }
fi
SHARD_K=0
declare -A SHARD_OWN=() SHARD_DONE=()
[ -z "${TFA_SHARD_LOG:-}" ] || : > "$TFA_SHARD_LOG" || exit 2

# unit NAME: declares the next unit; true if this run owns it.
unit() {
	local how=skip
	if [ -n "${SHARD_OWN[$1]+set}" ]; then fail "unit $1 declared twice"; return 1; fi
	SHARD_OWN[$1]=0
	if [ $((SHARD_K % SHARD_N + 1)) -eq "$SHARD_I" ]; then
		SHARD_OWN[$1]=1
		how=run
	fi
	SHARD_K=$((SHARD_K + 1))
	[ -z "${TFA_SHARD_LOG:-}" ] || printf '%s %s\n' "$how" "$1" >> "$TFA_SHARD_LOG"
	[ "$how" = run ]
}

# mine NAME: true if this run owns the (declared) unit NAME; notes that it was done.
mine() {
	[ -n "${SHARD_OWN[$1]+set}" ] || { fail "unit $1 used but never declared"; return 1; }
	[ "${SHARD_OWN[$1]}" = 1 ] || return 1
	SHARD_DONE[$1]=1
}

# units_done: every unit this run owns was done (called before finish).
units_done() {
	local u
	for u in "${!SHARD_OWN[@]}"; do
		[ "${SHARD_OWN[$u]}" = 0 ] || [ -n "${SHARD_DONE[$u]:-}" ] || fail "unit $u was owned but never done"
	done
	[ "$SHARD_N" -eq 1 ] || echo "shard $SHARD_I/$SHARD_N: ${#SHARD_DONE[@]} of $SHARD_K units"
}
