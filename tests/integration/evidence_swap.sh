#!/usr/bin/env bash
# One read of the evidence: what report and verify show is what the verifier
# read and checked. A bundle (directory or archive) swapped, a file replaced,
# or a symlink planted between verification and display changes nothing shown.
# The swap is made by tests/lib/swapshim.c, preloaded into the real binary:
# it replaces a path just before the program opens it for the Nth time.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2
PY=/usr/bin/python3
TF=$(realpath "$(dirname "$0")/standin/terraform")
SHIM_SRC=$(realpath "$(dirname "$0")/../lib/swapshim.c")
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL
check() {
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}
${CC:-cc} -shared -fPIC -O1 -o "$W/swapshim.so" "$SHIM_SRC" -ldl || { echo "cannot build the shim" >&2; exit 2; }
# Preloaded beside a sanitizer runtime, which must otherwise come first.
shim() { env LD_PRELOAD="$W/swapshim.so" ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" "$@"; }
archives=1
"$T" verify --help | grep -q 'tar.gz/.zip bundle archive' || archives=0

# A chain of three deployments, then one appended from the spool (seq 4).
new_ec_key k.pem
"$T" init --store s --chain prod --key file:k.pem > /dev/null || exit 2
export TFATTEST_STORE=$W/s TFATTEST_KEY=file:$W/k.pem TFATTEST_SPOOL=$W/spool
mkdir work && echo show-basic-create.json > work/plan.bin
for i in 1 2 3; do
	(cd work && env GITHUB_ACTIONS=true GITHUB_ACTOR=genuine-actor GITHUB_REPOSITORY=o/r \
		"$T" apply -- "$TF" apply plan.bin > /dev/null 2>&1) || fail "apply $i"
done
(cd work && env STANDIN_MODE=moveaway STANDIN_STORE=$W/s "$T" apply -- "$TF" apply plan.bin > /dev/null 2>&1)
mv "$W/s.away" "$W/s"
"$T" record --flush-spool > /dev/null || exit 2
"$T" export --out b > /dev/null || exit 2
fpr=$("$T" pubkey --key file:k.pem | tail -1)
grep -q '"spool":' b/artifacts/000000000004.json || { echo "no spooled record" >&2; exit 2; }

# forge SRC DST: a copy of bundle directory SRC whose record 2 names another actor
# and whose record 4 claims another deployment time (signatures now invalid).
forge() {
	cp -r "$1" "$2"
	sed -i 's/genuine-actor/FORGED-ACTOR/' "$2/artifacts/000000000002.json"
	sed -i 's/"deployed_at":"[0-9TZ:-]*"/"deployed_at":"2001-02-03T04:05:06Z"/' "$2/artifacts/000000000004.json"
}
# restore PATH: puts back what a swap replaced.
restore() {
	if [ -e "$1.orig" ] || [ -L "$1.orig" ]; then
		rm -rf "$1"
		mv "$1.orig" "$1"
	fi
}
forge b forged
check "the forgery differs" bash -c "! cmp -s b/artifacts/000000000002.json forged/artifacts/000000000002.json"
expect_exit 1 "the forged bundle alone fails verification" "$T" verify forged --expect-key-fingerprint "$fpr"

# report: the bundle directory is swapped for the forgery after the verifier opened it.
rm -f r.html
rm -f opens.log
expect_exit 0 "report on a directory swapped after its first open" shim env SWAP_LOG=$W/opens.log SWAP_MATCH=b SWAP_AT=2 SWAP_FROM=forged SWAP_TO=b "$T" report b --html r.html --expect-key-fingerprint "$fpr"
check "report opens the bundle once" [ "$(wc -l < opens.log)" -eq 1 ]
check "report says VERIFIED" grep -q 'VERIFIED: every layer passed' r.html
check "no forged record under the VERIFIED banner" bash -c "! grep -q FORGED-ACTOR r.html"
check "the verified records are shown" grep -q 'genuine-actor' r.html
check "every record is in the timeline" [ "$(grep -c 'class="tl"' r.html)" -eq 4 ]
restore b
rm -rf forged

# report: one artifact file replaced in place after the verifier read it (an
# open directory does not pin its files).
forge b forged
rm -f r.html
rm -f opens.log
expect_exit 0 "report with an artifact replaced after its first read" shim env SWAP_LOG=$W/opens.log SWAP_MATCH=000000000002.json SWAP_AT=2 SWAP_FROM=forged/artifacts/000000000002.json SWAP_TO=b/artifacts/000000000002.json "$T" report b --html r.html --expect-key-fingerprint "$fpr"
check "each artifact is read once" [ "$(wc -l < opens.log)" -eq 1 ]
check "no forged record in the report" bash -c "! grep -q FORGED-ACTOR r.html"
check "the verified record is shown" grep -q 'genuine-actor' r.html
restore b/artifacts/000000000002.json
rm -rf forged

# verify: the spooled record's file becomes a symlink to a forgery after it was read.
forge b forged
ln -s "$W/forged/artifacts/000000000004.json" link4
rm -f opens.log
expect_exit 0 "verify with a symlink planted after the read" shim env SWAP_LOG=$W/opens.log SWAP_MATCH=000000000004.json SWAP_AT=2 SWAP_FROM=link4 SWAP_TO=b/artifacts/000000000004.json "$T" verify b --expect-key-fingerprint "$fpr"
expect_output '^\[INFO\] Record 4 was appended from the spool: deployed ' "the spooled record is listed"
check "the symlinked forgery is not followed" bash -c "! grep -q 2001-02-03 '$W/last.out'"
restore b/artifacts/000000000004.json
rm -rf forged link4
expect_exit 0 "the bundle is whole again" "$T" verify b --expect-key-fingerprint "$fpr"

if [ "$archives" -eq 1 ]; then
	"$T" export --archive b.tar.gz > /dev/null || exit 2
	"$T" export --archive b.zip > /dev/null || exit 2
	for a in b.tar.gz b.zip; do
		# The spooled listing comes from the verified archive: nothing is extracted or re-read.
		expect_exit 0 "verify $a" "$T" verify "$a" --expect-key-fingerprint "$fpr"
		expect_output '^\[INFO\] Record 4 was appended from the spool: deployed ' "$a: the spooled record is listed"
		expect_exit 0 "verify $a --json" "$T" verify "$a" --json
		check "$a: --json lists the spooled record" $PY -c "import json,sys; d=json.load(open('$W/last.out')); assert [s['seq'] for s in d['spooled']] == [4], d['spooled']"
	done
	# report: the archive is swapped for a forged one after the verifier opened it.
	mkdir x && (cd x && tar -xzf ../b.tar.gz) || exit 2
	forge x xf
	$PY - "$W/xf" "$W/forged.tar.gz" << 'PYEOF' || exit 2
import os, sys, tarfile
src, dst = sys.argv[1], sys.argv[2]
with tarfile.open(dst, "w:gz", format=tarfile.USTAR_FORMAT) as t:
    for root, dirs, files in os.walk(src):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            t.add(p, arcname=os.path.relpath(p, src), recursive=False)
PYEOF
	rm -f r.html opens.log
	expect_exit 0 "report on an archive swapped after its first open" shim env SWAP_LOG=$W/opens.log SWAP_MATCH=b.tar.gz SWAP_AT=2 SWAP_FROM=forged.tar.gz SWAP_TO=b.tar.gz "$T" report b.tar.gz --html r.html --expect-key-fingerprint "$fpr"
	check "report opens the archive once" [ "$(wc -l < opens.log)" -eq 1 ]
	check "report on the archive says VERIFIED" grep -q 'VERIFIED: every layer passed' r.html
	check "no forged record from the archive" bash -c "! grep -q FORGED-ACTOR r.html"
	check "the archive's verified records are shown" grep -q 'genuine-actor' r.html
	restore b.tar.gz
fi

# A failed verification publishes no records, and leaves no temporary file.
rm -f r.html
forge b bad
expect_exit 1 "report on a forged bundle" "$T" report bad --html r.html --expect-key-fingerprint "$fpr"
check "NOT VERIFIED page" grep -q 'NOT VERIFIED' r.html
check "no record on the failure page" bash -c "! grep -q 'class=\"tl\"' r.html"
check "no temporary file left" [ -z "$(ls | grep 'r.html.tmp')" ]
finish
