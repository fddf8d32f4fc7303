#!/usr/bin/env bash
# What TLS costs the CPU: our kTLS against upstream kTLS (the base
# kernel), each against user-space OpenSSL and plain TCP, as in the KTLS
# paper's Figure 4. Builds ktls-bench (scripts/bench/ktls-bench.c), boots
# each kernel flavour under QEMU in icount mode (guest time counts
# executed instructions, so "ns" below are instructions) and runs
# scripts/guest-bench.sh there: TX schemes ossl-write, ossl-mmap,
# ktls-sendfile, ktls-write, tcp-sendfile; RX schemes ossl-read,
# ktls-read, tcp-recv, tcp-discard; request/response with 64-byte and
# 4 KiB messages (rr-ossl, rr-ktls, rr-ktls-tx, rr-tcp); ciphers TLS 1.2
# AES-128-GCM, TLS 1.3 AES-128-GCM, TLS 1.3 ChaCha20-Poly1305; R
# repetitions of each.
# The kernel's AEAD (the cipher alone) is measured by sampling the
# measured process and counting the samples in the kernel's crypto code
# (ktls-bench.c says how), in the bulk runs only: a sampling event costs
# every context switch, two per round trip. The bound, plain TCP plus
# the cipher, takes the cipher's exact cost: one more short boot per
# flavour runs the tls_aead KUnit suite's cost case
# (net/tls/aead_kunit.c), which counts the instructions of each AEAD call
# per record size, under icount too. The plain TCP is tcp-sendfile's
# sender for TX (plus the encryption) and tcp-discard's receiver for RX
# (plus the decryption): tcp-discard reads with recv(MSG_TRUNC), which
# makes TCP drop the bytes instead of copying them to user space. kTLS
# read makes no such copy either (the AEAD writes the plaintext straight
# into the reader's buffer), so a bound on tcp-recv, whose read() copies
# every byte, would count the bytes' move twice; tcp-recv stays in the
# tables for reference.
# scripts/bench/report.py makes the tables and the gnuplot plots.
#
# usage: bench.sh [--smoke] [--mib N] [--reps R] [--rr N] [--cpus N]
#                 [--out DIR] [FLAVOUR...]
#   (none)    the full run: a 256 MiB file, 10000 round trips, 3
#             repetitions, base and series, into bench/results/ (about
#             20 minutes on 2 host cores, one guest on each; see
#             bench/results/README.md)
#   --smoke   a check that it all still runs: 4 MiB, 200 round trips, 1
#             repetition, the series kernel only, into build/bench/smoke
#             (a few minutes). Exit 0 when every run gave its numbers.
#   --mib, --reps, --rr   the file's size, repetitions, round trips
#   --cpus    vCPUs (default 1). Under icount all vCPUs share one virtual
#             clock, advanced by whichever runs: with 2, a process is
#             charged the instructions the other vCPU executes while it
#             waits its turn (ossl-write's sender: 650M instead of 400M
#             for 64 MiB), the spread grows (plain TCP: 35M-45M), and
#             the guest's TSC is found unstable, so its clocks tick in
#             4 ms jiffies. With 1 a process's CPU time is its own
#             instructions (plus the interrupts and softirqs run while
#             it is current, as on real hardware) and the guest's
#             elapsed time is all instructions: that is the measurement.
#   --out     where results go (default: bench/results for the full
#             run, build/bench/smoke for --smoke, else build/bench/custom)
#   FLAVOUR   kernels in build/out/ (default: base series; the first is
#             the one the others are compared with)
# Needs the kernels built (make kernel kernel-base); builds none itself.
#
# Writes DIR/results.md (the tables, the measurement's commit and
# kernels), DIR/*.png (plots normalised to ossl-write), DIR/lines.txt
# (every number: FLAVOUR bench SCHEME CIPHER SIZE OWN GUEST AEAD, and
# FLAVOUR cost CIPHER TAG SIZE enc|dec INSTRUCTIONS DRIVER per record)
# and DIR/FLAVOUR.output (the guest's output). Exit code non-zero when a
# guest run failed or a number is missing, n/a included: both kernels
# have kTLS RX (n/a is what a kernel that refuses TLS_RX gets).
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

