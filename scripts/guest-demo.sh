#!/bin/bash
# The `make run` demo, run inside the guest (scripts/demo.sh boots it).
#
# A TLS server serves a file with kTLS: unmodified OpenSSL does the
# handshake and hands the keys to the kernel, SSL_sendfile() has the kernel
# encrypt the file's pages into TLS records. The client is OpenSSL in user
# space, which authenticates every record and hashes the file
# (scripts/interop/ktls-peer.c does both ends). Exits non-zero when
# anything is not as shown, so the demo is a test too.
#
# usage: guest-demo.sh BINDIR   (BINDIR holds ktls-peer)
set -u
bin=${1:?usage: guest-demo.sh BINDIR}
work=/tmp/demo
mib=32
mkdir -p "$work"
ip link set lo up 2>/dev/null

failed() { echo "kTLS demo: FAILED: $*"; exit 1; }
stat_file() { cat /proc/net/tls_stat 2>/dev/null > "$1"; }

echo "kTLS demo on Linux $(uname -r), $(openssl version | cut -d' ' -f1-2)"
echo "  ULPs registered (tcp_available_ulp): $(cat /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null)"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-days 2 -subj /CN=localhost -keyout "$work/key.pem" \
	-out "$work/cert.pem" 2>/dev/null || failed "no certificate"
head -c "${mib}M" /dev/urandom > "$work/file" || failed "no file to serve"
echo "  serving a ${mib} MiB file over TLS 1.3 (TLS_AES_128_GCM_SHA256)"
echo "  with SSL_sendfile() on kTLS, to a user-space OpenSSL client:"
echo

stat_file "$work/stat.before"
"$bin/ktls-peer" -v 1.3 -c TLS_AES_128_GCM_SHA256 -C "$work/cert.pem" \
	-K "$work/key.pem" -f "$work/file" -w 0 -t 300 > "$work/peer.log" 2>&1
rc=$?
stat_file "$work/stat.after"
sed 's/^/    /' "$work/peer.log"
echo

[ -s "$work/stat.before" ] || failed "no /proc/net/tls_stat: kTLS is not built in"
echo "  /proc/net/tls_stat          before    after"
awk 'NR == FNR { before[$1] = $2; next }
     { printf "    %-24s %8s %8s%s\n", $1, before[$1], $2,
	      before[$1] != $2 ? "   <-" : "" }' \
	"$work/stat.before" "$work/stat.after"
echo

if [ $rc -ne 0 ] || ! grep -q '^ktls-peer: OK$' "$work/peer.log"; then
	failed "$(grep -m1 ': error: ' "$work/peer.log" || echo "ktls-peer exit $rc")"
fi
# ktls-peer's summary: VERSION CIPHER write_MiBps=W sendfile_MiBps=S ...
read -r ver cipher _ sf _ <<< "$(sed -n 's/^summary: //p' "$work/peer.log")"
echo "  TLS version and cipher:   $ver $cipher"
echo "  kTLS TX in use:           yes (BIO_get_ktls_send() = 1, TlsTxSw went up)"
echo "  client's SHA-256:         equal to the file's"
echo "  throughput:               ${sf#*=} MiB/s (guest under QEMU emulation: not a benchmark)"
echo "kTLS demo: OK"
