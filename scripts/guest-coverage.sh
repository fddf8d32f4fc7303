#!/bin/bash
# Runs inside the guest (see scripts/coverage.sh), on the gcov kernel:
# zeroes the gcov counters, runs the workload, then copies the counters of
# net/tls out of debugfs.
#
# usage: guest-coverage.sh OUT OBJDIR WORKLOAD FUZZER SEED RECORDS SELFTESTS
#   OBJDIR      the kernel's build directory (build/out/gcov): debugfs
#               shows each object's counters under
#               /sys/kernel/debug/gcov/OBJDIR/DIR/NAME.gcda
#   WORKLOAD    fuzz, selftests or both (fuzz first)
#   OUT/fuzz/   the fuzzer: scripts/guest-fuzz.sh FUZZER OUT/fuzz SEED
#               RECORDS, as scripts/fuzz.sh runs it
#   OUT/st/     the selftests in SELFTESTS: scripts/guest-tests.sh, as
#               scripts/run-tests.sh runs it
#   OUT/gcda/   the .gcda files of net/tls after the workload
#   OUT/gcda.rc "ok" when they were copied, else what went wrong
set -u
out=$1 objdir=$2 workload=$3 fuzz=$4 seed=$5 records=$6 st=$7
here=$(dirname "$0")
gcov=/sys/kernel/debug/gcov
mkdir -p "$out/gcda"

if [ ! -d "$gcov$objdir/net/tls" ]; then
	echo "no $gcov$objdir/net/tls: not a gcov kernel of $objdir?" > "$out/gcda.rc"
	exit 1
fi
# What the boot ran is not the workload's
echo 0 > "$gcov/reset"

case "$workload" in
fuzz|both) "$here/guest-fuzz.sh" "$fuzz" "$out/fuzz" "$seed" "$records" ;;
esac
case "$workload" in
selftests|both) "$here/guest-tests.sh" "$st" "$out/st" ;;
esac

# The files of debugfs read as streams (their size shows 0): cat, not cp
n=0
for f in "$gcov$objdir"/net/tls/*.gcda; do
	cat "$f" > "$out/gcda/${f##*/}" && n=$((n + 1))
done
if [ "$n" -gt 0 ]; then
	echo ok > "$out/gcda.rc"
else
	echo "no .gcda copied" > "$out/gcda.rc"
	exit 1
fi
exit 0
