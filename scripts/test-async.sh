#!/usr/bin/env bash
# Run the kTLS selftests with every AEAD completing asynchronously, on a
# built kernel flavour under QEMU (issue 19, item 4).
#
# kTLS takes the AEAD of highest priority for each algorithm name. In the
# guest, scripts/async/force-cryptd.c instantiates the cryptd template
# over each one kTLS uses (same name, priority +50), so that every
# encryption and decryption is queued to cryptd's workqueue and completes
# later; it checks that each name now resolves to its cryptd instance and
# that kTLS keys take references on it. cryptd only wraps synchronous
# algorithms and the AES-NI glue registers asynchronous SIMD wrappers
# above it, so the guest boots with initcall_blacklist=aesni_init (AES is
# then the generic C code, under cryptd).
#
# Two boots, two modes:
#   cryptd        cryptd with its default queue (1000 per CPU)
#   cryptd-qlen1  cryptd.cryptd_max_cpu_qlen=1: a request that finds the
#                 CPU's queue busy is backlogged (-EBUSY), the path of
#                 CRYPTO_TFM_REQ_MAY_BACKLOG
# In each, one verdict per suite (every case must pass, or fail and be
# listed in scripts/xfail.txt, as in run-tests.sh: a skip or a missing
# result fails), plus the guest run itself (the QEMU runner fails it on
# any oops, WARN, KASAN, lockdep or kmemleak report), the tls ULP, and the
# forcing before and after the tests. The normal run's pass count, from
# build/runs/tests-FLAVOUR/summary when present, is shown next to each
# suite run in full.
#
# usage: test-async.sh [--smoke] [FLAVOUR]
#   FLAVOUR   series (default), debug, ...: build/out/FLAVOUR
#   --smoke   the make test set: tx, rx and kcm for TLS 1.2 AES-GCM and
#             TLS 1.3 ChaCha20 only, regress, tls.c groups 12_aes_gcm and
#             13_chacha
#   default   ulp, tx, rx, kcm, regress in full; tls.c groups 12_aes_gcm,
#             13_aes_gcm, 13_chacha, 12_aes_ccm, 13_sm4_gcm,
#             12_aria_gcm and the fixtures without variants
# The aead suite is left out: it asserts which driver keys get (the
# rfc5288 ones, AES-NI among them), which forcing cryptd changes on
# purpose. The device suites are left out: offload does not use the AEAD
# (their software fallback asks for a synchronous one).
# On the debug kernel (KASAN, lockdep, generic AES, TCG) some cases are
# not run: they pass but not within the fixed time limits the tests set
# themselves, which cryptd's round trip per record pushes them past. tls.c's
# mutliproc_* (60 MB within the harness's 30 seconds: 24 s without cryptd,
# 32 s with it) and kcm's messages_across_records (thousands of 1- and
# 3-byte records, 5 s per message). The log names them.
#   KTLS_CPUS  the guest's vCPUs (default 2)
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

smoke=0
if [ "${1:-}" = --smoke ]; then
	smoke=1
	shift
fi
flavour=${1:-series}
cpus=${KTLS_CPUS:-2}
out=$BUILD/out/$flavour
kernel=$out/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no $flavour kernel: scripts/build-kernel.sh $flavour"
xfail=$TOP/scripts/xfail.txt

if [ $smoke = 1 ]; then
	suites="tx rx kcm regress"
	variants="-v 12_aes_gcm -v 13_chacha"
	groups="12_aes_gcm 13_chacha"
else
	suites="ulp tx rx kcm regress"
	variants=
	groups="12_aes_gcm 13_aes_gcm 13_chacha 12_aes_ccm 13_sm4_gcm 12_aria_gcm basic"
fi

exclude=
if [[ $flavour == debug* ]]; then
	for t in mutliproc_even mutliproc_readers mutliproc_writers \
		 mutliproc_sendpage_even mutliproc_sendpage_readers \
		 mutliproc_sendpage_writers messages_across_records; do
		exclude+=" -T $t"
	done
	log "$flavour: not run (time limits of the tests):$exclude"
