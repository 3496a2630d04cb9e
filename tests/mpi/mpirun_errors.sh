#!/bin/sh
# mpirun_errors.sh LDM MPIEXEC NP MODEL TMP
# Bad process layouts and other failures at NP ranks: exit code 1 on every
# rank count, the message naming the flag printed exactly once (by world
# rank 0), a failure of one rank named with its rank.
set -u
ldm=$1; mpiexec=$2; np=$3; model=$4; tmp=$5
rm -rf "$tmp"; mkdir -p "$tmp"; cd "$tmp" || exit 1
export OMP_NUM_THREADS=1
base="--model $model --prompt x --height 64 --width 64 --steps 2"
fail=0
expect() { # code needle flags...: one error line containing needle
    code=$1; needle=$2; shift 2
    timeout 300 $mpiexec --oversubscribe --allow-run-as-root -n "$np" "$ldm" txt2img $base "$@" >out.log 2>err.log
    got=$?
    lines=$(grep -c "error:" err.log)
    if [ "$got" -ne "$code" ] || ! grep -qF -- "$needle" err.log || [ "$lines" -ne 1 ]; then
        echo "FAILED at $np ranks: $* -> exit $got, $lines error line(s), wanted $code and once: $needle"
        cat err.log; fail=1
    fi
}
expect 1 "--groups: expected a positive integer, got \"0\"" --groups 0
expect 1 "--grid: expected PcxPs" --grid 2y2
expect 1 "--groups 5: does not divide the $np ranks" --groups 5
expect 1 "--cfg-parallel: this run has no classifier-free guidance" --cfg-parallel
# At 2 ranks a 2x1 grid in one group fits (the model split, tests/mpi/wire_*).
[ "$np" -ne 2 ] && expect 1 "--grid 2x1" --grid 2x1 --groups 1
expect 1 "--timings: expected no value or a FILE.csv, got \"t.txt\"" --timings t.txt
expect 1 "--checkpoint runs its one image" --checkpoint r.h5 --cfg-parallel
if [ "$np" -eq 2 ]; then
    expect 1 "--grid: Ps = 2 is larger than the smallest latent row count it must split (1)" --grid 1x2 --height 16
fi
if [ "$np" -eq 3 ]; then
    expect 1 "--cfg-parallel: 3 ranks do not pair up into CFG branches" --cfg-parallel --guidance-scale 3
    expect 1 "--grid: Pc = 3 must divide the GroupNorm groups (8)" --grid 3x1
fi
# Only world rank 0 writes: its failure is named with its rank (none at 1 rank).
if [ "$np" -gt 1 ]; then who="rank 0: error: "; else who="error: "; fi
expect 1 "${who}/nonexistent/dir/x.png" -o /nonexistent/dir/x.png
[ "$fail" -eq 0 ] && echo "all error cases at $np ranks as expected"
exit $fail
