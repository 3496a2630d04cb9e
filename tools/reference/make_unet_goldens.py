"""Golden fixtures for the UNet2DConditionModel port (src/models/unet*.c,
src/models/transformer2d.c).

Writes tests/fixtures/unet/:
  index.txt             one line per case: `<case> key=value ...` (the sizes
                        and options the C test needs to build the module)
  <case>.<tensor>.bin   raw little-endian float32, in diffusers' layout
                        (activations NCHW, context [B, L, D], temb [B, T])
  <case>.safetensors    the module's random weights, names exactly as in its
                        diffusers state dict (relative to the module)
  <cfg>/config.json     full UNet configs (with <cfg>/diffusion_pytorch_model
  <cfg>/diffusion_pytorch_model.safetensors   .safetensors, fp16-stored)

Cases (every code path the C port has, each from diffusers 0.27.2 itself):
  t2d_conv      Transformer2DModel, 1×1-conv projections, 2 layers,
                heads·head_dim (18) != in_channels (24), 77 context tokens
  t2d_linear    Transformer2DModel, use_linear_projection, 13 context tokens
  temb_a/temb_b Timesteps + TimestepEmbedding (flip_sin_to_cos true/false,
                freq_shift 0/1, per-entry timesteps)
  blk_crossdown CrossAttnDownBlock2D, 2 layers, channel change, downsample
                padding 1 (outputs: hidden state and every residual)
  blk_down      DownBlock2D, 2 layers, downsample padding 0 on an odd size
  blk_mid       UNetMidBlock2DCrossAttn, output_scale_factor 1.25, linear proj
  blk_crossup   CrossAttnUpBlock2D, 3 layers, upsample to a forced size (7, 11)
  blk_up        UpBlock2D, 2 layers, 2× upsample
  tiny_t981, tiny_t1, tiny_rect
                the tiny-ldm UNet (tests/fixtures/tiny-ldm/unet), batch 2
                (uncond ‖ cond contexts), two timesteps, and a non-square latent
  cfg_a         3 levels placed like the real model (CrossAttn, CrossAttn, Down
                / Up, CrossAttnUp, CrossAttnUp), layers_per_block 2,
                attention_head_dim list, use_linear_projection, center_input_sample,
                non-square 12×20 latent, per-entry timesteps
  cfg_b         attention_head_dim int, conv projections, latent 10×14 (not a
                multiple of 2^2: diffusers forwards upsample sizes), downsample
                padding 0, flip_sin_to_cos false, freq_shift 1, conv_in_kernel 1,
                conv_out_kernel 5, time_embedding_dim 48, mid_block_scale_factor
                1.5, upcast_attention, layers_per_block as a list

Random weights: default init plus 0.05·randn on every parameter (so norm
gammas/betas and biases are not 1/0). Blocks and UNet configs are rounded to
float16 values and stored as F16 (torch then runs in float32 on those exact
values; the C side reads F16 and converts exactly), which halves the files;
the Transformer2D and time-embedding cases store F32.

Deterministic: torch.manual_seed before each case. Run:
  /opt/ldmref/bin/python tools/reference/make_unet_goldens.py

Optional, not committed (3.5 GB): the real-size check
  /opt/ldmref/bin/python tools/reference/make_unet_goldens.py --real DIR
writes DIR/config.json (models/ldm-text2im-large-256-config/unet), DIR/
diffusion_pytorch_model.safetensors (default init; norm weights 1 + 0.05·randn,
1-D biases 0.05·randn, fp32) and DIR/real.{x,t,context,y}.bin (batch 2,
32×32 latent, t = 981, two contexts), for tests/models/test_unet_real.c
(LDM_UNET_REAL_DIR=DIR, label slow): accumulated error at full depth.
"""
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from diffusers import UNet2DConditionModel
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.transformers.transformer_2d import Transformer2DModel
from diffusers.models.unets.unet_2d_blocks import (CrossAttnDownBlock2D, CrossAttnUpBlock2D,
                                                   DownBlock2D, UNetMidBlock2DCrossAttn,
                                                   UpBlock2D)

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "unet")
TINY = os.path.join(ROOT, "tests", "fixtures", "tiny-ldm", "unet")


