#!/bin/bash
# Runs inside the guest (see scripts/interop.sh): the kernel's TLS transmit
# and receive paths against unmodified Debian user space.
#   - ktls-peer (scripts/interop/ktls-peer.c), an OpenSSL server with kTLS
#     and a user-space OpenSSL client (kTLS off), per TLS version and
#     cipher, in three modes:
#       TX      (tls1x-*): the server sends with kTLS TX (SSL_write, then
#               SSL_sendfile of a 64 MiB file);
#       RX      (rx-*): the client sends 64 MiB, the server reads it with
#               kTLS RX (SSL_read). OpenSSL 3.0 hands the kernel a receive
#               key for TLS 1.2 only, so for TLS 1.3 ktls-peer sets TLS_RX
#               itself from the keylog secret and reads with read();
#       duplex  (duplex-*): both ends send 64 MiB at once on one
#               connection, the server with kTLS TX and RX;
#   - KCM over kTLS (kcm-*, scripts/interop/kcm.c): the server attaches
#     its kTLS socket (TX and RX keys) to a KCM multiplexor with a BPF
#     length-prefix parser; 3000 messages of 1 byte to 1 MiB (6.7 MiB),
#     many to a record and some across records:
#       kcm-tx  sent from 4 KCM sockets (a thread each) through kTLS TX,
#               read by the client with SSL_read(): each message whole,
#               once, in its KCM socket's order, and nothing more;
#       kcm-rx  sent by the client with SSL_write(), read from 4 KCM
#               sockets (a thread each) through kTLS RX: each whole, once.
#     Either way the client's close_notify then stops KCM's parser
#     (EINVAL), the server takes the socket back (SIOCKCMUNATTACH) and
#     reads it through kTLS. The server checks the "tls" ULP is registered
#     and on the socket, and getsockopt(TLS_TX, TLS_RX) answers;
#   - nginx (ssl_conf_command Options KTLS, sendfile on) serving the same
#     file over HTTPS to curl, for TLS 1.2 and TLS 1.3;
#   - nginx-offload-*: the same through a netdevsim port with its emulated
#     TLS engine (drivers/net/netdevsim/tls.c) to curl in another network
#     namespace, TLS 1.2 AES-GCM: nginx's socket must be offloaded
#     (TlsTxDevice) and the engine must have encrypted the file's records;
#   - ss-diag: `ss -tie` (iproute2) shows a kTLS socket's version, cipher
#     and TX mode through sock_diag (scripts/interop/ss-diag.py).
# Every case must show the digest the reading end computed equal to the
# sent data's (per message for kcm-*), kTLS in use in every direction the
# mode names (never a quiet fallback to user-space crypto), and TlsTxSw /
# TlsRxSw in /proc/net/tls_stat going up. The extra ciphers of RX and duplex use 4 MiB
# (-l 4) to keep the run short; the required ones move 64 MiB.
#
# usage: guest-interop.sh BINDIR OUTDIR [CASE...]
#            run the matrix, or only the CASEs named (BINDIR holds
#            ktls-peer; one log per case goes to OUTDIR)
#        guest-interop.sh --list    the case names, one a line
# Prints "PASS NAME" or "FAIL NAME: REASON" per case, then a table of the
# kTLS end's throughput (guest wall time under TCG: informational only).
set -u

