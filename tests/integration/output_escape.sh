#!/usr/bin/env bash
# Output that cannot lie: nothing from a bundle, a record, a plan, CI or the
# command line reaches a terminal as a control (C0, DEL, C1 such as the 8-bit
# CSI U+009B) or as invalid UTF-8; verify --json is always valid UTF-8 JSON;
# and --json and the text lines agree on the verdict, the layers passed and
# the failure.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2
PY=/usr/bin/python3
HERE=$(realpath "$(dirname "$0")")
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL
check() {
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}
cat > clean.py << 'PYEOF'
# clean.py FILE...: every byte is valid UTF-8 with no control but \n and \t:
# no C0, no DEL, no C1 (U+0080..U+009F).
import sys
bad = 0
for name in sys.argv[1:]:
    data = open(name, "rb").read()
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        print("%s: invalid UTF-8: %s" % (name, e), file=sys.stderr)
        bad = 1
        continue
    for i, ch in enumerate(text):
        o = ord(ch)
        if (o < 0x20 and ch not in "\n\t") or 0x7F <= o <= 0x9F:
            print("%s: raw control U+%04X at %d: %r" % (name, o, i, text[max(0, i - 20):i + 20]), file=sys.stderr)
            bad = 1
            break
sys.exit(bad)
PYEOF
cat > strictjson.py << 'PYEOF'
# strictjson.py FILE [lines]: the file is one JSON document (or one per line), in valid UTF-8.
import json, sys
data = open(sys.argv[1], "rb").read().decode("utf-8", errors="strict")
docs = [l for l in data.splitlines() if l] if len(sys.argv) > 2 else [data]
for d in docs:
    json.loads(d)
PYEOF
# clean_out DESC: the last command's stdout and stderr are clean.
clean_out() { check "$1: no raw control or invalid UTF-8 in the output" $PY clean.py "$W/last.out" "$W/last.err"; }
# No line starts with a forged tag that the program did not print.
no_forged() { check "$1: no forged [SUCCESS] line" bash -c "! grep -q '^\[SUCCESS\] FORGED' '$W/last.out' '$W/last.err'"; }

# Hostile values, in every field that reaches output: ESC [ sequences, U+009B
# as UTF-8 (C2 9B), a raw 0x9B byte, DEL, and a newline followed by a fake line.
EVIL=$'ev\e[31mil\e[2J\xc2\x9b1;1H\x9b\x7f\n[SUCCESS] FORGED'
new_ec_key k.pem
"$T" init --store s --chain prod --key file:k.pem > /dev/null || exit 2
# A plan whose resource addresses and actions carry the same.
$PY - "$PLANS/show-basic-create.json" plan-evil.json << 'PYEOF' || exit 2
import json, sys
p = json.load(open(sys.argv[1]))
evil = "addr\u001b[31m\u009b[2J\u007f\n[SUCCESS] FORGED"
for i, rc in enumerate(p.get("resource_changes", [])):
    rc["address"] = evil + str(i)
json.dump(p, open(sys.argv[2], "w"), ensure_ascii=False)
PYEOF
for p in "$PLANS/show-basic-create.json" plan-evil.json; do
	env GITHUB_ACTIONS=true GITHUB_ACTOR="$EVIL" GITHUB_REPOSITORY="o/$EVIL" GITHUB_WORKFLOW="$EVIL" \
		"$T" record --store s --key file:k.pem --plan "$p" > /dev/null || fail "record $p"
done
grep -q 'addr' s/records/000000000002.rec || fail "the hostile address was not recorded"

# log, show, diff: every field escaped.
expect_exit 0 "log" "$T" log --store s --key file:k.pem
clean_out "log"
no_forged "log"
expect_output '\\u001b\[31m' "log shows ESC as \\u001b"
expect_exit 0 "log --json" "$T" log --store s --key file:k.pem --json
check "log --json: one valid UTF-8 JSON document per line" $PY strictjson.py "$W/last.out" lines
for s in 1 2; do
	expect_exit 0 "show $s" "$T" show --store s --key file:k.pem $s
	clean_out "show $s"
	no_forged "show $s"
done
expect_output '\\u009b' "show shows U+009B as \\u009b"
expect_exit 0 "show --json" "$T" show --store s --key file:k.pem 2 --json
check "show --json is valid UTF-8 JSON" $PY strictjson.py "$W/last.out"
expect_exit 0 "diff" "$T" diff --store s --key file:k.pem 1 2
clean_out "diff"
no_forged "diff"
expect_output 'addr\\u001b\[31m\\u009b\[2J\\u007f\\u000a\[SUCCESS\] FORGED0' "diff shows the address escaped"

# Errors: a hostile path named in an error message.
expect_exit 2 "show with a hostile --public-key path" "$T" show --store s --public-key "$EVIL" 1
clean_out "hostile --public-key path"
no_forged "hostile --public-key path"
expect_exit 2 "unknown option with hostile bytes" "$T" verify "--$EVIL"
clean_out "usage error"

"$T" export --store s --key file:k.pem --out b > /dev/null || exit 2
fpr=$("$T" pubkey --key file:k.pem | tail -1)

# verify and report: a bundle at a hostile path.
cp -r b "b$EVIL"
expect_exit 0 "verify a bundle at a hostile path" "$T" verify "b$EVIL" --expect-key-fingerprint "$fpr"
clean_out "verify, hostile path"
no_forged "verify, hostile path"
expect_exit 0 "verify --json, hostile path" "$T" verify "b$EVIL" --json
check "verify --json, hostile path: valid UTF-8 JSON" $PY strictjson.py "$W/last.out"
check "verify --json names the bundle, bad bytes as \\xNN" $PY -c "
import json; d = json.load(open('$W/last.out', encoding='utf-8'))
assert d['bundle'].startswith('bev\x1b[31mil\x1b[2J\u009b1;1H\\\\x9b\x7f\n[SUCCESS]'), repr(d['bundle'])"
expect_exit 0 "report, hostile path" "$T" report "b$EVIL" --html "r$EVIL.html"
clean_out "report, hostile path"
no_forged "report, hostile path"

