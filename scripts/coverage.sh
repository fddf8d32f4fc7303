#!/usr/bin/env bash
# Line coverage of net/tls reached by the record-layer fuzzer (issue 19,
# item 1), and optionally by the selftests, measured with gcov in a
# kernel flavour of its own:
#
#   1. builds the "gcov" kernel in build/out/gcov: the series kernel's
#      config (what scripts/build-kernel.sh series makes: allnoconfig +
#      scripts/config/boot.config + tools/testing/selftests/net/tls/config +
#      scripts/config/series.config) plus CONFIG_GCOV_KERNEL, with gcov
#      instrumentation for the objects of net/tls only (no
#      CONFIG_GCOV_PROFILE_ALL): GCOV_PROFILE is given on the make command
#      line as an expression that is "y" in net/tls alone (Kbuild reads it
#      in every directory, see scripts/Makefile.lib), so the source tree
#      build/linux stays untouched. A first build starts from a copy of
#      build/out/series, but every object is rebuilt all the same (objtool
#      runs with other arguments under GCOV_KERNEL); the compiles mostly
#      hit ccache: 10 minutes (591 s) on the 2 cores, shared with another
#      kernel build and a fuzz guest; a rebuild with nothing changed, 1.
#   2. boots it (scripts/qemu-run.sh) and runs the workload there
#      (scripts/guest-coverage.sh): the fuzzer as scripts/fuzz.sh runs it
#      (scripts/guest-fuzz.sh, the same program built from
#      scripts/fuzz/ktls-fuzz.c) and/or the selftests as
#      scripts/run-tests.sh runs them (scripts/guest-tests.sh). The
#      counters are zeroed right before, so boot-time code counts only if
#      the workload runs it again; then the net/tls .gcda files are
#      copied out of /sys/kernel/debug/gcov.
#   3. runs gcov (gcc 12's, the kernel's compiler) on the host against
#      the objects of build/out/gcov: lines hit / executable lines per
#      source file of net/tls (the .h files merged over the objects that
#      include them), the receive side the fuzzer targets (rx.c,
#      rx_parse.c, rx_record.c) and all of net/tls (tls.o: the KUnit test
#      file tx_kunit.c, which runs only with kunit.enable=1, is listed but
#      not counted), and the functions of rx*.c never entered.
#
# usage: coverage.sh [--records N] [--seed S] [--cpus N]
#                    [--workload fuzz|selftests|both] [--name NAME]
#                    [--build-only] [--no-build]
#        coverage.sh --merge RUN,RUN... [--name NAME]
#   --records N, --seed S   the fuzz run: N records from seed S (default
#               30000 from 1, the smoke size of scripts/fuzz.sh)
#   --cpus N    guest vCPUs (default 2)
#   --workload  what runs in the guest: the fuzzer (default), the
#               selftests, or both one after the other
#   --name NAME the run directory, build/runs/NAME (default
#               coverage-WORKLOAD)
#   --build-only  build the gcov kernel and stop
#   --no-build  use build/out/gcov as it is
#   --merge     no build, no guest: the coverage of earlier runs
#               together (a line counts when any of them ran it), from
#               their build/runs/RUN/gcov/gcov.json, into
#               build/runs/NAME/coverage.txt (default coverage-merged);
#               e.g. --merge coverage-fuzz,coverage-selftests gives
#               the same lines as one run of --workload both
#
# Writes build/runs/NAME/: console.log, out/ (the guest's results:
# out/fuzz/fuzz.log as with scripts/fuzz.sh, out/st/ as with
# scripts/run-tests.sh, out/gcda/ the counters), gcov/ (gcov's JSON
# output) and coverage.txt: the table, the rx*.c functions never entered,
# and the run's rate. Verdict lines (PASS/FAIL): the guest run and the
# workload passed (the fuzzer as scripts/fuzz.sh judges it; the selftest
# suites exited 0), and the coverage was computed. The figures themselves
# are information, not verdicts.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

usage="usage: coverage.sh [--records N] [--seed S] [--cpus N] [--workload fuzz|selftests|both] [--name NAME] [--build-only] [--no-build] | --merge RUN,RUN... [--name NAME]"
records=30000 seed=1 cpus=2 workload=fuzz name='' build=1 run_guest=1 merge=''
while [ $# -gt 0 ]; do
	case "$1" in
	--records) records=${2:?$usage}; shift ;;
	--seed) seed=${2:?$usage}; shift ;;
	--cpus) cpus=${2:?$usage}; shift ;;
	--workload) workload=${2:?$usage}; shift ;;
	--name) name=${2:?$usage}; shift ;;
	--build-only) run_guest=0 ;;
	--no-build) build=0 ;;
	--merge) merge=${2:?$usage}; shift ;;
	*) die "$usage" ;;
	esac
	shift
