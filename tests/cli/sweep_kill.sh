#!/bin/sh
# sweep_kill.sh LDM MPIEXEC MODEL SPEC TMP MODE
# Crash tests of `ldm sweep`/`ldm resume` against one uninterrupted run:
#   crash  — LDM_RUNFILE_CRASH_AT=n kills a rank with SIGKILL at its n-th
#            run-file write point (several n: inside checkpoint writes, image
#            writes, flips), on 2 and 4 ranks; resumed on another rank count;
#   kill9  — kill -9 of one rank at random moments (seeded, so repeatable);
#   signal — SIGTERM to every rank mid-run: exit 3, then resume.
# After every kill h5dump -H must open the file; after the resume every
# exported PNG must be byte-identical to the uninterrupted run's.
set -u
LDM=$1; MPIEXEC=$2; MODEL=$3; SPEC=$4; TMP=$5; MODE=$6
MPI="$MPIEXEC --oversubscribe --allow-run-as-root"
export OMP_NUM_THREADS=1
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$TMP"; mkdir -p "$TMP/ref" || exit 1

# Same relative names in every folder, so the stored command line and hence
# the PNG metadata are the same bytes.
sweep() { # DIR NP [env...]
    d=$1; np=$2; shift 2
    (cd "$d" && $MPI -n "$np" env "$@" "$LDM" sweep spec.json -o run.h5 --model "$MODEL" \
        --checkpoint-every 1 -q --force)
}
resume() { (cd "$1" && $MPI -n "$2" "$LDM" resume run.h5 --model "$MODEL" -q); }
compare() { # DIR: export and cmp every image with the reference
    (cd "$1" && "$LDM" export run.h5 png 2>/dev/null) || fail "$1: export"
    n=0
    for f in "$TMP/ref/png"/item-*.png; do
        cmp -s "$f" "$1/png/$(basename "$f")" || fail "$1: $(basename "$f") differs"
        n=$((n + 1))
    done
    echo "$1: $n images identical"
}

cp "$SPEC" "$TMP/ref/spec.json"
sweep "$TMP/ref" 1 LDM_NONE=1 >/dev/null 2>&1 || fail "uninterrupted run"
(cd "$TMP/ref" && "$LDM" export run.h5 png 2>/dev/null) || fail "reference export"
total=$(ls "$TMP/ref/png"/item-*.png | wc -l)
[ "$total" -gt 0 ] || fail "no reference images"

case $MODE in
crash)
    for case in "2 3 1" "2 70 3" "2 97 1" "2 130 3" "4 75 1" "4 110 2" "4 150 3"; do
        set -- $case; np=$1; at=$2; rnp=$3
        d="$TMP/crash-$np-$at"; mkdir -p "$d"; cp "$SPEC" "$d/spec.json"
        sweep "$d" "$np" LDM_RUNFILE_CRASH_AT="$at" >/dev/null 2>&1
        rc=$?
        if [ ! -f "$d/run.h5" ]; then  # killed while creating: start again
            echo "$d: killed during creation (rc $rc), sweeping again"
            sweep "$d" "$np" LDM_NONE=1 >/dev/null 2>&1 || fail "$d: second sweep"
        else
            [ $rc -ne 0 ] || echo "$d: note: finished before write point $at"
            h5dump -H "$d/run.h5" >/dev/null 2>&1 || fail "$d: h5dump cannot open after the crash"
            (cd "$d" && "$LDM" status run.h5 | sed -n 2p)
            resume "$d" "$rnp" >/dev/null 2>&1 || fail "$d: resume on $rnp ranks"
        fi
        compare "$d"
    done ;;
kill9)
    for seed in 1 2 3 4; do
        np=$((seed % 2 * 2 + 2)); rnp=$((5 - np + seed % 2))
        d="$TMP/kill9-$seed"; mkdir -p "$d"; cp "$SPEC" "$d/spec.json"
        (cd "$d" && exec $MPI -n "$np" "$LDM" sweep spec.json -o run.h5 --model "$MODEL" \
            --checkpoint-every 1 -q) >/dev/null 2>&1 &
        mpid=$!
        # wait until the file exists, then a seeded random 0-0.39 s more
        i=0; while [ ! -f "$d/run.h5" ] && [ $i -lt 300 ]; do sleep 0.02; i=$((i + 1)); done
        sleep "0.$(awk -v s="$seed" 'BEGIN { srand(s); printf "%02d", rand() * 40 }')"
        victim=$(pgrep -P "$mpid" | head -n 1)
        [ -n "$victim" ] && kill -9 "$victim"
        wait "$mpid"
        h5dump -H "$d/run.h5" >/dev/null 2>&1 || fail "$d: h5dump cannot open after kill -9"
        (cd "$d" && "$LDM" status run.h5 | sed -n 2p)
        resume "$d" "$rnp" >/dev/null 2>&1 || fail "$d: resume on $rnp ranks"
        compare "$d"
    done ;;
signal)
    d="$TMP/signal"; mkdir -p "$d"; cp "$SPEC" "$d/spec.json"
    (cd "$d" && exec $MPI -n 2 "$LDM" sweep spec.json -o run.h5 --model "$MODEL" \
        --checkpoint-every 100 -q) >/dev/null 2>&1 &
    mpid=$!
    i=0; while [ ! -f "$d/run.h5" ] && [ $i -lt 300 ]; do sleep 0.02; i=$((i + 1)); done
    sleep 0.2
    for r in $(pgrep -P "$mpid"); do kill -TERM "$r"; done
    wait "$mpid"; rc=$?
    (cd "$d" && "$LDM" status run.h5 | sed -n 2p)
    if [ $rc -eq 0 ]; then echo "$d: finished before the signal: nothing to test"; exit 77; fi
    [ $rc -eq 3 ] || fail "$d: exit $rc after SIGTERM, expected 3"
    h5dump -H "$d/run.h5" >/dev/null 2>&1 || fail "$d: h5dump"
    resume "$d" 3 >/dev/null 2>&1 || fail "$d: resume"
    compare "$d" ;;
esac
echo PASS