fi

status=0
fail() { result FAIL "$@"; status=1; }

# cryptd must be built in, with its queue length parameter
if grep -q '^CONFIG_CRYPTO_CRYPTD=y' "$out/.config" &&
   grep -q ' __param_cryptd_max_cpu_qlen$' "$out/System.map"; then
	result PASS "async $flavour: cryptd built in, cryptd_max_cpu_qlen exists"
else
	fail "async $flavour: cryptd built in, cryptd_max_cpu_qlen exists" \
		"add CONFIG_CRYPTO_CRYPTD=y to the flavour's config"
	exit 1
fi

st=$BUILD/st-async
mkdir -p "$st" "$BUILD/async"
make -s -C "$TREE/tools/testing/selftests/net/tls" OUTPUT="$st" \
	KHDR_INCLUDES="-isystem $BUILD/out/series/hdr/include" >&2 ||
	die "selftests do not build"
force=$BUILD/async/force-cryptd
gcc -Wall -Wextra -Werror -O2 -isystem "$BUILD/out/series/hdr/include" \
	-o "$force" "$TOP/scripts/async/force-cryptd.c" ||
	die "force-cryptd does not build"

# judge SUITE KTAP: the verdict of every case of a KTAP file, as
# run-tests.sh gives them, then "SUMMARY planned seen"
judge() {
	awk -v suite="$1" -v xfile="$xfail" '
	BEGIN {
		while ((getline l < xfile) > 0)
			if (l !~ /^(#|$)/) xf[l] = 1
	}
	/^1\.\.[0-9]+$/ { plan = substr($0, 4) + 0 }
	/^(not )?ok [0-9]+ / {
		bad = ($1 == "not"); n = bad ? $4 : $3
		dir = ""; if (index($0, " # ")) dir = substr($0, index($0, " # ") + 3)
		seen++
		if (dir ~ /^SKIP/) print "FAIL", n, "(skipped: " dir ")"
		else if (bad && ((suite ": " n) in xf)) print "XFAIL", n
		else if (bad) print "FAIL", n
		else if ((suite ": " n) in xf) print "FAIL", n, "(passes now: take it off the XFAIL list)"
		else print "PASS", n
	}
	END { print "SUMMARY", plan + 0, seen + 0 }' "$2"
}

# normal GROUP...: the normal run's pass count for these summary groups
# (run-tests.sh) that it has, or nothing
normal() {
	local summary=$BUILD/runs/tests-$flavour/summary
	[ "$cpus" = 2 ] || summary=$BUILD/runs/tests-$flavour-${cpus}cpu/summary
	[ -f "$summary" ] || return 0
	awk -F'\t' -v want="$*" '
	BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) g[w[i]] = 1 }
	$1 in g { sum += $2; found++ }
	END { if (found) print sum }' "$summary"
}

