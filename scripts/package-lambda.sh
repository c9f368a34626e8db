#!/usr/bin/env bash
# Builds the deployment zip of `tfattest lambda` for a provided.al2023 function
# (docs/LAMBDA.md):
#
#   bash scripts/package-lambda.sh [--binary PATH] [--policy FILE] OUT.zip
#
#   --binary PATH  a tfattest binary already built (default: a Release build of
#                  this tree in build-lambda/, made here)
#   --policy FILE  put FILE in the package as policy.json (then set
#                  TFATTEST_POLICY=policy.json; without it, pass the policy's JSON
#                  in TFATTEST_POLICY)
#
# The zip holds:
#   bootstrap      what Lambda runs: sets LD_LIBRARY_PATH to lib/ and AWS_CA_BUNDLE
#                  to the runtime's CA bundle, then execs `bin/tfattest lambda`
#   bin/tfattest   the binary
#   lib/           every shared library it loads, found with ldd, except glibc's own
#                  (libc, libm, libdl, libpthread, librt, libresolv, the loader):
#                  Amazon Linux 2023 has glibc 2.34, and the script fails if the
#                  binary or a bundled library needs a newer glibc symbol version.
#   policy.json    with --policy
#
# Why bundle rather than link statically: Debian ships no static libcurl with its
# dependencies (GnuTLS, Kerberos, LDAP, nghttp2...), and a static glibc breaks
# name resolution (NSS). Bundling every library but glibc keeps the binary the
# one the tests ran, and glibc is the one library AL2023 is sure to have.
# The zip is reproducible: sorted entries, fixed times, no extra attributes.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
binary=""
policy=""
out=""
while [ $# -gt 0 ]; do
	case $1 in
	--binary) binary=${2:?--binary needs a path}; shift 2 ;;
	--policy) policy=${2:?--policy needs a file}; shift 2 ;;
	-h | --help) sed -n '2,30p' "$0"; exit 0 ;;
	-*) echo "package-lambda.sh: unknown option $1" >&2; exit 2 ;;
	*) [ -z "$out" ] || { echo "package-lambda.sh: one OUT.zip only" >&2; exit 2; }; out=$1; shift ;;
	esac
done
case $out in
*.zip) ;;
*) echo "usage: package-lambda.sh [--binary PATH] [--policy FILE] OUT.zip" >&2; exit 2 ;;
esac
for t in zip ldd objdump; do
	command -v "$t" > /dev/null || { echo "package-lambda.sh: $t is needed (scripts/deps.sh)" >&2; exit 2; }
done
if [ -n "$policy" ]; then
	[ -r "$policy" ] || { echo "package-lambda.sh: cannot read the policy $policy" >&2; exit 2; }
	/usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$policy" ||
		{ echo "package-lambda.sh: $policy is not JSON" >&2; exit 2; }
fi
if [ -z "$binary" ]; then
	cmake -S "$here" -B "$here/build-lambda" -DCMAKE_BUILD_TYPE=Release -DTFATTEST_BUILD_TESTS=OFF \
		-DTFATTEST_BUILD_BENCH=OFF > /dev/null
	cmake --build "$here/build-lambda" -j2 --target tfattest_cli > /dev/null
	binary=$here/build-lambda/tfattest
fi
[ -x "$binary" ] || { echo "package-lambda.sh: $binary is not an executable" >&2; exit 2; }
usage=$("$binary" 2>&1 || true)
case $usage in
*"  lambda "*) ;;
*) echo "package-lambda.sh: $binary has no lambda command" >&2; exit 2 ;;
esac

stage=$(mktemp -d "${TMPDIR:-/tmp}/tfa-pkg.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib"
cp "$binary" "$stage/bin/tfattest"
if command -v strip > /dev/null; then strip --strip-unneeded "$stage/bin/tfattest"; fi

# glibc's own libraries: the runtime's copies are used.
is_glibc() {
	case $(basename "$1") in
	libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | librt.so.* | libresolv.so.* | \
		libutil.so.* | libnsl.so.* | ld-linux*.so.* | ld64.so.* | linux-vdso.so.*) return 0 ;;
	esac
	return 1
}
missing=$(ldd "$binary" | awk '/not found/ {print $1}')
[ -z "$missing" ] || { echo "package-lambda.sh: libraries not found: $missing" >&2; exit 2; }
ldd "$binary" | awk '/=> \// {print $3}' | sort -u > "$stage/libs"
while read -r lib; do
	is_glibc "$lib" && continue
	cp -L "$lib" "$stage/lib/$(basename "$lib")"
done < "$stage/libs"
rm "$stage/libs"

# AL2023 has glibc 2.34: nothing may need a newer symbol version.
newest() { objdump -T "$1" 2> /dev/null | grep -o 'GLIBC_2\.[0-9]*' | sort -t. -k2 -n -u | tail -1; }
for f in "$stage/bin/tfattest" "$stage"/lib/*; do
	v=$(newest "$f")
	minor=${v#GLIBC_2.}
	if [ -n "$v" ] && [ "$minor" -gt 34 ]; then
		echo "package-lambda.sh: $(basename "$f") needs $v; Amazon Linux 2023 has glibc 2.34" >&2
		exit 1
	fi
done

cat > "$stage/bootstrap" << 'EOF'
#!/bin/sh
# tfattest lambda on provided.al2023 (docs/LAMBDA.md): the libraries in lib/, the
# runtime's CA bundle for the AWS endpoints, then the service loop.
set -eu
root=${LAMBDA_TASK_ROOT:-$(cd "$(dirname "$0")" && pwd)}
if [ -z "${AWS_CA_BUNDLE:-}" ]; then
	for f in /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/certs/ca-certificates.crt; do
		if [ -r "$f" ]; then
			AWS_CA_BUNDLE=$f
			export AWS_CA_BUNDLE
			break
		fi
	done
fi
LD_LIBRARY_PATH=$root/lib
export LD_LIBRARY_PATH
exec "$root/bin/tfattest" lambda
EOF
chmod 0755 "$stage/bootstrap" "$stage/bin/tfattest"
chmod 0644 "$stage"/lib/*
[ -z "$policy" ] || install -m 0644 "$policy" "$stage/policy.json"

find "$stage" -exec touch -h -d '1980-01-01 00:00:00 UTC' {} +
outabs=$(realpath -m "$out")
rm -f "$outabs"
(cd "$stage" && find . -type f -printf '%P\n' | LC_ALL=C sort | TZ=UTC zip -q -X -D "$outabs" -@)
echo "$out: $(unzip -Z1 "$outabs" | wc -l) files, $(stat -c %s "$outabs") bytes, sha256 $(sha256sum "$outabs" | cut -c1-64)"