args=("$@")
usage="usage: bench.sh [--smoke] [--mib N] [--reps R] [--rr N] [--cpus N] [--out DIR] [FLAVOUR...]"
flavours=() mib=256 reps=3 rr=10000 cpus=1 mode=full out=
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) mib=4 reps=1 rr=200 mode=smoke ;;
	--mib) mib=${2:?$usage}; mode=custom; shift ;;
	--reps) reps=${2:?$usage}; mode=custom; shift ;;
	--rr) rr=${2:?$usage}; mode=custom; shift ;;
	--cpus) cpus=${2:?$usage}; mode=custom; shift ;;
	--out) out=${2:?$usage}; shift ;;
	-*) die "$usage" ;;
	*) flavours+=("$1") ;;
	esac
	shift
done
for n in "$mib" "$reps" "$rr" "$cpus"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "$usage"
done
if [ ${#flavours[@]} -eq 0 ]; then
	flavours=(base series)
	[ "$mode" = smoke ] && flavours=(series)
fi
case "$mode" in
full) out=${out:-$TOP/bench/results} ;;
*) out=${out:-$BUILD/bench/$mode} ;;
esac
mkdir -p "$out"
out=$(cd "$out" && pwd)

# bench lines per repetition: 13 TX runs, ossl-read and tcp-recv from
# theirs (4), 3 ktls-read, tcp-discard, 20 request/response runs
per_rep=41

# Host and guest run the same Debian libssl: the binary built here is the
# one the guest runs, through the read-only 9p root.
need_pkgs gcc libssl-dev openssl binutils gnuplot-nox python3
work=$BUILD/bench/work
mkdir -p "$work"
gcc -O2 -Wall -Wextra -Werror -o "$work/ktls-bench" \
	"$TOP/scripts/bench/ktls-bench.c" -lssl -lcrypto ||
	die "ktls-bench does not build"

# run_cost FLAVOUR IMG: the cipher's exact cost per record. A short boot
# with only the tls_aead suite's cost case (KUnit runs at boot, before
# user space); its "tls_aead_cost ..." lines become "FLAVOUR cost ..."
# lines in $work/FLAVOUR.lines. A kernel without the suite (the base
# tree, a series before it) gives none, and report.py takes another
# flavour's numbers.
# Returns 1 when the suite is built in but did not pass or print them all.
run_cost() {
	local f=$1 img=$2 name=bench-cost-$1 dmesg n
	[ -f "$BUILD/out/$f/net/tls/aead_kunit.o" ] || return 0
	"$TOP/scripts/qemu-run.sh" -i -c 1 -n "$name" -t 900 \
		-a "kunit.enable=1 kunit.filter_glob=tls_aead.cost" "$img" \
		"dmesg --notime > /tmp/results/dmesg.txt" || return 1
	dmesg=$BUILD/runs/$name/out/dmesg.txt
	grep -q '^ok [0-9]* tls_aead$' "$dmesg" || return 1
	# "    # cost: tls_aead_cost CIPHER TAG SIZE enc|dec N DRIVER"
	awk -v f="$f" '$3 == "tls_aead_cost" && NF == 9 {
		print f, "cost", $4, $5, $6, $7, $8, $9
	}' "$dmesg" > "$work/$f.cost"
	n=$(wc -l < "$work/$f.cost")
	cat "$work/$f.cost" >> "$work/$f.lines"
	log "$f: $n exact cipher costs"
	# 4 rows (cipher, driver) x 3 sizes x enc, dec
	[ "$n" -eq 24 ]
}

