#!/bin/sh
# txt2img_checkpoint.sh LDM FIXTURES TMP — `ldm txt2img --checkpoint RUN.h5`:
# killed (SIGKILL at exact run-file write points via LDM_RUNFILE_CRASH_AT)
# and resumed with `ldm resume`, the image equals an uninterrupted run's
# byte for byte; h5dump opens every killed file. Also the uninterrupted
# checkpointed run writes the same PNG as plain txt2img.
set -u
ldm=$1; fixtures=$2; tmp=$3
command -v h5dump >/dev/null || { echo "h5dump missing (hdf5-tools)"; exit 77; }
rm -rf "$tmp"; mkdir -p "$tmp"
export OMP_NUM_THREADS=1
args="--model $fixtures/tiny-ldm --height 64 --width 64 --steps 6 --guidance-scale 5 --eta 0.5 --seed 3 --checkpoint-every 2"
fail=0; pass=0; resumed=0
"$ldm" txt2img --prompt "a red circle" $args -o "$tmp/plain.png" 2>/dev/null || { echo "plain txt2img failed"; exit 1; }
"$ldm" txt2img --prompt "a red circle" $args -o "$tmp/ref.png" --checkpoint "$tmp/ref.h5" 2>/dev/null \
  || { echo "checkpointed txt2img failed"; exit 1; }
if cmp -s "$tmp/plain.png" "$tmp/ref.png"; then pass=$((pass + 1)); else echo "checkpointed PNG differs from plain txt2img"; fail=$((fail + 1)); fi
"$ldm" export "$tmp/ref.h5" "$tmp/ref-export" >/dev/null 2>&1 || { echo "export failed"; exit 1; }
for k in 58 61 64 67 70 73; do
  rm -rf "$tmp/k.h5" "$tmp/k-export"
  LDM_RUNFILE_CRASH_AT=$k "$ldm" txt2img --prompt "a red circle" $args -o "$tmp/k.png" --checkpoint "$tmp/k.h5" >/dev/null 2>&1
  rc=$?
  [ "$rc" -ne 0 ] && [ -f "$tmp/k.h5" ] || continue
  if ! h5dump -H "$tmp/k.h5" >/dev/null 2>&1; then echo "k=$k: h5dump cannot open the killed file"; fail=$((fail + 1)); continue; fi
  "$ldm" resume "$tmp/k.h5" --model "$fixtures/tiny-ldm" -q >/dev/null 2>&1 || { echo "k=$k: resume failed"; fail=$((fail + 1)); continue; }
  "$ldm" export "$tmp/k.h5" "$tmp/k-export" >/dev/null 2>&1 || { echo "k=$k: export failed"; fail=$((fail + 1)); continue; }
  if cmp -s "$tmp/ref-export/item-00000.png" "$tmp/k-export/item-00000.png"; then
    pass=$((pass + 1)); resumed=$((resumed + 1))
  else
    echo "k=$k: resumed image differs from the uninterrupted run"; fail=$((fail + 1))
  fi
done
[ "$resumed" -ge 3 ] || { echo "only $resumed kills left a resumable file (write points moved?)"; fail=$((fail + 1)); }
# Bad uses: a batch, and an existing run file without --force.
if "$ldm" txt2img --prompt a --prompt b $args --checkpoint "$tmp/x.h5" 2>"$tmp/err"; then fail=$((fail + 1)); echo "batch accepted";
elif grep -q "checkpoint runs one image" "$tmp/err"; then pass=$((pass + 1)); else fail=$((fail + 1)); cat "$tmp/err"; fi
"$ldm" txt2img --prompt a $args -o "$tmp/y.png" --checkpoint "$tmp/ref.h5" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q -- "--force" "$tmp/err"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "existing run file: rc=$rc"; cat "$tmp/err"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
