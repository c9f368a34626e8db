#!/usr/bin/env bash
# An auditor exports from the S3 store with exactly the rights the Terraform
# module (terraform/) grants auditors, read from the module itself: the S3 and
# DynamoDB proxies (tests/aws/store_proxy.py) and the KMS test double
# (tests/aws/kms_double.py) refuse every other action of the auditor's
# credentials, as AWS would. So this fails when the module grants less than an
# auditor's export needs, or the export needs more than the module grants.
#
#  1. the CI identity (unrestricted) writes a chain with a KMS key: S3 + DynamoDB
#  2. the auditor's export signed by the chain's key is refused (kms:Sign)
#  3. the auditor's export with --manifest-key works: only GetObject,
#     ListObjectsV2 and GetPublicKey/DescribeKey are asked for, none denied,
#     and it verifies pinned to the chain's anchor, as exporter-signed
#  4. with --public-key instead of the KMS key, KMS is not called at all
#  5. the auditor cannot use the sequencer (DynamoDB) and cannot write
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../aws/emulators.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
if [ ! -f "$SRC/node_modules/@cdktf/hcl2json/package.json" ]; then
	echo "@cdktf/hcl2json missing: run scripts/deps.sh" >&2
	exit 77
fi
node "$SRC/tests/terraform/hcl2json.js" "$SRC/terraform" > "$W/module.json" || exit 2
ALLOW=$($PY "$SRC/tests/terraform/auditor_actions.py" "$W/module.json") || exit 2
echo "the module grants auditors: $ALLOW"

AUD_AK=AKIATFATTESTAUDITOR1
AUD_SK=$(head -c 30 /dev/urandom | base64 | tr -d '/+=' | head -c 40)
umask 077
ALLOW=$ALLOW AUD_AK=$AUD_AK AUD_SK=$AUD_SK $PY - "$W/identities.json" <<'EOF'
import json, os, sys
json.dump([{"name": "auditor", "access_key": os.environ["AUD_AK"], "secret_key": os.environ["AUD_SK"],
            "allow": json.loads(os.environ["ALLOW"])}], open(sys.argv[1], "w"))
EOF
export AWS_PROXY_IDENTITIES=$W/identities.json
RET=3
aws_emulators_start tfa-store tfa-seq $RET
rc=$?
[ $rc -eq 0 ] || exit $rc
cd "$W" || exit 2
export TFATTEST_AWS_TIMEOUT_MS=3000 TFATTEST_AWS_CONNECT_TIMEOUT_MS=1000 TFATTEST_AWS_MAX_ATTEMPTS=2
unset TFATTEST_STORE TFATTEST_SEQUENCER TFATTEST_KEY TFATTEST_TEST_CRASH_AT

# The KMS double: the CI identity may do everything, the auditor only the module's kms: actions.
ALLOW=$ALLOW AUD_AK=$AUD_AK AUD_SK=$AUD_SK $PY - "$W/kms-creds.json" <<'EOF'
import json, os, sys
json.dump([{"access_key": os.environ["AWS_ACCESS_KEY_ID"], "secret_key": os.environ["AWS_SECRET_ACCESS_KEY"]},
           {"access_key": os.environ["AUD_AK"], "secret_key": os.environ["AUD_SK"],
            "allow": [a for a in json.loads(os.environ["ALLOW"]) if a.startswith("kms:")]}],
          open(sys.argv[1], "w"))
EOF
"$AWS_PY" "$AWS_DIR/kms_double.py" --port-file "$W/kms.port" --ca-out "$W/kms-ca.pem" \
	--credentials-file "$W/kms-creds.json" --keys-out "$W/keys.json" --region "$AWS_REGION" \
	--log "$W/kms.log" > /dev/null 2> "$W/kms.err" &