class Writer:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        if os.path.isdir(out_dir):
            shutil.rmtree(out_dir)
        os.makedirs(out_dir)
        self.lines = []
        self.total = 0

    def tensors(self, name, tensors):
        for tname, t in tensors.items():
            data = t.detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
            with open(os.path.join(self.out_dir, f"{name}.{tname}.bin"), "wb") as f:
                f.write(data)
            self.total += len(data)

    def weights(self, name, module, fp16=False):
        sd = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
        if fp16:
            sd = {k: v.half() for k, v in sd.items()}
        path = os.path.join(self.out_dir, f"{name}.safetensors")
        save_file(sd, path)
        self.total += os.path.getsize(path)

    def case(self, name, params, tensors):
        fields = [name] + [f"{k}={v}" for k, v in params.items()]
        self.lines.append(" ".join(fields))
        self.tensors(name, tensors)

    def finish(self):
        header = [
            "# UNet goldens from tools/reference/make_unet_goldens.py",
            f"# torch {torch.__version__} cpu capability {torch.backends.cpu.get_cpu_capability()}",
        ]
        with open(os.path.join(self.out_dir, "index.txt"), "w") as f:
            f.write("\n".join(header + self.lines) + "\n")
        print(f"wrote {len(self.lines)} cases, {self.total} bytes to {self.out_dir}")


def randomize(module, fp16):
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * torch.randn_like(p))
            if fp16:
                p.copy_(p.half().float())
    module.eval()
    return module


def ints(shape):
    return "x".join(str(int(s)) for s in shape)


# ---------------------------------------------------------------- Transformer2D

def t2d_case(w, name, heads, head_dim, c, layers, groups, cross, linear, b, h, wd, ctx_len):
    torch.manual_seed(sum(map(ord, name)))
    m = Transformer2DModel(num_attention_heads=heads, attention_head_dim=head_dim, in_channels=c,
                           num_layers=layers, norm_num_groups=groups, cross_attention_dim=cross,
                           use_linear_projection=linear)
    randomize(m, fp16=False)
    x = torch.randn(b, c, h, wd)
    ctx = torch.randn(b, ctx_len, cross)
    with torch.no_grad():
        y = m(x, encoder_hidden_states=ctx).sample
    w.weights(name, m)
    w.case(name, dict(batch=b, c=c, h=h, w=wd, heads=heads, head_dim=head_dim, layers=layers,
                      groups=groups, cross=cross, ctx=ctx_len, linear=int(linear)),
           dict(x=x, context=ctx, y=y))


# ---------------------------------------------------------------- time embedding

def temb_case(w, name, c0, tdim, flip, shift, ts):
    torch.manual_seed(sum(map(ord, name)))
    proj = Timesteps(c0, flip, shift)
    emb = randomize(TimestepEmbedding(c0, tdim, act_fn="silu"), fp16=False)
    t = torch.tensor(ts, dtype=torch.float32)
    with torch.no_grad():
        e = proj(t)
        y = emb(e)
    w.weights(name, emb)
    w.case(name, dict(batch=len(ts), c0=c0, tdim=tdim, flip=int(flip), shift=shift),
           dict(t=t, proj=e, y=y))


# ---------------------------------------------------------------- blocks

def blk_down_case(w, name, cross, cin, cout, layers, groups, heads, xdim, pad, b, h, wd, temb):
    torch.manual_seed(sum(map(ord, name)))
    common = dict(in_channels=cin, out_channels=cout, temb_channels=temb, num_layers=layers,
                  resnet_eps=1e-5, resnet_act_fn="silu", resnet_groups=groups,
                  downsample_padding=pad, add_downsample=True)
    if cross:
        m = CrossAttnDownBlock2D(num_attention_heads=heads, cross_attention_dim=xdim, **common)
    else:
        m = DownBlock2D(**common)
    randomize(m, fp16=True)
    x = torch.randn(b, cin, h, wd)
    e = torch.randn(b, temb)
    ctx = torch.randn(b, 77, xdim)
    with torch.no_grad():
        if cross:
            y, res = m(x, e, encoder_hidden_states=ctx)
        else:
            y, res = m(x, e)
    w.weights(name, m, fp16=True)
    tensors = dict(x=x, temb=e, context=ctx, y=y)
    for i, r in enumerate(res):
        tensors[f"res{i}"] = r
    w.case(name, dict(batch=b, cin=cin, cout=cout, h=h, w=wd, layers=layers, groups=groups,
                      heads=heads, cross=xdim, pad=pad, temb=temb, cross_attn=int(cross),
                      nres=len(res), yh=y.shape[2], yw=y.shape[3]), tensors)


