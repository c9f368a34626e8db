#!/usr/bin/env bash
# Idempotency keys of `tfattest record` on the local store: a key drawn per
# run and stored in the record; a retry with the same key (option or
# environment) finds the first record and appends nothing; a bad key is a
# usage error.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL TFATTEST_IDEMPOTENCY_KEY
check() {
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}
new_ec_key k.pem
"$T" init --store s --chain prod --key file:k.pem > /dev/null || exit 2
R=(record --store s --key file:k.pem --plan "$PLANS/show-basic-create.json")
# key_of SEQ: the record's event.idempotency_key, from an export.
key_of() {
	rm -rf "$W/b"
	"$T" export --store s --key file:k.pem --out "$W/b" > /dev/null &&
		/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["event"].get("idempotency_key", ""))' \
			"$W/b/artifacts/$(printf %012d "$1").json"
}
count() { "$T" log --store s --key file:k.pem | grep -c '^ *[0-9]'; }

expect_exit 0 "record with a key" "$T" "${R[@]}" --idempotency-key deploy-0001.attempt_1 &&
	expect_output "^recorded seq 1 " "first record is seq 1"
expect_exit 0 "the same key again" "$T" "${R[@]}" --idempotency-key deploy-0001.attempt_1 &&
	expect_output "^already recorded as seq 1 .*idempotency key deploy-0001.attempt_1.*nothing appended" "retry finds seq 1"
check "nothing appended by the retry" [ "$(count)" -eq 1 ]
check "the record holds its key" [ "$(key_of 1)" = deploy-0001.attempt_1 ]
expect_exit 0 "the same key from TFATTEST_IDEMPOTENCY_KEY" env TFATTEST_IDEMPOTENCY_KEY=deploy-0001.attempt_1 "$T" "${R[@]}" &&
	expect_output "^already recorded as seq 1 " "environment key finds seq 1"
expect_exit 0 "another key" env TFATTEST_IDEMPOTENCY_KEY=deploy-0002.attempt_1 "$T" "${R[@]}" &&
	expect_output "^recorded seq 2 " "another key appends seq 2"
# Without a key, each run draws its own: two runs, two records.
expect_exit 0 "no key: record" "$T" "${R[@]}" && expect_output "^recorded seq 3 " "seq 3"
expect_exit 0 "no key: record again" "$T" "${R[@]}" && expect_output "^recorded seq 4 " "seq 4"
k3=$(key_of 3)
k4=$(key_of 4)
check "a drawn key is 32 lowercase hex digits" [ "$(printf %s "$k3" | grep -cE '^[0-9a-f]{32}$')" -eq 1 ]
check "each run draws another key" [ "$k3" != "$k4" ]
# The option wins over the environment.
expect_exit 0 "option over environment" env TFATTEST_IDEMPOTENCY_KEY=deploy-0009.attempt_1 "$T" "${R[@]}" \
	--idempotency-key "$k3" && expect_output "^already recorded as seq 3 " "the option's key is used"
for bad in short 'has space 0123456789' 'slash/0123456789abc' "$(printf 'k%.0s' $(seq 1 65))"; do
	expect_exit 2 "bad key \"$bad\"" "$T" "${R[@]}" --idempotency-key "$bad" &&
		expect_output "16 to 64" "bad key \"$bad\": says why"
done
expect_exit 2 "bad key from the environment" env TFATTEST_IDEMPOTENCY_KEY=x "$T" "${R[@]}"
check "nothing appended by the refusals" [ "$(count)" -eq 4 ]
expect_exit 0 "export" "$T" export --store s --key file:k.pem --out "$W/b2" &&
	expect_exit 0 "the chain verifies" "$T" verify "$W/b2" --require-genesis
finish
