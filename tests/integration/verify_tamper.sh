#!/usr/bin/env bash
# Hostile bundles: each tampering must be rejected with exit 1, the right
# message, and no crash. The pristine bundle must verify.
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

expect_exit 0 "pristine bundle verifies" "$T" verify good --expect-key-fingerprint "$FPR"

# case | expected message (extended regex)
while IFS='|' read -r case msg; do
	[ -z "$case" ] && continue
	"$PY" "$HERE/tamper.py" "$case" good "t-$case" k.pem other.pem "$W/foreign" || { fail "$case: tamper.py failed"; continue; }
	expect_exit 1 "$case rejected" "$T" verify "t-$case" --expect-key-fingerprint "$FPR" &&
		expect_output "^\[ERROR\] $msg" "$case message"
done <<'CASES'
flip_manifest|Manifest (invalid|signature invalid)
flip_manifest_sig|Manifest signature invalid
truncate_manifest_sig|Manifest signature invalid
swap_manifest_sig|Manifest signature invalid
delete_manifest|Manifest unreadable
delete_pubkey|Manifest does not list|Public key unusable
substitute_pubkey|Key fingerprint mismatch
garbage_pubkey|Public key unusable
manifest_not_json|Manifest invalid
flip_artifact|Hash mismatch for artifacts/000000000002.json \(seq 2\)
flip_artifact_sig|Hash mismatch for artifacts/000000000002.sig \(seq 2\)
flip_verify_md|Hash mismatch for VERIFY.md
truncate_artifact|Hash mismatch for artifacts/000000000002.json
delete_artifact|Missing file: artifacts/000000000002.json
delete_artifact_sig|Missing file: artifacts/000000000003.sig
extra_file|File not listed in manifest: artifacts/notes.txt
extra_artifact|File not listed in manifest: artifacts/000000000005.json
rename_artifact|(File not listed in manifest: artifacts/000000000002.jsn|Missing file: artifacts/000000000002.json)
symlink_artifact|Symlink in bundle: artifacts/000000000002.json
symlink_dir|Symlink in bundle: artifacts
fifo_in_bundle|Not a regular file: artifacts/pipe
empty_dir|Empty directory in bundle: artifacts/extra
absolute_path_resigned|Manifest invalid: path /etc/passwd is absolute
dotdot_path_resigned|Manifest invalid: path artifacts/../../outside has a component starting with '.'
symlink_listed_resigned|Symlink in bundle: zz-link
unsorted_paths_resigned|Manifest invalid: manifest paths are not unique and in order
duplicate_path_resigned|Manifest invalid: manifest paths are not unique and in order
gap_resigned|Sequence gap: manifest does not list artifacts/000000000002.json
reorder_resigned|Sequence mismatch: artifacts/000000000002.json holds seq 3
duplicate_artifact_resigned|Sequence mismatch: artifacts/000000000003.json holds seq 2
truncated_chain_resigned|Head hash mismatch
wrong_head_hash_resigned|Head hash mismatch
wrong_base_hash_resigned|Chain broken at artifacts/000000000001.json \(seq 1\)
splice_foreign_resigned|Chain id mismatch in artifacts/000000000004.json \(seq 4\): foreign
chain_id_changed_resigned|Chain id mismatch in artifacts/000000000004.json
seq_changed_resigned|Sequence mismatch: artifacts/000000000004.json holds seq 9
noncanonical_artifact_resigned|Invalid artifact artifacts/000000000004.json \(seq 4\): artifact bytes are not in RFC 8785 canonical form
duplicate_key_artifact_resigned|Invalid artifact artifacts/000000000004.json \(seq 4\): .*duplicate
duplicate_key_manifest_resigned|Manifest invalid: manifest is not canonical JSON: .*(duplicate|order)
noncanonical_manifest_resigned|Manifest invalid: manifest is not canonical JSON: .*white space
unknown_member_manifest_resigned|Manifest invalid: manifest has an unknown member "extra"
deep_nesting_artifact_resigned|Invalid artifact artifacts/000000000004.json \(seq 4\): .*(nest|depth)
huge_artifact_resigned|Hash mismatch for artifacts/000000000004.json
other_key_sig_resigned|Signature invalid for artifacts/000000000004.json \(seq 4\)
swapped_sigs_resigned|Signature invalid for artifacts/000000000001.json \(seq 1\)
truncated_sig_resigned|Signature invalid for artifacts/000000000002.json \(seq 2\)
alg_mismatch_resigned|Algorithm ECDSA_SHA_256 of artifacts/000000000004.json \(seq 4\) does not fit the key
foreign_key_named_resigned|Artifact artifacts/000000000004.json \(seq 4\) names signing key sha256:efef
CASES

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
expect_exit 0 "pristine rotated bundle verifies against its checkpoint" \
	"$T" verify rgood --expect-key-fingerprint "$FPR" --checkpoint rcp5.ckpt
