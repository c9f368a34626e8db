#!/usr/bin/env bash
# log, show, diff: records read back checked; a tampered store is refused,
# never displayed as if it were fine.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL
check() {
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}
new_rsa_key k.pem
new_rsa_key other.pem
openssl pkey -in k.pem -pubout -out pub.pem 2> /dev/null
"$T" init --store s --chain prod --key file:k.pem > /dev/null || exit 2
export TFATTEST_STORE=$W/s
K=(--key file:k.pem)
"$T" record "${K[@]}" --plan "$PLANS/show-basic-create.json" --state "$STATES/show-basic-delete.tfstate" > /dev/null
"$T" record "${K[@]}" --plan "$PLANS/show-basic-delete.json" --state "$STATES/show-requires-replace.tfstate" > /dev/null
"$T" record "${K[@]}" --plan "$PLANS/show-requires-replace.json" --status failed --exit-code 1 > /dev/null
"$T" record "${K[@]}" --plan "$PLANS/show-basic-create.json" --state "$STATES/show-basic-delete.tfstate" --event rollback --rollback-to 1 > /dev/null

expect_exit 0 "log" "$T" log "${K[@]}"
check "log: one line per record" [ "$(wc -l < "$W/last.out")" -eq 4 ]
expect_output '^ +1  [0-9-]+T[0-9:]+Z  apply +succeeded +[^ ]+@[^ ]+ +\+3 ~0 -0 ±0  sha256:[0-9a-f]{12}$' "log line shape"
expect_output '^ +3 .* failed ' "failed record in log"
expect_output '^ +4 .*rollback-to 1$' "rollback in log"
expect_output 'all 4 checked: signature by the key in force at its seq, place in chain prod, hash links from seq 1' "log says what it checked"
expect_exit 0 "log with --public-key" "$T" log --public-key pub.pem --json
check "log --json: 4 JSON lines" /usr/bin/python3 -c "
import json,sys
l=[json.loads(x) for x in open('$W/last.out')]
assert [x['seq'] for x in l]==[1,2,3,4]
assert l[0]['counts']=={'create':3,'update':0,'delete':0,'replace':0}
assert l[2]['status']=='failed' and l[2]['exit_code']==1
assert l[3]['rollback_to']==1 and l[3]['event']=='rollback'
assert all(len(x['hash'])==71 and x['spooled'] is False for x in l)"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
expect_exit 0 "log --until before everything" "$T" log "${K[@]}" --until 2000-01-01T00:00:00Z
check "nothing shown before 2000" [ ! -s "$W/last.out" ]
expect_exit 0 "log --since 2000" "$T" log "${K[@]}" --since 2000-01-01T00:00:00Z --until 2999-01-01T00:00:00Z
check "everything shown in range" [ "$(wc -l < "$W/last.out")" -eq 4 ]
expect_exit 2 "log --since garbage" "$T" log "${K[@]}" --since yesterday
expect_exit 2 "log without a key" env -u TFATTEST_KEY "$T" log
expect_output 'public key is needed' "no-key message"
expect_exit 1 "log with another key" "$T" log --key file:other.pem
expect_output 'is not the key of chain prod' "wrong key message"
# A store with no chain is said as such: not as a chain that failed its checks.
mkdir empty
for c in log "show 1"; do
	# shellcheck disable=SC2086
	expect_exit 2 "$c on a store with no chain" "$T" $c "${K[@]}" --store empty
	expect_output 'empty holds no chain' "$c: no chain, said so"
	check "$c: no chain is not a chain that did not check out" bash -c "! grep -q 'did not check out' '$W/last.err'"
done
# A fingerprint given where a public key is wanted: a usage error that names the right option.
"$T" pubkey --key file:k.pem 2> /dev/null | grep -o 'sha256:[0-9a-f]\{64\}' > fpr.txt
sed 's/^sha256://' fpr.txt > hex.txt
for c in log "show 1" "diff 1 2" reconcile; do
	# shellcheck disable=SC2086
	expect_exit 2 "$c --public-key FINGERPRINT is a usage error" "$T" $c --public-key fpr.txt
	expect_output '--public-key fpr.txt: the file holds a key fingerprint, not a public key; --public-key takes the PEM that .tfattest pubkey --key K. prints' "$c: the hint"
