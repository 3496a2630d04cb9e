#!/bin/sh
# wire_txt2img.sh LDM MPIEXEC NP COMPARE MODEL TAG TMP
# The channel/spatial model split in `ldm txt2img` (issue #5, helper wire):
# every decomposition that fits NP ranks on MODEL (TAG: tiny = the tiny
# fixture model, shapes = models/ldm-shapes) against the 1-process run of
# the same request made in this test: final latents (--save-latents) within
# relative L2 1e-5, every PNG within 1 level (DESIGN.md §3).
#   channels only (--grid Nx1), spatial only (--grid 1xN), mixed (2x2),
#   CFG branches with a grid, groups × grid, the default layout of a
#   one-image request (which now picks a grid), PNDM and LMS on strips
#   (their history lives in strips), a non-square 512×384 image with uneven
#   strips (tiny, --grid 1x3 at 3 ranks).
# Decompositions that do not fit (Pc not dividing the heads or GroupNorm
# groups, Ps above the coarsest latent's rows) must fail with exit 1 and
# one message naming --grid.
set -u
ldm=$1; mpiexec=$2; np=$3; compare=$4; model=$5; tag=$6; tmp=$7
rm -rf "$tmp"; mkdir -p "$tmp"; cd "$tmp" || exit 1
export OMP_NUM_THREADS=1
MPI="timeout 300 $mpiexec --oversubscribe --allow-run-as-root -n $np"
# Two images (batch 2: every strip cuts b·C planes), guidance (CFG), DDIM eta.
base="--model $model --prompt a_red_circle --num-images-per-prompt 2 --height 64 --width 64
      --guidance-scale 5 --eta 0.5 --seed 7"
req="$base --steps 3"
fail=0

reference() { # name extra-flags...: the 1-process run of req + flags
    name=$1; shift
    timeout 300 "$ldm" txt2img $req "$@" -o "$name.png" --save-latents "$name.npy" \
        >"$name.log" 2>&1 || { echo "reference $name failed"; cat "$name.log"; exit 1; }
}
check() { # ref name images
    "$compare" npy "$1.npy" "$2.npy" 1e-5 || fail=1
    i=0
    while [ $i -lt "$3" ]; do
        a="$1-$i.png"; b="$2-$i.png"
        [ "$3" -eq 1 ] && { a="$1.png"; b="$2.png"; }
        "$compare" png "$a" "$b" 1 || fail=1
        i=$((i + 1))
    done
}
run() { # ref images name flags...: NP ranks with these flags vs ref
    ref=$1; images=$2; name=$3; shift 3
    if ! $MPI "$ldm" txt2img $req "$@" -o "$name.png" --save-latents "$name.npy" \
            --timings "$name.csv" >"$name.log" 2>&1; then
        echo "FAILED: $tag np $np $*"; cat "$name.log"; fail=1; return
    fi
    check "$ref" "$name" "$images"
    "$compare" csv "$name.csv" "$np" || fail=1
}
bad() { # needle flags...: exit 1, one error line naming --grid and needle
    needle=$1; shift
    $MPI "$ldm" txt2img $req "$@" -o bad.png >bad.log 2>&1
    got=$?
    lines=$(grep -c "error:" bad.log)
    if [ "$got" -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -q -- "--grid" bad.log ||
       ! grep -qF -- "$needle" bad.log; then
        echo "FAILED: $tag np $np $*: exit $got, $lines error line(s), wanted 1 and one naming --grid: $needle"
        cat bad.log; fail=1
    fi
}

# What fits: Pc must divide the UNet's GroupNorm groups and heads and the
# text encoder's heads; Ps at most the coarsest latent's rows (64² → 8 latent
# rows: tiny, 2 levels: 4 rows; shapes, 3 levels: 2 rows).
case $tag in
tiny) pcs=" 2 "; minrows=4; groups=8 ;;
shapes) pcs=" 2 4 "; minrows=2; groups=16 ;;
*) echo "unknown tag $tag"; exit 2 ;;
esac

reference ref
if [ "$np" -eq 1 ]; then
    run ref 2 g1x1 --grid 1x1
    bad "do not divide the 1 ranks" --grid 2x1
    bad "do not divide the 1 ranks" --grid 1x2
fi
case $pcs in
*" $np "*) run ref 2 "c$np" --grid "${np}x1" ;;
*) [ "$np" -gt 1 ] && bad "Pc = $np must divide" --grid "${np}x1" ;;
esac
# Misfits are named as such at every rank count.
bad "--grid: Pc = 3 must divide the GroupNorm groups ($groups)" --grid 3x1
bad "--grid: Ps = 5 is larger than the smallest latent row count it must split ($minrows)" --grid 1x5
if [ "$np" -le "$minrows" ] && [ "$np" -gt 1 ]; then
    run ref 2 "s$np" --grid "1x$np"
else
    [ "$np" -gt 1 ] && bad "Ps = $np is larger than the smallest latent row count" --grid "1x$np"
fi
if [ "$np" -eq 2 ]; then
    # Scheduler history on strips (PNDM ets, LMS derivatives), and the
    # default layout of one image without guidance: a 1x2 grid.
    for s in pndm lms; do
        req="$base --steps 4 --scheduler $s"  # PNDM needs 4 steps
        reference "ref-$s"
        run "ref-$s" 2 "s2-$s" --grid 1x2
        run "ref-$s" 2 "c2-$s" --grid 2x1
    done
    req="--model $model --prompt a_red_circle --height 64 --width 64 --steps 3 --seed 3"
    reference ref-one
    run ref-one 1 default-one
    $MPI "$ldm" txt2img $req --dry-run >dry.log 2>&1
    grep -q "CFG 1 x grid 1x2" dry.log || { echo "default layout of one image at 2 ranks is not 1x2"; cat dry.log; fail=1; }
    req="$base --steps 3"
    bad "Ps = 2 is larger than the smallest latent row count" --grid 1x2 --height 16
fi
if [ "$np" -eq 4 ]; then
    run ref 2 mixed --grid 2x2
    run ref 2 cfg-grid --cfg-parallel --grid 1x2
    run ref 2 groups-grid --groups 2 --grid 1x2
    [ "$tag" = tiny ] && bad "Pc = 4 must divide the text-encoder attention heads (2)" --grid 4x1
fi
if [ "$np" -eq 3 ] && [ "$tag" = tiny ]; then
    # Non-square, uneven strips: latent 64 × 48 rows 64 → align 2 → 22/22/20.
    req="--model $model --prompt a_red_circle --height 512 --width 384 --steps 2
         --guidance-scale 5 --eta 0.5 --seed 11"
    reference ref-wide
    run ref-wide 1 wide --grid 1x3
fi
[ "$fail" -eq 0 ] && echo "every decomposition of $tag at $np ranks matches the 1-process run"
exit $fail
