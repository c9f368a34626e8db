#!/usr/bin/env bash
# The CI integration (action.yml, the GitLab component templates/tfattest.yml) and the CI
# examples parse as YAML, agree with each other and with the CLI, and say what their READMEs
# promise: least permissions, the service signs (the alternatives labelled as such), the
# bundle kept, no secret in the YAML. examples_yaml.py says what is checked; every tfattest
# option the files use is compared with this binary's `tfattest CMD --help`.
. "$(dirname "$0")/../lib/common.sh"
SRC=${TFA_SOURCE_DIR:?}
CHECK=$(dirname "$0")/examples_yaml.py
/usr/bin/python3 -c 'import yaml' 2> /dev/null || { fail "python3-yaml is needed (scripts/deps.sh installs it)"; finish; exit 1; }

TESTS_RUN=$((TESTS_RUN + 1))
if /usr/bin/python3 "$CHECK" "$T" "$SRC" > "$W/check.out" 2>&1; then
	pass "action, component and examples parse, agree with each other and with the CLI's options"
else
	fail "the CI files"
	sed 's/^/    /' "$W/check.out" >&2
fi

# The check can fail: each copy below carries one mistake, which must be found and named.
# mistake FILE SED-EXPRESSION EXPECTED-MESSAGE DESCRIPTION
mistake() {
	local file=$1 expr=$2 want=$3 desc=$4 tree=$W/tree
	rm -rf "$tree"
	mkdir -p "$tree"
	cp -r "$SRC/action.yml" "$SRC/templates" "$SRC/examples" "$tree/"
	sed -i "$expr" "$tree/$file"
	TESTS_RUN=$((TESTS_RUN + 1))
	if cmp -s "$SRC/$file" "$tree/$file"; then
		fail "$desc: the edit changed nothing in $file"
	elif /usr/bin/python3 "$CHECK" "$T" "$tree" > "$W/check.out" 2>&1; then
		fail "$desc: accepted"
	elif ! grep -qF -- "$want" "$W/check.out"; then
		fail "$desc: refused without saying $want"
		sed 's/^/    /' "$W/check.out" >&2
	else
		pass "$desc is refused"
	fi
}
mistake action.yml 's/--service-audience "/--service-audiense "/' \
	'`tfattest apply` is given --service-audiense' "a misspelt option in the action's apply"
mistake action.yml 's/report_args=(--html/report_args=(--htlm/' \
	'`tfattest report` is given --htlm' "a misspelt option in an array the action builds"
mistake action.yml 's/\${{ inputs.since }}/${{ inputs.sinse }}/' \
	'inputs.sinse is used but not declared' "an undeclared input in the action"
mistake action.yml 's/TFA_IN_SINCE: /TFA_IN_SINC: /' \
	'$TFA_IN_SINCE is read but not in the step' "an environment variable the action's step lacks"
mistake templates/tfattest.yml 's/--service-auth "/--service-oauth "/' \
	'`tfattest apply` is given --service-oauth' "a misspelt option in the component"
mistake templates/tfattest.yml 's/\$\[\[ inputs.chain \]\]/$[[ inputs.chian ]]/' \
	'$[[ inputs.chian ]] is used but not declared' "an undeclared input in the component"
mistake templates/tfattest.yml 's/^    TFA_EXPORT_PATH: .*/    TFA_EXPORT: $[[ inputs.export ]]\n&/' \
	'variable TFA_EXPORT would be the boolean input export' "a boolean input as a variable's whole value"
mistake examples/github-actions/deploy.yml 's/^\( *\)service-audience: tfattest/\1service-audiance: tfattest/' \
	'with: service-audiance is not an input of action.yml' "an input the action does not have"
mistake examples/gitlab-ci/.gitlab-ci.yml 's/^      chain: prod/      chains: prod/' \
	'input chains is not declared' "an input the component does not have"
mistake examples/gitlab-ci/.gitlab-ci.yml '/^      image: /d' \
	'input image is required by the component and not given' "a required component input left out"
mistake examples/github-actions/deploy.yml '$a\      - run: tfattest verify b --requires-genesis' \
	'`tfattest verify` is given --requires-genesis' "a misspelt option in an example's own step"

TESTS_RUN=$((TESTS_RUN + 1))
if printf 'a: [1, 2\n' | /usr/bin/python3 -c 'import sys, yaml; yaml.safe_load(sys.stdin)' 2> /dev/null; then
	fail "the YAML parser accepted a broken document"
else
	pass "a broken document is rejected"
fi
finish
