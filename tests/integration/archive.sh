#!/usr/bin/env bash
# Bundles as single archives: export --archive (tar.gz, zip), verify reads them
# in place with the directory's messages, re-export gives the same bytes, and
# every tampering of the archive (a changed, extra or missing file, unsafe
# entries) is rejected. The archives are rebuilt with python3's tarfile and
# zipfile, independent of the writer.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2

new_rsa_key k.pem 2048
key=file:k.pem
alg=RSASSA_PKCS1_V1_5_SHA_256 # deterministic signatures: re-exports can be compared
expect_exit 0 "init" "$T" init --store s --chain prod --key $key
for p in show-basic-create show-basic-update show-basic-delete; do
	expect_exit 0 "record $p" "$T" record --store s --key $key --algorithm $alg --plan "$PLANS/$p.json"
done
fpr=$("$T" pubkey --key $key | tail -1)

expect_exit 0 "export directory" "$T" export --store s --key $key --algorithm $alg --out dir
"$T" verify dir --expect-key-fingerprint "$fpr" | sed 's/: dir$/: BUNDLE/' > dir.lines
for ext in tar.gz tgz zip; do
	expect_exit 0 "export --archive b.$ext" "$T" export --store s --key $key --algorithm $alg --archive b.$ext
	expect_output "^exported records 1\.\.3 \(8 files and the signed manifest\) to b\.$ext$" "export message (b.$ext)"
	expect_exit 0 "verify b.$ext" "$T" verify b.$ext --expect-key-fingerprint "$fpr"
	sed "s/: b\.$ext$/: BUNDLE/" "$W/last.out" > b.$ext.lines
	TESTS_RUN=$((TESTS_RUN + 1))
	if cmp -s dir.lines b.$ext.lines; then pass "b.$ext: the same lines as the directory"; else
		fail "b.$ext: lines differ from the directory's"; diff dir.lines b.$ext.lines >&2; fi
