#!/usr/bin/env bash
# Fault injection into kTLS (issue 19, item 3). Builds
# scripts/faultinj/ktls-faultinj.c, boots the debug kernel (KASAN,
# lockdep, kmemleak, failslab, fail_page_alloc: scripts/config/debug.config)
# under QEMU (scripts/qemu-run.sh) and runs scripts/guest-faultinj.sh there:
# one scripted kTLS session (attach, keys, sends of several sizes, MSG_MORE,
# splice and sendfile, a record read in many skbs, MSG_PEEK, splice to a
# pipe, TLS 1.3 KeyUpdate both ways, getsockopt, close; see the program's
# header), run once per step with /proc/thread-self/fail-nth = 1, 2, 3 ...
# until the session completes without taking the fault: every allocation
# of the session's thread with net/tls on its stack fails once, in turn,
# for failslab and for fail_page_alloc, per cipher. Every step must end in
# a byte-exact session, an errno (the sockets then close cleanly) or a
# call that succeeds when tried again; never wrong bytes, lost data, an
# error where no fault was taken, a hang or a kernel report. Then a random
# mode: 10% of the allocations with net/tls on the stack fail in any
# context (softirq receive too), 40 sessions. Allocations in softirq and
# work items are reached only by the random mode: fail-nth counts those of
# the task.
#
# usage: faultinj.sh [--quick] [--cpus N] [--name NAME]
#   --quick     TLS 1.2 and 1.3 AES-GCM-128 only (decryption into the
#               reader's pages, and KeyUpdate), failslab and fail_page_alloc
#   (default)   failslab and fail_page_alloc for TLS 1.2 AES-GCM-128,
#               TLS 1.3 AES-GCM-128 and TLS 1.3 ChaCha20-Poly1305; the
#               random mode for TLS 1.2 and 1.3 AES-GCM-128
#   KTLS_FAULTINJ_RUNS="FAULT:FILTER:TLS:CIPHER ..." another list of runs,
#               e.g. slab:all:13:aes-gcm-128 (every allocation of the
#               session's thread counted: TCP connect, pipes, memfds too)
#   --cpus N    guest vCPUs (default 2)
#   --name NAME the run's directory under build/runs (default faultinj,
#               faultinj-quick)
#
# Writes build/faultinj/ktls-faultinj and build/runs/NAME/: console.log and
# out/faultinj/: faultinj.log (per run "== FAULT:FILTER:TLS:CIPHER", the
# steps that did not pass whole, "summary ...", "errnos: ...",
# "faults-taken-in: ...", "rc N"), inject.log (the checker's self-test),
# slab.txt, slabinfo-before/-after, kmemleak.txt.
# A step replays alone in a guest of the debug kernel, with debugfs set as
# guest-faultinj.sh's configure() does: ktls-faultinj --tls T --cipher C
# --step N -v.
# Prints one verdict line per run and check. Exit code non-zero on a
# failed step, a run that did not finish, a kernel report (oops, WARN,
# KASAN, lockdep, hung task, kmemleak in the console), a leak kmemleak
# finds, a checker self-test that did not fail, or unreclaimable slab
# grown by more than KTLS_FAULTINJ_SLAB_KB (default 1024) KB (reported
# only under KASAN, whose quarantine holds freed objects).
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

usage="usage: faultinj.sh [--quick] [--cpus N] [--name NAME]"
mode=full cpus=2 name=''
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) mode=quick ;;
	--cpus) cpus=${2:?$usage}; shift ;;
	--name) name=${2:?$usage}; shift ;;
	*) die "$usage" ;;
	esac
	shift
done
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "$usage"
if [ -z "$name" ]; then
	name=faultinj
	[ "$mode" = quick ] && name+=-quick
	[ "$cpus" = 2 ] || name+=-${cpus}cpu
fi
slab_max=${KTLS_FAULTINJ_SLAB_KB:-1024}

if [ "$mode" = quick ]; then
	runs=(slab:tls:12:aes-gcm-128 page:tls:12:aes-gcm-128
	      slab:tls:13:aes-gcm-128 page:tls:13:aes-gcm-128)
else
	runs=(slab:tls:12:aes-gcm-128 page:tls:12:aes-gcm-128
	      slab:tls:13:aes-gcm-128 page:tls:13:aes-gcm-128
	      slab:tls:13:chacha20-poly1305 page:tls:13:chacha20-poly1305
	      random:tls:12:aes-gcm-128 random:tls:13:aes-gcm-128)
fi
# KTLS_FAULTINJ_RUNS: another list (see guest-faultinj.sh), e.g.
# slab:all:13:aes-gcm-128 (every allocation of the thread counted)
if [ -n "${KTLS_FAULTINJ_RUNS:-}" ]; then
	read -r -a runs <<< "$KTLS_FAULTINJ_RUNS"
