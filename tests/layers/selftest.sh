#!/usr/bin/env bash
# Proves scripts/check-layers.sh fails when it should: a tiny fake tree, first
# clean, then with one kind of fault at a time (a layer violation, a system
# library in the verifier, a recording-side public header in the verifier, a
# CLI reaching into a layer, an include cycle, a stale allowlist entry).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
check=${TFA_SOURCE_DIR:-$here/../..}/scripts/check-layers.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

mktree() {
	rm -rf "$tmp/t"
	mkdir -p "$tmp/t/src/format" "$tmp/t/src/verify" "$tmp/t/src/sys" "$tmp/t/src/record" \
		"$tmp/t/src/cli" "$tmp/t/providers/file" "$tmp/t/include/tfattest/sys"
	cd "$tmp/t"
	printf 'set(TFA_VERIFIER_HEADERS\n  tfattest/error.h # the errors\n  tfattest/verify.h)\n' > CMakeLists.txt
	printf '#include "tfattest/features.h"\n' > include/tfattest/error.h
	printf '#define TFATTEST_VERIFIER_ONLY @X@\n' > include/tfattest/features.h.in
	printf '#include "error.h"\n' > include/tfattest/verify.h
	printf '#include "error.h"\n' > include/tfattest/chain.h
	printf '#include "../chain.h"\n' > include/tfattest/sys/signer.h
	printf '#include <stdio.h>\n#include "tfattest/error.h"\n' > src/format/hex.h
	printf '#include "format/hex.h"\n' > src/format/hex.c
	printf '#include "format/hex.h"\n#include "tfattest/verify.h"\n' > src/verify/crypto.h
	printf '#include "verify/crypto.h"\n#include <openssl/evp.h>\n' > src/verify/crypto.c
	printf '#include "format/hex.h"\n' > src/sys/fsutil.h
	printf '#include "sys/fsutil.h"\n#include "verify/crypto.h"\n#include "tfattest/chain.h"\n#include <curl/curl.h>\n' \
		> src/record/chain.c
	printf '#include "cli.h"\n#include "tfattest/chain.h"\n' > src/cli/main.c
	printf '#include <tfattest/verify.h>\n' > src/cli/cli.h
	printf '#include "tfattest/sys/signer.h"\n#include "record/x.h"\n#include "own.h"\n' > providers/file/file.c
	printf '#include "tfattest/error.h"\n' > providers/file/own.h
	printf '\n' > src/record/x.h
	cd - > /dev/null
}

# expect_pass NAME [ARGS...] / expect_fail NAME PATTERN [ARGS...]: runs the check on the tree.
expect_pass() {
	local name=$1
	shift
	if bash "$check" "$@" "$tmp/t" > "$tmp/out" 2>&1; then
		echo "ok: $name"
	else
		echo "FAIL: $name: the check failed on a clean tree"; cat "$tmp/out"; fail=1
	fi
}
expect_fail() {
	local name=$1 pattern=$2
	shift 2
	if bash "$check" "$@" "$tmp/t" > "$tmp/out" 2>&1; then
		echo "FAIL: $name: the check passed"; cat "$tmp/out"; fail=1
	elif ! grep -qF -- "$pattern" "$tmp/out"; then
		echo "FAIL: $name: no line with: $pattern"; cat "$tmp/out"; fail=1
	else
		echo "ok: $name"
	fi
}
empty=$tmp/empty-allowlist
: > "$empty"

mktree
expect_pass "clean tree" --allowlist "$empty"

mktree
printf '#include "sys/fsutil.h"\n' >> "$tmp/t/src/verify/crypto.c"
expect_fail "verify includes sys" \
	'src/verify/crypto.c:3: includes sys/fsutil.h: src/verify may not include src/sys' --allowlist "$empty"

mktree
printf '#include "verify/crypto.h"\n' >> "$tmp/t/src/format/hex.c"
expect_fail "format includes verify" \
	'src/format/hex.c:2: includes verify/crypto.h: src/format may not include src/verify' --allowlist "$empty"

mktree
printf '#include <curl/curl.h>\n' >> "$tmp/t/src/verify/crypto.c"
expect_fail "verify includes libcurl" \
	'src/verify/crypto.c:3: includes <curl/curl.h>: src/verify may not include libcurl' --allowlist "$empty"

mktree
printf '#include <libp11.h>\n' >> "$tmp/t/src/format/hex.h"
expect_fail "format includes libp11" 'src/format/hex.h:3: includes <libp11.h>' --allowlist "$empty"

mktree
printf '#include "tfattest/chain.h"\n' >> "$tmp/t/src/verify/crypto.h"
expect_fail "verify includes a recording-side public header" \
	'src/verify/crypto.h:3: includes tfattest/chain.h: src/verify may include only the verifier-side public headers' \
	--allowlist "$empty"

mktree
printf '#include "record/x.h"\n' >> "$tmp/t/src/cli/main.c"
expect_fail "cli includes a private header" \
	'src/cli/main.c:3: includes record/x.h: src/cli includes only public headers' --allowlist "$empty"

mktree
printf '#include "../../providers/file/own.h"\n' >> "$tmp/t/src/record/chain.c"
expect_fail "a layer includes a provider" \
	"src/record/chain.c:5: includes ../../providers/file/own.h: a provider's headers are its own" \
	--allowlist "$empty"

mktree
mkdir -p "$tmp/t/src/net" "$tmp/t/src/aws"
printf '#include "sys/fsutil.h"\n' > "$tmp/t/src/net/http.h"
printf '#include "net/http.h"\n#include "verify/crypto.h"\n' > "$tmp/t/src/aws/sigv4.c"
expect_pass "src/net below src/aws" --allowlist "$empty"
printf '#include "aws/sigv4.h"\n' >> "$tmp/t/src/net/http.h"
printf '\n' > "$tmp/t/src/aws/sigv4.h"
expect_fail "src/net includes src/aws" \
	'src/net/http.h:2: includes aws/sigv4.h: src/net may not include src/aws' --allowlist "$empty"

mktree
printf '#include "nowhere/gone.h"\n' >> "$tmp/t/src/sys/fsutil.h"
expect_fail "an include that resolves to nothing" \
	'src/sys/fsutil.h:2: includes nowhere/gone.h: does not resolve' --allowlist "$empty"

mktree
printf '#include "format/b.h"\n' > "$tmp/t/src/format/a.h"
printf '#include "format/c.h"\n' > "$tmp/t/src/format/b.h"
printf '#include "format/a.h"\n' > "$tmp/t/src/format/c.h"
expect_fail "an include cycle" 'include cycle: src/format/' --allowlist "$empty"
grep -F 'include cycle' "$tmp/out" | grep -q 'src/format/a.h' || { echo "FAIL: cycle not named"; fail=1; }

mktree
printf '#include "verify/crypto.h"\n' >> "$tmp/t/src/format/hex.c"
printf 'src/format/hex.c|verify/crypto.h|moving\n' > "$tmp/allow"
expect_pass "an allowlisted violation" --allowlist "$tmp/allow"

mktree
expect_fail "an allowlisted violation that no longer occurs" \
	'ALLOWLIST: src/format/hex.c no longer includes verify/crypto.h' --allowlist "$tmp/allow"

mktree
: > "$tmp/t/CMakeLists.txt"
expect_fail "no verifier header list" 'no TFA_VERIFIER_HEADERS' --allowlist "$empty"

[ $fail -eq 0 ] && echo "check-layers self-test: all cases behave"
exit $fail
