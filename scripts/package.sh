#!/usr/bin/env bash
# Builds the Debian packages into DIST (default dist/):
#   tfattest          the command (full build)
#   libtfattest-dev   headers, static and shared library, tfattest.pc (full build)
#   tfattest-verify   the verifier-only build's command, /usr/bin/tfattest-verify
# Two Release builds are made (or reused): FULL_BUILD (default build-pkg/full)
# and VERIFY_BUILD (default build-pkg/verify). cmake/packaging.cmake says what
# goes where; dpkg-shlibdeps computes each package's library dependencies.
#
#   bash scripts/package.sh [DIST]
set -euo pipefail
cd "$(dirname "$0")/.."
dist=${1:-dist}
full=${FULL_BUILD:-build-pkg/full}
verify=${VERIFY_BUILD:-build-pkg/verify}
# Builds of its own need neither tests nor benchmarks; given ones keep their settings.
extra=()
[ -n "${FULL_BUILD:-}${VERIFY_BUILD:-}" ] || extra=(-DTFATTEST_BUILD_TESTS=OFF -DTFATTEST_BUILD_BENCH=OFF)
jobs=$(nproc 2> /dev/null || echo 2)
for tool in cmake cpack dpkg-deb dpkg-shlibdeps; do
	command -v "$tool" > /dev/null || { echo "package.sh: $tool is missing (run scripts/deps.sh)" >&2; exit 2; }
done

# The prefix is /usr at configure time, so that the library directory is
# Debian's multiarch one and tfattest.pc names the installed paths.
cmake -S . -B "$full" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
	-DTFATTEST_SHARED=ON "${extra[@]}" > /dev/null
cmake --build "$full" -j"$jobs" --target tfattest_cli tfattest tfattest_shared tfattest_manpage > /dev/null
cmake -S . -B "$verify" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
	-DTFATTEST_VERIFIER_ONLY=ON "${extra[@]}" > /dev/null
cmake --build "$verify" -j"$jobs" --target tfattest_cli tfattest_manpage > /dev/null

mkdir -p "$dist"
for b in "$full" "$verify"; do
	(cd "$b" && cpack -G DEB > cpack.log 2>&1) || { cat "$b/cpack.log" >&2; exit 1; }
	for d in "$b"/*.deb; do
		cp "$d" "$dist/"
		echo "$dist/$(basename "$d")"
	done
done
