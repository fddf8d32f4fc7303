#!/bin/bash
# Runs inside the guest (see scripts/run-tests.sh): the kTLS selftests,
# each part's KTAP output in its own file under OUT.
#
# usage: guest-tests.sh SELFTESTS OUT
#   OUT/ulp-available   /proc/sys/net/ipv4/tcp_available_ulp
#   OUT/ulp.ktap        the ulp suite
#   OUT/tx.ktap         the tx suite (records on the wire)
#   OUT/tls.GROUP.ktap  the conformance suite (tls.c), one run per fixture
#                       and variant (GROUP: "tls.12_aes_gcm", "tls_basic")
#   OUT/tls.GROUP.cases the cases that run was asked for, one per line
#   OUT/*.rc            exit codes
set -u
bin=$1 out=$2
mkdir -p "$out"

cat /proc/sys/net/ipv4/tcp_available_ulp > "$out/ulp-available"

timeout 600 "$bin/ulp" > "$out/ulp.ktap" 2>&1
echo $? > "$out/ulp.rc"
timeout 1200 "$bin/tx" > "$out/tx.ktap" 2>&1
echo $? > "$out/tx.rc"

# tls -l prints "FIXTURE VARIANT TEST" columns (%-20s %-25s %s), variants
# and tests side by side; every test runs once per variant.
"$bin/tls" -l 2>&1 >/dev/null | awk -v out="$out" '
	/^# FIXTURE/ || /^----/ { next }
	{
		f = substr($0, 1, 20); v = substr($0, 22, 25); t = substr($0, 48)
		gsub(/ /, "", f); gsub(/ /, "", v); gsub(/ /, "", t)
		if (f != "") { cur = f; order[++nf] = f }
		if (v != "") vars[cur] = vars[cur] " " v
		if (t != "") tests[cur] = tests[cur] " " t
	}
	END {
		for (i = 1; i <= nf; i++) {
			f = order[i]
			nt = split(tests[f], T, " "); nv = split(vars[f], V, " ")
			if (nv == 0) { nv = 1; V[1] = "" }
			for (j = 1; j <= nv; j++) {
				g = V[j] == "" ? f : f "." V[j]
				for (k = 1; k <= nt; k++)
					print g "." T[k] > (out "/tls." g ".cases")
			}
		}
	}'

for cases in "$out"/tls.*.cases; do
	[ -e "$cases" ] || { echo "tls -l listed no cases" > "$out/tls.list-error"; break; }
	group=${cases##*/tls.}
	group=${group%.cases}
	args=()
	while read -r c; do args+=(-r "$c"); done < "$cases"
	timeout 1500 "$bin/tls" "${args[@]}" > "$out/tls.$group.ktap" 2>&1
	echo $? > "$out/tls.$group.rc"
done
exit 0
