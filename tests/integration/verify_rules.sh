#!/usr/bin/env bash
# The key and bundle-content rules of the verifier, one hostile bundle per
# rule: each is rejected with exit 1, in the layer of its rule, with the
# [ERROR] line of that rule and no other (forge.py redoes everything else an
# attacker holding the keys could redo). The neighbours that must pass, pass.
. "$(dirname "$0")/../lib/common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON_CRYPTOGRAPHY:-/usr/bin/python3}
"$PY" -c 'import cryptography' 2> /dev/null || { echo "skip: $PY has no cryptography module"; exit 77; }
cd "$W" || exit 2

new_ec_key a.pem
new_rsa_key b.pem
new_ec_key c.pem
new_ec_key p.pem
new_rsa_key r.pem
new_ec_key stranger.pem
rec() { "$T" record --store "$1" --key "file:$2" --plan "$PLANS/show-basic-create.json" "${@:3}" > /dev/null || exit 2; }

# prod: 1, 2 by a; 3 rotates a -> b; 4 rotates b -> c; 5; 6 rolls back to 2; 7.
"$T" init --store s --chain prod --key file:a.pem > /dev/null || exit 2
rec s a.pem
rec s a.pem
"$T" rotate --store s --key file:a.pem --new-key file:b.pem > /dev/null || exit 2
"$T" rotate --store s --key file:b.pem --new-key file:c.pem > /dev/null || exit 2
rec s c.pem
rec s c.pem --event rollback --rollback-to 2
rec s c.pem
"$T" export --store s --key file:c.pem --out full > /dev/null || exit 2
"$T" export --store s --key file:c.pem --out from6 --from 6 > /dev/null || exit 2
"$T" export --store s --key file:c.pem --out from5 --from 5 > /dev/null || exit 2
"$T" export --store s --key file:c.pem --out to2 --to 2 > /dev/null || exit 2
# plain: one EC key, no rotation; rsa: one RSA key.
"$T" init --store ps --chain plain --key file:p.pem > /dev/null || exit 2
for i in 1 2 3; do rec ps p.pem; done
"$T" export --store ps --key file:p.pem --out plain > /dev/null || exit 2
"$T" export --store ps --key file:p.pem --out plainr --from 2 > /dev/null || exit 2
"$T" init --store rs --chain rsa --key file:r.pem > /dev/null || exit 2
for i in 1 2; do rec rs r.pem; done
"$T" export --store rs --key file:r.pem --out rsa > /dev/null || exit 2

for b in full from6 from5 to2 plain plainr rsa; do
	expect_exit 0 "pristine bundle $b verifies" "$T" verify "$b"
done

layer_name() {
	case $1 in
	1) echo manifest_signature ;; 2) echo file_hashes ;; 3) echo hash_chain ;;
	4) echo artifact_signatures ;; 5) echo checkpoints ;;
	esac
}

# check NAME BUNDLE LAYER MESSAGE: rejected in LAYER (text and --json), with MESSAGE.
check() {
	local name=$1 b=$2 layer=$3 msg=$4
	expect_exit 1 "$name rejected" "$T" verify "$b" &&
		expect_output "^\[ERROR\] $msg" "$name message"
	expect_exit 1 "$name rejected (--json)" "$T" verify "$b" --json &&
		expect_output "\"$(layer_name "$layer")\":[[:space:]]*\"failed\"" "$name fails in layer $layer"
}

# case | source bundle | keys | layer | message (extended regex)
while IFS='|' read -r case src keys layer msg; do
	[ -z "$case" ] && continue
	# shellcheck disable=SC2086
	"$PY" "$HERE/forge.py" "$case" "$src" "f-$case" $keys || { fail "$case: forge.py failed"; continue; }
	check "$case" "f-$case" "$layer" "$msg"
