#!/usr/bin/env bash
# `tfattest serve` end to end on loopback with TLS: records made through it
# verify, and each record's identity section is the token's verified claims;
# a replayed idempotency key returns the first record; health, the checkpoint
# endpoint, the access log (never a token); and SIGTERM with a request in
# progress: that request still completes, then the service exits 0.
. "$(dirname "$0")/serve_lib.sh"
cd "$W" || exit 2

new_rsa_key k.pem 2048
K=file:$W/k.pem
FPR=$("$T" pubkey --key "$K" | tail -1)
"$T" init --store s --chain prod --key "$K" > /dev/null
make_tls tls
make_issuer iss
# A second rule that tests a claim FORMAT.md does not keep: the service must pass it on.
"$PY" - iss/policy.json << 'PYEOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["allow"].append({"issuer": p["issuers"][0]["issuer"], "subject": "repo:acme/team:*",
                   "chains": ["prod"], "events": ["apply"], "claims": {"team": "plat*"}})
json.dump(p, open(sys.argv[1], "w"))
PYEOF
serve_start srv --listen 127.0.0.1:0 --store s --key "$K" --policy iss/policy.json \
	--tls-cert tls/tls.crt --tls-key tls/tls.key --access-log access.log --checkpoint-every 2

TOK=$(token iss repo:acme/infra:ref:refs/heads/main repository=acme/infra ref=refs/heads/main \
	actor=octocat not_kept=zzz)
expect_status 200 "a record through the service" "$(post "$TOK" "$(body run-0001-aaaaaaaa)")"
cp reply first.json
check "the reply names seq 1" grep -q '"seq":1,' reply
expect_status 200 "a second record" "$(post "$TOK" "$(body run-0002-aaaaaaaa destroy)")"
check "the reply names seq 2" grep -q '"seq":2,' reply
expect_status 200 "the first key again" "$(post "$TOK" "$(body run-0001-aaaaaaaa)")"
check "a replay returns the first record" "$PY" -c '
import json, sys
a, b = json.load(open("first.json")), json.load(open("reply"))
sys.exit(not (b["replayed"] and a["seq"] == b["seq"] and a["artifact"] == b["artifact"]))'
check "nothing appended for the replay" [ "$(head_seq s)" = 2 ]

# A rule on a claim of the policy's own: the claim reaches the policy and the record.
expect_status 403 "team=other is refused" \
	"$(post "$(token iss repo:acme/team:ref:refs/heads/main team=other)" "$(body team-0000000000001)")"
expect_status 200 "team=platform is allowed" \
	"$(post "$(token iss repo:acme/team:ref:refs/heads/main team=platform)" "$(body team-0000000000001)")"
check "the policy's claim is in the identity" "$PY" -c '
import base64, json, sys
a = json.loads(base64.b64decode(json.load(open("reply"))["artifact"]))
sys.exit(a["identity"]["claims"] != {"team": "platform"})'
TESTS_RUN=$((TESTS_RUN + 1))
[ "$(head_seq s)" = 3 ] && pass "three records" || fail "head $(head_seq s), wanted 3"

# Export and verify offline; the identity section equals the token's claims.
expect_exit 0 "export" "$T" export --store s --key "$K" --out bundle
expect_exit 0 "the bundle verifies" "$T" verify bundle --expect-key-fingerprint "$FPR"
check "identity section = the token's verified claims" "$PY" - "$TOK" bundle/artifacts/000000000001.json << 'PYEOF'
import base64, json, sys, datetime
tok, art = sys.argv[1], json.load(open(sys.argv[2]))
p = tok.split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
ident = art["identity"]
ts = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
want = {"method": "oidc", "issuer": claims["iss"], "subject": claims["sub"],
        "audience": claims["aud"], "issued_at": ts(claims["iat"]), "expires_at": ts(claims["exp"]),
        "claims": {k: claims[k] for k in ("repository", "ref", "actor")}, "verified_by": "serve"}
got = {k: ident.get(k) for k in want}
if got != want:
    print("identity", json.dumps(ident), "\nwanted", json.dumps(want))
    sys.exit(1)
if art["context"].get("claimed_by") != "client":
    print("context not marked as claimed:", art["context"])
    sys.exit(1)
