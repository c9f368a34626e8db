#!/usr/bin/python3
"""Test ID tokens for the `tfattest serve` tests (python3-cryptography).

  serve_tokens.py keys DIR        DIR/issuer.pem (RSA 2048) and DIR/jwks.json (kid "k1")
  serve_tokens.py token DIR ISS AUD SUB [name=value...]
        prints a token signed RS256 with DIR/issuer.pem. Special names:
        exp=+N / nbf=+N / iat=+N   seconds from now (may be negative: exp=-600)
        alg=none                   no signature at all
        alg=HS256-pubkey           HMAC-SHA256 keyed with the RSA public key's PEM
        kid=K                      the header's kid (default k1)
        Others become string claims.
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def uint_b64u(n):
    return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def keys(d):
    os.makedirs(d, exist_ok=True)
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(os.path.join(d, "issuer.pem"), "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
    pub = k.public_key().public_numbers()
    jwk = {"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
           "n": uint_b64u(pub.n), "e": uint_b64u(pub.e)}
    with open(os.path.join(d, "jwks.json"), "w") as f:
        json.dump({"keys": [jwk]}, f)
    return 0


def token(d, iss, aud, sub, extra):
    now = int(time.time())
    claims = {"iss": iss, "aud": aud, "sub": sub, "iat": now - 5, "exp": now + 600}
    alg, kid = "RS256", "k1"
    for kv in extra:
        name, _, value = kv.partition("=")
        if name in ("exp", "nbf", "iat"):
            claims[name] = now + int(value)
        elif name == "alg":
            alg = value
        elif name == "kid":
            kid = value
        else:
            claims[name] = value
    with open(os.path.join(d, "issuer.pem"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    header = {"alg": "HS256" if alg == "HS256-pubkey" else alg, "typ": "JWT", "kid": kid}
    signing_input = (b64u(json.dumps(header).encode()) + "." +
                     b64u(json.dumps(claims).encode())).encode()
    if alg == "none":
        sig = b""
    elif alg == "HS256-pubkey":
        pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        sig = hmac.new(pem, signing_input, hashlib.sha256).digest()
    else:
        sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    print(signing_input.decode() + "." + b64u(sig))
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "keys":
        return keys(argv[2])
    if len(argv) >= 6 and argv[1] == "token":
        return token(argv[2], argv[3], argv[4], argv[5], argv[6:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
