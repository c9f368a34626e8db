#!/usr/bin/env bash
# One version everywhere: the project version in CMakeLists.txt must be what
#   - `tfattest --version` prints ("tfattest V"),
#   - `tfattest-verify --version` prints ("tfattest-verify V"), when given,
#   - a bundle freshly exported by that tfattest records as its writer
#     (manifest.json `writer`, docs/FORMAT.md §5.2), read here with python3's
#     json module, and what `verify --json` of each command reports of it,
#   - every Debian package in DIST says (`dpkg-deb -f PKG Version`), when
#     given: tfattest, tfattest-verify and libtfattest-dev, each once; and
#     the command each of the first two carries, unpacked, prints with
#     --version.
# Each source that differs is named; the exit status is 1 if any does.
#
#   tests/install/version_agree.sh --tfattest BIN [--verify BIN] [--debs DIST]
#
# --tfattest may be omitted when --verify is given: a verifier-only build has
# no export, so only its --version is compared.
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
usage() { echo "usage: $0 [--tfattest BIN] [--verify BIN] [--debs DIST]" >&2; exit 2; }
full="" verifier="" dist=""
while [ $# -gt 0 ]; do
	case "$1" in
	--tfattest) [ $# -ge 2 ] || usage; full=$2; shift 2 ;;
	--verify) [ $# -ge 2 ] || usage; verifier=$2; shift 2 ;;
	--debs) [ $# -ge 2 ] || usage; dist=$2; shift 2 ;;
	*) usage ;;
	esac
done
[ -n "$full$verifier" ] || usage
# The commands run from another directory below: make them absolute.
[ -z "$full" ] || full=$(realpath "$full") || exit 2
[ -z "$verifier" ] || verifier=$(realpath "$verifier") || exit 2
py=python3
command -v "$py" > /dev/null || { echo "SKIP: python3 is needed to read the manifest"; exit 77; }

rc=0
bad() { echo "FAIL: $*"; rc=1; }
# seen SOURCE VALUE: one line of the table, and a mismatch against the project version.
seen() {
	printf '  %-56s %s\n' "$1" "$2"
	[ "$2" = "$want" ] || bad "$1 is '$2', CMakeLists.txt's project VERSION is '$want'"
}

want=$(sed -n 's/^project(tfattest VERSION \([^ )]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$want" ] || { echo "FAIL: no project(tfattest VERSION ...) in $src/CMakeLists.txt"; exit 1; }
echo "version sources (want $want, the project VERSION of CMakeLists.txt):"

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2> /dev/null; rm -rf "$work"' EXIT

# The writer a bundle's manifest records: "name version", or "(none)".
manifest_writer() {
	"$py" - "$1/manifest.json" << 'EOF'
import json, sys
w = json.load(open(sys.argv[1], encoding="utf-8")).get("writer")
print("(none)" if w is None else "%s %s" % (w.get("name"), w.get("version")))
EOF
}
# The writer `verify --json` reports: "name version", or "(none)".
json_writer() {
	"$py" -c 'import json, sys
d = json.load(sys.stdin)
w = d.get("writer")
print("(none)" if w is None else "%s %s" % (w.get("name"), w.get("version")))'
}

if [ -n "$full" ]; then
	out=$("$full" --version) || bad "$full --version failed"
	case "$out" in "tfattest "*) ;; *) bad "$full --version does not name tfattest: '$out'" ;; esac
	seen "tfattest --version" "${out#tfattest }"
	# A fresh bundle, exported by this tfattest with a throwaway key.
	(
		cd "$work" &&
			openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out k.pem 2> /dev/null &&
			"$full" init --store s --chain agree --key file:k.pem > /dev/null &&
			"$full" record --store s --key file:k.pem \
				--plan "$src/tests/fixtures/terraform/plans/show-basic-create.json" > /dev/null &&
			"$full" export --store s --key file:k.pem --out b > /dev/null
	) || { echo "FAIL: could not export a bundle with $full"; exit 1; }
	w=$(manifest_writer "$work/b")
	[ "${w%% *}" = tfattest ] || bad "the exported manifest's writer.name is '${w%% *}', not tfattest"
	seen "exported bundle: manifest.json writer.version" "${w#* }"
	w=$("$full" verify "$work/b" --json | json_writer)
	seen "tfattest verify --json: writer.version" "${w#* }"
fi

if [ -n "$verifier" ]; then
	out=$("$verifier" --version) || bad "$verifier --version failed"
	case "$out" in "tfattest-verify "*) ;; *) bad "$verifier --version does not name tfattest-verify: '$out'" ;; esac
	seen "tfattest-verify --version" "${out#tfattest-verify }"
	if [ -n "$full" ]; then
		w=$("$verifier" verify "$work/b" --json | json_writer)
		seen "tfattest-verify verify --json: writer.version" "${w#* }"
	fi
fi

if [ -n "$dist" ]; then
	command -v dpkg-deb > /dev/null || { echo "FAIL: dpkg-deb is needed to read $dist"; exit 1; }
	for p in tfattest tfattest-verify libtfattest-dev; do
		debs=("$dist/${p}_"*.deb)
		if [ ! -e "${debs[0]}" ]; then
			bad "no $p package in $dist"
			continue
		fi
		[ "${#debs[@]}" -eq 1 ] || bad "$dist holds ${#debs[@]} $p packages: ${debs[*]}"
		for d in "${debs[@]}"; do
			[ "$(dpkg-deb -f "$d" Package)" = "$p" ] || bad "$(basename "$d") is not package $p"
			seen "$(basename "$d"): Version" "$(dpkg-deb -f "$d" Version)"
			# The command the package carries, unpacked and run.
			[ "$p" = libtfattest-dev ] && continue
			mkdir -p "$work/x-$p" && dpkg-deb -x "$d" "$work/x-$p" || bad "cannot unpack $d"
			out=$("$work/x-$p/usr/bin/$p" --version) || bad "$p's /usr/bin/$p --version failed"
			seen "$(basename "$d"): usr/bin/$p --version" "${out#"$p" }"
			[ "${out%% *}" = "$p" ] || bad "$p's /usr/bin/$p --version does not name $p: '$out'"
		done
	done
fi

[ $rc -eq 0 ] && echo "PASS: every source says $want"
exit $rc
