#!/usr/bin/env bash
# A build without archive support (the verifier-only build) refuses a bundle
# archive with exit 2 and says it reads bundle directories only.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2
src=${TFA_SOURCE_DIR:?TFA_SOURCE_DIR must name the source tree}

cp "$src/tests/fuzz/corpus/archive/demo.tar.gz" demo.tar.gz
expect_exit 2 "archive refused" "$T" verify demo.tar.gz
expect_output 'demo\.tar\.gz is a file: this build reads bundle directories only' "archive refused: message"
[ "$(grep -c . "$W/last.err")" -eq 1 ] || fail "more than one error line"
TESTS_RUN=$((TESTS_RUN + 1))
expect_exit 0 "a directory still verifies" "$T" verify "$src/examples/demo"
finish
