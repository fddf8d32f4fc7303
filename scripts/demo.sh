#!/usr/bin/env bash
# make run: build the series kernel, boot it under QEMU and show kTLS at
# work: unmodified OpenSSL serves a file with kTLS sendfile to a user-space
# TLS client (scripts/guest-demo.sh, scripts/interop/ktls-peer.c).
# Exit code: the demo's.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"
kernel=$("$TOP/scripts/build-kernel.sh" series)
bin=$("$TOP/scripts/interop.sh" build)
log "booting ${kernel#"$TOP"/}"
rc=0
"$TOP/scripts/qemu-run.sh" -t 600 -n demo "$kernel" \
	"bash $TOP/scripts/guest-demo.sh $bin" || rc=$?
cat "$BUILD/runs/demo/out/output"
exit $rc
