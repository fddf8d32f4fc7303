#!/bin/bash
# Runs inside the guest (see scripts/bench-aead.sh): what the AEAD kTLS
# uses for TLS 1.2 AES-128-GCM costs, per record and per MiB. Each run is
# done twice, with debugfs tls/aead_rfc5288 Y (rfc5288(gcm(aes))) and N (plain
# gcm(aes), the caller staging the AAD), R times, the repetition outside:
#   rr-ktls 64 and 16384   request/response on kTLS TX and RX, one record
#                          each way per round trip (a 16384-byte message
#                          is one full record)
#   ktls-sendfile, ktls-read   a file through kTLS TX, and into kTLS RX
# Prints "aead MODE" before each ktls-bench line ("bench ..."), then the
# /proc/crypto entries the runs used, so the log says which driver it was.
#
# usage: guest-bench-aead.sh [--mib N] [--reps R] [--rr N] KTLS_BENCH
set -u

usage="usage: guest-bench-aead.sh [--mib N] [--reps R] [--rr N] KTLS_BENCH"
mib=16 reps=3 rr=2000
while [ $# -gt 1 ]; do
	case "$1" in
	--mib) mib=$2; shift ;;
	--reps) reps=$2; shift ;;
	--rr) rr=$2; shift ;;
	*) break ;;
	esac
	shift
done
bench=${1:?$usage}
work=/tmp/bench
param=/sys/kernel/debug/tls/aead_rfc5288
cipher=tls12-aes128-gcm

echo "kernel $(uname -r); cmdline: $(cat /proc/cmdline)"
[ -w "$param" ] || { echo "FAIL setup: no $param"; exit 1; }
mkdir -p "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-days 2 -subj /CN=localhost \
	-keyout "$work/ec.key" -out "$work/ec.crt" 2>/dev/null ||
	{ echo "FAIL setup: openssl req"; exit 1; }
head -c "${mib}M" /dev/urandom > "$work/file" ||
	{ echo "FAIL setup: no ${mib} MiB file"; exit 1; }

failed=0
for rep in $(seq "$reps"); do
	for mode in Y N; do
		echo "$mode" > "$param"
		for r in "rr-ktls 64" "rr-ktls 16384" "ktls-sendfile file" \
			 "ktls-read file"; do
			read -r s m <<< "$r"
			if [ "$m" = file ]; then
				what=(-f "$work/file")
			else
				# a 16 KiB round trip costs as much as ~60 of 64 B
				n=$rr
				[ "$m" -gt 4096 ] && n=$((rr / 4))
				what=(-m "$m" -n "$n")
			fi
			out=$("$bench" -s "$s" -c "$cipher" "${what[@]}" -p 0 \
				-C "$work/ec.crt" -K "$work/ec.key" 2>&1)
			rc=$?
			if [ $rc -ne 0 ]; then
				printf '%s\n' "$out" | sed 's/^/  /'
				echo "FAIL $mode $s $m $rep: exit code $rc"
				failed=1
				continue
			fi
			printf '%s\n' "$out" | sed -n "s/^bench /aead $mode bench /p"
		done
	done
done
echo Y > "$param"
echo "/proc/crypto, AES-GCM entries:"
awk -v RS= '/name *: (rfc5288\(gcm\(aes\)\)|gcm\(aes\))\n/' /proc/crypto |
	grep -E '^(name|driver|priority|refcnt|selftest)'
exit $failed
