#!/usr/bin/env bash
# Cost per MiB with many connections (issue 20, item 5): our kTLS against
# upstream kTLS (the base kernel), with 1, 100 and 10,000 concurrent
# connections. Builds ktls-bench (scripts/bench/ktls-bench.c), boots each
# kernel under QEMU in icount mode with one vCPU (guest time counts
# executed instructions, so "ns" below are instructions; see
# scripts/bench.sh) and runs scripts/guest-bench-scale.sh there: for each
# connection count, ktls-bench -N CONNS with ktls-read (the sender's
# sendfile() on kTLS TX reported as ktls-sendfile, the receiver's read()
# on kTLS RX as ktls-read; TLS 1.2 AES-128-GCM), tcp-sendfile (and its
# receiver tcp-recv) and tcp-discard (recv(MSG_TRUNC): the receiver
# without the copy). Every run moves the same MIB of data in 64 KiB
# sendfile()s (four 16 KiB records), the connections taking them in turn,
# at most 64 chunks sent and unread at any time; 640 MiB is 10,240 chunks,
# so each of 10,000 connections carries at least one.
# scripts/bench/scale_report.py makes the tables.
#
# usage: bench-scale.sh [--smoke] [--mib N] [--chunk BYTES] [--conns LIST]
#                       [--reps R] [--jobs J] [--out DIR] [FLAVOUR...]
#   (none)    the full run: 640 MiB per run, 1 100 10000 connections, 3
#             repetitions, base and series, into bench/results/scale/ (about
#             6.5 minutes per kernel: 13 minutes with --jobs 1 on a
#             shared host, less with the two kernels at once)
#   --smoke   a check that it all still runs: 16 MiB in 16 KiB chunks,
#             1 10 100 connections, the series kernel only, into
#             build/bench/scale-smoke (under a minute)
#   --mib, --chunk, --conns, --reps   data per run, bytes per sendfile()
#             (a multiple of 16384 that divides 64 MiB), the connection
#             counts (the first is what the others are compared with),
#             repetitions; MIB must hold at least one chunk per connection
#   --jobs    guests at once (default: the host's cores; 1: one after
#             the other, twice the wall time)
#   --out     where results go (default: bench/results/scale for the full run,
#             build/bench/scale-smoke for --smoke, else
#             build/bench/scale-custom)
#   FLAVOUR   kernels in build/out/ (default: base series; the first is
#             the one the others are compared with)
# Needs the kernels built (make kernel kernel-base); builds none itself.
#
# Writes DIR/results.md (per kernel: connections x scheme, each with its
# ratio to one connection; kTLS above its plain-TCP floor; each kernel
# against the first; the goal, at most 1.10 at 10,000 connections),
# DIR/lines.txt (every number: FLAVOUR scale SCHEME CIPHER CONNS OWN
# GUEST, ns per MiB) and DIR/FLAVOUR.output (the guest's output). Exit
# code non-zero when a guest run failed or a number is missing, n/a
# included (both kernels have kTLS RX).
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

args=("$@")
usage="usage: bench-scale.sh [--smoke] [--mib N] [--chunk BYTES] [--conns LIST] [--reps R] [--jobs J] [--out DIR] [FLAVOUR...]"
flavours=() mib=640 chunk=65536 conns="1 100 10000" reps=3 jobs=$(nproc)
mode=full out=
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) mib=16 chunk=16384 conns="1 10 100" mode=smoke ;;
	--mib) mib=${2:?$usage}; mode=custom; shift ;;
	--chunk) chunk=${2:?$usage}; mode=custom; shift ;;
	--conns) conns=${2:?$usage}; mode=custom; shift ;;
	--reps) reps=${2:?$usage}; mode=custom; shift ;;
	--jobs) jobs=${2:?$usage}; shift ;;
	--out) out=${2:?$usage}; shift ;;
	-*) die "$usage" ;;
	*) flavours+=("$1") ;;
	esac
	shift
