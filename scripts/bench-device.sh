#!/usr/bin/env bash
# What device offload saves the sending host (TX) and the receiving one
# (RX): kTLS with netdevsim's emulated TLS engine against software kTLS
# and plain TCP, on the series
# kernel under QEMU's icount (guest time counts executed instructions, so
# "ns" are instructions). Builds ktls-dev-bench
# (scripts/bench/ktls-dev-bench.c), boots the kernel with one vCPU and
# runs scripts/guest-bench-device.sh there. The engine's own cipher work,
# which a NIC does off the host, is left out: the offloaded schemes run
# with the engine's "bypass" knob, which passes the framed records through
# unencrypted (the receiver reads without decrypting), and the receiving
# engine's "rx_bypass", which marks such frames decrypted without a
# cipher; the *-engine rows show the emulation with its cipher, for
# reference.
#
# usage: bench-device.sh [--mib N] [--reps R] [--out DIR]
#   defaults: 16 MiB, 3 repetitions, bench/device (device.md,
#   device.output); a few minutes. Needs make kernel first.
# Exit code non-zero when the guest run failed or a number is missing.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

usage="usage: bench-device.sh [--mib N] [--reps R] [--out DIR]"
mib=16 reps=3 out=$TOP/bench/device
while [ $# -gt 0 ]; do
	case "$1" in
	--mib) mib=${2:?$usage}; shift ;;
	--reps) reps=${2:?$usage}; shift ;;
	--out) out=${2:?$usage}; shift ;;
	*) die "$usage" ;;
	esac
	shift
done
kernel=$BUILD/out/series/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no series kernel: make kernel first"
need_pkgs gcc python3
work=$BUILD/bench/device
mkdir -p "$work" "$out"
gcc -O2 -Wall -Wextra -Werror -o "$work/ktls-dev-bench" \
	-isystem "$BUILD/out/series/hdr/include" \
	"$TOP/scripts/bench/ktls-dev-bench.c" || die "ktls-dev-bench does not build"
cp "$kernel" "$work/bzImage"

rc=0
"$TOP/scripts/qemu-run.sh" -i -c 1 -n bench-device -t 3600 "$work/bzImage" \
	"bash $TOP/scripts/guest-bench-device.sh --mib $mib --reps $reps $work/ktls-dev-bench" ||
	rc=$?
cp "$BUILD/runs/bench-device/out/output" "$out/device.output" 2>/dev/null ||
	: > "$out/device.output"
grep '^FAIL' "$out/device.output" >&2 && rc=1
n=$(grep -c '^bench ' "$out/device.output" || true)
[ "$n" -eq $((11 * reps)) ] || { log "$n of $((11 * reps)) numbers"; rc=1; }

python3 - "$out/device.output" "$mib" "$reps" "$(tgit rev-parse --short "$SERIES_BRANCH")" "$(base_describe)" \
	> "$out/device.md" <<'PY'
import statistics, sys
path, mib, reps, rev, base = sys.argv[1:]
runs = {}
for line in open(path):
    f = line.split()
    if len(f) == 5 and f[0] == "bench":
        runs.setdefault(f[1], []).append((int(f[3]), int(f[4])))
order = ["tcp-sendfile", "sw-sendfile", "sw-write", "dev-sendfile",
         "dev-write", "dev-sendfile-zc", "dev-sendfile-engine",
         "rx-tcp", "rx-sw", "rx-dev", "rx-dev-engine"]
med = {s: (statistics.median(o for o, _ in v), statistics.median(g for _, g in v))
       for s, v in runs.items()}
print("# Device offload: host instructions per MiB\n")
print(f"Series kernel at {rev} (build/linux, branch series), on {base}.")
print(f"{mib} MiB per run, median of {reps}; one vCPU,")
print("icount (guest ns = instructions). OWN: the sending process, or for")
print("rx-* the receiving one reading 16 KiB per call (user + system, with the")
print("softirqs that ran in its context); GUEST: the whole guest over the same")
print("time. The offloaded rows run the netdevsim engines in bypass (their")
print("cipher work left out, as a NIC does it off the host); the *-engine rows")
print("include the emulation's own AES-GCM.\n")
print("| scheme | OWN /MiB | GUEST /MiB | OWN vs sw same call |")
print("|---|---:|---:|---:|")
for s in order:
    if s not in med:
        print(f"| {s} | missing | | |")
        continue
    o, g = med[s]
    ref = ("rx-sw" if s.startswith("rx-") else
           "sw-write" if s.endswith("-write") else "sw-sendfile")
    ratio = f"{o / med[ref][0]:.2f}" if ref in med and s != ref else ""
    print(f"| {s} | {o / 1e6:.1f}M | {g / 1e6:.1f}M | {ratio} |")
PY
log "bench-device: $out/device.md"
cat "$out/device.md"
exit $rc
