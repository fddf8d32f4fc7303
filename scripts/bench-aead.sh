#!/usr/bin/env bash
# What rfc5288(gcm(aes)) saves kTLS: TLS 1.2 AES-128-GCM on the series
# kernel under QEMU's icount (guest time counts instructions), each run
# once with the template and once with plain gcm(aes) (the debugfs
# switch tls/aead_rfc5288, flipped between runs in one boot; see
# scripts/guest-bench-aead.sh), on two boots:
#   aesni     the kernel as built: rfc5288-gcm-aesni-avx vs
#             generic-gcm-aesni-avx, with the AAD staged in front
#   generic   initcall_blacklist=aesni_init: the C implementations, the
#             rfc5288 template over gcm_base(ctr(aes-generic),ghash-generic)
#             vs that gcm itself
# Per record: request/response with 64-byte and 16 KiB messages (one
# record each way per round trip); per MiB: sendfile() into kTLS TX, read()
# from kTLS RX. scripts/bench/aead_report.py makes the table.
#
# usage: bench-aead.sh [--mib N] [--reps R] [--rr N] [--out DIR]
#   defaults: 16 MiB, 3 repetitions, 2000 round trips (500 of 16 KiB),
#   into bench/aead (about 5 minutes)
# Needs the series kernel built (make kernel).
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

usage="usage: bench-aead.sh [--mib N] [--reps R] [--rr N] [--out DIR]"
mib=16 reps=3 rr=2000 out=$TOP/bench/aead
while [ $# -gt 0 ]; do
	case "$1" in
	--mib) mib=${2:?$usage}; shift ;;
	--reps) reps=${2:?$usage}; shift ;;
	--rr) rr=${2:?$usage}; shift ;;
	--out) out=${2:?$usage}; shift ;;
	*) die "$usage" ;;
	esac
	shift
done
for n in "$mib" "$reps" "$rr"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "$usage"
done
dir=$BUILD/out/series
[ -f "$dir/arch/x86/boot/bzImage" ] || die "no series kernel: make kernel"
mkdir -p "$out"
out=$(cd "$out" && pwd)

need_pkgs gcc libssl-dev openssl python3
work=$BUILD/bench/aead-work
mkdir -p "$work"
gcc -O2 -Wall -Wextra -Werror -o "$work/ktls-bench" \
	"$TOP/scripts/bench/ktls-bench.c" -lssl -lcrypto ||
	die "ktls-bench does not build"
img=$work/series.bzImage
cp "$dir/arch/x86/boot/bzImage" "$img"

status=0
: > "$out/lines.txt"
for boot in aesni generic; do
	args=()
	[ "$boot" = generic ] && args=(-a initcall_blacklist=aesni_init)
	log "$boot: booting (icount, 1 vCPU), ${mib} MiB, $rr round trips, x $reps"
	rc=0
	"$TOP/scripts/qemu-run.sh" -i -c 1 -n "bench-aead-$boot" -t 7200 \
		"${args[@]}" "$img" \
		"bash $TOP/scripts/guest-bench-aead.sh --mib $mib --reps $reps --rr $rr $work/ktls-bench" ||
		rc=$?
	cp "$BUILD/runs/bench-aead-$boot/out/output" "$out/$boot.output" 2>/dev/null ||
		: > "$out/$boot.output"
	[ $rc -eq 0 ] || { log "$boot: guest run failed (exit $rc)"; status=1; }
	awk -v b="$boot" '$1 == "aead" && $3 == "bench" { print b, $0 }' \
		"$out/$boot.output" >> "$out/lines.txt"
done

commit=$(git -C "$TOP" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
python3 "$TOP/scripts/bench/aead_report.py" --reps "$reps" \
	--meta "\`scripts/bench-aead.sh\` (${mib} MiB, $rr round trips, $reps repetitions, 1 vCPU, icount), commit $commit, kernel sha256 $(sha256sum < "$img" | cut -c1-12), base $(base_describe), $(date -u '+%F %T') UTC" \
	"$out/lines.txt" > "$out/results.md" || status=1
cat "$out/results.md"
exit $status
