#!/usr/bin/env bash
# Every patch builds and boots on its own. Checks out each commit of the
# series in build/linux in turn (the tree must be clean; it is put back on
# the series branch at the end), builds it incrementally in the series
# build directory, so that ccache and kbuild reuse the previous patch's
# objects, and boots it. Config options that a patch does not have yet
# (CONFIG_TLS before it is added back) may be missing.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

[ -z "$(tgit status --porcelain --untracked-files=no)" ] ||
	die "uncommitted changes in ${TREE#"$TOP"/}"
trap 'tgit checkout -q "$SERIES_BRANCH"' EXIT

status=0
n=0
for c in $(tgit rev-list --reverse "$BASE_TAG..$SERIES_BRANCH"); do
	n=$((n + 1))
	subj=$(tgit log -1 --format=%s "$c")
	name="bisect: patch $n builds and boots: $subj"
	tgit checkout -q --detach "$c"
	if ! KTLS_ALLOW_MISSING=1 "$TOP/scripts/build-kernel.sh" series \
		> "$BUILD/bisect-$n.log" 2>&1; then
		result FAIL "$name" "build failed, ${BUILD#"$TOP"/}/bisect-$n.log"
		tail -20 "$BUILD/bisect-$n.log"
		status=1
		continue
	fi
	if "$TOP/scripts/qemu-run.sh" -t 300 -n "bisect-$n" \
		"$BUILD/out/series/arch/x86/boot/bzImage" \
		'cat /proc/sys/net/ipv4/tcp_available_ulp' > /dev/null 2>&1; then
		result PASS "$name" "ULPs: $(cat "$BUILD/runs/bisect-$n/out/output")"
	else
		result FAIL "$name" "boot failed, ${BUILD#"$TOP"/}/runs/bisect-$n"
		status=1
	fi
done
exit $status