def blk_mid_case(w, name, c, groups, heads, xdim, scale, linear, b, h, wd, temb):
    torch.manual_seed(sum(map(ord, name)))
    m = UNetMidBlock2DCrossAttn(in_channels=c, temb_channels=temb, resnet_eps=1e-5,
                                resnet_act_fn="silu", resnet_groups=groups,
                                num_attention_heads=heads, cross_attention_dim=xdim,
                                output_scale_factor=scale, use_linear_projection=linear)
    randomize(m, fp16=True)
    x = torch.randn(b, c, h, wd)
    e = torch.randn(b, temb)
    ctx = torch.randn(b, 77, xdim)
    with torch.no_grad():
        y = m(x, e, encoder_hidden_states=ctx)
    w.weights(name, m, fp16=True)
    w.case(name, dict(batch=b, c=c, h=h, w=wd, groups=groups, heads=heads, cross=xdim,
                      scale=scale, linear=int(linear), temb=temb),
           dict(x=x, temb=e, context=ctx, y=y))


def blk_up_case(w, name, cross, cin, prev, cout, layers, groups, heads, xdim, b, h, wd, temb,
                up_size):
    torch.manual_seed(sum(map(ord, name)))
    common = dict(in_channels=cin, prev_output_channel=prev, out_channels=cout,
                  temb_channels=temb, num_layers=layers, resnet_eps=1e-5, resnet_act_fn="silu",
                  resnet_groups=groups, add_upsample=True)
    if cross:
        m = CrossAttnUpBlock2D(num_attention_heads=heads, cross_attention_dim=xdim, **common)
    else:
        m = UpBlock2D(**common)
    randomize(m, fp16=True)
    x = torch.randn(b, prev, h, wd)
    # the skips in the order diffusers' down path produced them: the last one
    # is consumed first and has out_channels (cin only for the last resnet)
    skips = []
    for i in range(layers):
        ch = cin if i == 0 else cout
        skips.append(torch.randn(b, ch, h, wd))
    e = torch.randn(b, temb)
    ctx = torch.randn(b, 77, xdim)
    with torch.no_grad():
        if cross:
            y = m(x, tuple(skips), e, encoder_hidden_states=ctx, upsample_size=up_size)
        else:
            y = m(x, tuple(skips), e, upsample_size=up_size)
    w.weights(name, m, fp16=True)
    tensors = dict(x=x, temb=e, context=ctx, y=y)
    for i, s in enumerate(skips):
        tensors[f"skip{i}"] = s
    w.case(name, dict(batch=b, cin=cin, prev=prev, cout=cout, h=h, w=wd, layers=layers,
                      groups=groups, heads=heads, cross=xdim, temb=temb, cross_attn=int(cross),
                      yh=y.shape[2], yw=y.shape[3]), tensors)


# ---------------------------------------------------------------- whole UNets

def unet_run(w, name, unet, b, h, wd, ts, cfg_dir):
    torch.manual_seed(sum(map(ord, name)))
    cin = unet.config.in_channels
    xdim = unet.config.cross_attention_dim
    x = torch.randn(b, cin, h, wd)
    ctx = torch.randn(b, 77, xdim)
    t = torch.tensor(ts, dtype=torch.float32)
    with torch.no_grad():
        y = unet(x, t, encoder_hidden_states=ctx).sample
    w.case(name, dict(model=cfg_dir, batch=b, h=h, w=wd, cin=cin, cout=unet.config.out_channels,
                      cross=xdim), dict(x=x, t=t, context=ctx, y=y))


def unet_config_case(w, cfg_dir, config, runs):
    torch.manual_seed(sum(map(ord, cfg_dir)))
    unet = randomize(UNet2DConditionModel(**config), fp16=True)
    d = os.path.join(w.out_dir, cfg_dir)
    os.makedirs(d)
    unet.save_config(d)  # config.json as diffusers writes it (every key, sorted)
    sd = {k: v.detach().contiguous().half() for k, v in unet.state_dict().items()}
    save_file(sd, os.path.join(d, "diffusion_pytorch_model.safetensors"))
    w.total += os.path.getsize(os.path.join(d, "diffusion_pytorch_model.safetensors"))
    print(f"{cfg_dir}: {sum(p.numel() for p in unet.parameters())} parameters")
    for name, b, h, wd, ts in runs:
        unet_run(w, name, unet, b, h, wd, ts, cfg_dir)


CFG_A = dict(
    sample_size=16, in_channels=4, out_channels=4, center_input_sample=True,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(16, 24, 32), layers_per_block=2, attention_head_dim=(2, 4, 4),
    cross_attention_dim=24, norm_num_groups=8, norm_eps=1e-5, use_linear_projection=True,
)

