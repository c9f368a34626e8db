#!/usr/bin/env bash
# tfattest report: a self-contained HTML page, every bundle string escaped,
# checked in headless Chromium (DOM, screenshot, network log).
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2
CHECK=$(realpath "$(dirname "$0")/report_check.py")
PY=/usr/bin/python3
CHROMIUM=$(command -v chromium || command -v chromium-browser) || { fail "chromium is needed (scripts/deps.sh installs it)"; finish; exit 1; }
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL
check() {
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}
chrome() { # extra args...
	timeout 120 "$CHROMIUM" --headless --disable-gpu --no-sandbox --user-data-dir="$W/chrome" \
		--host-resolver-rules="MAP * ~NOTFOUND" "$@" 2> /dev/null
}

new_ec_key k.pem
"$T" init --store s --chain prod --key file:k.pem > /dev/null || exit 2
evil='<script>alert("pwned")</script>'"'&\"<b>"
for p in show-basic-create show-basic-update show-requires-replace show-basic-delete show-drift; do
	env GITHUB_ACTIONS=true GITHUB_ACTOR="$evil" GITHUB_REPOSITORY='o/r"><img src=x onerror=alert(1)>' \
		"$T" record --store s --key file:k.pem --plan "$PLANS/$p.json" > /dev/null || fail "record $p"
done
"$T" record --store s --key file:k.pem --plan "$PLANS/show-basic-create.json" --event rollback --rollback-to 1 --status failed --exit-code 1 > /dev/null || fail "record rollback"
"$T" export --store s --key file:k.pem --out b > /dev/null || exit 2
fpr=$("$T" pubkey --key file:k.pem | tail -1)

expect_exit 0 "report on a good bundle, pinned" "$T" report b --html r.html --expect-key-fingerprint "$fpr"
expect_output 'verified, report written to r.html' "report message"
check "report written" [ -s r.html ]
check "no temp file left" [ -z "$(ls | grep 'r.html.tmp')" ]
check "report is self-contained (no script, link, image, src, href, url())" $PY "$CHECK" static r.html
check "no http(s) reference anywhere in markup attributes" bash -c "! grep -Eqi '(src|href)=\"?https?:' r.html"
check "hostile actor escaped" grep -qF '&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;&#39;&amp;&quot;&lt;b&gt;' r.html
check "hostile repository escaped" grep -qF 'o/r&quot;&gt;&lt;img src=x onerror=alert(1)&gt;' r.html
check "no raw script tag" bash -c "! grep -qi '<script' r.html"
check "says pinned" grep -q 'class="ok">pinned</span>' r.html
# The writer the manifest records (this tfattest), as its claim; verify's text says it too.
ver=$("$T" --version | cut -d' ' -f2)
check "names the bundle's writer" grep -qF "Written by <code>tfattest $ver</code>, as the manifest says: the writing program's own claim" r.html
expect_exit 0 "verify of the same bundle" "$T" verify b --expect-key-fingerprint "$fpr"
expect_output "^\[INFO\] Bundle written by tfattest $ver \(the writer's own claim\)$" "verify names the bundle's writer"
check "each layer passed" [ "$(grep -o '<td class="ok">passed' r.html | wc -l)" -eq 4 ]

# Headless Chromium: the DOM's timeline holds every record, nothing is fetched.
chrome --dump-dom "file://$W/r.html" > dom.html
check "chromium dumped the DOM" [ -s dom.html ]
check "timeline rows are seq 1..6 in order" $PY "$CHECK" dom dom.html 1 2 3 4 5 6
check "hostile actor is text in the DOM" grep -qF '&lt;script&gt;alert(' dom.html
chrome --screenshot="$W/shot.png" --window-size=1200,1600 "file://$W/r.html" > /dev/null
check "screenshot is a PNG" bash -c "head -c 8 '$W/shot.png' | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'"
check "screenshot is not trivial (> 20 KB)" [ "$(stat -c %s shot.png)" -gt 20000 ]
chrome --log-net-log="$W/net.json" --dump-dom "file://$W/r.html" > /dev/null
check "network log: the page requested nothing" $PY "$CHECK" netlog net.json
# The checks can fail: a page with external references is caught by each.
printf '<html><body><img src="http://example.invalid/x.png"><link rel="stylesheet" href="https://fonts.example.invalid/f.css"></body></html>' > bad.html
check "static check catches external references" bash -c "! $PY '$CHECK' static bad.html 2> /dev/null"
chrome --log-net-log="$W/net-bad.json" --dump-dom "file://$W/bad.html" > /dev/null
check "network check catches a fetching page" bash -c "! $PY '$CHECK' netlog net-bad.json 2> /dev/null"

# Unpinned: the report says so.
expect_exit 0 "report unpinned" "$T" report b --html u.html
check "says NOT pinned" grep -q 'NOT pinned' u.html

# A tampered bundle: exit 1, the page says NOT VERIFIED and shows no timeline.
cp -r b t && chmod -R u+w t
sed -i 's/"status":"succeeded"/"status":"failed"/' t/artifacts/000000000002.json
expect_exit 1 "report on a tampered bundle exits 1" "$T" report t --html t.html --expect-key-fingerprint "$fpr"
check "tampered report says NOT VERIFIED" grep -q 'NOT VERIFIED: Hash mismatch for artifacts/000000000002.json' t.html
check "tampered report shows the failed layer" grep -q '<td class="bad">FAILED' t.html
check "tampered report has no timeline" bash -c "! grep -q 'class=\"tl\"' t.html"
expect_exit 1 "wrong pinned key" "$T" report b --html w.html --expect-key-fingerprint sha256:0000000000000000000000000000000000000000000000000000000000000000
# The existing file is replaced whole.
expect_exit 0 "report overwrites atomically" "$T" report b --html t.html
check "overwritten report verified" grep -q 'VERIFIED: every layer passed' t.html
expect_exit 2 "report without --html" "$T" report b
expect_exit 2 "report on a missing bundle" "$T" report nope --html x.html
check "nothing written for a missing bundle" [ ! -e x.html ]
finish
