#!/bin/sh
# parallel_study.sh — the measurements of issue #5 (docs/parallelism.md
# § Measurements), reproduced by one command:
#
#   tools/bench/parallel_study.sh [--model DIR] [--size S] [--parts abc]
#                                 [--out DIR] [--ldm PATH]
#
# Defaults: --model /tmp/real (made with `ldm init --config
# models/ldm-text2im-large-256-config -o /tmp/real --seed 0` when missing:
# the real-size pipeline with random weights, ~3.4 GB), --size 256, all
# parts, --out /tmp/parallel_study, --ldm build/ldm. Prints markdown tables
# on stdout (progress on stderr); every run's log, --timings CSV and per-rank
# RSS file stay in --out.
#
#   (a) peak RSS per rank, at --steps 2: 1 rank; 2 ranks --grid 2x1;
#       4 ranks --grid 4x1 (Pc = 1, 2, 4), plus every layout of (b).
#       Peak RSS = the process's ru_maxrss as /usr/bin/time -f %M reports it
#       (the kernel's high-water mark of the resident set, VmHWM at exit;
#       the --timings CSV holds no memory column), per rank.
#   (b) time per UNet step (the CSV's phase unet_step: mean per step, the
#       slowest rank) and per image (phase total / images) at 1 and 2 ranks:
#       1 rank; --grid 2x1; --grid 1x2; --cfg-parallel; --groups 2 with 2
#       images (and 1 rank with 2 images next to it), --threads such that
#       ranks × threads = 2 (this machine's cores), --steps 4.
#   (c) communication bytes per UNet step and rank, from the CSVs: the
#       difference of the comm rows' bytes_sent between the --steps 4 and
#       --steps 2 runs of the same layout, / 2 (text encoder and decoder
#       traffic cancel), next to the per-layer formula of
#       docs/parallelism.md §5 summed over the UNet of --model's config
#       (computed below, in the counting the timers use: the bytes a rank
#       hands to MPI — halo rows sent, its own block of an allgather, the
#       whole buffer of an allreduce or of the CFG exchange).
#
# Guidance 5 (the pipeline's CFG batch of 2 unless --cfg-parallel), DDIM,
# eta 0, one prompt. Runs one after another; each mpirun under `timeout`
# and with --bind-to none (Open MPI binds 1–2 ranks to one core each, and
# OpenMP then sees one processor: a 1-rank run would get 1 thread).
set -eu
LDM=build/ldm
MODEL=/tmp/real
SIZE=256
PARTS=abc
OUT=/tmp/parallel_study
while [ $# -gt 0 ]; do
    case $1 in
    --model) MODEL=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --parts) PARTS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --ldm) LDM=$2; shift 2 ;;
    *) echo "usage: $0 [--model DIR] [--size S] [--parts abc] [--out DIR] [--ldm PATH]" >&2; exit 2 ;;
    esac
done
LDM=$(cd "$(dirname "$LDM")" && pwd)/$(basename "$LDM")
REPO=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$OUT"
if [ ! -f "$MODEL/model_index.json" ]; then
    echo "making $MODEL (ldm init, real-size random weights)" >&2
    "$LDM" init --config "$REPO/models/ldm-text2im-large-256-config" -o "$MODEL" --seed 0 >&2
fi
export OMP_NUM_THREADS=1
MPI="timeout 1800 mpirun --oversubscribe --allow-run-as-root --bind-to none"
REQ="--model $MODEL --prompt a_painting_of_a_lighthouse --height $SIZE --width $SIZE --guidance-scale 5 --seed 1"

# run NAME NP THREADS STEPS IMAGES FLAGS...: one run, its CSV, per-rank RSS (kB)
run() {
    r_name=$1; r_np=$2; r_threads=$3; r_steps=$4; r_images=$5; shift 5
    if [ -f "$OUT/$r_name.csv" ]; then echo "($r_name: kept from an earlier run)" >&2; return 0; fi
    echo "$(date +%T) $r_name: $r_np rank(s) x $r_threads thread(s), $r_steps steps, $r_images image(s) $*" >&2
    rm -f "$OUT/$r_name".rss.*
    OMP_NUM_THREADS=$r_threads $MPI -x OMP_NUM_THREADS -n "$r_np" sh -c \
        'exec /usr/bin/time -f %M -o "$0.rss.${OMPI_COMM_WORLD_RANK:-0}" "$@"' "$OUT/$r_name" \
        "$LDM" txt2img $REQ --steps "$r_steps" --num-images-per-prompt "$r_images" \
        --threads "$r_threads" -o "$OUT/$r_name.png" --timings "$OUT/$r_name.tmp.csv" "$@" \
        </dev/null >"$OUT/$r_name.log" 2>&1 ||
        { echo "$r_name failed:" >&2; tail -5 "$OUT/$r_name.log" >&2; return 1; }
    mv "$OUT/$r_name.tmp.csv" "$OUT/$r_name.csv"
}

# name np threads images flags — the layouts of (b) and (c)
LAYOUTS="one 1 2 1 --grid=1x1
c2 2 1 1 --grid=2x1
s2 2 1 1 --grid=1x2
cfg 2 1 1 --cfg-parallel
one2 1 2 2 --grid=1x1
groups 2 1 2 --groups=2"

