#!/usr/bin/env bash
# make compare: the same selftest binaries on the base kernel (the tree's
# own upstream kTLS: the anchor) and on the series kernel, and a table per
# suite group side by side. Not part of make test: on the base kernel the
# rekey cases fail by the 30 s harness timeout, which makes the run long
# (about 26 minutes under TCG).
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

"$TOP/scripts/build-kernel.sh" base > /dev/null
"$TOP/scripts/build-kernel.sh" series > /dev/null
mkdir -p "$BUILD/compare"
"$TOP/scripts/run-tests.sh" base > "$BUILD/compare/base.txt" || true
"$TOP/scripts/run-tests.sh" series "$TOP/scripts/xfail.txt" > "$BUILD/compare/series.txt" || true

b=$BUILD/runs/tests-base/summary
s=$BUILD/runs/tests-series/summary
{
	printf '| group | base pass | base fail | series pass | series fail | series xfail |\n'
	printf '|---|---:|---:|---:|---:|---:|\n'
	join -t "$(printf '\t')" -a1 -a2 -e - -o 0,1.2,1.3,2.2,2.3,2.4 \
		<(sort "$b") <(sort "$s") |
		awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6
			for (i = 2; i <= 6; i++) if ($i != "-") t[i] += $i }
		END { printf "| **all** | %d | %d | %d | %d | %d |\n", t[2], t[3], t[4], t[5], t[6] }'
} | tee "$BUILD/compare/table.md"
echo "per-case verdicts: ${BUILD#"$TOP"/}/compare/{base,series}.txt"
