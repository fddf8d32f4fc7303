#!/bin/bash
# Helpers for the guest scripts that measure the kernel's memory around a
# run (guest-stress.sh, guest-faultinj.sh): source it, do not run it.

# slab_kb: unreclaimable slab, KB: the least of five samples a second apart
slab_kb() {
	local v min=
	for _ in 1 2 3 4 5; do
		v=$(awk '$1 == "SUnreclaim:" { print $2 }' /proc/meminfo)
		if [ -z "$min" ] || [ "$v" -lt "$min" ]; then min=$v; fi
		sleep 1
	done
	echo "$min"
}

# settle: let what a run freed go. A program's network namespace goes away
# with it (TIME_WAIT sockets too), asynchronously; RCU and deferred frees
# then settle
settle() {
	sleep 8
	echo 3 > /proc/sys/vm/drop_caches
	sleep 2
}
