#!/bin/bash
# Runs inside the guest (see scripts/bench-kcm.sh): the request/response
# service benchmark of the KTLS paper's Figure 3. Runs ktls-kcm-bench
# (scripts/bench/ktls-kcm-bench.c) once per design and repetition, the
# repetition the outer loop.
#
# usage: guest-bench-kcm.sh [--requests N] [--reps R] [--designs "D..."]
#                           [--probe "D..."] KTLS_KCM_BENCH [ARG...]
#   --requests  requests per run (default 20000)
#   --reps      repetitions (default 3)
#   --designs   the designs this kernel must run (default: all three)
#   --probe     designs this kernel may be unable to run (the base kernel
#               and ktls-kcm): each is first tried once with at most 1000
#               requests, after the other designs' runs; only if that works
#               is it run like the others
# Each design of --designs first runs once with 200 requests, unmeasured.
#   ARG...      passed to every run (-w, -c, -k, -s, ...)
# Prints ktls-kcm-bench's "bench", "ccdf" and "info" lines (tagged with the
# repetition), "NA DESIGN REP: REASON" for a probe that failed (the reason
# says which way) and "FAIL DESIGN REP: REASON" for a run that failed;
# exits 1 if any did.
set -u

usage="usage: guest-bench-kcm.sh [--requests N] [--reps R] [--designs \"D...\"] [--probe \"D...\"] KTLS_KCM_BENCH [ARG...]"
opt_requests=20000 opt_reps=3 opt_designs="ossl-pool ktls-thread ktls-kcm"
opt_probe=
# "--NAME VALUE" sets opt_NAME
while [[ ${1:-} == --* ]]; do
	case "$1" in
	--requests | --reps | --designs | --probe)
		[ $# -gt 2 ] || { echo "$usage" >&2; exit 2; }
		printf -v "opt_${1#--}" '%s' "$2" ;;
	*) echo "$usage" >&2; exit 2 ;;
	esac
	shift 2
done
bench=${1:?$usage}
shift
requests=$opt_requests reps=$opt_reps designs=$opt_designs probes=$opt_probe
# the client on the other vCPU when there is one
ccpu=$(($(nproc) > 1 ? 1 : 0))
clk=/sys/devices/system/clocksource/clocksource0/current_clocksource
printf 'guest: %s\n' "kernel $(uname -r)" "$(nproc) CPUs, the server on 0, the client on $ccpu" \
	"clock source $(cat $clk) (tsc, or latencies are in 4 ms jiffies)" \
	"$(openssl version)" "command line $(cat /proc/cmdline)"

failed=0
# run DESIGN TAG N [ARG...]: one run; its lines on stdout, the first
# error in $reason; returns its exit code
run() {
	local d=$1 tag=$2 n=$3 out rc t=$SECONDS
	shift 3
	out=$("$bench" -d "$d" -T "$tag" -n "$n" -p "$ccpu" -t 600 "$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -E '^(bench|ccdf|info) '
	printf '%s\n' "$out" | grep -vE '^(bench|ccdf|info) ' | sed 's/^/  /'
	echo "time $d $tag $((SECONDS - t))s (guest clock), exit $rc"
	reason=$(printf '%s\n' "$out" | grep -m1 -E '(error|n/a): ' |
		sed 's/^[^:]*: //')
	return $rc
}

extra=("$@")
t0=$SECONDS
# One short run of each design first, not measured: the first run after
# boot faults the libraries' code in over 9p, and the guest's clock, under
# icount, jumps over the time both vCPUs idle waiting for the host.
for d in $designs; do
	run "$d" warm 200 "${extra[@]}" > /dev/null ||
		{ echo "FAIL $d warm-up: ${reason:-no reason given}"; failed=1; }
done
for rep in $(seq "$reps"); do
	for d in $designs; do
		run "$d" "$rep" "$requests" "${extra[@]}" ||
			{ echo "FAIL $d $rep: ${reason:-no reason given}"; failed=1; }
	done
done
for d in $probes; do
	rc=0
	run "$d" probe $((requests < 1000 ? requests : 1000)) "${extra[@]}" ||
		rc=$?
	if [ $rc -eq 0 ]; then
		for rep in $(seq "$reps"); do
			run "$d" "$rep" "$requests" "${extra[@]}" ||
				{ echo "FAIL $d $rep: ${reason:-no reason given}"; failed=1; }
		done
	else
		echo "NA $d probe: exit $rc: ${reason:-no reason given}"
	fi
done
echo "runs: $((SECONDS - t0))s (guest time: instructions under icount)"
echo "/proc/net/tls_stat at the end:"
cat /proc/net/tls_stat
[ -r /proc/net/kcm_stats ] && { echo "/proc/net/kcm_stats:"; cat /proc/net/kcm_stats; }
exit $failed
