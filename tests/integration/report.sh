#!/usr/bin/env bash
# tfattest report: a self-contained HTML page, every bundle string escaped,
# held to verify's trust inputs (completeness against trusted checkpoints),
# whose summary, keys, chart and resource index match the bundle's records;
# checked in headless Chromium (DOM, screenshot, label geometry, PDF, network log).
. "$(dirname "$0")/../lib/common.sh"
SRC=$(realpath "${TFA_SOURCE_DIR:?}")
VEC=$SRC/tests/vectors
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
new_rsa_key k2.pem 2048
"$T" init --store s --chain prod --key file:k.pem > /dev/null || exit 2
evil='<script>alert("pwned")</script>'"'&\"<b>"
for p in show-basic-create show-basic-update show-requires-replace show-basic-delete show-drift; do
	env GITHUB_ACTIONS=true GITHUB_ACTOR="$evil" GITHUB_REPOSITORY='o/r"><img src=x onerror=alert(1)>' \
		"$T" record --store s --key file:k.pem --plan "$PLANS/$p.json" > /dev/null || fail "record $p"
done
# A rotation (seq 6), a trusted checkpoint of its head, then a failed rollback and a drift check.
"$T" rotate --store s --key file:k.pem --new-key file:k2.pem > /dev/null || fail "rotate"
"$T" checkpoint --store s --key file:k2.pem --out cp6.ckpt > /dev/null || fail "checkpoint"
"$T" record --store s --key file:k2.pem --plan "$PLANS/show-basic-create.json" --event rollback --rollback-to 1 --status failed --exit-code 1 > /dev/null || fail "record rollback"
"$T" record --store s --key file:k2.pem --plan "$PLANS/show-drift.json" --event drift-check > /dev/null || fail "record drift-check"
"$T" export --store s --key file:k2.pem --out b > /dev/null || exit 2
fpr=$("$T" pubkey --key file:k.pem | tail -1)
fpr2=$("$T" pubkey --key file:k2.pem | tail -1)

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
check "each layer passed, checkpoints too" [ "$(grep -o '<td class="ok">passed' r.html | wc -l)" -eq 5 ]
check "without --checkpoint: NOT SHOWN COMPLETE" bash -c "$PY '$CHECK' text r.html completeness | grep -q '^NOT SHOWN COMPLETE: no trusted checkpoint was given'"
check "the bundle's own checkpoint is called untrusted" bash -c "$PY '$CHECK' text r.html completeness | grep -q 'own checkpoint (seq 6) is consistent but proves nothing'"

# The summary, keys, chart, resource index and timeline against the bundle's own records.
check "summary, keys, chart and resources match the bundle" $PY "$CHECK" facts r.html b
check "summary: 8 records, 6 deployments, 1 failure, 1 rollback, 1 drift check, 2 keys, 2 actors" bash -c "
	for kv in sum-records:8 sum-deployments:6 sum-failures:1 sum-rollbacks:1 sum-drift:1 sum-keys:2 sum-actors:2 sum-identities:0; do
		$PY '$CHECK' text r.html \${kv%%:*} | grep -Eq \"^[^0-9]*\${kv#*:}( |\\$|:|,)\" || { echo \$kv; exit 1; }
	done"
check "the rotation row shows the new key, not unknown" bash -c "$PY '$CHECK' text r.html tl-6 | grep -F '$fpr2' | grep -q 'proof of possession verified'"
check "the key table gives each key its seq range" bash -c "$PY '$CHECK' text r.html key-1 | grep -q 'seq 1 to 6' && $PY '$CHECK' text r.html key-2 | grep -q 'seq 7 onward'"
check "key 2 was brought in by rotation record 6 with its proof of possession" bash -c "$PY '$CHECK' text r.html key-2 | grep -F '$fpr2' | grep -q 'rotation record 6.*proof of possession verified: signature [A-Za-z0-9+/=]\{40,\}'"
check "resource index: test_instance.test[0] created by 1 and 7, no_refresh updated by 5 and 8" bash -c "$PY '$CHECK' text r.html resources | grep -F 'test_instance.test[0] 1: create, 7: create' | grep -qF 'test_instance.no_refresh 5: update, 8: update'"
check "the chart is an inline SVG with stacked bins" bash -c "grep -q '<svg id=\"chart\"' r.html && grep -q 'class=\"bin\"' r.html"
# The facts check can fail: a page whose count differs from the bundle is caught.
sed 's|<tr id="sum-failures"><th>Failures</th><td><span class="n">1<|<tr id="sum-failures"><th>Failures</th><td><span class="n">0<|' r.html > lie.html
check "the facts check catches a wrong count" bash -c "! $PY '$CHECK' facts lie.html b > /dev/null 2>&1"