PYEOF

# Health and the checkpoint the service made after two records.
TESTS_RUN=$((TESTS_RUN + 1))
h=$(curl -sS --cacert tls/ca.crt "https://$ADDR/v1/health")
echo "$h" | grep -q '"chain_id":"prod","head_seq":3,"status":"ok"' && pass "health" || fail "health: $h"
for _ in $(seq 50); do
	curl -sS --cacert tls/ca.crt -o cp.ckpt -w '%{http_code}' "https://$ADDR/v1/checkpoint" | grep -q 200 && break
	sleep 0.1
done
check "a checkpoint of seq 2 or 3" grep -Eq '"seq":(2|3),' cp.ckpt
expect_exit 0 "the bundle reaches the service's checkpoint" \
	"$T" verify bundle --expect-key-fingerprint "$FPR" --checkpoint cp.ckpt
expect_output "reaches trusted checkpoint cp.ckpt \\(seq [23]" "checkpoint trusted"
TESTS_RUN=$((TESTS_RUN + 1))
c=$(curl -sS --cacert tls/ca.crt -o /dev/null -w '%{http_code}' -X POST "https://$ADDR/v1/health")
[ "$c" = 405 ] && pass "POST /v1/health is 405" || fail "POST /v1/health: $c"
TESTS_RUN=$((TESTS_RUN + 1))
c=$(curl -sS --cacert tls/ca.crt -o /dev/null -w '%{http_code}' "https://$ADDR/v1/other")
[ "$c" = 404 ] && pass "an unknown path is 404" || fail "unknown path: $c"
TESTS_RUN=$((TESTS_RUN + 1))
c=$(curl -sS --cacert tls/ca.crt -o /dev/null -w '%{http_code}' "https://$ADDR/v1/records")
[ "$c" = 405 ] && pass "GET /v1/records is 405" || fail "GET /v1/records: $c"
TESTS_RUN=$((TESTS_RUN + 1))
if openssl s_client -connect "$ADDR" -tls1_1 -CAfile tls/ca.crt < /dev/null > /dev/null 2>&1; then
	fail "TLS 1.1 was accepted"
else
	pass "TLS 1.1 refused"
fi

# SIGTERM with a request in progress: it completes; the service exits 0.
"$PY" "$CLIENT" slowpost "$ADDR" tls/ca.crt "$TOK" "$(body run-0004-aaaaaaaa)" sent go > slow.out &
CPID=$!
for _ in $(seq 100); do [ -e sent ] && break; sleep 0.05; done
kill -TERM "$SERVE_PID"
sleep 0.3
TESTS_RUN=$((TESTS_RUN + 1))
curl -sS --cacert tls/ca.crt -o /dev/null "https://$ADDR/v1/health" 2> /dev/null &&
	fail "a new connection was accepted after SIGTERM" || pass "no new connections after SIGTERM"
touch go
wait "$CPID"
check "the request in progress completed" grep -q '^200 4$' slow.out
rc=0
wait "$SERVE_PID" || rc=$?
SERVE_PID=
check "the service exited 0 (got $rc)" [ "$rc" = 0 ]
check "it said it finished the requests in progress" grep -q "finishing the requests in progress" srv.err

# The access log: one JSON line per request, never a token.
check "access log lines are JSON with the fields" "$PY" - access.log << 'PYEOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
keys = {"time", "remote", "method", "path", "subject", "chain", "seq", "outcome", "status", "latency_ms"}
ok = all(set(l) == keys for l in lines) and len(lines) >= 9
rec = [l for l in lines if l["outcome"] == "recorded"]
ok = ok and [l["seq"] for l in rec] == [1, 2, 3, 4]
ok = ok and all(l["subject"].startswith("repo:acme/") and l["chain"] == "prod" for l in rec)
ok = ok and any(l["outcome"] == "refused" and l["status"] == 403 and l["seq"] is None for l in lines)
ok = ok and any(l["outcome"] == "replayed" and l["seq"] == 1 for l in lines)
sys.exit(not ok)
PYEOF
TESTS_RUN=$((TESTS_RUN + 1))
if grep -qF "${TOK##*.}" access.log srv.err; then fail "a token reached the log"; else pass "no token in the logs"; fi
finish
