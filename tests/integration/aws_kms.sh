#!/usr/bin/env bash
# The awskms:// signer against the KMS test double (tests/aws/kms_double.py:
# HTTPS with a test CA, every request's SigV4 recomputed by botocore, real
# keys): pubkey and init/record/export/verify for each algorithm and every
# URI form, retries of throttling, 5xx and timeouts, one-line errors with the
# AWS code and request id for the errors that are not retried, and a bad
# signature from the double refused before anything reaches the chain.
. "$(dirname "$0")/../lib/common.sh"
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")/../aws" && pwd)
cd "$W" || exit 2
# Every command's output is kept, for the secret grep at the end.
eval "orig_$(declare -f expect_exit)"
expect_exit() {
	orig_expect_exit "$@"
	local r=$?
	cat "$W/last.out" "$W/last.err" >> "$W/all-output.txt"
	return $r
}
PID=
stop_double() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; PID=; }
trap 'stop_double; chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT

unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_KMS AWS_SESSION_TOKEN \
	AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
	AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_DEFAULT_REGION
export AWS_EC2_METADATA_DISABLED=true
export AWS_SHARED_CREDENTIALS_FILE=$W/nonexistent AWS_CONFIG_FILE=$W/nonexistent
export AWS_ACCESS_KEY_ID=AKIATFATTESTKMSIT01
AWS_SECRET_ACCESS_KEY=$(head -c 30 /dev/urandom | base64 | tr -d '/+=' | head -c 40)
export AWS_SECRET_ACCESS_KEY
export AWS_REGION=eu-central-1
TOKEN_AKID=ASIATFATTESTKMSIT02
TOKEN_SECRET=$(head -c 30 /dev/urandom | base64 | tr -d '/+=' | head -c 40)
TOKEN=$(head -c 60 /dev/urandom | base64 | tr -d '\n')
export TFATTEST_AWS_RETRY_BASE_MS=20
umask 077
TOKEN_AKID=$TOKEN_AKID TOKEN_SECRET=$TOKEN_SECRET TOKEN=$TOKEN $PY - "$W/creds.json" <<'EOF'
import json, os, sys
json.dump([{"access_key": os.environ["AWS_ACCESS_KEY_ID"],
            "secret_key": os.environ["AWS_SECRET_ACCESS_KEY"]},
           {"access_key": os.environ["TOKEN_AKID"], "secret_key": os.environ["TOKEN_SECRET"],
            "session_token": os.environ["TOKEN"]}], open(sys.argv[1], "w"))
EOF
$PY "$HERE/kms_double.py" --port-file "$W/port" --ca-out "$W/ca.pem" \
	--credentials-file "$W/creds.json" --region "$AWS_REGION" --keys-out "$W/keys.json" \
	--log "$W/requests.jsonl" --key "tfattest-rsa2048:RSA_2048" \
	--key "tfattest-encrypt:RSA_3072:usage=ENCRYPT_DECRYPT" \
	--key "tfattest-encrypt-quiet:RSA_3072:usage=ENCRYPT_DECRYPT:omit=KeyUsage" \
	--key "tfattest-wrongbits:RSA_3072:report-spec=RSA_2048" \
	--key "tfattest-wrongcurve:ECC_NIST_P256:report-spec=ECC_SECG_P256K1" \
	--key "tfattest-rsa-as-ec:RSA_2048:report-spec=ECC_NIST_P256" \
	--key "tfattest-nospec:ECC_NIST_P256:omit=KeySpec+CustomerMasterKeySpec" \
	--key "tfattest-noalgs:ECC_NIST_P256:omit=SigningAlgorithms" \
	--key "tfattest-ecdsa384only:ECC_NIST_P256:algs=ECDSA_SHA_384" \
	--key "tfattest-pkcs1only:RSA_2048:algs=RSASSA_PKCS1_V1_5_SHA_256" \
	> "$W/double.out" 2> "$W/double.err" &
PID=$!
for _ in $(seq 1 300); do
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
HOSTPORT=127.0.0.1:$PORT
export AWS_CA_BUNDLE=$W/ca.pem
key() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' "$W/keys.json" "$1" "$2"; }
control() {
	curl -sS --cacert "$W/ca.pem" -X POST "https://$HOSTPORT/__control" -d "$1" > /dev/null ||
		fail "control $1"
}
count_records() { find "$1/records" -name '*.rec' 2>/dev/null | wc -l; }

RSA_URI=awskms://$HOSTPORT/alias/tfattest-rsa
EC_URI=awskms://$HOSTPORT/alias/tfattest-ec

