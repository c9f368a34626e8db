#!/usr/bin/env bash
# Who deployed: GitHub Actions (with an OIDC token fetched over TLS from a
# local stand-in endpoint), GitLab CI (ID token in the environment), Jenkins.
# Claims are recorded; no token, credential or plan secret ever reaches the
# store, the bundle, the report or any output.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2
PY=/usr/bin/python3
TF=$(realpath "$(dirname "$0")/standin/terraform")
SRV=$(realpath "$(dirname "$0")/oidc_server.py")
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN
export TFATTEST_SPOOL=$W/spool
check() {
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}
rec() { head -1 "$W/s/records/$(printf %012d "$1").rec"; }
b64u() { $PY -c 'import base64,sys; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()).decode().rstrip("="))'; }

M=MARK$RANDOM$RANDOM # a unique marker in every secret
# An ID token minted here: claims as GitHub issues them, plus a secret-looking claim
# that is not on the list tfattest copies, and a signature part holding the marker.
mint() { # payload-json
	printf '%s.%s.%s' "$(printf '{"alg":"RS256","typ":"JWT","kid":"k1"}' | b64u)" \
		"$(printf '%s' "$1" | b64u)" "$(printf 'SIG-%s-jwtsig' "$M" | b64u)"
}
JWT=$(mint '{"iss":"https://token.actions.githubusercontent.com","sub":"repo:acme/infra:environment:prod","aud":"tfattest","iat":1764200000,"exp":1764200300,"repository":"acme/infra","ref":"refs/heads/main","sha":"0123456789abcdef0123456789abcdef01234567","workflow_ref":"acme/infra/.github/workflows/deploy.yml@refs/heads/main","job_workflow_ref":"acme/infra/.github/workflows/deploy.yml@refs/heads/main","run_id":"777","run_attempt":"2","actor":"octocat","environment":"prod","secret_claim":"'$M'-claim"}')
echo "$JWT" > jwt.txt
BEARER="$M-bearer"

# A TLS endpoint with a certificate made here, trusted through CURL_CA_BUNDLE.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.crt \
	-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2> /dev/null || exit 2
$PY "$SRV" srv.crt srv.key port "$BEARER" jwt.txt req.log &
srv=$!
trap 'kill $srv 2>/dev/null; chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
[ -s port ] || { echo "server did not start"; exit 2; }
URL="https://127.0.0.1:$(cat port)/token?api-version=2.0"

new_ec_key k.pem
"$T" init --store s --chain prod --key file:k.pem > /dev/null || exit 2
export TFATTEST_STORE=$W/s TFATTEST_KEY=file:$W/k.pem

