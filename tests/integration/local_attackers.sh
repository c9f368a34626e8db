#!/usr/bin/env bash
# Another local user must not get a capture signed through the spool, nor
# tamper with a local store: spool and store directories must be the
# caller's (or root's) and not writable by group or others; spool files must
# be the caller's own mode-0600 regular files with one link. Each refusal
# says what is wrong. Run as root, which can make files another uid owns.
. "$(dirname "$0")/../lib/common.sh"
TF=$(realpath "$(dirname "$0")/standin/terraform")
cd "$W" || exit 2
if [ "$(id -u)" -ne 0 ]; then
	echo "skipped: needs root to create files another user owns"
	exit 77
fi
OTHER=65534
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL TFATTEST_SPOOL

new_ec_key k.pem
"$T" init --store s --chain prod --key file:k.pem > /dev/null || exit 2
export TFATTEST_STORE=$W/s TFATTEST_KEY=file:$W/k.pem STANDIN_LOG=$W/tf.log
mkdir work && cd work || exit 2
echo show-basic-create.json > plan.bin
nrec() { ls "$W/s/records" | wc -l; }
check() { # desc, condition...
	local d=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then pass "$d"; else fail "$d"; fi
}
# spool DIR: a destroy capture, spooled into DIR by a run whose store was away.
spool() {
	TFATTEST_SPOOL=$1 STANDIN_MODE=moveaway STANDIN_STORE=$W/s \
		"$T" apply -- "$TF" destroy -auto-approve > /dev/null 2>&1
	mv "$W/s.away" "$W/s"
}
n0=$(nrec)

# The other user made the spool directory first (mode 0777, theirs) and
# planted a destroy capture in it, owned by them, mode 0600.
mkdir -p "$W/shared" && chmod 1777 "$W/shared"
spool "$W/shared/spool"
check "a capture was spooled" [ "$(ls "$W/shared/spool" | wc -l)" -eq 1 ]
chown -R $OTHER "$W/shared/spool" && chmod 0777 "$W/shared/spool"
expect_exit 2 "planted capture in a foreign spool directory is not signed" \
	env TFATTEST_SPOOL="$W/shared/spool" "$T" record --flush-spool
expect_output "spool directory .*/shared/spool is owned by uid $OTHER, not by the caller \(uid 0\)" \
	"the message names the owner"
check "nothing was appended" [ "$(nrec)" -eq "$n0" ]
check "the planted file is left" [ "$(ls "$W/shared/spool" | wc -l)" -eq 1 ]
# Spooling there is refused as well: the other user could read or replace it.
expect_exit 2 "no spooling into a foreign directory (apply exits 2)" \
	env TFATTEST_SPOOL="$W/shared/spool" STANDIN_MODE=moveaway STANDIN_STORE=$W/s \
	"$T" apply -- "$TF" apply plan.bin
mv "$W/s.away" "$W/s"
expect_output "could not be spooled: spool directory .* is owned by uid $OTHER" "spool write refused"

# Under a parent the other user owns, the spool directory root creates is
# root's, mode 0700; if the other user swaps in a directory of their own,
# the flush refuses it.
mkdir -p "$W/pre" && chown $OTHER "$W/pre" && chmod 0755 "$W/pre"
spool "$W/pre/spool"
check "the spool dir made under it is root's, 0700" [ "$(stat -c %u:%a "$W/pre/spool")" = 0:700 ]
mv "$W/pre/spool" "$W/pre/mine" && cp -a "$W/pre/mine" "$W/pre/spool" && chown -R $OTHER "$W/pre/spool"
expect_exit 2 "a spool directory swapped by the parent's owner" \
	env TFATTEST_SPOOL="$W/pre/spool" "$T" record --flush-spool
expect_output "spool directory .*/pre/spool is owned by uid $OTHER" "the swap is seen"
check "nothing was appended (swapped)" [ "$(nrec)" -eq "$n0" ]

# Group-writable spool directory of the caller's own.
spool "$W/gw"
chmod 0770 "$W/gw"
expect_exit 2 "group-writable spool directory" env TFATTEST_SPOOL="$W/gw" "$T" record --flush-spool
expect_output "spool directory .*/gw is writable by group or others \(mode 0770\): chmod go-w .*/gw" \
	"the message says chmod go-w"
check "nothing was appended (group-writable)" [ "$(nrec)" -eq "$n0" ]

