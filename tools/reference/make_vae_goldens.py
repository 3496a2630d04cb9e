"""Goldens for src/models/resnet.c, sampling.c and vae*.c (AutoencoderKL).

What it writes into tests/fixtures/vae/ (deterministic: fixed seeds):

  blocks.json                 one entry per block case: kind (resnet /
                              downsample / upsample), the state-dict prefix of
                              its tensors and the constructor arguments.
  blocks.safetensors          every block case's parameters, named
                              "<prefix>.<diffusers state-dict key>".
  <case>.x.npy, .temb.npy, .y.npy
                              input (NCHW), time embedding (resnets with
                              temb_channels) and diffusers' output (NCHW).
  Block cases: ResnetBlock2D without/with temb, with/without the 1×1
  conv_shortcut (in != out, and forced by use_in_shortcut=True),
  output_scale_factor 1, 2 and sqrt(2); Downsample2D with padding 1 and with
  padding 0 (diffusers' asymmetric F.pad (0, 1, 0, 1)), odd sizes, a channel
  change; Upsample2D nearest 2× + conv, to an explicit output size (the UNet's
  upsample_size), and without conv.

  tiny.*.npy                  the tiny-ldm vqvae (tests/fixtures/tiny-ldm/
                              vqvae, loaded with AutoencoderKL.from_pretrained):
                              z (latents already divided by scaling_factor),
                              decoded image, and for encode: image, mean,
                              logvar (clamped as DiagonalGaussianDistribution
                              does), noise and sample = mean + std * noise.
                              Batch 2, latent 8×8.
  vae3/config.json, vae3/diffusion_pytorch_model.safetensors
                              a second random AutoencoderKL: 3 levels
                              (8, 16, 32), layers_per_block 2,
                              norm_num_groups 4, latent_channels 3,
                              scaling_factor 0.5; vae3.*.npy as tiny.* with
                              batch 2 and a non-square 6×10 latent.
  oldnames/config.json, oldnames/diffusion_pytorch_model.safetensors
                              the tiny vqvae with the mid-block attention
                              tensors renamed to the deprecated names
                              (query/key/value/proj_attn) that older
                              checkpoints such as CompVis/ldm-text2im-large-256
                              use; loading it with diffusers must give the
                              same decode (checked here), so the C test
                              compares it against tiny.decoded.npy.

Why: DESIGN.md §3 — each model forward must match diffusers within relative
L2 1e-5. Parameters are the default init plus noise (norm weights/biases not
1/0) so a mixed-up or skipped tensor shows in the numbers.

Run: /opt/ldmref/bin/python tools/reference/make_vae_goldens.py
(torch 2.x CPU, diffusers 0.27.2).

  --real DIR [--latent H W] [--old-names]
                              instead, write a random AutoencoderKL of the
                              real CompVis/ldm-text2im-large-256 config
                              (models/ldm-text2im-large-256-config/vqvae,
                              ~84 M parameters, 335 MB) into DIR with z.npy
                              [1, 4, H, W] (default 32×32) and decoded.npy, for
                              tests/models/test_vae_real.c
                              (LDM_VAE_REAL_DIR=DIR). Not a committed
                              fixture: too large. --old-names saves the
                              attention tensors under the deprecated names, as
                              the real checkpoint has them.
"""

import argparse
import json
import math
import time
import os
import shutil

import numpy as np
import torch
from diffusers import AutoencoderKL
from diffusers.models.downsampling import Downsample2D
from diffusers.models.resnet import ResnetBlock2D
from diffusers.models.upsampling import Upsample2D
from safetensors.torch import load_file, save_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "vae")
TINY = os.path.join(ROOT, "tests", "fixtures", "tiny-ldm", "vqvae")

