#!/bin/bash
# test_slurm.sh LDM SRC WORK — every script in slurm/ submitted to a real,
# private one-node Slurm (munged + slurmctld + slurmd from Debian's packages,
# started here on 127.0.0.1 with their state in a temporary folder, stopped
# by PID at the end; tests/slurm/cluster.sh) with the shipped model:
#   1. txt2img.sbatch, one image on 1 rank through srun: the reference;
#   2. txt2img.sbatch, the same image, given the
#      time-limit warning (SIGUSR1 to the batch shell, as --signal=B:USR1
#      delivers it) after its first checkpoint: ldm checkpoints and exits 3,
#      the job requeues itself, the second run (SLURM_RESTART_COUNT=1)
#      resumes; the PNG must be byte-identical to 1's, and the run file must
#      record both runs with their restart counts;
#   3. txt2img.sbatch with a small batch (SPEC) on 2 ranks through mpirun;
#   4. sweep-array.sbatch as a 3-task array + sweep-merge.sbatch after it
#      (submit-sweep.sh): every shard's images equal the rows of one
#      unsharded sweep, and the index names every item once;
#   5. scaling.sbatch at 1 and 2 ranks (strong and weak) and its table, when
#      this ldm has `txt2img --timings FILE.csv`.
# If the daemons cannot start, the test fails and prints their logs.
set -u
LDM=$(realpath "$1"); SRC=$(realpath "$2"); WORK=$3
export PATH=$PATH:/usr/sbin:/sbin
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
rm -rf "$WORK"; mkdir -p "$WORK"; WORK=$(realpath "$WORK")
# The daemons' state: a short path (the munge socket path has a length limit).
STATE=$(mktemp -d /tmp/ldm-slurm.XXXXXX)
. "$SRC/tests/slurm/cluster.sh"

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
finish() {
    cluster_stop
    if [ "$fails" -gt 0 ]; then
        cp -r "$STATE/log" "$WORK/daemon-logs" 2>/dev/null
        echo "daemon logs kept in $WORK/daemon-logs"
    fi
    rm -rf "$STATE"
}
trap finish EXIT
trap 'exit 1' TERM INT

t0=$(date +%s)
cluster_start "$STATE" || { echo "FAIL: the Slurm daemons did not start (logs above)"; exit 1; }
cd "$WORK" || exit 1
export LDM SPEC="" LDM_SRC="$SRC"
S=$SRC/slurm
elapsed() { echo "[$(($(date +%s) - t0)) s]"; }
show_log() { echo "----- $1 -----"; cat "$1" 2>/dev/null; echo "-----"; }
job_of() { sed -n 's/^Submitted batch job \([0-9]*\).*/\1/p' "$1"; }

# The image of jobs 1 and 2: enough steps (a few seconds) that the warning
# surely lands mid-run, also on a fast machine; checkpoints every 3 steps.
IMG_ARGS="--steps 500 --guidance-scale 3 --eta 0.5 --seed 4"

# ---- 1, 3, 4 run side by side ----------------------------------------------------
sbatch --wait --ntasks-per-node=1 -o "$WORK/ref.log" \
    --export=ALL,OUT="$WORK/ref",CHECKPOINT_EVERY=3,ARGS="$IMG_ARGS" \
    "$S/txt2img.sbatch" >"$WORK/ref.sbatch" 2>&1 &
ref_pid=$!
cat >"$WORK/batch.json" <<'EOF'
{ "name": "slurm-batch", "prompts": ["a red circle", "a green square"], "seeds": [0],
  "guidance_scales": [3.0], "steps": 8, "sizes": [[64, 64]], "scheduler": "ddim" }
EOF
sbatch --wait --ntasks-per-node=2 -o "$WORK/batch.log" \
    --export=ALL,OUT="$WORK/batch",SPEC="$WORK/batch.json",CHECKPOINT_EVERY=4,LAUNCHER=mpirun \
    "$S/txt2img.sbatch" >"$WORK/batch.sbatch" 2>&1 &
batch_pid=$!
cat >"$WORK/sweep.json" <<'EOF'
{ "name": "slurm-sweep", "prompts": ["a red circle", "a blue square on a green background"],
  "seeds": [0, 1, 2], "guidance_scales": [3.0], "steps": 6, "etas": 0.5,
  "sizes": [[64, 64]], "scheduler": "ddim" }
