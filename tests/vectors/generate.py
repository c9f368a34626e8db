#!/usr/bin/python3
"""Rebuilds the tfattest conformance vectors deterministically.

    generate.py            write v/, kat/ and index.json next to this script
    generate.py --check    rebuild into a temporary directory and fail if
                           anything differs from what is committed
    generate.py --new-keys create the committed test keys (once; never needed
                           again unless keys/ is deleted)

Inputs: the test keys in keys/ (made for this suite, test use only), the
fixed times below, and the cached RFC 3161 tokens in tsa/ (keyed by the
checkpoint digest and nonce; a missing token is made with `openssl ts -reply`
and the test TSA in keys/tsa/, except under --check, which only reads).
Every signature is deterministic (see vlib.py) and checked with
python3-cryptography as it is made.
"""

import datetime
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import vlib  # noqa: E402
from vlib import canon, hhex, b64, sha256  # noqa: E402

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
except ImportError:  # pragma: no cover
    sys.stderr.write("generate.py: python3-cryptography is missing\n")
    sys.exit(77)

PSS, PKCS1, ECDSA = "RSASSA_PSS_SHA_256", "RSASSA_PKCS1_V1_5_SHA_256", "ECDSA_SHA_256"
GENESIS = "sha256:" + "0" * 64
T0 = datetime.datetime(2026, 1, 1, 0, 0, 0)
CREATED = "2026-02-01T00:00:00Z"
CKPT_TIME = "2026-02-01T00:00:00Z"
KEYS = os.path.join(HERE, "keys")
TSA_CACHE = os.path.join(HERE, "tsa")
CHECK = False


