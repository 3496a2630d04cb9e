#!/bin/sh
# tools/scaling/scaling.sh — per-rank timings CSVs of a scaling study → a
# table and plots.
#
#   tools/scaling/scaling.sh [-o DIR] [--no-plots] RUN.csv...
#
# Each RUN.csv is what one `ldm txt2img --timings RUN.csv` wrote (one row per
# rank, category and name; columns world,groups,cfg,pc,ps,height,width,steps,
# batch,rank,category,name,calls,seconds,bytes_sent; docs/slurm.md). A run
# belongs to the series named by its file name up to the first '-'
# (slurm/scaling.sbatch writes strong-np2.csv, weak-np4-grid_1x2.csv, ...).
#
# Per run: time = the slowest rank's phase "total"; unet/step = the slowest
# rank's "unet_step"; compute and comm = the mean over ranks of the summed
# compute / comm rows; other = time - compute - comm (text encoder set-up,
# I/O, waiting outside timed calls). Per series, against its run with the
# fewest ranks P0 (time T0):
#   strong (fixed work):           speedup = T0 / T,          efficiency = speedup · P0 / P
#   weak (work grows with ranks):  speedup = (T0 / T) · P/P0, efficiency = T0 / T
# A series is weak when its name starts with "weak", strong otherwise.
#
# Writes DIR/scaling.tsv (tab-separated, for other tools), DIR/scaling.md (a
# Markdown table) and, when gnuplot is installed (Debian: gnuplot-nox),
# DIR/scaling.png: time, speedup and efficiency versus ranks, and each run's
# compute / communication / other share. Only POSIX sh and awk are needed for
# the table. Bad input (missing file or column, no rows) exits 1 naming it.
set -eu
out=.
plots=1
while [ $# -gt 0 ]; do
    case $1 in
    -o) out=$2; shift 2 ;;
    --no-plots) plots=0; shift ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) echo "scaling.sh: unknown option $1" >&2; exit 1 ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "scaling.sh: no CSV files given (usage: scaling.sh [-o DIR] RUN.csv...)" >&2; exit 1; }
for f in "$@"; do
    [ -r "$f" ] || { echo "scaling.sh: $f: cannot read" >&2; exit 1; }
done
mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)

awk -f "$here/scaling.awk" -v tsv="$out/scaling.tsv.tmp" -v md="$out/scaling.md.tmp" "$@"
mv "$out/scaling.tsv.tmp" "$out/scaling.tsv"
mv "$out/scaling.md.tmp" "$out/scaling.md"
echo "wrote $out/scaling.tsv, $out/scaling.md"

if [ "$plots" -eq 1 ]; then
    if command -v gnuplot >/dev/null 2>&1; then
        series=$(awk -F'\t' 'NR > 1 && !seen[$1]++ { printf "%s%s", sep, $1; sep = " " }' "$out/scaling.tsv")
        gnuplot -e "tsv='$out/scaling.tsv'; png='$out/scaling.png.tmp'; series='$series'" "$here/scaling.gp"
        mv "$out/scaling.png.tmp" "$out/scaling.png"
        echo "wrote $out/scaling.png"
    else
        echo "scaling.sh: gnuplot not found (Debian: apt-get install gnuplot-nox): no plots" >&2
    fi
fi
