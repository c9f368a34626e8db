#!/usr/bin/python3
"""A test double of the AWS Lambda Runtime API (2018-06-01) that feeds
Function URL events (payload format 2.0) to a custom runtime and checks its
answers.

    lambda_runtime_double.py --port-file F --plan PLAN.json --result R.json
                             [--expect-init-error] [--timeout S]

It serves, on 127.0.0.1 and a free port written to --port-file:
  GET  /2018-06-01/runtime/invocation/next           the plan's next event, or a
                                                     held poll when none is left
  POST /2018-06-01/runtime/invocation/ID/response    202
  POST /2018-06-01/runtime/invocation/ID/error       202
  POST /2018-06-01/runtime/init/error                202
Anything else is a 404 and a failure.

PLAN.json: {"events": [STEP, ...]} where STEP is
  {"name": "...",
   "raw": "...",                      the event's bytes as they are (optional), or
   "arn": "arn:aws:...",              requestContext.authorizer.iam.userArn; null: no authorizer
   "account": "111122223333",         (default: the ARN's account)
   "method": "POST", "path": "/",
   "body": "..." | "body_size": N,    the request body (or N bytes of 'x')
   "base64": false,                   send the body base64-encoded
   "headers": {...},
   "expect": {"kind": "response" | "error",
              "status": 200,          the Function URL response's statusCode
              "error_has": "...",     a substring of the reply's "error" (or errorMessage)
              "reply_type": "tfattest.record-reply",
              "error_type": "..."}}    errorType of an invocation error

When every event is answered (or the runtime posts an init error, or the
timeout passes) it writes R.json: {"ok": bool, "failures": [...], "answers":
[{name, kind, status, body, ...}], "init_error": {...} | null} and exits, which
ends the runtime's held poll.
"""
import argparse
import base64
import json
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:eu-west-1:111122223333:function:tfattest-service"


def make_event(step):
    if "raw" in step:
        return step["raw"].encode()
    body = step.get("body")
    if "body_size" in step:
        body = "x" * step["body_size"]
    b64 = bool(step.get("base64", False))
    headers = {"content-type": "application/json", "host": "abc.lambda-url.eu-west-1.on.aws"}
    headers.update(step.get("headers", {}))
    path = step.get("path", "/")
    ctx = {
        "accountId": "anonymous", "apiId": "abc",
        "domainName": "abc.lambda-url.eu-west-1.on.aws", "domainPrefix": "abc",
        "http": {"method": step.get("method", "POST"), "path": path, "protocol": "HTTP/1.1",
                 "sourceIp": "192.0.2.10", "userAgent": "tfattest"},
        "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
        "timeEpoch": int(time.time() * 1000),
    }
    arn = step.get("arn")
    if arn is not None:
        m = re.match(r"arn:[^:]+:[^:]+::(\d{12}):", arn)
        account = step.get("account", m.group(1) if m else "111122223333")
        ctx["authorizer"] = {"iam": {
            "accessKey": "ASIAEXAMPLEEXAMPLE", "accountId": account,
            "callerId": "AROAEXAMPLE:GitHubActions", "cognitoIdentity": None,
            "principalOrgId": "o-example", "userArn": arn,
            "userId": "AROAEXAMPLE:GitHubActions"}}
    ev = {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
          "headers": headers, "requestContext": ctx, "isBase64Encoded": b64}
    if body is not None:
        ev["body"] = base64.b64encode(body.encode()).decode() if b64 else body
    return json.dumps(ev).encode()


class State:
    def __init__(self, plan, expect_init_error):
        self.steps = plan["events"]
        self.next = 0
        self.pending = {}  # request id -> step index
        self.answers = [None] * len(self.steps)
        self.failures = []
        self.init_error = None
        self.expect_init_error = expect_init_error
        self.lock = threading.Lock()
        self.done = threading.Event()

    def fail(self, msg):
        self.failures.append(msg)

    def check_done(self):
        if self.init_error is not None or all(a is not None for a in self.answers):
            self.done.set()


