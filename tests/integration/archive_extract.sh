#!/usr/bin/env bash
# The proof that a bundle archive verifies as it extracts. For every archive
# the tests make (valid exports with rotations, ranges and checkpoints;
# archives made by other tools; one hostile archive per attack class; every
# input of the archive fuzz corpus), whenever `tfattest verify` accepts it,
# or for inputs that are not whole bundles whenever the archive reader
# accepts it, GNU tar, bsdtar, unzip and Python's tarfile/zipfile each
# extract exactly the same set of files, byte-identical to what the reader
# accepted. Every hostile archive is refused with exit 1 and an [ERROR] line
# giving its own reason. Exit 77 only when an extractor is missing.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2

X=${TFA_ARCHIVE_EXTRACT:?TFA_ARCHIVE_EXTRACT must name the archive_extract tool}
CORPUS=${TFA_ARCHIVE_CORPUS:-$TFA_SOURCE_DIR/tests/fuzz/corpus/archive}
HOSTILE=$TFA_SOURCE_DIR/tests/tools/archive_hostile.py
PY=/usr/bin/python3
for tool in tar bsdtar unzip zip "$PY"; do
	command -v "$tool" > /dev/null || { echo "SKIP: $tool is not installed (scripts/deps.sh installs it)"; exit 77; }
done
tar --version | grep -q 'GNU tar' || { echo "SKIP: tar is not GNU tar"; exit 77; }

# --- The bundles: EC anchor, rotated to RSA and back to EC, checkpoints, ranges.
new_ec_key a.pem
new_rsa_key b.pem 2048
new_ec_key c.pem
ANCHOR=$("$T" pubkey --key file:a.pem | tail -1)
rec() { "$T" record --store s --key "file:$1" --plan "$PLANS/show-basic-create.json" > /dev/null || fail "record"; }
"$T" init --store s --chain prod --key file:a.pem > /dev/null
rec a.pem; rec a.pem; rec a.pem
"$T" export --store s --key file:a.pem --out plain > /dev/null || fail "export plain"
"$T" export --store s --key file:a.pem --archive v-plain.tar.gz > /dev/null || fail "export v-plain.tar.gz"
"$T" export --store s --key file:a.pem --archive v-plain.zip > /dev/null || fail "export v-plain.zip"
"$T" rotate --store s --key file:a.pem --new-key file:b.pem > /dev/null || fail "rotate a -> b"
rec b.pem; rec b.pem
"$T" checkpoint --store s --key file:b.pem > /dev/null || fail "checkpoint"
"$T" rotate --store s --key file:b.pem --new-key file:c.pem > /dev/null || fail "rotate b -> c"
rec c.pem
for ext in tar.gz zip; do
	"$T" export --store s --key file:c.pem --archive "v-all.$ext" > /dev/null || fail "export v-all.$ext"
	"$T" export --store s --key file:c.pem --from 5 --archive "v-range.$ext" > /dev/null || fail "export v-range.$ext"
	"$T" export --store s --key file:c.pem --from 2 --to 6 --archive "v-mid.$ext" > /dev/null || fail "export v-mid.$ext"
done
"$T" export --store s --key file:c.pem --out all > /dev/null || fail "export all"

# The same bundle written by other tools, in the accepted subset.
files=$(cd all && { echo manifest.json; echo manifest.sig; find . -type f ! -name manifest.json ! -name manifest.sig | sed 's|^\./||' | LC_ALL=C sort; })
(cd all && tar --format=ustar --owner=0 --group=0 -czf ../v-gnutar.tar.gz $files) || fail "GNU tar -czf"
(cd all && bsdtar --format=ustar -czf ../v-bsdtar.tar.gz $files) || fail "bsdtar -czf"
# Info-ZIP's zip marks text files in the internal attributes: refused, but compared all the same.
(cd all && zip -q -X -D ../infozip.zip $files) || fail "zip -X -D"
"$PY" - all v-python.tar.gz v-python.zip <<'PY' || fail "python archives"
import io, os, sys, tarfile, zipfile
src, tgz, zp = sys.argv[1:]
names = ["manifest.json", "manifest.sig"] + sorted(
    os.path.relpath(os.path.join(r, f), src) for r, _, fs in os.walk(src) for f in fs
    if os.path.relpath(os.path.join(r, f), src) not in ("manifest.json", "manifest.sig"))
with tarfile.open(tgz, "w:gz", format=tarfile.USTAR_FORMAT) as t:
    for n in names:
        data = open(os.path.join(src, n), "rb").read()
        ti = tarfile.TarInfo(n)
        ti.size, ti.mode, ti.mtime = len(data), 0o444, 1700000000
        t.addfile(ti, io.BytesIO(data))
with zipfile.ZipFile(zp, "w", zipfile.ZIP_DEFLATED) as z:
    for n in names:
        z.write(os.path.join(src, n), n)
PY

# --- The attacks as first found: the old reader accepted both, and the
# extractors auditors are told to use write a forged artifact from them.
mkdir hostile
"$PY" "$HOSTILE" plain hostile || fail "archive_hostile.py"
TESTS_RUN=$((TESTS_RUN + 1))
mkdir demo-tar demo-zip
tar --no-same-owner --no-same-permissions -xzf hostile/demo_pax_global.tar.gz -C demo-tar 2> /dev/null
unzip -q hostile/demo_zip_names.zip -d demo-zip > /dev/null 2>&1
if ! cmp -s demo-tar/artifacts/000000000002.json plain/artifacts/000000000002.json &&
	grep -q '"forged":true' demo-tar/artifacts/000000000002.json &&
	cmp -s demo-zip/artifacts/000000000002.json plain/artifacts/000000000003.json; then
	pass "the demonstration archives extract forged artifacts with GNU tar and unzip"