done
expect_exit 2 "a bare hex fingerprint too" "$T" log --public-key hex.txt
expect_output 'holds a key fingerprint' "bare hex: the hint"
expect_exit 2 "export --public-key FINGERPRINT" "$T" export --manifest-key file:other.pem --public-key fpr.txt --out fb
expect_output 'a fingerprint goes to --expect-key-fingerprint' "export: the option that takes a fingerprint"
check "export: nothing written" [ ! -e fb ]

expect_exit 0 "show 2" "$T" show "${K[@]}" 2
expect_output '^record 2 of chain prod$' "show header"
expect_output '^checked +signature by sha256:.*prev_hash is the hash of record 1; the next record links to it$' "show says what it checked"
check "show: no raw JSON" bash -c "! grep -q \$'\\t\\|^{\\|\"chain_id\":' '$W/last.out'"
expect_output '^resource changes: 2$' "show: the resource changes, counted"
expect_output '^  update  test_instance.test$' "show: a change as action and address"
expect_output '^  delete  test_instance.test-delete  \(delete_because_no_resource_config\)$' "show: a change's reason"
expect_output '^terraform$' "show: a section per member"
expect_output '^  counts +create 0, delete 1, forget 0, no-op 0, other 0, read 0, replace 0, update 1$' "show: counts on one line"
expect_output '^  state\.lineage +configuredUnchanged$' "show: nested members under dotted names"
check "show: one column per section" bash -c "awk '/^terraform\$/{s=1;next} /^\$/{s=0} s' '$W/last.out' | awk '{ match(\$0, /^  [^ ]+ +/); print RLENGTH }' | sort -u | wc -l | grep -qx 1"
expect_exit 0 "show --json 3" "$T" show "${K[@]}" --json 3
check "show --json is the canonical artifact" cmp -s <(head -c -1 "$W/last.out") <(head -1 s/records/000000000003.rec | tr -d '\n')
expect_exit 2 "show a seq that does not exist" "$T" show "${K[@]}" 9
expect_exit 2 "show seq 0" "$T" show "${K[@]}" 0

expect_exit 0 "diff 1 1" "$T" diff "${K[@]}" 1 1
check "diff 1 1: no empty resources heading" bash -c "! grep -qx 'resources:' '$W/last.out'"
expect_output '^resources: the same addresses, with the same actions, in both$' "diff 1 1: no difference, said so"
expect_exit 0 "diff 1 2" "$T" diff "${K[@]}" 1 2
expect_output '^resources:$' "diff 1 2: the resources heading"
expect_output '^  - test_instance.test\[2\] \(create, only in 1\)$' "diff: removed address"
expect_output '^  \+ test_instance.test-delete \(delete, only in 2\)$' "diff: added address"
expect_output '^  lineage +configuredUnchanged == configuredUnchanged$' "diff: lineage"
expect_output '^  counts +create 3->0 update 0->1 delete 0->1 ' "diff: counts"
expect_exit 0 "diff 2 3" "$T" diff "${K[@]}" 2 3
expect_output '^  ~ test_instance.test: update -> replace$' "diff: changed action"
expect_output '^  event +apply/succeeded/0 -> apply/failed/1$' "diff: outcome"
expect_exit 0 "diff 1 4 (rollback)" "$T" diff "${K[@]}" 1 4
expect_output '^rollback: record 4 reverts to record 1 \(target hash matches the record\)$' "diff names the rollback target"
expect_output 'state lineage matches the target.s; serial 7 \(target 7\); state hash equals the target.s' "diff compares the rollback's state"
expect_exit 0 "diff 2 4" "$T" diff "${K[@]}" 2 4
expect_output 'state hash differs from the target.s|state lineage matches' "diff 2 4 rollback line"

