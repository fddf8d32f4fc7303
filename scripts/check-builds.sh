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
#    Makefile's flags (-Wall) against the series' uAPI headers;
#  - wide: gcc, W=1, at allmodconfig (scripts/config/wide.config), the
#    files that see the series: those it adds or changes and those that
#    include a header it changes (the in-tree users of kTLS: offload
#    drivers, bonding, NVMe/TCP, ...), about 130 of them.
# The clang and i386 builds compile the directories that hold the kernel
# .c files the series adds or changes (net/tls/, crypto/, ... found from
# the diff to the base), not a whole vmlinux (1200 objects, 15-20 minutes
# cold on two cores, for clang alone; these directories are about 100).
# The wide build compiles single objects, those its config builds (an
# allmodconfig vmlinux and modules would take hours here). Cold, without
# ccache, the script took 4.5 minutes (5 CPU-minutes, the wide build 142
# s of it) with two benchmark guests on the two cores; warm about one.
# Every object built is deleted first, so that every warning is printed
# again on every run (ccache replays it when nothing changed).
# A build passes when it compiles, prints no warning in our files (the
# mirrored ones, created or rewritten by the series) and no warning
# elsewhere that the base tree (build/src-base) does not give too, built
# the same way: counted per file and message, whatever the line number.
# Most runs print no warning outside our files at all, and then the base
# is not built; KTLS_BUILDS_BASE=1 builds and compares it anyway. The
# wide build has three in cxgb4 (-Wformat-truncation, the base's too): it
# builds in the base only the .c files that warned, or all of them when a
# warning is in a header.
# The user-space check has the same rule, per compiled file: a file of
# ours must give no warning at all (those the kselftest harness prints
# when one of our tests compares pointers count as ours), another (tls.c,
# moved from base) no more than its base version.
# libcrypto is not installed for i386, so the selftests are compiled, not
# linked (-c): the only i386 OpenSSL header missing, configuration.h, is
# the x86_64 one with its word size set to 32 bits.
# Output dirs: build/out/clang-series, clang-base, i386-series, i386-base
# (and i386-series/selftests, i386-series/hdr), wide-series, wide-base; each kernel build's log is
# check-builds.log there. ccache is on, as for every kernel build.
# One verdict line per build; exit 1 on any failure.
# usage: check-builds.sh
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"
need_pkgs "${BUILD_PKGS[@]}" clang lld llvm gcc-multilib

base_src=$BUILD/src-base
[ -d "$base_src" ] || git -C "$TREE" worktree add -q --detach "$base_src" "$BASE_TAG"
# the compilers name files by their real paths (build/ can be a symlink)
TREE=$(cd "$TREE" && pwd -P) base_src=$(cd "$base_src" && pwd -P)
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
# The starting config and fragments are cfg_start, cfg_series and cfg_base.
configure() {
	local out=$1 src=$2 drop=$3 absent fl=("${cfg_series[@]}")
	shift 3
	[ "$src" != "$base_src" ] || fl=("${cfg_base[@]}")
	mkdir -p "$out"
	grep -hvE "$drop" "${fl[@]}" | awk '!seen[$0]++' > "$out/fragment.config"
	nice make -s -C "$src" O="$out" "$@" KCONFIG_ALLCONFIG="$out/fragment.config" \
		"$cfg_start" > /dev/null
	absent=$(grep '^CONFIG_' "$out/fragment.config" | sort -u | while read -r line; do
		grep -qxF "$line" "$out/.config" || echo "$line"
	done)
	[ -z "$absent" ] || { log "${out#"$TOP"/}: not in .config: $absent"; return 1; }
}

# owner SRC OBJ: the directory whose Makefile builds OBJ (drivers list
# objects of their subdirectories in their top Makefile)
owner() {
	local d
	d=$(dirname "$2")
	while [ "$d" != . ]; do
		if grep -qswF "${2#"$d"/}" "$1/$d/Makefile" "$1/$d/Kbuild"; then
			echo "$d/"
			return
		fi
		d=$(dirname "$d")
	done
	echo "$(dirname "$2")/"
}

