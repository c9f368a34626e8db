#!/usr/bin/python3
"""A recording, checking and fault-injecting HTTP proxy for the S3 and DynamoDB
emulators the AWS store tests run (s3rver, dynalite).

It sits between tfattest and the emulator, on 127.0.0.1, and for every request:

- recomputes the request's Signature Version 4 with botocore (S3SigV4Auth for s3,
  SigV4Auth for dynamodb) over the headers the client signed, and refuses a bad one
  with 403 SignatureDoesNotMatch / 400 InvalidSignatureException;
- for S3 PutObject, asserts on the wire what S3 Object Lock requires and the store
  promises: x-amz-object-lock-mode COMPLIANCE, an x-amz-object-lock-retain-until-date
  RETENTION_DAYS (+-1) days ahead, x-amz-checksum-sha256 and Content-MD5 that match the
  body, and If-None-Match: *. A failed check is answered 400 InvalidRequest and logged;
- with --enforce-if-none-match, answers a PUT with If-None-Match: * on an existing key
  with 412 PreconditionFailed, as S3 does (s3rver ignores the header);
- for s3, forwards the requests on one key one at a time: S3 makes a PUT visible
  atomically, while s3rver writes the file in place, so that a GET racing a PUT
  could read half an object;
- takes the next fault from a queue, when one is set (POST /__control);
- logs one JSON line per request (--log): time, op, method, path, status, fault,
  sigv4, and for PutObject the checks that failed (`put_checks`, [] when all passed).
  No secret, signature or body is logged.

Control (no SigV4; 127.0.0.1 only):
  POST /__control {"faults": ["throttle", "ok"], "targets": ["PutObject"],
                   "list_max_keys": 7}
    faults: the queue, consumed by requests whose op is in targets (all when absent).
      ok | throttle | internal | unavailable | access_denied | expired_token
      | stall[:SECONDS]      sleep, then close without forwarding (a client timeout)
      | lost_response[:S]    forward (the write lands), sleep, then close: the
                             answer is lost, as after a network failure
      | drop                 close the connection at once
      | alter_body           PutObject only: forward the body with its first byte
                             replaced by '#', without x-amz-checksum-sha256 and
                             Content-MD5, as a service that checks neither would
                             store a body altered in transit
    list_max_keys: adds max-keys=N to ListObjectsV2 requests, so that small listings
      come back in several pages and continuation tokens are exercised.
  GET /__log  the log so far as a JSON array.
Ops: s3 PutObject, GetObject, HeadObject, ListObjectsV2, Other; dynamodb the
X-Amz-Target operation (GetItem, PutItem, UpdateItem, ...).

Usage: store_proxy.py --service s3|dynamodb --upstream http://127.0.0.1:PORT
         --port-file FILE [--log FILE] [--region R] [--retention-days N]
         [--enforce-if-none-match] [--identities FILE]
Credentials accepted: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN)
from the environment, allowed everything; and with --identities, a JSON list of
further identities {"name", "access_key", "secret_key", "allow": [ACTION, ...]},
each allowed only the IAM actions it lists: s3:PutObject, s3:GetObject (GetObject,
HeadObject), s3:ListBucket (ListObjectsV2), s3:Other (any other request);
dynamodb:<X-Amz-Target operation>. A request outside them is answered
403 AccessDenied / 400 AccessDeniedException and logged with "identity" and
"denied" (the action), as AWS answers a caller whose policies do not allow it.
An allowed request goes upstream under the environment's access key id.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

FAULTS = ("ok", "throttle", "internal", "unavailable", "access_denied", "expired_token",
          "stall", "lost_response", "drop", "alter_body")
# Dropped from an altered PUT: the checks a service that stores it anyway would skip.
CHECKSUM_HEADERS = ("x-amz-checksum-sha256", "content-md5")

S3_ERRORS = {
    "throttle": (503, "SlowDown", "Please reduce your request rate."),
    "internal": (500, "InternalError", "We encountered an internal error. Please try again."),
    "unavailable": (503, "ServiceUnavailable", "Service is unable to handle request."),
    "access_denied": (403, "AccessDenied", "Access Denied"),
    "expired_token": (400, "ExpiredToken", "The provided token has expired."),
}
DDB_PREFIX = "com.amazonaws.dynamodb.v20120810#"
DDB_ERRORS = {
    "throttle": (400, "ProvisionedThroughputExceededException",
                 "The level of configured provisioned throughput for the table was exceeded."),
    "internal": (500, "InternalServerError", "Internal server error"),
    "unavailable": (503, "ServiceUnavailable", "Service unavailable"),
    "access_denied": (400, "AccessDeniedException", "User is not authorized"),
    "expired_token": (400, "ExpiredTokenException", "The security token included in the "
                      "request is expired"),
}
HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"}


class Drop(Exception):
    pass


def parse_fault(f):
    name, _, arg = f.partition(":")
    if name not in FAULTS:
        raise ValueError(f"unknown fault {f!r}")
    return name, float(arg) if arg else 30.0


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.faults = []
        self.targets = None
        self.list_max_keys = None
        self.key_locks = {}
        self.log = []
        self.logf = open(args.log, "a", buffering=1) if args.log else None
        self.creds = Credentials(os.environ["AWS_ACCESS_KEY_ID"],
                                 os.environ["AWS_SECRET_ACCESS_KEY"],
                                 os.environ.get("AWS_SESSION_TOKEN"))
        # access key id -> (name, Credentials, allowed actions or None for all)
        self.identities = {self.creds.access_key: ("default", self.creds, None)}
        if args.identities:
            with open(args.identities) as f:
                for i in json.load(f):
                    self.identities[i["access_key"]] = (
                        i["name"], Credentials(i["access_key"], i["secret_key"]), set(i["allow"]))

    def next_fault(self, op):
        with self.lock:
            if self.targets is not None and op not in self.targets:
                return "ok", 0.0
            if not self.faults:
                return "ok", 0.0
            return self.faults.pop(0)

    def key_lock(self, path):
        with self.lock:
            return self.key_locks.setdefault(urllib.parse.urlsplit(path).path, threading.Lock())

    def record(self, entry):
        with self.lock:
            self.log.append(entry)
            if self.logf:
                self.logf.write(json.dumps(entry, sort_keys=True) + "\n")


class _Signed(SigV4Auth):
    def __init__(self, creds, service, region, signed):
        super().__init__(creds, service, region)
        self._signed = signed

    def headers_to_sign(self, request):
        m = HTTPHeaders()
        for name in self._signed:
            for v in request.headers.get_all(name) or []:
                m[name] = v
        return m


class _S3Signed(S3SigV4Auth):
    def __init__(self, creds, service, region, signed):
        super().__init__(creds, service, region)
        self._signed = signed

    def headers_to_sign(self, request):
        m = HTTPHeaders()
        for name in self._signed:
            for v in request.headers.get_all(name) or []:
                m[name] = v
        return m

    def _modify_request_before_signing(self, request):
        pass  # the client's x-amz-content-sha256 is what it signed


def identity_of(state, headers):
    """The (name, Credentials, allowed actions) the request's Authorization names, or None."""
    auth = headers.get("Authorization", "")
    m = auth.split("Credential=", 1)
    if len(m) != 2:
        return None
    return state.identities.get(m[1].split("/", 1)[0])


