#!/usr/bin/env bash
# make export: write the series from build/linux into patches/ (git
# format-patch, cover letter from the branch description, base recorded
# with --base) and refresh the mirrored files and MAINTAINERS.fragment.
#
# usage: export.sh [DEST]   (DEST defaults to the repo; check-sync.sh
#                            exports into a scratch directory to compare)
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

dest=${1:-$TOP}
tgit rev-parse -q --verify "refs/heads/$SERIES_BRANCH" >/dev/null ||
	die "no series branch in ${TREE#"$TOP"/}: run make tree"
[ -z "$(tgit status --porcelain --untracked-files=no)" ] ||
	die "uncommitted changes in ${TREE#"$TOP"/}: commit or stash them first"
[ "$(tgit symbolic-ref -q --short HEAD)" = "$SERIES_BRANCH" ] ||
	die "${TREE#"$TOP"/} is not on branch $SERIES_BRANCH"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The cover letter's date is the newest patch's, so that exporting twice
# writes the same bytes; commit ids are zeroed for the same reason.
tipdate=$(tgit log -1 --format=%aD "$SERIES_BRANCH")
GIT_COMMITTER_DATE=$tipdate tgit format-patch -q -o "$tmp/patches" \
	--cover-letter --cover-from-description=subject --zero-commit \
	--no-signature --base="$BASE_TAG" "$BASE_TAG..$SERIES_BRANCH"

mkdir -p "$dest/patches"
rm -f "$dest"/patches/*.patch
cp "$tmp"/patches/*.patch "$dest/patches/"

# Mirror: created files (status A; a moved file shows as a rename and is
# left out) plus the ones rewritten wholesale.
mapfile -t files < <(
	{ tgit diff --name-status -M "$BASE_TAG" "$SERIES_BRANCH" | awk -F'\t' '$1 == "A" { print $2 }'
	  printf '%s\n' "${MIRROR_REWRITTEN[@]}"; } | sort -u)
for r in "${MIRROR_ROOTS[@]}"; do rm -rf "${dest:?}/$r"; done
tgit archive "$SERIES_BRANCH" -- "${files[@]}" | tar -x -C "$dest"

# (awk reads to the end: git must not die of SIGPIPE under pipefail)
tgit show "$SERIES_BRANCH:MAINTAINERS" | awk -v key="$MAINTAINERS_KEY" '
	done { next }
	/^$/ { if (hit) { printf "%s", para; done = 1 } para = ""; next }
	{ para = para $0 "\n"; if ($0 == key) hit = 1 }
	END { if (hit && !done) printf "%s", para }' > "$dest/MAINTAINERS.fragment"
[ -s "$dest/MAINTAINERS.fragment" ] || rm -f "$dest/MAINTAINERS.fragment"

if [ "$dest" = "$TOP" ]; then
	printf '%s %s\n' "$(tgit rev-parse "$SERIES_BRANCH")" "$(patches_hash)" > "$SYNC_MARK"
	log "exported $(series_patches | wc -l) patches and ${#files[@]} mirrored files"
fi
