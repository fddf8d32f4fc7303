# shellcheck shell=bash
# Variables set here are used by the scripts that source this file.
# shellcheck disable=SC2034
# Shared settings for the ktls tooling. Sourced, never run.
#
# Layout under build/ (git-ignored, reused between runs):
#   build/linux        git tree: tag ktls-base + branch "series" (one commit
#                      per patch of patches/)
#   build/src-base     worktree of ktls-base, for the "base" kernel flavour
#   build/out/FLAVOUR  out-of-tree kernel build (series, base, debug)
#   build/runs/...     guest outputs (console log, results)

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${KTLS_BUILD:-$TOP/build}
TREE=$BUILD/linux
BASE_TAG=ktls-base
SERIES_BRANCH=series
PATCHES=$TOP/patches

# The base tree: Debian's linux-source-6.12. The series records the exact
# package version it was made against; scripts/base-tree.sh checks it.
BASE_PKG=linux-source-6.12
BASE_TARBALL=/usr/src/linux-source-6.12.tar.xz
BASE_PKG_VERSION=6.12.118-1~deb12u1

# base_describe: the base tree a run used, for every result it writes
# (Debian moves the package with stable releases): the base commit's
# subject, which names the kernel and package versions, and its id.
base_describe() {
	git -C "$TREE" log -1 --format='%s, commit %h' "$BASE_TAG" 2>/dev/null ||
		echo "unknown (no $BASE_TAG in $TREE)"
}

# One identity for everything the tooling commits, with fixed dates for the
# base, so that commit ids (and so patches/) are reproducible.
export GIT_COMMITTER_NAME="ktls developers"
export GIT_COMMITTER_EMAIL="ktls-devel@example.org"
BASE_DATE="2025-01-01T00:00:00Z"

# ccache shared by all flavours; paths below BUILD are hashed relative to it
# so the series, base and debug trees reuse each other's objects.
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_BASEDIR=$BUILD
export CCACHE_NOHASHDIR=1

JOBS=${JOBS:-$(nproc)}

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# need_pkgs PKG... : install Debian packages that are missing (CI starts on a
# machine that has only the base image). Callers running at once (the
# benchmarks boot a guest per flavour in parallel) take turns: apt fails
# at once, not waits, when another holds its lock.
need_pkgs() {
	local missing=() p lock
	missing_pkgs() {
		missing=()
		for p in "$@"; do
			dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
				grep -q 'ok installed' || missing+=("$p")
		done
	}
	missing_pkgs "$@"
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "need root to apt-get install ${missing[*]}"
	mkdir -p "$BUILD"
	exec {lock}> "$BUILD/.need_pkgs.lock"
	flock "$lock"
	missing_pkgs "$@"
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		if [ ! -e "$BUILD/.apt-updated" ]; then
			apt-get update -qq >&2
			touch "$BUILD/.apt-updated"
		fi
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends "${missing[@]}" >&2
	fi
	exec {lock}>&-
}

# Packages every kernel build needs.
BUILD_PKGS=(gcc make flex bison bc libelf-dev libssl-dev ccache cpio
	    python3 perl git xz-utils kmod rsync)

# Mirror: the files our series creates, or rewrites wholesale, also stand in
# the repo at their kernel paths (exported, never edited by hand). Created
# files are found from the series itself; rewritten ones are listed here.
# Base-tree files that a patch moves, fixes or extends are in patches/ only.
MIRROR_ROOTS=(Documentation arch crypto drivers include net tools)
MIRROR_REWRITTEN=(Documentation/networking/tls.rst
		  Documentation/networking/tls-offload.rst include/net/tls.h
		  net/tls/Kconfig net/tls/Makefile)
# Our MAINTAINERS entry, exported to MAINTAINERS.fragment, is the one that
# lists this path.
MAINTAINERS_KEY="F:	net/tls/"

# Records what build/linux was last synced with (export or tree): the
# series commit and a hash of patches/.
SYNC_MARK=$BUILD/tree-sync

