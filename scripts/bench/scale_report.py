#!/usr/bin/env python3
"""The tables of a scale run (see scripts/bench-scale.sh).

usage: scale_report.py --out DIR --meta FILE --flavours "base series" LINES

LINES holds "FLAVOUR scale SCHEME CIPHER CONNS OWN GUEST" (one end of one
run with CONNS connections: the measured process's ns per MiB of data and
the whole guest's over the same phase) and "FLAVOUR na SCHEME CIPHER
CONNS" (a run the kernel could not do). Writes DIR/results.md, which
starts with FILE: per flavour, each scheme's cost per MiB by connection
count and its ratio to the one-connection figure (the issue's goal: at
most 1.10 at 10,000 connections); kTLS above its plain-TCP floor the same
way; each flavour against the first. Cells are medians over the
repetitions (with the spread, (max - min) / median, when there are
several).
"""
import argparse
import statistics

# the same cells and tables as make bench's (this directory is on the path)
from report import ratio, table

# sender, then receiver; each kTLS scheme before its floor
SCHEMES = ["ktls-sendfile", "tcp-sendfile", "ktls-read", "tcp-recv",
           "tcp-discard"]
NO_TLS = {"tcp-sendfile", "tcp-recv", "tcp-discard"}
# kTLS and the plain-TCP floor it is measured against
FLOORS = [("ktls-sendfile", "tcp-sendfile"), ("ktls-read", "tcp-discard")]
GOAL = 1.10


class Data:
    """The runs, by (flavour, scheme, conns): lists of (own, guest)."""

    def __init__(self, path):
        self.runs = {}
        self.na = set()
        with open(path) as f:
            for line in f:
                w = line.split()
                if len(w) == 7 and w[1] == "scale":
                    key = (w[0], w[2], int(w[4]))
                    self.runs.setdefault(key, []).append(
                        (float(w[5]), float(w[6])))
                elif len(w) == 5 and w[1] == "na":
                    self.na.add((w[0], w[2], int(w[4])))
        self.conns = sorted({k[2] for k in self.runs} |
                            {k[2] for k in self.na})

    def values(self, f, s, n, what=0):
        return [r[what] for r in self.runs.get((f, s, n), [])] or None

    def median(self, f, s, n, what=0):
        v = self.values(f, s, n, what)
        return statistics.median(v) if v else None


