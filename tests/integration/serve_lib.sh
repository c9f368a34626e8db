# Shared by the serve_*.sh integration tests: sources tests/lib/common.sh and
# adds a loopback TLS certificate, starting and stopping `tfattest serve`, and
# the chain head.
#   make_tls DIR            DIR/ca.crt (the client's trust), DIR/tls.crt, DIR/tls.key
#   serve_start NAME ARGS   starts `tfattest serve ARGS --ready-file ...` in the
#                           background (under $SERVE_WRAP, a command prefix, when
#                           set); sets SERVE_PID and ADDR (HOST:PORT); its stderr
#                           goes to $W/NAME.err
#   serve_stop              SIGTERM, then waits; returns the service's exit status
#   head_seq STORE          the chain head's seq, read from the store
. "$(dirname "$0")/../lib/common.sh"
SRC=$(realpath "${TFA_SOURCE_DIR:?TFA_SOURCE_DIR must name the source tree}")
PY=/usr/bin/python3
CLIENT=$SRC/tests/integration/serve_client.py
SERVE_PID=

for tool in openssl curl "$PY"; do
	command -v "$tool" > /dev/null 2>&1 || { echo "SKIP: $tool is not installed"; exit 77; }
done
trap '[ -z "$SERVE_PID" ] || kill -9 "$SERVE_PID" 2>/dev/null; chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT

make_tls() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-keyout "$d/ca.key" -out "$d/ca.crt" -subj /CN=tfattest-test-ca 2> /dev/null &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$d/tls.key" -out "$d/tls.csr" -subj /CN=localhost 2> /dev/null &&
		openssl x509 -req -in "$d/tls.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
			-CAcreateserial -days 2 -out "$d/tls.crt" \
			-extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n') 2> /dev/null ||
		{ echo "FAIL: cannot make a TLS certificate" >&2; exit 2; }
}

serve_start() {
	local name=$1
	shift
	rm -f "$W/$name.ready"
	${SERVE_WRAP:-} "$T" serve "$@" --ready-file "$W/$name.ready" 2> "$W/$name.err" &
	SERVE_PID=$!
	for _ in $(seq 150); do
		[ -s "$W/$name.ready" ] && break
		kill -0 "$SERVE_PID" 2> /dev/null || break
		sleep 0.1
	done
	if [ ! -s "$W/$name.ready" ]; then
		echo "FAIL: the service did not start" >&2
		cat "$W/$name.err" >&2
		exit 2
	fi
	ADDR=$(cat "$W/$name.ready")
}

serve_stop() {
	local rc=0
	[ -n "$SERVE_PID" ] || return 0
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID" || rc=$?
	SERVE_PID=
	return "$rc"
}

head_seq() {
	local h
	h=$(ls "$1/records" 2> /dev/null | sed -n 's/^0*\([0-9][0-9]*\)\.rec$/\1/p' | sort -n | tail -1)
	echo "${h:-0}"
}

ISSUER=$SRC/tests/service/oidc_issuer.py
ISS=https://token.test.example

# make_issuer DIR: the test issuer's keys (tests/service/oidc_issuer.py: DIR/keys/k1.pem,
# DIR/jwks.json) and a policy DIR/policy.json trusting it for chain prod, subjects
# repo:acme/infra:ref:refs/heads/*, events apply and destroy.
make_issuer() {
	"$PY" "$ISSUER" keys --dir "$1" --rsa k1 > /dev/null || { echo "FAIL: cannot make the issuer's keys" >&2; exit 2; }
	cat > "$1/policy.json" << POLICY
{"issuers": [{"issuer": "$ISS", "jwks_file": "jwks.json", "audience": "tfattest"}],
 "allow": [{"issuer": "$ISS", "subject": "repo:acme/infra:ref:refs/heads/*",
            "chains": ["prod"], "events": ["apply", "destroy"]}]}
POLICY
}

# mint DIR ISS AUD SUB [name=value...]: a token signed RS256 by DIR's key. Names:
# exp=+N, nbf=+N, iat=+N (seconds from now, may be negative); alg=none;
# alg=HS256-pubkey (HMAC keyed with the RSA public key's PEM); kid=K (the header's kid);
# any other name a string claim.
mint() {
	local d=$1 iss=$2 aud=$3 sub=$4 now claims="" opts=() kv
	shift 4
	now=$(date +%s)
	for kv in "$@"; do
		case ${kv%%=*} in
		exp | nbf | iat) claims="$claims,\"${kv%%=*}\":$((now + ${kv#*=}))" ;;
		alg) [ "${kv#*=}" = none ] && opts+=(--alg none) || opts+=(--hmac-pubkey) ;;
		kid) opts+=(--header "{\"kid\":\"${kv#*=}\"}") ;;
		*) claims="$claims,\"${kv%%=*}\":\"${kv#*=}\"" ;;
		esac
	done
	"$PY" "$ISSUER" mint --dir "$d" --iss "$iss" --aud "$aud" --sub "$sub" --ttl 600 \
		--claims "{${claims#,}}" "${opts[@]}"
}

# token DIR [SUB [name=value...]]: a token from the test issuer for the policy's audience.
token() {
	local d=$1 sub=${2:-repo:acme/infra:ref:refs/heads/main}
	shift
	[ $# -eq 0 ] || shift
	mint "$d" "$ISS" tfattest "$sub" "$@"
}

# body KEY [EVENT]: a record request with idempotency key KEY.
body() {
	printf '{"type":"tfattest.record-request","chain_id":"prod","idempotency_key":"%s",' "$1"
	printf '"event":{"type":"%s","status":"succeeded","exit_code":0},' "${2:-apply}"
	printf '"terraform":{"plan_sha256":"sha256:%064d","version":"1.11.4",' 0
	printf '"changes":[{"address":"terraform_data.web","action":"create"}],"counts":{"create":1}},'
	printf '"context":{"host":"runner-1","git":{"commit":"%040d","ref":"refs/heads/main"}}}' 0
}

# post TOKEN BODY [curl args...]: POSTs to /v1/records with Content-Type $CT (default
# application/json) and, unless TOKEN is -, Authorization: Bearer TOKEN; the reply body
# goes to $W/reply, the status is printed.
post() {
	local tok=$1 data=$2 auth=()
	shift 2
	[ "$tok" = - ] || auth=(-H "Authorization: Bearer $tok")
	curl -sS --cacert "$W/tls/ca.crt" -o "$W/reply" -w '%{http_code}' "${auth[@]}" \
		-H "Content-Type: ${CT:-application/json}" --data-binary "$data" "$@" \
		"https://$ADDR/v1/records"
}

# expect_status WANT DESC STATUS: one check.
expect_status() {
	TESTS_RUN=$((TESTS_RUN + 1))
	if [ "$3" = "$1" ]; then
		pass "$2 ($1)"
	else
		fail "$2: status $3, wanted $1"
		sed 's/^/    /' "$W/reply" >&2 2> /dev/null
	fi
}

# check DESC CMD...: one check that CMD succeeds.
check() {
	local desc=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}