# ---- pubkey: every URI form names the same key, with its fingerprint ---------------
fpr_ec=$(key tfattest-ec fingerprint)
for form in "alias/tfattest-ec" "$(key tfattest-ec key_id)" "$(key tfattest-ec arn)" \
	"$(key tfattest-ec alias_arn)"; do
	expect_exit 0 "pubkey awskms://HOST:PORT/$form" "$T" pubkey --key "awskms://$HOSTPORT/$form" &&
		expect_output "^$fpr_ec\$" "fingerprint for $form is the double's"
done
# No host in the URI: the endpoint comes from AWS_ENDPOINT_URL_KMS.
expect_exit 0 "pubkey awskms:///alias/tfattest-rsa with AWS_ENDPOINT_URL_KMS" \
	env AWS_ENDPOINT_URL_KMS="https://$HOSTPORT" "$T" pubkey --key awskms:///alias/tfattest-rsa
expect_output "^$(key tfattest-rsa fingerprint)\$" "RSA fingerprint"
sed -n '/-----BEGIN PUBLIC KEY-----/,/-----END PUBLIC KEY-----/p' "$W/last.out" > rsa.pem
computed=sha256:$(openssl pkey -pubin -in rsa.pem -outform DER | sha256sum | cut -d' ' -f1)
TESTS_RUN=$((TESTS_RUN + 1))
[ "$computed" = "$(key tfattest-rsa fingerprint)" ] && pass "printed PEM hashes to the fingerprint" ||
	fail "printed PEM gives $computed"
# An ARN in another region than the double's: the region comes from the ARN, so the double refuses the scope.
other_arn=$(key tfattest-ec arn | sed 's/eu-central-1/us-west-2/')
expect_exit 2 "ARN region is used for signing" "$T" pubkey --key "awskms://$HOSTPORT/$other_arn"
expect_output 'InvalidSignatureException.*request id' "the scope region came from the ARN"
# The wrong trust anchor: TLS verification is on.
expect_exit 2 "TLS verification against the system store fails" env -u AWS_CA_BUNDLE \
	TFATTEST_AWS_MAX_ATTEMPTS=1 "$T" pubkey --key "$EC_URI"

