#!/usr/bin/env bash
# The Terraform module (terraform/): every .tf file parses with HashiCorp's HCL
# parser (@cdktf/hcl2json), every security setting is asserted on the parsed
# form, and each assertion is shown to fail when its setting is removed.
set -u
SRC=$(realpath "${TFA_SOURCE_DIR:?TFA_SOURCE_DIR must name the source tree}")
PY=/usr/bin/python3
W=$(mktemp -d "${TMPDIR:-/tmp}/tfa-tf.XXXXXX")
trap 'rm -rf "$W"' EXIT

if [ ! -f "$SRC/node_modules/@cdktf/hcl2json/package.json" ]; then
	echo "FAIL: @cdktf/hcl2json is not installed: run scripts/deps.sh (npm ci)" >&2
	exit 1
fi
rc=0
if node "$SRC/tests/terraform/hcl2json.js" "$SRC/terraform" > "$W/module.json"; then
	echo "ok - every .tf file in terraform/ parses"
else
	echo "FAIL: terraform/ does not parse" >&2
	exit 1
fi
$PY "$SRC/tests/terraform/check_module.py" "$W/module.json" "$SRC/terraform" || rc=1
$PY "$SRC/tests/terraform/mutations.py" "$SRC/terraform" "$W" || rc=1
exit $rc