# The series goes to netdev as consecutive parts of at most 15 patches:
# patches/partN/ holds part N's cover letter and patches (numbered from 1
# in each part). In build/linux, branch "partN" ends part N and carries its
# cover letter as branch description; the last part ends at "series" (export
# moves its branch there). rebase.updateRefs keeps the part branches on
# their commits through `git rebase -i`.
series_parts() { find "$PATCHES" -mindepth 1 -maxdepth 1 -type d -name 'part[0-9]*' -printf '%f\n' | sort -V; }
patches_hash() { find "$PATCHES" -name '*.patch' | sort | xargs -r cat | sha256sum | cut -d' ' -f1; }
series_patches() {
	local part
	for part in $(series_parts); do
		find "$PATCHES/$part" -name '[0-9][0-9][0-9][0-9]-*.patch' ! -name '0000-*' | sort
	done
}

# git in the kernel tree, with settings that make its output the same for
# every developer whatever their own git configuration.
tgit() {
	git -C "$TREE" -c core.abbrev=12 -c diff.noprefix=false \
		-c diff.mnemonicPrefix=false -c diff.renames=true \
		-c format.signature= -c format.coverLetter=false "$@"
}

# result VERDICT NAME [DETAIL]: one verdict line (PASS, FAIL, XFAIL), on
# stdout and appended to $KTLS_RESULTS, which scripts/test.sh counts.
result() {
	printf '%-5s %s%s\n' "$1" "$2" "${3:+ ($3)}" | tee -a "${KTLS_RESULTS:-/dev/null}"
}

# For test.sh and test-debug.sh, which set KTLS_RESULTS and BUILD.
# step NAME CMD...: run a step whose success is itself one verdict
step() {
	local name=$1 t=$SECONDS
	shift
	log "== $name"
	if "$@" > "$BUILD/step.log" 2>&1; then
		result PASS "$name" "$((SECONDS - t))s"
	else
		result FAIL "$name" "$((SECONDS - t))s"
		tail -30 "$BUILD/step.log" | sed 's/^/    /'
		return 1
	fi
}
# part NAME CMD...: run a step that prints its own verdicts; one that fails
# also gets a verdict of its own, so that a part which dies before judging
# anything cannot pass unseen
part() {
	local name=$1 t=$SECONDS rc=0
	shift
	log "== $name"
	"$@" || rc=$?
	[ $rc -eq 0 ] || result FAIL "$name" "exit $rc"
	log "   $name took $((SECONDS - t))s"
}
# summarize NAME T0: the verdict counts of $KTLS_RESULTS, the last line
# "N passed, N failed"; returns 1 when any failed
summarize() {
	local pass fail xfail
	pass=$(grep -c '^PASS' "$KTLS_RESULTS" || true)
	fail=$(grep -c '^FAIL' "$KTLS_RESULTS" || true)
	xfail=$(grep -c '^XFAIL' "$KTLS_RESULTS" || true)
	echo
	echo "$1 took $(( $(date +%s) - $2 ))s; verdicts in ${KTLS_RESULTS#"$TOP"/}"
	echo "base: $(base_describe)" | tee -a "$KTLS_RESULTS"
	grep '^FAIL' "$KTLS_RESULTS" || true
	echo "$xfail expected failures (XFAIL, listed by name above; scripts/xfail.txt)"
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

# guest_checks NAME QRC SECS RUN OUT: the verdicts of a guest program run
# that checks itself (fuzz.sh, stress.sh): the guest run ended without a
# kernel report (QRC, qemu-run.sh's exit code), the tls ULP was registered
# (OUT/ulp-available), and a fault put in the program's checker on
# purpose was caught (OUT/inject.rc says "ok"). Returns 1 when one failed.
guest_checks() {
	local name=$1 qrc=$2 secs=$3 run=$4 out=$5 rc=0
	if [ "$qrc" -eq 0 ]; then
		result PASS "$name: guest run, no kernel report" "${secs}s"
	else
		result FAIL "$name: guest run, no kernel report" \
			"exit $qrc, see ${run#"$TOP"/}/console.log"
		rc=1
	fi
	if grep -qw tls "$out/ulp-available" 2>/dev/null; then
		result PASS "$name: tls ULP registered"
	else
		result FAIL "$name: tls ULP registered" \
			"tcp_available_ulp: $(cat "$out/ulp-available" 2>/dev/null)"
		rc=1
	fi
	if [ "$(cat "$out/inject.rc" 2>/dev/null)" = ok ]; then
		result PASS "$name: a fault put in the checker is caught"
	else
		result FAIL "$name: a fault put in the checker is caught" \
			"$(tr '\n' ';' < "$out/inject.rc" 2>/dev/null)"
		rc=1
	fi
	return $rc
}

# run_name BASE MODE CPUS FLAVOUR: the build/runs directory of a guest
# program run (fuzz.sh, stress.sh): BASE, then -smoke or -custom unless
# MODE is full, -Ncpu unless CPUS is 2, -FLAVOUR unless it is series
run_name() {
	local name=$1
	case "$2" in
	full) ;;
	smoke) name+=-smoke ;;
	*) name+=-custom ;;
	esac
	[ "$3" = 2 ] || name+=-${3}cpu
	[ "$4" = series ] || name+=-$4
	echo "$name"
}