CFG_B = dict(
    sample_size=12, in_channels=3, out_channels=5, flip_sin_to_cos=False, freq_shift=1,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(8, 16, 16), layers_per_block=(1, 2, 1), attention_head_dim=2,
    cross_attention_dim=12, norm_num_groups=4, norm_eps=1e-6, downsample_padding=0,
    conv_in_kernel=1, conv_out_kernel=5, time_embedding_dim=48, mid_block_scale_factor=1.5,
    upcast_attention=True,
)


def main():
    w = Writer(OUT)
    t2d_case(w, "t2d_conv", heads=3, head_dim=6, c=24, layers=2, groups=4, cross=20,
             linear=False, b=2, h=5, wd=7, ctx_len=77)
    t2d_case(w, "t2d_linear", heads=2, head_dim=16, c=32, layers=1, groups=8, cross=24,
             linear=True, b=2, h=6, wd=4, ctx_len=13)
    temb_case(w, "temb_a", c0=32, tdim=128, flip=True, shift=0, ts=[981.0, 1.0])
    temb_case(w, "temb_b", c0=20, tdim=48, flip=False, shift=1, ts=[0.0, 500.0, 999.0])
    blk_down_case(w, "blk_crossdown", True, cin=16, cout=32, layers=2, groups=8, heads=4,
                  xdim=24, pad=1, b=2, h=6, wd=10, temb=64)
    blk_down_case(w, "blk_down", False, cin=32, cout=32, layers=2, groups=8, heads=1, xdim=24,
                  pad=0, b=2, h=5, wd=7, temb=64)
    blk_mid_case(w, "blk_mid", c=32, groups=8, heads=2, xdim=24, scale=1.25, linear=True, b=2,
                 h=3, wd=5, temb=64)
    blk_up_case(w, "blk_crossup", True, cin=16, prev=32, cout=32, layers=3, groups=8, heads=4,
                xdim=24, b=2, h=4, wd=6, temb=64, up_size=(7, 11))
    blk_up_case(w, "blk_up", False, cin=16, prev=32, cout=16, layers=2, groups=8, heads=1,
                xdim=24, b=2, h=3, wd=5, temb=64, up_size=None)

    tiny = UNet2DConditionModel.from_pretrained(TINY).eval()
    unet_run(w, "tiny_t981", tiny, 2, 8, 8, [981.0, 981.0], "tiny-ldm")
    unet_run(w, "tiny_t1", tiny, 2, 8, 8, [1.0, 1.0], "tiny-ldm")
    unet_run(w, "tiny_rect", tiny, 2, 6, 10, [500.0, 500.0], "tiny-ldm")

    unet_config_case(w, "cfg_a", CFG_A, [("cfg_a_12x20", 2, 12, 20, [10.0, 700.0])])
    unet_config_case(w, "cfg_b", CFG_B, [("cfg_b_10x14", 2, 10, 14, [999.0, 3.0]),
                                         ("cfg_b_8x8", 1, 8, 8, [250.0])])
    w.finish()


def real(out_dir):
    """The real ldm-text2im-large-256 UNet with random weights (see the docstring)."""
    torch.manual_seed(1234)
    cfg_dir = os.path.join(ROOT, "models", "ldm-text2im-large-256-config", "unet")
    unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(cfg_dir)).eval()
    with torch.no_grad():
        for name, p in unet.named_parameters():
            if p.ndim == 1:
                base = 1.0 if "norm" in name and name.endswith("weight") else 0.0
                p.copy_(base + 0.05 * torch.randn_like(p))
    os.makedirs(out_dir, exist_ok=True)
    unet.save_config(out_dir)
    save_file({k: v.contiguous() for k, v in unet.state_dict().items()},
              os.path.join(out_dir, "diffusion_pytorch_model.safetensors"))
    x = torch.randn(2, 4, 32, 32)
    ctx = torch.randn(2, 77, 1280)
    t = torch.tensor([981.0, 981.0])
    with torch.no_grad():
        y = unet(x, t, encoder_hidden_states=ctx).sample
    for name, v in dict(x=x, t=t, context=ctx, y=y).items():
        with open(os.path.join(out_dir, f"real.{name}.bin"), "wb") as f:
            f.write(v.contiguous().numpy().astype("<f4").tobytes())
    print(f"wrote the real-size UNet check to {out_dir}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--real":
        real(sys.argv[2])
    else:
        main()