fi

obj=$BUILD/out/debug
kernel=$obj/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no debug kernel: scripts/build-kernel.sh debug"
grep -qx 'CONFIG_FAULT_INJECTION_STACKTRACE_FILTER=y' "$obj/.config" ||
	die "the debug kernel predates fault injection: scripts/build-kernel.sh debug"
hdr=$obj/hdr/include
[ -d "$hdr" ] || die "no uAPI headers in $hdr: scripts/build-kernel.sh debug"

need_pkgs gcc qemu-system-x86 iproute2 binutils
mkdir -p "$BUILD/faultinj"
prog=$BUILD/faultinj/ktls-faultinj
gcc -O2 -g -Wall -Wextra -Werror -isystem "$hdr" -o "$prog" \
	"$TOP/scripts/faultinj/ktls-faultinj.c" || die "ktls-faultinj does not build"

# The text of net/tls (built in): the longest run of System.map's text
# symbols that are all defined in net/tls/built-in.a; its end is the
# next symbol. (Init and exit text and .cold parts lie elsewhere.)
# (Names found many times in System.map, such as KASAN's constructors
# _sub_I_*, are left out.)
names=$(awk 'NR == FNR { seen[$3]++; next }
	$2 ~ /^[Tt]$/ && seen[$3] <= 2 { print $3 }' \
	"$obj/System.map" <(nm "$obj/net/tls/built-in.a") | sort -u)
range=$(awk 'NR == FNR { n[$1] = 1; next }
	$2 !~ /^[Tt]$/ { next }
	($3 in n) { if (!run) { s = $1; sym = $3; c = 0; run = 1 } c++; next }
	run { if (c > best) { best = c; bs = s; bsym = sym; be = $1 } run = 0 }
	END { if (best) print bs, be, bsym, best }' \
	<(echo "$names") <(sort "$obj/System.map"))
read -r tls_start tls_end tls_sym tls_count <<< "$range"
if [ -z "${tls_count:-}" ] || [ "$tls_count" -lt 50 ]; then
	die "cannot find the text of net/tls in System.map ($range)"
fi
log "net/tls text: $tls_start-$tls_end ($tls_count of $(echo "$names" | wc -l) functions)"

timeout=${KTLS_FAULTINJ_TIMEOUT:-5400}
run=$BUILD/runs/$name
out=$run/out/faultinj
status=0
fail() { result FAIL "$@"; status=1; }

log "$name: ${#runs[@]} runs, $cpus vCPUs, debug kernel, base $(base_describe)"
t0=$SECONDS
qrc=0
nice "$TOP/scripts/qemu-run.sh" -n "$name" -c "$cpus" -t "$timeout" "$kernel" \
	"$TOP/scripts/guest-faultinj.sh $prog /tmp/results/faultinj $tls_start $tls_end $tls_sym ${runs[*]}" ||
	qrc=$?
secs=$((SECONDS - t0))

guest_checks "$name" "$qrc" "$secs" "$run" "$out" || status=1

log=$out/faultinj.log
{ grep -E '^(FAIL|HANG) ' "$log" 2>/dev/null || :; } | head -40 >&2
for r in "${runs[@]}"; do
	# the run's lines: from "== r" to its "rc N"
	body=$(awk -v r="== $r" '$0 == r { on = 1; next } on { print } on && /^rc / { exit }' \
		"$log" 2>/dev/null)
	sum=$(grep '^summary ' <<< "$body" || :)
	rc=$(sed -n 's/^rc //p' <<< "$body")
	grep -E '^(errnos|faults-taken-in):' <<< "$body" | sed "s/^/  $r /" >&2 || :
	if [ -z "$sum" ]; then
		fail "$name: $r" "no summary (exit ${rc:-none}), see ${log#"$TOP"/}"
	elif [ "$rc" = 0 ] && [[ $sum == *" failures=0 "* ]]; then
		result PASS "$name: $r" "${sum#summary }"
	else
		fail "$name: $r" "${sum#summary }; exit $rc"
	fi
done

slab_verdict "$name" "$out/slab.txt" "$slab_max" || status=1
if [ ! -f "$out/kmemleak.txt" ]; then
	fail "$name: kmemleak finds no leak" "no kmemleak report (CONFIG_DEBUG_KMEMLEAK?)"
elif [ -s "$out/kmemleak.txt" ]; then
	head -40 "$out/kmemleak.txt" >&2
	fail "$name: kmemleak finds no leak" "see ${out#"$TOP"/}/kmemleak.txt"
else
	result PASS "$name: kmemleak finds no leak"
fi
echo "$name: ${#runs[@]} runs (${secs}s in all)"
exit $status
