#!/bin/sh
# info_grid.sh LDM MODEL — `ldm info --grid`: at 1x1 every rank holds all
# weights, and the totals equal the bytes the weight files hold (a check of
# the spec-based count against the files); at 2x1 a rank holds between half
# and all of them; activations shrink with Ps; bad --grid is exit 1.
set -u
ldm=$1; model=$2
fail=0
"$ldm" info --model "$model" --grid 1x1 --height 64 --width 64 >one.txt || exit 1
"$ldm" info --model "$model" --grid 2x1 --height 64 --width 64 >two.txt || exit 1
"$ldm" info --model "$model" --grid 1x4 --height 512 --width 512 >four.txt || exit 1
"$ldm" info --model "$model" --grid 1x1 --height 512 --width 512 >big.txt || exit 1
field() { awk -v c="$2" -v k="$3" '$1 == c && $2 == "weights" { print (k == "total" ? $3 : $7) }' "$1"; }
for c in bert unet all; do
    t1=$(field one.txt $c total); p1=$(field one.txt $c rank); t2=$(field two.txt $c total); p2=$(field two.txt $c rank)
    [ -n "$t1" ] && [ "$t1" = "$p1" ] && [ "$t1" = "$t2" ] || { echo "$c: 1x1 total $t1 per rank $p1, 2x1 total $t2"; fail=1; }
    awk -v t="$t2" -v p="$p2" 'BEGIN { exit !(p < t && p >= t / 2 - 0.01) }' || { echo "$c: 2x1 per rank $p2 of $t2"; fail=1; }
done
for c in bert unet; do # the file's MB column (fp32 fixture: same bytes)
    file=$(awk -v c="$c" '$1 == c && $NF ~ /safetensors|bin/ { for (i = 1; i < NF; i++) if ($(i+1) == "MB") print $i }' one.txt)
    [ "$file" = "$(field one.txt $c total)" ] || { echo "$c: spec count $(field one.txt $c total) MB, files $file MB"; fail=1; }
done
a4=$(awk '/activations/ { print $6 }' four.txt); a1=$(awk '/activations/ { print $6 }' big.txt)
awk -v a="$a4" -v b="$a1" 'BEGIN { exit !(a < b) }' || { echo "UNet activations at Ps=4 ($a4) not below Ps=1 ($a1)"; fail=1; }
"$ldm" info --model "$model" --grid 0x2 2>err.txt && { echo "--grid 0x2 accepted"; fail=1; }
grep -q -- "--grid: expected PcxPs" err.txt || { echo "no --grid message:"; cat err.txt; fail=1; }
[ "$fail" -eq 0 ] && echo "1 passed, 0 failed"
exit $fail
