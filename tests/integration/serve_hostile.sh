#!/usr/bin/env bash
# `tfattest serve` against hostile and broken requests: each is a clear 4xx
# (or 503 when full) and appends nothing (the chain head is checked after
# each). Tokens: missing, expired, not yet valid, wrong audience, wrong
# issuer, another issuer's key, alg none, HS256 keyed with the RSA public key,
# unknown kid; a subject or event the policy does not allow; oversized,
# malformed and value-smuggling bodies; an idempotency key replayed with
# another body; headers trickled a byte a second; plain HTTP off loopback;
# client certificates when required; a full queue.
. "$(dirname "$0")/serve_lib.sh"
cd "$W" || exit 2

new_rsa_key k.pem 2048
K=file:$W/k.pem
"$T" init --store s --chain prod --key "$K" > /dev/null
make_tls tls
make_issuer iss
"$PY" "$ISSUER" keys --dir other --rsa k1 > /dev/null || exit 2
serve_start srv --listen 127.0.0.1:0 --store s --key "$K" --policy iss/policy.json \
	--tls-cert tls/tls.crt --tls-key tls/tls.key --request-timeout 2 --access-log access.log

GOOD=$(token iss)
expect_status 200 "a good request" "$(post "$GOOD" "$(body good-000000000001)")"
cp reply good.json
HEAD=$(head_seq s)

# refused STATUS DESC PATTERN TOKEN BODY [curl args]: the status, the message, and no append.
refused() {
	local want=$1 desc=$2 pat=$3 tok=$4 data=$5
	shift 5
	expect_status "$want" "$desc" "$(post "$tok" "$data" "$@")"
	TESTS_RUN=$((TESTS_RUN + 1))
	if grep -Eq -- "$pat" "$W/reply"; then pass "$desc: says /$pat/"; else
		fail "$desc: reply does not match /$pat/"
		sed 's/^/    /' "$W/reply" >&2
	fi
	TESTS_RUN=$((TESTS_RUN + 1))
	[ "$(head_seq s)" = "$HEAD" ] && pass "$desc: nothing appended" || fail "$desc: appended"
}

B=$(body hostile-00000000001)
TESTS_RUN=$((TESTS_RUN + 1))
c=$(curl -sS --cacert tls/ca.crt -o reply -D hdr -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary "$B" "https://$ADDR/v1/records")
[ "$c" = 401 ] && grep -qi '^WWW-Authenticate: Bearer' hdr && pass "no token: 401 with WWW-Authenticate" ||
	fail "no token: $c"
refused 401 "a Basic credential" "ID token is required" - "$B" -H 'Authorization: Basic dXNlcjpwYXNz'
refused 401 "an expired token" "refused: .*(exp|expired)" "$(token iss "" exp=-600)" "$B"
refused 401 "a token not yet valid" "refused: .*(nbf|not yet)" "$(token iss "" nbf=+600)" "$B"
refused 401 "the wrong audience" "refused: .*(aud|audience)" \
	"$(mint iss "$ISS" someone-else repo:acme/infra:ref:refs/heads/main)" "$B"
refused 401 "an issuer the policy does not trust" "issuer the policy trusts" \
	"$(mint iss https://evil.example tfattest repo:acme/infra:ref:refs/heads/main)" "$B"
refused 401 "the trusted issuer's name, another key" "refused" \
	"$(mint other "$ISS" tfattest repo:acme/infra:ref:refs/heads/main)" "$B"
refused 401 "alg none" "refused: .*(alg|none)" "$(token iss "" alg=none)" "$B"
refused 401 "HS256 keyed with the RSA public key" "refused: .*(alg|HS256)" "$(token iss "" alg=HS256-pubkey)" "$B"
refused 401 "an unknown kid" "refused: .*(kid|key)" "$(token iss "" kid=nope)" "$B"
refused 401 "a token that is not a JWT" "refused" "not-a-jwt" "$B"
refused 403 "a subject the policy does not allow" "subject" "$(token iss repo:evil/infra:ref:refs/heads/main)" "$B"
refused 403 "an event the policy does not allow" "event" "$GOOD" "$(body hostile-00000000002 import)"
refused 400 "malformed JSON" "." "$GOOD" '{"type": "tfattest.record-request", "chain_id": '
SMUGGLED=$(body hostile-00000000003 | sed 's/"action":"create"}/"action":"create","after":{"password":"hunter2"}}/')
refused 400 "an attribute value smuggled into a change" "after" "$GOOD" "$SMUGGLED"
SMUGGLED=$(body hostile-00000000004 | sed 's/"counts":{"create":1}/"counts":{"create":1},"outputs":{"db_password":"hunter2"}/')
refused 400 "an unknown member (outputs)" "outputs" "$GOOD" "$SMUGGLED"
refused 409 "the good key again with another body" "." "$GOOD" "$(body good-000000000001 destroy)"
CT=application/x-www-form-urlencoded refused 415 "a form instead of JSON" "application/json" "$GOOD" "$B"
head -c 300000 /dev/zero | tr '\0' ' ' > big
printf '%s' "$B" >> big
refused 413 "a body over 256 KiB" "larger" "$GOOD" @big
refused 413 "a chunked body over 256 KiB" "larger" "$GOOD" @big -H 'Transfer-Encoding: chunked'
# The 413 comes after the body, not while the client still sends it: a reply and a close
# then can reach the client as a reset before it reads the status.
TESTS_RUN=$((TESTS_RUN + 1))
r=$("$PY" "$CLIENT" bigpost "$ADDR" tls/ca.crt "$GOOD" big)
[ "$r" = "early=no 413" ] && pass "an oversized body is read, then answered 413" ||
	fail "an oversized body: $r (want early=no 413)"