# Held to a trusted checkpoint: complete through its head, which key signed it, when.
expect_exit 0 "report held to a checkpoint" "$T" report b --html c.html --expect-key-fingerprint "$fpr" --checkpoint cp6.ckpt --require-genesis
$PY "$CHECK" text c.html completeness > c.txt
check "COMPLETE through seq 6, naming the checkpoint" grep -q '^COMPLETE through seq 6: the bundle reaches the trusted checkpoint cp6.ckpt (head seq 6' c.txt
check "the checkpoint's signer is the key in force after its seq" grep -qF "by the chain's key $fpr2" c.txt
check "the checkpoint's time is given" grep -Eq 'signed at [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z' c.txt
check "a checkpoint without timestamp says so" grep -q 'not timestamped' c.txt
check "records after the checkpoint are named" grep -q 'Records 7 to 8 come after it' c.txt
check "starts at genesis, as required" bash -c "$PY '$CHECK' text c.html start | grep -q 'first record (required with --require-genesis)'"
check "checkpoint layer counts the trusted checkpoint" grep -q 'passed (1 trusted checkpoint)' c.html
$PY "$CHECK" text r.html sum-actors > actors.txt
check "the hostile actor is plain text in the summary" grep -qF -- "$evil" actors.txt
cp cp6.ckpt '<b>&x.ckpt'
expect_exit 0 "report with a checkpoint whose name is markup" "$T" report b --html e.html --checkpoint '<b>&x.ckpt'
check "the checkpoint's name is escaped" bash -c "grep -qF '&lt;b&gt;&amp;x.ckpt' e.html && ! grep -qF '<b>&x' e.html"
# A checkpoint the bundle does not reach: records withheld (or an older export).
"$T" record --store s --key file:k2.pem --plan "$PLANS/show-basic-create.json" > /dev/null || fail "record 9"
"$T" checkpoint --store s --key file:k2.pem --out cp9.ckpt > /dev/null || fail "checkpoint 9"
expect_exit 1 "report held to a later checkpoint exits 1" "$T" report b --html n.html --expect-key-fingerprint "$fpr" --checkpoint cp9.ckpt
check "NOT COMPLETE against a checkpoint the bundle does not reach" bash -c "$PY '$CHECK' text n.html completeness | grep -q '^NOT COMPLETE: the bundle does not check out against a trusted checkpoint'"
check "NOT VERIFIED banner for an incomplete bundle" grep -q 'NOT VERIFIED' n.html
check "an incomplete bundle's page shows no summary" bash -c "! grep -q 'id=\"summary\"' n.html"
# A timestamped checkpoint, checked with the TSA CA: who timestamped it, and when.
vfpr=sha256:3fb8541b0cd29860fb6449973774e66d7da6d29dfd56a5b69cbf93987d1800f4
expect_exit 0 "report with a timestamped checkpoint and --tsa-ca" "$T" report "$VEC/v/valid-checkpoint-tsa/bundle" --html tsa.html \
	--expect-key-fingerprint "$vfpr" --checkpoint "$VEC/v/valid-checkpoint-tsa/trusted-1.ckpt" --tsa-ca "$VEC/keys/tsa/ca.pem"
check "timestamped by the TSA, verified" bash -c "$PY '$CHECK' text tsa.html completeness | grep -Eq 'timestamped at [0-9T:Z-]+ by .*CN=tfattest test TSA \(RFC 3161, verified against --tsa-ca\)'"
expect_exit 0 "report with a timestamped checkpoint, no --tsa-ca" "$T" report "$VEC/v/valid-checkpoint-tsa/bundle" --html tsa2.html \
	--expect-key-fingerprint "$vfpr" --checkpoint "$VEC/v/valid-checkpoint-tsa/trusted-1.ckpt"
check "an unchecked timestamp is called so" bash -c "$PY '$CHECK' text tsa2.html completeness | grep -q 'its timestamp was not checked (no --tsa-ca given)'"
# --require-genesis on a bundle that starts later fails, as in verify.
expect_exit 1 "--require-genesis on a range bundle" "$T" report "$VEC/v/valid-range-middle/bundle" --html g.html --expect-key-fingerprint "$vfpr" --require-genesis
check "the page names the failure" grep -q 'NOT VERIFIED' g.html
# Records made by the service: distinct verified identities counted from their identity sections.
expect_exit 0 "report on records with verified identities" "$T" report "$VEC/v/valid-identity/bundle" --html id.html --expect-key-fingerprint "$vfpr"
check "identity bundle: the page matches its records" $PY "$CHECK" facts id.html "$VEC/v/valid-identity/bundle"
check "2 distinct verified identities, named" bash -c "$PY '$CHECK' text id.html sum-identities | grep -F 'Distinct verified identities 2: arn:aws:sts::123456789012:assumed-role/ci/job-7 (issuer aws-iam)' | grep -qF 'repo:acme/infra:ref:refs/heads/main (issuer https://token.actions.githubusercontent.com)'"
expect_exit 0 "report on a bundle with two rotations" "$T" report "$VEC/v/valid-rotation/bundle" --html rot.html --expect-key-fingerprint "$vfpr"
check "rotation bundle: the page matches its records" $PY "$CHECK" facts rot.html "$VEC/v/valid-rotation/bundle"
check "report --help lists verify's trust inputs" bash -c "'$T' report --help > help.txt && for o in --html --expect-key-fingerprint --checkpoint --tsa-ca --require-genesis --require-chain-manifest; do grep -q -- \"^  \$o\" help.txt || exit 1; done"
# The writer the manifest records (this tfattest), as its claim; verify's text says it too.
ver=$("$T" --version | cut -d' ' -f2)
check "names the bundle's writer" grep -qF "Written by <code>tfattest $ver</code>, as the manifest says: the writing program's own claim" r.html
expect_exit 0 "verify of the same bundle" "$T" verify b --expect-key-fingerprint "$fpr"
expect_output "^\[INFO\] Bundle written by tfattest $ver \(the writer's own claim\)$" "verify names the bundle's writer"

