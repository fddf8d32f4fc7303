#!/bin/bash
# Runs inside the guest (see scripts/bench-device.sh): what kTLS costs
# the sending host, and the receiving one, with device offload. Joins this namespace (nsa,
# 10.8.0.1) to namespace ktls-bb (nsb, 10.8.0.2) with a linked netdevsim
# pair, whose emulated TLS engine takes the keys, and runs
# ktls-dev-bench (scripts/bench/ktls-dev-bench.c) for each scheme, R
# times, repetition as the outer loop:
#   tcp-sendfile         plain TCP: the floor
#   sw-sendfile/-write   software kTLS (the engine refuses the keys)
#   dev-sendfile/-write  offloaded, the engine in bypass: it leaves the
#                        records as they are, so its cipher work, which a
#                        NIC does off the host, is not in the count
#   dev-sendfile-zc      the same with TLS_TX_ZEROCOPY_RO
#   dev-sendfile-engine  offloaded with the engine encrypting: the
#                        emulation's own cost, for reference only
# and, measuring the receiver (nsb's engine has tls-hw-rx-offload on):
#   rx-tcp               plain TCP reads: the floor
#   rx-sw                software kTLS RX (nsb's engine refuses the keys)
#   rx-dev               RX offloaded, both engines in bypass: the sender's
#                        passes its plaintext frames, the receiver's marks
#                        them decrypted without a cipher, as a NIC would
#                        hand them to the stack
#   rx-dev-engine        RX offloaded, the engine decrypting the software
#                        sender's records: the emulation's cost, reference
#
# usage: guest-bench-device.sh [--mib N] [--reps R] KTLS_DEV_BENCH
# Prints ktls-dev-bench's "bench" lines, "FAIL SCHEME REP: REASON" for a
# run that failed; exits 1 if any failed.
set -u

mib=16 reps=3
while [ $# -gt 1 ]; do
	case "$1" in
	--mib) mib=$2; shift ;;
	--reps) reps=$2; shift ;;
	*) break ;;
	esac
	shift
done
bench=${1:?usage: guest-bench-device.sh [--mib N] [--reps R] KTLS_DEV_BENCH}
work=/tmp/bench-device
tls=/sys/kernel/debug/netdevsim/netdevsim91/ports/0/tls
rxtls=/sys/kernel/debug/netdevsim/netdevsim92/ports/0/tls
# SCHEME REFUSE_ADD BYPASS RX_REFUSE_ADD RX_BYPASS
schemes=("tcp-sendfile 0 0 0 0" "sw-sendfile 1 0 0 0" "sw-write 1 0 0 0"
	 "dev-sendfile 0 1 0 0" "dev-write 0 1 0 0" "dev-sendfile-zc 0 1 0 0"
	 "dev-sendfile-engine 0 0 0 0"
	 "rx-tcp 0 0 0 0" "rx-sw 1 0 1 0" "rx-dev 0 1 0 1"
	 "rx-dev-engine 1 0 0 0")

setup() {
	local a b
	echo "91 1" > /sys/bus/netdevsim/new_device &&
	echo "92 1" > /sys/bus/netdevsim/new_device &&
	ip netns add ktls-bb || return 1
	a=$(ls /sys/bus/netdevsim/devices/netdevsim91/net/)
	b=$(ls /sys/bus/netdevsim/devices/netdevsim92/net/)
	ip link set "$a" name nsa && ip link set "$b" netns ktls-bb name nsb &&
	ip addr add 10.8.0.1/24 dev nsa && ip link set nsa up &&
	ip -n ktls-bb addr add 10.8.0.2/24 dev nsb &&
	ip -n ktls-bb link set nsb up &&
	ip netns exec ktls-bb ethtool -K nsb tls-hw-rx-offload on || return 1
	local rc=0
	exec 3</proc/self/ns/net 4</run/netns/ktls-bb
	echo "3:$(cat /sys/class/net/nsa/ifindex) 4:$(ip -n ktls-bb -o link show nsb | cut -d: -f1)" \
		> /sys/bus/netdevsim/link_device || rc=1
	exec 3<&- 4<&-
	return $rc
}

echo "kernel $(uname -r); $(nproc) CPUs"
mkdir -p "$work"
ip link set lo up
setup || { echo "FAIL setup: netdevsim pair"; exit 1; }
head -c "${mib}M" /dev/urandom > "$work/file" ||
	{ echo "FAIL setup: no ${mib} MiB file in $work"; exit 1; }

failed=0
for rep in $(seq "$reps"); do
	for s in "${schemes[@]}"; do
		read -r name refuse bypass rx_refuse rx_bypass <<< "$s"
		echo "$refuse" > "$tls/refuse_add"
		echo "$bypass" > "$tls/bypass"
		echo "$rx_refuse" > "$rxtls/rx_refuse_add"
		echo "$rx_bypass" > "$rxtls/rx_bypass"
		if out=$("$bench" "$name" "$mib" "$work/file" ktls-bb 10.8.0.2 2>&1); then
			printf '%s\n' "$out"
		else
			echo "FAIL $name $rep: $(printf '%s\n' "$out" | grep -m1 error: || echo failed)"
			failed=1
		fi
	done
done
echo "engine: packets $(cat "$tls/packets") records $(cat "$tls/records")" \
	"refusals $(cat "$tls/refusals") adds $(cat "$tls/adds")"
echo "rx engine: packets $(cat "$rxtls/rx_packets") records $(cat "$rxtls/rx_records")" \
	"losses $(cat "$rxtls/rx_losses") adds $(cat "$rxtls/rx_adds")"
echo "/proc/net/tls_stat at the end:"
cat /proc/net/tls_stat
exit $failed
