#!/usr/bin/env bash
# The builds netdev's CI (NIPA) gives every series beyond ours with gcc
# (issue 21), on the series tree in build/linux, at the series flavour's
# config (allnoconfig + scripts/config/boot.config + the MIRROR
# tools/testing/selftests/net/tls/config, as scripts/build-kernel.sh
# makes it):
#  - clang: LLVM=1 (Debian's clang and ld.lld), W=1;
#  - 32-bit: ARCH=i386 with gcc, W=1 (CONFIG_64BIT=y is the one fragment
#    line dropped);
#  - 32-bit user space: every .c file the series adds or changes under
#    tools/ compiled with gcc -m32, the selftests with their own
#    Makefile's flags (-Wall) against the series' uAPI headers.
# The kernel builds compile the directories that hold the kernel .c files
# the series adds or changes (net/tls/, crypto/, ... found from the diff
# to the base), not a whole vmlinux (1200 objects, 15-20 minutes cold on
# two cores, for clang alone; these directories are about 100). Cold, the
# script takes under 3 minutes of CPU (7 on the shared machine, loaded),
# warm under half a minute (about 1 loaded). Each directory's
# objects are deleted first, so that every warning is printed again on
# every run (ccache replays it when nothing changed).
# A build passes when it compiles, prints no warning in our files (the
# mirrored ones, created or rewritten by the series) and no warning
# elsewhere that the base tree (build/src-base) does not give too, built
# the same way: counted per file and message, whatever the line number.
# Most runs print no warning outside our files at all, and then the base
# is not built; KTLS_BUILDS_BASE=1 builds and compares it anyway.
# The user-space check has the same rule, per compiled file: a file of
# ours must give no warning at all (those the kselftest harness prints
# when one of our tests compares pointers count as ours), another (tls.c,
# moved from base) no more than its base version.
# libcrypto is not installed for i386, so the selftests are compiled, not
# linked (-c): the only i386 OpenSSL header missing, configuration.h, is
# the x86_64 one with its word size set to 32 bits.
# Output dirs: build/out/clang-series, clang-base, i386-series, i386-base
# (and i386-series/selftests, i386-series/hdr); each kernel build's log is
# check-builds.log there. ccache is on, as for every kernel build.
# One verdict line per build; exit 1 on any failure.
# usage: check-builds.sh
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"
need_pkgs "${BUILD_PKGS[@]}" clang lld llvm gcc-multilib

base_src=$BUILD/src-base
[ -d "$base_src" ] || git -C "$TREE" worktree add -q --detach "$base_src" "$BASE_TAG"
frags=("$TOP/scripts/config/boot.config"
       "$TOP/tools/testing/selftests/net/tls/config")
# the series also gets the options its base does not have (KUnit tests)
series_frags=("${frags[@]}" "$TOP/scripts/config/series.config")
status=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Our files: the mirror (as check-static.sh finds it).
(cd "$TOP" && { find "${MIRROR_ROOTS[@]}" -type f 2>/dev/null || true; }) | sort > "$tmp/mine"
# What the series touches in the working tree of build/linux, the base
# path of each file (differs when moved) and the kernel directories to build.
tgit diff -M --name-status --diff-filter=d "$BASE_TAG" -- '*.c' '*.h' |
	awk -F'\t' '{ print $NF "\t" ($1 ~ /^A/ ? "" : $2) }' > "$tmp/touched"
mapfile -t dirs < <(awk -F'\t' '$1 ~ /\.c$/ && $1 !~ /^(tools|scripts|samples)\//' "$tmp/touched" |
	cut -f1 | xargs -r -n1 dirname | sort -u | sed 's|$|/|')
