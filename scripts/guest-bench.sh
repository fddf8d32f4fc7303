#!/bin/bash
# Runs inside the guest (see scripts/bench.sh): the transmit-side benchmark.
# Makes a file of random bytes in /tmp (tmpfs, so it is all page cache) and
# an ECDSA key and certificate for OpenSSL's handshake, then runs
# ktls-bench (scripts/bench/ktls-bench.c) for every scheme and cipher, R
# times. The repetition is the outer loop, so that anything drifting over
# the run touches every scheme alike.
#
# usage: guest-bench.sh [--smoke] [--mib N] [--reps R] KTLS_BENCH
#   --smoke   a 4 MiB file (default: 64 MiB)
# Prints ktls-bench's "bench" and "info" lines, "FAIL SCHEME CIPHER REP:
# REASON" for a run that failed; exits 1 if any did.
set -u

mib=64 reps=3
while [ $# -gt 1 ]; do
	case "$1" in
	--smoke) mib=4 ;;
	--mib) mib=$2; shift ;;
	--reps) reps=$2; shift ;;
	*) break ;;
	esac
	shift
done
bench=${1:?usage: guest-bench.sh [--smoke] [--mib N] [--reps R] KTLS_BENCH}
work=/tmp/bench
ciphers=(tls12-aes128-gcm tls13-aes128-gcm tls13-chacha20-poly1305)
# SCHEME CIPHER pairs, ossl-write first: everything is normalised to it.
runs=()
for s in ossl-write ktls-sendfile ktls-write; do
	for c in "${ciphers[@]}"; do runs+=("$s $c"); done
done
runs+=("tcp-sendfile n/a")

# The receiver on CPU 1 when there is one, else on the sender's CPU 0
# (the sound choice under icount: see scripts/bench/ktls-bench.c).
cpus=$(nproc)
rcpu=$((cpus > 1 ? 1 : 0))
echo "kernel $(uname -r); $cpus CPUs (sender on 0, receiver on $rcpu); $(openssl version)"
echo "tcp_available_ulp: $(cat /proc/sys/net/ipv4/tcp_available_ulp)"
echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"

mkdir -p "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-days 2 -subj /CN=localhost \
	-keyout "$work/ec.key" -out "$work/ec.crt" 2>/dev/null ||
	{ echo "FAIL setup: openssl req"; exit 1; }
head -c "${mib}M" /dev/urandom > "$work/file" ||
	{ echo "FAIL setup: no ${mib} MiB file in $work"; exit 1; }
echo "setup: ${mib} MiB file, $reps repetitions of ${#runs[@]} runs"

failed=0
t0=$SECONDS
for rep in $(seq "$reps"); do
	for r in "${runs[@]}"; do
		read -r s c <<< "$r"
		t=$SECONDS
		if out=$("$bench" -s "$s" -c "$c" -f "$work/file" -p "$rcpu" \
			-C "$work/ec.crt" -K "$work/ec.key" 2>&1); then
			printf '%s\n' "$out"
		else
			printf '%s\n' "$out" | sed 's/^/  /'
			echo "FAIL $s $c $rep: $(printf '%s\n' "$out" |
				grep -m1 'error:' || echo 'no error line')"
			failed=1
		fi
		echo "time $s $c $rep $((SECONDS - t))s (guest clock)"
	done
done
echo "runs: $((SECONDS - t0))s (guest time: instructions under icount)"
echo "/proc/net/tls_stat at the end:"
cat /proc/net/tls_stat
exit $failed
