#!/usr/bin/env python3
"""A small HTTP server for the unit test of src/net (tests/unit/test_net.c).

Listens on 127.0.0.1 only, on a free port written (atomically) to --port-file
once it accepts connections. Standard library only.

    http_server.py --port-file FILE

Paths, for any method:
    /status/N   answers with status N and the body "status N"
    /size/N     answers 200 with a body of N bytes ("x" repeated)
    /slow/MS    waits MS milliseconds, then answers 200 "slow"
    /echo       answers 200 with a JSON object: the method, the request
                headers (names lower-cased) and the body (latin-1 text);
                the answer carries "X-Test-Header:   spaced value  "
Anything else gets 404.
"""
import argparse
import json
import os
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("http_server: " + (fmt % args) + "\n")

    def answer(self, status, body, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        parts = self.path.split("?")[0].strip("/").split("/")
        try:
            if parts[0] == "status" and len(parts) == 2:
                code = int(parts[1])
                return self.answer(code, ("status %d" % code).encode())
            if parts[0] == "size" and len(parts) == 2:
                return self.answer(200, b"x" * int(parts[1]))
            if parts[0] == "slow" and len(parts) == 2:
                time.sleep(int(parts[1]) / 1000.0)
                return self.answer(200, b"slow")
            if parts[0] == "echo" and len(parts) == 1:
                doc = {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode("latin-1"),
                }
                return self.answer(200, json.dumps(doc).encode(),
                                   [("X-Test-Header", "  spaced value  ")])
        except (ValueError, BrokenPipeError, ConnectionResetError):
            return None
        return self.answer(404, b"not found")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
