"""Builds tampered copies of a bundle for the hostile-bundle tests.

usage: tamper.py CASE SRC DST KEY OTHER_KEY FOREIGN_BUNDLE [OLD_KEY]
       tamper.py --batch JOBS STATUS

With --batch, JOBS holds one run's arguments per line, separated by tabs; each
runs in a child forked from this one process (so Python starts once, not once
per case), in order, exactly as it would on its own, and STATUS gets one line
"DST EXIT_STATUS" per run.

Copies SRC to DST and applies one tampering. Cases whose name ends in
"_resigned" also rewrite manifest.json (canonical form) and re-sign it with
KEY, as an attacker holding the key, or a buggy exporter, would: they prove
the deeper layers catch what the manifest signature cannot.

Cases starting "rot_" expect a bundle of a rotated chain: KEY is the key in
force at export, OLD_KEY the anchor that signed the rotation at seq 3. Cases
starting "ckptfile_" tamper with a checkpoint file: SRC and DST are files.
"""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys

if sys.argv[1:2] == ["--batch"]:
    status = open(sys.argv[3], "w")
    for line in open(sys.argv[2]):
        args = line.rstrip("\n").split("\t")
        if args == [""]:
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        status.flush()
        pid = os.fork()
        if pid == 0:
            # The child carries on below as a run with these arguments.
            status.close()
            sys.argv = sys.argv[:1] + args
            break
        rc = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        status.write("%s %d\n" % (args[2] if len(args) > 2 else "?", rc))
    else:
        sys.exit(0)

case, src, dst, key, other_key, foreign = sys.argv[1:7]
key, other_key, foreign = map(os.path.abspath, (key, other_key, foreign))
old_key = os.path.abspath(sys.argv[7]) if len(sys.argv) > 7 else key


def sign_with(data, keyfile, alg):
    opts = []
    if alg == "RSASSA_PSS_SHA_256":
        opts = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"]
    return subprocess.run(["openssl", "dgst", "-sha256", "-sign", keyfile] + opts,
                          input=data, capture_output=True, check=True).stdout


if case.startswith("ckptfile_"):
    lines = open(src, "rb").read().split(b"\n")
    doc = json.loads(lines[1])
    if case == "ckptfile_flip_sig":
        sig = bytearray(base64.b64decode(lines[2][4:]))
        sig[10] ^= 1
        lines[2] = b"sig " + base64.b64encode(bytes(sig))
    elif case in ("ckptfile_fork", "ckptfile_other_key"):
        # A holder of a key signs a checkpoint of a head the bundle does not have,
        # or a stranger signs the right head.
        if case == "ckptfile_fork":
            doc["head_hash"] = "sha256:" + "12" * 32
            keyfile = key
        else:
            keyfile = other_key
            pub = subprocess.run(["openssl", "pkey", "-in", keyfile, "-pubout", "-outform", "DER"],
                                 capture_output=True, check=True).stdout
            doc["signer"]["key_fingerprint"] = "sha256:" + hashlib.sha256(pub).hexdigest()
            doc["signer"]["algorithm"] = "ECDSA_SHA_256"
        lines[1] = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        lines[2] = b"sig " + base64.b64encode(sign_with(lines[1], keyfile, doc["signer"]["algorithm"]))
    else:
        sys.exit("unknown case " + case)
    open(dst, "wb").write(b"\n".join(lines))
    sys.exit(0)

shutil.copytree(src, dst, symlinks=True)
os.chdir(dst)
for root, dirs, files in os.walk("."):
    for n in dirs + files:
        os.chmod(os.path.join(root, n), 0o755 if n in dirs else 0o644)


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load_manifest():
    return json.load(open("manifest.json"))


def sign(data, keyfile, alg):
    opts = []
    if alg == "RSASSA_PSS_SHA_256":
        opts = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"]
    p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", keyfile] + opts,
                       input=data, capture_output=True, check=True)
    return p.stdout


