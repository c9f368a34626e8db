#!/usr/bin/env bash
# record -> export -> verify with file keys, for each algorithm; the contract's
# errors and exit codes; secrets never reach the store or the bundle.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2

new_rsa_key rsa.pem 3072
new_ec_key ec.pem
new_rsa_key other.pem 2048

for alg in RSASSA_PSS_SHA_256 RSASSA_PKCS1_V1_5_SHA_256 ECDSA_SHA_256; do
	key=file:rsa.pem
	[ $alg = ECDSA_SHA_256 ] && key=file:ec.pem
	s=store-$alg
	expect_exit 0 "init ($alg)" "$T" init --store $s --chain prod --key $key
	expect_exit 0 "record create ($alg)" "$T" record --store $s --key $key --algorithm $alg --plan "$PLANS/show-basic-create.json"
	expect_exit 0 "record update with state ($alg)" "$T" record --store $s --key $key --algorithm $alg \
		--plan "$PLANS/show-basic-update.json" --state "$STATES/show-basic-delete.tfstate"
	expect_exit 0 "record delete ($alg)" "$T" record --store $s --key $key --algorithm $alg \
		--plan "$PLANS/show-basic-delete.json" --event destroy
	expect_exit 0 "record failed rollback ($alg)" "$T" record --store $s --key $key --algorithm $alg \
		--plan "$PLANS/show-requires-replace.json" --event rollback --status failed --exit-code 1
	expect_exit 0 "export ($alg)" "$T" export --store $s --key $key --algorithm $alg --out bundle-$alg
	fpr=$("$T" pubkey --key $key | tail -1)
	expect_exit 0 "verify pinned ($alg)" "$T" verify bundle-$alg --expect-key-fingerprint "$fpr"
	expect_output '^\[SUCCESS\] All verification checks passed$' "verify output ($alg)"
	expect_output '^\[SUCCESS\] Hash chain valid \(4 artifacts\)$' "chain line ($alg)"
	grep -q "\"algorithm\":\"$alg\"" bundle-$alg/artifacts/000000000001.json || fail "algorithm $alg not recorded"
done

# The artifact holds what the contract says, and nothing else from the plan.
a=bundle-RSASSA_PSS_SHA_256/artifacts
grep -q '"action":"create","address":"test_instance.test\[0\]"' $a/000000000001.json || fail "create address missing"
grep -q '"counts":{"create":3,' $a/000000000001.json || fail "create count wrong"
grep -q '"state":{"lineage":"configuredUnchanged","serial":7,' $a/000000000002.json || fail "state facts missing"
grep -q '"action":"delete"' $a/000000000003.json || fail "delete action missing"
grep -Eq '"event":\{"exit_code":1,"idempotency_key":"[0-9a-f]{32}","status":"failed","type":"rollback"\}' $a/000000000004.json || fail "rollback event wrong"
grep -q '"action":"replace","address":"test_instance.test","reason":"replace_because_cannot_update"' $a/000000000004.json || fail "replace missing"
TESTS_RUN=$((TESTS_RUN + 6))