def action_of(service, op):
    """The IAM action a request needs."""
    if service == "s3":
        return {"PutObject": "s3:PutObject", "GetObject": "s3:GetObject", "HeadObject": "s3:GetObject",
                "ListObjectsV2": "s3:ListBucket"}.get(op, "s3:Other")
    return "dynamodb:" + op


def check_sigv4(state, method, path, headers, body):
    """'verified' or the reason it is not."""
    auth = headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "no AWS4-HMAC-SHA256 Authorization"
    fields = dict(p.strip().split("=", 1) for p in auth[17:].split(",") if "=" in p)
    scope = fields.get("Credential", "").split("/")
    signed = fields.get("SignedHeaders", "").split(";")
    ident = state.identities.get(scope[0]) if len(scope) == 5 else None
    if ident is None:
        return "bad credential scope"
    creds = ident[1]
    if scope[2] != state.args.region or scope[3] != state.args.service:
        return f"scope {scope[2]}/{scope[3]}, wanted {state.args.region}/{state.args.service}"
    for need in ("host", "x-amz-date"):
        if need not in signed:
            return f"{need} not signed"
    if state.args.service == "s3":
        if "x-amz-content-sha256" not in signed:
            return "x-amz-content-sha256 not signed"
        if headers.get("x-amz-content-sha256") != hashlib.sha256(body).hexdigest():
            return "x-amz-content-sha256 does not match the body"
    if creds.token is not None and "x-amz-security-token" not in signed:
        return "x-amz-security-token not signed"
    req = AWSRequest(method=method, url="http://" + headers.get("Host", "") + path, data=body)
    for name in signed:
        for v in headers.get_all(name) or []:
            req.headers[name] = v
    req.context["timestamp"] = headers.get("X-Amz-Date", "")
    cls = _S3Signed if state.args.service == "s3" else _Signed
    signer = cls(creds, state.args.service, state.args.region, signed)
    canonical = signer.canonical_request(req)
    want = signer.signature(signer.string_to_sign(req, canonical), req)
    if not hmac.compare_digest(want.encode(), fields.get("Signature", "").encode()):
        return "signature mismatch"
    return "verified"


