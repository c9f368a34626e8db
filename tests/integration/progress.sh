#!/usr/bin/env bash
# Progress of long work: export, verify and reconcile print "<what> N/M records"
# on stderr, rewritten in place with \r and cleared at the end, only when stderr
# is a terminal. Into a file or a pipe they write no progress byte at all.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL
check() {
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}
# on_tty OUT CMD...: runs CMD with stdout and stderr on a pseudo-terminal, what it wrote in OUT.
on_tty() {
	local out=$1
	shift
	if command -v script > /dev/null; then
		script -qec "$(printf '%q ' "$@")" /dev/null > "$out" < /dev/null
	else
		/usr/bin/python3 -c 'import os, pty, sys
out = open(sys.argv[1], "wb")
def rd(fd):
    d = os.read(fd, 65536)
    out.write(d)
    return d
st = pty.spawn(sys.argv[2:], rd)
sys.exit(os.waitstatus_to_exitcode(st))' "$out" "$@" > /dev/null < /dev/null
	fi
}
N=150
new_ec_key k.pem
"$T" init --store s --chain prod --key file:k.pem > /dev/null || exit 2
export TFATTEST_STORE=$W/s TFATTEST_KEY=file:$W/k.pem
for _ in $(seq $N); do
	"$T" record --plan "$PLANS/show-basic-create.json" > /dev/null 2>&1 || exit 2
done
R=$N

# Not a terminal: stderr into a file, or a pipe. Not one progress byte.
expect_exit 0 "export, stderr to a file" "$T" export --out b1
check "export: no progress in a file" bash -c "! grep -q \$'\\r\\|records [0-9]' '$W/last.err'"
check "export: stderr empty in a file" [ ! -s "$W/last.err" ]
expect_exit 0 "verify, stderr to a file" "$T" verify b1
check "verify: no progress in a file" [ ! -s "$W/last.err" ]
check "verify: no carriage return on stdout either" bash -c "! grep -q \$'\\r' '$W/last.out'"
check "verify through a pipe: no progress" bash -c "'$T' verify b1 2>&1 | cat > pipe.out; ! grep -q \$'\\r\\|verified [0-9]' pipe.out"
# The state is not on record: reconcile says so and exits 1; what matters here is stderr.
expect_exit 1 "reconcile, stderr to a file" "$T" reconcile --state "$STATES/show-basic-delete.tfstate"
check "reconcile: no progress in a file" bash -c "! grep -q \$'\\r\\|read [0-9]*/' '$W/last.err'"

# A terminal: the progress line, rewritten in place, the last count reached, then cleared.
on_tty tty_export.out "$T" export --out b2
check "export on a terminal: it worked" [ -f b2/manifest.json ]
check "export on a terminal: exported N/M records" grep -aq "exported $R/$R records" tty_export.out
check "export on a terminal: the bundle checked, with progress" grep -aq "verified $R/$R records" tty_export.out
check "export on a terminal: rewritten with \\r" grep -aq $'\rexported ' tty_export.out
check "export on a terminal: the line cleared before the result" grep -aq $'\r *\rexported records 1\.\.' tty_export.out
on_tty tty_verify.out "$T" verify b2
check "verify on a terminal: verified N/M records" grep -aq "verified $R/$R records" tty_verify.out
check "verify on a terminal: cleared before the report's next line" grep -aq $'\r *\r\\[SUCCESS\\] All' tty_verify.out
check "verify on a terminal: the report is whole" grep -aq 'All .* artifact signatures valid' tty_verify.out
check "verify on a terminal: at most one line per 100 ms, and the last" \
	bash -c "[ \"\$(grep -ao 'verified [0-9]*/$R records' tty_verify.out | wc -l)\" -lt 20 ]"
on_tty tty_reconcile.out "$T" reconcile --state "$STATES/show-basic-delete.tfstate"
check "reconcile on a terminal: read N/M records" grep -aq "read $N/$N records" tty_reconcile.out
check "reconcile on a terminal: cleared" grep -aq "read $N/$N records"$'\r *\r' tty_reconcile.out
# With --json, stdout stays JSON: the progress is on stderr only.
on_tty tty_json.out bash -c "'$T' verify --json b2 2> /dev/null"
check "verify --json, stderr elsewhere: no progress" bash -c "! grep -aq 'verified [0-9]' tty_json.out"
finish
