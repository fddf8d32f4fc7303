#!/bin/bash
# Runs inside the guest (see scripts/test-async.sh): force every AEAD kTLS
# uses onto cryptd (force-cryptd), then run kTLS selftests, each suite's
# KTAP output in its own file under OUT.
#
# usage: guest-async.sh FORCE-CRYPTD SELFTESTS OUT SUITES VARIANTS GROUPS [EXCLUDE]
#   SUITES    the whole-binary suites to run, space separated (ulp tx rx kcm)
#   VARIANTS  "-v VARIANT..." filters for tx, rx and kcm ("" for all)
#   GROUPS    tls.c groups, space separated: a variant name ("12_aes_gcm":
#             every fixture that has it, tls and tls_err) or "basic" (the
#             fixtures without variants, tls_basic and global)
#   EXCLUDE   "-T TEST..." cases not to run, in tx, rx, kcm and tls.c
#   OUT/force.log        force-cryptd -p before the tests: forced, kTLS on
#                        cryptd for each cipher, the pinned stress (and .rc)
#   OUT/force-end.log    force-cryptd -e after them: every kTLS transform
#                        released, still on cryptd (and .rc)
#   OUT/crypto, OUT/crypto-end  /proc/crypto after forcing, at the end
#   OUT/cmdline          /proc/cmdline
#   OUT/ulp-available    /proc/sys/net/ipv4/tcp_available_ulp
#   OUT/SUITE.ktap       a suite; OUT/tls.GROUP.ktap a tls.c group
set -u
force=$1 bin=$2 out=$3 suites=$4 variants=$5 groups=$6 exclude=${7:-}
mkdir -p "$out"

cat /proc/cmdline > "$out/cmdline"
cat /proc/sys/net/ipv4/tcp_available_ulp > "$out/ulp-available"
timeout 300 "$force" -p > "$out/force.log" 2>&1
echo $? > "$out/force.rc"
cp /proc/crypto "$out/crypto"
# Without async crypto the run would prove nothing: stop here.
[ "$(cat "$out/force.rc")" = 0 ] || exit 0

# the harness takes the first filter a case matches: exclusions first
read -r -a vargs <<< "$variants"
read -r -a excl <<< "$exclude"
for suite in $suites; do
	args=()
	# ulp has no variants; regress has its own two (TLS 1.2 and 1.3
	# AES-GCM) and runs whole
	[ "$suite" = ulp ] || [ "$suite" = regress ] ||
		args=("${excl[@]}" "${vargs[@]}")
	timeout 1500 "$bin/$suite" "${args[@]}" > "$out/$suite.ktap" 2>&1
	echo $? > "$out/$suite.rc"
done
for group in $groups; do
	if [ "$group" = basic ]; then
		args=(-f tls_basic -f global)
	else
		args=("${excl[@]}" -v "$group")
	fi
	timeout 1500 "$bin/tls" "${args[@]}" > "$out/tls.$group.ktap" 2>&1
	echo $? > "$out/tls.$group.rc"
done

timeout 120 "$force" -e > "$out/force-end.log" 2>&1
echo $? > "$out/force-end.rc"
cp /proc/crypto "$out/crypto-end"
exit 0
