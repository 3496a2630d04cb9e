"""diffusers' LDMTextToImagePipeline on a model folder, timed by stage; the
PyTorch half of tools/bench/real_size.sh.

Run with the reference environment:

    /opt/ldmref/bin/python tools/bench/diffusers_txt2img.py --model DIR \
        --prompt "a painting of a squirrel eating a burger" --steps 50 \
        --guidance-scale 6 --eta 0 --seed 0 --threads 2 \
        --out diffusers.png --json diffusers.json [--compare ldm.png] [--check-weights]

What it does:
  - torch.set_num_threads(--threads); loads the folder with
    LDMTextToImagePipeline.from_pretrained (float32, CPU);
  - --check-weights: every tensor of bert, unet and vqvae as diffusers /
    transformers hold them after loading equals the tensor in the folder's
    .safetensors file, and the two name sets are the same (so nothing was
    missing, unexpected or freshly initialised), one tensor at a time;
  - runs the pipeline with generator torch.Generator().manual_seed(--seed),
    timing the text encoder (bert forward), each UNet forward, the scheduler
    steps and the VAE decode with wrappers around those calls;
  - writes the image as PNG (diffusers' numpy_to_pil: round(x * 255));
  - --compare PNG: max abs difference to that image in levels of 255 and the
    fraction of values within 1 level (DESIGN.md §3: max 3, >= 99%).
Timings go to --json (seconds) and are printed as one line.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch
from PIL import Image


def timed(obj, attr, acc, key):
    """Replace obj.attr by a wrapper that adds its wall time to acc[key]."""
    orig = getattr(obj, attr)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        out = orig(*args, **kwargs)
        acc[key] += time.perf_counter() - t0
        acc[key + "_calls"] += 1
        return out

    setattr(obj, attr, wrapper)


def check_weights(pipe, model_dir):
    """Every loaded tensor equals the file's, and the name sets agree."""
    from safetensors import safe_open

    files = {"bert": "model.safetensors", "unet": "diffusion_pytorch_model.safetensors",
             "vqvae": "diffusion_pytorch_model.safetensors"}
    for comp, fname in files.items():
        path = os.path.join(model_dir, comp, fname)
        state = getattr(pipe, comp).state_dict()
        with safe_open(path, framework="pt") as f:
            keys = set(f.keys())
            if keys != set(state):
                missing = sorted(set(state) - keys)[:5]
                extra = sorted(keys - set(state))[:5]
                sys.exit(f"{path}: names differ: not in file {missing}, not in model {extra}")
            for k in sorted(keys):
                t = f.get_tensor(k)
                if t.shape != state[k].shape or not torch.equal(t, state[k]):
                    sys.exit(f"{path}: tensor {k} differs after loading")
        print(f"check-weights: {comp}: {len(keys)} tensors identical to {fname}", flush=True)


def compare(a_path, b_path):
    a = np.asarray(Image.open(a_path).convert("RGB")).astype(np.int32)
    b = np.asarray(Image.open(b_path).convert("RGB")).astype(np.int32)
    if a.shape != b.shape:
        sys.exit(f"images differ in shape: {a.shape} vs {b.shape}")
    d = np.abs(a - b)
    return int(d.max()), float((d <= 1).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt", default="a painting of a squirrel eating a burger")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--guidance-scale", type=float, default=6.0)
    ap.add_argument("--eta", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--height", type=int, default=None)
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="diffusers.png")
    ap.add_argument("--json", default=None)
    ap.add_argument("--compare", default=None)
    ap.add_argument("--check-weights", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    from diffusers import LDMTextToImagePipeline
    from diffusers.utils import logging as dlog

    dlog.set_verbosity_error()
    t0 = time.perf_counter()
    pipe = LDMTextToImagePipeline.from_pretrained(args.model)
    load = time.perf_counter() - t0
    pipe.set_progress_bar_config(disable=True)
    if args.check_weights:
        check_weights(pipe, args.model)

    acc = {k: 0.0 for k in ("text_encoder", "unet", "scheduler", "decoder")}
    acc.update({k + "_calls": 0 for k in list(acc)})
    timed(pipe.bert, "forward", acc, "text_encoder")
    timed(pipe.unet, "forward", acc, "unet")
    timed(pipe.scheduler, "step", acc, "scheduler")
    timed(pipe.vqvae, "decode", acc, "decoder")

    gen = torch.Generator().manual_seed(args.seed)
    t0 = time.perf_counter()
    out = pipe([args.prompt], height=args.height, width=args.width,
               num_inference_steps=args.steps, guidance_scale=args.guidance_scale,
               eta=args.eta, generator=gen)
    total = time.perf_counter() - t0
    out.images[0].save(args.out)

    steps = max(acc["unet_calls"], 1)
    result = {
        "load": load, "text_encoder": acc["text_encoder"], "unet": acc["unet"],
        "unet_per_step": acc["unet"] / steps, "scheduler": acc["scheduler"],
        "decoder": acc["decoder"], "total": total, "steps": acc["unet_calls"],
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    if args.compare:
        result["max_abs_diff"], result["within_1"] = compare(args.out, args.compare)
    print("diffusers timings: load %.3f s, text encoder %.3f s, UNet %.3f s (%.3f s/step), "
          "scheduler %.3f s, decoder %.3f s, total %.3f s, peak memory %.1f MB, %d threads"
          % (load, result["text_encoder"], result["unet"], result["unet_per_step"],
             result["scheduler"], result["decoder"], total, result["peak_rss_mb"],
             result["threads"]), flush=True)
    if args.compare:
        print("image vs %s: max abs diff %d levels, %.4f%% within 1 level"
              % (args.compare, result["max_abs_diff"], 100 * result["within_1"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