def ts(seq, extra_minutes=0):
    return (T0 + datetime.timedelta(minutes=seq + extra_minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def name12(seq):
    return "%012d" % seq


# ---------------------------------------------------------------- keys


class Key:
    """A test key: private numbers (for our own signing), its SPKI as the
    bundle carries it, and a default algorithm."""

    def __init__(self, label, kind, alg, priv, spki=None):
        self.label, self.kind, self.alg, self.priv = label, kind, alg, priv
        if kind == "rsa":
            self.spki = spki or vlib.rsa_spki(priv.n, priv.e)
            self.pub = rsa.RSAPublicNumbers(priv.e, priv.n).public_key()
        else:
            x, y = vlib.ec_mul(priv)
            self.xy = (x, y)
            self.spki = spki or vlib.ec_spki(x, y)
            self.pub = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        self.fp = hhex(self.spki)
        self.pem = vlib.pem(self.spki)

    def fits(self, alg):
        return (alg == ECDSA) == (self.kind == "ec")

    def sign(self, msg, alg=None, variant=None):
        """A signature over SHA-256(msg); the same inputs give the same bytes
        (memoized: the vectors re-sign the same documents many times)."""
        alg = alg or self.alg
        memo = (self.spki, alg, variant, sha256(msg))
        if memo not in SIGS:
            SIGS[memo] = self._sign(msg, alg, variant)
        return SIGS[memo]

    def _sign(self, msg, alg, variant):
        if self.kind == "rsa":
            if alg == PKCS1:
                sig = self.priv.sign_pkcs1(msg)
                self.pub.verify(sig, msg, padding.PKCS1v15(), hashes.SHA256())
                return sig
            assert alg == PSS
            slen = 20 if variant == "salt20" else 32
            # The salt: SHA-256(fingerprint || digest [|| counter]). For a
            # signature with a leading zero byte, counters are tried in turn
            # (about 256 private operations); the one found is cached.
            memo = "%s-%s" % (self.fp[7:23], sha256(msg).hex())
            ctr = SHORT_PSS.get(memo, 0) if variant == "short" else 0
            while True:
                seed = bytes.fromhex(self.fp[7:]) + sha256(msg) + (ctr.to_bytes(4, "big") if ctr else b"")
                sig = self.priv.sign_pss(msg, sha256(seed)[:slen])
                if variant != "short" or sig[0] == 0:
                    break
                ctr += 1
            if variant == "short":
                SHORT_PSS_USED[memo] = ctr
            self.pub.verify(sig, msg, padding.PSS(padding.MGF1(hashes.SHA256()), slen), hashes.SHA256())
            if variant == "short":
                sig = sig[1:]  # OpenSSL still accepts it; the format does not
            return sig
        assert alg == ECDSA
        r, s = vlib.ecdsa_sign(self.priv, msg)
        if variant == "highs" and s < vlib.N // 2:
            s = vlib.N - s
        sig = vlib.ecdsa_der(r, s)
        self.pub.verify(sig, msg, ec.ECDSA(hashes.SHA256()))
        if variant == "ber-int":
            sig = vlib.ecdsa_der(r, s, pad_r=1)
        elif variant == "trailing":
            sig = sig + b"\x00"
        return sig


SIGS = {}
SHORT_PSS_FILE = os.path.join(HERE, "cache", "pss-leading-zero.json")
SHORT_PSS = json.load(open(SHORT_PSS_FILE)) if os.path.exists(SHORT_PSS_FILE) else {}
SHORT_PSS_USED = {}
KEYFILES = {"rsa-a": ("rsa", 2048, PSS), "ec-b": ("ec", 0, ECDSA), "rsa-c": ("rsa", 3072, PKCS1),
            "rsa-1024": ("rsa", 1024, PKCS1), "rsa-e3": ("rsa", 2048, PKCS1)}


def new_keys():
    os.makedirs(KEYS, exist_ok=True)
    for label, (kind, bits, _) in KEYFILES.items():
        path = os.path.join(KEYS, label + ".pem")
        if os.path.exists(path):
            continue
        if kind == "rsa":
            k = rsa.generate_private_key(public_exponent=3 if label == "rsa-e3" else 65537, key_size=bits)
        else:
            k = ec.generate_private_key(ec.SECP256R1())
        with open(path, "wb") as f:
            f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    tsadir = os.path.join(KEYS, "tsa")
    # The test TSA, and (from another run, so under another root key) a TSA
    # certificate whose extended key usage is not critical, with its CA.
    for want, copies in (("tsa.key", {"ca.pem": "ca.pem", "tsa.pem": "tsa.pem", "tsa.key": "tsa.key"}),
                         ("tsa-noncrit.key", {"ca.pem": "noncrit-ca.pem", "tsa-noncrit.pem": "tsa-noncrit.pem",
                                              "tsa-noncrit.key": "tsa-noncrit.key"})):
        if os.path.exists(os.path.join(tsadir, want)):
            continue
        tmp = tempfile.mkdtemp()
        try:
            subprocess.run(["sh", os.path.join(HERE, "..", "tsa", "make-ca.sh"), tmp], check=True,
                           stdout=subprocess.DEVNULL)
            os.makedirs(tsadir, exist_ok=True)
            for f, to in copies.items():
                shutil.copy(os.path.join(tmp, f), os.path.join(tsadir, to))
        finally:
            shutil.rmtree(tmp)


def load_key(label):
    kind, _, alg = KEYFILES[label]
    with open(os.path.join(KEYS, label + ".pem"), "rb") as f:
        k = serialization.load_pem_private_key(f.read(), None)
    if kind == "rsa":
        pn = k.private_numbers()
        priv = vlib.RsaPriv(pn.public_numbers.n, pn.public_numbers.e, pn.d, pn.p, pn.q)
        key = Key(label, "rsa", alg, priv)
    else:
        key = Key(label, "ec", alg, k.private_numbers().private_value)
    # Our DER is OpenSSL's i2d_PUBKEY output for the key.
    assert key.spki == k.public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    return key


def derived_ec_key(i):
    """EC key number i of the long chains: its scalar is a hash of a label."""
    d = int.from_bytes(sha256(b"tfattest test vectors: derived P-256 key %d" % i), "big") % (vlib.N - 1) + 1
    return Key("derived-%d" % i, "ec", ECDSA, d)


def rot_last_files(S):
    return S.vectors[-1]["_files"]


class Link(bytes):
    """A symbolic link in a directory bundle; the bytes are its target."""


# ---------------------------------------------------------------- chains


class Rec:
    def __init__(self, seq, obj, data, sig, key, rotation_key=None):
        self.seq, self.obj, self.data, self.sig, self.key = seq, obj, data, sig, key
        self.hash = hhex(data)
        self.rotation_key = rotation_key  # the new key, for a rotation record


class Chain:
    """Builds a chain step by step; hooks change one record (by seq) and
    everything after it is built on the changed bytes, consistently."""

    def __init__(self, chain_id, anchor, steps, hooks=None):
        hooks = hooks or {}
        self.chain_id, self.anchor, self.recs = chain_id, anchor, []
        key, prev = anchor, GENESIS
        self.keys_in_force = [anchor]
        for i, step in enumerate(steps, 1):
            h = hooks.get(i, {})
            signer = h.get("signkey", key)
            obj = {"type": "tfattest.artifact", "schema_version": 1, "chain_id": chain_id, "seq": i,
                   "prev_hash": prev, "time": ts(i),
                   "event": {"type": step.get("ev", "apply"), "status": "succeeded", "exit_code": 0},
                   "signer": {"key_fingerprint": signer.fp, "algorithm": signer.alg, "backend": "file",
                              "provenance": {"key_path": "keys/%s.pem" % signer.label}}}
            if step.get("terraform"):
                obj["terraform"] = {"plan_sha256": hhex(b"plan %d" % i), "plan_format_version": "1.2",
                                    "changes": [{"action": "create", "address": "null_resource.r%d" % i}],
                                    "counts": {"create": 1, "update": 0, "delete": 0, "replace": 0,
                                               "read": 0, "no-op": 0, "forget": 0, "other": 0}}
            if step.get("ev") == "rollback":
                obj["event"]["rollback_to"] = {"seq": step["to"], "hash": self.recs[step["to"] - 1].hash}
            if step.get("spool"):
                obj["event"]["spool"] = {"id": sha256(b"spool %d" % i).hex()[:32], "deployed_at": ts(i, -30),
                                         "spooled_at": ts(i, -29)}
            newkey = step.get("rotate")
            if newkey:
                obj["schema_version"] = 2
                obj["event"] = {"type": "rotate", "status": "succeeded", "exit_code": 0}
                pop = {"chain_id": chain_id, "new_algorithm": newkey.alg, "new_key_fingerprint": newkey.fp,
                       "old_key_fingerprint": signer.fp, "prev_hash": prev, "seq": i,
                       "type": "tfattest.rotation-pop"}
                pop_key = h.get("popkey", newkey)
                obj["rotation"] = {"new_key_fingerprint": newkey.fp, "new_algorithm": newkey.alg,
                                   "new_public_key": b64(newkey.spki), "old_public_key": b64(signer.spki),
                                   "pop_signature": b64(pop_key.sign(canon(pop), newkey.alg)),
                                   "new_backend": "file", "new_provenance": {"key_path": "keys/%s.pem" %
                                                                             newkey.label}}
            if "obj" in h:
                obj = h["obj"](obj) or obj
            data = canon(obj)
            if "bytes" in h:
                data = h["bytes"](data)
            alg = obj["signer"].get("algorithm")
            sig = signer.sign(data, alg if signer.fits(alg) else signer.alg, h.get("sigvariant"))
            if "sig" in h:
                sig = h["sig"](sig)
            rec = Rec(i, obj, data, sig, signer, newkey)
            self.recs.append(rec)
            prev = rec.hash
            if newkey:
                key = newkey
                self.keys_in_force.append(newkey)
        self.head_key = key

    def rec(self, seq):
        return self.recs[seq - 1]

    def key_after(self, seq):
        """The key in force after seq (the one that signs seq + 1)."""
        k = self.anchor
        for r in self.recs[:seq]:
            if r.rotation_key:
                k = r.rotation_key
        return k

    def rotations(self):
        return [r for r in self.recs if r.rotation_key]


# ---------------------------------------------------------------- checkpoints

TSA_NONCE = "7466617474657374"  # "tfattest"


def tsa_token(digest, nonce_hex, cert_req=True, signer=None):
    """The cached token for digest and nonce; without cert_req, the request
    asks for no certificate, so the token carries none. With signer (a
    keys/tsa/ name whose certificate `openssl ts -reply` refuses, such as
    tsa-noncrit), the TSTInfo of a token made without the TSA name is signed
    again by that certificate with `openssl cms -sign -cades` (which adds the
    ESS signingCertificateV2 attribute)."""
    name = "%s-%s%s%s.tsr" % (digest.hex(), nonce_hex, "" if cert_req else "-nocert",
                              "-" + signer if signer else "")
    path = os.path.join(TSA_CACHE, name)
    if os.path.exists(path):
        with open(path, "rb") as f:
            return f.read()
    if CHECK:
        raise SystemExit("generate.py: no cached timestamp %s (run generate.py to make it)" % name)
    req = vlib.seq(vlib.der_int(1),
                   vlib.seq(vlib.seq(vlib.der_oid("2.16.840.1.101.3.4.2.1"), vlib.NULL), vlib.tlv(0x04, digest)),
                   vlib.der_int(int(nonce_hex, 16)), *([vlib.tlv(0x01, b"\xff")] if cert_req else []))
    tmp = tempfile.mkdtemp()
    try:
        td = os.path.join(KEYS, "tsa")
        with open(os.path.join(tmp, "serial"), "w") as f:
            f.write("01\n")
        with open(os.path.join(tmp, "tsa.cnf"), "w") as f:
            f.write("[ tsa ]\ndefault_tsa = s\n[ s ]\nserial = %s/serial\ncrypto_device = builtin\n"
                    "signer_cert = %s/tsa.pem\nsigner_key = %s/tsa.key\nsigner_digest = sha256\n"
                    "default_policy = 1.3.6.1.4.1.4146.2.3.999\ndigests = sha256\naccuracy = secs:1\n"
                    "ordering = no\ntsa_name = %s\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n"
                    % (tmp, td, td, "no" if signer else "yes"))
        with open(os.path.join(tmp, "q.tsq"), "wb") as f:
            f.write(req)
        subprocess.run(["openssl", "ts", "-reply", "-config", os.path.join(tmp, "tsa.cnf"), "-queryfile",
                        os.path.join(tmp, "q.tsq"), "-out", os.path.join(tmp, "r.tsr")], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(tmp, "r.tsr"), "rb") as f:
            tok = f.read()
        if signer:
            t = lambda f: os.path.join(tmp, f)  # noqa: E731
            run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL,  # noqa: E731
                                            stderr=subprocess.DEVNULL)
            run("openssl", "ts", "-reply", "-in", t("r.tsr"), "-token_out", "-out", t("tok.der"))
            run("openssl", "cms", "-verify", "-noverify", "-inform", "DER", "-in", t("tok.der"), "-binary",
                "-out", t("tstinfo.der"))
            run("openssl", "cms", "-sign", "-binary", "-nodetach", "-cades", "-nosmimecap", "-md", "sha256",
                "-econtent_type", "1.2.840.113549.1.9.16.1.4", "-in", t("tstinfo.der"), "-signer",
                os.path.join(td, signer + ".pem"), "-inkey", os.path.join(td, signer + ".key"), "-outform", "DER",
                "-out", t("tok2.der"))
            with open(t("tok2.der"), "rb") as f:
                tok = vlib.seq(vlib.seq(vlib.der_int(0)), f.read())
    finally:
        shutil.rmtree(tmp)
    os.makedirs(TSA_CACHE, exist_ok=True)
    with open(path, "wb") as f:
        f.write(tok)
    return tok


def checkpoint(chain, seq, key=None, obj_hook=None, tsa=False, tsa_digest_of=None, nonce=None, raw_hook=None,
               sigvariant=None, tsa_cert_req=True, tsa_hook=None, tsa_signer=None):
    key = key or chain.key_after(seq)
    obj = {"type": "tfattest.checkpoint", "schema_version": 1, "chain_id": chain.chain_id, "seq": seq,
           "head_hash": chain.rec(seq).hash, "time": CKPT_TIME,
           "signer": {"key_fingerprint": key.fp, "algorithm": key.alg}}
    if obj_hook:
        obj = obj_hook(obj) or obj
    doc = canon(obj)
    sig = key.sign(doc, key.alg, sigvariant)
    out = b"tfattest-checkpoint 1\n" + doc + b"\nsig " + b64(sig).encode() + b"\n"
    if tsa:
        tok = tsa_token(sha256(tsa_digest_of or doc), TSA_NONCE, tsa_cert_req, tsa_signer)
        if tsa_hook:
            tok = tsa_hook(tok)
        out += b"tsa " + (nonce or TSA_NONCE).encode() + b" " + b64(tok).encode() + b"\n"
    if raw_hook:
        out = raw_hook(out)
    return out


# ---------------------------------------------------------------- bundles


def bundle(chain, frm, to, mkey=None, malg=None, ckpt=None, verify_md=False, files_hook=None, listing_hook=None,
           manifest_hook=None, mbytes_hook=None, msig_variant=None, msig_hook=None, after_hook=None,
           keys_override=None, public_pem=None, ekey=None, exporter_pem=None):
    """The files of a bundle of chain[frm..to], exported at the chain's head.

    With ekey, the manifest is exporter-signed (schema 2): ekey signs it and is carried in
    exporter_key.pem (exporter_pem instead, when given), while public_key.pem holds the
    chain's key in force at export as in any bundle."""
    mkey = ekey or mkey or chain.head_key
    files = {"public_key.pem": public_pem or (chain.head_key.pem if ekey else mkey.pem)}
    if ekey:
        files["exporter_key.pem"] = exporter_pem or ekey.pem
    for s in range(frm, to + 1):
        r = chain.rec(s)
        files["artifacts/%s.json" % name12(s)] = r.data
        files["artifacts/%s.sig" % name12(s)] = r.sig
    rots = chain.rotations()
    for r in rots:
        r = (keys_override or {}).get(r.seq, r)
        files["keys/%s.json" % name12(r.seq)] = r.data
        files["keys/%s.sig" % name12(r.seq)] = r.sig
    if rots:
        for k in [chain.anchor] + [r.rotation_key for r in rots]:
            files["keys/%s.pem" % k.fp[7:]] = k.pem
    if ckpt is not None:
        files["checkpoint.ckpt"] = ckpt
    if verify_md:
        files["VERIFY.md"] = (b"# Verifying this bundle\n\nA conformance vector of tfattest; see "
                              b"docs/FORMAT.md.\n")
    if files_hook:
        files = files_hook(files) or files
    listing = [{"path": p, "sha256": sha256(d).hex(), "size": len(d)} for p, d in sorted(files.items())]
    if listing_hook:
        listing = listing_hook(listing) or listing
    man = {"type": "tfattest.manifest", "schema_version": 1, "chain_id": chain.chain_id, "from_seq": frm,
           "to_seq": to, "base_hash": chain.rec(frm).obj["prev_hash"], "head_hash": chain.rec(to).hash,
           "created": CREATED, "signer": {"key_fingerprint": mkey.fp, "algorithm": malg or mkey.alg},
           "files": listing}
    if ekey:
        man["schema_version"] = 2
        man["kind"] = "exporter-signed"
    if manifest_hook:
        man = manifest_hook(man) or man
    mb = canon(man)
    if mbytes_hook:
        mb = mbytes_hook(mb)
    msig = mkey.sign(mb, malg if malg and mkey.fits(malg) else mkey.alg, msig_variant)
    if msig_hook:
        msig = msig_hook(msig)
    files["manifest.json"] = mb
    files["manifest.sig"] = msig
    if after_hook:
        files = after_hook(files) or files
    return files


def archive_order(files):
    first = [n for n in ("manifest.json", "manifest.sig") if n in files]
    return [(n, files[n]) for n in first] + [(n, files[n]) for n in sorted(files) if n not in first]


def to_tgz(files):
    return vlib.gzip_bytes(vlib.tar_bytes(archive_order(files), mtime_of(CREATED)))


def to_zip(files, method=8):
    return vlib.zip_bytes(archive_order(files), CREATED, method=method)


def mtime_of(t):
    return int((datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ") - datetime.datetime(1970, 1, 1))
               .total_seconds())


# ---------------------------------------------------------------- helpers for single changes


def setp(path, value):
    """An obj hook setting a member by a dotted path (None deletes it)."""
    def hook(obj):
        parts = path.split(".")
        o = obj
        for p in parts[:-1]:
            o = o[p]
        if value is None:
            del o[parts[-1]]
        else:
            o[parts[-1]] = value
        return obj
    return hook


def flip_last(b):
    return b[:-1] + bytes([b[-1] ^ 1])


def flip_mid(b):
    i = len(b) // 2
    return b[:i] + bytes([b[i] ^ 0x40]) + b[i + 1:]


def rename(old, new):
    def hook(files):
        files[new] = files.pop(old)
        return files
    return hook


def add_file(path, data):
    def hook(files):
        files[path] = data
        return files
    return hook


def drop(*paths):
    def hook(files):
        for p in paths:
            del files[p]
        return files
    return hook


def insert_dup_member(data, name, value):
    """Repeats the member `name` (with `value`) right after itself, so the
    members stay in canonical order and only the duplicate is wrong."""
    m = canon(name) + b":" + canon(value)
    assert data.count(m) == 1
    return data.replace(m, m + b"," + m)


# ---------------------------------------------------------------- the vectors


# Rules that decisions A (archives), B (keys and signatures) and C (bundle
# contents) of the format's hardening added or made explicit.
DECISION = {"rsa-signature-length": "B", "key-canonical-encoding": "B", "ecdsa-high-s-accepted": "B",
            "ecdsa-strict-der": "B", "pss-salt-32": "B", "bundle-path-set": "C", "seq-in-names": "C",
            "keys-pairs": "C", "keys-pem-set": "C", "keys-linked-base": "C", "keys-linked-head": "C",
            "keys-linked-adjacent": "C", "rollback-hash-matches": "C", "genesis-only-seq-1": "C",
            "at-most-64-keys": "C", "ijson-noncharacters": "C", "checkpoint-key-after-seq": "C"}


# The FORMAT.md rules (§10 ids) each vector exercises: for an invalid vector,
# the rule it breaks (several ids when one change breaks one requirement that
# several rules state); for a valid one, the allowance, boundary or note it
# shows, or none. coverage.py holds this list to FORMAT.md §10.
RULES = {
    "key-rsa-e3": ["R-1.3-1"], "keys-seq1-not-genesis": ["R-3-5"],
    # valid
    "valid-pss": [], "valid-pkcs1": [], "valid-ecdsa": [], "valid-ecdsa-high-s": ["R-2-4"],
    "valid-unpinned": ["R-6.1-1"], "valid-verify-md": [], "valid-rotation": [], "valid-rotation-tgz": [],
    "valid-rotation-zip": [], "valid-rotation-zip-stored": [], "valid-require-genesis": ["R-6.2-1"],
    "valid-range-middle": [], "valid-range-middle-tgz": [], "valid-range-middle-zip": [], "valid-range-first": [],
    "valid-range-last": [], "valid-range-rotation-inside": ["R-6.4-4"], "valid-checkpoint": ["R-6.1-2"],
    "valid-checkpoint-tsa": ["R-6.6-7"], "valid-checkpoint-tsa-unchecked": ["R-6.1-3"],
    "valid-checkpoint-rotation-head": ["R-6.6-5"], "valid-checkpoint-base": ["R-6.6-4", "R-6.6-6"],
    "valid-checkpoint-tgz": [], "valid-unknown-members-ignored": ["R-3-6", "R-3-7"], "valid-checkpoint-zip": [],
    "valid-64-keys": ["R-4-2"], "valid-nesting-128": ["R-1.1-3"], "manifest-alg-pkcs1-for-pss": ["R-2-1"],
    "valid-informational-any-type": ["R-3-7"],
    "valid-identity": [], "valid-identity-unknown-members": ["R-3-6"],
    "valid-exporter-signed": ["R-6.1-4"], "valid-exporter-signed-unpinned": ["R-6.1-1", "R-6.1-4"],
    "valid-exporter-signed-rotation": ["R-6.2-6"], "valid-exporter-signed-tgz": ["R-6.2-1"],
    "valid-exporter-signed-zip": [],
    # exporter-signed manifests
    "exporter-kind-in-schema-1": ["R-5.2-1"], "exporter-kind-unknown": ["R-5.2-1"],
    "exporter-key-unlisted": ["R-5.2-12"], "exporter-key-in-schema-1": ["R-5.2-12"],
    "exporter-claims-chain-signed": ["R-6.2-4"], "exporter-claims-chain-own-public-key": ["R-6.2-2"],
    "exporter-key-is-chain-key": ["R-6.2-8"], "exporter-key-is-retired-chain-key": ["R-6.2-8"],
    "exporter-key-pem-other-key": ["R-6.2-7"], "exporter-public-key-not-key-in-force": ["R-6.2-6"],
    "exporter-signed-by-chain-key": ["R-2-5"], "exporter-key-rsa-1024": ["R-1.3-1"],
    "exporter-key-pem-crlf": ["R-1.3-2"], "exporter-key-hash-mismatch": ["R-6.3-1"],
    "exporter-require-chain-manifest": ["R-6.2-9"],
    # the manifest's optional writer
    "valid-writer": ["R-5.2-13"], "valid-writer-absent": ["R-5.2-14"], "valid-writer-bounds": ["R-5.2-13"],
    "valid-writer-exporter-signed-zip": ["R-5.2-14"], "writer-not-object": ["R-5.2-13"],
    "writer-version-number": ["R-5.2-13"], "writer-missing-version": ["R-5.2-13"],
    "writer-extra-member": ["R-5.2-13"], "writer-version-empty": ["R-5.2-13"],
    "writer-version-too-long": ["R-5.2-13"], "writer-name-too-long": ["R-5.2-13"],
    "writer-version-space": ["R-5.2-13"], "writer-version-slash": ["R-5.2-13"],
    "writer-version-non-ascii": ["R-5.2-13"], "writer-name-control": ["R-5.2-13"],
    # layer 1: the manifest
    "manifest-unknown-member": ["R-5.2-1"], "manifest-type": ["R-5.2-1"], "manifest-schema-version": ["R-5.2-1"],
    "manifest-missing-created": ["R-5.2-1"], "manifest-signer-extra-member": ["R-5.2-1"],
    "manifest-file-extra-member": ["R-5.2-1"], "manifest-files-unsorted": ["R-5.2-2"],
    "manifest-files-duplicate": ["R-5.2-2"], "manifest-to-before-from": ["R-5.2-1"],
    "manifest-created-invalid": ["R-5.2-1"], "manifest-not-canonical": ["R-1.1-2"],
    "manifest-duplicate-member": ["R-1.1-1"], "manifest-trailing-newline": ["R-1.1-2"],
    "manifest-sig-corrupt": ["R-2-5"], "manifest-sig-short": ["R-2-2"], "manifest-alg-mismatch": ["R-2-1"],
    "manifest-missing-artifact": ["R-5.2-5"], "manifest-missing-artifact-sig": ["R-5.2-5"],
    "manifest-extra-artifact": ["R-5.2-5"], "manifest-public-key-unlisted": ["R-5.2-3"],
    "manifest-sig-missing": ["R-5-1"], "manifest-lists-manifest": ["R-5-1", "R-5.2-2"],
    "path-extra-top-level": ["R-5-1"], "path-extra-artifacts-file": ["R-5-1"], "path-hidden-component": ["R-5.1-1"],
    "path-keys-uppercase-pem": ["R-5-1"], "path-keys-seq-zero": ["R-5-1"], "path-five-components": ["R-5.1-1"],
    "manifest-alg-unknown": ["R-5.2-1"], "public-key-pem-other-key": ["R-6.2-5"],
    "manifest-signer-not-key-in-force": ["R-6.2-4"], "genesis-base-hash-range": ["R-5.2-4"],
    "pem-line-length-76": ["R-1.3-2"], "pem-crlf": ["R-1.3-2"], "keys-pem-line-length-76": ["R-1.3-2", "R-5.2-8"],
    # layer 1: pinning
    "pin-mismatch": ["R-6.2-2"], "pin-near-miss": ["R-6.2-2"], "pin-rotated-anchor": ["R-6.2-2"],
    "require-genesis-range": ["R-6.2-1"],
    # layer 1: keys
    "key-ec-compressed": ["R-1.3-1"], "key-rsa-absent-null": ["R-1.3-1"], "key-rsa-pss-oid": ["R-1.3-1"],
    "key-rsa-1024": ["R-1.3-1"], "key-ec-hybrid": ["R-1.3-1"],
    "rotation-retired-key-back-compressed": ["R-1.3-1", "R-3.5-2"], "key-ec-explicit-params": ["R-1.3-1"],
    "key-rotation-to-compressed": ["R-1.3-1", "R-3.5-2"],
    # layer 1: rotations and keys/
    "rotation-retired-key-back": ["R-4-1"], "rotation-retired-key-back-range": ["R-4-1"],
    "rotation-pop-bad": ["R-3.5-4"], "rotation-new-fp-mismatch": ["R-3.5-2"], "rotation-old-key-mismatch": ["R-3.5-2"],
    "rotation-same-key": ["R-3.5-3"], "rotation-alg-unfit": ["R-2-1"], "rotation-schema-version-1": ["R-3-4"],
    "rotation-event-not-rotate": ["R-3-4"], "rotation-new-public-key-noncanonical-b64": ["R-1.6-1"],
    "rotation-b64-pad-bits": ["R-1.6-1"], "rotation-spool": ["R-3.1-2"], "rotation-exit-code": ["R-3.5-1"],
    "rotation-identity": ["R-3.6-1"], "rotation-idempotency-key": ["R-3.1-3"],
    "rotation-terraform": ["R-3.5-1"], "rotation-wrong-signer": ["R-6.2-3"],
    "keys-json-without-sig": ["R-5.2-6"], "keys-sig-without-json": ["R-5.2-6"], "keys-pem-missing": ["R-5.2-7"],
    "keys-pem-extra": ["R-5.2-7"], "keys-pem-wrong-key": ["R-5.2-8"], "keys-json-hash-mismatch": ["R-6.3-1"],
    "keys-base-unlinked": ["R-5.2-9"], "keys-head-unlinked": ["R-5.2-9"], "keys-unlinked-adjacent": ["R-5.2-9"],
    "keys-in-range-differs": ["R-6.4-4"], "keys-chain-id": ["R-5.2-11"], "keys-not-rotation": ["R-5.2-10"],
    "keys-65": ["R-4-2"], "keys-record-over-8mib": ["R-3-1", "R-5.4-1"],
    # layer 2
    "file-hash-mismatch": ["R-6.3-1"], "file-size-mismatch": ["R-6.3-1"], "file-missing": ["R-6.3-1"],
    "file-unlisted": ["R-5.1-2"], "path-symlink": ["R-5.1-2"], "artifact-sig-over-cap": ["R-5.4-1"],
    # layer 3
    "artifact-unknown-member": ["R-3-2"], "artifact-type": ["R-3-3"], "artifact-schema-version": ["R-3-3"],
    "artifact-schema-2-not-rotation": ["R-3-4"], "artifact-missing-event": ["R-3-3"],
    "artifact-chain-id": ["R-6.4-1"], "artifact-chain-id-syntax": ["R-5.2-1"], "artifact-seq-mismatch": ["R-6.4-1"],
    "artifact-prev-hash": ["R-6.4-2"], "artifact-base-hash": ["R-6.4-3"], "artifact-head-hash": ["R-6.4-6"],
    "artifact-prev-hash-syntax": ["R-3-3"], "artifact-seq1-not-genesis": ["R-3-5"], "event-type": ["R-3-3"],
    "event-status": ["R-3-3"], "event-exit-code-range": ["R-3-3"], "event-exit-code-string": ["R-3-3"],
    "time-invalid-date": ["R-3-3"], "time-format": ["R-3-3"], "rollback-on-apply": ["R-3.1-1"],
    "rollback-seq-not-below": ["R-3-3"], "rollback-hash-syntax": ["R-3-3"], "rollback-hash-mismatch": ["R-6.4-5"],
    "rollback-hash-mismatch-keys": ["R-6.4-5"],
    "spool-id-syntax": ["R-3-3"], "spool-time-syntax": ["R-3-3"], "spool-missing-member": ["R-3-3"],
    "idempotency-key-short": ["R-3-3"], "idempotency-key-charset": ["R-3-3"], "idempotency-key-number": ["R-3-3"],
    "identity-method": ["R-3-3"], "identity-missing-subject": ["R-3-3"], "identity-empty-issuer": ["R-3-3"],
    "identity-claim-not-string": ["R-3-3"], "identity-time-syntax": ["R-3-3"], "identity-verified-by": ["R-3-3"],
    "identity-missing-verified-at": ["R-3-3"], "identity-not-object": ["R-3-3"],
    "signer-missing-algorithm": ["R-3-3"], "artifact-not-canonical": ["R-1.1-2"],
    "artifact-duplicate-member": ["R-1.1-1"], "artifact-bom": ["R-1.1-1"], "artifact-invalid-utf8": ["R-1.1-1"],
    "artifact-lone-surrogate": ["R-1.1-1"], "artifact-noncharacter-ffff": ["R-1.1-1"],
    "artifact-noncharacter-fdd0": ["R-1.1-1"], "artifact-noncharacter-plane1": ["R-1.1-1"],
    "artifact-nesting": ["R-1.1-3"], "artifact-float": ["R-3-3"], "artifact-number-overflow": ["R-1.1-1"],
    # layer 4
    "artifact-sig-corrupt": ["R-2-5", "R-6.5-1"], "artifact-sig-short": ["R-2-2"], "artifact-pss-salt-20": ["R-2-3"],
    "artifact-alg-mismatch": ["R-2-1"], "artifact-pkcs1-named-pss": ["R-2-5", "R-6.5-1"],
    "ecdsa-sig-trailing-byte": ["R-2-4"], "ecdsa-sig-nonminimal-int": ["R-2-4"], "artifact-wrong-key": ["R-6.5-1"],
    # layer 5
    "checkpoint-after-range": ["R-6.6-3"], "checkpoint-before-base": ["R-6.6-4"], "checkpoint-head-hash": ["R-6.6-6"],
    "checkpoint-base-hash": ["R-6.6-6"], "checkpoint-key-at-head": ["R-6.6-5"], "checkpoint-chain-id": ["R-6.6-2"],
    "checkpoint-unknown-member": ["R-6.6-1", "R-8.1-1"], "checkpoint-sig-corrupt": ["R-2-5", "R-6.6-5"],
    "checkpoint-sig-short": ["R-2-2"], "checkpoint-crlf": ["R-6.6-1", "R-8.2-1"],
    "checkpoint-trailing-data": ["R-6.6-1", "R-8.2-1"], "checkpoint-tsa-rejected": ["R-6.6-7", "R-8.3-1"],
    "checkpoint-tsa-untrusted-ca": ["R-6.6-7", "R-8.3-6"], "checkpoint-no-final-newline": ["R-6.6-1", "R-8.2-1"],
    "checkpoint-own-bad": ["R-6.6-6"], "checkpoint-tsa-imprint": ["R-6.6-7", "R-8.3-2"],
    "checkpoint-tsa-nonce": ["R-6.6-7", "R-8.3-2"], "checkpoint-tsa-no-cert": ["R-6.6-7", "R-8.3-3"],
    "checkpoint-tsa-bad-signature": ["R-6.6-7", "R-8.3-5"],
    "checkpoint-tsa-eku-not-critical": ["R-6.6-7", "R-8.3-4"],
    # archives
    "archive-plain-tar": ["R-5.3-1"], "archive-file-over-cap": ["R-5.3-3"],
    "tar-pax-header": ["R-5.3-5"], "tar-gnu-magic": ["R-5.3-5"], "tar-directory-entry": ["R-5.3-2", "R-5.3-5"],
    "tar-dot-slash": ["R-5.3-2"], "tar-data-after-end": ["R-5.3-7"], "tar-one-end-block": ["R-5.3-7"],
    "tar-duplicate-entry": ["R-5.3-2"], "tar-setuid-mode": ["R-5.3-5"], "tar-unlisted-entry": ["R-5.3-2"],
    "tar-nonzero-padding": ["R-5.3-6"], "gzip-two-members": ["R-5.3-4"], "gzip-trailing-zeros": ["R-5.3-4"],
    "zip-central-name-differs": ["R-5.3-10"], "zip-comment": ["R-5.3-8"], "zip-prepended-data": ["R-5.3-9"],
    "zip-unlisted-entry": ["R-5.3-2"], "zip-utf8-flag": ["R-5.3-11"], "zip-crc-mismatch": ["R-5.3-12"],
    "zip-setuid-attr": ["R-5.3-13"], "zip-version-needed": ["R-5.3-14"], "zip-internal-attr": ["R-5.3-10"],
    "tar-end-over-1mib": ["R-5.3-15"],
}


class Suite:
    def __init__(self):
        self.vectors = []

    def add(self, name, desc, section, rule, files, verdict="valid", layer=None, form="dir", pin=True,
            chain=None, checkpoints=(), tsa_ca=False, require_genesis=False, archive=None, fingerprint=None,
            require_chain_manifest=False):
        inputs = {}
        if fingerprint:
            inputs["fingerprint"] = fingerprint
        elif pin and chain is not None:
            inputs["fingerprint"] = chain.anchor.fp
        if checkpoints:
            inputs["checkpoints"] = ["v/%s/trusted-%d.ckpt" % (name, i + 1) for i in range(len(checkpoints))]
        if tsa_ca:
            inputs["tsa_ca"] = "keys/tsa/ca.pem"
        if require_genesis:
            inputs["require_genesis"] = True
        if require_chain_manifest:
            inputs["require_chain_manifest"] = True
        ext = {"dir": "bundle", "tar.gz": "bundle.tar.gz", "zip": "bundle.zip"}[form]
        if archive is None and form != "dir":
            archive = to_tgz(files) if form == "tar.gz" else to_zip(files)
        self.vectors.append({"name": name, "description": desc, "section": section, "rule": rule, "form": form,
                             "bundle": "v/%s/%s" % (name, ext), "inputs": inputs, "expect": verdict,
                             "layer": layer, "_files": files, "_archive": archive,
                             "_checkpoints": list(checkpoints)})

    def bad(self, name, desc, section, rule, layer, files, **kw):
        self.add(name, desc, section, rule, files, verdict="invalid", layer=layer, **kw)

    def write(self, out):
        vdir = os.path.join(out, "v")
        os.makedirs(vdir)
        index = []
        for v in self.vectors:
            d = os.path.join(vdir, v["name"])
            os.makedirs(d)
            if v["form"] == "dir":
                for p, data in v["_files"].items():
                    fp = os.path.join(d, "bundle", p)
                    os.makedirs(os.path.dirname(fp), exist_ok=True)
                    if isinstance(data, Link):
                        os.symlink(data.decode(), fp)
                        continue
                    with open(fp, "wb") as f:
                        f.write(data)
            else:
                with open(os.path.join(out, v["bundle"]), "wb") as f:
                    f.write(v["_archive"])
            for i, c in enumerate(v["_checkpoints"]):
                with open(os.path.join(d, "trusted-%d.ckpt" % (i + 1)), "wb") as f:
                    f.write(c)
            entry = {k: v[k] for k in v if not k.startswith("_")}
            assert v["name"] in RULES, "no RULES entry for vector %s" % v["name"]
            entry["rules"] = RULES[v["name"]]
            rule = entry["rule"]
            if rule in DECISION or (v["form"] != "dir" and entry["expect"] == "invalid"):
                entry["decision"] = DECISION.get(rule, "A")
            if entry["layer"] is None:
                del entry["layer"]
            index.append(entry)
        names = [v["name"] for v in index]
        assert len(names) == len(set(names)), "duplicate vector names"
        assert not set(RULES) - set(names), "RULES names no vector: %s" % sorted(set(RULES) - set(names))
        doc = {"description": "tfattest conformance vectors: see README.md", "format": "docs/FORMAT.md",
               "vectors": index}
        with open(os.path.join(out, "index.json"), "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True, ensure_ascii=True)
            f.write("\n")


def build(out):
    vlib.self_test()
    A, Bk, C, small, e3 = (load_key(k) for k in ("rsa-a", "ec-b", "rsa-c", "rsa-1024", "rsa-e3"))
    S = Suite()
    app = {"ev": "apply"}

    # -------- chains
    pss = Chain("vectors-pss", A, [{"ev": "apply", "terraform": True}, app, {"ev": "destroy"}])
    pkcs1 = Chain("vectors-pkcs1", C, [{"ev": "apply", "terraform": True}, app, app])
    ecd = Chain("vectors-ecdsa", Bk, [{"ev": "apply", "terraform": True}, app, app])
    main_steps = [{"ev": "apply", "terraform": True}, app, {"rotate": Bk}, app, {"ev": "rollback", "to": 2},
                  {"rotate": C}, {"ev": "apply", "spool": True}, app]
    main = Chain("vectors-rotation", A, main_steps)

    # -------- valid: algorithms and forms
    S.add("valid-pss", "RSASSA-PSS chain of 3 records (RSA 2048)", "§2", "", bundle(pss, 1, 3), chain=pss)
    S.add("valid-pkcs1", "RSASSA-PKCS1-v1_5 chain of 3 records (RSA 3072)", "§2", "", bundle(pkcs1, 1, 3),
          chain=pkcs1)
    S.add("valid-ecdsa", "ECDSA P-256 chain of 3 records", "§2", "", bundle(ecd, 1, 3), chain=ecd)
    hs = Chain("vectors-ecdsa", Bk, [{"ev": "apply", "terraform": True}, app, app],
               {i: {"sigvariant": "highs"} for i in (1, 2, 3)})
    S.add("valid-ecdsa-high-s", "ECDSA signatures with high S (s > n/2) everywhere: accepted, as OpenSSL does",
          "§2", "ecdsa-high-s-accepted", bundle(hs, 1, 3, msig_variant="highs"), chain=hs)
    S.add("valid-unpinned", "the PSS bundle verified without a pinned fingerprint (trusts its own key)", "§6",
          "", bundle(pss, 1, 3), pin=False, chain=pss)
    S.add("valid-verify-md", "a bundle carrying the optional VERIFY.md", "§5", "", bundle(pss, 1, 3, verify_md=True),
          chain=pss)
    full = bundle(main, 1, 8)
    S.add("valid-rotation", "rotations RSA->EC->RSA (PSS, ECDSA, PKCS1), a rollback record (seq 5, to 2) and a "
          "spooled record (seq 7)", "§3.5", "", full, chain=main)
    S.add("valid-rotation-tgz", "valid-rotation as a .tar.gz", "§5.3", "", full, form="tar.gz", chain=main)
    S.add("valid-rotation-zip", "valid-rotation as a .zip (deflate)", "§5.3", "", full, form="zip", chain=main)
    S.add("valid-rotation-zip-stored", "valid-rotation as a .zip with stored entries", "§5.3", "", full,
          form="zip", chain=main, archive=to_zip(full, method=0))
    S.add("valid-require-genesis", "a complete chain with --require-genesis", "§6", "", full, chain=main,
          require_genesis=True)
    mid = bundle(main, 4, 5)
    S.add("valid-range-middle", "range 4..5 of the rotation chain: keys/ holds rotations before (3) and after (6) "
          "the range", "§5.2", "", mid, chain=main)
    S.add("valid-range-middle-tgz", "valid-range-middle as a .tar.gz", "§5.3", "", mid, form="tar.gz", chain=main)
    S.add("valid-range-middle-zip", "valid-range-middle as a .zip", "§5.3", "", mid, form="zip", chain=main)
    S.add("valid-range-first", "range 1..2: every rotation is after the range", "§5.2", "", bundle(main, 1, 2),
          chain=main)
    S.add("valid-range-last", "range 7..8: every rotation is before the range", "§5.2", "", bundle(main, 7, 8),
          chain=main)
    S.add("valid-range-rotation-inside", "range 3..6: both rotations inside the range, under artifacts/ and keys/",
          "§5.2", "", bundle(main, 3, 6), chain=main)

    # -------- valid: checkpoints
    c3 = checkpoint(pss, 3)
    S.add("valid-checkpoint", "the bundle's own checkpoint at the head, and trusted checkpoints at seq 2 and 3",
          "§8", "", bundle(pss, 1, 3, ckpt=c3), chain=pss, checkpoints=[checkpoint(pss, 2), c3])
    ct = checkpoint(pss, 3, tsa=True)
    S.add("valid-checkpoint-tsa", "a trusted checkpoint with an RFC 3161 timestamp, checked with the test TSA CA",
          "§8.2", "", bundle(pss, 1, 3), chain=pss, checkpoints=[ct], tsa_ca=True)
    S.add("valid-checkpoint-tsa-unchecked", "the same timestamped checkpoint without a TSA CA (reported unchecked)",
          "§8.2", "", bundle(pss, 1, 3, ckpt=ct), chain=pss, checkpoints=[ct])
    S.add("valid-checkpoint-rotation-head", "a trusted checkpoint at a rotation record (seq 3), signed by the key "
          "in force after it (the new EC key)", "§8.1", "checkpoint-key-after-seq", bundle(main, 1, 8), chain=main,
          checkpoints=[checkpoint(main, 3)])
    S.add("valid-checkpoint-base", "range 4..5 with a trusted checkpoint at seq 3 = from_seq - 1, matched against "
          "base_hash", "§6", "", mid, chain=main, checkpoints=[checkpoint(main, 3)])
    S.add("valid-checkpoint-tgz", "a bundle with its own timestamped checkpoint, as a .tar.gz, checked with the TSA CA", "§5.3", "",
          bundle(pss, 1, 3, ckpt=ct), form="tar.gz", chain=pss, checkpoints=[ct], tsa_ca=True)

    def extras(o):
        o["event"]["note"] = "ignored"
        o["signer"]["note"] = "ignored"
        o["terraform"] = {"note": "ignored", "counts": {"create": 0, "update": 0, "delete": 0, "replace": 0,
                                                        "read": 0, "no-op": 0, "forget": 0, "other": 0,
                                                        "note": 1}}
        o["context"] = {"note": "ignored", "git": {"commit": "0" * 40, "note": "ignored"}}
        return o

    def rot_extra(o):
        o["rotation"]["note"] = "ignored"
        return o

    ext = Chain("vectors-rotation", A, [app, {"rotate": Bk}, app], {1: {"obj": extras}, 2: {"obj": rot_extra}})
    S.add("valid-unknown-members-ignored", "members not listed inside event, signer, terraform, context and "
          "rotation, which a verifier ignores", "§3", "ignore-unknown-nested", bundle(ext, 1, 3), chain=ext)
    S.add("valid-checkpoint-zip", "a bundle with its own checkpoint, as a .zip", "§5.3", "",
          bundle(main, 1, 8, ckpt=checkpoint(main, 8)), form="zip", chain=main, checkpoints=[checkpoint(main, 8)])

    def odd_informational(o):
        o["signer"]["backend"] = 5
        o["signer"]["provenance"] = [1, "x", None]
        o["terraform"]["version"] = 5
        o["terraform"]["changes"] = "none"
        o["context"] = {"git": 7, "ci": None, "host": ["a", {"b": False}]}
        return o

    inf = Chain("vectors-pss", A, [{"ev": "apply", "terraform": True}, app, app], {1: {"obj": odd_informational}})
    S.add("valid-informational-any-type", "informational members of other JSON types: signer.backend 5, "
          "signer.provenance an array, terraform.version 5, context members a number, null and an array", "§3",
          "informational-not-validated", bundle(inf, 1, 3), chain=inf)

    # -------- valid: records made by the attestation service (FORMAT.md §3.6)
    def service_record(o):
        o["event"]["idempotency_key"] = "run-%012d.attempt_1" % o["seq"]
        o["context"] = {"claimed_by": "client", "ci": {"provider": "github-actions", "repository": "acme/infra"}}
        o["identity"] = {"method": "oidc", "issuer": "https://token.actions.githubusercontent.com",
                         "subject": "repo:acme/infra:ref:refs/heads/main", "audience": "tfattest",
                         "issued_at": ts(o["seq"], -2), "expires_at": ts(o["seq"], 3),
                         "claims": {"repository": "acme/infra", "ref": "refs/heads/main", "run_id": "7"},
                         "verified_by": "serve", "verified_at": ts(o["seq"])}
        return o

    def service_record_iam(o):
        o["event"]["idempotency_key"] = "A" * 64
        o["identity"] = {"method": "aws-iam", "issuer": "aws-iam",
                         "subject": "arn:aws:sts::123456789012:assumed-role/ci/job-7",
                         "verified_by": "lambda", "verified_at": ts(o["seq"])}
        return o

    def service_record_extra(o):
        service_record(o)
        o["identity"]["note"] = {"any": ["thing", 1]}
        o["identity"]["claims"]["empty"] = ""
        return o

    svc = Chain("vectors-pss", A, [{"ev": "apply", "terraform": True}, app, {"ev": "destroy"}],
                {1: {"obj": service_record}, 2: {"obj": service_record_iam}, 3: {"obj": service_record}})
    S.add("valid-identity", "records made by the attestation service: verified identity sections (oidc with "
          "claims; aws-iam with only the required members), idempotency keys of 16 and 64 characters, the "
          "context marked as claimed", "§3.6", "identity", bundle(svc, 1, 3), chain=svc)
    svcx = Chain("vectors-pss", A, [{"ev": "apply", "terraform": True}, app, app], {2: {"obj": service_record_extra}})
    S.add("valid-identity-unknown-members", "an identity section with a member not listed (ignored) and an empty "
          "claim value", "§3.6", "ignore-unknown-nested", bundle(svcx, 1, 3), chain=svcx)

    # -------- valid: 64 keys
    dk = [derived_ec_key(i) for i in range(65)]
    k64 = Chain("vectors-64-keys", dk[0], [{"rotate": dk[i]} for i in range(1, 64)] + [app])
    S.add("valid-64-keys", "63 rotations: 64 keys over the chain's life, the most allowed (range 64..64)", "§4",
          "at-most-64-keys", bundle(k64, 64, 64), chain=k64)

    # ================================================================ invalid
    # -------- layer 1: the manifest
    def man(name, desc, rule, layer=1, section="§5.2", chain=pss, frm=1, to=3, **kw):
        S.bad(name, desc, section, rule, layer, bundle(chain, frm, to, **kw), chain=chain)

    man("manifest-unknown-member", "the manifest has an extra member `note`", "manifest-unknown-member",
        manifest_hook=setp("note", "x"))
    man("manifest-type", "manifest `type` is tfattest.artifact", "manifest-type",
        manifest_hook=setp("type", "tfattest.artifact"))
    man("manifest-schema-version", "manifest `schema_version` is 2 without `kind` (signed by the chain's key)",
        "manifest-schema-version",
        manifest_hook=setp("schema_version", 2))
    man("manifest-missing-created", "manifest without `created`", "manifest-required-member",
        manifest_hook=setp("created", None))
    man("manifest-signer-extra-member", "manifest `signer` has an extra member", "manifest-signer-members",
        manifest_hook=setp("signer.backend", "file"))
    man("manifest-file-extra-member", "a `files` entry has an extra member", "manifest-file-members",
        listing_hook=lambda l: [dict(e, mode=292) if e["path"] == "public_key.pem" else e for e in l])
    man("manifest-files-unsorted", "`files` not sorted by path", "manifest-files-sorted",
        listing_hook=lambda l: l[1:] + l[:1])
    man("manifest-files-duplicate", "a path listed twice", "manifest-files-unique",
        listing_hook=lambda l: l + [l[-1]])
    man("manifest-to-before-from", "to_seq < from_seq", "manifest-seq-range",
        manifest_hook=lambda m: dict(m, from_seq=3, to_seq=2))
    man("manifest-created-invalid", "manifest `created` is 2026-02-30T00:00:00Z", "time-valid", section="§1",
        manifest_hook=setp("created", "2026-02-30T00:00:00Z"))
    man("manifest-not-canonical", "manifest.json with a space after the first colon (signed)", "canonical-json",
        section="§1", mbytes_hook=lambda b: b.replace(b":", b": ", 1))
    man("manifest-duplicate-member", "manifest.json with `chain_id` twice (signed)", "ijson-no-duplicates",
        section="§1", mbytes_hook=lambda b: insert_dup_member(b, "chain_id", "vectors-pss"))
    man("manifest-trailing-newline", "manifest.json ends with a newline (signed)", "canonical-json",
        section="§1", mbytes_hook=lambda b: b + b"\n")
    man("manifest-sig-corrupt", "manifest.sig with one bit flipped", "manifest-signature", section="§6",
        msig_hook=flip_last)
    man("manifest-sig-short", "a PSS manifest.sig with its leading zero byte removed (OpenSSL accepts it)",
        "rsa-signature-length", section="§2", msig_variant="short")
    man("manifest-alg-mismatch", "manifest names ECDSA_SHA_256 for its RSA key", "algorithm-fits-key",
        section="§2", malg=ECDSA)
    man("manifest-alg-pkcs1-for-pss", "manifest names PKCS1 v1.5 and is signed with it, by the RSA key whose "
        "default is PSS: valid (an RSA key may use either)", "", section="§2", malg=PKCS1)
    S.vectors[-1].update(expect="valid", layer=None)
    man("manifest-missing-artifact", "seq 2 neither listed nor present (a gap)", "manifest-lists-every-seq",
        layer=3, files_hook=drop("artifacts/000000000002.json", "artifacts/000000000002.sig"))
    man("manifest-missing-artifact-sig", "artifacts/000000000002.sig neither listed nor present",
        "manifest-lists-every-seq", layer=3, files_hook=drop("artifacts/000000000002.sig"))
    man("manifest-extra-artifact", "range 1..2 also lists (and holds) artifacts/000000000003.*",
        "manifest-no-other-artifacts", to=2, layer=3,
        files_hook=lambda f: dict(f, **{"artifacts/000000000003.json": pss.rec(3).data,
                                        "artifacts/000000000003.sig": pss.rec(3).sig}))
    man("manifest-public-key-unlisted", "public_key.pem neither listed nor present", "manifest-lists-public-key",
        files_hook=drop("public_key.pem"))
    man("path-extra-top-level", "a listed, present notes.txt (not a bundle path)", "bundle-path-set",
        section="§5", files_hook=add_file("notes.txt", b"hello\n"))
    man("path-extra-artifacts-file", "a listed, present artifacts/README", "bundle-path-set", section="§5",
        files_hook=add_file("artifacts/README", b"hello\n"))
    man("path-hidden-component", "a listed, present .well-known/x", "path-syntax", section="§5.1",
        files_hook=add_file(".well-known/x", b"x\n"))
    man("path-keys-uppercase-pem", "keys/<hex>.pem named with uppercase hex", "bundle-path-set", section="§5",
        chain=main, frm=1, to=8,
        files_hook=rename("keys/%s.pem" % Bk.fp[7:], "keys/%s.pem" % Bk.fp[7:].upper()))
    man("path-keys-seq-zero", "keys/000000000000.json and .sig (seq 0) listed and present", "seq-in-names",
        section="§1", chain=main, frm=1, to=8,
        files_hook=lambda f: dict(f, **{"keys/000000000000.json": f["keys/000000000003.json"],
                                        "keys/000000000000.sig": f["keys/000000000003.sig"]}))
    man("path-five-components", "a listed, present keys/a/b/c/d.pem (5 components)", "path-syntax", section="§5.1",
        files_hook=add_file("keys/a/b/c/d.pem", A.pem))
    man("manifest-alg-unknown", "manifest names the algorithm RSASSA_PSS_SHA_384", "algorithm-name", section="§2",
        manifest_hook=setp("signer.algorithm", "RSASSA_PSS_SHA_384"))
    man("public-key-pem-other-key", "public_key.pem holds another key than the manifest's signer",
        "public-key-is-manifest-key", section="§6", public_pem=Bk.pem)
    man("manifest-signer-not-key-in-force", "the rotated chain's manifest signed by its anchor (retired) key",
        "manifest-key-in-force", section="§6", chain=main, frm=1, to=8, mkey=A)
    man("genesis-base-hash-range", "range 2..3 of a chain whose seq 2 has the genesis prev_hash",
        "genesis-only-seq-1", section="§1",
        chain=Chain("vectors-pss", A, [app, app, app], {2: {"obj": setp("prev_hash", GENESIS)}}), frm=2, to=3)

    man("manifest-sig-missing", "manifest.sig absent", "bundle-path-set", section="§5",
        after_hook=drop("manifest.sig"))
    man("manifest-lists-manifest", "`files` lists manifest.json (in its sorted place)", "manifest-files-sorted",
        listing_hook=lambda l: sorted(l + [{"path": "manifest.json", "sha256": "0" * 64, "size": 0}],
                                      key=lambda e: e["path"].encode()))

    def pem_lines(der, width, eol=b"\n"):
        t = b64(der)
        body = [t[i:i + width].encode() for i in range(0, len(t), width)]
        return eol.join([b"-----BEGIN PUBLIC KEY-----"] + body + [b"-----END PUBLIC KEY-----"]) + eol

    man("pem-line-length-76", "public_key.pem with 76-character base64 lines (the same key)", "pem-strict",
        section="§1", public_pem=pem_lines(A.spki, 76))
    man("pem-crlf", "public_key.pem with CRLF line ends (the same key)", "pem-strict", section="§1",
        public_pem=pem_lines(A.spki, 64, b"\r\n"))

    # -------- layer 1: pinning
    S.bad("pin-mismatch", "pinned fingerprint is another key's", "§6", "pin", 1, bundle(pss, 1, 3), chain=pss,
          fingerprint=Bk.fp)
    near = A.fp[:-1] + ("0" if A.fp[-1] != "0" else "1")
    S.bad("pin-near-miss", "pinned fingerprint differs from the anchor's in the last hex digit only", "§6", "pin", 1,
          bundle(pss, 1, 3), chain=pss, fingerprint=near)
    S.bad("pin-rotated-anchor", "the rotated chain pinned to its head key instead of its anchor", "§6", "pin", 1,
          full, chain=main, fingerprint=C.fp)
    S.bad("require-genesis-range", "range 4..5 with --require-genesis", "§6", "require-genesis", 1, mid,
          chain=main, require_genesis=True)

    # -------- layer 1: keys and signatures (decision B)
    eckc = Key("ec-b", "ec", ECDSA, Bk.priv, spki=vlib.ec_spki(*Bk.xy, compressed=True))
    ch = Chain("vectors-ecdsa", eckc, [app, app])
    S.bad("key-ec-compressed", "an EC chain whose key is the compressed-point SPKI (fingerprint of that encoding)",
          "§1", "key-canonical-encoding", 1, bundle(ch, 1, 2), chain=ch, pin=False)
    kn = Key("rsa-a", "rsa", PSS, A.priv, spki=vlib.rsa_spki(A.priv.n, A.priv.e, params=None))
    ch = Chain("vectors-pss", kn, [app, app])
    S.bad("key-rsa-absent-null", "an RSA key whose SPKI AlgorithmIdentifier omits the NULL parameters", "§1",
          "key-canonical-encoding", 1, bundle(ch, 1, 2), chain=ch, pin=False)
    kp = Key("rsa-a", "rsa", PSS, A.priv, spki=vlib.rsa_spki(A.priv.n, A.priv.e, params=None, oid=vlib.OID_RSA_PSS))
    ch = Chain("vectors-pss", kp, [app, app])
    S.bad("key-rsa-pss-oid", "an RSA key as an id-RSASSA-PSS SPKI", "§1", "key-canonical-encoding", 1,
          bundle(ch, 1, 2), chain=ch, pin=False)
    ch = Chain("vectors-small", small, [app, app])
    S.bad("key-rsa-1024", "an RSA 1024-bit key (PKCS1 v1.5)", "§2", "rsa-modulus-size", 1, bundle(ch, 1, 2),
          chain=ch, pin=False)
    ch = Chain("vectors-e3", e3, [app, app])
    S.bad("key-rsa-e3", "an RSA 2048-bit key with public exponent 3 (PKCS1 v1.5)", "§1", "rsa-exponent", 1,
          bundle(ch, 1, 2), chain=ch, pin=False)
    kh = Key("ec-b", "ec", ECDSA, Bk.priv, spki=vlib.ec_spki(*Bk.xy, hybrid=True))
    ch = Chain("vectors-ecdsa", kh, [app, app])
    S.bad("key-ec-hybrid", "the EC key with a hybrid-form point (0x06/0x07 || X || Y)", "§1",
          "key-canonical-encoding", 1, bundle(ch, 1, 2), chain=ch, pin=False)
    ch = Chain("vectors-rotation", A, [app, {"rotate": Bk}, {"rotate": C}, {"rotate": eckc}, app])
    S.bad("rotation-retired-key-back-compressed", "A -> B -> C -> B again, B brought back in its compressed "
          "encoding (another fingerprint, the same key)", "§4", "key-canonical-encoding", 1, bundle(ch, 1, 5),
          chain=ch)
    kx = Key("ec-b", "ec", ECDSA, Bk.priv, spki=vlib.ec_spki_explicit(*Bk.xy))
    ch = Chain("vectors-ecdsa", kx, [app, app])
    S.bad("key-ec-explicit-params", "the EC key with explicit curve parameters instead of the named curve", "§1",
          "key-canonical-encoding", 1, bundle(ch, 1, 2), chain=ch, pin=False)
    ch = Chain("vectors-rotation", A, [app, {"rotate": eckc}, app])
    S.bad("key-rotation-to-compressed", "a rotation (seq 2) to the EC key in its compressed encoding", "§1",
          "key-canonical-encoding", 1, bundle(ch, 1, 3), chain=ch, pin=False)

    # -------- layer 1: rotations
    def rot(name, desc, rule, hooks, section="§3.5", steps=None, frm=7, to=8, **kw):
        """A rotation-chain vector; by default the range 7..8 (keys/ holds the rotations)."""
        c = Chain("vectors-rotation", A, steps or main_steps, hooks)
        S.bad(name, desc, section, rule, 1, bundle(c, frm, to, **kw), chain=c)

    back = [app, {"rotate": Bk}, {"rotate": A}, app]
    rot("rotation-retired-key-back", "A -> B -> A: a retired key brought in again", "no-retired-key", {},
        section="§4", steps=back, frm=1, to=4)
    rot("rotation-retired-key-back-range", "A -> B -> A, range 4..4: the reuse is only in keys/", "no-retired-key",
        {}, section="§4", steps=back, frm=4, to=4)
    rot("rotation-pop-bad", "seq 3's proof of possession signed by another key", "proof-of-possession",
        {3: {"popkey": derived_ec_key(99)}})
    rot("rotation-new-fp-mismatch", "seq 3's new_key_fingerprint is not the fingerprint of new_public_key",
        "rotation-new-key-fingerprint", {3: {"obj": setp("rotation.new_public_key", b64(derived_ec_key(98).spki))}})
    rot("rotation-old-key-mismatch", "seq 3's old_public_key is another key", "rotation-old-key",
        {3: {"obj": setp("rotation.old_public_key", b64(C.spki))}})
    rot("rotation-same-key", "a rotation from A to A", "rotation-new-key-differs", {}, steps=[app, {"rotate": A}, app],
        frm=1, to=3)
    rot("rotation-alg-unfit", "seq 3 rotates to the EC key with new_algorithm RSASSA_PSS_SHA_256", "algorithm-fits-key",
        {3: {"obj": setp("rotation.new_algorithm", PSS)}}, section="§2")
    rot("rotation-schema-version-1", "seq 3's rotation record says schema_version 1", "rotation-schema-2",
        {3: {"obj": setp("schema_version", 1)}})
    rot("rotation-event-not-rotate", "seq 3's rotation record has event type apply", "rotation-event",
        {3: {"obj": setp("event.type", "apply")}})
    rot("rotation-new-public-key-noncanonical-b64", "seq 3's new_public_key base64 without its padding",
        "base64-canonical", {3: {"obj": lambda o: setp("rotation.new_public_key",
                                                     o["rotation"]["new_public_key"].rstrip("="))(o)}})
    def pad_bits(o):
        v = o["rotation"]["new_public_key"]  # the EC key: 91 bytes, so "==" and 4 unused bits
        alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        assert v.endswith("==") and alpha.index(v[-3]) & 1 == 0
        o["rotation"]["new_public_key"] = v[:-3] + alpha[alpha.index(v[-3]) | 1] + "=="
        return o

    rot("rotation-b64-pad-bits", "seq 3's new_public_key base64 with non-zero unused bits (decodes the same)",
        "base64-canonical", {3: {"obj": pad_bits}})
    rot("keys-json-without-sig", "keys/000000000006.sig missing (and unlisted)", "keys-pairs", {}, section="§5.2",
        files_hook=drop("keys/000000000006.sig"))
    rot("keys-sig-without-json", "a listed keys/000000000009.sig with no keys/000000000009.json", "keys-pairs", {},
        section="§5.2", files_hook=lambda f: dict(f, **{"keys/000000000009.sig": f["keys/000000000006.sig"]}))
    rot("keys-pem-missing", "the anchor's keys/<hex>.pem missing (and unlisted)", "keys-pem-set", {}, section="§5",
        files_hook=drop("keys/%s.pem" % A.fp[7:]))
    dk97 = derived_ec_key(97)
    rot("keys-pem-extra", "a keys/<hex>.pem for a key no rotation names", "keys-pem-set", {}, section="§5",
        files_hook=add_file("keys/%s.pem" % dk97.fp[7:], dk97.pem))
    rot("keys-pem-wrong-key", "keys/<hex of B>.pem holds key C", "keys-pem-content", {}, section="§6",
        files_hook=lambda f: dict(f, **{"keys/%s.pem" % Bk.fp[7:]: C.pem}))
    rot("keys-json-hash-mismatch", "keys/000000000006.json differs from its manifest entry (listing not updated)",
        "keys-json-hash", {}, section="§6",
        after_hook=lambda f: dict(f, **{"keys/000000000006.json": f["keys/000000000006.json"] + b" "}))
    fork = Chain("vectors-rotation", A, main_steps, {3: {"obj": setp("time", ts(3, 7))}})
    rot("keys-base-unlinked", "range 4..8: keys/3 is from a fork (another time): its hash is not base_hash",
        "keys-linked-base", {}, section="§5.2", frm=4, to=8, keys_override={3: fork.rec(3)})
    fork6 = Chain("vectors-rotation", A, main_steps, {5: {"obj": setp("time", ts(5, 7))}})
    rot("keys-head-unlinked", "range 4..5: keys/6 is from a fork whose seq 5 differs: keys/6.prev_hash is not "
        "head_hash", "keys-linked-head", {},
        section="§5.2", frm=4, to=5, keys_override={6: fork6.rec(6)})
    adj = [app, {"rotate": Bk}, {"rotate": C}, app]
    fork2 = Chain("vectors-rotation", A, adj, {2: {"obj": setp("time", ts(2, 7))}})
    rot("keys-unlinked-adjacent", "range 4..4: keys/2 is from a fork: keys/3.prev_hash is not keys/2's hash",
        "keys-linked-adjacent", {}, section="§5.2", steps=adj, frm=4, to=4, keys_override={2: fork2.rec(2)})
    rot("keys-in-range-differs", "range 3..3: keys/3 is a fork's seq 3 (another time), artifacts/3 is not",
        "keys-in-range-identical", {}, section="§6", frm=3, to=3, keys_override={3: fork.rec(3)})
    S.vectors[-1]["layer"] = 3
    rot("keys-chain-id", "range 1..2: keys/6 (re-signed, chain relinked) names another chain", "keys-valid-rotation",
        {6: {"obj": setp("chain_id", "vectors-other")}}, section="§6", frm=1, to=2)
    rot("keys-not-rotation", "range 1..2: keys/000000000004.json and .sig hold the ordinary record 4",
        "keys-valid-rotation", {}, section="§6", frm=1, to=2,
        files_hook=lambda f: dict(f, **{"keys/000000000004.json": main.rec(4).data,
                                        "keys/000000000004.sig": main.rec(4).sig}))
    rot("keys-seq1-not-genesis", "range 2..3: keys/000000000001.json, a rotation at seq 1, whose prev_hash is "
        "not the genesis value", "genesis-seq1", {1: {"obj": setp("prev_hash", "sha256:" + "11" * 32)}},
        section="§3", steps=[{"rotate": Bk}, app, app], frm=2, to=3)
    k65 = Chain("vectors-65-keys", dk[0], [{"rotate": dk[i]} for i in range(1, 65)] + [app])
    S.bad("keys-65", "64 rotations: a 65th key (range 65..65)", "§4", "at-most-64-keys", 1, bundle(k65, 65, 65),
          chain=k65)

    rot("keys-pem-line-length-76", "the anchor's keys/<hex>.pem with 76-character base64 lines (the same key)",
        "pem-strict", {}, section="§1",
        files_hook=lambda f: dict(f, **{"keys/%s.pem" % A.fp[7:]: pem_lines(A.spki, 76)}))
    rot("rotation-spool", "seq 6 (a rotation record, under keys/) carries event.spool", "rotation-no-spool",
        {6: {"obj": setp("event.spool", {"id": "0" * 32, "deployed_at": ts(6, -30), "spooled_at": ts(6, -29)})}},
        section="§3.1")
    rot("rotation-identity", "seq 6 (a rotation record, under keys/) carries an identity section",
        "rotation-no-identity", {6: {"obj": lambda o: setp("identity", {
            "method": "aws-iam", "issuer": "aws-iam", "subject": "arn:aws:iam::123456789012:user/x",
            "verified_by": "lambda", "verified_at": ts(6)})(o)}}, section="§3.6")
    rot("rotation-idempotency-key", "seq 6 (a rotation record, under keys/) carries event.idempotency_key",
        "rotation-no-idempotency-key", {6: {"obj": setp("event.idempotency_key", "rotate-0000000006")}},
        section="§3.1")
    rot("rotation-exit-code", "seq 6 (a rotation record, under keys/) has exit_code 1", "rotation-event",
        {6: {"obj": setp("event.exit_code", 1)}})
    rot("rotation-terraform", "seq 6 (a rotation record, under keys/) carries a terraform member", "rotation-event",
        {6: {"obj": setp("terraform", {"plan_sha256": hhex(b"plan 6")})}})
    rot("rotation-wrong-signer", "seq 6 (a rotation record) signed by the retired anchor key, which it names as "
        "signer and old key", "rotation-key-in-force", {6: {"signkey": A}}, section="§6")

    def pad_to(total):
        def hook(b):
            return b.replace(b'"pad":"PAD"', b'"pad":"' + b"a" * (total - len(b) + 3) + b'"')
        return hook

    rot("keys-record-over-8mib", "seq 6 (a rotation record, under keys/) is 8 MiB + 1 bytes (a long context "
        "string)", "artifact-size", {6: {"obj": setp("context", {"pad": "PAD"}), "bytes": pad_to(8388609)}},
        section="§3")
    assert len(rot_last_files(S)["keys/000000000006.json"]) == 8388609

    # -------- layer 2: files
    def lay2(name, desc, rule, **kw):
        S.bad(name, desc, "§6", rule, 2, bundle(pss, 1, 3, verify_md=True, **kw), chain=pss)

    lay2("file-hash-mismatch", "VERIFY.md changed after the manifest was made", "file-hash",
         after_hook=lambda f: dict(f, **{"VERIFY.md": flip_mid(f["VERIFY.md"])}))
    lay2("file-size-mismatch", "VERIFY.md's listed size is one more (hash right, manifest re-signed)", "file-size",
         listing_hook=lambda l: [dict(e, size=e["size"] + 1) if e["path"] == "VERIFY.md" else e for e in l])
    lay2("file-missing", "a listed VERIFY.md is absent", "file-present", after_hook=drop("VERIFY.md"))
    lay2("file-unlisted", "an unlisted checkpoint.ckpt is present", "no-unlisted-file",
         after_hook=add_file("checkpoint.ckpt", checkpoint(pss, 3)))

    S.bad("artifact-sig-over-cap", "artifacts/000000000002.sig is 1025 bytes (zeros appended; listed as it is)",
          "§5.4", "size-caps", 2, bundle(pss, 1, 3, files_hook=lambda f: dict(
              f, **{"artifacts/000000000002.sig": f["artifacts/000000000002.sig"].ljust(1025, b"\x00")})), chain=pss)
    S.bad("path-symlink", "VERIFY.md is a symbolic link to public_key.pem (listed with that file's hash)", "§5.1",
          "no-symlinks", 2, bundle(pss, 1, 3, files_hook=add_file("VERIFY.md", A.pem),
                                   after_hook=lambda f: dict(f, **{"VERIFY.md": Link(b"public_key.pem")})),
          chain=pss)

    # -------- layer 3: artifacts and the chain
    def art(name, desc, rule, hooks, section="§3", layer=3, steps=None, frm=1, to=3, anchor=A, cid="vectors-pss",
            **kw):
        c = Chain(cid, anchor, steps or [{"ev": "apply", "terraform": True}, app, {"ev": "destroy"}], hooks)
        S.bad(name, desc, section, rule, layer, bundle(c, frm, to, **kw), chain=c)

    art("artifact-unknown-member", "seq 2 has a top-level member `note`", "artifact-unknown-member",
        {2: {"obj": setp("note", "x")}})
    art("artifact-type", "seq 2's type is tfattest.manifest", "artifact-type", {2: {"obj": setp("type",
                                                                                          "tfattest.manifest")}})
    art("artifact-schema-version", "seq 2's schema_version is 3", "artifact-schema-version",
        {2: {"obj": setp("schema_version", 3)}})
    art("artifact-schema-2-not-rotation", "seq 2 (apply) says schema_version 2", "artifact-schema-version",
        {2: {"obj": setp("schema_version", 2)}})
    art("artifact-missing-event", "seq 2 has no event", "artifact-required-member", {2: {"obj": setp("event", None)}})
    art("artifact-chain-id", "seq 2's chain_id is another chain's", "artifact-chain-id",
        {2: {"obj": setp("chain_id", "vectors-other")}}, section="§6")
    art("artifact-chain-id-syntax", "every record and the manifest carry the chain_id `a/b`", "chain-id-syntax",
        {}, section="§1", cid="a/b", layer=1)
    art("artifact-seq-mismatch", "artifacts/000000000002.json holds seq 5", "artifact-seq-name",
        {2: {"obj": setp("seq", 5)}}, section="§6")
    art("artifact-prev-hash", "seq 2's prev_hash is not seq 1's hash", "prev-hash-link",
        {2: {"obj": setp("prev_hash", hhex(b"other"))}}, section="§4")
    art("artifact-base-hash", "range 2..3 whose manifest base_hash is not seq 2's prev_hash", "base-hash", {},
        section="§6", frm=2, to=3, manifest_hook=setp("base_hash", hhex(b"other")))
    art("artifact-head-hash", "manifest head_hash is not seq 3's hash", "head-hash", {}, section="§6",
        manifest_hook=setp("head_hash", hhex(b"other")))
    art("artifact-prev-hash-syntax", "seq 2's prev_hash in uppercase hex", "hash-syntax",
        {2: {"obj": lambda o: setp("prev_hash", "sha256:" + o["prev_hash"][7:].upper())(o)}}, section="§1")
    art("artifact-seq1-not-genesis", "seq 1's prev_hash is not the genesis value (base_hash the same)",
        "prev-hash-genesis", {1: {"obj": setp("prev_hash", hhex(b"other"))}})
    art("event-type", "seq 2's event type is `deploy`", "event-type", {2: {"obj": setp("event.type", "deploy")}},
        section="§3.1")
    art("event-status", "seq 2's event status is `ok`", "event-status", {2: {"obj": setp("event.status", "ok")}},
        section="§3.1")
    art("event-exit-code-range", "seq 2's exit_code is 2147483648", "event-exit-code",
        {2: {"obj": setp("event.exit_code", 2147483648)}}, section="§3.1")
    art("event-exit-code-string", "seq 2's exit_code is the string \"0\"", "event-exit-code",
        {2: {"obj": setp("event.exit_code", "0")}}, section="§3.1")
    art("time-invalid-date", "seq 2's time is 2026-02-30T00:00:00Z", "time-valid",
        {2: {"obj": setp("time", "2026-02-30T00:00:00Z")}}, section="§1")
    art("time-format", "seq 2's time has fractional seconds", "time-valid",
        {2: {"obj": setp("time", "2026-01-01T00:02:00.5Z")}}, section="§1")
    art("rollback-on-apply", "seq 3 (destroy) carries rollback_to", "rollback-to",
        {3: {"obj": lambda o: setp("event.rollback_to", {"seq": 1, "hash": o["prev_hash"]})(o)}}, section="§3.1")
    art("rollback-seq-not-below", "seq 3's rollback_to.seq is 3", "rollback-to",
        {3: {"obj": lambda o: setp("event", dict(o["event"], type="rollback",
                                                  rollback_to={"seq": 3, "hash": o["prev_hash"]}))(o)}},
        section="§3.1")
    art("rollback-hash-syntax", "seq 3's rollback_to.hash is not a §1 hash", "rollback-to",
        {3: {"obj": lambda o: setp("event", dict(o["event"], type="rollback",
                                                  rollback_to={"seq": 2, "hash": o["prev_hash"][7:]}))(o)}},
        section="§3.1")
    art("rollback-hash-mismatch", "seq 3 rolls back to seq 1 with seq 2's hash (seq 1 is in the bundle)",
        "rollback-hash-matches", {3: {"obj": lambda o: setp("event", dict(o["event"], type="rollback",
                                                                          rollback_to={"seq": 1,
                                                                                       "hash": o["prev_hash"]}))(o)}},
        section="§3.1")
    art("rollback-hash-mismatch-keys", "range 3..4: seq 4 rolls back to seq 2, the rotation record under keys/, "
        "with seq 3's hash", "rollback-hash-matches",
        {4: {"obj": lambda o: setp("event.rollback_to", {"seq": 2, "hash": o["prev_hash"]})(o)}}, section="§3.1",
        steps=[app, {"rotate": Bk}, app, {"ev": "rollback", "to": 2}], frm=3, to=4, cid="vectors-rotation")
    art("spool-id-syntax", "seq 2's spool id has 31 hex digits", "spool",
        {2: {"obj": setp("event.spool", {"id": "0" * 31, "deployed_at": ts(1), "spooled_at": ts(1)})}},
        section="§3.1")
    art("spool-time-syntax", "seq 2's spool deployed_at is not a §1 time", "spool",
        {2: {"obj": setp("event.spool", {"id": "0" * 32, "deployed_at": "yesterday", "spooled_at": ts(1)})}},
        section="§3.1")
    art("spool-missing-member", "seq 2's spool lacks spooled_at", "spool",
        {2: {"obj": setp("event.spool", {"id": "0" * 32, "deployed_at": ts(1)})}}, section="§3.1")
    art("idempotency-key-short", "seq 2's idempotency_key has 15 characters", "idempotency-key",
        {2: {"obj": setp("event.idempotency_key", "k" * 15)}}, section="§3.1")
    art("idempotency-key-charset", "seq 2's idempotency_key holds a '/'", "idempotency-key",
        {2: {"obj": setp("event.idempotency_key", "run-0001/attempt-1")}}, section="§3.1")
    art("idempotency-key-number", "seq 2's idempotency_key is a number", "idempotency-key",
        {2: {"obj": setp("event.idempotency_key", 1234567890123456)}}, section="§3.1")

    def with_identity(**change):
        def hook(o):
            service_record(o)
            for k, v in change.items():
                if v is None:
                    del o["identity"][k]
                else:
                    o["identity"][k] = v
            return o
        return hook

    art("identity-method", "seq 2's identity method is `password`", "identity",
        {2: {"obj": with_identity(method="password")}}, section="§3.6")
    art("identity-missing-subject", "seq 2's identity has no subject", "identity",
        {2: {"obj": with_identity(subject=None)}}, section="§3.6")
    art("identity-empty-issuer", "seq 2's identity issuer is the empty string", "identity",
        {2: {"obj": with_identity(issuer="")}}, section="§3.6")
    art("identity-claim-not-string", "seq 2's identity claim run_id is the number 7", "identity",
        {2: {"obj": with_identity(claims={"run_id": 7})}}, section="§3.6")
    art("identity-time-syntax", "seq 2's identity expires_at is seconds since the epoch", "identity",
        {2: {"obj": with_identity(expires_at="1767225780")}}, section="§3.6")
    art("identity-verified-by", "seq 2's identity verified_by is `client`", "identity",
        {2: {"obj": with_identity(verified_by="client")}}, section="§3.6")
    art("identity-missing-verified-at", "seq 2's identity has no verified_at", "identity",
        {2: {"obj": with_identity(verified_at=None)}}, section="§3.6")
    art("identity-not-object", "seq 2's identity is a string", "identity",
        {2: {"obj": setp("identity", "repo:acme/infra")}}, section="§3.6")
    art("signer-missing-algorithm", "seq 2's signer has no algorithm", "signer-members",
        {2: {"obj": setp("signer.algorithm", None)}}, section="§3.2")
    art("artifact-not-canonical", "seq 2 with a space after the first colon (signed)", "canonical-json",
        {2: {"bytes": lambda b: b.replace(b":", b": ", 1)}}, section="§1")
    art("artifact-duplicate-member", "seq 2 with `chain_id` twice (signed)", "ijson-no-duplicates",
        {2: {"bytes": lambda b: insert_dup_member(b, "chain_id", "vectors-pss")}}, section="§1")
    art("artifact-bom", "seq 2 starts with a UTF-8 byte-order mark (signed)", "ijson-utf8", {2: {"bytes": lambda b:
                                                                                               b"\xef\xbb\xbf" + b}},
        section="§1")
    art("artifact-invalid-utf8", "seq 2 holds the byte 0xff in a context string (signed)", "ijson-utf8",
        {2: {"obj": setp("context", {"host": "u@h\u00ff"}), "bytes": lambda b: b.replace(b"\xc3\xbf", b"\xff")}},
        section="§1")
    art("artifact-lone-surrogate", "seq 2 holds \\ud800 in a context string (signed)", "ijson-surrogates",
        {2: {"obj": setp("context", {"host": "u@h"}), "bytes": lambda b: b.replace(b"u@h", b"u@h\\ud800")}},
        section="§1")
    art("artifact-noncharacter-ffff", "seq 2 holds U+FFFF in a context string (canonical, signed)",
        "ijson-noncharacters", {2: {"obj": setp("context", {"host": "u@h\uffff"})}}, section="§1")
    art("artifact-noncharacter-fdd0", "seq 2 holds U+FDD0 in a context string (canonical, signed)",
        "ijson-noncharacters", {2: {"obj": setp("context", {"host": "u@h\ufdd0"})}}, section="§1")
    art("artifact-noncharacter-plane1", "seq 2 holds U+1FFFE in a context string (canonical, signed)",
        "ijson-noncharacters", {2: {"obj": setp("context", {"host": "u@h\U0001fffe"})}}, section="§1")
    def nest(levels):
        deep = "x"
        for _ in range(levels):
            deep = [deep]
        return deep

    # Depth counts containers, the document itself being level 1: the
    # artifact (1), context (2) and 127 arrays make 129 levels.
    art("artifact-nesting", "seq 2 nests 129 levels deep (the artifact, context, 127 arrays): one over the limit",
        "nesting-limit", {2: {"obj": setp("context", {"deep": nest(127)})}}, section="§1")
    c = Chain("vectors-pss", A, [app, app, app], {2: {"obj": setp("context", {"deep": nest(126)})}})
    S.add("valid-nesting-128", "seq 2 nests exactly 128 levels deep (the artifact, context, 126 arrays)", "§1",
          "nesting-limit", bundle(c, 1, 3), chain=c)
    art("artifact-float", "seq 2's exit_code is 0.5 (canonical)", "event-exit-code",
        {2: {"obj": setp("event.exit_code", 0), "bytes": lambda b: b.replace(b'"exit_code":0', b'"exit_code":0.5')}},
        section="§3.1")

    art("artifact-number-overflow", "seq 2's exit_code is 1e400 (not a finite double; signed)", "ijson-numbers",
        {2: {"bytes": lambda b: b.replace(b'"exit_code":0', b'"exit_code":1e400')}}, section="§1")
    # -------- layer 4: artifact signatures
    art("artifact-sig-corrupt", "seq 2's signature with one bit flipped", "artifact-signature", {2: {"sig": flip_last}},
        section="§6", layer=4)
    art("artifact-sig-short", "seq 2's PSS signature with its leading zero byte removed (OpenSSL accepts it)",
        "rsa-signature-length", {2: {"sigvariant": "short"}}, section="§2", layer=4)
    art("artifact-pss-salt-20", "seq 2's PSS signature made with a 20-byte salt", "pss-salt-32",
        {2: {"sigvariant": "salt20"}}, section="§2", layer=4)
    art("artifact-alg-mismatch", "seq 2 names ECDSA_SHA_256 for the RSA key", "algorithm-fits-key",
        {2: {"obj": setp("signer.algorithm", ECDSA)}}, section="§2", layer=4)
    art("artifact-pkcs1-named-pss", "seq 2 names PSS but is signed with PKCS1 v1.5", "artifact-signature",
        {2: {"obj": setp("signer.algorithm", PKCS1), "bytes": lambda b: b.replace(PKCS1.encode(), PSS.encode())}},
        section="§2", layer=4)
    art("ecdsa-sig-trailing-byte", "seq 2's ECDSA signature with a zero byte after the DER", "ecdsa-strict-der",
        {2: {"sigvariant": "trailing"}}, section="§2", layer=4, anchor=Bk, cid="vectors-ecdsa")
    art("ecdsa-sig-nonminimal-int", "seq 2's ECDSA signature with a non-minimal INTEGER r", "ecdsa-strict-der",
        {2: {"sigvariant": "ber-int"}}, section="§2", layer=4, anchor=Bk, cid="vectors-ecdsa")
    art("artifact-wrong-key", "seq 4 signed by the retired anchor key (named as signer)", "key-in-force",
        {4: {"signkey": A}}, section="§4", layer=4, steps=main_steps, to=8, cid="vectors-rotation")

    # -------- layer 5: checkpoints
    def cp(name, desc, rule, ckpts, chain=pss, frm=1, to=3, own=None, tsa_ca=False, section="§6"):
        S.bad(name, desc, section, rule, 5, bundle(chain, frm, to, ckpt=own), chain=chain, checkpoints=ckpts,
              tsa_ca=tsa_ca)

    cp("checkpoint-after-range", "trusted checkpoint at seq 3, bundle 1..2 (records withheld)", "checkpoint-seq-range",
       [checkpoint(pss, 3)], to=2)
    cp("checkpoint-before-base", "trusted checkpoint at seq 1, range 3..3", "checkpoint-seq-range",
       [checkpoint(pss, 1)], frm=3)
    cp("checkpoint-head-hash", "trusted checkpoint at seq 2 with another head_hash", "checkpoint-head-hash",
       [checkpoint(pss, 2, obj_hook=setp("head_hash", hhex(b"other")))])
    cp("checkpoint-base-hash", "range 2..3, trusted checkpoint at seq 1 = from_seq - 1 with another head_hash",
       "checkpoint-head-hash", [checkpoint(pss, 1, obj_hook=setp("head_hash", hhex(b"other")))], frm=2)
    cp("checkpoint-key-at-head", "trusted checkpoint at rotation seq 3 signed by the old key (in force AT the head)",
       "checkpoint-key-after-seq", [checkpoint(main, 3, key=A)], chain=main, to=8, section="§8.1")
    cp("checkpoint-chain-id", "trusted checkpoint of another chain_id", "checkpoint-chain-id",
       [checkpoint(pss, 2, obj_hook=setp("chain_id", "vectors-other"))])
    cp("checkpoint-unknown-member", "trusted checkpoint with an extra member", "checkpoint-unknown-member",
       [checkpoint(pss, 2, obj_hook=setp("note", "x"))], section="§8.1")
    cp("checkpoint-sig-corrupt", "trusted checkpoint whose signature is another document's", "checkpoint-signature",
       [checkpoint(pss, 2, raw_hook=lambda b: b.split(b"\nsig ")[0] + b"\nsig " +
                   checkpoint(pss, 3).split(b"\nsig ")[1])])
    cp("checkpoint-sig-short", "trusted checkpoint with a PSS signature missing its leading zero byte",
       "rsa-signature-length", [checkpoint(pss, 2, sigvariant="short")], section="§2")
    cp("checkpoint-crlf", "trusted checkpoint file with CRLF line ends", "checkpoint-file",
       [checkpoint(pss, 2, raw_hook=lambda b: b.replace(b"\n", b"\r\n"))], section="§8.2")
    cp("checkpoint-trailing-data", "trusted checkpoint file with an empty line at the end", "checkpoint-file",
       [checkpoint(pss, 2, raw_hook=lambda b: b + b"\n")], section="§8.2")
    rejection = vlib.seq(vlib.seq(vlib.der_int(2)))  # TimeStampResp, status rejection, no token
    cp("checkpoint-tsa-rejected", "a timestamp line holding a TimeStampResp with status rejection", "tsa-granted",
       [checkpoint(pss, 3, raw_hook=lambda b: b + b"tsa " + TSA_NONCE.encode() + b" " + b64(rejection).encode() +
                   b"\n")], tsa_ca=True, section="§8.2")
    cp("checkpoint-tsa-untrusted-ca", "a good timestamp checked against another TSA CA (keys/tsa/other-ca.pem)",
       "tsa-chain", [ct], tsa_ca=True, section="§8.2")
    S.vectors[-1]["inputs"]["tsa_ca"] = "keys/tsa/other-ca.pem"
    cp("checkpoint-no-final-newline", "trusted checkpoint file whose last line has no \\n", "checkpoint-file",
       [checkpoint(pss, 2, raw_hook=lambda b: b[:-1])], section="§8.2")
    cp("checkpoint-own-bad", "the bundle's own checkpoint.ckpt with another head_hash", "checkpoint-head-hash",
       [], own=checkpoint(pss, 3, obj_hook=setp("head_hash", hhex(b"other"))))
    cp("checkpoint-tsa-imprint", "a timestamp over another checkpoint's digest", "tsa-imprint",
       [checkpoint(pss, 3, tsa=True, tsa_digest_of=canon({"other": 1}))], tsa_ca=True, section="§8.2")
    cp("checkpoint-tsa-nonce", "a timestamp whose nonce is not the tsa line's", "tsa-nonce",
       [checkpoint(pss, 3, tsa=True, nonce="0123456789abcdef")], tsa_ca=True, section="§8.2")
    cp("checkpoint-tsa-no-cert", "a timestamp requested without certReq: the token holds no certificate",
       "tsa-signer", [checkpoint(pss, 3, tsa=True, tsa_cert_req=False)], tsa_ca=True, section="§8.3")
    cp("checkpoint-tsa-bad-signature", "a timestamp whose CMS signature has its last bit flipped",
       "tsa-signature", [checkpoint(pss, 3, tsa=True, tsa_hook=flip_last)], tsa_ca=True, section="§8.3")
    cp("checkpoint-tsa-eku-not-critical", "a timestamp by a TSA certificate whose extended key usage "
       "(timeStamping only) is not critical, checked with its CA (keys/tsa/noncrit-ca.pem)", "tsa-eku",
       [checkpoint(pss, 3, tsa=True, tsa_signer="tsa-noncrit")], tsa_ca=True, section="§8.3")
    S.vectors[-1]["inputs"]["tsa_ca"] = "keys/tsa/noncrit-ca.pem"

    # -------- archives (layer 1, decision A)
    base = bundle(pss, 1, 3)
    order = archive_order(base)
    mt = mtime_of(CREATED)

    def tgz(name, desc, rule, tar):
        S.bad(name, desc, "§5.3", rule, 1, base, form="tar.gz", chain=pss, archive=vlib.gzip_bytes(tar))

    rec = b" mtime=%d\n" % mtime_of(CREATED)
    rec = str(len(rec) + 2).encode() + rec
    pax = vlib.tar_entry("PaxHeaders/x", rec, mt, typeflag=b"x")
    tgz("tar-pax-header", "a pax `x` header (mtime only) before the first entry", "tar-typeflag",
        pax + vlib.tar_bytes(order, mt))
    tgz("tar-gnu-magic", "entries with GNU `ustar  ` magic", "tar-magic",
        b"".join(vlib.tar_entry(n, d, mt, magic=b"ustar  \x00") for n, d in order) + b"\x00" * 1024)
    tgz("tar-directory-entry", "an `artifacts/` directory entry", "archive-path-set",
        vlib.tar_header("artifacts/", 0, mt, mode=0o555, typeflag=b"5") + vlib.tar_bytes(order, mt))
    tgz("tar-dot-slash", "entry names starting with ./", "archive-path-set",
        vlib.tar_bytes([("./" + n, d) for n, d in order], mt))
    tgz("tar-data-after-end", "a further entry after the end-of-archive blocks", "tar-end",
        vlib.tar_bytes(order, mt) + vlib.tar_entry("artifacts/000000000001.json", pss.rec(1).data, mt))
    tgz("tar-one-end-block", "only one zero block at the end", "tar-end", vlib.tar_bytes(order, mt, end=b"\x00" * 512))
    tgz("tar-duplicate-entry", "artifacts/000000000001.json twice (same bytes)", "archive-unique-names",
        b"".join(vlib.tar_entry(n, d, mt) for n, d in order + [order[2]]) + b"\x00" * 1024)
    tgz("tar-setuid-mode", "an entry with mode 4755", "tar-mode",
        b"".join(vlib.tar_entry(n, d, mt, mode=(0o4755 if i == 2 else 0o444)) for i, (n, d) in enumerate(order)) +
        b"\x00" * 1024)
    tgz("tar-unlisted-entry", "an extra entry notes.txt", "archive-path-set",
        vlib.tar_bytes(order + [("notes.txt", b"hello\n")], mt))
    tar = bytearray(vlib.tar_bytes(order, mt))
    first_len = len(order[0][1])
    assert first_len % 512
    tar[512 + first_len] = ord("x")
    tgz("tar-nonzero-padding", "the padding after manifest.json's data holds an `x`", "tar-padding", bytes(tar))
    S.bad("archive-plain-tar", "an uncompressed tar (neither gzip nor zip) named bundle.tar.gz", "§5.3",
          "archive-form", 1, base, form="tar.gz", chain=pss, archive=vlib.tar_bytes(order, mt))
    big = bundle(pss, 1, 3, verify_md=True, files_hook=add_file("VERIFY.md", b"#" * (8 * 1024 * 1024 + 1)))
    S.bad("archive-file-over-cap", "VERIFY.md of 8 MiB + 1 bytes in a .tar.gz of 60 KB (listed as it is)", "§5.3",
          "archive-caps", 1, big, form="tar.gz", chain=pss,
          archive=vlib.gzip_bytes(vlib.tar_bytes(archive_order(big), mt), runs=True))
    good_tgz = to_tgz(base)
    S.bad("gzip-two-members", "a second (empty) gzip member after the first", "§5.3", "gzip-one-member", 1, base,
          form="tar.gz", chain=pss, archive=good_tgz + vlib.gzip_bytes(b""))
    S.bad("gzip-trailing-zeros", "zero bytes after the gzip trailer", "§5.3", "gzip-one-member", 1, base,
          form="tar.gz", chain=pss, archive=good_tgz + b"\x00" * 8)
    names = [n for n, _ in order]
    S.bad("zip-central-name-differs", "central directory names entry 3 differently from its local header", "§5.3",
          "zip-local-central-agree", 1, base, form="zip", chain=pss,
          archive=vlib.zip_bytes(order, CREATED, central_names=names[:2] + ["artifacts/000000000009.json"] +
                                 names[3:]))
    S.bad("zip-comment", "an archive comment", "§5.3", "zip-eocd", 1, base, form="zip", chain=pss,
          archive=vlib.zip_bytes(order, CREATED, comment=b"hi"))
    S.bad("zip-prepended-data", "data before the first local header (offsets adjusted)", "§5.3",
          "zip-contiguous", 1, base, form="zip", chain=pss, archive=vlib.zip_bytes(order, CREATED, prepend=b"X" * 64))
    S.bad("zip-unlisted-entry", "an extra entry notes.txt", "§5.3", "archive-path-set", 1, base, form="zip",
          chain=pss, archive=vlib.zip_bytes(order + [("notes.txt", b"hello\n")], CREATED))
    S.bad("zip-utf8-flag", "entry 3 has general purpose flag 0x0800 (UTF-8) in both headers", "§5.3", "zip-flags",
          1, base, form="zip", chain=pss, archive=vlib.zip_bytes(order, CREATED, flags={2: 0x800}))
    S.bad("zip-crc-mismatch", "entry 3's CRC-32 (the same in both headers) is not its data's", "§5.3", "zip-method",
          1, base, form="zip", chain=pss, archive=vlib.zip_bytes(order, CREATED, crc_xor={2: 1}))
    S.bad("zip-setuid-attr", "entry 3's external attributes are a Unix regular file with mode 4444 (setuid)",
          "§5.3", "zip-attributes", 1, base, form="zip", chain=pss,
          archive=vlib.zip_bytes(order, CREATED, ext_attr={2: 0o104444 << 16}))
    S.bad("zip-version-needed", "entry 3 needs version 4.5 to extract (in both headers)", "§5.3",
          "zip-version", 1, base, form="zip", chain=pss,
          archive=vlib.zip_bytes(order, CREATED, version_needed={2: 45}))
    S.bad("zip-internal-attr", "entry 3's internal attributes mark it as text (1)", "§5.3", "zip-attributes", 1,
          base, form="zip", chain=pss, archive=vlib.zip_bytes(order, CREATED, int_attr={2: 1}))
    S.bad("tar-end-over-1mib", "1 MiB + 512 zero bytes from the first end block to the end of the tar", "§5.3",
          "tar-end", 1, base, form="tar.gz", chain=pss,
          archive=vlib.gzip_bytes(vlib.tar_bytes(order, mt, end=b"\x00" * ((1 << 20) + 512)), runs=True))

    # -------- exporter-signed manifests (schema 2): valid, then one fault each
    X = derived_ec_key(100)  # an exporter's own key: no chain of the suite uses it
    S.add("valid-exporter-signed", "the PSS chain's bundle with its manifest signed by the exporter's own EC key "
          "(schema 2, exporter_key.pem), reported as exporter-signed", "§5.2", "exporter-signed-manifest",
          bundle(pss, 1, 3, ekey=Bk), chain=pss)
    S.add("valid-exporter-signed-unpinned", "valid-exporter-signed without a pinned anchor", "§6",
          "exporter-signed-manifest", bundle(pss, 1, 3, ekey=Bk), chain=pss, pin=False)
    S.add("valid-exporter-signed-rotation", "range 4..5 of the rotation chain, exporter-signed: keys/ still leads "
          "from the anchor to public_key.pem, the key in force at export", "§5.2", "exporter-signed-manifest",
          bundle(main, 4, 5, ekey=X), chain=main)
    exp_full = bundle(main, 1, 8, ekey=X, ckpt=checkpoint(main, 8))
    S.add("valid-exporter-signed-tgz", "the whole rotation chain, exporter-signed, as a .tar.gz, held to a trusted "
          "checkpoint at its head and --require-genesis", "§5.3", "exporter-signed-manifest", exp_full,
          form="tar.gz", chain=main, checkpoints=[checkpoint(main, 8)], require_genesis=True)
    S.add("valid-exporter-signed-zip", "valid-exporter-signed-tgz as a .zip", "§5.3", "exporter-signed-manifest",
          exp_full, form="zip", chain=main, checkpoints=[checkpoint(main, 8)], require_genesis=True)
    man("exporter-kind-in-schema-1", "a chain-signed (schema 1) manifest with `kind` exporter-signed",
        "manifest-kind", manifest_hook=setp("kind", "exporter-signed"))
    man("exporter-kind-unknown", "an exporter-signed manifest whose `kind` is `unsigned`", "manifest-kind",
        ekey=Bk, manifest_hook=setp("kind", "unsigned"))
    man("exporter-key-unlisted", "an exporter-signed manifest without exporter_key.pem (neither listed nor "
        "present)", "exporter-key-listed", ekey=Bk, files_hook=drop("exporter_key.pem"))
    man("exporter-key-in-schema-1", "a chain-signed manifest that lists (and holds) exporter_key.pem",
        "exporter-key-listed", files_hook=add_file("exporter_key.pem", Bk.pem))
    man("exporter-claims-chain-signed", "a schema 1 (chain-signed) manifest signed by an exporter's key, "
        "public_key.pem the chain's key", "manifest-key-in-force", section="§6", mkey=Bk, public_pem=A.pem)
    man("exporter-claims-chain-own-public-key", "a schema 1 manifest signed by an exporter's key that "
        "public_key.pem also holds: the bundle's anchor is not the pinned one", "anchor-pinned", section="§6",
        mkey=Bk)
    man("exporter-key-is-chain-key", "an exporter-signed manifest whose exporter key is the chain's own key",
        "exporter-key-not-chain-key", section="§6", ekey=A)
    man("exporter-key-is-retired-chain-key", "an exporter-signed manifest of the rotation chain whose exporter key "
        "is the chain's rotated-in (since retired) EC key", "exporter-key-not-chain-key", section="§6",
        chain=main, frm=1, to=8, ekey=Bk)
    man("exporter-key-pem-other-key", "exporter_key.pem holds another key than the manifest's signer",
        "exporter-key-is-manifest-key", section="§6", ekey=Bk, exporter_pem=C.pem)
    man("exporter-public-key-not-key-in-force", "an exporter-signed bundle of the rotation chain whose "
        "public_key.pem holds the retired anchor key", "exporter-public-key-in-force", section="§6", chain=main,
        frm=1, to=8, ekey=X, public_pem=A.pem)
    man("exporter-signed-by-chain-key", "an exporter-signed manifest whose manifest.sig was made by the chain's key",
        "manifest-signature", section="§6", ekey=Bk,
        after_hook=lambda f: dict(f, **{"manifest.sig": A.sign(f["manifest.json"])}))
    man("exporter-key-rsa-1024", "an exporter-signed manifest whose exporter key is RSA-1024", "key-supported",
        section="§1", ekey=small)
    man("exporter-key-pem-crlf", "exporter_key.pem with CRLF line ends (the same key)", "pem-strict",
        section="§1", ekey=Bk, exporter_pem=pem_lines(Bk.spki, 64, b"\r\n"))
    man("exporter-key-hash-mismatch", "exporter_key.pem differs from its manifest entry (its last byte changed)",
        "file-hash", section="§6", ekey=Bk, after_hook=lambda f: dict(f, **{"exporter_key.pem":
                                                                        flip_last(f["exporter_key.pem"])}))
    S.bad("exporter-require-chain-manifest", "valid-exporter-signed verified with --require-chain-manifest",
          "§6", "require-chain-manifest", 1, bundle(pss, 1, 3, ekey=Bk), chain=pss, require_chain_manifest=True)

    # -------- the manifest's optional writer (R-5.2-13, R-5.2-14): valid, then one fault each
    def writer(name="tfattest", version="0.1.0", **extra):
        return setp("writer", dict({"name": name, "version": version}, **extra))

    S.add("valid-writer", "a manifest with `writer` {name tfattest, version 0.1.0}, as tfattest writes it",
          "§5.2", "manifest-writer", bundle(pss, 1, 3, manifest_hook=writer()), chain=pss)
    S.add("valid-writer-absent", "a manifest without `writer`, as bundles written before it existed are",
          "§5.2", "manifest-writer", bundle(pss, 1, 3), chain=pss)
    all64 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwx._+~"
    S.add("valid-writer-bounds", "`writer` with a 1-byte name and a 64-byte version of digits, letters and ._+~",
          "§5.2", "manifest-writer", bundle(pss, 1, 3, manifest_hook=writer("x", all64)), chain=pss)
    S.add("valid-writer-exporter-signed-zip", "an exporter-signed .zip whose `writer` names another program "
          "(`other-tool` 2.0.0-rc.1+b~2): valid, whatever program it names", "§5.2", "manifest-writer",
          bundle(pss, 1, 3, ekey=Bk, manifest_hook=writer("other-tool", "2.0.0-rc.1+b~2")), form="zip", chain=pss)
    man("writer-not-object", "manifest `writer` is the string \"tfattest 0.1.0\"", "manifest-writer",
        manifest_hook=setp("writer", "tfattest 0.1.0"))
    man("writer-version-number", "manifest `writer.version` is the number 1", "manifest-writer",
        manifest_hook=writer(version=1))
    man("writer-missing-version", "manifest `writer` without `version`", "manifest-writer",
        manifest_hook=setp("writer", {"name": "tfattest"}))
    man("writer-extra-member", "manifest `writer` with an extra member `commit`", "manifest-writer",
        manifest_hook=writer(commit="0123abc"))
    man("writer-version-empty", "manifest `writer.version` is the empty string", "manifest-writer",
        manifest_hook=writer(version=""))
    man("writer-version-too-long", "manifest `writer.version` is 65 bytes", "manifest-writer",
        manifest_hook=writer(version=all64 + "-"))
    man("writer-name-too-long", "manifest `writer.name` is 65 bytes", "manifest-writer",
        manifest_hook=writer(name="t" * 65))
    man("writer-version-space", "manifest `writer.version` is \"0.1.0 beta\" (a space)", "manifest-writer",
        manifest_hook=writer(version="0.1.0 beta"))
    man("writer-version-slash", "manifest `writer.version` is \"0.1/0\"", "manifest-writer",
        manifest_hook=writer(version="0.1/0"))
    man("writer-version-non-ascii", "manifest `writer.version` is \"0.1.0\u00e9\" (UTF-8, not ASCII)",
        "manifest-writer", manifest_hook=writer(version="0.1.0\u00e9"))
    man("writer-name-control", "manifest `writer.name` holds a newline", "manifest-writer",
        manifest_hook=writer(name="tfattest\n"))

    S.write(out)
    write_kat(out, A, Bk, main)


def write_kat(out, A, Bk, main):
    """Known answers outside the bundles: canonical JSON and fingerprints."""
    kat = os.path.join(out, "kat")
    os.makedirs(kat)
    docs = [
        {"z": 1, "a": [3, 2, 1], "\u00e9": "\u20ac", "\U0001f600": "x", "\ufb33": "y", "A": {"b": True, "a": None}},
        {"ctl": "\u0000\u0001\u001f\u007f\u0080\u009f", "esc": "\"\\/\b\f\n\r\t", "neg": -2147483648,
         "big": 999999999999},
    ]
    for i, d in enumerate(docs, 1):
        # The input: the same document, pretty-printed with members reversed.
        src = json.dumps(dict(reversed(list(d.items()))), indent=2, ensure_ascii=(i == 2)).encode()
        with open(os.path.join(kat, "canon-%d.in.json" % i), "wb") as f:
            f.write(src)
        with open(os.path.join(kat, "canon-%d.out.json" % i), "wb") as f:
            f.write(canon(d))
    r3 = main.rec(3)
    rot3 = r3.obj["rotation"]
    pop = canon({"chain_id": main.chain_id, "new_algorithm": rot3["new_algorithm"],
                 "new_key_fingerprint": rot3["new_key_fingerprint"],
                 "old_key_fingerprint": r3.obj["signer"]["key_fingerprint"], "prev_hash": r3.obj["prev_hash"],
                 "seq": 3, "type": "tfattest.rotation-pop"})
    Bk.pub.verify(__import__("base64").b64decode(rot3["pop_signature"]), pop, ec.ECDSA(hashes.SHA256()))
    with open(os.path.join(kat, "rotation-pop.json"), "w") as f:
        json.dump({"description": "the proof-of-possession document of seq 3 of the valid-rotation vector "
                                  "(FORMAT.md §3.5), its SHA-256 and the signature by the new key",
                   "document": pop.decode(), "sha256": sha256(pop).hex(), "new_key_pem": Bk.pem.decode(),
                   "pop_signature": rot3["pop_signature"]}, f, indent=1, sort_keys=True)
        f.write("\n")
    fps = {k.label: {"pem": k.pem.decode(), "fingerprint": k.fp} for k in (A, Bk)}
    with open(os.path.join(kat, "fingerprints.json"), "w") as f:
        json.dump(fps, f, indent=1, sort_keys=True)
        f.write("\n")


def same_tree(a, b):
    diffs = []
    for root, _, files in os.walk(a):
        for fn in files:
            pa = os.path.join(root, fn)
            rel = os.path.relpath(pa, a)
            pb = os.path.join(b, rel)
            if os.path.islink(pa) or os.path.islink(pb):
                if not (os.path.islink(pa) and os.path.islink(pb)) or os.readlink(pa) != os.readlink(pb):
                    diffs.append(rel)
            elif not os.path.isfile(pb) or not filecmp.cmp(pa, pb, shallow=False):
                diffs.append(rel)
    for root, _, files in os.walk(b):
        for fn in files:
            rel = os.path.relpath(os.path.join(root, fn), b)
            if not os.path.lexists(os.path.join(a, rel)):
                diffs.append(rel + " (not generated)")
    return diffs


def main():
    global CHECK
    args = sys.argv[1:]
    if args == ["--new-keys"]:
        new_keys()
        return 0
    if args not in ([], ["--check"]):
        sys.stderr.write("usage: generate.py [--check | --new-keys]\n")
        return 2
    CHECK = args == ["--check"]
    tmp = tempfile.mkdtemp(prefix="tfa-vectors.")
    try:
        out = os.path.join(tmp, "out")
        build(out)
        if CHECK:
            diffs = []
            for part in ("v", "kat"):
                diffs += [part + "/" + d for d in same_tree(os.path.join(out, part), os.path.join(HERE, part))]
            if not filecmp.cmp(os.path.join(out, "index.json"), os.path.join(HERE, "index.json"), shallow=False):
                diffs.append("index.json")
            for d in diffs:
                sys.stderr.write("generate.py --check: differs: %s\n" % d)
            if diffs:
                return 1
            print("generate.py --check: %d vectors, identical to the committed ones" %
                  len(json.load(open(os.path.join(out, "index.json")))["vectors"]))
            return 0
        os.makedirs(os.path.dirname(SHORT_PSS_FILE), exist_ok=True)
        with open(SHORT_PSS_FILE, "w") as f:
            json.dump(SHORT_PSS_USED, f, indent=1, sort_keys=True)
            f.write("\n")
        for part in ("v", "kat"):
            shutil.rmtree(os.path.join(HERE, part), ignore_errors=True)
            shutil.copytree(os.path.join(out, part), os.path.join(HERE, part), symlinks=True)
        shutil.copy(os.path.join(out, "index.json"), os.path.join(HERE, "index.json"))
        return 0
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
