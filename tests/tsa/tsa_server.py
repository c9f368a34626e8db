#!/usr/bin/python3
"""A test RFC 3161 Time-Stamping Authority over HTTP, for tests only.

Answers POSTed TimeStampReqs (Content-Type application/timestamp-query) by
running `openssl ts -reply` with a certificate made by make-ca.sh. Listens on
127.0.0.1 only. Standard library only; run it with /usr/bin/python3.

    tsa_server.py --dir DIR [--cert tsa] [--section tsa_sha256]
                  [--port 0] [--port-file FILE] [--fail MODE]

--cert names the signer in DIR (tsa, tsa-expired, tsa-other; openssl
refuses to sign with tsa-noncrit, tsa-noeku or tsa-multieku). --port 0 picks
a free port; the port is printed on stdout and, with --port-file, written to
FILE (atomically) once the server accepts connections.

Failures for negative tests, chosen per request by path or for every request
by --fail MODE:
    /error/500  (http500)  HTTP 500 with a text body
    /reject     (reject)   HTTP 200, a TimeStampResp with status rejection
    /garbage    (garbage)  HTTP 200, bytes that are not DER
    /slow       (slow)     waits 60 s before answering normally
    /otherdigest (otherdigest) a valid token with the request's nonce, over
                another digest (one bit of the message imprint flipped)
    /othernonce (othernonce) a valid token over the request's digest, with
                another nonce (one bit of the nonce flipped)
Any other path answers normally. A request without the right Content-Type
gets HTTP 415; one larger than 64 KiB gets HTTP 413.
"""
import argparse
import http.server
import os
import subprocess
import sys
import tempfile
import time

MAX_REQUEST = 64 << 10
MODES = {"/error/500": "http500", "/reject": "reject", "/garbage": "garbage", "/slow": "slow",
         "/otherdigest": "otherdigest", "/othernonce": "othernonce"}


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def der(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def other_digest(req):
    """The TimeStampReq with one bit of its messageImprint's hashedMessage flipped.

    TimeStampReq ::= SEQUENCE { version INTEGER, messageImprint SEQUENCE {
    hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }, ... }: the
    first OCTET STRING of 32 bytes after the AlgorithmIdentifier is the digest.
    """
    alg_end = req.index(b"\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01") + 11
    at = req.index(b"\x04\x20", alg_end) + 2
    b = bytearray(req)
    b[at] ^= 0x01
    return bytes(b)


def other_nonce(req):
    """The TimeStampReq with one bit of its nonce flipped: the nonce is the INTEGER
    that follows the messageImprint (there is no reqPolicy in our requests)."""
    alg_end = req.index(b"\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01") + 11
    at = req.index(b"\x04\x20", alg_end) + 2 + 32
    if req[at] != 0x02:
        raise ValueError("no nonce after the message imprint")
    b = bytearray(req)
    b[at + 1 + req[at + 1]] ^= 0x01
    return bytes(b)


def rejection():
    """TimeStampResp { PKIStatusInfo { rejection(2), "test rejection", badRequest } }."""
    text = der(0x30, der(0x0C, b"test rejection"))
    fail_info = der(0x03, bytes([0x05, 0x20]))  # bit 2: badRequest
    status = der(0x30, der(0x02, b"\x02") + text + fail_info)
    return der(0x30, status)


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "tfattest-test-tsa"

    def log_message(self, fmt, *args):
        sys.stderr.write("tsa_server: " + (fmt % args) + "\n")

    def reply(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply(405, "text/plain", b"POST a TimeStampReq\n")

    def do_POST(self):
        opts = self.server.opts
        try:
            n = int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            n = -1
        if n < 0 or n > MAX_REQUEST:
            self.reply(413, "text/plain", b"request too large or without length\n")
            return
        body = self.rfile.read(n)
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/timestamp-query":
            self.reply(415, "text/plain", b"expected application/timestamp-query\n")
            return
        mode = opts.fail or MODES.get(self.path.split("?")[0], "ok")
        if mode == "http500":
            self.reply(500, "text/plain", b"test failure\n")
            return
        if mode == "reject":
            self.reply(200, "application/timestamp-reply", rejection())
            return
        if mode == "garbage":
            self.reply(200, "application/timestamp-reply", b"\x30\x82\xff\xffnot a TimeStampResp")
            return
        if mode == "slow":
            time.sleep(60)
        if mode == "otherdigest":
            body = other_digest(body)
        if mode == "othernonce":
            body = other_nonce(body)
        with tempfile.TemporaryDirectory() as tmp:
            req = os.path.join(tmp, "req.tsq")
            resp = os.path.join(tmp, "resp.tsr")
            with open(req, "wb") as f:
                f.write(body)
            d = opts.dir
            p = subprocess.run(
                ["openssl", "ts", "-reply", "-config", os.path.join(d, "tsa.cnf"),
                 "-section", opts.section, "-queryfile", req,
                 "-signer", os.path.join(d, opts.cert + ".pem"),
                 "-inkey", os.path.join(d, opts.cert + ".key"), "-out", resp],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if p.returncode != 0 or not os.path.exists(resp):
                sys.stderr.write("tsa_server: openssl ts -reply failed:\n" +
                                 p.stderr.decode(errors="replace"))
                self.reply(500, "text/plain", b"openssl ts -reply failed\n")
                return
            with open(resp, "rb") as f:
                self.reply(200, "application/timestamp-reply", f.read())


def main():
    ap = argparse.ArgumentParser(description="test RFC 3161 TSA (tests only)")
    ap.add_argument("--dir", required=True, help="directory made by make-ca.sh")
    ap.add_argument("--cert", default="tsa", help="signer: DIR/NAME.pem and DIR/NAME.key")
    ap.add_argument("--section", default="tsa_sha256", help="section of DIR/tsa.cnf")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--fail", choices=sorted(set(MODES.values())))
    opts = ap.parse_args()
    opts.dir = os.path.abspath(opts.dir)
    for f in (opts.cert + ".pem", opts.cert + ".key", "tsa.cnf"):
        if not os.path.isfile(os.path.join(opts.dir, f)):
            ap.error("missing " + os.path.join(opts.dir, f))

    srv = http.server.HTTPServer(("127.0.0.1", opts.port), Handler)
    srv.opts = opts
    port = srv.server_address[1]
    print(port, flush=True)
    if opts.port_file:
        tmp = opts.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, opts.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    srv.server_close()


if __name__ == "__main__":
    main()
