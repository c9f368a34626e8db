#!/usr/bin/env bash
# Hostile bundles: each tampering must be rejected with exit 1, the right
# message, and no crash. The pristine bundle must verify.
# With TFA_SHARD=I/N it runs shard I of N of the cases (see `unit` in common.sh):
# ctest runs the shards side by side, and it_verify_tamper_shards checks that
# together they run every case once.
. "$(dirname "$0")/../lib/common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
cd "$W" || exit 2

new_rsa_key k.pem 2048
new_rsa_key other.pem 2048
"$T" init --store s --chain prod --key file:k.pem > /dev/null
for p in show-basic-create show-basic-update show-basic-delete show-requires-replace; do
	"$T" record --store s --key file:k.pem --plan "$PLANS/$p.json" > /dev/null || exit 2
done
"$T" export --store s --key file:k.pem --out good > /dev/null || exit 2
# Another chain, same shape, for splicing.
"$T" init --store f --chain foreign --key file:k.pem > /dev/null
for p in show-basic-create show-basic-update show-basic-delete show-requires-replace; do
	"$T" record --store f --key file:k.pem --plan "$PLANS/$p.json" > /dev/null || exit 2
done
"$T" export --store f --key file:k.pem --out foreign > /dev/null || exit 2
FPR=$("$T" pubkey --key file:k.pem | tail -1)

# ---- rotations and checkpoints ----
# A chain that rotated at seq 3 from k.pem to r2.pem, with a checkpoint of its head,
# and an older export of it taken before the last record.
new_ec_key r2.pem
new_ec_key stranger.pem
R2=file:r2.pem
"$T" init --store r --chain prod --key file:k.pem > /dev/null
for p in show-basic-create show-basic-update; do
	"$T" record --store r --key file:k.pem --plan "$PLANS/$p.json" > /dev/null || exit 2
done
"$T" rotate --store r --key file:k.pem --new-key "$R2" > /dev/null || exit 2
"$T" record --store r --key "$R2" --plan "$PLANS/show-basic-delete.json" > /dev/null || exit 2
"$T" export --store r --key "$R2" --out rold > /dev/null || exit 2
"$T" record --store r --key "$R2" --plan "$PLANS/show-requires-replace.json" > /dev/null || exit 2
"$T" checkpoint --store r --key "$R2" --out rcp5.ckpt > /dev/null || exit 2
"$T" export --store r --key "$R2" --out rgood > /dev/null || exit 2
"$T" checkpoint --store s --key file:k.pem --out good4.ckpt > /dev/null || exit 2
"$T" checkpoint --store f --key file:k.pem --out foreign.ckpt > /dev/null || exit 2
"$T" export --store r --key "$R2" --out rrange --from 4 > /dev/null || exit 2

