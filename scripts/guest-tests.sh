#!/bin/bash
# Runs inside the guest (see scripts/run-tests.sh): the kTLS selftests,
# each part's KTAP output in its own file under OUT.
#
# usage: guest-tests.sh SELFTESTS OUT [GROUPS [JOBS [VARIANTS [SUITES]]]]
#   GROUPS              an extended regex: only the tls.c groups it matches
#                       run (default: all, and then the plain AEAD pass
#                       too); OUT/tls.groups says which did
#   JOBS                tls.c groups run at once (default 1)
#   VARIANTS            an extended regex: the other suites run only the
#                       fixture variants ("FIXTURE.VARIANT") it matches,
#                       and a fixture none of whose it matches its first;
#                       default: all
#   SUITES              an extended regex: the suites other than tls.c
#                       that run (default: all)
#   OUT/ulp-available   /proc/sys/net/ipv4/tcp_available_ulp
#   OUT/ulp.ktap        the ulp suite
#   OUT/tx.ktap         the tx suite (records on the wire)
#   OUT/rx.ktap         the rx suite (records from the wire)
#   OUT/aead.ktap       the aead suite (which AEAD keys use)
#   OUT/device.ktap     the device suite (TX offload over netdevsim)
#   OUT/device_rx.ktap  the device_rx suite (RX offload over netdevsim)
#   OUT/kcm.ktap        the kcm suite (KCM over kTLS)
#   OUT/regress.ktap    the regress suite (one test per known bug class)
#   OUT/plain-*.ktap    tx, rx and tls.c again for TLS 1.2 AES-GCM with
#                       debugfs tls/aead_rfc5288 N: the plain gcm(aes) path, which
#                       rfc5288(gcm(aes)) otherwise replaces there
#   OUT/tls.GROUP.ktap  the conformance suite (tls.c), one run per fixture
#                       and variant (GROUP: "tls.12_aes_gcm", "tls_basic")
#   OUT/tls.GROUP.cases the cases that run was asked for, one per line
#   OUT/*.rc            exit codes
set -u
bin=$1 out=$2 groups=${3:-.} jobs=${4:-1} variants=${5:-.} suites=${6:-.}
mkdir -p "$out"

# skip SUITE: "-V VARIANT" for each variant of SUITE whose FIXTURE.VARIANT
# VARIANTS does not match, but for the first of a fixture none of whose
# variants it matches: every fixture runs. (-l prints "FIXTURE VARIANT
# TEST" columns, %-20s %-25s %s.)
skip() {
	"$bin/$1" -l 2>&1 >/dev/null | awk -v keep="$variants" '
		/^# FIXTURE/ || /^----/ { next }
		{
			f = substr($0, 1, 20); v = substr($0, 22, 25)
			gsub(/ /, "", f); gsub(/ /, "", v)
			if (f != "") { cur = f; first[cur] = v }
			if (v == "") next
			names[v] = 1
			if (cur "." v ~ keep) { kept[v] = 1; hit[cur] = 1 }
		}
		END {
			for (f in first)
				if (!(f in hit) && first[f] != "") kept[first[f]] = 1
			for (v in names)
				if (!(v in kept)) print "-V\n" v
		}'
}
# run SUITE TIMEOUT [ARGS...]: SUITE's KTAP and exit code into OUT
run() {
	local suite=$1 secs=$2 list args=()
	shift 2
	[[ $suite =~ $suites ]] || return 0
	# no process substitution: the guest has no /dev/fd
	list=$(skip "$suite")
	[ -z "$list" ] || mapfile -t args <<< "$list"
	timeout "$secs" "$bin/$suite" "${args[@]}" "$@" > "$out/$suite.ktap" 2>&1
	echo $? > "$out/$suite.rc"
}

cat /proc/sys/net/ipv4/tcp_available_ulp > "$out/ulp-available"

run ulp 600
run tx 1200
run rx 900
run aead 600
run device 2400
# Every case for one offloaded key size, AES-256 with two CPUs and
# AES-128 with one, so that make test covers both; "basic" for every
# variant, which for TLS 1.3 and ChaCha20 keys asserts that they stay in
# software (the other cases would only repeat the software path, at
# minutes each under TCG).
rx_variant=12_aes_gcm
[ "$(nproc)" -gt 1 ] && rx_variant=12_aes_gcm_256
if [[ device_rx =~ $suites ]]; then
	timeout 2400 "$bin/device_rx" -v "$rx_variant" -t basic \
		> "$out/device_rx.ktap" 2>&1
	echo $? > "$out/device_rx.rc"
fi
run kcm 600
run regress 900

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

# run_group GROUP: one tls.c run, for one fixture and variant
run_group() {
	local args=() c
	while read -r c; do args+=(-r "$c"); done < "$out/tls.$1.cases"
	timeout 1500 "$bin/tls" "${args[@]}" > "$out/tls.$1.ktap" 2>&1
	echo $? > "$out/tls.$1.rc"
}

# The groups share nothing (each case makes its own sockets, on ports the
# kernel picks), so they may run side by side. Not by default: the
# multi-process cases move 60 MB within the harness's 30 seconds, which
# under TCG they do only with the guest's CPUs to themselves.
for cases in "$out"/tls.*.cases; do
	[ -e "$cases" ] || { echo "tls -l listed no cases" > "$out/tls.list-error"; break; }
	group=${cases##*/tls.}
	group=${group%.cases}
	if ! [[ $group =~ $groups ]]; then
		rm "$cases"
		continue
	fi
	echo "$group" >> "$out/tls.groups"
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	run_group "$group" &
done
wait

param=/sys/kernel/debug/tls/aead_rfc5288
if [ "$groups" = . ] && [ -w "$param" ]; then
	echo N > "$param"
	gcm12=(-v 12_aes_gcm -v 12_aes_gcm_256)
	timeout 600 "$bin/tx" "${gcm12[@]}" > "$out/plain-tx.ktap" 2>&1
	timeout 600 "$bin/rx" "${gcm12[@]}" > "$out/plain-rx.ktap" 2>&1
	timeout 900 "$bin/tls" -v 12_aes_gcm > "$out/plain-tls.ktap" 2>&1
	echo Y > "$param"
fi
exit 0
