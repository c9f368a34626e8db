#!/usr/bin/env bash
# Self-test of the KMS test double: botocore's own KMS client signs with each
# algorithm, openssl verifies the signatures, and SigV4 failures and injected
# faults come back the way KMS returns them.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
W=$(mktemp -d "${TMPDIR:-/tmp}/tfa-kmsd.XXXXXX")
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
RUN=0
FAILED=0
ok() { RUN=$((RUN + 1)); echo "ok - $*"; }
bad() { RUN=$((RUN + 1)); FAILED=$((FAILED + 1)); echo "FAIL: $*" >&2; }

export AWS_ACCESS_KEY_ID=AKIATFATTESTDOUBLE01
AWS_SECRET_ACCESS_KEY=$(head -c 30 /dev/urandom | base64 | tr -d '/+=' | head -c 40)
export AWS_SECRET_ACCESS_KEY
export AWS_REGION=eu-central-1
export TFA_TEST_TOKEN_AKID=ASIATFATTESTDOUBLE02
TFA_TEST_TOKEN_SECRET=$(head -c 30 /dev/urandom | base64 | tr -d '/+=' | head -c 40)
TFA_TEST_TOKEN=$(head -c 60 /dev/urandom | base64 | tr -d '\n')
export TFA_TEST_TOKEN_SECRET TFA_TEST_TOKEN
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_CA_BUNDLE

umask 077
$PY - "$W/creds.json" <<'EOF'
import json, os, sys
json.dump([{"access_key": os.environ["AWS_ACCESS_KEY_ID"],
            "secret_key": os.environ["AWS_SECRET_ACCESS_KEY"]},
           {"access_key": os.environ["TFA_TEST_TOKEN_AKID"],
            "secret_key": os.environ["TFA_TEST_TOKEN_SECRET"],
            "session_token": os.environ["TFA_TEST_TOKEN"]}], open(sys.argv[1], "w"))
EOF

$PY "$HERE/kms_double.py" --port-file "$W/port" --ca-out "$W/ca.pem" \
	--credentials-file "$W/creds.json" --region "$AWS_REGION" \
	--pubkey-dir "$W/pub" --keys-out "$W/keys.json" --log "$W/requests.jsonl" \
	--key "throttle-twice:ECC_NIST_P256:faults=throttle+throttle" \
	--key "slow:ECC_NIST_P256:Enabled:faults=stall:2" \
	--key "encrypt:RSA_2048:usage=ENCRYPT_DECRYPT" \
	--key "mislabelled:RSA_3072:report-spec=RSA_2048" \
	--key "quiet:ECC_NIST_P256:omit=KeyUsage+SigningAlgorithms" \
	--key "pkcs1only:RSA_2048:algs=RSASSA_PKCS1_V1_5_SHA_256" \
	> "$W/double.out" 2> "$W/double.err" &
PID=$!
for _ in $(seq 1 600); do # key generation can take a while on a loaded machine
	[ -s "$W/port" ] && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
if [ ! -s "$W/port" ]; then
	echo "FAIL: the KMS test double did not start" >&2
	cat "$W/double.err" >&2
	exit 1
fi
PORT=$(cat "$W/port")
grep -qx "port $PORT" "$W/double.out" && ok "the double prints its port ($PORT)" \
	|| bad "the double prints its port"
ENDPOINT="https://127.0.0.1:$PORT"

# The server certificate chains to the CA it wrote, for 127.0.0.1. (s_client's
# exit status also reflects how the server closes an idle connection, so the
# verification result is read from its output.)
echo | openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$W/ca.pem" \
	-verify_return_error -verify_ip 127.0.0.1 > "$W/sclient.out" 2>&1
if grep -q "Verify return code: 0 (ok)" "$W/sclient.out"; then
	ok "TLS: the server certificate verifies against the CA for IP 127.0.0.1"
else
	bad "TLS verification"; sed 's/^/    /' "$W/sclient.out" >&2
fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other \
	-keyout "$W/other.key" -out "$W/other.pem" -days 1 > /dev/null 2>&1
echo | openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$W/other.pem" \
	-verify_return_error > "$W/sclient2.out" 2>&1
if grep -q "Verify return code: 0 (ok)" "$W/sclient2.out"; then
	bad "TLS: the server certificate verifies against an unrelated CA"
else
	ok "TLS: an unrelated CA does not verify the server certificate"
fi

mkdir -p "$W/out"
head -c 3000 /dev/urandom > "$W/out/message"  # RAW messages are at most 4096 bytes
cp -r "$W/pub" "$W/out/pub"
if $PY "$HERE/kms_double_client.py" "$ENDPOINT" "$W/ca.pem" "$W/keys.json" "$W/out"; then
	ok "botocore client checks"
else
	bad "botocore client checks"
fi

# openssl verifies what the double signed.
M=$W/out/message
v() { # v NAME PUB [openssl dgst options...]
	local sig=$1 pub=$2
	shift 2
	openssl dgst -sha256 "$@" -verify "$W/pub/$pub.pem" -signature "$W/out/$sig.sig" "$M" \
		> /dev/null 2>&1
}
PSS=(-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32)
for s in pss pss-raw; do
	v "$s" tfattest-rsa "${PSS[@]}" && ok "openssl verifies $s (RSASSA-PSS, salt 32)" \
		|| bad "openssl verifies $s"
	v "$s" tfattest-rsa -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:20 \
		&& bad "$s verifies with salt length 20" || ok "$s does not verify with salt length 20"
