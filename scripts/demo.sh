#!/usr/bin/env bash
# make run: build the series kernel, boot it under QEMU and show kTLS at
# work (scripts/guest-demo.py). Exit code: the demo's.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"
need_pkgs python3
kernel=$("$TOP/scripts/build-kernel.sh" series)
log "booting ${kernel#"$TOP"/}"
rc=0
"$TOP/scripts/qemu-run.sh" -t 600 -n demo "$kernel" \
	"python3 $TOP/scripts/guest-demo.py" || rc=$?
cat "$BUILD/runs/demo/out/output"
exit $rc