EOF
# One thread per task, as the reference: ldm's results depend on the thread
# count in the last bits (docs/slurm.md).
CHECKPOINT_EVERY=2 "$S/submit-sweep.sh" "$WORK/sweep.json" 3 "$WORK/sweep" --cpus-per-task=1 >"$WORK/submit.out" 2>&1 \
    || { cat "$WORK/submit.out"; fail "submit-sweep.sh"; }
read -r _ array_job _ merge_job <"$WORK/submit.out"
# The unsharded reference sweep, outside Slurm.
"$LDM" sweep "$WORK/sweep.json" -o "$WORK/sweep-ref.h5" -q >"$WORK/sweep-ref.log" 2>&1 \
    || { cat "$WORK/sweep-ref.log"; fail "reference sweep"; }

before=$fails
wait "$ref_pid"; rc=$?
[ $rc -eq 0 ] || { show_log "$WORK/ref.log"; fail "1: the reference job exited $rc"; }
[ -f "$WORK/ref/item-00000.png" ] || fail "1: no $WORK/ref/item-00000.png"
ref_job=$(job_of "$WORK/ref.sbatch")
"$LDM" status "$WORK/ref/image.h5" >"$WORK/ref.status" 2>&1
grep -q "^slurm run 1: job $ref_job, restart 0, 1 ranks$" "$WORK/ref.status" \
    || { cat "$WORK/ref.status"; fail "1: the run file does not record job $ref_job"; }
[ $fails -eq "$before" ] && echo "$(elapsed) 1: reference image (srun), job $ref_job"

before=$fails
wait "$batch_pid"; rc=$?
[ $rc -eq 0 ] || { show_log "$WORK/batch.log"; fail "3: the batch job exited $rc"; }
for f in item-00000.png item-00001.png; do
    [ -f "$WORK/batch/$f" ] || fail "3: no $WORK/batch/$f"
done
"$LDM" status "$WORK/batch/batch.h5" >"$WORK/batch.status" 2>&1
grep -q "done 2, partial 0, pending 0" "$WORK/batch.status" && grep -q "^slurm run 1: job [0-9]*, restart 0, 2 ranks$" "$WORK/batch.status" \
    || { cat "$WORK/batch.status"; fail "3: batch not done on 2 ranks"; }
[ $fails -eq "$before" ] && echo "$(elapsed) 3: small batch on 2 ranks (mpirun)"

# ---- 2: warning signal, checkpoint, requeue, resume -------------------------------
before=$fails
sbatch --wait --ntasks-per-node=1 -o "$WORK/requeue.log" \
    --export=ALL,OUT="$WORK/requeue",CHECKPOINT_EVERY=3,ARGS="$IMG_ARGS" \
    "$S/txt2img.sbatch" >"$WORK/requeue.sbatch" 2>&1 &
rq_pid=$!
for _ in $(seq 600); do
    [ -s "$WORK/requeue.sbatch" ] && break
    sleep 0.1
done
rq_job=$(job_of "$WORK/requeue.sbatch")
# The warning once the first checkpoint is committed.
state=""
for _ in $(seq 1200); do
    if [ -f "$WORK/requeue/image.h5" ]; then
        state=$("$LDM" status "$WORK/requeue/image.h5" 2>/dev/null | sed -n 's/^done \([0-9]*\), partial \([0-9]*\).*/\1\2/p')
        [ "$state" = "01" ] || [ "$state" = "10" ] && break
    fi
    sleep 0.1
done
[ "$state" = "01" ] || fail "2: no checkpoint seen before the image was done (state '$state'): the run is too short for this machine"
scancel --signal=USR1 --batch "$rq_job" || fail "2: scancel --signal=USR1 --batch $rq_job"
echo "$(elapsed) 2: job $rq_job warned after its first checkpoint"
wait "$rq_pid"; rc=$?
[ $rc -eq 0 ] || fail "2: the requeued job exited $rc"
grep -q "SIGUSR1, asking ldm to checkpoint" "$WORK/requeue.log" || fail "2: the batch shell did not get the warning"
grep -q "ldm stopped (exit 3): requeueing job $rq_job (restart 0)" "$WORK/requeue.log" \
    || fail "2: ldm did not checkpoint and exit 3, or the job did not requeue itself"
