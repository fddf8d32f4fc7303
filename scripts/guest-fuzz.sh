#!/bin/bash
# Runs inside the guest (see scripts/fuzz.sh): the kTLS record-layer
# fuzzer, scripts/fuzz/ktls-fuzz.c.
#
# usage: guest-fuzz.sh FUZZER OUT SEED RECORDS [FUZZER-OPTION...]
#   OUT/ulp-available  /proc/sys/net/ipv4/tcp_available_ulp
#   OUT/inject.log     two short runs with a fault put in the fuzzer's
#                      checker on purpose (a wrong byte of good data, EINVAL
#                      for EMSGSIZE): each must fail, with a seed and case
#   OUT/inject.rc      "ok" when both failed so, else what went wrong
#   OUT/fuzz.log       the run: RECORDS records from SEED; its last line is
#                      "records N, failures M, records/s R"
#   OUT/fuzz.rc        the run's exit code (0: no failure)
# FUZZER-OPTIONs go to the run (--mode pkt, --timeout MS, ...).
set -u
fuzz=$1 out=$2 seed=$3 records=$4
shift 4
mkdir -p "$out"

cat /proc/sys/net/ipv4/tcp_available_ulp > "$out/ulp-available"

# inject KIND CASES: a run with a broken checker must fail, naming its
# seed and case
inject() {
	local rc=0
	echo "== --inject-fault $1" >> "$out/inject.log"
	"$fuzz" --seed "$seed" --cases "$2" --max-fail 1 --inject-fault "$1" \
		>> "$out/inject.log" 2>&1 || rc=$?
	if [ "$rc" -ne 1 ]; then
		echo "--inject-fault $1: exit $rc, not 1" >> "$out/inject.rc"
	elif ! grep -q "^FAIL seed=$seed case=[0-9]*: " "$out/inject.log"; then
		echo "--inject-fault $1: no FAIL line with seed and case" \
			>> "$out/inject.rc"
	fi
}
: > "$out/inject.log"
: > "$out/inject.rc"
inject data 50
inject errno 500
[ -s "$out/inject.rc" ] || echo ok > "$out/inject.rc"

"$fuzz" --seed "$seed" --records "$records" "$@" > "$out/fuzz.log" 2>&1
echo $? > "$out/fuzz.rc"
exit 0