else
	fail "the demonstration archives do not forge what they should"
fi
for f in demo_pax_global.tar.gz demo_zip_names.zip; do
	expect_exit 1 "verify refuses $f" "$T" verify "hostile/$f" --expect-key-fingerprint "$ANCHOR"
done

# --- Every hostile archive: exit 1, its own reason in the [ERROR] line.
nhostile=0
while IFS=$'\t' read -r case file want; do
	nhostile=$((nhostile + 1))
	TESTS_RUN=$((TESTS_RUN + 1))
	"$T" verify "hostile/$file" --expect-key-fingerprint "$ANCHOR" > h.out 2>&1
	rc=$?
	line=$(grep -m1 '^\[ERROR\]' h.out)
	if [ "$rc" -eq 1 ] && [[ "$line" == *"$want"* ]] && [ "$(grep -c '^\[ERROR\]' h.out)" -eq 1 ]; then
		pass "$case ($file): $line"
	else
		fail "$case ($file): exit $rc, [ERROR] line '$line', wanted exit 1 and '$want'"
	fi
done < hostile/index.tsv
[ "$nhostile" -ge 80 ] || fail "only $nhostile hostile archives were made"

# --- The comparison, for every archive.
# extract KIND TOOL ARCHIVE DIR: exit status of the extractor.
extract() {
	local kind=$1 tool=$2 a=$3 d=$4
	mkdir "$d"
	case $kind.$tool in
	tgz.gnutar) tar --no-same-owner --no-same-permissions -xzf "$a" -C "$d" ;;
	*.bsdtar) bsdtar -xf "$a" -C "$d" ;;
	zip.unzip) unzip -q -n "$a" -d "$d" ;;
	tgz.python) "$PY" -c 'import sys, tarfile
t = tarfile.open(sys.argv[1], "r:gz")
kw = {"filter": "fully_trusted"} if hasattr(tarfile, "data_filter") else {}
t.extractall(sys.argv[2], **kw)' "$a" "$d" ;;
	zip.python) "$PY" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$a" "$d" ;;
	esac
}

# same REF DIR: the same regular files with the same bytes, and nothing else
# (no link, device, FIFO or empty directory).
same() {
	local ref=$1 d=$2
	[ -z "$(find "$d" ! -type f ! -type d)" ] || return 1
	[ -z "$(find "$d" -mindepth 1 -type d -empty)" ] || return 1
	[ "$(cd "$ref" && find . -type f | LC_ALL=C sort)" = "$(cd "$d" && find . -type f | LC_ALL=C sort)" ] || return 1
	diff -r "$ref" "$d" > /dev/null
}

tried=0 vacc=0 racc=0 rej=0 n_gnutar=0 n_bsdtar=0 n_unzip=0 n_python=0 nvalid=0
compare_one() { # ARCHIVE EXPECT(valid|hostile|any)
	local a=$1 expect=$2 kind ref=cmp/ref tool rc
	tried=$((tried + 1))
	rm -rf cmp && mkdir -p cmp/ref
	if "$X" "$a" cmp/ref > cmp/x.out 2>&1; then
		racc=$((racc + 1))
	else
		rej=$((rej + 1))
		[ "$expect" != valid ] || fail "$a: the reader refuses a valid archive: $(cat cmp/x.out)"
		return
	fi
	[ "$expect" != hostile ] || fail "$a: the reader accepts a hostile archive"
	if "$T" verify "$a" > /dev/null 2>&1; then
		vacc=$((vacc + 1))
	else
		[ "$expect" != valid ] || fail "$a: verify refuses a valid archive"
	fi
	case $(od -An -tx1 -N2 "$a" | tr -d ' ') in
	1f8b) kind=tgz; set -- gnutar bsdtar python ;;
	*) kind=zip; set -- unzip bsdtar python ;;
	esac
	for tool in "$@"; do
		TESTS_RUN=$((TESTS_RUN + 1))
		extract "$kind" "$tool" "$a" "cmp/$tool" > cmp/$tool.out 2>&1
		rc=$?
		if [ "$rc" -eq 0 ] && same "$ref" "cmp/$tool"; then
			eval "n_$tool=\$((n_$tool + 1))"
		else
			fail "$a: $tool (exit $rc) extracts other files than the reader accepted"
			sed 's/^/    /' "cmp/$tool.out" >&2
			diff -r "$ref" "cmp/$tool" >&2
		fi
	done
}

for a in v-*.tar.gz v-*.zip; do
	nvalid=$((nvalid + 1))
	expect_exit 0 "verify $a, pinned to the anchor" "$T" verify "$a" --expect-key-fingerprint "$ANCHOR"
	compare_one "$a" valid
done
[ "$nvalid" -eq 12 ] || fail "$nvalid valid archives, wanted 12"
compare_one infozip.zip any
for a in hostile/*.tar.gz hostile/*.zip; do
	compare_one "$a" hostile
done
ncorpus=0
for a in "$CORPUS"/*; do
	ncorpus=$((ncorpus + 1))
	compare_one "$a" any
done
[ "$ncorpus" -gt 0 ] || fail "no corpus inputs in $CORPUS"

echo "archives tried: $tried ($nvalid valid, $nhostile hostile, $ncorpus corpus)"
echo "accepted by verify: $vacc; accepted by the reader: $racc; rejected: $rej"
echo "compared identical: GNU tar $n_gnutar, bsdtar $n_bsdtar, unzip $n_unzip, Python $n_python"
finish