RESNETS = [
    # name, prefix, in, out, temb, groups, eps, output_scale_factor, use_in_shortcut, (B, H, W)
    ("res_plain", "mid_block.resnets.0", 32, 32, None, 8, 1e-6, 1.0, None, (2, 9, 7)),
    ("res_temb_shortcut", "down_blocks.1.resnets.0", 16, 32, 48, 8, 1e-5, 1.0, None, (2, 8, 8)),
    ("res_temb_scale2", "up_blocks.0.resnets.2", 32, 32, 16, 4, 1e-5, 2.0, None, (1, 6, 10)),
    ("res_shortcut_sqrt2", "decoder.up_blocks.1.resnets.0", 32, 16, None, 8, 1e-6,
     math.sqrt(2.0), None, (1, 5, 5)),
    ("res_forced_shortcut", "b.resnets.0", 16, 16, 8, 4, 1e-6, 1.0, True, (2, 4, 6)),
]
DOWNS = [
    # name, prefix, channels, out_channels, padding, (B, H, W)
    ("down_p1", "down_blocks.0.downsamplers.0", 16, 16, 1, (2, 9, 8)),
    ("down_p0", "encoder.down_blocks.0.downsamplers.0", 32, 32, 0, (2, 8, 7)),
    ("down_p0_cout", "encoder.down_blocks.1.downsamplers.0", 16, 24, 0, (1, 11, 6)),
]
UPS = [
    # name, prefix, channels, out_channels, use_conv, (B, H, W), output_size or None
    ("up_conv", "up_blocks.0.upsamplers.0", 16, 16, True, (2, 5, 6), None),
    ("up_conv_size", "up_blocks.1.upsamplers.0", 16, 8, True, (1, 5, 6), (9, 11)),
    ("up_noconv", "up.upsamplers.0", 8, 8, False, (2, 3, 4), None),
]

VAE3_CONFIG = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 3,
    "up_block_types": ["UpDecoderBlock2D"] * 3,
    "block_out_channels": [8, 16, 32],
    "layers_per_block": 2,
    "act_fn": "silu",
    "latent_channels": 3,
    "norm_num_groups": 4,
    "sample_size": 32,
    "scaling_factor": 0.5,
}


def perturb(module, gen, scale=0.1):
    """Default init plus noise on every parameter (norms not 1/0)."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))


def save_npy(name, t):
    np.save(os.path.join(OUT, name + ".npy"), t.detach().cpu().numpy().astype("<f4"))


def block_cases():
    gen = torch.Generator().manual_seed(1234)
    torch.manual_seed(1234)
    cases, tensors = [], {}
    for name, prefix, cin, cout, temb, groups, eps, osf, use_sc, (b, h, w) in RESNETS:
        m = ResnetBlock2D(in_channels=cin, out_channels=cout, temb_channels=temb, groups=groups,
                          eps=eps, output_scale_factor=osf, use_in_shortcut=use_sc).eval()
        perturb(m, gen)
        x = torch.randn(b, cin, h, w, generator=gen)
        t = torch.randn(b, temb, generator=gen) if temb else None
        with torch.no_grad():
            y = m(x, t)
        save_npy(name + ".x", x)
        if t is not None:
            save_npy(name + ".temb", t)
        save_npy(name + ".y", y)
        for k, v in m.state_dict().items():
            tensors[prefix + "." + k] = v.contiguous()
        cases.append({"name": name, "kind": "resnet", "prefix": prefix, "in_channels": cin,
                      "out_channels": cout, "temb_channels": temb or 0, "groups": groups,
                      "eps": eps, "output_scale_factor": osf,
                      "use_in_shortcut": -1 if use_sc is None else int(use_sc),
                      "batch": b, "h": h, "w": w})
    for name, prefix, ch, cout, pad, (b, h, w) in DOWNS:
        m = Downsample2D(ch, use_conv=True, out_channels=cout, padding=pad, name="op").eval()
        perturb(m, gen)
        x = torch.randn(b, ch, h, w, generator=gen)
        with torch.no_grad():
            y = m(x)
        save_npy(name + ".x", x)
        save_npy(name + ".y", y)
        for k, v in m.state_dict().items():
            tensors[prefix + "." + k] = v.contiguous()
        cases.append({"name": name, "kind": "downsample", "prefix": prefix, "channels": ch,
                      "out_channels": cout, "padding": pad, "batch": b, "h": h, "w": w,
                      "out_h": y.shape[2], "out_w": y.shape[3]})
    for name, prefix, ch, cout, use_conv, (b, h, w), size in UPS:
        m = Upsample2D(ch, use_conv=use_conv, out_channels=cout).eval()
        perturb(m, gen)
        x = torch.randn(b, ch, h, w, generator=gen)
        with torch.no_grad():
            y = m(x, output_size=size)
        save_npy(name + ".x", x)
        save_npy(name + ".y", y)
        for k, v in m.state_dict().items():
            tensors[prefix + "." + k] = v.contiguous()
        cases.append({"name": name, "kind": "upsample", "prefix": prefix, "channels": ch,
                      "out_channels": cout, "use_conv": int(use_conv), "batch": b, "h": h,
                      "w": w, "out_h": y.shape[2], "out_w": y.shape[3],
                      "explicit_size": int(size is not None)})
    save_file(tensors, os.path.join(OUT, "blocks.safetensors"))
    with open(os.path.join(OUT, "blocks.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1)
        f.write("\n")


def vae_case(tag, vae, batch, lh, lw, seed):
    """Decode and encode goldens of one AutoencoderKL."""
    gen = torch.Generator().manual_seed(seed)
    f = 2 ** (len(vae.config.block_out_channels) - 1)
    lc = vae.config.latent_channels
    z = torch.randn(batch, lc, lh, lw, generator=gen)
    image = torch.rand(batch, vae.config.in_channels, lh * f, lw * f, generator=gen) * 2 - 1
    noise = torch.randn(batch, lc, lh, lw, generator=gen)
    with torch.no_grad():
        decoded = vae.decode(z).sample
        dist = vae.encode(image).latent_dist
        sample = dist.mean + dist.std * noise
    for name, t in [("z", z), ("decoded", decoded), ("image", image), ("mean", dist.mean),
                    ("logvar", dist.logvar), ("noise", noise), ("sample", sample)]:
        save_npy(f"{tag}.{name}", t)
    return decoded


def old_names(sd):
    """Rename the mid-block attention tensors to diffusers' deprecated names."""
    ren = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}
    out = {}
    for k, v in sd.items():
        nk = k
        if ".mid_block.attentions." in k:
            for new, old in ren.items():
                if f".{new}." in k:
                    nk = k.replace(f".{new}.", f".{old}.")
        out[nk] = v
    return out


