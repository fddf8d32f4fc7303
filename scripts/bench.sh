#!/usr/bin/env bash
# The transmit side's CPU cost per MiB: our kTLS against upstream kTLS
# (the base kernel), each against user-space OpenSSL and plain TCP, as in
# the KTLS paper's Figure 4. Builds ktls-bench (scripts/bench/ktls-bench.c),
# boots each kernel flavour under QEMU in icount mode (guest time counts
# executed instructions, so "ns" below are instructions) and runs
# scripts/guest-bench.sh there: schemes ossl-write, ktls-sendfile,
# ktls-write, tcp-sendfile; ciphers TLS 1.2 AES-128-GCM, TLS 1.3
# AES-128-GCM, TLS 1.3 ChaCha20-Poly1305; R repetitions of each.
#
# usage: bench.sh [--smoke] [--mib N] [--reps R] [--cpus N] [FLAVOUR...]
#   --smoke   a 4 MiB file instead of 64 MiB
#   --cpus    vCPUs (default 1). With 2 the receiver gets a CPU of its own,
#             but under icount the vCPUs share one virtual clock: while
#             both are busy, each process is charged the other's
#             instructions too. With 1, a process's CPU time is its own
#             instructions; that is the measurement.
#   FLAVOUR   kernels in build/out/ (default: base series; the first is
#             the one the others are compared with)
# Needs the kernels built (make kernel kernel-base); builds none itself.
#
# Writes build/bench/results.md (a table per cipher: median and min-max
# of the sender's CPU ns per MiB per scheme and flavour, the ratio to the
# first flavour, each scheme normalised to ossl-write, the guest's busy
# time) and prints it. build/bench/FLAVOUR.output is the guest's output.
# With --cpus N > 1 these are results-Ncpu.md and FLAVOUR-Ncpu.output.
# Exit code non-zero when a guest run failed or a number is missing.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

args=("$@")
usage="usage: bench.sh [--smoke] [--mib N] [--reps R] [--cpus N] [FLAVOUR...]"
guest_args=() flavours=() mib=64 reps=3 mode=full cpus=1
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) guest_args+=(--smoke); mib=4; mode=smoke ;;
	--mib) guest_args+=(--mib "${2:?$usage}"); mib=$2; shift ;;
	--reps) guest_args+=(--reps "${2:?$usage}"); reps=$2; shift ;;
	--cpus) cpus=${2:?$usage}; shift ;;
	-*) die "$usage" ;;
	*) flavours+=("$1") ;;
	esac
	shift
