#!/bin/sh
# test_scaling_tool.sh TOOLS_DIR FIXTURES WORK — tools/scaling/scaling.sh on
# hand-written timings CSVs (tests/slurm/scaling-csv, README there).
# Expected values, worked out by hand from those files:
#   strong-np1: time 8 (rank 0's total), compute 6 → 75 %, comm 0, other 25 %
#   strong-np2: time max(5, 4) = 5; speedup 8/5 = 1.6; efficiency 1.6·1/2 = 0.8;
#               compute mean (3 + 3)/2 = 3 → 60 %; comm (1 + 0.5)/2 = 0.75 → 15 %;
#               other 5 - 3 - 0.75 = 1.25 → 25 %; 2 MB sent
#   weak-np2:   time 10; T0/T = 0.8 = efficiency; scaled speedup 0.8·2 = 1.6;
#               comm 0.25 → 2.5 %, other 10 - 6 - 0.25 = 3.75 → 37.5 %
# and bad input: a missing column or file exits 1 naming it.
set -u
tool=$1/scaling.sh; fix=$2; work=$3
rm -rf "$work"; mkdir -p "$work"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

sh "$tool" --no-plots -o "$work" "$fix"/strong-np1.csv "$fix"/strong-np2.csv "$fix"/weak-np1.csv "$fix"/weak-np2.csv \
    || { echo "FAIL: the tool failed on the fixtures"; exit 1; }
# check FILE FIELD EXPECTED: the TSV row of FILE has FIELD (by header) = EXPECTED within 1e-3.
check() {
    got=$(awk -F'\t' -v f="$1" -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) k[$i] = i; next }
                                             $2 == f { print $k[c] }' "$work/scaling.tsv")
    awk -v g="$got" -v e="$3" 'BEGIN { d = g - e; if (d < 0) d = -d; exit !(g != "" && d <= 1e-3) }' \
        || fail "$1 $2: got '$got', expected $3"
}
check strong-np1.csv time_s 8;       check strong-np1.csv speedup 1;     check strong-np1.csv efficiency 1
check strong-np1.csv compute_share 0.75; check strong-np1.csv comm_share 0; check strong-np1.csv other_share 0.25
check strong-np2.csv ranks 2;        check strong-np2.csv cfg 2;         check strong-np2.csv time_s 5
check strong-np2.csv unet_step_s 0.35
check strong-np2.csv speedup 1.6;    check strong-np2.csv efficiency 0.8
check strong-np2.csv compute_share 0.6; check strong-np2.csv comm_share 0.15; check strong-np2.csv other_share 0.25
check strong-np2.csv mb_sent 2
check weak-np2.csv groups 2;         check weak-np2.csv batch 2;         check weak-np2.csv time_s 10
check weak-np2.csv speedup 1.6;      check weak-np2.csv efficiency 0.8
check weak-np2.csv comm_share 0.025; check weak-np2.csv other_share 0.375
grep -q '| strong | 2 | 1 × 2 × 1 × 1 | 64x64 | 10 | 1 | 5.000 | 0.3500 | 1.60 | 80% | 60% | 15% | 25% | 2.00 |' \
    "$work/scaling.md" || fail "scaling.md lacks the strong-np2 row: $(cat "$work/scaling.md")"

# Bad input.
sed '1s/bytes_sent/bytes/' "$fix/strong-np1.csv" >"$work/bad-np1.csv"
out=$(sh "$tool" --no-plots -o "$work/bad" "$work/bad-np1.csv" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q 'bad-np1.csv: column "bytes_sent" is missing' \
    || fail "missing column: rc $rc, '$out'"
out=$(sh "$tool" --no-plots -o "$work/bad" "$work/none.csv" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q 'none.csv: cannot read' || fail "missing file: rc $rc, '$out'"
head -n 1 "$fix/strong-np2.csv" >"$work/empty-np2.csv"
out=$(sh "$tool" --no-plots -o "$work/bad" "$work/empty-np2.csv" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q 'empty-np2.csv: no rows' || fail "no rows: rc $rc, '$out'"
awk -F, '$10 != 1' "$fix/strong-np2.csv" >"$work/half-np2.csv"   # rank 1's rows gone
out=$(sh "$tool" --no-plots -o "$work/bad" "$work/half-np2.csv" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q 'half-np2.csv: no rows of rank 1' || fail "missing rank: rc $rc, '$out'"

# Plots, where gnuplot is installed (a tools-only dependency).
if command -v gnuplot >/dev/null 2>&1; then
    sh "$tool" -o "$work/plots" "$fix"/*.csv >/dev/null || fail "plots: the tool failed"
    [ -s "$work/plots/scaling.png" ] && head -c 8 "$work/plots/scaling.png" | od -c | grep -q 'P   N   G' \
        || fail "plots: no PNG written"
else
    echo "gnuplot not installed: plots not checked"
fi
[ $fails -eq 0 ] && echo "scaling tool: all checks passed"
exit $((fails > 0))