grep -q "job $rq_job restart 1:" "$WORK/requeue.log" || fail "2: no second run with SLURM_RESTART_COUNT=1"
"$LDM" status "$WORK/requeue/image.h5" >"$WORK/requeue.status" 2>&1
grep -q "^slurm run 1: job $rq_job, restart 0, 1 ranks$" "$WORK/requeue.status" \
    && grep -q "^slurm run 2: job $rq_job, restart 1, 1 ranks$" "$WORK/requeue.status" \
    || { cat "$WORK/requeue.status"; fail "2: the run file does not record restarts 0 and 1 of job $rq_job"; }
cmp "$WORK/ref/item-00000.png" "$WORK/requeue/item-00000.png" \
    || fail "2: the requeued job's image differs from the uninterrupted run's"
[ $fails -eq "$before" ] || show_log "$WORK/requeue.log"
[ $fails -eq "$before" ] && echo "$(elapsed) 2: requeued, resumed, image identical to the uninterrupted run's"

# ---- 4: the array and its merge ------------------------------------------------------
before=$fails
# sbatch --wait on the merge job (it starts when every array task is done).
for _ in $(seq 1200); do
    [ -z "$(squeue -h -j "$array_job,$merge_job" -o %i 2>/dev/null)" ] && break
    sleep 0.5
done
[ -f "$WORK/sweep/index.tsv" ] || { for f in "$WORK"/sweep/*.out; do show_log "$f"; done; fail "4: no index.tsv"; }
# Every shard's images are the reference sweep's rows first .. first+n-1.
n_items=0
for s in 0 1 2; do
    run=$(printf '%s/sweep/shard-%04d-of-0003.h5' "$WORK" "$s")
    first=$(awk -F'\t' -v s="$s" 'NR > 1 && $2 == s { print $1; exit }' "$WORK/sweep/index.tsv")
    n=$(awk -F'\t' -v s="$s" 'NR > 1 && $2 == s' "$WORK/sweep/index.tsv" | wc -l)
    h5dump -d /images/g0 -b LE -o "$WORK/shard$s.bin" "$run" >/dev/null 2>&1 || fail "4: h5dump $run"
    h5dump -d /images/g0 -s "$first,0,0,0" -c "$n,64,64,3" -b LE -o "$WORK/ref$s.bin" "$WORK/sweep-ref.h5" >/dev/null 2>&1 \
        || fail "4: h5dump of the reference rows $first+$n"
    cmp -s "$WORK/shard$s.bin" "$WORK/ref$s.bin" || fail "4: shard $s images differ from the unsharded sweep's items $first..$((first + n - 1))"
    grep -q "(array ${array_job}_$s)" <("$LDM" status "$run") || fail "4: $run does not record array task ${array_job}_$s"
    n_items=$((n_items + n))
done
[ "$n_items" -eq 6 ] || fail "4: the index lists $n_items items, the sweep has 6"
for g in 0 1 2 3 4 5; do
    f=$(printf '%s/sweep/images/item-%05d.png' "$WORK" "$g")
    [ -f "$f" ] || fail "4: no $f"
done
[ $fails -eq "$before" ] && echo "$(elapsed) 4: 3-task array + merge: 6 items indexed, images equal to one unsharded sweep's"

# ---- 5: the scaling study ------------------------------------------------------------
before=$fails
if "$LDM" txt2img --help | grep -q 'FILE.csv'; then
    sbatch --wait --ntasks=2 -o "$WORK/scaling.log" \
        --export=ALL,OUT="$WORK/scaling",STRONG="1; 2",WEAK="1; 2",ARGS="--steps 10 --guidance-scale 3" \
        "$S/scaling.sbatch" >/dev/null 2>&1
    rc=$?
    [ $rc -eq 0 ] || { show_log "$WORK/scaling.log"; fail "5: the scaling job exited $rc"; }
    for f in strong-np1 strong-np2 weak-np1 weak-np2; do
        [ -s "$WORK/scaling/csv/$f.csv" ] || fail "5: no $f.csv"
    done
    rows=$(awk -F'\t' 'NR > 1' "$WORK/scaling/scaling.tsv" 2>/dev/null | wc -l)
    [ "$rows" -eq 4 ] || fail "5: scaling.tsv has $rows runs, expected 4"
    [ $fails -eq "$before" ] && echo "$(elapsed) 5: scaling study at 1 and 2 ranks: table of 4 runs"
else
    echo "5: NOT RUN: this ldm has no 'txt2img --timings FILE.csv' yet (slurm/scaling.sbatch needs it)"
fi

echo "$(elapsed) total"
[ $fails -eq 0 ] && echo "slurm: all checks passed"
exit $((fails > 0))
