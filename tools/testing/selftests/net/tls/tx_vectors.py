#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Computes the TLS 1.2 AES-128-GCM known-answer records of tx.c
# (kat_tls12_aes_gcm_128) independently of the kernel, with
# python3-cryptography's AESGCM, and prints them as C arrays.
#
# It takes no arguments and needs Debian's python3-cryptography; the
# exact command used is in tx.c, above the vectors it printed.
#
# The record layout is RFC 5246 section 6.2.3.3 with RFC 5288's nonce:
#   record = type || 03 03 || length || explicit_nonce(8) || ciphertext || tag
#   nonce  = salt(4) || explicit_nonce(8)
#   aad    = seq(8) || type || 03 03 || plaintext length(2)
# kTLS takes the first explicit nonce from crypto_info.iv and the first
# sequence number from crypto_info.rec_seq and adds one to each per record.
# Both start just below a byte boundary so that the second record carries.

import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY = bytes.fromhex("fedcba98765432100123456789abcdef")
SALT = bytes.fromhex("cafebabe")
IV = bytes.fromhex("11223344556677ff")
REC_SEQ = bytes.fromhex("00000000000001ff")
MESSAGES = [b"Hello from the kernel TLS transmit path!", b"bye"]
APPLICATION_DATA = 23


def record(seq, explicit_nonce, payload):
    seq_bytes = struct.pack(">Q", seq)
    nonce_bytes = struct.pack(">Q", explicit_nonce)
    aad = seq_bytes + bytes([APPLICATION_DATA, 3, 3])
    aad += struct.pack(">H", len(payload))
    sealed = AESGCM(KEY).encrypt(SALT + nonce_bytes, payload, aad)
    body = nonce_bytes + sealed
    header = bytes([APPLICATION_DATA, 3, 3]) + struct.pack(">H", len(body))
    return header + body


def c_array(name, data):
    print("static const unsigned char %s[%d] = {" % (name, len(data)))
    for i in range(0, len(data), 8):
        row = ", ".join("0x%02x" % b for b in data[i:i + 8])
        print("\t%s," % row)
    print("};")


def main():
    seq = struct.unpack(">Q", REC_SEQ)[0]
    explicit_nonce = struct.unpack(">Q", IV)[0]
    for i, payload in enumerate(MESSAGES):
        c_array("kat12_record%d" % (i + 1),
                record(seq + i, explicit_nonce + i, payload))


if __name__ == "__main__":
    main()
