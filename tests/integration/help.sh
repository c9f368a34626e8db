#!/usr/bin/env bash
# Help and usage messages: `tfattest CMD --help` for every command the listing
# names prints that command's usage and every option it takes, one line each,
# to stdout, exit 0; an unknown command gets the nearest one; `apply` without
# `--` says so; --version is the project's version. Usage, messages and
# --version name the program as installed (TFA_PROGRAM: tfattest, or
# tfattest-verify for the verifier-only build).
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
P=${TFA_PROGRAM:?TFA_PROGRAM must name the program as installed}

expect_exit 0 "--help" "$T" --help
expect_output '^Commands:$' "--help lists the commands"
expect_output "^usage: $P <command> \[options\]$" "--help names the program $P"
[ "$(grep -cE "^(usage:)? +$P " "$W/last.out")" -eq 3 ] || fail "--help's usage lines do not all name $P"
[ -s "$W/last.err" ] && fail "--help wrote to stderr"
cmds=$(sed -n '/^Commands:$/,/^$/p' "$W/last.out" | sed -n 's/^  \([a-z0-9]*\( list\)\{0,1\}\)  .*/\1/p')
[ "$(echo "$cmds" | wc -w)" -ge 3 ] || fail "the command list is too short: $cmds"
while read -r c; do
	[ -n "$c" ] || continue
	# shellcheck disable=SC2086 # "pkcs11 list" is two words
	expect_exit 0 "$c --help" "$T" $c --help
	[ -s "$W/last.err" ] && fail "$c --help wrote to stderr: $(cat "$W/last.err")"
	head -1 "$W/last.out" | grep -q "^usage: $P $c " || fail "$c --help does not start with its usage"
	grep -q '^Options:$' "$W/last.out" || fail "$c --help has no Options section"
	grep -q '^  --help ' "$W/last.out" || fail "$c --help does not list --help"
	if grep -n '(no description)' "$W/last.out" >&2; then fail "$c --help: an option without a description"; fi
	# Every option line has its explanation on the same or the next line.
	awk 'o && bare { if (substr($0, 1, 29) !~ /^ *$/ || substr($0, 30, 1) == " ") print "bare: " prev; bare = 0 }
		/^Options:$/ { o = 1; next }
		o && /^  --[a-z0-9-]+( [^ ]+)?$/ { bare = 1; prev = $0 }
		END { if (bare) print "bare: " prev }' "$W/last.out" |
		grep . && fail "$c --help: an option line without an explanation"
done <<< "$cmds"

# Options the commands take appear in their help.
"$T" verify --help > verify.txt
for o in --threads --checkpoint --tsa-ca --require-genesis --expect-key-fingerprint --json; do
	grep -q -- "^  $o" verify.txt || fail "verify --help does not list $o"
done
# The recording commands, in a full build (the verifier-only build, tfattest-verify, has
# verify, report and canon alone).
full=false
grep -qx record <<< "$cmds" && full=true
[ "$full" = "$([ "$P" = tfattest ] && echo true || echo false)" ] ||
	fail "$P lists commands $(tr '\n' ' ' <<< "$cmds"): record is there exactly in the full build, tfattest"
if $full; then
	"$T" record --help > record.txt
	for o in --algorithm --store --sequencer --key --plan --state --event --status --exit-code --flush-spool; do
		grep -q -- "^  $o" record.txt || fail "record --help does not list $o"
	done
	pass "verify and record list their options"

	expect_exit 2 "unknown command" "$T" recrod
	expect_output 'did you mean `record`\?' "a typo gets the nearest command"
else
	expect_exit 2 "unknown command" "$T" verfy
	expect_output "^$P: usage error: unknown command 'verfy'; did you mean \`verify\`\? \($P --help" \
		"a typo gets the nearest command"
fi
[ "$(wc -l < "$W/last.err")" -eq 1 ] || fail "an unknown command prints more than one line"
expect_exit 2 "unknown command far from any" "$T" frobnicate
expect_output "^$P: usage error: unknown command 'frobnicate' \($P --help lists the commands\)$" \
	"no guess when nothing is close"

if $full; then
	expect_exit 2 "apply without --" "$T" apply terraform apply
	expect_output '`--` is missing' "apply says -- is missing"
	expect_exit 2 "apply with nothing after --" "$T" apply --
	expect_output 'no Terraform command after `--`' "apply says the command is missing"
fi

expect_exit 0 "canon --help" "$T" canon --help
expect_output "^usage: $P canon \[FILE\]$" "canon --help is its usage, not a file name"
printf '{"b":1,"a":2}' > in.json
expect_exit 0 "canon FILE" "$T" canon in.json
expect_output '^\{"a":2,"b":1\}$' "canon still reads a file"

version=$(sed -n 's/^project(tfattest VERSION \([0-9.]*\) .*/\1/p' "$SRC/CMakeLists.txt")
expect_exit 0 "--version" "$T" --version
expect_output "^$P $version$" "--version is $P and the project's version ($version)"
expect_exit 2 "verify with no bundle" "$T" verify
expect_output "^$P: usage error: $P verify BUNDLE " "verify's usage error names $P"
expect_exit 2 "verify of a bundle that is not there" "$T" verify "$W/no-such-bundle"
expect_output "^$P: error: cannot open bundle " "an error names $P"

finish
