#!/usr/bin/python3
"""A test double of S3 object versioning, for `tfattest reconcile --state-s3`.

Not an emulator: it serves, over plain HTTP on 127.0.0.1 (path style), the calls
a reader of a Terraform state object's version history makes, and nothing more:

  GET /BUCKET/?versions&prefix=P&max-keys=N[&key-marker=K&version-id-marker=V]
      ListObjectVersions: keys in byte order, each key's versions newest first,
      Version and DeleteMarker entries; at most min(max-keys, --page-size)
      entries a page, with IsTruncated, NextKeyMarker and NextVersionIdMarker.
  GET /BUCKET/KEY?versionId=V   GetObject of one version (404 NoSuchVersion).

Every request must carry a SigV4 Authorization header that this double
recomputes (S3 rules: the path as sent, X-Amz-Content-SHA256 as the payload
hash) with the secret of its access key: AKIDREADONLY (read only: only GET is
allowed) or AKIDWRITER. A bad signature is SignatureDoesNotMatch (403), an
unknown key InvalidAccessKeyId (403), a write by the read-only key AccessDenied.

The test fills the bucket through a door that only a test double has:
  POST /__admin/put?bucket=B&key=K   (body: the object) -> a new version
  POST /__admin/delete?bucket=B&key=K                   -> a delete marker
  GET  /__admin/stats   -> {"list": N, "get": {VERSION_ID: count, ...}}
LastModified starts at 2026-01-01T00:00:00Z and moves one minute a version.

usage: s3_versions_double.py --port-file FILE [--page-size N]
Run with /usr/bin/python3.
"""
import argparse
import datetime
import hashlib
import hmac
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

KEYS = {
    "AKIDREADONLY": ("readonly-secret-0000000000000000000000", False),
    "AKIDWRITER": ("writer-secret-00000000000000000000000000", True),
}
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)

lock = threading.Lock()
objects = {}  # (bucket, key) -> [ {vid, body|None, time} ] oldest first
counter = [0]
stats = {"list": 0, "get": {}}
page_size = [1000]


def uri_encode(s, keep_slash=False):
    safe = "-_.~" + ("/" if keep_slash else "")
    return urllib.parse.quote(s, safe=safe)


def hm(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body=b"", ctype="application/xml"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amz-request-id", "double-%d" % counter[0])
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, msg):
        self.answer(status, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                    "<Message>%s</Message></Error>" % (code, escape(msg)))

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def check_sig(self, path, query, payload):
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return "AccessDenied", "no SigV4 Authorization"
        try:
            parts = dict(p.strip().split("=", 1) for p in auth[17:].split(","))
            akid, date, region, service, term = parts["Credential"].split("/")
            signed = parts["SignedHeaders"].split(";")
            sig = parts["Signature"]
        except (KeyError, ValueError):
            return "AccessDenied", "malformed Authorization"
        if akid not in KEYS:
            return "InvalidAccessKeyId", "unknown access key"
        if service != "s3" or term != "aws4_request":
            return "SignatureDoesNotMatch", "wrong scope"
        amz_date = self.headers.get("X-Amz-Date") or ""
        phash = self.headers.get("X-Amz-Content-SHA256") or ""
        if phash != hashlib.sha256(payload).hexdigest() and phash != "UNSIGNED-PAYLOAD":
            return "XAmzContentSHA256Mismatch", "payload hash"
        pairs = []
        for item in query.split("&") if query else []:
            k, _, v = item.partition("=")
            pairs.append((uri_encode(urllib.parse.unquote(k)), uri_encode(urllib.parse.unquote(v))))
        cq = "&".join("%s=%s" % kv for kv in sorted(pairs))
        ch = "".join("%s:%s\n" % (h, " ".join((self.headers.get(h) or "").split())) for h in signed)
        creq = "\n".join([self.command, path, cq, ch, ";".join(signed), phash])
        scope = "/".join([date, region, service, term])
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        k = hm(("AWS4" + KEYS[akid][0]).encode(), date)
        for part in (region, service, term):
            k = hm(k, part)
        want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig):
            return "SignatureDoesNotMatch", "the signature does not match"
        if self.command != "GET" and not KEYS[akid][1]:
            return "AccessDenied", "read-only credentials"
        return None, None

    def do_POST(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        data = self.body()
        if u.path not in ("/__admin/put", "/__admin/delete"):
            return self.error(405, "MethodNotAllowed", "not served")
        with lock:
            counter[0] += 1
            vid = "v%06d.%s" % (counter[0], hashlib.sha256(data + b"%d" % counter[0]).hexdigest()[:12])
            t = EPOCH + datetime.timedelta(minutes=counter[0])
            objects.setdefault((q["bucket"], q["key"]), []).append(
                {"vid": vid, "body": data if u.path.endswith("put") else None, "time": t})
        self.answer(200, json.dumps({"versionId": vid}), "application/json")

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path == "/__admin/stats":
            with lock:
                return self.answer(200, json.dumps(stats), "application/json")
        code, msg = self.check_sig(u.path, u.query, b"")
        if code:
            return self.error(403, code, msg)
        bucket, _, key = u.path[1:].partition("/")
        key = urllib.parse.unquote(key)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        if key == "" and "versions" in q:
            return self.list_versions(bucket, q)
        if key and "versionId" in q:
            with lock:
                for v in objects.get((bucket, key), []):
                    if v["vid"] == q["versionId"] and v["body"] is not None:
                        stats["get"][v["vid"]] = stats["get"].get(v["vid"], 0) + 1
                        return self.answer(200, v["body"], "application/json")
            return self.error(404, "NoSuchVersion", "no such version")
        return self.error(400, "InvalidRequest", "this double serves only versioned reads")

    def do_PUT(self):
        u = urllib.parse.urlsplit(self.path)
        code, msg = self.check_sig(u.path, u.query, self.body())
        return self.error(403, code or "NotImplemented", msg or "writes go through __admin")

    do_DELETE = do_PUT

    def list_versions(self, bucket, q):
        prefix = q.get("prefix", "")
        n = min(int(q.get("max-keys", "1000")), page_size[0])
        stats["max_keys"] = q.get("max-keys")
        km, vm = q.get("key-marker"), q.get("version-id-marker")
        with lock:
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
                return self.error(400, "InvalidArgument", "unknown marker")
        page = flat[start:start + n]
        more = start + n < len(flat)
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               '<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
               "<Name>%s</Name><Prefix>%s</Prefix><MaxKeys>%d</MaxKeys>" % (bucket, escape(prefix), n),
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
                           "<LastModified>%s</LastModified><ETag>\"%s\"</ETag><Size>%d</Size>"
                           "<StorageClass>STANDARD</StorageClass></Version>"
                           % (escape(k), v["vid"], il, t, hashlib.md5(v["body"]).hexdigest(),
                              len(v["body"])))
        out.append("</ListVersionsResult>")
        self.answer(200, "".join(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--page-size", type=int, default=1000)
    a = ap.parse_args()
    page_size[0] = a.page_size
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
