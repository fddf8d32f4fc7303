#!/usr/bin/env bash
# Interoperability of a kernel's TLS transmit and receive paths with
# unmodified Debian user space: OpenSSL 3.0 (scripts/interop/ktls-peer.c:
# kTLS TX, kTLS RX, and both at once on one connection) and nginx with
# curl, run in the guest by scripts/guest-interop.sh. One verdict per case
# ("interop: FLAVOUR: CASE"); a case without a result fails too. A kernel
# without kTLS RX fails the rx-* and duplex-* cases (ktls-peer says which
# setsockopt(TLS_RX) the kernel refused): they never fall back to
# user-space crypto.
#
# usage: interop.sh FLAVOUR   boot build/out/FLAVOUR and run the matrix
#        interop.sh build     only build ktls-peer; prints its directory
# The guest's logs, one per case, are in build/runs/interop-FLAVOUR/out/.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

flavour=${1:?usage: interop.sh FLAVOUR|build}
bin=$BUILD/interop

# Host and guest run the same Debian libssl: the binary built here is the
# one the guest runs, through the read-only 9p root.
need_pkgs gcc libssl-dev openssl nginx curl
mkdir -p "$bin"
gcc -O2 -Wall -Wextra -Werror -o "$bin/ktls-peer" \
	"$TOP/scripts/interop/ktls-peer.c" -lssl -lcrypto ||
	die "ktls-peer does not build"
if [ "$flavour" = build ]; then
	echo "$bin"
	exit 0
fi

kernel=$BUILD/out/$flavour/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no $flavour kernel: scripts/build-kernel.sh $flavour"
name=interop-$flavour
run=$BUILD/runs/$name
qrc=0
"$TOP/scripts/qemu-run.sh" -n "$name" -t 2400 "$kernel" \
	"bash $TOP/scripts/guest-interop.sh $bin /tmp/results/logs" || qrc=$?

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
done < <(bash "$TOP/scripts/guest-interop.sh" --list)
exit $status
