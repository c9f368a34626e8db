#!/usr/bin/python3
"""A test OIDC issuer: keys, a JWKS, ID tokens with chosen claims, and the
discovery document and key set served on loopback. For the tests of the
attestation service's ID-token checks (src/service/jwt.h) and of `serve`.
Needs python3-cryptography (Debian's /usr/bin/python3). Never for production:
private keys are written unencrypted.

Everything lives in one state directory D:
    D/keys/<kid>.pem   private keys (PKCS#8 PEM)
    D/jwks.json        the public key set that is served (rewritten by `keys`)
    D/issuer           the issuer URL, written by `serve` once it listens
    D/tls/ca.pem       with `serve --tls`: the CA to trust (CURL_CA_BUNDLE)
    D/requests.log     one line per request served: the path

Commands:
    oidc_issuer.py keys --dir D [--rsa KID]... [--ec KID]... [--replace]
        Makes RSA-2048 and EC P-256 keys (default: --rsa rsa-1 --ec ec-1) and
        writes D/jwks.json with the public halves of every key in D/keys
        (`use` "sig", `alg` RS256 or ES256). --replace first drops the keys
        there: the issuer rotates.

    oidc_issuer.py mint --dir D [--key rsa|ec] [--kid KID] [--claims JSON]
                   [--iss URL] [--aud A] [--sub S] [--ttl SECONDS]
                   [--alg ALG] [--header JSON] [--no-kid] [--hmac-pubkey] [--der]
                   [--raw-header TEXT] [--raw-claims TEXT]
        Prints one compact JWS on stdout. The key is --kid, else the first
        key of type --key (default rsa). Claims: iss (--iss, else D/issuer),
        sub (default "repo:acme/infra:ref:refs/heads/main"), aud (default
        "tfattest"), iat = now, exp = now + ttl (default 300); --claims
        (a JSON object) adds and overrides them, a null value removes one.
        --alg overrides the header's alg (the signature stays the key's, for
        hostile tokens); --alg none leaves the signature empty; --hmac-pubkey
        signs HS256 with the key's public PEM as the HMAC secret (the
        alg-confusion attack); --der leaves an ES256 signature in DER. --header
        adds and overrides header members. --raw-header and --raw-claims give
        the header's or the payload's JSON text as it is to be signed
        (duplicate members, numbers such as 1e400).

    oidc_issuer.py serve --dir D [--port N] [--port-file F] [--tls]
        Serves on 127.0.0.1 until killed:
            GET /.well-known/openid-configuration   {"issuer", "jwks_uri", ...}
            GET /jwks.json                          D/jwks.json, read per request
        --port 0 (default) takes a free port; the port is written to
        --port-file and the issuer URL to D/issuer once it accepts
        connections. --tls makes a CA and a certificate for 127.0.0.1 in
        D/tls and serves HTTPS.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def uint(n, size=None):
    if size is None:
        size = (n.bit_length() + 7) // 8
    return b64url(n.to_bytes(size, "big"))


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def load_keys(d):
    keys = {}
    kd = os.path.join(d, "keys")
    if os.path.isdir(kd):
        for name in sorted(os.listdir(kd)):
            if name.endswith(".pem"):
                with open(os.path.join(kd, name), "rb") as f:
                    keys[name[:-4]] = serialization.load_pem_private_key(f.read(), None)
    return keys


def jwk(kid, key):
    pub = key.public_key().public_numbers()
    if isinstance(key, rsa.RSAPrivateKey):
        return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                "n": uint(pub.n), "e": uint(pub.e)}
    return {"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
            "x": uint(pub.x, 32), "y": uint(pub.y, 32)}


def cmd_keys(a):
    kd = os.path.join(a.dir, "keys")
    os.makedirs(kd, exist_ok=True)
    if a.replace:
        for name in os.listdir(kd):
            os.unlink(os.path.join(kd, name))
    rsa_kids, ec_kids = a.rsa or [], a.ec or []
    if not rsa_kids and not ec_kids:
        rsa_kids, ec_kids = ["rsa-1"], ["ec-1"]
    for kid in rsa_kids + ec_kids:
        if kid in rsa_kids:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        write_atomic(os.path.join(kd, kid + ".pem"), pem)
    keys = load_keys(a.dir)
    doc = {"keys": [jwk(kid, k) for kid, k in keys.items()]}
    write_atomic(os.path.join(a.dir, "jwks.json"), json.dumps(doc, indent=1).encode())


def cmd_mint(a):
    keys = load_keys(a.dir)
    if a.kid:
        kid, key = a.kid, keys.get(a.kid)
        if key is None:
            sys.exit("oidc_issuer: no key %s in %s/keys" % (a.kid, a.dir))
    else:
        want = rsa.RSAPrivateKey if a.key == "rsa" else ec.EllipticCurvePrivateKey
        found = [(k, v) for k, v in keys.items() if isinstance(v, want)]
        if not found:
            sys.exit("oidc_issuer: no %s key in %s/keys" % (a.key, a.dir))
        kid, key = found[0]
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    iss = a.iss
    if iss is None:
        try:
            with open(os.path.join(a.dir, "issuer")) as f:
                iss = f.read().strip()
        except OSError:
            sys.exit("oidc_issuer: no --iss and no %s/issuer" % a.dir)
    now = int(time.time())
    claims = {"iss": iss, "sub": a.sub, "aud": a.aud, "iat": now, "exp": now + a.ttl}
    for name, value in json.loads(a.claims or "{}").items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    alg = "HS256" if a.hmac_pubkey else (a.alg or ("RS256" if is_rsa else "ES256"))
    header = {"alg": alg, "typ": "JWT"}
    if not a.no_kid:
        header["kid"] = kid
    header.update(json.loads(a.header or "{}"))
    # Headers and payloads given raw (duplicate members) are taken as they are.
    h = a.raw_header.encode() if a.raw_header else json.dumps(header).encode()
    p = a.raw_claims.encode() if a.raw_claims else json.dumps(claims).encode()
    signing_input = (b64url(h) + "." + b64url(p)).encode()
    if alg == "none":
        sig = b""
    elif a.hmac_pubkey:
        secret = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        sig = hmac.new(secret, signing_input, hashlib.sha256).digest()
    elif is_rsa:
        sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        der = key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        if a.der:
            sig = der
        else:
            r, s = decode_dss_signature(der)
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    sys.stdout.write(signing_input.decode() + "." + b64url(sig) + "\n")


def make_tls(d):
    td = os.path.join(d, "tls")
    os.makedirs(td, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tfattest test OIDC CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    write_atomic(os.path.join(td, "ca.pem"), ca.public_bytes(pem))
    write_atomic(os.path.join(td, "cert.pem"), cert.public_bytes(pem))
    write_atomic(os.path.join(td, "key.pem"), key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(td, "cert.pem"), os.path.join(td, "key.pem"))
    return ctx


def cmd_serve(a):
    state = {"issuer": None}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def answer(self, status, body):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = self.path.split("?")[0]
            with open(os.path.join(a.dir, "requests.log"), "a") as f:
                f.write(path + "\n")
            if path == "/.well-known/openid-configuration":
                doc = {"issuer": state["issuer"], "jwks_uri": state["issuer"] + "/jwks.json",
                       "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                       "response_types_supported": ["id_token"],
                       "subject_types_supported": ["public"]}
                return self.answer(200, json.dumps(doc).encode())
            if path == "/jwks.json":
                with open(os.path.join(a.dir, "jwks.json"), "rb") as f:
                    return self.answer(200, f.read())
            return self.answer(404, b'{"error":"not found"}')

    server = HTTPServer(("127.0.0.1", a.port), Handler)
    scheme = "http"
    if a.tls:
        server.socket = make_tls(a.dir).wrap_socket(server.socket, server_side=True)
        scheme = "https"
    port = server.server_address[1]
    state["issuer"] = "%s://127.0.0.1:%d" % (scheme, port)
    write_atomic(os.path.join(a.dir, "issuer"), (state["issuer"] + "\n").encode())
    if a.port_file:
        write_atomic(a.port_file, ("%d\n" % port).encode())
    server.serve_forever()


def main():
    ap = argparse.ArgumentParser(description="A test OIDC issuer (see the top of this file).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keys")
    k.add_argument("--dir", required=True)
    k.add_argument("--rsa", action="append", metavar="KID")
    k.add_argument("--ec", action="append", metavar="KID")
    k.add_argument("--replace", action="store_true")
    m = sub.add_parser("mint")
    m.add_argument("--dir", required=True)
    m.add_argument("--key", choices=["rsa", "ec"], default="rsa")
    m.add_argument("--kid")
    m.add_argument("--claims")
    m.add_argument("--iss")
    m.add_argument("--aud", default="tfattest")
    m.add_argument("--sub", default="repo:acme/infra:ref:refs/heads/main")
    m.add_argument("--ttl", type=int, default=300)
    m.add_argument("--alg")
    m.add_argument("--header")
    m.add_argument("--raw-header", help="the header's JSON text, used as given")
    m.add_argument("--raw-claims", help="the payload's JSON text, used as given")
    m.add_argument("--no-kid", action="store_true")
    m.add_argument("--hmac-pubkey", action="store_true")
    m.add_argument("--der", action="store_true", help="ES256 signature left in DER")
    s = sub.add_parser("serve")
    s.add_argument("--dir", required=True)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--port-file")
    s.add_argument("--tls", action="store_true")
    a = ap.parse_args()
    {"keys": cmd_keys, "mint": cmd_mint, "serve": cmd_serve}[a.cmd](a)


if __name__ == "__main__":
    main()
