#!/usr/bin/env python3
"""The tables and plots of a benchmark run (see scripts/bench.sh).

usage: report.py --out DIR --meta FILE --flavours "base series" LINES

LINES holds "FLAVOUR bench SCHEME CIPHER SIZE OWN GUEST AEAD" (the
numbers of one run: ns per MiB, or per round trip for rr-*, of the
measured process and of the whole guest, and the measured process's ns
in the kernel's crypto code, or "-"), "FLAVOUR na SCHEME CIPHER SIZE"
(a run the kernel could not do) and "FLAVOUR cost CIPHER TAG SIZE enc|dec
NS DRIVER" (one record's exact cost to the kernel AEAD, from the tls_aead
KUnit suite). Writes DIR/results.md, which starts
with FILE, and DIR/tx-sender.png, tx-guest.png, rx.png and rr.png with
gnuplot: each scheme normalised to user-space OpenSSL, flavours side by
side. Cells are the median over the repetitions and the spread,
(max - min) / median; the first flavour is the one the others are
compared with.
"""
import argparse
import os
import statistics
import subprocess
import tempfile

CIPHERS = ["tls12-aes128-gcm", "tls13-aes128-gcm", "tls13-chacha20-poly1305"]
TX = ["ossl-write", "ossl-mmap", "ktls-sendfile", "ktls-write", "tcp-sendfile"]
RX = ["ossl-read", "ktls-read", "tcp-recv", "tcp-discard"]
RR = ["rr-ossl", "rr-ktls", "rr-ktls-tx", "rr-tcp"]
NO_TLS = {"tcp-sendfile", "tcp-recv", "tcp-discard", "rr-tcp"}
# the plain TCP each direction's bound starts from: TX the sendfile()
# sender, RX the receiver that drops the bytes uncopied (recv(MSG_TRUNC)),
# since kTLS read's AEAD writes the reader's buffer in place of TCP's copy
TX_FLOOR = "tcp-sendfile"
RX_FLOOR = "tcp-discard"
# kTLS's records in the bulk runs: full 16 KiB, 64 per MiB
RECORD = 16384
RECORDS_PER_MIB = -(-(1 << 20) // RECORD)


class Data:
    """The runs, by (flavour, scheme, cipher, size)."""

    def __init__(self, path):
        self.runs = {}
        self.na = set()
        self.cost = {}
        with open(path) as f:
            for line in f:
                w = line.split()
                if len(w) == 8 and w[1] == "bench":
                    key = (w[0], w[2], w[3], w[4])
                    aead = None if w[7] == "-" else float(w[7])
                    self.runs.setdefault(key, []).append(
                        (float(w[5]), float(w[6]), aead))
                elif len(w) == 5 and w[1] == "na":
                    self.na.add((w[0], w[2], w[3]))
                elif len(w) == 8 and w[1] == "cost":
                    self.cost[(w[0], w[2], w[3], int(w[4]), w[5])] = \
                        float(w[6])

    def sizes(self, scheme):
        return sorted({k[3] for k in self.runs if k[1] == scheme}, key=float)

    def values(self, f, s, c, size, what):
        """The runs' values: what is 0 (own), 1 (guest) or 2 (aead)."""
        if s in NO_TLS:
            c = "n/a"
        for key, runs in self.runs.items():
            if key[:3] == (f, s, c) and (size is None or key[3] == size):
                v = [r[what] for r in runs if r[what] is not None]
                return v or None
        return None

    def median(self, *a):
        v = self.values(*a)
        return statistics.median(v) if v else None

    def is_na(self, f, s, c):
        return (f, s, c) in self.na

    def record(self, f, c, op):
        """One full record's exact AEAD cost (op: enc or dec) for flavour
        f, and where it comes from ("FLAVOUR TAG"), or None. A flavour
        with the tls_aead suite has its own; with rfc5288 and gcm rows
        for TLS 1.2, rfc5288 is what its kTLS picks. One without the
        suite (the base tree) takes another flavour's row other than
        rfc5288: plain gcm(aes), the AES-NI code the base tree's kTLS
        runs for TLS 1.2 too."""
        tags = {}
        for (g, cc, tag, size, o), v in self.cost.items():
            if (cc, size, o) == (c, RECORD, op):
                tags.setdefault(g, {})[tag] = v
        if f in tags:
            tag = "rfc5288" if "rfc5288" in tags[f] else min(tags[f])
            return tags[f][tag], f"{f} {tag}"
        for g in sorted(tags):
            for tag in sorted(tags[g]):
                if tag != "rfc5288":
                    return tags[g][tag], f"{g} {tag}"
        return None


def cell(v):
    """median (spread)"""
    if not v:
        return "-"
    m = statistics.median(v)
    spread = (max(v) - min(v)) / m if m else 0
    return f"{m / 1000:,.0f}k ({spread:.1%})"


def ratio(a, b):
    return f"{a / b:.3f}" if a is not None and b else "-"


def table(head, rows):
    out = ["| " + " | ".join(head) + " |",
           "|---" + "|---:" * (len(head) - 1) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def section(d, fl, schemes, cipher, size, what, norm, unit, bound=None,
            blabel="bound: plain TCP + exact cipher cost"):
    """One table: per scheme, each flavour's cell, the ratio of each
    flavour to the first, each normalised to the scheme norm, and with
    bound (a dict flavour -> ns), the ratio to the bound, which is the
    row blabel."""
    head = ["scheme"] + [f"{f} {unit}" for f in fl]
    head += [f"{f}/{fl[0]}" for f in fl[1:]]
    head += [f"{f} vs {norm}" for f in fl]
    if bound:
        head += [f"{f} vs bound" for f in fl]
    rows = []
    for s in schemes:
        row = [s + (" (no TLS)" if s in NO_TLS else "")]
        med = {}
        for f in fl:
            if d.is_na(f, s, cipher):
                row.append("n/a (no kTLS RX)")
                med[f] = None
                continue
            v = d.values(f, s, cipher, size, what)
            row.append(cell(v))
            med[f] = statistics.median(v) if v else None
        row += [ratio(med[f], med[fl[0]]) for f in fl[1:]]
        row += [ratio(med[f], d.median(f, norm, cipher, size, what))
                for f in fl]
        if bound:
            row += [ratio(med[f], bound.get(f)) if s.startswith("ktls")
                    else "" for f in fl]
        rows.append(row)
    if bound:
        row = [blabel]
        row += [f"{bound[f] / 1000:,.0f}k" if bound.get(f) else "-"
                for f in fl]
        row += [ratio(bound.get(f), bound.get(fl[0])) for f in fl[1:]]
        row += [ratio(bound.get(f), d.median(f, norm, cipher, size, what))
                for f in fl]
        row += ["" for f in fl]
        rows.append(row)
    return table(head, rows)


def bounds(d, fl, cipher, floor, op):
    """flavour -> plain TCP's own ns + the exact AEAD ns (op: enc or dec)
    of a MiB's records."""
    b = {}
    for f in fl:
        tcp = d.median(f, floor, cipher, None, 0)
        rec = d.record(f, cipher, op)
        if tcp is not None and rec:
            b[f] = tcp + RECORDS_PER_MIB * rec[0]
    return b


def exact(d, f, c, op):
    """A MiB's exact AEAD ns, and its source if another flavour's."""
    rec = d.record(f, c, op)
    if not rec:
        return "-"
    src = "" if rec[1].split()[0] == f else f" ({rec[1]})"
    return f"{RECORDS_PER_MIB * rec[0] / 1000:,.0f}k{src}"


def plot(png, title, panels, fl, tmp):
    """Clustered bars, one panel per (title, [(label, {flavour: v})])."""
    script = [f"set terminal pngcairo size {520 * len(panels)},460 "
              "font ',9'",
              f"set output '{png}'",
              "set style data histograms",
              "set style histogram clustered gap 1",
              "set style fill solid 0.8 border -1",
              "set boxwidth 0.9", "set xtics rotate by -35 nomirror",
              "set grid ytics", "set yrange [0:*]", "set key top right",
              f'set multiplot layout 1,{len(panels)} title "{title}"']
    for i, (ptitle, rows) in enumerate(panels):
        dat = os.path.join(tmp, f"{os.path.basename(png)}.{i}.dat")
        with open(dat, "w") as f:
            for label, v in rows:
                vals = " ".join("NaN" if v.get(x) is None else f"{v[x]:.4f}"
                                for x in fl)
                f.write(f'"{label}" {vals}\n')
        uses = [f"'{dat}' using 2:xtic(1) title '{fl[0]}'"]
        uses += [f"'' using {j + 2} title '{x}'" for j, x in
                 enumerate(fl) if j]
        script += [f'set title "{ptitle}"', "plot " + ", ".join(uses)]
    script.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(script) + "\n",
                   text=True, check=True)


def normalised(d, fl, schemes, cipher, size, what, norm, extra=None):
    rows = []
    for s in schemes:
        v = {}
        for f in fl:
            m = d.median(f, s, cipher, size, what)
            n = d.median(f, norm, cipher, size, what)
            v[f] = m / n if m is not None and n else None
        rows.append((s, v))
    for label, b in (extra or []):
        rows.append((label, {f: b[f] / d.median(f, norm, cipher, size, what)
                             if b.get(f) and d.median(f, norm, cipher, size,
                                                      what) else None
                             for f in fl}))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--flavours", required=True)
    ap.add_argument("lines")
    a = ap.parse_args()
    fl = a.flavours.split()
    d = Data(a.lines)
    md = ["# kTLS: CPU cost per MiB and per round trip\n\n"]
    with open(a.meta) as f:
        md.append(f.read())
    md.append(DOC)

    md.append("\n## Transmit: the sending process (ns per MiB)\n")
    txb = {c: bounds(d, fl, c, TX_FLOOR, "enc") for c in CIPHERS}
    rxb = {c: bounds(d, fl, c, RX_FLOOR, "dec") for c in CIPHERS}
    for c in CIPHERS:
        md.append(f"\n### {c}\n\n")
        md.append(section(d, fl, TX, c, None, 0, "ossl-write", "sender",
                          txb[c], f"bound: {TX_FLOOR} + exact encryption"))
    md.append("\n## Transmit: the whole guest (ns per MiB)\n\n"
              "Sender, receiver (SSL_read(), which decrypts, except for "
              "plain TCP) and everything else the guest ran.\n")
    for c in CIPHERS:
        md.append(f"\n### {c}\n\n")
        md.append(section(d, fl, TX, c, None, 1, "ossl-write", "guest"))

    md.append("\n## The cipher alone (kernel AEAD, ns per MiB)\n\n"
              "The measured process's time in the kernel's crypto code "
              "(sampled): while sending (ktls-sendfile) and while "
              "receiving (ktls-read), and that as a share of the "
              "process; then the exact cost of the AEAD calls of a "
              f"MiB's {RECORDS_PER_MIB} records of 16 KiB (the tls_aead "
              "KUnit suite, net/tls/aead_kunit.c: each call timed "
              "under icount, the median of 33). The bound is plain TCP "
              "plus the exact cost: for TX tcp-sendfile's sender plus "
              "the encryption, for RX tcp-discard's receiver plus the "
              "decryption. tcp-discard reads with recv(MSG_TRUNC), which "
              "makes TCP drop the bytes without copying them to user "
              "space: kTLS read does not copy them either (the AEAD "
              "writes the plaintext straight into the reader's buffer), "
              "so tcp-recv, which copies every byte, would count that "
              "move twice. The base tree has no such suite: its numbers "
              "are the series kernel's (named in brackets), for TLS 1.2 its "
              "gcm(aes) row, the AES-NI code the base tree's kTLS runs; "
              "the series' own TLS 1.2 row is rfc5288(gcm(aes)), "
              "what its kTLS picks.\n\n")
    rows = []
    for c in CIPHERS:
        for f in fl:
            tx = d.values(f, "ktls-sendfile", c, None, 2)
            own = d.median(f, "ktls-sendfile", c, None, 0)
            rx = d.values(f, "ktls-read", c, None, 2)
            rown = d.median(f, "ktls-read", c, None, 0)
            rows.append([c, f, cell(tx),
                         f"{statistics.median(tx) / own:.0%}"
                         if tx and own else "-",
                         exact(d, f, c, "enc"),
                         f"{txb[c][f] / 1000:,.0f}k" if f in txb[c] else "-",
                         "n/a (no kTLS RX)" if d.is_na(f, "ktls-read", c)
                         else cell(rx),
                         f"{statistics.median(rx) / rown:.0%}"
                         if rx and rown else "-",
                         exact(d, f, c, "dec"),
                         f"{rxb[c][f] / 1000:,.0f}k" if f in rxb[c]
                         else "-"])
    md.append(table(["cipher", "flavour", "TX AEAD", "of ktls-sendfile",
                     "TX exact", "TX bound", "RX AEAD", "of ktls-read",
                     "RX exact", "RX bound"], rows))

    md.append("\n## Receive: the receiving process (ns per MiB)\n\n"
              "ossl-read is ktls-sendfile's receiver, tcp-recv "
              "tcp-sendfile's; ktls-read and tcp-discard have a "
              "sendfile() sender too (kTLS, plain TCP). Reads of 64 KiB; "
              "tcp-discard's are recv(MSG_TRUNC), plain TCP without the "
              "copy to user space, the floor of the bound (kTLS read's "
              "AEAD writes the reader's buffer in place of that copy); "
              "tcp-recv, with the copy, is there for reference.\n")
    for c in CIPHERS:
        md.append(f"\n### {c}\n\n")
        md.append(section(d, fl, RX, c, None, 0, "ossl-read", "receiver",
                          rxb[c], f"bound: {RX_FLOOR} + exact decryption"))
        md.append("\nWhole guest:\n\n")
        md.append(section(d, fl, RX, c, None, 1, "ossl-read", "guest"))

    md.append("\n## Request/response: the client (ns per round trip)\n\n"
              "The client writes a message and reads one of the same size "
              "back; the server answers. rr-ktls-tx: kTLS TX on both ends, "
              "each reading the other's records without decrypting them "
              "(the transmit side's per-record cost).\n")
    for size in d.sizes("rr-tcp") or d.sizes("rr-ossl"):
        for c in CIPHERS:
            md.append(f"\n### {size}-byte messages, {c}\n\n")
            md.append(section(d, fl, RR, c, size, 0, "rr-ossl", "client"))
            md.append("\nWhole guest:\n\n")
            md.append(section(d, fl, RR, c, size, 1, "rr-ossl", "guest"))

    with tempfile.TemporaryDirectory() as tmp:
        short = {c: c.replace("-poly1305", "") for c in CIPHERS}
        for what, name, label in ((0, "tx-sender", "sending process"),
                                  (1, "tx-guest", "whole guest")):
            extra = (lambda c: [("bound", txb[c])]) if what == 0 else \
                (lambda c: [])
            plot(os.path.join(a.out, name + ".png"),
                 f"TX, {label}: instructions per MiB, ossl-write = 1",
                 [(short[c], normalised(d, fl, TX, c, None, what,
                                        "ossl-write", extra(c)))
                  for c in CIPHERS], fl, tmp)
        plot(os.path.join(a.out, "rx.png"),
             "RX, receiving process: instructions per MiB, ossl-read = 1",
             [(short[c], normalised(d, fl, RX, c, None, 0, "ossl-read",
                                    [("bound", rxb[c])]))
              for c in CIPHERS], fl, tmp)
        plot(os.path.join(a.out, "rr.png"),
             "request/response, client: instructions per round trip, "
             "rr-ossl = 1",
             [(f"{size} B",
               [(f"{s} {short[c]}" if s not in NO_TLS else s, v)
                for c in CIPHERS
                for s, v in normalised(d, fl, RR, c, size, 0, "rr-ossl")
                if s not in NO_TLS or c == CIPHERS[0]])
              for size in d.sizes("rr-ossl")], fl, tmp)
    md.append("\n## Plots\n\nNormalised to OpenSSL in user space, as in "
              "the paper (n/a and missing numbers: no bar).\n\n"
              "![TX, sender](tx-sender.png)\n\n![TX, guest](tx-guest.png)"
              "\n\n![RX](rx.png)\n\n![request/response](rr.png)\n")
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write("".join(md))


DOC = """
QEMU TCG with `-icount shift=0,sleep=off`: guest time counts executed
instructions, so "ns" are instructions. The measured process's CPU time
(user + system, CLOCK_PROCESS_CPUTIME_ID) is exact: its own instructions
plus the interrupts and softirqs that ran while it was current (on one
vCPU that includes the loopback delivery of what it sends, as on real
hardware). "Whole guest" is the elapsed guest time over the same phase:
with icount the clock advances by every instruction executed, so that
is all instructions of the guest (the runs show no idle time). The
cipher alone is sampled (a cpu-clock perf event, one sample per 4 ms
tick, in the measured runs: a few hundred samples per cell, so a few per
cent of statistical error). The bound rows are plain TCP plus the
cipher's exact cost (see "The cipher alone"): tcp-sendfile's sender plus
the encryption for TX, tcp-discard's receiver (plain TCP without the
copy to user space, which kTLS read does not make either) plus the
decryption for RX; for the base kernel, the series kernel's cipher
numbers (TLS 1.2: its plain gcm(aes) row). Cells: median over the
repetitions in thousands (k), and the spread (max - min) / median. "vs
X": the median over X's, same flavour and cipher (the paper's Figure 4).
See [scripts/bench.sh](../../scripts/bench.sh) and
[scripts/bench/ktls-bench.c](../../scripts/bench/ktls-bench.c).
"""

if __name__ == "__main__":
    main()