AWS_PIDS+=($!)
aws_wait_port_file "$W/kms.port" $! 60 || { echo "the KMS double did not start" >&2; cat "$W/kms.err" >&2; exit 1; }
export AWS_CA_BUNDLE=$W/kms-ca.pem
K="awskms://127.0.0.1:$(cat "$W/kms.port")/alias/tfattest-ec"
Q="dynamodb://tfa-seq?endpoint=$DDB_ENDPOINT"
S="s3://tfa-store/audit?endpoint=$S3_ENDPOINT&retention-days=$RET"
# The auditor's view: no retention, so the store is opened read-only.
SR="s3://tfa-store/audit?endpoint=$S3_ENDPOINT"
auditor() { env AWS_ACCESS_KEY_ID=$AUD_AK AWS_SECRET_ACCESS_KEY=$AUD_SK "$@"; }
# audit_log FILE FROM_LINE: the auditor's requests logged after FROM_LINE, one op per line.
audit_ops() { tail -n +"$2" "$1" | $PY -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    if e.get("identity", e.get("access_key_id")) in ("auditor", sys.argv[1]):
        print(e.get("op") or e.get("target", "").rpartition(".")[2], e.get("denied", "-"))
' "$AUD_AK"; }
lines() { wc -l < "$1" 2> /dev/null || echo 0; }

# ---- 1. the CI identity writes a chain -------------------------------------------
expect_exit 0 "CI: init" "$T" init --store "$S" --sequencer "$Q" --chain audit --key "$K"
for i in 1 2 3; do
	expect_exit 0 "CI: record $i" "$T" record --store "$S" --sequencer "$Q" --key "$K" \
		--plan "$PLANS/show-basic-create.json"
done
expect_exit 0 "CI: checkpoint" "$T" checkpoint --store "$S" --sequencer "$Q" --key "$K" --out cp3.ckpt
ANCHOR=$("$T" pubkey --key "$K" | tail -1)
"$T" pubkey --key "$K" | sed -n '/BEGIN/,/END/p' > chain.pub
new_ec_key auditor.pem

# ---- 2. signed by the chain's key: refused --------------------------------------
k0=$(lines "$W/kms.log")
expect_exit 2 "auditor: export signed by the chain's key is refused" auditor "$T" export --store "$SR" \
	--key "$K" --out b-chain
expect_output "AccessDenied" "the refusal is AWS's AccessDenied"
audit_ops "$W/kms.log" $((k0 + 1)) > ops.txt
grep -q "^Sign kms:Sign$" ops.txt && pass "the KMS double denied the auditor kms:Sign" ||
	fail "kms:Sign was not denied: $(cat ops.txt)"
[ ! -e b-chain ] && pass "no bundle left" || fail "b-chain exists"

# ---- 3. --manifest-key: the auditor's own key ------------------------------------
s0=$(lines "$S3_LOG") k0=$(lines "$W/kms.log") d0=$(lines "$DDB_LOG")
expect_exit 0 "auditor: export with --manifest-key" auditor "$T" export --store "$SR" --key "$K" \
	--manifest-key file:auditor.pem --expect-key-fingerprint "$ANCHOR" --out b1
expect_output "exported records 1..3" "all three records"
audit_ops "$S3_LOG" $((s0 + 1)) > s3ops.txt
audit_ops "$W/kms.log" $((k0 + 1)) > kmsops.txt
[ -s s3ops.txt ] && ! grep -vq -e "^GetObject -$" -e "^ListObjectsV2 -$" s3ops.txt &&
	pass "S3: the auditor only read and listed, nothing denied" || fail "S3 requests: $(sort -u s3ops.txt)"
[ -s kmsops.txt ] && ! grep -vq -e "^GetPublicKey -$" -e "^DescribeKey -$" kmsops.txt &&
	pass "KMS: the auditor only read the public key" || fail "KMS requests: $(sort -u kmsops.txt)"
[ "$(lines "$DDB_LOG")" = "$d0" ] && pass "DynamoDB: not called" || fail "DynamoDB was called"
expect_exit 0 "the bundle verifies pinned to the anchor, with the CI's checkpoint" "$T" verify b1 \
	--expect-key-fingerprint "$ANCHOR" --checkpoint cp3.ckpt --require-genesis
expect_output "Manifest signed by the exporter's key" "verify says it is exporter-signed"

# ---- 4. --public-key: no KMS call at all -----------------------------------------
k0=$(lines "$W/kms.log")
expect_exit 0 "auditor: export with --public-key" auditor "$T" export --store "$SR" \
	--public-key chain.pub --manifest-key file:auditor.pem --archive b2.tar.gz
[ "$(lines "$W/kms.log")" = "$k0" ] && pass "KMS: not called" || fail "KMS was called"
expect_exit 0 "the archive verifies" "$T" verify b2.tar.gz --expect-key-fingerprint "$ANCHOR"

# ---- 5. nothing that writes ------------------------------------------------------
d0=$(lines "$DDB_LOG")
expect_exit 2 "auditor: the sequencer is refused" auditor "$T" export --store "$SR" --sequencer "$Q" \
	--public-key chain.pub --manifest-key file:auditor.pem --out b3
audit_ops "$DDB_LOG" $((d0 + 1)) > ddbops.txt
grep -q "dynamodb:GetItem" ddbops.txt && pass "DynamoDB denied the auditor GetItem" ||
	fail "DynamoDB requests: $(cat ddbops.txt)"
s0=$(lines "$S3_LOG")
expect_exit 2 "auditor: a record is refused" auditor "$T" record --store "$S" --sequencer "$Q" \
	--key "$K" --plan "$PLANS/show-basic-create.json"
finish
