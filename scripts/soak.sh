#!/usr/bin/env bash
# The kTLS soak (issue 19, item 6). Builds scripts/soak/ktls-soak.c
# (linked against libcrypto for SHA-256), boots a kernel flavour under
# QEMU (scripts/qemu-run.sh) and runs it there (scripts/guest-soak.sh):
# one pair of kTLS sockets over loopback, a duplex stream for a bounded
# time, each direction written with write(), send() (MSG_MORE now and
# then), sendfile() and splice() at random sizes of 1 B to 256 KiB, read
# with read(), recv(), recvmsg() and splice(), a TLS 1.3 KeyUpdate every
# 64 KiB to 4 MiB each way; both ends hash what they send and receive
# (SHA-256), and every direction's hashes and byte counts must match.
# Around the run, unreclaimable slab (and anonymous plus kernel pages)
# must be back where it started once every socket is closed; kmemleak
# must find nothing on kernels that have it.
#
# usage: soak.sh [--smoke] [--minutes N] [--seed S] [--cpus N]
#                [--flavour F] [--name NAME]
#   --smoke     a 2-minute run, for make test
#   (default)   the make soak run: 30 minutes from seed 1
#   --minutes N, --seed S   how long (on the host's clock: the guest's,
#               jiffies under TCG, falls behind), from which seed
#   --cpus N    guest vCPUs (default 2)
#   --flavour F the kernel, build/out/F (default series; debug for KASAN,
#               lockdep and kmemleak)
#   --name NAME the run's directory under build/runs (default soak-smoke,
#               soak or soak-custom, with -Ncpu when N is not 2, and -F
#               when F is not series)
#
# Every mode also runs the checkers' self-tests, which must fail as
# meant: a run whose A->B reader changes one byte it hashes (the hash
# check), a run whose B->A reader stops (the watchdog), and the memory
# measurement taken with 1000 kTLS sockets held open (the slab check).
#
# Writes build/soak/ktls-soak (the program) and build/runs/NAME/:
# console.log (the guest kernel's) and out/soak/ (see
# scripts/guest-soak.sh): soak.log (the run: seed, per direction bytes,
# KeyUpdates, MiB/s, calls, both SHA-256 digests, then "verdict
# PASS|FAIL ..."), inject.log, leak.log, warmup.log, mem.txt,
# meminfo-*, slabinfo-*, kmemleak.txt. A failure replays, as root in a
# guest of the same kernel: build/soak/ktls-soak --seed S --seconds N.
# Prints one verdict line per check (PASS/FAIL, counted by
# scripts/test.sh when it runs this). Exit code non-zero when the run
# failed or stalled, on a kernel report (oops, WARN, BUG, KASAN, lockdep,
# hung task, kmemleak in the console), when the "tls" ULP is not
# registered, when a self-test did not fail as it must, when kmemleak
# reports a leak, or when SUnreclaim grew by more than
# KTLS_SOAK_SLAB_KB (default 512) KB, or Used by more than
# KTLS_SOAK_PAGES_KB (default 2048) KB (see below), from before the run
# to after it. Under KASAN, whose quarantine holds freed objects, the
# memory figures are reported only and kmemleak decides.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

usage="usage: soak.sh [--smoke] [--minutes N] [--seed S] [--cpus N] [--flavour F] [--name NAME]"
mode=full minutes=30 seed=1 cpus=2 flavour=series name=''
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) mode=smoke minutes=2 ;;
	--minutes) minutes=${2:?$usage}; mode=custom; shift ;;
	--seed) seed=${2:?$usage}; shift ;;
	--cpus) cpus=${2:?$usage}; shift ;;
	--flavour) flavour=${2:?$usage}; shift ;;
	--name) name=${2:?$usage}; shift ;;
	*) die "$usage" ;;
	esac
	shift
done
for n in "$minutes" "$cpus"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "$usage"
done
[[ $seed =~ ^[0-9]+$ ]] || die "$usage"
[ -n "$name" ] || name=$(run_name soak "$mode" "$cpus" "$flavour")
seconds=$((minutes * 60))

# The memory tolerances, KB. Measured on the series kernel (2 vCPUs,
# TCG, other guests on the host): SUnreclaim after a run minus before it,
# each the least of five samples once the program's network namespace is
# gone, was +24 to +80 KB over five 2-minute runs and +104 KB over a
# 10-minute one (per-CPU and partial slabs of the kmalloc, skbuff, TCP
# and netns caches move by a few pages between samples). 512 KB is five
# times the largest, and under a tenth of what 1000 idle kTLS sockets
# hold (the self-test: +6.8 to +7.0 MB), so a leak of about 70 sockets'
# state is caught, and so is one of a small object per record (over
# 95,000 records each way in 10 minutes) or per KeyUpdate (about 1400 in
# 10 minutes, 4000 in 30). Used (anonymous and kernel pages, slab
# included) moves more, with page tables and per-CPU page lists: -1368
# to +660 KB over the same runs; 2048 KB (1000 sockets held: +6.3 to
# +12.9 MB).
slab_max=${KTLS_SOAK_SLAB_KB:-512}
pages_max=${KTLS_SOAK_PAGES_KB:-2048}

kernel=$BUILD/out/$flavour/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no $flavour kernel: scripts/build-kernel.sh $flavour"
hdr=$BUILD/out/series/hdr/include
[ -d "$hdr" ] || die "no uAPI headers in $hdr: scripts/build-kernel.sh series"

