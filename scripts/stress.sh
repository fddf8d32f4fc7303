#!/usr/bin/env bash
# The kTLS race and teardown stress (issue 19, item 2). Builds
# scripts/stress/ktls-stress.c, boots a kernel flavour under QEMU
# (scripts/qemu-run.sh) and runs it there (scripts/guest-stress.sh):
# seeded rounds on fresh kTLS socket pairs over loopback, each one
# scenario: several senders and readers on one socket with every send
# and read call, checked chunk by chunk (integrity, integrity-mr);
# close() and shutdown() from one thread while others are blocked in
# send, recv, sendfile, splice both ways, poll and epoll (teardown); a
# peer that stops reading, then resets, or a sender closed or shut down
# while blocked (stall-reset); TLS_TX/TLS_RX KeyUpdates and getsockopt()
# racing senders and readers (rekey-race); TCP_ULP racing connect,
# listen, disconnect and accept (ulp). See the program's header for what
# each checks.
#
# usage: stress.sh [--smoke] [--seconds N] [--seed S] [--cpus N]
#                  [--flavour F] [--name NAME]
#   --smoke     seed 1, 90 seconds of rounds (about 3 minutes in all
#               under TCG), for make test
#   (default)   the make stress run: seed 1, 1800 seconds of rounds
#   --seconds N, --seed S   how long, from which seed
#   --cpus N    guest vCPUs (default 2)
#   --flavour F the kernel, build/out/F (default series; debug for KASAN,
#               lockdep and kmemleak)
#   --name NAME the run's directory under build/runs (default
#               stress-smoke, stress or stress-custom, with -Ncpu when N
#               is not 2, and -F when F is not series)
#
# Writes build/stress/ktls-stress (the program) and build/runs/NAME/:
# console.log (the guest kernel's) and out/stress/: stress.log (the run:
# each failure with its seed, round and scenario, the counts per
# scenario, then "rounds N, failures M, rounds/s R"), inject.log (the
# checker's self-test), slab.txt and slabinfo-before/-after (the leak
# check), kmemleak.txt (debug kernel). A failure replays alone, as root
# in a guest of the same kernel: build/stress/ktls-stress --seed S
# --round R --repeat 20 -v.
# Prints the failures, the counts and one verdict line per check
# (PASS/FAIL, counted by scripts/test.sh when it runs this). Exit code
# non-zero on any failed round, on a kernel report (oops, WARN, BUG,
# KASAN, lockdep, hung task, kmemleak in the console), when the "tls" ULP
# is not registered, when the checker's self-test did not fail as it
# must, when kmemleak reports a leak, or when unreclaimable slab grew by
# more than KTLS_STRESS_SLAB_KB (default 1024) KB from before the run to
# after it, every socket closed (reported only under KASAN, whose
# quarantine holds freed objects: there kmemleak decides).
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

usage="usage: stress.sh [--smoke] [--seconds N] [--seed S] [--cpus N] [--flavour F] [--name NAME]"
mode=full seconds=1800 seed=1 cpus=2 flavour=series name=''
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) mode=smoke seconds=90 ;;
	--seconds) seconds=${2:?$usage}; mode=custom; shift ;;
	--seed) seed=${2:?$usage}; shift ;;
	--cpus) cpus=${2:?$usage}; shift ;;
	--flavour) flavour=${2:?$usage}; shift ;;
	--name) name=${2:?$usage}; shift ;;
	*) die "$usage" ;;
	esac
	shift
done
for n in "$seconds" "$cpus"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "$usage"
done
[[ $seed =~ ^[0-9]+$ ]] || die "$usage"
[ -n "$name" ] || name=$(run_name stress "$mode" "$cpus" "$flavour")
slab_max=${KTLS_STRESS_SLAB_KB:-1024}

kernel=$BUILD/out/$flavour/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no $flavour kernel: scripts/build-kernel.sh $flavour"
hdr=$BUILD/out/series/hdr/include
[ -d "$hdr" ] || die "no uAPI headers in $hdr: scripts/build-kernel.sh series"

need_pkgs gcc qemu-system-x86 iproute2
mkdir -p "$BUILD/stress"
prog=$BUILD/stress/ktls-stress
gcc -O2 -g -Wall -Wextra -Werror -isystem "$hdr" -o "$prog" \
	"$TOP/scripts/stress/ktls-stress.c" -lpthread ||
	die "ktls-stress does not build"

# Rounds end by their own timeouts and the program's watchdog (120 s a
# round); this bounds a guest that stops answering: the run, the
# self-test, the warm-up and the settle delays, with room for a slow host.
timeout=$((seconds * 2 + 900))
run=$BUILD/runs/$name
out=$run/out/stress
status=0
fail() { result FAIL "$@"; status=1; }

log "$name: $seconds s of rounds from seed $seed, $cpus vCPUs, $flavour kernel, base $(base_describe)"
t0=$SECONDS
qrc=0
nice "$TOP/scripts/qemu-run.sh" -n "$name" -c "$cpus" -t "$timeout" "$kernel" \
	"$TOP/scripts/guest-stress.sh $prog /tmp/results/stress $seed $seconds" ||
	qrc=$?
secs=$((SECONDS - t0))

guest_checks "$name" "$qrc" "$secs" "$run" "$out" || status=1

# (greps that find nothing are no error here)
summary=$(grep '^rounds [0-9]*, failures [0-9]*, rounds/s' "$out/stress.log" 2>/dev/null | tail -1 || :)
{ grep -E '^(FAIL|HANG) ' "$out/stress.log" 2>/dev/null || :; } | head -100 >&2
grep -E '^(scenario |  errnos:|tls_stat)' "$out/stress.log" >&2 2>/dev/null || :
src=$(cat "$out/stress.rc" 2>/dev/null || echo none)
if [ -z "$summary" ]; then
	fail "$name: $seconds s from seed $seed" "no summary (exit $src), see ${out#"$TOP"/}/stress.log"
elif [ "$src" = 0 ] && [[ $summary == *", failures 0,"* ]]; then
	result PASS "$name: $seconds s from seed $seed" "$summary"
else
	fail "$name: $seconds s from seed $seed" "$summary; exit $src"
fi

# leaks: unreclaimable slab before and after, every socket gone
slab_verdict "$name" "$out/slab.txt" "$slab_max" || status=1
if [ -f "$out/slab.txt" ]; then
	if [ "$slab_growth" -gt "$slab_max" ] || [ "$slab_kasan" = 1 ]; then
		# the caches that grew most (active objects times size)
		join <(awk 'NR > 2 { print $1, $2 * $4 }' "$out/slabinfo-before" | sort) \
			<(awk 'NR > 2 { print $1, $2 * $4 }' "$out/slabinfo-after" | sort) 2>/dev/null |
			awk '{ d = ($3 - $2) / 1024; if (d > 64) printf "  %s +%d KB\n", $1, d }' |
			sort -t+ -k2 -rn | head -10 >&2 || :
	fi
fi
if [ -f "$out/kmemleak.txt" ]; then
	if [ -s "$out/kmemleak.txt" ]; then
		head -40 "$out/kmemleak.txt" >&2
		fail "$name: kmemleak finds no leak" "see ${out#"$TOP"/}/kmemleak.txt"
	else
		result PASS "$name: kmemleak finds no leak"
	fi
fi
echo "$summary (${secs}s in all)"
exit $status