# run_flavour FLAVOUR: one guest run; writes its "FLAVOUR bench ..." lines
# to $work/FLAVOUR.lines and its row of the runs table to $work/FLAVOUR.row.
# Returns 1 when the run failed or its numbers are incomplete.
run_flavour() {
	local f=$1 dir=$BUILD/out/$1 img built name output t rc=0 n na ok=0
	local want=$((per_rep * reps))
	if [ ! -f "$dir/arch/x86/boot/bzImage" ]; then
		log "no $f kernel: make kernel / make kernel-base first"
		echo "| $f | (no kernel) | | | |" > "$work/$f.row"
		return 1
	fi
	# A copy is booted, so the kernel named in the results is the one that
	# ran even if build/out is rebuilt meanwhile; the names of its crypto
	# functions, for the cipher's share, come from the same build.
	img=$work/$f.bzImage
	built=$(date -r "$dir/arch/x86/boot/bzImage" '+%F %T')
	cp "$dir/arch/x86/boot/bzImage" "$img"
	(cd "$dir" && nm --defined-only crypto/built-in.a \
		arch/x86/crypto/built-in.a lib/crypto/built-in.a) 2>/dev/null |
		awk 'NF == 3 && $2 ~ /^[tT]$/ { print $3 }' | sort -u \
		> "$work/$f.crypto-names"
	[ -s "$work/$f.crypto-names" ] ||
		{ log "$f: no crypto/built-in.a in $dir"; return 1; }
	name=bench-$f
	t=$SECONDS
	log "$f: booting (icount, $cpus vCPU), ${mib} MiB, $rr round trips, x $reps"
	"$TOP/scripts/qemu-run.sh" -i -c "$cpus" -n "$name" -t 7200 "$img" \
		"bash $TOP/scripts/guest-bench.sh --mib $mib --reps $reps --rr $rr --syms $work/$f.crypto-names $work/ktls-bench" ||
		rc=$?
	t=$((SECONDS - t))
	output=$out/$f.output
	cp "$BUILD/runs/$name/out/output" "$output" 2>/dev/null || : > "$output"
	grep -E '^(FAIL|NA) ' "$output" >&2 || true
	awk -v f="$f" '$1 == "bench" && NF == 7 { print f, $0 }' "$output" \
		> "$work/$f.lines"
	awk -v f="$f" '$1 == "NA" { print f, "na", $2, $3, $4 }' "$output" |
		sort -u >> "$work/$f.lines"
	n=$(grep -c '^bench ' "$output" || true)
	na=$(grep -c '^NA ' "$output" || true)
	# an n/a run is one bench line missing (ktls-read, rr-ktls)
	[ "$rc" -eq 0 ] && [ $((n + na)) -eq "$want" ] && ok=1
	[ "$na" -gt 0 ] && ok=0
	run_cost "$f" "$img" || { log "$f: the exact cipher cost failed"; ok=0; }
	log "$f: exit $rc, $n numbers and $na n/a of $want, ${t}s wall"
	printf '| %s | %s | %s + %s n/a of %s | %ss | %s |\n' "$f" "$rc" "$n" \
		"$na" "$want" "$t" \
		"$(sha256sum < "$img" | cut -c1-12), built $built" > "$work/$f.row"
	[ "$ok" = 1 ]
}

: > "$out/lines.txt"
rm -f "$out"/*.png "$out"/*.output
printf '| flavour | exit | numbers | wall | kernel (sha256, built) |\n|---|---|---|---|---|\n' \
	> "$work/runs"
status=0
t0=$SECONDS
# the flavours' guests at once, as many as there are host cores
bench_flavours "$(nproc)" "$work" "$out" "${flavours[@]}" || status=1

{
	echo "\`scripts/bench.sh ${args[*]}\` ($mode run: a ${mib} MiB file," \
		"$rr round trips, $reps repetitions of each run, $cpus vCPU)," \
		"measured on $(bench_commit)," \
		"$(date -u '+%F %T') UTC, $((SECONDS - t0))s wall."
	echo
	echo "Base tree: $(base_describe)."
	echo
	cat "$work/runs"
} > "$work/meta.md"
python3 "$TOP/scripts/bench/report.py" --out "$out" --meta "$work/meta.md" \
	--flavours "${flavours[*]}" "$out/lines.txt" || status=1
cat "$out/results.md"
[ -s "$out/lines.txt" ] || { log "no numbers at all"; status=1; }
[ $status -eq 0 ] || log "a run failed or numbers are missing: see $out/*.output"
log "results: ${out#"$TOP"/}/results.md"
exit $status
