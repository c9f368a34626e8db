#!/usr/bin/env bash
# `tfattest serve` under load, beside the bare cost of signing and appending.
#
#   bench/serve_bench.sh [BUILD_DIR] [CLIENTS] [COUNT]     (defaults: build, 8, 100)
#
# For a file key (RSA-2048) and, when SoftHSM2 is installed, a SoftHSM2 key
# (RSA-3072), in one run:
#   bare     bench/bench_record: CLIENTS*COUNT appends one after another through
#            the library with one open signer and store (tfa_chain_append);
#            its mean ms per record is the bare cost.
#   service  `tfattest serve` on loopback (TLS, 8 workers), CLIENTS clients
#            (tests/integration/serve_client.py load: one kept-alive connection
#            each) sending COUNT record requests each, all at once. Per record:
#            wall time / records; p50 and p99 of the request latency.
# Checks, whatever the speed: every request answered 200, seqs 1..N with no
# gap or repeat, and the exported chain verifies (no fork). Exits 1 when a
# check fails; the speed goal (service <= 1.2 x bare per record, p99 < 3 x
# p50) is reported, not enforced.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:-$root/build}")
clients=${2:-8}
count=${3:-100}
n=$((clients * count))
T=$build/tfattest
PY=/usr/bin/python3
work=$(mktemp -d "$build/serve-bench.XXXXXX")
spid=
trap '[ -z "$spid" ] || kill -9 "$spid" 2>/dev/null; chmod -R u+w "$work"; rm -rf "$work"' EXIT
cd "$work"
status=0

# The test issuer, a policy, a token, a TLS certificate.
"$PY" "$root/tests/service/oidc_issuer.py" keys --dir iss --rsa k1 > /dev/null
cat > iss/policy.json << 'POLICY'
{"issuers": [{"issuer": "https://token.bench.example", "jwks_file": "jwks.json", "audience": "tfattest"}],
 "allow": [{"issuer": "https://token.bench.example", "subject": "repo:acme/infra:ref:refs/heads/*",
            "chains": ["bench"], "events": ["apply"]}]}
POLICY
"$PY" "$root/tests/service/oidc_issuer.py" mint --dir iss --iss https://token.bench.example \
	--ttl 3600 --claims '{"repository": "acme/infra"}' > token
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -keyout tls.key \
	-out tls.crt -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2> /dev/null
printf '%s' '{"type":"tfattest.record-request","chain_id":"bench","idempotency_key":"@KEY@",
 "event":{"type":"apply","status":"succeeded","exit_code":0},
 "terraform":{"plan_sha256":"sha256:0000000000000000000000000000000000000000000000000000000000000000",
  "version":"1.11.4","changes":[{"address":"terraform_data.web","action":"create"}],"counts":{"create":1}},
 "context":{"host":"runner-1"}}' > body.json
plan=$root/tests/fixtures/terraform/plans/show-basic-create.json

echo "machine: $(nproc) cores, $(uname -r), store on $(df -T "$work" | awk 'NR==2{print $2}')"
echo "records per run: $n ($clients clients x $count)"

run() { # NAME KEY_URI
	local name=$1 key=$2 bare wall
	echo
	echo "== $name"
	echo "\$ $build/bench/bench_record $work/bare-$name '$key' $plan $n"
	bare=$("$build/bench/bench_record" "$work/bare-$name" "$key" "$plan" "$n" | awk '$1 == "all" {print $2}')
	echo "bare sign+append, mean per record: $bare ms"

	"$T" init --store "svc-$name" --chain bench --key "$key" > /dev/null
	"$T" serve --listen 127.0.0.1:0 --store "svc-$name" --key "$key" --policy iss/policy.json \
		--tls-cert tls.crt --tls-key tls.key --workers 8 --queue 256 --checkpoint-every 0 \
		--ready-file ready-$name 2> "serve-$name.err" &
	spid=$!
	for _ in $(seq 100); do [ -s "ready-$name" ] && break; sleep 0.1; done
	echo "\$ tfattest serve --listen 127.0.0.1:0 --store ... --key '$key' --workers 8 ..."
	echo "\$ serve_client.py load $(cat "ready-$name") tls.crt token body.json $clients $count lat-$name"
	wall=$("$PY" "$root/tests/integration/serve_client.py" load "$(cat "ready-$name")" tls.crt token \
		body.json "$clients" "$count" "lat-$name")
	kill -TERM "$spid"
	wait "$spid" || { echo "CHECK FAILED: the service did not exit 0"; status=1; }
	spid=
	"$PY" - "lat-$name" "$n" "$wall" "$bare" << 'PYEOF' || status=1
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
n, wall, bare = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
bad = [r for r in rows if r[0] != "200"]
seqs = sorted(int(r[1]) for r in rows if r[0] == "200")
lat = sorted(float(r[2]) for r in rows)
pct = lambda p: lat[min(len(lat) - 1, int(round(p / 100.0 * (len(lat) - 1))))]
per = wall * 1000.0 / n
print("service: %d records in %.2f s: %.1f records/s, %.2f ms per record" % (n, wall, n / wall, per))
print("latency: p50 %.1f ms, p99 %.1f ms, p99/p50 %.2f (goal < 3)" % (pct(50), pct(99), pct(99) / pct(50)))
print("service per record / bare per record: %.2f (goal <= 1.20)" % (per / bare))
ok = True
if bad or len(rows) != n:
    print("CHECK FAILED: %d of %d requests not answered 200" % (len(bad) + n - len(rows), n)); ok = False
if seqs != list(range(1, n + 1)):
    print("CHECK FAILED: the seqs are not 1..%d, each once" % n); ok = False
else:
    print("seqs 1..%d, contiguous, each once" % n)
sys.exit(0 if ok else 1)
PYEOF
	rm -rf "bundle-$name"
	if "$T" export --store "svc-$name" --key "$key" --out "bundle-$name" > /dev/null &&
		"$T" verify "bundle-$name" > "verify-$name.out"; then
		echo "the exported chain verifies: $(grep -c . "verify-$name.out") lines, $(grep 'Hash chain' "verify-$name.out")"
	else
		echo "CHECK FAILED: the exported chain does not verify"
		status=1
	fi
}

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out k.pem 2> /dev/null
run file "file:$work/k.pem"
if command -v softhsm2-util > /dev/null && [ -f /usr/lib/softhsm/libsofthsm2.so ]; then
	eval "$(sh "$root/softhsm/init-token.sh" "$work/hsm")"
	export SOFTHSM2_CONF
	run softhsm2 "$TFATTEST_RSA_URI"
else
	echo
	echo "== softhsm2: not installed, skipped"
fi
exit "$status"
