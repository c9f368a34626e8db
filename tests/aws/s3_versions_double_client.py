#!/usr/bin/python3
"""Drives the S3 versions double with botocore (the double's self-test).

Usage: s3_versions_double_client.py ENDPOINT
botocore's S3 client makes the ordinary calls; the requests botocore 1.29 does
not make over plain HTTP (aws-chunked bodies, CRC32C and CRC64NVME checksums,
conditional writes) are built here and signed with botocore's S3 SigV4 signer,
and their chunk and trailer signatures computed from the published algorithm.
Checksums are checked against the standard check values of "123456789".
Prints one "ok - ..." line per check; exits 1 when any check fails.
"""

import base64
import hashlib
import hmac
import http.client
import sys
import urllib.parse
import zlib

import botocore.session
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

ENDPOINT = sys.argv[1]
REGION = "us-east-1"
WRITER = ("AKIDWRITER", "writer-secret-00000000000000000000000000")
READER = ("AKIDREADONLY", "readonly-secret-0000000000000000000000")
failures = 0


def check(cond, desc):
    global failures
    if cond:
        print("ok - " + desc)
    else:
        failures += 1
        print("FAIL: " + desc, file=sys.stderr)


def client(creds=WRITER):
    return botocore.session.get_session().create_client(
        "s3", region_name=REGION, endpoint_url=ENDPOINT, aws_access_key_id=creds[0],
        aws_secret_access_key=creds[1],
        config=Config(s3={"addressing_style": "path"},
                      retries={"total_max_attempts": 1, "mode": "standard"},
                      connect_timeout=10, read_timeout=10))


def code_of(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200


def b64(b):
    return base64.b64encode(b).decode()


class Streaming(S3SigV4Auth):
    """botocore's S3 signer with a given X-Amz-Content-SHA256 (a STREAMING marker)."""

    def __init__(self, creds, phash):
        super().__init__(Credentials(*creds), "s3", REGION)
        self.phash = phash

    def payload(self, request):
        return self.phash


def raw(method, path, body=b"", headers=None, creds=WRITER, phash=None):
    """Signs with botocore's S3 signer and sends; returns (status, headers, body, seed, date)."""
    req = AWSRequest(method=method, url=ENDPOINT + path, data=body, headers=headers or {})
    signer = Streaming(creds, phash) if phash else S3SigV4Auth(Credentials(*creds), "s3", REGION)
    signer.add_auth(req)
    prepared = req.prepare()
    u = urllib.parse.urlsplit(ENDPOINT)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request(method, path, body=body, headers=dict(prepared.headers.items()))
    r = c.getresponse()
    data = r.read()
    c.close()
    auth = prepared.headers["Authorization"]
    return r.status, r, data, auth.rsplit("Signature=", 1)[1], prepared.headers["X-Amz-Date"]


def signing_key(secret, date):
    k = hmac.new(("AWS4" + secret).encode(), date[:8].encode(), hashlib.sha256).digest()
    for part in (REGION, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def aws_chunked(path, chunks, trailer=None, signed=False, tamper=None, decoded=None,
                bad_trailer_sig=False):
    """PutObject with an aws-chunked body; chunk (and trailer) signatures when signed."""
    payload = b"".join(chunks)
    h = {"Content-Encoding": "aws-chunked",
         "x-amz-decoded-content-length": str(len(payload) if decoded is None else decoded)}
    if trailer:
        h["x-amz-trailer"] = trailer[0]
    if signed:
        phash = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
    else:
        phash = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    # The chunks are signed on from the headers' signature (the seed), and the
    # headers sign the body's length: the length is taken from a body built with
    # a placeholder seed (signatures have a fixed length), then the body is built.
    def build(seed, date):
        key = signing_key(WRITER[1], date)
        scope = "%s/%s/s3/aws4_request" % (date[:8], REGION)
        prev, out = seed, b""
        for data in list(chunks) + [b""]:
            ext = ""
            if signed:
                sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", date, scope, prev,
                                 hashlib.sha256(b"").hexdigest(), hashlib.sha256(data).hexdigest()])
                prev = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
                ext = ";chunk-signature=" + prev
            out += ("%x%s\r\n" % (len(data), ext)).encode() + data
            if data:
                out += b"\r\n"
        if trailer:
            line = "%s:%s" % trailer
            out += (line + "\r\n").encode()
            if signed:
                sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", date, scope, prev,
                                 hashlib.sha256((line + "\n").encode()).hexdigest()])
                ts = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
                if bad_trailer_sig:
                    ts = "0" * 64
                out += ("x-amz-trailer-signature:%s\r\n" % ts).encode()
        out += b"\r\n"
        if tamper is not None:
            i = out.index(chunks[0]) + tamper
            out = out[:i] + bytes([out[i] ^ 1]) + out[i + 1:]
        return out

    req = AWSRequest(method="PUT", url=ENDPOINT + path, data=b"", headers=dict(h))
    req.headers["Content-Length"] = str(len(build("0" * 64, "20260101T000000Z")))
    Streaming(WRITER, phash).add_auth(req)
    prepared = req.prepare()
    seed = prepared.headers["Authorization"].rsplit("Signature=", 1)[1]
    body = build(seed, prepared.headers["X-Amz-Date"])
    hdrs = dict(prepared.headers.items())
    hdrs["Content-Length"] = str(len(body))
    u = urllib.parse.urlsplit(ENDPOINT)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("PUT", path, body=body, headers=hdrs)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def error_code(data):
    s = data.decode(errors="replace")
    return s.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in s else ""


