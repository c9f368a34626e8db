#!/usr/bin/env bash
# The demo: deployments recorded through the apply wrapper (one of them
# failed), a key rotation, a signed checkpoint, a bundle exported as an archive
# and verified offline against the pinned anchor and the checkpoint, an HTML
# report, then one artifact tampered with and caught, and an older export
# caught against the checkpoint.
#
# Deployments run the real Terraform when `terraform` is on PATH, on a
# configuration of the built-in terraform_data resource alone (no provider to
# download, nothing that reaches the network); otherwise the stand-in
# tests/integration/standin/terraform replays recorded plans. The demo says
# which.
#
# The signing key lives in a SoftHSM2 token created for this run (the same
# PKCS#11 path an HSM takes); DEMO_SIGNER=file uses a PEM key instead.
#
# Everything happens in the demo directory (.demo, or DEMO_DIR), and the
# transcript reads as a shell session run there: "$ " lines are the commands
# exactly as they run (each is that text, evaluated), "## " lines head each
# step and "# " lines say what happens. Bold on a terminal only.
#
# DEMO_CLI=PATH uses that tfattest binary, and then neither installs packages
# nor builds (the test of the demo sets it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if [ -n "${DEMO_CLI:-}" ]; then
	T=$(realpath "$DEMO_CLI")
else
	cd "$root"
	bash scripts/deps.sh --demo
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
	cmake --build build -j"$(nproc)" --target tfattest_cli > /dev/null
	T=$root/build/tfattest
fi
tfattest() { "$T" "$@"; }

demo=${DEMO_DIR:-$root/.demo}
chmod -R u+w "$demo" 2>/dev/null || true
rm -rf "$demo"
mkdir -p "$demo"
demo=$(cd "$demo" && pwd)

if [ -t 1 ]; then
	bold=$'\033[1m' plain=$'\033[0m'
else
	bold= plain=
fi
# heading TEXT: what the next commands do.
heading() { printf '\n%s## %s%s\n' "$bold" "$*" "$plain"; }
# note TEXT: a remark, under the command it is about.
note() { printf '# %s\n' "$*"; }
# run 'COMMAND': shows the command, then runs exactly that text.
run() {
	printf '%s$ %s%s\n' "$bold" "$1" "$plain"
	eval "$1"
}
# run_fails 'COMMAND' WHAT: as run, for a command that must fail with exit status 1.
run_fails() {
	local rc=0
	printf '%s$ %s%s\n' "$bold" "$1" "$plain"
	eval "$1" || rc=$?
	if [ "$rc" -ne 1 ]; then
		echo "demo: expected exit status 1 ($2), got $rc" >&2
		exit 1
	fi
	note "exit status 1: $2"
}
# short FINGERPRINT: sha256: and the first 12 hex digits, for narrative lines.
short() { printf '%s...' "${1:0:19}"; }

note "The tfattest demo. It runs in its own directory: every path below is relative to it."
run "cd $(printf %q "$demo")"
if command -v terraform > /dev/null; then
	standin=
	# All of it read: `| head -1` would end it with SIGPIPE, which pipefail reports.
	version=$(CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=/dev/null terraform version)
	version=${version%%$'\n'*}
	note "Terraform: $version ($(command -v terraform)), on work/main.tf:"
	note "built-in terraform_data only, so no provider download and nothing on the network."
else
	standin=$root/tests/integration/standin
	PATH=$standin:$PATH
	export TFA_FIXTURES=$root/tests/fixtures
	note "Terraform: not installed, so the stand-in tests/integration/standin/terraform runs"
	note "as \`terraform\`: it replays the recorded plan \$STANDIN_PLAN names (from"
	note "tests/fixtures) and writes a recorded state; it ignores -var."
fi

heading "Setup: a signing key, a store, a chain"
signer=${DEMO_SIGNER:-pkcs11}
if [ "$signer" = pkcs11 ]; then
	note "softhsm/init-token.sh makes a SoftHSM2 token in token/, with an RSA-3072 key and"
	note "an EC P-256 key (the one the chain is handed to later). The PIN is in token/pin."
	module=$(bash "$root/softhsm/init-token.sh" token |
		sed -n "s/^TFATTEST_PKCS11_MODULE='\(.*\)'\$/\1/p")
	run 'export SOFTHSM2_CONF=token/softhsm2.conf'
	run "export TFATTEST_PKCS11_MODULE=$module"
	note "The keys' PKCS#11 URIs; a pin-source is an absolute path, hence \$PWD."
	run 'KEY1="pkcs11:token=tfattest;object=tfattest-rsa?pin-source=file:$PWD/token/pin"'
	run 'KEY2="pkcs11:token=tfattest;object=tfattest-ec?pin-source=file:$PWD/token/pin"'
else
	note "Two PEM keys, RSA-3072 and EC P-256 (the one the chain is handed to later)."
	run "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out key1.pem 2> /dev/null"
	run "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key2.pem 2> /dev/null"
	run "KEY1=file:key1.pem KEY2=file:key2.pem"
