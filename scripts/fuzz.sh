#!/usr/bin/env bash
# The kTLS record-layer fuzzer (issue 19, item 1). Builds
# scripts/fuzz/ktls-fuzz.c, boots a kernel flavour under QEMU
# (scripts/qemu-run.sh) and runs it there (scripts/guest-fuzz.sh): a peer
# sends valid and mutated TLS records (every uAPI cipher, TLS 1.2 and
# 1.3, data, control and KeyUpdate records) through a loopback TCP socket
# or through a TCP it plays by hand over a veth pair, cut anywhere, and
# every result of the kTLS reader (recvmsg, read, splice, poll) is
# checked against the fuzzer's own model of what it must get.
#
# usage: fuzz.sh [--smoke] [--records N] [--seed S] [--cpus N]
#                [--flavour F] [--name NAME]
#   --smoke     seed 1, 30000 records, a few minutes
#               under TCG
#   (default)   the make fuzz run: seed 1, 1000000 records, about an
#               hour: the smoke ran at 255 records/s with two vCPUs and
#               286 with one (65 and 58 minutes for a million), down to
#               170 with two while a kernel built on the same 2 host
#               cores (100 minutes)
#   --records N, --seed S   how many records, from which seed
#   --cpus N    guest vCPUs (default 2)
#   --flavour F the kernel, build/out/F (default series; debug for KASAN,
#               lockdep and kmemleak)
#   --name NAME the run's directory under build/runs (default fuzz-smoke,
#               fuzz or fuzz-custom, with -Ncpu when N is not 2, and -F when
#               F is not series)
#
# Writes build/fuzz/ktls-fuzz (the program) and build/runs/NAME/:
# console.log (the guest kernel's), out/fuzz/fuzz.log (the run: each
# failure with its seed and case, then the counts), out/fuzz/inject.log
# (the checker's self-test). A failure replays alone, as root in a guest
# of the same kernel: build/fuzz/ktls-fuzz --seed S --case N -v.
# Prints the failures and the run's last line, "records N, failures M,
# records/s R", and one verdict line per check (PASS/FAIL, counted by
# scripts/test.sh when it runs this). Exit code non-zero on any failed
# case, on a kernel report (oops, WARN, BUG, KASAN, lockdep, kmemleak in
# the console), when the "tls" ULP is not registered, or when the
# checker's self-test did not fail as it must.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

usage="usage: fuzz.sh [--smoke] [--records N] [--seed S] [--cpus N] [--flavour F] [--name NAME]"
mode=full records=1000000 seed=1 cpus=2 flavour=series name=''
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) mode=smoke records=30000 ;;
	--records) records=${2:?$usage}; mode=custom; shift ;;
	--seed) seed=${2:?$usage}; shift ;;
	--cpus) cpus=${2:?$usage}; shift ;;
	--flavour) flavour=${2:?$usage}; shift ;;
	--name) name=${2:?$usage}; shift ;;
	*) die "$usage" ;;
	esac
	shift
done
for n in "$records" "$cpus"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "$usage"
done
[[ $seed =~ ^[0-9]+$ ]] || die "$usage"
[ -n "$name" ] || name=$(run_name fuzz "$mode" "$cpus" "$flavour")

kernel=$BUILD/out/$flavour/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no $flavour kernel: scripts/build-kernel.sh $flavour"
hdr=$BUILD/out/series/hdr/include
[ -d "$hdr" ] || die "no uAPI headers in $hdr: scripts/build-kernel.sh series"

need_pkgs gcc libssl-dev qemu-system-x86 iproute2
mkdir -p "$BUILD/fuzz"
fuzzer=$BUILD/fuzz/ktls-fuzz
gcc -O2 -g -Wall -Wextra -Werror -isystem "$hdr" -o "$fuzzer" \
	"$TOP/scripts/fuzz/ktls-fuzz.c" -lcrypto -lpthread ||
	die "ktls-fuzz does not build"

# The fuzzer's own per-read timeouts and watchdog end a hang long before
# this; it only bounds a guest that stops answering (40 records/s at
# least, far below any rate seen).
timeout=$((600 + records / 40))
run=$BUILD/runs/$name
out=$run/out/fuzz
status=0
fail() { result FAIL "$@"; status=1; }

log "$name: $records records from seed $seed, $cpus vCPUs, $flavour kernel, base $(base_describe)"
t0=$SECONDS
qrc=0
nice "$TOP/scripts/qemu-run.sh" -n "$name" -c "$cpus" -t "$timeout" "$kernel" \
	"$TOP/scripts/guest-fuzz.sh $fuzzer /tmp/results/fuzz $seed $records" ||
	qrc=$?
secs=$((SECONDS - t0))

guest_checks "$name" "$qrc" "$secs" "$run" "$out" || status=1

# (greps that find nothing are no error here)
summary=$(grep '^records [0-9]*, failures [0-9]*, records/s' "$out/fuzz.log" 2>/dev/null | tail -1 || :)
{ grep -A 40 '^FAIL seed=' "$out/fuzz.log" 2>/dev/null || :; } | grep -v '^--$' | head -400 >&2 || :
grep -E '^(cases|ms per case|mutations|ends|reads)' "$out/fuzz.log" >&2 2>/dev/null || :
frc=$(cat "$out/fuzz.rc" 2>/dev/null || echo none)
if [ -z "$summary" ]; then
	fail "$name: $records records" "no summary (exit $frc), see ${out#"$TOP"/}/fuzz.log"
elif [ "$frc" = 0 ] && [[ $summary == *", failures 0,"* ]]; then
	result PASS "$name: $records records from seed $seed" "$summary"
else
	fail "$name: $records records from seed $seed" "$summary; exit $frc"
fi
echo "$summary (${secs}s in all)"
exit $status