# Headless Chromium: the DOM's timeline holds every record, nothing is fetched.
chrome --dump-dom "file://$W/r.html" > dom.html
check "chromium dumped the DOM" [ -s dom.html ]
check "timeline rows are seq 1..8 in order" $PY "$CHECK" dom dom.html 1 2 3 4 5 6 7 8
check "hostile actor is text in the DOM" grep -qF '&lt;script&gt;alert(' dom.html
chrome --screenshot="$W/shot.png" --window-size=1200,1600 "file://$W/r.html" > /dev/null
check "screenshot is a PNG" bash -c "head -c 8 '$W/shot.png' | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'"
check "screenshot is not trivial (> 20 KB)" [ "$(stat -c %s shot.png)" -gt 20000 ]
# Layout: no record label runs into its value. A copy of the page measures itself in Chromium
# (the report has no script); the same copy under the earlier fixed 14em label column with no
# wrapping shows the check catches overlapping labels.
check "identity page screenshot" chrome --screenshot="$W/shot-id.png" --window-size=1200,1600 "file://$W/id.html"
for p in r id rot; do
	$PY "$CHECK" geom-page $p.html geom-$p.html
	chrome --virtual-time-budget=5000 --dump-dom "file://$W/geom-$p.html" > geom-$p.dom
	check "$p: no record label overlaps its value" $PY "$CHECK" geom geom-$p.dom
done
printf 'dl{grid-template-columns:14em 1fr}dt,dd{overflow-wrap:normal}' > old.css
$PY "$CHECK" geom-page id.html geom-old.html old.css
chrome --virtual-time-budget=5000 --dump-dom "file://$W/geom-old.html" > geom-old.dom
check "the geometry check catches labels that overlap" bash -c "! $PY '$CHECK' geom geom-old.dom > /dev/null 2>&1"
# Printing: auditors print to PDF.
chrome --no-pdf-header-footer --print-to-pdf="$W/r.pdf" "file://$W/c.html" > /dev/null
check "print to PDF: a PDF of at least one page" $PY "$CHECK" pdf r.pdf
check "the PDF is not trivial (> 20 KB)" [ "$(stat -c %s r.pdf)" -gt 20000 ]
check "the page has print rules" grep -q '@media print{@page' r.html
chrome --log-net-log="$W/net.json" --dump-dom "file://$W/r.html" > /dev/null
check "network log: the page requested nothing" $PY "$CHECK" netlog net.json
# The checks can fail: a page with external references is caught by each.
printf '<html><body><img src="http://example.invalid/x.png"><link rel="stylesheet" href="https://fonts.example.invalid/f.css"></body></html>' > bad.html
printf '<html><body><svg><image href="http://example.invalid/x.png"/><use xlink:href="http://example.invalid/s.svg#a"/></svg></body></html>' > bad-svg.html
check "static check catches an SVG that refers outside" bash -c "! $PY '$CHECK' static bad-svg.html 2> /dev/null"
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
check "tampered report has no summary, chart or resources" bash -c "! grep -Eq 'id=\"(summary|chart|resources)\"' t.html"
check "tampered report: completeness not established" bash -c "$PY '$CHECK' text t.html completeness | grep -q '^NOT ESTABLISHED'"
expect_exit 1 "wrong pinned key" "$T" report b --html w.html --expect-key-fingerprint sha256:0000000000000000000000000000000000000000000000000000000000000000
check "wrong key: the page says NOT VERIFIED" grep -q 'id="result">NOT VERIFIED' w.html
check "wrong key: completeness not established" bash -c "$PY '$CHECK' text w.html completeness | grep -q '^NOT ESTABLISHED'"
# The existing file is replaced whole.
expect_exit 0 "report overwrites atomically" "$T" report b --html t.html
check "overwritten report verified" grep -q 'VERIFIED: every layer passed' t.html
expect_exit 2 "report without --html" "$T" report b
expect_exit 2 "report on a missing bundle" "$T" report nope --html x.html
check "nothing written for a missing bundle" [ ! -e x.html ]
finish