done
for n in "$records" "$cpus"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "$usage"
done
[[ $seed =~ ^[0-9]+$ ]] || die "$usage"
case "$workload" in fuzz|selftests|both) ;; *) die "$usage" ;; esac
if [ -z "$name" ]; then
	name=coverage-$workload
	[ -z "$merge" ] || name=coverage-merged
fi

out=$BUILD/out/gcov
kernel=$out/arch/x86/boot/bzImage
hdr=$BUILD/out/series/hdr/include

# table JSON...: the coverage table of gcov's JSON output (gcov
# --json-format --stdout, one document a line) of one run or more
table() {
	python3 - "$@" <<-'EOF'
	# Merge gcov's JSON (one document per object and run) into per-file
	# line coverage: a line counts as hit when any object ran it in any run.
	import json, sys, os
	lines, funcs = {}, {}
	docs = [d for a in sys.argv[1:] for d in open(a) if d.strip()]
	for doc in docs:
	    for f in json.loads(doc)["files"]:
	        name = os.path.normpath(f["file"])
	        i = name.find("net/tls/")
	        if i < 0:
	            continue
	        name = name[i:]
	        ls = lines.setdefault(name, {})
	        for l in f["lines"]:
	            ls[l["line_number"]] = ls.get(l["line_number"], 0) + l["count"]
	        fs = funcs.setdefault(name, {})
	        for fn in f["functions"]:
	            k = (fn["start_line"], fn["name"])
	            fs[k] = fs.get(k, 0) + fn["execution_count"]
	def row(label, hit, total):
	    pct = 100.0 * hit / total if total else 0.0
	    print(f"{label:<28} {hit:>6} / {total:<6} {pct:6.1f}%")
	def count(names):
	    hit = sum(1 for n in names for c in lines[n].values() if c)
	    return hit, sum(len(lines[n]) for n in names)
	def fcount(names):
	    return (sum(1 for n in names for c in funcs[n].values() if c),
	            sum(len(funcs[n]) for n in names))
	print(f"{'file':<28} {'lines hit / executable':>22}   functions entered")
	for n in sorted(lines):
	    h, t = count([n])
	    fh, ft = fcount([n])
	    pct = 100.0 * h / t if t else 0.0
	    print(f"{n:<28} {h:>6} / {t:<6} {pct:6.1f}%   {fh} / {ft}")
	print()
	rx = [n for n in ("net/tls/rx.c", "net/tls/rx_parse.c", "net/tls/rx_record.c") if n in lines]
	tls = [n for n in lines if not n.endswith("_kunit.c")]
	row("+".join(os.path.basename(n) for n in rx), *count(rx))
	row("net/tls (tls.o: .c and .h)", *count(tls))
	row("net/tls .c files only", *count([n for n in tls if n.endswith(".c")]))
	print()
	print("rx*.c functions never entered (file:line name):")
	none = True
	for n in sorted(x for x in lines if os.path.basename(x).startswith("rx")):
	    for (start, fn), c in sorted(funcs[n].items()):
	        if not c:
	            print(f"  {n}:{start} {fn}")
	            none = False
	if none:
	    print("  (none)")
	EOF
}