done
ls -d ./*.tmp-* ./*.part-* 2>/dev/null && fail "a temporary file or directory was left behind"

# The archive holds exactly the bundle's files, in the fixed order, mode 0444, owner root.
if python3 - <<'PY'
import tarfile, zipfile, os
want = ["manifest.json", "manifest.sig"] + sorted(
    os.path.relpath(os.path.join(r, f), "dir") for r, _, fs in os.walk("dir") for f in fs
    if os.path.relpath(os.path.join(r, f), "dir") not in ("manifest.json", "manifest.sig"))
with tarfile.open("b.tar.gz") as t:
    ms = t.getmembers()
    assert [m.name for m in ms] == want, [m.name for m in ms]
    for m in ms:
        assert m.isreg() and m.mode == 0o444 and m.uid == 0 and m.gid == 0, m.name
        # The manifest holds its export time; every other file is the same in each export.
        if m.name not in ("manifest.json", "manifest.sig"):
            assert t.extractfile(m).read() == open(os.path.join("dir", m.name), "rb").read(), m.name
with zipfile.ZipFile("b.zip") as z:
    assert [i.filename for i in z.infolist()] == want
    for i in z.infolist():
        assert i.compress_type == zipfile.ZIP_DEFLATED, i.filename
        if i.filename not in ("manifest.json", "manifest.sig"):
            assert z.read(i) == open(os.path.join("dir", i.filename), "rb").read(), i.filename
PY
then pass "archive layout"; else fail "archive layout"; fi
TESTS_RUN=$((TESTS_RUN + 1))

# The writer's bytes, field by field (docs/ARCHIVES.md): gzip FLG 0 and MTIME 0; ustar
# headers as specified with mtime the manifest's created; zip without extra fields,
# data descriptors or comments, made by Unix, regular files of mode 0444.
if /usr/bin/python3 - <<'PY'
import calendar, gzip, json, struct, time, zlib
raw = open("b.tar.gz", "rb").read()
assert raw[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", raw[:10]
tar = gzip.decompress(raw)
d = zlib.decompressobj(-15)
d.decompress(raw[10:])
assert len(d.unused_data) == 8, "data after the gzip trailer"
man = None
pos, ends = 0, 0
while True:
    h = tar[pos:pos + 512]
    if h == b"\0" * 512:
        assert tar[pos:] == b"\0" * 1024, "end: two zero blocks and nothing else"
        break
    name = h[:100].rstrip(b"\0").decode()
    size = int(h[124:135], 8)
    assert h[100:108] == b"0000444\0" and h[108:116] == b"0000000\0" and h[116:124] == b"0000000\0", name
    assert h[135] == 0 and h[147] == 0 and h[154:156] == b"\0 " and h[156:157] == b"0", name
    assert h[157:257] == b"\0" * 100 and h[257:265] == b"ustar\x0000", name
    assert h[265:297] == b"root".ljust(32, b"\0") and h[297:329] == b"root".ljust(32, b"\0"), name
    assert h[329:345] == b"0000000\0" * 2 and h[345:512] == b"\0" * 167, name
    chk = sum(h[:148]) + 8 * 32 + sum(h[156:])
    assert int(h[148:154], 8) == chk, name
    data = tar[pos + 512:pos + 512 + size]
    pad = (512 - size % 512) % 512
    assert tar[pos + 512 + size:pos + 512 + size + pad] == b"\0" * pad, name
    if name == "manifest.json":
        man = json.loads(data)
        created = calendar.timegm(time.strptime(man["created"], "%Y-%m-%dT%H:%M:%SZ"))
        mtime = int(h[136:147], 8)
    assert int(h[136:147], 8) == mtime, name
    pos += 512 + size + pad
z = open("b.zip", "rb").read()
assert mtime == created
eocd = z[-22:]
sig, disk, cddisk, n1, n2, cdsize, cdoff, clen = struct.unpack("<IHHHHIIH", eocd)
assert sig == 0x06054B50 and disk == cddisk == clen == 0 and n1 == n2 and cdoff + cdsize == len(z) - 22
p, lpos = cdoff, 0
for _ in range(n1):
    c = struct.unpack("<IHHHHHHIIIHHHHHII", z[p:p + 46])
    assert c[0] == 0x02014B50 and c[1] == 0x0314 and c[2] == 20 and c[3] == 0 and c[4] == 8, c
    assert c[11] == c[12] == c[13] == c[14] == 0 and c[15] == 0o100444 << 16 and c[16] == lpos, c
    name = z[p + 46:p + 46 + c[10]]
    l = struct.unpack("<IHHHHHIIIHH", z[lpos:lpos + 30])
    assert l[0] == 0x04034B50 and l[1:9] == c[2:10] and l[9] == c[10] and l[10] == 0, name
    assert z[lpos + 30:lpos + 30 + l[9]] == name
    lpos += 30 + l[9] + l[7]
    p += 46 + c[10]
assert lpos == cdoff and p == cdoff + cdsize
PY
then pass "the writer's bytes, field by field"; else fail "the writer's bytes, field by field"; fi
TESTS_RUN=$((TESTS_RUN + 1))

# Detected by content, not by name.
cp b.zip renamed.tar.gz
expect_exit 0 "a zip named .tar.gz verifies" "$T" verify renamed.tar.gz
cp b.tar.gz noext
expect_exit 0 "a tar.gz without a suffix verifies" "$T" verify noext
printf 'not an archive' > junk.zip
expect_exit 1 "not an archive" "$T" verify junk.zip
expect_output '^\[ERROR\] Archive unreadable: junk\.zip' "not an archive: message"
head -c 1500 b.tar.gz > cut.tar.gz
expect_exit 1 "truncated tar.gz" "$T" verify cut.tar.gz
expect_output '^\[ERROR\] Archive' "truncated tar.gz: message"

# Re-export of the same range: the same bytes (the manifest's `created` is in
# seconds, so try again when two exports straddle a second boundary).
for ext in tar.gz zip; do
	same=""
	for try in 1 2 3 4 5; do
		rm -f r1.$ext r2.$ext
		"$T" export --store s --key $key --algorithm $alg --archive r1.$ext > /dev/null &&
			"$T" export --store s --key $key --algorithm $alg --archive r2.$ext > /dev/null || break
		c1=$(python3 -c "import sys,tarfile,zipfile; n='r1.$ext'; print(zipfile.ZipFile(n).read('manifest.json') if n.endswith('zip') else tarfile.open(n).extractfile('manifest.json').read())" | grep -o '"created":"[^"]*"')
		c2=$(python3 -c "import sys,tarfile,zipfile; n='r2.$ext'; print(zipfile.ZipFile(n).read('manifest.json') if n.endswith('zip') else tarfile.open(n).extractfile('manifest.json').read())" | grep -o '"created":"[^"]*"')
		[ "$c1" = "$c2" ] || continue
		if cmp -s r1.$ext r2.$ext; then same=yes; else same=no; fi
		break
	done
	TESTS_RUN=$((TESTS_RUN + 1))
	case $same in
	yes) pass "re-export of $ext is byte-identical" ;;
	no) fail "re-export of $ext differs with the same manifest" ;;
	*) fail "re-export of $ext: no two exports within one second in 5 tries" ;;
	esac
done

# Rebuilds an archive from the bundle directory with python3.
#   rebuild.py OUT MODE [ARGS]: MODE tamper PATH | extra PATH | drop PATH | entry NAME KIND
cat > rebuild.py <<'PY'
import io, os, sys, tarfile, warnings, zipfile
warnings.filterwarnings("ignore", "Duplicate name")  # the duplicate-entry archive has one
def build(out, mode, args):
    files = ["manifest.json", "manifest.sig"] + sorted(
        os.path.relpath(os.path.join(r, f), "dir") for r, _, fs in os.walk("dir") for f in fs
        if os.path.relpath(os.path.join(r, f), "dir") not in ("manifest.json", "manifest.sig"))
    entries = []  # (name, kind, data, linkname)
    for f in files:
        data = open(os.path.join("dir", f), "rb").read()
        if mode == "tamper" and f == args[0]:
            data = data.replace(b'"seq":2', b'"seq":9') if data.replace(b'"seq":2', b'"seq":9') != data else data + b" "
        if mode == "drop" and f == args[0]:
            continue
        entries.append((f, "file", data, None))
    if mode == "extra":
        entries.append((args[0], "file", b"extra\n", None))
    if mode == "entry":
        name, kind = args[0], args[1]
        entries.append((name, kind, b"x\n", "manifest.json" if kind in ("hardlink",) else "/etc/passwd"))
    if out.endswith(".zip"):
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for name, kind, data, link in entries:
                zi = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
                zi.compress_type = zipfile.ZIP_DEFLATED
                if kind == "symlink":
                    zi.external_attr = (0o120777 << 16)
                    data = link.encode()
                else:
                    zi.external_attr = (0o100444 << 16)
                z.writestr(zi, data)
    else:
        with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT) as t:
            for name, kind, data, link in entries:
                ti = tarfile.TarInfo(name)
                ti.mode = 0o444
                if kind == "file":
                    ti.size = len(data)
                    t.addfile(ti, io.BytesIO(data))
                    continue
                ti.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                           "fifo": tarfile.FIFOTYPE, "chardev": tarfile.CHRTYPE,
                           "dir": tarfile.DIRTYPE}[kind]
                ti.linkname = link or ""
                t.addfile(ti)
# rebuild.py OUT MODE [ARGS], or rebuild.py --batch JOBS: one such run per line of
# JOBS, fields separated by tabs, all in this one process; a run that fails leaves
# no OUT behind.
jobs = [l.rstrip("\n").split("\t") for l in open(sys.argv[2]) if l.strip()] if sys.argv[1] == "--batch" \
    else [sys.argv[1:]]
status = 0
for job in jobs:
    try:
        build(job[0], job[1], job[2:])
    except Exception as e:
        print("rebuild %s: %r" % (" ".join(job), e), file=sys.stderr)
        if os.path.lexists(job[0]):
            os.remove(job[0])
        status = 1
sys.exit(status)
PY
# Every archive the checks below use, built up front by one python3 process.
: > rebuild.jobs
job() { (IFS=$'\t' && echo "$*") >> rebuild.jobs; }
for ext in tar.gz zip; do
	job ok.$ext none
	job tampered.$ext tamper artifacts/000000000002.json
	job extra.$ext extra notes.txt
	job unlisted.$ext extra checkpoint.ckpt
	job missing.$ext drop artifacts/000000000003.sig
	job dup.$ext extra manifest.sig
	i=0
	for name in ../evil.txt /tmp/evil.txt artifacts/../../evil.txt ./manifest.json a//b; do
		i=$((i + 1))
		job trav$i.$ext entry "$name" file
	done
	job sym.$ext entry artifacts/link symlink
done
for kind in hardlink fifo chardev; do job k-$kind.tar.gz entry special $kind; done
job k-backslash.tar.gz entry 'back\slash' file
job sym-s.zip entry s symlink
python3 rebuild.py --batch rebuild.jobs
# rebuilt OUT: rebuild.py made OUT.
rebuilt() { [ -e "$1" ] || fail "rebuild $1"; }

for ext in tar.gz zip; do
	rebuilt ok.$ext
	expect_exit 0 "python-built $ext verifies" "$T" verify ok.$ext --expect-key-fingerprint "$fpr"

	rebuilt tampered.$ext
	expect_exit 1 "tampered file inside $ext" "$T" verify tampered.$ext
	expect_output '^\[ERROR\] Hash mismatch for artifacts/000000000002\.json \(seq 2\)$' "tampered $ext: message"

	rebuilt extra.$ext
	expect_exit 1 "extra entry in $ext" "$T" verify extra.$ext
	expect_output '^\[ERROR\] Unsafe archive entry: notes\.txt \(not a bundle path\)$' "extra $ext: message"

	rebuilt unlisted.$ext
	expect_exit 1 "unlisted bundle path in $ext" "$T" verify unlisted.$ext
	expect_output '^\[ERROR\] File not listed in manifest: checkpoint\.ckpt$' "unlisted $ext: message"

	rebuilt missing.$ext
	expect_exit 1 "missing entry in $ext" "$T" verify missing.$ext
	expect_output '^\[ERROR\] Missing file: artifacts/000000000003\.sig$' "missing $ext: message"

	rebuilt dup.$ext
	expect_exit 1 "duplicate entry in $ext" "$T" verify dup.$ext
	expect_output '^\[ERROR\] Unsafe archive entry: manifest\.sig \(duplicate entry\)$' "duplicate $ext: message"

	i=0
	for name in ../evil.txt /tmp/evil.txt artifacts/../../evil.txt ./manifest.json a//b; do
		i=$((i + 1))
		rebuilt trav$i.$ext
		expect_exit 1 "entry '$name' in $ext" "$T" verify trav$i.$ext
		expect_output '^\[ERROR\] Unsafe archive entry: ' "entry '$name' in $ext: message"
	done
	rebuilt sym.$ext
	expect_exit 1 "symlink entry in $ext" "$T" verify sym.$ext
	expect_output '^\[ERROR\] Unsafe archive entry: artifacts/link \(symlink, ' "symlink $ext: message"
	rm -f ./*.$ext.lines
done
for kind in hardlink fifo chardev; do
	rebuilt k-$kind.tar.gz
	expect_exit 1 "$kind entry" "$T" verify k-$kind.tar.gz
	expect_output '^\[ERROR\] Unsafe archive entry: special \(' "$kind entry: message"
done
rebuilt k-backslash.tar.gz
expect_exit 1 "backslash entry" "$T" verify k-backslash.tar.gz
expect_output 'backslash in name' "backslash entry: message"
[ -e evil.txt ] || [ -e /tmp/evil.txt ] && fail "an entry was extracted"
TESTS_RUN=$((TESTS_RUN + 1))

# --json reports the archive failure as layer 1.
rebuilt sym-s.zip
expect_exit 1 "--json on an unsafe archive" "$T" verify sym-s.zip --json
expect_output '"manifest_signature":[[:space:]]*"failed"' "--json: layer 1 failed"
expect_output '"file":[[:space:]]*"s"' "--json: the entry is the failed file"

# The CLI contract.
expect_exit 2 "--out with --archive" "$T" export --store s --key $key --out x --archive x.zip
expect_output 'exclusive' "--out with --archive: message"
expect_exit 2 "unknown archive suffix" "$T" export --store s --key $key --archive x.tar.bz2
expect_output 'must end in \.tar\.gz, \.tgz or \.zip' "unknown suffix: message"
[ -e x ] || [ -e x.zip ] || [ -e x.tar.bz2 ] && fail "a usage error wrote something"
cp b.zip keep.zip
sum=$(sha256sum < b.zip)
expect_exit 2 "existing archive not overwritten" "$T" export --store s --key $key --archive b.zip
expect_output 'b\.zip already exists' "existing archive: message"
TESTS_RUN=$((TESTS_RUN + 1))
[ "$(sha256sum < b.zip)" = "$sum" ] || fail "the existing archive was changed"
ls -d ./*.tmp-* ./*.part-* 2>/dev/null && fail "a temporary file or directory was left behind"
TESTS_RUN=$((TESTS_RUN + 1))

finish