# The tables of cases (the phases below read them).
# case | failing layer | expected message (extended regex)
CASES_BUNDLE=$(cat <<'CASES'
flip_manifest|manifest_signature|Manifest signature invalid
flip_manifest_sig|manifest_signature|Manifest signature invalid
truncate_manifest_sig|manifest_signature|Manifest signature invalid
swap_manifest_sig|manifest_signature|Manifest signature invalid
delete_manifest|manifest_signature|Manifest unreadable: manifest.json is missing
delete_pubkey|manifest_signature|Public key unusable: public_key.pem is missing
substitute_pubkey|manifest_signature|Key fingerprint mismatch
garbage_pubkey|manifest_signature|Public key unusable
manifest_not_json|manifest_signature|Manifest invalid
flip_artifact|file_hashes|Hash mismatch for artifacts/000000000002.json \(seq 2\)
flip_artifact_sig|file_hashes|Hash mismatch for artifacts/000000000002.sig \(seq 2\)
flip_verify_md|file_hashes|Hash mismatch for VERIFY.md
truncate_artifact|file_hashes|Hash mismatch for artifacts/000000000002.json
delete_artifact|file_hashes|Missing file: artifacts/000000000002.json
delete_artifact_sig|file_hashes|Missing file: artifacts/000000000003.sig
extra_file|file_hashes|File not listed in manifest: artifacts/notes.txt
extra_artifact|file_hashes|File not listed in manifest: artifacts/000000000005.json
rename_artifact|file_hashes|(File not listed in manifest: artifacts/000000000002.jsn|Missing file: artifacts/000000000002.json)
symlink_artifact|file_hashes|Symlink in bundle: artifacts/000000000002.json
symlink_dir|file_hashes|Symlink in bundle: artifacts
fifo_in_bundle|file_hashes|Not a regular file: artifacts/pipe
empty_dir|file_hashes|Empty directory in bundle: artifacts/extra
absolute_path_resigned|manifest_signature|Manifest invalid: path /etc/passwd is absolute
dotdot_path_resigned|manifest_signature|Manifest invalid: path artifacts/../../outside has a component starting with '.'
symlink_listed_resigned|file_hashes|Symlink in bundle: VERIFY.md
unsorted_paths_resigned|manifest_signature|Manifest invalid: manifest paths are not unique and in order
duplicate_path_resigned|manifest_signature|Manifest invalid: manifest paths are not unique and in order
gap_resigned|hash_chain|Sequence gap: manifest does not list artifacts/000000000002.json
reorder_resigned|hash_chain|Sequence mismatch: artifacts/000000000002.json holds seq 3
duplicate_artifact_resigned|hash_chain|Sequence mismatch: artifacts/000000000003.json holds seq 2
truncated_chain_resigned|hash_chain|Head hash mismatch
range_beyond_records_resigned|hash_chain|Sequence gap: manifest does not list artifacts/000000000004.json
wrong_head_hash_resigned|hash_chain|Head hash mismatch
wrong_base_hash_resigned|hash_chain|Chain broken at artifacts/000000000001.json \(seq 1\)
broken_link_resigned|hash_chain|Chain broken at artifacts/000000000003.json \(seq 3\): prev_hash does not match seq 2
splice_foreign_resigned|hash_chain|Chain id mismatch in artifacts/000000000004.json \(seq 4\): foreign
chain_id_changed_resigned|hash_chain|Chain id mismatch in artifacts/000000000004.json
seq_changed_resigned|hash_chain|Sequence mismatch: artifacts/000000000004.json holds seq 9
noncanonical_artifact_resigned|hash_chain|Invalid artifact artifacts/000000000004.json \(seq 4\): artifact bytes are not in RFC 8785 canonical form
duplicate_key_artifact_resigned|hash_chain|Invalid artifact artifacts/000000000004.json \(seq 4\): .*duplicate object key
duplicate_key_manifest_resigned|manifest_signature|Manifest invalid: manifest is not canonical JSON: .*duplicate object key
noncanonical_manifest_resigned|manifest_signature|Manifest invalid: manifest is not canonical JSON: .*white space
unknown_member_manifest_resigned|manifest_signature|Manifest invalid: manifest has an unknown member "extra"
deep_nesting_artifact_resigned|hash_chain|Invalid artifact artifacts/000000000004.json \(seq 4\): .*nesting deeper
huge_artifact_resigned|file_hashes|Hash mismatch for artifacts/000000000004.json
other_key_sig_resigned|artifact_signatures|Signature invalid for artifacts/000000000004.json \(seq 4\)
swapped_sigs_resigned|artifact_signatures|Signature invalid for artifacts/000000000001.json \(seq 1\)
truncated_sig_resigned|artifact_signatures|Signature invalid for artifacts/000000000002.json \(seq 2\)
alg_mismatch_resigned|artifact_signatures|Algorithm ECDSA_SHA_256 of artifacts/000000000004.json \(seq 4\) does not fit the key
foreign_key_named_resigned|artifact_signatures|Artifact artifacts/000000000004.json \(seq 4\) names signing key sha256:efef
CASES
)
# case | pin the anchor (y/n) | failing layer | expected message
CASES_ROTATION=$(cat <<'CASES'
rot_pop_missing_resigned|y|manifest_signature|Invalid rotation record keys/000000000003.json \(seq 3\): artifact rotation has no "pop_signature"
rot_pop_wrong_resigned|y|manifest_signature|Rotation keys/000000000003.json \(seq 3\): proof of possession invalid
rot_pop_other_seq_resigned|y|manifest_signature|Rotation keys/000000000003.json \(seq 3\): proof of possession invalid
rot_new_key_unsupported_resigned|y|manifest_signature|Rotation keys/000000000003.json \(seq 3\): the new key is unusable
rot_new_key_garbage_resigned|y|manifest_signature|Rotation keys/000000000003.json \(seq 3\): the new key is unusable
rot_forged_substitute_resigned|y|manifest_signature|Rotation keys/000000000003.json \(seq 3\): signature invalid
rot_forged_substitute_resigned|n|manifest_signature|Rotation keys/000000000003.json \(seq 3\): signature invalid
rot_signer_not_in_force_resigned|y|manifest_signature|Rotation keys/000000000005.json \(seq 5\): signed by key sha256:[0-9a-f]{64}, not the key in force at seq 5
rot_old_key_after_resigned|y|artifact_signatures|Artifact artifacts/000000000005.json \(seq 5\) names signing key sha256:[0-9a-f]{64}, not the key in force at seq 5
rot_manifest_unreachable_resigned|y|manifest_signature|Manifest names signing key sha256:[0-9a-f]{64}, which is not the key in force at export
rot_keys_dropped_resigned|y|manifest_signature|Key fingerprint mismatch: bundle key is
rot_unlisted_rotation_resigned|n|hash_chain|Rotation artifacts/000000000003.json \(seq 3\) is not among the bundle's keys/ rotation records
rot_pem_mismatch_resigned|y|manifest_signature|keys/[0-9a-f]{64}.pem holds key sha256:[0-9a-f]{64}, not the key its name says
rot_retired_key_back_resigned|y|manifest_signature|Rotation keys/000000000005.json \(seq 5\): brings back the retired key sha256:[0-9a-f]{64}
rot_retired_key_back_resigned|n|manifest_signature|Rotation keys/000000000005.json \(seq 5\): brings back the retired key sha256:[0-9a-f]{64}
CASES
)
# Bundles held to checkpoints: bundle | checkpoint | expected message
CASES_CHECKPOINT=$(cat <<'CASES'
rold|rcp5.ckpt|Bundle ends at seq 4, before checkpoint rcp5.ckpt \(seq 5\): records are withheld or the bundle is an older export
t-trunc|good4.ckpt|Bundle ends at seq 3, before checkpoint good4.ckpt \(seq 4\)
good|foreign.ckpt|Checkpoint foreign.ckpt is of chain foreign, not of the bundle's chain prod
good|ckptfile_flip_sig.ckpt|Checkpoint ckptfile_flip_sig.ckpt \(seq 4\): signature invalid
good|ckptfile_fork.ckpt|Checkpoint ckptfile_fork.ckpt \(seq 4\) names head sha256:1212.*differs: the chain was rewritten or forked
good|ckptfile_other_key.ckpt|Checkpoint ckptfile_other_key.ckpt \(seq 4\) is signed by key sha256:[0-9a-f]{64}, not the key in force after seq 4
rgood|good4.ckpt|Checkpoint good4.ckpt \(seq 4\) is signed by key sha256:[0-9a-f]{64}, not the key in force after seq 4
t-ownckpt||Checkpoint checkpoint.ckpt \(seq 5\): signature invalid
good|good/VERIFY.md|Checkpoint good/VERIFY.md invalid: not a checkpoint file
CASES
)

