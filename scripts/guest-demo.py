#!/usr/bin/env python3
"""The `make run` demo, run inside the guest (scripts/demo.sh boots it).

Shows what kTLS does at this point of the series: the "tls" ULP is
registered and attaches to a TCP connection, which stays plain TCP on the
wire until keys are set (the transmit and receive paths bring those).
Exits non-zero when anything is not as shown, so the demo is a test too.
"""
import ctypes
import errno
import os
import socket
import sys

SOL_TLS = 282
TCP_ULP = 31
TLS_TX = 1


def step(what, value):
    print(f"  {what:<44} {value}")


def main():
    print(f"kTLS demo on Linux {os.uname().release}")
    with open("/proc/sys/net/ipv4/tcp_available_ulp") as f:
        ulps = f.read().split()
    step("ULPs registered (tcp_available_ulp):", " ".join(ulps))
    assert "tls" in ulps, "the tls ULP is not registered"

    lsn = socket.create_server(("127.0.0.1", 0))
    cli = socket.create_connection(lsn.getsockname())
    srv, _ = lsn.accept()

    for s in (cli, srv):
        s.setsockopt(socket.SOL_TCP, TCP_ULP, b"tls")
    ulp = cli.getsockopt(socket.SOL_TCP, TCP_ULP, 16).rstrip(b"\0").decode()
    step("setsockopt(TCP_ULP, \"tls\"), then TCP_ULP is:", ulp)
    assert ulp == "tls"

    msg = b"hello from a kTLS socket without keys"
    cli.sendall(msg)
    got = srv.recv(len(msg), socket.MSG_WAITALL)
    step("no keys yet, data goes in clear:", got.decode())
    assert got == msg

    try:
        cli.setsockopt(SOL_TLS, TLS_TX, bytes(40))
        verdict = "accepted"
    except OSError as e:
        verdict = errno.errorcode[e.errno]
    step("SOL_TLS TLS_TX (comes with the TX path):", verdict)
    assert verdict == "ENOPROTOOPT"

    # connect(AF_UNSPEC) through libc: Python's connect() wants an address
    # of the socket's own family.
    libc = ctypes.CDLL(None, use_errno=True)
    unspec = (ctypes.c_ubyte * 16)()  # struct sockaddr, sa_family = 0
    rc = libc.connect(cli.fileno(), unspec, len(unspec))
    # errno.errorcode names 95 ENOTSUP, which Linux defines as EOPNOTSUPP
    err = ctypes.get_errno() if rc else 0
    verdict = "EOPNOTSUPP" if err == errno.EOPNOTSUPP else os.strerror(err)
    step("connect(AF_UNSPEC) to disconnect:", verdict)
    assert verdict == "EOPNOTSUPP", "disconnect was not refused"

    for s in (cli, srv, lsn):
        s.close()
    print("kTLS demo: OK")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"kTLS demo: FAILED: {e or 'an assertion'}")
        sys.exit(1)
