#!/usr/bin/env bash
# Static checks, as netdev runs them, on the series in build/linux:
#  - checkpatch.pl --strict on every patch of patches/;
#  - sparse (C=2) and W=1 on our kernel .c files, object by object, in the
#    series build (build-kernel.sh series must have run);
#  - kernel-doc -Wall on our kernel .c and .h files;
#  - every file the series adds is covered by our MAINTAINERS entry
#    (which is why checkpatch's FILE_PATH_CHANGES, "does MAINTAINERS need
#    updating?", asked of every patch that adds a file, is not repeated);
#  - shellcheck on our own scripts.
# "Our" files are the mirrored ones (created or rewritten by the series).
# One verdict line per check.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"
need_pkgs sparse shellcheck perl python3-ply python3-git

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

(cd "$TOP" && shellcheck -x scripts/*.sh .ci/run) > "$tmp/sc" 2>&1 || true
check "shellcheck scripts/" "$tmp/sc"
exit $status