def rehash(m):
    for f in m["files"]:
        if os.path.lexists(f["path"]) and not os.path.islink(f["path"]):
            data = open(f["path"], "rb").read()
            f["sha256"] = hashlib.sha256(data).hexdigest()
            f["size"] = len(data)
    m["files"].sort(key=lambda f: f["path"].encode())


def write_manifest(m, raw=None):
    data = raw if raw is not None else canon(m)
    open("manifest.json", "wb").write(data)
    open("manifest.sig", "wb").write(sign(data, key, m["signer"]["algorithm"]))


def flip(path, offset=40):
    b = bytearray(open(path, "rb").read())
    b[min(offset, len(b) - 1)] ^= 0x01
    open(path, "wb").write(bytes(b))


def art(seq, ext="json"):
    return "artifacts/%012d.%s" % (seq, ext)


def art_hash(seq):
    return "sha256:" + hashlib.sha256(open(art(seq), "rb").read()).hexdigest()


def resign_artifact(seq, obj=None, raw=None, keyfile=None):
    data = raw if raw is not None else canon(obj)
    open(art(seq), "wb").write(data)
    alg = json.loads(data)["signer"]["algorithm"] if obj is None else obj["signer"]["algorithm"]
    open(art(seq, "sig"), "wb").write(sign(data, keyfile or key, alg))


# ---- Cases written as functions: EXTRA_CASES[name](m) tampers with the copy in
# the current directory, given the loaded manifest m. ----
def spki_der(keyfile):
    return subprocess.run(["openssl", "pkey", "-in", keyfile, "-pubout", "-outform", "DER"],
                          capture_output=True, check=True).stdout


def der_fpr(der):
    return "sha256:" + hashlib.sha256(der).hexdigest()


def key_alg(keyfile):
    der = spki_der(keyfile)
    return "ECDSA_SHA_256" if b"\x2a\x86\x48\xce\x3d\x02\x01" in der else "RSASSA_PSS_SHA_256"


def manifest_keyfile(m):
    # The key file, among those given, that signed the manifest (its signer names it).
    for kf in (key, other_key, old_key):
        if der_fpr(spki_der(kf)) == m["signer"]["key_fingerprint"]:
            return kf
    sys.exit("no given key signed the manifest")


def drop_checkpoint(m):
    # The bundle's own checkpoint removed, and the manifest re-signed by the key that
    # signed it: the copy is valid, so that a tampering made from it fails for its
    # own reason and not because the checkpoint went stale.
    if not os.path.exists("checkpoint.ckpt"):
        sys.exit("no checkpoint.ckpt to drop")
    kf = manifest_keyfile(m)
    os.remove("checkpoint.ckpt")
    m["files"] = [f for f in m["files"] if f["path"] != "checkpoint.ckpt"]
    rehash(m)
    data = canon(m)
    open("manifest.json", "wb").write(data)
    open("manifest.sig", "wb").write(sign(data, kf, m["signer"]["algorithm"]))