# ---- Phase 1: the units, in order, and the tampered copies this run needs ----
# Every tampered copy is made by one tamper.py process (--batch), in the order listed.
: > tamper.jobs
job() { (IFS=$'\t' && echo "$*") >> tamper.jobs; }
unit pristine
while IFS='|' read -r case layer msg; do
	[ -z "$case" ] && continue
	unit "$case" && job "$case" good "t-$case" k.pem other.pem "$W/foreign"
done <<< "$CASES_BUNDLE"
unit substitute
unit near_miss_pins
unit pin_spellings
unit rotated_checkpoint
unit checkpoint
# Every rotation case starts from rbase, every shard makes it.
job drop_checkpoint_resigned rgood rbase r2.pem stranger.pem "$W/foreign" k.pem
unit rbase
unit rot2 && job rot_second_rotation_resigned rbase t-rot2 r2.pem stranger.pem "$W/foreign" k.pem
while IFS='|' read -r case pin layer msg; do
	[ -z "$case" ] && continue
	unit "$case/$pin" || continue
	if [ "$case" = rot_forged_substitute_resigned ]; then
		# A substituted key also needs its keys/<hex>.pem, or the case fails for that too.
		job "$case" rbase "t-$case.$pin.0" r2.pem stranger.pem "$W/foreign" k.pem
		job sync_key_pems_resigned "t-$case.$pin.0" "t-$case.$pin" r2.pem stranger.pem "$W/foreign" k.pem
	else
		job "$case" rbase "t-$case.$pin" r2.pem stranger.pem "$W/foreign" k.pem
	fi
done <<< "$CASES_ROTATION"
if unit range; then
	job drop_checkpoint_resigned rrange rrbase r2.pem stranger.pem "$W/foreign" k.pem
	job rot_forged_before_range_resigned rrbase t-rrforged r2.pem stranger.pem "$W/foreign" k.pem
fi
# The checkpoint cases' bundles and checkpoint files, made by every shard.
job truncated_consistent_resigned good t-trunc k.pem other.pem "$W/foreign"
job own_checkpoint_flipped_resigned rgood t-ownckpt r2.pem stranger.pem "$W/foreign" k.pem
for c in ckptfile_flip_sig ckptfile_fork ckptfile_other_key; do
	job "$c" good4.ckpt "$c.ckpt" k.pem stranger.pem "$W/foreign"
