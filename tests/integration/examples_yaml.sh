#!/usr/bin/env bash
# The CI examples parse as YAML and say what their READMEs promise:
# least permissions, tfattest apply, the bundle uploaded, no secret in the YAML.
. "$(dirname "$0")/../lib/common.sh"
EX=${TFA_SOURCE_DIR:?}/examples
/usr/bin/python3 -c 'import yaml' 2> /dev/null || { fail "python3-yaml is needed (scripts/deps.sh installs it)"; finish; exit 1; }
TESTS_RUN=$((TESTS_RUN + 1))
if /usr/bin/python3 - "$EX/github-actions/deploy.yml" "$EX/gitlab-ci/.gitlab-ci.yml" <<'PY'
import sys, yaml

gh = yaml.safe_load(open(sys.argv[1]))
assert gh["permissions"] == {"id-token": "write", "contents": "read"}, gh["permissions"]
job = gh["jobs"]["deploy"]
steps = job["steps"]
runs = "\n".join(s.get("run", "") for s in steps)
assert "tfattest apply -- terraform apply" in runs
assert "tfattest export" in runs and "tfattest verify" in runs and "--expect-key-fingerprint" in runs
up = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
assert len(up) == 1 and up[0].get("if") == "always()", up
assert job["env"]["TFATTEST_KEY"].startswith("awskms:///alias/")
assert job["env"]["TFATTEST_STORE"].startswith("s3://")
assert job["env"]["TFATTEST_SEQUENCER"].startswith("dynamodb://")
tf = [s for s in steps if str(s.get("uses", "")).startswith("hashicorp/setup-terraform")]
assert tf and tf[0]["with"]["terraform_wrapper"] is False

gl = yaml.safe_load(open(sys.argv[2]))
d = gl["deploy"]
assert gl[".tfattest"]["before_script"] and "pkcs11:" in gl[".tfattest"]["before_script"][0]
assert "pin-source=file:${TFATTEST_HSM_PIN_FILE}" in gl[".tfattest"]["before_script"][0]
assert any("tfattest apply -- terraform apply" in l for l in d["script"])
assert d["id_tokens"]["TFATTEST_OIDC_TOKEN"]["aud"] == "tfattest"
assert d["artifacts"]["when"] == "always"
assert d["resource_group"] == "production"
text = open(sys.argv[1]).read() + open(sys.argv[2]).read()
for bad in ("pin-value=", "TFATTEST_PKCS11_PIN", "AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"):
    assert bad not in text, bad
PY
then pass "examples parse and hold what their READMEs say"; else fail "examples"; fi
# The check can fail: a broken document is rejected.
TESTS_RUN=$((TESTS_RUN + 1))
if printf 'a: [1, 2\n' | /usr/bin/python3 -c 'import sys, yaml; yaml.safe_load(sys.stdin)' 2> /dev/null; then
	fail "the YAML parser accepted a broken document"
else
	pass "a broken document is rejected"
fi
finish
