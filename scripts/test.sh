#!/usr/bin/env bash
# make test: everything CI checks, in this order:
#   1. the series applies to the base tree (make tree)
#   2. patches/ and the mirrored files are what export writes (check-sync)
#   3. every patch builds and boots on its own (check-bisect)
#   4. the series kernel builds; static checks (checkpatch, sparse, W=1,
#      kernel-doc, MAINTAINERS, shellcheck)
#   5. the selftests on the series kernel (scripts/xfail.txt: the cases
#      expected to fail at this point of the project, reported by name)
#   6. interoperability on the series kernel: unmodified OpenSSL with kTLS
#      to a user-space OpenSSL client, nginx to curl (make interop)
#   7. the `make run` demo
#   8. a smoke run of the benchmark (make bench on a 4 MiB file, series
#      kernel only): it runs and gives every number, however large
#   9. the debug kernel builds: it has the in-tree users of kTLS (bonding,
#      NVMe/TCP, SunRPC, sockmap, KCM, NIC drivers) built in
#  10. the selftests again on the debug kernel (KASAN, lockdep, kmemleak,
#      UBSAN: any report fails the run): ulp, tx and rx whole, and of
#      tls.c the global, tls_basic and tls_err groups and two of its
#      thirteen cipher variants, 12_aes_gcm (explicit nonce) and 13_nopad
#      (TLS 1.3, decryption straight into user pages); all thirteen ran
#      in 5, and under the checkers they would take half an hour
# One verdict line per check; the last line is "N passed, N failed".
# Exit 1 on any failure.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

export KTLS_RESULTS=$BUILD/test-results.txt
mkdir -p "$BUILD"
: > "$KTLS_RESULTS"
t0=$(date +%s)
s=$TOP/scripts

# step NAME CMD...: run a step whose success is itself one verdict
step() {
	local name=$1 t=$SECONDS
	shift
	log "== $name"
	if "$@" > "$BUILD/step.log" 2>&1; then
		result PASS "$name" "$((SECONDS - t))s"
	else
		result FAIL "$name" "$((SECONDS - t))s"
		tail -30 "$BUILD/step.log" | sed 's/^/    /'
		return 1
	fi
}
# part NAME CMD...: run a step that prints its own verdicts; one that fails
# also gets a verdict of its own, so that a part which dies before judging
# anything cannot pass unseen
part() {
	local name=$1 t=$SECONDS rc=0
	shift
	log "== $name"
	"$@" || rc=$?
	[ $rc -eq 0 ] || result FAIL "$name" "exit $rc"
	log "   $name took $((SECONDS - t))s"
}

debug_groups='^(global|tls_basic|tls_err\..*|tls\.(12_aes_gcm|13_nopad))$'

if step "series applies to the base tree (make tree)" "$s/tree.sh"; then
	step "patches/ and mirror in sync (make check-sync)" "$s/check-sync.sh" || true
	part "bisect" "$s/check-bisect.sh"
	if step "series kernel builds" "$s/build-kernel.sh" series; then
		part "static checks" "$s/check-static.sh"
		part "selftests on the series kernel" "$s/run-tests.sh" series "$s/xfail.txt"
		part "interop on the series kernel" "$s/interop.sh" series
		step "demo (make run)" "$s/demo.sh" || true
		step "benchmark smoke run (bench.sh --smoke)" "$s/bench.sh" --smoke || true
	fi
	if step "debug kernel, with the in-tree users of kTLS, builds" "$s/build-kernel.sh" debug; then
		KTLS_TLS_GROUPS=$debug_groups \
			part "selftests on the debug kernel" "$s/run-tests.sh" debug "$s/xfail.txt"
	fi
fi

pass=$(grep -c '^PASS' "$KTLS_RESULTS" || true)
fail=$(grep -c '^FAIL' "$KTLS_RESULTS" || true)
xfail=$(grep -c '^XFAIL' "$KTLS_RESULTS" || true)
echo
echo "make test took $(( $(date +%s) - t0 ))s; verdicts in ${KTLS_RESULTS#"$TOP"/}"
grep '^FAIL' "$KTLS_RESULTS" || true
echo "$xfail expected failures (XFAIL, listed by name above; scripts/xfail.txt)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
