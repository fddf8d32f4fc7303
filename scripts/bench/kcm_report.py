#!/usr/bin/env python3
"""The table and the plot of a KCM service benchmark run (scripts/bench-kcm.sh).

usage: kcm_report.py --out DIR --meta FILE --flavours "base series" LINES

LINES holds, each line prefixed with FLAVOUR and VCPUS (see
scripts/bench/ktls-kcm-bench.c for the rest):
  bench DESIGN REP N P50 P99 P999 MAX MEAN SERVER_CPU GUEST CLIENT_CPU
  ccdf DESIGN REP FRACTION LATENCY
  info DESIGN REP key=value...
  na DESIGN REP: REASON          a design the kernel could not run
and "FLAVOUR - notbuilt" for a kernel that was not there. Writes
DIR/results.md, which starts with FILE, and DIR/latency.png (gnuplot,
pngcairo): the latency CCDF per design and kernel, one panel per vCPU
count, as the paper's Figure 3. A cell is the median over the
repetitions; a CCDF point is the median, over the repetitions, of the
latency that a given fraction of the requests reached.
"""
import argparse
import os
import pathlib
import statistics
import subprocess
import tempfile

DESIGNS = ["ossl-pool", "ktls-thread", "ktls-kcm"]
CPUS = ["2", "1"]
FIELDS = ["n", "p50", "p99", "p999", "max", "mean", "server", "guest",
          "client"]


class Runs:
    """Every line of the run, by (flavour, vcpus, design)."""

    def __init__(self, path):
        self.bench = {}     # key -> [dict per repetition]
        self.ccdf = {}      # key -> {fraction: [latency per repetition]}
        self.info = {}      # key -> dict of the first repetition's info
        self.na = {}        # key -> reason
        self.notbuilt = []
        with open(path) as f:
            for line in f:
                w = line.split()
                if len(w) == 3 and w[2] == "notbuilt":
                    self.notbuilt.append(w[0])
                    continue
                if len(w) < 5:
                    continue
                key, kind, rep = (w[0], w[1], w[3]), w[2], w[4]
                if kind == "na":
                    self.na[key] = " ".join(w[5:])
                if rep == "probe":
                    continue
                if kind == "bench" and len(w) == 14:
                    self.bench.setdefault(key, []).append(
                        dict(zip(FIELDS, map(float, w[5:]))))
                elif kind == "ccdf" and len(w) == 7:
                    self.ccdf.setdefault(key, {}).setdefault(
                        float(w[5]), []).append(float(w[6]))
                elif kind == "info" and key not in self.info:
                    self.info[key] = dict(x.split("=", 1) for x in w[5:]
                                          if "=" in x)

    def median(self, key, field):
        v = [r[field] for r in self.bench.get(key, [])]
        return statistics.median(v) if v else None

    def spread(self, key, field):
        v = [r[field] for r in self.bench.get(key, [])]
        if len(v) < 2 or not statistics.median(v):
            return None
        return (max(v) - min(v)) / statistics.median(v)


def kilo(v):
    return "-" if v is None else f"{v / 1000:,.0f}k"


def ratio(a, b):
    return "-" if a is None or not b else f"{a / b:.3f}"


def table(head, rows):
    out = ["| " + " | ".join(head) + " |",
           "|---|---" + "|---:" * (len(head) - 2) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def section(r, fl, cpus):
    """The table of one vCPU count: a row per design and kernel."""
    head = ["design", "kernel", "p50", "p99", "p99.9", "p99 spread",
            "server CPU/req", "guest/req", "outside/req",
            "p99 vs ossl-pool"]
    if len(fl) > 1:
        head.append(f"p99 vs {fl[0]}")
    rows = []
    for d in DESIGNS:
        for f in fl:
            key = (f, cpus, d)
            if key not in r.bench:
                why = r.na.get(key, "no numbers")
                rows.append([d, f, f"n/a: {why}"] + [""] * (len(head) - 3))
                continue
            m = {x: r.median(key, x) for x in FIELDS}
            sp = r.spread(key, "p99")
            # what ran in no process of the benchmark: kworkers (KCM's
            # strparser), softirqs run elsewhere, idle vCPUs' time
            outside = m["guest"] - m["server"] - m["client"]
            row = [d, f, kilo(m["p50"]), kilo(m["p99"]), kilo(m["p999"]),
                   "-" if sp is None else f"{sp:.1%}", kilo(m["server"]),
                   kilo(m["guest"]), kilo(outside),
                   ratio(m["p99"], r.median((f, cpus, "ossl-pool"), "p99"))]
            if len(fl) > 1:
                row.append("" if f == fl[0] else
                           ratio(m["p99"], r.median((fl[0], cpus, d), "p99")))
            rows.append(row)
    return table(head, rows)


def headline(r, fl, cpus):
    """p99 of each kTLS design against ossl-pool's, per kernel."""
    out = []
    for f in fl:
        base = r.median((f, cpus, "ossl-pool"), "p99")
        for d in DESIGNS[1:]:
            v = r.median((f, cpus, d), "p99")
            if v is None or not base:
                continue
            out.append(f"- {f}, {cpus} vCPU{'s' if cpus != '1' else ''}: "
                       f"p99 of {d} {v / 1000:,.0f}k against ossl-pool's "
                       f"{base / 1000:,.0f}k, {v / base:.3f} "
                       f"({(v / base - 1) * 100:+.1f}%)\n")
    return "".join(out)


def plot(r, fl, png, tmp):
    """CCDF panels, one per vCPU count: a line per design and kernel."""
    colours = {"ossl-pool": "#d62728", "ktls-thread": "#1f77b4",
               "ktls-kcm": "#2ca02c"}
    # our kernel solid, the one compared with dashed
    dashes = {f: 1 if f == "series" else i + 2 for i, f in enumerate(fl)}
    script = ["set terminal pngcairo size 1100,480 font ',9' enhanced",
              f"set output '{png}'",
              'set multiplot layout 1,2 title "Latency CCDF, request/'
              'response over TLS (icount: guest instructions)"',
              "set logscale y", "set format y '10^{%L}'", "set grid",
              "set xlabel 'latency (million instructions)'",
              "set ylabel 'fraction of requests taking longer'",
              "set key bottom left opaque"]
    for cpus in CPUS:
        uses = []
        for d in DESIGNS:
            for f in fl:
                pts = r.ccdf.get((f, cpus, d))
                if not pts:
                    continue
                dat = os.path.join(tmp, f"{f}-{cpus}-{d}.dat")
                with open(dat, "w") as out:
                    for frac in sorted(pts, reverse=True):
                        out.write(f"{statistics.median(pts[frac]) / 1e6:.6f}"
                                  f" {frac:.6g}\n")
                uses.append(f"'{dat}' using 1:2 with lines lw 2 "
                            f"lc rgb '{colours[d]}' dt {dashes[f]} "
                            f"title '{d} ({f})'")
        script.append(f"set title '{cpus} vCPU{'s' if cpus != '1' else ''}"
                      f"{' (server CPU 0, client CPU 1)' if cpus == '2' else ''}'")
        if uses:
            script += ["set autoscale", "unset label",
                       "plot " + ", ".join(uses)]
        else:
            # an empty panel: a curve below its range, and a word
            script += ["set xrange [0:1]", "set yrange [1e-4:1]",
                       "set label 'no runs' at graph 0.5,0.5 center",
                       "plot 1e-9 notitle"]
    script.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True,
                   check=True)


