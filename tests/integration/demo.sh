#!/usr/bin/env bash
# scripts/demo.sh run as a reader would pipe it (stdout and stderr to a file, not
# a terminal), with the tfattest under test and its own demo directory:
#   demo.sh terraform   with the real Terraform on PATH (skips, 77, where it is
#                       not installed): the records are Terraform's own
#   demo.sh standin     with every PATH directory that holds a `terraform`
#                       replaced by a copy without it: the stand-in runs
# It checks that the demo exits 0; prints no ANSI escape; keeps every narrative
# line (a "$ " command, a "## " heading, a "# " remark) within 100 columns;
# that the headings' "(seq A-B)" ranges and counts match the records of the
# exported bundle; that the shown tampering command, run again on a copy of the
# bundle, makes verification fail; and that it says which Terraform it used.
#
# Why 100 columns: a narrative line must read on one line of an ordinary
# terminal or review page, and each command must stay one copyable line; the
# longest command the demo runs (the rollback) is 98. Lines the
# tools print (Terraform's plan, full fingerprints in `verify`) are their own
# output and are not held to it.
. "$(dirname "$0")/../lib/common.sh"
SRC=$(realpath "${TFA_SOURCE_DIR:?TFA_SOURCE_DIR must name the source tree}")
MODE=${1:?usage: demo.sh terraform|standin}
WIDTH=100

for tool in softhsm2-util pkcs11-tool openssl; do
	if ! command -v "$tool" > /dev/null 2>&1; then
		echo "FAIL: $tool is not installed (packages softhsm2, opensc, openssl)" >&2
		exit 2
	fi
done

check() { # desc, condition...
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}

case $MODE in
terraform)
	TFBIN=${TFA_TERRAFORM:-/usr/local/bin/terraform}
	if ! [ -x "$TFBIN" ]; then
		echo "SKIP: $TFBIN is not installed"
		exit 77
	fi
	PATH=$(dirname "$TFBIN"):$PATH
	tfversion=$(CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=/dev/null "$TFBIN" version -json |
		/usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["terraform_version"])')
	;;
standin)
	# Each PATH directory holding a terraform becomes a directory of links to
	# everything else in it.
	newpath=
	n=0
	IFS=: read -ra dirs <<< "$PATH"
	for d in "${dirs[@]}"; do
		if [ -n "$d" ] && [ -e "$d/terraform" ]; then
			n=$((n + 1))
			mkdir "$W/path$n"
			for f in "$d"/* "$d"/.[!.]*; do
				[ -e "$f" ] && [ "${f##*/}" != terraform ] && ln -s "$f" "$W/path$n/"
			done
			d=$W/path$n
		fi
		newpath=${newpath:+$newpath:}$d
	done
	PATH=$newpath
	check "no terraform left on PATH" bash -c '! command -v terraform'
	;;
*)
	echo "usage: demo.sh terraform|standin" >&2
	exit 2
	;;
esac

D=$W/d
# With the real Terraform, where strace can trace: every terraform the demo runs
# runs under strace (through a `terraform` first on PATH), and no socket but
# AF_UNIX may be connected to (no provider download, no version check). Only
# Terraform is traced: LeakSanitizer cannot run under ptrace.
traced=0
if [ "$MODE" = terraform ] && strace -f -qq -o /dev/null true 2> /dev/null; then
	traced=1
	mkdir "$W/tfwrap" "$W/trace"
	printf '#!/bin/sh\nexec strace -f -qq -e trace=connect -o "%s/$$" "%s" "$@"\n' \
		"$W/trace" "$TFBIN" > "$W/tfwrap/terraform"
	chmod +x "$W/tfwrap/terraform"
	PATH=$W/tfwrap:$PATH
fi
# Nothing from the test environment but the binary: the demo finds its own fixtures.
(unset TFA_FIXTURES TFA_SOURCE_DIR TFA_CLI SOFTHSM2_CONF TFATTEST_KEY TFATTEST_STORE
	DEMO_CLI=$T DEMO_DIR=$D exec bash "$SRC/scripts/demo.sh") > "$W/out" 2>&1
rc=$?
if [ "$traced" = 1 ]; then
	# version, init, and plan, show, state pull, apply for each of five deployments
	check "every terraform ran traced" [ "$(ls "$W/trace" | wc -l)" -ge 10 ]
	check "nothing connected to the network" bash -c '! cat "$1"/* | grep -E "AF_INET6?\b"' _ "$W/trace"
elif [ "$MODE" = terraform ]; then
	echo "# strace cannot trace here: the network check is not made"
fi
check "the demo exits 0" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || sed 's/^/    /' "$W/out" >&2
check "no ANSI escape in its piped output" bash -c '! grep -q $'"'"'\x1b'"'"' "$1"' _ "$W/out"
check "no carriage return either" bash -c '! grep -q $'"'"'\r'"'"' "$1"' _ "$W/out"

