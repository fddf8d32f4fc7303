#!/usr/bin/env bash
# Interoperability of a kernel's TLS transmit and receive paths with
# unmodified Debian user space: OpenSSL 3.0 (scripts/interop/ktls-peer.c:
# kTLS TX, kTLS RX, both at once on one connection, and KCM over kTLS with
# scripts/interop/kcm.c) and nginx with curl, run in the guest by
# scripts/guest-interop.sh. One verdict per case ("interop: FLAVOUR:
# CASE"); a case without a result fails too. A kernel without kTLS RX
# fails the rx-*, duplex-* and kcm-* cases (ktls-peer says which
# setsockopt(TLS_RX) the kernel refused): they never fall back to
# user-space crypto.
#
# usage: interop.sh FLAVOUR [CASE...]
#                       boot build/out/FLAVOUR and run the matrix, or only
#                       the CASEs named (guest-interop.sh --list has them)
#        interop.sh build     only build ktls-peer; prints its directory
#   KTLS_CPUS   the guest's vCPUs (default 2); with another count the run
#               and its verdicts are named FLAVOUR-Ncpu
# The guest's logs, one per case, are in build/runs/interop-FLAVOUR/out/.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

flavour=${1:?usage: interop.sh FLAVOUR [CASE...] | build}
shift
cpus=${KTLS_CPUS:-2}
bin=$BUILD/interop

# Host and guest run the same Debian libssl: the binary built here is the
# one the guest runs, through the read-only 9p root.
need_pkgs gcc libssl-dev openssl nginx curl
mkdir -p "$bin"
gcc -O2 -Wall -Wextra -Werror -pthread -o "$bin/ktls-peer" \
	"$TOP/scripts/interop/ktls-peer.c" "$TOP/scripts/interop/kcm.c" \
	-lssl -lcrypto ||
	die "ktls-peer does not build"
if [ "$flavour" = build ]; then
	echo "$bin"
	exit 0
fi

kernel=$BUILD/out/$flavour/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no $flavour kernel: scripts/build-kernel.sh $flavour"
# from here on, $flavour names the run: the kernel, and the CPUs if not 2
[ "$cpus" = 2 ] || flavour=$flavour-${cpus}cpu
name=interop-$flavour
run=$BUILD/runs/$name
qrc=0
"$TOP/scripts/qemu-run.sh" -n "$name" -c "$cpus" -t 2400 "$kernel" \
	"bash $TOP/scripts/guest-interop.sh $bin /tmp/results/logs $*" || qrc=$?

status=0
[ $qrc -eq 0 ] || {
	result FAIL "interop: $flavour: guest run" "exit $qrc, see ${run#"$TOP"/}/console.log"
	status=1
}
out=$run/out/output
[ -f "$out" ] || out=/dev/null
# The guest's table and notes, for the reader; the verdicts follow.
grep -Ev '^(PASS|FAIL) ' "$out" >&2 || true
while read -r c; do
	line=$(grep -m1 -E "^(PASS|FAIL) $c(:|$)" "$out" || true)
	case "$line" in
	"PASS $c") result PASS "interop: $flavour: $c" ;;
	"FAIL $c: "*) result FAIL "interop: $flavour: $c" "${line#"FAIL $c: "}"; status=1 ;;
	*) result FAIL "interop: $flavour: $c" "no result"; status=1 ;;
	esac
done < <(if [ $# -gt 0 ]; then printf '%s\n' "$@"
	 else bash "$TOP/scripts/guest-interop.sh" --list; fi)
exit $status