def params(r):
    """The runs' parameters, from the first info line."""
    for key in sorted(r.info):
        i = r.info[key]
        return (f"W = {i.get('workers')} workers, C = {i.get('conns')} "
                f"connections, K = {i.get('depth')} requests outstanding, "
                f"{i.get('requests')} requests per run (the first "
                f"{i.get('warmup')} not counted), {i.get('req_bytes')}-byte "
                f"requests, {i.get('rsp_bytes')}-byte responses, work of "
                f"mean {i.get('work_mean')} units at "
                f"{i.get('work_instr_per_unit')} instructions each, "
                f"KCM sockets' SO_RCVBUF "
                f"{'left alone' if i.get('kcm_rcvbuf') == '0' else i.get('kcm_rcvbuf')}"
                "; TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256.")
    return "no runs."


DOC = """
QEMU TCG with `-icount shift=0,sleep=off`: guest time counts executed
instructions, so latencies and CPU times are instructions ("k":
thousands). The client ([ktls-kcm-bench.c](../../scripts/bench/ktls-kcm-bench.c),
the same in every design, kTLS both ways) keeps K requests outstanding
over C connections; a latency is its CLOCK_MONOTONIC from a request's
write() to the read() that returned the response. The designs:
**ossl-pool**, user-space OpenSSL with W workers sharing an epoll set
and a queue of parsed frames; **ktls-thread**, kTLS with a thread per
connection; **ktls-kcm**, kTLS with the connections attached to one KCM
multiplexor and a KCM socket per worker (a response leaves on whichever
connection KCM picks: the client takes it on any, by request id).

Columns: percentiles of the counted requests' latencies (median over the
repetitions; *p99 spread* is (max - min) / median of the repetitions'
p99s); *server CPU/req*, the server process's getrusage() (all its
threads) over the run, per request; *guest/req*, the guest's elapsed
time over the client's run per request: under icount all the work of
all vCPUs, plus idle time warped over when every vCPU was idle;
*outside/req*, guest/req minus the server's and the client's CPU:
what ran in no process of the benchmark (KCM's strparser reads and
decrypts in a kworker), or, with 2 vCPUs, the time a vCPU spent idle
while the other ran nothing of the benchmark's. With 2 vCPUs the server
is on CPU 0 and the client on CPU 1; the vCPUs take turns on one clock,
so a process is charged for what the other vCPU ran while it was
current on its own. With 1 vCPU the server's CPU time is its own
instructions (and the softirqs run while it was current, as the
loopback delivery of what it sends).
"""

FIGURE = """
## Latency distributions

Solid lines: the series kernel; dashed: the base kernel. The fraction of
the counted requests that took at least the latency on the x axis; each
curve ends at one request.

![latency CCDF](latency.png)
"""


def main():
    ap = argparse.ArgumentParser(usage=__doc__.split("\n")[2][7:])
    for opt in ("--out", "--meta", "--flavours"):
        ap.add_argument(opt, required=True)
    ap.add_argument("lines")
    a = ap.parse_args()
    r = Runs(a.lines)
    fl = [f for f in a.flavours.split() if f not in r.notbuilt]
    md = ["# The KTLS paper's Figure 3: a TLS service's latency, "
          "three designs\n\n"]
    with open(a.meta) as f:
        md.append(f.read())
    md.append("".join(f"\n{f}: not built.\n" for f in r.notbuilt))
    md.append("\n" + params(r) + "\n")
    md.append("\n## p99 of the kTLS designs against user-space OpenSSL\n\n")
    md.append("".join(headline(r, fl, c) for c in CPUS) or "none.\n")
    md.append(DOC)
    for cpus in CPUS:
        md.append(f"\n## {cpus} vCPU{'s' if cpus != '1' else ''}\n\n")
        md.append(section(r, fl, cpus))
    md.append(FIGURE)
    pathlib.Path(a.out, "results.md").write_text("".join(md))
    with tempfile.TemporaryDirectory() as tmp:
        plot(r, fl, os.path.join(a.out, "latency.png"), tmp)


if __name__ == "__main__":
    main()
