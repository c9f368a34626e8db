#!/usr/bin/python3
"""A test double of AWS KMS for tfattest's tests. It is not an emulator.

It serves the subset of KMS's JSON 1.1 protocol that an asymmetric signer
uses (TrentService.Sign, GetPublicKey, DescribeKey, Verify) over HTTPS on
127.0.0.1, with a test CA it generates at start. Every request's Signature
Version 4 is recomputed with botocore and compared with the one sent, so a
client that signs wrongly is rejected the way AWS rejects it. Signatures are
made with real keys (python3-cryptography) created at start.

What it does not do: IAM or key policies (every authenticated caller may use
every key, except through an injected AccessDenied fault), grants, key
creation through the API, encryption, multi-region keys, rate limits other
than injected ones.

Start:
  /usr/bin/python3 kms_double.py --port-file P --ca-out CA.pem [options]
It prints "port N" when it is listening, writes N to the port file
(atomically), and serves until SIGTERM or SIGINT.

Credentials it accepts come from the environment the client also uses:
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optional AWS_SESSION_TOKEN
(or --credentials-file FILE, JSON [{"access_key", "secret_key",
"session_token"?, "allow"?}, ...]). Secrets are never logged. A credential
with "allow" (a list of actions such as "kms:GetPublicKey") may perform only
those: any other operation is answered AccessDeniedException, naming the
action, as KMS answers a caller whose policies do not allow it; the log
entry's "denied" names the action. Without "allow" a credential may do
everything (this double does not evaluate IAM or key policies).

Test hooks, on the same port, without SigV4:
  POST /__control  {"faults": ["throttle", "throttle", "ok"], "targets": ["Sign"],
                    "reset_log": true}
                   Queues faults, one consumed per KMS request (of the listed
                   targets, all by default). Faults: ok, throttle, internal
                   (HTTP 500), unavailable (HTTP 503), stall[:SECONDS]
                   (default 30), access_denied, expired_token, not_found,
                   disabled, bad_signature (a valid-looking signature over a
                   different digest), loose_base64 (the Signature or PublicKey
                   as base64 that is not canonical but that lenient decoders
                   take), drop (close the connection without a response).
  GET  /__log      The request log, a JSON array (also --log FILE, JSON lines).
  GET  /__keys     The keys (the same JSON as --keys-out).
Faults can also be bound to a key: --key NAME:SPEC:faults=throttle+throttle
queues those faults for requests naming that key.

Keys that are not what a signer wants, as some KMS-compatible services serve
them (--key NAME:SPEC[:STATE][:OPTION=VALUE]...):
  usage=ENCRYPT_DECRYPT  an RSA or ECC key for encryption: GetPublicKey answers
                         with its public key, KeyUsage ENCRYPT_DECRYPT and
                         EncryptionAlgorithms; Sign is refused
  report-spec=SPEC       GetPublicKey and DescribeKey name SPEC, not the key's own
  algs=A+B               the key's SigningAlgorithms (empty: none)
  omit=F+F               GetPublicKey leaves out these fields (KeyUsage,
                         KeySpec, CustomerMasterKeySpec, SigningAlgorithms)
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import NameOID

ACCOUNT = "111122223333"
MAX_BODY = 1 << 20
MAX_MESSAGE = 4096
KEY_NAMESPACE = uuid.UUID("6f1c2d0e-7a3b-4c55-9a1e-3b7d2f4e8c10")

RSA_ALGS = ["RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
            "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384",
            "RSASSA_PKCS1_V1_5_SHA_512"]
ALL_ALGS = RSA_ALGS + ["ECDSA_SHA_256", "ECDSA_SHA_384", "ECDSA_SHA_512", "SM2DSA"]
HASHES = {"SHA_256": hashes.SHA256, "SHA_384": hashes.SHA384, "SHA_512": hashes.SHA512}
SPECS = {
    "RSA_2048": ("rsa", 2048, RSA_ALGS),
    "RSA_3072": ("rsa", 3072, RSA_ALGS),
    "RSA_4096": ("rsa", 4096, RSA_ALGS),
    "ECC_NIST_P256": ("ec", ec.SECP256R1, ["ECDSA_SHA_256"]),
    "ECC_NIST_P384": ("ec", ec.SECP384R1, ["ECDSA_SHA_384"]),
    "SYMMETRIC_DEFAULT": ("sym", None, []),
}
STATES = ("Enabled", "Disabled", "PendingDeletion")


class KmsError(Exception):
    def __init__(self, status, type_, message):
        super().__init__(message)
        self.status, self.type, self.message = status, type_, message


def err_validation(msg):
    return KmsError(400, "ValidationException", msg)


# ---- keys -------------------------------------------------------------------

class Key:
    def __init__(self, name, spec, state, region, faults=(), opts=None):
        if spec not in SPECS:
            raise SystemExit(f"kms_double: unknown key spec {spec}")
        if state not in STATES:
            raise SystemExit(f"kms_double: unknown key state {state}")
        kind, param, algs = SPECS[spec]
        self.name, self.spec, self.state, self.kind = name, spec, state, kind
        self.algs = list(algs)
        self.key_id = str(uuid.uuid5(KEY_NAMESPACE, name))
        self.arn = f"arn:aws:kms:{region}:{ACCOUNT}:key/{self.key_id}"
        self.alias = f"alias/{name}"
        self.alias_arn = f"arn:aws:kms:{region}:{ACCOUNT}:{self.alias}"
        self.created = time.time()
        self.faults = list(faults)
        opts = opts or {}
        self.usage_override = opts.get("usage")
        self.reported_spec = opts.get("report-spec", spec)
        self.omit = set(f for f in opts.get("omit", "").split("+") if f)
        if self.usage_override == "ENCRYPT_DECRYPT":
            self.algs = []
        if "algs" in opts:
            self.algs = [a for a in opts["algs"].split("+") if a]
        if kind == "rsa":
            self.priv = rsa.generate_private_key(public_exponent=65537, key_size=param)
        elif kind == "ec":
            self.priv = ec.generate_private_key(param())
        else:
            self.priv = None
        self.spki = b"" if self.priv is None else self.priv.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def usage(self):
        if self.usage_override:
            return self.usage_override
        return "ENCRYPT_DECRYPT" if self.kind == "sym" else "SIGN_VERIFY"

    def encryption_algs(self):
        if self.kind == "sym":
            return ["SYMMETRIC_DEFAULT"]
        return ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"] if self.kind == "rsa" else []

    def metadata(self):
        m = {
            "AWSAccountId": ACCOUNT, "KeyId": self.key_id, "Arn": self.arn,
            "CreationDate": self.created, "Enabled": self.state == "Enabled",
            "Description": f"tfattest test double key {self.name}",
            "KeyUsage": self.usage, "KeyState": self.state, "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER", "CustomerMasterKeySpec": self.reported_spec,
            "KeySpec": self.reported_spec, "MultiRegion": False,
        }
        if self.usage == "ENCRYPT_DECRYPT":
            m["EncryptionAlgorithms"] = self.encryption_algs()
        else:
            m["SigningAlgorithms"] = self.algs
        if self.state == "PendingDeletion":
            m["DeletionDate"] = self.created + 7 * 86400
            m["PendingDeletionWindowInDays"] = 7
        return m

    def describe(self, pubkey_dir=None):
        d = {"key_id": self.key_id, "arn": self.arn, "alias": self.alias,
             "alias_arn": self.alias_arn, "key_spec": self.spec, "state": self.state,
             "signing_algorithms": self.algs}
        if self.spki:
            d["fingerprint"] = "sha256:" + hashlib.sha256(self.spki).hexdigest()
            d["public_key_der_b64"] = base64.b64encode(self.spki).decode()
            if pubkey_dir:
                d["public_pem"] = os.path.join(pubkey_dir, self.name + ".pem")
        return d

    def public_pem(self):
        return self.priv.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _alg_params(alg):
    """(hash class, padding or None) for a signing algorithm name."""
    for suffix, h in HASHES.items():
        if alg.endswith(suffix):
            if alg.startswith("RSASSA_PSS_"):
                return h, padding.PSS(mgf=padding.MGF1(h()), salt_length=h.digest_size)
            if alg.startswith("RSASSA_PKCS1_V1_5_"):
                return h, padding.PKCS1v15()
            return h, None
    raise err_validation(f"unsupported signing algorithm {alg}")


def _digest_for(key, req, alg):
    h, _ = _alg_params(alg)
    msg = _b64_field(req, "Message")
    mtype = req.get("MessageType", "RAW")
    if mtype not in ("RAW", "DIGEST"):
        raise err_validation(
            f"1 validation error detected: Value '{mtype}' at 'messageType' failed to satisfy "
            "constraint: Member must satisfy enum value set: [DIGEST, RAW]")
    if not 1 <= len(msg) <= MAX_MESSAGE:
        raise err_validation(
            "1 validation error detected: Value at 'message' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_MESSAGE}")
    if mtype == "RAW":
        d = hashes.Hash(h())
        d.update(msg)
        return d.finalize()
    if len(msg) != h.digest_size:
        raise err_validation(f"Digest is invalid length for algorithm {alg}.")
    return msg


def _check_alg(key, req):
    alg = req.get("SigningAlgorithm")
    if not isinstance(alg, str):
        raise err_validation(
            "1 validation error detected: Value null at 'signingAlgorithm' failed to satisfy "
            "constraint: Member must not be null")
    if alg not in ALL_ALGS:
        raise err_validation(
            f"1 validation error detected: Value '{alg}' at 'signingAlgorithm' failed to "
            f"satisfy constraint: Member must satisfy enum value set: [{', '.join(ALL_ALGS)}]")
    if key.usage != "SIGN_VERIFY":
        raise KmsError(400, "InvalidKeyUsageException",
                       f"{key.arn} key usage is {key.usage} which is not valid for Sign.")
    if alg not in key.algs:
        raise KmsError(400, "InvalidKeyUsageException",
                       f"Algorithm {alg} is incompatible with key spec {key.spec}.")
    return alg


def sign_digest(key, alg, digest):
    h, pad = _alg_params(alg)
    if key.kind == "rsa":
        return key.priv.sign(digest, pad, utils.Prehashed(h()))
    return key.priv.sign(digest, ec.ECDSA(utils.Prehashed(h())))


def verify_digest(key, alg, digest, sig):
    h, pad = _alg_params(alg)
    pub = key.priv.public_key()
    try:
        if key.kind == "rsa":
            pub.verify(sig, digest, pad, utils.Prehashed(h()))
        else:
            pub.verify(sig, digest, ec.ECDSA(utils.Prehashed(h())))
        return True
    except InvalidSignature:
        return False


def _b64_field(req, name):
    v = req.get(name)
    if not isinstance(v, str) or not v:
        raise err_validation(
            f"1 validation error detected: Value null at '{name[0].lower() + name[1:]}' failed "
            "to satisfy constraint: Member must not be null")
    try:
        return base64.b64decode(v, validate=True)
    except ValueError:
        raise KmsError(400, "SerializationException", f"{name} is not valid base64") from None


class Keyring:
    def __init__(self, region):
        self.region = region
        self.keys = []

    def add(self, key):
        for k in self.keys:
            if k.name == key.name:
                raise SystemExit(f"kms_double: duplicate key name {key.name}")
        self.keys.append(key)

    def resolve(self, key_id):
        """KMS's KeyId forms: key id, key ARN, alias/NAME, alias ARN."""
        if not isinstance(key_id, str) or not key_id:
            raise err_validation(
                "1 validation error detected: Value null at 'keyId' failed to satisfy "
                "constraint: Member must not be null")
        if len(key_id) > 2048:
            raise err_validation("1 validation error detected: Value at 'keyId' failed to "
                                 "satisfy constraint: Member must have length less than or "
                                 "equal to 2048")
        for k in self.keys:
            if key_id in (k.key_id, k.arn, k.alias, k.alias_arn):
                return k
        if key_id.startswith("alias/") or ":alias/" in key_id:
            name = key_id if key_id.startswith("arn:") else \
                f"arn:aws:kms:{self.region}:{ACCOUNT}:{key_id}"
            raise KmsError(400, "NotFoundException", f"Alias {name} is not found.")
        if key_id.startswith("arn:") and ":key/" not in key_id:
            raise KmsError(400, "NotFoundException", f"Invalid arn {key_id}")
        arn = key_id if key_id.startswith("arn:") else \
            f"arn:aws:kms:{self.region}:{ACCOUNT}:key/{key_id}"
        raise KmsError(400, "NotFoundException", f"Key '{arn}' does not exist")