# slab_verdict NAME FILE LIMIT: the verdict on the "before", "after" and
# "kasan" lines a guest wrote to FILE (unreclaimable slab, KB): PASS when it
# grew by LIMIT KB at most, or reported only under KASAN, whose quarantine
# holds freed objects (kmemleak decides there). Sets slab_growth and
# slab_kasan; returns 1 on FAIL.
slab_verdict() {
	local name=$1 file=$2 limit=$3 before after detail
	local what="$name: slab back where it started"
	before=$(awk '$1 == "before" { print $2 }' "$file" 2>/dev/null || :)
	after=$(awk '$1 == "after" { print $2 }' "$file" 2>/dev/null || :)
	slab_kasan=$(awk '$1 == "kasan" { print $2 }' "$file" 2>/dev/null || :)
	slab_growth=0
	if ! [[ $before =~ ^[0-9]+$ && $after =~ ^[0-9]+$ ]]; then
		result FAIL "$what" "no figures in ${file#"$TOP"/}"
		return 1
	fi
	slab_growth=$((after - before))
	detail="SUnreclaim ${before} KB before, ${after} KB after, ${slab_growth} KB more, limit ${limit}"
	if [ "$slab_growth" -le "$limit" ]; then
		result PASS "$what" "$detail"
	elif [ "$slab_kasan" = 1 ]; then
		result PASS "$what" "$detail; KASAN quarantine: reported only, kmemleak decides"
	else
		result FAIL "$what" "$detail"
		return 1
	fi
}

# For bench.sh and bench-scale.sh, whose run_flavour FLAVOUR runs one
# kernel's guest and leaves WORK/FLAVOUR.lines (its numbers) and
# WORK/FLAVOUR.row (its line of the runs table).
# bench_flavours JOBS WORK OUT FLAVOUR...: run_flavour for each, JOBS
# guests at once (under icount a guest's numbers are the instructions it
# executes, whatever else the host runs, so sharing the host changes
# their wall time only); then OUT/lines.txt and WORK/runs get their
# lines, in the flavours' order. Returns 1 when a flavour failed or left
# nothing.
bench_flavours() {
	local jobs=$1 work=$2 out=$3 f p status=0 pids=()
	shift 3
	for f in "$@"; do
		rm -f "$work/$f.lines" "$work/$f.row"
		while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
			wait -n || true
		done
		run_flavour "$f" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || status=1
	done
	for f in "$@"; do
		cat "$work/$f.lines" >> "$out/lines.txt" 2>/dev/null || status=1
		cat "$work/$f.row" >> "$work/runs" 2>/dev/null || status=1
	done
	return $status
}

# bench_commit: "commit ID", and how many files of patches/ and scripts/
# differ from it, for a results file's first line
bench_commit() {
	local commit dirty
	commit=$(git -C "$TOP" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
	dirty=$(git -C "$TOP" status --porcelain -- patches scripts 2>/dev/null |
		wc -l)
	echo "commit $commit$([ "$dirty" = 0 ] ||
		echo " with $dirty changed files in patches/ and scripts/")"
}
