#!/bin/bash
# Runs inside the guest (see scripts/kunit.sh): hands back the KTAP
# output of the kernel's KUnit tests, which ran at boot (kunit.enable=1
# on the command line), before user space.
#
# usage: guest-kunit.sh OUT
#   OUT/dmesg.log  the kernel log, without timestamps: the KTAP lines
set -u
out=$1
mkdir -p "$out"
dmesg --notime > "$out/dmesg.log"