done
read -r -a counts <<< "$conns"
[ ${#counts[@]} -gt 0 ] || die "$usage"
for n in "$mib" "$chunk" "$reps" "$jobs" "${counts[@]}"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "$usage"
done
if [ $((chunk % 16384)) -ne 0 ] || [ $((64 * 1048576 % chunk)) -ne 0 ]; then
	die "--chunk $chunk: not whole 16 KiB records, or does not divide 64 MiB"
fi
for n in "${counts[@]}"; do
	[ $((mib * 1048576 / chunk)) -ge "$n" ] ||
		die "$mib MiB is fewer than $n chunks of $chunk bytes"
done
if [ ${#flavours[@]} -eq 0 ]; then
	flavours=(base series)
	[ "$mode" = smoke ] && flavours=(series)
fi
case "$mode" in
full) out=${out:-$TOP/bench/results/scale} ;;
*) out=${out:-$BUILD/bench/scale-$mode} ;;
esac
mkdir -p "$out"
out=$(cd "$out" && pwd)

# lines per repetition and connection count: ktls-sendfile, ktls-read,
# tcp-sendfile, tcp-recv, tcp-discard
want=$((5 * ${#counts[@]} * reps))

need_pkgs gcc libssl-dev python3 qemu-system-x86
work=$BUILD/bench/scale-work
mkdir -p "$work"
gcc -O2 -Wall -Wextra -Werror -o "$work/ktls-bench" \
	"$TOP/scripts/bench/ktls-bench.c" -lssl -lcrypto ||
	die "ktls-bench does not build"

# run_flavour FLAVOUR: one guest run; writes its "FLAVOUR scale ..." lines
# to $work/FLAVOUR.lines and its row of the runs table to $work/FLAVOUR.row.
# Returns 1 when the run failed or its numbers are incomplete.
run_flavour() {
	local f=$1 dir=$BUILD/out/$1 img built name output t rc=0 n na
	if [ ! -f "$dir/arch/x86/boot/bzImage" ]; then
		log "no $f kernel: make kernel / make kernel-base first"
		echo "| $f | (no kernel) | | | |" > "$work/$f.row"
		return 1
	fi
	# a copy is booted: the kernel named is the one that ran
	img=$work/$f.bzImage
	built=$(date -r "$dir/arch/x86/boot/bzImage" '+%F %T')
	cp "$dir/arch/x86/boot/bzImage" "$img"
	name=bench-scale-$f
	t=$SECONDS
	log "$f: booting (icount, 1 vCPU), $mib MiB per run, connections $conns, x $reps"
	"$TOP/scripts/qemu-run.sh" -i -c 1 -n "$name" -t 3600 "$img" \
		"bash $TOP/scripts/guest-bench-scale.sh --mib $mib --chunk $chunk --conns '$conns' --reps $reps $work/ktls-bench" ||
		rc=$?
	t=$((SECONDS - t))
	output=$out/$f.output
	cp "$BUILD/runs/$name/out/output" "$output" 2>/dev/null || : > "$output"
	grep -E '^(FAIL|NA) ' "$output" >&2 || true
	awk -v f="$f" '$1 == "scale" && NF == 6 { print f, $0 }' "$output" \
		> "$work/$f.lines"
	awk -v f="$f" '$1 == "NA" { print f, "na", $2, $3, $4 }' "$output" |
		sort -u >> "$work/$f.lines"
	n=$(grep -c '^scale ' "$output" || true)
	na=$(grep -c '^NA ' "$output" || true)
	log "$f: exit $rc, $n numbers and $na n/a of $want, ${t}s wall"
	printf '| %s | %s | %s + %s n/a of %s | %ss | %s |\n' "$f" "$rc" "$n" \
		"$na" "$want" "$t" \
		"$(sha256sum < "$img" | cut -c1-12), built $built" > "$work/$f.row"
	[ "$rc" -eq 0 ] && [ "$n" -eq "$want" ] && [ "$na" -eq 0 ]
}

: > "$out/lines.txt"
rm -f "$out"/*.output
printf '| flavour | exit | numbers | wall | kernel (sha256, built) |\n|---|---|---|---|---|\n' \
	> "$work/runs"
status=0
t0=$SECONDS
bench_flavours "$jobs" "$work" "$out" "${flavours[@]}" || status=1

{
	echo "\`scripts/bench-scale.sh ${args[*]}\` ($mode run: $mib MiB per" \
		"run in $chunk-byte sendfile()s, connections $conns, $reps" \
		"repetition(s), TLS 1.2 AES-128-GCM, 1 vCPU), measured on" \
		"$(bench_commit)," \
		"$(date -u '+%F %T') UTC, $((SECONDS - t0))s wall."
	echo
	echo "Base tree: $(base_describe)."
	echo
	cat "$work/runs"
} > "$work/meta.md"
python3 "$TOP/scripts/bench/scale_report.py" --out "$out" \
	--meta "$work/meta.md" --flavours "${flavours[*]}" "$out/lines.txt" ||
	status=1
cat "$out/results.md"
[ -s "$out/lines.txt" ] || { log "no numbers at all"; status=1; }
[ $status -eq 0 ] || log "a run failed or numbers are missing: see $out/*.output"
log "results: ${out#"$TOP"/}/results.md"
exit $status