# Narrative: what the demo itself prints.
grep -E '^(\$|#+) ' "$W/out" > "$W/narrative"
check "a narrative of some length" [ "$(wc -l < "$W/narrative")" -ge 40 ]
long=$(awk -v w="$WIDTH" 'length($0) > w' "$W/narrative")
check "no narrative line longer than $WIDTH columns" [ -z "$long" ]
[ -z "$long" ] || printf '    %s\n' "$long" >&2
echo "# widest narrative line: $(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$W/narrative")," \
	"widest line overall: $(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$W/out")"
check "paths are relative: the demo directory named once, by cd" \
	bash -c '[ "$(grep -cF "$2" "$1")" = 1 ] && grep -qxF "\$ cd $2" "$1"' _ "$W/narrative" "$D"
check "no npm in the output" bash -c '! grep -qi "npm" "$1"' _ "$W/out"
check "fingerprints in remarks are short" bash -c '! grep -E "^#.*sha256:[0-9a-f]{13}" "$1"' _ "$W/narrative"

# Which Terraform.
if [ "$MODE" = terraform ]; then
	check "it says it runs the real Terraform" grep -qE "^# Terraform: Terraform v$tfversion \\(" "$W/narrative"
	check "the config is built-in terraform_data only" \
		bash -c '[ "$(grep -c "^resource \"terraform_data\"" "$1")" -ge 1 ] && ! grep -qE "^(provider|module|terraform) " "$1" && ! grep -q "^resource \"[^t]" "$1"' _ "$D/work/main.tf"
	check "no provider was downloaded" [ ! -e "$D/work/.terraform/providers" ]
else
	check "it says it runs the stand-in" grep -q "^# Terraform: not installed, so the stand-in" "$W/narrative"
fi

# The bundle the demo exported and verified; its records.
B=$W/b
mkdir "$B"
check "the archive extracts" tar -xzf "$D/bundle.tar.gz" -C "$B"
check "the archive verifies against the anchor and the checkpoint" \
	"$T" verify "$B" --expect-key-fingerprint "$D/anchor.fingerprint" --checkpoint "$D/head.ckpt"
mapfile -t seqs < <(ls "$B/artifacts" | sed -n 's/^0*\([0-9][0-9]*\)\.json$/\1/p' | sort -n)
N=${#seqs[@]}
check "the bundle holds records" [ "$N" -ge 1 ]
check "numbered 1..$N" [ "${seqs[*]}" = "$(seq -s ' ' 1 "$N")" ]
# field SEQ PATH: one member of a record's artifact (dotted path), as text.
field() {
	/usr/bin/python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$B/artifacts/$(printf %012d "$1").json" "$2"
}

# Each heading that makes records ends with "(seq A)" or "(seq A-B)"; a count
# word at its start ("Three deployments") is that many records.
covered=()
ok=1
nhead=0
while IFS= read -r h; do
	nhead=$((nhead + 1))
	range=$(sed -E 's/.*\(seq ([0-9]+(-[0-9]+)?)\)$/\1/' <<< "$h")
	a=${range%-*}
	b=${range#*-}
	want=$((b - a + 1))
	word=$(awk '{ print tolower($2) }' <<< "$h")
	case $word in
	one) c=1 ;; two) c=2 ;; three) c=3 ;; four) c=4 ;; five) c=5 ;; six) c=6 ;;
	seven) c=7 ;; eight) c=8 ;; nine) c=9 ;; ten) c=10 ;; *) c=1 ;;
	esac
	if [ "$c" != "$want" ]; then
		echo "    heading counts $c, names $want records: $h" >&2
		ok=0
	fi
	for ((s = a; s <= b; s++)); do covered+=("$s"); done
done < <(grep -E '^## .*\(seq [0-9]+(-[0-9]+)?\)$' "$W/narrative")
check "headings count what their seq ranges hold" [ "$ok" = 1 ]
check "several headings make records" [ "$nhead" -ge 3 ]
check "the headings' seq ranges are the bundle's records, each once" \
	[ "$(printf '%s\n' "${covered[@]}" | sort -n | tr '\n' ' ')" = "$(seq -s ' ' 1 "$N") " ]
deploys=0
failed=()
for s in "${seqs[@]}"; do
	case $(field "$s" event.type) in
	apply | destroy | rollback) deploys=$((deploys + 1)) ;;
	esac
	[ "$(field "$s" event.status)" = failed ] && failed+=("$s")
