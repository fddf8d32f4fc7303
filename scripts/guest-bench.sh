#!/bin/bash
# Runs inside the guest (see scripts/bench.sh): the benchmark's runs.
# Makes a file of random bytes in /tmp (tmpfs, so it is all page cache) and
# an ECDSA key and certificate for OpenSSL's handshake, then runs
# ktls-bench (scripts/bench/ktls-bench.c) for every scheme and cipher:
# transmit (TX), receive (RX) and request/response (RR, 64-byte and 4 KiB
# messages), R times. The repetition is the outer loop, so that anything
# drifting over the run touches every scheme alike.
#
# usage: guest-bench.sh [--mib N] [--reps R] [--rr N] [--syms FILE] KTLS_BENCH
#   --mib   the file's size (default 64)     --reps  repetitions (default 3)
#   --rr    round trips per RR run (default 10000)
#   --syms  the kernel's crypto function names (one a line): profile the
#           cipher in the bulk runs, in the functions of that name (see
#           ktls-bench.c -S)
# Prints ktls-bench's "bench" and "info" lines; "NA SCHEME CIPHER SIZE REP:
# REASON" for a run the kernel cannot do (no kTLS RX: exit code 3 of
# ktls-bench), "FAIL SCHEME CIPHER SIZE REP: REASON" for a run that failed;
# exits 1 if any failed.
set -u

usage="usage: guest-bench.sh [--mib N] [--reps R] [--rr N] [--syms FILE] KTLS_BENCH"
mib=64 reps=3 rr=10000 names='' syms=()
while [ $# -gt 1 ]; do
	case "$1" in
	--mib) mib=$2; shift ;;
	--reps) reps=$2; shift ;;
	--rr) rr=$2; shift ;;
	--syms) names=$2; shift ;;
	*) break ;;
	esac
	shift
done
bench=${1:?$usage}
work=/tmp/bench
ciphers=(tls12-aes128-gcm tls13-aes128-gcm tls13-chacha20-poly1305)
# "SCHEME CIPHER SIZE" triples, TX first (ossl-write first: it is what the
# rest is normalised to), then RX, then RR; SIZE is "file" for a stream.
runs=()
for s in ossl-write ossl-mmap ktls-sendfile ktls-write; do
	for c in "${ciphers[@]}"; do runs+=("$s $c file"); done
done
runs+=("tcp-sendfile n/a file")
# ossl-read and tcp-recv: the receivers of ktls-sendfile and tcp-sendfile
for c in "${ciphers[@]}"; do runs+=("ktls-read $c file"); done
# plain TCP's receiver without the copy: the floor of ktls-read's bound
runs+=("tcp-discard n/a file")
for m in 64 4096; do
	for s in rr-ossl rr-ktls rr-ktls-tx; do
		for c in "${ciphers[@]}"; do runs+=("$s $c $m"); done
	done
	runs+=("rr-tcp n/a $m")
done

# The child (receiver, RR client) on CPU 1 when there is one, else on the
# parent's CPU 0 (the sound choice under icount: see scripts/bench.sh).
cpus=$(nproc)
rcpu=$((cpus > 1 ? 1 : 0))
echo "kernel $(uname -r); $cpus CPUs (parent on 0, child on $rcpu); $(openssl version)"
echo "tcp_available_ulp: $(cat /proc/sys/net/ipv4/tcp_available_ulp)"
echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"

mkdir -p "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-days 2 -subj /CN=localhost \
	-keyout "$work/ec.key" -out "$work/ec.crt" 2>/dev/null ||
	{ echo "FAIL setup: openssl req"; exit 1; }
head -c "${mib}M" /dev/urandom > "$work/file" ||
	{ echo "FAIL setup: no ${mib} MiB file in $work"; exit 1; }
# The crypto functions' address ranges: from each to the next text symbol.
# kallsyms addresses are fixed-width hex, so a plain sort orders them.
if [ -n "$names" ]; then
	sort /proc/kallsyms | awk -v names="$names" '
		BEGIN { while ((getline l < names) > 0) want[l] = 1 }
		$2 !~ /^[tT]$/ { next }
		{ if (prev != "") print prev, $1, pname; prev = "" }
		$3 in want { prev = $1; pname = $3 }' > "$work/crypto.ranges"
	echo "crypto functions in this kernel: $(wc -l < "$work/crypto.ranges")"
	[ -s "$work/crypto.ranges" ] ||
		{ echo "FAIL setup: no crypto functions in /proc/kallsyms"; exit 1; }
	syms=(-S "$work/crypto.ranges")
fi
echo "setup: ${mib} MiB file, $rr round trips, $reps repetitions of ${#runs[@]} runs"

failed=0
t0=$SECONDS
for rep in $(seq "$reps"); do
	for r in "${runs[@]}"; do
		read -r s c m <<< "$r"
		# The crypto code's share is sampled in the bulk runs only:
		# the sampling event costs every context switch, and a round
		# trip has two, so it would weigh on the request/response
		# numbers (the exact cipher cost comes from bench.sh)
		if [ "$m" = file ]; then
			what=(-f "$work/file" "${syms[@]}")
		else
			what=(-m "$m" -n "$rr")
		fi
		t=$SECONDS
		out=$("$bench" -s "$s" -c "$c" "${what[@]}" -p "$rcpu" \
			-C "$work/ec.crt" -K "$work/ec.key" 2>&1)
		rc=$?
		if [ $rc -eq 0 ]; then
			printf '%s\n' "$out"
		elif [ $rc -eq 3 ]; then
			echo "NA $s $c $m $rep: $(printf '%s\n' "$out" |
				grep -m1 'n/a:' | sed 's/.*n\/a: //')"
		else
			printf '%s\n' "$out" | sed 's/^/  /'
			echo "FAIL $s $c $m $rep: $(printf '%s\n' "$out" |
				grep -m1 'error:' || echo "exit code $rc")"
			failed=1
		fi
		echo "time $s $c $m $rep $((SECONDS - t))s (guest clock)"
	done
done
echo "runs: $((SECONDS - t0))s (guest time: instructions under icount)"
echo "/proc/net/tls_stat at the end:"
cat /proc/net/tls_stat
exit $failed
