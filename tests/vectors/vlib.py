"""Building blocks of the conformance-vector generator.

A second implementation of what tfattest writes, independent of its C code:
RFC 8785 canonical JSON (the subset the documents use), DER for public keys,
RSASSA-PKCS1-v1_5 and RSASSA-PSS done with Python integers, ECDSA P-256 with
RFC 6979 deterministic nonces in pure Python, and the tar, gzip and zip
writers of the accepted archive subset. python3-cryptography is used only to
load the committed test keys and to check every signature made here.
"""

import base64
import hashlib
import hmac
import struct
import zlib

# ---------------------------------------------------------------- RFC 8785


def _canon_str(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20:
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _canon(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, int):
        # Integers only; every number in these documents is one, and well
        # inside the range where ECMAScript prints the plain decimal form.
        assert abs(v) < 2**53
        return str(v)
    if isinstance(v, str):
        return _canon_str(v)
    if isinstance(v, list):
        return "[" + ",".join(_canon(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(_canon_str(k) + ":" + _canon(v[k]) for k in keys) + "}"
    raise TypeError("not serializable: %r" % (v,))


def canon(v):
    """The RFC 8785 bytes of v (str, int, bool, None, list, dict)."""
    return _canon(v).encode("utf-8", "surrogatepass")


def sha256(b):
    return hashlib.sha256(b).digest()


def hhex(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def b64(b):
    return base64.b64encode(b).decode("ascii")


# ---------------------------------------------------------------- DER


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def der_int(v, pad=0):
    b = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big")  # minimal, sign bit clear
    return tlv(0x02, b"\x00" * pad + b)


def der_oid(dotted):
    parts = [int(x) for x in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        enc = [p & 0x7F]
        p >>= 7
        while p:
            enc.append(0x80 | (p & 0x7F))
            p >>= 7
        body += bytes(reversed(enc))
    return tlv(0x06, body)


def seq(*items):
    return tlv(0x30, b"".join(items))


OID_RSA = "1.2.840.113549.1.1.1"
OID_RSA_PSS = "1.2.840.113549.1.1.10"
OID_EC = "1.2.840.10045.2.1"
OID_P256 = "1.2.840.10045.3.1.7"
NULL = b"\x05\x00"


def rsa_spki(n, e, params=NULL, oid=OID_RSA):
    alg = seq(der_oid(oid), params) if params is not None else seq(der_oid(oid))
    return seq(alg, tlv(0x03, b"\x00" + seq(der_int(n), der_int(e))))


def ec_spki(x, y, compressed=False, hybrid=False):
    if hybrid:
        pt = bytes([6 + (y & 1)]) + x.to_bytes(32, "big") + y.to_bytes(32, "big")
    elif compressed:
        pt = bytes([2 + (y & 1)]) + x.to_bytes(32, "big")
    else:
        pt = b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")
    return seq(seq(der_oid(OID_EC), der_oid(OID_P256)), tlv(0x03, b"\x00" + pt))


def ec_spki_explicit(x, y):
    """The P-256 key with explicit curve parameters (RFC 3279 ECParameters)."""
    field = seq(der_oid("1.2.840.10045.1.1"), der_int(P))
    curve = seq(tlv(0x04, A.to_bytes(32, "big")), tlv(0x04, B.to_bytes(32, "big")))
    base = tlv(0x04, b"\x04" + G[0].to_bytes(32, "big") + G[1].to_bytes(32, "big"))
    params = seq(der_int(1), field, curve, base, der_int(N), der_int(1))
    pt = b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")
    return seq(seq(der_oid(OID_EC), params), tlv(0x03, b"\x00" + pt))


def pem(der):
    s = base64.b64encode(der).decode("ascii")
    lines = [s[i:i + 64] for i in range(0, len(s), 64)]
    return ("-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n").encode()


# ---------------------------------------------------------------- RSA

DIGESTINFO_SHA256 = bytes.fromhex("3031300d060960864801650304020105000420")


def _mgf1(seed, length):
    out = b""
    c = 0
    while len(out) < length:
        out += sha256(seed + c.to_bytes(4, "big"))
        c += 1
    return out[:length]


class RsaPriv:
    def __init__(self, n, e, d, p, q):
        self.n, self.e, self.d, self.p, self.q = n, e, d, p, q
        self.dp, self.dq = d % (p - 1), d % (q - 1)
        self.qinv = pow(q, -1, p)
        self.k = (n.bit_length() + 7) // 8

    def private_op(self, m):
        assert 0 <= m < self.n
        m1 = pow(m, self.dp, self.p)
        m2 = pow(m, self.dq, self.q)
        h = (self.qinv * (m1 - m2)) % self.p
        s = m2 + h * self.q
        assert pow(s, self.e, self.n) == m
        return s.to_bytes(self.k, "big")

    def sign_pkcs1(self, msg):
        t = DIGESTINFO_SHA256 + sha256(msg)
        em = b"\x00\x01" + b"\xff" * (self.k - len(t) - 3) + b"\x00" + t
        return self.private_op(int.from_bytes(em, "big"))

    def sign_pss(self, msg, salt):
        mhash = sha256(msg)
        embits = self.n.bit_length() - 1
        emlen = (embits + 7) // 8
        h = sha256(b"\x00" * 8 + mhash + salt)
        db = b"\x00" * (emlen - len(salt) - 32 - 2) + b"\x01" + salt
        masked = bytearray(a ^ b for a, b in zip(db, _mgf1(h, emlen - 33)))
        masked[0] &= 0xFF >> (8 * emlen - embits)
        em = bytes(masked) + h + b"\xbc"
        return self.private_op(int.from_bytes(em, "big"))


# ---------------------------------------------------------------- P-256

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
A = P - 3
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
     0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)


def _jdouble(pt):
    x, y, z = pt
    if y == 0 or z == 0:
        return (0, 1, 0)
    ysq = y * y % P
    s = 4 * x * ysq % P
    zz = z * z % P
    m = 3 * (x - zz) * (x + zz) % P  # a = -3
    nx = (m * m - 2 * s) % P
    ny = (m * (s - nx) - 8 * ysq * ysq) % P
    nz = 2 * y * z % P
    return (nx, ny, nz)


def _jadd(p1, p2):
    if p1[2] == 0:
        return p2
    if p2[2] == 0:
        return p1
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    z1z1, z2z2 = z1 * z1 % P, z2 * z2 % P
    u1, u2 = x1 * z2z2 % P, x2 * z1z1 % P
    s1, s2 = y1 * z2 * z2z2 % P, y2 * z1 * z1z1 % P
    if u1 == u2:
        if s1 != s2:
            return (0, 1, 0)
        return _jdouble(p1)
    h = (u2 - u1) % P
    r = (s2 - s1) % P
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    nx = (r * r - hhh - 2 * v) % P
    ny = (r * (v - nx) - s1 * hhh) % P
    nz = h * z1 * z2 % P
    return (nx, ny, nz)


def ec_mul(k, pt=G):
    acc = (0, 1, 0)
    cur = (pt[0], pt[1], 1)
    while k:
        if k & 1:
            acc = _jadd(acc, cur)
        cur = _jdouble(cur)
        k >>= 1
    x, y, z = acc
    zi = pow(z, -1, P)
    return (x * zi * zi % P, y * zi * zi * zi % P)


def rfc6979_k(x, h1):
    """RFC 6979 §3.2 nonce for P-256 with HMAC-SHA-256; h1 is the message hash."""
    xo = x.to_bytes(32, "big")
    ho = (int.from_bytes(h1, "big") % N).to_bytes(32, "big")
    v = b"\x01" * 32
    k = b"\x00" * 32
    k = hmac.new(k, v + b"\x00" + xo + ho, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    k = hmac.new(k, v + b"\x01" + xo + ho, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    while True:
        v = hmac.new(k, v, hashlib.sha256).digest()
        cand = int.from_bytes(v, "big")
        if 1 <= cand < N:
            return cand
        k = hmac.new(k, v + b"\x00", hashlib.sha256).digest()
        v = hmac.new(k, v, hashlib.sha256).digest()


def ecdsa_sign(x, msg):
    """(r, s) over SHA-256(msg), deterministic (RFC 6979)."""
    h1 = sha256(msg)
    e = int.from_bytes(h1, "big")
    k = rfc6979_k(x, h1)
    r = ec_mul(k)[0] % N
    s = pow(k, -1, N) * (e + r * x) % N
    assert r and s
    return r, s


def ecdsa_der(r, s, pad_r=0):
    return seq(der_int(r, pad_r), der_int(s))


def self_test():
    """RFC 6979 A.2.5 (P-256, SHA-256) and the RFC 8785 sorting example."""
    x = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
    ux, uy = ec_mul(x)
    assert ux == 0x60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6
    assert uy == 0x7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299
    assert rfc6979_k(x, sha256(b"sample")) == \
        0xA6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60
    r, s = ecdsa_sign(x, b"sample")
    assert r == 0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716
    assert s == 0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8
    r, s = ecdsa_sign(x, b"test")
    assert r == 0xF1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367
    assert s == 0x019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083
    # RFC 8785 §3.2.3: members sorted by UTF-16 code units.
    doc = {"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
           "1": "One", "\U0001f600": "Emoji: Grinning Face", "\u0080": "Control",
           "\u00f6": "Latin Small Letter O With Diaeresis"}
    order = [k for k in (canon(doc).decode()[1:-1].split('","'))]
    assert [o.split('":"')[0].lstrip('"') for o in order] == \
        ["\\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert canon({"a": "\u000f\"\\\n"}) == b'{"a":"\\u000f\\"\\\\\\n"}'


# ---------------------------------------------------------------- archives


class _Bits:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value, nbits):  # LSB first
        self.acc |= value << self.n
        self.n += nbits
        while self.n >= 8:
            self.out.append(self.acc & 0xFF)
            self.acc >>= 8
            self.n -= 8

    def put_code(self, code, nbits):  # Huffman codes go MSB first
        rev = int(format(code, "0%db" % nbits)[::-1], 2)
        self.put(rev, nbits)

    def finish(self):
        if self.n:
            self.out.append(self.acc & 0xFF)
        return bytes(self.out)


def deflate_fixed(data):
    """Raw deflate, one final fixed-Huffman block of literals only (RFC 1951
    §3.2.6). Not small, but the same bytes from any implementation."""
    bw = _Bits()
    bw.put(1, 1)  # BFINAL
    bw.put(1, 2)  # BTYPE 01
    for c in data:
        if c < 144:
            bw.put_code(0x30 + c, 8)
        else:
            bw.put_code(0x190 + c - 144, 9)
    bw.put_code(0, 7)  # end of block
    out = bw.finish()
    assert zlib.decompress(out, -15) == data
    return out


# RFC 1951 §3.2.5: (base length, extra bits) of the length codes 257..285.
_LEN_CODES = [(3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (8, 0), (9, 0), (10, 0), (11, 1), (13, 1), (15, 1), (17, 1),
              (19, 2), (23, 2), (27, 2), (31, 2), (35, 3), (43, 3), (51, 3), (59, 3), (67, 4), (83, 4), (99, 4),
              (115, 4), (131, 5), (163, 5), (195, 5), (227, 5), (258, 0)]


def _put_lit(bw, c):
    if c < 144:
        bw.put_code(0x30 + c, 8)
    else:
        bw.put_code(0x190 + c - 144, 9)


def _put_len(bw, n):
    """The fixed-Huffman length code for n (3..258), then distance 1."""
    i = max(j for j, (base, _) in enumerate(_LEN_CODES) if base <= n)
    if i == 28 and n != 258:
        i = 27
    base, extra = _LEN_CODES[i]
    code = 257 + i
    if code < 280:
        bw.put_code(code - 256, 7)
    else:
        bw.put_code(0xC0 + code - 280, 8)
    if extra:
        bw.put(n - base, extra)
    bw.put_code(0, 5)  # distance code 0: distance 1, no extra bits


def deflate_runs(data):
    """Raw deflate, one final fixed-Huffman block in which every run of a
    repeated byte is a distance-1 back-reference: small for long runs (a
    compression bomb), the same bytes from any implementation."""
    bw = _Bits()
    bw.put(1, 1)
    bw.put(1, 2)
    i, n = 0, len(data)
    while i < n:
        _put_lit(bw, data[i])
        j = i + 1
        while j < n and data[j] == data[i]:
            j += 1
        run = j - i - 1  # repeats after the literal
        while run >= 3:
            k = min(run, 258)
            if run - k in (1, 2):
                k -= 3
            _put_len(bw, k)
            run -= k
        for _ in range(run):
            _put_lit(bw, data[i])
        i = j
    bw.put_code(0, 7)
    out = bw.finish()
    assert zlib.decompress(out, -15) == data
    return out


def gzip_bytes(data, runs=False):
    """One gzip member: FLG 0, MTIME 0, XFL 0, OS 255, then the deflate stream
    (literals only, or with runs as back-references) and the trailer."""
    hdr = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    body = deflate_runs(data) if runs else deflate_fixed(data)
    return hdr + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def _oct(v, width):
    return ("%0*o" % (width - 1, v)).encode() + b"\x00"


def tar_header(name, size, mtime, mode=0o444, typeflag=b"0", magic=b"ustar\x0000", prefix=b""):
    h = bytearray(512)
    nb = name.encode()
    h[0:len(nb)] = nb
    h[100:108] = _oct(mode, 8)
    h[108:116] = _oct(0, 8)
    h[116:124] = _oct(0, 8)
    h[124:136] = _oct(size, 12)
    h[136:148] = _oct(mtime, 12)
    h[148:156] = b" " * 8
    h[156:157] = typeflag
    h[257:265] = magic
    h[265:269] = b"root"
    h[297:301] = b"root"
    h[329:337] = _oct(0, 8)
    h[337:345] = _oct(0, 8)
    h[345:345 + len(prefix)] = prefix
    chk = sum(h)
    h[148:156] = ("%06o" % chk).encode() + b"\x00 "
    return bytes(h)


def tar_entry(name, data, mtime, **kw):
    pad = (-len(data)) % 512
    return tar_header(name, len(data), mtime, **kw) + data + b"\x00" * pad


def tar_bytes(entries, mtime, end=b"\x00" * 1024):
    return b"".join(tar_entry(n, d, mtime) for n, d in entries) + end


def dos_time(t):
    """(time, date) of a 'YYYY-MM-DDTHH:MM:SSZ' string, as zip stores them."""
    y, mo, d = int(t[0:4]), int(t[5:7]), int(t[8:10])
    hh, mm, ss = int(t[11:13]), int(t[14:16]), int(t[17:19])
    return (hh << 11) | (mm << 5) | (ss // 2), ((y - 1980) << 9) | (mo << 5) | d


def zip_bytes(entries, created, method=8, central_names=None, comment=b"", prepend=b"", flags=None,
              crc_xor=None, ext_attr=None, version_needed=None, int_attr=None):
    """A zip of the accepted subset; the optional dicts (entry index -> value)
    give one entry other general purpose flags (in both headers), a CRC-32
    XORed with a value (in both headers), other external attributes, another
    version needed to extract (in both headers) or other internal attributes."""
    tm, dt = dos_time(created)
    local = bytearray(prepend)
    central = bytearray()
    for i, (name, data) in enumerate(entries):
        nb = name.encode()
        comp = deflate_fixed(data) if method == 8 else data
        crc = zlib.crc32(data) ^ (crc_xor or {}).get(i, 0)
        fl = (flags or {}).get(i, 0)
        off = len(local)
        vn = (version_needed or {}).get(i, 20)
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, vn, fl, method, tm, dt, crc, len(comp),
                             len(data), len(nb), 0) + nb + comp
        cn = (central_names[i] if central_names else name).encode()
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 20, vn, fl, method, tm, dt,
                               crc, len(comp), len(data), len(cn), 0, 0, 0, (int_attr or {}).get(i, 0),
                               (ext_attr or {}).get(i, 0o100444 << 16), off) + cn
    cd_off = len(local)
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), cd_off,
                       len(comment)) + comment
    return bytes(local + central + eocd)