def rotation_at_head(m, signer_key, new_key):
    # The head record becomes a rotation to new_key, made (and signed) by signer_key,
    # with a valid proof of possession; new_key then signs the manifest.
    if os.path.exists("checkpoint.ckpt"):
        sys.exit("drop the checkpoint first")
    first = sorted(p for p in os.listdir("keys") if p.endswith(".json"))[0]
    rot = json.load(open("keys/" + first))
    new_der, cur_der = spki_der(new_key), spki_der(signer_key)
    r = dict(rot)
    r["seq"] = last
    r["prev_hash"] = art_hash(last - 1)
    r["signer"] = dict(rot["signer"])
    r["signer"].update({"key_fingerprint": der_fpr(cur_der), "algorithm": key_alg(signer_key)})
    r["rotation"] = dict(rot["rotation"])
    r["rotation"].update({
        "new_algorithm": key_alg(new_key), "new_key_fingerprint": der_fpr(new_der),
        "new_public_key": base64.b64encode(new_der).decode(),
        "old_public_key": base64.b64encode(cur_der).decode()})
    r["rotation"]["new_provenance"] = {"key_path": os.path.basename(new_key)}
    pop = canon({"type": "tfattest.rotation-pop", "chain_id": r["chain_id"], "seq": r["seq"],
                 "prev_hash": r["prev_hash"], "old_key_fingerprint": r["signer"]["key_fingerprint"],
                 "new_key_fingerprint": r["rotation"]["new_key_fingerprint"],
                 "new_algorithm": r["rotation"]["new_algorithm"]})
    r["rotation"]["pop_signature"] = base64.b64encode(
        sign(pop, new_key, r["rotation"]["new_algorithm"])).decode()
    data = canon(r)
    sig = sign(data, signer_key, r["signer"]["algorithm"])
    for p in (art(last)[:-5], "keys/%012d" % last):
        open(p + ".json", "wb").write(data)
        open(p + ".sig", "wb").write(sig)
    for ext in ("json", "sig"):
        m["files"].append({"path": "keys/%012d.%s" % (last, ext), "sha256": "", "size": 0})
    pem = "keys/%s.pem" % der_fpr(new_der)[7:]
    if not os.path.exists(pem):
        subprocess.run(["openssl", "pkey", "-in", new_key, "-pubout", "-out", pem], check=True)
        m["files"].append({"path": pem, "sha256": "", "size": 0})
    m["head_hash"] = art_hash(last)
    m["signer"] = {"key_fingerprint": der_fpr(new_der), "algorithm": r["rotation"]["new_algorithm"]}
    subprocess.run(["openssl", "pkey", "-in", new_key, "-pubout", "-out", "public_key.pem"], check=True)
    rehash(m)
    data = canon(m)
    open("manifest.json", "wb").write(data)
    open("manifest.sig", "wb").write(sign(data, new_key, m["signer"]["algorithm"]))


def rotation_back_to_retired(m):
    # The head record becomes a rotation from KEY (in force) back to OLD_KEY, which
    # a rotation earlier in the bundle retired; every signature is valid, the proof
    # of possession too. Only the rule "a retired key never comes back" rejects it.
    rotation_at_head(m, key, old_key)


def fresh_ec_key():
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", "../fresh-ec.pem"], check=True, capture_output=True)
    return os.path.abspath("../fresh-ec.pem")


def rotation_to_fresh(m):
    # A control, not a tampering: the head record becomes a valid second rotation,
    # from KEY (in force) to a fresh key. The bundle verifies.
    rotation_at_head(m, key, fresh_ec_key())


def rotation_signer_not_in_force(m):
    # The head record becomes a rotation made and signed by OTHER_KEY, which is not
    # the key in force (KEY is), to a fresh key; every signature is valid.
    rotation_at_head(m, other_key, fresh_ec_key())


def range_beyond_records(m):
    # The head record dropped, the manifest's head_hash moved to the record before,
    # to_seq left as it was: every hash and link holds, but the range claims a record
    # the bundle does not hold.
    for ext in ("json", "sig"):
        os.remove(art(last, ext))
    m["files"] = [f for f in m["files"] if not f["path"].startswith(art(last)[:-4])]
    m["head_hash"] = art_hash(last - 1)
    write_manifest(m)


def broken_link(m):
    # One record's prev_hash replaced, that record re-signed and the records after it
    # re-linked and re-signed: only the link into that record is broken.
    seq = 3
    a = json.load(open(art(seq)))
    a["prev_hash"] = "sha256:" + "5a" * 32
    resign_artifact(seq, a)
    for s in range(seq + 1, last + 1):
        b = json.load(open(art(s)))
        b["prev_hash"] = art_hash(s - 1)
        resign_artifact(s, b)
    m["head_hash"] = art_hash(last)
    rehash(m)
    write_manifest(m)


