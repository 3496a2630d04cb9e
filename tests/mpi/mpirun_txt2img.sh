#!/bin/sh
# mpirun_txt2img.sh LDM MPIEXEC NP COMPARE MODEL TMP
# `ldm txt2img` at NP ranks with each process layout that fits NP (--groups,
# --cfg-parallel, both) against the same request made by one process in
# this run: the final latents (--save-latents) within relative L2 1e-5 and
# every PNG within 1 level (DESIGN.md §3), and the --timings CSV of every
# rank checked by the comparator. Two prompts × 2 images: 4 batch entries,
# uneven over 3 groups; DDIM with eta > 0, so the per-step noise slices are
# exercised too.
set -u
ldm=$1; mpiexec=$2; np=$3; compare=$4; model=$5; tmp=$6
rm -rf "$tmp"; mkdir -p "$tmp"; cd "$tmp" || exit 1
export OMP_NUM_THREADS=1
req="--model $model --prompt a_red_circle --prompt two_blue_squares --num-images-per-prompt 2
     --height 64 --width 64 --steps 3 --guidance-scale 5 --eta 0.5 --seed 7"
fail=0
"$ldm" txt2img $req -o ref.png --save-latents ref.npy 2>ref.log || { cat ref.log; exit 1; }

check() { # name: compare name.npy and name-*.png with the reference
    "$compare" npy ref.npy "$1.npy" 1e-5 || fail=1
    for i in 0 1 2 3; do "$compare" png "ref-$i.png" "$1-$i.png" 1 || fail=1; done
}
run() { # name flags...: one layout at np ranks, timings CSV checked too
    name=$1; shift
    if ! timeout 300 $mpiexec --oversubscribe --allow-run-as-root -n "$np" "$ldm" txt2img $req "$@" \
            -o "$name.png" --save-latents "$name.npy" --timings "$name.csv" >"$name.log" 2>&1; then
        echo "FAILED: np $np $*"; cat "$name.log"; fail=1; return
    fi
    check "$name"
    "$compare" csv "$name.csv" "$np" || fail=1
    # Only world rank 0 prints progress and writes: one "wrote" line per image.
    n=$(grep -c "^wrote $name-" "$name.log")
    [ "$n" -eq 4 ] || { echo "np $np $*: $n 'wrote' lines, expected 4"; cat "$name.log"; fail=1; }
}

run default
run groups --groups "$np"
if [ $((np % 2)) -eq 0 ]; then
    run cfg --groups $((np / 2)) --cfg-parallel
    run cfg-grid --cfg-parallel --grid 1x1
fi
[ "$fail" -eq 0 ] && echo "all layouts at $np ranks match the 1-process run"
exit $fail