# ---- SigV4 verification with botocore ------------------------------------------

class _ClientSignedHeaders(SigV4Auth):
    """botocore's SigV4 with the header set the client said it signed."""

    def __init__(self, credentials, service, region, signed):
        super().__init__(credentials, service, region)
        self._signed = signed

    def headers_to_sign(self, request):
        m = HTTPHeaders()
        for name in self._signed:
            for v in request.headers.get_all(name) or []:
                m[name] = v
        return m


def parse_authorization(value):
    if not value.startswith("AWS4-HMAC-SHA256 "):
        raise KmsError(400, "IncompleteSignatureException",
                       "Authorization header requires the AWS4-HMAC-SHA256 algorithm.")
    fields = {}
    for part in value[len("AWS4-HMAC-SHA256 "):].split(","):
        k, sep, v = part.strip().partition("=")
        if not sep or k in fields:
            raise KmsError(400, "IncompleteSignatureException",
                           f"Authorization header has a malformed element: '{k}'.")
        fields[k] = v
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if k not in fields]
    if missing:
        raise KmsError(400, "IncompleteSignatureException",
                       "Authorization header requires '" + "', '".join(missing) +
                       "' parameter(s).")
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise KmsError(400, "IncompleteSignatureException",
                       "Credential should be scoped to a valid region and service, "
                       "e.g. AKID/DATE/REGION/SERVICE/aws4_request.")
    signed = fields["SignedHeaders"].split(";")
    if signed != sorted(signed) or any(s != s.lower() or not s for s in signed):
        raise KmsError(400, "IncompleteSignatureException",
                       "SignedHeaders must be lowercase, sorted and separated by ';'.")
    return scope, signed, fields["Signature"]