done
unit truncated
while IFS='|' read -r bundle ckpt msg; do
	[ -z "$bundle" ] && continue
	unit "$bundle against ${ckpt:-its own checkpoint}"
done <<< "$CASES_CHECKPOINT"
unit json && job flip_artifact good j k.pem other.pem "$W/foreign"

# ---- Phase 2: the tampered copies ----
"$PY" "$HERE/tamper.py" --batch tamper.jobs tamper.status
declare -A MADE=()
while read -r dst rc; do MADE[$dst]=$rc; done < tamper.status
# made DST: tamper.py made DST (ran and exited 0).
made() { [ "${MADE[$1]:-none}" = 0 ]; }
for dst in t-trunc t-ownckpt ckptfile_flip_sig.ckpt ckptfile_fork.ckpt ckptfile_other_key.ckpt; do
	made "$dst" || fail "$dst: tamper.py failed"
done

# ---- Phase 3: the checks ----
# expect_layer LAYER DESC CMD... : CMD --json fails in LAYER, so that a case that
# should be caught by one check is not caught by an earlier or later one instead.
expect_layer() {
	local want=$1 desc=$2
	shift 2
	TESTS_RUN=$((TESTS_RUN + 1))
	"$@" --json > "$W/last.json" 2> /dev/null
	if tr -d ' \t\n' < "$W/last.json" | grep -q "\"failure\":{\"layer\":\"$want\""; then
		pass "$desc"
	else
		fail "$desc: not a failure in layer $want"
		sed 's/^/    /' "$W/last.json" >&2
	fi
}

# A hostile case: rejected with exit 1, in LAYER, with an [ERROR] line that matches MSG.
expect_rejected() {
	local name=$1 layer=$2 msg=$3
	shift 3
	expect_exit 1 "$name rejected" "$@" &&
		expect_output "^\[ERROR\] $msg" "$name message" &&
		expect_layer "$layer" "$name fails in layer $layer" "$@"
}

mine pristine && expect_exit 0 "pristine bundle verifies" "$T" verify good --expect-key-fingerprint "$FPR"

while IFS='|' read -r case layer msg; do
	[ -z "$case" ] && continue
	mine "$case" || continue
	made "t-$case" || { fail "$case: tamper.py failed"; continue; }
	expect_rejected "$case" "$layer" "$msg" "$T" verify "t-$case" --expect-key-fingerprint "$FPR"
done <<< "$CASES_BUNDLE"

if mine substitute; then
	# A whole chain re-signed with a substitute key verifies on its own terms, and
	# only pinning the real key's fingerprint catches it.
	"$T" init --store sub --chain prod --key file:other.pem > /dev/null
	for p in show-basic-create show-basic-update show-basic-delete show-requires-replace; do
		"$T" record --store sub --key file:other.pem --plan "$PLANS/$p.json" > /dev/null
	done
	"$T" export --store sub --key file:other.pem --out substitute > /dev/null
	expect_exit 0 "substitute-key chain verifies without pinning" "$T" verify substitute
	expect_output '^\[WARN\] Trusting the bundle.s own key' "unpinned verify warns"
	expect_exit 1 "substitute-key chain fails with pinning" "$T" verify substitute --expect-key-fingerprint "$FPR"
	expect_output '^\[ERROR\] Key fingerprint mismatch' "pinning message"
	echo "$FPR" > fpr.txt
	expect_exit 0 "fingerprint from a file" "$T" verify good --expect-key-fingerprint fpr.txt
	expect_exit 2 "malformed pinned fingerprint" "$T" verify good --expect-key-fingerprint sha256:xyz
fi