# build_kernel: the gcov flavour, in $out
build_kernel() {
	local frags t0=$SECONDS absent
	need_pkgs "${BUILD_PKGS[@]}"
	if [ ! -f "$out/.config" ] && [ -f "$BUILD/out/series/.config" ]; then
		log "seeding ${out#"$TOP"/} from build/out/series"
		cp -a "$BUILD/out/series" "$out"
	fi
	mkdir -p "$out"
	cat > "$out/gcov.config" <<-'EOF'
	# scripts/coverage.sh: gcov for the objects that ask for it (net/tls,
	# through GCOV_PROFILE on the make command line), not the whole kernel
	CONFIG_DEBUG_FS=y
	CONFIG_GCOV_KERNEL=y
	# CONFIG_GCOV_PROFILE_ALL is not set
	EOF
	# the fragments of scripts/build-kernel.sh series, then ours
	frags=("$TOP/scripts/config/boot.config"
	       "$TOP/tools/testing/selftests/net/tls/config"
	       "$TOP/scripts/config/series.config" "$out/gcov.config")
	awk '!seen[$0]++' "${frags[@]}" > "$out/fragment.config"
	make -s -C "$TREE" O="$out" KCONFIG_ALLCONFIG="$out/fragment.config" \
		allnoconfig >/dev/null
	absent=$(grep -h '^CONFIG_' "${frags[@]}" | sort -u | while read -r line; do
		grep -qxF "$line" "$out/.config" || echo "$line"
	done)
	[ -z "$absent" ] || die "gcov: not in .config after merge: $(echo "$absent" | tr '\n' ' ')"
	grep -qx 'CONFIG_GCOV_PROFILE_ALL=y' "$out/.config" &&
		die "gcov: CONFIG_GCOV_PROFILE_ALL is set"

	log "building the gcov kernel in ${out#"$TOP"/}"
	# GCOV_PROFILE is expanded in each directory's Makefile.build, where
	# $(obj) is that directory: "y" in net/tls, empty everywhere else (it
	# also overrides the "GCOV_PROFILE := n" of boot and vDSO code, to
	# the same effect: without GCOV_PROFILE_ALL, empty means no gcov).
	# shellcheck disable=SC2016 # for make to expand, not the shell
	nice make -s -C "$TREE" O="$out" -j"$JOBS" CC="ccache gcc" \
		GCOV_PROFILE='$(if $(filter net/tls,$(obj)),y)' bzImage >&2 ||
		die "gcov kernel does not build"
	# what the report names as the kernel's source
	git -C "$TREE" describe --always --abbrev=12 --dirty --exclude='*' \
		> "$out/gcov.source" 2>/dev/null || echo unknown > "$out/gcov.source"
	log "gcov kernel built in $((SECONDS - t0))s"
}

if [ -n "$merge" ]; then
	jsons=()
	IFS=, read -r -a runs <<< "$merge"
	for r in "${runs[@]}"; do
		j=$BUILD/runs/$r/gcov/gcov.json
		[ -s "$j" ] || die "no coverage of run $r ($j)"
		jsons+=("$j")
	done
	report=$BUILD/runs/$name/coverage.txt
	mkdir -p "${report%/*}"
	{
		echo "net/tls line coverage on the gcov kernel: runs ${merge//,/, } together"
		for r in "${runs[@]}"; do
			grep -E '^(fuzz|guest run):' "$BUILD/runs/$r/coverage.txt" |
				sed "s/^/  $r: /"
		done
		echo
		table "${jsons[@]}"
	} > "$report" || die "the report failed"
	cat "$report"
	if grep -q '^rx.c+' "$report"; then
		result PASS "$name: coverage computed" "$(grep '^rx.c+' "$report" | tr -s ' ')"
		exit 0
	fi
	result FAIL "$name: coverage computed" "no rx*.c in gcov's output"
	exit 1
fi
[ "$build" = 0 ] || build_kernel
[ -f "$kernel" ] || die "no gcov kernel: scripts/coverage.sh --build-only"
compgen -G "$out/net/tls/*.gcno" >/dev/null ||
	die "no .gcno in ${out#"$TOP"/}/net/tls: net/tls is not instrumented"
[ "$run_guest" = 1 ] || exit 0

need_pkgs gcc libssl-dev qemu-system-x86 iproute2 ethtool python3
[ -d "$hdr" ] || die "no uAPI headers in $hdr: scripts/build-kernel.sh series"
# Our own copies of the programs, built as scripts/fuzz.sh and
# scripts/run-tests.sh build theirs, so that a run of those (which
# rebuild build/fuzz and build/selftests) cannot change them under us.
bin=$BUILD/coverage
mkdir -p "$bin/st"
fuzzer=$bin/ktls-fuzz
gcc -O2 -g -Wall -Wextra -Werror -isystem "$hdr" -o "$fuzzer" \
	"$TOP/scripts/fuzz/ktls-fuzz.c" -lcrypto -lpthread ||
	die "ktls-fuzz does not build"
if [ "$workload" != fuzz ]; then
	make -s -C "$TREE/tools/testing/selftests/net/tls" OUTPUT="$bin/st" \
		KHDR_INCLUDES="-isystem $hdr" >&2 || die "selftests do not build"
fi

# the bound of scripts/fuzz.sh for the fuzzer, of run-tests.sh for the
# selftests, both for both, and twice that: gcov slows the kernel down
timeout=0
[ "$workload" = selftests ] || timeout=$((600 + records / 40))
[ "$workload" = fuzz ] || timeout=$((timeout + 3000))
timeout=$((timeout * 2))

