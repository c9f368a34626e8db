#!/usr/bin/env bash
# The serve benchmark, shortened (8 clients x 5 records, file key and SoftHSM2
# key): every request answered 200, seqs contiguous with no repeat, the chain
# verifies (no fork). Speed is printed, not checked: bench/serve_bench.sh is the
# measurement.
. "$(dirname "$0")/../lib/common.sh"
SRC=$(realpath "${TFA_SOURCE_DIR:?TFA_SOURCE_DIR must name the source tree}")
build=$(dirname "$T")
[ -x "$build/bench/bench_record" ] || { echo "SKIP: bench/bench_record not built"; exit 77; }
command -v curl > /dev/null && command -v openssl > /dev/null || { echo "SKIP: curl or openssl missing"; exit 77; }
expect_exit 0 "serve_bench.sh 8 clients x 5 records" bash "$SRC/bench/serve_bench.sh" "$build" 8 5
cat "$W/last.out"
expect_output "file[^=]*" "ran with the file key"
expect_output "seqs 1\\.\\.40, contiguous, each once" "seqs contiguous"
expect_output "the exported chain verifies" "no fork"
finish
