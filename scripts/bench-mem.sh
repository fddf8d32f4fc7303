#!/usr/bin/env bash
# Kernel memory per idle kTLS socket, base kernel (upstream kTLS) against
# ours (issue 20, item 4). Builds ktls-mem (scripts/bench/ktls-mem.c,
# whose header says what it counts), boots each kernel under QEMU with one
# vCPU and runs scripts/guest-bench-mem.sh there: SOCKETS loopback
# connections, one end of each given the "tls" ULP and AES-128-GCM TX and
# RX keys, TLS 1.2 then TLS 1.3; then the same again with one 64-byte
# record sent from each kTLS end and read by the other (idle after use:
# what a socket keeps of its record memory). Slab growth is exact (object
# counts), so one run per kernel suffices.
#
# usage: bench-mem.sh [--smoke] [--sockets N] [--out DIR] [FLAVOUR...]
#   (none)      10000 sockets, base (if built) and series, into bench/results/mem/
#               (about 2 minutes per kernel)
#   --smoke     500 sockets, series only, into build/bench/mem-smoke: it
#               runs and gives every number
#   --sockets N sockets per version
#   --out DIR   where results go (default as above; build/bench/mem-custom
#               with --sockets)
#   FLAVOUR     kernels in build/out/ (default: base series); a missing
#               base is reported as "not built" (make kernel-base builds it)
#
# Writes DIR/results.md (the table, per-cache growth, the commits, the
# base tree and the kernels measured) and DIR/FLAVOUR.output (the guest's
# output). Exit code non-zero when a guest run failed or a number is
# missing.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

args=("$@")
usage="usage: bench-mem.sh [--smoke] [--sockets N] [--out DIR] [FLAVOUR...]"
flavours=() sockets=10000 mode=full out=
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) sockets=500 mode=smoke ;;
	--sockets) sockets=${2:?$usage} mode=custom; shift ;;
	--out) out=${2:?$usage}; shift ;;
	-*) die "$usage" ;;
	*) flavours+=("$1") ;;
	esac
	shift