done <<'CASES'
rot_retired_back|full|c.pem a.pem|1|Rotation keys/000000000008.json \(seq 8\): brings back the retired key sha256:[0-9a-f]{64}$
rot_retired_back_compressed|full|c.pem a.pem|1|Rotation keys/000000000008.json \(seq 8\): the new key is unusable: public key is not in canonical form \(compressed or hybrid EC point\)
pubkey_compressed|plain|p.pem|1|Public key unusable: public key is not in canonical form \(compressed or hybrid EC point\)
pubkey_rsa_no_null|rsa|r.pem|1|Public key unusable: public key is not in canonical form \(RSA key parameters are not NULL\)
manifest_sig_rsa_short|rsa|r.pem|1|Manifest signature invalid: RSA signature is 255 bytes, not the modulus length \(256 bytes\)
artifact_sig_rsa_short|rsa|r.pem|4|Signature invalid for artifacts/000000000002.json \(seq 2\)
manifest_sig_ecdsa_trailing|plain|p.pem|1|Manifest signature invalid: ECDSA signature is not one DER SEQUENCE of two INTEGERs
manifest_sig_ecdsa_nonminimal|plain|p.pem|1|Manifest signature invalid: ECDSA signature is not (one DER SEQUENCE of two INTEGERs|strict DER)
extra_path|plain|p.pem|1|Manifest invalid: manifest lists notes.txt, which is not a path a bundle may hold
keys_sig_alone|full|c.pem|1|Manifest lists keys/000000000012.sig but not keys/000000000012.json
keys_pem_extra|full|c.pem stranger.pem|1|keys/[0-9a-f]{64}.pem is not a key the bundle's rotations name
keys_pem_missing|full|c.pem b.pem|1|Manifest does not list keys/[0-9a-f]{64}.pem, the rotated-in key sha256:
keys_fork_link|from6|b.pem c.pem c.pem|1|Rotation keys/000000000004.json \(seq 4\): prev_hash is not the hash of keys/000000000003.json
keys_fork_base|from5|b.pem c.pem c.pem|1|Rotation keys/000000000004.json \(seq 4\) is not the record the manifest's base_hash names
keys_fork_head|to2|a.pem b.pem c.pem|1|Rotation keys/000000000003.json \(seq 3\): prev_hash is not the manifest's head_hash
rollback_hash|full|c.pem|3|Rollback artifacts/000000000006.json \(seq 6\): rollback_to.hash is not the hash of artifacts/000000000002.json
genesis_prev|plain|p.pem|3|Invalid artifact artifacts/000000000002.json \(seq 2\): artifact prev_hash is the genesis value but seq is not 1
genesis_base|plainr|p.pem|1|Manifest invalid: manifest base_hash is the genesis value but from_seq is 2
nonchar_context|plain|p.pem|3|Invalid artifact artifacts/000000000002.json \(seq 2\): json: Unicode noncharacter in string at byte
CASES

# ECDSA signatures are malleable and both forms verify: (r, n - s) is accepted.
"$PY" "$HERE/forge.py" manifest_sig_ecdsa_high_s plain f-high-s p.pem || fail "high-S: forge.py failed"
expect_exit 0 "a high-S ECDSA manifest signature verifies" "$T" verify f-high-s

# public_key.pem with explicit EC parameters, or an RSASSA-PSS (id-RSASSA-PSS) key.
cp -r plain f-explicit && chmod -R u+w f-explicit
openssl pkey -in p.pem -pubout -ec_param_enc explicit -out f-explicit/public_key.pem 2> /dev/null ||
	openssl ec -in p.pem -pubout -param_enc explicit -out f-explicit/public_key.pem 2> /dev/null
check pubkey_explicit_ec f-explicit 1 \
	"Public key unusable: (public key is not in canonical form \(EC key without the named curve prime256v1\)|unsupported public key)"
openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out pss.pem 2> /dev/null
cp -r rsa f-pss && chmod -R u+w f-pss
openssl pkey -in pss.pem -pubout -out f-pss/public_key.pem
check pubkey_rsa_pss_oid f-pss 1 \
	"Public key unusable: (public key is not in canonical form \(RSASSA-PSS key|unsupported public key)"

# At most 64 keys over a chain's life: 63 rotations make 64 keys; a 65th is refused.
new_ec_key k0.pem
"$T" init --store ks --chain many --key file:k0.pem > /dev/null || exit 2
for i in $(seq 1 63); do
	new_ec_key "k$i.pem"
	"$T" rotate --store ks --key "file:k$((i - 1)).pem" --new-key "file:k$i.pem" > /dev/null || exit 2
done
"$T" export --store ks --key file:k63.pem --out many > /dev/null || exit 2
expect_exit 0 "a chain of 64 keys verifies" "$T" verify many
"$PY" "$HERE/forge.py" rot_65th_key many f-65 k63.pem || fail "rot_65th_key: forge.py failed"
check rot_65th_key f-65 1 "Rotation keys/000000000064.json \(seq 64\): brings in a key beyond the limit of 64 keys"

finish