# Pinning compares all 64 hex digits: near misses of the real fingerprint, one digit
# changed at the end, in the middle, right after the first 8, and at the first.
hex=${FPR#sha256:}
near() { # near POS: the fingerprint with hex digit POS (0-based) replaced by another
	local c=${hex:$1:1} d=0
	[ "$c" = 0 ] && d=1
	echo "sha256:${hex:0:$1}$d${hex:$(($1 + 1))}"
}
if mine near_miss_pins; then
	for pos in 63 32 8 9 15 0; do
		expect_exit 1 "pin differing in hex digit $pos" "$T" verify good --expect-key-fingerprint "$(near $pos)" &&
			expect_output '^\[ERROR\] Key fingerprint mismatch: bundle key is '"$FPR" "near miss at $pos named"
	done
	near 63 > near.txt
	expect_exit 1 "near-miss pin from a file" "$T" verify good --expect-key-fingerprint near.txt
	expect_output '^\[ERROR\] Key fingerprint mismatch' "near-miss file message"
fi
# Other spellings of the right fingerprint, and wrong lengths, are not fingerprints.
if mine pin_spellings; then
	upper=$(echo "$hex" | tr a-f A-F)
	for bad in "sha256:$upper" "SHA256:$hex" "$hex" "sha256:${hex:0:63}" "sha256:${hex}0" "sha256:${hex:0:8}" \
		"sha256: $hex" "sha256:$hex " "sha256:${hex:0:32}"; do
		expect_exit 2 "pin spelled '$bad' refused" "$T" verify good --expect-key-fingerprint "$bad"
	done
fi

mine rotated_checkpoint && expect_exit 0 "pristine rotated bundle verifies against its checkpoint" \
	"$T" verify rgood --expect-key-fingerprint "$FPR" --checkpoint rcp5.ckpt
mine checkpoint && expect_exit 0 "pristine bundle verifies against its checkpoint" \
	"$T" verify good --expect-key-fingerprint "$FPR" --checkpoint good4.ckpt

# The rotated chain without its own checkpoint, re-signed (rbase): it verifies, and
# each rotation case below starts from it, so that none of them is rejected only
# because re-signed records left a checkpoint naming the old head.
made rbase || fail "drop_checkpoint_resigned: tamper.py failed"
if mine rbase; then
	expect_exit 0 "rotated chain without its checkpoint verifies" "$T" verify rbase --expect-key-fingerprint "$FPR"
	expect_exit 1 "near-miss pin of a rotated chain's anchor" "$T" verify rbase --expect-key-fingerprint "$(near 9)"
	expect_output '^\[ERROR\] Key fingerprint mismatch: bundle anchor key is '"$FPR" "rotated near-miss message"
fi
# The control for the rotations crafted at the head below: a valid second rotation verifies.
if mine rot2; then
	made t-rot2 || fail "rot_second_rotation_resigned: tamper.py failed"
	expect_exit 0 "a crafted second rotation verifies" "$T" verify t-rot2 --expect-key-fingerprint "$FPR"
fi

while IFS='|' read -r case pin layer msg; do
	[ -z "$case" ] && continue
	mine "$case/$pin" || continue
	if [ "$case" = rot_forged_substitute_resigned ]; then
		made "t-$case.$pin.0" || { fail "$case: tamper.py failed"; continue; }
		made "t-$case.$pin" || { fail "$case: tamper.py sync_key_pems_resigned failed"; continue; }
	else
		made "t-$case.$pin" || { fail "$case: tamper.py failed"; continue; }
	fi
	if [ "$pin" = y ]; then set -- --expect-key-fingerprint "$FPR"; else set --; fi
	expect_rejected "$case" "$layer" "$msg" "$T" verify "t-$case.$pin" "$@"
done <<< "$CASES_ROTATION"

# A range that starts right after the rotation: keys/ alone carries the rotation, so
# its signature is checked there or nowhere.
if mine range; then
	made rrbase || fail "drop_checkpoint_resigned (range): tamper.py failed"
	expect_exit 0 "the range 4..5 of the rotated chain verifies" "$T" verify rrbase --expect-key-fingerprint "$FPR"
	made t-rrforged || fail "rot_forged_before_range_resigned: tamper.py failed"
	expect_rejected rot_forged_before_range manifest_signature \
		"Rotation keys/000000000003.json \(seq 3\): signature invalid" \
		"$T" verify t-rrforged --expect-key-fingerprint "$FPR"
fi

mine truncated && expect_exit 0 "a consistently truncated bundle verifies on its own" \
	"$T" verify t-trunc --expect-key-fingerprint "$FPR"
while IFS='|' read -r bundle ckpt msg; do
	[ -z "$bundle" ] && continue
	mine "$bundle against ${ckpt:-its own checkpoint}" || continue
	if [ -n "$ckpt" ]; then set -- --checkpoint "$ckpt"; else set --; fi
	expect_rejected "$bundle against ${ckpt:-its own checkpoint}" checkpoints "$msg" \
		"$T" verify "$bundle" --expect-key-fingerprint "$FPR" "$@"
done <<< "$CASES_CHECKPOINT"

# --json reports the failing layer, file and seq.
if mine json; then
	made j || fail "flip_artifact (json): tamper.py failed"
	expect_exit 1 "json report on failure" "$T" verify j --json
	expect_output '"file_hashes":[[:space:]]*"failed"' "json names the layer"
	expect_output '"file":[[:space:]]*"artifacts/000000000002.json"' "json names the file"
	expect_output '"seq":[[:space:]]*2,' "json names the seq"
fi

units_done
finish
