#!/usr/bin/python3
# sock_diag of a kTLS socket, as `ss -tie` shows it: a loopback pair whose
# client has the "tls" ULP with TLS 1.3 AES-128-GCM TX keys and
# TLS_TX_ZEROCOPY_RO on. Prints the ss line of that socket (the one with
# a "tcp-ulp-tls" part), or nothing. Runs in the guest (guest-interop.sh).
import socket
import struct
import subprocess

SOL_TLS, TLS_TX, TLS_TX_ZEROCOPY_RO, TCP_ULP = 282, 1, 3, 31
TLS_1_3, AES_GCM_128 = 0x0304, 51

lsn = socket.socket()
lsn.bind(("127.0.0.1", 0))
lsn.listen()
cli = socket.create_connection(lsn.getsockname())
srv, _ = lsn.accept()
cli.setsockopt(socket.SOL_TCP, TCP_ULP, b"tls")
# header, iv(8), key(16), salt(4), rec_seq(8): struct tls12_crypto_info_aes_gcm_128
cli.setsockopt(SOL_TLS, TLS_TX, struct.pack("<HH", TLS_1_3, AES_GCM_128) + bytes(36))
cli.setsockopt(SOL_TLS, TLS_TX_ZEROCOPY_RO, struct.pack("i", 1))
port = cli.getsockname()[1]
ss = subprocess.run(["ss", "-tieHn", "sport", "= :%d" % port],
                    capture_output=True, text=True, check=False).stdout
print(" ".join(ss.split()))