done
[[ $sockets =~ ^[1-9][0-9]*$ ]] || die "$usage"
if [ ${#flavours[@]} -eq 0 ]; then
	flavours=(base series)
	[ "$mode" != smoke ] || flavours=(series)
fi
if [ -z "$out" ]; then
	out=$BUILD/bench/mem-$mode
	[ "$mode" != full ] || out=$TOP/bench/results/mem
fi
mkdir -p "$out" && out=$(cd "$out" && pwd)

need_pkgs gcc qemu-system-x86
hdr=$BUILD/out/series/hdr/include
[ -d "$hdr" ] || die "no uAPI headers in $hdr: scripts/build-kernel.sh series"
work=$BUILD/bench/mem
mkdir -p "$work"
gcc -O2 -Wall -Wextra -Werror -isystem "$hdr" -o "$work/ktls-mem" \
	"$TOP/scripts/bench/ktls-mem.c" || die "ktls-mem does not build"

status=0 t0=$SECONDS
: > "$work/kernels"
for f in "${flavours[@]}"; do
	img=$BUILD/out/$f/arch/x86/boot/bzImage
	if [ ! -f "$img" ]; then
		log "$f: not built"
		echo "- $f: not built" >> "$work/kernels"
		[ "$f" = base ] || status=1
		: > "$out/$f.output"
		continue
	fi
	echo "- $f: ${img#"$TOP"/}, sha256 $(sha256sum < "$img" | cut -c1-12)," \
		"built $(date -u -r "$img" '+%F %T')" >> "$work/kernels"
	rc=0
	nice "$TOP/scripts/qemu-run.sh" -c 1 -t 900 -n "bench-mem-$f" "$img" \
		"bash $TOP/scripts/guest-bench-mem.sh $work/ktls-mem $sockets" ||
		rc=$?
	cp "$BUILD/runs/bench-mem-$f/out/output" "$out/$f.output" 2>/dev/null ||
		: > "$out/$f.output"
	n=$(grep -c '^mem tls1[23]\(-sent\)\? ' "$out/$f.output" || true)
	if [ $rc -ne 0 ] || [ "$n" -ne 4 ]; then
		log "$f: guest run failed (exit $rc, $n of 4 numbers)"
		status=1
	fi
done

# per socket, for FLAVOUR and VERSION: the slab growth (or "-")
slab() { awk -v v="tls$2" '$1 == "mem" && $2 == v { print $4 }' "$out/$1.output"; }
memfree() { awk -v v="tls$2" '$1 == "mem" && $2 == v { print $6 }' "$out/$1.output"; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
{
	echo "# Kernel memory per idle kTLS socket"
	echo
	echo "\`scripts/bench-mem.sh${args[*]:+ ${args[*]}}\` ($mode run: $sockets sockets" \
		"per version, one vCPU), $(date -u '+%F %T') UTC, $((SECONDS - t0))s wall."
	echo
	echo "- ktls commit: $(git -C "$TOP" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
	echo "- kernel series commit: $(git -C "$TREE" rev-parse --short=12 "$SERIES_BRANCH" 2>/dev/null || echo unknown)"
	echo "- base tree: $(base_describe)"
	cat "$work/kernels"
	echo
	echo "Each socket: a loopback TCP connection (set up before counting), then"
	echo "TCP_ULP \"tls\" and AES-128-GCM TLS_TX and TLS_RX keys on one end."
	echo "Slab: growth of active objects times object size over all caches,"
	echo "per socket (exact); MemFree: its fall per socket (pages too, noisier)."
	echo
	echo "| kernel | TLS 1.2 slab | TLS 1.3 slab | TLS 1.2 MemFree | TLS 1.3 MemFree |"
	echo "|---|---|---|---|---|"
	for f in "${flavours[@]}"; do
		echo "| $f | $(slab "$f" 12) | $(slab "$f" 13) | $(memfree "$f" 12) | $(memfree "$f" 13) |"
	done
	if [[ " ${flavours[*]} " == *" base "* && " ${flavours[*]} " == *" series "* ]]; then
		echo "| series / base | $(ratio "$(slab series 12)" "$(slab base 12)") |" \
			"$(ratio "$(slab series 13)" "$(slab base 13)") |" \
			"$(ratio "$(memfree series 12)" "$(memfree base 12)") |" \
			"$(ratio "$(memfree series 13)" "$(memfree base 13)") |"
	fi
	echo
	echo "Idle after use: the same, then each kTLS end sends one 64-byte"
	echo "record, which the other end reads. Record memory comes from page"
	echo "fragments (pages, not slab): MemFree shows what a socket keeps of it."
	echo
	echo "| kernel | TLS 1.2 slab | TLS 1.3 slab | TLS 1.2 MemFree | TLS 1.3 MemFree |"
	echo "|---|---|---|---|---|"
	for f in "${flavours[@]}"; do
		echo "| $f | $(slab "$f" 12-sent) | $(slab "$f" 13-sent) |" \
			"$(memfree "$f" 12-sent) | $(memfree "$f" 13-sent) |"
	done
	if [[ " ${flavours[*]} " == *" base "* && " ${flavours[*]} " == *" series "* ]]; then
		echo "| series / base | $(ratio "$(slab series 12-sent)" "$(slab base 12-sent)") |" \
			"$(ratio "$(slab series 13-sent)" "$(slab base 13-sent)") |" \
			"$(ratio "$(memfree series 12-sent)" "$(memfree base 12-sent)") |" \
			"$(ratio "$(memfree series 13-sent)" "$(memfree base 13-sent)") |"
	fi
	echo
	echo "Caches that grew (bytes per socket, object size), TLS 1.2:"
	echo
	for f in "${flavours[@]}"; do
		echo "- $f: $(awk '$1 == "mem" { v = $2 } $1 == "cache" && v == "tls12" {
			printf "%s%s %s (%s)", sep, $2, $3, $4; sep = ", " }' "$out/$f.output")"
	done
} > "$out/results.md"
cat "$out/results.md"
exit $status