# A spooled file of mode 0644.
spool "$W/m644"
chmod 0644 "$W"/m644/*.json
expect_exit 2 "spool file of mode 0644" env TFATTEST_SPOOL="$W/m644" "$T" record --flush-spool
expect_output "spool file .* has mode 0644, not 0600" "the message names the mode"
check "nothing was appended (0644)" [ "$(nrec)" -eq "$n0" ]

# A spool file owned by the other user, in the caller's own directory.
spool "$W/foreignfile"
chown $OTHER "$W"/foreignfile/*.json
expect_exit 2 "spool file owned by another user" env TFATTEST_SPOOL="$W/foreignfile" "$T" record --flush-spool
expect_output "spool file .* is owned by uid $OTHER, not by the caller" "the message names the file's owner"

# A symbolic link to a capture elsewhere.
spool "$W/elsewhere"
mkdir -m 0700 "$W/symspool"
f=$(basename "$(ls "$W"/elsewhere/*.json)")
ln -s "$W/elsewhere/$f" "$W/symspool/$f"
expect_exit 2 "symlinked spool file" env TFATTEST_SPOOL="$W/symspool" "$T" record --flush-spool
expect_output "spool file .*/symspool/$f is a symbolic link" "the message says symbolic link"
check "nothing was appended (symlink)" [ "$(nrec)" -eq "$n0" ]

# A hard link: the file has a second name elsewhere.
mkdir -m 0700 "$W/hardspool"
ln "$W/elsewhere/$f" "$W/hardspool/$f"
expect_exit 2 "hard-linked spool file" env TFATTEST_SPOOL="$W/hardspool" "$T" record --flush-spool
expect_output "spool file .*/hardspool/$f has 2 links, not 1" "the message counts the links"
check "nothing was appended (hard link)" [ "$(nrec)" -eq "$n0" ]
rm "$W/hardspool/$f"

# The genuine spool still flushes.
expect_exit 0 "the caller's own spool flushes" env TFATTEST_SPOOL="$W/elsewhere" "$T" record --flush-spool
expect_output '1 appended' "one appended"
check "one record appended" [ "$(nrec)" -eq $((n0 + 1)) ]

# The local store: owned by the caller (or root), not writable by group or others.
cd "$W" || exit 2
n=$(nrec)
cp -a s s2 && chown -R $OTHER s2
expect_exit 2 "store directory owned by another user" "$T" log --store "$W/s2"
expect_output "store directory .*/s2 is owned by uid $OTHER, not by the caller \(uid 0\) or root" \
	"the message names the store's owner"
expect_exit 2 "record into a foreign store" "$T" record --store "$W/s2" --plan "$PLANS/show-basic-create.json"
chown -R 0 s2
chmod 0777 s2
expect_exit 2 "world-writable store directory" "$T" log --store "$W/s2"
expect_output "store directory .*/s2 is writable by group or others \(mode 0777\): chmod go-w .*/s2" \
	"the message says chmod go-w"
chmod 0755 s2 && chmod 0775 s2/records
expect_exit 2 "group-writable records directory" "$T" log --store "$W/s2"
expect_output "store directory .*/s2/records is writable by group or others \(mode 0775\)" \
	"records/ is checked"
chmod 0755 s2/records && chmod 0777 s2/tmp
expect_exit 2 "world-writable tmp directory" "$T" log --store "$W/s2"
expect_output "/s2/tmp is writable by group or others" "tmp/ is checked"
chmod 0755 s2/tmp && chown $OTHER s2/chain.json
expect_exit 2 "foreign chain.json" "$T" log --store "$W/s2"
expect_output "/s2/chain.json is owned by uid $OTHER" "chain.json is checked"
chown 0 s2/chain.json && chmod 0666 s2/HEAD
expect_exit 2 "world-writable HEAD" "$T" log --store "$W/s2"
expect_output "/s2/HEAD is writable by group or others \(mode 0666\)" "HEAD is checked"
chmod 0644 s2/HEAD && rm -f s2/HEAD && ln -s "$W/s/HEAD" s2/HEAD
expect_exit 2 "symlinked HEAD" "$T" log --store "$W/s2"
expect_output "/s2/HEAD is a symbolic link" "HEAD must not be a link"
rm s2/HEAD
expect_exit 0 "the repaired store reads" "$T" log --store "$W/s2"
mkdir -m 0777 s2/checkpoints
expect_exit 2 "world-writable checkpoints directory" "$T" checkpoint --store "$W/s2" --key "file:$W/k.pem"
expect_output "/s2/checkpoints is writable by group or others" "checkpoints/ is checked"
chmod 0755 s2/checkpoints
mkdir -m 0777 open && chown $OTHER open
expect_exit 2 "init refuses a foreign, world-writable directory" "$T" init --store "$W/open" --chain x --key file:k.pem
expect_output "store directory .*/open is owned by uid $OTHER" "init names the owner"
check "init wrote nothing there" [ -z "$(ls open)" ]
(umask 0002 && "$T" init --store "$W/fresh" --chain y --key file:k.pem > /dev/null 2>&1)
expect_exit 0 "a store init made under umask 002 opens" "$T" log --store "$W/fresh"
check "its directories are not group-writable" [ "$(stat -c %a fresh fresh/records fresh/tmp | sort -u)" = 755 ]
check "the original store is untouched" [ "$(nrec)" -eq "$n" ]

finish
