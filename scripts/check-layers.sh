#!/usr/bin/env bash
# Checks every #include in src/*/ and providers/ against the layer table of
# docs/ARCHITECTURE.md, and looks for include cycles.
#
#   scripts/check-layers.sh [--allowlist FILE] [ROOT]
#
# ROOT defaults to the source tree this script is in. A violation is printed as
#   FILE:LINE: includes HEADER: RULE
# and makes the script exit 1. So does an include cycle, and so does an
# ALLOWLIST entry whose include no longer occurs (the list only shrinks).
#
# The verifier-side public headers (the only ones src/format and src/verify may
# include) are the TFA_VERIFIER_HEADERS list of ROOT/CMakeLists.txt.
set -euo pipefail

# Known violations, each with the reason it is still there: "FILE|INCLUDE|why".
# INCLUDE is written as in the #include line ("verify/crypto.h" or <curl/curl.h>).
# Remove an entry when its include goes; the check fails until you do.
ALLOWLIST=(
)

root=""
allow_file=""
while [ $# -gt 0 ]; do
	case $1 in
	--allowlist) allow_file=$2; shift 2 ;;
	-h | --help) sed -n '2,13p' "$0"; exit 0 ;;
	*) root=$1; shift ;;
	esac
done
[ -n "$root" ] || root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ -n "$allow_file" ]; then
	mapfile -t ALLOWLIST < <(grep -v '^[[:space:]]*\(#\|$\)' "$allow_file" || true)
fi

