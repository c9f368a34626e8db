#!/usr/bin/env bash
# ctest entry of the conformance vectors: the committed vectors are what the
# generator makes, their index covers every reject rule of FORMAT.md §10,
# the generator's canonical JSON is tfattest's, and
# `tfattest verify` gives every vector the verdict and layer of index.json.
# Environment: TFA_CLI (the tfattest binary). Argument: --no-archives when
# the build reads bundle directories only (archive vectors are then left out).
# Exit 77 (skip) only when /usr/bin/python3 or its cryptography module is
# missing (scripts/deps.sh installs both).
set -u
here=$(cd "$(dirname "$0")" && pwd)
cli=${TFA_CLI:?TFA_CLI must name the tfattest binary}
py=/usr/bin/python3
forms=()
[ "${1:-}" = "--no-archives" ] && forms=(--form dir)

if [ ! -x "$py" ] || ! "$py" -c 'import cryptography' 2> /dev/null; then
	echo "SKIP: $py with python3-cryptography is needed (scripts/deps.sh installs it)"
	exit 77
fi
rc=0

"$py" "$here/generate.py" --check || rc=1
# Every reject rule of FORMAT.md §10 has an invalid vector (or a reasoned exemption).
"$py" "$here/coverage.py" || rc=1

# The generator's RFC 8785 serializer agrees with tfattest canon.
for in in "$here"/kat/canon-*.in.json; do
	want=${in%.in.json}.out.json
	if ! "$cli" canon < "$in" | cmp -s - "$want"; then
		echo "FAIL: tfattest canon of kat/$(basename "$in") differs from kat/$(basename "$want")"
		rc=1
	fi
done
# The fingerprints of the known-answer file, by openssl.
while read -r label fpr; do
	got=$("$py" -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))[sys.argv[2]]["pem"])' \
		"$here/kat/fingerprints.json" "$label" | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)
	[ "sha256:$got" = "$fpr" ] || { echo "FAIL: kat/fingerprints.json: $label"; rc=1; }
done < <("$py" -c 'import json,sys
for k, v in sorted(json.load(open(sys.argv[1])).items()): print(k, v["fingerprint"])' "$here/kat/fingerprints.json")
# Every committed document of a valid vector is canonical by tfattest's reading too.
n=0
while IFS= read -r f; do
	n=$((n + 1))
	if ! "$cli" canon < "$f" | cmp -s - "$f"; then
		echo "FAIL: $f is not canonical by tfattest canon"
		rc=1
	fi
done < <(find "$here"/v/valid-rotation/bundle "$here"/v/valid-pss/bundle -name '*.json' | sort)
[ "$n" -gt 10 ] || { echo "FAIL: only $n documents found for the canonical-form check"; rc=1; }

"$here/run.sh" --tfattest "$cli" "${forms[@]}" || rc=1
exit $rc