done
for s in pkcs1 pkcs1-raw; do
	v "$s" tfattest-rsa && ok "openssl verifies $s (PKCS#1 v1.5)" || bad "openssl verifies $s"
done
for s in ecdsa ecdsa-raw; do
	v "$s" tfattest-ec && ok "openssl verifies $s (ECDSA P-256, DER)" || bad "openssl verifies $s"
done
v ecdsa tfattest-rsa && bad "the EC signature verifies under the RSA key" \
	|| ok "the EC signature does not verify under the RSA key"
if [ -f "$W/out/corrupt.sig" ]; then
	v corrupt tfattest-ec && bad "the bad_signature fault's signature verifies" \
		|| ok "the bad_signature fault's signature does not verify"
else
	bad "no corrupt.sig"
fi
if [ -f "$W/out/loose.sig" ]; then
	v loose tfattest-ec && ok "the loose_base64 fault's signature decodes (botocore) and verifies" \
		|| bad "the loose_base64 fault's signature does not verify"
else
	bad "no loose.sig"
fi

# The log file: every line is JSON, no secret.
if $PY - "$W/requests.jsonl" <<'EOF'
import json, os, sys
lines = open(sys.argv[1]).read().splitlines()
entries = [json.loads(l) for l in lines]
assert entries, "empty log"
text = "\n".join(lines)
for s in ("AWS_SECRET_ACCESS_KEY", "TFA_TEST_TOKEN_SECRET", "TFA_TEST_TOKEN"):
    assert os.environ[s] not in text, s
assert all({"method", "target", "key_id", "signed_headers", "sigv4", "status"} <= e.keys()
           for e in entries)
assert any(e["sigv4"].startswith("rejected") for e in entries)
EOF
then
	ok "the request log file is JSON lines with the documented fields and no secret"
else
	bad "request log file"
fi

# The signing oracle: the AWS SigV4 test suite's get-vanilla vector, then a
# request it signs is accepted by the double (two uses of botocore agree).
sig=$(echo '{"method":"GET","url":"https://example.amazonaws.com/","service":"service",
"region":"us-east-1","amz_date":"20150830T123600Z","access_key":"AKIDEXAMPLE",
"secret_key":"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}' | $PY "$HERE/botocore_sign.py" |
	$PY -c 'import json,sys; print(json.load(sys.stdin)["signature"])')
[ "$sig" = 5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31 ] \
	&& ok "botocore_sign.py reproduces the get-vanilla signature" \
	|| bad "botocore_sign.py get-vanilla: $sig"
$PY - "$ENDPOINT" > "$W/oracle.json" <<'EOF'
import datetime, json, os, sys
print(json.dumps({"method": "POST", "url": sys.argv[1] + "/", "service": "kms",
    "region": os.environ["AWS_REGION"],
    "amz_date": datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ"),
    "access_key": os.environ["AWS_ACCESS_KEY_ID"],
    "secret_key": os.environ["AWS_SECRET_ACCESS_KEY"],
    "headers": {"Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "TrentService.GetPublicKey"},
    "body": json.dumps({"KeyId": "alias/tfattest-ec"})}))
EOF
$PY "$HERE/botocore_sign.py" < "$W/oracle.json" > "$W/oracle.out"
mapfile -t H < <($PY -c 'import json,sys
for k, v in json.load(open(sys.argv[1]))["headers"].items(): print(f"{k}: {v}")' "$W/oracle.out")
code=$(curl -s -o "$W/oracle.resp" -w '%{http_code}' --cacert "$W/ca.pem" \
	-H "${H[0]}" -H "${H[1]}" -H "${H[2]}" -H "${H[3]}" \
	--data-binary '{"KeyId": "alias/tfattest-ec"}' "$ENDPOINT/")
[ "$code" = 200 ] && grep -q '"PublicKey"' "$W/oracle.resp" \
	&& ok "a request signed by botocore_sign.py is accepted by the double" \
	|| { bad "oracle-signed request: HTTP $code"; cat "$W/oracle.resp" >&2; }

# A bad control request is refused.
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$W/ca.pem" -X POST \
	-d '{"faults":["no-such-fault"]}' "$ENDPOINT/__control")
[ "$code" = 400 ] && ok "an unknown fault name is refused (HTTP 400)" \
	|| bad "unknown fault name: HTTP $code"

# It stops on SIGTERM.
kill "$PID"
for _ in $(seq 1 150); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PID" 2>/dev/null; then bad "the double ignores SIGTERM"; else ok "stops on SIGTERM"; fi
wait "$PID" 2>/dev/null
PID=

if [ "$FAILED" -ne 0 ]; then
	echo "--- the double's stderr:" >&2
	tail -n 40 "$W/double.err" >&2
	echo "--- the last requests:" >&2
	tail -n 10 "$W/requests.jsonl" >&2
fi
echo "$((RUN - FAILED)) passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