def put_checks(state, headers, body):
    """What is wrong with a PutObject's Object Lock and integrity headers."""
    bad = []
    if headers.get("x-amz-object-lock-mode") != "COMPLIANCE":
        bad.append("x-amz-object-lock-mode is not COMPLIANCE")
    until = headers.get("x-amz-object-lock-retain-until-date")
    try:
        t = datetime.datetime.strptime(until or "", "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
        days = (t - datetime.datetime.now(datetime.timezone.utc)).total_seconds() / 86400
        if state.args.retention_days and abs(days - state.args.retention_days) > 1:
            bad.append(f"retain-until is {days:.2f} days ahead, "
                       f"wanted {state.args.retention_days}")
        if days <= 0:
            bad.append("retain-until is not in the future")
    except ValueError:
        bad.append("x-amz-object-lock-retain-until-date is missing or not ISO 8601")
    sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
    if headers.get("x-amz-checksum-sha256") != sha:
        bad.append("x-amz-checksum-sha256 does not match the body")
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    if headers.get("Content-MD5") != md5:
        bad.append("Content-MD5 does not match the body")
    if headers.get("If-None-Match") != "*":
        bad.append("If-None-Match is not *")
    if len(body) == 0:
        bad.append("empty body")
    return bad


def s3_op(method, path):
    parts = urllib.parse.urlsplit(path)
    q = urllib.parse.parse_qs(parts.query)
    segs = [s for s in parts.path.split("/") if s]
    if len(segs) >= 2:
        return {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject"}.get(method, "Other")
    if len(segs) == 1 and method == "GET" and q.get("list-type") == ["2"]:
        return "ListObjectsV2"
    return "Other"


def make_handler(state):
    args = state.args
    up = urllib.parse.urlsplit(args.upstream)

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, status, body, ctype, extra=()):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-amz-request-id", "proxy")
            self.send_header("x-amzn-RequestId", "proxy")
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def error(self, status, code, msg):
            if args.service == "s3":
                body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                        f'<Message>{msg}</Message><RequestId>proxy</RequestId></Error>').encode()
                self.send(status, body, "application/xml")
            else:
                body = json.dumps({"__type": DDB_PREFIX + code, "message": msg}).encode()
                self.send(status, body, "application/x-amz-json-1.0")

        def upstream(self, method, path, headers, body):
            c = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
            try:
                hs = {k: v for k, v in headers.items() if k.lower() not in HOP}
                c.request(method, path, body=body if body else None, headers=hs)
                r = c.getresponse()
                return r.status, r.getheaders(), r.read()
            finally:
                c.close()

        def control(self, body):
            try:
                req = json.loads(body or b"{}")
                faults = [parse_fault(f) for f in req.get("faults", [])]
            except (ValueError, TypeError) as e:
                return self.send(400, str(e).encode(), "text/plain")
            with state.lock:
                if "faults" in req:
                    state.faults = faults
                if "targets" in req:
                    state.targets = set(req["targets"]) if req["targets"] else None
                if "list_max_keys" in req:
                    state.list_max_keys = req["list_max_keys"]
            self.send(200, b"{}", "application/json")

        def handle_any(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            if self.path == "/__control" and self.command == "POST":
                return self.control(body)
            if self.path == "/__log":
                with state.lock:
                    data = json.dumps(state.log).encode()
                return self.send(200, data, "application/json")
            if args.service == "s3":
                op = s3_op(self.command, self.path)
            else:
                op = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2] or "Other"
            entry = {"time": time.time(), "op": op, "method": self.command,
                     "path": urllib.parse.urlsplit(self.path).path}
            try:
                self.serve(op, body, entry)
            except (Drop, ConnectionError, OSError):
                self.close_connection = True
                entry.setdefault("status", 0)
            finally:
                state.record(entry)

        def serve(self, op, body, entry):
            entry["sigv4"] = check_sigv4(state, self.command, self.path, self.headers, body)
            if entry["sigv4"] != "verified":
                entry["status"] = 403
                if args.service == "s3":
                    return self.error(403, "SignatureDoesNotMatch", entry["sigv4"])
                return self.error(400, "InvalidSignatureException", entry["sigv4"])
            name, creds, allow = identity_of(state, self.headers)
            entry["identity"] = name
            if allow is not None and action_of(args.service, op) not in allow:
                entry["denied"] = action_of(args.service, op)
                entry["status"] = 403 if args.service == "s3" else 400
                msg = f"{name} is not authorized to perform: {entry['denied']}"
                if args.service == "s3":
                    return self.error(403, "AccessDenied", msg)
                return self.error(400, "AccessDeniedException", msg)
            if op == "PutObject":
                entry["put_checks"] = put_checks(state, self.headers, body)
                entry["size"] = len(body)
                if entry["put_checks"]:
                    entry["status"] = 400
                    return self.error(400, "InvalidRequest", "; ".join(entry["put_checks"]))
            fault, arg = state.next_fault(op)
            entry["fault"] = fault
            errors = S3_ERRORS if args.service == "s3" else DDB_ERRORS
            if fault in errors:
                status, code, msg = errors[fault]
                entry["status"] = status
                return self.error(status, code, msg)
            if fault == "drop":
                raise Drop()
            if fault == "stall":
                time.sleep(arg)
                raise Drop()
            path = self.path
            if op == "ListObjectsV2" and state.list_max_keys:
                path += f"&max-keys={int(state.list_max_keys)}"
            fwd_headers = self.headers
            if creds is not state.creds:
                # Upstream knows one access key id: the request goes on under it.
                fwd_headers = {k: (v.replace("Credential=" + creds.access_key + "/",
                                             "Credential=" + state.creds.access_key + "/")
                                   if k.lower() == "authorization" else v)
                               for k, v in self.headers.items()}
            if fault == "alter_body" and op == "PutObject" and body:
                body = b"#" + body[1:]
                fwd_headers = {k: v for k, v in fwd_headers.items()
                               if k.lower() not in CHECKSUM_HEADERS}
                entry["altered"] = True
            if args.service == "s3" and op in ("PutObject", "GetObject", "HeadObject"):
                lock = state.key_lock(self.path)
            else:
                lock = threading.Lock()  # no ordering needed
            with lock:
                if (op == "PutObject" and args.enforce_if_none_match and
                        self.headers.get("If-None-Match") == "*"):
                    # Without the PUT's If-None-Match: on a HEAD it would turn
                    # an existing object's 200 into 304 Not Modified.
                    hs = {k: v for k, v in self.headers.items()
                          if k.lower() not in ("content-length", "if-none-match")}
                    st, _, _ = self.upstream("HEAD", self.path, hs, b"")
                    if st == 200:
                        entry["status"] = 412
                        return self.error(412, "PreconditionFailed",
                                          "At least one of the pre-conditions you specified "
                                          "did not hold")
                status, rheaders, rbody = self.upstream(self.command, path, fwd_headers, body)
            entry["status"] = status
            if fault == "lost_response":
                time.sleep(arg)
                raise Drop()
            self.send_response(status)
            for k, v in rheaders:
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(rbody)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(rbody)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_any

    return H


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--service", choices=("s3", "dynamodb"), required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    ap.add_argument("--retention-days", type=int, default=0)
    ap.add_argument("--enforce-if-none-match", action="store_true")
    ap.add_argument("--identities")
    args = ap.parse_args()
    state = State(args)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    srv.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{srv.server_address[1]}\n")
    os.replace(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    sys.exit(main())
