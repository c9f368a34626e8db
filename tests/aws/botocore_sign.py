#!/usr/bin/python3
"""botocore as a Signature Version 4 oracle.

Reads one JSON request description on stdin and prints, as JSON, what
botocore's own signer (botocore.auth.SigV4Auth, or S3SigV4Auth when "s3" is
true) produces for it at a frozen time: the canonical request, the string to
sign, the signature, the signed headers and the Authorization header. The
clock is frozen the way botocore's own unit tests freeze it (botocore.auth's
datetime module is patched), so the output depends on the input alone.

Input (all strings unless noted):
  method         "POST", "PUT", ...
  url            "https://kms.eu-west-1.amazonaws.com/" (path percent-encoded
                 as sent; query string included)
  headers        object {name: value} or list [[name, value], ...] of the other
                 headers sent and signed. Host, X-Amz-Date, X-Amz-Security-Token
                 and (S3) X-Amz-Content-SHA256 are set by the signer itself.
  body_hex | body_b64 | body   the request body (body: UTF-8 text); default empty
  service, region
  amz_date       "YYYYMMDDTHHMMSSZ"
  access_key, secret_key, session_token (optional)
  s3             bool, default false: S3 rules (no path normalisation, the
                 payload hash goes in X-Amz-Content-SHA256)
  unsigned_payload  bool, default false (S3 only): sign UNSIGNED-PAYLOAD

Output: {"canonical_request", "string_to_sign", "signature", "signed_headers",
"authorization", "headers"} where "headers" is every header botocore sets on
the request (the secret key never appears; the session token does, because it
is a header that is sent).

Run with /usr/bin/python3 (Debian's python3-botocore).
"""

import base64
import datetime
import json
import sys
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"


class _Recorder:
    """Wraps a signer class so the intermediate strings can be returned."""

    def __init__(self, base):
        rec = self

        class Signer(base):
            def canonical_request(self, request):
                rec.canonical_request = super().canonical_request(request)
                return rec.canonical_request

            def string_to_sign(self, request, canonical_request):
                rec.string_to_sign = super().string_to_sign(request, canonical_request)
                return rec.string_to_sign

            def signature(self, string_to_sign, request):
                rec.signature = super().signature(string_to_sign, request)
                return rec.signature

        self.cls = Signer
        self.canonical_request = self.string_to_sign = self.signature = None


def _body(desc):
    if "body_hex" in desc:
        return bytes.fromhex(desc["body_hex"])
    if "body_b64" in desc:
        return base64.b64decode(desc["body_b64"], validate=True)
    if "body" in desc:
        return desc["body"].encode("utf-8")
    return b""


def _headers(desc):
    h = desc.get("headers") or {}
    if isinstance(h, dict):
        return list(h.items())
    return [(n, v) for n, v in h]


def sign(desc):
    for field in ("method", "url", "service", "region", "amz_date", "access_key", "secret_key"):
        if not isinstance(desc.get(field), str) or not desc[field]:
            raise ValueError(f"missing or empty field: {field}")
    frozen = datetime.datetime.strptime(desc["amz_date"], SIGV4_TIMESTAMP)
    s3 = bool(desc.get("s3", False))
    rec = _Recorder(botocore.auth.S3SigV4Auth if s3 else botocore.auth.SigV4Auth)
    creds = Credentials(desc["access_key"], desc["secret_key"], desc.get("session_token"))
    signer = rec.cls(creds, desc["service"], desc["region"])

    request = AWSRequest(method=desc["method"], url=desc["url"], data=_body(desc))
    for name, value in _headers(desc):
        request.headers[name] = value
    if s3:
        request.context["client_config"] = Config(
            s3={"payload_signing_enabled": not desc.get("unsigned_payload", False)})

    # As botocore's tests/unit/test_signers.py does: freeze botocore.auth's clock.
    with mock.patch("botocore.auth.datetime") as dt:
        dt.datetime.utcnow.return_value = frozen
        dt.datetime.strptime.return_value = frozen
        signer.add_auth(request)

    auth = request.headers["Authorization"]
    signed = auth.split("SignedHeaders=", 1)[1].split(",", 1)[0]
    return {
        "canonical_request": rec.canonical_request,
        "string_to_sign": rec.string_to_sign,
        "signature": rec.signature,
        "signed_headers": signed,
        "authorization": auth,
        "headers": {k: v for k, v in request.headers.items()},
    }


def main():
    try:
        desc = json.load(sys.stdin)
        if not isinstance(desc, dict):
            raise ValueError("input is not a JSON object")
        out = sign(desc)
    except (ValueError, KeyError, TypeError) as e:
        print(f"botocore_sign: {e}", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