# A plan holding secret values.
$PY - "$PLANS/show-sensitive-values.json" secret-plan.json "$M" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["resource_changes"][0]["change"]["after"]["ami"] = sys.argv[3] + "-planvalue"
d["variables"]["test_var"]["value"] = sys.argv[3] + "-planvar"
json.dump(d, open(sys.argv[2], "w"))
PY
mkdir work && cp secret-plan.json work/ && echo ../secret-plan.json > work/plan.bin
# The stand-in replays plans from the fixtures directory; point it at this one.
mkdir -p fx/terraform/plans fx/terraform/states && cp secret-plan.json fx/terraform/plans/secret-plan.json &&
	cp "$STATES"/*.tfstate fx/terraform/states/ && echo secret-plan.json > work/plan.bin

GH=(GITHUB_ACTIONS=true GITHUB_REPOSITORY=acme/infra GITHUB_WORKFLOW_REF=acme/infra/.github/workflows/deploy.yml@refs/heads/main
	GITHUB_RUN_ID=777 GITHUB_RUN_ATTEMPT=2 GITHUB_ACTOR=octocat GITHUB_SHA=0123456789abcdef0123456789abcdef01234567
	GITHUB_REF=refs/heads/main GITHUB_TOKEN=$M-ghtoken AWS_SECRET_ACCESS_KEY=$M-awssecret
	AWS_SESSION_TOKEN=$M-awssession ACTIONS_RUNTIME_TOKEN=$M-runtime
	ACTIONS_ID_TOKEN_REQUEST_URL=$URL ACTIONS_ID_TOKEN_REQUEST_TOKEN=$BEARER CURL_CA_BUNDLE=$W/srv.crt)

# GitHub Actions through tfattest apply.
(cd work && expect_exit 0 "apply in GitHub Actions with an OIDC token" env "${GH[@]}" TFA_FIXTURES=$W/fx "$T" apply -- "$TF" apply plan.bin) ||
	TESTS_FAILED=$((TESTS_FAILED + 1))
TESTS_RUN=$((TESTS_RUN + 1))
cat "$W/last.out" "$W/last.err" > out.1 2> /dev/null
check "token requested with audience tfattest and the bearer" grep -q '^/token audience=tfattest auth=ok$' req.log
r=$(rec 1)
check "provider github-actions" grep -q '"ci":{"actor":"octocat",' <<< "$r"
check "OIDC issuer and subject" grep -q '"issuer":"https://token.actions.githubusercontent.com".*"subject":"repo:acme/infra:environment:prod"' <<< "$r"
check "OIDC claims: repository, job_workflow_ref, run_id, environment" \
	bash -c "grep -q '\"claims\":{\"actor\":\"octocat\",\"environment\":\"prod\",\"job_workflow_ref\":\"acme/infra/.github/workflows/deploy.yml@refs/heads/main\",\"ref\":\"refs/heads/main\",\"repository\":\"acme/infra\",\"run_attempt\":\"2\",\"run_id\":\"777\",' <<< '$r'"
check "OIDC aud, iat, exp" grep -q '"audience":"tfattest","claims".*"expires_at":"1764200300","issued_at":"1764200000"' <<< "$r"
check "signature marked not verified" grep -q '"signature":"not-verified"' <<< "$r"

# Failures of the token request are recorded, not fatal.
expect_exit 0 "wrong bearer: recorded with the error" env "${GH[@]}" ACTIONS_ID_TOKEN_REQUEST_TOKEN=$M-wrongbearer "$T" record --plan secret-plan.json
check "HTTP 401 recorded" grep -q '"oidc":{"error":"ID token request failed: HTTP 401","source":"github-actions"}' <(rec 2)
expect_exit 0 "untrusted certificate: recorded with the error" env "${GH[@]}" CURL_CA_BUNDLE= "$T" record --plan secret-plan.json
check "TLS failure recorded" grep -q '"oidc":{"error":"ID token request failed: [^"]*certificate' <(rec 3)
expect_exit 0 "plain http refused" env "${GH[@]}" ACTIONS_ID_TOKEN_REQUEST_URL="http://127.0.0.1:$(cat port)/token" "$T" record --plan secret-plan.json
check "http URL refused" grep -q '"error":"the ID token request URL is not https://"' <(rec 4)
expect_exit 0 "no id-token permission: no oidc member" env "${GH[@]}" ACTIONS_ID_TOKEN_REQUEST_URL= "$T" record --plan secret-plan.json
check "no oidc without the request variables" bash -c "! grep -q oidc <<< '$(rec 5)'"

# GitLab CI: ID token from id_tokens: (TFATTEST_OIDC_TOKEN) or named by TFATTEST_ID_TOKEN.
GJWT=$(mint '{"iss":"https://gitlab.example.com","sub":"project_path:acme/infra:ref_type:branch:ref:main","aud":"tfattest","project_path":"acme/infra","pipeline_id":"4242","user_login":"alice","ref_protected":"true","iat":1764200000,"exp":1764203600}')
GL=(GITLAB_CI=true CI_PROJECT_PATH=acme/infra CI_PIPELINE_ID=4242 CI_JOB_ID=99 CI_JOB_URL=https://gitlab.example.com/acme/infra/-/jobs/99
	GITLAB_USER_LOGIN=alice CI_COMMIT_SHA=0123 CI_COMMIT_REF_NAME=main CI_JOB_TOKEN=$M-jobtoken
	CI_REGISTRY_PASSWORD=$M-registry AWS_SECRET_ACCESS_KEY=$M-awssecret)
expect_exit 0 "GitLab with TFATTEST_OIDC_TOKEN" env "${GL[@]}" TFATTEST_OIDC_TOKEN="$GJWT" "$T" record --plan secret-plan.json
cat "$W/last.out" "$W/last.err" >> out.1
check "GitLab identity" grep -q '"ci":{"job_id":"99","job_url":"https://gitlab.example.com/acme/infra/-/jobs/99","oidc":{' <(rec 6)
check "GitLab claims" grep -q '"claims":{"pipeline_id":"4242","project_path":"acme/infra","ref_protected":"true","user_login":"alice"},"expires_at"' <(rec 6)
expect_exit 0 "GitLab with TFATTEST_ID_TOKEN naming the variable" env "${GL[@]}" MY_ID_TOKEN="$GJWT" TFATTEST_ID_TOKEN=MY_ID_TOKEN "$T" record --plan secret-plan.json
check "named variable read" grep -q '"issuer":"https://gitlab.example.com"' <(rec 7)
expect_exit 0 "GitLab with a malformed token" env "${GL[@]}" TFATTEST_OIDC_TOKEN="not.a-jwt!.sig" "$T" record --plan secret-plan.json
check "malformed token: error recorded, token not" grep -q '"oidc":{"error":"ID token: not base64url","source":"gitlab-ci"}' <(rec 8)

# Jenkins.
expect_exit 0 "Jenkins" env JENKINS_URL=https://ci.example.com/ JOB_NAME=infra/deploy BUILD_NUMBER=17 BUILD_URL=https://ci.example.com/job/infra/17/ "$T" record --plan secret-plan.json
check "Jenkins identity" grep -q '"ci":{"build_number":"17","build_url":"https://ci.example.com/job/infra/17/","job_name":"infra/deploy","provider":"jenkins","server_url":"https://ci.example.com/"}' <(rec 9)

# Nothing secret anywhere: store, bundle, report, every output.
"$T" export --out b > out.2 2>&1
"$T" verify b >> out.2 2>&1
"$T" report b --html r.html >> out.2 2>&1
"$T" log >> out.2 2>&1
"$T" log --json >> out.2 2>&1
for i in 1 6 9; do "$T" show "$i" >> out.2 2>&1; "$T" show --json "$i" >> out.2 2>&1; done
"$T" diff 1 6 >> out.2 2>&1
check "the commands ran" grep -q 'All verification checks passed' out.2
sig=$(cut -d. -f3 jwt.txt)
TESTS_RUN=$((TESTS_RUN + 1))
if grep -rIl -e "$M" -e "$sig" -e "$JWT" -e "$GJWT" s b r.html out.1 out.2 spool 2> /dev/null; then
	fail "a secret marker reached the store, the bundle, the report or the output"
else
	pass "no token, credential or plan secret in store, bundle, report or output"
fi
# The check can fail: the marker is findable where it was planted.
check "the marker is in the planted plan" grep -q "$M" secret-plan.json
finish