def check_answer(state, i, kind, body):
    step = state.steps[i]
    exp = step.get("expect", {})
    name = step.get("name", str(i))
    ans = {"name": name, "kind": kind}
    try:
        doc = json.loads(body)
    except ValueError:
        state.fail(f"{name}: the {kind} body is not JSON")
        return ans
    if kind == "response":
        if set(doc) - {"statusCode", "headers", "body", "isBase64Encoded", "cookies"}:
            state.fail(f"{name}: unexpected members in the Function URL response: {sorted(doc)}")
        ans["status"] = doc.get("statusCode")
        if doc.get("isBase64Encoded") is not False:
            state.fail(f"{name}: isBase64Encoded is not false")
        hdrs = doc.get("headers", {})
        if hdrs.get("content-type") != "application/json":
            state.fail(f"{name}: content-type {hdrs.get('content-type')!r}")
        try:
            reply = json.loads(doc.get("body", ""))
        except ValueError:
            reply = None
            state.fail(f"{name}: the reply body is not JSON")
        ans["reply"] = reply
        if isinstance(reply, dict):
            ans["error"] = reply.get("error")
    else:
        ans["error"] = doc.get("errorMessage")
        ans["error_type"] = doc.get("errorType")
        if not isinstance(doc.get("stackTrace"), list):
            state.fail(f"{name}: the error has no stackTrace array")
    if exp.get("kind", "response") != kind:
        state.fail(f"{name}: answered with {kind}, expected {exp.get('kind', 'response')}")
    if "status" in exp and ans.get("status") != exp["status"]:
        state.fail(f"{name}: status {ans.get('status')}, expected {exp['status']}"
                   f" ({ans.get('error')})")
    if "error_has" in exp and exp["error_has"] not in (ans.get("error") or ""):
        state.fail(f"{name}: error {ans.get('error')!r} lacks {exp['error_has']!r}")
    if "reply_type" in exp:
        r = ans.get("reply")
        if not isinstance(r, dict) or r.get("type") != exp["reply_type"]:
            state.fail(f"{name}: reply type {r.get('type') if isinstance(r, dict) else r!r}")
    if "error_type" in exp and ans.get("error_type") != exp["error_type"]:
        state.fail(f"{name}: errorType {ans.get('error_type')!r}, expected {exp['error_type']!r}")
    return ans


def make_handler(state):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, code, body=b"", headers=None):
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path != PREFIX + "/invocation/next":
                with state.lock:
                    state.fail(f"GET of an unknown path {self.path}")
                return self.reply(404, b'{"errorMessage":"not found"}')
            with state.lock:
                if state.init_error is not None:
                    state.fail("next after an init error")
                i = state.next
                if i < len(state.steps):
                    state.next += 1
                    rid = str(uuid.uuid4())
                    state.pending[rid] = i
            if i >= len(state.steps):
                # Hold the poll, as Lambda does between invocations, until the end.
                state.done.wait()
                time.sleep(5)
                return
            ev = make_event(state.steps[i])
            self.reply(200, ev, {
                "Lambda-Runtime-Aws-Request-Id": rid,
                "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30000),
                "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
            })

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            m = re.fullmatch(PREFIX + r"/invocation/([^/]+)/(response|error)", self.path)
            with state.lock:
                if self.path == PREFIX + "/init/error":
                    try:
                        doc = json.loads(body)
                    except ValueError:
                        doc = None
                        state.fail("init error body is not JSON")
                    etype = self.headers.get("Lambda-Runtime-Function-Error-Type")
                    state.init_error = {"doc": doc, "type_header": etype}
                    if not state.expect_init_error:
                        state.fail(f"unexpected init error: {doc}")
                    self.reply(202, b'{"status":"OK"}')
                    state.check_done()
                    return
                if m is None:
                    state.fail(f"POST to an unknown path {self.path}")
                    return self.reply(404, b'{"errorMessage":"not found"}')
                rid, kind = m.group(1), m.group(2)
                if rid not in state.pending:
                    state.fail(f"{kind} for an unknown or already answered request id")
                    return self.reply(400, b'{"errorMessage":"InvalidRequestID"}')
                i = state.pending.pop(rid)
                if kind == "error" and not self.headers.get("Lambda-Runtime-Function-Error-Type"):
                    state.fail(f"{state.steps[i].get('name')}: error without its type header")
                state.answers[i] = check_answer(state, i, kind, body)
                self.reply(202, b'{"status":"OK"}')
                state.check_done()

    return H


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--result", required=True)
    ap.add_argument("--expect-init-error", action="store_true")
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    with open(a.plan) as f:
        plan = json.load(f)
    state = State(plan, a.expect_init_error)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.replace(a.port_file + ".tmp", a.port_file)
    if not state.done.wait(a.timeout):
        state.fail("timed out waiting for the runtime's answers")
    time.sleep(0.2)
    with state.lock:
        if a.expect_init_error and state.init_error is None:
            state.fail("no init error was posted")
        for i, ans in enumerate(state.answers):
            if ans is None and state.init_error is None:
                state.fail(f"{state.steps[i].get('name', i)}: never answered")
        result = {"ok": not state.failures, "failures": state.failures,
                  "answers": state.answers, "init_error": state.init_error}
    with open(a.result + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.replace(a.result + ".tmp", a.result)
    srv.shutdown()
    srv.server_close()
    for m in state.failures:
        print("runtime double: " + m, file=sys.stderr)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
