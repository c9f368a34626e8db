set -e
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
# The first value of a string member in a canonical JSON file.
field() { grep -o "\"$1\":\"[^\"]*\"" "$2" | head -n 1 | cut -d'"' -f4; }
seq_of() { grep -o '"seq":[0-9]*' "$1" | head -n 1 | cut -d: -f2; }
# A key's PEM: keys/<hex>.pem when the chain has rotated, else public_key.pem.
key_for() { if [ -f "keys/${1#sha256:}.pem" ]; then echo "keys/${1#sha256:}.pem"; else echo public_key.pem; fi; }
opts_for() { [ "$1" = RSASSA_PSS_SHA_256 ] && echo "-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32" || true; }
fpr_of() { echo "sha256:$(openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1)"; }
# An RSA signature is exactly as long as the key's modulus (openssl alone accepts a
# shorter one): siglen_ok KEY ALGORITHM SIGNATURE.
siglen_ok() {
  case "$2" in RSASSA_*)
    bits=$(openssl pkey -pubin -in "$1" -noout -text | sed -n 's/.*Public-Key: (\([0-9]*\) bit).*/\1/p' | head -n 1)
    [ $(($(wc -c < "$3"))) -eq $(((bits + 7) / 8)) ] || { echo "$3 is not $(((bits + 7) / 8)) bytes long"; exit 1; } ;;
  esac
}

# 0. The anchor (the chain's first key). Compare ANCHOR with the fingerprint you
#    were given out of band, then check that its key file holds it.
[ "$(fpr_of "$(key_for "$ANCHOR")")" = "$ANCHOR" ] || { echo "anchor key file mismatch"; exit 1; }

# 1. The manifest's signature. A chain-signed manifest (schema 1) is signed by the
#    chain's key in public_key.pem (step 4 shows that the anchor hands over to
#    exactly that key). An exporter-signed one (schema 2, "kind":"exporter-signed")
#    is signed by the exporter's own key in exporter_key.pem, which must be no key
#    of the chain (step 4): it says who assembled the bundle, not that the chain's
#    key holder exported this range, so only a checkpoint (step 5) shows the range
#    is complete.
mkey=public_key.pem
if grep -q '"kind":"exporter-signed"' manifest.json; then
  mkey=exporter_key.pem
  echo "manifest signed by the exporter's key $(fpr_of exporter_key.pem), not by the chain's key"
fi
[ "$(fpr_of "$mkey")" = "$(field key_fingerprint manifest.json)" ] || { echo "manifest names another key than $mkey"; exit 1; }
siglen_ok "$mkey" "$(field algorithm manifest.json)" manifest.sig
openssl dgst -sha256 -verify "$mkey" $(opts_for "$(field algorithm manifest.json)") \
  -signature manifest.sig manifest.json

# 2. Every file's SHA-256, and no file that the manifest does not list.
sums=$(grep -o '"path":"[^"]*","sha256":"[0-9a-f]*"' manifest.json |
  sed 's/"path":"\([^"]*\)","sha256":"\([0-9a-f]*\)"/\2  \1/')
printf '%s\n' "$sums" | sha256sum --quiet -c -
listed=$(printf '%s\n' "$sums" | cut -c67- | sort)
found=$(find . -type f ! -name manifest.json ! -name manifest.sig | sed 's|^\./||' | sort)
[ "$listed" = "$found" ] || { echo "files differ from the manifest's list"; exit 1; }

# 3. The hash chain: each artifact's prev_hash is the SHA-256 of the one before.
prev=$BASE
for f in artifacts/*.json; do
  grep -q "\"prev_hash\":\"$prev\"" "$f" || { echo "chain broken at $f"; exit 1; }
  prev="sha256:$(sha256sum < "$f" | cut -d' ' -f1)"
done
grep -q "\"head_hash\":\"$prev\"" manifest.json || { echo "head hash mismatch"; exit 1; }
# Rotation records under keys/ link to the records next to them: to each other,
# and to the range's first and last record.
ps=; ph=
for n in $( (ls keys 2>/dev/null || true; ls artifacts) | grep '^[0-9]\{12\}\.json$' | sort -u); do
  f=artifacts/$n
  [ -f "$f" ] || f=keys/$n
  s=$(echo "$n" | sed 's/^0*//; s/\.json$//')
  if [ -n "$ps" ] && [ "$s" -eq $((ps + 1)) ]; then
    grep -q "\"prev_hash\":\"$ph\"" "$f" || { echo "$f does not link to seq $ps"; exit 1; }
  fi
  ps=$s
  ph="sha256:$(sha256sum < "$f" | cut -d' ' -f1)"
done

