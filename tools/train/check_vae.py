"""Colour check of a trained ldm-shapes VAE: encode/decode the 8 flat palette colours and
256 validation scenes; print the per-colour reconstruction error (RGB 0..255, mean abs)
and the nearest-palette-name of each flat reconstruction, and save a PNG.

  /opt/ldmref/bin/python check_vae.py --vae <scratch>/vae_state.pt|<scratch>/vae --png out.png
"""

import argparse
import os

import numpy as np
import torch
from diffusers import AutoencoderKL
from PIL import Image

import data
import evaluate
import train_vae


def load(path, groups):
    if os.path.isdir(path):
        return AutoencoderKL.from_pretrained(path).eval()
    vae = train_vae.make_vae(groups)
    vae.load_state_dict(torch.load(path)["model"])
    return vae.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vae", required=True)
    ap.add_argument("--norm-groups", type=int, default=1)
    ap.add_argument("--png", default=None)
    a = ap.parse_args()
    torch.set_num_threads(2)
    vae = load(a.vae, a.norm_groups)
    flat = np.stack([np.full((data.SIZE, data.SIZE, 3), data.COLOURS[c], np.uint8)
                     for c in data.COLOUR_NAMES])
    scenes, _, _ = data.make_dataset(0, "val", 256)
    with torch.no_grad():
        rec = []
        for imgs in (flat, scenes):
            x = train_vae.to_tensor(imgs)
            r = vae.decode(vae.encode(x).latent_dist.mode()).sample.clamp(-1, 1)
            rec.append(r.add(1).mul(127.5).round().byte().permute(0, 2, 3, 1).numpy())
    ok = 0
    for i, c in enumerate(data.COLOUR_NAMES):
        err = np.abs(rec[0][i].astype(float) - flat[i]).mean()
        names = evaluate.name_map(rec[0][i])
        frac = (names == i).mean()
        ok += frac == 1.0
        print(f"{c:7s} mean|err| {err:6.2f}  mean rgb {rec[0][i].reshape(-1, 3).mean(0).round()}"
              f"  pixels named right {frac:.3f}")
    sc_err = np.abs(rec[1].astype(float) - scenes).mean()
    named = (evaluate.name_map_batch(rec[1]) == evaluate.name_map_batch(scenes)).mean() \
        if hasattr(evaluate, "name_map_batch") else np.mean(
            [(evaluate.name_map(r) == evaluate.name_map(s)).mean() for r, s in zip(rec[1], scenes)])
    print(f"flat colours fully right: {ok}/8; scenes mean|err| {sc_err:.2f}, "
          f"pixels with the right colour name {named:.4f}")
    if a.png:
        s = data.SIZE
        top = np.concatenate([np.concatenate(list(flat), 1), np.concatenate(list(rec[0]), 1)], 0)
        sc = np.concatenate([np.concatenate(list(scenes[:8]), 1), np.concatenate(list(rec[1][:8]), 1)], 0)
        Image.fromarray(np.concatenate([top, sc], 0)).resize((8 * s * 2, 4 * s * 2), Image.NEAREST).save(a.png)


if __name__ == "__main__":
    main()
