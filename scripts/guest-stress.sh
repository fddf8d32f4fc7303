#!/bin/bash
# Runs inside the guest (see scripts/stress.sh): the kTLS race and
# teardown stress, scripts/stress/ktls-stress.c.
#
# usage: guest-stress.sh PROG OUT SEED SECONDS [PROG-OPTION...]
#   OUT/ulp-available  /proc/sys/net/ipv4/tcp_available_ulp
#   OUT/inject.log     two short runs broken on purpose (a wrong byte
#                      expected by the integrity check; a round that
#                      hangs): each must fail, naming its seed and round
#   OUT/inject.rc      "ok" when both failed so, else what went wrong
#   OUT/warmup.log     a first run of every scenario (seed SEED+1, 12
#                      rounds), so that what the kernel allocates once
#                      (crypto transforms, per-CPU caches) is counted in
#                      the "before" slab figure
#   OUT/stress.log     the run: SECONDS seconds of rounds from SEED; its
#                      last line is "rounds N, failures M, rounds/s R"
#   OUT/stress.rc      the run's exit code (0: no failure)
#   OUT/slab.txt       "before KB", "after KB" (SUnreclaim of
#                      /proc/meminfo, the least of a few samples, once
#                      the program's network namespace is gone and every
#                      socket with it, after a settle delay and
#                      drop_caches), "kasan 0|1" (KASAN's quarantine
#                      holds freed objects: there the figures are
#                      reported, and kmemleak is the leak check);
#                      slabinfo-before, slabinfo-after: /proc/slabinfo
#   OUT/kmemleak.txt   kmemleak's report after two scans (debug kernel)
set -u
prog=$1 out=$2 seed=$3 seconds=$4
shift 4
mkdir -p "$out"

cat /proc/sys/net/ipv4/tcp_available_ulp > "$out/ulp-available"

# inject KIND RC PATTERN ARGS...: a broken run must end with exit code
# RC and a line matching PATTERN
inject() {
	local kind=$1 want=$2 pat=$3 rc=0
	shift 3
	echo "== --inject-fault $kind" >> "$out/inject.log"
	"$prog" --seed "$seed" --inject-fault "$kind" "$@" \
		>> "$out/inject.log" 2>&1 || rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "--inject-fault $kind: exit $rc, not $want" >> "$out/inject.rc"
	elif ! grep -q "$pat" "$out/inject.log"; then
		echo "--inject-fault $kind: no line like '$pat'" >> "$out/inject.rc"
	fi
}
: > "$out/inject.log"
: > "$out/inject.rc"
inject data 1 "^FAIL seed=$seed round=[0-9]* scenario=integrity: .*differs" \
	--rounds 40 --max-fail 1
inject hang 3 "^HANG seed=$seed round=[0-9]* scenario=[a-z-]*: " \
	--rounds 1 --watchdog 3
[ -s "$out/inject.rc" ] || echo ok > "$out/inject.rc"

# slab_kb, settle
# shellcheck source=scripts/guest-lib.sh
. "$(dirname "$0")/guest-lib.sh"

"$prog" --seed $((seed + 1)) --rounds 12 > "$out/warmup.log" 2>&1
settle
before=$(slab_kb)
cat /proc/slabinfo > "$out/slabinfo-before" 2>/dev/null

"$prog" --seed "$seed" --seconds "$seconds" "$@" > "$out/stress.log" 2>&1
echo $? > "$out/stress.rc"

settle
after=$(slab_kb)
cat /proc/slabinfo > "$out/slabinfo-after" 2>/dev/null
kasan=0
if dmesg | grep -q 'KernelAddressSanitizer initialized'; then kasan=1; fi
printf 'before %s\nafter %s\nkasan %s\n' "$before" "$after" "$kasan" \
	> "$out/slab.txt"

if [ -w /sys/kernel/debug/kmemleak ]; then
	# an object is reported once it was unreferenced for two scans
	echo scan > /sys/kernel/debug/kmemleak
	sleep 6
	echo scan > /sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak > "$out/kmemleak.txt"
fi
exit 0