run=$BUILD/runs/$name
status=0
fail() { result FAIL "$@"; status=1; }

what=$workload
[ "$workload" = selftests ] || what+=" ($records records from seed $seed)"
log "$name: $what on the gcov kernel, $cpus vCPUs, base $(base_describe)"
t0=$SECONDS
qrc=0
nice "$TOP/scripts/qemu-run.sh" -n "$name" -c "$cpus" -t "$timeout" "$kernel" \
	"$TOP/scripts/guest-coverage.sh /tmp/results $out $workload $fuzzer $seed $records $bin/st" ||
	qrc=$?
secs=$((SECONDS - t0))

# The workload's verdicts
summary=''
if [ "$workload" != selftests ]; then
	fout=$run/out/fuzz
	guest_checks "$name" "$qrc" "$secs" "$run" "$fout" || status=1
	summary=$(grep '^records [0-9]*, failures [0-9]*, records/s' "$fout/fuzz.log" 2>/dev/null | tail -1 || :)
	frc=$(cat "$fout/fuzz.rc" 2>/dev/null || echo none)
	if [ -z "$summary" ]; then
		fail "$name: $records records" "no summary (exit $frc), see ${fout#"$TOP"/}/fuzz.log"
	elif [ "$frc" = 0 ] && [[ $summary == *", failures 0,"* ]]; then
		result PASS "$name: $records records from seed $seed" "$summary"
	else
		fail "$name: $records records from seed $seed" "$summary; exit $frc"
	fi
else
	if [ "$qrc" -eq 0 ]; then
		result PASS "$name: guest run, no kernel report" "${secs}s"
	else
		fail "$name: guest run, no kernel report" "exit $qrc, see ${run#"$TOP"/}/console.log"
	fi
fi
if [ "$workload" != fuzz ]; then
	bad=$(grep -Lx 0 "$run"/out/st/*.rc 2>/dev/null || :)
	if ! compgen -G "$run/out/st/*.rc" >/dev/null; then
		fail "$name: selftests" "no results in ${run#"$TOP"/}/out/st"
	elif [ -n "$bad" ]; then
		# (the report only: run-tests.sh judges the cases, with
		# scripts/xfail.txt; a failed suite still gives its coverage)
		fail "$name: selftests" "non-zero exit: $(echo "$bad" | xargs -n1 basename | tr '\n' ' ')"
	else
		result PASS "$name: selftests" "every suite exited 0"
	fi
fi

# The coverage: gcov in a scratch copy of the objects' directory, with
# the .gcno of the build and the .gcda of the run side by side.
gdir=$run/gcov
rm -rf "$gdir"
mkdir -p "$gdir/obj"
cp "$out"/net/tls/*.gcno "$gdir/obj/"
ngcda=0
if compgen -G "$run/out/gcda/*.gcda" >/dev/null; then
	cp "$run"/out/gcda/*.gcda "$gdir/obj/"
	ngcda=$(find "$gdir/obj" -name '*.gcda' | wc -l)
fi
report=$run/coverage.txt
if [ "$ngcda" -eq 0 ]; then
	fail "$name: coverage computed" "no .gcda from the guest (${run#"$TOP"/}/out/gcda)"
	exit 1
fi
# gcov names the sources as the compiler saw them, relative to $out
(cd "$out" && for g in "$gdir"/obj/*.gcno; do
	src=net/tls/$(basename "$g" .gcno).c
	gcov --json-format --stdout --object-directory "$gdir/obj" "$src"
done) > "$gdir/gcov.json" 2> "$gdir/gcov.err" ||
	{ fail "$name: coverage computed" "gcov failed: $(head -3 "$gdir/gcov.err")"; exit 1; }

{
	echo "net/tls line coverage on the gcov kernel: $name ($workload)"
	echo "base: $(base_describe); kernel built from $(cat "$out/gcov.source" 2>/dev/null || echo unknown)"
	[ -z "$summary" ] || echo "fuzz: $records records from seed $seed, $cpus vCPUs: $summary"
	echo "guest run: ${secs}s"
	echo
	table "$gdir/gcov.json"
} > "$report" || { fail "$name: coverage computed" "the report failed"; exit 1; }
cat "$report"
rxline=$(grep '^rx.c+' "$report" || :)
if [ -n "$rxline" ]; then
	result PASS "$name: coverage computed" "$ngcda objects; $(tr -s ' ' <<< "$rxline")"
else
	fail "$name: coverage computed" "no rx*.c in gcov's output"
fi
exit $status
