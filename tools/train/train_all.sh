#!/bin/sh
# Retrain models/ldm-shapes from scratch (deterministic data from seed 0).
# Usage: tools/train/train_all.sh [scratch-dir]   (run from the repository root)
# Needs /opt/ldmref/bin/python (torch, diffusers 0.27.2, transformers 4.38.2) and
# Debian's libjemalloc2 (3-5x faster CPU training; see tools/train/README.md).
# Measured on a 2-core machine shared with other jobs: stage 1 ~22 min, stage 2 ~20 min
# (3 min of it encoding the training set), evaluation ~8 min.
set -e
S=${1:-/work/train-scratch}
PY=${PY:-/opt/ldmref/bin/python}
ROOT=$(pwd)
export LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 OMP_WAIT_POLICY=PASSIVE
cd tools/train
$PY train_vae.py --out "$S" --seed 0 --steps 430 --decay-from 350 --ckpt-every 50
$PY train_ldm.py --scratch "$S" --seed 0 --steps 1100 --save-every 500
rm -rf "$ROOT/models/ldm-shapes.new"
cp -r "$S/pipe_1100" "$ROOT/models/ldm-shapes.new"
$PY evaluate.py --model "$ROOT/models/ldm-shapes.new" --out "$S/eval" \
    --grid "$ROOT/docs/images/ldm-shapes-samples.png"
echo "new model in models/ldm-shapes.new (compare, then replace models/ldm-shapes)"