class SigV4Checker:
    def __init__(self, creds, region, max_skew):
        self.creds = {c["access_key"]: c for c in creds}
        self.region, self.max_skew = region, max_skew

    def check(self, method, url, headers, body, log):
        """Raises KmsError unless the request carries a valid SigV4 for kms."""
        auth = headers.get("Authorization")
        if not auth:
            raise KmsError(400, "MissingAuthenticationTokenException",
                           "Missing Authentication Token")
        scope, signed, sig = parse_authorization(auth)
        log["signed_headers"] = signed
        log["access_key_id"] = scope[0]
        for required in ("host", "x-amz-date"):
            if required not in signed:
                raise KmsError(400, "IncompleteSignatureException",
                               f"'{required}' must be a signed header.")
        for name in signed:
            if headers.get(name) is None:
                raise KmsError(400, "IncompleteSignatureException",
                               f"Signed header '{name}' is not in the request.")
        amz_date = headers.get("X-Amz-Date", "")
        try:
            t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc)
        except ValueError:
            raise KmsError(400, "IncompleteSignatureException",
                           "X-Amz-Date must be in the ISO 8601 basic format YYYYMMDDTHHMMSSZ.") \
                from None
        if scope[1] != amz_date[:8]:
            raise KmsError(400, "InvalidSignatureException",
                           f"Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                           f"version of date from HTTP: '{scope[1]}' != '{amz_date[:8]}'")
        if scope[3] != "kms":
            raise KmsError(400, "InvalidSignatureException",
                           f"Credential should be scoped to correct service: 'kms'.")
        if scope[2] != self.region:
            raise KmsError(400, "InvalidSignatureException",
                           f"Credential should be scoped to a valid region, not "
                           f"'{scope[2]}'.")
        now = datetime.datetime.now(datetime.timezone.utc)
        if abs((now - t).total_seconds()) > self.max_skew:
            raise KmsError(400, "InvalidSignatureException",
                           f"Signature expired: {amz_date} is now earlier than "
                           f"{(now - datetime.timedelta(seconds=self.max_skew)).strftime('%Y%m%dT%H%M%SZ')}"
                           if t < now else
                           f"Signature not yet current: {amz_date} is still later than "
                           f"{(now + datetime.timedelta(seconds=self.max_skew)).strftime('%Y%m%dT%H%M%SZ')}")
        cred = self.creds.get(scope[0])
        if cred is None:
            raise KmsError(400, "UnrecognizedClientException",
                           "The security token included in the request is invalid.")
        token = headers.get("X-Amz-Security-Token")
        log["session_token"] = token is not None
        want_token = cred.get("session_token")
        if want_token is not None or token is not None:
            if token is None or want_token is None or \
                    not hmac.compare_digest(token.encode(), want_token.encode()):
                raise KmsError(400, "UnrecognizedClientException",
                               "The security token included in the request is invalid.")
            if "x-amz-security-token" not in signed:
                raise KmsError(400, "IncompleteSignatureException",
                               "'x-amz-security-token' must be a signed header.")
        content_sha = headers.get("X-Amz-Content-SHA256")
        if content_sha is not None and content_sha != hashlib.sha256(body).hexdigest():
            raise KmsError(400, "InvalidSignatureException",
                           "The provided 'x-amz-content-sha256' header does not match what "
                           "was computed.")

        req = AWSRequest(method=method, url=url, data=body)
        for name in signed:
            for v in headers.get_all(name) or []:
                req.headers[name] = v  # HTTPHeaders appends: repeated headers stay repeated
        req.context["timestamp"] = amz_date
        signer = _ClientSignedHeaders(
            Credentials(cred["access_key"], cred["secret_key"], want_token),
            "kms", self.region, signed)
        canonical = signer.canonical_request(req)
        expected = signer.signature(signer.string_to_sign(req, canonical), req)
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            raise KmsError(400, "InvalidSignatureException",
                           "The request signature we calculated does not match the signature "
                           "you provided. Check your AWS Secret Access Key and signing method. "
                           "Consult the service documentation for details.")
        log["sigv4"] = "verified"
        return cred


# ---- faults -------------------------------------------------------------------

FAULTS = ("ok", "throttle", "internal", "unavailable", "stall", "access_denied",
          "expired_token", "not_found", "disabled", "bad_signature", "loose_base64", "drop")

B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def loose_base64(s):
    """The same bytes as the canonical base64 s, in a form that is not canonical but that
    lenient decoders (Python's b64decode, OpenSSL's EVP_DecodeBlock) accept: leading white
    space, and, when there is padding, an unused bit of the last character set."""
    if s.endswith("="):
        i = len(s.rstrip("=")) - 1
        s = s[:i] + B64_ALPHABET[B64_ALPHABET.index(s[i]) | 1] + s[i + 1:]
    return "    " + s


def parse_fault(f):
    if not isinstance(f, str):
        raise ValueError("a fault is a string")
    name, _, arg = f.partition(":")
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
    if arg and name != "stall":
        raise ValueError(f"fault {name} takes no argument")
    return (name, float(arg) if arg else 30.0) if name == "stall" else (name, None)


class FaultQueue:
    def __init__(self):
        self.lock = threading.Lock()
        self.queue, self.targets = [], None

    def set(self, faults, targets):
        parsed = [parse_fault(f) for f in faults]
        with self.lock:
            self.queue, self.targets = parsed, set(targets) if targets else None

    def take(self, target, key):
        with self.lock:
            if key is not None and key.faults:
                return key.faults.pop(0)
            if self.queue and (self.targets is None or target in self.targets):
                return self.queue.pop(0)
        return ("ok", None)

    def pending(self):
        with self.lock:
            return len(self.queue)


# ---- HTTP ---------------------------------------------------------------------

class Double:
    def __init__(self, args, keyring, checker):
        self.args, self.keys, self.checker = args, keyring, checker
        self.faults = FaultQueue()
        self.log_lock = threading.Lock()
        self.log = []
        self.log_file = open(args.log, "a", encoding="utf-8") if args.log else None

    def record(self, entry):
        with self.log_lock:
            self.log.append(entry)
            if self.log_file:
                self.log_file.write(json.dumps(entry, sort_keys=True) + "\n")
                self.log_file.flush()

    def keys_json(self):
        return {k.name: k.describe(self.args.pubkey_dir) for k in self.keys.keys}


def make_handler(double):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "kms-test-double"
        sys_version = ""

        def log_message(self, fmt, *a):  # quiet; the request log is the record
            if double.args.verbose:
                sys.stderr.write("kms_double: " + (fmt % a) + "\n")

        def _send(self, status, obj, ctype="application/x-amz-json-1.1", rid=None):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", rid or str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(data)

        def _body(self):
            n = self.headers.get("Content-Length")
            if n is None or not n.isdigit():
                raise KmsError(411, "MissingContentLength", "Content-Length is required")
            n = int(n)
            if n > MAX_BODY:
                raise KmsError(413, "RequestEntityTooLarge", "Request body too large")
            return self.rfile.read(n)

        def do_GET(self):
            if self.path == "/__log":
                with double.log_lock:
                    self._send(200, double.log, "application/json")
            elif self.path == "/__keys":
                self._send(200, double.keys_json(), "application/json")
            else:
                self._send(404, {"__type": "UnknownOperationException"}, rid=None)

        def do_POST(self):
            if self.path == "/__control":
                return self._control()
            rid = str(uuid.uuid4())
            target = self.headers.get("X-Amz-Target", "")
            entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "method": "POST", "path": self.path, "target": target,
                     "request_id": rid, "sigv4": "not checked", "signed_headers": [],
                     "key_id": None}
            try:
                body = self._body()
                try:
                    cred = double.checker.check("POST", f"https://{self.headers.get('Host', '')}"
                                                f"{self.path}", self.headers, body, entry)
                except KmsError as e:
                    entry["sigv4"] = "rejected: " + e.type
                    raise
                action = "kms:" + target.rpartition(".")[2]
                if cred.get("allow") is not None and action not in cred["allow"]:
                    entry["denied"] = action
                    raise KmsError(400, "AccessDeniedException",
                                   f"User: arn:aws:iam::{ACCOUNT}:user/{cred['access_key']} is not "
                                   f"authorized to perform: {action} because no policy allows "
                                   f"the {action} action")
                resp = self._dispatch(target, body, entry)
                status, obj = 200, resp
            except KmsError as e:
                status, obj = e.status, {"__type": e.type, "message": e.message}
            except _Drop:
                entry["status"] = 0
                double.record(entry)
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            entry["status"] = status
            if status != 200:
                entry["error"] = obj["__type"]
            double.record(entry)
            try:
                self._send(status, obj, rid=rid)
            except OSError:  # the client gave up (a stall outlasted its timeout)
                self.close_connection = True

        def _control(self):
            try:
                req = json.loads(self._body() or b"{}")
                if not isinstance(req, dict):
                    raise ValueError("control body is a JSON object")
                if req.get("reset_log"):
                    with double.log_lock:
                        double.log.clear()
                if "faults" in req:
                    double.faults.set(req["faults"], req.get("targets"))
            except (ValueError, KmsError) as e:
                return self._send(400, {"error": str(e)}, "application/json")
            self._send(200, {"pending_faults": double.faults.pending()}, "application/json")

        def _dispatch(self, target, body, entry):
            ctype = self.headers.get("Content-Type", "")
            if ctype.split(";")[0].strip() != "application/x-amz-json-1.1":
                raise KmsError(400, "UnknownOperationException",
                               "Content-Type must be application/x-amz-json-1.1")
            ops = {"TrentService.Sign": self._sign, "TrentService.GetPublicKey": self._pubkey,
                   "TrentService.DescribeKey": self._describe,
                   "TrentService.Verify": self._verify}
            op = ops.get(target)
            if op is None:
                raise KmsError(400, "UnknownOperationException", "")
            try:
                req = json.loads(body)
            except ValueError:
                raise KmsError(400, "SerializationException",
                               "Start of structure or map found where not expected.") from None
            if not isinstance(req, dict):
                raise KmsError(400, "SerializationException", "Expected a JSON object.")
            entry["key_id"] = req.get("KeyId") if isinstance(req.get("KeyId"), str) else None
            key = None
            try:
                key = double.keys.resolve(req.get("KeyId"))
            except KmsError:
                pass
            fault, arg = double.faults.take(target.split(".")[-1], key)
            entry["fault"] = fault
            if fault == "stall":
                time.sleep(arg)
            elif fault == "drop":
                raise _Drop()
            elif fault not in ("ok", "bad_signature", "loose_base64"):
                raise FAULT_ERRORS[fault](key)
            key = double.keys.resolve(req.get("KeyId"))
            entry["key_arn"] = key.arn
            res = op(key, req, corrupt=(fault == "bad_signature"))
            if fault == "loose_base64":
                for field in ("Signature", "PublicKey"):
                    if field in res:
                        res[field] = loose_base64(res[field])
            return res

        def _usable(self, key):
            if key.state == "Disabled":
                raise KmsError(400, "DisabledException", f"{key.arn} is disabled.")
            if key.state == "PendingDeletion":
                raise KmsError(400, "KMSInvalidStateException",
                               f"{key.arn} is pending deletion.")

        def _sign(self, key, req, corrupt=False):
            self._usable(key)
            alg = _check_alg(key, req)
            digest = _digest_for(key, req, alg)
            if corrupt:
                h = hashes.Hash(_alg_params(alg)[0]())
                h.update(b"not the message that was sent")
                digest = h.finalize()
            sig = sign_digest(key, alg, digest)
            return {"KeyId": key.arn, "Signature": base64.b64encode(sig).decode(),
                    "SigningAlgorithm": alg}

        def _verify(self, key, req, corrupt=False):
            self._usable(key)
            alg = _check_alg(key, req)
            digest = _digest_for(key, req, alg)
            sig = _b64_field(req, "Signature")
            if not verify_digest(key, alg, digest, sig) or corrupt:
                raise KmsError(400, "KMSInvalidSignatureException", "")
            return {"KeyId": key.arn, "SignatureValid": True, "SigningAlgorithm": alg}

        def _pubkey(self, key, req, corrupt=False):
            self._usable(key)
            if key.kind == "sym":
                raise KmsError(400, "UnsupportedOperationException",
                               f"{key.arn} key usage is ENCRYPT_DECRYPT which is not valid "
                               "for GetPublicKey.")
            r = {"KeyId": key.arn, "PublicKey": base64.b64encode(key.spki).decode(),
                 "CustomerMasterKeySpec": key.reported_spec, "KeySpec": key.reported_spec,
                 "KeyUsage": key.usage}
            if key.usage == "ENCRYPT_DECRYPT":
                r["EncryptionAlgorithms"] = key.encryption_algs()
            else:
                r["SigningAlgorithms"] = key.algs
            for f in key.omit:
                r.pop(f, None)
            return r

        def _describe(self, key, req, corrupt=False):
            return {"KeyMetadata": key.metadata()}

    return Handler


