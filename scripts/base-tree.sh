#!/usr/bin/env bash
# Make build/linux: Debian's linux-source-6.12 committed as the base of a git
# tree (tag ktls-base). Installs the package when missing; extracts and
# commits once, then reuses the tree.
#
# The base commit is the tarball as shipped except for one line: Debian's
# .gitignore ends with a packaging stanza that ignores every top-level path,
# which would hide the files our series adds. It is dropped in the base
# commit (the series never touches .gitignore, so it applies to a pristine
# extract all the same).
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

need_pkgs "${BUILD_PKGS[@]}" "$BASE_PKG"

have=$(dpkg-query -W -f='${Version}' "$BASE_PKG")
if [ "$have" != "$BASE_PKG_VERSION" ]; then
	log "warning: $BASE_PKG is $have; the series was made on $BASE_PKG_VERSION"
fi

if git -C "$TREE" rev-parse -q --verify "refs/tags/$BASE_TAG" >/dev/null 2>&1; then
	exit 0
fi

log "extracting $BASE_TARBALL into $TREE"
rm -rf "$TREE" "$TREE.tmp"
mkdir -p "$TREE.tmp"
tar -xJf "$BASE_TARBALL" -C "$TREE.tmp" --strip-components=1
sed -i '/^# Debian packaging: ignore everything/,$d' "$TREE.tmp/.gitignore"
# drop the comment opener that preceded the stanza ("#" alone)
sed -i '${/^#$/d}' "$TREE.tmp/.gitignore"

kv=$(make -s -C "$TREE.tmp" kernelversion)
log "committing Linux $kv ($BASE_PKG $have) as $BASE_TAG"
(
	cd "$TREE.tmp" || exit 1
	git init -q -b "$SERIES_BRANCH"
	git config user.name "$GIT_COMMITTER_NAME"
	git config user.email "$GIT_COMMITTER_EMAIL"
	git config core.abbrev 12
	git config gc.auto 0
	git add -f -A
	GIT_AUTHOR_DATE=$BASE_DATE GIT_COMMITTER_DATE=$BASE_DATE \
		git commit -q -m "Linux $kv ($BASE_PKG $have)" \
		-m "Debian's $BASE_PKG package as extracted, with the Debian packaging stanza of the top-level .gitignore dropped."
	git tag "$BASE_TAG"
)
mv "$TREE.tmp" "$TREE"
log "base: $(git -C "$TREE" rev-parse "$BASE_TAG")"