[ ${#dirs[@]} -gt 0 ] || die "the series touches no kernel .c file?"

# configure OUT SRC DROP MAKEARGS...: the series flavour's config in OUT
# (the base's when SRC is the base tree), less the fragment lines that
# match the regex DROP; every line left must take effect (as in
# build-kernel.sh).
configure() {
	local out=$1 src=$2 drop=$3 absent fl=("${series_frags[@]}")
	shift 3
	[ "$src" != "$base_src" ] || fl=("${frags[@]}")
	mkdir -p "$out"
	grep -hvE "$drop" "${fl[@]}" | awk '!seen[$0]++' > "$out/fragment.config"
	nice make -s -C "$src" O="$out" "$@" KCONFIG_ALLCONFIG="$out/fragment.config" \
		allnoconfig > /dev/null
	absent=$(grep '^CONFIG_' "$out/fragment.config" | sort -u | while read -r line; do
		grep -qxF "$line" "$out/.config" || echo "$line"
	done)
	[ -z "$absent" ] || { log "${out#"$TOP"/}: not in .config: $absent"; return 1; }
}

# kbuild LOG OUT SRC MAKEARGS...: W=1 build of the directories (those that
# SRC has), every object compiled again; make's status
kbuild() {
	local log=$1 out=$2 src=$3 d todo=()
	shift 3
	for d in "${dirs[@]}"; do
		[ -d "$src/$d" ] || continue
		todo+=("$d")
		[ ! -d "$out/$d" ] || find "$out/$d" -name '*.o' -delete
	done
	nice make -k -C "$src" O="$out" -j"$JOBS" W=1 "$@" "${todo[@]}" > "$log" 2>&1
}

# diags SRC CWD < LOG: one line per distinct diagnostic of a compiler
# log, "FILE<TAB>LINE<TAB>MESSAGE<TAB>SITE<TAB>CONTEXT": FILE relative to
# the tree SRC, or else to CWD, the directory the compiler ran in (a path
# can be relative to it: ccache makes those under build/ so), SITE the
# place in a .c file where the macro that gave it was expanded (gcc's
# "note: in expansion of macro"; the same header line reached from two
# places counts twice), CONTEXT the file and function gcc names before it.
diags() {
	awk -v src="$1/" -v cwd="$2" '
	function rel(p) {
		if (p !~ /^\// && p !~ /^</ && p != "cc1" && p != "clang")
			p = cwd "/" p
		while (sub(/\/\.\//, "/", p))
			;
		while (sub(/\/[^\/]+\/\.\.\//, "/", p))
			;
		if (index(p, src) == 1)
			p = substr(p, length(src) + 1)
		else if (index(p, cwd "/") == 1)
			p = substr(p, length(cwd) + 2)
		return p
	}
	function flush() {
		if (pending != "")
			print pending "\t" site "\t" pctx
		pending = site = ""
	}
	/^  [A-Z]+ / || /^In file included from / {
		ctx = ""
		next
	}
	/^[^ ]+: In (member )?function / {
		flush()
		ctx = $0; sub(/^[^ ]+: In (member )?function /, "", ctx)
		f = $0; sub(/: In .*/, "", f)
		ctx = rel(f) ": " ctx
		next
	}
	/^[^ ]+: (warning|error): / {
		flush()
		loc = $0; sub(/: (warning|error): .*/, "", loc)
		msg = substr($0, length(loc) + 3)
		n = split(loc, a, ":")
		pending = rel(a[1]) "\t" (n > 1 ? a[2] : "") "\t" msg
		pctx = ctx
		next
	}
	/^[^ ]+\.c:[0-9]+:[0-9]+: note: in expansion of macro / {
		if (pending != "" && site == "") {
			split($0, a, ":")
			site = rel(a[1]) ":" a[2]
		}
	}
	END { flush() }' | sort -t"$(printf '\t')" -k1,4 -u
}

# count_by_file_msg < DIAGS: "COUNT<TAB>FILE<TAB>MESSAGE"
count_by_file_msg() { awk -F'\t' '{ n[$1 "\t" $3]++ } END { for (k in n) print n[k] "\t" k }' | sort; }

# ours < DIAGS: the diagnostics in our files, or from a macro expanded in
# one of them (an objtool one names the .o)
ours() {
	awk -F'\t' -v mine="$tmp/mine" 'BEGIN { while ((getline l < mine) > 0) m[l] = 1 }
	{ f = $1; sub(/\.o$/, ".c", f); s = $4; sub(/:.*/, "", s) } (f in m) || (s in m)'
}

# new_vs BASEDIAGS < DIAGS: "FILE<TAB>MESSAGE<TAB>N more than base"
new_vs() {
	count_by_file_msg > "$tmp/nv-s"
	count_by_file_msg < "$1" > "$tmp/nv-b"
	awk -F'\t' -v b="$tmp/nv-b" '
	BEGIN { while ((getline l < b) > 0) { split(l, x, "\t"); n[x[2] "\t" x[3]] = x[1] } }
	$1 > n[$2 "\t" $3] + 0 { print $2 "\t" $3 "\t" $1 - n[$2 "\t" $3] " more than base" }' "$tmp/nv-s"
}

# show < DIAGS: the diagnostics for the reader, indented
show() {
	awk -F'\t' '{ print "    " ($4 != "" ? $4 ": " : "") $1 ($2 != "" ? ":" $2 : "") ": " $3 ($5 != "" ? "   [in " $5 "]" : "") }' | head -40
}

# kernel NAME MAKEARGS...: configure, build and judge the series and
# (when needed) the base with the same make arguments, in
# build/out/NAME-series and build/out/NAME-base.
kernel() {
	local name=$1 drop=$2 t=$SECONDS rc=0 nobj nd label
	shift 2
	local so=$BUILD/out/$name-series bo=$BUILD/out/$name-base
	label="$name W=1: ${dirs[*]}"
	if ! configure "$so" "$TREE" "$drop" "$@"; then
		result FAIL "$label" "config: fragment lines dropped"
		status=1
		return
	fi
	log "$name: building ${dirs[*]} in ${so#"$TOP"/}"
	kbuild "$so/check-builds.log" "$so" "$TREE" "$@" || rc=$?
	diags "$TREE" "$so" < "$so/check-builds.log" > "$tmp/$name-series.d"
	ours < "$tmp/$name-series.d" > "$tmp/$name-ours.d"
	grep -vxFf "$tmp/$name-ours.d" "$tmp/$name-series.d" > "$tmp/$name-other.d" || true
	: > "$tmp/$name-new"
	if [ -s "$tmp/$name-other.d" ] || [ -n "${KTLS_BUILDS_BASE:-}" ]; then
		log "$name: comparing with the base, built in ${bo#"$TOP"/}"
		if configure "$bo" "$base_src" "$drop" "$@"; then
			kbuild "$bo/check-builds.log" "$bo" "$base_src" "$@" || true
			diags "$base_src" "$bo" < "$bo/check-builds.log" > "$tmp/$name-base.d"
			new_vs "$tmp/$name-base.d" < "$tmp/$name-other.d" > "$tmp/$name-new"
		else
			echo "base config failed: every warning outside our files counts" > "$tmp/$name-new"
			cat "$tmp/$name-other.d" >> "$tmp/$name-new"
		fi
	fi
	nobj=$(grep -cE '^  CC ' "$so/check-builds.log" || true)
	nd=$(wc -l < "$tmp/$name-series.d")
	if [ $rc -eq 0 ] && [ ! -s "$tmp/$name-ours.d" ] && [ ! -s "$tmp/$name-new" ]; then
		result PASS "$label" "$nobj files compiled, $nd diagnostics, none in our files, none new; $((SECONDS - t))s"
		return
	fi
	result FAIL "$label" "make exit $rc, $(wc -l < "$tmp/$name-ours.d") in our files, $(wc -l < "$tmp/$name-new") new elsewhere"
	status=1
	show < "$tmp/$name-ours.d"
	sed 's/^/    new: /' "$tmp/$name-new" | head -20
	[ $rc -eq 0 ] || grep -E '^make.*(Error|\*\*\*)' "$so/check-builds.log" | head -5 | sed 's/^/    /'
}

kernel clang '^$' LLVM=1 CC="ccache clang" HOSTCC="ccache clang"
kernel i386 '^CONFIG_64BIT=' ARCH=i386 CC="ccache gcc" HOSTCC="ccache gcc"

# User space at 32 bits. uAPI headers of the series, and OpenSSL's
# configuration header for i386.
so=$BUILD/out/i386-series
st=$so/selftests
t=$SECONDS
nice make -s -C "$TREE" O="$so" ARCH=i386 headers_install INSTALL_HDR_PATH="$so/hdr" >&2
shim=$so/openssl-i386
mkdir -p "$shim/openssl" "$st"
for h in opensslconf.h configuration.h; do
	[ -f "/usr/include/x86_64-linux-gnu/openssl/$h" ] || die "no OpenSSL header $h (libssl-dev)"
	sed -e 's/define SIXTY_FOUR_BIT_LONG/define THIRTY_TWO_BIT/' \
	    -e 's/undef THIRTY_TWO_BIT/undef SIXTY_FOUR_BIT_LONG/' \
	    "/usr/include/x86_64-linux-gnu/openssl/$h" > "$shim/openssl/$h"
done
# cc32 SRC FILE LOG: compile one user-space .c file of tree SRC at 32
# bits: a selftest as its Makefile does (lib.mk's rule, with -c), another
# file with -O2 -Wall
cc32() {
	local src=$1 f=$2 log=$3 d o
	d=$(dirname "$f")
	o=$st/$(basename "$f" .c)
	rm -f "$o"
	if grep -qs 'lib\.mk' "$src/$d/Makefile"; then
		nice make -C "$src/$d" OUTPUT="$st" CC="ccache gcc" USERCFLAGS="-m32 -c" LDLIBS= \
			KHDR_INCLUDES="-isystem $so/hdr/include -isystem $shim" "$o" > "$log" 2>&1
	else
		(cd "$src/$d" && nice ccache gcc -m32 -O2 -Wall -isystem "$so/hdr/include" \
			-isystem "$shim" -c "${f##*/}" -o "$o") > "$log" 2>&1
	fi
	# compiled, and at 32 bits (ELF class 1)
	[ "$(od -An -tx1 -j4 -N1 "$o" 2>/dev/null)" = " 01" ]
}
: > "$tmp/us-bad"
nus=0
while IFS=$'\t' read -r f basef; do
	nus=$((nus + 1))
	rc=0
	cc32 "$TREE" "$f" "$tmp/us.log" || rc=$?
	diags "$TREE" "$TREE/$(dirname "$f")" < "$tmp/us.log" > "$tmp/us.d"
	[ $rc -eq 0 ] || echo "$f	-	error: does not compile (exit $rc)	" >> "$tmp/us.d"
	[ -s "$tmp/us.d" ] || continue
	if grep -qxF "$f" "$tmp/mine" || [ -z "$basef" ]; then
		cat "$tmp/us.d" >> "$tmp/us-bad"
		continue
	fi
	cc32 "$base_src" "$basef" "$tmp/us-base.log" || true
	diags "$base_src" "$base_src/$(dirname "$basef")" < "$tmp/us-base.log" > "$tmp/us-base.d"
	new_vs "$tmp/us-base.d" < "$tmp/us.d" |
		awk -F'\t' -v f="$f" '{ print $1 "\t\t" $2 " (" $3 ", compiling " f ")\t\t" }' >> "$tmp/us-bad"
done < <(awk -F'\t' '$1 ~ /^tools\/.*\.c$/' "$tmp/touched")
label="gcc -m32: the series' user-space files (selftests, tools/)"
if [ ! -s "$tmp/us-bad" ]; then
	result PASS "$label" "$nus files, none with a new warning; $((SECONDS - t))s"
else
	result FAIL "$label" "$(wc -l < "$tmp/us-bad") warnings"
	# one line per message and place (a use of a kselftest harness macro
	# gives several warnings, at its lines: they are counted at the use)
	awk -F'\t' '{ print ($4 != "" ? $4 : $1 ($2 != "" ? ":" $2 : "")) ": " $3 }' "$tmp/us-bad" |
		sort | uniq -c | sort -k2 | sed 's/^ */    /' | head -80
	status=1
fi
exit $status