def cell(v, ref=None):
    """median in thousands, (spread) if several, and the ratio to ref"""
    if not v:
        return "-"
    m = statistics.median(v)
    out = f"{m / 1000:,.0f}k"
    if len(v) > 1:
        out += f" ({(max(v) - min(v)) / m:.1%})"
    if ref:
        out += f" = {m / ref:.3f}"
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--flavours", required=True)
    ap.add_argument("lines")
    a = ap.parse_args()
    fl = a.flavours.split()
    d = Data(a.lines)
    one = d.conns[0] if d.conns else None
    md = ["# kTLS at scale: CPU cost per MiB by connection count\n\n"]
    with open(a.meta) as f:
        md.append(f.read())
    md.append(DOC)

    for f in fl:
        md.append(f"\n## {f}: the measured process (ns per MiB)\n\n"
                  f"Each cell: the cost, = its ratio to {one} "
                  "connection(s).\n\n")
        rows = []
        for n in d.conns:
            row = [f"{n:,}"]
            for s in SCHEMES:
                if (f, s, n) in d.na:
                    row.append("n/a (no kTLS RX)")
                    continue
                row.append(cell(d.values(f, s, n), d.median(f, s, one)))
            rows.append(row)
        md.append(table(["connections"] +
                        [s + (" (no TLS)" if s in NO_TLS else "")
                         for s in SCHEMES], rows))

    md.append("\n## kTLS above its floor (ns per MiB)\n\n"
              "ktls-sendfile less tcp-sendfile (the sender's TLS work) and "
              "ktls-read less tcp-discard (the receiver's), = the ratio "
              f"to {one} connection(s): whether what grows is TLS or "
              "TCP.\n\n")
    head = ["connections"] + [f"{f} {k} - {t}" for f in fl
                              for k, t in FLOORS]
    rows = []
    for n in d.conns:
        row = [f"{n:,}"]
        for f in fl:
            for k, t in FLOORS:
                km, tm = d.median(f, k, n), d.median(f, t, n)
                k1, t1 = d.median(f, k, one), d.median(f, t, one)
                if None in (km, tm):
                    row.append("-")
                    continue
                ref = k1 - t1 if None not in (k1, t1) else None
                row.append(f"{(km - tm) / 1000:,.0f}k" +
                           (f" = {(km - tm) / ref:.3f}" if ref else ""))
        rows.append(row)
    md.append(table(head, rows))

    if len(fl) > 1:
        md.append(f"\n## {' and '.join(fl[1:])} against {fl[0]}\n\n"
                  "The ratio of the medians, same scheme and connection "
                  "count.\n\n")
        rows = []
        for n in d.conns:
            for f in fl[1:]:
                rows.append([f"{n:,}", f"{f}/{fl[0]}"] +
                            [ratio(d.median(f, s, n), d.median(fl[0], s, n))
                             for s in SCHEMES])
        md.append(table(["connections", "ratio"] + SCHEMES, rows))

    md.append("\n## The whole guest (ns per MiB)\n\n"
              "All the guest's instructions over the receiver's data "
              "phase: sender, receiver and the rest, one column per run "
              "(named by its receiver).\n\n")
    runs = ["ktls-read", "tcp-recv", "tcp-discard"]
    rows = []
    for n in d.conns:
        row = [f"{n:,}"]
        for f in fl:
            row += [cell(d.values(f, s, n, 1), d.median(f, s, one, 1))
                    for s in runs]
        rows.append(row)
    md.append(table(["connections"] + [f"{f} {s} run" for f in fl
                                       for s in runs], rows))

    last = d.conns[-1] if d.conns else None
    md.append(f"\n## The goal: at {last:,} connections within {GOAL:.2f} "
              f"of {one}\n\n" if last else "\n## The goal\n\nNo numbers.\n")
    if last and last != one:
        rows = []
        for f in fl:
            for s in ("ktls-sendfile", "ktls-read"):
                m, m1 = d.median(f, s, last), d.median(f, s, one)
                r = m / m1 if m is not None and m1 else None
                rows.append([f, s, ratio(m, m1),
                             "-" if r is None else
                             ("met" if r <= GOAL else "not met")])
        md.append(table(["flavour", "scheme", f"{last:,} / {one}",
                         f"<= {GOAL:.2f}"], rows))
    with open(f"{a.out}/results.md", "w") as f:
        f.write("".join(md))


DOC = """
QEMU TCG with `-icount shift=0,sleep=off`, one vCPU: guest time counts
executed instructions, so "ns" are instructions, and both ends run on
the one vCPU. The measured process's CPU time (user + system) over its
data phase, per MiB of data: the sender's (ktls-sendfile: sendfile() on
kTLS TX, its receiver kTLS RX, not OpenSSL as in `make bench`;
tcp-sendfile: on plain TCP) and the receiver's (ktls-read: read() on
kTLS RX; tcp-recv: read() on plain TCP; tcp-discard: recv(MSG_TRUNC) on
plain TCP, which drops the bytes uncopied). Every run moves the same
data in the same sendfile() chunks, the connections taking them in turn,
with the same bound on what is in flight (see
[scripts/bench/ktls-bench.c](../../../scripts/bench/ktls-bench.c), -N):
only the connection count changes. Connection setup, keys and teardown
are outside the measurement. Under icount, cache and TLB misses cost
nothing: what grows with connections here is instructions (per-socket
first use, wakeups, epoll), not memory traffic.
"""

if __name__ == "__main__":
    main()