done
headed=$(grep -E '^## .*\(seq [0-9]+(-[0-9]+)?\)$' "$W/narrative" | awk '
	BEGIN { split("one two three four five six seven eight nine ten", w, " "); for (i in w) n[w[i]] = i }
	tolower($3) ~ /^deployments/ && (tolower($2) in n) { t += n[tolower($2)] }
	END { print t + 0 }')
check "the headings' deployments are the bundle's ($deploys)" [ "$headed" = "$deploys" ]
check "one failed record, seq 2, as the headings say" [ "${failed[*]}" = 2 ]
check "a heading says the second one fails" grep -qE '^## .*the second one fails \(seq 1-' "$W/narrative"
if [ "$MODE" = standin ]; then
	check "stand-in: the failure is asked for on the command shown" \
		grep -qE '^\$ STANDIN_MODE=fail tfattest apply -- terraform ' "$W/narrative"
	check "stand-in: records carry the replayed plans' Terraform" \
		[ "$(field 1 terraform.version)" = "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["terraform_version"])' "$PLANS/show-basic-create.json")" ]
else
	check "terraform: the records are Terraform $tfversion's" \
		[ "$(field 1 terraform.version) $(field 3 terraform.version)" = "$tfversion $tfversion" ]
	check "terraform: the failed apply is the config's own failure" \
		bash -c '! grep -q STANDIN "$1"' _ "$W/out"
	check "terraform: the records name the config's resource" \
		[ "$(field 1 terraform.changes)" = "[{'action': 'create', 'address': 'terraform_data.release'}]" ]
fi
check "after the failing apply: its exit status, recorded" \
	bash -c 'grep -A200 -E "^\\$ .*tfattest apply -- terraform .*release=v2-broken" "$1" | grep -m1 "^# exit status" | grep -q "exit status 1: .*recorded"' _ "$W/out"

# Tampering: the command shown, run again on a copy of the (restored) bundle.
tamper=$(sed -n 's/^\$ \(sed -i .*\)$/\1/p' "$W/narrative")
check "the tampering command is shown" [ -n "$tamper" ]
check "then a verify, exit status 1, tampering detected" \
	bash -c 'grep -A1 -xF "$ $2" "$1" | tail -1 | grep -q "^\$ tfattest verify bundle " &&
		grep -A30 -xF "$ $2" "$1" | grep -m1 "^# exit status" | grep -q "exit status 1: tampering detected"' \
	_ "$W/out" "$tamper"
cp -r "$D/bundle" "$W/copy"
chmod -R u+w "$W/copy"
expect_exit 0 "the restored bundle verifies" "$T" verify "$W/copy" --expect-key-fingerprint "$D/anchor.fingerprint"
(cd "$W/copy/.." && mv copy bundle && eval "$tamper") || fail "the tampering command runs"
check "it changed the record" bash -c '! cmp -s "$1" "$2"' _ "$W/bundle/artifacts/000000000002.json" "$D/bundle/artifacts/000000000002.json"
expect_exit 1 "the tampered copy fails verification" "$T" verify "$W/bundle" --expect-key-fingerprint "$D/anchor.fingerprint"
expect_output "Hash mismatch for artifacts/000000000002.json" "caught at the record tampered with"

# The install step the demo runs, deps.sh --demo, runs no npm: checked on a copy of
# deps.sh beside a package-lock.json and no node_modules, with every tool it may
# call replaced by one that logs its name (dpkg-query says all is installed).
if [ "$MODE" = standin ]; then
	mkdir -p "$W/deps/scripts" "$W/shims"
	cp "$SRC/scripts/deps.sh" "$W/deps/scripts/"
	echo '{}' > "$W/deps/package-lock.json"
	for tool in npm node apt-get sudo localedef dpkg-query locale; do
		printf '#!/bin/sh\necho %s "$@" >> "%s"\n' "$tool" "$W/shims.log" > "$W/shims/$tool"
		chmod +x "$W/shims/$tool"
	done
	printf '#!/bin/sh\nprintf "install ok installed"\n' > "$W/shims/dpkg-query"
	printf '#!/bin/sh\necho de_DE.utf8\n' > "$W/shims/locale"
	check "the demo installs with deps.sh --demo" grep -q '^	bash scripts/deps.sh --demo$' "$SRC/scripts/demo.sh"
	: > "$W/shims.log"
	PATH=$W/shims:$PATH bash "$W/deps/scripts/deps.sh" --demo > "$W/deps.out" 2>&1
	check "deps.sh --demo: exit 0" [ $? = 0 ]
	check "deps.sh --demo: prints nothing when all is installed" [ ! -s "$W/deps.out" ]
	check "deps.sh --demo: no npm, no apt-get" [ ! -s "$W/shims.log" ]
	PATH=$W/shims:$PATH bash "$W/deps/scripts/deps.sh" > "$W/deps.out" 2>&1
	check "deps.sh (the tests' install): runs npm ci" grep -q '^npm ci' "$W/shims.log"
fi

finish
