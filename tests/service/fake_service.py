#!/usr/bin/python3
"""A test double of the attestation service, for the client's tests.

It answers POSTs as `tfattest serve` does (include/tfattest/service.h): it
takes a record request, makes the artifact (canonical JSON with the request's
event plus its idempotency key, its terraform facts, its context marked as
claimed), signs it with an EC P-256 key, keeps it, and answers with the record
reply. A request with an idempotency key it has seen gets the first record
back with "replayed": true and nothing appended; with another body, 409.

Faults, to test the client's retries and checks:
  --busy N          the first N requests get 503 with Retry-After: 1
  --drop N          the first N requests are appended, then the connection is
                    closed with no answer (a reply lost after the append)
  --forge MODE      every reply is forged: "key" (signed by another key, and
                    naming it), "sig" (the signature of another record),
                    "facts" (the terraform facts altered, signed properly),
                    "idem" (another idempotency key, signed properly)
  --bearer FILE     requests must carry "Authorization: Bearer <the token in FILE>"
                    (with --sigv4: "x-tfattest-id-token: <the token>", signed)
  --sigv4 REGION    requests must carry a SigV4 signature for service lambda by
                    the access key in AWS_ACCESS_KEY_ID (secret AWS_SECRET_ACCESS_KEY),
                    checked by recomputing it with botocore over the headers the
                    client signed
Every append is logged as one JSON line to --log (seq, idempotency key).
POST /control with a JSON object sets the faults at run time ("busy", "drop",
"forge", "bearer" (the token itself), "sigv4"; null turns one off) and, with
"reset": true, forgets every record and truncates the log, so that one double
serves a whole test.

Usage: fake_service.py --cert C --key K --signing-key PEM --other-key PEM
       --chain ID --port-file F --log F [faults...]
Run with /usr/bin/python3 (Debian's python3-cryptography and python3-botocore).
"""

import argparse
import base64
import datetime
import hashlib
import http.server
import json
import socket
import ssl
import sys
import threading
from unittest import mock

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def canon(v):
    """RFC 8785 for what artifacts hold: objects, arrays, strings, integers, booleans, null."""
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(key):
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def load_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


class State:
    def __init__(self, args):
        self.args = args
        self.key = load_key(args.signing_key)
        self.other = load_key(args.other_key)
        self.records = []  # (artifact bytes, signature)
        self.by_key = {}  # idempotency key -> (seq, body digest)
        self.busy = args.busy
        self.drop = args.drop
        self.lock = threading.Lock()
        self.bearer = None
        if args.bearer:
            with open(args.bearer) as f:
                self.bearer = f.read().strip()

    def prev_hash(self):
        if not self.records:
            return "sha256:" + "0" * 64
        return "sha256:" + hashlib.sha256(self.records[-1][0]).hexdigest()

    def make(self, req, key, mode):
        event = dict(req["event"])
        event["idempotency_key"] = req["idempotency_key"]
        terraform = json.loads(json.dumps(req["terraform"]))
        if mode == "idem":
            event["idempotency_key"] = "forged-key-0123456789"
        if mode == "facts":
            terraform["counts"] = {"add": 99, "change": 0, "destroy": 0, "replace": 0}
        context = dict(req["context"])
        context["claimed_by"] = "client"
        art = {
            "type": "tfattest.artifact",
            "schema_version": 1,
            "chain_id": req["chain_id"],
            "seq": len(self.records) + 1,
            "prev_hash": self.prev_hash(),
            "time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "signer": {"key_fingerprint": fingerprint(key), "algorithm": "ECDSA_SHA_256",
                       "backend": "file"},
            "event": event,
            "terraform": terraform,
            "context": context,
        }
        data = canon(art)
        return data, key.sign(data, ec.ECDSA(hashes.SHA256()))


def reply_body(state, seq, replayed, mode):
    data, sig = state.records[seq - 1]
    key = state.other if mode == "key" else state.key
    if mode == "sig":
        sig = state.key.sign(b"another record", ec.ECDSA(hashes.SHA256()))
    return canon({
        "type": "tfattest.record-reply",
        "seq": seq,
        "hash": "sha256:" + hashlib.sha256(data).hexdigest(),
        "replayed": replayed,
        "key_fingerprint": fingerprint(key),
        "artifact": base64.b64encode(data).decode(),
        "signature": base64.b64encode(sig).decode(),
    })


