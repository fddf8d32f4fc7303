#!/usr/bin/env bash
# The KTLS paper's Figure 3, measured: the latency distribution of a
# request/response service over TLS, in three server designs (user-space
# OpenSSL with a thread pool, kTLS with a thread per connection, kTLS +
# KCM with a KCM socket per worker), on our kernel and the base kernel
# (upstream kTLS). Builds ktls-kcm-bench (scripts/bench/ktls-kcm-bench.c,
# whose header says what it does and which protocol it speaks), boots
# each kernel under QEMU in icount mode (guest time counts executed
# instructions, so latencies are instructions) and runs
# scripts/guest-bench-kcm.sh there, twice: with 2 vCPUs and with 1.
# scripts/bench/kcm_report.py makes the table and the plot.
#
# usage: bench-kcm.sh [--smoke] [--requests N] [--reps R] [--out DIR]
#                     [FLAVOUR...]
#   (none)      the full run: 20000 requests per run, 3 repetitions,
#               base (if it is built) and series, into bench/kcm/ (4
#               minutes for series alone on 2 host cores, about 9 with
#               base)
#   --smoke     a check that it all still runs: 1000 requests, 1
#               repetition, the series kernel only, into
#               build/bench/kcm-smoke (about a minute). Exit 0 when every
#               run gave its numbers.
#   --requests, --reps   requests per run, repetitions
#   --out       where results go (default: bench/kcm for the full run,
#               build/bench/kcm-smoke for --smoke, else build/bench/kcm-custom)
#   FLAVOUR     kernels in build/out/ (default: base series). series must
#               be built; a missing base is reported as "not built" (builds
#               are someone else's job: make kernel-base). On base,
#               ktls-kcm is only probed, in a boot of its own after the
#               others (its KCM frames a kTLS stream from the wrong byte):
#               whatever stops it there, a kernel report included, makes
#               it n/a; if it works it is measured like the others.
#
# Two passes per kernel, one guest at a time, under nice:
#   2 vCPUs  the server (all its threads) on CPU 0, the client on CPU 1:
#            the latency distribution. Under icount the vCPUs take turns
#            on one virtual clock, so the server's getrusage() also counts
#            what CPU 1 ran while a server thread was current on CPU 0
#            (little here: the client mostly waits while the server
#            works). The guest's TSC is declared reliable (tsc=reliable):
#            under icount both vCPUs read the same clock, and without it
#            the kernel finds the TSCs "unsynchronized" and its clocks
#            tick in 4 ms jiffies, too coarse for a request.
#   1 vCPU   everything on one CPU: the server's CPU time is its own
#            instructions (with the softirqs run while it is current),
#            the exact CPU per request; latencies again.
# KCM's strparser decrypts in a kworker, which no process is charged for:
# the tables also give the guest's instructions per request (all of it)
# and what ran outside the server and the client.
#
# Writes DIR/results.md (the tables, the commits and kernels measured),
# DIR/latency.png (the CCDFs, as the paper's Figure 3), DIR/lines.txt
# (every number: FLAVOUR VCPUS bench|ccdf|info|na ...) and
# DIR/FLAVOUR-NCPU.output (the guest's output). Exit code non-zero when a
# guest run failed or a number is missing (n/a counts as missing except
# for ktls-kcm on base).
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

args=("$@")
usage="usage: bench-kcm.sh [--smoke] [--requests N] [--reps R] [--out DIR] [FLAVOUR...]"
flavours=() requests=20000 reps=3 mode=full out=
for arg; do
	# the value of an option that takes one: set above, consumed here
	if [ -n "${want_value:-}" ]; then
		printf -v "$want_value" '%s' "$arg"
		want_value=
		continue
	fi
	case "$arg" in
	--smoke) requests=1000 reps=1 mode=smoke ;;
	--requests | --reps) want_value=${arg#--} mode=custom ;;
	--out) want_value=out ;;
	-*) die "$usage" ;;
	*) flavours+=("$arg") ;;
	esac