# Each stored artifact is exactly its canonical form.
for f in $a/*.json; do
	"$T" canon "$f" | cmp -s - "$f" || fail "$f is not canonical"
done
TESTS_RUN=$((TESTS_RUN + 1))

# A plan's secret values never reach the store or the bundle.
python3 - "$PLANS/show-sensitive-values.json" planted.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["resource_changes"][0]["change"]["after"]["ami"] = "PLANTED-SECRET-7f3a9c"
d["variables"]["test_var"]["value"] = "PLANTED-SECRET-7f3a9c"
json.dump(d, open(sys.argv[2], "w"))
PY
expect_exit 0 "init secrets store" "$T" init --store sec --chain s --key file:rsa.pem
expect_exit 0 "record sensitive plan" "$T" record --store sec --key file:rsa.pem --plan "$PLANS/show-sensitive-values.json"
expect_exit 0 "record planted secret" "$T" record --store sec --key file:rsa.pem --plan planted.json
expect_exit 0 "export secrets bundle" "$T" export --store sec --key file:rsa.pem --out secb
TESTS_RUN=$((TESTS_RUN + 1))
if grep -rq -e boop -e PLANTED-SECRET sec secb; then fail "a secret value reached the store or bundle"; else pass "no secret in store or bundle"; fi

# Environment fallbacks.
expect_exit 0 "TFATTEST_STORE/TFATTEST_KEY fallbacks" env TFATTEST_STORE=sec TFATTEST_KEY=file:rsa.pem "$T" record --plan "$PLANS/show-basic-create.json"

# Refusals and their exit codes.
expect_exit 1 "record with a key other than the pinned one" "$T" record --store sec --key file:other.pem --plan "$PLANS/show-basic-create.json"
expect_output 'is not the current key of chain s' "wrong key message"
expect_exit 1 "export signed by a key other than the current one" "$T" export --store sec --key file:other.pem --out x
expect_exit 2 "init twice" "$T" init --store sec --chain s --key file:rsa.pem
expect_output 'already holds a chain' "init twice message"
expect_exit 2 "record on a store with no chain" "$T" record --store nochain --key file:rsa.pem --plan "$PLANS/show-basic-create.json"
[ -e nochain ] && fail "record created a store directory"
expect_exit 2 "missing key file" "$T" record --store sec --key file:nope.pem --plan "$PLANS/show-basic-create.json"
expect_exit 2 "unknown key scheme" "$T" pubkey --key vault:abc
expect_exit 2 "missing plan file" "$T" record --store sec --key file:rsa.pem --plan nope.json
printf '{"format_version":"1.0","a":1,"a":2}' > dup.json
expect_exit 1 "plan with duplicate keys is rejected" "$T" record --store sec --key file:rsa.pem --plan dup.json
expect_exit 2 "errored plan refused" "$T" record --store sec --key file:rsa.pem --plan "$PLANS/show-plan-error.json"
expect_output 'is errored.*--allow-errored-plan' "errored plan message"
printf 'PK\003\004\024\000' > saved.tfplan
expect_exit 2 "binary plan refused" "$T" record --store sec --key file:rsa.pem --plan saved.tfplan
expect_output 'run `terraform show -json saved.tfplan > plan.json`' "binary plan message"
printf 'not json' > bad.json
expect_exit 1 "plan that is not JSON is rejected" "$T" record --store sec --key file:rsa.pem --plan bad.json
expect_exit 2 "bad --event" "$T" record --store sec --key file:rsa.pem --plan "$PLANS/show-basic-create.json" --event deploy
expect_exit 2 "bad --exit-code" "$T" record --store sec --key file:rsa.pem --plan "$PLANS/show-basic-create.json" --exit-code 1x
expect_exit 2 "ECDSA on an RSA key" "$T" record --store sec --key file:rsa.pem --algorithm ECDSA_SHA_256 --plan "$PLANS/show-basic-create.json"
expect_exit 2 "bad chain name" "$T" init --store bad --chain '../x' --key file:rsa.pem
expect_exit 2 "export into an existing path" "$T" export --store sec --key file:rsa.pem --out secb
expect_exit 2 "export range past the head" "$T" export --store sec --key file:rsa.pem --out r --from 2 --to 99
expect_exit 2 "verify a missing bundle" "$T" verify nope
expect_exit 2 "unknown command" "$T" frobnicate
n_before=$(ls sec/records | wc -l)
[ "$(ls sec/records | wc -l)" -eq "$n_before" ] || fail "a refused record changed the store"
TESTS_RUN=$((TESTS_RUN + 1))

# An errored plan is recorded with --allow-errored-plan, and says so.
expect_exit 0 "errored plan allowed" "$T" record --store sec --key file:rsa.pem --plan "$PLANS/show-plan-error.json" --allow-errored-plan
expect_exit 0 "log" "$T" log --store sec --key file:rsa.pem
expect_output 'ERRORED PLAN' "log marks the errored plan"

# Ranges.
expect_exit 0 "export a range" "$T" export --store sec --key file:rsa.pem --out range --from 2 --to 3
expect_exit 0 "verify a range" "$T" verify range
expect_output 'Hash chain valid \(2 artifacts\)' "range length"
expect_exit 1 "a range from seq 2 fails --require-genesis" "$T" verify range --require-genesis
expect_output '^\[ERROR\] Bundle starts at seq 2, not at genesis' "require-genesis message"
expect_exit 0 "a bundle from seq 1 passes --require-genesis" "$T" verify secb --require-genesis
expect_exit 0 "export by time" "$T" export --store sec --key file:rsa.pem --out since --since 2000-01-01T00:00:00Z
expect_exit 2 "export by time, nothing in range" "$T" export --store sec --key file:rsa.pem --out until --until 2000-01-01T00:00:00Z

# pubkey prints a PEM and the fingerprint of its DER.
expect_exit 0 "pubkey" "$T" pubkey --key file:ec.pem
head -n -1 "$W/last.out" | openssl pkey -pubin -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1 > der.sum
TESTS_RUN=$((TESTS_RUN + 1))
[ "sha256:$(cat der.sum)" = "$(tail -1 "$W/last.out")" ] || fail "pubkey fingerprint differs from openssl's"

finish
