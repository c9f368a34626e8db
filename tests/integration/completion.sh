#!/usr/bin/env bash
# Shell completion (contrib/completion) and the man page written from the
# program's help (cmake/manpage.cmake): completion offers the build's commands
# and each command's options, files after `--`; the man page has a section for
# every command the program lists and renders without warnings.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(dirname "$T")

# shellcheck source=/dev/null
. "$SRC/contrib/completion/tfattest.bash"
# complete WORD...: COMPREPLY for the last word, as bash would ask.
complete_words() {
	COMP_WORDS=("$T" "$@")
	COMP_CWORD=$#
	_tfattest
	printf '%s\n' "${COMPREPLY[@]}"
}
has() { # has WORD DESC: the last completion offered WORD
	TESTS_RUN=$((TESTS_RUN + 1))
	if grep -qx -- "$1" comp.out; then pass "$2"; else fail "$2: '$1' not offered: $(tr '\n' ' ' < comp.out)"; fi
}
lacks() {
	TESTS_RUN=$((TESTS_RUN + 1))
	if grep -qx -- "$1" comp.out; then fail "$2: '$1' offered"; else pass "$2"; fi
}

complete_words rec > comp.out
has record "a command from its first letters"
complete_words "" > comp.out
for c in init record apply drift reconcile log show diff export checkpoint rotate pubkey verify report canon; do
	has "$c" "the command list offers $c"
done
lacks frobnicate "nothing but commands"
complete_words verify --thr > comp.out
has --threads "verify's own options"
complete_words verify --j > comp.out
has --json "verify's common options"
complete_words record --fl > comp.out
has --flush-spool "record's options"
lacks --threads "not another command's options"
touch plan.json
complete_words apply --store s -- terraform apply pla > comp.out
has plan.json "after --, file names"
lacks --plan "after --, no tfattest option"
complete_words record --plan pl > comp.out
has plan.json "an option's value: file names"
if "$T" pkcs11 --help > /dev/null 2>&1; then
	complete_words pkcs11 "" > comp.out
	has list "pkcs11's subcommand"
	complete_words pkcs11 list --mo > comp.out
	has --module "pkcs11 list's options"
fi
if command -v zsh > /dev/null; then
	expect_exit 0 "the zsh completion parses" zsh -n "$SRC/contrib/completion/_tfattest"
fi

# The man page.
page=$BUILD/tfattest.1
[ -f "$page" ] || fail "no man page at $page"
"$T" --help | sed -n '/^Commands:$/,/^$/s/^  \([a-z0-9]*\( list\)\{0,1\}\)  .*/\1/p' > cmds.txt
while read -r c; do
	grep -qx "\.SS $c" "$page" || fail "the man page has no section for $c"
done < cmds.txt
pass "the man page has a section for each of $(wc -l < cmds.txt) commands"
if command -v man > /dev/null; then
	MANWIDTH=100 man --warnings -l "$page" > man.txt 2> man.err || fail "man -l failed: $(cat man.err)"
	[ -s man.err ] && fail "man warns: $(head -3 man.err)"
	grep -q -- '--expect-key-fingerprint' man.txt || fail "the rendered page lacks verify's options"
	grep -q 'TFATTEST_STORE' man.txt || fail "the rendered page lacks the environment"
	pass "the man page renders without warnings"
fi
finish
