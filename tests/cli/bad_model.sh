#!/usr/bin/env bash
# bad_model.sh LDM FIXTURES TMP — broken copies of the tiny model: each must
# fail with exit code 1 and one message naming the file (and the tensor or
# field), and never crash. Prints "N passed, N failed".
set -u
ldm=$1; fixtures=$2; tmp=$3
expect="$(dirname "$0")/../expect.sh"
rm -rf "$tmp"; mkdir -p "$tmp"
pass=0; fail=0
check() { # name code needle -- command...
  local name=$1; shift
  if "$expect" "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $name" >&2; fi
}
fresh() { rm -rf "$tmp/m"; cp -r "$fixtures/tiny-ldm" "$tmp/m"; }
run=(txt2img --prompt "a red circle" --height 64 --width 64 --steps 2 -o "$tmp/out.png")

fresh; f="$tmp/m/unet/diffusion_pytorch_model.safetensors"
truncate -s $(( $(stat -c %s "$f") - 100 )) "$f"
check truncated 1 "unet/diffusion_pytorch_model.safetensors: file is truncated" -- "$ldm" info --model "$tmp/m"

fresh; printf '{"in_channels": 4,' > "$tmp/m/unet/config.json"
check malformed_config 1 "unet/config.json: invalid JSON" -- "$ldm" info --model "$tmp/m"

fresh; sed -i 's/"cross_attention_dim": 32/"cross_attention_dim": 48/' "$tmp/m/unet/config.json"
check shape_mismatch 1 "has shape [16, 32], expected [16, 48]" -- "$ldm" "${run[@]}" --model "$tmp/m"

fresh; sed -i 's/"encoder_layers": 2/"encoder_layers": 1/' "$tmp/m/bert/config.json"
check unexpected_tensor 1 "unexpected tensor \"model.layers.1." -- "$ldm" "${run[@]}" --model "$tmp/m"

fresh; sed -i 's/"encoder_layers": 2/"encoder_layers": 3/' "$tmp/m/bert/config.json"
check missing_tensor 1 "tensor \"model.layers.2." -- "$ldm" "${run[@]}" --model "$tmp/m"

fresh; sed -i 's/"beta_schedule": "scaled_linear"/"beta_schedule": "cosine_fancy"/' "$tmp/m/scheduler/scheduler_config.json"
check scheduler_value 1 "unsupported beta_schedule \"cosine_fancy\"" -- "$ldm" info --model "$tmp/m"

fresh; sed -i 's/"act_fn": "silu"/"act_fn": "mish"/' "$tmp/m/unet/config.json"
check unet_value 1 "\"act_fn\"" -- "$ldm" "${run[@]}" --model "$tmp/m"

fresh; rm -r "$tmp/m/vqvae"
check missing_component 1 "vqvae" -- "$ldm" info --model "$tmp/m"

fresh; rm "$tmp/m/tokenizer/vocab.txt"
check missing_vocab 1 "vocab.txt" -- "$ldm" info --model "$tmp/m"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
