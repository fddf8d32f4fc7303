#!/usr/bin/env bash
# make tree: build/linux = the base tree + `git am` of each part of
# patches/ in turn, on branch "series"; branch "partN" marks the end of
# part N and has its cover letter's text as branch description (export
# writes it back). Does nothing when the tree already holds exactly
# patches/; refuses to throw away commits that were never exported.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

"$TOP/scripts/base-tree.sh"

# Branch description = a cover letter's subject and text, up to the
# shortlog ("Author (N):"). Header lines may be folded.
cover_description() {
	awk '
	!body && /^Subject: / { s = $0; sub(/^Subject: \[[^]]*\] */, "", s); insubj = 1; next }
	!body && insubj && /^[ \t]/ { t = $0; sub(/^[ \t]+/, " ", t); s = s t; next }
	!body && /^$/ { body = 1; insubj = 0; print s; print ""; next }
	!body { insubj = 0; next }
	body && /^[^ ].* \([0-9]+\):$/ { exit }
	body { print }' "$1"
}

mapfile -t parts < <(series_parts)
[ ${#parts[@]} -gt 0 ] || die "no patches/partN directories"
cover=$PATCHES/${parts[0]}/0000-cover-letter.patch
[ -f "$cover" ] || die "no $cover"

if tgit rev-parse -q --verify "refs/heads/$SERIES_BRANCH" >/dev/null; then
	[ -z "$(tgit status --porcelain --untracked-files=no)" ] ||
		die "uncommitted changes in ${TREE#"$TOP"/}: commit them (and make export) or discard them"
	head=$(tgit rev-parse "$SERIES_BRANCH")
	{ read -r mark_head mark_patches < "$SYNC_MARK"; } 2>/dev/null || mark_head=none
	if [ "$head" = "$mark_head" ] && [ "$(patches_hash)" = "${mark_patches:-}" ]; then
		tgit checkout -q "$SERIES_BRANCH"
		exit 0
	fi
	if [ "$head" != "$mark_head" ] && [ "$head" != "$(tgit rev-parse "$BASE_TAG")" ] &&
	   [ -z "${FORCE:-}" ]; then
		die "branch $SERIES_BRANCH in ${TREE#"$TOP"/} has commits that were never exported: make export, or FORCE=1 make tree to drop them"
	fi
fi

tgit checkout -q -f -B "$SERIES_BRANCH" "$BASE_TAG"
tgit config rebase.updateRefs true
n=0
for part in "${parts[@]}"; do
	mapfile -t series < <(find "$PATCHES/$part" -name '[0-9][0-9][0-9][0-9]-*.patch' ! -name '0000-*' | sort)
	if ! tgit am -q --committer-date-is-author-date "${series[@]}" >&2; then
		tgit am --abort || true
		made_on=$(sed -n 's/^base-commit: //p' "$cover")
		die "patches/$part does not apply to the base tree here ($BASE_PKG $(dpkg-query -W -f='${Version}' "$BASE_PKG"), base $(tgit rev-parse "$BASE_TAG")); the series was made on $BASE_PKG $BASE_PKG_VERSION, base $made_on"
	fi
	tgit branch -f "$part" HEAD
	tgit config "branch.$part.description" "$(cover_description "$PATCHES/$part/0000-cover-letter.patch")"
	n=$((n + ${#series[@]}))
done

printf '%s %s\n' "$(tgit rev-parse "$SERIES_BRANCH")" "$(patches_hash)" > "$SYNC_MARK"
log "applied $n patches in ${#parts[@]} parts on $BASE_TAG"
