"""Forges hostile bundles and stores for the key and bundle-content rules.

usage: forge.py CASE SRC DST [KEY...]

Copies SRC (a directory bundle, or a file store for the "store_" cases) to
DST and applies one forgery. Whatever the forgery leaves inconsistent that
is not the rule under test (hashes in the manifest, the manifest signature,
later records' prev_hash, head_hash) is redone, as an attacker holding the
signing keys would, so that each case breaks one rule only.

Keys are PEM private key files; each case says which it needs.
"""
import base64
import datetime
import hashlib
import json
import os
import shutil
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

GENESIS = "sha256:" + "0" * 64
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
# The DER SPKI prefix of a P-256 key with a compressed point (33 bytes follow).
P256_COMPRESSED_PREFIX = bytes.fromhex("3039301306072a8648ce3d020106082a8648ce3d030107032200")


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load_key(path):
    return serialization.load_pem_private_key(open(path, "rb").read(), None)


def alg_of(key):
    return "ECDSA_SHA_256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RSASSA_PSS_SHA_256"


def spki(key, compressed=False):
    pub = key.public_key()
    if compressed:
        point = pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
        return P256_COMPRESSED_PREFIX + point
    return pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def pem(der):
    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return ("-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n").encode()


def fpr(der):
    return "sha256:" + hashlib.sha256(der).hexdigest()


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sign(data, key, alg=None):
    alg = alg or alg_of(key)
    if alg == "ECDSA_SHA_256":
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    if alg == "RSASSA_PSS_SHA_256":
        return key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rotation(chain, seq, prev_hash, old_key, new_key, new_spki=None, when=None, old_spki=None):
    """A rotation record from old_key to new_key (new_spki, old_spki: their encodings), and its signature."""
    old_der = old_spki or spki(old_key)
    new_der = new_spki or spki(new_key)
    new_alg = alg_of(new_key)
    pop_doc = {"chain_id": chain, "new_algorithm": new_alg, "new_key_fingerprint": fpr(new_der),
               "old_key_fingerprint": fpr(old_der), "prev_hash": prev_hash, "seq": seq,
               "type": "tfattest.rotation-pop"}
    rec = {
        "chain_id": chain,
        "event": {"exit_code": 0, "status": "succeeded", "type": "rotate"},
        "prev_hash": prev_hash,
        "rotation": {"new_algorithm": new_alg, "new_backend": "file",
                     "new_key_fingerprint": fpr(new_der), "new_provenance": {"key_path": "k.pem"},
                     "new_public_key": base64.b64encode(new_der).decode(),
                     "old_public_key": base64.b64encode(old_der).decode(),
                     "pop_signature": base64.b64encode(sign(canon(pop_doc), new_key)).decode()},
        "schema_version": 2,
        "seq": seq,
        "signer": {"algorithm": alg_of(old_key), "backend": "file", "key_fingerprint": fpr(old_der)},
        "time": when or now(),
        "type": "tfattest.artifact",
    }
    data = canon(rec)
    return data, sign(data, old_key)


# ---- bundles -------------------------------------------------------------------------------

def art(seq, ext="json", d="artifacts"):
    return "%s/%012d.%s" % (d, seq, ext)


def read(p):
    return open(p, "rb").read()


def write(p, data):
    os.makedirs(os.path.dirname(p) or ".", exist_ok=True)
    if os.path.exists(p):
        os.chmod(p, 0o644)
    open(p, "wb").write(data)