# NAME VERSION CIPHER KEY [ARG...]: the ARGs go to ktls-peer. -m for TLS 1.3
# CCM TX, which OpenSSL 3.0 never hands to the kernel, and -r for any TLS
# 1.3 RX: ktls-peer then sets the kernel's TX (-m) or RX (-r) key itself.
# -d rx|duplex|kcm-tx|kcm-rx picks the mode, -w 0 -l MIB the bytes (kcm-*
# have their own, and ignore them), -t a timeout: several
# times the case's time on the base kernel, yet short enough that a kernel
# whose receive path hangs fails every case within the guest's time limit.
peer_cases=(
	"tls13-aes128-gcm 1.3 TLS_AES_128_GCM_SHA256 rsa"
	"tls13-aes256-gcm 1.3 TLS_AES_256_GCM_SHA384 rsa"
	"tls13-chacha20-poly1305 1.3 TLS_CHACHA20_POLY1305_SHA256 rsa"
	"tls13-aes128-ccm-keys-by-hand 1.3 TLS_AES_128_CCM_SHA256 rsa -m"
	"tls12-aes128-gcm 1.2 ECDHE-RSA-AES128-GCM-SHA256 rsa"
	"tls12-aes256-gcm 1.2 ECDHE-RSA-AES256-GCM-SHA384 rsa"
	"tls12-chacha20-poly1305 1.2 ECDHE-RSA-CHACHA20-POLY1305 rsa"
	"tls12-aes128-ccm 1.2 ECDHE-ECDSA-AES128-CCM ec"
	"rx-tls12-aes128-gcm 1.2 ECDHE-RSA-AES128-GCM-SHA256 rsa -d rx -w 0 -t 150"
	"rx-tls12-aes256-gcm 1.2 ECDHE-RSA-AES256-GCM-SHA384 rsa -d rx -w 0 -t 150"
	"rx-tls12-chacha20-poly1305 1.2 ECDHE-RSA-CHACHA20-POLY1305 rsa -d rx -w 0 -t 150"
	"rx-tls12-aes128-ccm 1.2 ECDHE-ECDSA-AES128-CCM ec -d rx -w 0 -l 4 -t 60"
	"rx-tls13-aes128-gcm-keys-by-hand 1.3 TLS_AES_128_GCM_SHA256 rsa -d rx -r -w 0 -t 150"
	"rx-tls13-aes256-gcm-keys-by-hand 1.3 TLS_AES_256_GCM_SHA384 rsa -d rx -r -w 0 -l 4 -t 60"
	"rx-tls13-chacha20-poly1305-keys-by-hand 1.3 TLS_CHACHA20_POLY1305_SHA256 rsa -d rx -r -w 0 -l 4 -t 60"
	"rx-tls13-aes128-ccm-keys-by-hand 1.3 TLS_AES_128_CCM_SHA256 rsa -d rx -r -w 0 -l 4 -t 60"
	"duplex-tls12-aes128-gcm 1.2 ECDHE-RSA-AES128-GCM-SHA256 rsa -d duplex -w 0 -t 200"
	"duplex-tls13-aes128-gcm-rx-keys-by-hand 1.3 TLS_AES_128_GCM_SHA256 rsa -d duplex -r -w 0 -t 200"
	"duplex-tls12-chacha20-poly1305 1.2 ECDHE-RSA-CHACHA20-POLY1305 rsa -d duplex -w 0 -l 4 -t 60"
	"duplex-tls13-aes128-ccm-keys-by-hand 1.3 TLS_AES_128_CCM_SHA256 rsa -d duplex -m -r -w 0 -l 4 -t 60"
	"kcm-tx-tls12-aes128-gcm 1.2 ECDHE-RSA-AES128-GCM-SHA256 rsa -d kcm-tx -t 90"
	"kcm-tx-tls13-aes128-gcm-rx-keys-by-hand 1.3 TLS_AES_128_GCM_SHA256 rsa -d kcm-tx -r -t 90"
	"kcm-tx-tls13-chacha20-poly1305-rx-keys-by-hand 1.3 TLS_CHACHA20_POLY1305_SHA256 rsa -d kcm-tx -r -t 90"
	"kcm-rx-tls12-aes128-gcm 1.2 ECDHE-RSA-AES128-GCM-SHA256 rsa -d kcm-rx -t 90"
	"kcm-rx-tls13-aes256-gcm-keys-by-hand 1.3 TLS_AES_256_GCM_SHA384 rsa -d kcm-rx -r -t 90"
	"kcm-rx-tls13-chacha20-poly1305-keys-by-hand 1.3 TLS_CHACHA20_POLY1305_SHA256 rsa -d kcm-rx -r -t 90"
)
nginx_cases=(nginx-tls12 nginx-tls13)
# NAME CIPHER: TLS 1.2 through the emulated offload engine
offload_cases=("nginx-offload-aes128-gcm ECDHE-RSA-AES128-GCM-SHA256"
	       "nginx-offload-aes256-gcm ECDHE-RSA-AES256-GCM-SHA384")

