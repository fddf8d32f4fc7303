#!/usr/bin/env bash
# Run the kTLS selftests (tools/testing/selftests/net/tls: ulp, tx, rx,
# aead, device, device_rx, kcm, regress, and tls.c, the conformance suite, one run
# per fixture and variant)
# on a built kernel flavour under QEMU, and judge every case:
#   PASS   it passed
#   FAIL   it failed, was skipped, gave no result (crash, timeout), or is
#          listed in XFAIL but passed: take it off the list
#   XFAIL  it failed and is listed in XFAIL (an expected failure, by name:
#          lines "SUITE: CASE", e.g. "tls: tls.12_aes_gcm.sendfile")
# A run also fails when the "tls" ULP is not registered, or when tls.c
# says it fell back to plain TCP.
#
# usage: run-tests.sh FLAVOUR [XFAIL-FILE]
#   KTLS_TLS_GROUPS   an extended regex: run only the tls.c groups (fixture
#                     and variant, e.g. "tls.13_aes_gcm") it matches
#   KTLS_TLS_JOBS     how many tls.c groups run at once (default 1: see
#                     guest-tests.sh)
#   KTLS_VARIANTS     an extended regex: the other suites run only the
#                     fixture variants it matches, as "FIXTURE.VARIANT"
#                     (e.g. "^tx\.12_aes_gcm$"; see guest-tests.sh); default: all
#   KTLS_SUITES       an extended regex: the suites other than tls.c that
#                     run (e.g. "^(tx|rx)$"); default: all
#   KTLS_CPUS         the guest's vCPUs (default 2). One CPU and two find
#                     different bugs (wake-ups, timers): make test runs
#                     both. With another count the run and its verdicts
#                     are named FLAVOUR-Ncpu.
# The selftests are built from build/linux (the series) and the same
# binaries run on every flavour. Per-group counts go to
# build/runs/tests-FLAVOUR/summary (for make compare).
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

flavour=${1:?usage: run-tests.sh FLAVOUR [XFAIL-FILE]}
xfail=${2:-/dev/null}
cpus=${KTLS_CPUS:-2}
kernel=$BUILD/out/$flavour/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no $flavour kernel: scripts/build-kernel.sh $flavour"
# from here on, $flavour names the run: the kernel, and the CPUs if not 2
[ "$cpus" = 2 ] || flavour=$flavour-${cpus}cpu

# The selftests, against the series' uAPI headers.
st=$BUILD/selftests
mkdir -p "$st"
make -s -C "$TREE/tools/testing/selftests/net/tls" OUTPUT="$st" \
	KHDR_INCLUDES="-isystem $BUILD/out/series/hdr/include" >&2 ||
	die "selftests do not build"

name=tests-$flavour
run=$BUILD/runs/$name
qrc=0
# the device suites turn offload on and off with ethtool, and device_rx
# reorders packets with tc's netem
need_pkgs ethtool iproute2
"$TOP/scripts/qemu-run.sh" -n "$name" -c "$cpus" -t 3000 "$kernel" \
	"$TOP/scripts/guest-tests.sh $st /tmp/results/st '${KTLS_TLS_GROUPS:-.}' ${KTLS_TLS_JOBS:-1} '${KTLS_VARIANTS:-.}' '${KTLS_SUITES:-.}'" ||
	qrc=$?
out=$run/out/st

status=0
fail() { result FAIL "$@"; status=1; }

[ $qrc -eq 0 ] || fail "$flavour: guest run" "exit $qrc, see ${run#"$TOP"/}/console.log"
# The debug kernel's checkers must have been live for its silence to count.
if [[ $flavour == debug* ]]; then
	for want in "KernelAddressSanitizer initialized" "Lock dependency validator" \
		    "guest-init: kmemleak scanned"; do
		if grep -q "$want" "$run/console.log"; then
			result PASS "debug: console shows \"$want\""
		else
			fail "debug: console shows \"$want\""
		fi
	done
fi
if grep -qw tls "$out/ulp-available" 2>/dev/null; then
	result PASS "$flavour: tls ULP registered"
else
	fail "$flavour: tls ULP registered" "tcp_available_ulp: $(cat "$out/ulp-available" 2>/dev/null)"
