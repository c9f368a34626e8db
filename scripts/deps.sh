#!/usr/bin/env bash
# Installs what tfattest needs to build, test and run its demo on Debian 12.
# Idempotent: packages already present are not fetched again.
#
#   scripts/deps.sh          everything the build, the tests and the demo need
#   scripts/deps.sh --demo   the same Debian packages, without what only the tests
#                            need: no Node.js, no `npm ci` (the test emulators), no
#                            extra locale (scripts/demo.sh runs this)
set -euo pipefail

demo=0
case ${1:-} in
'') ;;
--demo) demo=1 ;;
*)
	echo "usage: $0 [--demo]" >&2
	exit 2
	;;
esac

PKGS=(
	build-essential cmake pkg-config          # toolchain
	libssl-dev libcjson-dev                   # the verifier: OpenSSL 3 and cJSON
	libp11-dev libp11-kit-dev softhsm2 opensc # pkcs11: signer, pkcs11.h, test token, pkcs11-tool
	swtpm swtpm-tools tpm2-tools tpm2-abrmd dbus  # a second PKCS#11 token, TPM-backed
	libtpm2-pkcs11-1 libtpm2-pkcs11-tools python3-tpm2-pkcs11-tools
	libtss2-tcti-swtpm0 libtss2-tcti-tabrmd0
	libcurl4-openssl-dev zlib1g-dev           # network backends, archives (zlib)
	libmicrohttpd-dev                         # tfattest serve: the HTTP(S) server (GnuTLS inside)
	tar libarchive-tools unzip zip            # the extractors (and zip) the archive test compares with; the Lambda zip
	clang libclang-rt-14-dev                  # libFuzzer builds
	clang-format                              # the format check (scripts/check-format.sh)
	valgrind strace time hyperfine            # leak checks, crash injection, benchmarks
	man-db                                    # the man page check
	python3 python3-cryptography python3-botocore
	curl openssl                              # the KMS test double's self-test
	git ca-certificates
	chromium python3-yaml                     # HTML report test (headless), CI example YAML check
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "$demo" = 0 ] && { ! command -v node > /dev/null || ! command -v npm > /dev/null; }; then
	missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	echo "installing: ${missing[*]}"
	$SUDO apt-get update -q
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
[ "$demo" = 0 ] || exit 0

# A locale with a decimal comma, for the JCS test that number formatting ignores
# LC_NUMERIC (tests/unit/test_jcs.c fails under CI=true without one).
if ! locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8'; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	if ! dpkg-query -W -f='${Status}' locales 2>/dev/null | grep -q "install ok installed"; then
		$SUDO apt-get update -q
		$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends locales
	fi
	echo "generating the de_DE.UTF-8 locale"
	$SUDO localedef -i de_DE -c -f UTF-8 de_DE.UTF-8
fi

# Test emulators and reference implementations, pinned in package-lock.json.
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$root/package-lock.json" ] && [ ! -f "$root/node_modules/.package-lock.json" ]; then
	(cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
fi
