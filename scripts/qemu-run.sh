#!/usr/bin/env bash
# Boot a kernel under QEMU and run one job in it.
#
# usage: qemu-run.sh [-i] [-c CPUS] [-t SECONDS] [-n NAME] [-a ARGS] BZIMAGE CMD...
#   -i   icount mode for benchmarks: -icount shift=0,sleep=off, so guest
#        time counts executed instructions (TCG only)
#   -c   vCPUs (default 2)  -t  timeout (default 900)  -n  run name
#   -a   more kernel command line (e.g. initcall_blacklist=aesni_init)
#
# The guest sees the host's root read-only over 9p and runs CMD with bash
# (scripts/guest-init.sh is its init) in the current directory. The
# run directory build/runs/NAME holds console.log (the kernel's console)
# and out/ (a writable 9p share: out/output is CMD's output, anything CMD
# writes to /tmp/results lands there too).
#
# Exit code: CMD's exit code, or non-zero when the guest timed out, died
# before CMD finished, or the console shows an oops, BUG, WARN, KASAN,
# UBSAN, lockdep or kmemleak report.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

icount=0 cpus=2 timeout=900 name=guest append=
while getopts ic:t:n:a: opt; do
	case "$opt" in
	i) icount=1 ;;
	c) cpus=$OPTARG ;;
	t) timeout=$OPTARG ;;
	n) name=$OPTARG ;;
	a) append=$OPTARG ;;
	*) die "usage: qemu-run.sh [-i] [-c CPUS] [-t SECONDS] [-n NAME] [-a ARGS] BZIMAGE CMD..." ;;
	esac
done
shift $((OPTIND - 1))
kernel=${1:?bzImage}
shift
[ $# -gt 0 ] || die "no command"
need_pkgs qemu-system-x86 iproute2

# One socket per vCPU: QEMU reads "-smp 2" as one socket of two cores,
# and without ACPI (our kernels have none) the guest finds only the CPUs
# of SeaBIOS's MP table, one per socket.
smp=$cpus
[[ "$cpus" == *,* ]] || smp="$cpus,sockets=$cpus"

run=$BUILD/runs/$name
rm -rf "$run"
mkdir -p "$run/out"
printf '%s\n' "$*" > "$run/out/cmd"

# boot KERNEL RUNDIR ACCEL...: one QEMU run; returns the job's exit code
boot() {
	local kernel=$1 dir=$2
	shift 2
	timeout -k 10 "$timeout" \
	qemu-system-x86_64 "$@" -m 2G -smp "$smp" \
		-nodefaults -display none -no-reboot -monitor none \
		-serial "file:$dir/console.log" \
		-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap \
		-device virtio-9p-pci,fsdev=root,mount_tag=host0 \
		-fsdev local,id=res,path="$dir/out",security_model=none \
		-device virtio-9p-pci,fsdev=res,mount_tag=results \
		-kernel "$kernel" \
		-append "console=ttyS0 root=host0 rootfstype=9p rootflags=trans=virtio,version=9p2000.L,cache=loose ro init=$TOP/scripts/guest-init.sh ktls.cwd=$PWD ktls.expose=$TOP,$BUILD,$PWD panic=-1 oops=panic loglevel=7${append:+ $append}" \
		</dev/null >"$dir/qemu.log" 2>&1
	local rc=$?
	[ $rc -eq 124 ] && { log "timeout after ${timeout}s"; return 124; }
	[ -f "$dir/out/rc" ] || { log "guest stopped before the job finished (qemu exit $rc)"; return 125; }
	return "$(cat "$dir/out/rc")"
}

# KVM is used only where a probe boot works (here /dev/kvm may be a
# hypervisor that stock kernels crash in). The verdict is kept per machine.
accel() {
	local probe=$BUILD/kvm-probe
	if [ "$icount" = 1 ]; then
		echo "-accel tcg,thread=single -cpu max -icount shift=0,sleep=off"
		return
	fi
	if [ ! -f "$probe" ]; then
		echo no > "$probe"
		if [ -w /dev/kvm ]; then
			local d=$BUILD/runs/kvm-probe
			rm -rf "$d" && mkdir -p "$d/out" && echo true > "$d/out/cmd"
			timeout=30 boot "$kernel" "$d" -accel kvm -cpu host && echo yes > "$probe"
			log "KVM probe: $(cat "$probe")"
		fi
	fi
	if [ "$(cat "$probe")" = yes ]; then
		echo "-accel kvm -cpu host"
	else
		echo "-accel tcg,thread=multi -cpu max"
	fi
}

read -r -a accel_args <<< "$(accel)"
rc=0
boot "$kernel" "$run" "${accel_args[@]}" || rc=$?

# What the kernel said about itself decides as much as the job's exit code.
bad='BUG:|WARNING:|Oops|Kernel panic|general protection fault|KASAN:|UBSAN:|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|unreferenced object|INFO: task .* blocked|Call Trace:'
if grep -Eq "$bad" "$run/console.log"; then
	log "kernel reported a problem (${run#"$TOP"/}/console.log):"
	grep -E -m 20 -A 3 "$bad" "$run/console.log" >&2
	[ $rc -ne 0 ] || rc=126
fi
exit $rc
