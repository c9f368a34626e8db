#!/usr/bin/python3
"""Fake AWS endpoints for the unit tests of the AWS plumbing (plain HTTP on 127.0.0.1).

Standard library only. Started by tests/unit/test_awshttp.c and test_awscreds.c:

  fake_aws.py --port-file FILE [--creds-file JSON] [--web-token-file FILE]
              [--ecs-token-file FILE]

It serves, when no scripted answer is queued:
  POST /            STS AssumeRoleWithWebIdentity (form body). The WebIdentityToken must
                    equal the --web-token-file contents; the answer is STS's XML with the
                    --creds-file credentials.
  GET  /ecs/creds   ECS container credentials (JSON). With --ecs-token-file, the
                    Authorization header must equal that file's contents (else 401).
  PUT  /latest/api/token                        IMDSv2 token (needs the TTL header)
  GET  /latest/meta-data/iam/security-credentials/        "test-role" (needs the token)
  GET  /latest/meta-data/iam/security-credentials/test-role  credentials (JSON)
Test hooks:
  POST /__script  JSON list of answers {"status", "body", "headers", "delay", "repeat"}
                  consumed one per request (repeat: how many requests it answers);
                  {"body_size": N} answers with N bytes.
  GET  /__log     JSON list of the requests seen: method, path, headers, body.
  POST /__reset   empties the log and the script.
--creds-file holds {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}. It is
re-read on every request, so a test can change it while the server runs.
"""

import argparse
import json
import os
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
SCRIPT = []
LOG = []
ARGS = None
IMDS_TOKEN = "AQAEAFakeImdsToken0123456789=="


def read(path):
    with open(path) as f:
        return f.read()


def creds():
    return json.loads(read(ARGS.creds_file))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def answer(self, status, body=b"", headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        path = self.path
        if path == "/__script":
            with LOCK:
                for a in json.loads(body):
                    SCRIPT.extend([a] * int(a.get("repeat", 1)))
            return self.answer(200, "{}")
        if path == "/__reset":
            with LOCK:
                SCRIPT.clear()
                LOG.clear()
            return self.answer(200, "{}")
        if path == "/__log":
            with LOCK:
                return self.answer(200, json.dumps(LOG), {"Content-Type": "application/json"})
        with LOCK:
            LOG.append({"method": self.command, "path": path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body.decode("utf-8", "replace")})
            scripted = SCRIPT.pop(0) if SCRIPT else None
        if scripted is not None:
            time.sleep(float(scripted.get("delay", 0)))
            b = scripted.get("body", "")
            if "body_size" in scripted:
                b = b"x" * int(scripted["body_size"])
            elif not isinstance(b, str):
                b = json.dumps(b)
            return self.answer(int(scripted.get("status", 200)), b, scripted.get("headers"))
        return self.default(body)

    def default(self, body):
        p = self.path
        if self.command == "POST" and p == "/":
            form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
            if form.get("Action") != ["AssumeRoleWithWebIdentity"]:
                return self.answer(400, "<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>")
            if ARGS.web_token_file and form.get("WebIdentityToken") != [read(ARGS.web_token_file).strip()]:
                return self.answer(400, "<ErrorResponse><Error><Code>InvalidIdentityToken</Code>"
                                        "<Message>Incorrect token audience</Message></Error>"
                                        "<RequestId>sts-req-1</RequestId></ErrorResponse>")
            c = creds()
            xml = ("<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                   "<AssumeRoleWithWebIdentityResult><Credentials>"
                   f"<AccessKeyId>{c['AccessKeyId']}</AccessKeyId>"
                   f"<SecretAccessKey>{c['SecretAccessKey']}</SecretAccessKey>"
                   f"<SessionToken>{c['Token']}</SessionToken>"
                   f"<Expiration>{c['Expiration']}</Expiration>"
                   "</Credentials></AssumeRoleWithWebIdentityResult>"
                   "<ResponseMetadata><RequestId>sts-req-2</RequestId></ResponseMetadata>"
                   "</AssumeRoleWithWebIdentityResponse>")
            return self.answer(200, xml, {"Content-Type": "text/xml"})
        if self.command == "GET" and p == "/ecs/creds":
            if ARGS.ecs_token_file and self.headers.get("Authorization") != read(ARGS.ecs_token_file).strip():
                return self.answer(401, '{"message": "unauthorized"}')
            return self.answer(200, json.dumps(creds()), {"Content-Type": "application/json"})
        if self.command == "PUT" and p == "/latest/api/token":
            if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                return self.answer(400)
            return self.answer(200, IMDS_TOKEN)
        if p.startswith("/latest/meta-data/iam/security-credentials/"):
            if self.headers.get("X-aws-ec2-metadata-token") != IMDS_TOKEN:
                return self.answer(401)
            role = p[len("/latest/meta-data/iam/security-credentials/"):]
            if role == "":
                return self.answer(200, "test-role")
            if role == "test-role":
                c = dict(creds(), Code="Success", Type="AWS-HMAC")
                return self.answer(200, json.dumps(c))
        return self.answer(404, '{"message": "no route"}')

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_any


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--creds-file")
    ap.add_argument("--web-token-file")
    ap.add_argument("--ecs-token-file")
    ARGS = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, ARGS.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
