#!/usr/bin/env bash
# Installs the Debian packages that scripts/package.sh made, as a user would
# (`apt-get install ./PKG.deb`), uses them from their installed paths, and
# removes them cleanly:
#   - tfattest-verify depends on libc, libssl and libcjson alone, holds only its
#     command (and its documentation), and verifies examples/demo;
#   - tfattest runs `verify` on examples/demo; the installed tfattest and
#     tfattest-verify, a bundle that tfattest exports and the packages all say
#     the project's version (version_agree.sh);
#   - libtfattest-dev: a program built with `pkg-config tfattest` alone links
#     and verifies examples/demo;
#   - after `apt-get purge`, none of their files is left.
# Needs root (or sudo) and a system without these packages; refuses otherwise.
#
#   tests/install/packages.sh DIST
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
[ $# -eq 1 ] || { echo "usage: $0 DIST" >&2; exit 2; }
dist=$(cd "$1" && pwd)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo > /dev/null || { echo "packages.sh: needs root or sudo" >&2; exit 77; }
	SUDO=sudo
fi
pkgs=(tfattest tfattest-verify libtfattest-dev)
for p in "${pkgs[@]}"; do
	if dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "install ok installed"; then
		echo "packages.sh: $p is already installed here; not touching it" >&2
		exit 2
	fi
done
version=$(sed -n 's/^project(tfattest VERSION \([0-9.]*\) .*/\1/p' "$src/CMakeLists.txt")
debs=()
for p in "${pkgs[@]}"; do
	f=$(ls "$dist/${p}_${version}_"*.deb 2> /dev/null | head -1)
	[ -n "$f" ] || { echo "FAIL: no ${p}_${version} package in $dist"; exit 1; }
	debs+=("$f")
done
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d)
cleanup() {
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${pkgs[@]}" > /dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# What the auditor's package needs: nothing but libc, libssl and libcjson.
deps=$(dpkg-deb -f "$dist/tfattest-verify_${version}_"*.deb Depends)
echo "tfattest-verify depends on: $deps"
left=$(echo "$deps" | tr ',' '\n' | sed 's/(.*//; s/ //g' | grep -v -E '^(libc6|libssl3|libcjson1)$' || true)
[ -z "$left" ] || fail "tfattest-verify depends on more than libc, libssl and libcjson: $left"

# Local .deb files: apt resolves their dependencies from what is installed (or the archive).
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${debs[@]}" \
	> "$work/install.log" 2>&1 || { cat "$work/install.log"; fail "apt-get install"; }

# Each command package holds its command, its man page and its bash and zsh completion.
for p in tfattest tfattest-verify; do
	want="/usr/bin/$p
/usr/share/bash-completion/completions/$p
/usr/share/man/man1/$p.1
/usr/share/zsh/vendor-completions/_$p"
	files=$(dpkg -L "$p" | while read -r f; do [ -d "$f" ] || echo "$f"; done | grep -v '^/usr/share/doc/' | LC_ALL=C sort)
	[ "$files" = "$want" ] || fail "$p installs: $(echo "$files" | tr '\n' ' '), wanted: $(echo "$want" | tr '\n' ' ')"
done
echo "tfattest, tfattest-verify: the command, its man page, bash and zsh completion"
if command -v man > /dev/null; then
	MANWIDTH=100 man "$p" 2> /dev/null | grep -q -- '--expect-key-fingerprint' ||
		fail "man tfattest-verify does not show verify's options"
fi
[ "$(command -v tfattest-verify)" = /usr/bin/tfattest-verify ] || fail "tfattest-verify is not on PATH"
out=$(cd / && tfattest-verify verify "$src/examples/demo") || fail "tfattest-verify verify examples/demo: $out"
echo "tfattest-verify verify examples/demo: $(echo "$out" | tail -1)"
ldd /usr/bin/tfattest-verify | grep -q -E 'libcurl|libp11|libz\.' && fail "tfattest-verify links libcurl, libp11 or zlib"

# tfattest: the full command, and the version the package says.
out=$(cd / && /usr/bin/tfattest verify "$src/examples/demo") || fail "tfattest verify examples/demo: $out"
# The installed commands, a bundle the installed tfattest exports, and the packages: one version.
bash "$here/version_agree.sh" --tfattest /usr/bin/tfattest --verify /usr/bin/tfattest-verify --debs "$dist" ||
	fail "the installed commands, a bundle they write and the packages do not agree on $version"

# libtfattest-dev: a program built with pkg-config alone.
[ "$(pkg-config --modversion tfattest)" = "$version" ] || fail "pkg-config --modversion tfattest is not $version"
# shellcheck disable=SC2046 # pkg-config output is a list of flags
cc -std=c11 -o "$work/consumer" "$here/consumer.c" $(pkg-config --cflags --libs tfattest) \
	|| fail "building against the installed libtfattest-dev"
out=$("$work/consumer" "$src/examples/demo") || fail "a program linked with the installed library: $out"
[ "$out" = "OK verified" ] || fail "the installed library's verdict on examples/demo: $out"
echo "libtfattest-dev: a pkg-config build verifies examples/demo"

# Purge: nothing of the three is left.
listed=$(dpkg -L "${pkgs[@]}" | sort -u)
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${pkgs[@]}" > "$work/purge.log" 2>&1 \
	|| { cat "$work/purge.log"; fail "apt-get purge"; }
for f in $listed; do
	[ -d "$f" ] && continue
	[ -e "$f" ] && fail "$f is left after purge"
done
echo "purged: no file of ${pkgs[*]} is left"
echo "PASS: packages"
