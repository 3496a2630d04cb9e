"""Stage 1: train the f=8 AutoencoderKL of ldm-shapes (64x64 RGB -> 8x8x4 latents).

Data are fresh synthetic scenes every step (data.py, deterministic from --seed and the
step number).  Loss: L1 + MSE + 1e-6 * KL, no GAN; the decoder sees the posterior mean.  Writes into --out:
  vae/                 diffusers AutoencoderKL folder (config has scaling_factor = 1/std of
                       the latent means over 2,048 validation images)
  vae_state.pt         resumable training state (every --ckpt-every steps)
  vae_recon.png        top rows: validation images, bottom rows: reconstructions
  vae_log.txt          (the caller redirects stdout)
"""

import argparse
import math
import os
import time

import numpy as np
import torch
from diffusers import AutoencoderKL
from PIL import Image

import data


def make_vae(norm_groups=1):
    return AutoencoderKL(
        in_channels=3, out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(32, 64, 64, 64),
        layers_per_block=1, latent_channels=4,
        # 1 group (a LayerNorm over C,H,W), not 32 or 8: GroupNorm removes each group's mean
        # and scale, and on flat palette images that is the colour.  With 32 groups (per-
        # channel instance norm) the VAE could not learn backgrounds; with 8 groups it still
        # merged red/yellow/orange and green/black after 430 steps.  One group loses only 2
        # of 32 degrees of freedom at the first level.
        norm_num_groups=norm_groups,
        sample_size=data.SIZE)


def to_tensor(imgs):
    """uint8 [n,h,w,3] -> float [-1,1] [n,3,h,w]"""
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def batch_images(seed, step, n):
    rng = np.random.default_rng([seed, 100, step])
    return np.stack([data.render(data.make_scene(rng)) for _ in range(n)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=900)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--decay-from", type=int, default=None,
                    help="step where the cosine decay starts (default 70%% of --steps)")
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--norm-groups", type=int, default=1)
    ap.add_argument("--stop-at", type=int, default=0,
                    help="checkpoint and exit at this step (the lr schedule still uses --steps)")
    ap.add_argument("--bench", type=int, default=0, help="time this many steps and exit")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(a.seed)
    vae = make_vae(a.norm_groups)
    opt = torch.optim.AdamW(vae.parameters(), lr=a.lr, weight_decay=0.0)
    print(f"vae params {sum(p.numel() for p in vae.parameters())}", flush=True)
    state_path = os.path.join(a.out, "vae_state.pt")
    step = 0
    if os.path.exists(state_path):
        st = torch.load(state_path)
        vae.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step = st["step"]
        torch.set_rng_state(st["rng"])
        print(f"resumed at step {step}", flush=True)
    val_imgs, _, _ = data.make_dataset(a.seed, "val", 256)
    val = to_tensor(val_imgs)
    t0 = time.time()
    vae.train()
    while step < a.steps:
        # constant lr, then cosine decay to 10% from --decay-from to the end
        d0 = a.decay_from if a.decay_from is not None else int(0.7 * a.steps)
        frac = max(0.0, (step - d0) / max(1, a.steps - d0))
        lr = a.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        x = to_tensor(batch_images(a.seed, step, a.batch))
        post = vae.encode(x).latent_dist
        # Decode the posterior mean: with a 1e-6 KL weight, decoding samples (std ~1 noise
        # at init) made an f=8 VAE learn very slowly (wrong backgrounds after 250 steps).
        z = post.mode()
        y = vae.decode(z).sample
        kl = post.kl().mean()
        loss = (y - x).abs().mean() + ((y - x) ** 2).mean() + 1e-6 * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if a.bench and step >= a.bench:
            print(f"bench {(time.time() - t0) / step:.2f} s/step", flush=True)
            return
        if step % 20 == 0:
            print(f"step {step} loss {loss.item():.4f} kl {kl.item():.1f} lr {lr:.2e} "
                  f"{(time.time() - t0) / 60:.1f} min", flush=True)
        if step % a.ckpt_every == 0 or step == a.steps or step == a.stop_at:
            vae.eval()
            with torch.no_grad():
                r = vae.decode(vae.encode(val).latent_dist.mode()).sample
            mse = ((r - val) ** 2).mean().item()
            vae.train()
            print(f"step {step} val_mse {mse:.5f}", flush=True)
            torch.save(dict(model=vae.state_dict(), opt=opt.state_dict(), step=step,
                            rng=torch.get_rng_state()), state_path + ".tmp")
            os.replace(state_path + ".tmp", state_path)
        if a.stop_at and step >= a.stop_at:
            print(f"stopped at step {step}", flush=True)
            return
    finish(vae, a)


def finish(vae, a):
    vae.eval()
    val_imgs, _, _ = data.make_dataset(a.seed, "val", 2048)
    zs, mses = [], []
    with torch.no_grad():
        for i in range(0, 2048, 256):
            x = to_tensor(val_imgs[i:i + 256])
            z = vae.encode(x).latent_dist.mode()
            r = vae.decode(z).sample.clamp(-1, 1)
            zs.append(z)
            mses.append(((r - x) ** 2).mean().item())
    z = torch.cat(zs)
    std = z.std().item()
    sf = 1.0 / std
    print(f"final val_mse {np.mean(mses):.5f} latent mean {z.mean().item():.4f} std {std:.4f} "
          f"scaling_factor {sf:.5f}", flush=True)
    vae.register_to_config(scaling_factor=sf)
    vae.save_pretrained(os.path.join(a.out, "vae"), safe_serialization=True)
    # visual check: 16 originals over their reconstructions
    with torch.no_grad():
        x = to_tensor(val_imgs[:16])
        r = vae.decode(vae.encode(x).latent_dist.mode()).sample.clamp(-1, 1)
    both = torch.cat([x, r]).add(1).mul(127.5).round().byte().permute(0, 2, 3, 1).numpy()
    s = data.SIZE
    grid = both.reshape(4, 8, s, s, 3).transpose(0, 2, 1, 3, 4).reshape(4 * s, 8 * s, 3)
    Image.fromarray(grid).resize((8 * s * 3, 4 * s * 3), Image.NEAREST).save(
        os.path.join(a.out, "vae_recon.png"))


if __name__ == "__main__":
    main()
