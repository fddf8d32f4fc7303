#!/usr/bin/env bash
# Build one kernel flavour out of tree, with ccache:
#   series  the tip of the series (build/linux, branch "series")
#   base    the unmodified base tree (upstream kTLS): the anchor
#   consumers  series + scripts/config/consumers.config (the in-tree users
#           of kTLS: bonding, NVMe/TCP, SunRPC, sockmap, KCM, NIC drivers)
#   debug   consumers + scripts/config/debug.config (KASAN, lockdep, ...):
#           one build both proves the users compile and runs them checked
#   debug-lite  series + scripts/config/debug.config: the same checkers
#           without the in-tree users, for make test (a cold build in
#           about half the time of debug's)
# Config: allnoconfig + scripts/config/boot.config + the test fragment
# tools/testing/selftests/net/tls/config (+ debug.config). The same fragments
# serve every flavour, so base and series differ only in their sources, but
# for scripts/config/series.config: options the base tree does not have
# (the kTLS KUnit tests), which change no code the benchmarks run.
# Also installs the uAPI headers (for the selftests) into OUT/hdr.
#
# usage: build-kernel.sh FLAVOUR [SRCDIR]
#   SRCDIR overrides the source tree; KTLS_OUT the build directory;
#   KTLS_ALLOW_MISSING=1 lets fragment options be absent (check-bisect.sh)
# Prints the path of bzImage on stdout.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

flavour=${1:?usage: build-kernel.sh series|base|debug|debug-lite|consumers [SRCDIR]}
src=${2:-}
frags=("$TOP/scripts/config/boot.config"
       "$TOP/tools/testing/selftests/net/tls/config")
case "$flavour" in
series) : "${src:=$TREE}"
	frags+=("$TOP/scripts/config/series.config") ;;
debug)  : "${src:=$TREE}"
	frags+=("$TOP/scripts/config/series.config" "$TOP/scripts/config/consumers.config"
		"$TOP/scripts/config/offload.config" "$TOP/scripts/config/debug.config") ;;
debug-lite) : "${src:=$TREE}"
	frags+=("$TOP/scripts/config/series.config" "$TOP/scripts/config/debug.config") ;;
consumers) : "${src:=$TREE}"
	frags+=("$TOP/scripts/config/series.config" "$TOP/scripts/config/consumers.config"
		"$TOP/scripts/config/offload.config") ;;
base)
	if [ -z "$src" ]; then
		src=$BUILD/src-base
		[ -d "$src" ] || git -C "$TREE" worktree add -q --detach "$src" "$BASE_TAG"
	fi
	;;
*) die "unknown flavour $flavour" ;;
esac
out=${KTLS_OUT:-$BUILD/out/$flavour}
need_pkgs "${BUILD_PKGS[@]}"
mkdir -p "$out"

# Config: regenerate, but only replace .config when it changed, so that an
# unchanged config never costs a rebuild.
awk '!seen[$0]++' "${frags[@]}" > "$out/fragment.config"
make -s -C "$src" O="$out" KCONFIG_ALLCONFIG="$out/fragment.config" \
	allnoconfig >/dev/null
# Every line of the fragments must have taken effect: a dependency that is
# not met would otherwise silently drop an option.
absent=$(grep -h '^CONFIG_' "${frags[@]}" | sort -u | while read -r line; do
	grep -qxF "$line" "$out/.config" || echo "$line"
done)
if [ -n "$absent" ]; then
	absent=$(echo "$absent" | tr '\n' ' ')
	# check-bisect.sh builds patches that predate some options
	[ -n "${KTLS_ALLOW_MISSING:-}" ] || die "$flavour: not in .config after merge: $absent"
	log "$flavour: not in .config (allowed here): $absent"
fi

log "building $flavour kernel in ${out#"$TOP"/}"
make -s -C "$src" O="$out" -j"$JOBS" CC="ccache gcc" bzImage >&2
make -s -C "$src" O="$out" headers_install INSTALL_HDR_PATH="$out/hdr" >&2
echo "$out/arch/x86/boot/bzImage"
