#!/usr/bin/python3
"""Drives the KMS test double with botocore's own KMS client (the self-test).

Usage: kms_double_client.py ENDPOINT CA_PEM KEYS_JSON OUTDIR
Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; the session
credential of the self-test (TFA_TEST_TOKEN_AKID, TFA_TEST_TOKEN_SECRET,
TFA_TEST_TOKEN) is checked too. Writes OUTDIR/<name>.sig signatures over
OUTDIR/message for the shell script to verify with openssl. Prints one
"ok - ..." line per check; exits 1 when any check fails.
"""

import base64
import hashlib
import json
import os
import sys
import urllib.request

import botocore.exceptions
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from cryptography.hazmat.primitives import serialization

ENDPOINT, CA, KEYS_JSON, OUT = sys.argv[1:5]
REGION = os.environ.get("AWS_REGION", "us-east-1")
failures = 0


def check(cond, desc):
    global failures
    if cond:
        print(f"ok - {desc}")
    else:
        failures += 1
        print(f"FAIL: {desc}", file=sys.stderr)


def client(access_key=None, secret_key=None, token=None, region=REGION, attempts=1,
           read_timeout=30):
    s = botocore.session.get_session()
    return s.create_client(
        "kms", region_name=region, endpoint_url=ENDPOINT, verify=CA,
        aws_access_key_id=access_key or os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=secret_key or os.environ["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=token,
        config=Config(retries={"total_max_attempts": attempts, "mode": "standard"},
                      read_timeout=read_timeout, connect_timeout=30))


def error_of(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], \
            e.response["ResponseMetadata"].get("RequestId", "")
    return None, 200, ""


def control(body):
    req = urllib.request.Request(ENDPOINT + "/__control", data=json.dumps(body).encode(),
                                 method="POST")
    import ssl
    ctx = ssl.create_default_context(cafile=CA)
    with urllib.request.urlopen(req, context=ctx) as r:
        return json.load(r)


def log():
    import ssl
    ctx = ssl.create_default_context(cafile=CA)
    with urllib.request.urlopen(ENDPOINT + "/__log", context=ctx) as r:
        return json.load(r)


keys = json.load(open(KEYS_JSON))
kms = client()
message = open(os.path.join(OUT, "message"), "rb").read()
digest = hashlib.sha256(message).digest()

# Sign each algorithm, as DIGEST and as RAW; the shell verifies with openssl.
for name, key, alg in (("pss", "alias/tfattest-rsa", "RSASSA_PSS_SHA_256"),
                       ("pkcs1", "alias/tfattest-rsa", "RSASSA_PKCS1_V1_5_SHA_256"),
                       ("ecdsa", "alias/tfattest-ec", "ECDSA_SHA_256")):
    r = kms.sign(KeyId=key, Message=digest, MessageType="DIGEST", SigningAlgorithm=alg)
    check(r["KeyId"] == keys[key.split("/")[1]]["arn"] and r["SigningAlgorithm"] == alg,
          f"Sign {alg} DIGEST returns the key ARN and the algorithm")
    open(os.path.join(OUT, name + ".sig"), "wb").write(r["Signature"])
    r = kms.sign(KeyId=key, Message=message, MessageType="RAW", SigningAlgorithm=alg)
    open(os.path.join(OUT, name + "-raw.sig"), "wb").write(r["Signature"])
    v = kms.verify(KeyId=key, Message=digest, MessageType="DIGEST", SigningAlgorithm=alg,
                   Signature=r["Signature"])
    check(v["SignatureValid"], f"Verify {alg} accepts the RAW signature")
ecdsa = open(os.path.join(OUT, "ecdsa.sig"), "rb").read()
check(ecdsa[0] == 0x30 and len(ecdsa) <= 72, "ECDSA signature is DER (SEQUENCE), not r||s")

# GetPublicKey: DER SPKI, the same key as the PEM written at start.
for name in ("tfattest-rsa", "tfattest-ec"):
    r = kms.get_public_key(KeyId="alias/" + name)
    pem = open(os.path.join(OUT, "pub", name + ".pem"), "rb").read()
    der = serialization.load_pem_public_key(pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    check(r["PublicKey"] == der, f"GetPublicKey {name}: DER SPKI equals the written PEM")
    check(r["KeyUsage"] == "SIGN_VERIFY" and r["KeyId"] == keys[name]["arn"],
          f"GetPublicKey {name}: KeyUsage SIGN_VERIFY, KeyId is the ARN")
    check("sha256:" + hashlib.sha256(r["PublicKey"]).hexdigest() == keys[name]["fingerprint"],
          f"GetPublicKey {name}: fingerprint matches keys.json")
r = kms.get_public_key(KeyId="alias/tfattest-rsa")
check(r["KeySpec"] == "RSA_3072" and "RSASSA_PSS_SHA_256" in r["SigningAlgorithms"],
      "GetPublicKey RSA: KeySpec RSA_3072 with RSASSA_PSS_SHA_256")
r = kms.get_public_key(KeyId="alias/tfattest-ec")
check(r["KeySpec"] == "ECC_NIST_P256" and r["SigningAlgorithms"] == ["ECDSA_SHA_256"],
      "GetPublicKey EC: KeySpec ECC_NIST_P256 with ECDSA_SHA_256")

# The four KeyId forms resolve to the same key.
k = keys["tfattest-ec"]
for form in ("key_id", "arn", "alias", "alias_arn"):
    r = kms.describe_key(KeyId=k[form])
    check(r["KeyMetadata"]["Arn"] == k["arn"], f"DescribeKey by {form}")

# KMS errors.
cases = [
    ("disabled key", dict(KeyId="alias/tfattest-disabled"), "DisabledException", 400),
    ("key pending deletion", dict(KeyId="alias/tfattest-pending"), "KMSInvalidStateException",
     400),
    ("unknown alias", dict(KeyId="alias/nope"), "NotFoundException", 400),
    ("unknown key id", dict(KeyId="00000000-0000-0000-0000-000000000000"), "NotFoundException",
     400),
    ("ECDSA on an RSA key", dict(KeyId="alias/tfattest-rsa", SigningAlgorithm="ECDSA_SHA_256"),
     "InvalidKeyUsageException", 400),
    ("PSS on an EC key", dict(KeyId="alias/tfattest-ec", SigningAlgorithm="RSASSA_PSS_SHA_256"),
     "InvalidKeyUsageException", 400),
    ("symmetric key", dict(KeyId="alias/tfattest-symmetric"), "InvalidKeyUsageException", 400),
]
for desc, kw, code, status in cases:
    args = dict(Message=digest, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")
    args.update(kw)
    got, st, rid = error_of(kms.sign, **args)
    check(got == code and st == status and rid, f"Sign on {desc}: {code} (HTTP {status})")
got, st, _ = error_of(kms.sign, KeyId="alias/tfattest-ec", Message=b"short",
                      MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")
check(got == "ValidationException", "Sign with a 5-byte DIGEST: ValidationException")
check(error_of(kms.describe_key, KeyId="alias/tfattest-disabled")[0] is None,
      "DescribeKey works on a disabled key")

# SigV4 is checked.
got, st, _ = error_of(client(secret_key="wrong" + os.environ["AWS_SECRET_ACCESS_KEY"]).sign,
                      KeyId="alias/tfattest-ec", Message=digest, MessageType="DIGEST",
                      SigningAlgorithm="ECDSA_SHA_256")
check(got == "InvalidSignatureException" and st == 400,
      "wrong secret key: InvalidSignatureException (HTTP 400)")
got, _, _ = error_of(client(access_key="AKIAUNKNOWNUNKNOWN00").describe_key,
                     KeyId="alias/tfattest-ec")
check(got == "UnrecognizedClientException", "unknown access key: UnrecognizedClientException")
got, _, _ = error_of(client(region="eu-west-3").describe_key, KeyId="alias/tfattest-ec")
check(got == "InvalidSignatureException", "credential scope in another region is rejected")
tok_ak, tok_sk, tok = (os.environ["TFA_TEST_TOKEN_AKID"], os.environ["TFA_TEST_TOKEN_SECRET"],
                       os.environ["TFA_TEST_TOKEN"])
check(error_of(client(tok_ak, tok_sk, tok).describe_key, KeyId="alias/tfattest-ec")[0] is None,
      "session credentials with their token are accepted")
got, _, _ = error_of(client(tok_ak, tok_sk, None).describe_key, KeyId="alias/tfattest-ec")
check(got == "UnrecognizedClientException", "session credentials without the token: rejected")
got, _, _ = error_of(client(tok_ak, tok_sk, tok + "x").describe_key, KeyId="alias/tfattest-ec")
check(got == "UnrecognizedClientException", "a wrong session token: rejected")

# A signed request whose body is changed afterwards is rejected (raw HTTP).
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
import ssl
body = json.dumps({"KeyId": "alias/tfattest-ec"}).encode()
req = AWSRequest(method="POST", url=ENDPOINT + "/", data=body, headers={
    "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.DescribeKey"})
SigV4Auth(Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]),
          "kms", REGION).add_auth(req)
ctx = ssl.create_default_context(cafile=CA)


def raw(body, headers):
    r = urllib.request.Request(ENDPOINT + "/", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(r, context=ctx) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


hdrs = dict(req.headers.items())
check(raw(body, hdrs)[0] == 200, "a hand-signed DescribeKey is accepted")
st, js = raw(body.replace(b"tfattest-ec", b"tfattest-rsa"), hdrs)
check(st == 400 and js.get("__type") == "InvalidSignatureException",
      "the same request with a changed body: InvalidSignatureException")
h2 = {k: v for k, v in hdrs.items() if k != "Authorization"}
st, js = raw(body, h2)
check(st == 400 and js.get("__type") == "MissingAuthenticationTokenException",
      "no Authorization header: MissingAuthenticationTokenException")
h3 = dict(hdrs)
h3["Authorization"] = hdrs["Authorization"].replace("host;", "")
st, js = raw(body, h3)
check(st == 400 and js.get("__type") == "IncompleteSignatureException",
      "host not signed: IncompleteSignatureException")
h4 = dict(hdrs)
h4["X-Amz-Date"] = "20200101T000000Z"
h4["Authorization"] = hdrs["Authorization"]
st, js = raw(body, h4)
check(st == 400 and js.get("__type") == "InvalidSignatureException",
      "an old X-Amz-Date: rejected")

# Faults.
control({"faults": ["throttle", "throttle", "ok"], "reset_log": True})
seen = [error_of(kms.sign, KeyId="alias/tfattest-ec", Message=digest, MessageType="DIGEST",
                 SigningAlgorithm="ECDSA_SHA_256")[0] for _ in range(3)]
check(seen == ["ThrottlingException", "ThrottlingException", None],
      f"fault script throttle,throttle,ok: {seen}")
control({"faults": ["throttle", "internal"], "reset_log": True})
r = client(attempts=3).sign(KeyId="alias/tfattest-ec", Message=digest, MessageType="DIGEST",
                            SigningAlgorithm="ECDSA_SHA_256")
entries = [e for e in log() if e["target"] == "TrentService.Sign"]
check([e["status"] for e in entries] == [400, 500, 200],
      "botocore's retries ride out a throttle and a 500 (log: 400, 500, 200)")
check(all(e["sigv4"] == "verified" and "host" in e["signed_headers"] for e in entries),
      "the log records verified SigV4 and the signed header names")
control({"faults": ["access_denied", "expired_token", "internal"]})
for code, status in (("AccessDeniedException", 400), ("ExpiredTokenException", 400),
                     ("KMSInternalException", 500)):
    got, st, _ = error_of(kms.get_public_key, KeyId="alias/tfattest-ec")
    check(got == code and st == status, f"fault: {code} (HTTP {status})")
control({"faults": ["not_found", "disabled", "unavailable"]})
for code, status in (("NotFoundException", 400), ("DisabledException", 400),
                     ("ServiceUnavailableException", 503)):
    got, st, _ = error_of(kms.describe_key, KeyId="alias/tfattest-ec")
    check(got == code and st == status, f"fault: {code} (HTTP {status})")
control({"faults": ["drop"]})
try:
    kms.describe_key(KeyId="alias/tfattest-ec")
    check(False, "drop: the connection is closed without a response")
except ClientError:
    check(False, "drop: the connection is closed without a response")
except botocore.exceptions.BotoCoreError as e:
    check(True, f"drop: the connection is closed without a response ({type(e).__name__})")
control({"faults": ["throttle"], "targets": ["Sign"]})
check(error_of(kms.describe_key, KeyId="alias/tfattest-ec")[0] is None,
      "a fault for Sign leaves DescribeKey alone")
check(error_of(kms.sign, KeyId="alias/tfattest-ec", Message=digest, MessageType="DIGEST",
               SigningAlgorithm="ECDSA_SHA_256")[0] == "ThrottlingException",
      "... and applies to the next Sign")
control({"faults": ["bad_signature"], "targets": ["Sign"]})
r = kms.sign(KeyId="alias/tfattest-ec", Message=digest, MessageType="DIGEST",
             SigningAlgorithm="ECDSA_SHA_256")
open(os.path.join(OUT, "corrupt.sig"), "wb").write(r["Signature"])
control({"faults": ["loose_base64"], "targets": ["Sign"]})
r = kms.sign(KeyId="alias/tfattest-ec", Message=digest, MessageType="DIGEST",
             SigningAlgorithm="ECDSA_SHA_256")
open(os.path.join(OUT, "loose.sig"), "wb").write(r["Signature"])
control({"faults": ["stall:3"]})
try:
    client(read_timeout=1).describe_key(KeyId="alias/tfattest-ec")
    check(False, "stall: the client times out")
except ReadTimeoutError:
    check(True, "stall:3 outlasts a 1 s client read timeout")
control({"faults": []})
check(error_of(kms.describe_key, KeyId="alias/tfattest-ec")[0] is None,
      "after the fault script, requests succeed")

# Key-bound faults.
got = [error_of(kms.describe_key, KeyId="alias/throttle-twice")[0] for _ in range(3)]
check(got == ["ThrottlingException", "ThrottlingException", None],
      f"alias/throttle-twice throttles twice, then succeeds: {got}")

try:
    client(read_timeout=1).describe_key(KeyId="alias/slow")
    check(False, "alias/slow stalls its first request")
except ReadTimeoutError:
    check(True, "alias/slow (faults=stall:2) stalls its first request")
check(error_of(kms.describe_key, KeyId="alias/slow")[0] is None, "... and answers the next")

# Keys that are not what a signer wants.
r = kms.get_public_key(KeyId="alias/encrypt")
check(r["KeyUsage"] == "ENCRYPT_DECRYPT" and "RSAES_OAEP_SHA_256" in r["EncryptionAlgorithms"]
      and "SigningAlgorithms" not in r and len(r["PublicKey"]) > 0,
      "usage=ENCRYPT_DECRYPT: a public key with KeyUsage ENCRYPT_DECRYPT, EncryptionAlgorithms")
check(error_of(kms.sign, KeyId="alias/encrypt", Message=digest, MessageType="DIGEST",
               SigningAlgorithm="RSASSA_PSS_SHA_256")[0] == "InvalidKeyUsageException",
      "usage=ENCRYPT_DECRYPT: Sign gives InvalidKeyUsageException")
r = kms.get_public_key(KeyId="alias/mislabelled")
check(r["KeySpec"] == "RSA_2048" and r["CustomerMasterKeySpec"] == "RSA_2048" and
      serialization.load_der_public_key(r["PublicKey"]).key_size == 3072,
      "report-spec=RSA_2048 on an RSA_3072 key: GetPublicKey names RSA_2048")
check(kms.describe_key(KeyId="alias/mislabelled")["KeyMetadata"]["KeySpec"] == "RSA_2048",
      "report-spec: DescribeKey names it too")
r = kms.get_public_key(KeyId="alias/quiet")
check("KeyUsage" not in r and "SigningAlgorithms" not in r and r["KeySpec"] == "ECC_NIST_P256",
      "omit=KeyUsage+SigningAlgorithms: GetPublicKey leaves them out")
r = kms.get_public_key(KeyId="alias/pkcs1only")
check(r["SigningAlgorithms"] == ["RSASSA_PKCS1_V1_5_SHA_256"],
      "algs=: the key's SigningAlgorithms")
check(error_of(kms.sign, KeyId="alias/pkcs1only", Message=digest, MessageType="DIGEST",
               SigningAlgorithm="RSASSA_PSS_SHA_256")[0] == "InvalidKeyUsageException",
      "algs=: Sign with another algorithm gives InvalidKeyUsageException")

# No secret in the log.
text = json.dumps(log())
check(os.environ["AWS_SECRET_ACCESS_KEY"] not in text and tok_sk not in text and tok not in text,
      "the request log holds no secret key or session token")

print(f"client checks failed: {failures}")
sys.exit(1 if failures else 0)
