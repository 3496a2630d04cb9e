#!/bin/sh
# wire_sweep.sh LDM MPIEXEC NP COMPARE MODEL TMP
# `ldm sweep` with the model split (helper wire, issue #5):
#   - a sweep at NP ranks with --grid 1x2 (NP 4: two groups of a 1x2 grid,
#     and CFG branches of a 1x2 grid) exports the same PNGs (within 1
#     level) as the 1-process sweep;
#   - NP 2: a checkpoint written by 2 ranks with --grid 1x2 (a rank killed
#     at a run-file write point, LDM_RUNFILE_CRASH_AT, after a few steps)
#     resumes on 1 rank to the 1-process image, and one written by 1 rank
#     resumes on 2 ranks with --grid 1x2 (LMS: 4 history tensors gathered
#     whole on save, cut on restore).
set -u
ldm=$1; mpiexec=$2; np=$3; compare=$4; model=$5; tmp=$6
rm -rf "$tmp"; mkdir -p "$tmp"; cd "$tmp" || exit 1
export OMP_NUM_THREADS=1
here=$(cd "$(dirname "$0")" && pwd)
MPI="timeout 300 $mpiexec --oversubscribe --allow-run-as-root"
fail=0
sweep() { # name spec ranks flags...
    name=$1; spec=$2; n=$3; shift 3
    if ! $MPI -n "$n" "$ldm" sweep "$here/$spec" -o "$name.h5" --model "$model" -q "$@" \
            >"$name.log" 2>&1 || ! timeout 120 "$ldm" export "$name.h5" "$name" >>"$name.log" 2>&1; then
        echo "FAILED: sweep $name at $n ranks $*"; cat "$name.log"; fail=1; return 1
    fi
}
same() { # ref dir: every exported image within 1 level
    count=0
    for f in "$1"/*.png; do
        b=$(basename "$f")
        case $b in *sheet*|*contact*) continue ;; esac
        "$compare" png "$f" "$2/$b" 1 2>/dev/null || { echo "$2/$b differs from $f"; fail=1; }
        count=$((count + 1))
    done
    [ "$count" -ge 1 ] || { echo "$1: no images exported"; fail=1; }
    echo "$2: $count images compared"
}

sweep ref wire-sweep.json 1 --checkpoint-every 2 || exit 1
sweep grid wire-sweep.json "$np" --grid 1x2 --checkpoint-every 2 && same ref grid
if [ "$np" -eq 4 ]; then
    sweep cfggrid wire-sweep.json 4 --cfg-parallel --grid 1x2 --checkpoint-every 2 && same ref cfggrid
fi

if [ "$np" -eq 2 ]; then
    sweep one wire-resume.json 1 --checkpoint-every 1 || exit 1
    # Written at 2 ranks under --grid 1x2, resumed at 1 rank.
    partial=0
    for at in 100 80 130 60; do
        rm -f cut.h5 cut.h5.creating
        LDM_RUNFILE_CRASH_AT=$at $MPI -n 2 "$ldm" sweep "$here/wire-resume.json" -o cut.h5 \
            --model "$model" --grid 1x2 --checkpoint-every 1 -q >cut.log 2>&1
        if [ -f cut.h5 ] && "$ldm" status cut.h5 2>/dev/null | grep -q "partial 1" &&
           "$ldm" status cut.h5 | grep -q "(\([1-9]\|1[01]\) steps left)"; then
            partial=1; break
        fi
    done
    if [ $partial -eq 0 ]; then
        echo "FAILED: no crash point left a partial checkpoint"; "$ldm" status cut.h5; fail=1
    else
        "$ldm" status cut.h5 | sed -n 2,3p
        if timeout 120 "$ldm" resume cut.h5 --model "$model" -q >resume.log 2>&1 &&
           timeout 120 "$ldm" export cut.h5 cut >>resume.log 2>&1; then
            same one cut
        else
            echo "FAILED: resume at 1 rank of a 2-rank --grid 1x2 checkpoint"; cat resume.log; fail=1
        fi
    fi
    # Written at 1 rank, resumed at 2 ranks under --grid 1x2.
    partial=0
    for at in 90 70 110; do
        rm -f cut1.h5 cut1.h5.creating
        (LDM_RUNFILE_CRASH_AT=$at exec timeout 120 "$ldm" sweep "$here/wire-resume.json" \
            -o cut1.h5 --model "$model" --checkpoint-every 1 -q) >cut1.log 2>&1
        if [ -f cut1.h5 ] && "$ldm" status cut1.h5 2>/dev/null | grep -q "partial 1" &&
           "$ldm" status cut1.h5 | grep -q "(\([1-9]\|1[01]\) steps left)"; then
            partial=1; break
        fi
    done
    if [ $partial -eq 0 ]; then
        echo "FAILED: no 1-rank crash point left a partial checkpoint"; fail=1
    elif $MPI -n 2 "$ldm" resume cut1.h5 --model "$model" --grid 1x2 -q >resume1.log 2>&1 &&
         timeout 120 "$ldm" export cut1.h5 cut1 >>resume1.log 2>&1; then
        "$ldm" status cut1.h5 | sed -n 2p
        same one cut1
    else
        echo "FAILED: resume at 2 ranks (--grid 1x2) of a 1-rank checkpoint"; cat resume1.log; fail=1
    fi
fi
[ "$fail" -eq 0 ] && echo "sweeps with a grid at $np ranks match the 1-process sweep"
exit $fail