done
[ -z "${want_value:-}" ] || die "$usage"
[[ $requests =~ ^[1-9][0-9]*$ && $reps =~ ^[1-9][0-9]*$ ]] || die "$usage"
if [ ${#flavours[@]} -gt 0 ]; then
	:
elif [ "$mode" = smoke ]; then
	flavours=(series)
else
	flavours=(base series)
fi
if [ -z "$out" ]; then
	out=$BUILD/bench/kcm-$mode
	[ "$mode" != full ] || out=$TOP/bench/kcm
fi
mkdir -p "$out" && out=$(cd "$out" && pwd)
designs=(ossl-pool ktls-thread ktls-kcm)

# Host and guest run the same Debian libssl: the binary built here is the
# one the guest runs, through the read-only 9p root.
need_pkgs gcc libssl-dev openssl gnuplot-nox python3
work=$BUILD/bench/kcm
mkdir -p "$work"
gcc -O2 -Wall -Wextra -Werror -o "$work/ktls-kcm-bench" \
	"$TOP/scripts/bench/ktls-kcm-bench.c" -lssl -lcrypto -lm -lpthread ||
	die "ktls-kcm-bench does not build"

# run_pass FLAVOUR CPUS [PROBE]: one guest run; appends its lines to
# lines.txt and its row to $work/runs. Without PROBE it runs every design
# and returns 1 when it failed or numbers are missing. With PROBE it only
# tries that design (guest-bench-kcm.sh --probe), in a boot of its own:
# a failure there, the kernel's reports included, is the design's n/a.
run_pass() {
	local f=$1 cpus=$2 probe=${3:-} name=bench-kcm-$1-$2${3:+-probe}
	local output rc=0 t=$SECONDS n na want ok=1 must=("${designs[@]}") why
	[ -z "$probe" ] || must=()
	[ "$f" != base ] || [ -n "$probe" ] || must=("${base_designs[@]}")
	want=$((reps * ${#must[@]}))
	log "$f, $cpus vCPU: ${probe:+probing }${must[*]}$probe, $requests requests x $reps"
	nice -n 10 "$TOP/scripts/qemu-run.sh" -i -c "$cpus" -a tsc=reliable \
		-n "$name" -t "$([ -n "$probe" ] && echo 900 || echo 3600)" \
		"$work/$f.bzImage" \
		"bash $TOP/scripts/guest-bench-kcm.sh --requests $requests --reps $reps --designs '${must[*]}' --probe '$probe' $work/ktls-kcm-bench" \
		2> "$work/qemu-run.err" || rc=$?
	cat "$work/qemu-run.err" >&2
	output=$out/$f-${cpus}cpu${probe:+-probe}.output
	cp "$BUILD/runs/$name/out/output" "$output" 2>/dev/null || : > "$output"
	grep -E '^(FAIL|NA) ' "$output" >&2 || true
	# a probe that neither worked nor said why: the guest died under it;
	# the reason is the first line qemu-run.sh quotes from the console,
	# or its own complaint (a timeout)
	if [ -n "$probe" ] && [ "$rc" -ne 0 ] &&
		! grep -qE '^(NA |bench [^ ]+ probe )' "$output"; then
		why=$(sed -n '/kernel reported a problem/{n;p;q}' \
			"$work/qemu-run.err")
		[ -n "$why" ] || why=$(grep -m1 '^qemu-run.sh: ' \
			"$work/qemu-run.err" || echo "guest exit $rc")
		echo "NA $probe probe: kernel: $why" >> "$output"
	fi
	awk -v p="$f $cpus" '$1 ~ /^(bench|ccdf|info)$/ { print p, $0 }
		$1 == "NA" { $1 = ""; print p, "na" $0 }' "$output" \
		>> "$out/lines.txt"
	n=$(awk '$1 == "bench" && $3 != "probe"' "$output" | wc -l)
	na=$(grep -c '^NA ' "$output" || true)
	if [ -n "$probe" ]; then
		# the probe worked: then its runs must all be there
		[ "$na" -gt 0 ] || want=$reps
		[ "$na" -gt 0 ] || [ "$rc" -eq 0 ] || ok=0
	else
		[ "$rc" -eq 0 ] && [ "$na" -eq 0 ] || ok=0
	fi
	[ "$n" -eq "$want" ] || ok=0
	log "$f, $cpus vCPU: exit $rc, $n numbers of $want and $na n/a, $((SECONDS - t))s wall"
	printf '| %s | %s | %s | %s | %s of %s%s | %ss |\n' "$f" "$cpus" \
		"${probe:-${must[*]}}" "$rc" "$n" "$want" \
		"$([ "$na" -eq 0 ] || echo ", n/a")" "$((SECONDS - t))" \
		>> "$work/runs"
	[ "$ok" = 1 ]
}

# The base kernel's KCM frames a kTLS stream from the wrong byte (issue
# 18): there ktls-kcm is only probed, in boots of its own.
base_designs=(ossl-pool ktls-thread)

: > "$out/lines.txt"
rm -f "$out"/*.png "$out"/*.output
printf '| flavour | vCPUs | designs | exit | runs with numbers | wall |\n|---|---|---|---|---|---|\n' \
	> "$work/runs"
: > "$work/kernels"
series_commit=$(tgit rev-parse "$SERIES_BRANCH" 2>/dev/null || echo unknown)
status=0
t0=$SECONDS
for f in "${flavours[@]}"; do
	img=$BUILD/out/$f/arch/x86/boot/bzImage
	if [ ! -f "$img" ]; then
		log "$f: not built ($img missing)"
		echo "- $f: not built (no ${img#"$TOP"/} when the run started)" \
			>> "$work/kernels"
		echo "$f - notbuilt" >> "$out/lines.txt"
		[ "$f" = base ] || status=1
		continue
	fi
	# A copy is booted, so the kernel named in the results is the one that
	# ran even if build/out is rebuilt meanwhile.
	cp "$img" "$work/$f.bzImage"
	echo "- $f: ${img#"$TOP"/}, sha256 $(sha256sum < "$work/$f.bzImage" |
		cut -c1-12), built $(date -r "$img" '+%F %T')" >> "$work/kernels"
	for cpus in 2 1; do
		run_pass "$f" "$cpus" || status=1
		[ "$f" != base ] || run_pass "$f" "$cpus" ktls-kcm || status=1
	done
done

dirty() { git -C "$1" status --porcelain --untracked-files=no 2>/dev/null | wc -l; }
# meta: what results.md says first: the run, the commits, the kernels
meta() {
	echo "\`scripts/bench-kcm.sh${args[*]:+ ${args[*]}}\` ($mode run: $requests requests" \
		"per run, $reps repetition(s)), $(date -u '+%F %T') UTC," \
		"$((SECONDS - t0))s wall."
	echo
	echo "- ktls commit measured: $(git -C "$TOP" rev-parse HEAD 2>/dev/null ||
		echo unknown) ($(dirty "$TOP") files changed in its working tree)"
	echo "- kernel series commit: $series_commit (build/linux, branch" \
		"$SERIES_BRANCH, when the run started; then $(dirty "$TREE")" \
		"files changed in its working tree)"
	echo "- base tree: $(base_describe)"
	cat "$work/kernels"
	echo "- QEMU: $(qemu-system-x86_64 --version | head -1)"
	echo
	cat "$work/runs"
}
meta > "$work/meta.md"
if ! python3 "$TOP/scripts/bench/kcm_report.py" --meta "$work/meta.md" \
	--out "$out" --flavours "${flavours[*]}" "$out/lines.txt"; then
	log "kcm_report.py failed"
	status=1
fi
cat "$out/results.md"
if [ $status -ne 0 ]; then
	log "a run failed or numbers are missing: see ${out#"$TOP"/}/*.output"
fi
log "results: ${out#"$TOP"/}/results.md"
exit $status