class _Drop(Exception):
    pass


FAULT_ERRORS = {
    "throttle": lambda k: KmsError(400, "ThrottlingException", "Rate exceeded"),
    "internal": lambda k: KmsError(500, "KMSInternalException",
                                   "We encountered an internal error. Please try again."),
    "unavailable": lambda k: KmsError(503, "ServiceUnavailableException",
                                      "Service unavailable"),
    "access_denied": lambda k: KmsError(
        400, "AccessDeniedException",
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/ci/session is not authorized to perform: "
        f"kms:Sign on resource: {k.arn if k else '*'} because no identity-based policy "
        "allows the kms:Sign action"),
    "expired_token": lambda k: KmsError(400, "ExpiredTokenException",
                                        "The security token included in the request is expired"),
    "not_found": lambda k: KmsError(400, "NotFoundException",
                                    f"Key '{k.arn if k else ''}' does not exist"),
    "disabled": lambda k: KmsError(400, "DisabledException",
                                   f"{k.arn if k else 'key'} is disabled."),
}


# ---- TLS ----------------------------------------------------------------------

def make_tls(ca_out, workdir):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                            "tfattest KMS test double CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv = (x509.CertificateBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
           .issuer_name(ca_name).public_key(srv_key.public_key())
           .serial_number(x509.random_serial_number())
           .not_valid_before(now - datetime.timedelta(minutes=5))
           .not_valid_after(now + datetime.timedelta(days=1))
           .add_extension(x509.SubjectAlternativeName([
               x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
               critical=False)
           .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
           .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                          critical=False)
           .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
               ca_key.public_key()), critical=False)
           .sign(ca_key, hashes.SHA256()))
    write_atomic(ca_out, ca.public_bytes(serialization.Encoding.PEM))
    chain = os.path.join(workdir, "server.pem")
    with open(chain, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(srv.public_bytes(serialization.Encoding.PEM))
        f.write(srv_key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(chain)
    os.unlink(chain)
    return ctx


def write_atomic(path, data):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


# ---- main -----------------------------------------------------------------------

DEFAULT_KEYS = ["tfattest-rsa:RSA_3072", "tfattest-ec:ECC_NIST_P256",
                "tfattest-disabled:ECC_NIST_P256:Disabled",
                "tfattest-pending:ECC_NIST_P256:PendingDeletion",
                "tfattest-symmetric:SYMMETRIC_DEFAULT"]


KEY_OPTIONS = ("usage", "report-spec", "algs", "omit")


def parse_key(s, region):
    head, sep, fault_list = s.partition(":faults=")  # last: faults may hold "stall:SECONDS"
    parts = head.split(":")
    opts = {}
    while len(parts) > 2 and "=" in parts[-1]:
        k, _, v = parts.pop().partition("=")
        if k not in KEY_OPTIONS:
            raise SystemExit(f"kms_double: unknown key option {k!r}")
        opts[k] = v
    if len(parts) not in (2, 3):
        raise SystemExit(f"kms_double: --key wants NAME:SPEC[:STATE][:OPTION=V...][:faults=F+F...], "
                         f"got {s}")
    name, spec = parts[0], parts[1]
    state = parts[2] if len(parts) == 3 else "Enabled"
    if opts.get("usage") not in (None, "SIGN_VERIFY", "ENCRYPT_DECRYPT"):
        raise SystemExit(f"kms_double: bad usage {opts['usage']!r}")
    faults = []
    if sep:
        try:
            faults = [parse_fault(f) for f in fault_list.split("+") if f]
        except ValueError as e:
            raise SystemExit(f"kms_double: {e}") from None
    if not name or not all(c.isalnum() or c in "-_/" for c in name):
        raise SystemExit(f"kms_double: bad key name {name!r}")
    return Key(name, spec, state, region, faults, opts)


def load_creds(args):
    if args.credentials_file:
        with open(args.credentials_file, encoding="utf-8") as f:
            creds = json.load(f)
    else:
        ak, sk = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
        if not ak or not sk:
            raise SystemExit("kms_double: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                             "(or --credentials-file)")
        creds = [{"access_key": ak, "secret_key": sk,
                  "session_token": os.environ.get("AWS_SESSION_TOKEN") or None}]
    for c in creds:
        if not c.get("access_key") or not c.get("secret_key"):
            raise SystemExit("kms_double: each credential needs access_key and secret_key")
    return creds


def main():
    ap = argparse.ArgumentParser(description="A test double of AWS KMS (not an emulator).")
    ap.add_argument("--port-file", required=True, help="write the listening port here")
    ap.add_argument("--ca-out", required=True, help="write the test CA certificate (PEM) here")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    ap.add_argument("--key", action="append", default=[],
                    help="NAME:SPEC[:STATE][:OPTION=V...][:faults=F+F] (SPEC RSA_2048|RSA_3072|RSA_4096|"
                         "ECC_NIST_P256|ECC_NIST_P384|SYMMETRIC_DEFAULT, STATE Enabled|"
                         "Disabled|PendingDeletion); added to the default keys")
    ap.add_argument("--no-default-keys", action="store_true")
    ap.add_argument("--pubkey-dir", help="write each key's public PEM as NAME.pem here")
    ap.add_argument("--keys-out", help="write the key ids, ARNs and aliases here (JSON)")
    ap.add_argument("--credentials-file", help="JSON list of accepted credentials")
    ap.add_argument("--log", help="append the request log here (JSON lines)")
    ap.add_argument("--max-skew", type=int, default=300, help="X-Amz-Date tolerance, seconds")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    creds = load_creds(args)
    ring = Keyring(args.region)
    for spec in ([] if args.no_default_keys else DEFAULT_KEYS) + args.key:
        ring.add(parse_key(spec, args.region))
    if args.pubkey_dir:
        os.makedirs(args.pubkey_dir, exist_ok=True)
        for k in ring.keys:
            if k.spki:
                write_atomic(os.path.join(args.pubkey_dir, k.name + ".pem"), k.public_pem())

    double = Double(args, ring, SigV4Checker(creds, args.region, args.max_skew))
    if args.keys_out:
        write_atomic(args.keys_out, json.dumps(double.keys_json(), indent=1, sort_keys=True))

    with tempfile.TemporaryDirectory(prefix="kms-double-") as work:
        ctx = make_tls(args.ca_out, work)
        server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(double))
        server.daemon_threads = True
        # The handshake runs on the request's thread, so a stalled client blocks no one.
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)

        def stop(signum, frame):
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        port = server.server_address[1]
        write_atomic(args.port_file, f"{port}\n")
        print(f"port {port}", flush=True)
        server.serve_forever()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