# verdict MODE NAME SUITE KTAP [NORMAL-GROUP...]: one verdict for one
# run of SUITE (its name in xfail.txt)
verdict() {
	local mode=$1 name=$2 suite=$3 ktap=$4 lines pass bad plan seen ref=
	local tag="async $flavour $mode: $name"
	shift 4
	if [ ! -f "$ktap" ]; then
		fail "$tag" "no output"
		return
	fi
	lines=$(judge "$suite" "$ktap")
	pass=$(grep -c '^PASS' <<< "$lines" || true)
	bad=$(grep -c '^FAIL' <<< "$lines" || true)
	read -r _ plan seen <<< "$(grep '^SUMMARY' <<< "$lines")"
	[ $# -eq 0 ] || ref=$(normal "$@")
	ref=${ref:+, normal run: $ref passed}
	if [ "$bad" -eq 0 ] && [ "$seen" -gt 0 ] && [ "$seen" -ge "$plan" ]; then
		result PASS "$tag" "$pass passed of $plan$ref"
	else
		fail "$tag" "$pass passed, $bad failed, $seen of $plan results$ref"
		grep '^FAIL' <<< "$lines" | head -20 | sed 's/^/    /' >&2
		# the case that was running when the suite died
		[ "$seen" -ge "$plan" ] ||
			grep '^#  RUN' "$ktap" | tail -1 | sed 's/^/    last started: /' >&2
	fi
}

t0=$(date +%s)
for mode in cryptd cryptd-qlen1; do
	name=async-$flavour-$mode
	[ "$cpus" = 2 ] || name=$name-${cpus}cpu
	append="initcall_blacklist=aesni_init"
	[ $mode = cryptd ] || append="$append cryptd.cryptd_max_cpu_qlen=1"
	res=$BUILD/runs/$name/out/st
	t=$SECONDS
	qrc=0
	log "$mode: booting $flavour (${append})"
	nice "$TOP/scripts/qemu-run.sh" -n "$name" -c "$cpus" -t 3000 -a "$append" "$kernel" \
		"$TOP/scripts/async/guest-async.sh $force $st /tmp/results/st '$suites' '$variants' '$groups' '$exclude'" ||
		qrc=$?
	log "$mode: guest ran $((SECONDS - t))s"
	tag="async $flavour $mode"
	if [ $qrc -eq 0 ]; then
		result PASS "$tag: guest run, no kernel report" "$((SECONDS - t))s"
	else
		fail "$tag: guest run, no kernel report" "exit $qrc, see ${BUILD#"$TOP"/}/runs/$name/console.log"
	fi
	if [[ $flavour == debug* ]]; then
		for want in "KernelAddressSanitizer initialized" "Lock dependency validator" \
			    "guest-init: kmemleak scanned"; do
			if grep -q "$want" "$BUILD/runs/$name/console.log"; then
				result PASS "$tag: console shows \"$want\""
			else
				fail "$tag: console shows \"$want\""
			fi
		done
	fi
	if [ $mode = cryptd-qlen1 ]; then
		if grep -qw 'cryptd.cryptd_max_cpu_qlen=1' "$res/cmdline" 2>/dev/null; then
			result PASS "$tag: booted with cryptd.cryptd_max_cpu_qlen=1"
		else
			fail "$tag: booted with cryptd.cryptd_max_cpu_qlen=1"
		fi
	fi
	if grep -qw tls "$res/ulp-available" 2>/dev/null; then
		result PASS "$tag: tls ULP registered"
	else
		fail "$tag: tls ULP registered" "tcp_available_ulp: $(cat "$res/ulp-available" 2>/dev/null)"
	fi
	for f in force force-end; do
		what="every kTLS AEAD on cryptd"
		[ $f = force ] || what="$what after the tests, all transforms released"
		if [ "$(cat "$res/$f.rc" 2>/dev/null)" = 0 ]; then
			result PASS "$tag: $what"
		else
			fail "$tag: $what" "see ${res#"$TOP"/}/$f.log"
			grep -v '^ok ' "$res/$f.log" 2>/dev/null | sed 's/^/    /' >&2
		fi
	done
	[ "$(cat "$res/force.rc" 2>/dev/null)" = 0 ] || continue
	for suite in $suites; do
		# compared with the normal run only when run in full
		ref=()
		[ -n "$variants$exclude" ] && [ "$suite" != ulp ] || ref=("$suite")
		verdict "$mode" "$suite" "$suite" "$res/$suite.ktap" "${ref[@]}"
	done
	for group in $groups; do
		if [ "$group" = basic ]; then
			verdict "$mode" "tls (tls_basic, global)" tls \
				"$res/tls.$group.ktap" tls_basic global
		elif [ -n "$exclude" ]; then
			verdict "$mode" "tls -v $group" tls "$res/tls.$group.ktap"
		else
			verdict "$mode" "tls -v $group" tls "$res/tls.$group.ktap" \
				"tls.$group" "tls_err.$group"
		fi
	done
done
log "took $(( $(date +%s) - t0 ))s"
exit $status
