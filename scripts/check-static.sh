#!/usr/bin/env bash
# Static checks, as netdev runs them, on the series in build/linux:
#  - checkpatch.pl --strict on every patch of patches/;
#  - sparse (C=2) and W=1 on our kernel .c files, object by object, in the
#    series build (build-kernel.sh series must have run);
#  - kernel-doc -Wall on our kernel .c and .h files;
#  - every file the series adds is covered by our MAINTAINERS entry
#    (which is why checkpatch's FILE_PATH_CHANGES, "does MAINTAINERS need
#    updating?", asked of every patch that adds a file, is not repeated);
#  - coccinelle (make coccicheck MODE=report) on the directories of our
#    kernel .c files, findings kept for our files only;
#  - NIPA's simple checks: no "inline" in our .c files, a Signed-off-by
#    on every patch, "[PATCH net-next N/M]" subjects, a cover letter per
#    part, and get_maintainer.pl finding someone for every file the
#    series adds or changes;
#  - shellcheck on our own scripts.
# "Our" files are the mirrored ones (created or rewritten by the series).
# One verdict line per check.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"
need_pkgs sparse shellcheck perl python3-ply python3-git coccinelle

out=$BUILD/out/series
status=0
check() { # check NAME LOGFILE: PASS when the log is empty
	if [ -s "$2" ]; then
		result FAIL "$1" "$(wc -l < "$2") lines:"
		sed 's/^/    /' "$2" | head -40
		status=1
	else
		result PASS "$1"
	fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# checkpatch runs scripts/spdxcheck.py with "python3": Debian's, which has
# python3-ply and python3-git, not one that PATH may put first (pyenv).
# A finding listed in scripts/checkpatch-exceptions.txt (with its reason)
# is dropped: findings are blank-line separated blocks of "TYPE: ...",
# "#N: FILE: F:L:" and the line itself.
for p in $(series_patches); do
	(cd "$TREE" && PATH=/usr/bin:$PATH ./scripts/checkpatch.pl -q --strict --no-summary \
		--show-types --ignore FILE_PATH_CHANGES --color=never "$p") 2>&1 |
		awk -v xfile="$TOP/scripts/checkpatch-exceptions.txt" '
		BEGIN {
			while ((getline l < xfile) > 0)
				if (l !~ /^(#|$)/) ok[l] = 1
			RS = ""
		}
		{
			n = split($0, L, "\n")
			type = L[1]; sub(/^[A-Z]+:/, "", type); sub(/:.*/, "", type)
			file = L[2]; sub(/.*FILE: /, "", file); sub(/:[0-9]+:$/, "", file)
			src = n >= 3 ? substr(L[3], 2) : ""
			if (!((type " " file ":" src) in ok)) print $0 "\n"
		}' > "$tmp/cp" || true
	check "checkpatch --strict: ${p#"$PATCHES"/}" "$tmp/cp"
done

mapfile -t mine < <(cd "$TOP" && find "${MIRROR_ROOTS[@]}" -type f \
	\( -name '*.c' -o -name '*.h' \) ! -path 'tools/*' 2>/dev/null | sort)
objs=()
for f in "${mine[@]}"; do
	case "$f" in *.c) objs+=("${f%.c}.o") ;; esac
done
[ -f "$out/.config" ] || die "no series build in ${out#"$TOP"/}: scripts/build-kernel.sh series"
# Rebuild the objects with sparse and extra warnings; anything printed is
# a finding.
touch "${objs[@]/#/$TREE/}" 2>/dev/null || true
make -s -C "$TREE" O="$out" -j"$JOBS" CC="ccache gcc" C=2 W=1 "${objs[@]}" \
	> "$tmp/sparse" 2>&1 || true
check "sparse C=2 W=1: ${objs[*]}" "$tmp/sparse"

(cd "$TREE" && ./scripts/kernel-doc -none -Wall "${mine[@]}") > "$tmp/kdoc" 2>&1 || true
check "kernel-doc -Wall: ${#mine[@]} files" "$tmp/kdoc"

: > "$tmp/maint"
while read -r f; do
	(cd "$TREE" && ./scripts/get_maintainer.pl --no-git --no-rolestats \
		--no-git-fallback -f "$f" 2>/dev/null) | grep -q "$GIT_COMMITTER_EMAIL" ||
		echo "$f: not covered by our MAINTAINERS entry" >> "$tmp/maint"
done < <(cd "$TOP" && find "${MIRROR_ROOTS[@]}" -type f 2>/dev/null | sort)
check "MAINTAINERS covers every file the series adds" "$tmp/maint"

mapfile -t minec < <(printf '%s\n' "${mine[@]}" | grep '\.c$')
# coccicheck reads a directory, and the whole of crypto/ would take
# minutes: it gets a directory of copies of our .c files (their names
# are unique) outside the tree, as an external module would be (in the
# tree, spatch would look for files with git grep and not see them), and
# the report names them back.
cocci=$tmp/cocci-src
mkdir "$cocci"
for f in "${minec[@]}"; do cp "$TOP/$f" "$cocci/"; done
make -s -C "$TREE" coccicheck MODE=report M="$cocci" J="$JOBS" 2>/dev/null |
	grep -E "^$cocci/[^ ]+\.c:[0-9]+" > "$tmp/cocci-raw" || true
while IFS= read -r line; do
	base=${line#"$cocci"/}
	base=${base%%:*}
	for f in "${minec[@]}"; do
		if [ "${f##*/}" = "$base" ]; then
			echo "$f${line#"$cocci/$base"}"
		fi
	done
done < "$tmp/cocci-raw" > "$tmp/cocci"
check "coccicheck MODE=report: ${#minec[@]} files" "$tmp/cocci"

# NIPA's simple checks on the series as posted
(cd "$TOP" && grep -nw inline "${minec[@]}") > "$tmp/inline" || true
check "no inline in our .c files" "$tmp/inline"
: > "$tmp/nipa"
for p in $(series_patches); do
	grep -q '^Signed-off-by: ' "$p" || echo "${p#"$PATCHES"/}: no Signed-off-by" >> "$tmp/nipa"
	grep -qE '^Subject: \[PATCH net-next [0-9]+/[0-9]+\] ' "$p" ||
		echo "${p#"$PATCHES"/}: subject is not [PATCH net-next N/M]" >> "$tmp/nipa"
done
for part in $(series_parts); do
	[ -f "$PATCHES/$part/0000-cover-letter.patch" ] ||
		echo "$part: no cover letter" >> "$tmp/nipa"
done
while read -r f; do
	[ -n "$(cd "$TREE" && ./scripts/get_maintainer.pl --no-git --no-git-fallback \
		--no-rolestats -f "$f" 2>/dev/null)" ] || echo "$f: get_maintainer.pl finds nobody" >> "$tmp/nipa"
done < <(tgit diff --name-only --diff-filter=d "$BASE_TAG" "$SERIES_BRANCH")
check "NIPA: sign-off, net-next subjects, cover letters, maintainers of every file touched" "$tmp/nipa"

(cd "$TOP" && shellcheck -x scripts/*.sh .ci/run) > "$tmp/sc" 2>&1 || true
check "shellcheck scripts/" "$tmp/sc"
exit $status