# The verifier-side public headers, from CMakeLists.txt:
#   set(TFA_VERIFIER_HEADERS
#     tfattest/common.h ...
#   )
verifier_headers=$(awk '
	/^[[:space:]]*set\(TFA_VERIFIER_HEADERS([[:space:]]|$)/ { on = 1; sub(/.*set\(TFA_VERIFIER_HEADERS/, "") }
	on { line = $0; sub(/#.*/, "", line); if (line ~ /\)/) { sub(/\).*/, "", line); on = 0 }
	     n = split(line, w, /[[:space:]]+/); for (i = 1; i <= n; i++) if (w[i] != "") print w[i] }
' CMakeLists.txt)
if [ -z "$verifier_headers" ]; then
	echo "check-layers: no TFA_VERIFIER_HEADERS list in $root/CMakeLists.txt" >&2
	exit 2
fi

# Every file to check, and every public header (for cycles and resolution).
files=$(find src providers include -type f \( -name '*.c' -o -name '*.h' -o -name '*.h.in' \) 2>/dev/null | LC_ALL=C sort)

# One line per include: FILE<TAB>LINE<TAB>FORM<TAB>NAME, FORM being q or a.
# shellcheck disable=SC2086 # the file names hold no spaces
includes=$(awk '
	/^[[:space:]]*#[[:space:]]*include[[:space:]]*"/ {
		s = $0; sub(/^[^"]*"/, "", s); sub(/".*/, "", s); printf "%s\t%d\tq\t%s\n", FILENAME, FNR, s }
	/^[[:space:]]*#[[:space:]]*include[[:space:]]*</ {
		s = $0; sub(/^[^<]*</, "", s); sub(/>.*/, "", s); printf "%s\t%d\ta\t%s\n", FILENAME, FNR, s }
' $files)

status=0
printf '%s\n' "$includes" | awk -F'\t' \
	-v allow="$(printf '%s\n' "${ALLOWLIST[@]+"${ALLOWLIST[@]}"}")" \
	-v vheaders="$verifier_headers" \
	-v files="$files" '
function exists(p) { return (p in present) }
# The path, with "." and ".." components resolved.
function norm(p,   n, i, parts, out, k) {
	n = split(p, parts, "/"); k = 0
	for (i = 1; i <= n; i++) {
		if (parts[i] == "." || parts[i] == "") continue
		if (parts[i] == ".." && k > 0) { k--; continue }
		out[++k] = parts[i]
	}
	p = ""
	for (i = 1; i <= k; i++) p = p (i > 1 ? "/" : "") out[i]
	return p
}
function dirname(p) { if (p !~ /\//) return "."; sub(/\/[^\/]*$/, "", p); return p }
# The layer a path belongs to: a src/ folder, "providers", "public" or "".
function layer(p,   a) {
	if (p ~ /^src\//) { split(p, a, "/"); return a[2] }
	if (p ~ /^providers\//) return "providers"
	if (p ~ /^include\/tfattest\//) return "public"
	return ""
}
function provider(p,   a) { split(p, a, "/"); return a[2] }
function violation(f, line, shown, rule) {
	key = f "|" shown
	if (key in allowed) { seen[key] = 1; return }
	printf "%s:%d: includes %s: %s\n", f, line, shown, rule
	bad = 1
}
BEGIN {
	# Who may include whom (docs/ARCHITECTURE.md): the private headers of these layers.
	may["format"] = "format"
	may["verify"] = "format verify"
	may["sys"] = "format sys"
	may["net"] = "format sys net"
	may["aws"] = "format sys net verify aws"
	may["capture"] = "format verify sys net capture"
	may["record"] = "format verify sys net aws capture record"
	may["providers"] = "format verify sys net aws capture record"
	may["service"] = "format verify sys net aws capture record service"
	may["cli"] = "cli"
	nl = split("format verify sys net aws capture record service cli", L, " ")
	for (i = 1; i <= nl; i++) known[L[i]] = 1
	n = split(files, fl, "\n"); for (i = 1; i <= n; i++) if (fl[i] != "") present[fl[i]] = 1
	n = split(vheaders, vh, "\n"); for (i = 1; i <= n; i++) if (vh[i] != "") verifier["include/" vh[i]] = 1
	n = split(allow, al, "\n")
	for (i = 1; i <= n; i++) {
		if (al[i] == "") continue
		split(al[i], parts, "|"); allowed[parts[1] "|" parts[2]] = 1; order[++na] = parts[1] "|" parts[2]
	}
	bad = 0
}
{
	f = $1; line = $2; form = $3; inc = $4
	fl_ = layer(f)
	shown = form == "q" ? "\"" inc "\"" : "<" inc ">"
	shown_key = form == "q" ? inc : "<" inc ">"
	target = ""
	if (inc ~ /^tfattest\//) {
		target = "include/" inc
		if (!exists(target) && !exists(target ".in")) {
			if (form == "a") next  # an installed copy; not ours to judge
			violation(f, line, shown_key, "no such public header"); next
		}
	} else if (form == "a") {
		# A system header: the verifier trusted code uses no recording-side library.
		if ((fl_ == "format" || fl_ == "verify") && (inc ~ /^curl\// || inc ~ /^libp11/ || inc ~ /^p11-kit\//))
			violation(f, line, shown_key, "src/" fl_ " may not include libcurl or libp11 headers (the verifier'"'"'s trusted code)")
		next
	} else {
		split(inc, a, "/")
		if ((a[1] in known) && inc ~ /\//) target = "src/" inc
		else target = norm(dirname(f) "/" inc)
		if (!exists(target)) {
			if (fl_ != "public") violation(f, line, shown_key, "does not resolve to a file in the tree")
			next
		}
	}
	edge[f] = edge[f] " " target
	tl = layer(target)
	if (fl_ == "" || fl_ == "public") next
	if (tl == "public") {
		if ((fl_ == "format" || fl_ == "verify") && !(target in verifier))
			violation(f, line, shown_key, "src/" fl_ " may include only the verifier-side public headers (TFA_VERIFIER_HEADERS)")
		next
	}
	if (tl == "providers") {
		if (fl_ != "providers" || provider(f) != provider(target))
			violation(f, line, shown_key, "a provider'"'"'s headers are its own (" fl_ " may not include providers/" provider(target) ")")
		next
	}
	if (fl_ == "cli") {
		if (tl != "cli")
			violation(f, line, shown_key, "src/cli includes only public headers (include/tfattest/) and its own")
		next
	}
	if (index(" " may[fl_] " ", " " tl " ") == 0) {
		who = fl_ == "providers" ? "providers/*" : "src/" fl_
		violation(f, line, shown_key, who " may not include src/" tl " (may include: " may[fl_] ")")
	}
}
# Depth-first search; a back edge is a cycle.
function dfs(u,   i, n, vs, v, j, path) {
	state[u] = 1; stack[++sp] = u
	n = split(edge[u], vs, " ")
	for (i = 1; i <= n; i++) {
		v = vs[i]
		if (v == "" || v == u) continue
		if (state[v] == 1) {
			path = v
			for (j = sp; j >= 1 && stack[j] != v; j--) ;
			for (j = j + 1; j <= sp; j++) path = path " -> " stack[j]
			printf "include cycle: %s -> %s\n", path, v
			bad = 1
		} else if (state[v] == 0) dfs(v)
	}
	sp--; state[u] = 2
}
END {
	sp = 0
	for (u in edge) if (state[u] == 0) dfs(u)
	for (i = 1; i <= na; i++) {
		if (!(order[i] in seen)) {
			split(order[i], parts, "|")
			printf "ALLOWLIST: %s no longer includes %s: remove the entry\n", parts[1], parts[2]
			bad = 1
		}
	}
	exit bad
}
' || status=$?
[ $status -eq 0 ] && echo "check-layers: every include follows docs/ARCHITECTURE.md (${#ALLOWLIST[@]} allowlisted)"
exit $status
