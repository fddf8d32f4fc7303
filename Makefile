# ktls: a new kernel TLS, as a patch series against Linux 6.12.
#
#   make run      build the patched kernel, boot it under QEMU, show kTLS
#   make test     everything CI checks; last line "N passed, N failed"
#   make test-debug   the debug kernel (KASAN, lockdep, kmemleak, UBSAN,
#                 the in-tree users of kTLS built in) and the selftests on
#                 it: apart from make test to keep CI within its hour
#
# The edit loop (see README):
#   make tree     build/linux: the base tree + patches/part*/ (branch
#                 "series"; branches part1, part2... end each part)
#   make export   patches/ and the mirrored files from build/linux
#   make check-sync   fail when they are stale
#
# More:
#   make kernel / kernel-base / kernel-debug   build one flavour
#   make static   checkpatch, sparse, W=1, kernel-doc, shellcheck, then
#                 the clang, i386 and allmodconfig builds (check-builds.sh)
#   make bisect   every patch builds and boots
#   make selftests   the selftests on the series kernel
#   make interop  the series kernel's kTLS against unmodified OpenSSL,
#                 nginx and curl (scripts/interop.sh)
#   make compare  the selftests on the base kernel and ours, side by side
#                 (slow: the base kernel's rekey cases time out)
#   make bench    CPU cost per MiB of kTLS transmit and receive, ours
#                 against the base kernel's, OpenSSL and plain TCP
#                 (scripts/bench.sh, about 20 minutes), then make bench-mem,
#                 bench-scale and bench-kcm (half an hour more); builds
#                 no kernel: run make kernel kernel-base first
#   make bench-kcm   the KTLS paper's Figure 3: latency of a TLS
#                 request/response service, user-space OpenSSL against
#                 kTLS and kTLS + KCM, ours and the base kernel's
#                 (scripts/bench-kcm.sh, about 15 minutes; builds no kernel)
#   make bench-device   what device offload saves the sending host (TX)
#                 and the receiving one (RX): netdevsim's TLS engines
#                 against software kTLS and TCP,
#                 instructions per MiB (scripts/bench-device.sh, minutes)
#   make fuzz     the record-layer fuzzer: a million mutated records at
#                 the series kernel's receive path (scripts/fuzz.sh, about
#                 an hour; fuzz.sh --smoke: 30000 records, 2 minutes)
#   make stress   race and teardown stress on kTLS socket pairs, seeded
#                 (scripts/stress.sh, 30 minutes; --smoke: 90 s)
#   make faultinj allocation-failure injection (failslab, fail_page_alloc,
#                 fail-nth through each allocation) into a scripted kTLS
#                 session on the debug kernel (scripts/faultinj.sh, about
#                 11 minutes; --quick: about 6)
#   make coverage the net/tls line coverage the record fuzzer reaches: a
#                 gcov kernel (build/out/gcov), 30000 records, table in
#                 build/runs/coverage-fuzz/coverage.txt (scripts/coverage.sh,
#                 10 min build then 3 min; --workload selftests|both)
#   make soak     a duplex kTLS stream: random sizes, sendfile, splice and
#                 KeyUpdate both ways, SHA-256 checked on both ends, slab
#                 back where it started (scripts/soak.sh, 30 minutes;
#                 --smoke: 2 minutes)
#   make bench-aead   what rfc5288(gcm(aes)) saves TLS 1.2 AES-GCM kTLS,
#                 per record and per MiB, with AES-NI and in C
#                 (scripts/bench-aead.sh, about 5 minutes)
#   make bench-mem    kernel memory per idle kTLS socket, ours against the
#                 base kernel's (scripts/bench-mem.sh, about 2 minutes;
#                 builds no kernel)
#   make bench-scale  cost per MiB of kTLS sendfile() and read() with 1,
#                 100 and 10,000 connections, ours against the base
#                 kernel's, with plain TCP's floors (scripts/bench-scale.sh,
#                 about 13 minutes; builds no kernel)

SHELL := /bin/bash
S := scripts

.PHONY: run test test-debug tree export check-sync kernel kernel-base kernel-debug \
	static bisect selftests interop compare fuzz bench bench-kcm bench-aead \
	bench-device bench-mem bench-scale stress soak coverage faultinj clean

run: tree
	$(S)/demo.sh
test:
	$(S)/test.sh
test-debug:
	$(S)/test-debug.sh
tree:
	$(S)/tree.sh
export:
	$(S)/export.sh
check-sync: tree
	$(S)/check-sync.sh
kernel: tree
	$(S)/build-kernel.sh series
kernel-base: tree
	$(S)/build-kernel.sh base
kernel-debug: tree
	$(S)/build-kernel.sh debug
static: kernel
	$(S)/check-static.sh; s=$$?; $(S)/check-builds.sh && exit $$s
bisect: tree
	$(S)/check-bisect.sh
selftests: kernel
	$(S)/run-tests.sh series $(S)/xfail.txt
interop: kernel
	$(S)/interop.sh series
compare: tree
	$(S)/compare.sh
fuzz: kernel
	$(S)/fuzz.sh
bench:
	$(S)/bench.sh && $(S)/bench-mem.sh && $(S)/bench-scale.sh && $(S)/bench-kcm.sh
bench-kcm:
	$(S)/bench-kcm.sh
bench-aead: kernel
	$(S)/bench-aead.sh
bench-device: kernel
	$(S)/bench-device.sh
bench-mem:
	$(S)/bench-mem.sh
bench-scale:
	$(S)/bench-scale.sh
stress: kernel
	$(S)/stress.sh
soak: kernel
	$(S)/soak.sh
coverage: kernel
	$(S)/coverage.sh
faultinj: kernel-debug
	$(S)/faultinj.sh
clean:
	rm -rf build/out build/runs build/selftests build/coverage