class Bundle:
    def __init__(self):
        self.m = json.load(open("manifest.json"))

    def listed(self, path):
        return any(f["path"] == path for f in self.m["files"])

    def add(self, path, data=None):
        if data is not None:
            write(path, data)
        if not self.listed(path):
            self.m["files"].append({"path": path, "sha256": "", "size": 0})

    def remove(self, path):
        self.m["files"] = [f for f in self.m["files"] if f["path"] != path]
        os.remove(path)

    def put_artifact(self, seq, data, key, ext_sig=None, keys_too=False):
        self.add(art(seq), data)
        self.add(art(seq, "sig"), ext_sig if ext_sig is not None else sign(data, key))
        if keys_too:
            self.add(art(seq, d="keys"), data)
            self.add(art(seq, "sig", d="keys"), read(art(seq, "sig")))

    def relink(self, start, keys_by_fpr):
        """Re-chains artifacts start..to_seq after one changed, re-signing each."""
        prev = sha(read(art(start - 1))) if start > self.m["from_seq"] else None
        for seq in range(start, self.m["to_seq"] + 1):
            obj = json.loads(read(art(seq)))
            if prev is not None and obj["prev_hash"] != prev:
                obj["prev_hash"] = prev
                data = canon(obj)
                self.put_artifact(seq, data, keys_by_fpr[obj["signer"]["key_fingerprint"]])
            prev = sha(read(art(seq)))
        self.m["head_hash"] = prev

    def seal(self, key, fpr_=None, alg=None, sig=None):
        for f in self.m["files"]:
            data = read(f["path"])
            f["sha256"] = hashlib.sha256(data).hexdigest()
            f["size"] = len(data)
        self.m["files"].sort(key=lambda f: f["path"].encode())
        self.m["signer"] = {"algorithm": alg or alg_of(key), "key_fingerprint": fpr_ or fpr(spki(key))}
        data = canon(self.m)
        write("manifest.json", data)
        write("manifest.sig", sig(data) if sig else sign(data, key, alg))


def short_pss(data, key):
    """A valid RSASSA-PSS signature whose first byte is zero, with that byte removed."""
    for _ in range(20000):
        s = sign(data, key, "RSASSA_PSS_SHA_256")
        if s[0] == 0:
            return s[1:]
    sys.exit("no PSS signature with a leading zero byte")


def der_int(v, pad=False):
    """A DER INTEGER; pad adds a zero byte DER forbids (not minimal)."""
    b = v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")
    if b[0] & 0x80:
        b = b"\x00" + b
    if pad:
        b = b"\x00" + b
    return b"\x02" + bytes([len(b)]) + b


def der_seq(*parts):
    body = b"".join(parts)
    return b"\x30" + bytes([len(body)]) + body


