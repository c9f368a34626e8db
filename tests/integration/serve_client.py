#!/usr/bin/python3
"""Clients for the `tfattest serve` tests and benchmark.

  serve_client.py trickle HOST:PORT CA           sends a request's headers a byte a
        second; prints the seconds until the service cut the connection off
  serve_client.py slowpost HOST:PORT CA TOKEN BODY SENT GO
        sends a record request's headers and half its body, creates the file SENT,
        waits for the file GO, sends the rest; prints: STATUS SEQ
  serve_client.py bigpost HOST:PORT CA TOKEN FILE
        sends a record request's headers with FILE's size as Content-Length (no
        Expect), waits a second for any early reply, then sends FILE, and reads the
        reply; prints: early=yes|no STATUS (STATUS is "reset" when the connection
        was reset before a status line could be read)
  serve_client.py burst HOST:PORT CA TOKEN BODY N
        opens N TLS connections, then sends N record requests at once (BODY's @KEY@
        made unique for each); prints one line per reply: STATUS RETRY-AFTER SEQ
  serve_client.py load HOST:PORT CA TOKEN_FILE BODY_TEMPLATE CLIENTS COUNT OUT
        CLIENTS threads, each with one kept-alive connection, each sending COUNT
        record requests one after another (BODY_TEMPLATE's @KEY@ replaced by a fresh
        idempotency key); writes "status seq latency_ms" per request to OUT and prints
        the wall time in seconds
"""
import http.client
import json
import os
import socket
import ssl
import sys
import threading
import time


def tls_context(ca):
    ctx = ssl.create_default_context(cafile=ca)
    return ctx


def split_hostport(hp):
    host, _, port = hp.rpartition(":")
    return host.strip("[]"), int(port)


def trickle(hp, ca):
    host, port = split_hostport(hp)
    ctx = tls_context(ca)
    raw = socket.create_connection((host, port), timeout=5)
    s = ctx.wrap_socket(raw, server_hostname=host)
    s.settimeout(2)
    req = b"POST /v1/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + b"X-Slow: " + b"a" * 200
    start = time.monotonic()
    for i in range(len(req)):
        try:
            s.sendall(req[i:i + 1])
        except OSError:
            break
        try:
            data = s.recv(1)
            if data == b"":
                break  # closed by the service
        except socket.timeout:
            pass
        except (ssl.SSLError, OSError):
            break
        if time.monotonic() - start > 60:
            print("never cut off")
            return 1
    print("%.1f" % (time.monotonic() - start))
    return 0


def slowpost(hp, ca, token, body, sent, go):
    host, port = split_hostport(hp)
    c = http.client.HTTPSConnection(host, port, context=tls_context(ca), timeout=30)
    c.connect()
    data = body.encode()
    c.putrequest("POST", "/v1/records")
    c.putheader("Authorization", "Bearer " + token)
    c.putheader("Content-Type", "application/json")
    c.putheader("Content-Length", str(len(data)))
    c.endheaders()
    c.send(data[:len(data) // 2])
    open(sent, "w").close()
    for _ in range(300):
        if os.path.exists(go):
            break
        time.sleep(0.05)
    c.send(data[len(data) // 2:])
    r = c.getresponse()
    reply = r.read()
    seq = json.loads(reply).get("seq", "-") if r.status == 200 else "-"
    print(r.status, seq)
    return 0


def bigpost(hp, ca, token, path):
    host, port = split_hostport(hp)
    data = open(path, "rb").read()
    raw = socket.create_connection((host, port), timeout=10)
    s = tls_context(ca).wrap_socket(raw, server_hostname=host)
    s.sendall(("POST /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
               % (token, len(data))).encode())
    # A reply before the body is sent is what a client still sending can lose to a reset.
    s.settimeout(1)
    early = b""
    try:
        early = s.recv(1)
    except socket.timeout:
        pass
    except (ssl.SSLError, OSError):
        early = b"?"
    s.settimeout(10)
    reply = early
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
            if b"\r\n" in reply:
                break
    except (ssl.SSLError, OSError):
        pass
    line = reply.split(b"\r\n", 1)[0].split()
    status = line[1].decode() if len(line) >= 2 and line[0].startswith(b"HTTP/") else "reset"
    print("early=%s %s" % ("yes" if early else "no", status))
    return 0


def burst(hp, ca, token, body, n):
    host, port = split_hostport(hp)
    ctx = tls_context(ca)
    conns = []
    for _ in range(n):
        c = http.client.HTTPSConnection(host, port, context=ctx, timeout=30)
        c.connect()
        conns.append(c)
    hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    bodies = [body.replace("@KEY@", "%04d-%s" % (i, os.urandom(4).hex())).encode()
              for i in range(n)]
    for i, c in enumerate(conns):
        c.putrequest("POST", "/v1/records")
        for k, v in hdr.items():
            c.putheader(k, v)
        c.putheader("Content-Length", str(len(bodies[i])))
        c.endheaders()
    # The bodies go out together, so that the requests reach the service at once.
    for i, c in enumerate(conns):
        c.send(bodies[i])
    for c in conns:
        r = c.getresponse()
        data = r.read()
        seq = "-"
        if r.status == 200:
            seq = str(json.loads(data)["seq"])
        print(r.status, r.getheader("Retry-After") or "-", seq)
        c.close()
    return 0


def load(hp, ca, token_file, template, clients, count, out):
    host, port = split_hostport(hp)
    ctx = tls_context(ca)
    with open(token_file) as f:
        token = f.read().strip()
    with open(template) as f:
        tmpl = f.read()
    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client(ci):
        c = http.client.HTTPSConnection(host, port, context=ctx, timeout=60)
        c.connect()
        mine = []
        barrier.wait()
        for i in range(count):
            body = tmpl.replace("@KEY@", "load-%02d-%06d-%s" % (ci, i, os.urandom(4).hex()))
            t0 = time.monotonic()
            for attempt in range(3):
                try:
                    c.request("POST", "/v1/records", body=body,
                              headers={"Authorization": "Bearer " + token,
                                       "Content-Type": "application/json"})
                    r = c.getresponse()
                    data = r.read()
                    break
                except (http.client.HTTPException, OSError):
                    c.close()
                    c = http.client.HTTPSConnection(host, port, context=ctx, timeout=60)
                    c.connect()
            ms = (time.monotonic() - t0) * 1000
            seq = json.loads(data).get("seq", "-") if r.status == 200 else "-"
            mine.append("%d %s %.3f" % (r.status, seq, ms))
        c.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    with open(out, "w") as f:
        f.write("\n".join(results) + "\n")
    print("%.3f" % wall)
    return 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "trickle":
        return trickle(argv[2], argv[3])
    if len(argv) == 8 and argv[1] == "slowpost":
        return slowpost(*argv[2:8])
    if len(argv) == 6 and argv[1] == "bigpost":
        return bigpost(*argv[2:6])
    if len(argv) == 7 and argv[1] == "burst":
        return burst(argv[2], argv[3], argv[4], argv[5], int(argv[6]))
    if len(argv) == 9 and argv[1] == "load":
        return load(argv[2], argv[3], argv[4], argv[5], int(argv[6]), int(argv[7]), argv[8])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
