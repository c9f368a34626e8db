#!/usr/bin/python3
"""A test double of a versioned S3 bucket, for `tfattest reconcile --state-s3`
and for Terraform's S3 backend (Terraform 1.11, AWS SDK for Go v2).

Not an emulator: it serves, over plain HTTP on 127.0.0.1 (path style, every
bucket exists and has versioning on), the calls a reader of a state object's
version history makes and those Terraform's S3 backend makes, and nothing more:

  GET /BUCKET/?versions&prefix=P&max-keys=N[&key-marker=K&version-id-marker=V]
      ListObjectVersions: keys in byte order, each key's versions newest first,
      Version and DeleteMarker entries; at most min(max-keys, --page-size)
      entries a page, with IsTruncated, NextKeyMarker and NextVersionIdMarker.
  GET /BUCKET?list-type=2&prefix=P[&delimiter=D&max-keys=N&continuation-token=T]
      ListObjectsV2 of the current (not deleted) versions, with CommonPrefixes.
  GET|HEAD /BUCKET/KEY[?versionId=V]
      GetObject / HeadObject: the current version (404 NoSuchKey when there is
      none or it is a delete marker, with x-amz-delete-marker) or the one asked
      for (404 NoSuchVersion; 405 for a delete marker); `Range: bytes=A-B`,
      `A-` or `-N` gives 206 with Content-Range (416 when unsatisfiable);
      with `x-amz-checksum-mode: ENABLED` the checksum the object was written
      with comes back in its x-amz-checksum-* header (never for a range).
  PUT /BUCKET/KEY
      PutObject: a new version. The payload is read as sent: plain, HTTP
      chunked, or `Content-Encoding: aws-chunked` (x-amz-content-sha256
      STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD or
      STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, every chunk signature and the
      trailer signature checked, x-amz-decoded-content-length checked).
      Content-MD5 and every x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}
      given as a header or a trailer are checked (BadDigest / 400
      InvalidRequest); x-amz-sdk-checksum-algorithm must name a checksum that
      came. `If-None-Match: *` fails with 412 PreconditionFailed when the key has
      a current version, `If-Match: ETAG` when the current ETag differs.
  DELETE /BUCKET/KEY[?versionId=V]
      DeleteObject: a delete marker (204, x-amz-delete-marker, x-amz-version-id),
      or with versionId that version removed for good.

Every request must carry a SigV4 Authorization header that this double
recomputes (S3 rules: the path as sent, X-Amz-Content-SHA256 as the payload
hash, which must be the payload's SHA-256 or one of the markers above, and must
itself be signed; host and x-amz-date must be signed) with the secret of its
access key: AKIDREADONLY (read only: only GET and HEAD are allowed) or
AKIDWRITER. A bad signature is SignatureDoesNotMatch (403), an unknown key
InvalidAccessKeyId (403), a write by the read-only key AccessDenied.
UNSIGNED-PAYLOAD is accepted for GET, HEAD and DELETE, which have no body.

The test fills the bucket through a door that only a test double has:
  POST /__admin/put?bucket=B&key=K   (body: the object) -> a new version
  POST /__admin/delete?bucket=B&key=K                   -> a delete marker
  GET  /__admin/stats   -> {"list": N (both listings),
                            "get": {VERSION_ID: GETs by that versionId, ...},
                            "get_current": N (GETs of the current version),
                            "put": N, "conditional_put_refused": N,
                            "delete": N, "max_keys": M (ListObjectVersions' last)}
  GET  /__admin/versions?bucket=B&key=K -> [{"versionId", "deleteMarker",
                            "size", "lastModified", "checksums"}] oldest first
LastModified starts at 2026-01-01T00:00:00Z and moves one minute a version.

usage: s3_versions_double.py --port-file FILE [--page-size N] [--log FILE]
  --log FILE  appends one line a request: method, path and query, status,
              and for writes the payload's form and the checksums checked.
Run with /usr/bin/python3.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import sys
import threading
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

KEYS = {
    "AKIDREADONLY": ("readonly-secret-0000000000000000000000", False),
    "AKIDWRITER": ("writer-secret-00000000000000000000000000", True),
}
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
STREAMING = ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
             "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
MAX_BODY = 64 << 20
# Request headers that --log shows (never Authorization).
LOGGED = ("If-None-Match", "If-Match", "Range", "x-amz-checksum-mode",
          "x-amz-sdk-checksum-algorithm", "Content-Encoding", "Transfer-Encoding")

lock = threading.RLock()  # log() takes it too, from answers made while it is held
objects = {}  # (bucket, key) -> [ {vid, body|None, time, etag, checksums} ] oldest first
counter = [0]
stats = {"list": 0, "get": {}, "get_current": 0, "put": 0, "conditional_put_refused": 0, "delete": 0}
page_size = [1000]
log_file = [None]


def uri_encode(s, keep_slash=False):
    safe = "-_.~" + ("/" if keep_slash else "")
    return urllib.parse.quote(s, safe=safe)


def hm(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _crc_table(poly, bits):
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c & ((1 << bits) - 1))
    return table


CRC32C_TABLE = _crc_table(0x82F63B78, 32)
CRC64NVME_TABLE = _crc_table(0x9A6C9329AC4BC9B5, 64)


def _crc(table, bits, data):
    mask = (1 << bits) - 1
    c = mask
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ mask


def b64(b):
    return base64.b64encode(b).decode()


CHECKSUMS = {
    "crc32": lambda d: b64((zlib.crc32(d) & 0xFFFFFFFF).to_bytes(4, "big")),
    "crc32c": lambda d: b64(_crc(CRC32C_TABLE, 32, d).to_bytes(4, "big")),
    "crc64nvme": lambda d: b64(_crc(CRC64NVME_TABLE, 64, d).to_bytes(8, "big")),
    "sha1": lambda d: b64(hashlib.sha1(d).digest()),
    "sha256": lambda d: b64(hashlib.sha256(d).digest()),
}


class Refused(Exception):
    def __init__(self, status, code, msg):
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


def log(line):
    if log_file[0]:
        with lock:
            with open(log_file[0], "a") as f:
                f.write(line + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body=b"", ctype="application/xml", headers=None, length=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.send_header("x-amz-request-id", "double-%d" % counter[0])
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        shown = " ".join("%s=%s" % (h.lower(), self.headers[h]) for h in LOGGED
                         if self.headers.get(h) is not None)
        log("%s %s -> %d%s%s" % (self.command, self.path, status, self.note,
                                 " {%s}" % shown if shown else ""))

    def error(self, status, code, msg, headers=None):
        if self.command == "HEAD":
            return self.answer(status, b"", headers=headers, length=0)
        self.answer(status, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                    "<Message>%s</Message></Error>" % (code, escape(msg)), headers=headers)

    def raw_body(self):
        """The body as it came over HTTP: by Content-Length, or HTTP chunked."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline(8)
                if len(out) > MAX_BODY:
                    raise Refused(400, "EntityTooLarge", "body too large")
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise Refused(400, "EntityTooLarge", "body too large")
        return self.rfile.read(n) if n else b""

    def sig_key(self, akid, date, region):
        k = hm(("AWS4" + KEYS[akid][0]).encode(), date)
        for part in (region, "s3", "aws4_request"):
            k = hm(k, part)
        return k

    def check_sig(self, path, query, payload):
        """SigV4 of the request; returns the signing facts for a streaming body."""
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            raise Refused(403, "AccessDenied", "no SigV4 Authorization")
        try:
            parts = dict(p.strip().split("=", 1) for p in auth[17:].split(","))
            akid, date, region, service, term = parts["Credential"].split("/")
            signed = parts["SignedHeaders"].split(";")
            sig = parts["Signature"]
        except (KeyError, ValueError):
            raise Refused(403, "AccessDenied", "malformed Authorization")
        if akid not in KEYS:
            raise Refused(403, "InvalidAccessKeyId", "unknown access key")
        if service != "s3" or term != "aws4_request":
            raise Refused(403, "SignatureDoesNotMatch", "wrong scope")
        for h in ("host", "x-amz-date", "x-amz-content-sha256"):
            if h not in signed:
                raise Refused(403, "SignatureDoesNotMatch", "%s is not signed" % h)
        if signed != sorted(signed):
            raise Refused(403, "SignatureDoesNotMatch", "signed headers out of order")
        amz_date = self.headers.get("X-Amz-Date") or ""
        if not amz_date.startswith(date):
            raise Refused(403, "SignatureDoesNotMatch", "date and scope differ")
        phash = self.headers.get("X-Amz-Content-SHA256") or ""
        if phash in STREAMING:
            if self.command != "PUT":
                raise Refused(400, "InvalidRequest", "a streaming payload is for PUT")
        elif phash == "UNSIGNED-PAYLOAD":
            if payload:
                raise Refused(400, "XAmzContentSHA256Mismatch", "UNSIGNED-PAYLOAD with a body")
        elif phash != hashlib.sha256(payload).hexdigest():
            raise Refused(400, "XAmzContentSHA256Mismatch", "payload hash")
        pairs = []
        for item in query.split("&") if query else []:
            k, _, v = item.partition("=")
            pairs.append((uri_encode(urllib.parse.unquote(k)), uri_encode(urllib.parse.unquote(v))))
        cq = "&".join("%s=%s" % kv for kv in sorted(pairs))
        ch = "".join("%s:%s\n" % (h, ",".join(" ".join(v.split())
                                               for v in (self.headers.get_all(h) or [""])))
                     for h in signed)
        creq = "\n".join([self.command, path, cq, ch, ";".join(signed), phash])
        scope = "/".join([date, region, service, term])
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        k = self.sig_key(akid, date, region)
        want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig):
            raise Refused(403, "SignatureDoesNotMatch", "the signature does not match")
        if self.command not in ("GET", "HEAD") and not KEYS[akid][1]:
            raise Refused(403, "AccessDenied", "read-only credentials")
        return {"key": k, "date": amz_date, "scope": scope, "seed": sig, "phash": phash}

    def decode_aws_chunked(self, raw, signing):
        """The payload of an aws-chunked body, and its trailers; signatures checked."""
        phash = signing["phash"]
        signed_chunks = phash.startswith("STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        prev = signing["seed"]
        out, pos, trailers = b"", 0, {}
        while True:
            eol = raw.find(b"\r\n", pos)
            if eol < 0:
                raise Refused(400, "IncompleteBody", "aws-chunked: no chunk header")
            head = raw[pos:eol].decode("ascii", "replace")
            pos = eol + 2
            size_s, _, ext = head.partition(";")
            try:
                size = int(size_s, 16)
            except ValueError:
                raise Refused(400, "InvalidRequest", "aws-chunked: bad chunk size")
            data = raw[pos:pos + size]
            if len(data) != size:
                raise Refused(400, "IncompleteBody", "aws-chunked: short chunk")
            if signed_chunks:
                m = re.fullmatch(r"chunk-signature=([0-9a-f]{64})", ext)
                if not m:
                    raise Refused(403, "SignatureDoesNotMatch", "aws-chunked: no chunk signature")
                sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", signing["date"], signing["scope"],
                                 prev, EMPTY_SHA256, hashlib.sha256(data).hexdigest()])
                want = hmac.new(signing["key"], sts.encode(), hashlib.sha256).hexdigest()
                if not hmac.compare_digest(want, m.group(1)):
                    raise Refused(403, "SignatureDoesNotMatch", "aws-chunked: chunk signature")
                prev = want
            elif ext:
                raise Refused(400, "InvalidRequest", "aws-chunked: unexpected chunk extension")
            out += data
            pos += size
            if size == 0:
                break
            if raw[pos:pos + 2] != b"\r\n":
                raise Refused(400, "InvalidRequest", "aws-chunked: chunk not ended by CRLF")
            pos += 2
        tail = raw[pos:].decode("ascii", "replace")
        lines = tail.split("\r\n")
        trailer_sig = None
        text = ""
        for line in lines:
            if line == "":
                continue
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "x-amz-trailer-signature":
                trailer_sig = value.strip()
                continue
            trailers[name] = value.strip()
            text += "%s:%s\n" % (name, value.strip())
        declared = [h.strip().lower() for h in (self.headers.get("x-amz-trailer") or "").split(",")
                    if h.strip()]
        if sorted(declared) != sorted(trailers):
            raise Refused(400, "MalformedTrailerError", "trailers differ from x-amz-trailer")
        if phash.endswith("-TRAILER") and signed_chunks and trailers:
            sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", signing["date"], signing["scope"],
                             prev, hashlib.sha256(text.encode()).hexdigest()])
            want = hmac.new(signing["key"], sts.encode(), hashlib.sha256).hexdigest()
            if not trailer_sig or not hmac.compare_digest(want, trailer_sig):
                raise Refused(403, "SignatureDoesNotMatch", "aws-chunked: trailer signature")
        elif trailer_sig:
            raise Refused(400, "InvalidRequest", "aws-chunked: an unexpected trailer signature")
        dl = self.headers.get("x-amz-decoded-content-length")
        if dl is None or int(dl) != len(out):
            raise Refused(400, "IncompleteBody", "x-amz-decoded-content-length differs")
        return out, trailers

    def target(self):
        u = urllib.parse.urlsplit(self.path)
        bucket, _, key = u.path[1:].partition("/")
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        return u, bucket, urllib.parse.unquote(key), q

    def handle_s3(self):
        self.note = ""
        if self.command == "GET" and self.path.startswith("/__admin/"):
            return self.answer(200, self.admin_get(), "application/json")
        try:
            u, bucket, key, q = self.target()
            raw = self.raw_body() if self.command in ("PUT", "POST") else b""
            enc = [e.strip() for e in (self.headers.get("Content-Encoding") or "").split(",")
                   if e.strip()]
            streaming = (self.headers.get("X-Amz-Content-SHA256") or "") in STREAMING
            signing = self.check_sig(u.path, u.query, b"" if streaming else raw)
            if not bucket:
                raise Refused(400, "InvalidRequest", "path style: /BUCKET/KEY")
            if self.command == "PUT":
                return self.put(bucket, key, q, raw, enc, streaming, signing)
            if self.command == "DELETE":
                return self.delete(bucket, key, q)
            if key == "" and "versions" in q:
                return self.list_versions(bucket, q)
            if key == "" and q.get("list-type") == "2":
                return self.list_v2(bucket, q)
            if key == "":
                raise Refused(400, "InvalidRequest", "this bucket call is not served")
            return self.get(bucket, key, q)
        except Refused as e:
            return self.error(e.status, e.code, e.msg)

    do_GET = do_HEAD = do_PUT = do_DELETE = handle_s3

    def do_POST(self):
        self.note = ""
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        data = self.raw_body()
        if u.path not in ("/__admin/put", "/__admin/delete"):
            return self.error(405, "MethodNotAllowed", "not served")
        with lock:
            v = self.new_version(q["bucket"], q["key"], data if u.path.endswith("put") else None, {})
        self.answer(200, json.dumps({"versionId": v["vid"]}), "application/json")

    def admin_get(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        with lock:
            if u.path == "/__admin/stats":
                return json.dumps(stats)
            vs = objects.get((q.get("bucket"), q.get("key")), [])
            return json.dumps([{"versionId": v["vid"], "deleteMarker": v["body"] is None,
                                "size": len(v["body"] or b""),
                                "lastModified": v["time"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                                "checksums": v["checksums"]} for v in vs])

    @staticmethod
    def new_version(bucket, key, body, checksums):
        """Appends a version (body None: a delete marker); lock held."""
        counter[0] += 1
        vid = "v%06d.%s" % (counter[0], hashlib.sha256((body or b"") + b"%d" % counter[0])
                            .hexdigest()[:12])
        v = {"vid": vid, "body": body, "time": EPOCH + datetime.timedelta(minutes=counter[0]),
             "etag": '"%s"' % hashlib.md5(body).hexdigest() if body is not None else None,
             "checksums": checksums}
        objects.setdefault((bucket, key), []).append(v)
        return v

    @staticmethod
    def current(bucket, key):
        vs = objects.get((bucket, key))
        return vs[-1] if vs else None

    def put(self, bucket, key, q, raw, enc, streaming, signing):
        if not key:
            raise Refused(400, "InvalidRequest", "PutObject needs a key")
        if set(q) - {"x-id"}:
            raise Refused(400, "InvalidRequest", "only PutObject is served")
        trailers = {}
        form = "plain"
        if "aws-chunked" in enc:
            if not streaming:
                raise Refused(400, "InvalidRequest", "aws-chunked without a STREAMING hash")
            body, trailers = self.decode_aws_chunked(raw, signing)
            form = "aws-chunked " + signing["phash"]
        elif streaming:
            raise Refused(400, "InvalidRequest", "a STREAMING hash without aws-chunked")
        else:
            body = raw
        checked = {}
        for src in (dict((k.lower(), v) for k, v in self.headers.items()), trailers):
            for name, value in src.items():
                if name.startswith("x-amz-checksum-") and name != "x-amz-checksum-mode" \
                        and name != "x-amz-checksum-type":
                    alg = name[len("x-amz-checksum-"):]
                    if alg not in CHECKSUMS:
                        raise Refused(400, "InvalidRequest", "unknown checksum " + alg)
                    if CHECKSUMS[alg](body) != value:
                        raise Refused(400, "BadDigest", "the %s checksum differs" % alg.upper())
                    checked[alg] = value
        if len(checked) > 1:
            raise Refused(400, "InvalidRequest", "more than one checksum")
        sdk_alg = (self.headers.get("x-amz-sdk-checksum-algorithm") or "").lower()
        if sdk_alg and sdk_alg not in checked:
            raise Refused(400, "InvalidRequest", "x-amz-sdk-checksum-algorithm names a checksum "
                          "that did not come")
        md5 = self.headers.get("Content-MD5")
        if md5 is not None:
            if b64(hashlib.md5(body).digest()) != md5:
                raise Refused(400, "BadDigest", "Content-MD5 differs")
            checked["md5"] = md5
        self.note = " [%s, %d bytes, checked %s]" % (form, len(body), ",".join(sorted(checked))
                                                     or "none")
        with lock:
            cur = self.current(bucket, key)
            live = cur is not None and cur["body"] is not None
            inm = self.headers.get("If-None-Match")
            im = self.headers.get("If-Match")
            if inm is not None:
                if inm.strip() != "*":
                    raise Refused(501, "NotImplemented", "If-None-Match takes only *")
                if live:
                    stats["conditional_put_refused"] += 1
                    raise Refused(412, "PreconditionFailed",
                                  "At least one of the pre-conditions you specified did not hold")
            if im is not None and (not live or im.strip() != cur["etag"]):
                stats["conditional_put_refused"] += 1
                if not live:
                    raise Refused(404, "NoSuchKey", "The specified key does not exist.")
                raise Refused(412, "PreconditionFailed",
                              "At least one of the pre-conditions you specified did not hold")
            stored = {a: v for a, v in checked.items() if a != "md5"}
            v = self.new_version(bucket, key, body, stored)
            stats["put"] += 1
        h = {"ETag": v["etag"], "x-amz-version-id": v["vid"]}
        for a, val in stored.items():
            h["x-amz-checksum-" + a] = val
        self.answer(200, b"", None, h)

    def delete(self, bucket, key, q):
        if not key or set(q) - {"x-id", "versionId"}:
            raise Refused(400, "InvalidRequest", "only DeleteObject is served")
        with lock:
            stats["delete"] += 1
            if "versionId" in q:
                vs = objects.get((bucket, key), [])
                for i, v in enumerate(vs):
                    if v["vid"] == q["versionId"]:
                        del vs[i]
                        h = {"x-amz-version-id": v["vid"]}
                        if v["body"] is None:
                            h["x-amz-delete-marker"] = "true"
                        return self.answer(204, b"", None, h)
                return self.answer(204, b"", None, {"x-amz-version-id": q["versionId"]})
            v = self.new_version(bucket, key, None, {})
        self.answer(204, b"", None, {"x-amz-delete-marker": "true", "x-amz-version-id": v["vid"]})

    def get(self, bucket, key, q):
        if set(q) - {"x-id", "versionId"}:
            raise Refused(400, "InvalidRequest", "only GetObject and HeadObject are served")
        with lock:
            vs = objects.get((bucket, key), [])
            if "versionId" in q:
                v = next((v for v in vs if v["vid"] == q["versionId"]), None)
                if v is None:
                    raise Refused(404, "NoSuchVersion",
                                  "The specified version does not exist.")
                if v["body"] is None:
                    return self.error(405, "MethodNotAllowed",
                                      "The specified method is not allowed against this resource.",
                                      {"x-amz-delete-marker": "true",
                                       "x-amz-version-id": v["vid"]})
            else:
                v = vs[-1] if vs else None
                if v is None:
                    raise Refused(404, "NoSuchKey", "The specified key does not exist.")
                if v["body"] is None:
                    return self.error(404, "NoSuchKey", "The specified key does not exist.",
                                      {"x-amz-delete-marker": "true",
                                       "x-amz-version-id": v["vid"]})
            if self.command == "GET" and "versionId" in q:
                stats["get"][v["vid"]] = stats["get"].get(v["vid"], 0) + 1
            elif self.command == "GET":
                stats["get_current"] += 1
        body = v["body"]
        h = {"ETag": v["etag"], "x-amz-version-id": v["vid"], "Accept-Ranges": "bytes",
             "Last-Modified": v["time"].strftime("%a, %d %b %Y %H:%M:%S GMT")}
        rng = self.headers.get("Range")
        if rng is not None:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if not m or (m.group(1) == "" and m.group(2) == ""):
                raise Refused(400, "InvalidArgument", "malformed Range")
            n = len(body)
            if m.group(1) == "":
                first, last = max(0, n - int(m.group(2))), n - 1
            else:
                first = int(m.group(1))
                last = min(int(m.group(2)), n - 1) if m.group(2) else n - 1
            if first >= n or first > last:
                return self.error(416, "InvalidRange", "The requested range is not satisfiable",
                                  {"Content-Range": "bytes */%d" % n})
            h["Content-Range"] = "bytes %d-%d/%d" % (first, last, n)
            part = body[first:last + 1]
            return self.answer(206, part, "application/octet-stream", h, len(part))
        if (self.headers.get("x-amz-checksum-mode") or "").upper() == "ENABLED":
            for a, val in v["checksums"].items():
                h["x-amz-checksum-" + a] = val
        return self.answer(200, body, "application/octet-stream", h, len(body))

    def list_v2(self, bucket, q):
        prefix = q.get("prefix", "")
        delim = q.get("delimiter", "")
        n = min(int(q.get("max-keys", "1000")), page_size[0])
        token = q.get("continuation-token") or q.get("start-after") or ""
        with lock:
            stats["list"] += 1
            keys = sorted(k for (b, k), vs in objects.items()
                          if b == bucket and k.startswith(prefix) and vs and vs[-1]["body"] is not None)
            entries = []  # (sort key, kind, key-or-prefix, version)
            seen = set()
            for k in keys:
                rest = k[len(prefix):]
                if delim and delim in rest:
                    cp = prefix + rest[:rest.index(delim) + len(delim)]
                    if cp not in seen:
                        seen.add(cp)
                        entries.append((cp, "prefix", cp, None))
                else:
                    entries.append((k, "key", k, objects[(bucket, k)][-1]))
        entries = [e for e in entries if e[0] > token] if token else entries
        page, more = entries[:n], len(entries) > n
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
               "<Name>%s</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount><MaxKeys>%d</MaxKeys>"
               % (escape(bucket), escape(prefix), len(page), n)]
        if delim:
            out.append("<Delimiter>%s</Delimiter>" % escape(delim))
        out.append("<IsTruncated>%s</IsTruncated>" % ("true" if more else "false"))
        if q.get("continuation-token"):
            out.append("<ContinuationToken>%s</ContinuationToken>"
                       % escape(q["continuation-token"]))
        if more:
            out.append("<NextContinuationToken>%s</NextContinuationToken>" % escape(page[-1][0]))
        for _, kind, name, v in page:
            if kind == "prefix":
                out.append("<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>" % escape(name))
            else:
                out.append("<Contents><Key>%s</Key><LastModified>%s</LastModified><ETag>%s</ETag>"
                           "<Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>"
                           % (escape(name), v["time"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                              escape(v["etag"]), len(v["body"])))
        out.append("</ListBucketResult>")
        self.answer(200, "".join(out))

    def list_versions(self, bucket, q):
        prefix = q.get("prefix", "")
        n = min(int(q.get("max-keys", "1000")), page_size[0])
        km, vm = q.get("key-marker"), q.get("version-id-marker")
        with lock:
            stats["max_keys"] = q.get("max-keys")
            stats["list"] += 1
            flat = []
            for (b, k) in sorted(objects):
                if b == bucket and k.startswith(prefix):
                    for v in reversed(objects[(b, k)]):
                        flat.append((k, v))
        start = 0
        if km is not None:
            for i, (k, v) in enumerate(flat):
                if k == km and v["vid"] == vm:
                    start = i + 1
                    break
            else:
                raise Refused(400, "InvalidArgument", "unknown marker")
        page = flat[start:start + n]
        more = start + n < len(flat)
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               '<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
               "<Name>%s</Name><Prefix>%s</Prefix><MaxKeys>%d</MaxKeys>"
               % (escape(bucket), escape(prefix), n),
               "<IsTruncated>%s</IsTruncated>" % ("true" if more else "false")]
        if more:
            out.append("<NextKeyMarker>%s</NextKeyMarker><NextVersionIdMarker>%s"
                       "</NextVersionIdMarker>" % (escape(page[-1][0]), page[-1][1]["vid"]))
        latest = {}
        for k, v in flat:
            latest.setdefault(k, v["vid"])
        for k, v in page:
            t = v["time"].strftime("%Y-%m-%dT%H:%M:%S.000Z")
            il = "true" if latest[k] == v["vid"] else "false"
            if v["body"] is None:
                out.append("<DeleteMarker><Key>%s</Key><VersionId>%s</VersionId><IsLatest>%s"
                           "</IsLatest><LastModified>%s</LastModified></DeleteMarker>"
                           % (escape(k), v["vid"], il, t))
            else:
                out.append("<Version><Key>%s</Key><VersionId>%s</VersionId><IsLatest>%s</IsLatest>"
                           "<LastModified>%s</LastModified><ETag>%s</ETag><Size>%d</Size>"
                           "<StorageClass>STANDARD</StorageClass></Version>"
                           % (escape(k), v["vid"], il, t, escape(v["etag"]), len(v["body"])))
        out.append("</ListVersionsResult>")
        self.answer(200, "".join(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--page-size", type=int, default=1000)
    ap.add_argument("--log")
    a = ap.parse_args()
    page_size[0] = a.page_size
    log_file[0] = a.log
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
