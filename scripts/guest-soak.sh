#!/bin/bash
# Runs inside the guest (see scripts/soak.sh): the kTLS soak,
# scripts/soak/ktls-soak.c, with its checkers' self-tests and the memory
# check around it.
#
# usage: guest-soak.sh PROG OUT SEED SECONDS
#   OUT/ulp-available  /proc/sys/net/ipv4/tcp_available_ulp; without
#                      "tls" in it nothing else runs (exit 1)
#   OUT/inject.log     the checkers' self-tests, runs broken on purpose:
#                      --inject data (the A->B reader changes one byte it
#                      hashes: exit 1 and a "FAIL seed=S A->B: stream
#                      differs" line), --inject stall (the B->A reader
#                      stops: exit 3 and a STALL line naming it)
#   OUT/inject.rc      "ok" when both failed so, else what went wrong
#   OUT/warmup.log     a first short run (seed SEED+1, 5 s), so that what
#                      the kernel allocates once (crypto transforms,
#                      per-CPU caches, the first netns) is in "before"
#   OUT/soak.log       the run: SECONDS seconds (on the host's clock,
#                      through the mtime of OUT/clock) from SEED; its last line
#                      is "verdict PASS|FAIL ..."; OUT/soak.rc its exit
#                      code (0 PASS, 1 FAIL, 2 setup error, 3 stall)
#   OUT/leak.log       the memory check's self-test: a short run that
#                      then holds 1000 kTLS sockets open while "leak" is
#                      measured
#   OUT/mem.txt        lines "before|after|leak SUnreclaim Slab MemFree
#                      Used" in KB, from /proc/meminfo, each the least of
#                      five samples a second apart, taken after a settle
#                      delay and drop_caches with no soak socket open
#                      (before: after the warm-up; after: after the run;
#                      leak: with the 1000 sockets held). Used is
#                      MemTotal - MemFree - Buffers - Cached -
#                      SReclaimable: anonymous and kernel pages, slab
#                      included. meminfo-before, -after: the whole file
#   OUT/slabinfo-before, -after, -leak   /proc/slabinfo (when the kernel
#                      has it: CONFIG_SLUB_DEBUG)
#   OUT/kmemleak.txt   kmemleak's report after two scans (kernels with
#                      kmemleak only)
set -u
prog=$1 out=$2 seed=$3 seconds=$4
mkdir -p "$out"

cat /proc/sys/net/ipv4/tcp_available_ulp > "$out/ulp-available"
if ! grep -qw tls "$out/ulp-available"; then
	echo "no tls ULP: $(cat "$out/ulp-available")" > "$out/soak.log"
	exit 1
fi

# inject KIND RC PATTERN ARGS...: a broken run must end with exit code
# RC and a line matching PATTERN
inject() {
	local kind=$1 want=$2 pat=$3 rc=0
	shift 3
	echo "== --inject $kind $*" >> "$out/inject.log"
	"$prog" --seed "$seed" --inject "$kind" "$@" >> "$out/inject.log" 2>&1 ||
		rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "--inject $kind: exit $rc, not $want" >> "$out/inject.rc"
	elif ! grep -q "$pat" "$out/inject.log"; then
		echo "--inject $kind: no line like '$pat'" >> "$out/inject.rc"
	fi
}
: > "$out/inject.log"
: > "$out/inject.rc"
inject data 1 "^FAIL seed=$seed A->B: stream differs: .*sha256 differs" \
	--seconds 10
inject stall 3 "^STALL seed=$seed: B->A reader (end A) no progress .*--inject stall" \
	--seconds 30 --watchdog 5
[ -s "$out/inject.rc" ] || echo ok > "$out/inject.rc"

# mem_kb: "SUnreclaim Slab MemFree Used" (KB), each the least of five
# samples a second apart
mem_kb() {
	local i
	for i in 1 2 3 4 5; do
		awk '{ v[$1] = $2 }
		     END { used = v["MemTotal:"] - v["MemFree:"]
			   used -= v["Buffers:"] + v["Cached:"] + v["SReclaimable:"]
			   print v["SUnreclaim:"], v["Slab:"], v["MemFree:"], used }' \
			/proc/meminfo
		[ $i = 5 ] || sleep 1
	done | awk '{ for (f = 1; f <= 4; f++)
			if (NR == 1 || $f < m[f]) m[f] = $f }
		    END { print m[1], m[2], m[3], m[4] }'
}
# the program's namespace goes away with it (TIME_WAIT sockets too),
# asynchronously; RCU and deferred frees then settle
settle() {
	sleep 8
	echo 3 > /proc/sys/vm/drop_caches
	sleep 2
}
# snapshot NAME: one line of mem.txt, meminfo-NAME and slabinfo-NAME
snapshot() {
	echo "$1 $(mem_kb)" >> "$out/mem.txt"
	cat /proc/meminfo > "$out/meminfo-$1"
	cat /proc/slabinfo > "$out/slabinfo-$1" 2>/dev/null
}
: > "$out/mem.txt"

"$prog" --seed $((seed + 1)) --seconds 5 > "$out/warmup.log" 2>&1
settle
snapshot before

# SECONDS on the host's clock: the guest's falls behind under TCG
"$prog" --seed "$seed" --seconds "$seconds" --clock "$out/clock" \
	> "$out/soak.log" 2>&1
echo $? > "$out/soak.rc"
rm -f "$out/clock"
settle
snapshot after

# the memory check's self-test: the same measurement, 1000 sockets held
"$prog" --seed $((seed + 2)) --seconds 3 --inject-leak 1000 \
	> "$out/leak.log" 2>&1 &
pid=$!
for _ in $(seq 240); do
	grep -q '^holding' "$out/leak.log" && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.5
done
if grep -q '^holding' "$out/leak.log"; then
	settle
	snapshot leak
else
	echo "no 'holding' line from the leak self-test" >> "$out/leak.log"
fi
kill $pid 2>/dev/null
wait $pid 2>/dev/null

if [ -w /sys/kernel/debug/kmemleak ]; then
	# an object is reported once it was unreferenced for two scans
	settle
	echo scan > /sys/kernel/debug/kmemleak
	sleep 6
	echo scan > /sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak > "$out/kmemleak.txt"
fi
exit 0
