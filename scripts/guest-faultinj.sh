#!/bin/bash
# Runs inside the guest (see scripts/faultinj.sh): allocation-failure
# injection into a scripted kTLS session, scripts/faultinj/ktls-faultinj.c,
# on the debug kernel (failslab, fail_page_alloc, their debugfs, the
# stack-trace filter).
#
# usage: guest-faultinj.sh PROG OUT TLS-START TLS-END TLS-SYM RUNS...
#   TLS-START, TLS-END  the text of net/tls ([start, end), 16 hex digits
#                 as in System.map); TLS-SYM the symbol at TLS-START, checked
#                 against /proc/kallsyms
#   RUNS          FAULT:FILTER:TLS:CIPHER, e.g. slab:tls:13:aes-gcm-128
#                 FAULT  slab (failslab counts, fail_page_alloc not),
#                        page (fail_page_alloc from order 0, failslab not),
#                        both, or random (no fail-nth: failslab and
#                        fail_page_alloc fail 10% of the allocations made
#                        with net/tls on the stack, in any context, softirq
#                        too, 40 runs of the scenario)
#                 FILTER tls (only allocations with net/tls on the stack
#                        count: require-start/-end) or all (every
#                        allocation of the scenario's thread counts, TCP
#                        connect and accept, pipes, memfds too)
# Writes to OUT:
#   ulp-available     /proc/sys/net/ipv4/tcp_available_ulp
#   inject.log/.rc    the checker's self-test: a step in which one byte
#                     read is changed must fail ("ok" in inject.rc)
#   faultinj.log      per run "== RUN", the program's output, "rc N"
#   slab.txt, slabinfo-before/-after  as guest-stress.sh: SUnreclaim
#                     before the runs and after them
#   kmemleak.txt      kmemleak's report after two scans (cleared before
#                     the runs, so only what they leaked)
set -u
prog=$1 out=$2 tls_start=$3 tls_end=$4 tls_sym=$5
shift 5
mkdir -p "$out"
dbg=/sys/kernel/debug
cat /proc/sys/net/ipv4/tcp_available_ulp > "$out/ulp-available"
: > "$out/faultinj.log"

sym=$(awk -v s="$tls_sym" '$3 == s { print $1; exit }' /proc/kallsyms)
if [ "$sym" != "$tls_start" ]; then
	echo "net/tls range: $tls_sym is at $sym in /proc/kallsyms, not $tls_start" \
		| tee -a "$out/faultinj.log"
	exit 1
fi
for d in failslab fail_page_alloc; do
	[ -d "$dbg/$d" ] || { echo "no $dbg/$d" | tee -a "$out/faultinj.log"; exit 1; }
done

# set ATTR VALUE in both capabilities
both() {
	echo "$2" > "$dbg/failslab/$1"
	echo "$2" > "$dbg/fail_page_alloc/$1"
}
# configure FAULT FILTER
configure() {
	local fault=$1 filter=$2
	both probability 0
	both interval 1
	both times -1
	both space 0
	both verbose 0
	both task-filter N
	both stacktrace-depth 32
	both reject-start 0
	both reject-end 0
	if [ "$filter" = tls ]; then
		both require-start "0x$tls_start"
		both require-end "0x$tls_end"
	else
		both require-start 0
		both require-end 0xffffffffffffffff
	fi
	# the one that does not count is made to return before should_fail()
	echo N > "$dbg/failslab/ignore-gfp-wait"
	echo N > "$dbg/failslab/cache-filter"
	echo N > "$dbg/fail_page_alloc/ignore-gfp-wait"
	echo Y > "$dbg/fail_page_alloc/ignore-gfp-highmem"
	echo 0 > "$dbg/fail_page_alloc/min-order"
	case "$fault" in
	slab) echo 11 > "$dbg/fail_page_alloc/min-order" ;;
	page) echo Y > "$dbg/failslab/cache-filter" ;;
	both) ;;
	random) ;;	# the program sets the probability once it is set up
	esac
}
quiet() {
	both probability 0
	echo N > "$dbg/failslab/cache-filter"
	echo 0 > "$dbg/fail_page_alloc/min-order"
}

# the checker's self-test: a step that injects nothing, passes whole, but
# for one byte changed on purpose
: > "$out/inject.rc"
configure slab tls
rc=0
"$prog" --tls 13 --cipher aes-gcm-128 --step 99999 --inject-corrupt 99999 \
	> "$out/inject.log" 2>&1 || rc=$?
quiet
if [ "$rc" -ne 1 ]; then
	echo "--inject-corrupt: exit $rc, not 1" >> "$out/inject.rc"
elif ! grep -q '^FAIL step 99999: .*wrong byte at stream offset' "$out/inject.log"; then
	echo "--inject-corrupt: no FAIL line naming the wrong byte" >> "$out/inject.rc"
fi
[ -s "$out/inject.rc" ] || echo ok > "$out/inject.rc"

# slab_kb, settle
# shellcheck source=scripts/guest-lib.sh
. "$(dirname "$0")/guest-lib.sh"
settle
before=$(slab_kb)
cat /proc/slabinfo > "$out/slabinfo-before" 2>/dev/null
if [ -w "$dbg/kmemleak" ]; then
	echo scan > "$dbg/kmemleak"
	echo clear > "$dbg/kmemleak"
fi

for run in "$@"; do
	IFS=: read -r fault filter tls cipher <<< "$run"
	echo "== $run" >> "$out/faultinj.log"
	configure "$fault" "$filter"
	args=(--tls "$tls" --cipher "$cipher")
	[ "$fault" = random ] && args+=(--random 40)
	rc=0
	"$prog" "${args[@]}" >> "$out/faultinj.log" 2>&1 || rc=$?
	quiet
	echo "rc $rc" >> "$out/faultinj.log"
done

settle
after=$(slab_kb)
cat /proc/slabinfo > "$out/slabinfo-after" 2>/dev/null
kasan=0
if dmesg | grep -q 'KernelAddressSanitizer initialized'; then kasan=1; fi
printf 'before %s\nafter %s\nkasan %s\n' "$before" "$after" "$kasan" \
	> "$out/slab.txt"
if [ -w "$dbg/kmemleak" ]; then
	echo scan > "$dbg/kmemleak"
	sleep 6
	echo scan > "$dbg/kmemleak"
	cat "$dbg/kmemleak" > "$out/kmemleak.txt"
fi
exit 0