fi

# judge SUITE KTAP [CASES]: one verdict per case of a KTAP file; CASES
# lists the cases that must have a result.
judge() {
	local suite=$1 ktap=$2 cases=${3:-/dev/null}
	awk -v suite="$suite" -v flavour="$flavour" -v xfile="$xfail" -v cfile="$cases" '
	BEGIN {
		while ((getline l < xfile) > 0)
			if (l !~ /^(#|$)/) xf[l] = 1
		while ((getline l < cfile) > 0) { want[l] = 1; nwant++ }
	}
	/^1\.\.[0-9]+$/ { plan = substr($0, 4) + 0 }
	/^(not )?ok [0-9]+ / {
		bad = ($1 == "not"); n = bad ? $4 : $3
		dir = ""; if (index($0, " # ")) dir = substr($0, index($0, " # ") + 3)
		got[n] = 1; seen++
		tag = flavour ": " suite ": " n
		if (dir ~ /^SKIP/) print "FAIL", tag, "(skipped: " dir ")"
		else if (bad && ((suite ": " n) in xf)) print "XFAIL", tag
		else if (bad) print "FAIL", tag
		else if ((suite ": " n) in xf) print "FAIL", tag, "(passes now: take it off the XFAIL list)"
		else print "PASS", tag
	}
	END {
		for (n in want) if (!(n in got))
			print "FAIL", flavour ": " suite ": " n, "(no result: crashed or timed out)"
		if (plan && seen < plan)
			print "FAIL", flavour ": " suite, "(" plan - seen " of " plan " results missing)"
		if (!seen && !nwant && !plan)
			print "FAIL", flavour ": " suite, "(no results at all)"
	}' "$ktap"
}

if [ -n "${KTLS_TLS_GROUPS:-}" ]; then
	log "$flavour: tls.c ran $(wc -l < "$out/tls.groups" 2>/dev/null || echo 0)" \
		"of its groups (KTLS_TLS_GROUPS: $KTLS_TLS_GROUPS)"
fi
[ -z "${KTLS_VARIANTS:-}" ] ||
	log "$flavour: the other suites ran the variants matching $KTLS_VARIANTS"
[ -z "${KTLS_SUITES:-}" ] ||
	log "$flavour: of the suites other than tls.c, those matching $KTLS_SUITES ran"
summary=$run/summary
: > "$summary"
# the plain AEAD pass runs with the whole of tls.c (guest-tests.sh)
plain=()
[ -n "${KTLS_TLS_GROUPS:-}" ] ||
	plain=("$out"/plain-tx.ktap "$out"/plain-rx.ktap "$out"/plain-tls.ktap)
for ktap in "$out"/ulp.ktap "$out"/tx.ktap "$out"/rx.ktap "$out"/aead.ktap "$out"/device.ktap \
	    "$out"/device_rx.ktap "$out"/kcm.ktap "$out"/regress.ktap \
	    "$out"/tls.*.ktap "${plain[@]}"; do
	group=${ktap##*/}
	group=${group%.ktap}
	if [[ $group =~ ^(ulp|tx|rx|aead|device|device_rx|kcm|regress)$ ]] &&
	   ! [[ $group =~ ${KTLS_SUITES:-.} ]]; then
		continue
	fi
	[ -f "$ktap" ] || { fail "$flavour: ${ktap##*/}" "missing"; continue; }
	cases=${ktap%.ktap}.cases
	if [[ $group =~ ^(plain-)?tls ]] && grep -q 'testing without tls' "$ktap"; then
		fail "$flavour: $group" "tls.c fell back to plain TCP"
	fi
	lines=$(judge "${group%%.*}" "$ktap" "$cases")
	while read -r verdict rest; do
		[ -n "$verdict" ] || continue
		result "$verdict" "$rest"
		[ "$verdict" = PASS ] || [ "$verdict" = XFAIL ] || status=1
	done <<< "$lines"
	printf '%s\t%s\t%s\t%s\n' "${group#tls.}" "$(grep -c '^PASS' <<< "$lines")" \
		"$(grep -c '^FAIL' <<< "$lines")" "$(grep -c '^XFAIL' <<< "$lines")" >> "$summary"
done
exit $status