done
[ ${#flavours[@]} -gt 0 ] || flavours=(base series)
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "$usage"

ciphers="tls12-aes128-gcm tls13-aes128-gcm tls13-chacha20-poly1305"
schemes="ossl-write ktls-sendfile ktls-write tcp-sendfile"
# bench lines per guest run: 3 schemes x 3 ciphers, and tcp-sendfile once
per_rep=10

# Host and guest run the same Debian libssl: the binary built here is the
# one the guest runs, through the read-only 9p root.
need_pkgs gcc libssl-dev openssl
out=$BUILD/bench
mkdir -p "$out"
gcc -O2 -Wall -Wextra -Werror -o "$out/ktls-bench" \
	"$TOP/scripts/bench/ktls-bench.c" -lssl -lcrypto ||
	die "ktls-bench does not build"

# QEMU 7.2 reads "-smp 2" as one socket of two cores, and SeaBIOS's MP
# table lists one CPU per socket: our kernels have no ACPI, so the guest
# would see one CPU. One socket per CPU gives the guest all of them.
smp="$cpus,sockets=$cpus"
# Files and runs of a run with more than one vCPU are kept apart.
tag=
[ "$cpus" = 1 ] || tag=-${cpus}cpu

# run_flavour FLAVOUR: one guest run; appends "FLAVOUR SCHEME CIPHER MiB
# SENDER BUSY" lines to $out/lines and a line to $out/runs. Returns 1
# when the run failed or its numbers are incomplete.
run_flavour() {
	local f=$1 kernel img built name output t rc=0 n ok=0
	local want=$((per_rep * reps))
	kernel=$BUILD/out/$f/arch/x86/boot/bzImage
	if [ ! -f "$kernel" ]; then
		log "no $f kernel: make kernel / make kernel-base first"
		echo "| $f | (no kernel) | | | |" >> "$out/runs$tag"
		return 1
	fi
	# A copy is booted, so the kernel named in the results is the one that
	# ran even if build/out is rebuilt meanwhile.
	img=$out/$f$tag.bzImage
	built=$(date -r "$kernel" '+%F %T')
	cp "$kernel" "$img"
	name=bench-$f$tag
	t=$SECONDS
	log "$f: booting (icount, -smp $smp), ${mib} MiB x $reps"
	"$TOP/scripts/qemu-run.sh" -i -c "$smp" -n "$name" -t 3600 "$img" \
		"bash $TOP/scripts/guest-bench.sh ${guest_args[*]} $out/ktls-bench" ||
		rc=$?
	t=$((SECONDS - t))
	output=$out/$f$tag.output
	cp "$BUILD/runs/$name/out/output" "$output" 2>/dev/null || : > "$output"
	grep -E '^FAIL ' "$output" >&2 || true
	awk -v f="$f" '$1 == "bench" && NF == 6 { $1 = f; print }' \
		"$output" >> "$out/lines$tag"
	n=$(grep -c '^bench ' "$output" || true)
	[ "$rc" -eq 0 ] && [ "$n" -eq "$want" ] && ok=1
	log "$f: exit $rc, $n of $want numbers, ${t}s wall"
	printf '| %s | %s | %s of %s | %ss | %s |\n' "$f" "$rc" "$n" "$want" \
		"$t" "$(sha256sum < "$img" | cut -c1-12), built $built" \
		>> "$out/runs$tag"
	[ "$ok" = 1 ]
}

# table: the markdown tables from $out/lines, one per cipher.
table() {
	awk -v flavours="${flavours[*]}" -v ciphers="$ciphers" \
	    -v schemes="$schemes" '
	# stats(KEY, WHAT): sets med, lo, hi over the runs; returns their count
	function stats(key, what,   n, i, j, t, v) {
		n = cnt[key]
		for (i = 1; i <= n; i++) {
			t = val[what, key, i]
			for (j = i - 1; j >= 1 && v[j] > t; j--)
				v[j + 1] = v[j]
			v[j + 1] = t
		}
		if (!n)
			return 0
		lo = v[1]; hi = v[n]
		med = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		return n
	}
	function cell(key, what) {
		if (!stats(key, what))
			return " | -"
		return sprintf(" | %d (%d-%d)", med, lo, hi)
	}
	function ratio(a, b) { return (a != "" && b != "") ? sprintf(" | %.3f", a / b) : " | -" }
	{
		key = $1 SUBSEP $2 SUBSEP $3
		n = ++cnt[key]
		val["cpu", key, n] = $5
		val["busy", key, n] = $6
	}
	END {
		nf = split(flavours, F, " ")
		nc = split(ciphers, C, " ")
		ns = split(schemes, S, " ")
		for (ci = 1; ci <= nc; ci++) {
			c = C[ci]
			printf "\n### %s\n\n", c
			h = "| scheme"; u = "|---"
			for (fi = 1; fi <= nf; fi++) { h = h " | " F[fi] " sender ns/MiB"; u = u "|---:" }
			for (fi = 2; fi <= nf; fi++) { h = h " | " F[fi] "/" F[1]; u = u "|---:" }
			for (fi = 1; fi <= nf; fi++) { h = h " | " F[fi] " vs ossl-write"; u = u "|---:" }
			for (fi = 1; fi <= nf; fi++) { h = h " | " F[fi] " guest busy ns/MiB"; u = u "|---:" }
			print h " |"
			print u "|"
			for (si = 1; si <= ns; si++) {
				s = S[si]
				sc = s == "tcp-sendfile" ? "n/a" : c
				row = "| " s (sc == "n/a" ? " (no TLS)" : "")
				for (fi = 1; fi <= nf; fi++) {
					row = row cell(F[fi] SUBSEP s SUBSEP sc, "cpu")
					m[fi] = stats(F[fi] SUBSEP s SUBSEP sc, "cpu") ? med : ""
					o[fi] = stats(F[fi] SUBSEP "ossl-write" SUBSEP c, "cpu") ? med : ""
				}
				for (fi = 2; fi <= nf; fi++)
					row = row ratio(m[fi], m[1])
				for (fi = 1; fi <= nf; fi++)
					row = row ratio(m[fi], o[fi])
				for (fi = 1; fi <= nf; fi++)
					row = row cell(F[fi] SUBSEP s SUBSEP sc, "busy")
				print row " |"
			}
		}
	}' "$out/lines$tag"
}

: > "$out/lines$tag"
printf '| flavour | exit | numbers | wall | kernel (sha256, built) |\n|---|---|---|---|---|\n' \
	> "$out/runs$tag"
status=0
t0=$SECONDS
for f in "${flavours[@]}"; do
	run_flavour "$f" || status=1
done

{
	echo "# kTLS transmit: CPU cost per MiB sent"
	echo
	echo "\`scripts/bench.sh ${args[*]}\` ($mode: a ${mib} MiB file," \
		"$reps runs of each scheme and cipher), $(date -u '+%F %T') UTC," \
		"$((SECONDS - t0))s wall."
	echo
	echo "QEMU TCG with \`-icount shift=0,sleep=off\`, \`-smp $smp\`: guest"
	echo "time counts executed instructions, so ns/MiB are instructions per MiB"
	echo "of file. Sender = the sending process's CPU time (user + system,"
	echo "CLOCK_PROCESS_CPUTIME_ID) over the data phase, on CPU 0; the receiver"
	echo "(CPU $((cpus > 1 ? 1 : 0))) reads with recv() and discards (ossl-write: SSL_read, which"
	echo "decrypts). Guest busy = /proc/stat, all CPUs, non-idle, in 10 ms"
	echo "ticks: coarse, and it counts the receiver too."
	if [ "$cpus" -gt 1 ]; then
		echo "With $cpus vCPUs the vCPUs share one virtual clock: while both are"
		echo "busy, the sender is charged the receiver's instructions too."
	fi
	echo "Cells: median (min-max). \"vs ossl-write\": the scheme's median over"
	echo "ossl-write's, same flavour and cipher (the paper's Figure 4)."
	echo
	cat "$out/runs$tag"
	table
} > "$out/results$tag.md"
cat "$out/results$tag.md"
[ -s "$out/lines$tag" ] || { log "no numbers at all"; status=1; }
[ $status -eq 0 ] || log "a run failed or numbers are missing: see build/bench/*.output"
exit $status
