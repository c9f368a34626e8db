#!/usr/bin/env bash
# Installs a build, then builds programs against the installed library through
# pkg-config alone (no -D flag, no source tree) and runs them on the example
# bundle:
#   - against the shared library, when the build has one: the program must
#     need libtfattest.so.N by its SONAME, and every function the installed
#     headers declare must be exported by it;
#   - against the static library, with pkg-config --static.
#
#   tests/install/install_consumer.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
cc=${CC:-cc}
inst=$(mktemp -d)
trap 'rm -rf "$inst"' EXIT

cmake --install "$build" --prefix "$inst" > /dev/null
pc=$(find "$inst" -name tfattest.pc)
[ -n "$pc" ] || { echo "FAIL: no tfattest.pc installed"; exit 1; }
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir tfattest)
demo=$src/examples/demo

# run NAME PROGRAM: the program verifies the example bundle.
run() {
	local out
	out=$("$2" "$demo") || { echo "FAIL: $1: exit $? ($out)"; exit 1; }
	case $out in
	"OK verified") echo "ok: $1: $out" ;;
	*) echo "FAIL: $1: $out"; exit 1 ;;
	esac
}

if [ -e "$libdir/libtfattest.so" ]; then
	# shellcheck disable=SC2046 # pkg-config output is a list of flags
	"$cc" -std=c11 -Wall -Wextra -Werror -o "$inst/consumer_shared" "$here/consumer.c" \
		$(pkg-config --cflags --libs tfattest)
	soname=$(readelf -d "$libdir/libtfattest.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
	case $soname in
	libtfattest.so.[0-9]*) ;;
	*) echo "FAIL: libtfattest.so has no versioned SONAME ($soname)"; exit 1 ;;
	esac
	if ! readelf -d "$inst/consumer_shared" | grep -q "NEEDED.*\[$soname\]"; then
		echo "FAIL: the program does not link the shared library ($soname)"; exit 1
	fi
	LD_LIBRARY_PATH=$libdir run "shared ($soname)" "$inst/consumer_shared"

	# Every function the installed headers declare is in the library.
	hdrs=$(cd "$inst/include" && find tfattest -name '*.h' | LC_ALL=C sort)
	# shellcheck disable=SC2046
	for h in $hdrs; do echo "#include <$h>"; done |
		"$cc" -std=c11 -E -P $(pkg-config --cflags tfattest) - |
		grep -oE '\btfa_[a-z0-9_]+\(' | tr -d '(' | LC_ALL=C sort -u > "$inst/declared"
	nm -D --defined-only "$libdir/libtfattest.so" | awk '{ sub(/@.*/, "", $3); print $3 }' |
		LC_ALL=C sort -u > "$inst/exported"
	missing=$(LC_ALL=C comm -23 "$inst/declared" "$inst/exported")
	if [ -n "$missing" ]; then
		echo "FAIL: the installed headers declare functions the library does not have:"
		printf "%s\n" "$missing" | sed "s/^/  /"
		exit 1
	fi
	echo "ok: the $(wc -l < "$inst/declared") functions the installed headers declare are all exported"
	# What pkg-config --static would give, but with the dependencies' shared
	# libraries (their own static dependencies need not be installed here).
	static_libs="$(pkg-config --libs tfattest | sed 's/-ltfattest/-Wl,-Bstatic -ltfattest -Wl,-Bdynamic/')"
	# shellcheck disable=SC2046
	static_libs="$static_libs $(pkg-config --libs $(pkg-config --print-requires-private tfattest))"
	static_libs="$static_libs $(sed -n 's/^Libs.private: *//p' "$pc")"
else
	static_libs=$(pkg-config --libs tfattest)
fi

# shellcheck disable=SC2046,SC2086
"$cc" -std=c11 -Wall -Wextra -Werror -o "$inst/consumer_static" "$here/consumer.c" \
	$(pkg-config --cflags tfattest) $static_libs
if readelf -d "$inst/consumer_static" | grep -q 'NEEDED.*libtfattest'; then
	echo "FAIL: the static program needs the shared library"; exit 1
fi
run "static" "$inst/consumer_static"
