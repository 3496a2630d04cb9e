#!/usr/bin/env bash
# init_e2e.sh LDM FIXTURES TMP — `ldm init` end to end on the tiny configuration:
# the written folder loads in `ldm info` and `ldm txt2img`; the same seed gives
# the same bytes and another seed other values; a configuration without a
# tokenizer gets a synthetic vocab.txt; --force rules; a full disk (simulated
# with the file-size limit) fails with exit 2 and leaves nothing behind.
# Prints each failed check; exit 0 when all pass.
set -u
ldm=$1; fix=$2; tmp=$3
rm -rf "$tmp"; mkdir -p "$tmp"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
run() { "$@" >"$tmp/out" 2>"$tmp/err"; }
export OMP_NUM_THREADS=1

# 1. the fixture folder itself as --config (its weights are ignored)
run "$ldm" init --config "$fix/tiny-ldm" -o "$tmp/a" --seed 1 || fail "init a: $(cat "$tmp/err")"
for f in model_index.json README.md bert/config.json bert/model.safetensors unet/config.json \
         unet/diffusion_pytorch_model.safetensors vqvae/config.json \
         vqvae/diffusion_pytorch_model.safetensors scheduler/scheduler_config.json \
         tokenizer/vocab.txt tokenizer/tokenizer_config.json; do
  [ -f "$tmp/a/$f" ] || fail "a/$f missing"
done
cmp -s "$fix/tiny-ldm/unet/config.json" "$tmp/a/unet/config.json" || fail "unet config not copied"
cmp -s "$fix/tiny-ldm/tokenizer/vocab.txt" "$tmp/a/tokenizer/vocab.txt" || fail "vocab not copied"
cmp -s "$fix/tiny-ldm/unet/diffusion_pytorch_model.safetensors" \
       "$tmp/a/unet/diffusion_pytorch_model.safetensors" && fail "weights copied, not drawn"
ls -d "$tmp"/a.init-* >/dev/null 2>&1 && fail "staging folder left behind"
run "$ldm" info --model "$tmp/a" || fail "info a: $(cat "$tmp/err")"
grep -Eq "unet +UNet2DConditionModel +203204 params +F32" "$tmp/out" || fail "info a: $(cat "$tmp/out")"
run "$ldm" txt2img --model "$tmp/a" --prompt "a red circle" --steps 3 --height 64 --width 64 \
    --guidance-scale 6 -o "$tmp/a.png" || fail "txt2img a: $(cat "$tmp/err")"
[ -s "$tmp/a.png" ] || fail "no image"

# 2. determinism: same seed, same bytes; another seed, other values
run "$ldm" init --config "$fix/tiny-ldm" -o "$tmp/b" --seed 1 || fail "init b"
run "$ldm" init --config "$fix/tiny-ldm" -o "$tmp/c" --seed 2 || fail "init c"
for f in bert/model.safetensors unet/diffusion_pytorch_model.safetensors \
         vqvae/diffusion_pytorch_model.safetensors; do
  cmp -s "$tmp/a/$f" "$tmp/b/$f" || fail "seed 1 twice: $f differs"
  cmp -s "$tmp/a/$f" "$tmp/c/$f" && fail "seeds 1 and 2: $f identical"
done

# 3. config-only folder without a tokenizer: synthetic vocab.txt
mkdir -p "$tmp/cfg"
cp "$fix/tiny-ldm/model_index.json" "$tmp/cfg/"
for c in bert unet vqvae; do mkdir -p "$tmp/cfg/$c"; cp "$fix/tiny-ldm/$c/config.json" "$tmp/cfg/$c/"; done
mkdir -p "$tmp/cfg/scheduler"; cp "$fix/tiny-ldm/scheduler/scheduler_config.json" "$tmp/cfg/scheduler/"
run "$ldm" init --config "$tmp/cfg" -o "$tmp/s" || fail "init s: $(cat "$tmp/err")"
grep -q "synthetic vocab.txt of 404 tokens" "$tmp/out" || fail "plan does not say synthetic"
v="$tmp/s/tokenizer/vocab.txt"
[ "$(wc -l <"$v")" = 404 ] || fail "vocab has $(wc -l <"$v") lines, want 404"
[ "$(sed -n 1p "$v")$(sed -n 101p "$v")$(sed -n 102p "$v")$(sed -n 103p "$v")$(sed -n 104p "$v")" = \
  "[PAD][UNK][CLS][SEP][MASK]" ] || fail "special tokens not at bert's ids"
[ -z "$(sort "$v" | uniq -d)" ] || fail "vocab has duplicates"
grep -q "SYNTHETIC vocab.txt" "$tmp/s/README.md" || fail "README does not say synthetic"
run "$ldm" txt2img --model "$tmp/s" --prompt "a painting of a squirrel" --steps 2 --height 64 \
    --width 64 -o "$tmp/s.png" || fail "txt2img s: $(cat "$tmp/err")"

# 4. --force: replaces a model folder, refuses anything else
run "$ldm" init --config "$fix/tiny-ldm" -o "$tmp/a" --seed 2
[ $? = 1 ] && grep -q "already exists (pass --force" "$tmp/err" || fail "no --force: $(cat "$tmp/err")"
run "$ldm" init --config "$fix/tiny-ldm" -o "$tmp/a/" --seed 2 --force || fail "--force: $(cat "$tmp/err")"
cmp -s "$tmp/a/unet/diffusion_pytorch_model.safetensors" \
       "$tmp/c/unet/diffusion_pytorch_model.safetensors" || fail "--force did not replace"
ls -d "$tmp"/a.old-* >/dev/null 2>&1 && fail "old model left behind"
mkdir -p "$tmp/keep"; echo precious >"$tmp/keep/notes.txt"
run "$ldm" init --config "$fix/tiny-ldm" -o "$tmp/keep" --force
[ $? = 1 ] && grep -q "holds no model_index.json; not replacing it" "$tmp/err" || fail "keep: $(cat "$tmp/err")"
[ "$(cat "$tmp/keep/notes.txt")" = precious ] || fail "keep/notes.txt touched"
echo x >"$tmp/file"
run "$ldm" init --config "$fix/tiny-ldm" -o "$tmp/file" --force
[ $? = 1 ] && grep -q "is not a folder" "$tmp/err" || fail "file: $(cat "$tmp/err")"

# 5. a full disk: writes fail (EFBIG under a 24 MiB file-size limit, with
#    SIGXFSZ ignored) while the 50 MB UNet of init/wide is written → exit 2,
#    the message names the file, no model and no staging folder remain.
#    (MPI_Init itself writes a few MB of shared-memory files: when it cannot
#    start under the limit, this part is skipped with a note.)
limited() { (trap '' XFSZ; ulimit -f 24576; exec "$@"); }
if limited "$ldm" --version >/dev/null 2>&1; then
  limited "$ldm" init --config "$fix/init/wide" -o "$tmp/full" >"$tmp/out" 2>"$tmp/err"
  code=$?
  [ $code = 2 ] || fail "full disk: exit $code, want 2: $(cat "$tmp/err")"
  grep -q "unet/diffusion_pytorch_model.safetensors: write failed: File too large" "$tmp/err" ||
    fail "full disk: $(cat "$tmp/err")"
  [ -e "$tmp/full" ] && fail "full disk: a model folder was left"
  ls -d "$tmp"/full.init-* >/dev/null 2>&1 && fail "full disk: staging folder left"
else
  echo "note: MPI does not start under a 24 MiB file-size limit; full-disk case not run" >&2
fi

[ $fails = 0 ] && echo "init_e2e: all checks passed"
exit $((fails > 0))
