#!/bin/sh
# Builds and runs bench/pkcs11_bench.c on a fresh SoftHSM2 token, printing
# every command it runs.
#
#   bench/pkcs11_bench.sh [BUILD_DIR] [N] [RECORDS]
#
# BUILD_DIR (default build-p11) must hold a configured build; the library
# and the CLI are built there first. N signatures per RSA algorithm (4N for
# ECDSA), RECORDS `tfattest record` processes.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build-p11}" && pwd)
n=${2:-500}
records=${3:-50}
work=$(mktemp -d "${TMPDIR:-/tmp}/tfa-p11-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

run() {
	echo "+ $*" >&2
	"$@"
}

run cmake --build "$build" --target tfattest tfattest_cli -j2 > /dev/null
cc=${CC:-cc}
run $cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Werror \
	-I"$src/include" $(pkg-config --cflags p11-kit-1) \
	"$src/bench/pkcs11_bench.c" -o "$work/pkcs11_bench" \
	"$build/libtfattest.a" $(pkg-config --libs libp11 libcrypto libcjson) -ldl -lpthread
echo "+ sh $src/softhsm/init-token.sh $work/tok" >&2
eval "$(sh "$src/softhsm/init-token.sh" "$work/tok")"
export SOFTHSM2_CONF
echo "+ SOFTHSM2_CONF=$SOFTHSM2_CONF" >&2
uname -srm
grep -m1 'model name' /proc/cpuinfo 2> /dev/null || true
echo "SoftHSM2 $(softhsm2-util --version), $(pkg-config --modversion libp11 | sed 's/^/libp11 /'), $(openssl version)"
run "$work/pkcs11_bench" --rsa "$TFATTEST_RSA_URI" --ec "$TFATTEST_EC_URI" -n "$n" \
	--cli "$build/tfattest" --plan "$src/tests/fixtures/terraform/plans/show-basic-create.json" \
	--dir "$work" --records "$records"

# Records appended through the library with one open pkcs11: signer (the
# full pipeline: head, artifact, hash, sign on the token, durable append),
# on the real disk and on tmpfs, where fsync costs nothing.
if [ -x "$build/bench/bench_record" ]; then
	echo
	echo "records through the library, one open pkcs11: signer (RSA-3072 PSS on the token):"
	run "$build/bench/bench_record" "$work/store" "$TFATTEST_RSA_URI" \
		"$src/tests/fixtures/terraform/plans/show-basic-create.json" "$records" | sed -n '2,4p;14,17p'
	shm=/dev/shm/tfa-p11-bench-$$
	run "$build/bench/bench_record" "$shm" "$TFATTEST_RSA_URI" \
		"$src/tests/fixtures/terraform/plans/show-basic-create.json" "$records" | sed -n '2,4p;14,15p'
	chmod -R u+w "$shm" && rm -rf "$shm"
fi
