#!/usr/bin/env bash
# make check-sync: fail when patches/, the mirrored files or
# MAINTAINERS.fragment are not exactly what `make export` would write from
# build/linux, or when the series is not based on the base tree we have.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

base=$(tgit rev-parse "$BASE_TAG")
recorded=$(sed -n 's/^base-commit: //p' "$PATCHES/$(series_parts | head -1)/0000-cover-letter.patch")
[ "$base" = "$recorded" ] ||
	die "the series records base $recorded, build/linux has $base ($(tgit log -1 --format=%s "$BASE_TAG")): rebase the series onto this base, then make export"

"$TOP/scripts/export.sh" "$tmp"

ours() { (cd "$1" && find "${MIRROR_ROOTS[@]}" patches MAINTAINERS.fragment -type f 2>/dev/null | sort); }
status=0
if ! diff -u <(ours "$TOP") <(ours "$tmp") > "$tmp/list.diff"; then
	log "files that export would add (+) or remove (-):"
	grep '^[-+][^-+]' "$tmp/list.diff" >&2
	status=1
fi
while read -r f; do
	[ -f "$TOP/$f" ] || continue
	if ! cmp -s "$TOP/$f" "$tmp/$f"; then
		log "stale: $f"
		diff -u "$TOP/$f" "$tmp/$f" | head -20 >&2
		status=1
	fi
done < <(ours "$tmp")
[ $status -eq 0 ] || die "patches/ or mirrored files are stale: run make export (and commit)"
log "patches/ and the mirrored files match build/linux"
