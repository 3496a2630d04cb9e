#!/bin/sh
# sweep_trajectory.sh LDM MPIEXEC FIXTURES TMP — `ldm sweep --trajectory 2`:
# the frames hold the latents after steps 2, 4, … (not zeros), and a 2-rank
# sweep writes exactly the frames of a 1-rank sweep. Needs h5dump.
set -u
ldm=$1; mpiexec=$2; fixtures=$3; tmp=$4
command -v h5dump >/dev/null || { echo "h5dump missing (hdf5-tools)"; exit 77; }
rm -rf "$tmp"; mkdir -p "$tmp"
spec="$(dirname "$0")/sweep-kill.json"
run() { # ranks out
  OMP_NUM_THREADS=1 "$mpiexec" --oversubscribe --allow-run-as-root -n "$1" \
    "$ldm" sweep "$spec" -o "$2" --model "$fixtures/tiny-ldm" --trajectory 2 -q
}
run 1 "$tmp/one.h5" || { echo "1-rank sweep failed"; exit 1; }
run 2 "$tmp/two.h5" || { echo "2-rank sweep failed"; exit 1; }
h5dump -d /trajectory/g0 "$tmp/one.h5" | sed 1,2d > "$tmp/one.txt" || exit 1
h5dump -d /trajectory/g0 "$tmp/two.h5" | sed 1,2d > "$tmp/two.txt" || exit 1
grep -q "DATASPACE  SIMPLE { ( 16, 6, 4, 8, 8 )" "$tmp/one.txt" || { echo "unexpected trajectory shape:"; grep DATASPACE "$tmp/one.txt"; exit 1; }
cmp -s "$tmp/one.txt" "$tmp/two.txt" || { echo "2-rank trajectory differs from 1-rank"; exit 1; }
# 16 items (2 prompts × 2 seeds × 2 guidance × 2 step counts); 12 steps → 6 frames.
nonzero=$(grep -o -E '[-]?[0-9]+\.[0-9]+(e[-+][0-9]+)?' "$tmp/one.txt" | grep -v -c -E '^-?0(\.0+)?$')
[ "$nonzero" -gt 1000 ] || { echo "trajectory is (nearly) empty: $nonzero non-zero values"; exit 1; }
echo "1 passed, 0 failed"