# ---- the pipeline for each algorithm --------------------------------------------
for spec in "rsa:RSASSA_PSS_SHA_256:$RSA_URI" "rsa:RSASSA_PKCS1_V1_5_SHA_256:awskms://$HOSTPORT/alias/tfattest-rsa2048" \
	"ec:ECDSA_SHA_256:$EC_URI"; do
	alg=${spec#*:}
	uri=${alg#*:}
	alg=${alg%%:*}
	s=store-$alg
	name=${uri##*/}
	expect_exit 0 "init ($alg)" "$T" init --store $s --chain prod --key "$uri"
	expect_exit 0 "record ($alg)" "$T" record --store $s --key "$uri" --algorithm $alg --plan "$PLANS/show-basic-create.json"
	expect_exit 0 "record with a session token ($alg)" env AWS_ACCESS_KEY_ID=$TOKEN_AKID \
		AWS_SECRET_ACCESS_KEY="$TOKEN_SECRET" AWS_SESSION_TOKEN="$TOKEN" \
		"$T" record --store $s --key "$uri" --algorithm $alg --plan "$PLANS/show-basic-create.json"
	expect_exit 0 "export ($alg)" "$T" export --store $s --key "$uri" --algorithm $alg --out bundle-$alg
	fpr=$(key "$name" fingerprint)
	expect_exit 0 "verify pinned to the KMS key ($alg)" "$T" verify bundle-$alg --expect-key-fingerprint "$fpr"
	expect_output '^\[SUCCESS\] All verification checks passed$' "verify output ($alg)"
	TESTS_RUN=$((TESTS_RUN + 1))
	if grep -q "\"key_arn\":\"$(key "$name" arn)\"" bundle-$alg/artifacts/*.json &&
		grep -q "\"region\":\"$AWS_REGION\"" bundle-$alg/artifacts/*.json; then
		pass "provenance records key_arn and region ($alg)"
	else
		fail "provenance lacks key_arn or region ($alg)"
	fi
done
# Every request the double saw passed botocore's SigV4 check, with and without a token.
TESTS_RUN=$((TESTS_RUN + 1))
if $PY - "$W/requests.jsonl" <<'EOF'
import json, sys
seen = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
kms = [e for e in seen if e.get("target")]
ok = [e for e in kms if e.get("sigv4") == "verified"]
tok = [e for e in ok if e.get("session_token")]
print(f"{len(ok)} of {len(kms)} KMS requests verified by botocore, {len(tok)} with a session token")
sys.exit(0 if kms and len(ok) == len(kms) - sum(1 for e in kms if str(e.get("sigv4", "")).startswith("rejected: InvalidSignature")) and tok else 1)
EOF
then pass "the double verified the SigV4 of every request (botocore)"; else fail "SigV4 on the wire"; fi

# ---- faults: retried, then success ------------------------------------------------
S=store-ECDSA_SHA_256
retry_ok() { # retry_ok DESC FAULTS...
	local desc=$1 before after
	shift
	control "{\"faults\": $1, \"targets\": [\"Sign\"]}"
	before=$(count_records $S)
	expect_exit 0 "$desc, then success" "$T" record --store $S --key "$EC_URI" --plan "$PLANS/show-basic-create.json"
	after=$(count_records $S)
	TESTS_RUN=$((TESTS_RUN + 1))
	[ "$after" -eq $((before + 1)) ] && pass "$desc: one record appended" || fail "$desc: $before -> $after records"
}
retry_ok "throttling twice" '["throttle", "throttle"]'
retry_ok "HTTP 500" '["internal"]'
retry_ok "HTTP 503" '["unavailable"]'
retry_ok "connection dropped" '["drop"]'
export TFATTEST_AWS_TIMEOUT_MS=700
retry_ok "a timeout" '["stall:3"]'

# ---- faults that end in a clean error -------------------------------------------------
fail_clean() { # fail_clean DESC FAULTS PATTERN [STATUS, 2 by default]
	local before after t0 t1 status=${4:-2}
	control "{\"faults\": $2, \"targets\": [\"Sign\"]}"
	before=$(count_records $S)
	expect_exit "$status" "$1: exit $status" "$T" record --store $S --key "$EC_URI" --plan "$PLANS/show-basic-create.json"
	expect_output "$3" "$1: message"
	TESTS_RUN=$((TESTS_RUN + 1))
	[ "$(wc -l < "$W/last.err")" -eq 1 ] && pass "$1: one line" || fail "$1: $(wc -l < "$W/last.err") lines"
	after=$(count_records $S)
	TESTS_RUN=$((TESTS_RUN + 1))
	[ "$after" -eq "$before" ] && pass "$1: nothing appended" || fail "$1: $before -> $after records"
	control '{"faults": []}'
}
rid='request id [0-9a-f-]{8,}'
export TFATTEST_AWS_MAX_ATTEMPTS=3
fail_clean "timeout every time" '["stall:3", "stall:3", "stall:3"]' 'kms Sign: timed out .*gave up after 3 attempts'
fail_clean "throttled every time" '["throttle", "throttle", "throttle"]' "kms Sign: ThrottlingException: .*\\(HTTP 400, $rid; gave up after 3 attempts\\)"
unset TFATTEST_AWS_MAX_ATTEMPTS TFATTEST_AWS_TIMEOUT_MS
fail_clean "AccessDeniedException" '["access_denied", "ok"]' "kms Sign: AccessDeniedException: .*\\(HTTP 400, $rid\\)\$"
fail_clean "ExpiredTokenException" '["expired_token", "ok"]' "kms Sign: ExpiredTokenException: .*\\(HTTP 400, $rid\\)\$"
fail_clean "NotFoundException" '["not_found", "ok"]' "kms Sign: NotFoundException: .*\\(HTTP 400, $rid\\)\$"
fail_clean "DisabledException" '["disabled", "ok"]' "kms Sign: DisabledException: .*\\(HTTP 400, $rid\\)\$"
fail_clean "a bad signature from KMS" '["bad_signature"]' 'kms Sign: the signature does not verify under key arn:aws:kms:'
# Base64 a lenient decoder would take (white space, unused bits set) is malformed input: exit 1.
fail_clean "non-canonical base64 from KMS" '["loose_base64"]' 'kms: the signature is not canonical base64 \(base64 holds a character outside its alphabet\)$' 1
control '{"faults": ["loose_base64"], "targets": ["GetPublicKey"]}'
expect_exit 1 "non-canonical base64 public key" "$T" pubkey --key "$EC_URI"
expect_output 'kms: the public key is not canonical base64' "non-canonical base64 public key: message"
control '{"faults": []}'
# Keys in a state KMS refuses, from GetPublicKey on.
expect_exit 2 "disabled key" "$T" pubkey --key awskms://$HOSTPORT/alias/tfattest-disabled
expect_output "DisabledException: .*\\(HTTP 400, $rid\\)" "disabled key: code and request id"
expect_exit 2 "pending-deletion key" "$T" pubkey --key awskms://$HOSTPORT/alias/tfattest-pending
expect_output "KMSInvalidStateException: .*\\(HTTP 400, $rid\\)" "pending key: code and request id"
expect_exit 2 "unknown alias" "$T" pubkey --key awskms://$HOSTPORT/alias/nope
expect_output "NotFoundException: .*\\(HTTP 400, $rid\\)" "unknown alias: code and request id"
expect_exit 2 "symmetric key" "$T" pubkey --key awskms://$HOSTPORT/alias/tfattest-symmetric
# Keys whose GetPublicKey answer does not describe a signing key of the
# public key's kind: refused before use, one line naming the key and the fault.
not_signing() { # not_signing KEY PATTERN
	expect_exit 2 "$1 refused" "$T" pubkey --key "awskms://$HOSTPORT/alias/$1" &&
		expect_output "^tfattest: error: kms key alias/$1$2" "$1: message" &&
		TESTS_RUN=$((TESTS_RUN + 1)) &&
		{ [ "$(wc -l < "$W/last.err")" -eq 1 ] && pass "$1: one line" || fail "$1: not one line"; }
}
not_signing tfattest-encrypt ' is not a signing key \(KeyUsage ENCRYPT_DECRYPT, not SIGN_VERIFY\)'
not_signing tfattest-encrypt-quiet ': GetPublicKey names no KeyUsage; a signing key is SIGN_VERIFY'
not_signing tfattest-wrongbits ': its public key is not the RSA_2048 key its KeySpec says'
not_signing tfattest-wrongcurve ' has KeySpec ECC_SECG_P256K1; a signer needs RSA_2048, RSA_3072, RSA_4096 or ECC_NIST_P256'
not_signing tfattest-rsa-as-ec ': its public key is not the ECC_NIST_P256 key its KeySpec says'
not_signing tfattest-nospec ': GetPublicKey names no KeySpec'
not_signing tfattest-noalgs ': GetPublicKey names no SigningAlgorithms'
not_signing tfattest-ecdsa384only ' \(ECC_NIST_P256\) allows none of the signing algorithms that fit it'
# An algorithm the key's SigningAlgorithms leave out is refused before Sign.
expect_exit 0 "a key allowing only PKCS#1 v1.5 opens" "$T" pubkey --key "awskms://$HOSTPORT/alias/tfattest-pkcs1only"
expect_exit 0 "init with a key allowing only PKCS#1 v1.5" "$T" init --store pkcs1only --chain p --key "awskms://$HOSTPORT/alias/tfattest-pkcs1only"
nsign=$(grep -c '"target": "TrentService.Sign"' "$W/requests.jsonl")
expect_exit 2 "PSS with a key allowing only PKCS#1 v1.5" "$T" record --store pkcs1only --key "awskms://$HOSTPORT/alias/tfattest-pkcs1only" --plan "$PLANS/show-basic-create.json" &&
	expect_output "kms key arn:aws:kms:[^ ]*:key/[0-9a-f-]+ \(RSA_2048\) does not allow RSASSA_PSS_SHA_256: it is not in its SigningAlgorithms" \
		"PSS not allowed: message"
TESTS_RUN=$((TESTS_RUN + 1))
[ "$(grep -c '"target": "TrentService.Sign"' "$W/requests.jsonl")" -eq "$nsign" ] && pass "PSS not allowed: no Sign request sent" ||
	fail "PSS not allowed: a Sign request was sent"
# Credentials the double does not know.
expect_exit 2 "unknown access key" env AWS_ACCESS_KEY_ID=AKIAUNKNOWNUNKNOWN00 "$T" pubkey --key "$EC_URI"
expect_output "UnrecognizedClientException" "unknown access key: code"
expect_exit 2 "wrong secret key" env AWS_SECRET_ACCESS_KEY=wrongwrongwrongwrongwrongwrong "$T" pubkey --key "$EC_URI"
expect_output "InvalidSignatureException" "wrong secret: code"
expect_exit 2 "no credentials" env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$T" pubkey --key "$EC_URI"
expect_output "no AWS credentials" "no credentials: message"
expect_exit 2 "no region" env -u AWS_REGION "$T" pubkey --key "$EC_URI"
expect_output "no AWS region" "no region: message"
expect_exit 2 "malformed URI" "$T" pubkey --key "awskms://$HOSTPORT/alias/"
expect_output "awskms: invalid alias name" "malformed URI: message"

# The chain is still whole after all of that.
expect_exit 0 "export after the faults" "$T" export --store $S --key "$EC_URI" --out bundle-after
expect_exit 0 "verify after the faults" "$T" verify bundle-after --expect-key-fingerprint "$fpr_ec"

# ---- no secret in any output ------------------------------------------------------
TESTS_RUN=$((TESTS_RUN + 1))
if grep -rF -e "$AWS_SECRET_ACCESS_KEY" -e "$TOKEN_SECRET" -e "$TOKEN" "$W" --exclude=creds.json -l > leaks.txt 2>/dev/null; then
	fail "a secret appears in: $(tr '\n' ' ' < leaks.txt)"
else
	pass "no secret key or session token in any output, log or bundle"
fi
stop_double
finish