if [ "${1:-}" = --list ]; then
	for c in "${peer_cases[@]}"; do echo "${c%% *}"; done
	printf '%s\n' "${nginx_cases[@]}"
	for c in "${offload_cases[@]}"; do echo "${c%% *}"; done
	echo ss-diag
	exit 0
fi
bin=${1:?usage: guest-interop.sh BINDIR OUTDIR [CASE...]}
out=${2:?usage: guest-interop.sh BINDIR OUTDIR [CASE...]}
shift 2
only=" $* "
work=/tmp/interop
file=$work/www/file
write_mib=8 file_mib=64
mkdir -p "$out" "$work/www"
t_start=$SECONDS
table=()

wanted() { [ "$only" = "  " ] || [[ "$only" == *" $1 "* ]]; }
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
txsw() { awk '$1 == "TlsTxSw" { print $2 }' /proc/net/tls_stat 2>/dev/null; }
txdev() { awk '$1 == "TlsTxDevice" { print $2 }' /proc/net/tls_stat 2>/dev/null; }

echo "kernel $(uname -r); $(openssl version); $(nginx -v 2>&1)"
echo "tcp_available_ulp: $(cat /proc/sys/net/ipv4/tcp_available_ulp)"
ip link set lo up 2>/dev/null

# Keys and data, made here: the guest's /tmp is the only writable place.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-keyout "$work/rsa.key" -out "$work/rsa.crt" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-days 2 -subj /CN=localhost \
	-keyout "$work/ec.key" -out "$work/ec.crt" 2>/dev/null
head -c "${file_mib}M" /dev/urandom > "$file"
file_sha=$(sha256sum < "$file" | cut -d' ' -f1)
echo "setup: keys and a ${file_mib} MiB file in $((SECONDS - t_start))s"

# peer_case NAME VERSION CIPHER KEY [-m]
peer_case() {
	local name=$1 ver=$2 cipher=$3 key=$4 log=$out/$1.log t=$SECONDS rc=0
	shift 4
	timeout -k 5 300 "$bin/ktls-peer" -v "$ver" -c "$cipher" \
		-C "$work/$key.crt" -K "$work/$key.key" -f "$file" \
		-w "$write_mib" -t 280 "$@" > "$log" 2>&1 || rc=$?
	if [ $rc -eq 0 ] && grep -q '^ktls-peer: OK$' "$log"; then
		pass "$name"
	else
		fail "$name" "$(grep -m1 ': error: ' "$log" || echo "exit $rc")"
	fi
	# summary: VERSION CIPHER KEY=VALUE...: write_MiBps, sendfile_MiBps
	# and read_MiBps: the rates of the kTLS end's (the server's) streams.
	local -a s
	local kv wr=- sf=- rd=-
	read -r -a s <<< "$(sed -n 's/^summary: //p' "$log")"
	for kv in "${s[@]:2}"; do
		case "$kv" in
		write_MiBps=*) wr=${kv#*=} ;;
		sendfile_MiBps=*) sf=${kv#*=} ;;
		read_MiBps=*) rd=${kv#*=} ;;
		esac
	done
	table+=("$(printf '%-47s %-8s %-30s %8s %8s %8s %6ss' "$name" \
		"${s[0]:--}" "${s[1]:--}" "$wr" "$sf" "$rd" \
		"$((SECONDS - t))")")
}

for c in "${peer_cases[@]}"; do
	wanted "${c%% *}" || continue
	# shellcheck disable=SC2086 # the case's words are its arguments
	peer_case $c
done