S = client()
NINE = b"123456789"
CRC32 = b64((0xCBF43926).to_bytes(4, "big"))
CRC32C = b64((0xE3069283).to_bytes(4, "big"))
CRC64NVME = b64((0xAE8B14860A799888).to_bytes(8, "big"))

# botocore's own calls: checksums it computes, Content-MD5, versions, ranges.
r = S.put_object(Bucket="b", Key="k/one", Body=NINE, ChecksumAlgorithm="SHA256")
check(r.get("VersionId") and r.get("ChecksumSHA256") == b64(hashlib.sha256(NINE).digest()),
      "PutObject with botocore's SHA-256 checksum: a version id and the checksum back")
r = S.put_object(Bucket="b", Key="k/one", Body=b"second", ChecksumAlgorithm="CRC32")
v2 = r["VersionId"]
check(r.get("ChecksumCRC32") == b64((zlib.crc32(b"second")).to_bytes(4, "big")),
      "PutObject with botocore's CRC32")
r = S.put_object(Bucket="b", Key="k/one", Body=b"third!", ChecksumAlgorithm="SHA1")
check("ChecksumSHA1" in r, "PutObject with botocore's SHA-1")
g = S.get_object(Bucket="b", Key="k/one", ChecksumMode="ENABLED")
check(g["Body"].read() == b"third!" and g.get("ChecksumSHA1") == b64(hashlib.sha1(b"third!").digest()),
      "GetObject of the current version with x-amz-checksum-mode: its checksum (botocore validates it)")
check(S.get_object(Bucket="b", Key="k/one", VersionId=v2)["Body"].read() == b"second",
      "GetObject by version id")
check(S.put_object(Bucket="b", Key="k/md5", Body=NINE,
                   ContentMD5=b64(hashlib.md5(NINE).digest()))["ResponseMetadata"]["HTTPStatusCode"] == 200,
      "Content-MD5 right: accepted")
check(code_of(S.put_object, Bucket="b", Key="k/md5", Body=NINE,
              ContentMD5=b64(hashlib.md5(b"other").digest())) == ("BadDigest", 400),
      "Content-MD5 wrong: BadDigest")
for rng, want, status in (("bytes=0-3", b"thir", 206), ("bytes=-2", b"d!", 206),
                          ("bytes=4-", b"d!", 206), ("bytes=2-100", b"ird!", 206)):
    g = S.get_object(Bucket="b", Key="k/one", Range=rng)
    check(g["Body"].read() == want and g["ResponseMetadata"]["HTTPStatusCode"] == status and
          g["ContentRange"].endswith("/6"), "Range %s: 206 and the bytes" % rng)
