#!/usr/bin/env bash
# make test-debug: the series under the kernel's checkers, apart from
# make test because its cold build alone takes a quarter of CI's hour:
#   1. the debug kernel builds: the in-tree users of kTLS (bonding,
#      NVMe/TCP, SunRPC, sockmap, KCM, NIC drivers) built in, with KASAN,
#      lockdep, kmemleak, UBSAN, DEBUG_NET and CRYPTO_MANAGER_EXTRA_TESTS
#      (crypto drivers checked against their generic versions at boot)
#   2. the selftests on it (any report in the console fails the run): ulp,
#      tx, rx and aead whole, and of tls.c the global, tls_basic and
#      tls_err groups and two of its thirteen cipher variants, 12_aes_gcm
#      (explicit nonce) and 13_nopad (TLS 1.3, decryption straight into
#      user pages); under the checkers all thirteen would take half an
#      hour, and make test runs them all on the series kernel. The
#      hung-task detector and DEBUG_ATOMIC_SLEEP are on; the run goes
#      twice, with two guest CPUs and with one
#   3. the KUnit tests (kunit.sh), and the selftests with every AEAD forced
#      asynchronous through cryptd, with its backlog too (test-async.sh
#      --smoke: tx, rx, kcm, regress, two tls.c groups)
#   4. fault injection: fail-nth stepped through every allocation of a
#      scripted TLS 1.2 and TLS 1.3 AES-GCM session, failslab then
#      fail_page_alloc (faultinj.sh --quick; make faultinj adds ChaCha20
#      and random failures)
# Same verdict lines as make test; the last line is "N passed, N failed".
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

export KTLS_RESULTS=$BUILD/test-debug-results.txt
mkdir -p "$BUILD"
: > "$KTLS_RESULTS"
t0=$(date +%s)
s=$TOP/scripts
groups='^(global|tls_basic|tls_err\..*|tls\.(12_aes_gcm|13_nopad))$'

if step "series applies to the base tree (make tree)" "$s/tree.sh" &&
   step "debug kernel, with the in-tree users of kTLS, builds" "$s/build-kernel.sh" debug; then
	KTLS_TLS_GROUPS=$groups \
		part "selftests on the debug kernel" "$s/run-tests.sh" debug "$s/xfail.txt"
	KTLS_TLS_GROUPS=$groups KTLS_CPUS=1 \
		part "selftests on the debug kernel, one CPU" "$s/run-tests.sh" debug "$s/xfail.txt"
	part "KUnit on the debug kernel" "$s/kunit.sh" debug
	part "selftests with async crypto on the debug kernel" \
		"$s/test-async.sh" --smoke debug
	part "fault injection on the debug kernel" "$s/faultinj.sh" --quick
fi
summarize "make test-debug" "$t0"