layouts() { echo "$LAYOUTS"; }

# (a)'s runs first (the 1- and 2-rank ones are also (b)'s --steps 2 runs),
# then each layout of (b)/(c) at 2 and 4 steps.
case $PARTS in *a*)
    run one-2 1 2 2 1 --grid 1x1
    run c2-2 2 1 2 1 --grid 2x1
    run c4-2 4 1 2 1 --grid 4x1 ;;
esac
case $PARTS in *b*|*c*)
    layouts | while read -r name np threads images flag; do
        run "$name-2" "$np" "$threads" 2 "$images" $(echo "$flag" | tr = ' ')
        run "$name-4" "$np" "$threads" 4 "$images" $(echo "$flag" | tr = ' ')
    done ;;
esac

# ---- tables -------------------------------------------------------------
rss_mb() { # name → "max / min" MB over ranks
    cat "$OUT/$1".rss.* 2>/dev/null | awk 'NF { v = $1 / 1024; if (n == 0 || v > hi) hi = v; if (n == 0 || v < lo) lo = v; n++ }
        END { if (n) printf "%.0f / %.0f (%d ranks)", hi, lo, n; else printf "—" }'
}
csv_phase() { # name phase → max seconds over ranks
    awk -F, -v p="$2" 'NR > 1 && $11 == "phase" && $12 == p && $13 > 0 { if ($14 > m) m = $14 } END { printf "%.3f", m }' "$OUT/$1.csv"
}
csv_comm() { # name kind → mean bytes_sent per rank (kind "all": every comm row)
    awk -F, -v k="$2" 'NR > 1 { ranks[$10] = 1 } NR > 1 && $11 == "comm" && (k == "all" || $12 == k) { s += $15 }
        END { n = 0; for (r in ranks) n++; printf "%.0f", n ? s / n : 0 }' "$OUT/$1.csv"
}

echo
echo "## Parallel study: $(basename "$MODEL") at ${SIZE}², $(date -u +%Y-%m-%dT%H:%MZ)"
echo
case $PARTS in *a*)
    echo "### (a) Peak RSS per rank (MB, max / min over ranks; ru_maxrss via /usr/bin/time, --steps 2)"
    echo
    echo "| ranks | layout | peak RSS per rank |"
    echo "|---|---|---|"
    echo "| 1 | 1 rank (Pc = 1) | $(rss_mb one-2) |"
    echo "| 2 | --grid 2x1 (Pc = 2) | $(rss_mb c2-2) |"
    echo "| 4 | --grid 4x1 (Pc = 4) | $(rss_mb c4-2) |"
    for l in s2 cfg groups one2; do
        [ -f "$OUT/$l-2.csv" ] && echo "| $(awk -F, 'NR == 2 { print $1 }' "$OUT/$l-2.csv") | $l | $(rss_mb "$l-2") |"
    done
    echo ;;
esac
case $PARTS in *b*)
    echo "### (b) Time per UNet step and per image (s; ranks × threads = 2)"
    echo
    echo "| layout | ranks × threads | images | UNet step (slowest rank) | total | per image | load | text encoder | decoder |"
    echo "|---|---|---|---|---|---|---|---|---|"
    layouts | while read -r name np threads images flag; do
        f=$name-4
        [ -f "$OUT/$f.csv" ] || continue
        tot=$(csv_phase "$f" total)
        echo "| $name ($(echo "$flag" | tr = ' ')) | $np × $threads | $images | $(csv_phase "$f" unet_step) | $tot | $(awk -v t="$tot" -v n="$images" 'BEGIN { printf "%.2f", t / n }') | $(csv_phase "$f" load) | $(csv_phase "$f" text_encoder) | $(csv_phase "$f" decoder) |"
    done
    echo ;;
esac
case $PARTS in *c*)
    echo "### (c) Communication per UNet step and rank (kB; measured = (bytes at 4 steps − at 2 steps) / 2, mean over ranks)"
    echo
    echo "| layout | measured: all | halo | allgather | allreduce | sendrecv | other | formula (§5): all | halo | allgather | allreduce | sendrecv |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    layouts | while read -r name np threads images flag; do
        [ -f "$OUT/$name-4.csv" ] && [ -f "$OUT/$name-2.csv" ] || continue
        row="| $name ($(echo "$flag" | tr = ' '))"
        for k in all halo allgather allreduce sendrecv other; do
            a=$(csv_comm "$name-4" "$k"); b=$(csv_comm "$name-2" "$k")
            row="$row | $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (a - b) / 2 / 1000 }')"
        done
        pc=1; ps=1; cfg=1
        case $flag in *grid=2x1*) pc=2 ;; *grid=1x2*) ps=2 ;; *cfg-parallel*) cfg=2 ;; esac
        form=$(python3 "$REPO/tools/bench/comm_formula.py" "$MODEL/unet/config.json" "$SIZE" "$pc" "$ps" "$cfg")
        echo "$row | $form |"
    done
    echo ;;
esac