# Tampering: a changed record, a removed record, a swapped record.
chmod u+w s/records/000000000002.rec
cp s/records/000000000002.rec saved.rec
sed -i '1s/"status":"succeeded"/"status":"failed"/' s/records/000000000002.rec
expect_exit 1 "log on a tampered store fails" "$T" log "${K[@]}"
expect_output 'signature of record 2 is invalid' "log names the tampered record"
check "log showed only the good record before it" [ "$(wc -l < "$W/last.out")" -eq 1 ]
expect_exit 1 "show of the tampered record fails" "$T" show "${K[@]}" 2
check "show printed nothing of it" [ ! -s "$W/last.out" ]
expect_exit 1 "diff with the tampered record fails" "$T" diff "${K[@]}" 1 2
expect_exit 1 "show 3 notices its predecessor changed" "$T" show "${K[@]}" 3
expect_output 'record 3 does not link to record 2' "link check message"
cp saved.rec s/records/000000000002.rec
expect_exit 0 "restored store logs again" "$T" log "${K[@]}"
chmod u+w s/records
mv s/records/000000000002.rec saved2.rec
expect_exit 1 "log with a missing record fails" "$T" log "${K[@]}"
expect_output 'record 2 is missing below the head' "gap message"
mv saved2.rec s/records/000000000002.rec

# A rotation record swapped in the store between the key walk and the read that
# is shown: a fork at seq 2 that the old key also signed (to another new key).
# The swap is made by tests/lib/swapshim.c, preloaded, on the read log shows.
SHIM_SRC=$(realpath "$(dirname "$0")/../lib/swapshim.c")
if ${CC:-cc} -shared -fPIC -O1 -o "$W/swapshim.so" "$SHIM_SRC" -ldl 2> /dev/null; then
	new_ec_key r1.pem
	new_ec_key r2.pem
	new_ec_key r3.pem
	"$T" init --store rs --chain rot --key file:r1.pem > /dev/null || exit 2
	"$T" record --store rs --key file:r1.pem --plan "$PLANS/show-basic-create.json" > /dev/null || exit 2
	cp -r rs rs-fork
	"$T" rotate --store rs --key file:r1.pem --new-key file:r2.pem > /dev/null || exit 2
	"$T" rotate --store rs-fork --key file:r1.pem --new-key file:r3.pem > /dev/null || exit 2
	"$T" record --store rs --key file:r2.pem --plan "$PLANS/show-basic-update.json" > /dev/null || exit 2
	rec2=000000000002.rec
	chmod -R u+w rs rs-fork
	cp rs-fork/records/$rec2 fork.rec
	# How often log opens record 2: the last open is the read that is shown.
	shimrun() { env LD_PRELOAD="$W/swapshim.so" ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" "$@"; }
	"$T" pubkey --key file:r1.pem | sed -n '/BEGIN/,/END/p' > r1.pub
	rm -f opens.log
	expect_exit 0 "log on the rotated chain" shimrun env SWAP_LOG=$W/opens.log SWAP_MATCH=$rec2 SWAP_AT=1000 SWAP_FROM=fork.rec SWAP_TO=rs/records/$rec2 "$T" log --store rs --public-key r1.pub
	n=$(wc -l < opens.log)
	expect_exit 1 "log refuses a rotation record swapped after the key walk" shimrun env SWAP_MATCH=$rec2 SWAP_AT="$n" SWAP_FROM=fork.rec SWAP_TO=rs/records/$rec2 "$T" log --store rs --public-key r1.pub
	expect_output 'record 2 is not the record the chain.s keys were read from' "the swapped rotation is named"
	check "the forked rotation is not shown" bash -c "! grep -qE '^ +2 ' '$W/last.out'"
	[ -e rs/records/$rec2.orig ] && mv rs/records/$rec2.orig rs/records/$rec2
else
	fail "cannot build tests/lib/swapshim.c"
fi
finish