# 4. Every signature, by the key in force: from the anchor, each rotation record
#    (keys/, and in the range also artifacts/) is signed by the key in force and
#    carries a proof of possession by the new key, which signs from the next seq.
cur=$ANCHOR
for n in $( (ls keys 2>/dev/null || true; ls artifacts) | grep '^[0-9]\{12\}\.json$' | sort -u); do
  f=artifacts/$n
  [ -f "$f" ] || f=keys/$n
  if [ -f "artifacts/$n" ] && [ -f "keys/$n" ]; then
    cmp -s "artifacts/$n" "keys/$n" || { echo "keys/$n differs from artifacts/$n"; exit 1; }
  fi
  [ "$(field key_fingerprint "$f")" = "$cur" ] || { echo "$f is not signed by the key in force, $cur"; exit 1; }
  siglen_ok "$(key_for "$cur")" "$(field algorithm "$f")" "${f%.json}.sig"
  openssl dgst -sha256 -verify "$(key_for "$cur")" $(opts_for "$(field algorithm "$f")") \
    -signature "${f%.json}.sig" "$f" > /dev/null || { echo "bad signature: $f"; exit 1; }
  if grep -q '"type":"rotate"' "$f"; then
    new=$(field new_key_fingerprint "$f")
    alg=$(field new_algorithm "$f")
    printf '{"chain_id":"%s","new_algorithm":"%s","new_key_fingerprint":"%s","old_key_fingerprint":"%s","prev_hash":"%s","seq":%s,"type":"tfattest.rotation-pop"}' \
      "$(field chain_id "$f")" "$alg" "$new" "$cur" "$(field prev_hash "$f")" "$(seq_of "$f")" > "$t/pop.json"
    field pop_signature "$f" | openssl base64 -d -A > "$t/pop.sig"
    [ "$(fpr_of "$(key_for "$new")")" = "$new" ] || { echo "no key file for $new"; exit 1; }
    siglen_ok "$(key_for "$new")" "$alg" "$t/pop.sig"
    openssl dgst -sha256 -verify "$(key_for "$new")" $(opts_for "$alg") -signature "$t/pop.sig" \
      "$t/pop.json" > /dev/null || { echo "bad proof of possession: $f"; exit 1; }
    echo "rotation at seq $(seq_of "$f"): $new replaces $cur"
    cur=$new
  fi
done
[ "$(fpr_of public_key.pem)" = "$cur" ] || { echo "public_key.pem is not the key in force at export"; exit 1; }
if [ "$mkey" = exporter_key.pem ]; then
  for k in public_key.pem $(ls keys/*.pem 2>/dev/null); do
    [ "$(fpr_of "$k")" != "$(fpr_of exporter_key.pem)" ] || { echo "the exporter's key is a key of the chain"; exit 1; }
  done
fi

# 5. Checkpoints: set CKPT to a checkpoint file you obtained out of band (and
#    TSA_CA to your TSA's CA certificate to check its timestamp). The bundle's own
#    checkpoint.ckpt is checked the same way, but proves nothing by itself.
for c in ${CKPT:-} checkpoint.ckpt; do
  [ -f "$c" ] || continue
  sed -n 2p "$c" | tr -d '\n' > "$t/cp.json"
  sed -n 's/^sig //p' "$c" | openssl base64 -d -A > "$t/cp.sig"
  [ "$(field chain_id "$t/cp.json")" = "$CHAIN" ] || { echo "$c is of another chain"; exit 1; }
  cs=$(seq_of "$t/cp.json")
  kc=$ANCHOR   # the key in force after seq cs
  for r in $(ls keys 2>/dev/null | grep '^[0-9]\{12\}\.json$'); do
    [ "$(seq_of "keys/$r")" -le "$cs" ] && kc=$(field new_key_fingerprint "keys/$r")
  done
  [ "$(field key_fingerprint "$t/cp.json")" = "$kc" ] || { echo "$c is not signed by the key in force"; exit 1; }
  siglen_ok "$(key_for "$kc")" "$(field algorithm "$t/cp.json")" "$t/cp.sig"
  openssl dgst -sha256 -verify "$(key_for "$kc")" $(opts_for "$(field algorithm "$t/cp.json")") \
    -signature "$t/cp.sig" "$t/cp.json" > /dev/null || { echo "bad checkpoint signature: $c"; exit 1; }
  head=$(field head_hash "$t/cp.json")
  a=artifacts/$(printf '%012d' "$cs").json
  if [ -f "$a" ]; then
    [ "sha256:$(sha256sum < "$a" | cut -d' ' -f1)" = "$head" ] || { echo "$c: the chain was rewritten"; exit 1; }
  elif [ "$cs" -eq $((FROM - 1)) ]; then
    [ "$BASE" = "$head" ] || { echo "$c: the chain was rewritten"; exit 1; }
  else
    echo "the bundle (seq $FROM..$TO) does not reach $c (seq $cs)"; exit 1
  fi
  if grep -q '^tsa ' "$c" && [ -n "${TSA_CA:-}" ]; then
    sed -n 's/^tsa [0-9a-f]* //p' "$c" | openssl base64 -d -A > "$t/cp.tsr"
    openssl ts -verify -digest "$(sha256sum "$t/cp.json" | cut -c1-64)" -in "$t/cp.tsr" -CAfile "$TSA_CA"
  fi
  echo "checkpoint $c (seq $cs) reached"
done
echo "bundle verified"