# kbuild LOG OUT SRC MAKEARGS...: W=1 build of the targets (directories
# and objects, those that SRC has), every object compiled again; make's
# status. An object is built only when the config builds it: make would
# compile one that it does not (a driver for another architecture, or
# one whose option the tree lacks) with none of its directory's flags.
# A dry run of the directories that own them tells which it builds.
kbuild() {
	local log=$1 out=$2 src=$3 d objs=() todo=()
	shift 3
	for d in "${targets[@]}"; do
		case $d in
		*.o)	[ -f "$src/${d%.o}.c" ] || continue
			rm -f "$out/$d"
			objs+=("$d") ;;
		*)	[ -d "$src/$d" ] || continue
			[ ! -d "$out/$d" ] || find "$out/$d" -name '*.o' -delete
			todo+=("$d") ;;
		esac
	done
	if [ ${#objs[@]} -gt 0 ]; then
		nice make -s -C "$src" O="$out" -j"$JOBS" "$@" prepare > "$log.prepare" 2>&1 ||
			{ cat "$log.prepare" > "$log"; return 1; }
		for d in "${objs[@]}"; do owner "$src" "$d"; done | sort -u > "$tmp/owners"
		# shellcheck disable=SC2046 # one argument per directory
		make -n -s -k -C "$src" O="$out" W=1 "$@" $(cat "$tmp/owners") 2>/dev/null |
			grep -oE ' -c -o [^ ]+\.o' | cut -d' ' -f4 | sort -u > "$tmp/configured"
		for d in "${objs[@]}"; do
			if grep -qxF "$d" "$tmp/configured"; then todo+=("$d"); else echo "$d"; fi
		done > "$tmp/unbuilt"
		log "${out#"$TOP"/}: ${#todo[@]} objects; not built at this config: $(wc -l < "$tmp/unbuilt")" \
			"$(sed 's|.*/||' "$tmp/unbuilt" | tr '\n' ' ')"
	fi
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
	label="$name W=1: $targets_label"
	if ! configure "$so" "$TREE" "$drop" "$@"; then
		result FAIL "$label" "config: fragment lines dropped"
		status=1
		return
	fi
	log "$name: building $targets_label in ${so#"$TOP"/}"
	kbuild "$so/check-builds.log" "$so" "$TREE" "$@" || rc=$?
	diags "$TREE" "$so" < "$so/check-builds.log" > "$tmp/$name-series.d"
	ours < "$tmp/$name-series.d" > "$tmp/$name-ours.d"
	grep -vxFf "$tmp/$name-ours.d" "$tmp/$name-series.d" > "$tmp/$name-other.d" || true
	: > "$tmp/$name-new"
	if [ -s "$tmp/$name-other.d" ] || [ -n "${KTLS_BUILDS_BASE:-}" ]; then
		log "$name: comparing with the base, built in ${bo#"$TOP"/}"
		# a build of single objects compiles in the base only those
		# with a warning outside our files, unless one is in a header
		local targets=("${targets[@]}")
		if [[ ${targets[0]} = *.o ]] && ! cut -f1 "$tmp/$name-other.d" | grep -qv '\.c$'; then
			mapfile -t targets < <(cut -f1 "$tmp/$name-other.d" | sed 's/\.c$/.o/' | sort -u)
		fi
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

cfg_start=allnoconfig cfg_series=("${series_frags[@]}") cfg_base=("${frags[@]}")
targets=("${dirs[@]}") targets_label="${dirs[*]}"
kernel clang '^$' LLVM=1 CC="ccache clang" HOSTCC="ccache clang"
kernel i386 '^CONFIG_64BIT=' ARCH=i386 CC="ccache gcc" HOSTCC="ccache gcc"

# The wide config: allmodconfig (every driver a module where it can be,
# COMPILE_TEST, the debug options that change struct layouts: lockdep,
# KASAN, ...) with scripts/config/wide.config, and instead of whole
# directories the files that see what the series changes: every file it
# adds or changes and every .c file that includes a header it changes,
# at any depth (scripts/lib/includers.py: the drivers that offload kTLS,
# bonding, NVMe/TCP, crypto drivers on crypto/gcm.h, ...), plus the
# users issue 21 names that reach kTLS through net/handshake (its own
# files, SunRPC's sockets). One header is left out: uapi/linux/snmp.h,
# which gains counters only and reaches nearly every file of net/.
mapfile -t wide_c < <({
	awk -F'\t' '$1 ~ /\.c$/ && $1 !~ /^(tools|scripts|samples)\//' "$tmp/touched" | cut -f1
	# shellcheck disable=SC2046 # one argument per header
	python3 "$TOP/scripts/lib/includers.py" "$TREE" $(awk -F'\t' '$1 ~ /\.h$/ &&
		$1 !~ /^(tools|scripts|samples)\// && $1 != "include/uapi/linux/snmp.h"' "$tmp/touched" | cut -f1)
	(cd "$TREE" && ls net/handshake/*.c net/sunrpc/xprtsock.c net/sunrpc/svcsock.c)
} | sort -u)
cfg_start=allmodconfig cfg_series=("$TOP/scripts/config/wide.config") cfg_base=("${cfg_series[@]}")
targets=("${wide_c[@]/%.c/.o}") targets_label="${#wide_c[@]} files (allmodconfig)"
kernel wide '^$' CC="ccache gcc" HOSTCC="ccache gcc"

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