check(code_of(S.get_object, Bucket="b", Key="k/one", Range="bytes=6-") == ("InvalidRange", 416),
      "a range past the end: 416")
h = S.head_object(Bucket="b", Key="k/one")
check(h["ContentLength"] == 6 and h["VersionId"] and h["ETag"] == '"%s"' % hashlib.md5(b"third!").hexdigest(),
      "HeadObject: length, version id, ETag")
check(code_of(S.head_object, Bucket="b", Key="k/none")[1] == 404, "HeadObject of no key: 404")

# Delete markers, versions, deleting a version for good.
d = S.delete_object(Bucket="b", Key="k/one")
check(d.get("DeleteMarker") is True and d.get("VersionId"), "DeleteObject: a delete marker")
check(code_of(S.get_object, Bucket="b", Key="k/one") == ("NoSuchKey", 404), "GetObject after it: NoSuchKey")
check(code_of(S.get_object, Bucket="b", Key="k/one", VersionId=d["VersionId"])[1] == 405,
      "GetObject of the delete marker's version: 405")
vs, dms = [], []
for page in S.get_paginator("list_object_versions").paginate(Bucket="b", Prefix="k/one"):
    vs += page.get("Versions", [])
    dms += page.get("DeleteMarkers", [])
check(len(vs) == 3 and len(dms) == 1 and dms[0]["IsLatest"] and not any(v["IsLatest"] for v in vs),
      "ListObjectVersions, page by page: three versions, the marker latest")
S.delete_object(Bucket="b", Key="k/one", VersionId=d["VersionId"])
check(S.get_object(Bucket="b", Key="k/one")["Body"].read() == b"third!",
      "DeleteObject of the marker's version id: the object is back")

# ListObjectsV2: pages, a delimiter.
for k in ("d/a", "d/b", "d/sub/x", "d/sub/y", "e"):
    S.put_object(Bucket="lb", Key=k, Body=k.encode())
S.delete_object(Bucket="lb", Key="d/b")
keys = []
for page in S.get_paginator("list_objects_v2").paginate(Bucket="lb", Prefix="d/", PaginationConfig={"PageSize": 1}):
    keys += [c["Key"] for c in page.get("Contents", [])]