# The offload wire: netdevsim device 77 (port nsa, 10.7.0.1, here, where
# nginx runs) linked to device 78 (nsb, 10.7.0.2) in namespace ktls-cl.
nsim_tls=/sys/kernel/debug/netdevsim/netdevsim77/ports/0/tls
offload_setup() {
	local a b
	echo "77 1" > /sys/bus/netdevsim/new_device &&
	echo "78 1" > /sys/bus/netdevsim/new_device &&
	ip netns add ktls-cl || return 1
	a=$(ls /sys/bus/netdevsim/devices/netdevsim77/net/)
	b=$(ls /sys/bus/netdevsim/devices/netdevsim78/net/)
	ip link set "$a" name nsa && ip link set "$b" netns ktls-cl name nsb &&
	ip addr add 10.7.0.1/24 dev nsa && ip link set nsa up &&
	ip -n ktls-cl addr add 10.7.0.2/24 dev nsb &&
	ip -n ktls-cl link set nsb up && ip -n ktls-cl link set lo up || return 1
	local rc=0
	exec 3</proc/self/ns/net 4</run/netns/ktls-cl
	echo "3:$(cat /sys/class/net/nsa/ifindex) 4:$(ip -n ktls-cl -o link show nsb | cut -d: -f1)" \
		> /sys/bus/netdevsim/link_device || rc=1
	exec 3<&- 4<&-
	return $rc
}
offload=0
offload_setup > "$out/offload.setup" 2>&1 && offload=1

# nginx, from Debian, with everything it writes under $ng.
ng=$work/nginx
mkdir -p "$ng"
cat > "$ng/nginx.conf" <<EOF
user root;
worker_processes 1;
pid $ng/nginx.pid;
error_log $ng/error.log debug;
events { worker_connections 64; }
http {
	log_format tls '\$ssl_protocol \$ssl_cipher \$status \$body_bytes_sent';
	access_log $ng/access.log tls;
	client_body_temp_path $ng/body;
	proxy_temp_path $ng/proxy;
	fastcgi_temp_path $ng/fastcgi;
	uwsgi_temp_path $ng/uwsgi;
	scgi_temp_path $ng/scgi;
	default_type application/octet-stream;
	sendfile on;
	server {
		listen 127.0.0.1:8443 ssl;
		$([ $offload = 1 ] && echo "listen 10.7.0.1:8443 ssl;")
		ssl_certificate $work/rsa.crt;
		ssl_certificate_key $work/rsa.key;
		ssl_protocols TLSv1.2 TLSv1.3;
		ssl_conf_command Options KTLS;
		root $work/www;
	}
}
EOF

# nginx_case NAME TLSVERSION: one download with curl (user-space OpenSSL).
nginx_case() {
	local name=$1 ver=$2 t=$SECONDS tx0 tx1 lines got why=
	local -a w
	tx0=$(txsw)
	lines=$(wc -l < "$ng/error.log")
	# (no process substitution: the guest has no /dev/fd)
	read -r -a w <<< "$(timeout -k 5 300 curl -sS -k --tlsv"$ver" \
		--tls-max "$ver" -o "$work/got" \
		-w '%{http_code} %{size_download} %{speed_download}' \
		https://127.0.0.1:8443/file 2>"$out/$name.curl")"
	got=$(sha256sum < "$work/got" 2>/dev/null | cut -d' ' -f1)
	rm -f "$work/got"
	tx1=$(txsw)
	# nginx's own debug log says whether it took the kTLS path.
	tail -n +"$((lines + 1))" "$ng/error.log" > "$out/$name.error.log"
	if [ "${w[0]:-}" != 200 ]; then
		why="HTTP ${w[0]:-none}: $(head -1 "$out/$name.curl")"
	elif [ "$got" != "$file_sha" ]; then
		why="sha256 $got, file $file_sha"
	elif ! grep -q 'BIO_get_ktls_send(): 1' "$out/$name.error.log"; then
		why="nginx did not get kTLS TX (no \"BIO_get_ktls_send(): 1\")"
	elif ! grep -q 'SSL_sendfile' "$out/$name.error.log"; then
		why="nginx did not use SSL_sendfile"
	elif [ "${tx1:-0}" -le "${tx0:-0}" ]; then
		why="TlsTxSw did not go up ($tx0 -> $tx1)"
	fi
	if [ -z "$why" ]; then pass "$name"; else fail "$name" "$why"; fi
	local proto cipher
	read -r proto cipher _ <<< "$(tail -1 "$ng/access.log" 2>/dev/null)"
	table+=("$(printf '%-47s %-8s %-30s %8s %8s %8s %6ss' "$name" \
		"${proto:--}" "${cipher:--}" - \
		"$(awk -v b="${w[2]:-0}" 'BEGIN { printf "%.1f", b / 1048576 }')" \
		- "$((SECONDS - t))")")
}