expect_exit 0 "pristine bundle verifies against its checkpoint" \
	"$T" verify good --expect-key-fingerprint "$FPR" --checkpoint good4.ckpt

# case | pin the anchor (y/n) | expected message
while IFS='|' read -r case pin msg; do
	[ -z "$case" ] && continue
	rm -rf "t-$case"
	"$PY" "$HERE/tamper.py" "$case" rgood "t-$case" r2.pem stranger.pem "$W/foreign" k.pem ||
		{ fail "$case: tamper.py failed"; continue; }
	if [ "$pin" = y ]; then set -- --expect-key-fingerprint "$FPR"; else set --; fi
	expect_exit 1 "$case rejected" "$T" verify "t-$case" "$@" &&
		expect_output "^\[ERROR\] $msg" "$case message"
done <<'CASES'
rot_pop_missing_resigned|y|Invalid rotation record keys/000000000003.json \(seq 3\): artifact rotation has no "pop_signature"
rot_pop_wrong_resigned|y|Rotation keys/000000000003.json \(seq 3\): proof of possession invalid
rot_pop_other_seq_resigned|y|Rotation keys/000000000003.json \(seq 3\): proof of possession invalid
rot_new_key_unsupported_resigned|y|Rotation keys/000000000003.json \(seq 3\): the new key is unusable
rot_new_key_garbage_resigned|y|Rotation keys/000000000003.json \(seq 3\): the new key is unusable
rot_forged_substitute_resigned|y|Rotation keys/000000000003.json \(seq 3\): signature invalid
rot_forged_substitute_resigned|n|Rotation keys/000000000003.json \(seq 3\): signature invalid
rot_old_key_after_resigned|y|Artifact artifacts/000000000005.json \(seq 5\) names signing key sha256:[0-9a-f]{64}, not the key in force at seq 5
rot_manifest_unreachable_resigned|y|Manifest names signing key sha256:[0-9a-f]{64}, which is not the key in force at export
rot_keys_dropped_resigned|y|Key fingerprint mismatch: bundle key is
rot_unlisted_rotation_resigned|n|Rotation artifacts/000000000003.json \(seq 3\) is not among the bundle's keys/ rotation records
rot_pem_mismatch_resigned|y|keys/[0-9a-f]{64}.pem holds key sha256:[0-9a-f]{64}, not the key its name says
CASES

# Bundles held to checkpoints: bundle | checkpoint | expected message
"$PY" "$HERE/tamper.py" truncated_consistent_resigned good t-trunc k.pem other.pem "$W/foreign"
expect_exit 0 "a consistently truncated bundle verifies on its own" "$T" verify t-trunc --expect-key-fingerprint "$FPR"
"$PY" "$HERE/tamper.py" own_checkpoint_flipped_resigned rgood t-ownckpt r2.pem stranger.pem "$W/foreign" k.pem
for c in ckptfile_flip_sig ckptfile_fork ckptfile_other_key; do
	"$PY" "$HERE/tamper.py" "$c" good4.ckpt "$c.ckpt" k.pem stranger.pem "$W/foreign" || fail "$c: tamper.py failed"
done
while IFS='|' read -r bundle ckpt msg; do
	[ -z "$bundle" ] && continue
	if [ -n "$ckpt" ]; then set -- --checkpoint "$ckpt"; else set --; fi
	expect_exit 1 "$bundle against ${ckpt:-its own checkpoint} rejected" \
		"$T" verify "$bundle" --expect-key-fingerprint "$FPR" "$@" &&
		expect_output "^\[ERROR\] $msg" "$bundle/$ckpt message"
done <<'CASES'
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

# --json reports the failing layer, file and seq.
"$PY" "$HERE/tamper.py" flip_artifact good j k.pem other.pem "$W/foreign"
expect_exit 1 "json report on failure" "$T" verify j --json
expect_output '"file_hashes":[[:space:]]*"failed"' "json names the layer"
expect_output '"file":[[:space:]]*"artifacts/000000000002.json"' "json names the file"
expect_output '"seq":[[:space:]]*2,' "json names the seq"

finish
