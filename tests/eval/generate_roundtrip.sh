#!/usr/bin/env bash
# generate_roundtrip.sh LDM_EVAL FIXTURES WORKDIR
# `ldm-eval generate --save` then `ldm-eval score` of the saved PNGs: the
# per-image judgments and the table must be the same (the saved prompt chunk
# is the caption, the pixels are what was judged).
set -eu
eval_bin=$1; fixtures=$2; work=$3
rm -rf "$work"; mkdir -p "$work/png"
"$eval_bin" generate --model "$fixtures/tiny-ldm" --captions "$fixtures/eval/heldout_captions.txt" \
    --per-kind 2 --seeds 2 --guidance 4 --steps 3 --height 64 --width 64 --batch 5 --threads 1 \
    --save "$work/png" > "$work/generate.txt"
"$eval_bin" score "$work/png" > "$work/score.txt"
n=$(ls "$work/png" | wc -l)
[ "$n" -eq 12 ] || { echo "expected 12 PNGs, got $n" >&2; exit 1; }
# Per-image lines without their label; table rows without the guidance column.
grep ' background=' "$work/generate.txt" | cut -d' ' -f2- > "$work/a.txt"
grep ' background=' "$work/score.txt" | cut -d' ' -f2- > "$work/b.txt"
grep '^| 4 |' "$work/generate.txt" | cut -d'|' -f3- > "$work/ta.txt"
grep '^| - |' "$work/score.txt" | cut -d'|' -f3- > "$work/tb.txt"
[ "$(wc -l < "$work/a.txt")" -eq 12 ] && [ -s "$work/ta.txt" ] || { echo "missing output" >&2; cat "$work/generate.txt" >&2; exit 1; }
diff "$work/a.txt" "$work/b.txt" && diff "$work/ta.txt" "$work/tb.txt"
cat "$work/generate.txt"