TESTS_RUN=$((TESTS_RUN + 1))
c=$(curl -sS --cacert tls/ca.crt -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 40000 /dev/zero | tr '\0' a)" "https://$ADDR/v1/health")
case $c in 4*) pass "40 KB of headers refused ($c)" ;; *) fail "40 KB of headers: $c" ;; esac
TESTS_RUN=$((TESTS_RUN + 1))
grep -q hunter2 access.log srv.err && fail "a smuggled value reached the logs" || pass "no smuggled value in the logs"

# Headers a byte a second: cut off by the request timeout (2 s), not kept open.
TESTS_RUN=$((TESTS_RUN + 1))
t=$("$PY" "$CLIENT" trickle "$ADDR" tls/ca.crt)
case $t in [0-3].*) pass "a slow client was cut off after ${t}s" ;; *) fail "slow client: $t" ;; esac
check "the cut-off is logged as a timeout" grep -q '"outcome":"timeout"' access.log
expect_status 200 "the service still answers" "$(post "$GOOD" "$(body good-000000000002)")"
serve_stop || fail "the service did not exit 0"
HEAD=$(head_seq s)

# A full queue: 503 with Retry-After; only the requests answered 200 were appended.
serve_start busy --listen 127.0.0.1:0 --store s --key "$K" --policy iss/policy.json \
	--tls-cert tls/tls.crt --tls-key tls/tls.key --workers 1 --queue 1
# Twelve requests at once, each with its own key (the client fills in @KEY@).
"$PY" "$CLIENT" burst "$ADDR" tls/ca.crt "$GOOD" "$(body burst-@KEY@)" 12 > burst.out 2>&1 || true
check "some requests were turned away with 503 and Retry-After" grep -q '^503 1 -$' burst.out
ok=$(grep -c '^200 ' burst.out)
check "only the $ok accepted requests were appended" [ "$(head_seq s)" = $((HEAD + ok)) ]
serve_stop || fail "the busy service did not exit 0"

# Plain HTTP: only on loopback, only when asked.
expect_exit 2 "plain HTTP refused on 0.0.0.0" "$T" serve --listen 0.0.0.0:0 --store s --key "$K" \
	--policy iss/policy.json --insecure-plain-http
expect_output "plain HTTP is refused on 0.0.0.0: --insecure-plain-http is for a loopback address only" "the reason is given"
expect_exit 2 "no TLS files and no flag" "$T" serve --listen 127.0.0.1:0 --store s --key "$K" --policy iss/policy.json
expect_output "--tls-cert and --tls-key are required" "the reason is given"
serve_start plain --listen 127.0.0.1:0 --store s --key "$K" --policy iss/policy.json --insecure-plain-http
TESTS_RUN=$((TESTS_RUN + 1))
curl -sS "http://$ADDR/v1/health" | grep -q '"status":"ok"' && pass "plain HTTP on loopback with the flag" ||
	fail "plain HTTP on loopback"
serve_stop || fail "the plain service did not exit 0"

# Client certificates as a second factor.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -keyout cca.key \
	-out cca.crt -subj /CN=runner-ca 2> /dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout cl.key -out cl.csr \
	-subj "/O=acme/CN=runner-7" 2> /dev/null
openssl x509 -req -in cl.csr -CA cca.crt -CAkey cca.key -CAcreateserial -days 2 -out cl.crt 2> /dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -keyout rogue.key \
	-out rogue.crt -subj "/O=acme/CN=runner-7" 2> /dev/null
serve_start mtls --listen 127.0.0.1:0 --store s --key "$K" --policy iss/policy.json \
	--tls-cert tls/tls.crt --tls-key tls/tls.key --client-ca cca.crt
HEAD=$(head_seq s)
refused 403 "mTLS: no client certificate" "client certificate is required" "$GOOD" "$(body mtls-000000000001)"
refused 403 "mTLS: a self-made certificate with the same name" "not issued by" "$GOOD" \
	"$(body mtls-000000000001)" --cert rogue.crt --key rogue.key
refused 401 "mTLS: a good certificate, no token" "ID token is required" "" "$(body mtls-000000000001)" \
	--cert cl.crt --key cl.key
expect_status 200 "mTLS: a good certificate and token" "$(post "$GOOD" "$(body mtls-000000000001)" --cert cl.crt --key cl.key)"
serve_stop || fail "the mTLS service did not exit 0"
n=$(head_seq s)
check "the client certificate's subject is in the identity" "$PY" -c '
import json, sys
sys.exit(json.load(sys.stdin)["identity"].get("client_cert") != "CN=runner-7,O=acme")' \
	< <("$T" show --store s --key "$K" "$n" --json)
finish
