#!/usr/bin/env bash
# shards_cover.sh DIR N: the N shards of a sharded integration script (ctest
# it_<script>_1..N, each logging to DIR/<i>, see `unit` in tests/lib/common.sh)
# declared the same units in the same order, and together ran each unit exactly
# once: no case is lost, none runs twice.
set -u
dir=$1 n=$2
status=0
bad() { echo "FAIL: $*" >&2; status=1; }
for i in $(seq 1 "$n"); do
	[ -s "$dir/$i" ] || { echo "FAIL: no log from shard $i/$n in $dir" >&2; exit 1; }
done
units=$(cut -d' ' -f2- "$dir/1")
total=$(grep -c . <<< "$units")
[ "$(sort <<< "$units" | uniq -d)" = "" ] || bad "units declared twice: $(sort <<< "$units" | uniq -d | head -3)"
for i in $(seq 2 "$n"); do
	[ "$(cut -d' ' -f2- "$dir/$i")" = "$units" ] || bad "shard $i/$n declared other units than shard 1/$n"
done
ran=$(cat "$dir"/* | sed -n 's/^run //p' | sort)
[ "$(uniq -d <<< "$ran")" = "" ] || bad "units run by more than one shard: $(uniq -d <<< "$ran" | head -3)"
[ "$(uniq <<< "$ran")" = "$(sort <<< "$units")" ] || bad "units run by no shard: $(comm -23 <(sort <<< "$units") <(uniq <<< "$ran") | head -3)"
for i in $(seq 1 "$n"); do echo "shard $i/$n ran $(grep -c '^run ' "$dir/$i") of $total units"; done
[ "$status" -eq 0 ] && echo "ok - $n shards ran each of $total units once"
exit "$status"
