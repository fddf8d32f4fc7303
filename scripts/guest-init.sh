#!/bin/bash
# PID 1 of a test guest (see scripts/qemu-run.sh). The root file system is
# the host's, read-only over 9p; the run's output directory is the 9p share
# "results", mounted at /tmp/results. Runs /tmp/results/cmd with bash in the
# directory given on the kernel command line (ktls.cwd=), stores its output
# and exit code there, then reboots, which ends QEMU.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C.UTF-8 TERM=dumb

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null

cwd=/ expose=
read -r -a words < /proc/cmdline
for w in "${words[@]}"; do
	case "$w" in
	ktls.cwd=*) cwd=${w#ktls.cwd=} ;;
	ktls.expose=*) expose=${w#ktls.expose=} ;;
	esac
done

# Writable /run and /tmp. They hide the host's own /run and /tmp, where the
# project itself may live (a CI clone under /tmp): keep the host root at
# /run/host and bind the project's directories (ktls.expose=DIR,DIR) back
# where they were.
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/host
mount --bind / /run/host
mount -t tmpfs -o mode=1777 tmpfs /tmp
IFS=, read -r -a dirs <<< "$expose"
for d in "${dirs[@]}"; do
	[ -d "$d" ] && continue
	mkdir -p "$d" && mount --bind "/run/host$d" "$d"
done
mkdir -p /tmp/results
mount -t 9p -o trans=virtio,version=9p2000.L results /tmp/results

ip link set lo up 2>/dev/null || echo "guest-init: cannot bring lo up" >&2
echo "guest-init: running /tmp/results/cmd in $cwd" > /dev/console

cd "$cwd" && bash /tmp/results/cmd > /tmp/results/output 2>&1
rc=$?

# A leak found after the job counts as a failure of the run: scan twice (an
# object must be unreferenced for two scans to be reported), then print what
# kmemleak found on the console, where scripts/qemu-run.sh looks for it.
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan > /sys/kernel/debug/kmemleak; sleep 6
	echo scan > /sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak > /dev/console
	echo "guest-init: kmemleak scanned" > /dev/console
fi

echo "$rc" > /tmp/results/rc
sync
echo "guest-init: job exit code $rc" > /dev/console
umount /tmp/results
# Reboot, which QEMU (-no-reboot) turns into its exit: without ACPI a
# power-off would only halt. It completes asynchronously and takes the 9p
# root with it: wait with builtins only (PID 1 must not exit, a panic).
echo b > /proc/sysrq-trigger
while :; do read -r -t 1 _ < /dev/console || :; done