def sigv4_ok(handler, body, region):
    """Recomputes the signature with botocore over the headers the client signed."""
    import os
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    auth = handler.headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return False, "no SigV4 Authorization"
    parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    cred = parts.get("Credential", "").split("/")
    if len(cred) != 5 or cred[0] != os.environ["AWS_ACCESS_KEY_ID"] or cred[2] != region \
            or cred[3] != "lambda" or cred[4] != "aws4_request":
        return False, "wrong credential scope %r" % parts.get("Credential")
    signed = parts["SignedHeaders"].split(";")
    needs = ["host", "x-amz-date", "x-amz-content-sha256"]
    if handler.headers.get("x-tfattest-id-token") is not None:
        needs.append("x-tfattest-id-token")
    for need in needs:
        if need not in signed:
            return False, "%s is not signed" % need
    if handler.headers.get("x-amz-content-sha256") != hashlib.sha256(body).hexdigest():
        return False, "x-amz-content-sha256 is not the body's hash"
    amz_date = handler.headers["X-Amz-Date"]
    creds = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"],
                        os.environ.get("AWS_SESSION_TOKEN"))
    url = "https://%s%s" % (handler.headers["Host"], handler.path)
    hdrs = {h: handler.headers[h] for h in signed if h not in ("x-amz-date", "x-amz-security-token")}
    req = AWSRequest(method="POST", url=url, data=body, headers=hdrs)
    signer = botocore.auth.SigV4Auth(creds, "lambda", region)
    frozen = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
    # As tests/aws/botocore_sign.py does: botocore.auth's clock frozen at the request's date.
    with mock.patch("botocore.auth.datetime") as dt:
        dt.datetime.utcnow.return_value = frozen
        dt.datetime.strptime.return_value = frozen
        signer.add_auth(req)
    want = req.headers["Authorization"].split("Signature=")[1]
    got = parts.get("Signature", "")
    if want != got:
        return False, "the SigV4 signature does not verify"
    return True, ""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def answer(self, status, obj, extra=()):
        body = canon(obj) if not isinstance(obj, bytes) else obj
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, msg, extra=()):
        self.answer(status, {"type": "tfattest.error", "error": msg}, extra)

    def control(self, body):
        st = self.server.state
        c = json.loads(body)
        with st.lock:
            for k in ("busy", "drop"):
                if k in c:
                    setattr(st, k, int(c[k] or 0))
            for k in ("forge", "sigv4"):
                if k in c:
                    setattr(st.args, k, c[k])
            if "bearer" in c:
                st.bearer = c["bearer"]
            if c.get("reset"):
                st.records, st.by_key = [], {}
                open(st.args.log, "w").close()
        self.answer(200, {"ok": True})

    def do_POST(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if self.path == "/control":
            return self.control(body)
        if st.bearer is not None and not st.args.sigv4:
            if self.headers.get("Authorization", "") != "Bearer " + st.bearer:
                return self.error(401, "no valid ID token")
        if st.bearer is not None and st.args.sigv4:
            # tfattest lambda: the IAM principal, with the job's ID token for its claims.
            if self.headers.get("x-tfattest-id-token", "") != st.bearer:
                return self.error(401, "no valid ID token in x-tfattest-id-token")
        if st.args.sigv4:
            ok, why = sigv4_ok(self, body, st.args.sigv4)
            if not ok:
                return self.error(403, why)
        try:
            req = json.loads(body)
            assert req["type"] == "tfattest.record-request"
            assert set(req) == {"type", "chain_id", "idempotency_key", "event", "terraform",
                                "context"}
        except Exception:
            return self.error(400, "malformed request")
        if req["chain_id"] != st.args.chain:
            return self.error(403, "no rule allows chain " + req["chain_id"])
        with st.lock:
            if st.busy > 0:
                st.busy -= 1
                return self.error(503, "the service is busy", [("Retry-After", "1")])
            digest = hashlib.sha256(canon({k: req[k] for k in ("event", "terraform")})).digest()
            known = st.by_key.get(req["idempotency_key"])
            if known:
                if known[1] != digest:
                    return self.error(409, "idempotency_key names an earlier record of another request")
                seq, replayed = known[0], True
            else:
                st.records.append(st.make(req, st.key, st.args.forge))
                seq, replayed = len(st.records), False
                st.by_key[req["idempotency_key"]] = (seq, digest)
                with open(st.args.log, "a") as f:
                    f.write(json.dumps({"seq": seq, "idempotency_key": req["idempotency_key"]}) + "\n")
            if not replayed and st.drop > 0:
                st.drop -= 1
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.answer(200, reply_body(st, seq, replayed, st.args.forge))


def main():
    ap = argparse.ArgumentParser()
    for a in ("--cert", "--key", "--signing-key", "--other-key", "--chain", "--port-file", "--log"):
        ap.add_argument(a, required=True)
    ap.add_argument("--busy", type=int, default=0)
    ap.add_argument("--drop", type=int, default=0)
    ap.add_argument("--forge", choices=["key", "sig", "facts", "idem"])
    ap.add_argument("--bearer")
    ap.add_argument("--sigv4")
    args = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.state = State(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
