"""A stand-in for GitHub Actions' ID token endpoint, over TLS.

usage: oidc_server.py CERT KEY PORTFILE BEARER JWTFILE LOGFILE

Answers GET /token?...&audience=A with {"count":1,"value":"<JWT>"} when the
request carries "Authorization: bearer BEARER", else 401. Writes the port it
listens on (127.0.0.1, chosen by the system) to PORTFILE and one line per
request (path and audience, never the bearer) to LOGFILE. Standard library only.
"""
import http.server
import json
import ssl
import sys
import urllib.parse

cert, key, portfile, bearer, jwtfile, logfile = sys.argv[1:7]
jwt = open(jwtfile).read().strip()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        ok = self.headers.get("Authorization") == "bearer " + bearer
        with open(logfile, "a") as f:
            f.write("%s audience=%s auth=%s\n" % (url.path, ",".join(q.get("audience", [])),
                                                  "ok" if ok else "bad"))
        if not ok:
            self.send_response(401)
            self.end_headers()
            return
        body = json.dumps({"count": len(jwt), "value": jwt}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