fi
run 'export TFATTEST_KEY="$KEY1" TFATTEST_STORE=store TFATTEST_SPOOL=spool'
run 'tfattest pubkey | tail -1 > anchor.fingerprint'
note "The anchor key is $(short "$(cat anchor.fingerprint)"): anchor.fingerprint is what to publish."
run 'tfattest init --chain production'

mkdir work
if [ -z "$standin" ]; then
	cat > work/main.tf <<'TF'
# One release of a service, replaced at each new version; its smoke test
# (a provisioner) fails for the version "v2-broken".
variable "release" {
  type = string
}

resource "terraform_data" "release" {
  triggers_replace = [var.release]

  provisioner "local-exec" {
    command = "test '${var.release}' != v2-broken"
  }
}
TF
	heading "Terraform: work/main.tf, one terraform_data resource per release"
	run 'export TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0'
	note "No CLI configuration (no provider is needed), no check for a newer Terraform over"
	note "the network, and the shorter output meant for automation."
	if ! [ -t 1 ]; then
		run 'export TF_CLI_ARGS=-no-color'
		note "The output is not a terminal: Terraform prints no colour codes."
	fi
	run 'terraform -chdir=work init > work/init.log'
fi
# plan NAME: the recorded plan the stand-in replays for the next deployment.
plan() {
	[ -z "$standin" ] || run "export STANDIN_PLAN=$1"
}

heading "Three deployments through the apply wrapper, the second one fails (seq 1-3)"
note "The wrapper plans first, records the plan's changes, applies that plan, records the"
note "outcome, and exits with Terraform's own status."
plan show-basic-create.json
run 'tfattest apply -- terraform -chdir=work apply -var release=v1'
plan show-drift.json
if [ -z "$standin" ]; then
	run_fails 'tfattest apply -- terraform -chdir=work apply -var release=v2-broken' \
		"Terraform's own; the failed deployment is recorded"
else
	note "STANDIN_MODE=fail: the stand-in fails this apply, as Terraform does on an error."
	run_fails 'STANDIN_MODE=fail tfattest apply -- terraform -chdir=work apply -var release=v2-broken' \
		"Terraform's own; the failed deployment is recorded"
fi
run 'tfattest apply -- terraform -chdir=work apply -var release=v2'

heading "The chain is handed to the EC key, with a proof of possession (seq 4)"
run 'tfattest rotate --new-key "$KEY2"'
note "The new key is $(short "$(tfattest pubkey --key "$KEY2" | tail -1)"); the old key signed the hand-over."
run 'export TFATTEST_KEY="$KEY2"'

heading "Two deployments signed by the new key: a destroy, then a rollback to seq 1 (seq 5-6)"
plan show-basic-delete.json
run 'tfattest apply -- terraform -chdir=work destroy -var release=v2'
plan show-basic-create.json
run 'tfattest apply --event rollback --rollback-to 1 -- terraform -chdir=work apply -var release=v1'

heading "A checkpoint signs the head; the chain is listed; seq 1 and its rollback compared"
run 'tfattest checkpoint --out head.ckpt'
run 'tfattest log'
run 'tfattest diff 1 6'

heading "Exported as an archive, verified offline (pinned key, checkpoint), and a report"
run 'tfattest export --archive bundle.tar.gz'
run 'tfattest verify bundle.tar.gz --expect-key-fingerprint anchor.fingerprint --checkpoint head.ckpt'
run 'tfattest report bundle.tar.gz --html report.html --expect-key-fingerprint anchor.fingerprint'

heading "The same chain exported as a directory: one artifact and its signature per record"
run 'tfattest export --out bundle'
run 'ls -C bundle bundle/artifacts'

heading "An insider marks the failed deployment (seq 2) as succeeded, after the fact..."
run 'cp bundle/artifacts/000000000002.json original.json'
run 'chmod u+w bundle/artifacts/000000000002.json'
run "sed -i 's/\"status\":\"failed\"/\"status\":\"succeeded\"/' bundle/artifacts/000000000002.json"
run_fails 'tfattest verify bundle --expect-key-fingerprint anchor.fingerprint' "tampering detected"

heading "...and the original is restored"
run 'cp original.json bundle/artifacts/000000000002.json'
run 'tfattest verify bundle --expect-key-fingerprint anchor.fingerprint'

heading "An older export (to seq 4), passed off as current, fails against the checkpoint"
run 'tfattest export --to 4 --out old-bundle --key "$KEY2"'
run_fails 'tfattest verify old-bundle --expect-key-fingerprint anchor.fingerprint --checkpoint head.ckpt' \
	"the bundle stops short of the checkpoint"

heading "Demo complete"
note "Here: bundle.tar.gz and bundle/ (VERIFY.md in each checks it by hand with openssl),"
note "report.html for auditors, head.ckpt and anchor.fingerprint to publish."
