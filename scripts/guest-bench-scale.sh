#!/bin/bash
# Runs inside the guest (see scripts/bench-scale.sh): cost per MiB with
# many connections. Makes a file of random bytes in /tmp (tmpfs, so it is
# all page cache), lets the listen backlog and the ephemeral ports take
# the largest run, then runs ktls-bench (scripts/bench/ktls-bench.c) with
# -N CONNS for each connection count and each scheme: ktls-read (its
# kTLS sendfile() sender is reported as ktls-sendfile, its receiver as
# ktls-read), tcp-sendfile (sender, and tcp-recv at the receiver) and
# tcp-discard (the receiver without the copy), R times, the repetition
# the outer loop. The same MIB of data in every run, in CHUNK-byte
# sendfile()s taken by the connections in turn.
#
# usage: guest-bench-scale.sh [--mib N] [--chunk BYTES] [--conns "1 100 ..."]
#                             [--reps R] [--cipher CIPHER] KTLS_BENCH
#   --mib    data per run (default 640)   --chunk  bytes per sendfile()
#            (default 65536)              --reps   repetitions (default 1)
#   --conns  the connection counts (default "1 100 10000")
#   --cipher ktls-read's cipher (default tls12-aes128-gcm)
# Prints ktls-bench's "scale" and "info" lines; "NA SCHEME CIPHER CONNS
# REP: REASON" for a run the kernel cannot do (no kTLS RX: exit code 3),
# "FAIL SCHEME CIPHER CONNS REP: REASON" for a run that failed; exits 1 if
# any failed.
set -u

usage="usage: guest-bench-scale.sh [--mib N] [--chunk BYTES] [--conns LIST] [--reps R] [--cipher C] KTLS_BENCH"
mib=640 chunk=65536 conns="1 100 10000" reps=1 cipher=tls12-aes128-gcm
while [ $# -gt 1 ]; do
	case "$1" in
	--mib) mib=$2; shift ;;
	--chunk) chunk=$2; shift ;;
	--conns) conns=$2; shift ;;
	--reps) reps=$2; shift ;;
	--cipher) cipher=$2; shift ;;
	*) break ;;
	esac
	shift
done
bench=${1:?$usage}
work=/tmp/bench
read -r -a counts <<< "$conns"
max=0
for n in "${counts[@]}"; do [ "$n" -gt "$max" ] && max=$n; done

echo "kernel $(uname -r); $(nproc) CPUs (both ends on CPU 0)"
echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
# The backlog ktls-bench asks for (CONNS) is capped by somaxconn; the
# receiver's connections need as many ephemeral ports, and the closed
# ones of earlier runs linger in TIME_WAIT on the sender's side.
echo $((max + 1024)) > /proc/sys/net/core/somaxconn
echo $((max + 1024)) > /proc/sys/net/ipv4/tcp_max_syn_backlog
echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range
mkdir -p "$work"
head -c 64M /dev/urandom > "$work/file" ||
	{ echo "FAIL setup: no 64 MiB file in $work"; exit 1; }
echo "setup: ${mib} MiB per run in ${chunk}-byte chunks, connections: $conns, $reps repetitions"

failed=0
t0=$SECONDS
for rep in $(seq "$reps"); do
	for n in "${counts[@]}"; do
		for s in ktls-read tcp-sendfile tcp-discard; do
			c=n/a
			[ "$s" = ktls-read ] && c=$cipher
			t=$SECONDS
			out=$("$bench" -s "$s" -c "$c" -f "$work/file" -p 0 \
				-N "$n" -M "$mib" -B "$chunk" 2>&1)
			rc=$?
			if [ $rc -eq 0 ]; then
				printf '%s\n' "$out"
			elif [ $rc -eq 3 ]; then
				echo "NA $s $c $n $rep: $(printf '%s\n' "$out" |
					grep -m1 'n/a:' | sed 's/.*n\/a: //')"
			else
				printf '%s\n' "$out" | sed 's/^/  /'
				echo "FAIL $s $c $n $rep: $(printf '%s\n' "$out" |
					grep -m1 'error:' || echo "exit code $rc")"
				failed=1
			fi
			echo "time $s $c $n $rep $((SECONDS - t))s (guest clock)"
			grep -E '^(MemAvailable|Slab):' /proc/meminfo |
				tr -s ' ' | tr '\n' ' ' | sed 's/^/mem /;s/ $/\n/'
		done
	done
done
echo "runs: $((SECONDS - t0))s (guest time: instructions under icount)"
echo "/proc/net/tls_stat at the end:"
cat /proc/net/tls_stat
exit $failed