def sync_key_pems(m):
    # keys/<hex>.pem made to be exactly the keys the rotations in keys/ name (the
    # anchor and each new key), and the manifest re-signed by the key that signed it:
    # applied after a rotation case, the copy fails for that case's reason alone.
    recs = [json.load(open("keys/" + p)) for p in sorted(os.listdir("keys")) if p.endswith(".json")]
    ders = [base64.b64decode(recs[0]["rotation"]["old_public_key"])]
    ders += [base64.b64decode(r["rotation"]["new_public_key"]) for r in recs]
    for p in os.listdir("keys"):
        if p.endswith(".pem"):
            os.remove("keys/" + p)
    m["files"] = [f for f in m["files"] if not (f["path"].startswith("keys/") and f["path"].endswith(".pem"))]
    for der in ders:
        b64 = base64.b64encode(der).decode()
        pem = "-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n" % "\n".join(
            b64[i:i + 64] for i in range(0, len(b64), 64))
        path = "keys/%s.pem" % der_fpr(der)[7:]
        open(path, "w").write(pem)
        m["files"].append({"path": path, "sha256": "", "size": 0})
    kf = manifest_keyfile(m)
    rehash(m)
    data = canon(m)
    open("manifest.json", "wb").write(data)
    open("manifest.sig", "wb").write(sign(data, kf, m["signer"]["algorithm"]))


def forged_rotation_before_range(m):
    # A range bundle whose first record follows a rotation: keys/ alone carries that
    # rotation. It is rewritten to hand the chain to OTHER_KEY (with a valid proof of
    # possession), signed by OTHER_KEY rather than the key it names; base_hash, the
    # range and the manifest are made consistent with it and signed by OTHER_KEY.
    # Only the rotation record's signature, checked against the key in force, is wrong.
    first = sorted(p for p in os.listdir("keys") if p.endswith(".json"))[0]
    r = json.load(open("keys/" + first))
    if r["seq"] + 1 != m["from_seq"]:
        sys.exit("the bundle must start right after its first rotation")
    der = spki_der(other_key)
    alg = key_alg(other_key)
    r["rotation"].update({"new_public_key": base64.b64encode(der).decode(),
                          "new_key_fingerprint": der_fpr(der), "new_algorithm": alg})
    pop = canon({"type": "tfattest.rotation-pop", "chain_id": r["chain_id"], "seq": r["seq"],
                 "prev_hash": r["prev_hash"], "old_key_fingerprint": r["signer"]["key_fingerprint"],
                 "new_key_fingerprint": r["rotation"]["new_key_fingerprint"],
                 "new_algorithm": alg})
    r["rotation"]["pop_signature"] = base64.b64encode(sign(pop, other_key, alg)).decode()
    data = canon(r)
    open("keys/" + first, "wb").write(data)
    open("keys/" + first[:-5] + ".sig", "wb").write(sign(data, other_key, alg))
    m["base_hash"] = "sha256:" + hashlib.sha256(data).hexdigest()
    for s in range(m["from_seq"], last + 1):
        a = json.load(open(art(s)))
        a["prev_hash"] = m["base_hash"] if s == m["from_seq"] else art_hash(s - 1)
        a["signer"] = dict(a["signer"], key_fingerprint=der_fpr(der), algorithm=alg)
        resign_artifact(s, a, keyfile=other_key)
    m["head_hash"] = art_hash(last)
    m["signer"] = {"key_fingerprint": der_fpr(der), "algorithm": alg}
    subprocess.run(["openssl", "pkey", "-in", other_key, "-pubout", "-out", "public_key.pem"], check=True)
    sync_key_pems(m)


EXTRA_CASES = {
    "drop_checkpoint_resigned": drop_checkpoint,
    "rot_retired_key_back_resigned": rotation_back_to_retired,
    "range_beyond_records_resigned": range_beyond_records,
    "broken_link_resigned": broken_link,
    "rot_signer_not_in_force_resigned": rotation_signer_not_in_force,
    "rot_second_rotation_resigned": rotation_to_fresh,
    "sync_key_pems_resigned": sync_key_pems,
    "rot_forged_before_range_resigned": forged_rotation_before_range,
}


m = load_manifest()
last = m["to_seq"]
if case in EXTRA_CASES:
    EXTRA_CASES[case](m)
    sys.exit(0)

if case == "flip_manifest":
    flip("manifest.json")
