#!/usr/bin/env bash
# make export: write the series from build/linux into patches/partN/ (git
# format-patch per part, cover letters from the part branches'
# descriptions, base recorded with --base) and refresh the mirrored files
# and MAINTAINERS.fragment.
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

# Parts: the part branches in order; the last one is moved to the series
# tip, so that commits added on top belong to it. Each part is its own
# format-patch run: numbered from 1, cover letter from the part branch's
# description, dated like its newest patch so that exporting twice writes
# the same bytes (commit ids are zeroed for the same reason). --base names
# the base tree, and for a later part also the earlier parts' patches
# (prerequisite-patch-id), as a follow-up series does on netdev.
mapfile -t parts < <(tgit for-each-ref --format='%(refname:short)' 'refs/heads/part[0-9]*' | sort -V)
[ ${#parts[@]} -gt 0 ] || die "no part branches in ${TREE#"$TOP"/}: run make tree"
tgit branch -f "${parts[${#parts[@]} - 1]}" "$SERIES_BRANCH"
start=$BASE_TAG
for part in "${parts[@]}"; do
	tgit merge-base --is-ancestor "$part" "$SERIES_BRANCH" ||
		die "branch $part is not on $SERIES_BRANCH: was a rebase run without rebase.updateRefs?"
	tgit merge-base --is-ancestor "$start" "$part" ||
		die "branch $part does not follow $start"
	[ "$(tgit rev-parse "$start")" != "$(tgit rev-parse "$part")" ] ||
		die "part $part is empty"
	tipdate=$(tgit log -1 --format=%aD "$part")
	GIT_COMMITTER_DATE=$tipdate tgit format-patch -q -o "$tmp/patches/$part" \
		--cover-letter --cover-from-description=subject --zero-commit \
		--subject-prefix="PATCH net-next" \
		--no-signature --base="$BASE_TAG" "$start..$part"
	start=$part
done

mkdir -p "$dest/patches"
rm -rf "${dest:?}"/patches/*
cp -r "$tmp"/patches/. "$dest/patches/"

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
	log "exported $(series_patches | wc -l) patches in ${#parts[@]} parts and ${#files[@]} mirrored files"
fi