need_pkgs gcc libssl-dev qemu-system-x86 iproute2
mkdir -p "$BUILD/soak"
prog=$BUILD/soak/ktls-soak
gcc -O2 -g -Wall -Wextra -Werror -isystem "$hdr" -o "$prog" \
	"$TOP/scripts/soak/ktls-soak.c" -lpthread -lcrypto ||
	die "ktls-soak does not build"

# The run ends by itself (and by its watchdog); this bounds a guest that
# stops answering: the run, the self-tests (about 50 s), the warm-up, the
# settle delays and the leak self-test, with room for a slow host.
timeout=$((seconds * 2 + 900))
run=$BUILD/runs/$name
out=$run/out/soak
status=0
fail() { result FAIL "$@"; status=1; }

log "$name: $minutes minutes from seed $seed, $cpus vCPUs, $flavour kernel, base $(base_describe)"
t0=$SECONDS
qrc=0
nice "$TOP/scripts/qemu-run.sh" -n "$name" -c "$cpus" -t "$timeout" "$kernel" \
	"$TOP/scripts/guest-soak.sh $prog /tmp/results/soak $seed $seconds" ||
	qrc=$?
secs=$((SECONDS - t0))

guest_checks "$name" "$qrc" "$secs" "$run" "$out" || status=1

# the run
{ grep -E '^(FAIL|STALL) ' "$out/soak.log" 2>/dev/null || :; } | head -20 >&2
grep -E '^(direction|tls_stat)' "$out/soak.log" >&2 2>/dev/null || :
verdict=$(grep '^verdict ' "$out/soak.log" 2>/dev/null | tail -1 || :)
src=$(cat "$out/soak.rc" 2>/dev/null || echo none)
what="$name: $minutes min duplex stream from seed $seed, SHA-256 both ways"
if [ -z "$verdict" ]; then
	fail "$what" "no verdict (exit $src), see ${out#"$TOP"/}/soak.log"
elif [ "$src" = 0 ] && [[ $verdict == "verdict PASS "* ]]; then
	result PASS "$what" "${verdict#verdict PASS }"
else
	fail "$what" "${verdict#verdict }; exit $src"
fi

# memory: mem.txt lines "NAME SUnreclaim Slab MemFree Used" (KB)
mem() { awk -v n="$1" -v f="$2" '$1 == n { print $f }' "$out/mem.txt" 2>/dev/null || :; }
kasan=0
grep -q 'KernelAddressSanitizer initialized' "$run/console.log" 2>/dev/null && kasan=1
# grew NAME FROM TO FIELD LIMIT WHAT: the growth of FIELD (2 SUnreclaim,
# 5 Used) from snapshot FROM to TO; returns 0 within LIMIT, 1 past it,
# 2 without figures
grew() {
	local b a
	b=$(mem "$1" "$3") a=$(mem "$2" "$3")
	[[ $b =~ ^[0-9]+$ && $a =~ ^[0-9]+$ ]] || return 2
	delta=$((a - b))
	detail="$4 ${b} KB before, ${a} KB after, $(printf '%+d' "$delta") KB, limit $5"
	[ "$delta" -le "$5" ]
}
slab_growth() {
	join <(awk 'NR > 2 { print $1, $2 * $4 }' "$out/slabinfo-$1" | sort) \
		<(awk 'NR > 2 { print $1, $2 * $4 }' "$out/slabinfo-$2" | sort) 2>/dev/null |
		awk '{ d = ($3 - $2) / 1024; if (d > 32) printf "  %s +%d KB\n", $1, d }' |
		sort -t+ -k2 -rn | head -10 >&2 || :
}
for check in "2 SUnreclaim $slab_max slab" "5 Used $pages_max pages"; do
	read -r field label limit kind <<< "$check"
	v="$name: $kind back where it started"
	rc=0
	grew before after "$field" "$label" "$limit" || rc=$?
	if [ $rc = 2 ]; then
		fail "$v" "no figures in ${out#"$TOP"/}/mem.txt"
	elif [ $rc = 0 ]; then
		result PASS "$v" "$detail"
	elif [ $kasan = 1 ]; then
		result PASS "$v" "$detail; KASAN quarantine: reported only, kmemleak decides"
	else
		fail "$v" "$detail"
		[ "$kind" = slab ] && slab_growth before after
	fi
done
# the slab check's self-test: 1000 kTLS sockets held must be past the limit
v="$name: the slab check catches 1000 kTLS sockets held open"
rc=0
grew after leak 2 SUnreclaim "$slab_max" || rc=$?
if [ $rc = 1 ]; then
	result PASS "$v" "$detail"
elif [ $rc = 2 ]; then
	fail "$v" "no leak figures, see ${out#"$TOP"/}/leak.log"
else
	fail "$v" "$detail"
fi

if [ -f "$out/kmemleak.txt" ]; then
	if [ -s "$out/kmemleak.txt" ]; then
		head -40 "$out/kmemleak.txt" >&2
		fail "$name: kmemleak finds no leak" "see ${out#"$TOP"/}/kmemleak.txt"
	else
		result PASS "$name: kmemleak finds no leak"
	fi
fi
echo "${verdict:-no verdict} (${secs}s in all)"
exit $status