check(keys == ["d/a", "d/sub/x", "d/sub/y"], "ListObjectsV2 page by page: current keys, no deleted one")
r = S.list_objects_v2(Bucket="lb", Prefix="d/", Delimiter="/")
check([c["Key"] for c in r.get("Contents", [])] == ["d/a"] and
      [p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["d/sub/"], "ListObjectsV2 with a delimiter")

# Checksums botocore 1.29 cannot make here: headers, and the standard check values.
for alg, good in (("crc32", CRC32), ("crc32c", CRC32C), ("crc64nvme", CRC64NVME)):
    st, _, data, _, _ = raw("PUT", "/b/c/" + alg, NINE, {"x-amz-checksum-" + alg: good,
                                                        "x-amz-sdk-checksum-algorithm": alg.upper()})
    check(st == 200, "x-amz-checksum-%s of 123456789 (the check value): accepted" % alg)
    st, _, data, _, _ = raw("PUT", "/b/c/" + alg, b"12345678X", {"x-amz-checksum-" + alg: good})
    check(st == 400 and error_code(data) == "BadDigest", "x-amz-checksum-%s wrong: BadDigest" % alg)
st, _, data, _, _ = raw("PUT", "/b/c/x", NINE, {"x-amz-sdk-checksum-algorithm": "CRC32"})
check(st == 400, "x-amz-sdk-checksum-algorithm without its checksum: refused")
st, _, data, _, _ = raw("PUT", "/b/c/x", NINE, {"x-amz-checksum-crc32": CRC32,
                                               "x-amz-checksum-crc32c": CRC32C})
check(st == 400, "two checksums: refused")

# Conditional writes.
st, resp, _, _, _ = raw("PUT", "/b/lock", b"L1", {"If-None-Match": "*"})
etag = resp.getheader("ETag")
check(st == 200, "If-None-Match: * on a new key: written")
st, _, data, _, _ = raw("PUT", "/b/lock", b"L2", {"If-None-Match": "*"})
check(st == 412 and error_code(data) == "PreconditionFailed", "If-None-Match: * on a current key: 412")
st, _, data, _, _ = raw("PUT", "/b/lock", b"L3", {"If-Match": '"0000"'})
check(st == 412, "If-Match with another ETag: 412")
st, _, data, _, _ = raw("PUT", "/b/lock", b"L4", {"If-Match": etag})
check(st == 200, "If-Match with the current ETag: written")
S.delete_object(Bucket="b", Key="lock")
st, _, data, _, _ = raw("PUT", "/b/lock", b"L5", {"If-None-Match": "*"})
check(st == 200, "If-None-Match: * after a delete marker: written")

# aws-chunked bodies.
st, data = aws_chunked("/b/ch/u", [b"1234", b"56789"], ("x-amz-checksum-crc32", CRC32))
check(st == 200 and S.get_object(Bucket="b", Key="ch/u")["Body"].read() == NINE,
      "aws-chunked, unsigned payload, CRC32 trailer: the decoded body stored")
st, data = aws_chunked("/b/ch/u", [b"1234", b"56789"], ("x-amz-checksum-crc32", CRC32C))
check(st == 400 and error_code(data) == "BadDigest", "aws-chunked: a wrong trailer checksum: BadDigest")
st, data = aws_chunked("/b/ch/u", [b"1234", b"56789"], ("x-amz-checksum-crc32", CRC32), decoded=10)
check(st == 400, "aws-chunked: a wrong x-amz-decoded-content-length: refused")
st, data = aws_chunked("/b/ch/s", [b"1234", b"56789"], signed=True)
check(st == 200 and S.get_object(Bucket="b", Key="ch/s")["Body"].read() == NINE,
      "aws-chunked, signed chunks: accepted")
st, data = aws_chunked("/b/ch/s", [b"1234", b"56789"], signed=True, tamper=1)
check(st == 403 and error_code(data) == "SignatureDoesNotMatch", "aws-chunked: a changed chunk: 403")
st, data = aws_chunked("/b/ch/t", [b"1234", b"56789"], ("x-amz-checksum-crc64nvme", CRC64NVME), signed=True)
check(st == 200, "aws-chunked, signed chunks and a signed CRC64NVME trailer: accepted")
st, data = aws_chunked("/b/ch/t", [b"1234", b"56789"], ("x-amz-checksum-crc64nvme", CRC64NVME),
                       signed=True, bad_trailer_sig=True)
check(st == 403, "aws-chunked: a wrong trailer signature: 403")

# SigV4 and the read-only key.
R = client(READER)
check(R.get_object(Bucket="b", Key="k/one")["Body"].read() == b"third!", "the read-only key reads")
check(code_of(R.put_object, Bucket="b", Key="k/ro", Body=b"x") == ("AccessDenied", 403),
      "the read-only key cannot write")
check(code_of(R.delete_object, Bucket="b", Key="k/one") == ("AccessDenied", 403),
      "the read-only key cannot delete")
check(code_of(client((WRITER[0], "wrong")).get_object, Bucket="b", Key="k/one")
      == ("SignatureDoesNotMatch", 403), "a wrong secret: SignatureDoesNotMatch")
check(code_of(client(("AKIDNOBODY", "x")).get_object, Bucket="b", Key="k/one")
      == ("InvalidAccessKeyId", 403), "an unknown key: InvalidAccessKeyId")
st, _, data, _, _ = raw("PUT", "/b/k/u", b"body", phash="UNSIGNED-PAYLOAD")
check(st == 400, "UNSIGNED-PAYLOAD with a body: refused")
st, _, data, _, _ = raw("PUT", "/b/k/u", b"body", phash=hashlib.sha256(b"other").hexdigest())
check(st == 400 and error_code(data) == "XAmzContentSHA256Mismatch", "a payload hash that differs: refused")
sys.exit(1 if failures else 0)
