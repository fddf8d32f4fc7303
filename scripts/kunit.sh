#!/usr/bin/env bash
# The kernel's KUnit tests of kTLS (net/tls/tx_kunit.c: what only
# in-kernel callers can hand kTLS, such as slab memory spliced in with
# MSG_SPLICE_PAGES; net/tls/aead_kunit.c: the AEADs kTLS uses, called as
# kTLS calls them, and their exact cost per record under icount, which
# scripts/bench.sh reads). Boots a kernel built with CONFIG_TLS_KUNIT_TEST=y
# under QEMU with kunit.enable=1 (our configs leave KUnit disabled at
# boot, so that no other run pays for it): the suites run at boot, before
# user space, and scripts/guest-kunit.sh hands back the kernel log. Our
# kernels have no module support (CONFIG_MODULES), so a modular test
# build fails here.
#
# usage: kunit.sh [FLAVOUR]
#   the kernel of build/out/FLAVOUR (default series); KTLS_OUT overrides
#   the build directory (the run is then named after its last component)
#
# Prints one verdict line per KUnit case, "kunit: NAME: SUITE.CASE" (a
# skipped case fails: nothing was checked), and FAILs when the kernel has
# no CONFIG_TLS_KUNIT_TEST=y, an expected suite did not run or reported
# fewer cases than it planned, or the guest run failed or the console
# shows a kernel report (oops, WARN, KASAN, ...). On a failure the
# suites' KTAP output follows on stderr. The guest's files are in
# build/runs/kunit-NAME/: console.log, out/kunit/dmesg.log.
# Exit code non-zero when anything failed.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

flavour=${1:-series}
out=${KTLS_OUT:-$BUILD/out/$flavour}
name=${out%/}
name=${name##*/}
# The suites that must run
suites=(tls_tx tls_aead)

kernel=$out/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no kernel in $out: scripts/build-kernel.sh $flavour"
status=0
fail() { result FAIL "$@"; status=1; }

if ! grep -qx 'CONFIG_TLS_KUNIT_TEST=y' "$out/.config"; then
	fail "kunit: $name: CONFIG_TLS_KUNIT_TEST=y" "not in ${out#"$TOP"/}/.config"
	exit 1
fi

run=$BUILD/runs/kunit-$name
res=$run/out/kunit
qrc=0
nice "$TOP/scripts/qemu-run.sh" -n "kunit-$name" -c 2 -t 900 -a kunit.enable=1 \
	"$kernel" "bash $TOP/scripts/guest-kunit.sh /tmp/results/kunit" ||
	qrc=$?
if [ $qrc -eq 0 ]; then
	result PASS "kunit: $name: guest run, no kernel report"
else
	fail "kunit: $name: guest run, no kernel report" \
		"exit $qrc, see ${run#"$TOP"/}/console.log"
fi
# KTAP (Documentation/dev-tools/ktap.rst) as KUnit prints it: a suite is
# a subtest of the top level, its cases are indented by four spaces; the
# deeper levels of parameterised cases are summed up by their case line.
ktap=$res/dmesg.log
[ -f "$ktap" ] || ktap=/dev/null
ran=() suite='' plan=0 seen=0 dump=''
end_suite() {
	[ -n "$suite" ] || return 0
	ran+=("$suite")
	[ "$seen" -eq "$plan" ] ||
		fail "kunit: $name: $suite" "$seen of $plan cases reported"
	suite=''
}
re_case='^    (not )?ok [0-9]+ ([^ #]+)( # (SKIP.*))?$'
while IFS= read -r line; do
	if [[ $line =~ ^'    # Subtest: '(.+)$ ]]; then
		end_suite
		suite=${BASH_REMATCH[1]} plan=0 seen=0
	fi
	[ -n "$suite" ] || continue
	dump+=$line$'\n'
	if [[ $line =~ ^'    1..'([0-9]+)$ ]]; then
		plan=${BASH_REMATCH[1]}
	elif [[ $line =~ $re_case ]]; then
		seen=$((seen + 1))
		c="kunit: $name: $suite.${BASH_REMATCH[2]}"
		if [ -n "${BASH_REMATCH[4]}" ]; then
			fail "$c" "${BASH_REMATCH[4]}"
		elif [ -n "${BASH_REMATCH[1]}" ]; then
			fail "$c"
		else
			result PASS "$c"
		fi
	elif [[ $line =~ ^(not )?ok\  ]]; then
		end_suite
	fi
done < "$ktap"
end_suite
for s in "${suites[@]}"; do
	[[ " ${ran[*]} " == *" $s "* ]] ||
		fail "kunit: $name: $s" "the suite did not run, see ${ktap#"$TOP"/}"
done

if [ $status -ne 0 ] && [ -n "$dump" ]; then
	log "the suites' KTAP output, from ${ktap#"$TOP"/}:"
	printf '%s' "$dump" >&2
fi
exit $status
