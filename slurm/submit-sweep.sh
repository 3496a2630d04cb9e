#!/bin/bash
# slurm/submit-sweep.sh — submit a sweep as a job array of N shards and the
# merge step that runs when every shard has finished (requeues included).
#
#   slurm/submit-sweep.sh SPEC.json N OUT [extra sbatch options...]
#
# LDM, MODEL, LAUNCHER, CHECKPOINT_EVERY are passed on from the environment.
# Prints the array job id and the merge job id.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 SPEC.json N OUT [sbatch options...]" >&2; exit 1; }
spec=$(realpath "$1"); n=$2; out=$(realpath -m "$3"); shift 3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
export SPEC=$spec OUT=$out
array=$(sbatch --parsable --array="0-$((n - 1))" --output="$out/sweep-%A_%a.out" "$@" "$here/sweep-array.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
        --output="$out/merge-%j.out" "$@" "$here/sweep-merge.sbatch")
merge=${merge%%;*}
echo "array $array merge $merge"
