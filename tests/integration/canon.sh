#!/usr/bin/env bash
# `tfattest canon [FILE]`: the canonical form from a file, from standard input
# and from `-`, the same bytes each way, also for output many times larger
# than the window it is written through; invalid input prints nothing to
# stdout and exits 1; a file that is not there, a directory and a full
# output device are errors naming what went wrong.
. "$(dirname "$0")/../lib/common.sh"
cd "$W" || exit 2

printf '{"b":[1E2,0.50,-0],"a":"\\u00e9\\n","\\ud83d\\ude00":1,"\\ue000":2}' > small.json
want=$(printf '{"a":"\xc3\xa9\\n","b":[100,0.5,0],"\xf0\x9f\x98\x80":1,"\xee\x80\x80":2}')
expect_exit 0 "canon FILE" "$T" canon small.json
[ "$(cat "$W/last.out")" = "$want" ] || fail "canon FILE: got $(cat "$W/last.out")"
expect_exit 0 "canon < FILE" sh -c "\"$T\" canon < small.json"
[ "$(cat "$W/last.out")" = "$want" ] || fail "canon < FILE: got $(cat "$W/last.out")"
expect_exit 0 "canon - < FILE" sh -c "\"$T\" canon - < small.json"
[ "$(cat "$W/last.out")" = "$want" ] || fail "canon - < FILE: got $(cat "$W/last.out")"

# About 2 MB in, written in pieces: keys reordered, escapes undone, numbers reformatted.
awk 'BEGIN { printf "["; for (i = 0; i < 40000; i++) printf "%s{\"z\":%d.50,\"a\":\"x\\u0041\\t%d\"}", (i ? "," : ""), i, i; printf "]" }' > big.json
awk 'BEGIN { printf "["; for (i = 0; i < 40000; i++) printf "%s{\"a\":\"xA\\t%d\",\"z\":%s}", (i ? "," : ""), i, i ".5"; printf "]" }' > big.want
expect_exit 0 "canon of 2 MB from a file" "$T" canon big.json
cmp -s "$W/last.out" big.want || fail "canon of a 2 MB file differs from what it should be"
expect_exit 0 "canon of 2 MB from a pipe" sh -c "cat big.json | \"$T\" canon"
cmp -s "$W/last.out" big.want || fail "canon of 2 MB from a pipe differs from what it should be"

printf '{"a":1,"a":2}' > dup.json
expect_exit 1 "a duplicate key" "$T" canon dup.json
expect_output 'duplicate object key at byte 7' "the duplicate key is named"
[ -s "$W/last.out" ] && fail "invalid input wrote to stdout"
printf '[1,2' > cut.json
expect_exit 1 "a cut document" sh -c "\"$T\" canon < cut.json"
[ -s "$W/last.out" ] && fail "a cut document wrote to stdout"

expect_exit 2 "a file that is not there" "$T" canon no-such.json
expect_output "cannot open no-such.json" "the missing file is named"
mkdir adir
expect_exit 1 "a directory" "$T" canon adir
expect_output "adir is not a regular file" "a directory is refused as such"
if [ -w /dev/full ]; then
	expect_exit 2 "output to a full device" sh -c "\"$T\" canon big.json > /dev/full"
	expect_output "cannot write standard output" "the failed write is reported"
fi

finish