elif case == "flip_manifest_sig":
    flip("manifest.sig", 100)
elif case == "truncate_manifest_sig":
    open("manifest.sig", "r+b").truncate(100)
elif case == "swap_manifest_sig":
    shutil.copy(art(1, "sig"), "manifest.sig")
elif case == "delete_manifest":
    os.remove("manifest.json")
elif case == "delete_pubkey":
    os.remove("public_key.pem")
elif case == "substitute_pubkey":
    subprocess.run(["openssl", "pkey", "-in", other_key, "-pubout", "-out", "public_key.pem"], check=True)
elif case == "garbage_pubkey":
    open("public_key.pem", "w").write("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
elif case == "manifest_not_json":
    open("manifest.json", "w").write("[[[[")
elif case == "flip_artifact":
    flip(art(2))
elif case == "flip_artifact_sig":
    flip(art(2, "sig"))
elif case == "flip_verify_md":
    flip("VERIFY.md")
elif case == "truncate_artifact":
    open(art(2), "r+b").truncate(10)
elif case == "delete_artifact":
    os.remove(art(2))
elif case == "delete_artifact_sig":
    os.remove(art(3, "sig"))
elif case == "extra_file":
    open("artifacts/notes.txt", "w").write("hello")
elif case == "extra_artifact":
    shutil.copy(art(1), art(last + 1))
elif case == "rename_artifact":
    os.rename(art(2), art(2).replace(".json", ".jsn"))
elif case == "symlink_artifact":
    os.remove(art(2))
    os.symlink("/etc/passwd", art(2))
elif case == "symlink_dir":
    shutil.move("artifacts", "../%s-real-artifacts" % os.path.basename(dst))
    os.symlink(os.path.abspath("../%s-real-artifacts" % os.path.basename(dst)), "artifacts")
elif case == "empty_dir":
    os.mkdir("artifacts/extra")
elif case == "fifo_in_bundle":
    os.mkfifo("artifacts/pipe")
elif case == "absolute_path_resigned":
    m["files"].insert(0, {"path": "/etc/passwd", "sha256": "00" * 32, "size": 1})
    write_manifest(m)
elif case == "dotdot_path_resigned":
    m["files"].append({"path": "artifacts/../../outside", "sha256": "00" * 32, "size": 1})
    m["files"].sort(key=lambda f: f["path"].encode())
    write_manifest(m)
elif case == "symlink_listed_resigned":
    # A path a bundle may hold, listed with the hash of what the link points at.
    if os.path.lexists("VERIFY.md"):
        os.remove("VERIFY.md")
    m["files"] = [f for f in m["files"] if f["path"] != "VERIFY.md"]
    os.symlink("/etc/hostname", "VERIFY.md")
    data = open("/etc/hostname", "rb").read()
    m["files"].append({"path": "VERIFY.md", "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    m["files"].sort(key=lambda f: f["path"].encode())
    write_manifest(m)
elif case == "unsorted_paths_resigned":
    m["files"].reverse()
    write_manifest(m)
elif case == "duplicate_path_resigned":
    m["files"].insert(1, dict(m["files"][1]))
    write_manifest(m)
elif case == "gap_resigned":
    os.remove(art(2))
    os.remove(art(2, "sig"))
    m["files"] = [f for f in m["files"] if not f["path"].startswith(art(2)[:-4])]
    write_manifest(m)
elif case == "reorder_resigned":
    for ext in ("json", "sig"):
        a, b = open(art(2, ext), "rb").read(), open(art(3, ext), "rb").read()
        open(art(2, ext), "wb").write(b)
        open(art(3, ext), "wb").write(a)
    rehash(m)
    write_manifest(m)
elif case == "duplicate_artifact_resigned":
    for ext in ("json", "sig"):
        shutil.copy(art(2, ext), art(3, ext))
    rehash(m)
    write_manifest(m)
elif case == "truncated_chain_resigned":
    # Drop the head record and claim the shorter chain: caught only by a checkpoint
    # or by comparing with the expected head; here the manifest still names the old head.
    for ext in ("json", "sig"):
        os.remove(art(last, ext))
    m["files"] = [f for f in m["files"] if not f["path"].startswith(art(last)[:-4])]
    m["to_seq"] = last - 1
    write_manifest(m)
elif case == "wrong_head_hash_resigned":
    m["head_hash"] = "sha256:" + "ab" * 32
    write_manifest(m)
elif case == "wrong_base_hash_resigned":
    m["base_hash"] = "sha256:" + "cd" * 32
    write_manifest(m)
elif case == "splice_foreign_resigned":
    # A valid artifact from another chain, with its valid signature, in place of the last.
    for ext in ("json", "sig"):
        shutil.copy(os.path.join(foreign, art(last, ext)), art(last, ext))
    rehash(m)
    m["head_hash"] = art_hash(last)
    write_manifest(m)
elif case == "chain_id_changed_resigned":
    a = json.load(open(art(last)))
    a["chain_id"] = "other"
    resign_artifact(last, a)
    rehash(m)
    m["head_hash"] = art_hash(last)
    write_manifest(m)
elif case == "seq_changed_resigned":
    a = json.load(open(art(last)))
    a["seq"] = last + 5
    resign_artifact(last, a)
    rehash(m)
    m["head_hash"] = art_hash(last)
    write_manifest(m)
elif case == "noncanonical_artifact_resigned":
    a = json.load(open(art(last)))
    resign_artifact(last, raw=json.dumps(a, indent=1, sort_keys=True).encode())
    rehash(m)
    m["head_hash"] = art_hash(last)
    write_manifest(m)
elif case == "duplicate_key_artifact_resigned":
    raw = open(art(last), "rb").read()
    raw = raw.replace(b'"chain_id":', b'"chain_id":"x","chain_id":', 1)
    resign_artifact(last, raw=raw)
    rehash(m)
    m["head_hash"] = art_hash(last)
    write_manifest(m)
elif case == "duplicate_key_manifest_resigned":
    raw = canon(m).replace(b'"chain_id":', b'"chain_id":"x","chain_id":', 1)
    write_manifest(m, raw=raw)
elif case == "noncanonical_manifest_resigned":
    write_manifest(m, raw=json.dumps(m, indent=2, sort_keys=True).encode())
elif case == "unknown_member_manifest_resigned":
    m["extra"] = 1
    write_manifest(m)
elif case == "deep_nesting_artifact_resigned":
    a = json.load(open(art(last)))
    deep = 0
    for _ in range(500):
        deep = [deep]
    a["context"]["deep"] = deep
    resign_artifact(last, a)
    rehash(m)
    m["head_hash"] = art_hash(last)
    write_manifest(m)
elif case == "huge_artifact_resigned":
    a = json.load(open(art(last)))
    a["context"]["pad"] = "x" * (9 << 20)
    resign_artifact(last, a)
    rehash(m)
    m["head_hash"] = art_hash(last)
    write_manifest(m)
elif case == "other_key_sig_resigned":
    resign_artifact(last, json.load(open(art(last))), keyfile=other_key)
    rehash(m)
    write_manifest(m)
elif case == "swapped_sigs_resigned":
    a, b = open(art(1, "sig"), "rb").read(), open(art(2, "sig"), "rb").read()
    open(art(1, "sig"), "wb").write(b)
    open(art(2, "sig"), "wb").write(a)
    rehash(m)
    write_manifest(m)
elif case == "truncated_sig_resigned":
    open(art(2, "sig"), "r+b").truncate(50)
    rehash(m)
    write_manifest(m)
elif case == "alg_mismatch_resigned":
    a = json.load(open(art(last)))
    a["signer"]["algorithm"] = "ECDSA_SHA_256"
    open(art(last), "wb").write(canon(a))
    rehash(m)
    m["head_hash"] = art_hash(last)
    write_manifest(m)
elif case == "foreign_key_named_resigned":
    a = json.load(open(art(last)))
    a["signer"]["key_fingerprint"] = "sha256:" + "ef" * 32
    resign_artifact(last, a)
    rehash(m)
    m["head_hash"] = art_hash(last)
    write_manifest(m)
elif case.startswith("rot_"):
    def spki_of(keyfile):
        return subprocess.run(["openssl", "pkey", "-in", keyfile, "-pubout", "-outform", "DER"],
                              capture_output=True, check=True).stdout

    def fpr_of(der):
        return "sha256:" + hashlib.sha256(der).hexdigest()

    def pop_bytes(r):
        return canon({"type": "tfattest.rotation-pop", "chain_id": r["chain_id"], "seq": r["seq"],
                      "prev_hash": r["prev_hash"], "old_key_fingerprint": r["signer"]["key_fingerprint"],
                      "new_key_fingerprint": r["rotation"]["new_key_fingerprint"],
                      "new_algorithm": r["rotation"]["new_algorithm"]})

    def put_rotation(r, keyfile):
        # The same rotation record under keys/ and artifacts/, signed by keyfile.
        data = canon(r)
        sig = sign_with(data, keyfile, r["signer"]["algorithm"])
        for p in ("keys/000000000003", art(3)[:-5]):
            open(p + ".json", "wb").write(data)
            open(p + ".sig", "wb").write(sig)

    def relink(start):
        # Re-link and re-sign (with KEY) the records after a changed one.
        for s in range(start, last + 1):
            a = json.load(open(art(s)))
            a["prev_hash"] = art_hash(s - 1)
            resign_artifact(s, a)
        m["head_hash"] = art_hash(last)

    rot = json.load(open("keys/000000000003.json"))
    if case == "rot_pop_missing_resigned":
        del rot["rotation"]["pop_signature"]
        put_rotation(rot, old_key)
        relink(4)
    elif case == "rot_pop_wrong_resigned":
        # A proof of possession made by the old key instead of the new one.
        rot["rotation"]["pop_signature"] = base64.b64encode(
            sign_with(pop_bytes(rot), old_key, rot["signer"]["algorithm"])).decode()
        put_rotation(rot, old_key)
        relink(4)
    elif case == "rot_pop_other_seq_resigned":
        # A valid proof of possession, but for another place in the chain.
        moved = json.loads(json.dumps(rot))
        moved["seq"] = 2
        rot["rotation"]["pop_signature"] = base64.b64encode(
            sign_with(pop_bytes(moved), key, rot["rotation"]["new_algorithm"])).decode()
        put_rotation(rot, old_key)
        relink(4)
    elif case in ("rot_new_key_unsupported_resigned", "rot_new_key_garbage_resigned"):
        if case == "rot_new_key_unsupported_resigned":
            subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", "../ed.pem"],
                           check=True, capture_output=True)
            der = spki_of("../ed.pem")
        else:
            der = b"\x30\x03\x02\x01\x01"
        rot["rotation"]["new_public_key"] = base64.b64encode(der).decode()
        rot["rotation"]["new_key_fingerprint"] = fpr_of(der)
        put_rotation(rot, old_key)
        relink(4)
    elif case == "rot_forged_substitute_resigned":
        # Someone without the old key hands the chain to their own key: a valid
        # proof of possession, but the rotation is signed by the substitute.
        der = spki_of(other_key)
        rot["rotation"]["new_public_key"] = base64.b64encode(der).decode()
        rot["rotation"]["new_key_fingerprint"] = fpr_of(der)
        rot["rotation"]["new_algorithm"] = "ECDSA_SHA_256"
        rot["rotation"]["pop_signature"] = base64.b64encode(
            sign_with(pop_bytes(rot), other_key, "ECDSA_SHA_256")).decode()
        rot["signer"]["algorithm"] = "ECDSA_SHA_256"
        put_rotation(rot, other_key)
        for s in range(4, last + 1):
            a = json.load(open(art(s)))
            a["prev_hash"] = art_hash(s - 1)
            a["signer"]["key_fingerprint"] = fpr_of(der)
            a["signer"]["algorithm"] = "ECDSA_SHA_256"
            resign_artifact(s, a, keyfile=other_key)
        m["head_hash"] = art_hash(last)
        subprocess.run(["openssl", "pkey", "-in", other_key, "-pubout", "-out", "public_key.pem"], check=True)
        m["signer"] = {"key_fingerprint": fpr_of(der), "algorithm": "ECDSA_SHA_256"}
        rehash(m)
        open("manifest.json", "wb").write(canon(m))
        open("manifest.sig", "wb").write(sign_with(canon(m), other_key, "ECDSA_SHA_256"))
        sys.exit(0)
    elif case == "rot_old_key_after_resigned":
        # The record after the rotation, signed by the retired key.
        a = json.load(open(art(last)))
        a["signer"]["key_fingerprint"] = fpr_of(spki_of(old_key))
        a["signer"]["algorithm"] = rot["signer"]["algorithm"]
        resign_artifact(last, a, keyfile=old_key)
        m["head_hash"] = art_hash(last)
    elif case == "rot_manifest_unreachable_resigned":
        # A manifest signed by a key no rotation in the bundle leads to.
        der = spki_of(other_key)
        subprocess.run(["openssl", "pkey", "-in", other_key, "-pubout", "-out", "public_key.pem"], check=True)
        m["signer"] = {"key_fingerprint": fpr_of(der), "algorithm": "ECDSA_SHA_256"}
        rehash(m)
        open("manifest.json", "wb").write(canon(m))
        open("manifest.sig", "wb").write(sign_with(canon(m), other_key, "ECDSA_SHA_256"))
        sys.exit(0)
    elif case == "rot_keys_dropped_resigned":
        # Hide the rotation: the bundle then claims the current key as its anchor.
        shutil.rmtree("keys")
        m["files"] = [f for f in m["files"] if not f["path"].startswith("keys/")]
    elif case == "rot_unlisted_rotation_resigned":
        # The rotation is in the range but left out of keys/, with the key file of the
        # key that only it named (its signer), so that keys/ is consistent in itself.
        signer = json.load(open("keys/000000000003.json"))["signer"]["key_fingerprint"][7:]
        gone = ["keys/000000000003.json", "keys/000000000003.sig", "keys/%s.pem" % signer]
        if not [p for p in os.listdir("keys") if p.endswith(".json") and p != "000000000003.json"]:
            gone += ["keys/" + p for p in os.listdir("keys") if p.endswith(".pem")]  # none is named now
        for p in sorted(set(gone)):
            os.remove(p)
        if not os.listdir("keys"):
            os.rmdir("keys")
        m["files"] = [f for f in m["files"] if f["path"] not in gone]
    elif case == "rot_pem_mismatch_resigned":
        pems = sorted(p for p in os.listdir("keys") if p.endswith(".pem"))
        shutil.copy("keys/" + pems[0], "keys/" + pems[1])
    else:
        sys.exit("unknown case " + case)
    rehash(m)
    write_manifest(m)
elif case == "own_checkpoint_flipped_resigned":
    lines = open("checkpoint.ckpt", "rb").read().split(b"\n")
    sig = bytearray(base64.b64decode(lines[2][4:]))
    sig[10] ^= 1
    lines[2] = b"sig " + base64.b64encode(bytes(sig))
    open("checkpoint.ckpt", "wb").write(b"\n".join(lines))
    rehash(m)
    write_manifest(m)
elif case == "truncated_consistent_resigned":
    # Drop the head record and re-sign a manifest that is consistent with the rest:
    # it verifies on its own; only a checkpoint of the real head exposes it.
    for ext in ("json", "sig"):
        os.remove(art(last, ext))
    m["files"] = [f for f in m["files"] if not f["path"].startswith(art(last)[:-4])]
    if os.path.exists("checkpoint.ckpt"):
        os.remove("checkpoint.ckpt")
        m["files"] = [f for f in m["files"] if f["path"] != "checkpoint.ckpt"]
    m["to_seq"] = last - 1
    m["head_hash"] = art_hash(last - 1)
    write_manifest(m)
else:
    sys.exit("unknown case " + case)
