#!/usr/bin/env bash
# Every patch builds and boots on its own. Checks out each commit of the
# series in build/linux in turn (the tree must be clean; it is put back on
# the series branch at the end), builds it incrementally in the series
# build directory, so that ccache and kbuild reuse the previous patch's
# objects, and boots it. Config options that a patch does not have yet
# (CONFIG_TLS before it is added back) may be missing; the options of the
# in-tree kTLS users (scripts/config/consumers.config) may not, nor, from
# the patch that adds device offload (net/tls/device.c) on, the NIC
# drivers' kTLS offload options (scripts/config/offload.config).
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

[ -z "$(tgit status --porcelain --untracked-files=no)" ] ||
	die "uncommitted changes in ${TREE#"$TOP"/}"
trap 'tgit checkout -q "$SERIES_BRANCH"' EXIT

# Every line of the consumers fragment must take effect at every patch:
# Kconfig drops a driver silently when a symbol it depends on goes away.
# kconfig_consumers FRAGMENT...: the lines that did not
kconfig_consumers() {
	local out=$BUILD/out/kconfig
	mkdir -p "$out"
	cat "$TOP/scripts/config/boot.config" "$@" > "$out/fragment"
	make -s -C "$TREE" O="$out" KCONFIG_ALLCONFIG="$out/fragment" allnoconfig > /dev/null 2>&1
	grep -h '^CONFIG_' "$@" | while read -r line; do
		grep -qxF "$line" "$out/.config" || printf '%s ' "$line"
	done
}

status=0
n=0
for c in $(tgit rev-list --reverse "$BASE_TAG..$SERIES_BRANCH"); do
	n=$((n + 1))
	subj=$(tgit log -1 --format=%s "$c")
	name="bisect: patch $n builds and boots: $subj"
	tgit checkout -q --detach "$c"
	frags=("$TOP/scripts/config/consumers.config")
	[ -f "$TREE/net/tls/device.c" ] && frags+=("$TOP/scripts/config/offload.config")
	lost=$(kconfig_consumers "${frags[@]}")
	if [ -z "$lost" ]; then
		result PASS "bisect: patch $n keeps every kTLS user configurable"
	else
		result FAIL "bisect: patch $n keeps every kTLS user configurable" "lost: $lost"
		status=1
	fi
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
