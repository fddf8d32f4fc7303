#!/bin/bash
# Runs inside the guest (see scripts/bench-mem.sh): ktls-mem for TLS 1.2
# and TLS 1.3, each in a process of its own, after checking that the
# "tls" ULP is there (a kernel without it would fail TCP_ULP anyway).
#
# usage: guest-bench-mem.sh KTLS_MEM SOCKETS
set -u
bin=$1 n=$2
ulps=$(cat /proc/sys/net/ipv4/tcp_available_ulp)
echo "ulp $ulps"
case " $ulps " in
*" tls "*) ;;
*) echo "FAIL: no tls ULP"; exit 1 ;;
esac
rc=0
for v in 12 13; do
	"$bin" "$n" "$v" || rc=1
done
# idle after use: each socket sent one record
for v in 12 13; do
	"$bin" "$n" "$v" sent || rc=1
done
exit $rc