# offload_case NAME CIPHER: the file to curl in ktls-cl, TLS 1.2
offload_case() {
	local name=$1 cipher=$2 dev0 dev1 rec0 rec1 got code why=
	rec0=$(cat "$nsim_tls/records" 2>/dev/null)
	dev0=$(txdev)
	code=$(timeout -k 5 300 ip netns exec ktls-cl curl -sS -k --tlsv1.2 \
		--tls-max 1.2 --ciphers "$cipher" -o "$work/got" -w '%{http_code}' \
		https://10.7.0.1:8443/file 2>"$out/$name.curl")
	got=$(sha256sum < "$work/got" 2>/dev/null | cut -d' ' -f1)
	rm -f "$work/got"
	rec1=$(cat "$nsim_tls/records" 2>/dev/null)
	dev1=$(txdev)
	if [ $offload != 1 ]; then
		why="no netdevsim wire: $(tail -1 "$out/offload.setup")"
	elif [ "$code" != 200 ]; then
		why="HTTP ${code:-none}: $(head -1 "$out/$name.curl")"
	elif [ "$got" != "$file_sha" ]; then
		why="sha256 $got, file $file_sha"
	elif [ "${dev1:-0}" -le "${dev0:-0}" ]; then
		why="TlsTxDevice did not go up ($dev0 -> $dev1)"
	elif [ $((rec1 - rec0)) -lt $((file_mib * 64)) ]; then
		why="the engine encrypted $((rec1 - rec0)) records, the file has $((file_mib * 64))"
	fi
	if [ -z "$why" ]; then pass "$name"; else fail "$name" "$why"; fi
}

if nginx -p "$ng" -c "$ng/nginx.conf" -e "$ng/error.log" > "$out/nginx.start" 2>&1; then
	for c in "${nginx_cases[@]}"; do
		wanted "$c" || continue
		v=${c#nginx-tls1}
		nginx_case "$c" "1.$v"
	done
	for c in "${offload_cases[@]}"; do
		wanted "${c%% *}" || continue
		# shellcheck disable=SC2086 # the case's words are its arguments
		offload_case $c
	done
	kill "$(cat "$ng/nginx.pid")"
	for _ in $(seq 50); do [ -e "$ng/nginx.pid" ] || break; sleep 0.1; done
	cp "$ng/access.log" "$out/nginx.access.log"
else
	for c in "${nginx_cases[@]}" "${offload_cases[@]%% *}"; do
		wanted "$c" && fail "$c" "nginx did not start: $(tail -1 "$out/nginx.start")"
	done
fi

# ss_case: what ss prints of a socket with TLS 1.3 AES-128-GCM TX keys
ss_case() {
	local line why=
	line=$(python3 "$(dirname "$0")/interop/ss-diag.py" 2>&1)
	echo "$line" > "$out/ss-diag.log"
	for want in tcp-ulp-tls "version: 1.3" "cipher: aes-gcm-128" \
		    "txconf: sw" "rxconf: none" zc_ro_tx; do
		[[ "$line" == *"$want"* ]] || { why="no \"$want\" in: $line"; break; }
	done
	if [ -z "$why" ]; then pass ss-diag; else fail ss-diag "$why"; fi
}
wanted ss-diag && ss_case

echo
echo "Throughput (guest wall time under TCG, informational only):"
printf '%-47s %-8s %-30s %8s %8s %8s %7s\n' case version cipher \
	"write" "sendfile" "read" time
printf '%-47s %-8s %-30s %8s %8s %8s\n' "" "" "" "MiB/s" "MiB/s" "MiB/s"
printf '%s\n' "${table[@]}"
echo "interop matrix: $((SECONDS - t_start))s in the guest"
echo "/proc/net/tls_stat at the end:"
cat /proc/net/tls_stat
exit 0