def main():
    case, src, dst = sys.argv[1:4]
    keys = [load_key(os.path.abspath(k)) for k in sys.argv[4:]]
    shutil.copytree(src, dst, symlinks=True)
    os.chdir(dst)
    for root, dirs, files in os.walk("."):
        for n in dirs + files:
            os.chmod(os.path.join(root, n), 0o755 if n in dirs else 0o644)

    if case.startswith("store_"):
        return forge_store(case, keys)

    b = Bundle()
    by_fpr = {fpr(spki(k)): k for k in keys}
    last = b.m["to_seq"]
    chain = b.m["chain_id"]

    if case == "rot_retired_back":
        # KEYS: the key in force at the head, then a retired key it hands the chain back to.
        cur, old = keys
        data, sig = rotation(chain, last + 1, sha(read(art(last))), cur, old)
        b.m["to_seq"] = last + 1
        b.put_artifact(last + 1, data, cur, sig, keys_too=True)
        b.m["head_hash"] = sha(data)
        write("public_key.pem", pem(spki(old)))
        b.seal(old)
    elif case == "rot_retired_back_compressed":
        # KEYS: the key in force at the head, then a retired P-256 key it hands the chain
        # back to in its compressed encoding (another fingerprint), which then hands it on
        # to a fresh key, so that only the rotation's new key is not canonical.
        cur, old = keys
        comp = spki(old, True)
        nxt = ec.generate_private_key(ec.SECP256R1())
        data, sig = rotation(chain, last + 1, sha(read(art(last))), cur, old, comp)
        b.put_artifact(last + 1, data, cur, sig, keys_too=True)
        data, sig = rotation(chain, last + 2, sha(data), old, nxt, old_spki=comp)
        b.put_artifact(last + 2, data, old, sig, keys_too=True)
        b.m["to_seq"] = last + 2
        b.m["head_hash"] = sha(data)
        b.add("keys/%s.pem" % fpr(comp)[7:], pem(comp))
        b.add("keys/%s.pem" % fpr(spki(nxt))[7:], pem(spki(nxt)))
        write("public_key.pem", pem(spki(nxt)))
        b.seal(nxt)
    elif case.startswith("pubkey_"):
        # public_key.pem in another encoding (or another key type) than the canonical one.
        import subprocess
        if case == "pubkey_compressed":
            der = spki(keys[0], True)
        elif case == "pubkey_rsa_no_null":
            # rsaEncryption with the NULL parameters left out.
            pub = keys[0].public_key().public_bytes(serialization.Encoding.DER,
                                                    serialization.PublicFormat.PKCS1)
            alg = b"\x30\x0b\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"
            bits = b"\x00" + pub
            bitstr = b"\x03" + der_len(len(bits)) + bits
            body = alg + bitstr
            der = b"\x30" + der_len(len(body)) + body
        elif case == "pubkey_explicit_ec":
            der = subprocess.run(["openssl", "pkey", "-in", sys.argv[4], "-pubout", "-outform", "DER",
                                  "-ec_param_enc", "explicit"], capture_output=True, check=True).stdout
        else:
            sys.exit("unknown case " + case)
        write("public_key.pem", pem(der))
        b.seal(keys[0])
    elif case == "pubkey_rsa_pss_oid":
        # KEYS: an RSA-PSS key (id-RSASSA-PSS), which signs the manifest as the bundle's key.
        der = keys[0].public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
        write("public_key.pem", pem(der))
        b.seal(keys[0], fpr(der))
    elif case == "manifest_sig_rsa_short":
        b.seal(keys[0], sig=lambda d: short_pss(d, keys[0]))
    elif case == "artifact_sig_rsa_short":
        b.add(art(2, "sig"), short_pss(read(art(2)), keys[0]))
        b.seal(keys[0])
    elif case in ("manifest_sig_ecdsa_trailing", "manifest_sig_ecdsa_nonminimal", "manifest_sig_ecdsa_high_s"):
        def ecdsa(d):
            r, s = utils.decode_dss_signature(sign(d, keys[0]))
            if case.endswith("trailing"):
                return utils.encode_dss_signature(r, s) + b"\x00"
            if case.endswith("nonminimal"):
                return der_seq(der_int(r, pad=True), der_int(s))
            if s <= P256_ORDER // 2:
                s = P256_ORDER - s
            return utils.encode_dss_signature(r, s)
        b.seal(keys[0], sig=ecdsa)
    elif case == "extra_path":
        b.add("notes.txt", b"not a bundle file\n")
        b.seal(keys[0])
    elif case == "keys_sig_alone":
        b.add("keys/%012d.sig" % (last + 5), read(art(last, "sig")))
        b.seal(keys[0])
    elif case == "keys_pem_extra":
        # KEYS: the signing key, then a key no rotation names.
        b.add("keys/%s.pem" % fpr(spki(keys[1]))[7:], pem(spki(keys[1])))
        b.seal(keys[0])
    elif case == "keys_pem_missing":
        # KEYS: the signing key, then a key the rotations name whose .pem goes.
        b.remove("keys/%s.pem" % fpr(spki(keys[1]))[7:])
        b.seal(keys[0])
    elif case in ("keys_fork_link", "keys_fork_base", "keys_fork_head"):
        # KEYS: the rotation's old key, its new key, then the key signing the manifest.
        old, new, signer = keys
        rot = sorted(int(f["path"][5:17]) for f in b.m["files"]
                     if f["path"].startswith("keys/") and f["path"].endswith(".json"))
        if case == "keys_fork_link":
            seq = rot[1]  # the second rotation, linked to the first
        elif case == "keys_fork_base":
            seq = b.m["from_seq"] - 1
        else:
            seq = last + 1
        obj = json.loads(read(art(seq, d="keys")))
        if case == "keys_fork_base":
            # Same rotation, another record: a fork's copy with another time.
            t = datetime.datetime.strptime(obj["time"], "%Y-%m-%dT%H:%M:%SZ") - datetime.timedelta(seconds=1)
            data, sig = rotation(chain, seq, obj["prev_hash"], old, new, when=t.strftime("%Y-%m-%dT%H:%M:%SZ"))
        else:
            data, sig = rotation(chain, seq, sha(b"another fork"), old, new, when=obj["time"])
        b.add(art(seq, d="keys"), data)
        b.add(art(seq, "sig", d="keys"), sig)
        b.seal(signer)
    elif case == "rollback_hash":
        # KEYS: every key that signs a record from the rollback on.
        for seq in range(b.m["from_seq"], last + 1):
            obj = json.loads(read(art(seq)))
            if "rollback_to" in obj["event"]:
                obj["event"]["rollback_to"]["hash"] = sha(b"not the record rolled back to")
                b.put_artifact(seq, canon(obj), by_fpr[obj["signer"]["key_fingerprint"]])
                b.relink(seq + 1, by_fpr)
                if seq == last:
                    b.m["head_hash"] = sha(read(art(seq)))
                break
        else:
            sys.exit("no rollback record in the bundle")
        b.seal(keys[-1])
    elif case in ("genesis_prev", "genesis_base", "nonchar_context"):
        seq = b.m["from_seq"] if case == "genesis_base" else b.m["from_seq"] + 1
        obj = json.loads(read(art(seq)))
        if case == "nonchar_context":
            obj.setdefault("context", {})["host"] = "runner\uffff"
        else:
            obj["prev_hash"] = GENESIS
        b.put_artifact(seq, canon(obj), keys[0])
        if case == "genesis_base":
            b.m["base_hash"] = GENESIS
        b.relink(seq + 1, by_fpr)
        if seq == last:
            b.m["head_hash"] = sha(read(art(seq)))
        b.seal(keys[0])
    elif case == "rot_65th_key":
        # KEYS: the key in force at the head (the 64th). A 65th key is made here.
        cur = keys[0]
        new = ec.generate_private_key(ec.SECP256R1())
        data, sig = rotation(chain, last + 1, sha(read(art(last))), cur, new)
        b.m["to_seq"] = last + 1
        b.put_artifact(last + 1, data, cur, sig, keys_too=True)
        b.m["head_hash"] = sha(data)
        b.add("keys/%s.pem" % fpr(spki(new))[7:], pem(spki(new)))
        write("public_key.pem", pem(spki(new)))
        b.seal(new)
    else:
        sys.exit("unknown case " + case)


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def forge_store(case, keys):
    """A file store: records/NNNNNNNNNNNN.rec (record, hex signature), HEAD (the last seq)."""
    head = int(open("HEAD").read())
    rec = open("records/%012d.rec" % head, "rb").read().split(b"\n")
    chain = json.loads(open("chain.json").read())["chain_id"]
    if case in ("store_retired_back", "store_retired_back_compressed"):
        # KEYS: the key in force at the head, then a retired key.
        cur, old = keys
        data, sig = rotation(chain, head + 1, sha(rec[0]), cur, old,
                             spki(old, case.endswith("compressed")))
    else:
        sys.exit("unknown case " + case)
    p = "records/%012d.rec" % (head + 1)
    open(p, "wb").write(data + b"\n" + sig.hex().encode() + b"\n")
    os.chmod(p, 0o444)
    open("HEAD", "w").write("%d\n" % (head + 1))


if __name__ == "__main__":
    main()
