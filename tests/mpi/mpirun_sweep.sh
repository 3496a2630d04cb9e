#!/bin/sh
# mpirun_sweep.sh LDM MPIEXEC NP COMPARE MODEL TMP
# `ldm sweep` at NP ranks with groups and CFG branches (items with guidance
# 1 and 4) against a 1-process sweep of the same spec in this run: every
# exported PNG within 1 level (stopping and resuming: tests/cli/sweep_kill.sh).
set -u
ldm=$1; mpiexec=$2; np=$3; compare=$4; model=$5; tmp=$6
rm -rf "$tmp"; mkdir -p "$tmp"; cd "$tmp" || exit 1
export OMP_NUM_THREADS=1
spec=$(cd "$(dirname "$0")" && pwd)/mpirun-sweep.json
fail=0
sweep() { # name ranks flags...
    name=$1; n=$2; shift 2
    if ! timeout 300 $mpiexec --oversubscribe --allow-run-as-root -n "$n" "$ldm" sweep "$spec" -o "$name.h5" \
            --model "$model" --checkpoint-every 2 -q "$@" >"$name.log" 2>&1 ||
       ! "$ldm" export "$name.h5" "$name" >>"$name.log" 2>&1; then
        echo "FAILED: sweep at $n ranks $*"; cat "$name.log"; fail=1; return 1
    fi
}
sweep ref 1 || exit 1
check() {
    count=0
    for f in ref/*.png; do
        b=$(basename "$f")
        case $b in *sheet*|*contact*) continue ;; esac
        "$compare" png "$f" "$1/$b" 1 2>/dev/null || { echo "$1/$b differs from $f"; fail=1; }
        count=$((count + 1))
    done
    [ "$count" -ge 8 ] || { echo "only $count images exported"; fail=1; }
}
sweep default "$np" && check default
if [ $((np % 2)) -eq 0 ]; then
    sweep cfg "$np" --groups $((np / 2)) --cfg-parallel && check cfg
fi
[ "$fail" -eq 0 ] && echo "sweeps at $np ranks match the 1-process sweep"
exit $fail