# verify: a hostile file name in the bundle (unlisted) is named, escaped.
cp -r b bx
touch "bx/x$EVIL"
expect_exit 1 "unlisted hostile file" "$T" verify bx --expect-key-fingerprint "$fpr"
clean_out "unlisted hostile file"
no_forged "unlisted hostile file"
expect_output '^\[ERROR\] File not listed in manifest: xev\\u001b\[31mil' "the file is named, escaped"
expect_exit 1 "unlisted hostile file, --json" "$T" verify bx --json
check "unlisted hostile file: valid UTF-8 JSON" $PY strictjson.py "$W/last.out"
check "the failure names the file" $PY -c "
import json; d = json.load(open('$W/last.out', encoding='utf-8'))
assert d['failure']['file'].startswith('xev\x1b[31mil'), d['failure']"
expect_exit 1 "unlisted hostile file, report" "$T" report bx --html rx.html
clean_out "unlisted hostile file, report"

# --checkpoint: a file that is missing is named (exit 2), the same in --json.
expect_exit 2 "missing --checkpoint" "$T" verify b --checkpoint "missing$EVIL.ckpt"
expect_output '^tfattest: error: .*missing.*\\u001b\[31m.*\.ckpt' "the missing checkpoint is named"
clean_out "missing checkpoint"
no_forged "missing checkpoint"
expect_exit 2 "missing --checkpoint, --json" "$T" verify b --checkpoint "missing$EVIL.ckpt" --json
check "missing checkpoint, --json: valid UTF-8 JSON" $PY strictjson.py "$W/last.out"

# Text and --json agree: the verdict (exit status), the layers passed, the failure.
cat > agree.py << 'PYEOF'
# agree.py TEXT_OUT TEXT_ERR TEXT_RC JSON_OUT JSON_RC
import json, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
err = open(sys.argv[2], encoding="utf-8").read()
trc, jrc = int(sys.argv[3]), int(sys.argv[5])
d = json.load(open(sys.argv[4], encoding="utf-8"))
assert trc == jrc, ("exit", trc, jrc)
want = {0: "verified", 1: "failed", 2: "error"}[trc]
assert d["result"] == want, (d["result"], want)
names = ["manifest_signature", "file_hashes", "hash_chain", "artifact_signatures", "checkpoints"]
marks = [r"^\[SUCCESS\] Manifest signature valid$", r"^\[SUCCESS\] All \d+ file hashes valid$",
         r"^\[SUCCESS\] Hash chain valid", r"^\[SUCCESS\] All \d+ artifact signatures valid$",
         r"^\[SUCCESS\] All verification checks passed$"]
for n, m in zip(names, marks):
    said = re.search(m, text, re.M) is not None
    assert said == (d["layers"][n] == "passed"), (n, said, d["layers"][n])
failed = [n for n in names if d["layers"][n] == "failed"]
errs = re.findall(r"^\[ERROR\] (.*)$", text, re.M)
def esc(s):
    out = []
    for ch in s:
        o = ord(ch)
        out.append("\\u%04x" % o if o < 0x20 or 0x7F <= o <= 0x9F else ch)
    return "".join(out)
if trc == 0:
    assert "failure" not in d and not errs and not failed, d.get("failure")
elif trc == 1:
    assert len(errs) == 1 and errs[0] == esc(d["failure"]["message"]), (errs, d["failure"])
    assert failed == [d["failure"]["layer"]], (failed, d["failure"])
else:
    assert not failed and d["failure"]["layer"] == "none", d
    m = d["failure"]["message"]
    assert m and esc(m) in err, (m, err)
PYEOF
"$T" init --store f --chain foreign --key file:k.pem > /dev/null || exit 2
"$T" record --store f --key file:k.pem --plan "$PLANS/show-basic-create.json" > /dev/null || exit 2
"$T" checkpoint --store f --key file:k.pem --out foreign.ckpt > /dev/null || exit 2
"$T" checkpoint --store s --key file:k.pem --out own.ckpt > /dev/null || exit 2
"$T" export --store f --key file:k.pem --out foreign > /dev/null || exit 2
new_ec_key other.pem
agree() { # desc bundle args...
	local desc=$1 b=$2 trc jrc
	shift 2
	"$T" verify "$b" "$@" > t.out 2> t.err
	trc=$?
	"$T" verify "$b" "$@" --json > j.out 2> j.err
	jrc=$?
	check "text and --json agree: $desc" $PY agree.py t.out t.err $trc j.out $jrc
}
agree "valid" b --expect-key-fingerprint "$fpr"
agree "valid, trusted checkpoint" b --checkpoint own.ckpt
agree "wrong pin" b --expect-key-fingerprint "sha256:$(printf '%064d' 0)"
agree "checkpoint of another chain" b --checkpoint foreign.ckpt
agree "missing checkpoint" b --checkpoint "missing$EVIL.ckpt"
agree "unlisted hostile file" bx
agree "no such bundle" nonexistent
for c in flip_manifest_sig delete_manifest flip_artifact delete_artifact extra_file gap_resigned \
	chain_id_changed_resigned other_key_sig_resigned swapped_sigs_resigned; do
	$PY "$HERE/tamper.py" "$c" b "t-$c" k.pem other.pem "$W/foreign" > /dev/null || { fail "$c: tamper.py"; continue; }
	agree "$c" "t-$c" --expect-key-fingerprint "$fpr"
done
finish
