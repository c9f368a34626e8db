"""Builds tampered copies of a bundle for the hostile-bundle tests.

usage: tamper.py CASE SRC DST KEY OTHER_KEY FOREIGN_BUNDLE

Copies SRC to DST and applies one tampering. Cases whose name ends in
"_resigned" also rewrite manifest.json (canonical form) and re-sign it with
KEY, as an attacker holding the key, or a buggy exporter, would: they prove
the deeper layers catch what the manifest signature cannot.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

case, src, dst, key, other_key, foreign = sys.argv[1:7]
key, other_key, foreign = map(os.path.abspath, (key, other_key, foreign))
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


m = load_manifest()
last = m["to_seq"]

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
    os.symlink("/etc/hostname", "zz-link")
    data = open("/etc/hostname", "rb").read()
    m["files"].append({"path": "zz-link", "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
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
else:
    sys.exit("unknown case " + case)