def real_case(out, lh, lw, use_old_names):
    """A real-size random VAE, its decode of one random latent."""
    cfg_path = os.path.join(ROOT, "models", "ldm-text2im-large-256-config", "vqvae", "config.json")
    with open(cfg_path) as f:
        cfg = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
    torch.manual_seed(11)
    vae = AutoencoderKL(**cfg).eval()
    perturb(vae, torch.Generator().manual_seed(11), 0.01)
    os.makedirs(out, exist_ok=True)
    vae.save_pretrained(out, safe_serialization=True)
    if use_old_names:
        path = os.path.join(out, "diffusion_pytorch_model.safetensors")
        save_file(old_names(load_file(path)), path)
    z = torch.randn(1, cfg["latent_channels"], lh, lw, generator=torch.Generator().manual_seed(12))
    t0 = time.time()
    with torch.no_grad():
        dec = vae.decode(z).sample
    print(f"torch decode {lh}x{lw}: {time.time() - t0:.1f} s on {torch.get_num_threads()} threads")
    np.save(os.path.join(out, "z.npy"), z.numpy().astype("<f4"))
    np.save(os.path.join(out, "decoded.npy"), dec.numpy().astype("<f4"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", metavar="DIR")
    ap.add_argument("--latent", nargs=2, type=int, default=[32, 32])
    ap.add_argument("--old-names", action="store_true")
    args = ap.parse_args()
    if args.real:
        real_case(args.real, args.latent[0], args.latent[1], args.old_names)
        return
    os.makedirs(OUT, exist_ok=True)
    block_cases()

    tiny = AutoencoderKL.from_pretrained(TINY).eval()
    tiny_dec = vae_case("tiny", tiny, 2, 8, 8, 99)

    torch.manual_seed(7)
    vae3 = AutoencoderKL(**VAE3_CONFIG).eval()
    perturb(vae3, torch.Generator().manual_seed(7), 0.05)
    d3 = os.path.join(OUT, "vae3")
    vae3.save_pretrained(d3, safe_serialization=True)
    vae_case("vae3", vae3, 2, 6, 10, 100)

    dold = os.path.join(OUT, "oldnames")
    os.makedirs(dold, exist_ok=True)
    shutil.copy(os.path.join(TINY, "config.json"), os.path.join(dold, "config.json"))
    sd = load_file(os.path.join(TINY, "diffusion_pytorch_model.safetensors"))
    save_file(old_names(sd), os.path.join(dold, "diffusion_pytorch_model.safetensors"))
    # diffusers maps the deprecated names back on load: same decode
    old = AutoencoderKL.from_pretrained(dold).eval()
    gen = torch.Generator().manual_seed(99)
    z = torch.randn(2, 4, 8, 8, generator=gen)
    with torch.no_grad():
        assert torch.equal(old.decode(z).sample, tiny_dec), "old-name checkpoint decodes differently"
    print("wrote", OUT)


if __name__ == "__main__":
    main()
