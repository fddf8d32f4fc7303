#!/usr/bin/env python3
"""The table of scripts/bench-aead.sh.

Input lines: BOOT aead MODE bench SCHEME CIPHER SIZE OWN GUEST AEAD, where
MODE is Y (rfc5288(gcm(aes))) or N (gcm(aes)), OWN and GUEST are icount ns
(instructions) per MiB, or per round trip for rr-* runs. Prints markdown:
medians, the spread (min-max) and the ratio rfc5288 / gcm(aes). Exits 1
when a run has fewer numbers than --reps.
"""
import argparse
import statistics
import sys

ROWS = [("rr-ktls", "64", "round trip, 64-byte records"),
        ("rr-ktls", "16384", "round trip, 16 KiB records"),
        ("ktls-sendfile", None, "MiB, sendfile() into kTLS TX"),
        ("ktls-read", None, "MiB, read() from kTLS RX")]
BOOTS = [("aesni", "AES-NI (rfc5288-gcm-aesni-avx vs generic-gcm-aesni-avx)"),
         ("generic", "generic C (aesni_init blacklisted)")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, required=True)
    ap.add_argument("--meta", default="")
    ap.add_argument("lines")
    a = ap.parse_args()

    vals = {}
    with open(a.lines) as f:
        for line in f:
            w = line.split()
            if len(w) != 10 or w[1] != "aead" or w[3] != "bench":
                continue
            boot, mode, scheme, size = w[0], w[2], w[4], w[6]
            if scheme.startswith("rr-"):
                size = str(int(float(size)))
            else:
                size = None
            key = (boot, scheme, size, mode)
            vals.setdefault(key, {"own": [], "guest": []})
            vals[key]["own"].append(float(w[7]))
            vals[key]["guest"].append(float(w[8]))

    def cell(v):
        return "%.0f (%.0f-%.0f)" % (statistics.median(v), min(v), max(v))

    ok = True
    print("# kTLS TLS 1.2 AES-128-GCM: rfc5288(gcm(aes)) against gcm(aes)\n")
    print(a.meta + "\n")
    print("Guest instructions (icount ns) per unit, median (min-max) of "
          "%d; a round trip is one record sealed and opened each way. "
          "\"process\" is the measuring process alone.\n" % a.reps)
    for boot, title in BOOTS:
        print("## %s\n" % title)
        print("| per | rfc5288, guest | gcm(aes), guest | ratio | "
              "rfc5288, process | gcm(aes), process | ratio |")
        print("|---|---|---|---|---|---|---|")
        for scheme, size, unit in ROWS:
            y = vals.get((boot, scheme, size, "Y"))
            n = vals.get((boot, scheme, size, "N"))
            if (not y or not n or len(y["guest"]) < a.reps
                    or len(n["guest"]) < a.reps):
                ok = False
                print("| %s | missing | | | | | |" % unit)
                continue
            gy, gn = statistics.median(y["guest"]), statistics.median(n["guest"])
            oy, on = statistics.median(y["own"]), statistics.median(n["own"])
            print("| %s | %s | %s | %.3f | %s | %s | %.3f |" % (
                unit, cell(y["guest"]), cell(n["guest"]), gy / gn,
                cell(y["own"]), cell(n["own"]), oy / on))
        print()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
